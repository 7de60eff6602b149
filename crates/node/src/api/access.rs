//! Who may call the owner's API, and the request shapes every route accepts: loopback `Host`s
//! and same-origin pages only (or a bearer token), JSON bodies on every `POST`, and errors in
//! one JSON shape.

use super::{ApiError, AppState};
use crate::config::ApiAccess;
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Refuses what a web page could send to the owner's API: a foreign `Host` (DNS rebinding) or
/// `Origin` (a cross-site request), or, with a token configured, a request without it.
pub async fn owner_access(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check_access(&state.inner.access, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            let challenge = refusal.status() == StatusCode::UNAUTHORIZED;
            let mut response = refusal.into_response();
            if challenge {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

fn check_access(access: &ApiAccess, headers: &HeaderMap) -> Result<(), ApiError> {
    let forbidden = |message: String| {
        ApiError::new(StatusCode::FORBIDDEN, "permission_error", message).with_code("forbidden")
    };
    let host = match headers.get(header::HOST).map(HeaderValue::to_str) {
        None => None,
        Some(Ok(host)) => Some(host),
        Some(Err(_)) => return Err(forbidden("the Host header is not readable".into())),
    };
    match &access.token {
        Some(token) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, value)| value.trim());
            if !presented.is_some_and(|value| token.matches(value.as_bytes())) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication_error",
                    "this node's API needs `Authorization: Bearer <token>` (the [api] token it was started with)",
                )
                .with_code("invalid_api_key"));
            }
        }
        None => {
            // Browsers always send Host; a name other than loopback means a page on another
            // site reached this API through DNS rebinding.
            if let Some(host) = host.filter(|h| !is_loopback_host(h)) {
                return Err(forbidden(format!(
                    "Host {host:?} is not this node's loopback address; the owner's API answers only \
                     127.0.0.1, localhost and [::1] (set an [api] token to serve other names)"
                )));
            }
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !origin_allowed(origin, host, &access.allowed_origins) {
            return Err(forbidden(format!(
                "Origin {origin:?} may not call this node's API: only its own origin and [api] allowed_origins may"
            )));
        }
    }
    Ok(())
}

/// `127.0.0.1`, any `127.x.y.z`, `localhost`, `[::1]`, each with an optional port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || is_port(port) => return is_loopback_ip(ip),
            _ => return false,
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || is_loopback_ip(name)
}

fn is_port(suffix: &str) -> bool {
    suffix.strip_prefix(':').unwrap_or(suffix).parse::<u16>().is_ok()
}

fn is_loopback_ip(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The API's own origin (`http://` or `https://` and the `Host` it was reached at), or one the
/// owner allowed. `null` (sandboxed pages, files) is never allowed.
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(host) = host else { return false };
    ["http://", "https://"].iter().any(|scheme| {
        origin.len() == scheme.len() + host.len()
            && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
            && origin[scheme.len()..].eq_ignore_ascii_case(host)
    })
}

/// Requests with a body must be JSON: `application/json` or a `+json` type such as A2A's
/// `application/a2a+json`, parameters (a charset) allowed; none of them can be sent cross-site
/// without a CORS preflight. (A bodiless `POST` that only triggers something is left to the
/// `Origin` rule.)
pub(super) async fn require_json(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|len| len.trim() != "0");
    let writes = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH);
    if writes && has_body {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json_content_type) {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                format!(
                    "expected Content-Type: application/json, got {}",
                    content_type.map_or_else(|| "none".to_owned(), |c| format!("{c:?}"))
                ),
            )
            .with_code("unsupported_media_type")
            .into_response();
        }
    }
    next.run(request).await
}

fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|sub| sub.len() > 5 && sub.ends_with("+json"))
}

/// Gives every error the API's JSON shape, including those axum answers by itself (extractor
/// rejections, a body over the limit), which come as plain text or empty.
pub(super) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| is_json_content_type(c) || c.starts_with("text/event-stream"));
    // A 402 is the paywall's, with its own x402 headers; it is left as it is.
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || status == StatusCode::PAYMENT_REQUIRED
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message =
        if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
    let (kind, code) = match status {
        StatusCode::NOT_FOUND => ("not_found", None),
        StatusCode::PAYLOAD_TOO_LARGE => ("invalid_request_error", Some("request_too_large")),
        StatusCode::METHOD_NOT_ALLOWED => ("invalid_request_error", Some("method_not_allowed")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("invalid_request_error", Some("unsupported_media_type")),
        s if s.is_client_error() => ("invalid_request_error", None),
        _ => ("server_error", None),
    };
    let mut error = ApiError::new(status, kind, message);
    error.code = code;
    let mut answer = error.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}
