//! The payer's `upto` permits: a Permit2 witness transfer of the call's ceiling, bound to the
//! payee and its facilitator; the payee moves only what the call cost.

use super::{Payer, chain_of, extra_str, now_secs};
use crate::{
    error::PayError,
    paywall::{Permit2AuthorizationJson, PermittedJson, UptoPayload, WitnessJson},
    typed,
    wire::PaymentRequirements,
    x402::{self, IErc20Reads, upto_typed},
};
use alloy::{
    primitives::{Address, U256},
    signers::SignerSync,
};
use serde_json::Value;

impl Payer {
    /// Signs an `upto` permit for the ceiling `r` asks; returns the payload and its nonce.
    pub(super) fn sign_upto(&self, r: &PaymentRequirements) -> Result<(Value, U256), PayError> {
        let chain_id = chain_of(&r.network).unwrap_or_default();
        let asset: Address =
            r.asset.parse().map_err(|_| PayError::Unpayable("asset is not an address".into()))?;
        let to: Address =
            r.pay_to.parse().map_err(|_| PayError::Unpayable("payTo is not an address".into()))?;
        let facilitator: Address = extra_str(r, "facilitatorAddress")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| PayError::Unpayable("the upto offer names no extra.facilitatorAddress".into()))?;
        let amount = U256::from(typed::parse_amount(&r.amount).unwrap_or_default());
        // Permit2's unordered nonces: any unused 256-bit number.
        let nonce = U256::from_be_bytes(rand::random::<[u8; 32]>());
        let deadline = U256::from(now_secs() + r.max_timeout_seconds.max(60));
        let witness = upto_typed::Witness { to, facilitator, validAfter: U256::ZERO };
        let digest = x402::upto_digest(chain_id, asset, amount, nonce, deadline, &witness);
        let signature = self.key.sign_hash_sync(&digest)?;
        let payload = UptoPayload {
            signature: signature.as_bytes().into(),
            permit2_authorization: Permit2AuthorizationJson {
                from: self.key.address(),
                permitted: PermittedJson { token: asset, amount: amount.to_string() },
                spender: x402::UPTO_PERMIT2_PROXY,
                nonce: nonce.to_string(),
                deadline: deadline.to_string(),
                witness: WitnessJson { to, facilitator, valid_after: "0".into() },
            },
        };
        Ok((serde_json::to_value(payload).unwrap_or_default(), nonce))
    }

    /// Lets Permit2 move this payer's `token` (once per token; `upto` payments need it). Sent
    /// through `chain`, whose signer must be this payer. Returns whether a transaction was sent.
    pub async fn approve_permit2(
        &self,
        chain: &agora_chain::ChainClient,
        token: Address,
    ) -> Result<bool, PayError> {
        let erc20 = IErc20Reads::new(token, chain.provider());
        let allowance = erc20
            .allowance(self.key.address(), x402::PERMIT2)
            .call()
            .await
            .map_err(|e| PayError::Contract { what: "allowance not read", source: Box::new(e) })?;
        if allowance >= U256::from(u128::MAX) {
            return Ok(false);
        }
        let receipt = erc20
            .approve(x402::PERMIT2, U256::MAX)
            .send()
            .await
            .map_err(|e| PayError::Contract { what: "approval not sent", source: Box::new(e) })?
            .get_receipt()
            .await
            .map_err(|source| PayError::Receipt { what: "approval receipt", source })?;
        if !receipt.status() {
            return Err(PayError::Reverted { what: "approval", tx: receipt.transaction_hash });
        }
        Ok(true)
    }
}
