//! What a node keeps of credits, in its store: as a provider, the tickets spent (nothing that
//! names a buyer or ties two calls together) and the secrets of double-spenders until their
//! stake is slashed; as a buyer, its credits and the next ticket of each.
//!
//! Registered with the store like every capability's tables. Steps are append-only.

use std::sync::Arc;

use agora_store::{
    Schema, Store, StoreError,
    rusqlite::{OptionalExtension, params},
};
use alloy::primitives::{Address, U256};

use crate::{Credit, Fr, PoolKey, Spend, from_hex, recover_secret, to_hex};

pub(crate) const SCHEMA: Schema = Schema {
    component: "credits",
    steps: &["
        -- Provider side: every ticket spent here, recorded before the call is served. Only
        -- what a double-spend needs: no address, no root, no time, no request.
        CREATE TABLE credit_tickets (
            contract   TEXT NOT NULL,
            pool_id    TEXT NOT NULL,
            nullifier  TEXT NOT NULL,
            x          TEXT NOT NULL,
            y          TEXT NOT NULL,
            PRIMARY KEY (contract, pool_id, nullifier)
        ) WITHOUT ROWID;
        -- Provider side: secrets given away by a double-spend, until the stake is slashed.
        CREATE TABLE credit_slashes (
            contract   TEXT NOT NULL,
            pool_id    TEXT NOT NULL,
            secret     TEXT NOT NULL,
            status     TEXT NOT NULL,
            tx         TEXT,
            error      TEXT,
            PRIMARY KEY (contract, pool_id, secret)
        ) WITHOUT ROWID;
        -- Buyer side: credits bought. `secret` is the member's key: the database is 0600 and
        -- the secret is never logged. A row is written before its deposit is sent.
        CREATE TABLE credit_wallet (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            chain_id     INTEGER NOT NULL,
            contract     TEXT    NOT NULL,
            pool_id      TEXT    NOT NULL,
            provider     TEXT    NOT NULL,
            pool         TEXT    NOT NULL,
            secret       TEXT    NOT NULL UNIQUE,
            calls        INTEGER NOT NULL,
            leaf_index   INTEGER,
            next_ticket  INTEGER NOT NULL DEFAULT 0,
            status       TEXT    NOT NULL,
            exit_to      TEXT,
            exit_at      INTEGER,
            created_ms   INTEGER NOT NULL
        );
    "],
};

agora_store::register_schema!(SCHEMA);

/// What recording a spend found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Every ticket was fresh: the call may be served.
    Fresh,
    /// A ticket was spent before on the same request: nothing new was learnt.
    Replayed,
    /// A ticket was spent before on another request: the member's secret, saved for slashing.
    DoubleSpent(Fr),
}

/// The provider's record of spent tickets and pending slashes.
#[derive(Debug, Clone)]
pub struct TicketBook {
    store: Arc<Store>,
}

impl TicketBook {
    /// The book in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Records every ticket of `spend` in one durable transaction, unless one was spent
    /// before: then nothing is recorded but, for a different request, the recovered secret is
    /// queued for slashing. Returns only once the write is on disk.
    pub fn record(&self, key: &PoolKey, spend: &Spend) -> Result<Recorded, StoreError> {
        let contract = key.contract.to_string();
        let pool = key.pool_id.to_string();
        let x = to_hex(&spend.x);
        self.store.write(|t| {
            for (nullifier, y) in &spend.tickets {
                let before: Option<(String, String)> = t
                    .query_row(
                        "SELECT x, y FROM credit_tickets WHERE contract = ?1 AND pool_id = ?2 AND nullifier = ?3",
                        params![contract, pool, to_hex(nullifier)],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((x0, y0)) = before else { continue };
                let (Some(x0), Some(y0)) = (from_hex(&x0), from_hex(&y0)) else { continue };
                return Ok(match recover_secret((x0, y0), (spend.x, *y)) {
                    None => Recorded::Replayed,
                    Some(secret) => {
                        t.execute(
                            "INSERT OR IGNORE INTO credit_slashes (contract, pool_id, secret, status) VALUES (?1, ?2, ?3, 'pending')",
                            params![contract, pool, to_hex(&secret)],
                        )?;
                        Recorded::DoubleSpent(secret)
                    }
                });
            }
            for (nullifier, y) in &spend.tickets {
                t.execute(
                    "INSERT INTO credit_tickets (contract, pool_id, nullifier, x, y) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![contract, pool, to_hex(nullifier), x, to_hex(y)],
                )?;
            }
            Ok(Recorded::Fresh)
        })
    }

    /// Forgets the tickets of a call that was not served, so the same proof may be sent again.
    pub fn release(&self, key: &PoolKey, spend: &Spend) -> Result<(), StoreError> {
        let (contract, pool, x) = (key.contract.to_string(), key.pool_id.to_string(), to_hex(&spend.x));
        self.store.write(|t| {
            for (nullifier, _) in &spend.tickets {
                t.execute(
                    "DELETE FROM credit_tickets WHERE contract = ?1 AND pool_id = ?2 AND nullifier = ?3 AND x = ?4",
                    params![contract, pool, to_hex(nullifier), x],
                )?;
            }
            Ok(())
        })
    }

    /// Tickets spent in a pool.
    pub fn spent(&self, key: &PoolKey) -> Result<u64, StoreError> {
        self.store
            .read(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM credit_tickets WHERE contract = ?1 AND pool_id = ?2",
                    params![key.contract.to_string(), key.pool_id.to_string()],
                    |r| r.get::<_, i64>(0),
                )
            })
            .map(|n| n as u64)
    }

    /// Secrets waiting to be slashed: `(contract, pool id, secret)`.
    pub fn pending_slashes(&self) -> Result<Vec<(Address, U256, Fr)>, StoreError> {
        let rows: Vec<(String, String, String)> = self.store.read(|c| {
            let mut s =
                c.prepare("SELECT contract, pool_id, secret FROM credit_slashes WHERE status = 'pending'")?;
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(c, p, s)| Some((c.parse().ok()?, p.parse().ok()?, from_hex(&s)?)))
            .collect())
    }

    /// Records how a slash ended: its transaction, or why it failed (`status` `slashed` or
    /// `failed`).
    pub fn slash_done(
        &self,
        contract: Address,
        pool_id: U256,
        secret: &Fr,
        result: Result<String, String>,
    ) -> Result<(), StoreError> {
        let (status, tx, error) = match result {
            Ok(tx) => ("slashed", Some(tx), None),
            Err(e) => ("failed", None, Some(e)),
        };
        self.store.write(|t| {
            t.execute(
                "UPDATE credit_slashes SET status = ?4, tx = ?5, error = ?6 WHERE contract = ?1 AND pool_id = ?2 AND secret = ?3",
                params![contract.to_string(), pool_id.to_string(), to_hex(secret), status, tx, error],
            )
            .map(|_| ())
        })
    }

    /// Slashes by status: `(status, count)`.
    pub fn slash_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.store.read(|c| {
            let mut s =
                c.prepare("SELECT status, COUNT(*) FROM credit_slashes GROUP BY status ORDER BY status")?;
            s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?.collect()
        })
    }
}

/// A credit in the buyer's wallet.
#[derive(Debug, Clone)]
pub struct Held {
    /// Row id.
    pub id: i64,
    /// The credit (secret inside).
    pub credit: Credit,
    /// The pool's terms.
    pub pool: crate::Pool,
    /// The provider it was bought from (a URL).
    pub provider: String,
    /// The next unspent ticket.
    pub next_ticket: u32,
    /// `pending` (deposit sent), `active`, `exiting`, `exited` or `failed`.
    pub status: String,
    /// Where an exit pays.
    pub exit_to: Option<Address>,
    /// When the exit may be completed (unix seconds).
    pub exit_at: Option<u64>,
}

impl Held {
    /// Tickets left.
    pub fn remaining(&self) -> u32 {
        self.credit.calls.saturating_sub(self.next_ticket)
    }
}

/// The buyer's credits.
#[derive(Debug, Clone)]
pub struct Wallet {
    store: Arc<Store>,
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    u32,
    Option<i64>,
    u32,
    String,
    Option<String>,
    Option<i64>,
);

impl Wallet {
    /// The wallet in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Saves a credit before its deposit is sent (status `pending`), so a secret whose deposit
    /// lands is never lost.
    pub fn save_pending(
        &self,
        pool: &crate::Pool,
        credit: &Credit,
        provider: &str,
    ) -> Result<i64, StoreError> {
        let terms = serde_json::to_string(pool).unwrap_or_default();
        self.store.write(|t| {
            t.execute(
                "INSERT INTO credit_wallet (chain_id, contract, pool_id, provider, pool, secret, calls, status, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)",
                params![
                    pool.key.chain_id as i64,
                    pool.key.contract.to_string(),
                    pool.key.pool_id.to_string(),
                    provider,
                    terms,
                    credit.secret_hex(),
                    credit.calls,
                    agora_store::now_ms()
                ],
            )?;
            Ok(t.last_insert_rowid())
        })
    }

    /// The deposit landed at `leaf_index` (or failed: `None`).
    pub fn settle_deposit(&self, id: i64, leaf_index: Option<usize>) -> Result<(), StoreError> {
        self.store.write(|t| {
            match leaf_index {
                Some(i) => t.execute(
                    "UPDATE credit_wallet SET status = 'active', leaf_index = ?2 WHERE id = ?1",
                    params![id, i as i64],
                )?,
                None => t.execute("UPDATE credit_wallet SET status = 'failed' WHERE id = ?1", params![id])?,
            };
            Ok(())
        })
    }

    /// Every credit, newest first.
    pub fn list(&self) -> Result<Vec<Held>, StoreError> {
        let rows: Vec<Row> = self.store.read(|c| {
            let mut s = c.prepare(
                "SELECT id, chain_id, contract, pool_id, provider, pool, secret, calls, leaf_index, next_ticket, status, exit_to, exit_at
                 FROM credit_wallet ORDER BY id DESC",
            )?;
            s.query_map([], |r| {
                Ok((
                    r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?,
                    r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?,
                ))
            })?
            .collect()
        })?;
        Ok(rows.into_iter().filter_map(Self::held).collect())
    }

    fn held(row: Row) -> Option<Held> {
        let (
            id,
            chain_id,
            contract,
            pool_id,
            provider,
            pool,
            secret,
            calls,
            leaf,
            next,
            status,
            exit_to,
            exit_at,
        ) = row;
        let key = PoolKey {
            chain_id: chain_id as u64,
            contract: contract.parse().ok()?,
            pool_id: pool_id.parse().ok()?,
        };
        let credit =
            Credit::from_secret_hex(key, &secret, calls, leaf.map_or(usize::MAX, |l| l as usize)).ok()?;
        Some(Held {
            id,
            credit,
            pool: serde_json::from_str(&pool).ok()?,
            provider,
            next_ticket: next,
            status,
            exit_to: exit_to.and_then(|a| a.parse().ok()),
            exit_at: exit_at.map(|t| t as u64),
        })
    }

    /// Takes `units` tickets of an active credit in `key`'s pool with enough left, and makes
    /// the taking durable before any proof is made: a ticket is never offered twice, even
    /// across a crash (a crash after the write only loses those tickets).
    pub fn take_tickets(&self, key: &PoolKey, units: u32) -> Result<Option<(Held, Vec<u32>)>, StoreError> {
        let held = self
            .list()?
            .into_iter()
            .rev()
            .find(|h| h.status == "active" && h.credit.key == *key && h.remaining() >= units);
        let Some(mut held) = held else { return Ok(None) };
        let taken = self.store.write(|t| {
            t.execute(
                "UPDATE credit_wallet SET next_ticket = next_ticket + ?2 WHERE id = ?1 AND next_ticket = ?3",
                params![held.id, units, held.next_ticket],
            )
        })?;
        if taken != 1 {
            // Another call took tickets of this credit meanwhile: read again.
            return self.take_tickets(key, units);
        }
        let tickets = (held.next_ticket..held.next_ticket + units).collect();
        held.next_ticket += units;
        Ok(Some((held, tickets)))
    }

    /// Records an exit requested to `to`, payable at `at`.
    pub fn exiting(&self, id: i64, to: Address, at: u64) -> Result<(), StoreError> {
        self.store.write(|t| {
            t.execute(
                "UPDATE credit_wallet SET status = 'exiting', exit_to = ?2, exit_at = ?3 WHERE id = ?1",
                params![id, to.to_string(), at as i64],
            )
            .map(|_| ())
        })
    }

    /// Sets a credit's status (`exited`, `slashed`, …).
    pub fn set_status(&self, id: i64, status: &str) -> Result<(), StoreError> {
        self.store.write(|t| {
            t.execute("UPDATE credit_wallet SET status = ?2 WHERE id = ?1", params![id, status]).map(|_| ())
        })
    }
}
