//! Ethereum access for agora.
//!
//! - [`ChainClient`] connects to any JSON-RPC endpoint (HTTP or WebSocket) and identifies the
//!   chain by id and genesis hash; transactions are signed by a [`SignerSource`] (a private key
//!   from the environment or an encrypted keystore), never printed or logged.
//! - [`Devnet`] runs a local chain: anvil as a child process on loopback, its state saved in the
//!   node's data directory and reloaded on the next start.
//! - [`ensure_deployed`] deploys the agora contract suite once per chain and records it in a
//!   [`DeploymentsFile`], verifying the code at every recorded address when reusing it.
//! - [`ensure_x402_contracts`] puts the x402 contracts at the canonical addresses the official
//!   x402 clients call (on a dev chain), or checks that they are there (on any other).
//!
//! Data flows one way: configuration → signer + endpoint (or devnet) → client → deployments.

mod client;
mod deploy;
mod devnet;
mod error;
mod signer;
pub mod units;
mod x402;

pub use client::{CONNECT_TIMEOUT, ChainClient, TransactionQueue, redact_url};
pub use deploy::{
    ChainDeployment, ContractDeployment, DEPLOYMENTS_FILE, DeployAction, DeploymentsFile, ensure_deployed,
    forget_chain, verify_code,
};
pub use devnet::{
    DEVNET_CHAIN_ID, DEVNET_PORT, Devnet, DevnetConfig, HARDHAT_CHAIN_ID, is_dev_chain, recorded_dev_signer,
};
pub use error::{BoxError, ChainError, ContextError, Result};
pub use signer::{KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, Secret, SignerSource};
pub use x402::{X402Action, X402Placement, ensure_x402_contracts};
