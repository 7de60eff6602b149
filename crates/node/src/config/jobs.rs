//! `[jobs]`: what the node does about jobs between agents, layered like the rest of the
//! configuration (defaults < `agora.toml` < `AGORA_JOBS_*` < flags). The settings and their
//! meaning belong to [`agora_jobs::Policy`].

use super::{ConfigError, parse_env};
use agora_jobs::Policy;
use serde::{Deserialize, Serialize};

/// `[jobs]`, one layer: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsLayer {
    /// Take funded jobs addressed to this node's agent, by the policy below.
    pub provide: Option<bool>,
    /// The least budget per token (prompt plus `max_tokens`), atomic units [default: the paid
    /// listener's `payments.price_per_token`].
    pub min_price_per_token: Option<super::Amount>,
    /// The largest bond the node posts for one job, atomic units.
    pub max_bond: Option<super::Amount>,
    /// Audit other providers' deliveries and sit on the validator council.
    pub validate: Option<bool>,
    /// The share of deliveries audited, percent.
    pub audit_percent: Option<u8>,
    /// The stake to join the council with, atomic units.
    pub stake: Option<super::Amount>,
    /// Seconds between the worker's passes.
    pub poll_secs: Option<u64>,
}

impl JobsLayer {
    /// The `AGORA_JOBS_*` variables.
    pub(super) fn from_env(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            provide: parse_env(var, "AGORA_JOBS_PROVIDE", "expected true or false")?,
            min_price_per_token: None,
            max_bond: None,
            validate: parse_env(var, "AGORA_JOBS_VALIDATE", "expected true or false")?,
            audit_percent: parse_env(var, "AGORA_JOBS_AUDIT_PERCENT", "expected a percentage, 0 to 100")?,
            stake: None,
            poll_secs: None,
        })
    }

    /// `self`, with every value that `over` sets replaced by `over`'s.
    pub(super) fn merge(self, over: Self) -> Self {
        Self {
            provide: over.provide.or(self.provide),
            min_price_per_token: over.min_price_per_token.or(self.min_price_per_token),
            max_bond: over.max_bond.or(self.max_bond),
            validate: over.validate.or(self.validate),
            audit_percent: over.audit_percent.or(self.audit_percent),
            stake: over.stake.or(self.stake),
            poll_secs: over.poll_secs.or(self.poll_secs),
        }
    }

    /// The policy: what this layer sets, the defaults for the rest (the price per token of
    /// the paid listener, `price_per_token`, unless set here).
    pub(super) fn resolve(self, price_per_token: u64) -> Result<Policy, ConfigError> {
        let d = Policy::default();
        let policy = Policy {
            provide: self.provide.unwrap_or(d.provide),
            min_price_per_token: self.min_price_per_token.map_or(price_per_token, |a| a.0),
            max_bond: self.max_bond.map_or(d.max_bond, |a| a.0),
            validate: self.validate.unwrap_or(d.validate),
            audit_percent: self.audit_percent.unwrap_or(d.audit_percent),
            stake: self.stake.map_or(d.stake, |a| a.0),
            poll_secs: self.poll_secs.unwrap_or(d.poll_secs),
        };
        if policy.audit_percent > 100 {
            return Err(ConfigError::Invalid(format!(
                "jobs.audit_percent is {}; it is a share of deliveries, 0 to 100",
                policy.audit_percent
            )));
        }
        if policy.poll_secs == 0 {
            return Err(ConfigError::Invalid("jobs.poll_secs must be at least 1".into()));
        }
        Ok(policy)
    }
}

/// `[jobs]` as `agora config` prints it.
pub(super) fn to_toml(p: &Policy) -> String {
    format!(
        "\n[jobs]\nprovide = {}  # take jobs addressed to this node's agent\n\
         min_price_per_token = {}  # per prompt + max_tokens token\n\
         max_bond = {}\n\
         validate = {}  # audit deliveries and sit on the validator council\n\
         audit_percent = {}\nstake = {}\npoll_secs = {}\n",
        p.provide,
        super::amount::toml(p.min_price_per_token),
        super::amount::toml(p.max_bond),
        p.validate,
        p.audit_percent,
        super::amount::toml(p.stake),
        p.poll_secs
    )
}
