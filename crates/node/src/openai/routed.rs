//! Chat completions answered by remote providers through the router: a model not served here
//! (`auto`, a remote model's name, or `agent:<id>/<model>`) is sent to a provider found on
//! chain, paid, and its receipt checked before the owner sees the answer; a share is
//! re-executed locally afterwards. Also the paid listener's free `GET /v1/models`, which is
//! how routers learn what a provider serves and charges.

use super::*;
use agora_router::{Answer, Outbound, RouteError, Router, Target};
use std::sync::Arc;

/// The fields of a chat request forwarded to a provider as they are.
const FORWARDED: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "seed",
    "stop",
];

/// Answers `body` through the router when its model is not one served here; `None` when the
/// local engine answers it.
pub(super) async fn route(state: &AppState, body: &[u8]) -> Option<Result<Response, ApiError>> {
    #[derive(Deserialize)]
    struct Named {
        model: Option<String>,
    }
    let router = state.router()?;
    let name = serde_json::from_slice::<Named>(body).ok()?.model?;
    if name == "default" || served_here(state, &name).await {
        return None;
    }
    let target = Target::parse(&name);
    if target == Target::Auto && !router.policy().auto_remote && state.inference().is_some() {
        return None;
    }
    let candidates = match router.candidates(target, &name).await {
        Ok(candidates) => candidates,
        // `auto` falls back to the local model when no provider may answer (or `auto` stays
        // local by policy).
        Err(_) if target == Target::Auto && state.inference().is_some() => return None,
        Err(e) => return Some(Err(route_error(e))),
    };
    Some(remote(state, router, candidates, body, &name).await)
}

async fn served_here(state: &AppState, name: &str) -> bool {
    match state.models() {
        Some(models) => models.infos().await.iter().any(|i| i.id == name),
        None => state.inference().is_some_and(|s| s.engine().info().id == name),
    }
}

fn route_error(e: RouteError) -> ApiError {
    let message = e.to_string();
    match e {
        RouteError::LocalOnly(_) => ApiError::new(StatusCode::FORBIDDEN, "permission_error", message)
            .with_param(Some("model"))
            .with_code("local_only"),
        RouteError::NoProvider { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                .with_param(Some("model"))
                .with_code("model_not_found")
        }
        RouteError::Refused { .. } => ApiError::new(StatusCode::FORBIDDEN, "permission_error", message)
            .with_param(Some("model"))
            .with_code("provider_refused"),
        RouteError::Payment(_) => {
            ApiError::new(StatusCode::FORBIDDEN, "permission_error", message).with_code("payment_not_allowed")
        }
        RouteError::AllFailed(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", message).with_code("providers_failed")
        }
    }
}

async fn remote(
    state: &AppState,
    router: &Arc<Router>,
    candidates: Vec<(agora_router::Provider, agora_router::RemoteModel)>,
    body: &[u8],
    requested: &str,
) -> Result<Response, ApiError> {
    let request: ChatRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!("the request body is not a valid chat completion request: {e}"), None)
    })?;
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("only n = 1 is supported", Some("n")));
    }
    let (stream, include_usage) =
        (request.stream, request.stream_options.as_ref().is_some_and(|o| o.include_usage));
    let max_tokens = request.max_completion_tokens.or(request.sampling.max_tokens);
    let seed = request.sampling.seed;
    let messages = conversation(request.messages)?;
    if messages.is_empty() {
        return Err(ApiError::invalid("messages must not be empty", Some("messages")));
    }
    let raw: Value = serde_json::from_slice(body).unwrap_or_default();
    let mut out = json!({ "messages": messages });
    for key in FORWARDED {
        if let Some(value) = raw.get(*key).filter(|v| !v.is_null()) {
            out[*key] = value.clone();
        }
    }
    let outbound = Outbound {
        messages,
        body: out,
        seed,
        max_tokens: max_tokens.map(|m| usize::try_from(m).unwrap_or(usize::MAX)),
    };
    let answer = router.call(candidates, &outbound).await.map_err(route_error)?;
    let rechecked = crate::routing::maybe_recheck(state, router, &answer).await;
    let route = route_note(&answer, rechecked);
    let mut body = answer.body.clone();
    body["model"] = json!(requested);
    body["agora_route"] = route;
    if stream {
        return Ok(replay(body, include_usage).into_response());
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    if let Some(header) = receipt_header(&answer.receipt) {
        response.headers_mut().insert(RECEIPT_HEADER, header);
    }
    Ok(response)
}

/// What the owner learns of the route an answer took (`agora_route`).
fn route_note(answer: &Answer, rechecked: bool) -> Value {
    json!({
        "agentId": answer.provider.agent_id,
        "provider": answer.provider.name,
        "wallet": answer.provider.wallet.to_checksum(None),
        "model": agora_router::qualified(&answer.provider.agent_id, &answer.model.id),
        "charged": answer.charged.map(|c| c.to_string()),
        "scheme": answer.scheme,
        "latencyMs": answer.latency.as_millis() as u64,
        "receiptChecked": true,
        "reexecuting": rechecked,
        "failedOver": answer.failed,
    })
}

/// A remote answer as server-sent events: the text in one chunk, then the finish reason with
/// the receipt and the route, then usage when asked for. The provider is called without
/// streaming, so the receipt is checked before the first byte reaches the owner.
fn replay(
    body: Value,
    include_usage: bool,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let id = body["id"].clone();
    let model = body["model"].clone();
    let created = body["created"].clone();
    let choice = &body["choices"][0];
    let text = choice["message"]["content"].as_str().unwrap_or_default().to_owned();
    let finish = choice["finish_reason"].clone();
    let chunk = |choices: Value| json!({ "id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices });
    let mut events = vec![chunk(
        json!([{ "index": 0, "delta": { "role": "assistant", "content": text }, "logprobs": null, "finish_reason": null }]),
    )];
    let mut last = chunk(json!([{ "index": 0, "delta": {}, "logprobs": null, "finish_reason": finish }]));
    last["agora_receipt"] = body["agora_receipt"].clone();
    last["agora_route"] = body["agora_route"].clone();
    events.push(last);
    if include_usage {
        let mut usage = chunk(json!([]));
        usage["usage"] = body["usage"].clone();
        events.push(usage);
    }
    let events: Vec<Result<Event, Infallible>> = events
        .into_iter()
        .map(|e| Ok(Event::default().data(e.to_string())))
        .chain(std::iter::once(Ok(Event::default().data("[DONE]"))))
        .collect();
    Sse::new(futures_util::stream::iter(events))
}

/// The remote models the router knows, as `/v1/models` entries named `agent:<id>/<model>`.
pub(super) async fn remote_models(router: &Router) -> Vec<Value> {
    let mut data = Vec::new();
    for provider in router.providers().await {
        for model in &provider.models {
            let id = agora_router::qualified(&provider.agent_id, &model.id);
            data.push(json!({
                "id": id,
                "object": "model",
                "created": 0,
                "owned_by": provider.name.clone().unwrap_or_else(|| format!("agent {}", provider.agent_id)),
                "agora": {
                    "remote": true,
                    "model": model.id,
                    "sha256": model.sha256,
                    "agentId": provider.agent_id,
                    "wallet": provider.wallet.to_checksum(None),
                    "endpoint": provider.endpoint,
                    "pricePerToken": provider.price_per_token.to_string(),
                    "maxPerRequest": provider.max_per_request.to_string(),
                    "reputation": provider.reputation,
                    "ratings": provider.ratings,
                    "latencyMs": provider.latency_ms,
                    "marked": provider.marked,
                    "attestation": provider.attestation,
                    "attestationError": provider.attestation_error,
                },
            }));
        }
    }
    data
}

/// `GET /v1/models` on the paid listener (free): the models sold here with their price, which
/// routers read to choose a provider.
pub(crate) async fn paid_models(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let pricing = state.pricing();
    let paywall = state.paywall().ok_or_else(|| ApiError::unavailable("paid access is off on this node"))?;
    let price = json!({
        "per_token": pricing.price_per_token.to_string(),
        "max_per_request": pricing.max_per_request.to_string(),
        "asset": paywall.config().asset.to_checksum(None),
        "network": paywall.network(),
    });
    let mut data = local_models(&state).await?;
    for entry in &mut data {
        entry["agora"]["price"] = price.clone();
        // Where the file lies on this machine is nobody else's business.
        if let Some(agora) = entry["agora"].as_object_mut() {
            agora.remove("path");
        }
    }
    Ok(Json(json!({ "object": "list", "data": data })))
}
