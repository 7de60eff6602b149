//! The JSON-RPC proxy between a wallet and its node, deny by default: the read-only methods of
//! [`READ_ONLY_METHODS`](crate::request::READ_ONLY_METHODS) are forwarded unchanged, the methods
//! that sign or send are checked first and refused (EIP-1193 code 4001) when the verdict reaches
//! the blocking level, and every other method is refused ([`METHOD_REFUSED`]). A batch is judged
//! element by element.

use crate::{
    Guard, GuardError, GuardRequest, Level, Verdict, explain, lists,
    request::{MethodPolicy, policy, refusal_reason, sends},
};
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

/// EIP-1193 "user rejected the request".
pub const USER_REJECTED: i64 = 4001;
/// The request could not be checked, so it was not forwarded.
pub const NOT_CHECKED: i64 = -32_003;
/// Malformed params.
pub const INVALID_PARAMS: i64 = -32_602;
/// The method is neither read-only nor one the guard checks (EIP-1474 "method not available").
pub const METHOD_REFUSED: i64 = -32_601;
/// Not a JSON-RPC request object.
pub const INVALID_REQUEST: i64 = -32_600;
/// The upstream node failed or answered something that is not JSON-RPC.
pub const UPSTREAM_FAILED: i64 = -32_603;

/// How the proxy behaves.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The node requests go to.
    pub upstream: String,
    /// Verdicts at or above this level are refused.
    pub block_level: Level,
    /// Ask the owner (the router's asker) instead of refusing outright.
    pub confirm: bool,
    /// Forward requests the guard could not check (fail open). Off by default.
    pub allow_unchecked: bool,
    /// The node API whose local model writes a summary of each refusal.
    pub explain: Option<String>,
}

/// Asks the user about a verdict (with `confirm`); `true` forwards the request. It runs on a
/// blocking thread: it may wait for the user.
pub type Asker = Arc<dyn Fn(Verdict) -> bool + Send + Sync>;

struct ProxyState {
    guard: Guard,
    config: ProxyConfig,
    http: reqwest::Client,
    prompt: tokio::sync::Mutex<()>,
    asker: Asker,
}

/// The proxy's router: `POST /` takes JSON-RPC (single or batch). With `confirm`, the user is
/// asked on the terminal.
pub fn router(guard: Guard, config: ProxyConfig) -> Router {
    router_with_asker(guard, config, Arc::new(ask_terminal))
}

/// The router with another way of asking the user (a GUI, a test).
pub fn router_with_asker(guard: Guard, config: ProxyConfig, asker: Asker) -> Router {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap_or_default();
    let state = Arc::new(ProxyState { guard, config, http, prompt: tokio::sync::Mutex::new(()), asker });
    Router::new().route("/", post(handle)).with_state(state)
}

/// An error and its sources in one line, for the wallet's JSON-RPC message.
fn report(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        out.push_str(": ");
        out.push_str(&source.to_string());
        next = source.source();
    }
    out
}

fn rpc_error(id: &Value, code: i64, message: String, data: Option<Value>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

async fn handle(State(state): State<Arc<ProxyState>>, headers: HeaderMap, body: Bytes) -> Response {
    let origin = headers
        .get("x-agora-origin")
        .or_else(|| headers.get(header::ORIGIN))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return json_response(rpc_error(&Value::Null, -32_700, format!("parse error: {e}"), None)),
    };
    let read_only = |v: &Value| {
        v.get("method").and_then(Value::as_str).is_some_and(|m| policy(m) == MethodPolicy::ReadOnly)
    };
    let all_read_only = match &parsed {
        Value::Array(items) => !items.is_empty() && items.iter().all(read_only),
        single => read_only(single),
    };
    if all_read_only {
        // Ordinary traffic passes through byte for byte.
        return match forward_raw(&state, body).await {
            Ok((status, bytes)) => {
                (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
            }
            Err(e) => json_response({
                let message = report(&e);
                match &parsed {
                    Value::Array(items) => Value::Array(
                        items
                            .iter()
                            .map(|item| {
                                rpc_error(
                                    item.get("id").unwrap_or(&Value::Null),
                                    UPSTREAM_FAILED,
                                    message.clone(),
                                    None,
                                )
                            })
                            .collect(),
                    ),
                    single => {
                        rpc_error(single.get("id").unwrap_or(&Value::Null), UPSTREAM_FAILED, message, None)
                    }
                }
            }),
        };
    }
    match parsed {
        Value::Array(items) if items.is_empty() => {
            json_response(rpc_error(&Value::Null, INVALID_REQUEST, "empty batch".into(), None))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(one(&state, item, origin.clone()).await);
            }
            json_response(Value::Array(out))
        }
        single => json_response(one(&state, single, origin).await),
    }
}

fn json_response(v: Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

async fn forward_raw(state: &ProxyState, body: Bytes) -> Result<(StatusCode, Bytes), GuardError> {
    let upstream = &state.config.upstream;
    let response = state
        .http
        .post(upstream)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| GuardError::Forward {
            upstream: upstream.clone(),
            what: "is unreachable".into(),
            source: Some(e),
        })?;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_owned();
    let bytes = response.bytes().await.map_err(|e| GuardError::Forward {
        upstream: upstream.clone(),
        what: "failed mid-answer".into(),
        source: Some(e),
    })?;
    // Whatever reaches the wallet is JSON-RPC: an error page (a proxy's HTML, a rate limiter's
    // text) becomes a JSON-RPC error, never a body labelled application/json that is not JSON.
    if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
        let excerpt: String = String::from_utf8_lossy(&bytes[..bytes.len().min(120)])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        return Err(GuardError::Forward {
            upstream: upstream.clone(),
            what: format!(
                "answered {content_type} (HTTP {}) instead of JSON-RPC: {:?}",
                status.as_u16(),
                excerpt.trim()
            ),
            source: None,
        });
    }
    Ok((status, bytes))
}

async fn forward(state: &ProxyState, request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    match forward_raw(state, Bytes::from(request.to_string())).await {
        Ok((_, bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            rpc_error(&id, UPSTREAM_FAILED, format!("upstream answered garbage: {e}"), None)
        }),
        Err(e) => rpc_error(&id, UPSTREAM_FAILED, report(&e), None),
    }
}

/// The answer to a method that is neither read-only nor checked.
fn refused(id: &Value, method: &str) -> Value {
    let reason = refusal_reason(method);
    rpc_error(
        id,
        METHOD_REFUSED,
        format!("agora guard refused {method}: {reason}"),
        Some(json!({ "method": method, "reason": reason, "policy": "deny by default" })),
    )
}

async fn one(state: &ProxyState, mut request: Value, origin: Option<String>) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str).map(str::to_owned) else {
        return rpc_error(
            &id,
            INVALID_REQUEST,
            "agora guard: not a JSON-RPC request (no method)".into(),
            None,
        );
    };
    match policy(&method) {
        MethodPolicy::ReadOnly => return forward(state, &request).await,
        MethodPolicy::Refused => {
            tracing::info!(%method, "refused: not on the allow list");
            return refused(&id, &method);
        }
        MethodPolicy::Checked => {}
    }
    // A transaction without `from` is sent from the node's first account: check that one.
    let node_signs = !matches!(
        method.as_str(),
        "eth_sendRawTransaction" | "eth_sendRawTransactionSync" | "personal_sign" | "eth_sign"
    ) && !method.starts_with("eth_signTypedData");
    if node_signs && request["params"][0].is_object() && request["params"][0].get("from").is_none() {
        let accounts =
            forward(state, &json!({"jsonrpc": "2.0", "id": 0, "method": "eth_accounts", "params": []})).await;
        if let Some(first) = accounts["result"].get(0) {
            request["params"][0]["from"] = first.clone();
        }
    }
    let mut guard_request = GuardRequest::new(&method, request.get("params").cloned().unwrap_or(Value::Null));
    guard_request.origin = origin;
    let mut verdict = match state.guard.check(&guard_request).await {
        Ok(v) => v,
        Err(GuardError::BadRequest(why)) => {
            return rpc_error(&id, INVALID_PARAMS, format!("agora guard: {why}; not forwarded"), None);
        }
        Err(e) if state.config.allow_unchecked => {
            tracing::warn!(%method, error = %e, "forwarding a request the guard could not check (--allow-unchecked)");
            return forward(state, &request).await;
        }
        Err(e) => {
            return rpc_error(
                &id,
                NOT_CHECKED,
                format!(
                    "agora guard could not check this request ({}); it was not forwarded. Start the guard with --allow-unchecked to forward such requests anyway",
                    report(&e)
                ),
                None,
            );
        }
    };
    tracing::info!(%method, level = %verdict.level, findings = verdict.findings.len(), ms = verdict.elapsed_ms, "checked");
    if verdict.level >= state.config.block_level {
        if let Some(api) = &state.config.explain {
            match explain::summarize(&state.http, api, &verdict, 96).await {
                Ok(summary) => verdict.summary = Some(summary),
                Err(e) => tracing::warn!(error = %e, "no summary from the local model"),
            }
        }
        let allowed = state.config.confirm && ask(state, &verdict).await;
        if !allowed {
            let data = serde_json::to_value(&verdict).unwrap_or(Value::Null);
            return rpc_error(
                &id,
                USER_REJECTED,
                format!("agora guard refused this request: {}", verdict.reason()),
                Some(data),
            );
        }
    }
    let response = forward(state, &request).await;
    // The verdict names who the send pays: the request is not parsed or decoded again here.
    if response.get("result").is_some()
        && sends(&method)
        && let Some(store) = state.guard.store()
        && let Err(e) = lists::record_history(store, &verdict.recipients)
    {
        tracing::warn!(error = %e, "could not record the send history");
    }
    response
}

/// Shows the report and asks; one question at a time.
async fn ask(state: &ProxyState, verdict: &Verdict) -> bool {
    let _turn = state.prompt.lock().await;
    let verdict = verdict.clone();
    let asker = state.asker.clone();
    tokio::task::spawn_blocking(move || asker(verdict)).await.unwrap_or(false)
}

/// Prints the verdict's report on stderr and reads the answer from the terminal (or standard
/// input): the default asker.
pub fn ask_terminal(verdict: Verdict) -> bool {
    use std::io::{BufRead, Write};
    let report = verdict.report();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\n{report}\nSign anyway? Type 'yes' to forward it to the node, anything else refuses: "
    );
    let _ = err.flush();
    let mut line = String::new();
    let read = match std::fs::File::open("/dev/tty").map(std::io::BufReader::new) {
        Ok(mut tty) => tty.read_line(&mut line),
        Err(_) => std::io::stdin().lock().read_line(&mut line),
    };
    read.is_ok() && line.trim().eq_ignore_ascii_case("yes")
}
