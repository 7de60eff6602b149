//! The x402 `upto` scheme: the payer signs a Permit2 witness transfer of the call's ceiling to
//! the official `upto` proxy, bound to this server as recipient and facilitator; once the call
//! is served, the proxy moves the actual cost (at most the ceiling) and the response goes out.

use super::{MIN_SETTLE_WINDOW_SECS, Paywall, Refusal, RefusalReason, SETTLE_TIMEOUT, now_secs};
use crate::{
    typed,
    wire::{PaymentPayload, SettleResponse},
    x402::{self, IErc20Reads, IPermit2Nonces, IUptoPermit2Proxy, upto_typed},
};
use alloy::primitives::{Address, B256, Bytes, Signature, U256};
use serde::{Deserialize, Serialize};

/// What Permit2 lets the proxy move, as the payload carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermittedJson {
    /// The token.
    pub token: Address,
    /// The ceiling (decimal).
    pub amount: String,
}

/// The witness the permit is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WitnessJson {
    /// Who is paid.
    pub to: Address,
    /// Who may settle.
    pub facilitator: Address,
    /// Not before (decimal unix seconds).
    pub valid_after: String,
}

/// The permit as the payload carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit2AuthorizationJson {
    /// The owner of the tokens.
    pub from: Address,
    /// The token and ceiling.
    pub permitted: PermittedJson,
    /// The `upto` proxy.
    pub spender: Address,
    /// Permit2's unordered nonce (decimal).
    pub nonce: String,
    /// Valid until (decimal unix seconds).
    pub deadline: String,
    /// Recipient, facilitator, start.
    pub witness: WitnessJson,
}

/// The `upto` payload: `{signature, permit2Authorization}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UptoPayload {
    /// The owner's signature over the `PermitWitnessTransferFrom`.
    pub signature: Bytes,
    /// What was signed.
    pub permit2_authorization: Permit2AuthorizationJson,
}

/// A verified `upto` permit, held while the call is served.
#[derive(Debug)]
pub struct UptoPayment {
    owner: Address,
    token: Address,
    ceiling: U256,
    nonce: U256,
    deadline: U256,
    witness: upto_typed::Witness,
    signature: Bytes,
    pub(super) paywall: Paywall,
}

fn decimal(s: &str, what: &str) -> Result<U256, Refusal> {
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::new(RefusalReason::InvalidPayload, format!("{what} is not a decimal number")));
    }
    U256::from_str_radix(s, 10)
        .map_err(|_| Refusal::new(RefusalReason::InvalidPayload, format!("{what} does not fit 256 bits")))
}

impl Paywall {
    /// Verifies an `upto` permit for a call costing at most `ceiling`: terms, window, the
    /// owner's signature, an unused nonce, Permit2's allowance and the owner's balance. The
    /// permit is reserved in memory while the call is served.
    pub(super) async fn verify_upto(
        &self,
        payload: &PaymentPayload,
        ceiling: u128,
    ) -> Result<UptoPayment, Refusal> {
        let Some(operator) = self.inner.operator else {
            return Err(Refusal::new(RefusalReason::UnsupportedScheme, "upto is not offered here"));
        };
        let c = &self.inner.config;
        let upto: UptoPayload = serde_json::from_value(payload.payload.clone()).map_err(|e| {
            Refusal::new(RefusalReason::InvalidPayload, format!("not an upto Permit2 payload: {e}"))
        })?;
        let p = &upto.permit2_authorization;
        let amount = decimal(&p.permitted.amount, "permitted.amount")?;
        let nonce = decimal(&p.nonce, "nonce")?;
        let deadline = decimal(&p.deadline, "deadline")?;
        let valid_after = decimal(&p.witness.valid_after, "witness.validAfter")?;
        if p.permitted.token != c.asset
            || p.spender != x402::UPTO_PERMIT2_PROXY
            || amount != U256::from(ceiling)
        {
            return Err(Refusal::new(
                RefusalReason::Permit2Amount,
                format!(
                    "the permit must let the upto proxy {} move {ceiling} of {}",
                    x402::UPTO_PERMIT2_PROXY,
                    c.asset
                ),
            ));
        }
        if p.witness.to != c.pay_to {
            return Err(Refusal::new(
                RefusalReason::Permit2Destination,
                format!("the permit pays {}, not {}", p.witness.to, c.pay_to),
            ));
        }
        if p.witness.facilitator != operator {
            return Err(Refusal::new(
                RefusalReason::Permit2Facilitator,
                format!("the permit names the facilitator {}, not {operator}", p.witness.facilitator),
            ));
        }
        let now = U256::from(now_secs());
        if valid_after > now {
            return Err(Refusal::new(RefusalReason::Permit2TooEarly, "the permit is not valid yet"));
        }
        if deadline < now + U256::from(MIN_SETTLE_WINDOW_SECS) {
            return Err(Refusal::new(
                RefusalReason::ValidBefore,
                format!("the permit expires within {MIN_SETTLE_WINDOW_SECS}s (or has expired)"),
            ));
        }
        let witness = upto_typed::Witness {
            to: p.witness.to,
            facilitator: p.witness.facilitator,
            validAfter: valid_after,
        };
        let signature = Signature::try_from(upto.signature.as_ref())
            .map_err(|_| Refusal::new(RefusalReason::Permit2Signature, "the signature is not 65 bytes"))?;
        let digest = x402::upto_digest(c.chain_id, c.asset, amount, nonce, deadline, &witness);
        if typed::recover(&digest, &signature) != Some(p.from) {
            return Err(Refusal::new(
                RefusalReason::Permit2Signature,
                "the permit is not signed by its owner (wrong key, chain, token, amount or witness)",
            ));
        }
        self.check_upto_chain(p.from, nonce, amount).await?;
        let key = (p.from, nonce);
        if !self.inner.upto_in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(key) {
            return Err(Refusal::new(
                RefusalReason::Permit2Nonce,
                "this permit is already paying for a call",
            ));
        }
        Ok(UptoPayment {
            owner: p.from,
            token: c.asset,
            ceiling: amount,
            nonce,
            deadline,
            witness,
            signature: upto.signature,
            paywall: self.clone(),
        })
    }

    /// The chain's side of a permit: its nonce unused, Permit2 allowed to move the ceiling, and
    /// the owner holding it.
    async fn check_upto_chain(&self, owner: Address, nonce: U256, amount: U256) -> Result<(), Refusal> {
        let provider = self.inner.chain.provider();
        let bitmap = IPermit2Nonces::new(x402::PERMIT2, provider)
            .nonceBitmap(owner, nonce >> 8)
            .call()
            .await
            .map_err(Refusal::chain)?;
        if bitmap.bit((nonce & U256::from(0xff)).to::<usize>()) {
            return Err(Refusal::new(RefusalReason::Permit2Nonce, "the permit's nonce was used"));
        }
        let token = IErc20Reads::new(self.inner.config.asset, provider);
        let allowance = token.allowance(owner, x402::PERMIT2).call().await.map_err(Refusal::chain)?;
        if allowance < amount {
            return Err(Refusal::new(
                RefusalReason::Permit2Allowance,
                format!(
                    "the payer has approved Permit2 for {allowance}, less than {amount}: approve Permit2 first"
                ),
            ));
        }
        let balance = token.balanceOf(owner).call().await.map_err(Refusal::chain)?;
        if balance < amount {
            return Err(Refusal::new(
                RefusalReason::InsufficientFunds,
                format!("the payer holds {balance}, less than the ceiling of {amount}"),
            ));
        }
        Ok(())
    }
}

impl UptoPayment {
    /// Who pays.
    pub fn owner(&self) -> Address {
        self.owner
    }

    /// The Permit2 nonce, as the payment's reference.
    pub fn reference(&self) -> B256 {
        B256::from(self.nonce)
    }

    /// The call was not served: the permit is free again.
    pub(super) fn release(&self) {
        self.paywall
            .inner
            .upto_in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(self.owner, self.nonce));
    }

    /// Moves the actual cost (at most the ceiling) through the proxy, then answers. Nothing
    /// moves for a call that cost nothing.
    pub(super) async fn settle(self, actual: u128) -> Result<SettleResponse, Refusal> {
        let amount = U256::from(actual).min(self.ceiling);
        let result = self.submit(amount).await;
        self.release();
        let tx = result?;
        Ok(SettleResponse {
            success: true,
            error_reason: None,
            payer: Some(self.owner.to_checksum(None)),
            transaction: tx.map(|t| t.to_string()).unwrap_or_default(),
            network: self.paywall.network(),
            amount: Some(amount.to_string()),
            extra: None,
        })
    }

    async fn submit(&self, amount: U256) -> Result<Option<B256>, Refusal> {
        if amount.is_zero() {
            return Ok(None);
        }
        let proxy = IUptoPermit2Proxy::new(x402::UPTO_PERMIT2_PROXY, self.paywall.chain().provider());
        let permit = IUptoPermit2Proxy::PermitTransferFrom {
            permitted: IUptoPermit2Proxy::TokenPermissions { token: self.token, amount: self.ceiling },
            nonce: self.nonce,
            deadline: self.deadline,
        };
        let witness = IUptoPermit2Proxy::Witness {
            to: self.witness.to,
            facilitator: self.witness.facilitator,
            validAfter: self.witness.validAfter,
        };
        let call = proxy.settle(permit, amount, self.owner, witness, self.signature.clone());
        let send = async {
            let pending = call.send().await.map_err(|e| {
                if super::exact::is_revert(&e) {
                    Refusal::new(
                        RefusalReason::SettleFailed,
                        format!("the chain refused the upto settlement: {e}"),
                    )
                } else {
                    Refusal::chain(e)
                }
            })?;
            let receipt = pending.get_receipt().await.map_err(Refusal::chain)?;
            if !receipt.status() {
                return Err(Refusal::new(RefusalReason::SettleFailed, "the upto settlement reverted"));
            }
            Ok(Some(receipt.transaction_hash))
        };
        tokio::time::timeout(SETTLE_TIMEOUT, send)
            .await
            .map_err(|_| Refusal::chain(format!("no receipt within {}s", SETTLE_TIMEOUT.as_secs())))?
    }
}
