//! Paying and being paid, as operations on a data directory: the paywall's settings (one
//! builder for the node and for an offline claim), earnings read from the ledger, claims, the
//! payer's mandates and channels. Amounts are atomic units of the payment token (6 decimals:
//! 1,000,000 = one dollar).

use crate::{NodeConfig, NodeError, Result};
use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::{SuiteContract, bindings::DevStablecoin};
use agora_pay::{Mandate, Payer, PayerConfig, PaywallConfig, Prefer, paywall::ClaimReport};
use agora_store::Store;
use alloy::primitives::{Address, B256};
use serde::Serialize;
use std::sync::Arc;

/// How long an `exact` payment's authorization may stay valid, seconds (the 402's
/// `maxTimeoutSeconds`).
pub const EXACT_MAX_TIMEOUT_SECS: u64 = 300;

/// The mandate a payer uses unless told otherwise.
pub const DEFAULT_MANDATE: &str = "default";

fn fail<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    step: &'static str,
) -> impl FnOnce(E) -> NodeError {
    move |e| NodeError::payments(step)(e.into())
}

/// The paywall's settings for `deployment` on `client`'s chain, paid to `pay_to`: the one place
/// they are built. Reads the token's EIP-712 name and version from the chain (clients sign
/// with them). `None` when the deployment lacks the stablecoin. `upto` and `batch-settlement`
/// go through the official x402 contracts at their canonical addresses (placed on a devnet by
/// [`crate::deploy_suite`]).
pub async fn paywall_config(
    config: &NodeConfig,
    client: &ChainClient,
    deployment: &ChainDeployment,
    pay_to: Address,
) -> Result<Option<PaywallConfig>> {
    let Some(asset) = deployment.address_of(SuiteContract::DevStablecoin) else {
        return Ok(None);
    };
    let domain = DevStablecoin::new(asset, client.provider())
        .eip712Domain()
        .call()
        .await
        .map_err(fail("reading the token's EIP-712 domain"))?;
    let delay = config.payments.min_withdraw_delay;
    Ok(Some(PaywallConfig {
        chain_id: client.chain_id(),
        asset,
        asset_name: domain.name,
        asset_version: domain.version,
        pay_to,
        exact: true,
        upto: true,
        batch: true,
        min_withdraw_delay: delay,
        max_timeout_seconds: EXACT_MAX_TIMEOUT_SECS,
        claim_threshold: u128::from(config.payments.claim_threshold),
        credits: None,
    }))
}

/// A chain client signing with the node key, for the few transactions an operation sends. The
/// RPC endpoint is the one of the node running on the data directory, else the configured one.
/// On a development chain a key without gas is given some ([`super::dev::fund_for_gas`]).
pub async fn wallet_client(config: &NodeConfig) -> Result<ChainClient> {
    let url = super::chain_url(config);
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let address = key.address();
    let client = ChainClient::connect(&url, Some(key)).await.map_err(|source| {
        NodeError::Missing(format!(
            "no chain at {url}: start the node (agora up) or pass --rpc-url ({source})"
        ))
    })?;
    super::dev::fund_for_gas(&client, address).await?;
    Ok(client)
}

/// The payer of this data directory: the node key, paying under `mandate`.
pub fn payer(config: &NodeConfig, payer_config: PayerConfig) -> Result<Payer> {
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let store = Arc::new(Store::open_in(&config.data_dir)?);
    Ok(Payer::new(key, store, payer_config))
}

fn default_payer(config: &NodeConfig) -> Result<Payer> {
    payer(
        config,
        PayerConfig {
            mandate: DEFAULT_MANDATE.into(),
            prefer: Prefer::Auto,
            channel_deposit: 0,
            expected_calls: 1,
        },
    )
}

/// What this node earned, from its store alone (a node may be running beside the caller).
#[derive(Debug, Clone, Serialize)]
pub struct EarningsReport {
    /// Every channel paying this node, on every chain with recorded deployments.
    pub channels: Vec<serde_json::Value>,
    /// `exact` payments by status: count and amount.
    pub exact: std::collections::BTreeMap<String, ExactTotal>,
    /// Charged over all channels.
    #[serde(skip)]
    pub charged: u128,
    /// Claimed on chain over all channels.
    #[serde(skip)]
    pub claimed: u128,
    /// Paid calls over all channels.
    #[serde(skip)]
    pub calls: u64,
}

/// `exact` payments of one status.
#[derive(Debug, Clone, Serialize)]
pub struct ExactTotal {
    /// How many.
    pub count: u64,
    /// Their total, atomic units.
    #[serde(serialize_with = "decimal")]
    pub amount: u128,
}

fn decimal<S: serde::Serializer>(v: &u128, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Reads what this node earned: the ledgers of every chain in the deployments file, and every
/// `exact` payment. Needs no chain.
pub fn earnings(config: &NodeConfig) -> Result<EarningsReport> {
    let store = Arc::new(Store::open_in(&config.data_dir)?);
    let deployments = agora_chain::DeploymentsFile::load(&config.deployments_path())?;
    let mut report =
        EarningsReport { channels: Vec::new(), exact: Default::default(), charged: 0, claimed: 0, calls: 0 };
    let all = agora_pay::paywall::stored_earnings(&store, None)?;
    for (status, (count, amount)) in all.exact {
        report.exact.insert(status.to_string(), ExactTotal { count, amount });
    }
    for d in deployments.chains.values() {
        let contract = agora_pay::x402::BATCH_SETTLEMENT;
        let channels = agora_pay::paywall::stored_earnings(&store, Some((d.chain_id, contract)))?.channels;
        for c in &channels {
            report.charged += c.charged;
            report.claimed += c.claimed;
            report.calls += c.calls;
            report.channels.push(agora_pay::paywall::channel_state_json(c));
        }
    }
    Ok(report)
}

/// Claims every channel with something unclaimed now. A node running on this data directory
/// claims with its own key and books (a second sender of the node key beside it would race its
/// nonces and ledger), so the claim goes through its API; otherwise this process takes the data
/// directory's lock and claims itself.
pub async fn claim(config: &NodeConfig) -> Result<ClaimReport> {
    match crate::running_node(&config.data_dir) {
        Some(node) => {
            let api = node.api.ok_or_else(|| {
                NodeError::Missing(format!(
                    "a node is starting on {}; claim once it is up",
                    config.data_dir.display()
                ))
            })?;
            claim_through(config, api).await
        }
        None => {
            let _lock = crate::DataDirLock::acquire(&config.data_dir)?;
            let store = Arc::new(Store::open_in(&config.data_dir)?);
            let chain = wallet_client(config).await?;
            let deployments = agora_chain::DeploymentsFile::load(&config.deployments_path())?;
            let deployment = deployments
                .chain(chain.chain_id())
                .ok_or_else(|| NodeError::Missing("no agora contracts recorded for this chain".into()))?;
            let pay_to = crate::node_key::load_or_create(&config.data_dir)?.address();
            let paywall_config = paywall_config(config, &chain, deployment, pay_to)
                .await?
                .ok_or_else(|| NodeError::Missing("the recorded suite has no payment token".into()))?;
            let paywall = agora_pay::Paywall::new(paywall_config, chain, store);
            paywall.claim_due(true).await.map_err(fail("claiming"))
        }
    }
}

async fn claim_through(config: &NodeConfig, api: std::net::SocketAddr) -> Result<ClaimReport> {
    let mut request = reqwest::Client::new().post(format!("http://{api}/payments/claim"));
    if let Some(token) = &config.api.token {
        request = request.bearer_auth(token.expose());
    }
    let response = request
        .json(&serde_json::json!({}))
        .send()
        .await
        .map_err(fail("asking the node running on this data directory to claim"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(fail("reading the node's answer"))?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("?").to_owned();
        return Err(NodeError::Missing(format!("the node refused the claim: {message}")));
    }
    serde_json::from_value(body).map_err(fail("reading the node's claim report"))
}

/// A mandate and what was spent under it.
#[derive(Debug, Clone)]
pub struct MandateReport {
    /// The mandate.
    pub mandate: Mandate,
    /// Spent under its name so far (payments and channel deposits).
    pub spent: u128,
}

/// Creates or replaces a mandate; what was spent under its name stays counted.
pub fn set_mandate(config: &NodeConfig, mandate: &Mandate) -> Result<()> {
    let store = Store::open_in(&config.data_dir)?;
    mandate.save(&store)?;
    Ok(())
}

/// A mandate and its spending, or `None` when there is no mandate of that name.
pub fn mandate(config: &NodeConfig, name: &str) -> Result<Option<MandateReport>> {
    let store = Store::open_in(&config.data_dir)?;
    let Some(mandate) = Mandate::load(&store, name)? else { return Ok(None) };
    let spent = Mandate::spent(&store, name)?;
    Ok(Some(MandateReport { mandate, spent }))
}

/// One channel this node pays through, with its on-chain state when the chain answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayerChannelReport {
    /// The channel id.
    pub channel_id: B256,
    /// Who is paid.
    pub payee: Address,
    /// The token.
    pub token: Address,
    /// Deposited, atomic units.
    #[serde(serialize_with = "decimal")]
    pub deposited: u128,
    /// Charged by the payee so far.
    #[serde(serialize_with = "decimal")]
    pub charged: u128,
    /// The largest voucher signed.
    #[serde(serialize_with = "decimal")]
    pub signed_max: u128,
    /// The contract's view, when the chain answered.
    pub on_chain: Option<OnChainChannel>,
}

/// A channel as the contract holds it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnChainChannel {
    /// Deposited.
    #[serde(serialize_with = "decimal")]
    pub deposited: u128,
    /// Claimed by the payee.
    #[serde(serialize_with = "decimal")]
    pub claimed: u128,
    /// When a started exit may complete (unix seconds; 0: open).
    pub withdraw_ready_at: u64,
}

async fn on_chain(chain: &ChainClient, channel: &agora_pay::payer::PayerChannel) -> Option<OnChainChannel> {
    let read = agora_pay::paywall::read_channel(chain, channel.id).await.ok()?;
    Some(OnChainChannel {
        deposited: read.balance,
        claimed: read.total_claimed,
        withdraw_ready_at: read.terms(&channel.config).closing_at,
    })
}

/// The channels this node pays through, with their on-chain state where the chain answers.
pub async fn payer_channels(config: &NodeConfig) -> Result<Vec<PayerChannelReport>> {
    let payer = default_payer(config)?;
    let chain = wallet_client(config).await.ok();
    let mut rows = Vec::new();
    for c in payer.channels()? {
        let on_chain = match &chain {
            Some(chain) => on_chain(chain, &c).await,
            None => None,
        };
        rows.push(PayerChannelReport {
            channel_id: c.id,
            payee: c.config.receiver,
            token: c.config.token,
            deposited: c.deposited,
            charged: c.charged,
            signed_max: c.signed_max,
            on_chain,
        });
    }
    Ok(rows)
}

pub use agora_pay::ChannelExit;

/// Starts the timed exit of one of this node's channels: after its delay,
/// [`withdraw_channel`] returns what was not claimed.
pub async fn close_channel(config: &NodeConfig, channel: B256) -> Result<ChannelExit> {
    let payer = default_payer(config)?;
    Ok(payer.close_channel(&wallet_client(config).await?, channel).await?)
}

/// Completes the exit of one of this node's channels once its delay has passed, and books the
/// returned deposit in the payer's records.
pub async fn withdraw_channel(config: &NodeConfig, channel: B256) -> Result<ChannelExit> {
    let payer = default_payer(config)?;
    Ok(payer.withdraw_channel(&wallet_client(config).await?, channel).await?)
}

/// The channel a payer just opened (or topped up).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenedChannel {
    /// The channel id.
    pub channel_id: B256,
    /// Who is paid.
    pub payee: Address,
    /// Deposited in total, atomic units.
    #[serde(serialize_with = "decimal")]
    pub deposited: u128,
}

/// A minimal request body that makes a priced chat route answer 402.
fn probe_body(url: &str) -> Option<Vec<u8>> {
    url.ends_with("/chat/completions").then(|| {
        br#"{"model":"default","messages":[{"role":"user","content":"hi"}],"max_tokens":1}"#.to_vec()
    })
}

/// The offer in `scheme` of the priced `url`, asked for without paying.
async fn offer_of(payer: &Payer, url: &str, scheme: &str) -> Result<agora_pay::wire::PaymentRequirements> {
    let body = probe_body(url);
    let method = if body.is_some() { reqwest::Method::POST } else { reqwest::Method::GET };
    let required = payer
        .probe(method, url, body)
        .await?
        .ok_or_else(|| NodeError::Missing(format!("{url} is free: nothing to pay")))?;
    required
        .accepts
        .into_iter()
        .find(|r| r.scheme == scheme)
        .ok_or_else(|| NodeError::Missing(format!("{url} does not offer {scheme}")))
}

/// Readies this node's key to pay the priced `url` with `upto`: lets Permit2 move the token
/// the provider asks for (one approval per token, sent with the node key; gas is funded on a
/// development chain). Returns whether an approval was sent; an error when `url` offers no
/// `upto`.
pub async fn approve_upto(config: &NodeConfig, url: &str) -> Result<bool> {
    let payer = default_payer(config)?;
    let offer = offer_of(&payer, url, agora_pay::wire::SCHEME_UPTO).await?;
    let token: Address = offer.asset.parse().map_err(|_| {
        NodeError::Missing(format!("the upto offer's asset {:?} is not an address", offer.asset))
    })?;
    let chain = wallet_client(config).await?;
    Ok(payer.approve_permit2(&chain, token).await?)
}

/// Opens (or tops up) a channel to the provider of the priced `url` with `amount`, counted
/// against `mandate`, and submits the deposit on chain.
pub async fn open_channel(
    config: &NodeConfig,
    url: &str,
    amount: u128,
    mandate: &str,
) -> Result<OpenedChannel> {
    let payer = payer(
        config,
        PayerConfig {
            mandate: mandate.to_owned(),
            prefer: Prefer::Channel,
            channel_deposit: amount,
            expected_calls: 1,
        },
    )?;
    let offer = offer_of(&payer, url, agora_pay::wire::SCHEME_BATCH).await?;
    let chain = wallet_client(config).await?;
    let channel = payer.open_channel(&chain, &offer, amount).await?;
    Ok(OpenedChannel { channel_id: channel.id, payee: channel.config.receiver, deposited: channel.deposited })
}
