//! The node's operations: each CLI verb that is not `up` is one call here that returns a typed
//! value, which the binary renders as text or JSON. The capability crates do the work; this
//! layer resolves what a data directory holds (the node key, the store, the deployments, the
//! chain) and hands it to them.
//!
//! Beside a running node (one holds the data directory's lock) an operation never takes the
//! lock, starts a second devnet or deploys: it uses the node's chain and the suite it recorded,
//! and what the node owns (its discovery index, its agent, its claims) it asks the node for over
//! the owner's API ([`NodeApi`]).

pub mod agents;
pub mod chain;
pub mod credits;
pub mod dev;
pub mod funding;
pub mod guard;
pub mod jobs;
pub mod markets;
pub mod payments;
pub mod status;

use crate::{NodeConfig, NodeError, Result};
use serde::{Serialize, de::DeserializeOwned};
use std::time::Duration;

/// The chain endpoint an operation uses: the one the node running on the data directory
/// recorded (its devnet may listen on a port of its own), else the configured one.
pub fn chain_url(config: &NodeConfig) -> String {
    match (&config.chain, crate::running_node(&config.data_dir).and_then(|n| n.rpc)) {
        (crate::ChainTarget::Devnet(_), Some(rpc)) => rpc,
        _ => config.chain_url(),
    }
}

/// How long a call to the running node may take (a registration waits for a transaction).
const NODE_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The owner's API of the node running on a data directory.
#[derive(Debug, Clone)]
pub struct NodeApi {
    base: String,
    token: Option<crate::ApiToken>,
    http: reqwest::Client,
}

impl NodeApi {
    /// The node running on `config`'s data directory, if one holds its lock. An error when a
    /// node holds it but has not opened its API yet (it is starting).
    pub fn beside(config: &NodeConfig) -> Result<Option<Self>> {
        let Some(node) = crate::running_node(&config.data_dir) else { return Ok(None) };
        let api = node.api.ok_or_else(|| {
            NodeError::Missing(format!(
                "a node is starting on {}{}; try again once it is up",
                config.data_dir.display(),
                node.pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ))
        })?;
        Ok(Some(Self::at(&format!("http://{api}"), config.api.token.clone())))
    }

    /// The node whose owner's API is at `base` (`http://host:port`).
    pub fn at(base: &str, token: Option<crate::ApiToken>) -> Self {
        let http = reqwest::Client::builder().timeout(NODE_CALL_TIMEOUT).build().unwrap_or_default();
        Self { base: base.trim_end_matches('/').to_owned(), token, http }
    }

    /// The base URL asked.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path?query` (pairs with an empty value are left out), the answer read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        let mut url =
            reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| NodeError::NodeApi {
                base: self.base.clone(),
                message: format!("cannot be asked for {path}: {e}"),
            })?;
        let pairs: Vec<_> = query.iter().filter(|(_, v)| !v.is_empty()).collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        self.send(self.http.get(url)).await
    }

    /// Asks the owner through the node's page (`POST /guard/ask`): `Some(approved)` once the
    /// page answered, `None` when no page is open or the node does not answer (ask elsewhere).
    pub async fn ask_page(&self, body: &serde_json::Value) -> Option<bool> {
        let mut request = self.http.post(format!("{}/guard/ask", self.base)).json(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let response = request.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let answer: serde_json::Value = response.json().await.ok()?;
        answer["approved"].as_bool()
    }

    /// `POST path` with a JSON `body`, the answer read as `T`.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        };
        let unreachable = |e: reqwest::Error| NodeError::NodeApi {
            base: self.base.clone(),
            message: format!("no answer ({e}); is `agora up` still running?"),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
            return Err(NodeError::NodeApi {
                base: self.base.clone(),
                message: format!("{status}: {message}"),
            });
        }
        serde_json::from_slice(&body).map_err(|e| NodeError::NodeApi {
            base: self.base.clone(),
            message: format!("an answer this agora cannot read ({e}); is the node the same version?"),
        })
    }
}

/// Atomic amounts as decimal strings in JSON (they can exceed what JSON numbers carry).
pub(crate) mod decimal {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(amount: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&amount.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|_| D::Error::custom(format!("{text:?} is not an amount")))
    }
}
