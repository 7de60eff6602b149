//! Configuration, resolved once at start-up in four layers, each overriding the one before:
//! built-in defaults < `agora.toml` < `AGORA_*` environment variables < command-line flags.
//! [`ConfigLayer`] is one layer, every field optional; [`NodeConfig::resolve`] merges and
//! validates them into the runtime configuration that the rest of the node trusts.

mod access;
mod amount;
mod guard;
mod jobs;
mod markets;
mod print;
mod router;

use access::api_access;
pub use access::{ApiAccess, ApiToken, MIN_API_TOKEN_LEN};
pub use amount::Amount;

use agora_chain::{
    DEVNET_CHAIN_ID, DEVNET_PORT, DevnetConfig, KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, Secret, SignerSource,
};
pub use guard::GuardLayer;
pub use jobs::JobsLayer;
pub use markets::{MarketsConfig, MarketsLayer};
pub use router::RouterLayer;
use serde::{Deserialize, Serialize};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

/// Default address of the owner's API.
pub const DEFAULT_API_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8402);
/// The configuration file looked for in the working directory.
pub const CONFIG_FILE: &str = "agora.toml";

/// A configuration problem, naming where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("config file {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        reason: String,
    },
    /// An environment variable holds a value that does not parse.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Env {
        /// Variable name.
        var: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// A merged value is invalid.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// One layer of configuration; `None` leaves the value to the layers below.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    /// Where the node keeps its store, devnet state and deployments.
    pub data_dir: Option<PathBuf>,
    /// The owner's HTTP API.
    #[serde(default)]
    pub api: ApiLayer,
    /// Which chain to use.
    #[serde(default)]
    pub chain: ChainLayer,
    /// The local devnet, used when no RPC URL is set.
    #[serde(default)]
    pub devnet: DevnetLayer,
    /// Local inference.
    #[serde(default)]
    pub inference: InferenceLayer,
    /// The node's ERC-8004 agent.
    #[serde(default)]
    pub agent: AgentLayer,
    /// Paid access (x402) on the public listener.
    #[serde(default)]
    pub payments: PaymentsLayer,
    /// The pre-sign guard (`agora guard`).
    #[serde(default)]
    pub guard: GuardLayer,
    /// Jobs between agents: the node as provider, client and validator.
    #[serde(default)]
    pub jobs: JobsLayer,
    /// What the node does for markets by itself (`[markets]`).
    #[serde(default)]
    pub markets: MarketsLayer,
    /// The owner's router to remote providers.
    #[serde(default)]
    pub router: RouterLayer,
}

/// `[payments]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsLayer {
    /// Serve paid access on the public listener.
    pub enabled: Option<bool>,
    /// Address of the public paid listener.
    pub listen: Option<SocketAddr>,
    /// Price per token (prompt and completion), in the stablecoin's atomic units.
    pub price_per_token: Option<Amount>,
    /// The most one chat completion may cost (atomic units).
    pub max_per_request: Option<Amount>,
    /// The shortest withdrawal delay a paying channel may have (seconds).
    pub min_withdraw_delay: Option<u64>,
    /// Claim a channel once this much is charged and unclaimed (atomic units).
    pub claim_threshold: Option<Amount>,
    /// Seconds between passes of the background settler.
    pub settle_interval: Option<u64>,
    /// Calls one anonymous credit deposit buys (`zk-credits`); 0 sells no credits.
    pub credit_calls: Option<u32>,
    /// Tokens (prompt and completion) one credit unit covers; a call takes 1 to 4 units.
    pub credit_unit_tokens: Option<u64>,
    /// The stake a credit deposit locks beside the price, lost by a double-spender (atomic
    /// units).
    pub credit_stake: Option<Amount>,
    /// Seconds between a credit holder's exit request and the stake's return.
    pub credit_exit_delay: Option<u64>,
}

/// `[agent]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentLayer {
    /// Register (and keep up to date) the node's agent on start-up.
    pub register: Option<bool>,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Base URL where others reach this node; unset puts the registration on chain as a data URI.
    pub public_url: Option<String>,
}

/// `[inference]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceLayer {
    /// GGUF model file.
    pub model: Option<PathBuf>,
    /// Worker threads (0 or unset: every core).
    pub threads: Option<usize>,
    /// Generations that may wait; more are answered 429.
    pub queue: Option<usize>,
    /// Generations decoded together, one batched forward pass per step.
    pub batch: Option<usize>,
    /// More GGUF models served beside `model`, loaded on first use (requests choose by `model`).
    pub models: Option<Vec<PathBuf>>,
    /// The most memory the loaded models' weights may take, MiB (default: half the machine's).
    pub memory_budget_mib: Option<u64>,
    /// Cap on the context window, in tokens.
    pub max_context: Option<usize>,
    /// Log prompts and outputs (off by default: they are the user's).
    pub log_prompts: Option<bool>,
}

/// `[api]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiLayer {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// Bearer token every request must carry; required to listen beyond loopback.
    pub token: Option<ApiToken>,
    /// Web origins (`https://app.example`) allowed to call the API besides its own.
    pub allowed_origins: Option<Vec<String>>,
}

/// `[chain]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainLayer {
    /// JSON-RPC endpoint; unset means: run the local devnet.
    pub rpc_url: Option<String>,
    /// Encrypted keystore holding the node's signing key (password in `AGORA_KEYSTORE_PASSWORD`).
    pub keystore: Option<PathBuf>,
}

/// `[devnet]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevnetLayer {
    /// Port anvil listens on (loopback).
    pub port: Option<u16>,
    /// Chain id of the devnet.
    pub chain_id: Option<u64>,
    /// The anvil binary.
    pub anvil: Option<PathBuf>,
    /// Seconds between blocks; unset mines one block per transaction.
    pub block_time: Option<u64>,
}

/// The environment variable `name` read through `var` and parsed; unset or blank is `None`, a
/// value that does not parse an error naming the variable and what was `expected`.
/// What an amount in the environment looks like.
pub(super) const AMOUNT_EXPECTED: &str =
    "expected atomic units (10) or an amount with its unit (0.00001dUSD, $0.50, 500000atomic)";

pub(super) fn parse_env<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    match var(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(value) => value.trim().parse().map(Some).map_err(|_| ConfigError::Env {
            var: name,
            value,
            reason: expected,
        }),
    }
}

impl ConfigLayer {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Malformed { path: path.to_path_buf(), reason: e.to_string() })
    }

    /// Reads the `AGORA_*` variables through `var` (the process environment in production).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &str| var(name).filter(|v| !v.is_empty());
        Ok(Self {
            data_dir: text("AGORA_DATA_DIR").map(PathBuf::from),
            api: ApiLayer {
                listen: parse_env(&var, "AGORA_LISTEN", "expected IP:PORT, e.g. 127.0.0.1:8402")?,
                token: text("AGORA_API_TOKEN").map(ApiToken::new),
                allowed_origins: text("AGORA_API_ALLOWED_ORIGINS").map(|list| {
                    list.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect()
                }),
            },
            chain: ChainLayer {
                rpc_url: text("AGORA_RPC_URL"),
                keystore: text("AGORA_KEYSTORE").map(PathBuf::from),
            },
            devnet: DevnetLayer {
                port: parse_env(&var, "AGORA_DEVNET_PORT", "expected a port number")?,
                chain_id: parse_env(&var, "AGORA_DEVNET_CHAIN_ID", "expected a chain id")?,
                anvil: text("AGORA_ANVIL").map(PathBuf::from),
                block_time: parse_env(&var, "AGORA_DEVNET_BLOCK_TIME", "expected seconds")?,
            },
            agent: AgentLayer {
                register: parse_env(&var, "AGORA_AGENT_REGISTER", "expected true or false")?,
                name: text("AGORA_AGENT_NAME"),
                description: text("AGORA_AGENT_DESCRIPTION"),
                public_url: text("AGORA_PUBLIC_URL"),
            },
            inference: InferenceLayer {
                model: text("AGORA_MODEL").map(PathBuf::from),
                threads: parse_env(&var, "AGORA_THREADS", "expected a number of threads")?,
                queue: parse_env(&var, "AGORA_INFERENCE_QUEUE", "expected a queue length")?,
                batch: parse_env(&var, "AGORA_INFERENCE_BATCH", "expected a number of generations")?,
                models: text("AGORA_MODELS").map(|v| {
                    v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from).collect()
                }),
                memory_budget_mib: parse_env(&var, "AGORA_MEMORY_BUDGET_MIB", "expected a number of MiB")?,
                max_context: parse_env(&var, "AGORA_MAX_CONTEXT", "expected a number of tokens")?,
                log_prompts: parse_env(&var, "AGORA_LOG_PROMPTS", "expected true or false")?,
            },
            payments: PaymentsLayer {
                enabled: parse_env(&var, "AGORA_PAYMENTS", "expected true or false")?,
                listen: parse_env(&var, "AGORA_PAID_LISTEN", "expected IP:PORT, e.g. 127.0.0.1:8412")?,
                price_per_token: parse_env(&var, "AGORA_PRICE_PER_TOKEN", AMOUNT_EXPECTED)?,
                max_per_request: parse_env(&var, "AGORA_MAX_PER_REQUEST", AMOUNT_EXPECTED)?,
                min_withdraw_delay: None,
                claim_threshold: None,
                settle_interval: None,
                credit_calls: None,
                credit_unit_tokens: None,
                credit_stake: None,
                credit_exit_delay: None,
            },
            guard: GuardLayer::from_env(&var)?,
            jobs: JobsLayer::from_env(&var)?,
            markets: MarketsLayer::from_env(&var)?,
            router: RouterLayer::from_env(&var)?,
        })
    }

    /// `self`, with every value that `over` sets replaced by `over`'s.
    pub fn merge(self, over: Self) -> Self {
        Self {
            data_dir: over.data_dir.or(self.data_dir),
            api: ApiLayer {
                listen: over.api.listen.or(self.api.listen),
                token: over.api.token.or(self.api.token),
                allowed_origins: over.api.allowed_origins.or(self.api.allowed_origins),
            },
            chain: ChainLayer {
                rpc_url: over.chain.rpc_url.or(self.chain.rpc_url),
                keystore: over.chain.keystore.or(self.chain.keystore),
            },
            devnet: DevnetLayer {
                port: over.devnet.port.or(self.devnet.port),
                chain_id: over.devnet.chain_id.or(self.devnet.chain_id),
                anvil: over.devnet.anvil.or(self.devnet.anvil),
                block_time: over.devnet.block_time.or(self.devnet.block_time),
            },
            agent: AgentLayer {
                register: over.agent.register.or(self.agent.register),
                name: over.agent.name.or(self.agent.name),
                description: over.agent.description.or(self.agent.description),
                public_url: over.agent.public_url.or(self.agent.public_url),
            },
            inference: InferenceLayer {
                model: over.inference.model.or(self.inference.model),
                threads: over.inference.threads.or(self.inference.threads),
                queue: over.inference.queue.or(self.inference.queue),
                batch: over.inference.batch.or(self.inference.batch),
                models: over.inference.models.or(self.inference.models),
                memory_budget_mib: over.inference.memory_budget_mib.or(self.inference.memory_budget_mib),
                max_context: over.inference.max_context.or(self.inference.max_context),
                log_prompts: over.inference.log_prompts.or(self.inference.log_prompts),
            },
            payments: PaymentsLayer {
                enabled: over.payments.enabled.or(self.payments.enabled),
                listen: over.payments.listen.or(self.payments.listen),
                price_per_token: over.payments.price_per_token.or(self.payments.price_per_token),
                max_per_request: over.payments.max_per_request.or(self.payments.max_per_request),
                min_withdraw_delay: over.payments.min_withdraw_delay.or(self.payments.min_withdraw_delay),
                claim_threshold: over.payments.claim_threshold.or(self.payments.claim_threshold),
                settle_interval: over.payments.settle_interval.or(self.payments.settle_interval),
                credit_calls: over.payments.credit_calls.or(self.payments.credit_calls),
                credit_unit_tokens: over.payments.credit_unit_tokens.or(self.payments.credit_unit_tokens),
                credit_stake: over.payments.credit_stake.or(self.payments.credit_stake),
                credit_exit_delay: over.payments.credit_exit_delay.or(self.payments.credit_exit_delay),
            },
            guard: self.guard.merge(over.guard),
            jobs: self.jobs.merge(over.jobs),
            markets: self.markets.merge(over.markets),
            router: self.router.merge(over.router),
        }
    }
}

/// Which chain the node uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainTarget {
    /// Start a local devnet (anvil) with its state in the data directory.
    Devnet(DevnetConfig),
    /// Use an existing JSON-RPC endpoint.
    Rpc {
        /// The endpoint.
        url: String,
    },
}

/// The default model, as `agora setup` (and `make setup`) installs it.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Local inference settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferenceConfig {
    /// The model file; `None` when none was configured and the default is not installed.
    pub model: Option<PathBuf>,
    /// Whether the model was asked for explicitly (then a missing file is an error).
    pub explicit: bool,
    /// Worker threads; 0 means every core.
    pub threads: usize,
    /// Queue length.
    pub queue: usize,
    /// Generations decoded together.
    pub batch: usize,
    /// More models, loaded on first use: `[inference] models` and every GGUF file that
    /// `agora models add` put in the data directory's `models/`.
    pub models: Vec<PathBuf>,
    /// The most memory the loaded models' weights may take, bytes.
    pub memory_budget: u64,
    /// Context cap.
    pub max_context: Option<usize>,
    /// Log prompts and outputs.
    pub log_prompts: bool,
}

/// Default address of the public paid listener.
pub const DEFAULT_PAID_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8412);

/// Paid access settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentsConfig {
    /// Serve the public paid listener.
    pub enabled: bool,
    /// Its address.
    pub listen: SocketAddr,
    /// Atomic units per token.
    pub price_per_token: u64,
    /// The most one chat completion may cost.
    pub max_per_request: u64,
    /// The shortest withdrawal delay accepted from paying channels (seconds).
    pub min_withdraw_delay: u64,
    /// Claim threshold (atomic units).
    pub claim_threshold: u64,
    /// Seconds between settler passes.
    pub settle_interval: u64,
    /// Calls one anonymous credit deposit buys (0: no credits sold).
    pub credit_calls: u32,
    /// Tokens one credit unit covers.
    pub credit_unit_tokens: u64,
    /// The stake of a credit deposit (atomic units).
    pub credit_stake: u64,
    /// Seconds from a credit exit's request to its payment.
    pub credit_exit_delay: u64,
}

/// The node's agent settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Register on start-up.
    pub register: bool,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Public base URL, if any.
    pub public_url: Option<String>,
}

/// The validated runtime configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Owner API address.
    pub api_listen: SocketAddr,
    /// Who may use the owner's API.
    pub api: ApiAccess,
    /// The chain.
    pub chain: ChainTarget,
    /// The node's signer; on the devnet, `None` means anvil's first dev account.
    pub signer: Option<SignerSource>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Local inference.
    pub inference: InferenceConfig,
    /// The node's ERC-8004 agent.
    pub agent: AgentConfig,
    /// Paid access.
    pub payments: PaymentsConfig,
    /// The pre-sign guard's settings (`[guard]`).
    pub guard: agora_guard::GuardConfig,
    /// What the node does about jobs (`[jobs]`).
    pub jobs: agora_jobs::Policy,
    /// What the node does for markets by itself (`[markets]`).
    pub markets: MarketsConfig,
    /// Which remote providers the owner's API routes to, and how they are checked (`[router]`).
    pub router: agora_router::Policy,
}

impl NodeConfig {
    /// Resolves the configuration the way `agora` does: the file at `config_path` (or
    /// `./agora.toml` when present), the process environment, then `flags`.
    pub fn load(config_path: Option<&Path>, flags: ConfigLayer) -> Result<Self, ConfigError> {
        let env = |name: &str| std::env::var(name).ok();
        let file_path = match config_path {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let file = file_path.as_deref().map(ConfigLayer::from_file).transpose()?.unwrap_or_default();
        Self::resolve(file_path, file, ConfigLayer::from_env(env)?, flags, env)
    }

    /// Merges the layers over the defaults and validates the result. `secret_env` supplies
    /// secrets, which only come from the environment.
    pub fn resolve(
        config_file: Option<PathBuf>,
        file: ConfigLayer,
        env: ConfigLayer,
        flags: ConfigLayer,
        secret_env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let merged = file.merge(env).merge(flags);
        let data_dir = merged.data_dir.unwrap_or_else(default_data_dir);
        let api_listen = merged.api.listen.unwrap_or(DEFAULT_API_LISTEN);
        let api = api_access(merged.api.token, merged.api.allowed_origins.unwrap_or_default())?;
        api.check_listen(api_listen)?;

        let chain = match merged.chain.rpc_url {
            Some(url) => {
                if !["http://", "https://", "ws://", "wss://"].iter().any(|s| url.starts_with(s)) {
                    return Err(ConfigError::Invalid(format!(
                        "chain.rpc_url {:?} must start with http://, https://, ws:// or wss://",
                        agora_chain::redact_url(&url)
                    )));
                }
                ChainTarget::Rpc { url }
            }
            None => {
                let chain_id = merged.devnet.chain_id.unwrap_or(DEVNET_CHAIN_ID);
                if chain_id == 0 {
                    return Err(ConfigError::Invalid("devnet.chain_id must not be 0".into()));
                }
                ChainTarget::Devnet(DevnetConfig {
                    // What `agora setup` installed in the data directory, else `anvil` on the
                    // PATH (or in a checkout's ./.tools/bin).
                    anvil: merged.devnet.anvil.unwrap_or_else(|| {
                        let installed = crate::setup::installed_anvil(&data_dir);
                        if installed.is_file() { installed } else { PathBuf::from("anvil") }
                    }),
                    port: merged.devnet.port.unwrap_or(DEVNET_PORT),
                    chain_id,
                    state_dir: Some(data_dir.join("devnet")),
                    block_time: merged.devnet.block_time,
                    ..DevnetConfig::default()
                })
            }
        };

        let private_key = secret_env(PRIVATE_KEY_ENV).filter(|k| !k.is_empty());
        let signer = match (private_key, merged.chain.keystore) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid(format!(
                    "both {PRIVATE_KEY_ENV} and chain.keystore are set; choose one"
                )));
            }
            (Some(key), None) => Some(SignerSource::PrivateKey(Secret::new(key))),
            (None, Some(path)) => Some(SignerSource::Keystore {
                path,
                password: secret_env(KEYSTORE_PASSWORD_ENV).map(Secret::new),
            }),
            (None, None) => None,
        };
        let explicit = merged.inference.model.is_some();
        let model = merged.inference.model.or_else(|| {
            [crate::setup::installed_model(&data_dir), PathBuf::from(".models").join(DEFAULT_MODEL_FILE)]
                .into_iter()
                .find(|p| p.is_file())
        });
        if merged.inference.queue == Some(0) {
            return Err(ConfigError::Invalid("inference.queue must be at least 1".into()));
        }
        if merged.inference.batch.is_some_and(|b| !(1..=64).contains(&b)) {
            return Err(ConfigError::Invalid("inference.batch must be between 1 and 64".into()));
        }
        let inference = InferenceConfig {
            model,
            explicit,
            threads: merged.inference.threads.unwrap_or(0),
            queue: merged.inference.queue.unwrap_or(crate::inference::DEFAULT_QUEUE),
            batch: merged.inference.batch.unwrap_or(crate::inference::DEFAULT_BATCH),
            models: {
                let mut models = merged.inference.models.unwrap_or_default();
                for added in crate::models::added(&data_dir) {
                    if !models.contains(&added) {
                        models.push(added);
                    }
                }
                models
            },
            memory_budget: merged
                .inference
                .memory_budget_mib
                .map_or_else(crate::models::default_budget, |mib| mib.saturating_mul(1 << 20)),
            max_context: merged.inference.max_context,
            log_prompts: merged.inference.log_prompts.unwrap_or(false),
        };
        if let Some(url) = &merged.agent.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "agent.public_url {url:?} must start with http:// or https://"
            )));
        }
        let agent = AgentConfig {
            register: merged.agent.register.unwrap_or(true),
            name: merged.agent.name.unwrap_or_else(|| "agora node".to_owned()),
            description: merged.agent.description.unwrap_or_else(|| {
                "A local agora node: private inference on an open model, with signed, re-executable receipts.".to_owned()
            }),
            public_url: merged.agent.public_url,
        };
        let p = &merged.payments;
        let payments = PaymentsConfig {
            enabled: p.enabled.unwrap_or(true),
            listen: p.listen.unwrap_or(DEFAULT_PAID_LISTEN),
            price_per_token: p.price_per_token.map_or(10, |a| a.0),
            max_per_request: p.max_per_request.map_or(20_000, |a| a.0),
            min_withdraw_delay: p.min_withdraw_delay.unwrap_or(900),
            claim_threshold: p.claim_threshold.map_or(1_000_000, |a| a.0),
            settle_interval: p.settle_interval.unwrap_or(10).max(1),
            credit_calls: p.credit_calls.unwrap_or(100),
            credit_unit_tokens: p.credit_unit_tokens.unwrap_or(512).max(1),
            credit_stake: p.credit_stake.map_or(1_000_000, |a| a.0),
            credit_exit_delay: p.credit_exit_delay.unwrap_or(86_400),
        };
        // The credits contract's ranges: 16-bit ticket numbers, a stake to lose, 1 hour to 30
        // days for exits.
        if payments.credit_calls > 65_536 {
            return Err(ConfigError::Invalid(format!(
                "payments.credit_calls is {}; a credit deposit buys at most 65536 calls (0 sells none)",
                payments.credit_calls
            )));
        }
        if payments.credit_calls > 0
            && (payments.credit_stake == 0 || !(3600..=30 * 24 * 3600).contains(&payments.credit_exit_delay))
        {
            return Err(ConfigError::Invalid(format!(
                "payments.credit_stake must be above 0 (is {}) and payments.credit_exit_delay 3600s to 2592000s (is {}s)",
                payments.credit_stake, payments.credit_exit_delay
            )));
        }
        // The x402 batch settlement contract takes withdrawal delays of 15 minutes to 30 days.
        if !(900..=30 * 24 * 3600).contains(&payments.min_withdraw_delay) {
            return Err(ConfigError::Invalid(format!(
                "payments.min_withdraw_delay is {}s; x402 batch-settlement channels take 900s (15 minutes) to 2592000s (30 days)",
                payments.min_withdraw_delay
            )));
        }
        if payments.enabled && payments.listen == api_listen {
            return Err(ConfigError::Invalid(format!(
                "payments.listen and api.listen are both {api_listen}: the paid listener must be separate"
            )));
        }
        let guard = merged.guard.resolve();
        let jobs = merged.jobs.resolve(payments.price_per_token)?;
        let router = merged.router.resolve()?;
        let markets = merged.markets.resolve(matches!(chain, ChainTarget::Devnet(_)))?;
        Ok(Self {
            data_dir,
            api_listen,
            api,
            chain,
            signer,
            config_file,
            inference,
            agent,
            payments,
            guard,
            jobs,
            markets,
            router,
        })
    }

    /// The JSON-RPC endpoint of the configured chain: the one given, else the local devnet's
    /// port on loopback (whether or not it is running yet).
    pub fn chain_url(&self) -> String {
        match &self.chain {
            ChainTarget::Rpc { url } => url.clone(),
            ChainTarget::Devnet(devnet) => format!("http://127.0.0.1:{}", devnet.port),
        }
    }

    /// The anvil binary this node starts its devnet with (`anvil` on the `PATH` when the node
    /// uses a remote chain): what scratch devnets, such as the benchmarks', start too.
    pub fn anvil(&self) -> PathBuf {
        match &self.chain {
            ChainTarget::Devnet(devnet) => devnet.anvil.clone(),
            ChainTarget::Rpc { .. } => PathBuf::from("anvil"),
        }
    }

    /// The deployments file of this node.
    pub fn deployments_path(&self) -> PathBuf {
        self.data_dir.join(agora_chain::DEPLOYMENTS_FILE)
    }
}

fn quote_path(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// `$XDG_DATA_HOME/agora`, else `~/.local/share/agora`, else `./.agora`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("agora");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/agora"),
        None => PathBuf::from(".agora"),
    }
}

#[cfg(test)]
mod tests;
