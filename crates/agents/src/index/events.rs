//! Registry logs decoded into stored events, and agents re-derived from their events.

use super::StoredEvent;
use agora_contracts::bindings::{IdentityRegistry, ReputationRegistry};
use agora_store::rusqlite;
use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
    sol_types::SolEvent,
};
use serde_json::{Value, json};

/// Decodes a registry log into the event we store; `Ok(None)` for events the index ignores.
pub(super) fn decode(log: &Log) -> std::result::Result<Option<StoredEvent>, alloy::sol_types::Error> {
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
pub(super) fn derive_agent(
    tx: &rusqlite::Transaction<'_>,
    chain_id: i64,
    agent_id: &str,
) -> rusqlite::Result<()> {
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
