//! Watches the node key's transactions. The node key pays for settlements (claims, `exact`
//! transfers, channel deposits); if its transactions stop being mined, every later one waits
//! behind them. A queue that does not move is logged and reported in `/health` and
//! `agora status`, instead of showing only as slow, `pending` payments.

use agora_chain::{ChainClient, TransactionQueue};
use alloy::primitives::Address;
use serde::Serialize;
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

/// How often the queue is read.
pub const KEY_WATCH_INTERVAL: Duration = Duration::from_secs(5);
/// How long transactions may wait without one being mined before the queue counts as stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(30);

/// What `/health` says about the node key's transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyQueueStatus {
    /// The node key (EIP-55 in JSON, as every address the node serves).
    #[serde(serialize_with = "checksummed")]
    pub address: Address,
    /// Transactions mined, and those waiting.
    #[serde(flatten)]
    pub queue: TransactionQueue,
    /// Seconds since a waiting transaction was last mined, once that is over [`STUCK_AFTER`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck_secs: Option<u64>,
}

fn checksummed<S: serde::Serializer>(address: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&address.to_checksum(None))
}

#[derive(Debug, Default)]
struct Watched {
    status: KeyQueueStatus,
    /// Since when transactions wait with none mined.
    waiting_since: Option<Instant>,
    /// When the last warning was logged.
    warned: Option<Instant>,
}

/// The watcher's shared view. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct KeyWatch {
    inner: Arc<Mutex<Watched>>,
}

impl KeyWatch {
    /// A watch over `address`, with nothing read yet.
    pub fn new(address: Address) -> Self {
        let watch = Self::default();
        watch.lock().status.address = address;
        watch
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest reading.
    pub fn status(&self) -> KeyQueueStatus {
        self.lock().status.clone()
    }

    /// Takes one reading of `queue` at `now`; logs a warning (at most every [`STUCK_AFTER`])
    /// while the queue is stuck.
    pub fn observe(&self, queue: TransactionQueue, now: Instant) {
        let mut w = self.lock();
        let moved = queue.mined != w.status.queue.mined;
        if queue.waiting == 0 {
            w.waiting_since = None;
        } else if moved || w.waiting_since.is_none() {
            w.waiting_since = Some(now);
        }
        w.status.queue = queue;
        let stuck =
            w.waiting_since.map(|since| now.saturating_duration_since(since)).filter(|d| *d >= STUCK_AFTER);
        w.status.stuck_secs = stuck.map(|d| d.as_secs());
        if let Some(stuck) = stuck {
            if w.warned.is_none_or(|at| now.saturating_duration_since(at) >= STUCK_AFTER) {
                w.warned = Some(now);
                tracing::warn!(
                    target: "agora::chain",
                    address = %w.status.address,
                    nonce = queue.mined,
                    waiting = queue.waiting,
                    "the node key's transactions are stuck: {} waiting, none mined for {}s (a nonce gap or a fee too low); \
                     settlements queue behind them",
                    queue.waiting,
                    stuck.as_secs()
                );
            }
        } else {
            w.warned = None;
        }
    }

    /// Reads the queue from `chain` every [`KEY_WATCH_INTERVAL`], until the task is dropped.
    pub async fn run(self, chain: ChainClient) {
        let address = self.status().address;
        loop {
            match chain.transaction_queue(address).await {
                Ok(queue) => self.observe(queue, Instant::now()),
                Err(e) => tracing::debug!(target: "agora::chain", "cannot read the node key's queue: {e}"),
            }
            tokio::time::sleep(KEY_WATCH_INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_that_does_not_move_is_reported_stuck_and_clears_when_it_moves() {
        let watch = KeyWatch::new(Address::repeat_byte(1));
        let t0 = Instant::now();
        let q = |mined, waiting| TransactionQueue { mined, waiting };
        watch.observe(q(5, 0), t0);
        assert_eq!(watch.status().stuck_secs, None);
        watch.observe(q(5, 2), t0 + Duration::from_secs(1));
        watch.observe(q(5, 2), t0 + Duration::from_secs(20));
        assert_eq!(watch.status().stuck_secs, None, "not yet");
        watch.observe(q(5, 3), t0 + Duration::from_secs(41));
        assert_eq!(watch.status().stuck_secs, Some(40));
        // One is mined: the clock restarts.
        watch.observe(q(6, 2), t0 + Duration::from_secs(45));
        assert_eq!(watch.status().stuck_secs, None);
        watch.observe(q(8, 0), t0 + Duration::from_secs(90));
        assert_eq!(
            watch.status(),
            KeyQueueStatus { address: Address::repeat_byte(1), queue: q(8, 0), stuck_secs: None }
        );
    }

    #[test]
    fn the_status_names_the_key_checksummed() {
        let address: Address = "0xaa6da6ff6445685cc1dc56c7aec4457d784f8792".parse().unwrap();
        let json = serde_json::to_value(KeyWatch::new(address).status()).unwrap();
        assert_eq!(json["address"], address.to_checksum(None));
        assert_eq!((json["mined"].as_u64(), json["waiting"].as_u64()), (Some(0), Some(0)));
    }
}
