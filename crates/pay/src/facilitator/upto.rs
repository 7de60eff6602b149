//! `upto` for other servers: `/verify` checks the permit for the requirements' ceiling, exactly
//! as the paywall does ([`paywall::check_upto`]); `/settle` moves the charge the server names in
//! `paymentRequirements.amount`, at most what the permit allows, through the official proxy
//! with this node as the witness's facilitator.

use super::{Facilitator, Verified, requirement_address};
use crate::{
    paywall::{self, Refusal, RefusalReason, UptoTerms},
    wire::{FacilitatorRequest, SettleResponse},
};
use alloy::primitives::U256;

/// A decimal amount of the requirements (up to 256 bits).
fn requirement_amount(s: &str) -> Result<U256, Refusal> {
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::new(RefusalReason::InvalidRequirements, "amount is not a decimal number"));
    }
    U256::from_str_radix(s, 10)
        .map_err(|_| Refusal::new(RefusalReason::InvalidRequirements, "amount does not fit 256 bits"))
}

impl Facilitator {
    /// The terms a permit must match for these requirements, with `ceiling` as its amount.
    fn upto_terms(&self, request: &FacilitatorRequest, ceiling: U256) -> Result<UptoTerms, Refusal> {
        let r = &request.payment_requirements;
        Ok(UptoTerms {
            chain_id: self.chain.chain_id(),
            asset: requirement_address(&r.asset, "asset")?,
            pay_to: requirement_address(&r.pay_to, "payTo")?,
            facilitator: self.signer()?,
            ceiling,
        })
    }

    /// `/verify`: the permit is for exactly the requirements' amount (the ceiling).
    pub(super) async fn verify_upto(&self, request: &FacilitatorRequest) -> Result<Verified, Refusal> {
        let upto = paywall::parse_upto(&request.payment_payload.payload)?;
        let ceiling = requirement_amount(&request.payment_requirements.amount)?;
        let terms = self.upto_terms(request, ceiling)?;
        let permit = paywall::check_upto(&self.chain, &terms, &upto).await?;
        Ok(Verified { payer: permit.owner, extra: None })
    }

    /// `/settle`: the requirements' amount is the charge; the permit is checked at its own
    /// ceiling, then the charge moves (nothing for a charge of 0).
    pub(super) async fn settle_upto(&self, request: &FacilitatorRequest) -> Result<SettleResponse, Refusal> {
        let upto = paywall::parse_upto(&request.payment_payload.payload)?;
        let charge = requirement_amount(&request.payment_requirements.amount)?;
        let ceiling = paywall::permitted_amount(&upto)?;
        if charge > ceiling {
            return Err(Refusal::new(
                RefusalReason::UptoSettlementExceedsAmount,
                format!("the charge {charge} is more than the permit's {ceiling}"),
            ));
        }
        let terms = self.upto_terms(request, ceiling)?;
        let permit = paywall::check_upto(&self.chain, &terms, &upto).await?;
        let key = (permit.owner, permit.nonce);
        if !self.upto_in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(key) {
            return Err(Refusal::new(RefusalReason::Permit2Nonce, "this permit is being settled already"));
        }
        let result = paywall::submit_upto(&self.chain, &permit, charge).await;
        self.upto_in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        let tx = result?;
        Ok(self.settled(tx, Some(permit.owner), Some(charge.to_string())))
    }
}
