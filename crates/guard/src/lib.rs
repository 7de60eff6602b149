//! agora's guard: checks every transaction and signature request before it is signed, on the
//! user's own machine.
//!
//! A request that signs or sends (every method of [`request::GUARDED_METHODS`]:
//! `eth_sendTransaction` and its `Sync`, sign-only and node-side spellings,
//! `eth_sendRawTransaction[Sync]` including EIP-7702 type 4, `wallet_sendCalls`,
//! `eth_signTypedData[_v3|_v4]`, `personal_sign`, `eth_sign`) goes through
//! decode → simulate → facts → rules → [`Verdict`]:
//!
//! - [`decode`]: calldata against a curated table, recursing into batch containers; typed data
//!   recognised by primary type and domain (EIP-2612 Permit, Permit2, Seaport orders, SIWE).
//! - [`sim`]: the calls run against the node's current state, in process with revm or on the
//!   node with `eth_simulateV1`; signatures are simulated through their on-chain equivalent
//!   (a permit as an `approve`, an order as `validate` + a stranger's fill) followed by what the
//!   counterparty could then do, so a verdict can say "this lets 0xabc… take 1,000 USDC".
//! - [`analyze`]: facts (balance changes confirmed by `balanceOf`, approvals and exposure, control
//!   changes, delegatecall and selfdestruct frames, divergence between a naive and a realistic
//!   block) and the rules G01–G20, each with a stable id, a [`Level`] and evidence.
//! - [`proxy`]: a JSON-RPC endpoint between a wallet and its node that denies by default: the
//!   read-only methods of [`request::READ_ONLY_METHODS`] pass through unchanged, signing requests
//!   that reach the blocking level are refused with EIP-1193 code 4001, and every other method is
//!   refused with -32601.

pub mod analyze;
pub mod chain;
pub mod config;
pub mod decode;
mod error;
pub mod explain;
pub mod install;
pub mod lists;
pub mod proxy;
pub mod request;
pub mod rules;
mod schema;
pub mod sim;
pub mod verdict;

pub use analyze::{Guard, GuardOptions, SimulatorKind};
pub use config::GuardConfig;
pub use error::{BoxError, GuardError, RequestError, Result};
pub use install::{InstallReport, ListFile, install_list};
pub use lists::{GuardData, ListKind};
pub use request::GuardRequest;
pub use rules::Rule;
pub use verdict::{Finding, Level, Verdict};
