//! The x402 facilitator routes: `/x402/verify`, `/x402/settle`, `/x402/supported`, answering in
//! x402's own shapes even for a body they cannot parse.

use super::{ApiError, AppState, checksummed};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

fn facilitator(state: &AppState) -> Result<&agora_pay::facilitator::Facilitator, ApiError> {
    state
        .inner
        .facilitator
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this node runs no x402 facilitator (it needs a chain)"))
}

pub(super) async fn x402_supported(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(checksummed(&facilitator(&state)?.supported()))
}

/// A facilitator request, or why not in x402's words: `invalid_payload` and the parser's message.
fn facilitator_request(body: &[u8]) -> Result<agora_pay::wire::FacilitatorRequest, serde_json::Error> {
    serde_json::from_slice(body)
}

/// `POST /x402/verify`. An unparsable body is answered as x402 facilitators do, with
/// `{"isValid": false, "invalidReason": "invalid_payload"}` (and a 400).
pub(super) async fn x402_verify(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let facilitator = facilitator(&state)?;
    match facilitator_request(&body) {
        Ok(request) => Ok(checksummed(&facilitator.verify(&request).await).into_response()),
        Err(message) => Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({
                "isValid": false,
                "invalidReason": agora_pay::wire::reason::INVALID_PAYLOAD,
                "invalidMessage": format!("not an x402 facilitator request: {message}"),
            })),
        )
            .into_response()),
    }
}

/// `POST /x402/settle`. An unparsable body is answered with x402's settle shape:
/// `{"success": false, "errorReason": "invalid_payload", "transaction": "", "network": …}`.
pub(super) async fn x402_settle(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let facilitator = facilitator(&state)?;
    match facilitator_request(&body) {
        Ok(request) => Ok(checksummed(&facilitator.settle(&request).await).into_response()),
        Err(message) => {
            let network = state
                .inner
                .chain
                .as_ref()
                .map(|(chain, _)| agora_pay::wire::caip2(chain.chain_id()))
                .unwrap_or_default();
            Ok((
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "success": false,
                    "errorReason": agora_pay::wire::reason::INVALID_PAYLOAD,
                    "errorMessage": format!("not an x402 facilitator request: {message}"),
                    "transaction": "",
                    "network": network,
                })),
            )
                .into_response())
        }
    }
}
