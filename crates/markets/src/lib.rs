//! Markets where AI agents trade and humans steer: the math every part stands on.
//!
//! - [`ai`]: the AI trader's judgement: a model's probability and a confidence from its own
//!   consistency, each answer with a receipt.
//! - [`arb`]: coherence across related markets (a partition's prices sum to 1, an event's price
//!   is at most that of any event it implies), restored by trades that profit in every world.
//! - [`chain`]: a question at the optimistic resolver with an LMSR market on it, trades,
//!   resolution and redemption, on chain.
//! - [`lmsr`]: Hanson's logarithmic market scoring rule, the automated market maker whose loss is
//!   bounded by `b · ln n` whatever traders do.
//! - [`fpmm`]: the fixed-product market maker that Omen and Presagio run, whose loss is bounded
//!   by its liquidity providers' deposit.
//! - [`futarchy`]: decision markets. Conditional prices become conditional expectations, and the
//!   MetaDAO rule decides: pass iff TWAP(pass) > TWAP(fail) · (1 + θ), over a TWAP whose
//!   observations move at most a capped step.
//! - [`sim`]: information aggregation, measured: traders with noisy private signals trade an
//!   LMSR market, and the final price is compared with what each of them knew.
//! - [`trader`]: how an AI trader sizes an order from a probability and a confidence (capped
//!   Kelly, up to the price its own belief justifies), and how it is scored (Brier).
//!
//! Everything is generic over [`Real`]: `f64` for simulation, [`Wad`] for the reference that
//! on-chain code is checked against. This crate is the reference; the contracts and the trader
//! agents build on it.

pub mod ai;
pub mod arb;
pub mod chain;
mod error;
pub mod fpmm;
pub mod futarchy;
pub mod lmsr;
pub mod sim;
pub mod trader;

pub use agora_fixed::{Real, Wad};
pub use error::MarketError;
