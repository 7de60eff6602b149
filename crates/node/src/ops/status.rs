//! `agora status`: what a running node says about itself over its API.

use crate::{NodeConfig, NodeError, Result};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// How long the status calls wait for the node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// A running node's answers to `/health`, `/version` and `/deployments`.
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
}

fn unreachable(base: &str) -> impl FnOnce(reqwest::Error) -> NodeError + '_ {
    move |e| {
        NodeError::Missing(format!(
            "no agora node answers at {base}; start one with `agora up` (or pass --listen ADDR) ({e})"
        ))
    }
}

/// Asks the node at the configured API address how it is.
pub async fn status(config: &NodeConfig) -> Result<NodeStatus> {
    let base = format!("http://{}", config.api_listen);
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
    Ok(NodeStatus {
        healthy: health_status.is_success(),
        health_status: health_status.as_u16(),
        base,
        health,
        version,
        deployments,
    })
}
