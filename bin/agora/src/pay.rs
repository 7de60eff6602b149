//! Paying and being paid over HTTP 402 (x402): `agora pay`, `agora mandate`, `agora channel`,
//! `agora earnings` and, on development chains, `agora faucet`.
//!
//! The payer is this data directory's node key (the agent's wallet): it signs EIP-3009
//! authorizations and channel vouchers, always under a spending mandate kept in the store.

use crate::cli::GlobalArgs;
use agora_contracts::{
    SuiteContract,
    bindings::{DevStablecoin, PaymentChannels},
};
use agora_node::NodeConfig;
use agora_pay::{Mandate, Payer, PayerConfig, Prefer, wire};
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::{io::Write, sync::Arc};

/// The mandate used unless `--mandate` names another.
const DEFAULT_MANDATE: &str = "default";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SchemeArg {
    /// A channel if one is open to the payee, else exact.
    Auto,
    /// One EIP-3009 transfer per call.
    Exact,
    /// A payment channel (opened on first use with --deposit).
    Channel,
}

impl From<SchemeArg> for Prefer {
    fn from(s: SchemeArg) -> Self {
        match s {
            SchemeArg::Auto => Prefer::Auto,
            SchemeArg::Exact => Prefer::Exact,
            SchemeArg::Channel => Prefer::Channel,
        }
    }
}

/// How to pay, shared by `agora pay` and `agora chat --pay`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PayOptions {
    /// Spending mandate to pay under.
    #[arg(long, default_value = DEFAULT_MANDATE)]
    pub(crate) mandate: String,
    /// Payment scheme.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) scheme: SchemeArg,
    /// What to deposit when a channel is opened or topped up (atomic units; 1000000 = 1 dUSD).
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) deposit: u128,
}

#[derive(Debug, Args)]
pub(crate) struct PayArgs {
    /// The URL of a priced resource, e.g. http://127.0.0.1:8412/v1/chat/completions.
    url: String,
    /// JSON body to send (the request is then a POST).
    #[arg(long, short)]
    data: Option<String>,
    /// HTTP method [default: GET, or POST with --data].
    #[arg(long, short = 'X')]
    method: Option<String>,
    #[command(flatten)]
    options: PayOptions,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MandateCommand {
    /// Create or replace a mandate; what was spent under its name stays counted.
    Set {
        /// Its name.
        #[arg(long, default_value = DEFAULT_MANDATE)]
        name: String,
        /// Total that payments (and channel deposits) may reach, in atomic units.
        #[arg(long)]
        budget: u128,
        /// The most one call may cost.
        #[arg(long)]
        per_call: u128,
        /// A payee that may be paid (repeat for several; none: any payee).
        #[arg(long = "payee")]
        payees: Vec<Address>,
        /// Seconds from now after which nothing is paid (none: no expiry).
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Show a mandate and what was spent under it.
    Show {
        /// Its name.
        #[arg(long, default_value = DEFAULT_MANDATE)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Open (or top up) a channel to the provider of URL with a deposit, submitted on chain.
    Open {
        /// A priced URL of the provider.
        url: String,
        /// Atomic units to deposit.
        #[arg(long)]
        amount: u128,
        /// Mandate the deposit counts against.
        #[arg(long, default_value = DEFAULT_MANDATE)]
        mandate: String,
    },
    /// The channels this node pays through, with their on-chain state.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start the timed exit of a channel: after its delay, `withdraw` returns what was not claimed.
    Close {
        /// The channel id.
        channel: B256,
    },
    /// Complete the exit once the delay has passed.
    Withdraw {
        /// The channel id.
        channel: B256,
    },
}

#[derive(Debug, Args)]
pub(crate) struct EarningsArgs {
    /// Claim every channel with something unclaimed now.
    #[arg(long)]
    claim: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FaucetArgs {
    /// Who gets the dollars [default: this node's key].
    #[arg(long)]
    to: Option<Address>,
    /// Whole dUSD to mint.
    #[arg(long, default_value_t = 100)]
    amount: u64,
    /// The stablecoin [default: from this data directory's deployments].
    #[arg(long)]
    token: Option<Address>,
}

fn out(line: impl std::fmt::Display) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

fn note(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The payer of this data directory.
pub(crate) fn payer(config: &NodeConfig, options: &PayOptions) -> Result<Payer> {
    let key = agora_node::node_key::load_or_create(&config.data_dir)?;
    let store = Arc::new(agora_store::Store::open_in(&config.data_dir)?);
    let payer_config = PayerConfig {
        mandate: options.mandate.clone(),
        prefer: options.scheme.into(),
        channel_deposit: options.deposit,
    };
    Ok(Payer::new(key, store, payer_config))
}

/// A chain client signing with the node key, for the few transactions a payer sends. The RPC
/// endpoint is the configured one, else the local devnet's port. On a development chain a key
/// without gas is given some (`anvil_setBalance`).
async fn wallet_client(config: &NodeConfig) -> Result<agora_chain::ChainClient> {
    let url = config.chain_url();
    let key = agora_node::node_key::load_or_create(&config.data_dir)?;
    let address = key.address();
    let client = agora_chain::ChainClient::connect(&url, Some(key))
        .await
        .with_context(|| format!("no chain at {url}: start the node (agora up) or pass --rpc-url"))?;
    if matches!(client.chain_id(), 31337 | 1337) {
        let balance = client.provider().get_balance(address).await?;
        if balance < U256::from(10u64).pow(U256::from(16)) {
            let one_eth = U256::from(10u64).pow(U256::from(18));
            let _: serde_json::Value = client
                .provider()
                .raw_request("anvil_setBalance".into(), (address, one_eth))
                .await
                .context("the node key has no gas and the chain is not anvil; send it some ETH")?;
            note(format!("gave {address} 1 ETH for gas (development chain)"));
        }
    }
    Ok(client)
}

fn amount_text(atomic: u128) -> String {
    format!("{atomic} ({}.{:06} dUSD)", atomic / 1_000_000, atomic % 1_000_000)
}

pub(crate) async fn pay(global: &GlobalArgs, args: PayArgs) -> Result<()> {
    let config = global.resolve()?;
    let payer = payer(&config, &args.options)?;
    let method = match (&args.method, &args.data) {
        (Some(m), _) => {
            reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).context("not an HTTP method")?
        }
        (None, Some(_)) => reqwest::Method::POST,
        (None, None) => reqwest::Method::GET,
    };
    if let Some(data) = &args.data {
        serde_json::from_str::<serde_json::Value>(data).context("--data is not JSON")?;
    }
    let response = payer.send(method, &args.url, args.data.map(String::into_bytes)).await?;
    std::io::stdout().lock().write_all(&response.body)?;
    if !response.body.ends_with(b"\n") {
        out("")?;
    }
    match (&response.settlement, &response.scheme) {
        (Some(s), Some(scheme)) => {
            let amount = s.amount.as_deref().and_then(agora_pay::typed::parse_amount).unwrap_or(0);
            let tx =
                if s.transaction.is_empty() { "off-chain voucher".to_owned() } else { s.transaction.clone() };
            note(format!("paid {} with {scheme} ({tx})", amount_text(amount)));
        }
        _ => note(format!("HTTP {} (no payment made)", response.status)),
    }
    if !(200..300).contains(&response.status) {
        bail!("the server answered HTTP {}", response.status);
    }
    Ok(())
}

pub(crate) async fn mandate(global: &GlobalArgs, command: MandateCommand) -> Result<()> {
    let config = global.resolve()?;
    let store = agora_store::Store::open_in(&config.data_dir)?;
    match command {
        MandateCommand::Set { name, budget, per_call, payees, expires_in } => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let mandate = Mandate {
                name: name.clone(),
                budget,
                per_call,
                payees,
                expires_at: expires_in.map_or(0, |s| now + s),
            };
            mandate.save(&store)?;
            out(format!(
                "mandate {name:?}: budget {}, per call {}",
                amount_text(budget),
                amount_text(per_call)
            ))
        }
        MandateCommand::Show { name } => {
            let mandate = Mandate::load(&store, &name)?.with_context(|| format!("no mandate {name:?}"))?;
            let spent = Mandate::spent(&store, &name)?;
            out(format!("mandate  {name}"))?;
            out(format!("budget   {}", amount_text(mandate.budget)))?;
            out(format!("spent    {}", amount_text(spent)))?;
            out(format!("left     {}", amount_text(mandate.budget.saturating_sub(spent))))?;
            out(format!("per call {}", amount_text(mandate.per_call)))?;
            let payees = if mandate.payees.is_empty() {
                "any".to_owned()
            } else {
                mandate.payees.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            };
            out(format!("payees   {payees}"))?;
            out(format!(
                "expires  {}",
                if mandate.expires_at == 0 {
                    "never".to_owned()
                } else {
                    format!("at unix {}", mandate.expires_at)
                }
            ))
        }
    }
}

/// A minimal request body that makes a priced chat route answer 402.
fn probe_body(url: &str) -> Option<Vec<u8>> {
    url.ends_with("/chat/completions").then(|| {
        br#"{"model":"default","messages":[{"role":"user","content":"hi"}],"max_tokens":1}"#.to_vec()
    })
}

pub(crate) async fn channel(global: &GlobalArgs, command: ChannelCommand) -> Result<()> {
    let config = global.resolve()?;
    match command {
        ChannelCommand::Open { url, amount, mandate } => {
            let options = PayOptions { mandate, scheme: SchemeArg::Channel, deposit: amount };
            let payer = payer(&config, &options)?;
            let body = probe_body(&url);
            let method = if body.is_some() { reqwest::Method::POST } else { reqwest::Method::GET };
            let required = payer
                .probe(method, &url, body)
                .await?
                .with_context(|| format!("{url} is free: nothing to pay"))?;
            let offer = required
                .accepts
                .iter()
                .find(|r| r.scheme == wire::SCHEME_CHANNEL)
                .context("the provider offers no channel")?;
            let chain = wallet_client(&config).await?;
            let channel = payer.open_channel(&chain, offer, amount).await?;
            out(format!(
                "channel {} to {}: deposited {}",
                channel.id,
                channel.config.receiver,
                amount_text(channel.deposited)
            ))
        }
        ChannelCommand::Status { json } => {
            let payer = payer(
                &config,
                &PayOptions { mandate: DEFAULT_MANDATE.into(), scheme: SchemeArg::Auto, deposit: 0 },
            )?;
            let chain = wallet_client(&config).await.ok();
            let mut rows = Vec::new();
            for c in payer.channels()? {
                let on_chain = match &chain {
                    Some(chain) => {
                        PaymentChannels::new(c.contract, chain.provider()).getChannel(c.id).call().await.ok()
                    }
                    None => None,
                };
                rows.push(serde_json::json!({
                    "channelId": c.id,
                    "payee": c.config.receiver,
                    "token": c.config.token,
                    "deposited": c.deposited.to_string(),
                    "charged": c.charged.to_string(),
                    "signedMax": c.signed_max.to_string(),
                    "onChain": on_chain.map(|o| serde_json::json!({
                        "deposited": o.deposited.to_string(),
                        "claimed": o.claimed.to_string(),
                        "withdrawReadyAt": o.withdrawReadyAt.to::<u64>(),
                    })),
                }));
            }
            if json {
                return out(serde_json::to_string_pretty(&rows)?);
            }
            if rows.is_empty() {
                return out(
                    "no channels (they open on the first paid call with --scheme channel, or with `agora channel open`)",
                );
            }
            for r in rows {
                out(format!(
                    "{}  payee {}  deposited {}  charged {}{}",
                    r["channelId"].as_str().unwrap_or_default(),
                    r["payee"].as_str().unwrap_or_default(),
                    r["deposited"].as_str().unwrap_or_default(),
                    r["charged"].as_str().unwrap_or_default(),
                    match r["onChain"].as_object() {
                        Some(o) => format!(
                            "  (on chain: claimed {}, {})",
                            o["claimed"].as_str().unwrap_or_default(),
                            match o["withdrawReadyAt"].as_u64() {
                                _ if o["deposited"] == o["claimed"] => "withdrawn (empty)".to_owned(),
                                Some(0) | None => "open".to_owned(),
                                Some(t) => format!("closing, withdraw after unix {t}"),
                            }
                        ),
                        None => String::new(),
                    }
                ))?;
            }
            Ok(())
        }
        ChannelCommand::Close { channel } => {
            let (chain, contract) = channel_contract(&config, channel).await?;
            let channels = PaymentChannels::new(contract, chain.provider());
            let receipt = channels
                .initiateWithdraw(channel)
                .send()
                .await
                .context("initiateWithdraw refused (only the channel's payer may close it)")?
                .get_receipt()
                .await?;
            let state = channels.getChannel(channel).call().await?;
            out(format!(
                "withdrawal started (tx {}); run `agora channel withdraw {channel}` after unix {}",
                receipt.transaction_hash,
                state.withdrawReadyAt.to::<u64>()
            ))
        }
        ChannelCommand::Withdraw { channel } => {
            let (chain, contract) = channel_contract(&config, channel).await?;
            let channels = PaymentChannels::new(contract, chain.provider());
            let state = channels.getChannel(channel).call().await?;
            let rest = state.deposited - state.claimed;
            channels
                .finalizeWithdraw(channel)
                .send()
                .await
                .context("finalizeWithdraw refused: run `agora channel close` first and wait out the delay")?
                .get_receipt()
                .await?;
            let payer = payer(
                &config,
                &PayOptions { mandate: DEFAULT_MANDATE.into(), scheme: SchemeArg::Auto, deposit: 0 },
            )?;
            payer.record_withdrawn(channel, state.claimed)?;
            out(format!("withdrew {} to {}", amount_text(rest), state.payer))
        }
    }
}

async fn channel_contract(config: &NodeConfig, channel: B256) -> Result<(agora_chain::ChainClient, Address)> {
    let payer =
        payer(config, &PayOptions { mandate: DEFAULT_MANDATE.into(), scheme: SchemeArg::Auto, deposit: 0 })?;
    let known =
        payer.channel(channel)?.with_context(|| format!("this node did not open channel {channel}"))?;
    Ok((wallet_client(config).await?, known.contract))
}

pub(crate) async fn earnings(global: &GlobalArgs, args: EarningsArgs) -> Result<()> {
    let config = global.resolve()?;
    if args.claim {
        let report = match agora_node::running_node(&config.data_dir) {
            // The running node claims with its own key and bookkeeping: a second sender of the
            // node key beside it would race its nonces and its ledger.
            Some(node) => {
                let api = node.api.with_context(|| {
                    format!("a node is starting on {}; claim once it is up", config.data_dir.display())
                })?;
                let mut request = reqwest::Client::new().post(format!("http://{api}/payments/claim"));
                if let Some(token) = &config.api.token {
                    request = request.bearer_auth(token.expose());
                }
                let response = request.json(&serde_json::json!({})).send().await.with_context(|| {
                    format!("the node running on this data directory does not answer at {api}")
                })?;
                let status = response.status();
                let body: serde_json::Value =
                    response.json().await.context("the node's answer is not JSON")?;
                if !status.is_success() {
                    bail!("the node refused the claim: {}", body["error"]["message"].as_str().unwrap_or("?"));
                }
                serde_json::from_value::<agora_pay::paywall::ClaimReport>(body)?
            }
            None => {
                let _lock = agora_node::DataDirLock::acquire(&config.data_dir)?;
                let store = Arc::new(agora_store::Store::open_in(&config.data_dir)?);
                let chain = wallet_client(&config).await?;
                let deployments = agora_chain::DeploymentsFile::load(&config.deployments_path())?;
                let deployment = deployments
                    .chain(chain.chain_id())
                    .context("no agora contracts recorded for this chain")?;
                let asset = deployment.address_of(SuiteContract::DevStablecoin).context("no stablecoin")?;
                let paywall_config = agora_pay::PaywallConfig {
                    chain_id: chain.chain_id(),
                    asset,
                    asset_name: String::new(),
                    asset_version: String::new(),
                    pay_to: agora_node::node_key::load_or_create(&config.data_dir)?.address(),
                    exact: true,
                    channels: deployment.address_of(SuiteContract::PaymentChannels),
                    min_withdraw_delay: config.payments.min_withdraw_delay,
                    max_timeout_seconds: 300,
                    claim_threshold: u128::from(config.payments.claim_threshold),
                    claim_margin_secs: 60,
                };
                let paywall = agora_pay::Paywall::new(paywall_config, chain, store);
                paywall.claim_due(true).await.map_err(anyhow::Error::msg)?
            }
        };
        note(format!(
            "claimed {} from {} channel(s) in {} transaction(s), {} gas",
            amount_text(report.amount),
            report.channels,
            report.transactions.len(),
            report.gas_used
        ));
    }
    // Reading needs no chain: the ledger is in the store (a node may be running beside us).
    let store = Arc::new(agora_store::Store::open_in(&config.data_dir)?);
    let deployments = agora_chain::DeploymentsFile::load(&config.deployments_path())?;
    let ledgers: Vec<agora_pay::Ledger> = deployments
        .chains
        .values()
        .filter_map(|d| {
            d.address_of(SuiteContract::PaymentChannels)
                .map(|contract| agora_pay::Ledger::new(Arc::clone(&store), d.chain_id, contract))
        })
        .collect();
    let mut earnings = agora_pay::paywall::earnings(&store, None).map_err(anyhow::Error::msg)?;
    for ledger in &ledgers {
        earnings
            .channels
            .extend(agora_pay::paywall::earnings(&store, Some(ledger)).map_err(anyhow::Error::msg)?.channels);
    }
    if args.json {
        let channels: Vec<_> = earnings.channels.iter().map(agora_pay::paywall::channel_state_json).collect();
        let exact: serde_json::Map<_, _> = earnings
            .exact
            .iter()
            .map(|(status, (n, amount))| {
                (status.clone(), serde_json::json!({ "count": n, "amount": amount.to_string() }))
            })
            .collect();
        return out(serde_json::to_string_pretty(
            &serde_json::json!({ "channels": channels, "exact": exact }),
        )?);
    }
    let charged: u128 = earnings.channels.iter().map(|c| c.charged).sum();
    let claimed: u128 = earnings.channels.iter().map(|c| c.claimed).sum();
    let calls: u64 = earnings.channels.iter().map(|c| c.calls).sum();
    out(format!("channels  {} paying, {calls} calls", earnings.channels.len()))?;
    out(format!("  charged {}", amount_text(charged)))?;
    out(format!("  claimed {}", amount_text(claimed)))?;
    out(format!("  pending {}", amount_text(charged - claimed)))?;
    for (status, (n, amount)) in &earnings.exact {
        out(format!("exact     {status}: {n} payment(s), {}", amount_text(*amount)))?;
    }
    if earnings.exact.is_empty() {
        out("exact     none")?;
    }
    Ok(())
}

pub(crate) async fn faucet(global: &GlobalArgs, args: FaucetArgs) -> Result<()> {
    let config = global.resolve()?;
    let chain = wallet_client(&config).await?;
    if !matches!(chain.chain_id(), 31337 | 1337) {
        bail!(
            "the faucet only exists on development chains (31337, 1337); this is chain {}",
            chain.chain_id()
        );
    }
    let token = match args.token {
        Some(token) => token,
        None => agora_chain::DeploymentsFile::load(&config.deployments_path())?
            .chain(chain.chain_id())
            .and_then(|d| d.address_of(SuiteContract::DevStablecoin))
            .context(
                "no stablecoin recorded for this chain: pass --token (see GET /deployments on the node)",
            )?,
    };
    let to = match args.to {
        Some(to) => to,
        None => agora_node::node_key::load_or_create(&config.data_dir)?.address(),
    };
    let amount = U256::from(args.amount) * U256::from(1_000_000u64);
    DevStablecoin::new(token, chain.provider()).faucet(to, amount).send().await?.get_receipt().await?;
    out(format!("minted {} dUSD to {to}", args.amount))
}
