//! The `exact` scheme: one EIP-3009 authorization per call, verified locally, settled on chain.

use super::{
    ExactPayment, MIN_SETTLE_WINDOW_SECS, Paywall, Refusal, RefusalReason, SETTLE_TIMEOUT, now_secs,
};
use crate::{
    error::PayError,
    typed::{self, Authorization, ExactPayload},
    wire::{PaymentPayload, SettleResponse},
};
use agora_chain::ChainClient;
use agora_contracts::bindings::DevStablecoin;
use agora_store::{
    now_ms,
    rusqlite::{self, params},
};
use alloy::{
    primitives::{Address, B256, Bytes, Signature, U256},
    sol_types::Eip712Domain,
};
use serde_json::{Value, json};

/// What an `exact` payment must match.
#[derive(Debug, Clone, Copy)]
pub struct ExactTerms<'a> {
    /// The token's EIP-712 domain.
    pub domain: &'a Eip712Domain,
    /// The token.
    pub asset: Address,
    /// Who must be paid.
    pub pay_to: Address,
    /// The price.
    pub amount: u128,
}

/// Verifies an `exact` payload against `terms` without settling it: signature, amount,
/// recipient, time window, unused nonce and balance (the last two read from `chain`).
/// Returns the authorization, its signature and the payer's balance.
pub async fn check_exact(
    chain: &ChainClient,
    terms: &ExactTerms<'_>,
    payload: &Value,
) -> Result<(Authorization, Bytes, U256), Refusal> {
    let exact: ExactPayload = serde_json::from_value(payload.clone()).map_err(|e| {
        Refusal::new(RefusalReason::InvalidPayload, format!("not an exact EIP-3009 payload: {e}"))
    })?;
    let authorization = exact
        .authorization
        .parse()
        .map_err(|e| Refusal::new(RefusalReason::InvalidPayload, e.to_string()))?;
    if authorization.to != terms.pay_to {
        return Err(Refusal::new(
            RefusalReason::RecipientMismatch,
            format!("the authorization pays {} instead of {}", authorization.to, terms.pay_to),
        ));
    }
    if authorization.value != U256::from(terms.amount) {
        return Err(Refusal::new(
            RefusalReason::ValueMismatch,
            format!("the authorization is for {} but the price is {}", authorization.value, terms.amount),
        ));
    }
    let now = now_secs();
    if now <= authorization.valid_after {
        return Err(Refusal::new(RefusalReason::ValidAfter, "the authorization is not valid yet"));
    }
    if authorization.valid_before < now + MIN_SETTLE_WINDOW_SECS {
        return Err(Refusal::new(
            RefusalReason::ValidBefore,
            format!("the authorization expires within {MIN_SETTLE_WINDOW_SECS}s (or has expired)"),
        ));
    }
    let signature = Signature::try_from(exact.signature.as_ref())
        .map_err(|_| Refusal::new(RefusalReason::Signature, "the signature is not 65 bytes"))?;
    let signer = typed::recover(&authorization.transfer_digest(terms.domain), &signature);
    if signer != Some(authorization.from) {
        return Err(Refusal::new(
            RefusalReason::Signature,
            "the signature is not the payer's (wrong key, chain, token or amount)",
        ));
    }
    let (used, balance) = authorization_state(chain, terms.asset, &authorization).await?;
    if used {
        return Err(Refusal::new(RefusalReason::NonceUsed, "this authorization's nonce was already used"));
    }
    if balance < authorization.value {
        return Err(Refusal::new(
            RefusalReason::InsufficientFunds,
            format!("the payer holds {balance}, less than {}", authorization.value),
        ));
    }
    Ok((authorization, exact.signature, balance))
}

/// What the token says of an EIP-3009 authorization: whether its nonce is used, and the payer's
/// balance (read together, for `exact` payments and channel deposits alike).
pub(super) async fn authorization_state(
    chain: &ChainClient,
    asset: Address,
    authorization: &Authorization,
) -> Result<(bool, U256), Refusal> {
    let token = DevStablecoin::new(asset, chain.provider());
    let used = token.authorizationState(authorization.from, authorization.nonce);
    let balance = token.balanceOf(authorization.from);
    let (used, balance) = tokio::try_join!(used.call(), balance.call()).map_err(Refusal::chain)?;
    Ok((used, balance))
}

/// Submits `transferWithAuthorization` on `asset`. `Ok(Some(tx))` when settled, `Ok(None)` when
/// the chain could not be reached (retry later), `Err` when the chain refused it (final).
pub async fn submit_transfer(
    chain: &ChainClient,
    asset: Address,
    authorization: &Authorization,
    signature: &Bytes,
) -> Result<Option<B256>, PayError> {
    let token = DevStablecoin::new(asset, chain.provider());
    let call = token.transferWithAuthorization_0(
        authorization.from,
        authorization.to,
        authorization.value,
        U256::from(authorization.valid_after),
        U256::from(authorization.valid_before),
        authorization.nonce,
        signature.clone(),
    );
    let send = async {
        let pending = match call.send().await {
            Ok(p) => p,
            Err(e) if is_revert(&e) => {
                return Err(PayError::Contract { what: "settlement refused", source: Box::new(e) });
            }
            Err(e) => {
                tracing::warn!(target: "agora::pay", "settlement deferred: {e}");
                return Ok(None);
            }
        };
        match pending.get_receipt().await {
            Ok(receipt) if receipt.status() => Ok(Some(receipt.transaction_hash)),
            Ok(receipt) => Err(PayError::Reverted { what: "settlement", tx: receipt.transaction_hash }),
            Err(e) => {
                tracing::warn!(target: "agora::pay", "settlement receipt not seen yet: {e}");
                Ok(None)
            }
        }
    };
    match tokio::time::timeout(SETTLE_TIMEOUT, send).await {
        Ok(result) => result,
        Err(_) => Ok(None),
    }
}

/// Whether a contract call failed because the node answered with an error (a revert: final),
/// rather than because it could not be reached (retry later).
pub(crate) fn is_revert(e: &alloy::contract::Error) -> bool {
    match e {
        alloy::contract::Error::TransportError(t) => t.as_error_resp().is_some(),
        _ => true,
    }
}

impl Paywall {
    /// Verifies an `exact` payment without settling it: signature, amount, recipient, window,
    /// unused nonce and balance. Reserves the nonce in the store (so no two calls use it).
    pub(super) async fn verify_exact(
        &self,
        payload: &PaymentPayload,
        amount: u128,
    ) -> Result<ExactPayment, Refusal> {
        let (authorization, signature, _) = self.check_exact(payload, amount).await?;
        // Reserve the nonce durably: a concurrent or later request with it is refused. The
        // payer's balance must also cover every authorization of theirs that is verified or
        // waiting to settle, or the later settlements would revert on chain. The order makes
        // this hold against settlements finishing meanwhile: reserve, sum what is outstanding,
        // and only then read the balance. A payment that leaves the outstanding set was mined
        // before the sum, so the balance read after it already reflects it.
        let c = &self.inner.config;
        let stored = serde_json::to_string(&payload.payload).unwrap_or_default();
        let (payer, nonce) = (authorization.from.to_string(), authorization.nonce.to_string());
        let reserved = self.inner.store.write(|tx| {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO pay_exact (payer, nonce, chain_id, asset, pay_to, amount, valid_before,
                     payload, status, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10, ?9)",
                params![
                    payer,
                    nonce,
                    c.chain_id as i64,
                    c.asset.to_string(),
                    c.pay_to.to_string(),
                    authorization.value.to_string(),
                    authorization.valid_before as i64,
                    stored,
                    now_ms(),
                    ExactStatus::Verified.as_str(),
                ],
            )?;
            if inserted != 1 {
                return Ok(None);
            }
            // An authorization past its window can no longer settle: it holds nothing.
            let mut stmt = tx.prepare_cached(
                "SELECT amount FROM pay_exact WHERE payer = ?1 AND asset = ?2
                     AND status IN (?4, ?5) AND valid_before > ?3",
            )?;
            let amounts = stmt
                .query_map(
                    params![
                        payer,
                        c.asset.to_string(),
                        now_secs() as i64,
                        ExactStatus::Verified.as_str(),
                        ExactStatus::Pending.as_str()
                    ],
                    |row| row.get::<_, String>(0),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(
                amounts
                    .iter()
                    .filter_map(|a| U256::from_str_radix(a, 10).ok())
                    .fold(U256::ZERO, |s, a| s.saturating_add(a)),
            ))
        });
        let outstanding = match reserved {
            Ok(Some(outstanding)) => outstanding,
            Ok(None) => {
                return Err(Refusal::new(
                    RefusalReason::NonceUsed,
                    "this authorization's nonce was already used",
                ));
            }
            Err(e) => return Err(Refusal::new(RefusalReason::StoreUnavailable, e.to_string())),
        };
        let release = || {
            let _ = self.inner.store.write(|tx| {
                tx.execute(
                    "DELETE FROM pay_exact WHERE payer = ?1 AND nonce = ?2 AND status = ?3",
                    params![payer, nonce, ExactStatus::Verified.as_str()],
                )
            });
        };
        let balance = match authorization_state(&self.inner.chain, c.asset, &authorization).await {
            Ok((_, balance)) => balance,
            Err(refusal) => {
                release();
                return Err(refusal);
            }
        };
        if outstanding > balance {
            release();
            return Err(Refusal::new(
                RefusalReason::InsufficientFunds,
                format!(
                    "the payer holds {balance}, which does not also cover their payments still being settled"
                ),
            ));
        }
        Ok(ExactPayment { authorization, signature, paywall: self.clone() })
    }

    /// The checks of an `exact` payment that need no reservation.
    pub async fn check_exact(
        &self,
        payload: &PaymentPayload,
        amount: u128,
    ) -> Result<(Authorization, Bytes, U256), Refusal> {
        let c = &self.inner.config;
        let terms = ExactTerms { domain: &self.inner.token_domain, asset: c.asset, pay_to: c.pay_to, amount };
        check_exact(&self.inner.chain, &terms, &payload.payload).await
    }

    /// Submits this paywall's `transferWithAuthorization` (see [`submit_transfer`]).
    pub async fn submit_exact(
        &self,
        authorization: &Authorization,
        signature: &Bytes,
    ) -> Result<Option<B256>, PayError> {
        submit_transfer(&self.inner.chain, self.inner.config.asset, authorization, signature).await
    }

    pub(super) fn mark_exact(
        &self,
        authorization: &Authorization,
        status: ExactStatus,
        tx: Option<B256>,
        error: Option<&str>,
    ) {
        let result = self.inner.store.write(|t| {
            t.execute(
                "UPDATE pay_exact SET status = ?3, tx = ?4, error = ?5 WHERE payer = ?1 AND nonce = ?2",
                params![
                    authorization.from.to_string(),
                    authorization.nonce.to_string(),
                    status.as_str(),
                    tx.map(|t| t.to_string()),
                    error
                ],
            )
        });
        if let Err(e) = result {
            tracing::error!(target: "agora::pay", "cannot record the exact payment's state: {e}");
        }
    }

    /// Retries `exact` settlements the chain could not take before; expires those past their
    /// window. Returns how many settled.
    pub async fn retry_pending_exact(&self) -> usize {
        let rows: Vec<(String, i64)> = self
            .inner
            .store
            .read(|conn| {
                let mut stmt =
                    conn.prepare("SELECT payload, valid_before FROM pay_exact WHERE status = ?1")?;
                let rows = stmt.query_map([ExactStatus::Pending.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            })
            .unwrap_or_default();
        let mut settled = 0;
        for (payload, valid_before) in rows {
            let Ok(exact) = serde_json::from_str::<ExactPayload>(&payload) else { continue };
            let Ok(authorization) = exact.authorization.parse() else { continue };
            if (valid_before as u64) <= now_secs() {
                self.mark_exact(
                    &authorization,
                    ExactStatus::Expired,
                    None,
                    Some("not settled inside its window"),
                );
                continue;
            }
            match self.submit_exact(&authorization, &exact.signature).await {
                Ok(Some(tx)) => {
                    self.mark_exact(&authorization, ExactStatus::Settled, Some(tx), None);
                    settled += 1;
                }
                Ok(None) => {}
                Err(e) => self.mark_exact(&authorization, ExactStatus::Failed, None, Some(&e.to_string())),
            }
        }
        settled
    }
}

impl ExactPayment {
    pub(super) async fn settle(self) -> Result<SettleResponse, Refusal> {
        let paywall = &self.paywall;
        let network = paywall.network();
        let payer = Some(self.authorization.from.to_checksum(None));
        let amount = Some(self.authorization.value.to_string());
        paywall.mark_exact(&self.authorization, ExactStatus::Pending, None, None);
        match paywall.submit_exact(&self.authorization, &self.signature).await {
            Ok(Some(tx)) => {
                paywall.mark_exact(&self.authorization, ExactStatus::Settled, Some(tx), None);
                Ok(SettleResponse {
                    success: true,
                    error_reason: None,
                    error_message: None,
                    payer,
                    transaction: tx.to_string(),
                    network,
                    amount,
                    extra: None,
                })
            }
            Ok(None) => Ok(SettleResponse {
                success: true,
                error_reason: None,
                error_message: None,
                payer,
                transaction: String::new(),
                network,
                amount,
                extra: Some(json!({ "pending": true })),
            }),
            Err(e) => {
                paywall.mark_exact(&self.authorization, ExactStatus::Failed, None, Some(&e.to_string()));
                Err(Refusal::new(RefusalReason::SettleFailed, format!("settlement failed: {e}")))
            }
        }
    }
}

/// Where an `exact` payment stands in the provider's store (`pay_exact.status`); the stored
/// text is [`ExactStatus::as_str`], unchanged from earlier databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExactStatus {
    /// Verified and its nonce reserved, the call being served.
    Verified,
    /// Submitted, or waiting for the chain to be reachable again.
    Pending,
    /// Transferred on chain.
    Settled,
    /// The chain refused it.
    Failed,
    /// Not settled inside its window.
    Expired,
}

impl ExactStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [Self::Verified, Self::Pending, Self::Settled, Self::Failed, Self::Expired];

    /// The stored text.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Pending => "pending",
            Self::Settled => "settled",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

impl std::fmt::Display for ExactStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ExactStatus {
    type Err = PayError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| PayError::UnknownStatus(s.to_owned()))
    }
}

impl serde::Serialize for ExactStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_stored_text() {
        let stored: Vec<&str> = ExactStatus::ALL.iter().map(ExactStatus::as_str).collect();
        assert_eq!(stored, ["verified", "pending", "settled", "failed", "expired"]);
        for status in ExactStatus::ALL {
            assert_eq!(status.as_str().parse::<ExactStatus>().unwrap(), status);
        }
        assert!(matches!("Settled".parse::<ExactStatus>(), Err(PayError::UnknownStatus(_))));
    }
}
