//! Providers the router caught cheating: kept in the store, so a restart does not forget them.

use agora_store::{Schema, Store, StoreError, rusqlite::params};
use std::collections::BTreeMap;

/// This crate's tables, oldest step first. Steps are append-only.
pub(crate) const SCHEMA: Schema = Schema {
    component: "router",
    steps: &[
        // 1: providers marked as cheating, with the evidence.
        "
        CREATE TABLE router_marks (
            chain_id INTEGER NOT NULL,
            agent_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            evidence TEXT NOT NULL,
            marked_ms INTEGER NOT NULL,
            PRIMARY KEY (chain_id, agent_id)
        );
        ",
    ],
};

agora_store::register_schema!(SCHEMA);

/// A provider the router stopped using.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mark {
    /// The agent.
    pub agent_id: String,
    /// Why, in words.
    pub reason: String,
    /// The evidence (the receipt envelope and what re-running it gave), JSON.
    pub evidence: String,
    /// When, Unix milliseconds.
    pub marked_ms: u64,
}

/// Marks `agent_id` (the first mark stays: it holds the first evidence).
pub(crate) fn mark(
    store: &Store,
    chain_id: u64,
    agent_id: &str,
    reason: &str,
    evidence: &str,
) -> Result<(), StoreError> {
    store.write(|tx| {
        tx.execute(
            "INSERT OR IGNORE INTO router_marks (chain_id, agent_id, reason, evidence, marked_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![chain_id as i64, agent_id, reason, evidence, agora_store::now_ms()],
        )
    })?;
    Ok(())
}

/// Every marked agent and why.
pub(crate) fn all(store: &Store, chain_id: u64) -> Result<BTreeMap<String, String>, StoreError> {
    store.read(|c| {
        let mut stmt = c.prepare("SELECT agent_id, reason FROM router_marks WHERE chain_id = ?1")?;
        let rows = stmt.query_map([chain_id as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    })
}

/// The marks, with their evidence, oldest first.
pub fn list(store: &Store, chain_id: u64) -> Result<Vec<Mark>, StoreError> {
    store.read(|c| {
        let mut stmt = c.prepare(
            "SELECT agent_id, reason, evidence, marked_ms FROM router_marks WHERE chain_id = ?1 ORDER BY marked_ms",
        )?;
        let rows = stmt.query_map([chain_id as i64], |r| {
            Ok(Mark { agent_id: r.get(0)?, reason: r.get(1)?, evidence: r.get(2)?, marked_ms: r.get::<_, i64>(3)? as u64 })
        })?;
        rows.collect()
    })
}
