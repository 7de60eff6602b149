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

mod events;
mod fetch;
mod query;

pub use fetch::is_private_host;
pub use query::{FeedbackRow, IndexedAgent, TrustedSummary, feedback_rows, list_agents, trusted_summary};

use events::{decode, derive_agent};

use crate::{AgentError, Result};
use agora_chain::ChainClient;
use agora_store::{Store, rusqlite::OptionalExtension};
use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::Filter,
};
use serde_json::Value;
use std::{collections::BTreeSet, sync::Arc, time::Duration};

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
}
