//! The provider's channel ledger: for every channel that pays this node, the highest voucher
//! received and the cumulative charge against it, kept in the store and cached in memory.
//!
//! A paid response is only sent after its record is durable. To make that cheap, records are
//! written by one thread that commits whatever has queued up in a single transaction (group
//! commit): under load one `fsync` covers many calls, so durability costs a share of one disk
//! flush per call instead of a whole one.

use crate::{error::PayError, typed::ChannelConfigJson};
use agora_store::Store;
use agora_store::rusqlite::{self, OptionalExtension, params};
use alloy::primitives::{Address, B256, Bytes};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, mpsc},
};
use tokio::sync::oneshot;

/// A channel's terms (from its config) and what the chain says of it (cached; refreshed when a
/// voucher needs more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTerms {
    /// Who funds it.
    pub payer: Address,
    /// Who signs its vouchers.
    pub authorizer: Address,
    /// Who is paid.
    pub receiver: Address,
    /// Who claims for the receiver.
    pub receiver_authorizer: Address,
    /// Its token.
    pub token: Address,
    /// Seconds between a withdrawal request and its completion.
    pub withdraw_delay: u64,
    /// The config's salt.
    pub salt: B256,
    /// The channel's balance on chain (including what was claimed).
    pub deposited: u128,
    /// When a pending withdrawal completes (unix seconds), 0 if none.
    pub closing_at: u64,
}

impl ChannelTerms {
    /// Terms from a channel's config, with its on-chain balance and withdrawal.
    pub fn new(config: &ChannelConfigJson, deposited: u128, closing_at: u64) -> Self {
        Self {
            payer: config.payer,
            authorizer: config.payer_authorizer,
            receiver: config.receiver,
            receiver_authorizer: config.receiver_authorizer,
            token: config.token,
            withdraw_delay: config.withdraw_delay,
            salt: config.salt,
            deposited,
            closing_at,
        }
    }

    /// The channel's config (what claims and withdrawals name it by).
    pub fn config(&self) -> ChannelConfigJson {
        ChannelConfigJson {
            payer: self.payer,
            payer_authorizer: self.authorizer,
            receiver: self.receiver,
            receiver_authorizer: self.receiver_authorizer,
            token: self.token,
            withdraw_delay: self.withdraw_delay,
            salt: self.salt,
        }
    }
}

/// A channel's state on the provider's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelState {
    /// The channel id.
    pub id: B256,
    /// Chain and contract terms.
    pub terms: ChannelTerms,
    /// The highest voucher received, and its signature.
    pub voucher_max: u128,
    /// Signature of that voucher (empty when none).
    pub voucher_sig: Bytes,
    /// What was charged so far (≤ `voucher_max`).
    pub charged: u128,
    /// What was claimed on chain.
    pub claimed: u128,
    /// Paid calls served.
    pub calls: u64,
}

impl ChannelState {
    /// Fresh state for a channel first seen on chain.
    pub fn new(id: B256, terms: ChannelTerms, claimed: u128) -> Self {
        Self { id, terms, voucher_max: 0, voucher_sig: Bytes::new(), charged: claimed, claimed, calls: 0 }
    }

    /// Charged but not yet claimed.
    pub fn unclaimed(&self) -> u128 {
        self.charged.saturating_sub(self.claimed)
    }
}

/// One channel's slot: the lock that serialises its calls, and its state once loaded.
pub type ChannelSlot = Arc<tokio::sync::Mutex<Option<ChannelState>>>;

struct WriteJob {
    chain_id: u64,
    contract: Address,
    state: ChannelState,
    done: oneshot::Sender<Result<(), Arc<agora_store::StoreError>>>,
}

/// The ledger. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<LedgerInner>,
}

struct LedgerInner {
    store: Arc<Store>,
    chain_id: u64,
    contract: Address,
    slots: Mutex<HashMap<B256, ChannelSlot>>,
    writer: Mutex<mpsc::Sender<WriteJob>>,
    commits: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("chain_id", &self.inner.chain_id).finish_non_exhaustive()
    }
}

/// The most records one commit takes.
const MAX_BATCH: usize = 4096;

impl Ledger {
    /// A ledger for the channel contract `contract` on `chain_id`, stored in `store`. Starts the
    /// writer thread, which ends when the last clone is dropped.
    pub fn new(store: Arc<Store>, chain_id: u64, contract: Address) -> Self {
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let writer_store = Arc::clone(&store);
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer_commits = Arc::clone(&commits);
        std::thread::Builder::new()
            .name("agora-pay-ledger".into())
            .spawn(move || writer_loop(&writer_store, &rx, &writer_commits))
            .unwrap_or_else(|e| panic!("cannot start the ledger writer thread: {e}"));
        Self {
            inner: Arc::new(LedgerInner {
                store,
                chain_id,
                contract,
                slots: Mutex::new(HashMap::new()),
                writer: Mutex::new(tx),
                commits,
            }),
        }
    }

    /// The channel contract.
    pub fn contract(&self) -> Address {
        self.inner.contract
    }

    /// Transactions the writer has committed (each covering one or more records).
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The slot of channel `id` (created empty on first use). Lock it to serialise calls.
    pub fn slot(&self, id: B256) -> ChannelSlot {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slots.entry(id).or_default())
    }

    /// Loads channel `id` from the store, if it was seen before.
    pub fn load(&self, id: B256) -> Result<Option<ChannelState>, agora_store::StoreError> {
        let chain_id = self.inner.chain_id;
        let contract = self.inner.contract.to_string();
        self.inner.store.read(|conn| {
            conn.query_row(
                "SELECT payer, authorizer, token, withdraw_delay, deposited, voucher_max, voucher_sig,
                        charged, claimed, calls, closing_at, receiver, receiver_authorizer, salt
                 FROM pay_channels WHERE channel_id = ?1 AND chain_id = ?2 AND contract = ?3",
                params![id.to_string(), chain_id as i64, contract],
                row_to_state(id),
            )
            .optional()
        })
    }

    /// Every channel of this contract, as stored.
    pub fn all(&self) -> Result<Vec<ChannelState>, agora_store::StoreError> {
        stored_channels(&self.inner.store, self.inner.chain_id, self.inner.contract)
    }

    /// Writes `state` durably; returns once it is committed (group commit with other calls).
    pub async fn commit(&self, state: ChannelState) -> Result<(), PayError> {
        let (done, wait) = oneshot::channel();
        let job = WriteJob { chain_id: self.inner.chain_id, contract: self.inner.contract, state, done };
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| PayError::LedgerStopped)?;
        wait.await.map_err(|_| PayError::LedgerStopped)?.map_err(PayError::Ledger)
    }
}

fn row_to_state(id: B256) -> impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<ChannelState> {
    move |row| {
        let text = |i: usize| -> rusqlite::Result<String> { row.get(i) };
        let amount = |i: usize| -> rusqlite::Result<u128> {
            let s = text(i)?;
            s.parse::<u128>().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
            })
        };
        let address = |i: usize| -> rusqlite::Result<Address> {
            text(i)?.parse::<Address>().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
            })
        };
        let sig: String = row.get(6)?;
        Ok(ChannelState {
            id,
            terms: ChannelTerms {
                payer: address(0)?,
                authorizer: address(1)?,
                receiver: address(11)?,
                receiver_authorizer: address(12)?,
                token: address(2)?,
                withdraw_delay: row.get::<_, i64>(3)? as u64,
                salt: text(13)?.parse().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(13, rusqlite::types::Type::Text, Box::new(e))
                })?,
                deposited: amount(4)?,
                closing_at: row.get::<_, i64>(10)? as u64,
            },
            voucher_max: amount(5)?,
            voucher_sig: sig.parse().unwrap_or_default(),
            charged: amount(7)?,
            claimed: amount(8)?,
            calls: row.get::<_, i64>(9)? as u64,
        })
    }
}

/// Every channel of `contract` on `chain_id`, read from `store` alone: no ledger (and no writer)
/// is needed to read what was earned.
pub fn stored_channels(
    store: &Store,
    chain_id: u64,
    contract: Address,
) -> Result<Vec<ChannelState>, agora_store::StoreError> {
    store.read(|conn| {
        let mut stmt = conn.prepare(
            "SELECT payer, authorizer, token, withdraw_delay, deposited, voucher_max, voucher_sig,
                    charged, claimed, calls, closing_at, receiver, receiver_authorizer, salt, channel_id
             FROM pay_channels WHERE chain_id = ?1 AND contract = ?2 ORDER BY channel_id",
        )?;
        let rows = stmt.query_map(params![chain_id as i64, contract.to_string()], |row| {
            let id: String = row.get(14)?;
            let id = id.parse().unwrap_or_default();
            row_to_state(id)(row)
        })?;
        rows.collect()
    })
}

/// The UTC date of a time in milliseconds, as `YYYY-MM-DD`.
fn utc_day(at_ms: i64) -> String {
    let (y, m, d) = agora_chain::units::civil_date(at_ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Adds what `state` charged since it was last written (and its calls) to `day`'s earnings.
fn book_day(
    tx: &rusqlite::Transaction<'_>,
    day: &str,
    chain_id: u64,
    state: &ChannelState,
) -> rusqlite::Result<()> {
    let before: Option<(String, i64)> = tx
        .query_row(
            "SELECT charged, calls FROM pay_channels WHERE channel_id = ?1",
            params![state.id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (charged, calls) = before.map_or((0, 0), |(c, n)| (c.parse::<u128>().unwrap_or(0), n.max(0) as u64));
    let (amount, more) = (state.charged.saturating_sub(charged), state.calls.saturating_sub(calls));
    if amount == 0 && more == 0 {
        return Ok(());
    }
    let so_far: Option<(String, i64)> = tx
        .query_row(
            "SELECT amount, calls FROM pay_earned_days WHERE day = ?1 AND chain_id = ?2",
            params![day, chain_id as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (total, n) = so_far.map_or((0, 0), |(a, n)| (a.parse::<u128>().unwrap_or(0), n));
    tx.execute(
        "INSERT INTO pay_earned_days (day, chain_id, amount, calls) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (day, chain_id) DO UPDATE SET amount = excluded.amount, calls = excluded.calls",
        params![day, chain_id as i64, (total + amount).to_string(), n + more as i64],
    )?;
    Ok(())
}

/// What channels earned per UTC day on `chain_id`, from `from_day` (`YYYY-MM-DD`) on: `(day,
/// amount, calls)`, oldest first. Days without earnings are absent.
pub fn earned_by_day(
    store: &Store,
    chain_id: u64,
    from_day: &str,
) -> Result<Vec<(String, u128, u64)>, agora_store::StoreError> {
    store.read(|conn| {
        let mut stmt = conn.prepare(
            "SELECT day, amount, calls FROM pay_earned_days WHERE chain_id = ?1 AND day >= ?2 ORDER BY day",
        )?;
        let rows = stmt.query_map(params![chain_id as i64, from_day], |r| {
            let amount: String = r.get(1)?;
            Ok((r.get(0)?, amount.parse::<u128>().unwrap_or(0), r.get::<_, i64>(2)?.max(0) as u64))
        })?;
        rows.collect()
    })
}

/// The UTC day `days_ago` days before `now_ms`, as `YYYY-MM-DD`.
pub fn day_before(now_ms: i64, days_ago: i64) -> String {
    utc_day(now_ms - days_ago * 86_400_000)
}

fn writer_loop(store: &Store, rx: &mpsc::Receiver<WriteJob>, commits: &std::sync::atomic::AtomicU64) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let result = store.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO pay_channels (channel_id, chain_id, contract, payer, authorizer, token,
                     withdraw_delay, deposited, voucher_max, voucher_sig, charged, claimed, calls,
                     closing_at, updated_ms, receiver, receiver_authorizer, salt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
                 ON CONFLICT (channel_id) DO UPDATE SET
                     deposited = excluded.deposited, voucher_max = excluded.voucher_max,
                     voucher_sig = excluded.voucher_sig, charged = excluded.charged,
                     claimed = CASE WHEN length(excluded.claimed) > length(claimed)
                         OR (length(excluded.claimed) = length(claimed) AND excluded.claimed > claimed)
                         THEN excluded.claimed ELSE claimed END,
                     calls = excluded.calls,
                     closing_at = excluded.closing_at, updated_ms = excluded.updated_ms",
            )?;
            let at = agora_store::now_ms();
            let day = utc_day(at);
            for job in &batch {
                let s = &job.state;
                book_day(tx, &day, job.chain_id, s)?;
                stmt.execute(params![
                    s.id.to_string(),
                    job.chain_id as i64,
                    job.contract.to_string(),
                    s.terms.payer.to_string(),
                    s.terms.authorizer.to_string(),
                    s.terms.token.to_string(),
                    s.terms.withdraw_delay as i64,
                    s.terms.deposited.to_string(),
                    s.voucher_max.to_string(),
                    s.voucher_sig.to_string(),
                    s.charged.to_string(),
                    s.claimed.to_string(),
                    s.calls as i64,
                    s.terms.closing_at as i64,
                    at,
                    s.terms.receiver.to_string(),
                    s.terms.receiver_authorizer.to_string(),
                    s.terms.salt.to_string(),
                ])?;
            }
            Ok(())
        });
        commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = result.map_err(Arc::new);
        for job in batch {
            let _ = job.done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: u8) -> ChannelState {
        let terms = ChannelTerms {
            payer: Address::repeat_byte(1),
            authorizer: Address::repeat_byte(2),
            receiver: Address::repeat_byte(4),
            receiver_authorizer: Address::repeat_byte(5),
            token: Address::repeat_byte(3),
            withdraw_delay: 900,
            salt: B256::repeat_byte(6),
            deposited: u128::MAX,
            closing_at: 0,
        };
        ChannelState::new(B256::repeat_byte(id), terms, 0)
    }

    #[tokio::test]
    async fn concurrent_commits_are_all_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let ledger = Ledger::new(Arc::clone(&store), 31337, Address::repeat_byte(9));
        let mut tasks = Vec::new();
        for i in 0..64u8 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = state(i);
                s.voucher_max = 1000 + u128::from(i);
                s.charged = u128::from(i);
                s.calls = 1;
                ledger.commit(s).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        drop(ledger);
        let reopened =
            Ledger::new(Arc::new(Store::open_in(dir.path()).unwrap()), 31337, Address::repeat_byte(9));
        let all = reopened.all().unwrap();
        assert_eq!(all.len(), 64);
        let s = reopened.load(B256::repeat_byte(7)).unwrap().unwrap();
        assert_eq!((s.voucher_max, s.charged, s.terms.deposited), (1007, 7, u128::MAX));
        // Another contract's ledger does not see these channels.
        let other = Ledger::new(store, 31337, Address::repeat_byte(8));
        assert!(other.load(B256::repeat_byte(7)).unwrap().is_none());
    }

    /// A writer with a stale copy of a channel (a second process, an old cache) must not undo
    /// a claim: the claimed amount only grows, compared as numbers, not as text.
    #[tokio::test]
    async fn a_claimed_amount_never_moves_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let ledger = Ledger::new(store, 31337, Address::repeat_byte(9));
        let mut s = state(1);
        s.voucher_max = 2_000;
        s.charged = 2_000;
        s.claimed = 890;
        ledger.commit(s.clone()).await.unwrap();
        s.claimed = 0;
        ledger.commit(s.clone()).await.unwrap();
        assert_eq!(ledger.load(s.id).unwrap().unwrap().claimed, 890, "a stale zero is ignored");
        s.claimed = 1_000; // shorter as text than "890" is not, larger as a number
        ledger.commit(s.clone()).await.unwrap();
        assert_eq!(ledger.load(s.id).unwrap().unwrap().claimed, 1_000);
        s.claimed = 999;
        ledger.commit(s.clone()).await.unwrap();
        assert_eq!(ledger.load(s.id).unwrap().unwrap().claimed, 1_000);
    }

    #[tokio::test]
    async fn earnings_read_from_the_store_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let contract = Address::repeat_byte(9);
        let ledger = Ledger::new(Arc::clone(&store), 31337, contract);
        let mut s = state(1);
        s.charged = 700;
        ledger.commit(s.clone()).await.unwrap();
        ledger.commit(state(2)).await.unwrap();
        // Another contract's channel is not this one's.
        Ledger::new(Arc::clone(&store), 31337, Address::repeat_byte(8)).commit(state(3)).await.unwrap();
        let earned = crate::paywall::stored_earnings(&store, Some((31337, contract))).unwrap();
        assert_eq!(earned.channels.iter().map(|c| c.id).collect::<Vec<_>>(), [s.id, state(2).id]);
        assert_eq!(earned.channels[0].charged, 700);
        assert_eq!(earned.channels, ledger.all().unwrap());
        assert!(crate::paywall::stored_earnings(&store, None).unwrap().channels.is_empty());
    }
}
