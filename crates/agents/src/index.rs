//! The discovery index: the registries' events followed into the node's store.
//!
//! Each pass reads the logs of the identity and reputation registries from the cursor, minus a
//! reorg window, up to the head minus the configured confirmations. Raw events in that window
//! are replaced (so a reorged-away event disappears), then the agents and feedback they touch
//! are re-derived from all their stored events, and the cursor moves on, all in one store
//! transaction. A pass resumes where the last one stopped; an event that cannot be decoded
//! (e.g. a string that is not UTF-8) is skipped with a logged reason, never stopping the index.
//! Registration files are resolved after the transaction: `data:` URIs locally, `http(s)` URLs
//! fetched with a size and time limit, never from loopback or private addresses unless allowed.

use crate::{AgentError, FetchError, REGISTRATION_TYPE, Result, read_registration};
use agora_chain::ChainClient;
use agora_contracts::bindings::{IdentityRegistry, ReputationRegistry};
use agora_store::{
    Store,
    rusqlite::{self, OptionalExtension},
};
use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use serde_json::{Value, json};
use std::{collections::BTreeSet, net::IpAddr, sync::Arc, time::Duration};

/// How the index follows the chain.
#[derive(Debug, Clone)]
pub struct IndexerConfig {
    /// Blocks behind the head considered final.
    pub confirmations: u64,
    /// Blocks re-read on every pass, to undo reorgs.
    pub reorg_window: u64,
    /// Most blocks asked for in one `eth_getLogs`.
    pub batch_blocks: u64,
    /// Fetch registration files from loopback and private addresses (devnets only).
    pub allow_private_fetch: bool,
    /// Largest registration file or card accepted.
    pub max_file_bytes: usize,
    /// Time limit for one fetch.
    pub fetch_timeout: Duration,
}

impl Default for IndexerConfig {
    fn default() -> Self {
        Self {
            confirmations: 0,
            reorg_window: 12,
            batch_blocks: 500,
            allow_private_fetch: false,
            max_file_bytes: 256 * 1024,
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// First block read.
    pub from: u64,
    /// Last block read (inclusive); `None` when there was nothing new.
    pub to: Option<u64>,
    /// Events stored.
    pub events: usize,
    /// Events skipped as undecodable.
    pub skipped: usize,
    /// Agents re-derived.
    pub agents: usize,
    /// Time spent waiting for `eth_getLogs`.
    pub rpc_time: Duration,
    /// Time spent decoding, storing and deriving (the index's own work).
    pub index_time: Duration,
}

/// Follows the registries of one chain into a store.
#[derive(Debug, Clone)]
pub struct Indexer {
    client: ChainClient,
    store: Arc<Store>,
    identity: Address,
    reputation: Address,
    start_block: u64,
    config: IndexerConfig,
    http: reqwest::Client,
}

/// What was learnt from an agent's registration file.
struct Resolved {
    agent_id: String,
    name: Option<String>,
    description: Option<String>,
    active: Option<bool>,
    skills: String,
    registration: Option<String>,
    error: Option<String>,
}

/// One decoded event, as stored.
struct StoredEvent {
    block_number: u64,
    log_index: u64,
    block_hash: String,
    address: Address,
    kind: &'static str,
    agent_id: U256,
    data: Value,
}

impl Indexer {
    /// An indexer for the registries at `identity` and `reputation`, deployed at `start_block`.
    pub fn new(
        client: ChainClient,
        store: Arc<Store>,
        identity: Address,
        reputation: Address,
        start_block: u64,
        config: IndexerConfig,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { client, store, identity, reputation, start_block, config, http }
    }

    fn chain_id(&self) -> i64 {
        self.client.chain_id() as i64
    }

    fn store_err(e: agora_store::StoreError) -> AgentError {
        AgentError::Index(e.into())
    }

    /// One pass: reads new blocks (and the reorg window) and updates the index.
    pub async fn sync(&self) -> Result<SyncReport> {
        let head = self.client.block_number().await.map_err(|e| AgentError::Index(e.into()))?;
        let target = head.saturating_sub(self.config.confirmations);
        let chain_id = self.chain_id();
        let cursor: Option<u64> = self
            .store
            .read(|c| {
                c.query_row("SELECT next_block FROM index_cursor WHERE chain_id = ?1", [chain_id], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|v| v.map(|v| v as u64))
            })
            .map_err(Self::store_err)?;
        let cursor = cursor.unwrap_or(self.start_block).max(self.start_block);
        let mut report = SyncReport {
            from: cursor.saturating_sub(self.config.reorg_window).max(self.start_block),
            ..Default::default()
        };
        let mut from = report.from;
        let mut touched = BTreeSet::new();
        while from <= target {
            let to = (from + self.config.batch_blocks - 1).min(target);
            let filter =
                Filter::new().address(vec![self.identity, self.reputation]).from_block(from).to_block(to);
            let asked = std::time::Instant::now();
            let logs =
                self.client.provider().get_logs(&filter).await.map_err(|e| AgentError::Index(e.into()))?;
            report.rpc_time += asked.elapsed();
            let working = std::time::Instant::now();
            let mut events = Vec::with_capacity(logs.len());
            for log in &logs {
                match decode(log) {
                    Ok(Some(event)) => events.push(event),
                    Ok(None) => {}
                    Err(reason) => {
                        report.skipped += 1;
                        tracing::warn!(
                            target: "agora::index",
                            block = log.block_number,
                            log_index = log.log_index,
                            %reason,
                            "skipped an undecodable registry event"
                        );
                    }
                }
            }
            report.events += events.len();
            let agents = self.apply(from, to, events)?;
            report.agents += agents.len();
            touched.extend(agents);
            report.index_time += working.elapsed();
            report.to = Some(to);
            from = to + 1;
        }
        let working = std::time::Instant::now();
        let mut resolved = Vec::with_capacity(touched.len());
        for agent_id in touched {
            if let Some(row) = self.resolve(&agent_id).await {
                resolved.push(row);
            }
        }
        // One transaction for all of them: a catch-up over thousands of agents stays fast.
        let chain_id = self.chain_id();
        self.store
            .write(|tx| {
                let mut update = tx.prepare_cached(
                    "UPDATE agents SET name = ?3, description = ?4, active = ?5, skills = ?6, registration = ?7,
                     fetch_error = ?8 WHERE chain_id = ?1 AND agent_id = ?2",
                )?;
                for r in &resolved {
                    update.execute((
                        chain_id,
                        &r.agent_id,
                        &r.name,
                        &r.description,
                        r.active,
                        &r.skills,
                        &r.registration,
                        &r.error,
                    ))?;
                }
                Ok(())
            })
            .map_err(Self::store_err)?;
        report.index_time += working.elapsed();
        Ok(report)
    }

    /// Replaces the events of blocks `from..=to`, re-derives the agents they touch, moves the
    /// cursor: one transaction.
    fn apply(&self, from: u64, to: u64, events: Vec<StoredEvent>) -> Result<BTreeSet<String>> {
        let chain_id = self.chain_id();
        self.store
            .write(|tx| {
                let mut touched = BTreeSet::new();
                {
                    let mut old = tx.prepare(
                        "SELECT DISTINCT agent_id FROM registry_events WHERE chain_id = ?1 AND block_number BETWEEN ?2 AND ?3",
                    )?;
                    for id in old.query_map((chain_id, from as i64, to as i64), |r| r.get::<_, String>(0))? {
                        touched.insert(id?);
                    }
                }
                tx.execute(
                    "DELETE FROM registry_events WHERE chain_id = ?1 AND block_number BETWEEN ?2 AND ?3",
                    (chain_id, from as i64, to as i64),
                )?;
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT OR REPLACE INTO registry_events
                         (chain_id, block_number, log_index, block_hash, address, kind, agent_id, data)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?;
                    for e in &events {
                        let agent = e.agent_id.to_string();
                        insert.execute((
                            chain_id,
                            e.block_number as i64,
                            e.log_index as i64,
                            &e.block_hash,
                            e.address.to_string(),
                            e.kind,
                            &agent,
                            e.data.to_string(),
                        ))?;
                        touched.insert(agent);
                    }
                }
                for agent in &touched {
                    derive_agent(tx, chain_id, agent)?;
                }
                tx.execute(
                    "INSERT INTO index_cursor (chain_id, next_block) VALUES (?1, ?2)
                     ON CONFLICT (chain_id) DO UPDATE SET next_block = excluded.next_block",
                    (chain_id, (to + 1) as i64),
                )?;
                Ok(touched)
            })
            .map_err(Self::store_err)
    }

    /// Resolves an agent's registration file (and A2A card), for the index.
    async fn resolve(&self, agent_id: &str) -> Option<Resolved> {
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

/// Decodes a registry log into the event we store; `Ok(None)` for events the index ignores.
fn decode(log: &Log) -> std::result::Result<Option<StoredEvent>, alloy::sol_types::Error> {
    let Some(topic0) = log.topic0().copied() else { return Ok(None) };
    let (block_number, log_index) = (log.block_number.unwrap_or_default(), log.log_index.unwrap_or_default());
    let block_hash = log.block_hash.map(|h| h.to_string()).unwrap_or_default();
    let stored = |kind: &'static str, agent_id: U256, data: Value| StoredEvent {
        block_number,
        log_index,
        block_hash: block_hash.clone(),
        address: log.address(),
        kind,
        agent_id,
        data,
    };
    let event = if topic0 == IdentityRegistry::Registered::SIGNATURE_HASH {
        let e = log.log_decode::<IdentityRegistry::Registered>()?.inner.data;
        stored("registered", e.agentId, json!({ "uri": e.agentURI, "owner": e.owner }))
    } else if topic0 == IdentityRegistry::URIUpdated::SIGNATURE_HASH {
        let e = log.log_decode::<IdentityRegistry::URIUpdated>()?.inner.data;
        stored("uri", e.agentId, json!({ "uri": e.newURI }))
    } else if topic0 == IdentityRegistry::MetadataSet::SIGNATURE_HASH {
        let e = log.log_decode::<IdentityRegistry::MetadataSet>()?.inner.data;
        if e.metadataKey != "agentWallet" {
            return Ok(None);
        }
        let wallet = if e.metadataValue.len() == 20 {
            Address::from_slice(&e.metadataValue).to_string()
        } else {
            String::new()
        };
        stored("wallet", e.agentId, json!({ "wallet": wallet }))
    } else if topic0 == IdentityRegistry::Transfer::SIGNATURE_HASH {
        let e = log.log_decode::<IdentityRegistry::Transfer>()?.inner.data;
        stored("transfer", e.tokenId, json!({ "to": e.to }))
    } else if topic0 == ReputationRegistry::NewFeedback::SIGNATURE_HASH {
        let e = log.log_decode::<ReputationRegistry::NewFeedback>()?.inner.data;
        stored(
            "feedback",
            e.agentId,
            json!({
                "client": e.clientAddress,
                "index": e.feedbackIndex,
                "value": e.value.to_string(),
                "decimals": e.valueDecimals,
                "tag1": e.tag1,
                "tag2": e.tag2,
                "endpoint": e.endpoint,
                "uri": e.feedbackURI,
            }),
        )
    } else if topic0 == ReputationRegistry::FeedbackRevoked::SIGNATURE_HASH {
        let e = log.log_decode::<ReputationRegistry::FeedbackRevoked>()?.inner.data;
        stored("revoked", e.agentId, json!({ "client": e.clientAddress, "index": e.feedbackIndex }))
    } else {
        return Ok(None);
    };
    Ok(Some(event))
}

/// Re-derives one agent's row and feedback from all its stored events, in chain order.
fn derive_agent(tx: &rusqlite::Transaction<'_>, chain_id: i64, agent_id: &str) -> rusqlite::Result<()> {
    let mut events = tx.prepare_cached(
        "SELECT kind, data FROM registry_events WHERE chain_id = ?1 AND agent_id = ?2 ORDER BY block_number, log_index",
    )?;
    let rows: Vec<(String, String)> = events
        .query_map((chain_id, agent_id), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let (mut exists, mut owner, mut wallet, mut uri) = (false, String::new(), String::new(), String::new());
    tx.prepare_cached("DELETE FROM feedback WHERE chain_id = ?1 AND agent_id = ?2")?
        .execute((chain_id, agent_id))?;
    for (kind, data) in rows {
        let data: Value = serde_json::from_str(&data).unwrap_or_default();
        let text = |k: &str| data[k].as_str().unwrap_or_default().to_owned();
        match kind.as_str() {
            "registered" => {
                exists = true;
                owner = text("owner");
                uri = text("uri");
            }
            "uri" => uri = text("uri"),
            "wallet" => wallet = text("wallet"),
            "transfer" => owner = text("to"),
            "feedback" => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO feedback
                     (chain_id, agent_id, client, idx, value, decimals, tag1, tag2, endpoint, uri, revoked)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
                )?
                .execute((
                    chain_id,
                    agent_id,
                    text("client").to_lowercase(),
                    data["index"].as_i64().unwrap_or_default(),
                    text("value"),
                    data["decimals"].as_i64().unwrap_or_default(),
                    text("tag1"),
                    text("tag2"),
                    text("endpoint"),
                    text("uri"),
                ))?;
            }
            "revoked" => {
                tx.prepare_cached(
                    "UPDATE feedback SET revoked = 1 WHERE chain_id = ?1 AND agent_id = ?2 AND client = ?3 AND idx = ?4",
                )?
                .execute((chain_id, agent_id, text("client").to_lowercase(), data["index"].as_i64().unwrap_or_default()),
                )?;
            }
            _ => {}
        }
    }
    if !exists {
        tx.execute("DELETE FROM agents WHERE chain_id = ?1 AND agent_id = ?2", (chain_id, agent_id))?;
        return Ok(());
    }
    // Keep what was resolved from the file while the URI is unchanged.
    tx.execute(
        "INSERT INTO agents (chain_id, agent_id, owner, wallet, uri) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (chain_id, agent_id) DO UPDATE SET
           owner = excluded.owner, wallet = excluded.wallet,
           registration = CASE WHEN agents.uri = excluded.uri THEN agents.registration ELSE NULL END,
           uri = excluded.uri",
        (chain_id, agent_id, owner.to_lowercase(), wallet.to_lowercase(), uri),
    )?;
    Ok(())
}

/// An agent as the index knows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexedAgent {
    /// Agent id (decimal).
    pub agent_id: String,
    /// Owner address (EIP-55 checksummed).
    pub owner: String,
    /// Wallet address, checksummed (empty when none).
    pub wallet: String,
    /// URI on chain.
    pub uri: String,
    /// Name from the registration file.
    pub name: Option<String>,
    /// Description from the registration file.
    pub description: Option<String>,
    /// `active` from the registration file.
    pub active: Option<bool>,
    /// Skill ids and tags from the file's services and the A2A card.
    pub skills: Vec<String>,
    /// Why the file could not be resolved, if it could not.
    pub fetch_error: Option<String>,
    /// The registration file, when it was resolved.
    pub registration: Option<Value>,
}

/// Agents in the index, optionally only those with `skill` and/or marked active; by id.
pub fn list_agents(
    store: &Store,
    chain_id: u64,
    skill: Option<&str>,
    active_only: bool,
) -> Result<Vec<IndexedAgent>> {
    let pattern = skill.map(|s| format!("%,{},%", s.to_ascii_lowercase())).unwrap_or_else(|| "%".into());
    store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT agent_id, owner, wallet, uri, name, description, active, skills, fetch_error, registration
                 FROM agents
                 WHERE chain_id = ?1 AND skills LIKE ?2 AND (?3 = 0 OR active = 1)
                 ORDER BY length(agent_id), agent_id",
            )?;
            let rows = stmt.query_map((chain_id as i64, pattern, active_only), |r| {
                let skills: String = r.get(7)?;
                Ok(IndexedAgent {
                    agent_id: r.get(0)?,
                    owner: checksummed(r.get(1)?),
                    wallet: checksummed(r.get(2)?),
                    uri: r.get(3)?,
                    name: r.get(4)?,
                    description: r.get(5)?,
                    active: r.get(6)?,
                    skills: skills.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                    fetch_error: r.get(8)?,
                    registration: r.get::<_, Option<String>>(9)?.and_then(|raw| serde_json::from_str(&raw).ok()),
                })
            })?;
            rows.collect()
        })
        .map_err(|e| AgentError::Index(e.into()))
}

/// An address as the index stores it (lowercase, for matching) in EIP-55 checksum form, as
/// clients such as web3.py require; anything else (an empty wallet) is kept as it is.
fn checksummed(stored: String) -> String {
    stored.parse::<Address>().map(|a| a.to_checksum(None)).unwrap_or(stored)
}

/// A reputation summary that never averages unknown raters.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrustedSummary {
    /// Feedback counted (from trusted raters, not revoked).
    pub count: u64,
    /// Their average, as a decimal string (18 decimals of precision).
    pub average: Option<String>,
    /// Raters whose feedback was counted.
    pub trusted_raters: usize,
    /// Raters left out because nothing says they can be trusted.
    pub untrusted_raters_left_out: usize,
}

/// Averages the agent's feedback from `trusted` raters only, and counts who was left out.
pub fn trusted_summary(
    store: &Store,
    chain_id: u64,
    agent_id: &str,
    trusted: &[Address],
) -> Result<TrustedSummary> {
    let trusted: BTreeSet<String> = trusted.iter().map(|a| a.to_string().to_lowercase()).collect();
    let rows: Vec<(String, String, i64)> = store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT client, value, decimals FROM feedback WHERE chain_id = ?1 AND agent_id = ?2 AND revoked = 0",
            )?;
            let rows = stmt.query_map((chain_id as i64, agent_id), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
        .map_err(|e| AgentError::Index(e.into()))?;
    let mut raters = BTreeSet::new();
    let mut left_out = BTreeSet::new();
    let (mut count, mut sum) = (0u64, 0i128);
    for (client, value, decimals) in rows {
        if !trusted.contains(&client) {
            left_out.insert(client);
            continue;
        }
        raters.insert(client);
        let value: i128 = value.parse().unwrap_or_default();
        sum += value * 10i128.pow(18 - decimals.clamp(0, 18) as u32);
        count += 1;
    }
    let average = (count > 0).then(|| {
        let avg = sum / i128::from(count);
        let sign = if avg < 0 { "-" } else { "" };
        let abs = avg.unsigned_abs();
        let frac = format!("{:018}", abs % 10u128.pow(18));
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            format!("{sign}{}", abs / 10u128.pow(18))
        } else {
            format!("{sign}{}.{frac}", abs / 10u128.pow(18))
        }
    });
    Ok(TrustedSummary {
        count,
        average,
        trusted_raters: raters.len(),
        untrusted_raters_left_out: left_out.len(),
    })
}
