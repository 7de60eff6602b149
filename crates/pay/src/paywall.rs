//! The provider side: prices on routes, 402 answers, payment verification, and settlement.
//!
//! ```text
//! request ─▶ Paywall::authorize ─┬─ no payment header      ─▶ 402 + PAYMENT-REQUIRED
//!                                ├─ malformed              ─▶ 400 + reason
//!                                ├─ exact: verify locally  ─▶ Authorized::Exact  (nonce reserved in the store)
//!                                └─ channel: lock channel, verify voucher ─▶ Authorized::Channel
//! handler serves ─▶ Authorized::complete(actual) ─┬─ exact: transferWithAuthorization on chain, then respond
//!                                                 └─ channel: voucher + charge durable (group commit), then respond
//! handler fails  ─▶ Authorized::abandon            (nothing charged, nonce released)
//! ```
//!
//! Serve, then settle: the work is done before the money moves, and the response is held back
//! until the payment is settled (`exact`) or durably recorded (`channel`). If an `exact`
//! settlement is refused by the chain (the payer spent the balance or used the nonce meanwhile)
//! the response is withheld and the client gets a 402. If the chain cannot be reached, the
//! signed authorization stays queued in the store and is retried until it expires; the response
//! is delivered with `transaction: ""`.

use crate::{
    ledger::{ChannelState, ChannelTerms, Ledger},
    typed::{self, Authorization, ChannelPayload, ExactPayload},
    wire::{
        self, PaymentPayload, PaymentRequired, PaymentRequirements, ResourceInfo, SettleResponse, reason,
    },
};
use agora_chain::ChainClient;
use agora_contracts::bindings::{DevStablecoin, PaymentChannels};
use agora_store::Store;
use alloy::{
    primitives::{Address, B256, Bytes, Signature, U256},
    providers::Provider,
    sol_types::Eip712Domain,
};
use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use rusqlite::params;
use serde_json::{Value, json};
use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::OwnedMutexGuard;

/// An `exact` authorization must stay valid at least this long after it arrives, so that the
/// call can be served and settled inside its window.
pub const MIN_SETTLE_WINDOW_SECS: u64 = 6;
/// How long settlement waits for the chain before treating it as unreachable.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most channels one claim transaction carries.
pub const CLAIM_BATCH: usize = 50;

/// What the paywall accepts and where the money goes.
#[derive(Debug, Clone)]
pub struct PaywallConfig {
    /// Chain id of the settlement chain.
    pub chain_id: u64,
    /// The token prices are in.
    pub asset: Address,
    /// The token's EIP-712 domain name (for EIP-3009 signatures).
    pub asset_name: String,
    /// The token's EIP-712 domain version.
    pub asset_version: String,
    /// Who is paid.
    pub pay_to: Address,
    /// Offer the `exact` scheme.
    pub exact: bool,
    /// The channel contract; offers the `channel` scheme when set.
    pub channels: Option<Address>,
    /// The shortest withdrawal delay a paying channel may have (seconds).
    pub min_withdraw_delay: u64,
    /// `maxTimeoutSeconds` of the requirements.
    pub max_timeout_seconds: u64,
    /// Claim a channel once this much is charged and unclaimed.
    pub claim_threshold: u128,
    /// Claim a closing channel this many seconds before its withdrawal can complete.
    pub claim_margin_secs: u64,
}

/// A refused payment: the status (402, 400 or 503), a reason code, a message, and the
/// requirements to send back.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable reason ([`wire::reason`]).
    pub reason: &'static str,
    /// For people.
    pub message: String,
    /// The 402's requirements (with channel state for a corrective 402).
    pub required: Option<Box<PaymentRequired>>,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self { status, reason, message: message.into(), required: None }
    }

    fn payment(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, reason, message)
    }

    fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    fn chain(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_unavailable",
            format!("the settlement chain cannot be reached: {message}"),
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({
            "error": {
                "message": self.message,
                "type": "payment_error",
                "code": self.reason,
            },
        });
        let mut headers = HeaderMap::new();
        if let Some(mut required) = self.required {
            required.error = Some(self.reason.to_owned());
            if let Ok(value) = HeaderValue::from_str(&wire::encode_header(&required)) {
                headers.insert(wire::PAYMENT_REQUIRED_HEADER, value);
            }
            body["x402Version"] = json!(2);
            body["accepts"] = json!(required.accepts);
            body["resource"] = json!(required.resource);
        }
        (self.status, headers, Json(body)).into_response()
    }
}

/// The paywall of one node. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Paywall {
    inner: Arc<PaywallInner>,
}

#[derive(Debug)]
struct PaywallInner {
    config: PaywallConfig,
    chain: ChainClient,
    store: Arc<Store>,
    ledger: Option<Ledger>,
    token_domain: Eip712Domain,
    channels_domain: Option<Eip712Domain>,
}

/// A verified payment, held while the call is served.
#[derive(Debug)]
pub enum Authorized {
    /// An EIP-3009 authorization, its nonce reserved.
    Exact(ExactPayment),
    /// A voucher on a channel, whose lock is held until the charge is recorded.
    Channel(ChannelPayment),
}

/// A verified `exact` payment.
#[derive(Debug)]
pub struct ExactPayment {
    /// What was signed.
    pub authorization: Authorization,
    signature: Bytes,
    paywall: Paywall,
}

/// A verified channel voucher.
#[derive(Debug)]
pub struct ChannelPayment {
    /// The channel.
    pub channel_id: B256,
    /// The voucher's cumulative amount.
    pub voucher_max: u128,
    /// What was charged before this call.
    pub charged_before: u128,
    /// The most this call may cost.
    pub ceiling: u128,
    /// Who pays.
    pub payer: Address,
    signature: Bytes,
    guard: OwnedMutexGuard<Option<ChannelState>>,
    paywall: Paywall,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

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
        Refusal::bad_request(reason::INVALID_PAYLOAD, format!("not an exact EIP-3009 payload: {e}"))
    })?;
    let authorization =
        exact.authorization.parse().map_err(|e| Refusal::bad_request(reason::INVALID_PAYLOAD, e))?;
    if authorization.to != terms.pay_to {
        return Err(Refusal::payment(
            reason::RECIPIENT_MISMATCH,
            format!("the authorization pays {} instead of {}", authorization.to, terms.pay_to),
        ));
    }
    if authorization.value != U256::from(terms.amount) {
        return Err(Refusal::payment(
            reason::VALUE_MISMATCH,
            format!("the authorization is for {} but the price is {}", authorization.value, terms.amount),
        ));
    }
    let now = now_secs();
    if now <= authorization.valid_after {
        return Err(Refusal::payment(reason::VALID_AFTER, "the authorization is not valid yet"));
    }
    if authorization.valid_before < now + MIN_SETTLE_WINDOW_SECS {
        return Err(Refusal::payment(
            reason::VALID_BEFORE,
            format!("the authorization expires within {MIN_SETTLE_WINDOW_SECS}s (or has expired)"),
        ));
    }
    let signature = Signature::try_from(exact.signature.as_ref())
        .map_err(|_| Refusal::payment(reason::SIGNATURE, "the signature is not 65 bytes"))?;
    let signer = typed::recover(&authorization.transfer_digest(terms.domain), &signature);
    if signer != Some(authorization.from) {
        return Err(Refusal::payment(
            reason::SIGNATURE,
            "the signature is not the payer's (wrong key, chain, token or amount)",
        ));
    }
    let (used, balance) = authorization_state(chain, terms.asset, &authorization).await?;
    if used {
        return Err(Refusal::payment(reason::NONCE_USED, "this authorization's nonce was already used"));
    }
    if balance < authorization.value {
        return Err(Refusal::payment(
            reason::INSUFFICIENT_FUNDS,
            format!("the payer holds {balance}, less than {}", authorization.value),
        ));
    }
    Ok((authorization, exact.signature, balance))
}

/// What the token says of an EIP-3009 authorization: whether its nonce is used, and the payer's
/// balance (read together, for `exact` payments and channel deposits alike).
async fn authorization_state(
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
) -> Result<Option<B256>, String> {
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
            Err(e) if is_revert(&e) => return Err(e.to_string()),
            Err(e) => {
                tracing::warn!(target: "agora::pay", "settlement deferred: {e}");
                return Ok(None);
            }
        };
        match pending.get_receipt().await {
            Ok(receipt) if receipt.status() => Ok(Some(receipt.transaction_hash)),
            Ok(receipt) => Err(format!("transaction {} reverted", receipt.transaction_hash)),
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
fn is_revert(e: &alloy::contract::Error) -> bool {
    match e {
        alloy::contract::Error::TransportError(t) => t.as_error_resp().is_some(),
        _ => true,
    }
}

impl Paywall {
    /// A paywall settling on `chain` (whose signer pays settlement gas), recording in `store`.
    pub fn new(config: PaywallConfig, chain: ChainClient, store: Arc<Store>) -> Self {
        let token_domain =
            typed::token_domain(&config.asset_name, &config.asset_version, config.chain_id, config.asset);
        let channels_domain = config.channels.map(|c| typed::channels_domain(config.chain_id, c));
        let ledger = config.channels.map(|c| Ledger::new(Arc::clone(&store), config.chain_id, c));
        Self { inner: Arc::new(PaywallInner { config, chain, store, ledger, token_domain, channels_domain }) }
    }

    /// The configuration.
    pub fn config(&self) -> &PaywallConfig {
        &self.inner.config
    }

    /// The channel ledger, when channels are offered.
    pub fn ledger(&self) -> Option<&Ledger> {
        self.inner.ledger.as_ref()
    }

    /// The chain settlement runs on.
    pub fn chain(&self) -> &ChainClient {
        &self.inner.chain
    }

    /// The CAIP-2 network.
    pub fn network(&self) -> String {
        wire::caip2(self.inner.config.chain_id)
    }

    /// The ways to pay `amount` (atomic units; for channels, the most one call may cost).
    pub fn accepts(&self, amount: u128) -> Vec<PaymentRequirements> {
        let c = &self.inner.config;
        let mut accepts = Vec::new();
        let base = |scheme: &str, extra: Value| PaymentRequirements {
            scheme: scheme.to_owned(),
            network: self.network(),
            amount: amount.to_string(),
            asset: c.asset.to_checksum(None),
            pay_to: c.pay_to.to_checksum(None),
            max_timeout_seconds: c.max_timeout_seconds,
            extra,
        };
        if c.exact {
            accepts.push(base(
                wire::SCHEME_EXACT,
                json!({ "name": c.asset_name, "version": c.asset_version, "assetTransferMethod": "eip3009" }),
            ));
        }
        if let Some(contract) = c.channels {
            accepts.push(base(
                wire::SCHEME_CHANNEL,
                json!({
                    "name": c.asset_name,
                    "version": c.asset_version,
                    "channelContract": contract.to_checksum(None),
                    "channelDomain": { "name": typed::CHANNELS_DOMAIN_NAME, "version": typed::CHANNELS_DOMAIN_VERSION },
                    "withdrawDelay": c.min_withdraw_delay,
                }),
            ));
        }
        accepts
    }

    /// The 402 body for `resource` at `amount`.
    pub fn required(&self, resource: &ResourceInfo, amount: u128) -> PaymentRequired {
        PaymentRequired {
            x402_version: 2,
            error: None,
            resource: resource.clone(),
            accepts: self.accepts(amount),
            extensions: None,
        }
    }

    /// Checks the payment a request carries for `resource` at `amount`. Without one, or with one
    /// that does not pay, the refusal carries the requirements to answer with.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        resource: &ResourceInfo,
        amount: u128,
    ) -> Result<Authorized, Refusal> {
        let required = self.required(resource, amount);
        let with_required = |mut refusal: Refusal| {
            match refusal.required.as_mut() {
                Some(r) => r.resource = required.resource.clone(),
                None => refusal.required = Some(Box::new(required.clone())),
            }
            refusal
        };
        let (value, v1) = if let Some(v) = headers.get(wire::PAYMENT_SIGNATURE_HEADER) {
            (v, false)
        } else if let Some(v) = headers.get(wire::X_PAYMENT_HEADER) {
            (v, true)
        } else {
            return Err(with_required(Refusal::payment(
                reason::PAYMENT_REQUIRED,
                format!("this route costs up to {amount} atomic units; pay with one of `accepts`"),
            )));
        };
        let value = value.to_str().map_err(|_| {
            with_required(Refusal::bad_request(reason::INVALID_PAYLOAD, "the payment header is not ASCII"))
        })?;
        let payload = wire::decode_payment(value, v1, &required.accepts).map_err(|e| {
            let reason = match e {
                wire::WireError::Version(_) => reason::INVALID_VERSION,
                _ => reason::INVALID_PAYLOAD,
            };
            with_required(Refusal::bad_request(reason, e.to_string()))
        })?;
        self.check_accepted(&payload, &required.accepts).map_err(with_required)?;
        match payload.accepted.scheme.as_str() {
            wire::SCHEME_EXACT => self.verify_exact(&payload, amount).await.map(Authorized::Exact),
            wire::SCHEME_CHANNEL => self.verify_channel(&payload, amount).await.map(Authorized::Channel),
            _ => unreachable!("check_accepted admits offered schemes only"),
        }
        .map_err(with_required)
    }

    /// The chosen requirement must be one that was offered (a corrective 402's channel state
    /// aside).
    fn check_accepted(
        &self,
        payload: &PaymentPayload,
        offered: &[PaymentRequirements],
    ) -> Result<(), Refusal> {
        let chosen = &payload.accepted;
        let Some(same_scheme) = offered.iter().find(|r| r.scheme == chosen.scheme) else {
            return Err(Refusal::payment(
                reason::UNSUPPORTED_SCHEME,
                format!("scheme {:?} is not accepted here", chosen.scheme),
            ));
        };
        if chosen.network != same_scheme.network {
            return Err(Refusal::payment(
                reason::INVALID_NETWORK,
                format!("payment on {} but this route settles on {}", chosen.network, same_scheme.network),
            ));
        }
        if !chosen.asset.eq_ignore_ascii_case(&same_scheme.asset)
            || !chosen.pay_to.eq_ignore_ascii_case(&same_scheme.pay_to)
        {
            return Err(Refusal::payment(
                reason::INVALID_REQUIREMENTS,
                "the payment names another asset or recipient than this route asks for",
            ));
        }
        if chosen.amount != same_scheme.amount {
            let code = match (typed::parse_amount(&chosen.amount), typed::parse_amount(&same_scheme.amount)) {
                (Some(a), Some(b)) if a > b => reason::ABOVE_CEILING,
                _ => reason::VALUE_MISMATCH,
            };
            return Err(Refusal::payment(
                code,
                format!("the payment is for {} but this request costs {}", chosen.amount, same_scheme.amount),
            ));
        }
        let strip = |extra: &Value| {
            let mut extra = extra.clone();
            if let Some(map) = extra.as_object_mut() {
                map.remove("channelState");
            }
            extra
        };
        if chosen.max_timeout_seconds != same_scheme.max_timeout_seconds
            || strip(&chosen.extra) != strip(&same_scheme.extra)
        {
            return Err(Refusal::payment(
                reason::INVALID_REQUIREMENTS,
                "`accepted` differs from the requirement offered",
            ));
        }
        Ok(())
    }

    // -------------------------------------------------------------------------------------
    // exact
    // -------------------------------------------------------------------------------------

    /// Verifies an `exact` payment without settling it: signature, amount, recipient, window,
    /// unused nonce and balance. Reserves the nonce in the store (so no two calls use it).
    async fn verify_exact(&self, payload: &PaymentPayload, amount: u128) -> Result<ExactPayment, Refusal> {
        let (authorization, signature, balance) = self.check_exact(payload, amount).await?;
        // Reserve the nonce durably: a concurrent or later request with it is refused. The
        // payer's balance must also cover every authorization of theirs that is verified or
        // waiting to settle, or the later settlements would revert on chain.
        let c = &self.inner.config;
        let stored = serde_json::to_string(&payload.payload).unwrap_or_default();
        let inserted = self.inner.store.write(|tx| {
            let outstanding: U256 = {
                let mut stmt = tx.prepare_cached(
                    // An authorization past its window can no longer settle: it holds nothing.
                    "SELECT amount FROM pay_exact WHERE payer = ?1 AND asset = ?2
                         AND status IN ('verified', 'pending') AND valid_before > ?3",
                )?;
                let amounts = stmt
                    .query_map(
                        params![authorization.from.to_string(), c.asset.to_string(), now_secs() as i64],
                        |row| row.get::<_, String>(0),
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                amounts
                    .iter()
                    .filter_map(|a| U256::from_str_radix(a, 10).ok())
                    .fold(U256::ZERO, |s, a| s.saturating_add(a))
            };
            if outstanding.saturating_add(authorization.value) > balance {
                return Ok(usize::MAX);
            }
            tx.execute(
                "INSERT OR IGNORE INTO pay_exact (payer, nonce, chain_id, asset, pay_to, amount, valid_before,
                     payload, status, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'verified', ?9)",
                params![
                    authorization.from.to_string(),
                    authorization.nonce.to_string(),
                    c.chain_id as i64,
                    c.asset.to_string(),
                    c.pay_to.to_string(),
                    authorization.value.to_string(),
                    authorization.valid_before as i64,
                    stored,
                    now_ms(),
                ],
            )
        });
        match inserted {
            Ok(1) => {}
            Ok(usize::MAX) => {
                return Err(Refusal::payment(
                    reason::INSUFFICIENT_FUNDS,
                    format!(
                        "the payer holds {balance}, which does not also cover their payments still being settled"
                    ),
                ));
            }
            Ok(_) => {
                return Err(Refusal::payment(
                    reason::NONCE_USED,
                    "this authorization's nonce was already used",
                ));
            }
            Err(e) => {
                return Err(Refusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    reason::SETTLE_FAILED,
                    e.to_string(),
                ));
            }
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
    ) -> Result<Option<B256>, String> {
        submit_transfer(&self.inner.chain, self.inner.config.asset, authorization, signature).await
    }

    fn mark_exact(&self, authorization: &Authorization, status: &str, tx: Option<B256>, error: Option<&str>) {
        let result = self.inner.store.write(|t| {
            t.execute(
                "UPDATE pay_exact SET status = ?3, tx = ?4, error = ?5 WHERE payer = ?1 AND nonce = ?2",
                params![
                    authorization.from.to_string(),
                    authorization.nonce.to_string(),
                    status,
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
                    conn.prepare("SELECT payload, valid_before FROM pay_exact WHERE status = 'pending'")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            })
            .unwrap_or_default();
        let mut settled = 0;
        for (payload, valid_before) in rows {
            let Ok(exact) = serde_json::from_str::<ExactPayload>(&payload) else { continue };
            let Ok(authorization) = exact.authorization.parse() else { continue };
            if (valid_before as u64) <= now_secs() {
                self.mark_exact(&authorization, "expired", None, Some("not settled inside its window"));
                continue;
            }
            match self.submit_exact(&authorization, &exact.signature).await {
                Ok(Some(tx)) => {
                    self.mark_exact(&authorization, "settled", Some(tx), None);
                    settled += 1;
                }
                Ok(None) => {}
                Err(e) => self.mark_exact(&authorization, "failed", None, Some(&e)),
            }
        }
        settled
    }

    // -------------------------------------------------------------------------------------
    // channels
    // -------------------------------------------------------------------------------------

    async fn verify_channel(
        &self,
        payload: &PaymentPayload,
        ceiling: u128,
    ) -> Result<ChannelPayment, Refusal> {
        let (Some(ledger), Some(domain)) = (&self.inner.ledger, &self.inner.channels_domain) else {
            return Err(Refusal::payment(reason::UNSUPPORTED_SCHEME, "channels are not offered here"));
        };
        let c = &self.inner.config;
        let voucher: ChannelPayload = serde_json::from_value(payload.payload.clone()).map_err(|e| {
            Refusal::bad_request(reason::INVALID_PAYLOAD, format!("not a channel voucher payload: {e}"))
        })?;
        let max = typed::parse_amount(&voucher.max_claimable_amount).ok_or_else(|| {
            Refusal::bad_request(reason::INVALID_PAYLOAD, "maxClaimableAmount is not a decimal uint128")
        })?;
        let signature = Signature::try_from(voucher.signature.as_ref()).map_err(|_| {
            Refusal::payment(reason::VOUCHER_SIGNATURE, "the voucher signature is not 65 bytes")
        })?;
        let id = voucher.channel_id;
        let deposited_now = match &voucher.deposit {
            Some(deposit) => self.deposit(id, deposit, domain).await?,
            None => false,
        };

        let slot = ledger.slot(id);
        let mut guard = slot.lock_owned().await;
        if guard.is_none() || deposited_now {
            let stored = ledger.load(id).map_err(|e| Refusal::chain(e.to_string()))?;
            let state = match stored {
                Some(mut state) if deposited_now => {
                    state.terms = self.channel_terms(id).await?;
                    state
                }
                Some(state) => state,
                None => {
                    let terms = self.channel_terms(id).await?;
                    let claimed = self.channel_claimed(id).await?;
                    ChannelState::new(id, terms, claimed)
                }
            };
            *guard = Some(state);
        }
        let Some(state) = guard.as_mut() else { unreachable!("loaded above") };

        if state.terms.token != c.asset || state.terms.withdraw_delay < c.min_withdraw_delay {
            return Err(Refusal::payment(
                reason::UNKNOWN_CHANNEL,
                format!(
                    "the channel holds another token or its withdrawal delay is under {}s",
                    c.min_withdraw_delay
                ),
            ));
        }
        let expected_signer =
            if state.terms.authorizer == Address::ZERO { state.terms.payer } else { state.terms.authorizer };
        if typed::voucher_signer(domain, id, max, &signature) != Some(expected_signer) {
            return Err(Refusal::payment(
                reason::VOUCHER_SIGNATURE,
                format!("the voucher is not signed by the channel's authorizer {expected_signer}"),
            ));
        }
        let required = state.charged.saturating_add(ceiling).max(state.voucher_max.saturating_add(1));
        if max < required {
            return Err(self.corrective(
                state,
                ceiling,
                reason::CUMULATIVE_MISMATCH,
                format!(
                    "the voucher is for {max} but this call needs at least {required} (charged so far {}); \
                     resync from channelState",
                    state.charged
                ),
            ));
        }
        if max > state.terms.deposited || state.terms.closing_at != 0 {
            // The payer may have topped up, or cancelled the withdrawal, since we last looked.
            state.terms = self.channel_terms(id).await?;
        }
        if state.terms.closing_at != 0 {
            return Err(self.corrective(
                state,
                ceiling,
                reason::CHANNEL_CLOSING,
                "the payer has started a withdrawal from this channel; deposit to reopen it",
            ));
        }
        if max > state.terms.deposited {
            return Err(self.corrective(
                state,
                ceiling,
                reason::INSUFFICIENT_FUNDS,
                format!(
                    "the voucher is for {max} but the channel holds {}; top it up",
                    state.terms.deposited
                ),
            ));
        }
        let charged_before = state.charged;
        let payer = state.terms.payer;
        Ok(ChannelPayment {
            channel_id: id,
            voucher_max: max,
            charged_before,
            ceiling,
            payer,
            signature: voucher.signature,
            guard,
            paywall: self.clone(),
        })
    }

    /// A 402 that carries the server's view of the channel, so a client that lost state can
    /// resync: what was charged, and the last voucher it signed.
    fn corrective(
        &self,
        state: &ChannelState,
        ceiling: u128,
        code: &'static str,
        message: impl Into<String>,
    ) -> Refusal {
        let mut required = self.required(&ResourceInfo::default(), ceiling);
        for r in &mut required.accepts {
            if r.scheme == wire::SCHEME_CHANNEL
                && let Some(extra) = r.extra.as_object_mut()
            {
                extra.insert("channelState".into(), channel_state_json(state));
            }
        }
        let mut refusal = Refusal::payment(code, message);
        refusal.required = Some(Box::new(required));
        refusal
    }

    async fn channel_terms(&self, id: B256) -> Result<ChannelTerms, Refusal> {
        let Some(contract) = self.inner.config.channels else {
            return Err(Refusal::payment(reason::UNSUPPORTED_SCHEME, "channels are not offered here"));
        };
        let channels = PaymentChannels::new(contract, self.inner.chain.provider());
        let got = channels.getChannel(id).call().await.map_err(Refusal::chain)?;
        if got.payer == Address::ZERO {
            return Err(Refusal::payment(reason::UNKNOWN_CHANNEL, format!("channel {id} was never opened")));
        }
        if got.receiver != self.inner.config.pay_to {
            return Err(Refusal::payment(
                reason::UNKNOWN_CHANNEL,
                format!("channel {id} pays {}, not this server", got.receiver),
            ));
        }
        Ok(ChannelTerms {
            payer: got.payer,
            authorizer: got.payerAuthorizer,
            token: got.token,
            withdraw_delay: got.withdrawDelay.to::<u64>(),
            deposited: got.deposited,
            closing_at: got.withdrawReadyAt.to::<u64>(),
        })
    }

    async fn channel_claimed(&self, id: B256) -> Result<u128, Refusal> {
        let Some(contract) = self.inner.config.channels else { return Ok(0) };
        let channels = PaymentChannels::new(contract, self.inner.chain.provider());
        Ok(channels.getChannel(id).call().await.map_err(Refusal::chain)?.claimed)
    }

    /// Submits a deposit the payer signed (the provider pays the gas). `Ok(true)` once it is on
    /// chain.
    async fn deposit(
        &self,
        id: B256,
        deposit: &typed::DepositJson,
        domain: &Eip712Domain,
    ) -> Result<bool, Refusal> {
        let c = &self.inner.config;
        let config = &deposit.config;
        if config.id(domain) != id {
            return Err(Refusal::bad_request(
                reason::INVALID_PAYLOAD,
                "the deposit's config does not hash to channelId",
            ));
        }
        if config.receiver != c.pay_to || config.token != c.asset {
            return Err(Refusal::payment(
                reason::UNKNOWN_CHANNEL,
                "the channel pays another receiver or token",
            ));
        }
        if config.withdrawDelay.to::<u64>() < c.min_withdraw_delay {
            return Err(Refusal::payment(
                reason::UNKNOWN_CHANNEL,
                format!("the channel's withdrawal delay must be at least {}s", c.min_withdraw_delay),
            ));
        }
        let parse = |s: &str, what: &str| {
            typed::parse_amount(s).ok_or_else(|| {
                Refusal::bad_request(reason::INVALID_PAYLOAD, format!("deposit {what} is not a number"))
            })
        };
        let amount = parse(&deposit.amount, "amount")?;
        let valid_after = parse(&deposit.valid_after, "validAfter")?;
        let valid_before = parse(&deposit.valid_before, "validBefore")?;
        let Some(contract) = c.channels else { return Ok(false) };
        // Nothing goes on chain that was not verified here first: a deposit that would revert
        // costs the node gas and a transaction slot.
        self.check_deposit(contract, id, deposit, amount, valid_after, valid_before).await?;
        let channels = PaymentChannels::new(contract, self.inner.chain.provider());
        let call = channels.depositWithAuthorization(
            PaymentChannels::ChannelConfig {
                payer: config.payer,
                payerAuthorizer: config.payerAuthorizer,
                receiver: config.receiver,
                token: config.token,
                withdrawDelay: config.withdrawDelay,
                salt: config.salt,
            },
            amount,
            U256::from(valid_after),
            U256::from(valid_before),
            deposit.nonce_salt,
            deposit.signature.clone(),
        );
        let pending = call.send().await.map_err(|e| {
            if is_revert(&e) {
                Refusal::payment(reason::DEPOSIT_FAILED, format!("the chain refused the deposit: {e}"))
            } else {
                Refusal::chain(e)
            }
        })?;
        let receipt = pending.get_receipt().await.map_err(Refusal::chain)?;
        if !receipt.status() {
            return Err(Refusal::payment(reason::DEPOSIT_FAILED, "the deposit transaction reverted"));
        }
        tracing::info!(target: "agora::pay", channel = %id, amount, "channel deposit settled");
        Ok(true)
    }

    /// The checks the chain would make of a deposit, made locally: a non-zero amount, the
    /// authorization's time window, the payer's signature over the `ReceiveWithAuthorization`,
    /// an unused nonce and the payer's balance.
    async fn check_deposit(
        &self,
        contract: Address,
        id: B256,
        deposit: &typed::DepositJson,
        amount: u128,
        valid_after: u128,
        valid_before: u128,
    ) -> Result<(), Refusal> {
        let refuse = |message: String| Refusal::payment(reason::DEPOSIT_FAILED, message);
        if amount == 0 {
            return Err(refuse("the deposit is for nothing".into()));
        }
        let now = u128::from(now_secs());
        if now <= valid_after || valid_before < now + u128::from(MIN_SETTLE_WINDOW_SECS) {
            return Err(refuse(
                "the deposit authorization is not valid now (or expires within seconds)".into(),
            ));
        }
        let signature = Signature::try_from(deposit.signature.as_ref())
            .map_err(|_| refuse("the deposit signature is not 65 bytes".into()))?;
        let authorization = Authorization {
            from: deposit.config.payer,
            to: contract,
            value: U256::from(amount),
            valid_after: u64::try_from(valid_after).unwrap_or(u64::MAX),
            valid_before: u64::try_from(valid_before).unwrap_or(u64::MAX),
            nonce: typed::deposit_nonce(id, deposit.nonce_salt),
        };
        if typed::recover(&authorization.receive_digest(&self.inner.token_domain), &signature)
            != Some(authorization.from)
        {
            return Err(refuse(format!(
                "the deposit is not signed by the payer {} (wrong key, chain, token or amount)",
                authorization.from
            )));
        }
        let (used, balance) =
            authorization_state(&self.inner.chain, self.inner.config.asset, &authorization).await?;
        if used {
            return Err(refuse("this deposit was already made (its nonce is used)".into()));
        }
        if balance < authorization.value {
            return Err(Refusal::payment(
                reason::INSUFFICIENT_FUNDS,
                format!("the payer holds {balance}, less than the deposit of {amount}"),
            ));
        }
        Ok(())
    }

    /// Claims every channel that is due: unclaimed above the threshold, closing soon, or all of
    /// them with `force`. Channels are claimed in batches of [`CLAIM_BATCH`] per transaction.
    pub async fn claim_due(&self, force: bool) -> Result<ClaimReport, String> {
        let Some(ledger) = &self.inner.ledger else { return Ok(ClaimReport::default()) };
        let Some(contract) = self.inner.config.channels else { return Ok(ClaimReport::default()) };
        let c = &self.inner.config;
        let now = now_secs();
        let due: Vec<ChannelState> = ledger
            .all()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|s| s.unclaimed() > 0 && !s.voucher_sig.is_empty())
            .filter(|s| s.terms.closing_at == 0 || now < s.terms.closing_at)
            .filter(|s| {
                force
                    || s.unclaimed() >= c.claim_threshold
                    || (s.terms.closing_at != 0 && now + c.claim_margin_secs >= s.terms.closing_at)
            })
            .collect();
        let mut report = ClaimReport::default();
        let channels = PaymentChannels::new(contract, self.inner.chain.provider());
        for batch in due.chunks(CLAIM_BATCH) {
            let entries: Vec<PaymentChannels::ClaimEntry> = batch
                .iter()
                .map(|s| PaymentChannels::ClaimEntry {
                    channelId: s.id,
                    maxClaimableAmount: s.voucher_max,
                    totalClaimed: s.charged,
                    signature: s.voucher_sig.clone(),
                })
                .collect();
            let receipt = channels
                .claim(entries)
                .send()
                .await
                .map_err(|e| format!("claim not sent: {e}"))?
                .get_receipt()
                .await
                .map_err(|e| format!("claim receipt: {e}"))?;
            if !receipt.status() {
                return Err(format!("claim transaction {} reverted", receipt.transaction_hash));
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
                    None => ledger.load(s.id).map_err(|e| e.to_string())?.unwrap_or_else(|| s.clone()),
                };
                current.claimed = current.claimed.max(s.charged);
                ledger.commit(current.clone()).await?;
                *guard = Some(current);
            }
        }
        if report.channels > 0 {
            tracing::info!(target: "agora::pay", channels = report.channels, amount = report.amount, "claimed");
        }
        Ok(report)
    }

    /// Marks channels whose payer started a withdrawal (from the contract's logs since the last
    /// look), so they take no more vouchers and are claimed before the delay ends.
    pub async fn watch_withdrawals(&self) -> Result<usize, String> {
        let (Some(ledger), Some(contract)) = (&self.inner.ledger, self.inner.config.channels) else {
            return Ok(0);
        };
        let key = format!("pay.withdraw_cursor.{}.{contract}", self.inner.config.chain_id);
        let from: u64 =
            self.inner.store.setting(&key).ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(0);
        let latest = self.inner.chain.provider().get_block_number().await.map_err(|e| e.to_string())?;
        if from > latest {
            return Ok(0);
        }
        let filter = alloy::rpc::types::Filter::new()
            .address(contract)
            .event_signature(
                <PaymentChannels::WithdrawInitiated as alloy::sol_types::SolEvent>::SIGNATURE_HASH,
            )
            .from_block(from)
            .to_block(latest);
        let logs = self.inner.chain.provider().get_logs(&filter).await.map_err(|e| e.to_string())?;
        let mut marked = 0;
        for log in logs {
            let Ok(event) = log.log_decode::<PaymentChannels::WithdrawInitiated>() else { continue };
            let id = event.inner.data.channelId;
            let slot = ledger.slot(id);
            let mut guard = slot.lock().await;
            let state = match guard.clone() {
                Some(state) => Some(state),
                None => ledger.load(id).map_err(|e| e.to_string())?,
            };
            let Some(mut state) = state else { continue };
            state.terms.closing_at = event.inner.data.readyAt.to::<u64>();
            ledger.commit(state.clone()).await?;
            *guard = Some(state);
            marked += 1;
        }
        self.inner.store.set_setting(&key, &(latest + 1).to_string()).map_err(|e| e.to_string())?;
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
    }

    /// What this node has earned: per channel, and `exact` totals by status.
    pub fn earnings(&self) -> Result<Earnings, String> {
        earnings(&self.inner.store, self.inner.ledger.as_ref())
    }
}

/// What was earned, read from the store alone (no chain needed): the channels of `ledger`'s
/// contract, and every `exact` payment by status.
pub fn earnings(store: &Store, ledger: Option<&Ledger>) -> Result<Earnings, String> {
    let channels = match ledger {
        Some(ledger) => ledger.all().map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let exact = store
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT status, amount FROM pay_exact")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| e.to_string())?;
    let mut totals = std::collections::BTreeMap::<String, (u64, u128)>::new();
    for (status, amount) in exact {
        let entry = totals.entry(status).or_default();
        entry.0 += 1;
        entry.1 += amount.parse::<u128>().unwrap_or(0);
    }
    Ok(Earnings { channels, exact: totals })
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

/// The JSON of a channel's state as corrective 402s and payment responses carry it.
pub fn channel_state_json(state: &ChannelState) -> Value {
    json!({
        "channelId": state.id,
        "charged": state.charged.to_string(),
        "claimed": state.claimed.to_string(),
        "deposited": state.terms.deposited.to_string(),
        "voucher": {
            "maxClaimableAmount": state.voucher_max.to_string(),
            "signature": state.voucher_sig,
        },
    })
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
    /// Gas they used.
    pub gas_used: u64,
}

/// What [`Paywall::earnings`] reports.
#[derive(Debug, Clone)]
pub struct Earnings {
    /// Every channel paying this node.
    pub channels: Vec<ChannelState>,
    /// `exact` payments by status: (count, atomic units).
    pub exact: std::collections::BTreeMap<String, (u64, u128)>,
}

impl Authorized {
    /// Who pays.
    pub fn payer(&self) -> Address {
        match self {
            Self::Exact(p) => p.authorization.from,
            Self::Channel(p) => p.payer,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Exact(_) => wire::SCHEME_EXACT,
            Self::Channel(_) => wire::SCHEME_CHANNEL,
        }
    }

    /// The payment as a receipt names it, with price terms (see [`agora_receipts::PaymentTerms`]).
    /// `price_per_token` 0 means the price is fixed at the ceiling.
    pub fn receipt_terms(&self, price_per_token: u128, ceiling: u128) -> agora_receipts::PaymentTerms {
        let (paywall, reference, charged_before, per_token) = match self {
            Self::Exact(p) => (&p.paywall, p.authorization.nonce, None, 0),
            Self::Channel(p) => (&p.paywall, p.channel_id, Some(p.charged_before), price_per_token),
        };
        let c = paywall.config();
        agora_receipts::PaymentTerms {
            payment: agora_receipts::ReceiptPayment {
                scheme: self.scheme().to_owned(),
                network: paywall.network(),
                payer: self.payer(),
                pay_to: c.pay_to,
                asset: c.asset,
                reference,
                amount: String::new(),
                cumulative: None,
            },
            price_per_token: per_token,
            ceiling,
            charged_before,
        }
    }

    /// Records the payment for a served call costing `actual` (at most the ceiling; `exact`
    /// always charges its full amount) and returns the `PAYMENT-RESPONSE`. Only send the
    /// response once this returns `Ok`.
    pub async fn complete(self, actual: u128) -> Result<SettleResponse, Refusal> {
        match self {
            Self::Exact(p) => p.settle().await,
            Self::Channel(p) => p.charge(actual).await,
        }
    }

    /// The call was not served: nothing is charged, an `exact` nonce is released.
    pub fn abandon(self) {
        if let Self::Exact(p) = self {
            let a = p.authorization;
            let _ = p.paywall.inner.store.write(|t| {
                t.execute(
                    "DELETE FROM pay_exact WHERE payer = ?1 AND nonce = ?2 AND status = 'verified'",
                    params![a.from.to_string(), a.nonce.to_string()],
                )
            });
        }
    }
}

impl ExactPayment {
    async fn settle(self) -> Result<SettleResponse, Refusal> {
        let paywall = &self.paywall;
        let network = paywall.network();
        let payer = Some(self.authorization.from.to_checksum(None));
        let amount = Some(self.authorization.value.to_string());
        paywall.mark_exact(&self.authorization, "pending", None, None);
        match paywall.submit_exact(&self.authorization, &self.signature).await {
            Ok(Some(tx)) => {
                paywall.mark_exact(&self.authorization, "settled", Some(tx), None);
                Ok(SettleResponse {
                    success: true,
                    error_reason: None,
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
                payer,
                transaction: String::new(),
                network,
                amount,
                extra: Some(json!({ "pending": true })),
            }),
            Err(e) => {
                paywall.mark_exact(&self.authorization, "failed", None, Some(&e));
                Err(Refusal::payment(reason::SETTLE_FAILED, format!("settlement failed: {e}")))
            }
        }
    }
}

impl ChannelPayment {
    async fn charge(mut self, actual: u128) -> Result<SettleResponse, Refusal> {
        let actual = actual.min(self.ceiling);
        let Some(ledger) = self.paywall.ledger().cloned() else {
            return Err(Refusal::payment(reason::UNSUPPORTED_SCHEME, "channels are not offered here"));
        };
        let Some(state) = self.guard.as_mut() else { unreachable!("verified channels are loaded") };
        let mut next = state.clone();
        next.voucher_max = self.voucher_max;
        next.voucher_sig = self.signature.clone();
        next.charged = self.charged_before.saturating_add(actual);
        next.calls += 1;
        ledger
            .commit(next.clone())
            .await
            .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "ledger_unavailable", e))?;
        let extra = channel_state_json(&next);
        *state = next;
        Ok(SettleResponse {
            success: true,
            error_reason: None,
            payer: Some(self.payer.to_checksum(None)),
            transaction: String::new(),
            network: self.paywall.network(),
            amount: Some(actual.to_string()),
            extra: Some(extra),
        })
    }
}

/// Puts the `PAYMENT-RESPONSE` (and its v1 twin) on a response.
pub fn attach_settlement(response: &mut Response, settle: &SettleResponse) {
    if let Ok(value) = HeaderValue::from_str(&wire::encode_header(settle)) {
        response.headers_mut().insert(wire::PAYMENT_RESPONSE_HEADER, value.clone());
        response.headers_mut().insert(wire::X_PAYMENT_RESPONSE_HEADER, value);
        response.headers_mut().insert(
            axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("PAYMENT-RESPONSE, X-PAYMENT-RESPONSE"),
        );
    }
}

/// Middleware state for [`fixed_price`]: the paywall, the price, and how the resource is named.
#[derive(Debug, Clone)]
pub struct FixedPrice {
    /// The paywall.
    pub paywall: Paywall,
    /// Atomic units per call.
    pub amount: u128,
    /// What the 402 says the resource is.
    pub description: String,
}

/// Puts a fixed price on any axum route:
/// `route.layer(axum::middleware::from_fn_with_state(price, fixed_price))`. The inner handler
/// only runs once the payment is verified; a success (2xx) is charged, anything else is not.
pub async fn fixed_price(
    axum::extract::State(price): axum::extract::State<FixedPrice>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resource = ResourceInfo {
        url: request.uri().to_string(),
        description: Some(price.description.clone()),
        mime_type: None,
    };
    let authorized = match price.paywall.authorize(request.headers(), &resource, price.amount).await {
        Ok(a) => a,
        Err(refusal) => return refusal.into_response(),
    };
    let mut response = next.run(request).await;
    if !response.status().is_success() {
        authorized.abandon();
        return response;
    }
    match authorized.complete(price.amount).await {
        Ok(settle) => {
            attach_settlement(&mut response, &settle);
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}
