//! Resolving registration files: `data:` URIs locally, `http(s)` with the index's limits.

use super::{Indexer, Resolved};
use crate::{FetchError, REGISTRATION_TYPE, read_registration};
use agora_store::rusqlite::OptionalExtension;
use alloy::primitives::U256;
use serde_json::Value;
use std::{collections::BTreeSet, net::IpAddr};

impl Indexer {
    /// Resolves an agent's registration file (and A2A card), for the index.
    pub(super) async fn resolve(&self, agent_id: &str) -> Option<Resolved> {
        let chain_id = self.chain_id();
        let uri: Option<String> = self
            .store
            .read(|c| {
                c.query_row(
                    "SELECT uri FROM agents WHERE chain_id = ?1 AND agent_id = ?2",
                    (chain_id, agent_id),
                    |r| r.get(0),
                )
                .optional()
            })
            .ok()
            .flatten();
        let uri = uri?;
        let id = agent_id.parse::<U256>().unwrap_or_default();
        let outcome = self.fetch_registration(id, &uri).await;
        let (file, error) = match outcome {
            Ok(file) => (Some(file), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let mut skills = BTreeSet::new();
        if let Some(file) = &file {
            for service in file["services"].as_array().into_iter().flatten() {
                if let Some(name) = service["name"].as_str() {
                    skills.insert(name.to_ascii_lowercase());
                }
                if service["name"] == "A2A"
                    && let Some(endpoint) = service["endpoint"].as_str()
                    && let Ok(card) = self.fetch_json(endpoint).await
                {
                    for skill in card["skills"].as_array().into_iter().flatten() {
                        for key in ["id"].iter().filter_map(|k| skill[*k].as_str()) {
                            skills.insert(key.to_ascii_lowercase());
                        }
                        for tag in skill["tags"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                            skills.insert(tag.to_ascii_lowercase());
                        }
                    }
                }
            }
        }
        let skills = if skills.is_empty() {
            String::new()
        } else {
            format!(",{},", skills.into_iter().collect::<Vec<_>>().join(","))
        };
        let name = file.as_ref().and_then(|f| f["name"].as_str().map(str::to_owned));
        let description = file.as_ref().and_then(|f| f["description"].as_str().map(str::to_owned));
        let active = file.as_ref().map(|f| f["active"].as_bool().unwrap_or(true));
        if let Some(reason) = &error {
            tracing::info!(target: "agora::index", agent = agent_id, %reason, "registration file not resolved");
        }
        let registration = file.map(|f| f.to_string());
        Some(Resolved {
            agent_id: agent_id.to_owned(),
            name,
            description,
            active,
            skills,
            registration,
            error,
        })
    }

    async fn fetch_registration(&self, agent_id: U256, uri: &str) -> std::result::Result<Value, FetchError> {
        if uri.is_empty() {
            return Err(FetchError::NoUri);
        }
        if uri.starts_with("data:") {
            return read_registration(agent_id, uri)
                .map_err(|e| FetchError::DataUri(Box::new(e)))?
                .ok_or(FetchError::UnsupportedDataUri);
        }
        let file = self.fetch_json(uri).await?;
        if file.get("type").and_then(Value::as_str) != Some(REGISTRATION_TYPE) {
            return Err(FetchError::NotRegistration);
        }
        Ok(file)
    }

    /// GETs a JSON document with the index's limits.
    async fn fetch_json(&self, url: &str) -> std::result::Result<Value, FetchError> {
        let parsed = reqwest::Url::parse(url)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::Scheme(parsed.scheme().to_owned()));
        }
        if !self.config.allow_private_fetch && is_private_host(&parsed) {
            return Err(FetchError::PrivateHost(parsed.host_str().unwrap_or("").to_owned()));
        }
        let mut response = self.http.get(parsed).send().await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > self.config.max_file_bytes {
                return Err(FetchError::TooLarge(self.config.max_file_bytes));
            }
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

/// Loopback, private, link-local and unspecified addresses, and `localhost`.
pub fn is_private_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(::url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(::url::Host::Ipv4(ip)) => is_private_ip(IpAddr::V4(ip)),
        Some(::url::Host::Ipv6(ip)) => is_private_ip(IpAddr::V6(ip)),
        None => true,
    }
}

fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}
