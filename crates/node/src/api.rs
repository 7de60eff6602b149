//! The owner's HTTP API. [`app`] builds the router, so tests drive it in process.
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | `200 {"status":"ok", chainId, blockNumber, uptimeSecs}`, or `503` when the chain does not answer |
//! | `GET /version` | `{"name":"agora","version":…}` |
//! | `GET /deployments` | the agora contracts on this node's chain |
//!
//! Errors are JSON in one shape everywhere: `{"error":{"message":…,"type":…}}`.

use agora_chain::{ChainClient, ChainDeployment};
use agora_store::Store;
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use std::{sync::Arc, time::Instant};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

#[derive(Debug)]
struct AppInner {
    chain: ChainClient,
    deployment: ChainDeployment,
    store: Arc<Store>,
    started: Instant,
}

impl AppState {
    /// State for a node on `chain` with the suite at `deployment`.
    pub fn new(chain: ChainClient, deployment: ChainDeployment, store: Arc<Store>) -> Self {
        Self { inner: Arc::new(AppInner { chain, deployment, store, started: Instant::now() }) }
    }

    /// The node's store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }
}

/// An error answer: a status and a message, rendered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    /// A `404` for an unknown route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, kind: "not_found", message: message.into() }
    }

    /// A `503`: a dependency of the node does not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, kind: "unavailable", message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "message": self.message, "type": self.kind } })))
            .into_response()
    }
}

/// The owner's API router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/deployments", get(deployments))
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::not_found(format!("no route for {}", uri.path()))
        })
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let inner = &state.inner;
    let block = inner.chain.block_number().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(json!({
        "status": "ok",
        "chainId": inner.chain.chain_id(),
        "blockNumber": block,
        "uptimeSecs": inner.started.elapsed().as_secs(),
    })))
}

async fn version() -> Json<serde_json::Value> {
    Json(json!({ "name": "agora", "version": env!("CARGO_PKG_VERSION") }))
}

async fn deployments(State(state): State<AppState>) -> Json<ChainDeployment> {
    Json(state.inner.deployment.clone())
}
