//! `agora status`: what a running node says about itself over its API.

use crate::{NodeConfig, NodeError, Result};
use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// How long the status calls wait for the node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// A running node's answers to `/health`, `/version`, `/deployments` and `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// The API base URL asked.
    #[serde(skip)]
    pub base: String,
    /// Whether `/health` answered 2xx.
    #[serde(skip)]
    pub healthy: bool,
    /// The HTTP status of `/health`.
    #[serde(skip)]
    pub health_status: u16,
    /// `/health`.
    pub health: Value,
    /// `/version`.
    pub version: Value,
    /// `/deployments`.
    pub deployments: Value,
    /// `/status`: the one-page report.
    pub report: NodeReport,
}

fn unreachable(base: &str) -> impl FnOnce(reqwest::Error) -> NodeError + '_ {
    move |e| {
        NodeError::Missing(format!(
            "no agora node answers at {base}; start one with `agora up` (or pass --listen ADDR) ({e})"
        ))
    }
}

/// Asks the node running on the data directory (or, when none holds it, the node at the
/// configured API address) how it is.
pub async fn status(config: &NodeConfig) -> Result<NodeStatus> {
    let base = match super::NodeApi::beside(config)? {
        Some(node) => node.base().to_owned(),
        None => format!("http://{}", config.api_listen),
    };
    let client = reqwest::Client::builder().timeout(STATUS_TIMEOUT).build().map_err(unreachable(&base))?;
    let get = |path: &'static str| {
        let request = client.get(format!("{base}{path}"));
        let request = match &config.api.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        };
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
    };
    let (health_status, health) = get("/health").await.map_err(unreachable(&base))?;
    let (_, version) = get("/version").await.map_err(unreachable(&base))?;
    let (_, deployments) = get("/deployments").await.map_err(unreachable(&base))?;
    let report = super::NodeApi::at(&base, config.api.token.clone()).get("/status", &[]).await?;
    Ok(NodeStatus {
        healthy: health_status.is_success(),
        health_status: health_status.as_u16(),
        base,
        health,
        version,
        deployments,
        report,
    })
}

/// One page about a running node, as its `GET /status` answers: who it is on chain, where it
/// answers, what it holds, earned and pays through, and what it serves.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReport {
    /// The node's version.
    pub version: String,
    /// Seconds since it started.
    pub uptime_secs: u64,
    /// The node key (signs receipts; the agent's wallet).
    pub node_key: Option<Address>,
    /// The chain, unless the node runs without one.
    pub chain: Option<ChainReport>,
    /// Its ERC-8004 agent, once registered.
    pub agent: Option<AgentReport>,
    /// The public paid (x402) listener's base URL, when paid access is on.
    pub paid_url: Option<String>,
    /// The node key's balances.
    pub balances: Vec<Balance>,
    /// What its paid listener earned, when paid access is on.
    pub earnings: Option<EarningsSummary>,
    /// The channels it pays others through.
    pub paying: PayingSummary,
    /// The models it serves.
    pub models: Vec<ModelReport>,
    /// The guard's lists, when the guard runs in the node.
    pub guard: Option<GuardReport>,
    /// The router to remote providers, when the node has a chain.
    #[serde(default)]
    pub router: Option<RouterReport>,
}

/// The router to remote providers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterReport {
    /// `open`, `anonymous` or `local-only`.
    pub privacy: String,
    /// Providers the catalog holds.
    pub providers: usize,
    /// Of those, marked as cheating.
    pub marked: usize,
    /// The mandate remote calls are paid under.
    pub mandate: String,
}

/// The chain a node is on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    /// Its id.
    pub chain_id: u64,
    /// Its last block.
    pub block: u64,
    /// The RPC endpoint the node uses.
    pub rpc_url: String,
}

/// A node's agent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentReport {
    /// The agent id.
    pub agent_id: U256,
    /// The registry, as ERC-8004 names it.
    pub registry: String,
    /// Its name.
    pub name: String,
    /// Its A2A agent card, when it has a public URL.
    pub card_url: Option<String>,
}

/// An amount of a token (or of ether) held.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    /// The token; none for ether.
    pub token: Option<Address>,
    /// Its symbol.
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
    /// The amount, atomic units.
    #[serde(with = "crate::ops::decimal")]
    pub amount: u128,
}

/// What a paid listener earned over all its channels and `exact` payments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarningsSummary {
    /// Charged, atomic units of the payment token.
    #[serde(with = "crate::ops::decimal")]
    pub charged: u128,
    /// Claimed on chain.
    #[serde(with = "crate::ops::decimal")]
    pub claimed: u128,
    /// Paid calls through channels.
    pub calls: u64,
    /// Channels paying the node.
    pub channels: usize,
    /// Settled `exact` payments.
    #[serde(with = "crate::ops::decimal")]
    pub exact_settled: u128,
}

/// What a node pays others through.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayingSummary {
    /// Its channels.
    pub channels: usize,
    /// Deposited into them, atomic units.
    #[serde(with = "crate::ops::decimal")]
    pub deposited: u128,
    /// Charged by their payees.
    #[serde(with = "crate::ops::decimal")]
    pub charged: u128,
}

/// A model served.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelReport {
    /// Its id (what requests name).
    pub id: String,
    /// Whether it is in memory now.
    pub loaded: bool,
}

/// The guard's lists.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardReport {
    /// Contacts.
    pub contacts: usize,
    /// Trusted contracts, spenders and domains.
    pub allowed: usize,
    /// Blocked addresses and domains.
    pub blocked: usize,
}
