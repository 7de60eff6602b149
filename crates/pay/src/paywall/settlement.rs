//! Settlement: channel claims in batches, withdrawals watched, the background pass, earnings.

use super::{CLAIM_BATCH, Paywall, now_secs};
use crate::error::PayError;
use crate::ledger::{ChannelState, Ledger};
use crate::x402::{self, IBatchSettlement};
use agora_store::{Store, rusqlite};
use alloy::{
    primitives::{Address, B256},
    providers::Provider,
};

impl Paywall {
    /// Claims every channel that is due: unclaimed above the threshold, closing (its payer
    /// started a withdrawal, which a claim must beat), or all of them with `force`. Channels are claimed in batches of [`CLAIM_BATCH`] per transaction.
    pub async fn claim_due(&self, force: bool) -> Result<ClaimReport, PayError> {
        let Some(ledger) = &self.inner.ledger else { return Ok(ClaimReport::default()) };
        let c = &self.inner.config;
        let now = now_secs();
        let due: Vec<ChannelState> = ledger
            .all()?
            .into_iter()
            .filter(|s| s.unclaimed() > 0 && !s.voucher_sig.is_empty())
            .filter(|s| s.terms.closing_at == 0 || now < s.terms.closing_at)
            .filter(|s| force || s.unclaimed() >= c.claim_threshold || s.terms.closing_at != 0)
            .collect();
        let mut report = ClaimReport::default();
        let channels = IBatchSettlement::new(x402::BATCH_SETTLEMENT, self.inner.chain.provider());
        for batch in due.chunks(CLAIM_BATCH) {
            let entries: Vec<IBatchSettlement::VoucherClaim> = batch
                .iter()
                .map(|s| IBatchSettlement::VoucherClaim {
                    voucher: IBatchSettlement::Voucher {
                        channel: s.terms.config().to_sol().into(),
                        maxClaimableAmount: s.voucher_max,
                    },
                    signature: s.voucher_sig.clone(),
                    totalClaimed: s.charged,
                })
                .collect();
            let receipt = channels
                .claim(entries)
                .send()
                .await
                .map_err(|e| PayError::Contract { what: "claim not sent", source: Box::new(e) })?
                .get_receipt()
                .await
                .map_err(|source| PayError::Receipt { what: "claim receipt", source })?;
            if !receipt.status() {
                return Err(PayError::Reverted { what: "claim", tx: receipt.transaction_hash });
            }
            report.transactions.push(receipt.transaction_hash);
            report.gas_used += receipt.gas_used;
            for s in batch {
                report.channels += 1;
                report.amount += s.unclaimed();
                let slot = ledger.slot(s.id);
                let mut guard = slot.lock().await;
                let mut current = match guard.clone() {
                    Some(state) => state,
                    None => ledger.load(s.id)?.unwrap_or_else(|| s.clone()),
                };
                current.claimed = current.claimed.max(s.charged);
                ledger.commit(current.clone()).await?;
                *guard = Some(current);
            }
        }
        if report.channels > 0 {
            tracing::info!(target: "agora::pay", channels = report.channels, amount = report.amount, "claimed");
            // Claimed funds stay in the contract until settled to the receiver.
            let receipt = channels
                .settle(c.pay_to, c.asset)
                .send()
                .await
                .map_err(|e| PayError::Contract { what: "settle not sent", source: Box::new(e) })?
                .get_receipt()
                .await
                .map_err(|source| PayError::Receipt { what: "settle receipt", source })?;
            if !receipt.status() {
                return Err(PayError::Reverted { what: "settle", tx: receipt.transaction_hash });
            }
            report.transactions.push(receipt.transaction_hash);
            report.gas_used += receipt.gas_used;
            report.settle_gas = receipt.gas_used;
        }
        Ok(report)
    }

    /// Marks channels whose payer started a withdrawal (from the contract's logs since the last
    /// look), so they take no more vouchers and are claimed before the delay ends.
    pub async fn watch_withdrawals(&self) -> Result<usize, PayError> {
        let Some(ledger) = &self.inner.ledger else { return Ok(0) };
        let contract = x402::BATCH_SETTLEMENT;
        let key = format!("pay.withdraw_cursor.{}.{contract}", self.inner.config.chain_id);
        let from: u64 =
            self.inner.store.setting(&key).ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(0);
        let latest = self.inner.chain.provider().get_block_number().await?;
        if from > latest {
            return Ok(0);
        }
        let filter = alloy::rpc::types::Filter::new()
            .address(contract)
            .event_signature(
                <IBatchSettlement::WithdrawInitiated as alloy::sol_types::SolEvent>::SIGNATURE_HASH,
            )
            .from_block(from)
            .to_block(latest);
        let logs = self.inner.chain.provider().get_logs(&filter).await?;
        let mut marked = 0;
        for log in logs {
            let Ok(event) = log.log_decode::<IBatchSettlement::WithdrawInitiated>() else { continue };
            let id = event.inner.data.channelId;
            let slot = ledger.slot(id);
            let mut guard = slot.lock().await;
            let state = match guard.clone() {
                Some(state) => Some(state),
                None => ledger.load(id)?,
            };
            let Some(mut state) = state else { continue };
            state.terms.closing_at = event.inner.data.finalizeAfter.to::<u64>();
            ledger.commit(state.clone()).await?;
            *guard = Some(state);
            marked += 1;
        }
        self.inner.store.set_setting(&key, &(latest + 1).to_string())?;
        Ok(marked)
    }

    /// One pass of the background settler: note withdrawals, claim what is due, retry deferred
    /// `exact` settlements.
    pub async fn settle_pass(&self) {
        if let Err(e) = self.watch_withdrawals().await {
            tracing::warn!(target: "agora::pay", "cannot read channel withdrawals (will retry): {e}");
        }
        if let Err(e) = self.claim_due(false).await {
            tracing::warn!(target: "agora::pay", "claim failed (will retry): {e}");
        }
        self.retry_pending_exact().await;
        self.slash_pass().await;
    }

    /// What this node has earned: per channel, and `exact` totals by status.
    pub fn earnings(&self) -> Result<Earnings, PayError> {
        earnings(&self.inner.store, self.inner.ledger.as_ref())
    }
}

/// What was earned, read from the store alone (no chain needed): the channels of `ledger`'s
/// contract, and every `exact` payment by status.
pub fn earnings(store: &Store, ledger: Option<&Ledger>) -> Result<Earnings, PayError> {
    let channels = match ledger {
        Some(ledger) => ledger.all()?,
        None => Vec::new(),
    };
    Ok(Earnings { channels, exact: exact_totals(store)? })
}

/// What was earned on one channel contract (`chain_id`, `contract`), and every `exact` payment
/// by status, read from the store alone: no ledger, no chain.
pub fn stored_earnings(store: &Store, channels: Option<(u64, Address)>) -> Result<Earnings, PayError> {
    let channels = match channels {
        Some((chain_id, contract)) => crate::ledger::stored_channels(store, chain_id, contract)?,
        None => Vec::new(),
    };
    Ok(Earnings { channels, exact: exact_totals(store)? })
}

/// Every `exact` payment by stored status: (count, atomic units).
fn exact_totals(store: &Store) -> Result<std::collections::BTreeMap<String, (u64, u128)>, PayError> {
    let exact = store.read(|conn| {
        let mut stmt = conn.prepare("SELECT status, amount FROM pay_exact")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    })?;
    let mut totals = std::collections::BTreeMap::<String, (u64, u128)>::new();
    for (status, amount) in exact {
        let entry = totals.entry(status).or_default();
        entry.0 += 1;
        entry.1 += amount.parse::<u128>().unwrap_or(0);
    }
    Ok(totals)
}

/// Atomic amounts as decimal strings in JSON (they can exceed what JSON numbers carry).
mod decimal {
    pub(super) fn serialize<S: serde::Serializer>(amount: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&amount.to_string())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What [`Paywall::claim_due`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimReport {
    /// Channels claimed.
    pub channels: usize,
    /// Atomic units claimed.
    #[serde(with = "decimal")]
    pub amount: u128,
    /// Claim transactions.
    pub transactions: Vec<B256>,
    /// Gas they used (claims and the settlement).
    pub gas_used: u64,
    /// Gas of the settlement that moved the claimed funds to the receiver.
    #[serde(default)]
    pub settle_gas: u64,
}

/// What [`Paywall::earnings`] reports.
#[derive(Debug, Clone)]
pub struct Earnings {
    /// Every channel paying this node.
    pub channels: Vec<ChannelState>,
    /// `exact` payments by status: (count, atomic units).
    pub exact: std::collections::BTreeMap<String, (u64, u128)>,
}
