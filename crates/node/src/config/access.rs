//! Who may use the owner's API: the bearer token and the allowed web origins.

use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The owner's API token: compared in constant time, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself; only for clients that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the token, in time that does not depend on where they differ.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        if expected.len() != candidate.len() {
            return false;
        }
        expected.iter().zip(candidate).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// The shortest API token accepted.
pub const MIN_API_TOKEN_LEN: usize = 16;

/// Who may use the owner's API, beyond reaching its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiAccess {
    /// When set, every request must carry `Authorization: Bearer <token>`, and the API may listen
    /// on any address.
    pub token: Option<ApiToken>,
    /// Origins allowed besides the API's own (`scheme://host[:port]`, no trailing slash).
    pub allowed_origins: Vec<String>,
}

impl ApiAccess {
    /// Refuses a listen address beyond loopback unless a token guards the API: without one,
    /// anyone who can reach the address could run generations and settle payments.
    pub fn check_listen(&self, listen: SocketAddr) -> Result<(), ConfigError> {
        if listen.ip().is_loopback() || self.token.is_some() {
            return Ok(());
        }
        Err(ConfigError::Invalid(format!(
            "api.listen {listen} is not a loopback address, and the owner's API has no authentication; \
             set an API token ([api] token, AGORA_API_TOKEN or --api-token, at least {MIN_API_TOKEN_LEN} \
             characters) so that every request must carry `Authorization: Bearer <token>`, or listen on \
             127.0.0.1"
        )))
    }
}

/// Validates the token and the allowed origins.
pub(super) fn api_access(token: Option<ApiToken>, origins: Vec<String>) -> Result<ApiAccess, ConfigError> {
    if let Some(token) = &token {
        let t = token.expose();
        if t.len() < MIN_API_TOKEN_LEN || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::Invalid(format!(
                "api.token must be at least {MIN_API_TOKEN_LEN} characters without spaces \
                 (e.g. `openssl rand -hex 32`)"
            )));
        }
    }
    let mut allowed_origins = Vec::with_capacity(origins.len());
    for origin in origins {
        let trimmed = origin.trim_end_matches('/');
        let rest = trimmed.strip_prefix("http://").or_else(|| trimmed.strip_prefix("https://"));
        if rest.is_none_or(|host| host.is_empty() || host.contains(['/', '?', '#', ' '])) {
            return Err(ConfigError::Invalid(format!(
                "api.allowed_origins: {origin:?} is not an origin; write scheme://host[:port], \
                 e.g. https://app.example"
            )));
        }
        allowed_origins.push(trimmed.to_ascii_lowercase());
    }
    Ok(ApiAccess { token, allowed_origins })
}
