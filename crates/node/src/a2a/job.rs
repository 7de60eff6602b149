//! Jobs as A2A tasks: a job on the suite's escrow addressed to this node (its agent's wallet)
//! reads as task `job-<id>` with `GET /v1/tasks/job-<id>`, built from the chain each time, so an
//! A2A client follows a job through its states the way it follows a message's task.
//!
//! | job | task state | status message |
//! |---|---|---|
//! | funded, not taken | `SUBMITTED` | what happens next |
//! | accepted; delivered and open to challenges; challenged | `WORKING` | the window or the dispute |
//! | completed (paid) | `COMPLETED` | |
//! | rejected (the council found the delivery wrong) | `FAILED` | |
//! | expired (refunded) | `CANCELED` | |
//!
//! The artifact `answer` holds the delivered text; `metadata.agora.job` the job's record.

use super::{
    error::A2aError,
    task::{ANSWER_ARTIFACT, TaskState, timestamp},
};
use crate::{api::AppState, ops::jobs::JobReport};
use alloy::primitives::U256;
use serde_json::{Value, json};

/// The job a task id names, when it is one (`job-<decimal id>`).
pub(crate) fn job_id(task_id: &str) -> Option<U256> {
    let digits = task_id.strip_prefix("job-")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

/// Task `job-<id>`, read from the chain: not found unless the job exists and this node may
/// deliver it.
pub(crate) async fn task(state: &AppState, job: U256) -> Result<Value, A2aError> {
    let id = format!("job-{job}");
    let (Some((chain, deployment)), Some(me)) = (state.chain(), state.node_address()) else {
        return Err(A2aError::task_not_found(&id));
    };
    let report =
        crate::ops::jobs::read_on(chain, deployment, job).await.map_err(|_| A2aError::task_not_found(&id))?;
    if report.provider != me {
        return Err(A2aError::task_not_found(&id));
    }
    let escrow = agora_jobs::chain::JobContracts::of(deployment).map(|c| c.escrow).unwrap_or_default();
    Ok(to_json(&id, &report, chain.chain_id(), escrow))
}

fn to_json(id: &str, r: &JobReport, chain_id: u64, escrow: alloy::primitives::Address) -> Value {
    let state = match (r.status, r.phase) {
        ("completed", _) => TaskState::Completed,
        ("rejected", _) => TaskState::Failed,
        ("expired", _) => TaskState::Canceled,
        ("funded", "accepted") | ("submitted", _) => TaskState::Working,
        _ => TaskState::Submitted,
    };
    let now_ms = i64::try_from(r.now).unwrap_or(i64::MAX).saturating_mul(1000);
    let mut task = json!({
        "id": id,
        "contextId": id,
        "status": {
            "state": state.as_str(),
            "timestamp": timestamp(now_ms),
            "message": {
                "messageId": format!("{id}-status"),
                "contextId": id,
                "taskId": id,
                "role": "ROLE_AGENT",
                "parts": [{ "text": r.next }],
            },
        },
        "metadata": { "agora": { "job": {
            "chainId": chain_id,
            "escrow": escrow.to_checksum(None),
            "jobId": r.job_id.to_string(),
            "status": r.status,
            "phase": r.phase,
            "budget": r.budget.to_string(),
            "bond": r.bond.to_string(),
            "client": r.client.to_checksum(None),
            "provider": r.provider.to_checksum(None),
            "expiresAt": r.expires_at,
            "dispute": r.dispute.map(|d| d.to_string()),
        } } },
    });
    if let Some(text) = &r.output {
        task["artifacts"] =
            json!([{ "artifactId": ANSWER_ARTIFACT, "name": ANSWER_ARTIFACT, "parts": [{ "text": text }] }]);
    }
    if let Some(spec) = &r.spec {
        let parts: Vec<Value> = spec
            .request
            .messages
            .iter()
            .filter(|m| m.role == "user")
            .map(|m| json!({ "text": m.content }))
            .collect();
        task["history"] = json!([{
            "messageId": format!("{id}-request"),
            "contextId": id,
            "taskId": id,
            "role": "ROLE_USER",
            "parts": parts,
        }]);
    }
    task
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_job_ids_name_jobs() {
        assert_eq!(job_id("job-0"), Some(U256::ZERO));
        assert_eq!(job_id("job-42"), Some(U256::from(42)));
        for other in ["job-", "job-x", "job--1", "job-1a", "4f1c", "jobs-1"] {
            assert_eq!(job_id(other), None, "{other}");
        }
    }
}
