//! Why a committed artifact cannot be used.

/// An artifact that cannot be read: only possible when a committed file is edited by hand.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The JSON does not have the shape `make artifacts` writes.
    #[error("artifact {name} is malformed: {source}")]
    Malformed {
        /// Contract name.
        name: &'static str,
        /// Parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Result alias for reading artifacts.
pub type Result<T, E = ArtifactError> = std::result::Result<T, E>;
