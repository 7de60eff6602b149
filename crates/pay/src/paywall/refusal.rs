//! A refused payment and its HTTP answer: status, reason code, message and the 402 requirements.

use crate::wire::{self, PaymentRequired, reason};
use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// Why a payment was refused: each reason has one wire code (x402's where it exists) and one
/// HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The payer's balance (or channel deposit) does not cover the payment.
    InsufficientFunds,
    /// The authorization is not valid yet.
    ValidAfter,
    /// The authorization has expired, or expires too soon to settle.
    ValidBefore,
    /// The authorized value is not the price.
    ValueMismatch,
    /// The signature is not the payer's.
    Signature,
    /// The payment goes to someone else.
    RecipientMismatch,
    /// The nonce was used before.
    NonceUsed,
    /// Another network.
    InvalidNetwork,
    /// The payload is not what the scheme needs (a bad request).
    InvalidPayload,
    /// The chosen requirement is not one that was offered.
    InvalidRequirements,
    /// A scheme this server does not take.
    UnsupportedScheme,
    /// A version this server does not speak (a bad request).
    InvalidVersion,
    /// Settlement failed.
    SettleFailed,
    /// No payment header was sent.
    PaymentRequired,
    /// A voucher signature that is not the channel's payer authorizer's.
    VoucherSignature,
    /// A voucher that does not cover what was charged plus this call.
    CumulativeMismatch,
    /// A channel never funded.
    UnknownChannel,
    /// A voucher beyond what the channel holds.
    CumulativeExceedsBalance,
    /// A channel config that does not hash to the voucher's channel id.
    ChannelIdMismatch,
    /// A channel paying someone else.
    ReceiverMismatch,
    /// A channel whose receiver authorizer is not this server's.
    ReceiverAuthorizerMismatch,
    /// A channel in another token.
    TokenMismatch,
    /// A channel whose withdrawal delay is not the one asked for.
    WithdrawDelayMismatch,
    /// An `upto` permit not signed by its owner.
    Permit2Signature,
    /// An `upto` permit paying someone else.
    Permit2Destination,
    /// An `upto` permit naming another facilitator.
    Permit2Facilitator,
    /// An `upto` permit for another amount, token or spender.
    Permit2Amount,
    /// An `upto` permit not valid yet.
    Permit2TooEarly,
    /// An `upto` permit whose nonce was used.
    Permit2Nonce,
    /// The payer has not approved Permit2 for the token.
    Permit2Allowance,
    /// The payer started a withdrawal: the channel takes no more vouchers.
    ChannelClosing,
    /// Another request on the same channel is in flight.
    ChannelBusy,
    /// The deposit failed.
    DepositFailed,
    /// The request would cost more than a call may.
    AboveCeiling,
    /// The settlement chain cannot be reached (503).
    ChainUnavailable,
    /// The channel ledger cannot record the charge (500).
    LedgerUnavailable,
    /// The store cannot reserve an `exact` nonce (500; the wire code is settlement's).
    StoreUnavailable,
    /// An `upto` settlement of more than the permit allows.
    UptoSettlementExceedsAmount,
    /// A channel whose withdrawal delay is outside what the contract takes.
    WithdrawDelayOutOfRange,
    /// A voucher at or below what the channel has claimed already.
    CumulativeBelowClaimed,
    /// A batch-settlement payload of a type not taken here.
    BatchPayloadType,
    /// A claim or refund to be authorized by a receiver authorizer that is not this node.
    AuthorizerMismatch,
    /// A claim or refund signature that is not the receiver authorizer's.
    AuthorizerSignature,
    /// A claim above its voucher.
    ClaimExceedsVoucher,
    /// The claim transaction failed.
    ClaimFailed,
    /// Nothing claimed waits to be paid to the receiver.
    NothingToSettle,
    /// The settle transaction failed.
    SettleTxFailed,
    /// A refund of nothing.
    RefundNoBalance,
    /// A refund at another refund nonce than the channel's.
    RefundNonce,
    /// The refund transaction failed.
    RefundFailed,
    /// A credit proof for a pool not sold here (another provider, contract or chain).
    CreditPool,
    /// A credit proof against a root that is not among the pool's recent roots.
    CreditRoot,
    /// A credit proof that does not verify.
    CreditProof,
    /// A credit ticket spent before on this same request.
    CreditReplayed,
    /// A credit ticket spent before on another request: the stake is slashed.
    CreditDoubleSpent,
}

impl RefusalReason {
    /// The reason code on the wire, byte for byte as clients read it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InsufficientFunds => reason::INSUFFICIENT_FUNDS,
            Self::ValidAfter => reason::VALID_AFTER,
            Self::ValidBefore => reason::VALID_BEFORE,
            Self::ValueMismatch => reason::VALUE_MISMATCH,
            Self::Signature => reason::SIGNATURE,
            Self::RecipientMismatch => reason::RECIPIENT_MISMATCH,
            Self::NonceUsed => reason::NONCE_USED,
            Self::InvalidNetwork => reason::INVALID_NETWORK,
            Self::InvalidPayload => reason::INVALID_PAYLOAD,
            Self::InvalidRequirements => reason::INVALID_REQUIREMENTS,
            Self::UnsupportedScheme => reason::UNSUPPORTED_SCHEME,
            Self::InvalidVersion => reason::INVALID_VERSION,
            Self::SettleFailed => reason::SETTLE_FAILED,
            Self::PaymentRequired => reason::PAYMENT_REQUIRED,
            Self::VoucherSignature => reason::VOUCHER_SIGNATURE,
            Self::CumulativeMismatch => reason::CUMULATIVE_MISMATCH,
            Self::UnknownChannel => reason::UNKNOWN_CHANNEL,
            Self::CumulativeExceedsBalance => reason::CUMULATIVE_EXCEEDS_BALANCE,
            Self::ChannelIdMismatch => reason::CHANNEL_ID_MISMATCH,
            Self::ReceiverMismatch => reason::RECEIVER_MISMATCH,
            Self::ReceiverAuthorizerMismatch => reason::RECEIVER_AUTHORIZER_MISMATCH,
            Self::TokenMismatch => reason::TOKEN_MISMATCH,
            Self::WithdrawDelayMismatch => reason::WITHDRAW_DELAY_MISMATCH,
            Self::Permit2Signature => reason::PERMIT2_SIGNATURE,
            Self::Permit2Destination => reason::PERMIT2_DESTINATION,
            Self::Permit2Facilitator => reason::PERMIT2_FACILITATOR,
            Self::Permit2Amount => reason::PERMIT2_AMOUNT,
            Self::Permit2TooEarly => reason::PERMIT2_TOO_EARLY,
            Self::Permit2Nonce => reason::PERMIT2_NONCE,
            Self::Permit2Allowance => reason::PERMIT2_ALLOWANCE,
            Self::ChannelClosing => reason::CHANNEL_CLOSING,
            Self::ChannelBusy => reason::CHANNEL_BUSY,
            Self::DepositFailed => reason::DEPOSIT_FAILED,
            Self::AboveCeiling => reason::ABOVE_CEILING,
            Self::ChainUnavailable => "chain_unavailable",
            Self::LedgerUnavailable => "ledger_unavailable",
            Self::StoreUnavailable => reason::SETTLE_FAILED,
            Self::UptoSettlementExceedsAmount => reason::UPTO_SETTLEMENT_EXCEEDS_AMOUNT,
            Self::WithdrawDelayOutOfRange => reason::WITHDRAW_DELAY_OUT_OF_RANGE,
            Self::CumulativeBelowClaimed => reason::CUMULATIVE_BELOW_CLAIMED,
            Self::BatchPayloadType => reason::BATCH_PAYLOAD_TYPE,
            Self::AuthorizerMismatch => reason::AUTHORIZER_MISMATCH,
            Self::AuthorizerSignature => reason::AUTHORIZER_SIGNATURE,
            Self::ClaimExceedsVoucher => reason::CLAIM_EXCEEDS_VOUCHER,
            Self::ClaimFailed => reason::CLAIM_FAILED,
            Self::NothingToSettle => reason::NOTHING_TO_SETTLE,
            Self::SettleTxFailed => reason::SETTLE_TX_FAILED,
            Self::RefundNoBalance => reason::REFUND_NO_BALANCE,
            Self::RefundNonce => reason::REFUND_NONCE,
            Self::RefundFailed => reason::REFUND_FAILED,
            Self::CreditPool => "invalid_zk_credits_pool",
            Self::CreditRoot => "invalid_zk_credits_root",
            Self::CreditProof => "invalid_zk_credits_proof",
            Self::CreditReplayed => "invalid_zk_credits_ticket_replayed",
            Self::CreditDoubleSpent => "invalid_zk_credits_ticket_double_spent",
        }
    }

    /// The request itself is malformed (400): no payment could pass as sent.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, Self::InvalidPayload | Self::InvalidVersion)
    }

    /// The chain is out of reach (503): the same payment may pass later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::ChainUnavailable)
    }

    /// This node failed (500), not the payment.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::LedgerUnavailable | Self::StoreUnavailable)
    }

    /// The HTTP status a refusal for this reason answers with: the one place it is decided.
    pub fn http_status(&self) -> StatusCode {
        if self.is_bad_request() {
            StatusCode::BAD_REQUEST
        } else if self.is_unavailable() {
            StatusCode::SERVICE_UNAVAILABLE
        } else if self.is_internal() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::PAYMENT_REQUIRED
        }
    }
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for RefusalReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// A refused payment: the status (402, 400 or 503), a reason code, a message, and the
/// requirements to send back.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// Why (its [`RefusalReason::code`] is the machine-readable reason).
    pub reason: RefusalReason,
    /// For people.
    pub message: String,
    /// The 402's requirements (with channel state for a corrective 402).
    pub required: Option<Box<PaymentRequired>>,
}

impl Refusal {
    /// A refusal for `reason`, answered with the reason's HTTP status.
    pub(crate) fn new(reason: RefusalReason, message: impl Into<String>) -> Self {
        Self { status: reason.http_status(), reason, message: message.into(), required: None }
    }

    /// The settlement chain could not be reached.
    pub(crate) fn chain(message: impl std::fmt::Display) -> Self {
        Self::new(
            RefusalReason::ChainUnavailable,
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
            required.error = Some(self.reason.code().to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_their_wire_codes_and_statuses() {
        let cases = [
            (RefusalReason::PaymentRequired, "payment_required", StatusCode::PAYMENT_REQUIRED),
            (RefusalReason::InvalidPayload, "invalid_payload", StatusCode::BAD_REQUEST),
            (RefusalReason::InvalidVersion, "invalid_x402_version", StatusCode::BAD_REQUEST),
            (
                RefusalReason::NonceUsed,
                "invalid_exact_evm_payload_authorization_nonce_used",
                StatusCode::PAYMENT_REQUIRED,
            ),
            (
                RefusalReason::CumulativeMismatch,
                "invalid_batch_settlement_evm_cumulative_amount_mismatch",
                StatusCode::PAYMENT_REQUIRED,
            ),
            (RefusalReason::ChainUnavailable, "chain_unavailable", StatusCode::SERVICE_UNAVAILABLE),
            (RefusalReason::LedgerUnavailable, "ledger_unavailable", StatusCode::INTERNAL_SERVER_ERROR),
            (RefusalReason::StoreUnavailable, "unexpected_settle_error", StatusCode::INTERNAL_SERVER_ERROR),
            (RefusalReason::SettleFailed, "unexpected_settle_error", StatusCode::PAYMENT_REQUIRED),
        ];
        for (reason, code, status) in cases {
            assert_eq!(reason.code(), code);
            assert_eq!(reason.http_status(), status, "{code}");
            assert_eq!(serde_json::to_value(reason).unwrap(), serde_json::json!(code));
        }
    }

    #[test]
    fn a_refusal_answers_with_its_reason() {
        let response = Refusal::chain("connection refused").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
