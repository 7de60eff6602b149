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
    /// The model could not be loaded.
    #[error("model: {0}")]
    Model(String),
    /// Registering the node's agent failed.
    #[error("agent registration: {0}")]
    Agent(String),
    /// Setting up paid access failed.
    #[error("paid access: {0}")]
    Payments(String),
    /// Serving HTTP failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Result alias for node operations.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
