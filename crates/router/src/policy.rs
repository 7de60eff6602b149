//! The owner's routing policy (`[router]` in the configuration): which remote providers may
//! answer, what they may cost, how much of their work is re-checked.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

/// What may leave the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Privacy {
    /// Remote providers are paid openly from the node's key: they learn the prompt and the
    /// payer's address.
    #[default]
    Open,
    /// Remote providers are paid with anonymous credits only: they learn the prompt, never who
    /// sent it. A provider this node holds no credits with is skipped.
    Anonymous,
    /// Nothing leaves the machine: only local models answer.
    LocalOnly,
}

impl Privacy {
    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Anonymous => "anonymous",
            Self::LocalOnly => "local-only",
        }
    }
}

impl std::str::FromStr for Privacy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Self::Open),
            "anonymous" => Ok(Self::Anonymous),
            "local-only" => Ok(Self::LocalOnly),
            other => Err(format!("router.privacy is {other:?}; expected open, anonymous or local-only")),
        }
    }
}

/// How the router chooses and checks remote providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// What may leave the machine.
    pub privacy: Privacy,
    /// The most a provider may charge per token, atomic units (`None`: no ceiling beyond the
    /// mandate's per-call cap).
    pub max_price_per_token: Option<u128>,
    /// The least average rating a provider needs from `trusted_raters` (`None`: reputation is
    /// used for ranking only). A provider no trusted rater has rated does not pass a minimum.
    pub min_reputation: Option<f64>,
    /// Whose feedback counts; the node's own chain signer is always trusted.
    pub trusted_raters: Vec<Address>,
    /// Remote model names that may be used (empty: any).
    pub models: Vec<String>,
    /// The share of remote answers re-executed locally when the same model file is served
    /// here, percent.
    pub recheck_percent: u8,
    /// How long one provider has to answer before the next one is tried, seconds.
    pub timeout_secs: u64,
    /// The spending mandate remote calls are paid under.
    pub mandate: String,
    /// Whether `auto` may pick a remote provider (else `auto` is the local default model).
    pub auto_remote: bool,
    /// Route only to providers whose registration carries TEE evidence (Intel TDX/SGX, AMD
    /// SEV-SNP) that verifies and binds their receipt key.
    pub require_attestation: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            privacy: Privacy::Open,
            max_price_per_token: None,
            min_reputation: None,
            trusted_raters: Vec::new(),
            models: Vec::new(),
            recheck_percent: 10,
            timeout_secs: 120,
            mandate: "default".into(),
            auto_remote: true,
            require_attestation: false,
        }
    }
}

impl Policy {
    /// Whether a remote model name is allowed.
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
}
