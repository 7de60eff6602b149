//! `[markets]`: what the node does for markets by itself, layered like the rest of the
//! configuration (defaults < `agora.toml` < `AGORA_MARKETS_*` < flags).

use super::{ConfigError, parse_env};
use serde::{Deserialize, Serialize};

/// `[markets]`, one layer: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketsLayer {
    /// Keep decision markets: observe every proposal's books during its TWAP window and
    /// finalize it when trading ends [default: on for the local devnet, off elsewhere, where
    /// each observation costs gas].
    pub keeper: Option<bool>,
    /// Seconds between the keeper's passes.
    pub keeper_secs: Option<u64>,
}

/// `[markets]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketsConfig {
    /// Whether the keeper runs.
    pub keeper: bool,
    /// Seconds between its passes.
    pub keeper_secs: u64,
}

impl Default for MarketsConfig {
    /// The keeper off (a chain other than the local devnet), every 5 seconds when on.
    fn default() -> Self {
        Self { keeper: false, keeper_secs: 5 }
    }
}

impl MarketsLayer {
    /// The `AGORA_MARKETS_*` variables.
    pub(super) fn from_env(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            keeper: parse_env(var, "AGORA_MARKETS_KEEPER", "expected true or false")?,
            keeper_secs: parse_env(var, "AGORA_MARKETS_KEEPER_SECS", "expected whole seconds")?,
        })
    }

    /// `self`, with every value that `over` sets replaced by `over`'s.
    pub(super) fn merge(self, over: Self) -> Self {
        Self { keeper: over.keeper.or(self.keeper), keeper_secs: over.keeper_secs.or(self.keeper_secs) }
    }

    /// The settings: what this layer sets, the defaults for the rest (the keeper on when the
    /// chain is the local devnet).
    pub(super) fn resolve(self, devnet: bool) -> Result<MarketsConfig, ConfigError> {
        let config = MarketsConfig {
            keeper: self.keeper.unwrap_or(devnet),
            keeper_secs: self.keeper_secs.unwrap_or(5),
        };
        if config.keeper_secs == 0 {
            return Err(ConfigError::Invalid("markets.keeper_secs must be at least 1".into()));
        }
        Ok(config)
    }
}

/// `[markets]` as `agora config` prints it.
pub(super) fn to_toml(m: &MarketsConfig) -> String {
    format!(
        "\n[markets]\nkeeper = {}  # observe decision markets' TWAPs and finalize them when trading ends\nkeeper_secs = {}\n",
        m.keeper, m.keeper_secs
    )
}
