//! A2A v1.0 over its HTTP+JSON binding, on the public paid listener: the node's chat skill as
//! an A2A agent, for A2A clients such as the official `a2a-sdk`.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/message:send` | runs the model on the user's message, paid with x402 like `/v1/chat/completions`; answers `{"task": …}`, completed (or, with `configuration.returnImmediately`, as submitted) |
//! | `POST /v1/message:stream` | the same as server-sent events: the `task`, then `statusUpdate`s and `artifactUpdate`s as the model writes, until the task ends |
//! | `GET /v1/tasks/{id}` | the task (`?historyLength=N`); free. `job-<id>` is a job addressed to this node, read from the chain ([`job`]) |
//! | `POST /v1/tasks/{id}:cancel` | stops a task at work, charging what it generated; free |
//! | `POST /v1/tasks/{id}:subscribe` | the stream of a task at work; free |
//!
//! Requests carry `A2A-Version: 1.0` (a request without it is A2A 0.3's, and refused with
//! `VERSION_NOT_SUPPORTED`). Bodies are proto JSON (camelCase); answers are
//! `application/a2a+json`, errors a `google.rpc.Status` with an `ErrorInfo` naming the A2A error.
//!
//! A message is one user turn, of text parts: the model answers it alone (no `contextId`
//! carries a conversation over). It is priced exactly as the chat completion it amounts to: per
//! token, prompt and the most it may generate. The request's `metadata` may set that most and the
//! sampling: `maxTokens`, `temperature`, `topP`, `seed`. The answer is the task's artifact
//! `answer`; the task's `metadata.agora` holds the model, the usage, the settlement and the
//! signed inference receipt. Tasks are kept in the node's store: a finished task is there after
//! a restart, and one cut by a restart reads as failed.

mod error;
mod job;
mod run;
mod task;

pub(crate) use task::timestamp;

pub(crate) use run::Tasks;

use crate::{
    api::AppState,
    openai::{NotStarted, PaidRoute, start_paid_generation},
};
use error::{A2aError, a2a_json};
use run::Finished;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::{collections::HashMap, convert::Infallible};
use task::{TaskRecord, TaskState};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
};

const VERSION_HEADER: &str = "a2a-version";

/// `A2A-Version` (header, or query parameter) must name 1.x; none means 0.3.
fn check_version(headers: &HeaderMap, query: &HashMap<String, String>) -> Result<(), A2aError> {
    let found = headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            query.iter().find(|(k, _)| k.eq_ignore_ascii_case(VERSION_HEADER)).map(|(_, v)| v.as_str())
        })
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or("0.3");
    if found.split('.').next() == Some("1") { Ok(()) } else { Err(A2aError::version(found)) }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessageRequest {
    message: Option<WireMessage>,
    #[serde(default)]
    configuration: Option<Configuration>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Configuration {
    #[serde(default, alias = "accepted_output_modes")]
    accepted_output_modes: Vec<String>,
    #[serde(default, alias = "history_length")]
    history_length: Option<i64>,
    #[serde(default, alias = "return_immediately")]
    return_immediately: bool,
    #[serde(default, alias = "task_push_notification_config")]
    task_push_notification_config: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage {
    #[serde(default, alias = "message_id")]
    message_id: String,
    #[serde(default, alias = "context_id")]
    context_id: String,
    #[serde(default, alias = "task_id")]
    task_id: String,
    #[serde(default)]
    role: Value,
    #[serde(default)]
    parts: Vec<WirePart>,
}

#[derive(Debug, Deserialize)]
struct WirePart {
    text: Option<String>,
    raw: Option<Value>,
    url: Option<Value>,
    data: Option<Value>,
}

/// A validated `SendMessageRequest`.
struct Accepted {
    /// The user's message, as stored in the task's history.
    message: Value,
    context_id: String,
    /// The OpenAI chat request the message amounts to.
    chat: Vec<u8>,
    history_length: Option<usize>,
    return_immediately: bool,
}

/// Checks a `SendMessageRequest` and turns it into the chat request it amounts to.
fn accept(state: &AppState, body: &[u8]) -> Result<Accepted, A2aError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| A2aError::invalid_request(format!("the body is not JSON: {e}")))?;
    let request: SendMessageRequest = serde_json::from_value(value.clone())
        .map_err(|e| A2aError::invalid_request(format!("the body is not an A2A SendMessageRequest: {e}")))?;
    let message = request
        .message
        .ok_or_else(|| A2aError::invalid_params("`message` is required: the user's message"))?;
    let config = request.configuration.unwrap_or_default();
    if config.task_push_notification_config.is_some() {
        return Err(A2aError::push_not_supported());
    }
    let text_out = |mode: &String| {
        let essence = mode.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        matches!(essence.as_str(), "text/plain" | "text/*" | "*/*" | "text")
    };
    if !config.accepted_output_modes.is_empty() && !config.accepted_output_modes.iter().any(text_out) {
        return Err(A2aError::content_type(format!(
            "this agent answers in text/plain only, which acceptedOutputModes {:?} excludes",
            config.accepted_output_modes
        )));
    }
    if message.message_id.is_empty() {
        return Err(A2aError::invalid_params("`message.messageId` is required"));
    }
    let user = match &message.role {
        Value::String(role) => role == "ROLE_USER",
        Value::Number(n) => n.as_u64() == Some(1),
        _ => false,
    };
    if !user {
        return Err(A2aError::invalid_params(format!(
            "`message.role` must be \"ROLE_USER\", not {}",
            message.role
        )));
    }
    if !message.task_id.is_empty() {
        // Every task here ends (completed, failed or canceled) without asking for more input.
        let known = state
            .a2a_tasks()
            .live(&message.task_id)
            .map(|live| live.record())
            .or_else(|| TaskRecord::load(state.store(), &message.task_id).ok().flatten());
        return Err(match known {
            None => A2aError::task_not_found(&message.task_id),
            Some(task) => A2aError::unsupported(format!(
                "task {} is {} and takes no further messages; send a new message without taskId",
                task.id,
                task.state.as_str()
            )),
        });
    }
    let mut texts = Vec::with_capacity(message.parts.len());
    for (i, part) in message.parts.iter().enumerate() {
        match part {
            WirePart { text: Some(text), .. } => texts.push(text.as_str()),
            WirePart { raw: Some(_), .. }
            | WirePart { url: Some(_), .. }
            | WirePart { data: Some(_), .. } => {
                let kind = if part.raw.is_some() {
                    "raw"
                } else if part.url.is_some() {
                    "url"
                } else {
                    "data"
                };
                return Err(A2aError::content_type(format!(
                    "part {i} is a {kind} part; this agent reads text parts only"
                )));
            }
            _ => return Err(A2aError::invalid_params(format!("part {i} has no content"))),
        }
    }
    let text = texts.join("\n");
    if text.trim().is_empty() {
        return Err(A2aError::invalid_params("the message has no text"));
    }
    let chat = chat_request(&text, request.metadata.as_ref())?;
    let context_id = if message.context_id.is_empty() { task::new_id() } else { message.context_id.clone() };
    let history_length = match config.history_length {
        Some(n) if n < 0 => return Err(A2aError::invalid_params("historyLength must not be negative")),
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        None => None,
    };
    let stored = value.get("message").cloned().unwrap_or(Value::Null);
    Ok(Accepted {
        message: stored,
        context_id,
        chat,
        history_length,
        return_immediately: config.return_immediately,
    })
}

/// The chat completion request for `text`, with the sampling the request's metadata sets.
fn chat_request(text: &str, metadata: Option<&Map<String, Value>>) -> Result<Vec<u8>, A2aError> {
    let mut chat = json!({ "model": "default", "messages": [{ "role": "user", "content": text }] });
    let empty = Map::new();
    let metadata = metadata.unwrap_or(&empty);
    // Proto JSON carries Struct numbers as doubles: 16 may come as 16.0.
    let whole = |key: &str, min: f64| -> Result<Option<u64>, A2aError> {
        match metadata.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.fract() == 0.0 && n >= min && n < 9.007e15 => Ok(Some(n as u64)),
                _ => Err(A2aError::invalid_params(format!(
                    "metadata.{key} must be a whole number ≥ {min}, not {v}"
                ))),
            },
        }
    };
    let number = |key: &str| -> Result<Option<f64>, A2aError> {
        match metadata.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| A2aError::invalid_params(format!("metadata.{key} must be a number, not {v}"))),
        }
    };
    if let Some(n) = whole("maxTokens", 1.0)? {
        chat["max_tokens"] = json!(n);
    }
    if let Some(n) = whole("seed", 0.0)? {
        chat["seed"] = json!(n);
    }
    if let Some(t) = number("temperature")? {
        chat["temperature"] = json!(t);
    }
    if let Some(p) = number("topP")? {
        chat["top_p"] = json!(p);
    }
    Ok(serde_json::to_vec(&chat).unwrap_or_default())
}

/// Validates, prices and pays a message, and puts its task to work.
async fn start(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    path: &str,
    body: &[u8],
    listen: bool,
    reply: Option<tokio::sync::oneshot::Sender<Finished>>,
) -> Result<(Accepted, TaskRecord, Option<tokio::sync::mpsc::UnboundedReceiver<Value>>), Response> {
    check_version(headers, query).map_err(IntoResponse::into_response)?;
    let accepted = accept(state, body).map_err(IntoResponse::into_response)?;
    let route = PaidRoute { path, what: "A2A message", tags: &["inference", "llm", "a2a"], discovery: None };
    let generation =
        start_paid_generation(state, headers, &route, body, &accepted.chat).await.map_err(|e| match e {
            NotStarted::Invalid(error) => A2aError::from_api(&error).into_response(),
            NotStarted::Payment(response) => response,
        })?;
    let id = task::new_id();
    let mut message = accepted.message.clone();
    if let Some(object) = message.as_object_mut() {
        object.insert("taskId".into(), json!(id));
        object.insert("contextId".into(), json!(accepted.context_id));
    }
    let record = TaskRecord::submitted(id, accepted.context_id.clone(), message);
    let listener = state
        .a2a_tasks()
        .start(state.store().clone(), record.clone(), generation, listen, reply)
        .map_err(|e| A2aError::internal(format!("the task could not be stored: {e}")).into_response())?;
    Ok((accepted, record, listener))
}

/// `POST /v1/message:send`
pub(crate) async fn message_send(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (reply, finished) = tokio::sync::oneshot::channel();
    let (accepted, record, _) =
        match start(&state, &headers, &query, "/v1/message:send", &body, false, Some(reply)).await {
            Ok(started) => started,
            Err(response) => return response,
        };
    if accepted.return_immediately {
        // The task goes on; its settlement is recorded in its metadata when it ends.
        return a2a_json(StatusCode::OK, &json!({ "task": record.to_json(accepted.history_length) }));
    }
    let Ok(finished) = finished.await else {
        return A2aError::internal("the task stopped without an outcome").into_response();
    };
    if let Some(refusal) = finished.refusal {
        return refusal.into_response();
    }
    let mut response =
        a2a_json(StatusCode::OK, &json!({ "task": finished.record.to_json(accepted.history_length) }));
    if let Some(header) = finished.receipt.as_deref().and_then(crate::openai::receipt_header) {
        response.headers_mut().insert(agora_receipts::RECEIPT_HEADER, header);
    }
    if let Some(settlement) = &finished.settlement {
        agora_pay::paywall::attach_settlement(&mut response, settlement);
    }
    response
}

/// `POST /v1/message:stream`
pub(crate) async fn message_stream(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (accepted, record, listener) =
        match start(&state, &headers, &query, "/v1/message:stream", &body, true, None).await {
            Ok(started) => started,
            Err(response) => return response,
        };
    let first = json!({ "task": record.to_json(accepted.history_length) });
    sse(first, listener)
}

/// A stream of `StreamResponse`s: `first`, then what `updates` brings until it closes.
fn sse(first: Value, updates: Option<tokio::sync::mpsc::UnboundedReceiver<Value>>) -> Response {
    let first = futures_util::stream::once(async move { first });
    let rest = futures_util::stream::unfold(updates, |updates| async move {
        let mut updates = updates?;
        let next = updates.recv().await?;
        Some((next, Some(updates)))
    });
    let events = futures_util::StreamExt::map(futures_util::StreamExt::chain(first, rest), |event| {
        Ok::<_, Infallible>(Event::default().data(event.to_string()))
    });
    Sse::new(events).into_response()
}

/// The task with this id: at work, or in the store. A task the store says is at work, but that
/// is not, was cut by a restart: it is failed, and stored so.
fn find_task(state: &AppState, id: &str) -> Result<TaskRecord, A2aError> {
    if let Some(live) = state.a2a_tasks().live(id) {
        return Ok(live.record());
    }
    let stored = TaskRecord::load(state.store(), id)
        .map_err(|e| A2aError::internal(format!("the task store cannot be read: {e}")))?;
    let mut task = stored.ok_or_else(|| A2aError::task_not_found(id))?;
    // A task is at work before it is stored, and stored as ended before it stops being at
    // work: one stored as at work that is not was cut by a restart.
    if !task.state.is_terminal() {
        task.set_state(TaskState::Failed, Some("the node stopped before this task finished".into()));
        task.save(state.store()).map_err(|e| A2aError::internal(format!("the task store failed: {e}")))?;
    }
    Ok(task)
}

/// `GET /v1/tasks/{id}`
pub(crate) async fn get_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(job) = job::job_id(&id) {
        if let Err(e) = check_version(&headers, &query) {
            return e.into_response();
        }
        return match job::task(&state, job).await {
            Ok(task) => a2a_json(StatusCode::OK, &task),
            Err(e) => e.into_response(),
        };
    }
    let answer = || -> Result<Response, A2aError> {
        check_version(&headers, &query)?;
        let history_length = match query.get("historyLength") {
            None => None,
            Some(n) => match n.parse::<u64>() {
                Ok(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                Err(_) => {
                    return Err(A2aError::invalid_params(format!(
                        "historyLength must be a whole number ≥ 0, not {n:?}"
                    )));
                }
            },
        };
        let task = find_task(&state, &id)?;
        Ok(a2a_json(StatusCode::OK, &task.to_json(history_length)))
    };
    answer().unwrap_or_else(IntoResponse::into_response)
}

/// `POST /v1/tasks/{id}:cancel` and `POST /v1/tasks/{id}:subscribe`
pub(crate) async fn task_action(
    State(state): State<AppState>,
    Path(target): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = check_version(&headers, &query) {
        return e.into_response();
    }
    if let Some(id) = target.strip_suffix(":cancel") {
        return cancel(&state, id).await.unwrap_or_else(IntoResponse::into_response);
    }
    if let Some(id) = target.strip_suffix(":subscribe") {
        return match state.a2a_tasks().live(id) {
            Some(live) => {
                let (record, updates) = live.subscribe();
                sse(json!({ "task": record.to_json(None) }), Some(updates))
            }
            None => match find_task(&state, id) {
                Ok(task) => A2aError::unsupported(format!(
                    "task {id} is {} and sends no more updates; read it with GET tasks/{id}",
                    task.state.as_str()
                ))
                .into_response(),
                Err(e) => e.into_response(),
            },
        };
    }
    A2aError::unsupported(format!(
        "POST tasks/{target} is not an A2A operation: tasks/{{id}}:cancel and tasks/{{id}}:subscribe are"
    ))
    .into_response()
}

async fn cancel(state: &AppState, id: &str) -> Result<Response, A2aError> {
    let Some(live) = state.a2a_tasks().live(id) else {
        let task = find_task(state, id)?;
        return Err(A2aError::not_cancelable(id, task.state.as_str()));
    };
    let ended = live.cancel().await;
    let task = find_task(state, id)?;
    if ended != TaskState::Canceled {
        return Err(A2aError::not_cancelable(id, task.state.as_str()));
    }
    Ok(a2a_json(StatusCode::OK, &task.to_json(None)))
}

/// `GET /v1/tasks`: listing needs to know who asks, and a paid listener knows no one.
pub(crate) async fn list_tasks() -> Response {
    A2aError::unsupported(
        "tasks are not listed here: this listener knows no client identities, so each client keeps its task ids",
    )
    .into_response()
}

/// `…/pushNotificationConfigs…`
pub(crate) async fn push_configs() -> Response {
    A2aError::push_not_supported().into_response()
}

/// `GET /v1/extendedAgentCard`
pub(crate) async fn extended_card() -> Response {
    A2aError::extended_card_not_configured().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_task_cut_short_by_a_restart_reads_as_failed_and_a_finished_one_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(agora_store::Store::open_in(dir.path()).unwrap());
        let mut cut = TaskRecord::submitted("cut".into(), "c".into(), json!({}));
        cut.set_state(TaskState::Working, None);
        cut.save(&store).unwrap();
        let mut done = TaskRecord::submitted("done".into(), "c".into(), json!({}));
        done.answer = "hello".into();
        done.set_state(TaskState::Completed, None);
        done.save(&store).unwrap();

        let state = AppState::new(Arc::clone(&store));
        assert_eq!(find_task(&state, "cut").unwrap().state, TaskState::Failed);
        assert_eq!(
            TaskRecord::load(&store, "cut").unwrap().unwrap().state,
            TaskState::Failed,
            "and stored so"
        );
        let done = find_task(&state, "done").unwrap();
        assert_eq!((done.state, done.answer.as_str()), (TaskState::Completed, "hello"));
        assert!(find_task(&state, "nope").is_err());
    }

    #[test]
    fn sampling_comes_from_metadata_and_struct_doubles_are_whole_numbers() {
        let metadata = |v: Value| v.as_object().cloned().unwrap();
        let chat =
            chat_request("hi", Some(&metadata(json!({"maxTokens": 16.0, "temperature": 0, "seed": 7}))));
        let chat: Value = serde_json::from_slice(&chat.unwrap()).unwrap();
        assert_eq!(chat["max_tokens"], 16);
        assert_eq!(chat["seed"], 7);
        assert_eq!(chat["temperature"], 0.0);
        assert_eq!(chat["messages"][0], json!({"role": "user", "content": "hi"}));
        for bad in [json!({"maxTokens": 0}), json!({"maxTokens": 1.5}), json!({"temperature": "hot"})] {
            assert!(chat_request("hi", Some(&metadata(bad.clone()))).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a2a_1_is_spoken() {
        let mut headers = HeaderMap::new();
        let none = HashMap::new();
        assert!(check_version(&headers, &none).is_err(), "no version is 0.3");
        headers.insert(VERSION_HEADER, "1.0".parse().unwrap());
        assert!(check_version(&headers, &none).is_ok());
        headers.insert(VERSION_HEADER, "0.3".parse().unwrap());
        assert!(check_version(&headers, &none).is_err());
        let query = HashMap::from([("A2A-Version".to_owned(), "1.0".to_owned())]);
        assert!(check_version(&HeaderMap::new(), &query).is_ok());
    }
}
