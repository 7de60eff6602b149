//! Spending mandates: what a payer may spend, on whom, until when; and what was spent.

use agora_store::Store;
use agora_store::rusqlite::{OptionalExtension, params};
use alloy::primitives::Address;

/// A spending mandate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mandate {
    /// Its name.
    pub name: String,
    /// The most all payments under it may add up to (atomic units; channel deposits count).
    pub budget: u128,
    /// The most one call may cost.
    pub per_call: u128,
    /// Payees allowed (empty: any).
    pub payees: Vec<Address>,
    /// Unix seconds after which nothing is paid (0: never).
    pub expires_at: u64,
}

impl Mandate {
    /// Saves (or replaces) the mandate; what was spent under the name stays counted.
    pub fn save(&self, store: &Store) -> Result<(), agora_store::StoreError> {
        let payees = serde_json::to_string(&self.payees).unwrap_or_else(|_| "[]".into());
        store.write(|tx| {
            tx.execute(
                "INSERT INTO payer_mandates (name, budget, per_call, payees, expires_at, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET budget = excluded.budget, per_call = excluded.per_call,
                     payees = excluded.payees, expires_at = excluded.expires_at",
                params![
                    self.name,
                    self.budget.to_string(),
                    self.per_call.to_string(),
                    payees,
                    self.expires_at as i64,
                    agora_store::now_ms()
                ],
            )
        })?;
        Ok(())
    }

    /// The names of every mandate, in order.
    pub fn names(store: &Store) -> Result<Vec<String>, agora_store::StoreError> {
        store.read(|conn| {
            let mut stmt = conn.prepare("SELECT name FROM payer_mandates ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Loads a mandate.
    pub fn load(store: &Store, name: &str) -> Result<Option<Self>, agora_store::StoreError> {
        store.read(|conn| {
            conn.query_row(
                "SELECT budget, per_call, payees, expires_at FROM payer_mandates WHERE name = ?1",
                [name],
                |r| {
                    let budget: String = r.get(0)?;
                    let per_call: String = r.get(1)?;
                    let payees: String = r.get(2)?;
                    Ok(Self {
                        name: name.to_owned(),
                        budget: budget.parse().unwrap_or(0),
                        per_call: per_call.parse().unwrap_or(0),
                        payees: serde_json::from_str(&payees).unwrap_or_default(),
                        expires_at: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
            .optional()
        })
    }

    /// What is spent or reserved under mandate `name`: settled amounts plus pending
    /// reservations plus channel deposits not yet spent.
    pub fn spent(store: &Store, name: &str) -> Result<u128, agora_store::StoreError> {
        let rows: Vec<(String, Option<String>, String)> = store.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT reserved, amount, status FROM payer_spend WHERE mandate = ?1")?;
            let rows = stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })?;
        Ok(rows
            .into_iter()
            .map(|(reserved, amount, status)| {
                let parse = |s: &str| s.parse::<u128>().unwrap_or(0);
                match status.as_str() {
                    "pending" => parse(&reserved),
                    _ => amount.as_deref().map_or(0, parse),
                }
            })
            .sum())
    }
}
