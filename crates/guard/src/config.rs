//! The guard's settings: what `agora guard` runs with unless a flag says otherwise, and what the
//! node's configuration file holds under `[guard]`.

use crate::{Level, SimulatorKind, analyze::GuardOptions, proxy::ProxyConfig};
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, time::Duration};

/// Where the proxy listens by default: loopback, next to the node's API (8402).
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8403));

/// How long one analysis may take by default, in seconds.
pub const DEFAULT_DEADLINE_SECS: u64 = 15;

/// The guard's settings (`[guard]` in `agora.toml`). Every field has a default, so an empty
/// table is a complete configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct GuardConfig {
    /// Where the proxy listens. Default `127.0.0.1:8403`.
    pub listen: SocketAddr,
    /// The node requests are read from and forwarded to. Default: none, meaning the node's
    /// configured chain (the local devnet unless another RPC URL is configured).
    pub upstream: Option<String>,
    /// `revm` (in process, the default) or `node` (the node's `eth_simulateV1` and
    /// `debug_traceCall`).
    pub simulator: SimulatorKind,
    /// Verdicts at or above this level are refused. Default `high`.
    pub block_level: Level,
    /// Ask the owner instead of refusing outright (the proxy's asker: the node's page, or the terminal). Default `false`.
    pub confirm: bool,
    /// Forward requests the guard could not check (fail open). Default `false`: fail closed.
    pub allow_unchecked: bool,
    /// Add a plain-language summary from a local model to each report. Default `false`.
    pub explain: bool,
    /// The node API whose model writes the summary. Default: none, meaning the node's own API.
    pub explain_api: Option<String>,
    /// How long one analysis may take, in seconds. Default 15.
    pub deadline_secs: u64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            upstream: None,
            simulator: SimulatorKind::Revm,
            block_level: Level::High,
            confirm: false,
            allow_unchecked: false,
            explain: false,
            explain_api: None,
            deadline_secs: DEFAULT_DEADLINE_SECS,
        }
    }
}

impl GuardConfig {
    /// The analysis options these settings ask for (no known contracts added).
    pub fn options(&self) -> GuardOptions {
        GuardOptions {
            simulator: self.simulator,
            deadline: Duration::from_secs(self.deadline_secs),
            ..GuardOptions::default()
        }
    }

    /// The proxy's settings, once the upstream and the explaining API are resolved (the caller
    /// knows the node's chain and API; the guard does not).
    pub fn proxy(&self, upstream: String, explain_api: Option<String>) -> ProxyConfig {
        ProxyConfig {
            upstream,
            block_level: self.block_level,
            confirm: self.confirm,
            allow_unchecked: self.allow_unchecked,
            explain: if self.explain { explain_api } else { None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_is_the_documented_defaults() {
        let c: GuardConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, GuardConfig::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8403");
        assert_eq!((c.block_level, c.simulator, c.deadline_secs), (Level::High, SimulatorKind::Revm, 15));
        assert!(!c.confirm && !c.allow_unchecked && !c.explain);
        assert_eq!(c.options().deadline, Duration::from_secs(15));
    }

    #[test]
    fn fields_are_read_and_unknown_ones_refused() {
        let c: GuardConfig = serde_json::from_str(
            r#"{"listen": "127.0.0.1:9000", "simulator": "node", "block_level": "medium", "explain": true}"#,
        )
        .unwrap();
        assert_eq!((c.listen.port(), c.simulator, c.block_level), (9000, SimulatorKind::Node, Level::Medium));
        assert_eq!(
            c.proxy("http://up".into(), Some("http://api".into())).explain.as_deref(),
            Some("http://api")
        );
        let err = serde_json::from_str::<GuardConfig>(r#"{"block_levle": "low"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        assert!(serde_json::from_str::<GuardConfig>(r#"{"simulator": "ganache"}"#).is_err());
    }
}
