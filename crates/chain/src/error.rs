//! Errors of the chain crate.

use alloy::primitives::{Address, B256};
use std::path::PathBuf;

/// Why talking to a chain, starting the devnet or deploying failed. Every message names the
/// problem and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC endpoint did not answer.
    #[error("cannot reach the Ethereum RPC at {url}: {source}; check the URL and that the node is running")]
    Unreachable {
        /// Endpoint (credentials removed).
        url: String,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// The RPC URL does not parse or has an unsupported scheme.
    #[error("invalid RPC URL {url:?}: use http://, https://, ws:// or wss://")]
    InvalidUrl {
        /// What was given.
        url: String,
    },
    /// An RPC call failed after the connection was made.
    #[error("RPC call {call} to {url} failed: {source}")]
    Rpc {
        /// Which call.
        call: &'static str,
        /// Endpoint (credentials removed).
        url: String,
        /// What the node said.
        #[source]
        source: BoxError,
    },
    /// No signer was configured where one is needed.
    #[error(
        "no signer configured for chain {chain_id}: set AGORA_PRIVATE_KEY, or [chain] keystore = \"FILE\" with AGORA_KEYSTORE_PASSWORD"
    )]
    NoSigner {
        /// Chain that needs a signer.
        chain_id: u64,
    },
    /// The signer's key or keystore could not be loaded.
    #[error("cannot load the signer from {source_name}: {reason}")]
    Signer {
        /// Where the key was to come from (never the key itself).
        source_name: String,
        /// What went wrong: a redacted sentence, not the keystore error (which can echo input).
        reason: String,
    },
    /// The anvil binary was not found.
    #[error("anvil not found ({tried}): run `agora setup`, or set [devnet] anvil = \"/path/to/anvil\"")]
    AnvilMissing {
        /// Where we looked.
        tried: String,
    },
    /// The devnet's port is taken.
    #[error(
        "cannot start the devnet: {addr} is already in use; stop what listens there, pass --devnet-port, or use that chain with --rpc-url http://{addr}"
    )]
    PortInUse {
        /// The address that is taken.
        addr: String,
    },
    /// anvil started but failed, or did not answer in time.
    #[error("the devnet (anvil) failed to start: {source}{hint}")]
    DevnetStart {
        /// What went wrong, with the tail of anvil's log.
        #[source]
        source: BoxError,
        /// What to do, when we can tell.
        hint: String,
    },
    /// The deployments file cannot be read or written.
    #[error("deployments file {path}: {source}")]
    DeploymentsFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// The deployments file is not valid JSON of the expected shape.
    #[error("deployments file {path}: malformed ({source}); fix or remove it (nothing was changed)")]
    DeploymentsMalformed {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The deployments recorded for this chain id belong to another chain (different genesis).
    #[error(
        "deployments file {path} records chain {chain_id} with genesis {recorded}, but the RPC serves genesis {actual}: \
         it is another chain with the same id; use another --data-dir, or run `agora deploy --forget` to deploy afresh"
    )]
    OtherChain {
        /// The file.
        path: PathBuf,
        /// The chain id.
        chain_id: u64,
        /// Genesis hash in the file.
        recorded: B256,
        /// Genesis hash on the chain.
        actual: B256,
    },
    /// A recorded contract address has no code.
    #[error(
        "{contract} is recorded at {address} on chain {chain_id} but there is no code there (was the chain reset?); \
         run `agora deploy --forget` to deploy afresh"
    )]
    MissingCode {
        /// Contract name.
        contract: String,
        /// Recorded address.
        address: Address,
        /// Chain id.
        chain_id: u64,
    },
    /// A recorded contract address holds code that is not ours.
    #[error(
        "the code at {address} on chain {chain_id} is not agora's {contract}; refusing to use it. \
         Check the deployments file, or run `agora deploy --forget` to deploy afresh"
    )]
    UnexpectedCode {
        /// Contract name.
        contract: String,
        /// Recorded address.
        address: Address,
        /// Chain id.
        chain_id: u64,
    },
    /// An x402 contract the official clients call is not at its canonical address on a chain
    /// where agora does not place it (not a dev chain).
    #[error(
        "the x402 contract {contract} is not deployed at its canonical address {address} on chain {chain_id}; \
         the official x402 clients call it there, so x402 payments cannot work on this chain \
         (use a chain where x402 is deployed, or a local devnet where agora places it)"
    )]
    X402ContractMissing {
        /// Contract name.
        contract: String,
        /// Its canonical address.
        address: Address,
        /// Chain id.
        chain_id: u64,
    },
    /// Code could not be placed at an address of a dev chain (`anvil_setCode`).
    #[error(
        "cannot place {contract} at {address} on dev chain {chain_id}: {source}; is the node anvil (or hardhat)?"
    )]
    SetCode {
        /// Contract name.
        contract: String,
        /// Where the code was to go.
        address: Address,
        /// Chain id.
        chain_id: u64,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// A deployment transaction failed.
    #[error("deploying {contract} on chain {chain_id} failed: {source}")]
    Deploy {
        /// Contract name.
        contract: String,
        /// Chain id.
        chain_id: u64,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
}

impl ChainError {
    /// Whether retrying later may help (the endpoint was down).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// Any error, boxed, its chain of sources kept.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error and what was being done when it happened.
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {source}")]
pub struct ContextError {
    /// What was being done, e.g. `cannot write /path`.
    doing: String,
    /// What went wrong.
    #[source]
    source: BoxError,
}

/// Boxes `source` with what was being done.
pub(crate) fn context(doing: impl Into<String>, source: impl Into<BoxError>) -> BoxError {
    Box::new(ContextError { doing: doing.into(), source: source.into() })
}

/// Result alias for chain operations.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;
