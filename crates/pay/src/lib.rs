//! HTTP 402 payments for agora: bots paying bots per call, speaking x402 v2.
//!
//! - [`wire`]: the x402 headers and JSON (v2, with v1 `X-PAYMENT` accepted).
//! - [`typed`]: the EIP-712 structs payments are signed over (EIP-3009 authorizations,
//!   channel configs and cumulative vouchers).
//! - [`x402`]: the official x402 contracts (`batch-settlement`, `upto` through Permit2) at their
//!   canonical addresses, and the Permit2 typed data `upto` signs.
//! - [`paywall`]: the provider side, speaking the three official schemes.
//!   [`paywall::Paywall::authorize`] checks a request's payment and
//!   [`paywall::Authorized::complete`] settles it (`exact`: one EIP-3009 transfer; `upto`: a
//!   Permit2 transfer of the actual cost) or records it durably (`batch-settlement`: the voucher
//!   and the charge, group-committed), before the response is sent. [`paywall::fixed_price`]
//!   puts a price on any axum route.
//! - [`ledger`]: the provider's channel books, claimed on chain in batches.
//! - [`payer`]: the client side, which answers 402s by itself under a spending
//!   [`payer::Mandate`].
//! - [`exit`]: a payer's timed exit from its channels ([`Payer::close_channel`],
//!   [`Payer::withdraw_channel`]).
//! - [`bazaar`]: the x402 discovery extension a paid route describes itself with.
//! - [`facilitator`]: `/verify`, `/settle` and `/supported` for other x402 servers.

pub mod bazaar;
pub mod error;
pub mod exit;
pub mod facilitator;
pub mod ledger;
pub mod payer;
pub mod paywall;
#[cfg(test)]
mod proptests;
mod schema;
pub mod typed;
pub mod wire;
pub mod x402;

pub use error::{AuthorizationError, PayError, Result};
pub use exit::ChannelExit;
pub use ledger::{ChannelState, Ledger};
pub use payer::{CreditPayer, Mandate, Payer, PayerConfig, Prefer};
pub use paywall::{Authorized, CreditsConfig, Paywall, PaywallConfig, Refusal, RefusalReason};
/// The HTTP method type the payer's calls take.
pub use reqwest::Method;
