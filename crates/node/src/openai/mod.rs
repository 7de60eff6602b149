//! The OpenAI-compatible API: `POST /v1/chat/completions` and the legacy `POST /v1/completions`
//! (raw prompts), each plain and streamed as server-sent events, and `GET /v1/models`, with
//! errors in OpenAI's JSON shape.
//!
//! agora extensions, which OpenAI clients ignore: `top_k` and `repetition_penalty` in the
//! request; `agora_receipt` in the response (and in the last streamed chunk), holding the
//! signed inference receipt with the request and output it commits to; the header
//! `x-agora-receipt` with the signed receipt alone (base64 JSON).

mod completions;
mod paid;
mod routed;
mod stream;

pub(crate) use completions::completions;
pub(crate) use paid::{
    NotStarted, PaidCall, PaidGeneration, PaidRoute, paid_chat_completions, start_paid_generation,
};
pub(crate) use routed::paid_models;

use stream::stream;

use crate::{
    api::{ApiError, AppState},
    inference::{GenerationEvent, InferenceService, SubmitError},
};
use agora_infer::{ChatMessage, FinishReason, Generation, InferError, PreparedPrompt, SamplingParams};
use agora_receipts::{RECEIPT_HEADER, ReceiptEnvelope, RequestInput};
use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::{
    collections::VecDeque,
    convert::Infallible,
    time::{SystemTime, UNIX_EPOCH},
};
use tokio::sync::mpsc;

/// Requests larger than this are refused before parsing.
pub(crate) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<RequestMessage>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_completion_tokens: Option<u64>,
    #[serde(flatten)]
    sampling: Sampling,
    n: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct RequestMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

impl ApiError {
    fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).with_param(param)
    }
}

fn infer_error(e: &InferError) -> ApiError {
    match e {
        InferError::ContextLength { .. } => {
            ApiError::invalid(e.to_string(), Some("messages")).with_code("context_length_exceeded")
        }
        e if e.is_client_error() => ApiError::invalid(e.to_string(), None),
        e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()),
    }
}

fn submit_error(e: &SubmitError) -> ApiError {
    match e {
        SubmitError::QueueFull(_) => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", e.to_string())
                .with_code("queue_full")
        }
        SubmitError::Stopped => ApiError::unavailable(e.to_string()),
    }
}

fn service(state: &AppState) -> Result<&InferenceService, ApiError> {
    state.inference().ok_or_else(|| {
        ApiError::unavailable(
            "no model is loaded on this node: set [inference] model or --model, then restart",
        )
    })
}

/// The service of the model a chat request names (`model`; the default model for `default`),
/// loaded first if it is served but not loaded. A body that does not parse goes to the default
/// model, whose request check then reports what is wrong with it.
pub(crate) async fn service_for(state: &AppState, body: &[u8]) -> Result<InferenceService, ApiError> {
    #[derive(serde::Deserialize)]
    struct Named {
        model: Option<String>,
    }
    let name = serde_json::from_slice::<Named>(body).ok().and_then(|n| n.model);
    service_named(state, name.as_deref()).await
}

/// The service of the model `name` (the default one without a name, or where the node serves
/// one model only), loaded first if it is served but not loaded.
pub(crate) async fn service_named(
    state: &AppState,
    name: Option<&str>,
) -> Result<InferenceService, ApiError> {
    let default = service(state)?.clone();
    let Some(models) = state.models() else { return Ok(default) };
    // `auto` is answered here when the router does not send it out.
    let Some(name) = name.filter(|n| *n != "auto") else { return Ok(default) };
    models.get(name).await.map_err(|e| match e {
        crate::models::ModelError::Unknown { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", e.to_string())
                .with_param(Some("model"))
                .with_code("model_not_found")
        }
        e => ApiError::unavailable(e.to_string()),
    })
}

/// `GET /v1/models`: every model served here (`agora.loaded` says which are in memory now),
/// then every model of the remote providers the router may use, as `agent:<id>/<model>` with
/// the provider, its price, reputation and measured latency under `agora`.
pub(crate) async fn models(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut data = match (local_models(&state).await, state.router()) {
        (Ok(local), _) => local,
        // A node without a model of its own still lists the providers it routes to.
        (Err(_), Some(_)) => Vec::new(),
        (Err(e), None) => return Err(e),
    };
    if let Some(router) = state.router() {
        data.extend(routed::remote_models(router).await);
    }
    Ok(Json(json!({ "object": "list", "data": data })))
}

/// The models served here, as `/v1/models` entries.
async fn local_models(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let service = service(state)?;
    let (infos, loaded) = match state.models() {
        Some(models) => (models.infos().await, models.loaded().await),
        None => (vec![service.engine().info().clone()], vec![service.engine().info().id.clone()]),
    };
    Ok(infos
        .iter()
        .map(|info| {
            let mut agora = json!(info);
            agora["loaded"] = json!(loaded.contains(&info.id));
            json!({ "id": info.id, "object": "model", "created": 0, "owned_by": "agora", "agora": agora })
        })
        .collect())
}

/// A request names the model it was routed to by (its id, or `default`).
fn check_model(requested: &str, info: &agora_infer::ModelInfo) -> Result<(), ApiError> {
    if requested == info.id || requested == "default" || requested == "auto" {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!(
            "the model {requested:?} does not exist; this node serves {:?} (see GET /v1/models)",
            info.id
        ),
    )
    .with_param(Some("model"))
    .with_code("model_not_found"))
}

/// A request validated once: how to answer it.
struct Prepared {
    model: String,
    prompt_tokens: usize,
    stream: bool,
    include_usage: bool,
    /// `/v1/completions` (`text_completion` objects) rather than a chat completion.
    text: bool,
}

/// What the engine runs for a validated request: the conversation (or raw prompt) the receipt
/// commits to, and its prompt tokenized with checked sampling settings.
struct ChatJob {
    input: RequestInput,
    prompt: PreparedPrompt,
}

fn prepare(service: &InferenceService, body: &[u8]) -> Result<(Prepared, ChatJob), ApiError> {
    let request: ChatRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!("the request body is not a valid chat completion request: {e}"), None)
    })?;
    let info = service.engine().info();
    check_model(&request.model, info)?;
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("only n = 1 is supported", Some("n")));
    }
    let messages = conversation(request.messages)?;
    if messages.is_empty() {
        return Err(ApiError::invalid("messages must not be empty", Some("messages")));
    }
    let engine = service.engine();
    let prompt = engine.chat_prompt(&messages).map_err(|e| infer_error(&e))?;
    let mut knobs = request.sampling;
    knobs.max_tokens = request.max_completion_tokens.or(knobs.max_tokens);
    let sampling = knobs.params(prompt.len(), info.context_length, None)?;
    let prompt = engine.prepare(prompt, sampling).map_err(|e| infer_error(&e))?;
    let prepared = Prepared {
        model: info.id.clone(),
        prompt_tokens: prompt.tokens().len(),
        stream: request.stream,
        include_usage: request.stream_options.is_some_and(|o| o.include_usage),
        text: false,
    };
    Ok((prepared, ChatJob { input: RequestInput::Chat(messages), prompt }))
}

/// The conversation a chat request holds, roles mapped onto the chat template's (`developer`
/// is `system`) and content parts joined; only text parts are taken.
fn conversation(request: Vec<RequestMessage>) -> Result<Vec<ChatMessage>, ApiError> {
    let mut messages = Vec::with_capacity(request.len());
    for m in request {
        let role = match m.role.as_str() {
            "system" | "developer" => "system",
            "user" | "assistant" | "tool" => m.role.as_str(),
            other => {
                return Err(ApiError::invalid(format!("unknown message role {other:?}"), Some("messages")));
            }
        };
        let content = match m.content {
            None => String::new(),
            Some(Content::Text(text)) => text,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    if part.kind != "text" {
                        return Err(ApiError::invalid(
                            format!("content parts of type {:?} are not supported; only text", part.kind),
                            Some("messages"),
                        ));
                    }
                    text.push_str(part.text.as_deref().unwrap_or_default());
                }
                text
            }
        };
        messages.push(ChatMessage::new(role, content));
    }
    Ok(messages)
}

/// The sampling fields both completion endpoints take.
#[derive(Debug, Deserialize)]
struct Sampling {
    max_tokens: Option<u64>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u64>,
    repetition_penalty: Option<f32>,
    seed: Option<u64>,
    stop: Option<Stop>,
}

impl Sampling {
    /// The engine's parameters for a prompt of `prompt` tokens; without `max_tokens`,
    /// `default_max` or else what the context leaves.
    fn params(
        self,
        prompt: usize,
        context: usize,
        default_max: Option<usize>,
    ) -> Result<SamplingParams, ApiError> {
        let max_tokens = match self.max_tokens {
            Some(0) => return Err(ApiError::invalid("max_tokens must be at least 1", Some("max_tokens"))),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => default_max
                .unwrap_or_else(|| context.saturating_sub(prompt).clamp(1, agora_infer::MAX_TOKENS_LIMIT)),
        };
        Ok(SamplingParams {
            temperature: self.temperature.unwrap_or(1.0),
            top_p: self.top_p.unwrap_or(1.0),
            top_k: self.top_k.map_or(0, |k| usize::try_from(k).unwrap_or(usize::MAX)),
            repetition_penalty: self.repetition_penalty.unwrap_or(1.0),
            // Without a seed the server picks one; the receipt records it, so the run stays
            // repeatable.
            seed: self.seed.unwrap_or_else(rand_seed),
            max_tokens,
            stop: match self.stop {
                None => Vec::new(),
                Some(Stop::One(s)) => vec![s],
                Some(Stop::Many(v)) => v,
            },
            ignore_eos: false,
        })
    }
}

/// A server-picked seed below 2^53, so that the receipt's JSON survives clients (JavaScript)
/// that read numbers as doubles.
fn rand_seed() -> u64 {
    rand::random::<u64>() >> 11
}

fn completion_id(text: bool) -> String {
    let prefix = if text { "cmpl" } else { "chatcmpl" };
    format!("{prefix}-{}", alloy::hex::encode(rand::random::<[u8; 12]>()))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Cancelled => "stop",
        FinishReason::Length => "length",
    }
}

fn usage(generation: &Generation) -> Value {
    let completion = generation.tokens.len();
    json!({
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": generation.prompt_tokens + completion,
    })
}

fn timings(generation: &Generation) -> Value {
    let prompt_ms = generation.prompt_time.as_secs_f64() * 1e3;
    let predicted_ms = generation.generation_time.as_secs_f64() * 1e3;
    let per_second = |n: usize, ms: f64| if ms > 0.0 { n as f64 / ms * 1e3 } else { 0.0 };
    json!({
        "prompt_n": generation.prompt_tokens,
        "prompt_ms": prompt_ms,
        "prompt_per_second": per_second(generation.prompt_tokens, prompt_ms),
        "predicted_n": generation.tokens.len(),
        "predicted_ms": predicted_ms,
        "predicted_per_second": per_second(generation.tokens.len(), predicted_ms),
    })
}

fn fingerprint() -> String {
    format!("{}-{}", agora_infer::ENGINE_ID, agora_infer::ENGINE_VERSION)
}

/// `POST /v1/chat/completions`
pub(crate) async fn chat_completions(State(state): State<AppState>, body: Bytes) -> Response {
    match chat(state, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn chat(state: AppState, body: Bytes) -> Result<Response, ApiError> {
    if let Some(routed) = routed::route(&state, &body).await {
        return routed;
    }
    let service = service_for(&state, &body).await?;
    let (prepared, job) = prepare(&service, &body)?;
    let events = service.submit(job.input, job.prompt, None).map_err(|e| submit_error(&e))?;
    if prepared.stream {
        Ok(stream(prepared, events, None).into_response())
    } else {
        complete(prepared, events, None).await
    }
}

async fn complete(
    prepared: Prepared,
    mut events: mpsc::UnboundedReceiver<GenerationEvent>,
    paid: Option<PaidCall>,
) -> Result<Response, ApiError> {
    let done = loop {
        match events.recv().await {
            Some(GenerationEvent::Text(_)) => continue,
            Some(GenerationEvent::Done(result)) => break result.map_err(|e| infer_error(&e)),
            None => break Err(ApiError::unavailable("the inference worker stopped")),
        }
    };
    let (generation, receipt) = match done {
        Ok(done) => done,
        Err(error) => {
            if let Some(paid) = paid {
                paid.abandon();
            }
            return Err(error);
        }
    };
    let settlement = match paid {
        Some(paid) => match paid.settle(&generation).await {
            Ok(settlement) => Some(settlement),
            Err(refusal) => return Ok(refusal.into_response()),
        },
        None => None,
    };
    let choice = if prepared.text {
        json!({
            "index": 0,
            "text": generation.text,
            "logprobs": null,
            "finish_reason": finish_reason(generation.finish_reason),
        })
    } else {
        json!({
            "index": 0,
            "message": { "role": "assistant", "content": generation.text },
            "logprobs": null,
            "finish_reason": finish_reason(generation.finish_reason),
        })
    };
    let body = json!({
        "id": completion_id(prepared.text),
        "object": if prepared.text { "text_completion" } else { "chat.completion" },
        "created": now(),
        "model": prepared.model,
        "system_fingerprint": fingerprint(),
        "choices": [choice],
        "usage": usage(&generation),
        "timings": timings(&generation),
        "agora_receipt": receipt,
    });
    let mut body = body;
    if let Some(settlement) = &settlement {
        body["agora_payment"] = json!(settlement);
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    if let Some(header) = receipt.as_deref().and_then(receipt_header) {
        response.headers_mut().insert(RECEIPT_HEADER, header);
    }
    if let Some(settlement) = &settlement {
        agora_pay::paywall::attach_settlement(&mut response, settlement);
    }
    Ok(response)
}

pub(crate) fn receipt_header(envelope: &ReceiptEnvelope) -> Option<HeaderValue> {
    let json = serde_json::to_vec(&envelope.signed).ok()?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json)).ok()
}
