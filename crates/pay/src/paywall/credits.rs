//! `zk-credits`: calls paid with anonymous prepaid credits (see `agora-credits`).
//!
//! The offer names the pool (contract, number, terms) and its newest roots; the payment is a
//! proof that an unnamed member spends `units` fresh tickets on this very request. The tickets
//! are recorded durably before the call is served; nothing recorded names the buyer, and no
//! two calls share a recorded value. A ticket spent on two requests gives the member's secret
//! away: it is queued and its stake slashed on chain, paid to this node.

use super::*;
use agora_credits::{Fr, Pool, PoolKey, Recorded, Spend, TicketBook};
use std::{collections::HashMap, time::Instant};

/// Roots read from the chain are reused this long before being read again (a proof against a
/// root newer than the cache reads them again at once).
const ROOTS_TTL: Duration = Duration::from_secs(2);
/// The newest roots a 402 names (the contract accepts its last 64).
const OFFERED_ROOTS: usize = 4;

/// The credit pools this paywall sells calls of.
#[derive(Debug, Clone)]
pub struct CreditsConfig {
    /// The pools (all of this node's agent, in one token, at one unit price).
    pub pools: Vec<Pool>,
    /// Tokens (prompt and completion) one unit buys: a call costs `ceil(tokens / unit_tokens)`
    /// units, at most four.
    pub unit_tokens: u64,
}

#[derive(Debug)]
pub(super) struct CreditDesk {
    pub(super) config: CreditsConfig,
    book: TicketBook,
    roots: std::sync::Mutex<HashMap<U256, (Vec<Fr>, Instant)>>,
}

/// A verified credit spend, recorded; the call may be served.
#[derive(Debug)]
pub struct CreditPayment {
    /// The pool.
    pub key: PoolKey,
    /// The tickets spent.
    pub spend: Spend,
    /// What the units are worth.
    pub amount: u128,
    pub(super) paywall: Paywall,
}

impl CreditDesk {
    pub(super) fn new(config: CreditsConfig, store: Arc<Store>) -> Self {
        Self { config, book: TicketBook::new(store), roots: Default::default() }
    }

    fn pool(&self, pool_id: &str) -> Option<&Pool> {
        self.config.pools.iter().find(|p| p.key.pool_id.to_string() == pool_id)
    }

    fn cached_roots(&self, pool_id: U256) -> Vec<Fr> {
        let roots = self.roots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        roots.get(&pool_id).map(|(r, _)| r.clone()).unwrap_or_default()
    }

    async fn roots(&self, chain: &ChainClient, pool: &Pool, fresh: bool) -> Result<Vec<Fr>, Refusal> {
        if !fresh {
            let roots = self.roots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((r, at)) = roots.get(&pool.key.pool_id)
                && at.elapsed() < ROOTS_TTL
            {
                return Ok(r.clone());
            }
        }
        let read = agora_credits::recent_roots(chain, pool.key).await.map_err(Refusal::chain)?;
        self.roots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(pool.key.pool_id, (read.clone(), Instant::now()));
        Ok(read)
    }
}

/// The units a call whose ceiling is `amount` costs: `ceil(amount / unit price)`, or `None`
/// above four units (too large a call for one proof).
fn units_for(amount: u128, unit_price: u128) -> Option<u128> {
    let units = amount.div_ceil(unit_price.max(1)).max(1);
    (units <= agora_credits::MAX_UNITS as u128).then_some(units)
}

impl Paywall {
    /// The `zk-credits` offers for a call costing up to `amount`: one per pool, each asking for
    /// the units that cover it.
    pub(super) fn credit_offers(&self, amount: u128) -> Vec<PaymentRequirements> {
        let Some(desk) = &self.inner.credits else { return Vec::new() };
        let c = &self.inner.config;
        desk.config
            .pools
            .iter()
            .filter_map(|pool| {
                let unit_price = u128::try_from(pool.unit_price).ok()?;
                let units = units_for(amount, unit_price)?;
                let roots: Vec<String> = desk
                    .cached_roots(pool.key.pool_id)
                    .iter()
                    .take(OFFERED_ROOTS)
                    .map(agora_credits::to_hex)
                    .collect();
                Some(PaymentRequirements {
                    scheme: wire::SCHEME_CREDITS.to_owned(),
                    network: wire::caip2(c.chain_id),
                    amount: (units * unit_price).to_string(),
                    asset: pool.token.to_checksum(None),
                    pay_to: pool.payee.to_checksum(None),
                    max_timeout_seconds: c.max_timeout_seconds,
                    extra: json!({
                        "contract": pool.key.contract.to_checksum(None),
                        "poolId": pool.key.pool_id.to_string(),
                        "agentId": pool.agent_id.to_string(),
                        "units": units as u64,
                        "unitPrice": pool.unit_price.to_string(),
                        "unitTokens": desk.config.unit_tokens,
                        "calls": pool.calls,
                        "stake": pool.stake.to_string(),
                        "exitDelay": pool.exit_delay,
                        "scope": agora_credits::to_hex(&pool.key.call_scope()),
                        "roots": roots,
                    }),
                })
            })
            .collect()
    }

    /// Reads the pools' roots when the cache is stale, so the 402 names current ones.
    pub(super) async fn refresh_credit_roots(&self) {
        let Some(desk) = &self.inner.credits else { return };
        for pool in &desk.config.pools {
            if let Err(e) = desk.roots(&self.inner.chain, pool, false).await {
                tracing::debug!(target: "agora::credits", "cannot read pool roots: {}", e.message);
            }
        }
    }

    /// Verifies a `zk-credits` payment for the request with `signal`, and records its tickets
    /// durably before returning.
    pub(super) async fn verify_credits(
        &self,
        payload: &PaymentPayload,
        signal: Option<Fr>,
    ) -> Result<CreditPayment, Refusal> {
        let desk =
            self.inner.credits.as_ref().ok_or_else(|| {
                Refusal::new(RefusalReason::UnsupportedScheme, "this node sells no credits")
            })?;
        let signal = signal.ok_or_else(|| {
            Refusal::new(RefusalReason::UnsupportedScheme, "this route does not take credits")
        })?;
        let accepted = &payload.accepted;
        let pool_id = accepted.extra.get("poolId").and_then(Value::as_str).unwrap_or_default();
        let pool = desk.pool(pool_id).ok_or_else(|| {
            Refusal::new(RefusalReason::CreditPool, format!("pool {pool_id:?} is not sold here"))
        })?;
        let units = accepted.extra.get("units").and_then(Value::as_u64).unwrap_or_default() as usize;
        let proof: agora_credits::CallProof =
            serde_json::from_value(payload.payload.clone()).map_err(|e| {
                Refusal::new(
                    RefusalReason::InvalidPayload,
                    format!("the zk-credits payload does not parse: {e}"),
                )
            })?;
        if proof.units() != units {
            return Err(Refusal::new(
                RefusalReason::ValueMismatch,
                format!("the proof spends {} units but this call costs {units}", proof.units()),
            ));
        }
        let scope = pool.key.call_scope();
        let mut roots = desk.roots(&self.inner.chain, pool, false).await?;
        let mut checked = check_proof(&proof, signal, scope, roots).await;
        if matches!(checked, Err(agora_credits::Refusal::UnknownRoot)) {
            // A deposit newer than the cache: read the roots again once.
            roots = desk.roots(&self.inner.chain, pool, true).await?;
            checked = check_proof(&proof, signal, scope, roots).await;
        }
        let spend = checked.map_err(credit_refusal)?;
        let book = desk.book.clone();
        let key = pool.key;
        let recorded = {
            let spend = spend.clone();
            tokio::task::spawn_blocking(move || book.record(&key, &spend))
                .await
                .map_err(|e| Refusal::new(RefusalReason::StoreUnavailable, e.to_string()))?
                .map_err(|e| {
                    Refusal::new(RefusalReason::StoreUnavailable, format!("cannot record the tickets: {e}"))
                })?
        };
        match recorded {
            Recorded::Fresh => {}
            Recorded::Replayed => return Err(credit_refusal(agora_credits::Refusal::Replayed)),
            Recorded::DoubleSpent(_) => {
                tracing::warn!(target: "agora::credits", pool = %key.pool_id, "a ticket was spent twice: slashing its stake");
                let paywall = self.clone();
                tokio::spawn(async move { paywall.slash_pass().await });
                return Err(credit_refusal(agora_credits::Refusal::DoubleSpent));
            }
        }
        let amount = u128::try_from(pool.unit_price).unwrap_or(u128::MAX).saturating_mul(units as u128);
        Ok(CreditPayment { key, spend, amount, paywall: self.clone() })
    }

    /// Slashes every double-spender whose secret is known and not slashed yet; the stake goes
    /// to this node's payee.
    pub async fn slash_pass(&self) {
        let Some(desk) = &self.inner.credits else { return };
        let Ok(pending) = desk.book.pending_slashes() else { return };
        for (contract, pool_id, secret) in pending {
            let Some(pool) =
                desk.config.pools.iter().find(|p| p.key.contract == contract && p.key.pool_id == pool_id)
            else {
                continue;
            };
            let result = agora_credits::slash(&self.inner.chain, pool.key, secret, pool.payee).await;
            let done = match &result {
                Ok(tx) => {
                    tracing::info!(target: "agora::credits", pool = %pool_id, %tx, "slashed a double-spender's stake");
                    Ok(tx.to_string())
                }
                // Another slasher was first, or the member had exited: nothing to retry.
                Err(e)
                    if e.to_string().contains("AlreadySlashed")
                        || e.to_string().contains("AlreadyExited") =>
                {
                    Err(e.to_string())
                }
                Err(e) => {
                    tracing::warn!(target: "agora::credits", "slashing failed (will retry): {e}");
                    continue;
                }
            };
            let _ = desk.book.slash_done(contract, pool_id, &secret, done);
        }
    }
}

async fn check_proof(
    proof: &agora_credits::CallProof,
    signal: Fr,
    scope: Fr,
    roots: Vec<Fr>,
) -> Result<Spend, agora_credits::Refusal> {
    let proof = proof.clone();
    tokio::task::spawn_blocking(move || proof.verify(signal, scope, &roots))
        .await
        .unwrap_or(Err(agora_credits::Refusal::InvalidProof))
}

fn credit_refusal(refusal: agora_credits::Refusal) -> Refusal {
    use agora_credits::Refusal as R;
    let reason = match &refusal {
        R::Malformed(_) => RefusalReason::InvalidPayload,
        R::WrongPool => RefusalReason::CreditPool,
        R::UnknownRoot => RefusalReason::CreditRoot,
        R::InvalidProof => RefusalReason::CreditProof,
        R::Replayed => RefusalReason::CreditReplayed,
        R::DoubleSpent => RefusalReason::CreditDoubleSpent,
    };
    Refusal::new(reason, refusal.to_string())
}

impl CreditPayment {
    /// The call was served: the tickets stay spent. Nothing moves on chain (the calls were paid
    /// for at the deposit).
    pub(super) fn complete(self) -> SettleResponse {
        SettleResponse {
            success: true,
            error_reason: None,
            error_message: None,
            payer: None,
            transaction: String::new(),
            network: self.paywall.network(),
            amount: Some(self.amount.to_string()),
            extra: None,
        }
    }

    /// The call was not served: its tickets are released, so the same proof may come again.
    pub(super) fn release(self) {
        if let Some(desk) = &self.paywall.inner.credits
            && let Err(e) = desk.book.release(&self.key, &self.spend)
        {
            tracing::warn!(target: "agora::credits", "cannot release the tickets of an unserved call: {e}");
        }
    }

    /// The payment's reference: its first ticket's nullifier (no two calls share one).
    pub fn reference(&self) -> B256 {
        self.spend.tickets.first().map(|(n, _)| B256::from(agora_credits::to_u256(n))).unwrap_or_default()
    }
}
