//! Decision markets (futarchy): humans choose the metric, markets on "the metric if we do A" and
//! "if we do B" choose the action.
//!
//! Two forms:
//!
//! - **Three markets** (Hanson): a market on the condition and a joint market per branch. The
//!   conditional expectation is the joint price over the condition's price:
//!   `E[M | yes] = price(M and yes) / P(yes)`. Choose the branch with the larger expectation.
//! - **Pass/fail TWAP** (MetaDAO): every trade happens in one of two conditional markets, and the
//!   proposal passes iff `TWAP(pass) > TWAP(fail) · (1 + θ)`. The TWAP records only after a
//!   delay, and each observation moves at most a capped step from the last one, so a late
//!   spike cannot swing the decision. The losing branch's trades are reverted: its tokens
//!   redeem nothing, the winning branch's redeem one for one.

use crate::{MarketError, Real};

/// `E[M | condition] = joint / P(condition)`.
pub fn conditional_expectation<T: Real>(p_condition: T, joint: T) -> Result<T, MarketError> {
    if p_condition <= T::zero() || p_condition >= T::one() {
        return Err(MarketError::Probability);
    }
    Ok(joint / p_condition)
}

/// A proposal's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Adopted: the pass branch's tokens redeem, the fail branch's are worth nothing.
    Pass,
    /// Rejected: the other way round.
    Fail,
}

/// The MetaDAO rule: pass iff `pass_twap > fail_twap · (1 + threshold)`.
pub fn decide<T: Real>(pass_twap: T, fail_twap: T, threshold: T) -> Decision {
    if pass_twap > fail_twap * (T::one() + threshold) { Decision::Pass } else { Decision::Fail }
}

/// What one token of a branch redeems for, once decided: 1 on the winning branch, 0 on the
/// other.
pub fn redeem<T: Real>(decision: Decision, branch: Decision, amount: T) -> T {
    if decision == branch { amount } else { T::zero() }
}

/// A time-weighted average price whose observations move at most `max_step` each, recorded
/// from `opened_at + delay` on.
#[derive(Clone, Copy, Debug)]
pub struct Twap<T> {
    /// When recording starts.
    pub recording_from: u64,
    /// The largest move of one observation.
    pub max_step: T,
    /// The last observation.
    pub observation: T,
    /// When it was made.
    pub observed_at: u64,
    /// Σ observation · seconds since recording started.
    pub cumulative: T,
}

impl<T: Real> Twap<T> {
    /// A TWAP starting at `initial`, recording after `delay` seconds from `opened_at`.
    pub fn new(initial: T, opened_at: u64, delay: u64, max_step: T) -> Self {
        Self {
            recording_from: opened_at + delay,
            max_step,
            observation: initial,
            observed_at: opened_at,
            cumulative: T::zero(),
        }
    }

    fn accrue(&self, until: u64) -> T {
        let from = self.observed_at.max(self.recording_from);
        if until <= from {
            return self.cumulative;
        }
        self.cumulative + self.observation * T::ratio(i128::from(until - from), 1)
    }

    /// Records the market's price at time `at` (not before the last observation): the
    /// observation moves toward it by at most `max_step`.
    pub fn observe(&mut self, price: T, at: u64) {
        let at = at.max(self.observed_at);
        self.cumulative = self.accrue(at);
        let (lo, hi) = (self.observation - self.max_step, self.observation + self.max_step);
        self.observation = if price < lo {
            lo
        } else if price > hi {
            hi
        } else {
            price
        };
        self.observed_at = at;
    }

    /// The average from the start of recording to `at` (`None` before any time was recorded).
    pub fn value(&self, at: u64) -> Option<T> {
        let span = at.checked_sub(self.recording_from).filter(|s| *s > 0)?;
        Some(self.accrue(at) / T::ratio(i128::from(span), 1))
    }
}
