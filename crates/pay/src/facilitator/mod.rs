//! An x402 facilitator: `POST /verify`, `POST /settle` and `GET /supported`, so other x402
//! servers (the official `@x402/express` middleware among them) can have an agora node check
//! and settle their payments in the three official schemes:
//!
//! - `exact`: one EIP-3009 transfer, sent as the payer signed it.
//! - `upto`: a Permit2 witness transfer bound to this node as facilitator; `/settle` moves the
//!   charge the server names in `paymentRequirements.amount` (at most what was permitted)
//!   through the official `upto` proxy.
//! - `batch-settlement`: deposits into channels of the official batch settlement contract,
//!   vouchers checked against the chain, and the server's claims, settlements and refunds, with
//!   this node as the channels' receiver authorizer (or with the authorizer's signatures).
//!
//! Deny by default: only these schemes, only on the node's own chain, and nothing goes on chain
//! that was not checked here first (signatures recovered locally, amounts against the chain).
//! Every refusal is a typed [`RefusalReason`] whose code is the x402 one where it exists. The
//! node pays the gas; it cannot change who pays, who is paid, or more than was signed.

mod batch;
mod upto;

use crate::{
    paywall::{self, ExactTerms, Refusal, RefusalReason},
    typed,
    wire::{self, FacilitatorRequest, PaymentRequirements, SettleResponse, VerifyResponse},
};
use agora_chain::ChainClient;
use alloy::primitives::{Address, B256, U256};
use serde_json::{Value, json};
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

/// What the facilitator settles.
#[derive(Debug, Clone)]
pub struct Facilitator {
    chain: ChainClient,
    /// `upto` permits being settled, by (owner, nonce): one settlement per permit at a time.
    upto_in_flight: Arc<Mutex<HashSet<(Address, U256)>>>,
}

/// A payment that would settle: who pays, and scheme data for the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verified {
    payer: Address,
    extra: Option<Value>,
}

/// The schemes settled here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Exact,
    Upto,
    Batch,
}

impl Facilitator {
    /// A facilitator sending settlements through `chain`, whose signer pays the gas and is the
    /// `upto` facilitator and `batch-settlement` receiver authorizer it advertises. Without a
    /// signer only `exact` is verified (and nothing settles).
    pub fn new(chain: ChainClient) -> Self {
        Self { chain, upto_in_flight: Arc::default() }
    }

    fn network(&self) -> String {
        wire::caip2(self.chain.chain_id())
    }

    /// `GET /supported`: `exact` (x402 v2 and v1) on this chain; with a signer, `upto` (naming
    /// it as `facilitatorAddress`) and `batch-settlement` (naming it as `receiverAuthorizer`).
    pub fn supported(&self) -> Value {
        let network = self.network();
        let mut kinds = vec![
            json!({ "x402Version": 2, "scheme": wire::SCHEME_EXACT, "network": network }),
            json!({ "x402Version": 1, "scheme": wire::SCHEME_EXACT, "network": network }),
        ];
        let signer = self.chain.signer_address();
        if let Some(signer) = signer {
            let signer = signer.to_checksum(None);
            kinds.push(json!({
                "x402Version": 2, "scheme": wire::SCHEME_UPTO, "network": network,
                "extra": { "facilitatorAddress": signer },
            }));
            kinds.push(json!({
                "x402Version": 2, "scheme": wire::SCHEME_BATCH, "network": network,
                "extra": { "receiverAuthorizer": signer },
            }));
        }
        json!({
            "kinds": kinds,
            "extensions": [],
            "signers": { "eip155:*": signer.map(|a| vec![a.to_checksum(None)]).unwrap_or_default() },
        })
    }

    /// The signer that settles `upto` and `batch-settlement`.
    fn signer(&self) -> Result<Address, Refusal> {
        self.chain.signer_address().ok_or_else(|| {
            Refusal::new(RefusalReason::UnsupportedScheme, "this facilitator has no key to settle with")
        })
    }

    /// What every request must be: a scheme settled here, on this chain, with the payload's
    /// `accepted` naming the same scheme and network (x402 v2 for `upto` and `batch-settlement`).
    fn admit(&self, request: &FacilitatorRequest) -> Result<Scheme, Refusal> {
        let r = &request.payment_requirements;
        let scheme = match r.scheme.as_str() {
            wire::SCHEME_EXACT => Scheme::Exact,
            wire::SCHEME_UPTO => Scheme::Upto,
            wire::SCHEME_BATCH => Scheme::Batch,
            other => {
                return Err(Refusal::new(
                    RefusalReason::UnsupportedScheme,
                    format!("scheme {other:?} is not settled here"),
                ));
            }
        };
        if r.network != self.network() {
            return Err(Refusal::new(
                RefusalReason::InvalidNetwork,
                format!("this facilitator settles on {}, not {}", self.network(), r.network),
            ));
        }
        let accepted = &request.payment_payload.accepted;
        if accepted.scheme != r.scheme || accepted.network != r.network {
            return Err(Refusal::new(
                RefusalReason::InvalidRequirements,
                "the payload's `accepted` is not these requirements' scheme and network",
            ));
        }
        if scheme != Scheme::Exact {
            self.signer()?;
            if request.payment_payload.x402_version != 2 {
                return Err(Refusal::new(
                    RefusalReason::InvalidVersion,
                    format!("{} is settled for x402 version 2 only", r.scheme),
                ));
            }
        }
        Ok(scheme)
    }

    /// `POST /verify`.
    pub async fn verify(&self, request: &FacilitatorRequest) -> VerifyResponse {
        let verified = match self.admit(request) {
            Ok(Scheme::Exact) => {
                self.check_exact(request).await.map(|(a, _, _)| Verified { payer: a.from, extra: None })
            }
            Ok(Scheme::Upto) => self.verify_upto(request).await,
            Ok(Scheme::Batch) => self.verify_batch(request).await,
            Err(refusal) => Err(refusal),
        };
        match verified {
            Ok(v) => VerifyResponse {
                is_valid: true,
                invalid_reason: None,
                invalid_message: None,
                payer: Some(v.payer.to_checksum(None)),
                extra: v.extra,
            },
            Err(refusal) => VerifyResponse {
                is_valid: false,
                invalid_reason: Some(refusal.reason.code().to_owned()),
                invalid_message: Some(refusal.message),
                payer: None,
                extra: None,
            },
        }
    }

    /// `POST /settle`: checks the payment as `/verify` does, then sends it on chain and waits
    /// for the receipt.
    pub async fn settle(&self, request: &FacilitatorRequest) -> SettleResponse {
        let settled = match self.admit(request) {
            Ok(Scheme::Exact) => self.settle_exact(request).await,
            Ok(Scheme::Upto) => self.settle_upto(request).await,
            Ok(Scheme::Batch) => self.settle_batch(request).await,
            Err(refusal) => Err(refusal),
        };
        settled.unwrap_or_else(|refusal| SettleResponse {
            success: false,
            error_reason: Some(refusal.reason.code().to_owned()),
            error_message: Some(refusal.message),
            payer: None,
            transaction: String::new(),
            network: request.payment_requirements.network.clone(),
            amount: None,
            extra: None,
        })
    }

    /// A successful settlement on this chain.
    fn settled(&self, tx: Option<B256>, payer: Option<Address>, amount: Option<String>) -> SettleResponse {
        SettleResponse {
            success: true,
            error_reason: None,
            error_message: None,
            payer: payer.map(|p| p.to_checksum(None)),
            transaction: tx.map(|t| t.to_string()).unwrap_or_default(),
            network: self.network(),
            amount,
            extra: None,
        }
    }

    async fn check_exact(
        &self,
        request: &FacilitatorRequest,
    ) -> Result<(typed::Authorization, alloy::primitives::Bytes, Address), Refusal> {
        let r = &request.payment_requirements;
        let asset = requirement_address(&r.asset, "asset")?;
        let pay_to = requirement_address(&r.pay_to, "payTo")?;
        let amount = typed::parse_amount(&r.amount)
            .ok_or_else(|| Refusal::new(RefusalReason::InvalidRequirements, "amount is not a number"))?;
        let domain = token_domain(r, self.chain.chain_id(), asset)?;
        let terms = ExactTerms { domain: &domain, asset, pay_to, amount };
        let (authorization, signature, _balance) =
            paywall::check_exact(&self.chain, &terms, &request.payment_payload.payload).await?;
        Ok((authorization, signature, asset))
    }

    async fn settle_exact(&self, request: &FacilitatorRequest) -> Result<SettleResponse, Refusal> {
        let (authorization, signature, asset) = self.check_exact(request).await?;
        match paywall::submit_transfer(&self.chain, asset, &authorization, &signature).await {
            Ok(Some(tx)) => {
                Ok(self.settled(Some(tx), Some(authorization.from), Some(authorization.value.to_string())))
            }
            Ok(None) => Err(Refusal::chain("the transfer was not confirmed")),
            Err(e) => Err(Refusal::new(RefusalReason::SettleFailed, e.to_string())),
        }
    }
}

/// An address field of the requirements.
fn requirement_address(s: &str, what: &str) -> Result<Address, Refusal> {
    s.parse::<Address>()
        .map_err(|_| Refusal::new(RefusalReason::InvalidRequirements, format!("{what} is not an address")))
}

/// The token's EIP-712 domain from the requirements' `extra.name` and `extra.version`.
fn token_domain(
    r: &PaymentRequirements,
    chain_id: u64,
    asset: Address,
) -> Result<alloy::sol_types::Eip712Domain, Refusal> {
    let field = |key: &str| {
        r.extra.get(key).and_then(Value::as_str).ok_or_else(|| {
            Refusal::new(
                RefusalReason::InvalidRequirements,
                format!("extra.{key} (the token's EIP-712 {key}) is missing"),
            )
        })
    };
    Ok(typed::token_domain(field("name")?, field("version")?, chain_id, asset))
}

#[cfg(test)]
mod tests;
