//! The payer side: an HTTP client that answers 402s by itself, under a spending mandate.
//!
//! ```text
//! Payer::send ─▶ request ─▶ 402? ─▶ choose: batch-settlement channel (open one, or one already
//!                                   open to this payee), exact or upto ─▶ mandate check ─▶ record reservation
//!                                   ─▶ sign ─▶ retry with PAYMENT-SIGNATURE
//!             ◀─ 200 + PAYMENT-RESPONSE ─▶ record actual spend and channel state
//!             ◀─ corrective 402 (channelState) ─▶ check it is our own voucher, resync, retry once
//! ```
//!
//! One key pays: it signs EIP-3009 authorizations (exact, and channel deposits, which the payee
//! submits, so the payer needs no ETH), Permit2 permits (`upto`) and vouchers (as the channel's
//! `payerAuthorizer`).
//! Nothing is signed unless the mandate allows it: total budget, per-call cap, payee allow-list
//! and expiry. Spend is recorded in the store before the payment leaves and settled with the
//! amount actually charged once the answer arrives.

mod channels;
mod credits;
mod mandate;
mod upto;

pub use credits::{CreditPayer, OfferedPool, offered_pools};
pub use mandate::Mandate;

use crate::{
    error::PayError,
    typed::{self, Authorization, ChannelConfigJson, ExactPayload},
    wire::{self, PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse},
};
use agora_store::Store;
use agora_store::rusqlite::params;
use alloy::{
    primitives::{Address, B256, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use serde_json::Value;
use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

/// Which scheme to use when a 402 offers several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefer {
    /// A `batch-settlement` channel if one is open to the payee, or if many calls are expected
    /// ([`PayerConfig::expected_calls`]) and the mandate can hold the deposit; else `exact`,
    /// else `upto`.
    #[default]
    Auto,
    /// Always `exact`.
    Exact,
    /// `upto`: authorize the ceiling, be charged what the call cost (Permit2 must be approved).
    Upto,
    /// A `batch-settlement` channel, opened on first use.
    Channel,
}

/// From this many expected calls on, [`Prefer::Auto`] opens a channel: one deposit and one
/// claim instead of a transfer per call.
pub const CHANNEL_FROM_CALLS: u64 = 10;

/// How a [`Payer`] behaves.
#[derive(Debug, Clone)]
pub struct PayerConfig {
    /// The mandate payments are made under.
    pub mandate: String,
    /// Scheme preference.
    pub prefer: Prefer,
    /// How much to deposit when opening or topping up a channel.
    pub channel_deposit: u128,
    /// How many calls to this payee are expected (guides [`Prefer::Auto`]).
    pub expected_calls: u64,
}

/// A response to a paid (or free) request.
#[derive(Debug)]
pub struct PaidResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body.
    pub body: Vec<u8>,
    /// The server's `PAYMENT-RESPONSE`, when a payment was made.
    pub settlement: Option<SettleResponse>,
    /// The scheme paid with.
    pub scheme: Option<String>,
}

/// A channel as the payer keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerChannel {
    /// The channel id.
    pub id: B256,
    /// Chain id.
    pub chain_id: u64,
    /// Channel contract.
    pub contract: Address,
    /// Its terms.
    pub config: ChannelConfigJson,
    /// Deposited so far (as the payee last reported, or as we deposited).
    pub deposited: u128,
    /// Highest voucher signed.
    pub signed_max: u128,
    /// Highest voucher the payee acknowledged.
    pub acked_max: u128,
    /// What the payee says it charged.
    pub charged: u128,
}

/// The paying client.
#[derive(Debug)]
pub struct Payer {
    key: PrivateKeySigner,
    store: Arc<Store>,
    http: reqwest::Client,
    config: PayerConfig,
    serial: tokio::sync::Mutex<()>,
    /// The last requirements seen per `METHOD url`: a repeated call pays at once instead of
    /// asking first (a 402 with new requirements corrects it).
    known: std::sync::Mutex<std::collections::HashMap<String, PaymentRequired>>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn chain_of(network: &str) -> Option<u64> {
    network.strip_prefix("eip155:")?.parse().ok()
}

fn extra_str<'a>(r: &'a PaymentRequirements, key: &str) -> Option<&'a str> {
    r.extra.get(key).and_then(Value::as_str)
}

impl Payer {
    /// A payer signing with `key`, recording in `store`.
    pub fn new(key: PrivateKeySigner, store: Arc<Store>, config: PayerConfig) -> Self {
        let http = http_client();
        Self {
            key,
            store,
            http,
            config,
            serial: tokio::sync::Mutex::new(()),
            known: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The paying address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Asks `url` what it costs without paying: the 402's requirements (`None` when the
    /// request is free).
    pub async fn probe(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Option<PaymentRequired>, PayError> {
        let response = self.http_send(&method, url, body, None).await?;
        if response.status != 402 {
            return Ok(None);
        }
        parse_required(&response).map(Some)
    }

    /// Sends a request, paying when the server asks. `body` is JSON when given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<PaidResponse, PayError> {
        // Payments under one payer are serialised: the mandate's books and channel vouchers are
        // cumulative.
        let _serial = self.serial.lock().await;
        let route = format!("{method} {url}");
        let cached = self.known.lock().unwrap_or_else(|p| p.into_inner()).get(&route).cloned();
        let mut guessed = cached.is_some();
        let mut required = match cached {
            Some(required) => required,
            None => {
                let first = self.http_send(&method, url, body.clone(), None).await?;
                if first.status != 402 {
                    return Ok(first);
                }
                parse_required(&first)?
            }
        };
        let mut last_refusal = None;
        for _attempt in 0..4 {
            self.known.lock().unwrap_or_else(|p| p.into_inner()).insert(route.clone(), required.clone());
            let (requirement, scheme) = self.choose(&required)?;
            let mandate = self.mandate()?;
            let payee: Address = requirement.pay_to.parse().map_err(|_| {
                PayError::Unpayable(format!("payTo {:?} is not an address", requirement.pay_to))
            })?;
            let amount = typed::parse_amount(&requirement.amount).ok_or_else(|| {
                PayError::Unpayable(format!("amount {:?} is not a number", requirement.amount))
            })?;
            self.check_mandate(&mandate, payee, amount, 0)?;
            let (payload, spend_id, channel) =
                self.sign_payment(&mandate, &requirement, scheme, payee, amount, url)?;
            let header = wire::encode_header(&PaymentPayload {
                x402_version: 2,
                resource: Some(required.resource.clone()),
                accepted: requirement.clone(),
                payload,
                extensions: None,
            });
            let response = self.http_send(&method, url, body.clone(), Some(header)).await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    // Unknown whether it was served: keep the reservation pending; a channel
                    // resyncs from the payee's next answer.
                    return Err(e);
                }
            };
            if response.status == 402 {
                self.settle_spend(spend_id, 0, "refused")?;
                let refusal = parse_required(&response)?;
                let reason = refusal.error.clone().unwrap_or_default();
                if let Some(channel) = channel {
                    let resynced = self.resync(channel, &refusal, &mandate, payee, url)?;
                    if resynced
                        || reason == wire::reason::INSUFFICIENT_FUNDS
                        || reason == wire::reason::CUMULATIVE_EXCEEDS_BALANCE
                        || reason == wire::reason::CHANNEL_CLOSING
                    {
                        if reason != wire::reason::CUMULATIVE_MISMATCH {
                            self.mark_needs_deposit(channel)?;
                        }
                        last_refusal = Some((reason, message_of(&response)));
                        required = PaymentRequired { resource: required.resource.clone(), ..refusal };
                        continue;
                    }
                }
                let new_terms = [
                    wire::reason::VALUE_MISMATCH,
                    wire::reason::ABOVE_CEILING,
                    wire::reason::INVALID_REQUIREMENTS,
                    wire::reason::UNSUPPORTED_SCHEME,
                ];
                if guessed && new_terms.contains(&reason.as_str()) {
                    // We paid what this route cost last time; the 402 says what it costs now.
                    guessed = false;
                    required = PaymentRequired { error: None, ..refusal };
                    continue;
                }
                self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&route);
                return Err(PayError::Refused { reason, message: message_of(&response) });
            }
            let settlement = self.book_response(&response, spend_id, channel, amount)?;
            return Ok(PaidResponse { settlement, scheme: Some(requirement.scheme.clone()), ..response });
        }
        let (reason, message) = last_refusal.unwrap_or_default();
        Err(PayError::Refused { reason, message })
    }

    /// Signs the payment `requirement` asks for under `scheme` and reserves it in the
    /// mandate's books: the payload, the reservation, and the channel when one pays.
    fn sign_payment(
        &self,
        mandate: &Mandate,
        requirement: &PaymentRequirements,
        scheme: Prefer,
        payee: Address,
        amount: u128,
        url: &str,
    ) -> Result<(Value, i64, Option<B256>), PayError> {
        Ok(match scheme {
            Prefer::Exact => {
                let (payload, nonce) = self.sign_exact(requirement)?;
                let id = self.reserve(mandate, payee, url, wire::SCHEME_EXACT, amount, &nonce.to_string())?;
                (payload, id, None)
            }
            Prefer::Upto => {
                let (payload, nonce) = self.sign_upto(requirement)?;
                let id = self.reserve(mandate, payee, url, wire::SCHEME_UPTO, amount, &nonce.to_string())?;
                (payload, id, None)
            }
            Prefer::Auto | Prefer::Channel => {
                let (payload, channel) = self.sign_voucher(mandate, requirement, payee, amount)?;
                let id =
                    self.reserve(mandate, payee, url, wire::SCHEME_BATCH, amount, &channel.to_string())?;
                (payload, id, Some(channel))
            }
        })
    }

    /// Books what a served response charged, from its `PAYMENT-RESPONSE` (or its stream's);
    /// a response not served, or served unpaid, charged nothing.
    fn book_response(
        &self,
        response: &PaidResponse,
        spend_id: i64,
        channel: Option<B256>,
        amount: u128,
    ) -> Result<Option<SettleResponse>, PayError> {
        let settlement = response
            .headers
            .get(wire::PAYMENT_RESPONSE_HEADER)
            .or_else(|| response.headers.get(wire::X_PAYMENT_RESPONSE_HEADER))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| wire::decode_header::<SettleResponse>(v).ok())
            .or_else(|| streamed_settlement(&response.body));
        match &settlement {
            Some(s) if (200..300).contains(&response.status) => {
                let charged = s.charged().unwrap_or(amount);
                self.settle_spend(spend_id, charged, "settled")?;
                if let (Some(channel), Some(state)) = (channel, s.extra.as_ref()) {
                    self.apply_state(channel, state)?;
                }
            }
            _ => {
                // Not served (or served unpaid): nothing was charged for it.
                self.settle_spend(spend_id, 0, "refused")?;
            }
        }
        Ok(settlement)
    }

    async fn http_send(
        &self,
        method: &reqwest::Method,
        url: &str,
        body: Option<Vec<u8>>,
        payment: Option<String>,
    ) -> Result<PaidResponse, PayError> {
        http_send(&self.http, method, url, body, payment).await
    }

    fn mandate(&self) -> Result<Mandate, PayError> {
        Mandate::load(&self.store, &self.config.mandate)?
            .ok_or_else(|| PayError::NoMandate(self.config.mandate.clone()))
    }

    /// Checks that paying `amount` (plus escrowing `deposit`) to `payee` fits the mandate.
    fn check_mandate(
        &self,
        m: &Mandate,
        payee: Address,
        amount: u128,
        deposit: u128,
    ) -> Result<(), PayError> {
        let refuse = |reason: String| Err(PayError::Mandate { mandate: m.name.clone(), reason });
        if m.expires_at != 0 && now_secs() >= m.expires_at {
            return refuse(format!("it expired at {}", m.expires_at));
        }
        if !m.payees.is_empty() && !m.payees.contains(&payee) {
            return refuse(format!("payee {payee} is not on its allow-list"));
        }
        if amount > m.per_call {
            return refuse(format!("this call may cost {amount}, above the per-call cap of {}", m.per_call));
        }
        let spent = Mandate::spent(&self.store, &m.name)?;
        let locked = self.held_in_channels()?;
        let committed = spent.saturating_add(locked);
        if committed.saturating_add(amount).saturating_add(deposit) > m.budget {
            return refuse(format!(
                "{} spent or held in channels plus {} for this call exceeds the budget of {}",
                committed,
                amount.saturating_add(deposit),
                m.budget
            ));
        }
        Ok(())
    }

    /// Deposits in channels opened under this payer that were not charged yet (what mandates
    /// count as held).
    pub fn held_in_channels(&self) -> Result<u128, PayError> {
        let rows: Vec<(String, String)> = self.store.read(|conn| {
            let mut stmt = conn.prepare("SELECT deposited, charged FROM payer_channels")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        Ok(rows
            .into_iter()
            .map(|(d, c)| d.parse::<u128>().unwrap_or(0).saturating_sub(c.parse::<u128>().unwrap_or(0)))
            .sum())
    }

    fn choose(&self, required: &PaymentRequired) -> Result<(PaymentRequirements, Prefer), PayError> {
        let find = |scheme: &str| required.accepts.iter().find(|r| r.scheme == scheme).cloned();
        let exact = find(wire::SCHEME_EXACT).map(|r| (r, Prefer::Exact));
        let upto = find(wire::SCHEME_UPTO).map(|r| (r, Prefer::Upto));
        let channel = find(wire::SCHEME_BATCH).map(|r| (r, Prefer::Channel));
        let has_channel = |r: &PaymentRequirements| -> bool { self.find_channel(r).ok().flatten().is_some() };
        let pick = match self.config.prefer {
            Prefer::Exact => exact,
            Prefer::Upto => upto.or(exact),
            Prefer::Channel => channel.or(exact),
            Prefer::Auto => match channel {
                Some(c) if has_channel(&c.0) => Some(c),
                // Many calls coming: a channel, if the mandate can hold its deposit.
                Some(c)
                    if self.config.expected_calls >= CHANNEL_FROM_CALLS && self.can_hold_deposit(&c.0) =>
                {
                    Some(c)
                }
                channel => exact.or(channel).or(upto),
            },
        };
        let (r, scheme) = pick.ok_or_else(|| {
            let offered: Vec<_> = required.accepts.iter().map(|r| r.scheme.as_str()).collect();
            PayError::Unpayable(format!("offered schemes: {offered:?}"))
        })?;
        if chain_of(&r.network).is_none() {
            return Err(PayError::Unpayable(format!("network {:?} is not an EVM chain", r.network)));
        }
        Ok((r, scheme))
    }

    /// Whether the mandate leaves room to escrow a channel deposit for offer `r`.
    fn can_hold_deposit(&self, r: &PaymentRequirements) -> bool {
        let (Ok(mandate), Ok(payee), Some(amount)) =
            (self.mandate(), r.pay_to.parse::<Address>(), typed::parse_amount(&r.amount))
        else {
            return false;
        };
        let deposit = self.config.channel_deposit.max(amount);
        self.check_mandate(&mandate, payee, 0, deposit).is_ok()
    }

    fn sign_exact(&self, r: &PaymentRequirements) -> Result<(Value, B256), PayError> {
        let chain_id = chain_of(&r.network).unwrap_or_default();
        let (name, version) = token_names(r)?;
        let asset: Address =
            r.asset.parse().map_err(|_| PayError::Unpayable("asset is not an address".into()))?;
        let to: Address =
            r.pay_to.parse().map_err(|_| PayError::Unpayable("payTo is not an address".into()))?;
        let nonce = B256::from(rand::random::<[u8; 32]>());
        let now = now_secs();
        let authorization = Authorization {
            from: self.key.address(),
            to,
            value: U256::from(typed::parse_amount(&r.amount).unwrap_or_default()),
            valid_after: now.saturating_sub(600),
            valid_before: now + r.max_timeout_seconds.max(60),
            nonce,
        };
        let domain = typed::token_domain(name, version, chain_id, asset);
        let signature = self.key.sign_hash_sync(&authorization.transfer_digest(&domain))?;
        let payload =
            ExactPayload { signature: signature.as_bytes().into(), authorization: authorization.to_json() };
        Ok((serde_json::to_value(payload).unwrap_or_default(), nonce))
    }

    fn reserve(
        &self,
        m: &Mandate,
        payee: Address,
        resource: &str,
        scheme: &str,
        amount: u128,
        reference: &str,
    ) -> Result<i64, PayError> {
        Ok(self.store.write(|tx| {
            tx.execute(
                "INSERT INTO payer_spend (at_ms, mandate, payee, resource, scheme, reserved, status, reference)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
                params![agora_store::now_ms(), m.name, payee.to_string(), resource, scheme, amount.to_string(), reference],
            )?;
            Ok(tx.last_insert_rowid())
        })?)
    }

    fn settle_spend(&self, id: i64, amount: u128, status: &str) -> Result<(), PayError> {
        self.store.write(|tx| {
            tx.execute(
                "UPDATE payer_spend SET amount = ?2, status = ?3 WHERE id = ?1",
                params![id, amount.to_string(), status],
            )
        })?;
        Ok(())
    }
}

/// A streamed (SSE) answer cannot carry a header after it started: the settlement rides in a
/// chunk as `agora_payment`.
fn streamed_settlement(body: &[u8]) -> Option<SettleResponse> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines()
        .rev()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| chunk.get("agora_payment").cloned())
        .find_map(|payment| serde_json::from_value(payment).ok())
}

fn token_names(r: &PaymentRequirements) -> Result<(&str, &str), PayError> {
    match (extra_str(r, "name"), extra_str(r, "version")) {
        (Some(n), Some(v)) => Ok((n, v)),
        _ => {
            Err(PayError::Unpayable("the offer lacks the token's EIP-712 extra.name / extra.version".into()))
        }
    }
}

/// The HTTP client payers send with (generations may take minutes).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Sends a request (`body` as JSON) with an optional payment header; the answer, unread by any
/// scheme.
async fn http_send(
    http: &reqwest::Client,
    method: &reqwest::Method,
    url: &str,
    body: Option<Vec<u8>>,
    payment: Option<String>,
) -> Result<PaidResponse, PayError> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    if let Some(payment) = payment {
        request = request.header(wire::PAYMENT_SIGNATURE_HEADER, payment);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    Ok(PaidResponse { status, headers, body, settlement: None, scheme: None })
}

pub(crate) fn message_of(response: &PaidResponse) -> String {
    serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&response.body).chars().take(300).collect())
}

/// Reads a 402's requirements: the v2 header first, else a JSON body with `accepts`.
pub fn parse_required(response: &PaidResponse) -> Result<PaymentRequired, PayError> {
    if let Some(value) = response.headers.get(wire::PAYMENT_REQUIRED_HEADER).and_then(|v| v.to_str().ok()) {
        return Ok(wire::decode_header(value)?);
    }
    serde_json::from_slice(&response.body)
        .map_err(|_| PayError::Unpayable("a 402 without PAYMENT-REQUIRED or x402 body".into()))
}
