//! The Ollama-compatible subset that apps speak: `GET /api/tags`, `GET /api/version`,
//! `POST /api/chat` and `POST /api/generate`, plain or streamed as newline-delimited JSON
//! (Ollama's default), with Ollama's sampling defaults and its error shape `{"error": "…"}`.
//! Model names may carry Ollama's `:latest` tag. Each answer is signed like an OpenAI one; the
//! receipt rides in the last object as `agora_receipt`.

use crate::{
    api::AppState,
    inference::{GenerationEvent, InferenceService},
    openai,
};
use agora_infer::{ChatMessage, FinishReason, Generation, SamplingParams};
use agora_receipts::RequestInput;
use axum::{
    Json,
    body::{Body, Bytes},
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The Ollama API version this subset follows, as `GET /api/version` reports it.
const OLLAMA_VERSION: &str = "0.6.3";

#[derive(Debug, Default, Deserialize)]
struct Options {
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<i64>,
    seed: Option<u64>,
    num_predict: Option<i64>,
    stop: Option<Vec<String>>,
    repeat_penalty: Option<f32>,
}

#[derive(Debug, Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    images: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct ChatBody {
    model: String,
    #[serde(default)]
    messages: Vec<Message>,
    stream: Option<bool>,
    #[serde(default)]
    options: Options,
    #[serde(default)]
    tools: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
struct GenerateBody {
    model: String,
    #[serde(default)]
    prompt: String,
    system: Option<String>,
    stream: Option<bool>,
    #[serde(default)]
    options: Options,
    #[serde(default)]
    images: Option<Vec<String>>,
    #[serde(default)]
    raw: bool,
}

/// An error in Ollama's shape.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A request body, or why it is not a `what` request.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body is not a valid {what} request: {e}"))
}

/// The model name without Ollama's default tag.
fn untagged(name: &str) -> &str {
    name.strip_suffix(":latest").unwrap_or(name)
}

/// The service of the model `name` names, loaded first if it is served but not loaded.
async fn service(state: &AppState, name: &str) -> Result<InferenceService, Response> {
    let service = openai::service_named(state, Some(untagged(name))).await.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::NOT_FOUND {
            format!("model {name:?} not found, try pulling it first (agora models pull)")
        } else {
            e.message().to_owned()
        };
        error(status, message)
    })?;
    if untagged(name) != service.engine().info().id && untagged(name) != "default" {
        return Err(error(StatusCode::NOT_FOUND, format!("model {name:?} not found, try pulling it first")));
    }
    Ok(service)
}

/// Sampling settings from Ollama's options, with Ollama's defaults (temperature 0.8, top-k 40,
/// top-p 0.9, repeat penalty 1.1, until the context is full).
fn sampling(options: &Options, prompt_len: usize, context: usize) -> Result<SamplingParams, String> {
    let room = context.saturating_sub(prompt_len).clamp(1, agora_infer::MAX_TOKENS_LIMIT);
    let max_tokens = match options.num_predict {
        None | Some(-1) | Some(-2) => room,
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => return Err(format!("num_predict must be positive, or -1 for as many as fit (got {n})")),
    };
    Ok(SamplingParams {
        temperature: options.temperature.unwrap_or(0.8),
        top_p: options.top_p.unwrap_or(0.9),
        top_k: usize::try_from(options.top_k.unwrap_or(40)).unwrap_or(0),
        repetition_penalty: options.repeat_penalty.unwrap_or(1.1),
        seed: options.seed.unwrap_or_else(|| rand::random::<u64>() >> 11),
        max_tokens,
        stop: options.stop.clone().unwrap_or_default(),
        ignore_eos: false,
    })
}

/// `GET /api/version`
pub(crate) async fn version() -> Json<Value> {
    Json(json!({ "version": OLLAMA_VERSION }))
}

/// `GET /api/tags`: every model served.
pub(crate) async fn tags(State(state): State<AppState>) -> Response {
    let infos = match (state.models(), state.inference()) {
        (Some(models), _) => models.infos().await,
        (None, Some(service)) => vec![service.engine().info().clone()],
        (None, None) => Vec::new(),
    };
    let models: Vec<Value> = infos
        .iter()
        .map(|info| {
            json!({
                "name": info.id,
                "model": info.id,
                "modified_at": rfc3339(
                    std::fs::metadata(&info.path).and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH)
                ),
                "size": info.file_size,
                "digest": info.sha256,
                "details": {
                    "format": "gguf",
                    "family": info.architecture,
                    "families": [info.architecture],
                    "parameter_size": format!("{:.1}M", info.parameters as f64 / 1e6),
                    "quantization_level": info.quantization,
                },
            })
        })
        .collect();
    Json(json!({ "models": models })).into_response()
}

/// `POST /api/chat`
pub(crate) async fn chat(State(state): State<AppState>, body: Bytes) -> Response {
    let request: ChatBody = match parse(&body, "chat") {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if request.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return error(StatusCode::BAD_REQUEST, "tools are not supported by this model");
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for m in &request.messages {
        if m.images.as_ref().is_some_and(|i| !i.is_empty()) {
            return error(StatusCode::BAD_REQUEST, "images are not supported by this model");
        }
        match m.role.as_str() {
            "system" | "user" | "assistant" | "tool" => messages.push(ChatMessage::new(&m.role, &m.content)),
            other => return error(StatusCode::BAD_REQUEST, format!("unknown message role {other:?}")),
        }
    }
    if messages.is_empty() {
        // Ollama answers an empty chat by loading the model: say it is ready.
        return match service(&state, &request.model).await {
            Ok(service) => Json(json!({
                "model": service.engine().info().id,
                "created_at": rfc3339(SystemTime::now()),
                "message": { "role": "assistant", "content": "" },
                "done": true,
                "done_reason": "load",
            }))
            .into_response(),
            Err(response) => response,
        };
    }
    let stream = request.stream.unwrap_or(true);
    answer(state, &request.model, RequestInput::Chat(messages), &request.options, stream, Kind::Chat).await
}

/// `POST /api/generate`: a prompt (with an optional system message) in the model's chat format,
/// or with `raw` the prompt as it is.
pub(crate) async fn generate(State(state): State<AppState>, body: Bytes) -> Response {
    let request: GenerateBody = match parse(&body, "generate") {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if request.images.as_ref().is_some_and(|i| !i.is_empty()) {
        return error(StatusCode::BAD_REQUEST, "images are not supported by this model");
    }
    let input = if request.raw {
        // The prompt as it is, no template (and no system message, as Ollama does).
        RequestInput::Raw(request.prompt)
    } else {
        let mut messages = Vec::new();
        if let Some(system) = &request.system {
            messages.push(ChatMessage::new("system", system));
        }
        messages.push(ChatMessage::new("user", &request.prompt));
        RequestInput::Chat(messages)
    };
    answer(state, &request.model, input, &request.options, request.stream.unwrap_or(true), Kind::Generate)
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chat,
    Generate,
}

impl Kind {
    /// An object carrying `text` as this endpoint does.
    fn object(self, model: &str, text: &str, done: bool) -> Value {
        let mut object = json!({ "model": model, "created_at": rfc3339(SystemTime::now()), "done": done });
        match self {
            Kind::Chat => object["message"] = json!({ "role": "assistant", "content": text }),
            Kind::Generate => object["response"] = json!(text),
        }
        object
    }
}

async fn answer(
    state: AppState,
    model: &str,
    input: RequestInput,
    options: &Options,
    stream: bool,
    kind: Kind,
) -> Response {
    let service = match service(&state, model).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let engine = service.engine();
    let info = engine.info().clone();
    let prompt = match &input {
        RequestInput::Chat(messages) => engine.chat_prompt(messages),
        RequestInput::Raw(text) => engine.raw_prompt(text),
    };
    let prompt = match prompt {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let params = match sampling(options, prompt.len(), info.context_length) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let prepared = match engine.prepare(prompt, params) {
        Ok(p) => p,
        Err(e) if e.is_client_error() => return error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut events = match service.submit(input, prepared, None) {
        Ok(events) => events,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let id = info.id;
    if !stream {
        let mut text = String::new();
        let done = loop {
            match events.recv().await {
                Some(GenerationEvent::Text(t)) => text.push_str(&t),
                Some(GenerationEvent::Done(result)) => break result,
                None => return error(StatusCode::SERVICE_UNAVAILABLE, "the inference worker stopped"),
            }
        };
        return match done {
            Ok((generation, receipt)) => {
                let mut object = kind.object(&id, &generation.text, true);
                finish(&mut object, &generation, receipt.map(|r| json!(r)));
                Json(object).into_response()
            }
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    let lines = async_stream(events, id, kind);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(lines))
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "cannot stream"))
}

/// One JSON object per line as text arrives, then the final object with the statistics.
fn async_stream(
    events: tokio::sync::mpsc::UnboundedReceiver<GenerationEvent>,
    model: String,
    kind: Kind,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold(Some(events), move |events| {
        let model = model.clone();
        async move {
            let mut events = events?;
            let line = match events.recv().await {
                Some(GenerationEvent::Text(text)) => {
                    let line = kind.object(&model, &text, false);
                    return Some((Ok(ndjson(&line)), Some(events)));
                }
                Some(GenerationEvent::Done(Ok((generation, receipt)))) => {
                    let mut object = kind.object(&model, "", true);
                    finish(&mut object, &generation, receipt.map(|r| json!(r)));
                    object
                }
                Some(GenerationEvent::Done(Err(e))) => json!({ "error": e.to_string() }),
                None => return None,
            };
            Some((Ok(ndjson(&line)), None))
        }
    })
}

fn ndjson(value: &Value) -> Bytes {
    let mut line = value.to_string();
    line.push('\n');
    Bytes::from(line)
}

/// The final object's fields: why it ended, the counts and durations (nanoseconds), the receipt.
fn finish(object: &mut Value, generation: &Generation, receipt: Option<Value>) {
    let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    object["done_reason"] = json!(match generation.finish_reason {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::Cancelled => "stop",
    });
    object["total_duration"] = json!(ns(generation.prompt_time + generation.generation_time));
    object["load_duration"] = json!(0);
    object["prompt_eval_count"] = json!(generation.prompt_tokens);
    object["prompt_eval_duration"] = json!(ns(generation.prompt_time));
    object["eval_count"] = json!(generation.tokens.len());
    object["eval_duration"] = json!(ns(generation.generation_time));
    if let Some(receipt) = receipt {
        object["agora_receipt"] = receipt;
    }
}

/// A time as RFC 3339 UTC (`2026-12-06T04:43:26.123Z`).
fn rfc3339(time: SystemTime) -> String {
    let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    crate::a2a::timestamp(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_796_532_206_123);
        assert_eq!(rfc3339(t), "2026-12-06T04:43:26.123Z");
    }

    #[test]
    fn ollama_defaults_and_limits() {
        let p = sampling(&Options::default(), 10, 100).unwrap();
        assert_eq!(
            (p.temperature, p.top_p, p.top_k, p.repetition_penalty, p.max_tokens),
            (0.8, 0.9, 40, 1.1, 90)
        );
        let p = sampling(
            &Options { num_predict: Some(5), temperature: Some(0.0), ..Default::default() },
            10,
            100,
        )
        .unwrap();
        assert_eq!((p.max_tokens, p.temperature), (5, 0.0));
        assert!(sampling(&Options { num_predict: Some(0), ..Default::default() }, 10, 100).is_err());
        assert_eq!(untagged("smol:latest"), "smol");
        assert_eq!(untagged("smol:q8"), "smol:q8");
    }
}
