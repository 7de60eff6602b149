//! Governance where AI does the evaluation and humans steer: deep-funding rounds and
//! pairwise-bounded quadratic funding.
//!
//! A deep-funding round asks a question too big for people to answer item by item: how much of
//! the credit for a project belongs to each of its dependencies, all the way down. **Solvers**
//! (usually AI) submit a weight for every edge of the dependency graph; a sparse **jury** answers
//! a few random pairwise questions; submissions are scored against the jury only; the best
//! geometric blend of them allocates the pool; solvers are paid in proportion to their weight in
//! the blend; and anyone can re-check the result.
//!
//! ```text
//! deps::Builder ─▶ Graph ─▶ solve::{baseline, from_judgements} ─▶ weights (ppb per edge)
//!                      └─▶ jury::sample(seed, juror) ─▶ JurySheet ─▶ Answer (a, b, ln ratio)
//! round::settle: weights + answers ─▶ score::blend (α on the simplex) ─▶ final weights
//!                                   ─▶ solvers ∝ α, graph::propagate_units ─▶ merkle::Tree
//! qf::settle: donations ─▶ pairwise-bounded CLR ─▶ merkle::Tree
//! ```
//!
//! Everything is generic over [`Real`]: `f64` to explore, [`Wad`] (fixed point with integer
//! `ln`/`exp`) for what is posted on chain and challenged. Only [`chain`] does I/O: the round
//! contracts' steps and the council juror's re-settlement of a disputed result.

pub mod ai;
pub mod chain;
pub mod deps;
mod error;
pub mod graph;
pub mod jury;
pub mod merkle;
pub mod qf;
pub mod real;
pub mod round;
pub mod score;
pub mod solve;

pub use error::FundingError;
pub use real::{Real, Wad};

/// `u128` amounts as decimal strings in JSON (JavaScript and most JSON readers lose precision
/// beyond 2⁵³).
pub(crate) mod serde_u128 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}
