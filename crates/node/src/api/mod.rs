//! The owner's HTTP API. [`app`] builds the router, so tests drive it in process.
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | `200 {"status":"ok", chainId, blockNumber, uptimeSecs}`, or `503` when the chain does not answer |
//! | `GET /version` | `{"name":"agora", version, engine, nodeAddress}` |
//! | `GET /deployments` | the agora contracts on this node's chain |
//! | `POST /v1/chat/completions` | OpenAI-compatible chat completions, plain or streamed ([`crate::openai`]) |
//! | `GET /v1/models` | the models served, with which are loaded |
//! | `GET /api/tags`, `GET /api/version`, `POST /api/chat`, `POST /api/generate` | the Ollama-compatible subset, plain or streamed as NDJSON ([`crate::ollama`]); its errors are Ollama's `{"error": "…"}` |
//! | `GET /agents?skill=S&active=true` | agents found on chain by the discovery index |
//! | `GET /agents/{id}?trust=0xA,0xB` | one agent, with a reputation summary over trusted raters only |
//! | `GET /.well-known/agent-registration.json` | the node's ERC-8004 registration file |
//! | `GET /.well-known/agent-card.json` | the node's A2A v1.0 agent card |
//! | `GET /`, `/ui/…`, `POST /guard/ask` | the web app and the routes it reads and acts through ([`crate::ui`]) |
//! | `POST /x402/verify`, `POST /x402/settle`, `GET /x402/supported` | an x402 facilitator for `exact`, `upto` and `batch-settlement` payments ([`agora_pay::facilitator`]) |
//!
//! Errors take one shape everywhere, OpenAI's: `{"error":{"message","type","param","code"}}`,
//! unknown routes (404), wrong methods (405), wrong content types (415) and bodies over 2 MiB
//! (413) included. The facilitator's `/x402/verify` and `/x402/settle` answer in x402's own
//! shapes instead, even for a body they cannot parse. Addresses in JSON are EIP-55 checksummed.
//!
//! Who may call the owner's API ([`owner_access`]): web pages must not drive it, so a request is
//! refused (403) when its `Host` is not loopback (`127.0.0.1`, `localhost`, `[::1]`, any port:
//! DNS rebinding), or when it carries an `Origin` other than the API's own or a configured one.
//! With an API token configured, every request must carry `Authorization: Bearer <token>` (401
//! otherwise) and any `Host` is accepted. Every `POST` must be `application/json` (415), on both
//! listeners: a cross-site form or `text/plain` request cannot be sent without a CORS preflight.
//!
//! The public paid listener ([`paid_app`], 127.0.0.1:8412 by default) serves only priced routes:
//! `POST /v1/chat/completions`, paid per token with x402 (`exact` or `channel`), and the same
//! chat skill as an A2A 1.0 agent over HTTP+JSON under `/v1` ([`crate::a2a`]: `message:send`
//! and `message:stream`, paid alike; `tasks/{id}`, `tasks/{id}:cancel` and `:subscribe`, free).
//! Nothing else of the owner's API is reachable there.

mod access;
mod x402;

pub use access::owner_access;
use access::{json_errors, require_json};
use x402::{x402_settle, x402_supported, x402_verify};

use crate::{config::ApiAccess, inference::InferenceService, openai};
use agora_chain::{ChainClient, ChainDeployment};
use agora_store::Store;
use alloy::primitives::Address;
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{Method, StatusCode},
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
    agent: std::sync::RwLock<AgentState>,
    node_key: Option<alloy::signers::local::PrivateKeySigner>,
    chain: Option<(ChainClient, ChainDeployment)>,
    inference: Option<InferenceService>,
    models: Option<Arc<crate::models::ModelSet>>,
    node_address: Option<Address>,
    paywall: Option<agora_pay::Paywall>,
    pricing: Pricing,
    facilitator: Option<agora_pay::facilitator::Facilitator>,
    guard: Option<agora_guard::Guard>,
    access: ApiAccess,
    key_watch: Option<crate::keywatch::KeyWatch>,
    store: Arc<Store>,
    a2a: Arc<crate::a2a::Tasks>,
    router: Option<Arc<agora_router::Router>>,
    started: Instant,
    ui: crate::ui::UiState,
    config: Option<Arc<crate::NodeConfig>>,
}

/// What paid chat completions cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pricing {
    /// Atomic units per token, prompt and completion alike.
    pub price_per_token: u128,
    /// The most one request may cost.
    pub max_per_request: u128,
}

impl Default for Pricing {
    fn default() -> Self {
        Self { price_per_token: 10, max_per_request: 20_000 }
    }
}

impl AppState {
    /// State for a node with its store; add the chain and the engine with the `with_*` calls.
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            inner: Arc::new(AppInner {
                agent: Default::default(),
                node_key: None,
                chain: None,
                inference: None,
                models: None,
                node_address: None,
                paywall: None,
                pricing: Pricing::default(),
                facilitator: None,
                guard: None,
                access: ApiAccess::default(),
                key_watch: None,
                store,
                a2a: Arc::default(),
                router: None,
                started: Instant::now(),
                ui: crate::ui::UiState::default(),
                config: None,
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut AppInner {
        // Only called while building, before the state is shared.
        Arc::get_mut(&mut self.inner).unwrap_or_else(|| unreachable!("AppState is built before it is shared"))
    }

    /// With the rules for who may use the owner's API (token, allowed origins).
    pub fn with_access(mut self, access: ApiAccess) -> Self {
        self.inner_mut().access = access;
        self
    }

    /// With the node's configuration, which the web app's routes read through the operations.
    pub fn with_config(mut self, config: crate::NodeConfig) -> Self {
        self.inner_mut().config = Some(Arc::new(config));
        self
    }

    /// The node's configuration, when it was given.
    pub(crate) fn config(&self) -> Option<&Arc<crate::NodeConfig>> {
        self.inner.config.as_ref()
    }

    /// The web app's state: its session token, the guard's confirmations, the checks seen.
    pub fn ui(&self) -> &crate::ui::UiState {
        &self.inner.ui
    }

    /// The node key's address, when the node has one.
    pub(crate) fn node_key_address(&self) -> Option<Address> {
        self.inner.node_key.as_ref().map(|k| k.address())
    }

    /// With the node's agent.
    pub fn with_agent(mut self, agent: AgentState) -> Self {
        self.inner_mut().agent = std::sync::RwLock::new(agent);
        self
    }

    /// With the node key, which signs the agent's registration when the owner asks for it
    /// (`POST /agent/register`).
    pub fn with_node_key(mut self, key: alloy::signers::local::PrivateKeySigner) -> Self {
        self.inner_mut().node_key = Some(key);
        self
    }

    /// The node's agent id, once registered.
    pub(crate) fn agent_id(&self) -> Option<alloy::primitives::U256> {
        self.agent().registration.map(|(id, _)| id)
    }

    fn agent(&self) -> AgentState {
        self.inner.agent.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// With a chain and the suite deployed on it.
    pub fn with_chain(mut self, chain: ChainClient, deployment: ChainDeployment) -> Self {
        // The guard reads the same chain; the suite's own contracts are known to it by name.
        let data_dir = self.inner.store.path().parent().map(|p| p.join("guard")).unwrap_or_default();
        let data = agora_guard::GuardData::load(&data_dir).or_else(|_| agora_guard::GuardData::embedded());
        if let Ok(data) = data {
            let known =
                deployment.contracts.iter().map(|(name, c)| (c.address, format!("agora {name}"))).collect();
            let options = agora_guard::GuardOptions { known, ..Default::default() };
            let store = self.inner.store.clone();
            self.inner_mut().guard =
                Some(agora_guard::Guard::new(chain.provider().clone(), data, Some(store), options));
        }
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

    /// With the models served beside the default one (the default's service becomes
    /// [`AppState::inference`]), and the address that signs their receipts.
    pub fn with_models(mut self, models: Arc<crate::models::ModelSet>, node_address: Address) -> Self {
        let inner = self.inner_mut();
        inner.inference = Some(models.default_service().clone());
        inner.models = Some(models);
        inner.node_address = Some(node_address);
        self
    }

    /// Every model served, when more than the default may be.
    pub(crate) fn models(&self) -> Option<&Arc<crate::models::ModelSet>> {
        self.inner.models.as_ref()
    }

    /// With paid access: the paywall and the prices of the paid listener.
    pub fn with_paywall(mut self, paywall: agora_pay::Paywall, pricing: Pricing) -> Self {
        let inner = self.inner_mut();
        inner.paywall = Some(paywall);
        inner.pricing = pricing;
        self
    }

    /// With the router to remote providers, which the owner's OpenAI API uses for models that
    /// are not served here.
    pub fn with_router(mut self, router: Arc<agora_router::Router>) -> Self {
        self.inner_mut().router = Some(router);
        self
    }

    /// The router to remote providers, when the node has a chain to find and pay them on.
    pub(crate) fn router(&self) -> Option<&Arc<agora_router::Router>> {
        self.inner.router.as_ref()
    }

    /// With a watch over the node key's transactions, reported in `/health`.
    pub fn with_key_watch(mut self, watch: crate::keywatch::KeyWatch) -> Self {
        self.inner_mut().key_watch = Some(watch);
        self
    }

    /// With an x402 facilitator on the owner's API.
    pub fn with_facilitator(mut self, facilitator: agora_pay::facilitator::Facilitator) -> Self {
        self.inner_mut().facilitator = Some(facilitator);
        self
    }

    /// The paywall, when paid access is on.
    pub fn paywall(&self) -> Option<&agora_pay::Paywall> {
        self.inner.paywall.as_ref()
    }

    /// The prices of the paid listener.
    pub fn pricing(&self) -> Pricing {
        self.inner.pricing
    }

    /// The node's store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The inference service, when a model is loaded.
    pub fn inference(&self) -> Option<&InferenceService> {
        self.inner.inference.as_ref()
    }

    /// The A2A tasks at work.
    /// The chain and the suite, unless the node runs without one.
    pub(crate) fn chain(&self) -> Option<(&ChainClient, &ChainDeployment)> {
        self.inner.chain.as_ref().map(|(c, d)| (c, d))
    }

    /// The address that signs this node's receipts (its agent's wallet), when it serves a model.
    pub(crate) fn node_address(&self) -> Option<Address> {
        self.inner.node_address
    }

    pub(crate) fn a2a_tasks(&self) -> &Arc<crate::a2a::Tasks> {
        &self.inner.a2a
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

    /// The message, for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The OpenAI error type (`invalid_request_error`, …).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The machine-readable code, if any.
    pub fn code(&self) -> Option<&'static str> {
        self.code
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

/// `POST /guard/check`: the guard's verdict on `{method, params[, origin]}` without forwarding
/// anything (for wallets that keep their own keys). `?explain=true` adds the local model's summary.
async fn guard_check(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<GuardQuery>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let guard = state
        .inner
        .guard
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("the guard needs a chain; start the node with one"))?;
    let request: agora_guard::GuardRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("expected {{\"method\", \"params\"[, \"origin\"]}}: {e}"),
        )
    })?;
    let mut verdict = guard.check(&request).await.map_err(|e| match e {
        agora_guard::GuardError::BadRequest(why) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", why)
        }
        other => ApiError::unavailable(format!("the guard could not check this request: {other}")),
    })?;
    if query.explain && state.inner.inference.is_some() {
        verdict.summary = explain_locally(&state, &verdict).await;
    }
    let answer = checksummed(&verdict);
    state.ui().record("api", "checked", answer.0.clone());
    Ok(answer)
}

#[derive(Debug, Default, serde::Deserialize)]
struct GuardQuery {
    #[serde(default)]
    explain: bool,
}

/// The local model's summary of a verdict (it only rephrases; the level is the guard's).
async fn explain_locally(state: &AppState, verdict: &agora_guard::Verdict) -> Option<String> {
    let messages = agora_guard::explain::messages(verdict);
    let request = json!({ "model": "default", "messages": messages, "max_tokens": agora_guard::explain::SUMMARY_MAX_TOKENS, "temperature": 0 });
    let response =
        openai::chat_completions(State(state.clone()), axum::body::Bytes::from(request.to_string())).await;
    if !response.status().is_success() {
        return None;
    }
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.ok()?;
    let value: Value = serde_json::from_slice(&body).ok()?;
    let text = value["choices"][0]["message"]["content"].as_str()?.trim().to_owned();
    Some(format!("[{}] {text}", verdict.level.as_str().to_uppercase()))
}

/// The owner's API router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/deployments", get(deployments))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/models", get(openai::models))
        .route("/api/tags", get(crate::ollama::tags))
        .route("/api/version", get(crate::ollama::version))
        .route("/api/chat", post(crate::ollama::chat))
        .route("/api/generate", post(crate::ollama::generate))
        .route("/agents", get(agents))
        .route("/agents/{id}", get(agent))
        .route(agora_agents::REGISTRATION_PATH, get(registration))
        .route(agora_agents::AGENT_CARD_PATH, get(agent_card))
        .route("/guard/check", post(guard_check))
        .route("/x402/supported", get(x402_supported))
        .route("/x402/verify", post(x402_verify))
        .route("/x402/settle", post(x402_settle))
        .route("/payments/claim", post(payments_claim))
        .route("/agent/register", post(agent_register))
        .route("/status", get(node_status))
        .merge(crate::ui::routes())
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::not_found(format!("no route for {}", uri.path()))
        })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(require_json))
        .layer(axum::middleware::from_fn_with_state(state.clone(), owner_access))
        .layer(DefaultBodyLimit::max(openai::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// The public paid listener's router: priced routes only (and the A2A task routes, which read
/// or stop what was paid for). It is meant to be reached from anywhere, so it has no `Host` or
/// `Origin` rule; it too takes only JSON.
pub fn paid_app(state: AppState) -> Router {
    use crate::a2a;
    Router::new()
        .route("/v1/chat/completions", post(openai::paid_chat_completions))
        .route("/v1/models", get(openai::paid_models))
        .route("/v1/message:send", post(a2a::message_send))
        .route("/v1/message:stream", post(a2a::message_stream))
        .route("/v1/tasks", get(a2a::list_tasks))
        // `{id}:cancel` and `{id}:subscribe` are one path segment.
        .route("/v1/tasks/{id}", get(a2a::get_task).post(a2a::task_action))
        .route("/v1/tasks/{id}/pushNotificationConfigs", axum::routing::any(a2a::push_configs))
        .route("/v1/tasks/{id}/pushNotificationConfigs/{config}", axum::routing::any(a2a::push_configs))
        .route("/v1/extendedAgentCard", get(a2a::extended_card))
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::not_found(format!(
                "no paid route {}; this listener serves POST /v1/chat/completions and A2A 1.0 (HTTP+JSON) under /v1",
                uri.path()
            ))
        })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(require_json))
        .layer(DefaultBodyLimit::max(openai::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("{} does not take {method}", uri.path()),
    )
    .with_code("method_not_allowed")
}

/// Serializes `value` with every address in EIP-55 checksum form. alloy writes `Address` in
/// lowercase hex, which strict clients (web3.py, and so agent0-sdk) refuse; types from other
/// crates (deployments, index records, verdicts) are served through this.
fn checksummed<T: serde::Serialize>(value: &T) -> Json<Value> {
    let mut value = json!(value);
    checksum_addresses(&mut value);
    Json(value)
}

/// Rewrites, in place, every string (value or key) that is exactly a 20-byte hex address.
pub fn checksum_addresses(value: &mut Value) {
    fn checksum(s: &str) -> Option<String> {
        let hex = s.strip_prefix("0x")?;
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        s.parse::<Address>().ok().map(|a| a.to_checksum(None))
    }
    match value {
        Value::String(s) => {
            if let Some(c) = checksum(s) {
                *s = c;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(checksum_addresses),
        Value::Object(map) => {
            let renamed: Vec<(String, String)> =
                map.keys().filter_map(|k| checksum(k).map(|c| (k.clone(), c))).collect();
            for (old, new) in renamed {
                if let Some(v) = map.remove(&old) {
                    map.insert(new, v);
                }
            }
            map.values_mut().for_each(checksum_addresses);
        }
        _ => {}
    }
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
    if let Some(watch) = &inner.key_watch {
        body["nodeKey"] = json!(watch.status());
    }
    Ok(Json(body))
}

async fn version(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "name": "agora",
        "version": env!("CARGO_PKG_VERSION"),
        "engine": format!("{} {}", agora_infer::ENGINE_ID, agora_infer::ENGINE_VERSION),
        "nodeAddress": state.inner.node_address.map(|a| a.to_checksum(None)),
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
    Ok(checksummed(&json!({ "chainId": chain.chain_id(), "agents": list })))
}

async fn agent(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<AgentQuery>,
) -> Result<Json<Value>, ApiError> {
    let (chain, deployment) =
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
    let trusted = crate::ops::agents::with_job_evaluator(&trusted, deployment);
    let summary = agora_agents::trusted_summary(&state.inner.store, chain.chain_id(), &id, &trusted)
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(checksummed(&json!({ "chainId": chain.chain_id(), "agent": found, "reputation": summary })))
}

async fn registration(State(state): State<AppState>) -> Json<Value> {
    let agent = state.agent();
    let registration = agent.registration.as_ref().map(|(id, registry)| (*id, registry.as_str()));
    Json(agora_agents::registration_file(&agent.profile, registration))
}

async fn agent_card(State(state): State<AppState>) -> Json<Value> {
    Json(agora_agents::agent_card(&state.agent().profile, env!("CARGO_PKG_VERSION")))
}

/// `GET /status`: one page about the node (`agora status`).
async fn node_status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    use crate::ops::status::{
        AgentReport, Balance, ChainReport, EarningsSummary, GuardReport, ModelReport, NodeReport,
    };
    let inner = &state.inner;
    let agent = state.agent();
    let node_key = inner.node_key.as_ref().map(|k| k.address());
    let mut report = NodeReport {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: inner.started.elapsed().as_secs(),
        node_key,
        paid_url: agent.profile.paid_url.clone(),
        ..NodeReport::default()
    };
    if let Some((id, registry)) = &agent.registration {
        report.agent = Some(AgentReport {
            agent_id: *id,
            registry: registry.clone(),
            name: agent.profile.name.clone(),
            card_url: agent
                .profile
                .public_url
                .as_ref()
                .map(|u| format!("{}{}", u.trim_end_matches('/'), agora_agents::AGENT_CARD_PATH)),
        });
    }
    if let Some((client, deployment)) = &inner.chain {
        let block = client.block_number().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        report.chain =
            Some(ChainReport { chain_id: client.chain_id(), block, rpc_url: client.url().to_owned() });
        if let Some(me) = node_key {
            use alloy::providers::Provider;
            if let Ok(wei) = client.provider().get_balance(me).await {
                let amount = u128::try_from(wei).unwrap_or(u128::MAX);
                report.balances.push(Balance { token: None, symbol: "ETH".into(), decimals: 18, amount });
            }
            if let Some(asset) = deployment.address_of(agora_contracts::SuiteContract::DevStablecoin) {
                let token = agora_contracts::bindings::DevStablecoin::new(asset, client.provider());
                if let (Ok(symbol), Ok(decimals), Ok(amount)) = (
                    token.symbol().call().await,
                    token.decimals().call().await,
                    token.balanceOf(me).call().await,
                ) {
                    let amount = u128::try_from(amount).unwrap_or(u128::MAX);
                    report.balances.push(Balance { token: Some(asset), symbol, decimals, amount });
                }
            }
        }
        if inner.paywall.is_some() {
            let contract = (client.chain_id(), agora_pay::x402::BATCH_SETTLEMENT);
            let earned = agora_pay::paywall::stored_earnings(&inner.store, Some(contract))
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            let mut summary = EarningsSummary { channels: earned.channels.len(), ..Default::default() };
            for c in &earned.channels {
                summary.charged += c.charged;
                summary.claimed += c.claimed;
                summary.calls += c.calls;
            }
            summary.exact_settled = earned.exact.get("settled").map_or(0, |(_, amount)| *amount);
            report.earnings = Some(summary);
        }
    }
    if let Some(key) = &inner.node_key {
        let config = agora_pay::PayerConfig {
            mandate: crate::ops::payments::DEFAULT_MANDATE.into(),
            prefer: agora_pay::Prefer::Auto,
            channel_deposit: 0,
            expected_calls: 1,
        };
        let payer = agora_pay::Payer::new(key.clone(), Arc::clone(&inner.store), config);
        for c in payer.channels().map_err(|e| ApiError::unavailable(e.to_string()))? {
            report.paying.channels += 1;
            report.paying.deposited += c.deposited;
            report.paying.charged += c.charged;
        }
    }
    if let Some(models) = &inner.models {
        let loaded = models.loaded().await;
        report.models = models
            .infos()
            .await
            .iter()
            .map(|i| ModelReport { id: i.id.clone(), loaded: loaded.contains(&i.id) })
            .collect();
    }
    if let Some(router) = &inner.router {
        let providers = router.providers().await;
        report.router = Some(crate::ops::status::RouterReport {
            privacy: router.policy().privacy.as_str().to_owned(),
            providers: providers.len(),
            marked: providers.iter().filter(|p| p.marked.is_some()).count(),
            mandate: router.policy().mandate.clone(),
        });
    }
    if inner.guard.is_some() {
        use agora_guard::ListKind;
        let entries =
            agora_guard::lists::entries(&inner.store).map_err(|e| ApiError::unavailable(e.to_string()))?;
        let count = |kind: ListKind| entries.iter().filter(|e| e.list == kind).count();
        report.guard = Some(GuardReport {
            contacts: count(ListKind::Contact),
            allowed: count(ListKind::Allow),
            blocked: count(ListKind::Block),
        });
    }
    Ok(checksummed(&report))
}

/// `POST /agent/register`: registers the node's agent with its profile, or brings it up to date
/// (`agora agent register` beside a running node); the well-known files serve the result.
async fn agent_register(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (client, deployment) =
        state.inner.chain.as_ref().ok_or_else(|| ApiError::not_found("this node runs without a chain"))?;
    let key = state.inner.node_key.as_ref().ok_or_else(|| ApiError::unavailable("this node has no key"))?;
    let profile = state.agent().profile;
    let registration =
        crate::ops::agents::register_with(client, deployment, &state.inner.store, &profile, key)
            .await
            .map_err(|e| ApiError::unavailable(format!("the registration failed: {e}")))?;
    state.inner.agent.write().unwrap_or_else(std::sync::PoisonError::into_inner).registration =
        Some((registration.agent_id, registration.registry.clone()));
    Ok(checksummed(&registration))
}

async fn deployments(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match &state.inner.chain {
        Some((_, deployment)) => Ok(checksummed(deployment)),
        None => Err(ApiError::not_found("this node runs without a chain (agora serve); use agora up")),
    }
}

/// `POST /payments/claim`: claims every channel with something unclaimed now, with the node's
/// own key and bookkeeping (what `agora earnings --claim` uses while the node runs).
async fn payments_claim(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let paywall = state
        .inner
        .paywall
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("paid access is off on this node"))?;
    let report =
        paywall.claim_due(true).await.map_err(|e| ApiError::unavailable(format!("the claim failed: {e}")))?;
    Ok(Json(json!(report)))
}
