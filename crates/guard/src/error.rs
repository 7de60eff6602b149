//! The guard's error type.

use std::{path::PathBuf, time::Duration};

/// Any error kept as the source of another (a simulator's internals, a model's client).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the guard could not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The request is malformed or not one the guard checks.
    #[error("bad request: {0}")]
    BadRequest(#[from] RequestError),
    /// A decoded call could not be taken apart (for example, batches nested too deep).
    #[error("bad request: {0}")]
    Decode(#[from] crate::decode::DecodeError),
    /// The node failed to answer a read.
    #[error("the node could not be read: {what}")]
    Upstream {
        /// What was being read.
        what: String,
        /// The transport's error.
        #[source]
        source: alloy::transports::TransportError,
    },
    /// The node answered something the guard cannot use.
    #[error("the node answered nonsense: {what}")]
    UpstreamAnswer {
        /// What was wrong with the answer.
        what: String,
        /// The parse error, when there was one.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// The node, or the whole analysis, took too long.
    #[error("{what} did not finish within {} s (the node is slow or gone)", after.as_secs_f64())]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long the guard waited.
        after: Duration,
    },
    /// Reading state from the node during an in-process simulation failed.
    #[error(transparent)]
    State(#[from] crate::sim::RpcStateError),
    /// The simulation itself failed.
    #[error("simulation failed: {what}")]
    Simulation {
        /// The step that failed.
        what: &'static str,
        /// The simulator's error.
        #[source]
        source: BoxError,
    },
    /// A shipped or installed list does not parse.
    #[error("guard data: {what}")]
    Data {
        /// Which list.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A list file could not be read or written.
    #[error("guard data file {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] agora_store::StoreError),
    /// A query on the store failed.
    #[error("store: {0}")]
    Sql(#[from] agora_store::rusqlite::Error),
    /// The local model asked for a summary could not be used.
    #[error("the model at {api}: {what}")]
    Model {
        /// The API asked.
        api: String,
        /// What went wrong.
        what: &'static str,
        /// The client's error, when there was one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The upstream node of the proxy could not be reached or answered something other than
    /// JSON-RPC.
    #[error("upstream node {upstream} {what}")]
    Forward {
        /// The upstream node's URL.
        upstream: String,
        /// What went wrong.
        what: String,
        /// The client's error, when there was one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A lock was poisoned by a panic.
    #[error("internal state poisoned")]
    Poisoned,
}

impl GuardError {
    /// Whether the request itself was at fault (malformed, or not one the guard checks), as
    /// opposed to the node, the simulation, the data or the store.
    pub const fn is_bad_request(&self) -> bool {
        matches!(self, Self::BadRequest(..) | Self::Decode(..))
    }

    /// A failed read of `what` from the node.
    pub fn upstream(what: impl Into<String>, source: alloy::transports::TransportError) -> Self {
        Self::Upstream { what: what.into(), source }
    }

    /// A failed simulation step.
    pub fn simulation(what: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Simulation { what, source: source.into() }
    }
}

/// What was wrong with a request the guard was asked to check.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct RequestError {
    /// A sentence naming the method or field at fault and what was wrong with it.
    pub reason: String,
}

impl RequestError {
    /// A request error saying `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }
}

impl From<RequestError> for String {
    fn from(e: RequestError) -> Self {
        e.reason
    }
}

/// A result with [`GuardError`].
pub type Result<T, E = GuardError> = std::result::Result<T, E>;
