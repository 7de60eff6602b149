//! The x402 wire format, v2 with v1 compatibility: what travels in the `PAYMENT-REQUIRED`,
//! `PAYMENT-SIGNATURE` (v1 `X-PAYMENT`) and `PAYMENT-RESPONSE` headers, each as standard base64
//! (with padding) of UTF-8 JSON.

use base64::Engine as _;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Server → client: the 402's requirements (v2 header).
pub const PAYMENT_REQUIRED_HEADER: &str = "payment-required";
/// Client → server: the signed payment (v2 header).
pub const PAYMENT_SIGNATURE_HEADER: &str = "payment-signature";
/// Client → server: the signed payment (v1 header).
pub const X_PAYMENT_HEADER: &str = "x-payment";
/// Server → client: the settlement result (v2 header).
pub const PAYMENT_RESPONSE_HEADER: &str = "payment-response";
/// Server → client: the settlement result (v1 header).
pub const X_PAYMENT_RESPONSE_HEADER: &str = "x-payment-response";

/// The `exact` scheme: one EIP-3009 transfer per call.
pub const SCHEME_EXACT: &str = "exact";
/// x402 `upto`: a Permit2 authorization of a ceiling, charged the actual cost after the call.
pub const SCHEME_UPTO: &str = "upto";
/// x402 `batch-settlement`: a deposit once into a channel, then one cumulative voucher per call,
/// claimed on chain in batches.
pub const SCHEME_BATCH: &str = "batch-settlement";
/// agora's scheme of anonymous prepaid credits: a zero-knowledge proof spends tickets of a
/// deposit nobody can point to (see `agora-credits`).
pub const SCHEME_CREDITS: &str = "zk-credits";

/// The resource a payment is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInfo {
    /// Its URL.
    pub url: String,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The service's name, for discovery (`bazaar`: printable ASCII, at most 32 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Topical tags, for discovery (`bazaar`: at most 5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// One way to pay (an entry of `accepts[]`, and `accepted` in a payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequirements {
    /// `exact`, `upto` or `batch-settlement`.
    pub scheme: String,
    /// CAIP-2 network, `eip155:<chain id>`.
    pub network: String,
    /// Atomic units of `asset`: the price (`exact`) or the most one call may cost (`upto`,
    /// `batch-settlement`).
    pub amount: String,
    /// The token's address.
    pub asset: String,
    /// Who is paid.
    pub pay_to: String,
    /// How long the client has to complete the payment.
    pub max_timeout_seconds: u64,
    /// Scheme data: the token's EIP-712 `name`/`version`; for `upto` the facilitator, for
    /// `batch-settlement` the receiver authorizer and withdrawal delay (and, on a corrective
    /// 402, the channel and voucher state).
    #[serde(default)]
    pub extra: Value,
}

/// The 402 answer (v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequired {
    /// Always 2.
    pub x402_version: u32,
    /// Why the last attempt failed, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What is being paid for.
    pub resource: ResourceInfo,
    /// The ways to pay.
    pub accepts: Vec<PaymentRequirements>,
    /// Extensions (echoed by clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

/// A signed payment as a client sends it (v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPayload {
    /// 2 (or 1 when converted from a v1 `X-PAYMENT`).
    pub x402_version: u32,
    /// The resource, as the 402 named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceInfo>,
    /// The requirement the client chose, exactly as offered.
    pub accepted: PaymentRequirements,
    /// Scheme data: an EIP-3009 authorization, or a channel voucher (and deposit).
    pub payload: Value,
    /// Extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

/// A v1 payload: `{x402Version, scheme, network, payload}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentPayloadV1 {
    x402_version: u32,
    scheme: String,
    network: String,
    payload: Value,
}

/// The settlement result (`PAYMENT-RESPONSE`, and the facilitator's `/settle` answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettleResponse {
    /// Whether the payment went through.
    pub success: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Who paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// The settlement transaction; empty for off-chain (voucher) payments or while pending.
    pub transaction: String,
    /// CAIP-2 network.
    pub network: String,
    /// What was charged, in atomic units (empty for a `batch-settlement` voucher, whose charge
    /// is `extra.chargedAmount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Scheme data: for `batch-settlement` the charge of this call (`chargedAmount`) and the
    /// channel's state (`channelState`, with `chargedCumulativeAmount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

impl SettleResponse {
    /// What this payment charged: `extra.chargedAmount` for a voucher, else `amount`.
    pub fn charged(&self) -> Option<u128> {
        self.extra
            .as_ref()
            .and_then(|e| e.get("chargedAmount"))
            .and_then(Value::as_str)
            .or(self.amount.as_deref())
            .and_then(crate::typed::parse_amount)
    }
}

/// The facilitator's `/verify` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// Whether the payment would settle.
    pub is_valid: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
    /// Why not, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_message: Option<String>,
    /// Who pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// Scheme data: for `batch-settlement` the channel's state on chain (`channelId`,
    /// `balance`, `totalClaimed`, `withdrawRequestedAt`, `refundNonce`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// The facilitator request body of `/verify` and `/settle`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacilitatorRequest {
    /// 1 or 2.
    #[serde(default = "two")]
    pub x402_version: u32,
    /// What the client sent.
    pub payment_payload: PaymentPayload,
    /// What the server asked for.
    pub payment_requirements: PaymentRequirements,
}

fn two() -> u32 {
    2
}

/// Why a header could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not standard base64.
    #[error("the header is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not the expected JSON.
    #[error("the header is not a valid x402 payload: {0}")]
    Json(#[from] serde_json::Error),
    /// A v1 payment for a scheme and network that were not offered.
    #[error("the header is not a valid x402 payload: no {scheme} payment on {network} is offered")]
    NotOffered {
        /// The payment's scheme.
        scheme: String,
        /// The payment's v1 network name.
        network: String,
    },
    /// A version we do not speak.
    #[error("x402 version {0} is not supported (1 and 2 are)")]
    Version(u32),
}

impl WireError {
    /// Whether the header named a version this codec does not speak (the rest are malformed).
    pub fn is_version(&self) -> bool {
        matches!(self, Self::Version(_))
    }
}

/// Errors are equal when they are the same kind of failure (the parsers' messages aside).
impl PartialEq for WireError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Version(a), Self::Version(b)) => a == b,
            (Self::NotOffered { scheme: a, network: n }, Self::NotOffered { scheme: b, network: m }) => {
                a == b && n == m
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for WireError {}

/// Standard base64 of the JSON of `value`.
pub fn encode_header<T: Serialize>(value: &T) -> String {
    // Plain data structures always serialise.
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// Decodes a base64 JSON header. URL-safe base64 and missing padding are tolerated on input.
pub fn decode_header<T: DeserializeOwned>(value: &str) -> Result<T, WireError> {
    let value = value.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(value))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(value))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Reads a payment header: a v2 `PAYMENT-SIGNATURE`, or a v1 `X-PAYMENT` (`v1 = true`), whose
/// requirement is rebuilt from `offered` (v1 payloads carry only scheme and network).
pub fn decode_payment(
    value: &str,
    v1: bool,
    offered: &[PaymentRequirements],
) -> Result<PaymentPayload, WireError> {
    if !v1 {
        let payload: PaymentPayload = decode_header(value)?;
        if payload.x402_version != 2 {
            return Err(WireError::Version(payload.x402_version));
        }
        return Ok(payload);
    }
    let old: PaymentPayloadV1 = decode_header(value)?;
    if old.x402_version != 1 {
        return Err(WireError::Version(old.x402_version));
    }
    let network = v1_network_to_caip2(&old.network);
    let accepted =
        offered.iter().find(|r| r.scheme == old.scheme && r.network == network).cloned().ok_or_else(
            || WireError::NotOffered { scheme: old.scheme.clone(), network: old.network.clone() },
        )?;
    Ok(PaymentPayload { x402_version: 1, resource: None, accepted, payload: old.payload, extensions: None })
}

/// v1 named networks (`base-sepolia`) → CAIP-2; CAIP-2 names pass through.
pub fn v1_network_to_caip2(network: &str) -> String {
    match network {
        "base" => "eip155:8453".to_owned(),
        "base-sepolia" => "eip155:84532".to_owned(),
        "ethereum" | "mainnet" => "eip155:1".to_owned(),
        "sepolia" => "eip155:11155111".to_owned(),
        "anvil" | "localhost" => "eip155:31337".to_owned(),
        other => other.to_owned(),
    }
}

/// `eip155:<chain id>`.
pub fn caip2(chain_id: u64) -> String {
    format!("eip155:{chain_id}")
}

/// Reason codes, the x402 core ones where they exist.
pub mod reason {
    /// The payer's balance (or channel deposit) does not cover the payment.
    pub const INSUFFICIENT_FUNDS: &str = "insufficient_funds";
    /// The authorization is not valid yet.
    pub const VALID_AFTER: &str = "invalid_exact_evm_payload_authorization_valid_after";
    /// The authorization has expired, or expires too soon to settle.
    pub const VALID_BEFORE: &str = "invalid_exact_evm_payload_authorization_valid_before";
    /// The authorized value is not the price.
    pub const VALUE_MISMATCH: &str = "invalid_exact_evm_payload_authorization_value_mismatch";
    /// The signature is not the payer's.
    pub const SIGNATURE: &str = "invalid_exact_evm_payload_signature";
    /// The payment goes to someone else.
    pub const RECIPIENT_MISMATCH: &str = "invalid_exact_evm_payload_recipient_mismatch";
    /// The nonce was used before.
    pub const NONCE_USED: &str = "invalid_exact_evm_payload_authorization_nonce_used";
    /// Another network.
    pub const INVALID_NETWORK: &str = "invalid_network";
    /// The payload is not what the scheme needs.
    pub const INVALID_PAYLOAD: &str = "invalid_payload";
    /// The chosen requirement is not one that was offered.
    pub const INVALID_REQUIREMENTS: &str = "invalid_payment_requirements";
    /// A scheme this server does not take.
    pub const UNSUPPORTED_SCHEME: &str = "unsupported_scheme";
    /// A version this server does not speak.
    pub const INVALID_VERSION: &str = "invalid_x402_version";
    /// Settlement failed.
    pub const SETTLE_FAILED: &str = "unexpected_settle_error";
    /// No payment header was sent.
    pub const PAYMENT_REQUIRED: &str = "payment_required";
    /// A voucher signature that is not the channel's payer authorizer's.
    pub const VOUCHER_SIGNATURE: &str = "invalid_batch_settlement_evm_voucher_signature";
    /// A voucher that is not what was charged plus this call (a stale or replayed voucher);
    /// the 402 carries the server's channel and voucher state so the client can resync.
    pub const CUMULATIVE_MISMATCH: &str = "invalid_batch_settlement_evm_cumulative_amount_mismatch";
    /// A voucher beyond what the channel holds.
    pub const CUMULATIVE_EXCEEDS_BALANCE: &str = "invalid_batch_settlement_evm_cumulative_exceeds_balance";
    /// A channel never funded.
    pub const UNKNOWN_CHANNEL: &str = "invalid_batch_settlement_evm_channel_not_found";
    /// A channel config that does not hash to the voucher's channel id.
    pub const CHANNEL_ID_MISMATCH: &str = "invalid_batch_settlement_evm_channel_id_mismatch";
    /// A channel paying another receiver.
    pub const RECEIVER_MISMATCH: &str = "invalid_batch_settlement_evm_receiver_mismatch";
    /// A channel whose receiver authorizer is not this server's.
    pub const RECEIVER_AUTHORIZER_MISMATCH: &str =
        "invalid_batch_settlement_evm_receiver_authorizer_mismatch";
    /// A channel in another token.
    pub const TOKEN_MISMATCH: &str = "invalid_batch_settlement_evm_token_mismatch";
    /// A channel whose withdrawal delay is not the one asked for.
    pub const WITHDRAW_DELAY_MISMATCH: &str = "invalid_batch_settlement_evm_withdraw_delay_mismatch";
    /// The payer started a withdrawal: the channel takes no more vouchers.
    pub const CHANNEL_CLOSING: &str = "invalid_batch_settlement_evm_withdraw_pending";
    /// Another request on the same channel is in flight.
    pub const CHANNEL_BUSY: &str = "invalid_batch_settlement_evm_channel_busy";
    /// The deposit failed.
    pub const DEPOSIT_FAILED: &str = "invalid_batch_settlement_evm_deposit_transaction_failed";
    /// The `upto` permit's signature is not the payer's.
    pub const PERMIT2_SIGNATURE: &str = "invalid_permit2_signature";
    /// The `upto` permit moves tokens to someone else.
    pub const PERMIT2_DESTINATION: &str = "permit2_invalid_destination";
    /// The `upto` permit names another facilitator.
    pub const PERMIT2_FACILITATOR: &str = "upto_facilitator_mismatch";
    /// The `upto` permit is not for the amount asked (or another token, or spender).
    pub const PERMIT2_AMOUNT: &str = "permit2_amount_mismatch";
    /// The `upto` permit is not valid yet.
    pub const PERMIT2_TOO_EARLY: &str = "permit2_payment_too_early";
    /// The `upto` permit's nonce was used.
    pub const PERMIT2_NONCE: &str = "permit2_invalid_nonce";
    /// The payer has not approved Permit2 for the token.
    pub const PERMIT2_ALLOWANCE: &str = "permit2_allowance_required";
    /// The request would cost more than a call may.
    pub const ABOVE_CEILING: &str = "amount_above_ceiling";
    /// An `upto` settlement of more than the permit allows.
    pub const UPTO_SETTLEMENT_EXCEEDS_AMOUNT: &str = "invalid_upto_evm_payload_settlement_exceeds_amount";
    /// A channel whose withdrawal delay is outside what the contract takes.
    pub const WITHDRAW_DELAY_OUT_OF_RANGE: &str = "invalid_batch_settlement_evm_withdraw_delay_out_of_range";
    /// A voucher at or below what the channel has claimed already.
    pub const CUMULATIVE_BELOW_CLAIMED: &str = "invalid_batch_settlement_evm_cumulative_below_claimed";
    /// A batch-settlement payload of a type not taken here.
    pub const BATCH_PAYLOAD_TYPE: &str = "invalid_batch_settlement_evm_payload_type";
    /// A claim or refund to be authorized by a receiver authorizer that is not this node.
    pub const AUTHORIZER_MISMATCH: &str = "invalid_batch_settlement_evm_authorizer_address_mismatch";
    /// A claim or refund signature that is not the channel's receiver authorizer's.
    pub const AUTHORIZER_SIGNATURE: &str = "invalid_batch_settlement_evm_authorizer_signature";
    /// A claim above its voucher.
    pub const CLAIM_EXCEEDS_VOUCHER: &str = "invalid_batch_settlement_evm_claim_exceeds_voucher";
    /// The claim transaction failed.
    pub const CLAIM_FAILED: &str = "invalid_batch_settlement_evm_claim_transaction_failed";
    /// Nothing claimed waits to be paid to the receiver.
    pub const NOTHING_TO_SETTLE: &str = "invalid_batch_settlement_evm_nothing_to_settle";
    /// The settle transaction failed.
    pub const SETTLE_TX_FAILED: &str = "invalid_batch_settlement_evm_settle_transaction_failed";
    /// A refund of nothing: the channel keeps nothing unclaimed.
    pub const REFUND_NO_BALANCE: &str = "invalid_batch_settlement_evm_refund_no_balance";
    /// A refund at another refund nonce than the channel's.
    pub const REFUND_NONCE: &str = "invalid_batch_settlement_evm_refund_nonce_mismatch";
    /// The refund transaction failed.
    pub const REFUND_FAILED: &str = "invalid_batch_settlement_evm_refund_transaction_failed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_in_standard_base64() {
        let required = PaymentRequired {
            x402_version: 2,
            error: None,
            resource: ResourceInfo { url: "http://x/y".into(), ..Default::default() },
            accepts: vec![],
            extensions: None,
        };
        let header = encode_header(&required);
        assert!(!header.contains('-') && !header.contains('_'), "standard alphabet");
        assert_eq!(decode_header::<PaymentRequired>(&header).unwrap(), required);
        assert!(matches!(decode_header::<PaymentRequired>("%%%"), Err(WireError::Base64(_))));
        assert!(matches!(decode_header::<PaymentRequired>("e30="), Err(WireError::Json(_))));
    }

    #[test]
    fn v1_payloads_take_the_offered_requirement() {
        let offered = vec![PaymentRequirements {
            scheme: "exact".into(),
            network: "eip155:84532".into(),
            amount: "10".into(),
            asset: "0x1".into(),
            pay_to: "0x2".into(),
            max_timeout_seconds: 60,
            extra: Value::Null,
        }];
        let v1 = encode_header(&serde_json::json!({
            "x402Version": 1, "scheme": "exact", "network": "base-sepolia", "payload": {"a": 1}
        }));
        let payload = decode_payment(&v1, true, &offered).unwrap();
        assert_eq!(payload.accepted, offered[0]);
        let v3 = encode_header(&serde_json::json!({
            "x402Version": 3, "accepted": offered[0], "payload": {}
        }));
        assert_eq!(decode_payment(&v3, false, &offered), Err(WireError::Version(3)));
    }
}
