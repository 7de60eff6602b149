//! Coherence across related markets, kept without a forecast.
//!
//! Within one LMSR market the prices always sum to 1. Across markets nothing ties them: three
//! binary markets on "which of A, B, C wins?" can price YES at 0.5, 0.4 and 0.3, and a market on
//! "A and B" can sit above the one on "A". Such prices are incoherent, and an incoherence is a
//! profit that needs no opinion: a set of positions that pays the same in every possible world
//! and costs less than that.
//!
//! Every relation here becomes **legs of equal size `x`** whose total payout is at least `k · x`
//! in every world the relation allows:
//!
//! | relation | legs | guaranteed payout |
//! |---|---|---|
//! | partition (exactly one YES), Σ p < 1 | YES in each | `x` |
//! | partition, Σ p > 1 | NO in each of `n` | `(n − 1) · x` |
//! | `a ⇒ b` (if `a` then `b`), p_a > p_b | NO on `a`, YES on `b` | `x` |
//!
//! The marginal cost of one more unit of every leg is the sum of the bought outcomes' prices, so
//! the profit `k · x − cost(x)` grows while that sum is below `k` and is largest where it equals
//! `k`: exactly where the prices become coherent (Σ p = 1, or p_a = p_b). The arbitrageur
//! therefore trades to that point, and its trade is what makes the markets agree.

use crate::{MarketError, Real, lmsr::Lmsr};

/// How the outcome-0 ("YES") events of some binary markets are related. Markets are indices
/// into the slice given to [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Exactly one of these markets resolves YES (mutually exclusive and exhaustive): their YES
    /// prices should sum to 1.
    Partition(Vec<usize>),
    /// Whenever `a` resolves YES so does `b` (for example `a` = "X and Y", `b` = "X"): the
    /// price of `a` should not exceed that of `b`.
    Implies {
        /// The stronger event.
        a: usize,
        /// The weaker one.
        b: usize,
    },
}

/// One leg of an arbitrage: `shares` of `outcome` (0 YES, 1 NO) in market `market`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Leg<T> {
    /// The market (an index into [`plan`]'s slice).
    pub market: usize,
    /// The outcome bought.
    pub outcome: usize,
    /// Shares bought.
    pub shares: T,
    /// What they cost at the market's state.
    pub cost: T,
}

/// A trade that restores coherence, and what it earns whatever happens.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan<T> {
    /// The legs, all of the same size.
    pub legs: Vec<Leg<T>>,
    /// The least the legs pay together, in every world the relation allows.
    pub payout: T,
    /// What the legs cost together.
    pub cost: T,
}

impl<T: Real> Plan<T> {
    /// `payout − cost`: earned in every allowed world.
    pub fn profit(&self) -> T {
        self.payout - self.cost
    }
}

/// A binary market as the planner reads it: its maker and its outstanding shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Book<T> {
    /// The maker (two outcomes).
    pub maker: Lmsr<T>,
    /// Outstanding shares `[yes, no]`.
    pub q: Vec<T>,
}

impl<T: Real> Book<T> {
    /// The price of YES.
    pub fn yes(&self) -> Result<T, MarketError> {
        Ok(self.maker.prices(&self.q)?[0])
    }

    fn price_after(&self, outcome: usize, x: T) -> Result<T, MarketError> {
        let mut q = self.q.clone();
        q[outcome] = q[outcome] + x;
        Ok(self.maker.prices(&q)?[outcome])
    }
}

/// The legs `(market, outcome)` of a relation and its payout multiplier `k`.
type Legs<T> = (Vec<(usize, usize)>, T);

/// The legs and the payout multiplier of a relation at the books' prices; `None` when the
/// prices are already coherent.
fn legs<T: Real>(books: &[Book<T>], relation: &Relation) -> Result<Option<Legs<T>>, MarketError> {
    let get = |i: usize| {
        books.get(i).ok_or(MarketError::Length {
            what: "the relation's market",
            got: i,
            outcomes: books.len(),
        })
    };
    for b in books {
        if b.maker.n != 2 {
            return Err(MarketError::Outcomes(b.maker.n));
        }
    }
    match relation {
        Relation::Partition(members) => {
            if members.len() < 2 {
                return Err(MarketError::Outcomes(members.len()));
            }
            let mut sum = T::zero();
            for &m in members {
                sum = sum + get(m)?.yes()?;
            }
            if sum < T::one() {
                Ok(Some((members.iter().map(|&m| (m, 0)).collect(), T::one())))
            } else if sum > T::one() {
                let k = T::ratio(members.len() as i128 - 1, 1);
                Ok(Some((members.iter().map(|&m| (m, 1)).collect(), k)))
            } else {
                Ok(None)
            }
        }
        Relation::Implies { a, b } => {
            if get(*a)?.yes()? > get(*b)?.yes()? {
                Ok(Some((vec![(*a, 1), (*b, 0)], T::one())))
            } else {
                Ok(None)
            }
        }
    }
}

/// The trade that makes `books` coherent under `relation`, spending at most `budget`: equal legs
/// of the size where the bought outcomes' prices sum to the payout multiplier (or, when that
/// costs more than `budget`, the largest size within it). `None` when the prices are already
/// coherent. Found by bisection, so it is deterministic in fixed point.
pub fn plan<T: Real>(
    books: &[Book<T>],
    relation: &Relation,
    budget: T,
) -> Result<Option<Plan<T>>, MarketError> {
    let Some((legs, k)) = legs(books, relation)? else { return Ok(None) };
    let marginal = |x: T| -> Result<T, MarketError> {
        let mut s = T::zero();
        for &(m, o) in &legs {
            s = s + books[m].price_after(o, x)?;
        }
        Ok(s)
    };
    let cost = |x: T| -> Result<T, MarketError> {
        let mut c = T::zero();
        for &(m, o) in &legs {
            c = c + books[m].maker.buy_cost(&books[m].q, o, x)?;
        }
        Ok(c)
    };
    // An upper end: the largest b moves any price across (almost) its whole range.
    let scale = legs.iter().fold(T::zero(), |acc, &(m, _)| acc + books[m].maker.b);
    let mut hi = scale;
    for _ in 0..64 {
        if marginal(hi)? >= k {
            break;
        }
        hi = hi + hi;
    }
    let (mut lo, mut top) = (T::zero(), hi);
    for _ in 0..100 {
        let mid = (lo + top) / T::ratio(2, 1);
        if marginal(mid)? < k && cost(mid)? <= budget { lo = mid } else { top = mid }
    }
    if lo <= T::zero() {
        return Ok(None);
    }
    let plan_legs: Vec<Leg<T>> = legs
        .iter()
        .map(|&(m, o)| {
            Ok(Leg { market: m, outcome: o, shares: lo, cost: books[m].maker.buy_cost(&books[m].q, o, lo)? })
        })
        .collect::<Result<_, MarketError>>()?;
    let total = plan_legs.iter().fold(T::zero(), |a, l| a + l.cost);
    Ok(Some(Plan { legs: plan_legs, payout: k * lo, cost: total }))
}

/// What `legs` pay in the world where the markets in `yes` resolve YES and the rest NO.
pub fn payout_in<T: Real>(legs: &[Leg<T>], yes: &[bool]) -> T {
    legs.iter().fold(T::zero(), |acc, l| {
        let happened = yes.get(l.market).copied().unwrap_or(false);
        if (l.outcome == 0) == happened { acc + l.shares } else { acc }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Wad;

    fn book(b: f64, price: f64) -> Book<f64> {
        // q_yes − q_no = b · logit(price).
        let m = Lmsr::new(b, 2).unwrap();
        Book { maker: m, q: vec![b * (price / (1.0 - price)).ln(), 0.0] }
    }

    fn after(books: &[Book<f64>], plan: &Plan<f64>) -> Vec<Book<f64>> {
        let mut out = books.to_vec();
        for l in &plan.legs {
            out[l.market].q[l.outcome] += l.shares;
        }
        out
    }

    /// Every world a relation allows over `n` markets.
    fn worlds(n: usize, relation: &Relation) -> Vec<Vec<bool>> {
        (0..1u32 << n)
            .map(|bits| (0..n).map(|i| bits >> i & 1 == 1).collect::<Vec<bool>>())
            .filter(|w| match relation {
                Relation::Partition(m) => m.iter().filter(|&&i| w[i]).count() == 1,
                Relation::Implies { a, b } => !w[*a] || w[*b],
            })
            .collect()
    }

    fn check(books: &[Book<f64>], relation: &Relation) -> Plan<f64> {
        let plan = plan(books, relation, f64::INFINITY).unwrap().expect("incoherent prices give a plan");
        assert!(plan.profit() > 0.0, "profit {}", plan.profit());
        for w in worlds(books.len(), relation) {
            let got = payout_in(&plan.legs, &w) - plan.cost;
            assert!(got >= plan.profit() - 1e-9, "world {w:?} pays {got} < {}", plan.profit());
        }
        plan
    }

    #[test]
    fn a_partition_priced_under_one_is_bought_up_to_one() {
        let books = vec![book(100.0, 0.3), book(50.0, 0.2), book(80.0, 0.25)];
        let r = Relation::Partition(vec![0, 1, 2]);
        let plan = check(&books, &r);
        assert!(plan.legs.iter().all(|l| l.outcome == 0));
        let sum: f64 = after(&books, &plan).iter().map(|b| b.yes().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-9, "prices sum to {sum}");
    }

    #[test]
    fn a_partition_priced_over_one_is_sold_down_to_one() {
        let books = vec![book(100.0, 0.5), book(100.0, 0.4), book(100.0, 0.3)];
        let r = Relation::Partition(vec![0, 1, 2]);
        let plan = check(&books, &r);
        assert!(plan.legs.iter().all(|l| l.outcome == 1));
        assert!((plan.payout - 2.0 * plan.legs[0].shares).abs() < 1e-12);
        let sum: f64 = after(&books, &plan).iter().map(|b| b.yes().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-9, "prices sum to {sum}");
    }

    #[test]
    fn an_implication_priced_backwards_is_closed() {
        // "A and B" at 0.6 above "A" at 0.4.
        let books = vec![book(100.0, 0.6), book(60.0, 0.4)];
        let r = Relation::Implies { a: 0, b: 1 };
        let plan = check(&books, &r);
        let post = after(&books, &plan);
        assert!((post[0].yes().unwrap() - post[1].yes().unwrap()).abs() < 1e-9);
    }

    #[test]
    fn coherent_prices_are_left_alone() {
        let books = vec![book(100.0, 0.5), book(100.0, 0.3), book(100.0, 0.2)];
        assert_eq!(plan(&books, &Relation::Partition(vec![0, 1, 2]), f64::INFINITY).unwrap(), None);
        let books = vec![book(100.0, 0.3), book(100.0, 0.6)];
        assert_eq!(plan(&books, &Relation::Implies { a: 0, b: 1 }, f64::INFINITY).unwrap(), None);
    }

    #[test]
    fn a_budget_caps_the_cost_and_keeps_a_profit() {
        let books = vec![book(100.0, 0.5), book(100.0, 0.4), book(100.0, 0.3)];
        let r = Relation::Partition(vec![0, 1, 2]);
        let full = plan(&books, &r, f64::INFINITY).unwrap().unwrap();
        let capped = plan(&books, &r, full.cost / 4.0).unwrap().unwrap();
        assert!(capped.cost <= full.cost / 4.0);
        assert!(capped.profit() > 0.0 && capped.profit() < full.profit());
    }

    #[test]
    fn bad_relations_are_named() {
        let books = vec![book(100.0, 0.5)];
        assert_eq!(plan(&books, &Relation::Partition(vec![0]), 1.0), Err(MarketError::Outcomes(1)));
        assert!(matches!(
            plan(&books, &Relation::Implies { a: 0, b: 3 }, 1.0),
            Err(MarketError::Length { got: 3, .. })
        ));
        let three = Book { maker: Lmsr::new(1.0, 3).unwrap(), q: vec![0.0; 3] };
        assert_eq!(plan(&[three], &Relation::Partition(vec![0, 0]), 1.0), Err(MarketError::Outcomes(3)));
    }

    #[test]
    fn fixed_point_agrees_with_f64() {
        let r = Relation::Partition(vec![0, 1, 2]);
        let books = vec![book(100.0, 0.5), book(100.0, 0.4), book(100.0, 0.3)];
        let f = plan(&books, &r, f64::INFINITY).unwrap().unwrap();
        let wad: Vec<Book<Wad>> = books
            .iter()
            .map(|b| Book {
                maker: Lmsr::new(Wad::from_f64(b.maker.b), 2).unwrap(),
                q: b.q.iter().map(|&x| Wad::from_f64(x)).collect(),
            })
            .collect();
        let w = plan(&wad, &r, Wad::from_f64(1e12)).unwrap().unwrap();
        let rel = (w.profit().to_f64() - f.profit()).abs() / f.profit();
        assert!(rel < 1e-6, "fixed point profit {} vs f64 {}", w.profit().to_f64(), f.profit());
    }
}
