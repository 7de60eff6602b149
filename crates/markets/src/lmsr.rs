//! The logarithmic market scoring rule.
//!
//! With `n` outcomes, outstanding shares `q` and liquidity `b > 0`:
//!
//! ```text
//! C(q)   = b · ln Σ_i exp(q_i / b)            the maker's cost function
//! p_i(q) = exp(q_i / b) / Σ_j exp(q_j / b)    prices: positive, summing to 1
//! cost of a trade Δ = C(q + Δ) − C(q)          (negative: a refund)
//! ```
//!
//! From `q = 0` the maker's loss is at most `C(0) = b · ln n`, whatever the trades. Sums are
//! taken as log-sum-exp (the largest `q_i` subtracted first), so nothing overflows.

use crate::{MarketError, Real};

/// An LMSR market maker's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lmsr<T> {
    /// The liquidity: larger is deeper and costs the maker more.
    pub b: T,
    /// Outcomes.
    pub n: usize,
}

impl<T: Real> Lmsr<T> {
    /// A maker with liquidity `b` over `n ≥ 2` outcomes.
    pub fn new(b: T, n: usize) -> Result<Self, MarketError> {
        if b <= T::zero() {
            return Err(MarketError::Liquidity);
        }
        if n < 2 {
            return Err(MarketError::Outcomes(n));
        }
        Ok(Self { b, n })
    }

    /// The liquidity that risks at most `subsidy`: `b = subsidy / ln n`.
    pub fn for_subsidy(subsidy: T, n: usize) -> Result<Self, MarketError> {
        if n < 2 {
            return Err(MarketError::Outcomes(n));
        }
        Self::new(subsidy / T::ratio(n as i128, 1).ln(), n)
    }

    fn check(&self, what: &'static str, v: &[T]) -> Result<(), MarketError> {
        if v.len() == self.n {
            Ok(())
        } else {
            Err(MarketError::Length { what, got: v.len(), outcomes: self.n })
        }
    }

    /// `C(q)`.
    pub fn cost(&self, q: &[T]) -> Result<T, MarketError> {
        self.check("the share vector", q)?;
        let max = q.iter().copied().fold(q[0], |m, x| if x > m { x } else { m });
        let sum = q.iter().fold(T::zero(), |acc, &x| acc + ((x - max) / self.b).exp());
        Ok(max + self.b * sum.ln())
    }

    /// The prices at `q`.
    pub fn prices(&self, q: &[T]) -> Result<Vec<T>, MarketError> {
        self.check("the share vector", q)?;
        let max = q.iter().copied().fold(q[0], |m, x| if x > m { x } else { m });
        let e: Vec<T> = q.iter().map(|&x| ((x - max) / self.b).exp()).collect();
        let total = e.iter().fold(T::zero(), |a, &x| a + x);
        Ok(e.into_iter().map(|x| x / total).collect())
    }

    /// What the trade `delta` costs at `q` (negative: what it refunds).
    pub fn trade_cost(&self, q: &[T], delta: &[T]) -> Result<T, MarketError> {
        self.check("the trade", delta)?;
        let after: Vec<T> = q.iter().zip(delta).map(|(&a, &d)| a + d).collect();
        Ok(self.cost(&after)? - self.cost(q)?)
    }

    /// What buying `shares` of `outcome` costs at `q`.
    pub fn buy_cost(&self, q: &[T], outcome: usize, shares: T) -> Result<T, MarketError> {
        let mut delta = vec![T::zero(); self.n];
        *delta.get_mut(outcome).ok_or(MarketError::Length {
            what: "the outcome",
            got: outcome,
            outcomes: self.n,
        })? = shares;
        self.trade_cost(q, &delta)
    }

    /// The most the maker can lose from `q = 0`: `b · ln n`.
    pub fn worst_loss(&self) -> T {
        self.b * T::ratio(self.n as i128, 1).ln()
    }

    /// The shares of outcome `i` that move its price to `target` at `q`:
    /// `Δ = b·ln(target/(1 − target)) + b·ln Σ_{j≠i} e^{q_j/b} − q_i` (negative: shares to sell).
    pub fn shares_to_price(&self, q: &[T], outcome: usize, target: T) -> Result<T, MarketError> {
        self.check("the share vector", q)?;
        if target <= T::zero() || target >= T::one() {
            return Err(MarketError::Probability);
        }
        if outcome >= self.n {
            return Err(MarketError::Length { what: "the outcome", got: outcome, outcomes: self.n });
        }
        let others: Vec<T> = q.iter().enumerate().filter(|(j, _)| *j != outcome).map(|(_, &x)| x).collect();
        let max = others.iter().copied().fold(others[0], |m, x| if x > m { x } else { m });
        let rest = max + self.b * others.iter().fold(T::zero(), |a, &x| a + ((x - max) / self.b).exp()).ln();
        Ok(self.b * (target / (T::one() - target)).ln() + rest - q[outcome])
    }
}
