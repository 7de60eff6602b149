use std::path::PathBuf;

/// Why the store could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not a healthy SQLite database.
    #[error(
        "store {path} is corrupt ({detail}); move it aside and restore a backup, or start with an empty --data-dir"
    )]
    Corrupt {
        /// Database file.
        path: PathBuf,
        /// What SQLite reported.
        detail: String,
        /// The SQLite error, when an operation failed (not a check's report).
        #[source]
        source: Option<rusqlite::Error>,
    },
    /// Another process holds a lock on the database.
    #[error("store {path} is locked by another process; stop the other agora node or use another --data-dir")]
    Locked {
        /// Database file.
        path: PathBuf,
    },
    /// The database was written by a newer agora whose schema this build does not know.
    #[error(
        "store {path} has schema version {found}, newer than this build's {supported}; upgrade agora to open it"
    )]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Schema version found in the file.
        found: u32,
        /// Newest schema version this build knows.
        supported: u32,
    },
    /// One capability's tables were written by a newer agora than this build.
    #[error(
        "store {path} has {component} schema version {found}, newer than this build's {supported}; upgrade agora to open it"
    )]
    ComponentTooNew {
        /// Database file.
        path: PathBuf,
        /// The capability whose schema is newer.
        component: &'static str,
        /// Its version found in the file.
        found: u32,
        /// Its newest version this build knows.
        supported: u32,
    },
    /// The data directory could not be created.
    #[error("cannot create the store's directory {path}: {source}")]
    Directory {
        /// Directory that could not be created.
        path: PathBuf,
        /// I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Any other SQLite failure.
    #[error("store {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Classifies a SQLite error met while using the database at `path`.
    pub(crate) fn from_sqlite(path: &std::path::Path, source: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Self::Corrupt { path, detail: source.to_string(), source: Some(source) }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Locked { path },
            _ => Self::Sqlite { path, source },
        }
    }

    /// Whether the store is damaged (as opposed to busy or misconfigured).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Self::Corrupt { .. })
    }
}

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
