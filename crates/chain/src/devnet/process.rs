//! The anvil child process: finding the binary, its private folder, a free port and signals.

use crate::{ChainError, Result, error::context};
use std::{
    net::{IpAddr, TcpListener},
    path::{Path, PathBuf},
};
use tokio::process::{Child, Command};

/// Resolves the anvil binary: an explicit path, else `PATH`, else `./.tools/bin` (where
/// `make setup` puts it).
pub(super) fn find_anvil(anvil: &Path) -> Result<PathBuf> {
    if anvil.components().count() > 1 {
        return if anvil.is_file() {
            Ok(anvil.to_path_buf())
        } else {
            Err(ChainError::AnvilMissing { tried: anvil.display().to_string() })
        };
    }
    let mut tried = Vec::new();
    let path_dirs =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    for dir in path_dirs.into_iter().chain([PathBuf::from(".tools/bin")]) {
        let candidate = dir.join(anvil);
        if candidate.is_file() {
            return Ok(candidate);
        }
        tried.push(dir.display().to_string());
    }
    Err(ChainError::AnvilMissing { tried: format!("{} not on PATH nor in ./.tools/bin", anvil.display()) })
}

/// Creates the devnet's folder readable by its owner only, and narrows what an older version
/// left readable by others.
pub(super) fn make_private(dir: &Path) -> std::io::Result<()> {
    agora_store::private_dir(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            agora_store::private_file(&entry.path())?;
        }
    }
    Ok(())
}

pub(super) fn free_port(host: IpAddr) -> Result<u16> {
    TcpListener::bind((host, 0)).and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| {
        ChainError::DevnetStart { source: context("cannot find a free port", e), hint: String::new() }
    })
}

/// Asks the kernel to send anvil SIGTERM when its parent dies, so a killed node leaves no
/// orphan chain behind (and anvil still dumps its state); anvil's files are created 0600.
#[allow(unsafe_code)]
pub(super) fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only the child's own attributes.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // What anvil writes (its state: every account and transaction) is the owner's only.
            libc::umask(0o077);
            Ok(())
        });
    }
}

#[allow(unsafe_code)]
pub(super) fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        // SAFETY: sends a signal to our own child, whose pid we hold and have not reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
}

/// A directory removed on drop, for ephemeral devnets.
pub(super) mod tempdir {
    use std::path::{Path, PathBuf};

    #[derive(Debug)]
    pub(crate) struct ScratchDir(PathBuf);

    impl ScratchDir {
        pub(crate) fn new() -> std::io::Result<Self> {
            use std::sync::atomic::{AtomicU64, Ordering};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("agora-devnet-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            Ok(Self(dir))
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
