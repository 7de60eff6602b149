//! One node per data directory: an exclusive lock on `<data-dir>/node.lock`, released by the
//! kernel when the process exits, however it exits; and the signals that end a node.

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
    api: Option<std::net::SocketAddr>,
    rpc: Option<String>,
}

impl DataDirLock {
    /// Takes the lock, or says which process holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self> {
        agora_store::private_dir(data_dir).map_err(|e| NodeError::DataDir {
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
            let pid = holder
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<u32>().ok())
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default();
            return Err(NodeError::DataDirLocked { dir: data_dir.to_path_buf(), pid });
        }
        // Record who holds it, for the message above; failure to do so is harmless.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(Self { _file: file, path, api: None, rpc: None })
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the owner's API address beside the pid, so commands run beside the node can
    /// find it and go through it.
    pub fn record_api(&mut self, api: std::net::SocketAddr) {
        self.api = Some(api);
        self.write_record();
    }

    /// Records the chain's JSON-RPC endpoint the node uses, so commands run beside it use the
    /// same chain (its devnet may listen on a port of its own).
    pub fn record_rpc(&mut self, rpc: &str) {
        self.rpc = Some(rpc.to_owned());
        self.write_record();
    }

    fn write_record(&mut self) {
        let mut record = format!("{}\n", std::process::id());
        if let Some(api) = self.api {
            record.push_str(&format!("api {api}\n"));
        }
        if let Some(rpc) = &self.rpc {
            record.push_str(&format!("rpc {rpc}\n"));
        }
        let _ = self._file.set_len(0);
        let _ = self._file.rewind();
        let _ = self._file.write_all(record.as_bytes());
        let _ = self._file.sync_data();
    }
}

/// A node that holds a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningNode {
    /// Its process id, if recorded.
    pub pid: Option<u32>,
    /// Its owner API, once it listens.
    pub api: Option<std::net::SocketAddr>,
    /// The chain endpoint it uses, once connected.
    pub rpc: Option<String>,
}

/// The node running on `data_dir`, if one holds its lock.
pub fn running_node(data_dir: &Path) -> Option<RunningNode> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new().read(true).open(&path).ok()?;
    if file.try_lock_shared().is_ok() {
        return None;
    }
    let mut holder = String::new();
    let _ = file.read_to_string(&mut holder);
    let pid = holder.lines().next().and_then(|l| l.trim().parse().ok());
    let api = holder.lines().find_map(|l| l.strip_prefix("api ")).and_then(|a| a.trim().parse().ok());
    let rpc = holder.lines().find_map(|l| l.strip_prefix("rpc ")).map(|r| r.trim().to_owned());
    Some(RunningNode { pid, api, rpc })
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
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

    #[test]
    fn a_running_node_and_its_api_are_found_from_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(running_node(dir.path()), None);
        let mut lock = DataDirLock::acquire(dir.path()).unwrap();
        // Another process would see the lock held; in this one an open file description differs.
        assert_eq!(running_node(dir.path()).map(|n| n.pid), Some(Some(std::process::id())));
        lock.record_api("127.0.0.1:4567".parse().unwrap());
        let node = running_node(dir.path()).unwrap();
        assert_eq!(node.api, Some("127.0.0.1:4567".parse().unwrap()));
        assert_eq!(node.rpc, None);
        lock.record_rpc("http://127.0.0.1:9545");
        let node = running_node(dir.path()).unwrap();
        assert_eq!(
            (node.api.map(|a| a.port()), node.rpc.as_deref()),
            (Some(4567), Some("http://127.0.0.1:9545"))
        );
        drop(lock);
        assert_eq!(running_node(dir.path()), None);
    }
}
