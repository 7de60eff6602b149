//! Reading the index: agents by skill, and reputation from trusted raters only.

use crate::{AgentError, Result};
use agora_store::Store;
use alloy::primitives::Address;
use serde_json::Value;
use std::collections::BTreeSet;

/// An agent as the index knows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// One feedback entry as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedbackRow {
    /// The agent rated (decimal id).
    pub agent_id: String,
    /// Who rated it.
    pub client: String,
    /// The rater's feedback index for this agent.
    pub index: u64,
    /// The value, a fixed-point number with `decimals` (decimal string).
    pub value: String,
    /// Its decimals.
    pub decimals: u8,
    /// The tags.
    pub tag1: String,
    /// The second tag.
    pub tag2: String,
    /// The endpoint rated.
    pub endpoint: String,
    /// Revoked by the rater.
    pub revoked: bool,
}

/// Feedback in the index given by `client` or received by `agent_id` (either filter may be
/// left out; both left out: none), newest index first per rater, at most `limit` rows.
pub fn feedback_rows(
    store: &Store,
    chain_id: u64,
    client: Option<Address>,
    agent_id: Option<&str>,
    limit: usize,
) -> Result<Vec<FeedbackRow>> {
    if client.is_none() && agent_id.is_none() {
        return Ok(Vec::new());
    }
    let client = client.map(|c| c.to_string().to_lowercase());
    store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT agent_id, client, idx, value, decimals, tag1, tag2, endpoint, revoked FROM feedback
                 WHERE chain_id = ?1 AND (?2 IS NULL OR lower(client) = ?2) AND (?3 IS NULL OR agent_id = ?3)
                 ORDER BY CAST(agent_id AS INTEGER), client, idx DESC LIMIT ?4",
            )?;
            let rows = stmt.query_map((chain_id as i64, client, agent_id, limit as i64), |r| {
                Ok(FeedbackRow {
                    agent_id: r.get(0)?,
                    client: checksummed(r.get(1)?),
                    index: r.get::<_, i64>(2)? as u64,
                    value: r.get(3)?,
                    decimals: r.get::<_, i64>(4)? as u8,
                    tag1: r.get(5)?,
                    tag2: r.get(6)?,
                    endpoint: r.get(7)?,
                    revoked: r.get::<_, i64>(8)? != 0,
                })
            })?;
            rows.collect()
        })
        .map_err(|e| AgentError::Index(e.into()))
}
