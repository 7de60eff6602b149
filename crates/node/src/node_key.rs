//! The node's own signing key, kept in `<data-dir>/node.key` (created on first start, readable
//! by its owner only). It signs inference receipts, it is the agent's ERC-8004 wallet, and it is
//! the x402 identity: the paid listener is paid to it, and `agora pay` pays with it. It is not the
//! chain signer that deploys contracts.

use crate::{NodeError, Result};
use alloy::signers::local::PrivateKeySigner;
use std::{io::Write, path::Path, str::FromStr};

const KEY_FILE: &str = "node.key";

/// Loads the node key, creating it when the data directory has none.
pub fn load_or_create(data_dir: &Path) -> Result<PrivateKeySigner> {
    let path = data_dir.join(KEY_FILE);
    let err = |reason: String| NodeError::DataDir { dir: data_dir.to_path_buf(), reason };
    match std::fs::read_to_string(&path) {
        Ok(text) => PrivateKeySigner::from_str(text.trim()).map_err(|_| {
            err(format!("{} is not a private key; move it aside to create a new one", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            agora_store::private_dir(data_dir).map_err(|e| err(format!("cannot create: {e}")))?;
            let signer = PrivateKeySigner::random();
            let tmp = data_dir.join(format!("{KEY_FILE}.tmp"));
            let write = || -> std::io::Result<()> {
                use std::os::unix::fs::OpenOptionsExt;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                file.write_all(alloy::hex::encode_prefixed(signer.to_bytes()).as_bytes())?;
                file.sync_all()?;
                std::fs::rename(&tmp, &path)
            };
            write().map_err(|e| err(format!("cannot write {}: {e}", path.display())))?;
            tracing::info!(target: "agora::node", address = %signer.address(), "created the node key");
            Ok(signer)
        }
        Err(e) => Err(err(format!("cannot read {}: {e}", path.display()))),
    }
}

/// The key the node's own automation (the decision keeper) sends with: derived from the node
/// key, so its transactions never race the owner's commands for the node key's nonce. On a
/// development chain it is given gas; elsewhere its address needs ETH sent to it.
pub fn keeper_key(node_key: &PrivateKeySigner) -> PrivateKeySigner {
    let secret =
        alloy::primitives::keccak256([node_key.to_bytes().as_slice(), b"agora decision keeper"].concat());
    PrivateKeySigner::from_bytes(&secret).unwrap_or_else(|_| node_key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.address(), second.address());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
        assert!(load_or_create(dir.path()).unwrap_err().to_string().contains("move it aside"));
    }
}
