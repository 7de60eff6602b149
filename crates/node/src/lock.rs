//! One node per data directory: an exclusive lock on `<data-dir>/node.lock`, released by the
//! kernel when the process exits, however it exits.

use crate::{NodeError, Result};
use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

/// Name of the lock file inside the data directory.
const LOCK_FILE: &str = "node.lock";

/// Held while a node uses its data directory.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock, or says which process holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| NodeError::DataDir {
            dir: data_dir.to_path_buf(),
            reason: format!("cannot create: {e}"),
        })?;
        let path = data_dir.join(LOCK_FILE);
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(
                |e| NodeError::DataDir {
                    dir: data_dir.to_path_buf(),
                    reason: format!("cannot open lock: {e}"),
                },
            )?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let pid = holder.trim().parse::<u32>().map(|p| format!(" (pid {p})")).unwrap_or_default();
            return Err(NodeError::DataDirLocked { dir: data_dir.to_path_buf(), pid });
        }
        // Record who holds it, for the message above; failure to do so is harmless.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(Self { _file: file, path })
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_the_same_dir_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("in use by another agora process"), "{msg}");
        assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
        drop(lock);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
