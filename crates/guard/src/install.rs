//! Installing a phishing or token list into the guard's data directory: read, validate, then
//! replace the installed file atomically, so a crash or a bad file leaves the old list whole.

use crate::{
    GuardError, Result,
    lists::{PHISHING_FILE, PhishingList, TOKENS_FILE, TokenList},
};
use std::path::{Path, PathBuf};

/// Which list a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFile {
    /// An eth-phishing-detect `config.json`.
    Phishing,
    /// A Uniswap-format token list.
    Tokens,
}

impl ListFile {
    /// The installed file's name inside the guard's data directory.
    pub const fn file_name(self) -> &'static str {
        match self {
            Self::Phishing => PHISHING_FILE,
            Self::Tokens => TOKENS_FILE,
        }
    }
}

/// What was installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    /// Which list.
    pub list: ListFile,
    /// Where it now lies.
    pub path: PathBuf,
    /// Blocked domains (phishing list) or tokens (token list).
    pub entries: usize,
    /// Look-alike targets (phishing list; 0 for a token list).
    pub lookalike_targets: usize,
}

/// Reads `source`, checks that it parses as `list`, and installs it in `dir` (created private,
/// 0700, if missing) with an atomic replace. Nothing is written when the file does not parse.
pub fn install_list(dir: &Path, list: ListFile, source: &Path) -> Result<InstallReport> {
    let text = std::fs::read_to_string(source)
        .map_err(|e| GuardError::Io { path: source.to_path_buf(), source: e })?;
    install_list_text(dir, list, &text)
}

/// [`install_list`] for text already read (or downloaded) by the caller.
pub fn install_list_text(dir: &Path, list: ListFile, text: &str) -> Result<InstallReport> {
    let (entries, lookalike_targets) = match list {
        ListFile::Phishing => {
            let parsed = PhishingList::parse(text)?;
            (parsed.blacklist.len(), parsed.fuzzylist.len())
        }
        ListFile::Tokens => (TokenList::parse(text)?.tokens.len(), 0),
    };
    agora_store::private_dir(dir).map_err(|source| GuardError::Io { path: dir.to_path_buf(), source })?;
    let path = dir.join(list.file_name());
    agora_store::write_atomically(&path, text.as_bytes())
        .map_err(|source| GuardError::Io { path: path.clone(), source })?;
    Ok(InstallReport { list, path, entries, lookalike_targets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GuardData;

    #[test]
    fn a_valid_list_is_installed_and_loaded_and_a_bad_one_leaves_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let guard_dir = dir.path().join("guard");
        let phishing = r#"{"version": 7, "tolerance": 1, "fuzzylist": ["example.org"], "whitelist": [], "blacklist": ["evil.example", "worse.example"]}"#;
        let report = install_list_text(&guard_dir, ListFile::Phishing, phishing).unwrap();
        assert_eq!((report.entries, report.lookalike_targets), (2, 1));
        assert_eq!(report.path, guard_dir.join(PHISHING_FILE));
        assert_eq!(GuardData::load(&guard_dir).unwrap().phishing.blacklist.len(), 2);

        let err = install_list_text(&guard_dir, ListFile::Phishing, "{not json").unwrap_err();
        assert!(matches!(err, GuardError::Data { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&report.path).unwrap(), phishing, "the old list stays");

        let missing = install_list(&guard_dir, ListFile::Tokens, &dir.path().join("nope.json")).unwrap_err();
        assert!(matches!(missing, GuardError::Io { .. }), "{missing}");
        let tokens = r#"{"tokens": [{"chainId": 1, "address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "symbol": "USDC", "name": "USD Coin", "decimals": 6}]}"#;
        let report = install_list_text(&guard_dir, ListFile::Tokens, tokens).unwrap();
        assert_eq!((report.entries, report.list), (1, ListFile::Tokens));
    }
}
