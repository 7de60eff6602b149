//! The genesis of a persistent devnet: recorded beside anvil's state so a restarted chain keeps
//! its block 0 (and so its genesis hash).

use super::{GENESIS_FILE, STATE_FILE};
use crate::{
    ChainError, Result,
    error::{BoxError, context},
};
use serde::Deserialize;
use std::path::Path;

/// What fixes the genesis block of a persistent devnet across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenesisRecord {
    /// Unix seconds of block 0.
    pub(super) timestamp: u64,
}

/// The genesis record of a persistent devnet: read, recovered from an older `state.json`, or
/// made now for a new chain.
pub(super) fn genesis_record(dir: &Path) -> Result<GenesisRecord> {
    let fail = |source: BoxError| ChainError::DevnetStart {
        source,
        hint: format!(
            "; if {} is damaged, move it aside (the chain then starts empty)",
            dir.join(STATE_FILE).display()
        ),
    };
    let path = dir.join(GENESIS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            return serde_json::from_slice(&bytes)
                .map_err(|e| fail(context(format!("{} is not a genesis record", path.display()), e)));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(context(format!("cannot read {}", path.display()), e))),
    }
    let state_path = dir.join(STATE_FILE);
    let record = match std::fs::read(&state_path) {
        Ok(bytes) => {
            let mut state: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| fail(context(format!("{} is not anvil state", state_path.display()), e)))?;
            let (record, repaired) = recover_genesis(&mut state).map_err(fail)?;
            if repaired {
                let bytes = serde_json::to_vec(&state).map_err(|e| fail(e.into()))?;
                agora_store::write_atomically(&state_path, &bytes)
                    .map_err(|e| fail(context(format!("cannot write {}", state_path.display()), e)))?;
                tracing::info!(target: "agora::devnet", timestamp = record.timestamp, "repaired the saved chain's genesis");
            }
            record
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let now = (agora_store::now_ms() / 1000) as u64;
            GenesisRecord { timestamp: now }
        }
        Err(e) => return Err(fail(context(format!("cannot read {}", state_path.display()), e))),
    };
    let bytes = serde_json::to_vec(&record).map_err(|e| fail(e.into()))?;
    agora_store::write_atomically(&path, &bytes)
        .map_err(|e| fail(context(format!("cannot write {}", path.display()), e)))?;
    Ok(record)
}

/// Finds the real genesis in anvil's saved state — the block 0 that block 1 names as its
/// parent (any block 0 when there is no block 1) — and drops the other block 0s that earlier
/// starts added. Returns the record and whether the state changed.
fn recover_genesis(state: &mut serde_json::Value) -> std::result::Result<(GenesisRecord, bool), BoxError> {
    use alloy::consensus::Header;
    let blocks = state
        .get_mut("blocks")
        .and_then(serde_json::Value::as_array_mut)
        .ok_or("the saved state has no blocks")?;
    let header = |block: &serde_json::Value| -> std::result::Result<Header, BoxError> {
        serde_json::from_value(block.get("header").cloned().unwrap_or_default())
            .map_err(|e| context("a saved block header does not parse", e))
    };
    let mut parent_of_first = None;
    let mut genesis_hashes = Vec::new();
    for block in blocks.iter() {
        let header = header(block)?;
        match header.number {
            0 => genesis_hashes.push((header.hash_slow(), header.timestamp)),
            1 => parent_of_first = Some(header.parent_hash),
            _ => {}
        }
    }
    let (hash, timestamp) = match parent_of_first {
        Some(parent) => genesis_hashes
            .iter()
            .copied()
            .find(|(hash, _)| *hash == parent)
            .ok_or("the saved state lacks the genesis that block 1 builds on")?,
        None => genesis_hashes.first().copied().ok_or("the saved state has no block 0")?,
    };
    let before = blocks.len();
    let mut kept = Vec::with_capacity(before);
    for block in blocks.drain(..) {
        let h = header(&block)?;
        if h.number != 0 || h.hash_slow() == hash {
            kept.push(block);
        }
    }
    let repaired = kept.len() != before;
    *blocks = kept;
    Ok((GenesisRecord { timestamp }, repaired))
}
