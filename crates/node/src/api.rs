//! The owner's HTTP API. [`app`] builds the router, so tests drive it in process.
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | `200 {"status":"ok", chainId, blockNumber, uptimeSecs}`, or `503` when the chain does not answer |
//! | `GET /version` | `{"name":"agora", version, engine, nodeAddress}` |
//! | `GET /deployments` | the agora contracts on this node's chain |
//! | `POST /v1/chat/completions` | OpenAI-compatible chat completions, plain or streamed ([`crate::openai`]) |
//! | `GET /v1/models` | the loaded model |
//! | `GET /agents?skill=S&active=true` | agents found on chain by the discovery index |
//! | `GET /agents/{id}?trust=0xA,0xB` | one agent, with a reputation summary over trusted raters only |
//! | `GET /.well-known/agent-registration.json` | the node's ERC-8004 registration file |
//! | `GET /.well-known/agent-card.json` | the node's A2A v1.0 agent card |
//!
//! Errors take one shape everywhere, OpenAI's: `{"error":{"message","type","param","code"}}`.

use crate::{inference::InferenceService, openai};
use agora_chain::{ChainClient, ChainDeployment};
use agora_store::Store;
use alloy::primitives::Address;
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use std::{sync::Arc, time::Instant};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

/// The node's ERC-8004 agent, as served at the well-known paths.
#[derive(Debug, Clone, Default)]
pub struct AgentState {
    /// What the node offers.
    pub profile: agora_agents::AgentProfile,
    /// Agent id and registry (`eip155:…`), once registered.
    pub registration: Option<(alloy::primitives::U256, String)>,
}

#[derive(Debug)]
struct AppInner {
    agent: AgentState,
    chain: Option<(ChainClient, ChainDeployment)>,
    inference: Option<InferenceService>,
    node_address: Option<Address>,
    store: Arc<Store>,
    started: Instant,
}

impl AppState {
    /// State for a node with its store; add the chain and the engine with the `with_*` calls.
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            inner: Arc::new(AppInner {
                agent: AgentState::default(),
                chain: None,
                inference: None,
                node_address: None,
                store,
                started: Instant::now(),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut AppInner {
        // Only called while building, before the state is shared.
        Arc::get_mut(&mut self.inner).unwrap_or_else(|| unreachable!("AppState is built before it is shared"))
    }

    /// With the node's agent.
    pub fn with_agent(mut self, agent: AgentState) -> Self {
        self.inner_mut().agent = agent;
        self
    }

    /// With a chain and the suite deployed on it.
    pub fn with_chain(mut self, chain: ChainClient, deployment: ChainDeployment) -> Self {
        self.inner_mut().chain = Some((chain, deployment));
        self
    }

    /// With an inference engine, and the address that signs its receipts.
    pub fn with_inference(mut self, inference: InferenceService, node_address: Address) -> Self {
        let inner = self.inner_mut();
        inner.inference = Some(inference);
        inner.node_address = Some(node_address);
        self
    }

    /// The node's store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The inference service, when a model is loaded.
    pub fn inference(&self) -> Option<&InferenceService> {
        self.inner.inference.as_ref()
    }
}

/// An error answer: a status and an OpenAI-shaped JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

impl ApiError {
    /// An error with a status, an OpenAI error type and a message.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into(), param: None, code: None }
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: Option<&'static str>) -> Self {
        self.param = param;
        self
    }

    /// Adds a machine-readable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// A `404` for an unknown route or resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A `503`: a dependency of the node does not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({ "error": { "message": self.message, "type": self.kind, "param": self.param, "code": self.code } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// The owner's API router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/deployments", get(deployments))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/agents", get(agents))
        .route("/agents/{id}", get(agent))
        .route(agora_agents::REGISTRATION_PATH, get(registration))
        .route(agora_agents::AGENT_CARD_PATH, get(agent_card))
        .layer(DefaultBodyLimit::max(openai::MAX_BODY_BYTES))
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::not_found(format!("no route for {}", uri.path()))
        })
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let inner = &state.inner;
    let mut body = json!({
        "status": "ok",
        "uptimeSecs": inner.started.elapsed().as_secs(),
        "model": inner.inference.as_ref().map(|s| s.engine().info().id.clone()),
    });
    if let Some((chain, _)) = &inner.chain {
        let block = chain.block_number().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        body["chainId"] = json!(chain.chain_id());
        body["blockNumber"] = json!(block);
    }
    Ok(Json(body))
}

async fn version(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "name": "agora",
        "version": env!("CARGO_PKG_VERSION"),
        "engine": format!("{} {}", agora_infer::ENGINE_ID, agora_infer::ENGINE_VERSION),
        "nodeAddress": state.inner.node_address,
    }))
}

/// `?skill=S&active=true&trust=0xA,0xB`
#[derive(Debug, serde::Deserialize)]
struct AgentQuery {
    skill: Option<String>,
    #[serde(default)]
    active: bool,
    trust: Option<String>,
}

async fn agents(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<AgentQuery>,
) -> Result<Json<Value>, ApiError> {
    let (chain, _) =
        state.inner.chain.as_ref().ok_or_else(|| ApiError::not_found("this node runs without a chain"))?;
    let list =
        agora_agents::list_agents(&state.inner.store, chain.chain_id(), query.skill.as_deref(), query.active)
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(json!({ "chainId": chain.chain_id(), "agents": list })))
}

async fn agent(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<AgentQuery>,
) -> Result<Json<Value>, ApiError> {
    let (chain, _) =
        state.inner.chain.as_ref().ok_or_else(|| ApiError::not_found("this node runs without a chain"))?;
    let id = id
        .parse::<alloy::primitives::U256>()
        .map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", "the agent id is not a number")
        })?
        .to_string();
    let list = agora_agents::list_agents(&state.inner.store, chain.chain_id(), None, false)
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let found = list
        .into_iter()
        .find(|a| a.agent_id == id)
        .ok_or_else(|| ApiError::not_found(format!("agent {id} is not in this node's index (yet)")))?;
    let trusted: Vec<Address> = query
        .trust
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", "trust takes addresses")
        })?;
    let summary = agora_agents::trusted_summary(&state.inner.store, chain.chain_id(), &id, &trusted)
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(json!({ "chainId": chain.chain_id(), "agent": found, "reputation": summary })))
}

async fn registration(State(state): State<AppState>) -> Json<Value> {
    let agent = &state.inner.agent;
    let registration = agent.registration.as_ref().map(|(id, registry)| (*id, registry.as_str()));
    Json(agora_agents::registration_file(&agent.profile, registration))
}

async fn agent_card(State(state): State<AppState>) -> Json<Value> {
    Json(agora_agents::agent_card(&state.inner.agent.profile, env!("CARGO_PKG_VERSION")))
}

async fn deployments(State(state): State<AppState>) -> Result<Json<ChainDeployment>, ApiError> {
    match &state.inner.chain {
        Some((_, deployment)) => Ok(Json(deployment.clone())),
        None => Err(ApiError::not_found("this node runs without a chain (agora serve); use agora up")),
    }
}
