//! `[router]`: which remote providers the owner's API may route to, layered like the rest of the
//! configuration (defaults < `agora.toml` < `AGORA_ROUTER_*` < flags). The settings and their
//! meaning belong to [`agora_router::Policy`].

use super::{ConfigError, parse_env};
use agora_router::{Policy, Privacy};
use serde::{Deserialize, Serialize};

/// `[router]`, one layer: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterLayer {
    /// `open` (pay from the node key), `anonymous` (credits only) or `local-only`.
    pub privacy: Option<String>,
    /// The most a provider may charge per token.
    pub max_price_per_token: Option<super::Amount>,
    /// The least average rating from trusted raters a provider needs.
    pub min_reputation: Option<f64>,
    /// Raters whose feedback counts (addresses); the node's own key always counts.
    pub trusted_raters: Option<Vec<String>>,
    /// Remote models that may be used (empty: any).
    pub models: Option<Vec<String>>,
    /// The share of remote answers re-executed locally, percent.
    pub recheck_percent: Option<u8>,
    /// Seconds a provider has to answer before the next is tried.
    pub timeout_secs: Option<u64>,
    /// The spending mandate remote calls are paid under.
    pub mandate: Option<String>,
    /// Whether `auto` may choose a remote provider.
    pub auto_remote: Option<bool>,
    /// Route only to providers with verified TEE evidence binding their receipt key.
    pub require_attestation: Option<bool>,
}

impl RouterLayer {
    /// The `AGORA_ROUTER_*` variables.
    pub(super) fn from_env(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            privacy: var("AGORA_ROUTER_PRIVACY"),
            recheck_percent: parse_env(
                var,
                "AGORA_ROUTER_RECHECK_PERCENT",
                "expected a percentage, 0 to 100",
            )?,
            ..Self::default()
        })
    }

    /// `self`, with every value that `over` sets replaced by `over`'s.
    pub(super) fn merge(self, over: Self) -> Self {
        Self {
            privacy: over.privacy.or(self.privacy),
            max_price_per_token: over.max_price_per_token.or(self.max_price_per_token),
            min_reputation: over.min_reputation.or(self.min_reputation),
            trusted_raters: over.trusted_raters.or(self.trusted_raters),
            models: over.models.or(self.models),
            recheck_percent: over.recheck_percent.or(self.recheck_percent),
            timeout_secs: over.timeout_secs.or(self.timeout_secs),
            mandate: over.mandate.or(self.mandate),
            auto_remote: over.auto_remote.or(self.auto_remote),
            require_attestation: over.require_attestation.or(self.require_attestation),
        }
    }

    /// The policy: what this layer sets, the defaults for the rest.
    pub(super) fn resolve(self) -> Result<Policy, ConfigError> {
        let d = Policy::default();
        let privacy = match self.privacy {
            Some(p) => p.parse::<Privacy>().map_err(ConfigError::Invalid)?,
            None => d.privacy,
        };
        let mut trusted_raters = Vec::new();
        for rater in self.trusted_raters.unwrap_or_default() {
            trusted_raters.push(rater.parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "router.trusted_raters holds {rater:?}, which is not an address"
                ))
            })?);
        }
        let policy = Policy {
            privacy,
            max_price_per_token: self.max_price_per_token.map(|a| u128::from(a.0)),
            min_reputation: self.min_reputation,
            trusted_raters,
            models: self.models.unwrap_or_default(),
            recheck_percent: self.recheck_percent.unwrap_or(d.recheck_percent),
            timeout_secs: self.timeout_secs.unwrap_or(d.timeout_secs),
            mandate: self.mandate.unwrap_or(d.mandate),
            auto_remote: self.auto_remote.unwrap_or(d.auto_remote),
            require_attestation: self.require_attestation.unwrap_or(d.require_attestation),
        };
        if policy.recheck_percent > 100 {
            return Err(ConfigError::Invalid(format!(
                "router.recheck_percent is {}; it is a share of remote answers, 0 to 100",
                policy.recheck_percent
            )));
        }
        if policy.timeout_secs == 0 {
            return Err(ConfigError::Invalid("router.timeout_secs must be at least 1".into()));
        }
        if policy.min_reputation.is_some_and(|r| !r.is_finite()) {
            return Err(ConfigError::Invalid("router.min_reputation must be a number".into()));
        }
        Ok(policy)
    }
}

/// `[router]` as `agora config` prints it.
pub(super) fn to_toml(p: &Policy) -> String {
    let list = |items: Vec<String>| items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ");
    let mut out = format!(
        "\n[router]\nprivacy = \"{}\"  # open | anonymous (credits only) | local-only\n",
        p.privacy.as_str()
    );
    match p.max_price_per_token {
        Some(max) => out.push_str(&format!(
            "max_price_per_token = {}\n",
            super::amount::toml(u64::try_from(max).unwrap_or(u64::MAX))
        )),
        None => out.push_str("# max_price_per_token = \"0.0001 dUSD\"  # none: the mandate's per-call cap\n"),
    }
    match p.min_reputation {
        Some(min) => out.push_str(&format!("min_reputation = {min:?}\n")),
        None => out.push_str("# min_reputation = 50.0  # none: reputation ranks, it does not exclude\n"),
    }
    out.push_str(&format!(
        "trusted_raters = [{}]\nmodels = [{}]  # empty: any\nrecheck_percent = {}  # re-executed locally when the model is here\n\
         timeout_secs = {}\nmandate = \"{}\"\nauto_remote = {}\n\
         require_attestation = {}  # only providers with verified TEE evidence binding their receipt key\n",
        list(p.trusted_raters.iter().map(|a| a.to_checksum(None)).collect()),
        list(p.models.clone()),
        p.recheck_percent,
        p.timeout_secs,
        p.mandate,
        p.auto_remote,
        p.require_attestation
    ));
    out
}
