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

mod channels;
mod credits;
mod exact;
mod refusal;
mod settlement;
mod upto;

pub use channels::{
    ChainChannel, ChannelExpect, CheckedDeposit, channel_state_json, check_channel_config, check_deposit,
    check_voucher_signature, read_channel, submit_deposit, voucher_amount,
};
pub use credits::{CreditPayment, CreditsConfig};
pub(crate) use exact::is_revert;
pub use exact::{ExactStatus, ExactTerms, check_exact, submit_transfer};
pub use refusal::{Refusal, RefusalReason};
pub use settlement::{ClaimReport, Earnings, earnings, stored_earnings};
pub use upto::{
    CheckedPermit, Permit2AuthorizationJson, PermittedJson, UptoPayload, UptoPayment, UptoTerms, WitnessJson,
    check_upto, parse_upto, permitted_amount, submit_upto,
};

use crate::{
    ledger::{ChannelState, Ledger},
    typed::{self, Authorization},
    wire::{self, PaymentPayload, PaymentRequired, PaymentRequirements, ResourceInfo, SettleResponse},
};
use agora_chain::ChainClient;
use agora_store::Store;
use agora_store::rusqlite::params;
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::Eip712Domain,
};
use axum::{
    http::{HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
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
/// A `batch-settlement` deposit the paywall asks for (`extra.minDeposit`) covers this many
/// calls at their ceiling.
pub const DEPOSIT_CALLS: u128 = 100;

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
    /// Offer the `upto` scheme (needs a signing chain client: it settles as the facilitator).
    pub upto: bool,
    /// Offer the `batch-settlement` scheme (needs a signing chain client: it is the channels'
    /// receiver authorizer).
    pub batch: bool,
    /// The withdrawal delay asked of paying channels, and the shortest taken (seconds).
    pub min_withdraw_delay: u64,
    /// `maxTimeoutSeconds` of the requirements.
    pub max_timeout_seconds: u64,
    /// Offer `zk-credits` from these pools (routes that pass the request's signal only).
    pub credits: Option<CreditsConfig>,
    /// Claim a channel once this much is charged and unclaimed (a channel whose payer started
    /// a withdrawal is claimed at once: signed vouchers reserve nothing on chain).
    pub claim_threshold: u128,
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
    batch_domain: Eip712Domain,
    /// The chain client's signer: the `upto` facilitator and the channels' receiver authorizer.
    operator: Option<Address>,
    /// The offers of every 402 but their amount, built once (checksummed addresses, extras).
    offers: Vec<PaymentRequirements>,
    /// The credit pools sold, their recent roots and the spent tickets.
    credits: Option<credits::CreditDesk>,
    /// `upto` permits being served, by (owner, nonce): one call per permit.
    upto_in_flight: std::sync::Mutex<std::collections::HashSet<(Address, U256)>>,
}

/// A verified payment, held while the call is served.
#[derive(Debug)]
pub enum Authorized {
    /// An EIP-3009 authorization, its nonce reserved.
    Exact(ExactPayment),
    /// A Permit2 `upto` permit, settled for the actual cost once the call is served.
    Upto(UptoPayment),
    /// A voucher on a channel, whose lock is held until the charge is recorded.
    Channel(ChannelPayment),
    /// Anonymous credit tickets, recorded as spent.
    Credits(CreditPayment),
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

/// The offers of `config` without their amount: `exact`, then (with a signing key, the
/// `operator`) `upto` and `batch-settlement`.
fn offers(c: &PaywallConfig, operator: Option<Address>) -> Vec<PaymentRequirements> {
    let base = |scheme: &str, extra: Value| PaymentRequirements {
        scheme: scheme.to_owned(),
        network: wire::caip2(c.chain_id),
        amount: String::new(),
        asset: c.asset.to_checksum(None),
        pay_to: c.pay_to.to_checksum(None),
        max_timeout_seconds: c.max_timeout_seconds,
        extra,
    };
    let mut offers = Vec::new();
    if c.exact {
        offers.push(base(
            wire::SCHEME_EXACT,
            json!({ "name": c.asset_name, "version": c.asset_version, "assetTransferMethod": "eip3009" }),
        ));
    }
    let Some(operator) = operator else { return offers };
    if c.upto {
        offers.push(base(
            wire::SCHEME_UPTO,
            json!({
                "name": c.asset_name,
                "version": c.asset_version,
                "assetTransferMethod": "permit2",
                "facilitatorAddress": operator.to_checksum(None),
            }),
        ));
    }
    if c.batch {
        offers.push(base(
            wire::SCHEME_BATCH,
            json!({
                "name": c.asset_name,
                "version": c.asset_version,
                "assetTransferMethod": "eip3009",
                "receiverAuthorizer": operator.to_checksum(None),
                "withdrawDelay": c.min_withdraw_delay,
            }),
        ));
    }
    offers
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Paywall {
    /// A paywall settling on `chain` (whose signer pays settlement gas), recording in `store`.
    pub fn new(config: PaywallConfig, chain: ChainClient, store: Arc<Store>) -> Self {
        let token_domain =
            typed::token_domain(&config.asset_name, &config.asset_version, config.chain_id, config.asset);
        let batch_domain = typed::batch_domain(config.chain_id);
        let operator = chain.signer_address();
        let ledger = (config.batch && operator.is_some())
            .then(|| Ledger::new(Arc::clone(&store), config.chain_id, crate::x402::BATCH_SETTLEMENT));
        let offers = offers(&config, operator);
        let credits = config.credits.clone().map(|c| credits::CreditDesk::new(c, Arc::clone(&store)));
        Self {
            inner: Arc::new(PaywallInner {
                offers,
                credits,
                config,
                chain,
                store,
                ledger,
                token_domain,
                batch_domain,
                operator,
                upto_in_flight: Default::default(),
            }),
        }
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

    /// Who settles `upto` permits and claims channel vouchers: the chain client's signer.
    pub fn operator(&self) -> Option<Address> {
        self.inner.operator
    }

    /// The ways to pay `amount` (atomic units; for `upto` and `batch-settlement`, the most one
    /// call may cost), in the order `exact`, `upto`, `batch-settlement`, then `zk-credits` (one
    /// per pool sold, when the call fits in four units).
    pub fn accepts(&self, amount: u128) -> Vec<PaymentRequirements> {
        let mut accepts: Vec<PaymentRequirements> = self
            .inner
            .offers
            .iter()
            .map(|offer| {
                let mut r = offer.clone();
                r.amount = amount.to_string();
                if r.scheme == wire::SCHEME_BATCH
                    && let Some(extra) = r.extra.as_object_mut()
                {
                    // What the official client deposits: enough for many calls, so a channel is
                    // not topped up every few.
                    extra
                        .insert("minDeposit".into(), json!(amount.saturating_mul(DEPOSIT_CALLS).to_string()));
                }
                r
            })
            .collect();
        accepts.extend(self.credit_offers(amount));
        accepts
    }

    /// Whether this paywall sells credits.
    pub fn sells_credits(&self) -> bool {
        self.inner.credits.is_some()
    }

    /// The credit pools sold.
    pub fn credit_pools(&self) -> &[agora_credits::Pool] {
        self.inner.credits.as_ref().map_or(&[], |c| &c.config.pools)
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
        self.authorize_with(headers, resource, amount, None).await
    }

    /// [`Paywall::authorize`], with x402 `extensions` in every 402 it answers (e.g. the
    /// [`crate::bazaar`] description of the route, for discovery).
    pub async fn authorize_with(
        &self,
        headers: &HeaderMap,
        resource: &ResourceInfo,
        amount: u128,
        extensions: Option<&Value>,
    ) -> Result<Authorized, Refusal> {
        self.authorize_request(headers, resource, amount, extensions, None).await
    }

    /// [`Paywall::authorize_with`] for a request whose `signal`
    /// ([`agora_credits::request_signal`] of its method, path and body) a `zk-credits` proof
    /// must be made over; without a signal, credits are not taken.
    pub async fn authorize_request(
        &self,
        headers: &HeaderMap,
        resource: &ResourceInfo,
        amount: u128,
        extensions: Option<&Value>,
        signal: Option<agora_credits::Fr>,
    ) -> Result<Authorized, Refusal> {
        if signal.is_some() {
            self.refresh_credit_roots().await;
        }
        let mut required = self.required(resource, amount);
        if signal.is_none() {
            required.accepts.retain(|r| r.scheme != wire::SCHEME_CREDITS);
        }
        required.extensions = extensions.cloned();
        let with_required = |mut refusal: Refusal| {
            match refusal.required.as_mut() {
                Some(r) => {
                    r.resource = required.resource.clone();
                    r.extensions = required.extensions.clone();
                }
                None => refusal.required = Some(Box::new(required.clone())),
            }
            refusal
        };
        let (value, v1) = if let Some(v) = headers.get(wire::PAYMENT_SIGNATURE_HEADER) {
            (v, false)
        } else if let Some(v) = headers.get(wire::X_PAYMENT_HEADER) {
            (v, true)
        } else {
            return Err(with_required(Refusal::new(
                RefusalReason::PaymentRequired,
                format!("this route costs up to {amount} atomic units; pay with one of `accepts`"),
            )));
        };
        let value = value.to_str().map_err(|_| {
            with_required(Refusal::new(RefusalReason::InvalidPayload, "the payment header is not ASCII"))
        })?;
        let payload = wire::decode_payment(value, v1, &required.accepts).map_err(|e| {
            let reason =
                if e.is_version() { RefusalReason::InvalidVersion } else { RefusalReason::InvalidPayload };
            with_required(Refusal::new(reason, e.to_string()))
        })?;
        self.check_accepted(&payload, &required.accepts).map_err(with_required)?;
        match payload.accepted.scheme.as_str() {
            wire::SCHEME_EXACT => self.verify_exact(&payload, amount).await.map(Authorized::Exact),
            wire::SCHEME_UPTO => self.verify_upto(&payload, amount).await.map(Authorized::Upto),
            wire::SCHEME_BATCH => self.verify_channel(&payload, amount).await.map(Authorized::Channel),
            wire::SCHEME_CREDITS => self.verify_credits(&payload, signal).await.map(Authorized::Credits),
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
        let pool_of = |r: &PaymentRequirements| r.extra.get("poolId").cloned();
        let Some(same_scheme) = offered.iter().find(|r| {
            r.scheme == chosen.scheme && (r.scheme != wire::SCHEME_CREDITS || pool_of(r) == pool_of(chosen))
        }) else {
            if chosen.scheme == wire::SCHEME_CREDITS && offered.iter().any(|r| r.scheme == chosen.scheme) {
                return Err(Refusal::new(
                    RefusalReason::CreditPool,
                    format!("credit pool {} is not sold here", pool_of(chosen).unwrap_or_default()),
                ));
            }
            return Err(Refusal::new(
                RefusalReason::UnsupportedScheme,
                format!("scheme {:?} is not accepted here", chosen.scheme),
            ));
        };
        if chosen.network != same_scheme.network {
            return Err(Refusal::new(
                RefusalReason::InvalidNetwork,
                format!("payment on {} but this route settles on {}", chosen.network, same_scheme.network),
            ));
        }
        if !chosen.asset.eq_ignore_ascii_case(&same_scheme.asset)
            || !chosen.pay_to.eq_ignore_ascii_case(&same_scheme.pay_to)
        {
            return Err(Refusal::new(
                RefusalReason::InvalidRequirements,
                "the payment names another asset or recipient than this route asks for",
            ));
        }
        if chosen.amount != same_scheme.amount {
            let code = match (typed::parse_amount(&chosen.amount), typed::parse_amount(&same_scheme.amount)) {
                (Some(a), Some(b)) if a > b => RefusalReason::AboveCeiling,
                _ => RefusalReason::ValueMismatch,
            };
            return Err(Refusal::new(
                code,
                format!("the payment is for {} but this request costs {}", chosen.amount, same_scheme.amount),
            ));
        }
        let strip = |extra: &Value| {
            let mut extra = extra.clone();
            if let Some(map) = extra.as_object_mut() {
                map.remove("channelState");
                map.remove("voucherState");
                // The newest roots move with every deposit; the proof's root is checked itself.
                map.remove("roots");
            }
            extra
        };
        if chosen.max_timeout_seconds != same_scheme.max_timeout_seconds
            || strip(&chosen.extra) != strip(&same_scheme.extra)
        {
            return Err(Refusal::new(
                RefusalReason::InvalidRequirements,
                "`accepted` differs from the requirement offered",
            ));
        }
        Ok(())
    }
}

impl Authorized {
    /// Who pays.
    pub fn payer(&self) -> Address {
        match self {
            Self::Exact(p) => p.authorization.from,
            Self::Upto(p) => p.owner(),
            Self::Channel(p) => p.payer,
            // Nobody: the point of credits.
            Self::Credits(_) => Address::ZERO,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Exact(_) => wire::SCHEME_EXACT,
            Self::Upto(_) => wire::SCHEME_UPTO,
            Self::Channel(_) => wire::SCHEME_BATCH,
            Self::Credits(_) => wire::SCHEME_CREDITS,
        }
    }

    /// The facts of this payment that receipts and records name: scheme, network, who pays whom
    /// in which token, the payment's reference and (for channels) what was charged before.
    pub fn facts(&self) -> PaymentFacts {
        let (paywall, reference, charged_before) = match self {
            Self::Exact(p) => (&p.paywall, p.authorization.nonce, None),
            Self::Upto(p) => (&p.paywall, p.reference(), None),
            Self::Channel(p) => (&p.paywall, p.channel_id, Some(p.charged_before)),
            Self::Credits(p) => {
                // No payer, no token moved: the pool's payee and token, the first ticket.
                let c = p.paywall.config();
                return PaymentFacts {
                    scheme: self.scheme(),
                    network: p.paywall.network(),
                    payer: Address::ZERO,
                    pay_to: c.pay_to,
                    asset: c.asset,
                    reference: p.reference(),
                    charged_before: None,
                };
            }
        };
        let c = paywall.config();
        PaymentFacts {
            scheme: self.scheme(),
            network: paywall.network(),
            payer: self.payer(),
            pay_to: c.pay_to,
            asset: c.asset,
            reference,
            charged_before,
        }
    }

    /// Records the payment for a served call costing `actual` (at most the ceiling; `exact`
    /// always charges its full amount) and returns the `PAYMENT-RESPONSE`. Only send the
    /// response once this returns `Ok`.
    pub async fn complete(self, actual: u128) -> Result<SettleResponse, Refusal> {
        match self {
            Self::Exact(p) => p.settle().await,
            Self::Upto(p) => p.settle(actual).await,
            Self::Channel(p) => p.charge(actual).await,
            Self::Credits(p) => Ok(p.complete()),
        }
    }

    /// The call was not served: nothing is charged, an `exact` nonce or `upto` permit is
    /// released.
    pub fn abandon(self) {
        if let Self::Credits(p) = self {
            p.release();
            return;
        }
        if let Self::Upto(p) = self {
            p.release();
            return;
        }
        if let Self::Exact(p) = self {
            let a = p.authorization;
            let _ = p.paywall.inner.store.write(|t| {
                t.execute(
                    "DELETE FROM pay_exact WHERE payer = ?1 AND nonce = ?2 AND status = ?3",
                    params![a.from.to_string(), a.nonce.to_string(), ExactStatus::Verified.as_str()],
                )
            });
        }
    }
}

/// What a verified payment is, for receipts and records (see [`Authorized::facts`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFacts {
    /// `exact`, `upto` or `batch-settlement`.
    pub scheme: &'static str,
    /// The CAIP-2 network.
    pub network: String,
    /// Who pays.
    pub payer: Address,
    /// Who is paid.
    pub pay_to: Address,
    /// The token.
    pub asset: Address,
    /// The EIP-3009 nonce (`exact`), the Permit2 nonce (`upto`) or the channel id
    /// (`batch-settlement`).
    pub reference: B256,
    /// For channels, what was charged before this call.
    pub charged_before: Option<u128>,
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
        ..ResourceInfo::default()
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
