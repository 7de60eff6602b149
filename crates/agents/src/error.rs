//! Why registering, reading, validating or indexing an agent failed.

use alloy::primitives::{Address, U256};

/// Any underlying error, kept as the source of an [`AgentError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why registering or reading an agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A call to a registry failed.
    #[error("identity registry {registry}: {call} failed: {source}")]
    Registry {
        /// The registry.
        registry: Address,
        /// Which call.
        call: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// The chain client has no signer.
    #[error("registering an agent needs a signer on chain {0}")]
    NoSigner(u64),
    /// A validation request or answer is invalid.
    #[error("validation: {0}")]
    Validation(String),
    /// The node's store failed (remembering an agent id).
    #[error("store: {0}")]
    Store(#[from] agora_store::StoreError),
    /// A feedback file cannot be made or read.
    #[error("feedback: {reason}")]
    Feedback {
        /// What is wrong.
        reason: &'static str,
        /// The receipt's failure, when that is the cause.
        #[source]
        source: Option<Box<agora_receipts::ReceiptError>>,
    },
    /// The discovery index failed (its store or its chain reads).
    #[error("discovery index: {0}")]
    Index(#[source] BoxError),
    /// The agent's URI does not resolve to a registration file.
    #[error("agent {agent_id}: {reason}")]
    BadRegistration {
        /// The agent.
        agent_id: U256,
        /// What is wrong.
        reason: String,
    },
}

/// Why the index could not fetch an agent's registration file (recorded beside the agent).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The agent has no URI.
    #[error("no URI set")]
    NoUri,
    /// A `data:` URI of a kind the index does not read.
    #[error("unsupported data: URI")]
    UnsupportedDataUri,
    /// A `data:` URI that does not hold a registration file.
    #[error(transparent)]
    DataUri(Box<AgentError>),
    /// The document is not a registration file.
    #[error("not an ERC-8004 registration-v1 file")]
    NotRegistration,
    /// The URI is not a URL.
    #[error("bad URL: {0}")]
    BadUrl(#[from] url::ParseError),
    /// A scheme other than http(s).
    #[error("scheme {0} is not fetched")]
    Scheme(String),
    /// A loopback or private host, refused outside dev chains.
    #[error("{0} is a loopback or private address; not fetched")]
    PrivateHost(String),
    /// The request failed.
    #[error("fetch failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A status other than success.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// The body is over the index's limit.
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
}

/// Result alias for agent operations.
pub type Result<T, E = AgentError> = std::result::Result<T, E>;
