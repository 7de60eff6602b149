//! An x402 facilitator: `POST /verify`, `POST /settle` and `GET /supported`, so other x402
//! servers can have an agora node check and settle `exact` payments for them. The node pays the
//! settlement gas; it cannot change the amount or the recipient, which the payer signed.

use crate::{
    paywall::{self, ExactTerms},
    typed,
    wire::{self, FacilitatorRequest, SettleResponse, VerifyResponse},
};
use agora_chain::ChainClient;
use alloy::primitives::Address;
use serde_json::{Value, json};

/// What the facilitator settles.
#[derive(Debug, Clone)]
pub struct Facilitator {
    chain: ChainClient,
}

impl Facilitator {
    /// A facilitator sending settlements through `chain` (whose signer pays the gas).
    pub fn new(chain: ChainClient) -> Self {
        Self { chain }
    }

    /// `GET /supported`.
    pub fn supported(&self) -> Value {
        json!({
            "kinds": [
                { "x402Version": 2, "scheme": wire::SCHEME_EXACT, "network": wire::caip2(self.chain.chain_id()) },
                { "x402Version": 1, "scheme": wire::SCHEME_EXACT, "network": wire::caip2(self.chain.chain_id()) },
            ],
            "extensions": [],
            "signers": { "eip155:*": self.chain.signer_address().map(|a| vec![a.to_checksum(None)]).unwrap_or_default() },
        })
    }

    async fn check(
        &self,
        request: &FacilitatorRequest,
    ) -> Result<(typed::Authorization, alloy::primitives::Bytes, Address), paywall::Refusal> {
        let r = &request.payment_requirements;
        let invalid = |reason: paywall::RefusalReason, message: String| paywall::Refusal {
            status: axum::http::StatusCode::BAD_REQUEST,
            reason,
            message,
            required: None,
        };
        if r.scheme != wire::SCHEME_EXACT {
            return Err(invalid(
                paywall::RefusalReason::UnsupportedScheme,
                format!("scheme {:?} is not settled here", r.scheme),
            ));
        }
        if r.network != wire::caip2(self.chain.chain_id()) {
            return Err(invalid(
                paywall::RefusalReason::InvalidNetwork,
                format!("this facilitator settles on {}", wire::caip2(self.chain.chain_id())),
            ));
        }
        if request.payment_payload.accepted.scheme != r.scheme
            || request.payment_payload.accepted.network != r.network
        {
            return Err(invalid(
                paywall::RefusalReason::InvalidRequirements,
                "the payload's `accepted` is not these requirements".into(),
            ));
        }
        let parse_addr = |s: &str, what: &str| {
            s.parse::<Address>().map_err(|_| {
                invalid(paywall::RefusalReason::InvalidRequirements, format!("{what} is not an address"))
            })
        };
        let asset = parse_addr(&r.asset, "asset")?;
        let pay_to = parse_addr(&r.pay_to, "payTo")?;
        let amount = typed::parse_amount(&r.amount).ok_or_else(|| {
            invalid(paywall::RefusalReason::InvalidRequirements, "amount is not a number".into())
        })?;
        let name = r.extra.get("name").and_then(Value::as_str).ok_or_else(|| {
            invalid(paywall::RefusalReason::InvalidRequirements, "extra.name is missing".into())
        })?;
        let version = r.extra.get("version").and_then(Value::as_str).ok_or_else(|| {
            invalid(paywall::RefusalReason::InvalidRequirements, "extra.version is missing".into())
        })?;
        let domain = typed::token_domain(name, version, self.chain.chain_id(), asset);
        let terms = ExactTerms { domain: &domain, asset, pay_to, amount };
        let (authorization, signature, _balance) =
            paywall::check_exact(&self.chain, &terms, &request.payment_payload.payload).await?;
        Ok((authorization, signature, asset))
    }

    /// `POST /verify`.
    pub async fn verify(&self, request: &FacilitatorRequest) -> VerifyResponse {
        match self.check(request).await {
            Ok((authorization, _, _)) => VerifyResponse {
                is_valid: true,
                invalid_reason: None,
                payer: Some(authorization.from.to_checksum(None)),
            },
            Err(refusal) => VerifyResponse {
                is_valid: false,
                invalid_reason: Some(refusal.reason.code().to_owned()),
                payer: None,
            },
        }
    }

    /// `POST /settle`: verifies, then submits the transfer and waits for it.
    pub async fn settle(&self, request: &FacilitatorRequest) -> SettleResponse {
        let network = request.payment_requirements.network.clone();
        let failed = |reason: &str, payer: Option<String>| SettleResponse {
            success: false,
            error_reason: Some(reason.to_owned()),
            payer,
            transaction: String::new(),
            network: network.clone(),
            amount: None,
            extra: None,
        };
        let (authorization, signature, asset) = match self.check(request).await {
            Ok(checked) => checked,
            Err(refusal) => return failed(refusal.reason.code(), None),
        };
        let payer = Some(authorization.from.to_checksum(None));
        match paywall::submit_transfer(&self.chain, asset, &authorization, &signature).await {
            Ok(Some(tx)) => SettleResponse {
                success: true,
                error_reason: None,
                payer,
                transaction: tx.to_string(),
                network: network.clone(),
                amount: Some(authorization.value.to_string()),
                extra: None,
            },
            Ok(None) => failed("chain_unavailable", payer),
            Err(_) => failed(wire::reason::SETTLE_FAILED, payer),
        }
    }
}
