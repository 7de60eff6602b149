//! The guard's error type.

/// Why the guard could not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The request is malformed or not one the guard checks.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The node failed, timed out or answered nonsense.
    #[error("the node could not be read: {0}")]
    Upstream(String),
    /// The simulation itself failed.
    #[error("simulation failed: {0}")]
    Simulation(String),
    /// A shipped or installed list is unreadable.
    #[error("guard data: {0}")]
    Data(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
    /// A lock was poisoned by a panic.
    #[error("internal state poisoned")]
    Poisoned,
}

/// A result with [`GuardError`].
pub type Result<T, E = GuardError> = std::result::Result<T, E>;
