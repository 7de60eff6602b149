//! A refused payment and its HTTP answer: status, reason code, message and the 402 requirements.

use crate::wire::{self, PaymentRequired};
use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// A refused payment: the status (402, 400 or 503), a reason code, a message, and the
/// requirements to send back.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable reason ([`wire::reason`]).
    pub reason: &'static str,
    /// For people.
    pub message: String,
    /// The 402's requirements (with channel state for a corrective 402).
    pub required: Option<Box<PaymentRequired>>,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self { status, reason, message: message.into(), required: None }
    }

    pub(super) fn payment(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, reason, message)
    }

    pub(super) fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    pub(super) fn chain(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_unavailable",
            format!("the settlement chain cannot be reached: {message}"),
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({
            "error": {
                "message": self.message,
                "type": "payment_error",
                "code": self.reason,
            },
        });
        let mut headers = HeaderMap::new();
        if let Some(mut required) = self.required {
            required.error = Some(self.reason.to_owned());
            if let Ok(value) = HeaderValue::from_str(&wire::encode_header(&required)) {
                headers.insert(wire::PAYMENT_REQUIRED_HEADER, value);
            }
            body["x402Version"] = json!(2);
            body["accepts"] = json!(required.accepts);
            body["resource"] = json!(required.resource);
        }
        (self.status, headers, Json(body)).into_response()
    }
}
