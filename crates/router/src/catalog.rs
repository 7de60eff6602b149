//! The providers the router knows: agents in the discovery index that sell chat completions,
//! with the models and prices their paid listeners publish (`GET /v1/models` there is free), the
//! reputation trusted raters gave them, and the latency measured here.

use crate::Policy;
use agora_agents::IndexedAgent;
use agora_store::Store;
use alloy::primitives::Address;
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A model a provider serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteModel {
    /// Its id, as the provider names it.
    pub id: String,
    /// The model file's sha256 (hex), which its receipts must name.
    pub sha256: String,
}

/// A provider as the router sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    /// The ERC-8004 agent id.
    pub agent_id: String,
    /// Its name, from its registration file.
    pub name: Option<String>,
    /// The agent's wallet: the key that must sign its receipts, and the payee.
    pub wallet: Address,
    /// Its paid chat completions endpoint.
    pub endpoint: String,
    /// What it serves.
    pub models: Vec<RemoteModel>,
    /// Its price, atomic units per token (prompt and completion).
    #[serde(serialize_with = "decimal")]
    pub price_per_token: u128,
    /// The most one of its calls costs.
    #[serde(serialize_with = "decimal")]
    pub max_per_request: u128,
    /// The average rating from trusted raters, if any rated it.
    pub reputation: Option<f64>,
    /// How many trusted ratings that average holds.
    pub ratings: u64,
    /// The latency measured here (a smoothed average over calls, or the catalog fetch).
    pub latency_ms: Option<f64>,
    /// Why the router stopped using it, if it did.
    pub marked: Option<String>,
    /// Its TEE evidence, verified and binding its receipt key (its wallet).
    pub attestation: Option<agora_attest::Attested>,
    /// Why the evidence it publishes was not accepted, if it publishes some.
    pub attestation_error: Option<String>,
}

fn decimal<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

impl Provider {
    /// Whether it serves `model`.
    pub fn serves(&self, model: &str) -> Option<&RemoteModel> {
        self.models.iter().find(|m| m.id == model)
    }

    /// Why `policy` rules it out for `model`, if it does.
    pub fn refused_by(&self, policy: &Policy, model: &str) -> Option<String> {
        if let Some(why) = &self.marked {
            return Some(format!("marked as cheating: {why}"));
        }
        if self.serves(model).is_none() {
            return Some(format!("does not serve {model}"));
        }
        if !policy.allows_model(model) {
            return Some(format!("router.models does not allow {model}"));
        }
        if let Some(max) = policy.max_price_per_token
            && self.price_per_token > max
        {
            return Some(format!(
                "charges {} per token, above router.max_price_per_token {max}",
                self.price_per_token
            ));
        }
        if policy.require_attestation && self.attestation.is_none() {
            let why = self.attestation_error.as_deref().unwrap_or("it publishes none");
            return Some(format!(
                "no verified TEE attestation binding its receipt key ({why}); router.require_attestation is on"
            ));
        }
        if let Some(min) = policy.min_reputation {
            match self.reputation {
                Some(r) if r >= min => {}
                Some(r) => {
                    return Some(format!("rated {r} by trusted raters, below router.min_reputation {min}"));
                }
                None => {
                    return Some(format!("no trusted rater has rated it (router.min_reputation is {min})"));
                }
            }
        }
        None
    }
}

/// Whether the router may call `endpoint`: an http(s) URL, and on a public chain not a loopback,
/// private or link-local address (a registration file must not turn the owner's node against
/// their own network). Development chains allow them, as the discovery index does.
pub(crate) fn endpoint_allowed(endpoint: &str, allow_private: bool) -> Result<(), String> {
    let url = reqwest::Url::parse(endpoint).map_err(|e| format!("{endpoint:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{endpoint:?} is not http(s)"));
    }
    if !allow_private && agora_agents::is_private_host(&url) {
        return Err(format!("{endpoint} is a private address, refused on a public chain"));
    }
    Ok(())
}

/// The TEE evidence a registration file publishes (`attestation`), verified now against the
/// key that must sign the provider's receipts: what it proves, or why it was not accepted.
pub(crate) fn attestation_of(
    registration: Option<&Value>,
    key: Address,
    now_secs: u64,
) -> (Option<agora_attest::Attested>, Option<String>) {
    let Some(raw) = registration.and_then(|r| r.get("attestation")).filter(|a| !a.is_null()) else {
        return (None, None);
    };
    let checked = serde_json::from_value::<agora_attest::Evidence>(raw.clone())
        .map_err(|e| agora_attest::AttestError::Malformed(e.to_string()))
        .and_then(|evidence| agora_attest::verify_binding(&evidence, key, now_secs));
    match checked {
        Ok(attested) => (Some(attested), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Orders providers best first: cheapest, then best rated, then fastest, then by agent id.
pub fn rank(providers: &mut [Provider]) {
    providers.sort_by(|a, b| {
        a.price_per_token
            .cmp(&b.price_per_token)
            .then_with(|| b.reputation.unwrap_or(0.0).total_cmp(&a.reputation.unwrap_or(0.0)))
            .then_with(|| a.latency_ms.unwrap_or(f64::MAX).total_cmp(&b.latency_ms.unwrap_or(f64::MAX)))
            .then_with(|| (a.agent_id.len(), &a.agent_id).cmp(&(b.agent_id.len(), &b.agent_id)))
    });
}

/// The chat completions endpoint an indexed agent's registration file names (its `OpenAI`
/// service).
fn chat_endpoint(agent: &IndexedAgent) -> Option<String> {
    let services = agent.registration.as_ref()?.get("services")?.as_array()?;
    services
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some("OpenAI"))
        .and_then(|s| s.get("endpoint")?.as_str())
        .filter(|e| e.ends_with("/chat/completions"))
        .map(str::to_owned)
}

/// Reads the providers from the index: every active agent but `own_agent` whose registration
/// file names an OpenAI chat completions service, with what that listener publishes. An agent whose catalog cannot be read is
/// left out (and logged); it is tried again on the next refresh.
pub(crate) async fn load(
    store: &Store,
    chain_id: u64,
    own_agent: Option<&str>,
    trusted: &[Address],
    allow_private: bool,
    http: &reqwest::Client,
) -> Vec<Provider> {
    let agents = match agora_agents::list_agents(store, chain_id, None, true) {
        Ok(agents) => agents,
        Err(e) => {
            tracing::warn!(target: "agora::router", "the discovery index could not be read: {e}");
            return Vec::new();
        }
    };
    let mut fetches = Vec::new();
    for agent in agents {
        if Some(agent.agent_id.as_str()) == own_agent {
            continue;
        }
        let Some(endpoint) = chat_endpoint(&agent) else { continue };
        if let Err(why) = endpoint_allowed(&endpoint, allow_private) {
            tracing::debug!(target: "agora::router", agent = %agent.agent_id, "provider left out: {why}");
            continue;
        }
        let Ok(wallet) = agent.wallet.parse::<Address>() else { continue };
        let summary = agora_agents::trusted_summary(store, chain_id, &agent.agent_id, trusted).ok();
        let reputation = summary.as_ref().and_then(|s| s.average.as_deref()?.parse::<f64>().ok());
        let (attestation, attestation_error) =
            attestation_of(agent.registration.as_ref(), wallet, now_secs());
        let provider = Provider {
            attestation,
            attestation_error,
            // Filled in by `Router::providers`, which reads the marks on every call.
            marked: None,
            agent_id: agent.agent_id,
            name: agent.name,
            wallet,
            endpoint,
            models: Vec::new(),
            price_per_token: 0,
            max_per_request: 0,
            reputation,
            ratings: summary.map_or(0, |s| s.count),
            latency_ms: None,
        };
        fetches.push(read_catalog(http, provider));
    }
    let mut providers = Vec::new();
    for fetch in fetches {
        match fetch.await {
            Ok(provider) => providers.push(provider),
            Err((agent, why)) => {
                tracing::debug!(target: "agora::router", agent = %agent, "provider left out: {why}");
            }
        }
    }
    providers
}

/// Fills in what the provider's paid listener publishes at `GET …/v1/models`.
async fn read_catalog(http: &reqwest::Client, mut provider: Provider) -> Result<Provider, (String, String)> {
    let url = format!("{}/models", provider.endpoint.trim_end_matches("/chat/completions"));
    let started = Instant::now();
    let fail = |why: String| (provider.agent_id.clone(), why);
    let response = http
        .get(&url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| fail(format!("{url}: {e}")))?;
    if !response.status().is_success() {
        return Err(fail(format!("{url} answered {}", response.status())));
    }
    let body: Value = response.json().await.map_err(|e| fail(format!("{url}: not JSON: {e}")))?;
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    let data = body.get("data").and_then(Value::as_array).ok_or_else(|| fail(format!("{url}: no data")))?;
    let number = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| s.parse::<u128>().ok());
    for entry in data {
        let (Some(id), Some(agora)) = (entry.get("id").and_then(Value::as_str), entry.get("agora")) else {
            continue;
        };
        let Some(sha256) = agora.get("sha256").and_then(Value::as_str) else { continue };
        if let Some(price) = agora.get("price") {
            provider.price_per_token = number(price.get("per_token")).unwrap_or(provider.price_per_token);
            provider.max_per_request =
                number(price.get("max_per_request")).unwrap_or(provider.max_per_request);
        }
        provider.models.push(RemoteModel { id: id.to_owned(), sha256: sha256.to_owned() });
    }
    if provider.models.is_empty() {
        return Err(fail(format!("{url} lists no model with its sha256")));
    }
    provider.latency_ms = Some(elapsed);
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(id: &str, price: u128, reputation: Option<f64>, latency: Option<f64>) -> Provider {
        Provider {
            agent_id: id.into(),
            name: None,
            wallet: Address::ZERO,
            endpoint: String::new(),
            models: vec![RemoteModel { id: "m".into(), sha256: "00".into() }],
            price_per_token: price,
            max_per_request: 1000,
            reputation,
            ratings: u64::from(reputation.is_some()),
            latency_ms: latency,
            marked: None,
            attestation: None,
            attestation_error: None,
        }
    }

    #[test]
    fn providers_rank_by_price_then_reputation_then_latency() {
        let mut list = vec![
            provider("10", 10, None, Some(5.0)),
            provider("2", 10, Some(80.0), Some(50.0)),
            provider("3", 5, None, None),
            provider("4", 10, Some(80.0), Some(10.0)),
        ];
        rank(&mut list);
        let order: Vec<&str> = list.iter().map(|p| p.agent_id.as_str()).collect();
        assert_eq!(order, ["3", "4", "2", "10"]);
    }

    #[test]
    fn private_endpoints_are_called_on_development_chains_only() {
        let local = "http://127.0.0.1:8412/v1/chat/completions";
        assert!(endpoint_allowed(local, true).is_ok());
        assert!(endpoint_allowed(local, false).unwrap_err().contains("private address"));
        assert!(endpoint_allowed("http://192.168.1.1/v1/chat/completions", false).is_err());
        assert!(endpoint_allowed("https://provider.example/v1/chat/completions", false).is_ok());
        assert!(endpoint_allowed("file:///etc/passwd", true).is_err());
    }

    #[test]
    fn tee_evidence_is_verified_against_the_receipt_key() {
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let quote = include_bytes!("../../attest/tests/fixtures/tdx_quote");
        let collateral: Value =
            serde_json::from_slice(include_bytes!("../../attest/tests/fixtures/tdx_quote_collateral.json"))
                .unwrap();
        let registration = serde_json::json!({
            "attestation": { "type": "dcap", "quote": b64(quote), "collateral": collateral }
        });
        let wallet = Address::repeat_byte(7);
        // Genuine Intel evidence, at a time its collateral was valid, but binding some other key.
        let (attested, why) = attestation_of(Some(&registration), wallet, 1_752_919_234);
        assert!(attested.is_none());
        assert!(why.unwrap().contains("does not bind the receipt key"));
        // Expired collateral, today.
        let (attested, why) = attestation_of(Some(&registration), wallet, now_secs());
        assert!(attested.is_none() && why.unwrap().contains("does not verify"));
        // None published.
        assert_eq!(attestation_of(Some(&serde_json::json!({})), wallet, 0), (None, None));
        let mut p = provider("1", 1, None, None);
        p.attestation_error = Some("the attestation does not verify".into());
        let policy = Policy { require_attestation: true, ..Policy::default() };
        assert!(p.refused_by(&policy, "m").unwrap().contains("does not verify"));
    }

    #[test]
    fn the_policy_rules_providers_out_with_a_reason() {
        let policy = Policy { max_price_per_token: Some(8), ..Policy::default() };
        assert!(provider("1", 10, None, None).refused_by(&policy, "m").unwrap().contains("per token"));
        assert!(provider("1", 8, None, None).refused_by(&policy, "m").is_none());
        assert!(
            provider("1", 8, None, None).refused_by(&policy, "other").unwrap().contains("does not serve")
        );

        let policy = Policy { min_reputation: Some(50.0), ..Policy::default() };
        assert!(provider("1", 1, None, None).refused_by(&policy, "m").unwrap().contains("no trusted rater"));
        assert!(provider("1", 1, Some(40.0), None).refused_by(&policy, "m").unwrap().contains("below"));
        assert!(provider("1", 1, Some(60.0), None).refused_by(&policy, "m").is_none());

        let policy = Policy { models: vec!["x".into()], ..Policy::default() };
        assert!(provider("1", 1, None, None).refused_by(&policy, "m").unwrap().contains("router.models"));

        let policy = Policy { require_attestation: true, ..Policy::default() };
        assert!(provider("1", 1, None, None).refused_by(&policy, "m").unwrap().contains("publishes none"));

        let mut marked = provider("1", 1, None, None);
        marked.marked = Some("re-execution diverged".into());
        assert!(marked.refused_by(&Policy::default(), "m").unwrap().contains("cheating"));
    }
}
