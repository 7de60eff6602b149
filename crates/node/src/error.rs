use std::path::PathBuf;

/// Why the node could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Another process uses the data directory.
    #[error(
        "data directory {dir} is in use by another agora process{pid}; stop it, or pass another --data-dir"
    )]
    DataDirLocked {
        /// The directory.
        dir: PathBuf,
        /// " (pid N)" when known.
        pid: String,
    },
    /// The data directory cannot be used.
    #[error("data directory {dir}: {reason}")]
    DataDir {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The API address cannot be bound.
    #[error("cannot listen on {addr}: {reason}; pass another {flag} address (e.g. {flag} 127.0.0.1:0)")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The option that sets it.
        flag: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// Chain access failed.
    #[error(transparent)]
    Chain(#[from] agora_chain::ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] agora_store::StoreError),
    /// No model file where the configuration points.
    #[error("model file {} not found; run `agora setup` or point --model at a GGUF file", path.display())]
    ModelMissing {
        /// Where the model was looked for.
        path: PathBuf,
    },
    /// A model file the configuration names is not one the engine can run.
    #[error("model file {}: {source}", path.display())]
    ModelUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: agora_infer::InferError,
    },
    /// `agora serve` was started without a model.
    #[error("`agora serve` needs a model: run `agora setup`, or pass --model FILE")]
    NoModel,
    /// The model could not be loaded.
    #[error("model")]
    Model(#[from] agora_infer::InferError),
    /// A blocking task (model loading) did not finish.
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
    /// Registering the node's agent failed.
    #[error("agent registration")]
    Agent(#[from] agora_agents::AgentError),
    /// Setting up or operating paid access failed.
    #[error("paid access: {step}")]
    Payments {
        /// What the node was doing.
        step: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The guard failed or refused.
    #[error(transparent)]
    Guard(#[from] agora_guard::GuardError),
    /// A step of the ERC-8004 validation flow failed.
    #[error("validation: {step}")]
    Validation {
        /// What the node was doing.
        step: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A market step was refused or failed.
    #[error("markets: {step}")]
    Markets {
        /// What the node was doing.
        step: &'static str,
        /// What went wrong (the contract's named error when it reverted).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A step of a funding round was refused or failed.
    #[error("funding: {step}")]
    Funding {
        /// What the node was doing.
        step: &'static str,
        /// What went wrong (the contract's named error when it reverted).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A step of a job (or of the validator council) was refused or failed.
    #[error("jobs: {step}")]
    Jobs {
        /// What the node was doing.
        step: &'static str,
        /// What went wrong (the contract's named error when it reverted).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A payment operation was refused or failed.
    #[error(transparent)]
    Pay(#[from] agora_pay::PayError),
    /// A development-chain operation was asked of another chain.
    #[error("{what} only exists on development chains (31337, 1337); this is chain {chain_id}")]
    NotDevChain {
        /// The operation.
        what: &'static str,
        /// The chain the node is on.
        chain_id: u64,
    },
    /// Something this operation needs is not recorded in the data directory.
    #[error("{0}")]
    Missing(String),
    /// The node running on the data directory refused or failed a call to its API.
    #[error("the node running on this data directory ({base}) {message}")]
    NodeApi {
        /// Its API's base URL.
        base: String,
        /// What it answered.
        message: String,
    },
    /// Serving HTTP failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

impl NodeError {
    /// A paid-access failure at `step`.
    pub(crate) fn payments(
        step: &'static str,
    ) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Self {
        move |source| Self::Payments { step, source }
    }
}

/// Result alias for node operations.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
