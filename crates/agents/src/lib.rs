//! ERC-8004 agents.
//!
//! - [`AgentProfile`] says what the node offers; from it come the ERC-8004 registration file
//!   ([`registration_file`], `registration-v1`) and the A2A v1.0 agent card ([`agent_card`]),
//!   whose skills are derived from what the node really serves.
//! - [`ensure_registered`] makes the chain agree with the profile: it registers the agent once,
//!   updates its URI when the file changed, and proves its wallet with `setAgentWallet`, doing
//!   nothing when everything already matches (so running it twice changes nothing).
//! - [`read_registration`] resolves an agent's URI back into its registration file, for discovery.

mod error;
pub mod feedback;
mod index;
mod schema;
pub mod validation;

pub use error::{AgentError, BoxError, FetchError, Result};

pub use index::{
    FeedbackRow, IndexedAgent, Indexer, IndexerConfig, SyncReport, TrustedSummary, feedback_rows,
    is_private_host, list_agents, trusted_summary,
};

use agora_chain::ChainClient;
use agora_contracts::bindings::IdentityRegistry;
use alloy::{
    primitives::{Address, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolStruct, eip712_domain},
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `type` of an ERC-8004 registration file.
pub const REGISTRATION_TYPE: &str = "https://eips.ethereum.org/EIPS/eip-8004#registration-v1";
/// Where a node serves its registration file.
pub const REGISTRATION_PATH: &str = "/.well-known/agent-registration.json";
/// Where a node serves its A2A agent card.
pub const AGENT_CARD_PATH: &str = "/.well-known/agent-card.json";

/// One thing the agent can do, as listed in its card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skill {
    /// Stable id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Search tags.
    pub tags: Vec<String>,
}

/// The id of the job skill ([`AgentProfile::job_skill`]).
pub const JOB_SKILL: &str = "inference-jobs";

/// What the node offers, as it presents itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentProfile {
    /// Display name.
    pub name: String,
    /// What the agent does.
    pub description: String,
    /// Base URL where others reach the node's well-known files (`None`: the node has no public
    /// URL).
    pub public_url: Option<String>,
    /// Skills, derived from what the node serves.
    pub skills: Vec<Skill>,
    /// Base URL of the public paid listener, when the node sells its skills over x402 there.
    pub paid_url: Option<String>,
}

impl AgentProfile {
    /// Skills of a node serving `model` through its OpenAI-compatible API.
    pub fn inference_skills(model: &str) -> Vec<Skill> {
        vec![Skill {
            id: CHAT_SKILL.into(),
            name: "Chat completions".into(),
            description: format!(
                "OpenAI-compatible chat completions from the local model {model}, each answer with a signed, re-executable inference receipt"
            ),
            tags: vec!["llm".into(), "chat".into(), "openai-compatible".into(), "inference-receipts".into()],
        }]
    }

    /// The skill of a node that takes ERC-8183 inference jobs on `model` by itself.
    pub fn job_skill(model: &str) -> Skill {
        Skill {
            id: JOB_SKILL.into(),
            name: "Inference jobs".into(),
            description: format!(
                "Takes escrowed ERC-8183 inference jobs on {model} addressed to this agent's wallet, bonds, and delivers a signed, re-executable receipt; follow job N as A2A task job-N"
            ),
            tags: vec!["erc-8183".into(), "jobs".into(), "inference-receipts".into()],
        }
    }

    /// Whether the node takes x402 payments (its paid listener is on).
    pub fn x402(&self) -> bool {
        self.paid_url.is_some()
    }

    /// Where others call the OpenAI-compatible chat endpoint: the paid listener when it is on
    /// (the owner's API is not for strangers), else the public URL; `None` when the node serves
    /// no chat completions or has no absolute URL for them.
    pub fn chat_endpoint(&self) -> Option<String> {
        if !self.skills.iter().any(|s| s.id == CHAT_SKILL) {
            return None;
        }
        let base = self.paid_url.as_ref().or(self.public_url.as_ref())?;
        Some(format!("{}/v1/chat/completions", base.trim_end_matches('/')))
    }
}

/// The id of the chat-completions skill.
const CHAT_SKILL: &str = "chat-completions";

/// `eip155:{chainId}:{registry}`, how ERC-8004 names a registry.
pub fn agent_registry_id(chain_id: u64, registry: Address) -> String {
    format!("eip155:{chain_id}:{registry}")
}

/// The ERC-8004 registration file of an agent. `registrations[].agentId` is the agent's token
/// id as a JSON number (as a decimal string only beyond 2^64); the OpenAI service points at the
/// paid listener when there is one, and `x402Support` says whether it is on.
pub fn registration_file(profile: &AgentProfile, registration: Option<(U256, &str)>) -> Value {
    let mut services = Vec::new();
    if let Some(endpoint) = profile.chat_endpoint() {
        services.push(json!({ "name": "OpenAI", "endpoint": endpoint, "version": "v1" }));
    }
    if let Some(url) = &profile.public_url {
        let url = url.trim_end_matches('/');
        services
            .push(json!({ "name": "A2A", "endpoint": format!("{url}{AGENT_CARD_PATH}"), "version": "1.0" }));
    }
    let registrations: Vec<Value> = registration
        .map(|(id, registry)| json!({ "agentId": agent_id_json(id), "agentRegistry": registry }))
        .into_iter()
        .collect();
    json!({
        "type": REGISTRATION_TYPE,
        "name": profile.name,
        "description": profile.description,
        "image": "",
        "services": services,
        "x402Support": profile.x402(),
        "active": true,
        "registrations": registrations,
        "supportedTrust": ["reputation", "validation"],
    })
}

/// An agent id as ERC-8004 writes it: a number (a decimal string if it does not fit in 64 bits,
/// which JSON readers could not hold exactly).
fn agent_id_json(id: U256) -> Value {
    match u64::try_from(id) {
        Ok(small) => json!(small),
        Err(_) => json!(id.to_string()),
    }
}

/// Where the node serves A2A 1.0's HTTP+JSON binding: under `/v1` on the paid listener, when
/// the node sells its chat skill there; `None` otherwise.
pub fn a2a_endpoint(profile: &AgentProfile) -> Option<String> {
    if !profile.skills.iter().any(|s| s.id == CHAT_SKILL) {
        return None;
    }
    profile.paid_url.as_ref().map(|base| format!("{}/v1", base.trim_end_matches('/')))
}

/// The A2A v1.0 agent card of the node. With the paid listener on, it names the HTTP+JSON
/// binding served there (`supportedInterfaces`, with streaming); without it, no interface is
/// served, so `supportedInterfaces` is empty rather than naming endpoints an A2A client would
/// get 404 from. `provider` appears only with an absolute URL.
pub fn agent_card(profile: &AgentProfile, version: &str) -> Value {
    let interfaces: Vec<Value> = a2a_endpoint(profile)
        .map(|url| json!({ "url": url, "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0" }))
        .into_iter()
        .collect();
    let mut card = json!({
        "name": profile.name,
        "description": profile.description,
        "version": version,
        "capabilities": { "streaming": !interfaces.is_empty(), "pushNotifications": false },
        "supportedInterfaces": interfaces,
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": profile.skills,
    });
    if let Some(url) = &profile.public_url {
        card["provider"] = json!({ "organization": "agora", "url": url.trim_end_matches('/') });
    }
    card
}

/// The URI that goes on chain: the file's URL when the node has a public one, otherwise the
/// whole file as a `data:` URI.
pub fn agent_uri(profile: &AgentProfile, file: &Value) -> String {
    match &profile.public_url {
        Some(url) => format!("{}{REGISTRATION_PATH}", url.trim_end_matches('/')),
        None => {
            let bytes = serde_json::to_vec(file).unwrap_or_default();
            format!(
                "data:application/json;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        }
    }
}

alloy::sol! {
    /// ERC-8004's proof that a wallet accepts to be an agent's wallet.
    struct AgentWalletSet {
        uint256 agentId;
        address newWallet;
        address owner;
        uint256 deadline;
    }
}

/// What [`ensure_registered`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredAgent {
    /// The agent id.
    pub agent_id: U256,
    /// The URI now on chain.
    pub uri: String,
    /// Whether a new agent was registered.
    pub registered: bool,
    /// Whether the URI was changed.
    pub uri_updated: bool,
    /// Whether the wallet was (re)proven.
    pub wallet_set: bool,
}

impl RegisteredAgent {
    /// What happened, in a word: `registered`, `updated` or `unchanged`.
    pub fn action(&self) -> &'static str {
        if self.registered {
            "registered"
        } else if self.uri_updated || self.wallet_set {
            "updated"
        } else {
            "unchanged"
        }
    }
}

/// The store setting that remembers the agent id registered in `registry` on `chain_id`.
pub fn agent_setting_key(chain_id: u64, registry: Address) -> String {
    format!("agent.{chain_id}.{registry}")
}

/// [`ensure_registered`] with the agent id remembered in `store`: the id recorded for this
/// chain and registry is tried first, and the id the chain agrees on is recorded. What both
/// `agora up` and `agora agent register` run.
pub async fn register_remembered(
    client: &ChainClient,
    store: &agora_store::Store,
    registry: Address,
    profile: &AgentProfile,
    wallet: &PrivateKeySigner,
) -> Result<RegisteredAgent> {
    let key = agent_setting_key(client.chain_id(), registry);
    let known = store.setting(&key)?.and_then(|v| v.parse::<U256>().ok());
    let result = ensure_registered(client, registry, profile, known, wallet).await?;
    store.set_setting(&key, &result.agent_id.to_string())?;
    Ok(result)
}

/// Makes the identity registry agree with `profile`: registers the agent when `known_id` is
/// `None` (or no longer ours), updates its URI when the file changed, and sets its wallet to
/// `wallet` with a proof signed by that wallet. Sends no transaction when all already match.
pub async fn ensure_registered(
    client: &ChainClient,
    registry: Address,
    profile: &AgentProfile,
    known_id: Option<U256>,
    wallet: &PrivateKeySigner,
) -> Result<RegisteredAgent> {
    let owner = client.signer_address().ok_or(AgentError::NoSigner(client.chain_id()))?;
    let identity = IdentityRegistry::new(registry, client.provider());
    let fail = |call: &'static str| {
        move |e: alloy::contract::Error| AgentError::Registry { registry, call, source: e.into() }
    };

    // Still ours? (A chain reset or a transfer makes a remembered id stale.)
    let mut agent_id = None;
    if let Some(id) = known_id
        && let Ok(current_owner) = identity.ownerOf(id).call().await
        && current_owner == owner
    {
        agent_id = Some(id);
    }
    let mut registered = false;
    let agent_id = match agent_id {
        Some(id) => id,
        None => {
            let receipt =
                identity
                    .register_0()
                    .send()
                    .await
                    .map_err(fail("register"))?
                    .get_receipt()
                    .await
                    .map_err(|e| AgentError::Registry { registry, call: "register", source: e.into() })?;
            let id = receipt
                .inner
                .logs()
                .iter()
                .find_map(|log| log.log_decode::<IdentityRegistry::Registered>().ok())
                .map(|event| event.inner.data.agentId)
                .ok_or_else(|| AgentError::Registry {
                    registry,
                    call: "register",
                    source: "no Registered event in the receipt".into(),
                })?;
            registered = true;
            id
        }
    };

    let registry_id = agent_registry_id(client.chain_id(), registry);
    let file = registration_file(profile, Some((agent_id, &registry_id)));
    let uri = agent_uri(profile, &file);
    let current_uri = identity.tokenURI(agent_id).call().await.map_err(fail("tokenURI"))?;
    let uri_updated = current_uri != uri;
    if uri_updated {
        identity
            .setAgentURI(agent_id, uri.clone())
            .send()
            .await
            .map_err(fail("setAgentURI"))?
            .get_receipt()
            .await
            .map_err(|e| AgentError::Registry { registry, call: "setAgentURI", source: e.into() })?;
    }

    let current_wallet = identity.getAgentWallet(agent_id).call().await.map_err(fail("getAgentWallet"))?;
    let wallet_set = current_wallet != wallet.address();
    if wallet_set {
        let latest = client.latest_block_timestamp().await.map_err(|e| AgentError::Registry {
            registry,
            call: "eth_getBlockByNumber",
            source: e.into(),
        })?;
        let deadline = U256::from(latest + 120);
        let domain = eip712_domain! {
            name: "ERC8004IdentityRegistry",
            version: "1",
            chain_id: client.chain_id(),
            verifying_contract: registry,
        };
        let proof = AgentWalletSet { agentId: agent_id, newWallet: wallet.address(), owner, deadline };
        let signature = wallet
            .sign_hash_sync(&proof.eip712_signing_hash(&domain))
            .map_err(|e| AgentError::Registry { registry, call: "sign wallet proof", source: e.into() })?;
        identity
            .setAgentWallet(agent_id, wallet.address(), deadline, signature.as_bytes().into())
            .send()
            .await
            .map_err(fail("setAgentWallet"))?
            .get_receipt()
            .await
            .map_err(|e| AgentError::Registry { registry, call: "setAgentWallet", source: e.into() })?;
    }
    tracing::debug!(target: "agora::agents", %agent_id, registered, uri_updated, wallet_set, "agent in sync");
    Ok(RegisteredAgent { agent_id, uri, registered, uri_updated, wallet_set })
}

/// An agent as the chain and its registration file describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRecord {
    /// The agent id.
    pub agent_id: U256,
    /// Its owner.
    pub owner: Address,
    /// Its proven wallet (zero when none).
    pub wallet: Address,
    /// The URI on chain.
    pub uri: String,
    /// The registration file, when the URI could be resolved.
    pub registration: Option<Value>,
}

/// Reads an agent from the registry. `data:` URIs are decoded here; other URIs are returned
/// unresolved (fetching them is the caller's decision: never from private addresses by default).
pub async fn read_agent(client: &ChainClient, registry: Address, agent_id: U256) -> Result<AgentRecord> {
    let identity = IdentityRegistry::new(registry, client.provider());
    let fail = |call: &'static str| {
        move |e: alloy::contract::Error| AgentError::Registry { registry, call, source: e.into() }
    };
    let owner = identity.ownerOf(agent_id).call().await.map_err(fail("ownerOf"))?;
    let wallet = identity.getAgentWallet(agent_id).call().await.map_err(fail("getAgentWallet"))?;
    let uri = identity.tokenURI(agent_id).call().await.map_err(fail("tokenURI"))?;
    let registration = read_registration(agent_id, &uri).ok().flatten();
    Ok(AgentRecord { agent_id, owner, wallet, uri, registration })
}

/// Decodes a `data:application/json[;base64],…` registration URI. `Ok(None)` for other schemes.
pub fn read_registration(agent_id: U256, uri: &str) -> Result<Option<Value>> {
    let Some(rest) = uri.strip_prefix("data:application/json") else { return Ok(None) };
    let bad = |reason: String| AgentError::BadRegistration { agent_id, reason };
    let bytes = if let Some(b64) = rest.strip_prefix(";base64,") {
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| bad(format!("bad base64: {e}")))?
    } else if let Some(plain) = rest.strip_prefix(',') {
        plain.as_bytes().to_vec()
    } else {
        return Err(bad("malformed data: URI".into()));
    };
    if bytes.len() > 256 * 1024 {
        return Err(bad(format!("registration file of {} bytes is too large", bytes.len())));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if value.get("type").and_then(Value::as_str) != Some(REGISTRATION_TYPE) {
        return Err(bad("not an ERC-8004 registration-v1 file".into()));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_reports_say_what_happened_and_keys_are_stable() {
        let report = |registered, uri_updated, wallet_set| RegisteredAgent {
            agent_id: U256::from(1),
            uri: String::new(),
            registered,
            uri_updated,
            wallet_set,
        };
        assert_eq!(report(true, true, true).action(), "registered");
        assert_eq!(report(false, true, false).action(), "updated");
        assert_eq!(report(false, false, true).action(), "updated");
        assert_eq!(report(false, false, false).action(), "unchanged");
        let registry = Address::repeat_byte(0xab);
        assert_eq!(agent_setting_key(31337, registry), format!("agent.31337.{registry}"));
    }

    fn profile(public_url: Option<&str>) -> AgentProfile {
        AgentProfile {
            name: "agora node".into(),
            description: "local inference".into(),
            public_url: public_url.map(str::to_owned),
            skills: AgentProfile::inference_skills("SmolLM2"),
            paid_url: None,
        }
    }

    #[test]
    fn registration_file_has_the_required_fields() {
        let file = registration_file(
            &profile(Some("https://agent.example/")),
            Some((U256::from(7), "eip155:1:0xabc")),
        );
        assert_eq!(file["type"], REGISTRATION_TYPE);
        assert_eq!(file["registrations"][0]["agentId"], 7, "a number, as ERC-8004 writes it");
        assert_eq!(file["registrations"][0]["agentRegistry"], "eip155:1:0xabc");
        assert_eq!(file["services"][0]["endpoint"], "https://agent.example/v1/chat/completions");
        assert_eq!(file["services"][1]["endpoint"], "https://agent.example/.well-known/agent-card.json");
        assert_eq!(file["x402Support"], false);
        assert_eq!(file["active"], true);
        let zero = registration_file(&profile(None), Some((U256::ZERO, "eip155:1:0xabc")));
        assert_eq!(zero["registrations"][0]["agentId"], 0);
        let huge = registration_file(&profile(None), Some((U256::MAX, "eip155:1:0xabc")));
        assert_eq!(huge["registrations"][0]["agentId"], U256::MAX.to_string());
    }

    #[test]
    fn with_a_paid_listener_the_file_points_at_it_and_says_x402() {
        let mut p = profile(Some("https://agent.example"));
        p.paid_url = Some("http://127.0.0.1:8412".into());
        let file = registration_file(&p, None);
        assert_eq!(file["x402Support"], true);
        assert_eq!(file["services"][0]["name"], "OpenAI");
        assert_eq!(file["services"][0]["endpoint"], "http://127.0.0.1:8412/v1/chat/completions");
        // Without a public URL the paid endpoint is still named; the card needs the public URL.
        p.public_url = None;
        let file = registration_file(&p, None);
        assert_eq!(file["services"].as_array().unwrap().len(), 1);
        assert_eq!(file["services"][0]["endpoint"], "http://127.0.0.1:8412/v1/chat/completions");
    }

    #[test]
    fn data_uris_round_trip_and_bad_ones_are_refused() {
        let p = profile(None);
        let file = registration_file(&p, None);
        let uri = agent_uri(&p, &file);
        assert!(uri.starts_with("data:application/json;base64,"));
        assert_eq!(read_registration(U256::ZERO, &uri).unwrap(), Some(file));
        assert_eq!(read_registration(U256::ZERO, "https://x").unwrap(), None);
        assert!(read_registration(U256::ZERO, "data:application/json;base64,!!!").is_err());
        assert!(read_registration(U256::ZERO, "data:application/json,{\"type\":\"other\"}").is_err());
        assert!(read_registration(U256::ZERO, "data:application/json,not json").is_err());
    }

    #[test]
    fn the_card_lists_the_served_skills_and_no_unserved_interface() {
        let card = agent_card(&profile(Some("http://127.0.0.1:8402/")), "0.1.0");
        assert_eq!(card["skills"][0]["id"], "chat-completions");
        assert_eq!(card["supportedInterfaces"], json!([]), "no paid listener, no A2A binding served");
        assert_eq!(card["capabilities"]["streaming"], false);
        assert_eq!(card["provider"]["url"], "http://127.0.0.1:8402");
        for field in
            ["name", "description", "version", "capabilities", "defaultInputModes", "defaultOutputModes"]
        {
            assert!(!card[field].is_null(), "A2A v1.0 requires {field}");
        }
    }

    #[test]
    fn with_a_paid_listener_the_card_names_the_http_json_binding() {
        let mut p = profile(Some("http://127.0.0.1:8402"));
        p.paid_url = Some("http://127.0.0.1:8412/".into());
        let card = agent_card(&p, "0.1.0");
        assert_eq!(
            card["supportedInterfaces"],
            json!([{ "url": "http://127.0.0.1:8412/v1", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0" }])
        );
        assert_eq!(card["capabilities"]["streaming"], true);
        // No chat skill (no model): nothing to serve over A2A.
        p.skills.clear();
        assert_eq!(agent_card(&p, "0.1.0")["supportedInterfaces"], json!([]));
    }

    #[test]
    fn a_card_without_a_public_url_has_no_empty_or_relative_urls() {
        let card = agent_card(&profile(None), "0.1.0");
        assert!(card.get("provider").is_none(), "no provider rather than an empty url: {card}");
        fn urls(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, v) in map {
                        if key.to_ascii_lowercase().ends_with("url")
                            && let Some(s) = v.as_str()
                        {
                            out.push(s.to_owned());
                        }
                        urls(v, out);
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| urls(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        urls(&card, &mut found);
        assert!(found.iter().all(|u| u.starts_with("http://") || u.starts_with("https://")), "{found:?}");
    }
}
