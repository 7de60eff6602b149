//! How an AI trader sizes an order, and how it is scored.
//!
//! A small model is not an oracle (on forecasting benchmarks the best LLMs still trail
//! superforecasters, and a weak model can do worse than always answering 50%). So a trader bets
//! a **capped, confidence-scaled Kelly fraction** of its bankroll, never buys past the price its
//! own belief justifies, and is judged by its measured **Brier score**.

use crate::{MarketError, Real, lmsr::Lmsr};

/// The Brier score of a forecast `p` of an event that happened (`true`) or not: `(p − o)²`.
/// 0 is perfect; always saying 50% scores 0.25.
pub fn brier<T: Real>(p: T, happened: bool) -> T {
    let o = if happened { T::one() } else { T::zero() };
    (p - o) * (p - o)
}

/// Which side a trader takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Buy the outcome (the belief is above the price).
    Yes,
    /// Buy against it (the belief is below the price).
    No,
}

/// The Kelly fraction of a bankroll to bet on a binary outcome priced `price` by a trader who
/// believes `belief`, scaled by `confidence` ∈ [0, 1] and capped at `cap`:
/// `(p − m)/(1 − m)` on YES when `p > m`, `(m − p)/m` on NO when `p < m`.
pub fn kelly<T: Real>(belief: T, price: T, confidence: T, cap: T) -> Result<(Side, T), MarketError> {
    if belief <= T::zero() || belief >= T::one() || price <= T::zero() || price >= T::one() {
        return Err(MarketError::Probability);
    }
    let (side, f) = if belief > price {
        (Side::Yes, (belief - price) / (T::one() - price))
    } else {
        (Side::No, (price - belief) / price)
    };
    let f = f * confidence;
    Ok((side, if f > cap { cap } else { f }))
}

/// The order a trader places on outcome `outcome` of an LMSR market at `q`: the shares whose
/// cost is the capped Kelly stake of `bankroll`, but no more than those that move the price to
/// the trader's belief (buying past it would be paying more than the belief says it is worth).
/// Negative shares sell. Found by bisection on the cost, so it is deterministic in fixed point.
pub fn order<T: Real>(
    market: &Lmsr<T>,
    q: &[T],
    outcome: usize,
    belief: T,
    confidence: T,
    cap: T,
    bankroll: T,
) -> Result<T, MarketError> {
    let price = market.prices(q)?[outcome];
    let (side, f) = kelly(belief, price, confidence, cap)?;
    let stake = bankroll * f;
    let limit = market.shares_to_price(q, outcome, belief)?;
    if stake <= T::zero() || limit == T::zero() {
        return Ok(T::zero());
    }
    // Buying YES spends on outcome shares; NO sells them (the refund is what NO gains).
    let spend = |s: T| -> Result<T, MarketError> {
        let c = market.buy_cost(q, outcome, s)?;
        Ok(if side == Side::Yes { c } else { -c })
    };
    if spend(limit)? <= stake {
        return Ok(limit);
    }
    let (mut lo, mut hi) = (T::zero(), limit);
    for _ in 0..80 {
        let mid = (lo + hi) / T::ratio(2, 1);
        if spend(mid)? <= stake { lo = mid } else { hi = mid }
    }
    Ok(lo)
}
