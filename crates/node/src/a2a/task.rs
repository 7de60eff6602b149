//! A2A tasks as the node keeps them: one row per task in the store, written at each change of
//! state, and rendered in A2A v1.0's JSON (proto JSON, camelCase).

use agora_store::{
    Schema, Store,
    rusqlite::{OptionalExtension, params},
};
use serde_json::{Value, json};

/// The A2A tasks' table. Steps are append-only: never edit one that has shipped.
pub(crate) const SCHEMA: Schema = Schema {
    component: "a2a",
    steps: &[
        // 1: A2A tasks, so a finished task outlives a restart.
        "
        CREATE TABLE a2a_tasks (
            id          TEXT PRIMARY KEY,
            context_id  TEXT    NOT NULL,
            state       TEXT    NOT NULL,
            created_ms  INTEGER NOT NULL,
            updated_ms  INTEGER NOT NULL,
            -- The user's message, A2A JSON.
            message     TEXT    NOT NULL,
            -- The model's answer (so far, while it works).
            answer      TEXT    NOT NULL DEFAULT '',
            -- Why it failed or was canceled, for people.
            status_text TEXT,
            -- JSON: the model, usage, receipt and payment.
            metadata    TEXT    NOT NULL DEFAULT '{}'
        ) WITHOUT ROWID;
        CREATE INDEX a2a_tasks_context ON a2a_tasks (context_id, created_ms);
        ",
    ],
};

agora_store::register_schema!(SCHEMA);

/// A task's state, as A2A names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    Submitted,
    Working,
    Completed,
    Failed,
    Canceled,
}

impl TaskState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "TASK_STATE_SUBMITTED",
            Self::Working => "TASK_STATE_WORKING",
            Self::Completed => "TASK_STATE_COMPLETED",
            Self::Failed => "TASK_STATE_FAILED",
            Self::Canceled => "TASK_STATE_CANCELED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Submitted, Self::Working, Self::Completed, Self::Failed, Self::Canceled]
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    /// Completed, failed or canceled: the task changes no more.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}

/// One task.
#[derive(Debug, Clone)]
pub(crate) struct TaskRecord {
    pub(crate) id: String,
    pub(crate) context_id: String,
    pub(crate) state: TaskState,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
    /// The user's message, with the task's ids filled in.
    pub(crate) message: Value,
    pub(crate) answer: String,
    pub(crate) status_text: Option<String>,
    /// `{"agora": {...}}` once there is something to say, else `{}`.
    pub(crate) metadata: Value,
}

/// The artifact that holds the model's answer.
pub(crate) const ANSWER_ARTIFACT: &str = "answer";

impl TaskRecord {
    /// A new task for `message`, submitted now.
    pub(crate) fn submitted(id: String, context_id: String, message: Value) -> Self {
        let now = agora_store::now_ms();
        Self {
            id,
            context_id,
            state: TaskState::Submitted,
            created_ms: now,
            updated_ms: now,
            message,
            answer: String::new(),
            status_text: None,
            metadata: json!({}),
        }
    }

    /// Moves to `state` now.
    pub(crate) fn set_state(&mut self, state: TaskState, why: Option<String>) {
        self.state = state;
        self.status_text = why;
        self.updated_ms = agora_store::now_ms();
    }

    /// The task's `TaskStatus`: its state, when it got there and, for a failure or a
    /// cancellation, the agent's message saying why.
    pub(crate) fn status_json(&self) -> Value {
        let mut status = json!({ "state": self.state.as_str(), "timestamp": timestamp(self.updated_ms) });
        if let Some(why) = &self.status_text {
            status["message"] = json!({
                "messageId": format!("{}-status", self.id),
                "contextId": self.context_id,
                "taskId": self.id,
                "role": "ROLE_AGENT",
                "parts": [{ "text": why }],
            });
        }
        status
    }

    /// The answer as an artifact (whole).
    pub(crate) fn artifact_json(&self) -> Value {
        json!({ "artifactId": ANSWER_ARTIFACT, "name": ANSWER_ARTIFACT, "parts": [{ "text": self.answer }] })
    }

    /// The `Task` object, with at most `history_length` messages of history (all when `None`,
    /// none for 0).
    pub(crate) fn to_json(&self, history_length: Option<usize>) -> Value {
        let mut task = json!({ "id": self.id, "contextId": self.context_id, "status": self.status_json() });
        if self.state == TaskState::Completed || !self.answer.is_empty() {
            task["artifacts"] = json!([self.artifact_json()]);
        }
        if history_length != Some(0) {
            task["history"] = json!([self.message]);
        }
        if self.metadata.as_object().is_some_and(|m| !m.is_empty()) {
            task["metadata"] = self.metadata.clone();
        }
        task
    }

    /// Writes the task (insert or replace).
    pub(crate) fn save(&self, store: &Store) -> agora_store::Result<()> {
        store.write(|t| {
            t.execute(
                "INSERT INTO a2a_tasks (id, context_id, state, created_ms, updated_ms, message, answer, status_text, metadata)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET state = ?3, updated_ms = ?5, answer = ?7, status_text = ?8, metadata = ?9",
                params![
                    self.id,
                    self.context_id,
                    self.state.as_str(),
                    self.created_ms,
                    self.updated_ms,
                    self.message.to_string(),
                    self.answer,
                    self.status_text,
                    self.metadata.to_string(),
                ],
            )
        })?;
        Ok(())
    }

    /// Reads a task.
    pub(crate) fn load(store: &Store, id: &str) -> agora_store::Result<Option<Self>> {
        store.read(|conn| {
            conn.query_row(
                "SELECT id, context_id, state, created_ms, updated_ms, message, answer, status_text, metadata
                 FROM a2a_tasks WHERE id = ?1",
                params![id],
                |r| {
                    let state: String = r.get(2)?;
                    let message: String = r.get(5)?;
                    let metadata: String = r.get(8)?;
                    Ok(Self {
                        id: r.get(0)?,
                        context_id: r.get(1)?,
                        // An unknown state can only come from a newer build: show it as failed.
                        state: TaskState::parse(&state).unwrap_or(TaskState::Failed),
                        created_ms: r.get(3)?,
                        updated_ms: r.get(4)?,
                        message: serde_json::from_str(&message).unwrap_or(Value::Null),
                        answer: r.get(6)?,
                        status_text: r.get(7)?,
                        metadata: serde_json::from_str(&metadata).unwrap_or_else(|_| json!({})),
                    })
                },
            )
            .optional()
        })
    }
}

/// `2025-11-09T10:30:00.123Z`: a timestamp as proto JSON writes one (RFC 3339, UTC).
pub(crate) fn timestamp(ms: i64) -> String {
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = agora_chain::units::civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A random id in UUID v4 form.
pub(crate) fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = alloy::hex::encode(b);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(951_782_400_007), "2000-02-29T00:00:00.007Z");
        assert_eq!(timestamp(1_762_684_200_123), "2025-11-09T10:30:00.123Z");
    }

    #[test]
    fn ids_look_like_uuids_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn tasks_round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let message = json!({"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]});
        let mut task = TaskRecord::submitted("t".into(), "c".into(), message.clone());
        task.save(&store).unwrap();
        task.answer = "hello".into();
        task.metadata = json!({"agora": {"model": "m"}});
        task.set_state(TaskState::Completed, None);
        task.save(&store).unwrap();
        let back = TaskRecord::load(&store, "t").unwrap().unwrap();
        assert_eq!(back.state, TaskState::Completed);
        let json = back.to_json(None);
        assert_eq!(json["status"]["state"], "TASK_STATE_COMPLETED");
        assert_eq!(json["artifacts"][0]["parts"][0]["text"], "hello");
        assert_eq!(json["history"][0], message);
        assert!(back.to_json(Some(0)).get("history").is_none());
        assert!(TaskRecord::load(&store, "nope").unwrap().is_none());
    }
}
