//! Where the node's signing key comes from. Keys are never printed or logged: only the source
//! (an environment variable's name, a keystore's path) and the derived address appear.

use crate::{ChainError, Result};
use alloy::signers::local::PrivateKeySigner;
use std::{fmt, path::PathBuf, str::FromStr};

/// Environment variable holding a hex private key.
pub const PRIVATE_KEY_ENV: &str = "AGORA_PRIVATE_KEY";
/// Environment variable holding the keystore password.
pub const KEYSTORE_PASSWORD_ENV: &str = "AGORA_KEYSTORE_PASSWORD";

/// A string that never shows itself in `Debug` or `Display`.
///
/// ```
/// let key = agora_chain::Secret::new("0xdeadbeef");
/// assert_eq!(format!("{key} {key:?}"), "<redacted> Secret(<redacted>)");
/// assert_eq!(key.expose(), "0xdeadbeef");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where to get the signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerSource {
    /// A hex private key (from `AGORA_PRIVATE_KEY`).
    PrivateKey(Secret),
    /// An encrypted JSON keystore (Web3 Secret Storage) and its password.
    Keystore {
        /// Keystore file.
        path: PathBuf,
        /// Its password (from `AGORA_KEYSTORE_PASSWORD`).
        password: Option<Secret>,
    },
}

impl SignerSource {
    /// Loads the signer.
    pub fn load(&self) -> Result<PrivateKeySigner> {
        match self {
            Self::PrivateKey(key) => {
                PrivateKeySigner::from_str(key.expose().trim()).map_err(|_| ChainError::Signer {
                    source_name: PRIVATE_KEY_ENV.to_owned(),
                    reason: "not a 32-byte hex private key".to_owned(),
                })
            }
            Self::Keystore { path, password } => {
                let password = password.as_ref().ok_or_else(|| ChainError::Signer {
                    source_name: format!("keystore {}", path.display()),
                    reason: format!("set {KEYSTORE_PASSWORD_ENV} to its password"),
                })?;
                PrivateKeySigner::decrypt_keystore(path, password.expose()).map_err(|e| ChainError::Signer {
                    source_name: format!("keystore {}", path.display()),
                    reason: redact_reason(&e.to_string()),
                })
            }
        }
    }

    /// A description safe to print.
    pub fn describe(&self) -> String {
        match self {
            Self::PrivateKey(_) => format!("private key from {PRIVATE_KEY_ENV}"),
            Self::Keystore { path, .. } => format!("keystore {}", path.display()),
        }
    }
}

/// Keystore errors can echo input; keep only the first line and never more than a sentence.
fn redact_reason(reason: &str) -> String {
    let first = reason.lines().next().unwrap_or("invalid keystore");
    if first.to_ascii_lowercase().contains("mac") {
        "wrong password, or the keystore is damaged".to_owned()
    } else {
        first.chars().take(120).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // anvil's first dev account: a published test key.
    const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let source = SignerSource::PrivateKey(Secret::new(DEV_KEY));
        assert!(!format!("{source:?}").contains("ac0974"));
        assert!(!format!("{}", Secret::new(DEV_KEY)).contains("ac0974"));
        assert!(!source.describe().contains("ac0974"));
    }

    #[test]
    fn private_key_loads_and_bad_key_is_a_clear_error() {
        let signer = SignerSource::PrivateKey(Secret::new(DEV_KEY)).load().unwrap();
        assert_eq!(signer.address().to_string(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        let err = SignerSource::PrivateKey(Secret::new("0x1234")).load().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(PRIVATE_KEY_ENV) && msg.contains("not a 32-byte hex private key"), "{msg}");
        assert!(!format!("{err:?}").contains("1234"), "the bad key is not echoed");
    }

    #[test]
    fn keystore_round_trip_and_wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, _uuid) = PrivateKeySigner::new_keystore(
            dir.path(),
            &mut rand::thread_rng(),
            "correct horse",
            Some("key.json"),
        )
        .unwrap();
        let path = dir.path().join("key.json");
        let loaded =
            SignerSource::Keystore { path: path.clone(), password: Some(Secret::new("correct horse")) }
                .load()
                .unwrap();
        assert_eq!(loaded.address(), signer.address());

        let err = SignerSource::Keystore { path: path.clone(), password: Some(Secret::new("wrong")) }
            .load()
            .unwrap_err();
        assert!(err.to_string().contains("wrong password"), "{err}");
        let err = SignerSource::Keystore { path, password: None }.load().unwrap_err();
        assert!(err.to_string().contains(KEYSTORE_PASSWORD_ENV), "{err}");
    }
}
