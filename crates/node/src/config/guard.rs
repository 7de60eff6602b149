//! `[guard]`: the pre-sign guard's settings, layered like the rest of the configuration
//! (defaults < `agora.toml` < `AGORA_GUARD_*` < flags). The settings themselves, their defaults
//! and their meaning belong to [`agora_guard::GuardConfig`].

use super::{ConfigError, parse_env};
use agora_guard::{GuardConfig, Level, SimulatorKind};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `[guard]`, one layer: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardLayer {
    /// Where the proxy listens.
    pub listen: Option<SocketAddr>,
    /// The node the proxy reads state from and forwards to.
    pub upstream: Option<String>,
    /// `revm` or `node`.
    pub simulator: Option<SimulatorKind>,
    /// Verdicts at or above this level are refused.
    pub block_level: Option<Level>,
    /// Ask the owner instead of refusing: on the node's page while one is open, else in the terminal.
    pub confirm: Option<bool>,
    /// Forward requests the guard could not check.
    pub allow_unchecked: Option<bool>,
    /// Add the local model's summary to each report.
    pub explain: Option<bool>,
    /// The node API whose model writes the summary.
    pub explain_api: Option<String>,
    /// How long one analysis may take, seconds.
    pub deadline_secs: Option<u64>,
}

impl GuardLayer {
    /// The `AGORA_GUARD_*` variables.
    pub(super) fn from_env(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Ok(Self {
            listen: parse_env(var, "AGORA_GUARD_LISTEN", "expected IP:PORT, e.g. 127.0.0.1:8403")?,
            upstream: text("AGORA_GUARD_UPSTREAM"),
            simulator: parse_env(var, "AGORA_GUARD_SIMULATOR", "expected revm or node")?,
            block_level: parse_env(
                var,
                "AGORA_GUARD_BLOCK_LEVEL",
                "expected info, low, medium, high or critical",
            )?,
            confirm: parse_env(var, "AGORA_GUARD_CONFIRM", "expected true or false")?,
            allow_unchecked: parse_env(var, "AGORA_GUARD_ALLOW_UNCHECKED", "expected true or false")?,
            explain: parse_env(var, "AGORA_GUARD_EXPLAIN", "expected true or false")?,
            explain_api: text("AGORA_GUARD_EXPLAIN_API"),
            deadline_secs: parse_env(var, "AGORA_GUARD_DEADLINE", "expected seconds")?,
        })
    }

    /// `self`, with every value that `over` sets replaced by `over`'s.
    pub(super) fn merge(self, over: Self) -> Self {
        Self {
            listen: over.listen.or(self.listen),
            upstream: over.upstream.or(self.upstream),
            simulator: over.simulator.or(self.simulator),
            block_level: over.block_level.or(self.block_level),
            confirm: over.confirm.or(self.confirm),
            allow_unchecked: over.allow_unchecked.or(self.allow_unchecked),
            explain: over.explain.or(self.explain),
            explain_api: over.explain_api.or(self.explain_api),
            deadline_secs: over.deadline_secs.or(self.deadline_secs),
        }
    }

    /// The settings: what this layer sets, the guard's defaults for the rest.
    pub(super) fn resolve(self) -> GuardConfig {
        let d = GuardConfig::default();
        GuardConfig {
            listen: self.listen.unwrap_or(d.listen),
            upstream: self.upstream.or(d.upstream),
            simulator: self.simulator.unwrap_or(d.simulator),
            block_level: self.block_level.unwrap_or(d.block_level),
            confirm: self.confirm.unwrap_or(d.confirm),
            allow_unchecked: self.allow_unchecked.unwrap_or(d.allow_unchecked),
            explain: self.explain.unwrap_or(d.explain),
            explain_api: self.explain_api.or(d.explain_api),
            deadline_secs: self.deadline_secs.unwrap_or(d.deadline_secs),
        }
    }
}

/// `[guard]` as `agora config` prints it.
pub(super) fn to_toml(g: &GuardConfig) -> String {
    let text = |v: &str| toml::Value::String(v.to_owned()).to_string();
    let mut out = format!(
        "\n[guard]\nlisten = \"{}\"\nsimulator = {}\nblock_level = {}\nconfirm = {}\nallow_unchecked = {}\n\
         explain = {}\ndeadline_secs = {}\n",
        g.listen,
        text(&format!("{:?}", g.simulator).to_lowercase()),
        text(g.block_level.as_str()),
        g.confirm,
        g.allow_unchecked,
        g.explain,
        g.deadline_secs
    );
    match &g.upstream {
        Some(url) => out.push_str(&format!("upstream = {}\n", text(&agora_chain::redact_url(url)))),
        None => out.push_str("# upstream unset: the node's configured chain\n"),
    }
    match &g.explain_api {
        Some(url) => out.push_str(&format!("explain_api = {}\n", text(url))),
        None => out.push_str("# explain_api unset: the node's own API\n"),
    }
    out
}
