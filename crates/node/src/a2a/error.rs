//! A2A errors in the HTTP+JSON binding's shape: a `google.rpc.Status` whose `details` carry a
//! `google.rpc.ErrorInfo` naming the A2A error (`TASK_NOT_FOUND`, …), which clients map back to
//! their error types.

use crate::api::ApiError;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// The media type of the HTTP+JSON binding's bodies.
pub(crate) const A2A_JSON: &str = "application/a2a+json";

const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";
const A2A_DOMAIN: &str = "a2a-protocol.org";

/// An A2A error answer.
#[derive(Debug)]
pub(crate) struct A2aError {
    status: StatusCode,
    grpc: &'static str,
    reason: String,
    domain: &'static str,
    message: String,
}

impl A2aError {
    fn a2a(status: StatusCode, grpc: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self { status, grpc, reason: reason.to_owned(), domain: A2A_DOMAIN, message: message.into() }
    }

    pub(crate) fn task_not_found(id: &str) -> Self {
        Self::a2a(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "TASK_NOT_FOUND",
            format!("no task {id:?} on this node"),
        )
    }

    pub(crate) fn not_cancelable(id: &str, state: &str) -> Self {
        Self::a2a(
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
            "TASK_NOT_CANCELABLE",
            format!("task {id} is {state} and can no longer be canceled"),
        )
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::a2a(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION", message)
    }

    pub(crate) fn push_not_supported() -> Self {
        Self::a2a(
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
            "this agent sends no push notifications: stream the task (message:stream) or poll it (GET tasks/{id})",
        )
    }

    pub(crate) fn extended_card_not_configured() -> Self {
        Self::a2a(
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
            "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            "this agent has no extended agent card; its card is at /.well-known/agent-card.json",
        )
    }

    pub(crate) fn content_type(message: impl Into<String>) -> Self {
        Self::a2a(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "CONTENT_TYPE_NOT_SUPPORTED", message)
    }

    /// The body is not the JSON of the request it should be.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::a2a(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "INVALID_REQUEST", message)
    }

    /// The request is well-formed but a parameter is not acceptable.
    pub(crate) fn invalid_params(message: impl Into<String>) -> Self {
        Self::a2a(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "INVALID_PARAMS", message)
    }

    pub(crate) fn version(found: &str) -> Self {
        Self::a2a(
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
            "VERSION_NOT_SUPPORTED",
            format!(
                "A2A version {found} is not supported: this interface speaks A2A 1.0 (send the header `A2A-Version: 1.0`)"
            ),
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::a2a(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "INTERNAL_ERROR", message)
    }

    /// The chat path's refusal of the request the A2A message amounts to: a client error is
    /// A2A's `INVALID_PARAMS`; a full queue or a missing model keep their status, with the
    /// node's own reason.
    pub(crate) fn from_api(error: &ApiError) -> Self {
        let status = error.status();
        let message = error.message().to_owned();
        if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
            return Self::invalid_params(message);
        }
        let grpc = match status {
            StatusCode::TOO_MANY_REQUESTS => "RESOURCE_EXHAUSTED",
            StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        let reason = error.code().unwrap_or(error.kind()).to_ascii_uppercase();
        Self { status, grpc, reason, domain: "agora", message }
    }
}

impl IntoResponse for A2aError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "code": self.status.as_u16(),
                "status": self.grpc,
                "message": self.message,
                "details": [{
                    "@type": ERROR_INFO,
                    "reason": self.reason,
                    "domain": self.domain,
                    "metadata": {},
                }],
            }
        });
        a2a_json(self.status, &body)
    }
}

/// A JSON answer labelled with the binding's media type.
pub(crate) fn a2a_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(A2A_JSON));
    response
}
