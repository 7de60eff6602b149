//! The x402 `upto` scheme: the payer signs a Permit2 witness transfer of the call's ceiling to
//! the official `upto` proxy, bound to this server as recipient and facilitator; once the call
//! is served, the proxy moves the actual cost (at most the ceiling) and the response goes out.

use super::{MIN_SETTLE_WINDOW_SECS, Paywall, Refusal, RefusalReason, SETTLE_TIMEOUT, now_secs};
use crate::{
    typed,
    wire::{PaymentPayload, SettleResponse},
    x402::{self, IErc20Reads, IPermit2Nonces, IUptoPermit2Proxy, upto_typed},
};
use agora_chain::ChainClient;
use alloy::primitives::{Address, B256, Bytes, Signature, U256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// What an `upto` permit must match: this chain, token, recipient and facilitator, and a
/// ceiling of exactly `ceiling`.
#[derive(Debug, Clone, Copy)]
pub struct UptoTerms {
    /// The chain (Permit2's domain).
    pub chain_id: u64,
    /// The token.
    pub asset: Address,
    /// Who must be paid (the witness's `to`).
    pub pay_to: Address,
    /// Who must settle (the witness's `facilitator`): the key that sends the settlement.
    pub facilitator: Address,
    /// The amount the permit must allow, exactly.
    pub ceiling: U256,
}

/// A permit checked against its [`UptoTerms`] and the chain, ready to settle.
#[derive(Debug, Clone)]
pub struct CheckedPermit {
    /// Who pays.
    pub owner: Address,
    /// The token.
    pub token: Address,
    /// The most it may move.
    pub ceiling: U256,
    /// Permit2's nonce.
    pub nonce: U256,
    /// Valid until.
    pub deadline: U256,
    /// Recipient, facilitator, start.
    pub witness: upto_typed::Witness,
    /// The owner's signature.
    pub signature: Bytes,
}

/// A verified `upto` permit, held while the call is served.
#[derive(Debug)]
pub struct UptoPayment {
    permit: CheckedPermit,
    pub(super) paywall: Paywall,
}

fn decimal(s: &str, what: &str) -> Result<U256, Refusal> {
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::new(RefusalReason::InvalidPayload, format!("{what} is not a decimal number")));
    }
    U256::from_str_radix(s, 10)
        .map_err(|_| Refusal::new(RefusalReason::InvalidPayload, format!("{what} does not fit 256 bits")))
}

/// Reads an `upto` payload (`{signature, permit2Authorization}`).
pub fn parse_upto(payload: &Value) -> Result<UptoPayload, Refusal> {
    serde_json::from_value(payload.clone())
        .map_err(|e| Refusal::new(RefusalReason::InvalidPayload, format!("not an upto Permit2 payload: {e}")))
}

/// The ceiling an `upto` payload's permit allows.
pub fn permitted_amount(upto: &UptoPayload) -> Result<U256, Refusal> {
    decimal(&upto.permit2_authorization.permitted.amount, "permitted.amount")
}

/// Verifies an `upto` permit against `terms` without settling it: token, spender and ceiling,
/// recipient, facilitator, window, the owner's signature, then on chain an unused nonce,
/// Permit2's allowance and the owner's balance. The paywall and the facilitator both call it.
pub async fn check_upto(
    chain: &ChainClient,
    terms: &UptoTerms,
    upto: &UptoPayload,
) -> Result<CheckedPermit, Refusal> {
    let p = &upto.permit2_authorization;
    let amount = permitted_amount(upto)?;
    let nonce = decimal(&p.nonce, "nonce")?;
    let deadline = decimal(&p.deadline, "deadline")?;
    let valid_after = decimal(&p.witness.valid_after, "witness.validAfter")?;
    if p.permitted.token != terms.asset || p.spender != x402::UPTO_PERMIT2_PROXY || amount != terms.ceiling {
        return Err(Refusal::new(
            RefusalReason::Permit2Amount,
            format!(
                "the permit must let the upto proxy {} move {} of {}",
                x402::UPTO_PERMIT2_PROXY,
                terms.ceiling,
                terms.asset
            ),
        ));
    }
    if p.witness.to != terms.pay_to {
        return Err(Refusal::new(
            RefusalReason::Permit2Destination,
            format!("the permit pays {}, not {}", p.witness.to, terms.pay_to),
        ));
    }
    if p.witness.facilitator != terms.facilitator {
        return Err(Refusal::new(
            RefusalReason::Permit2Facilitator,
            format!("the permit names the facilitator {}, not {}", p.witness.facilitator, terms.facilitator),
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
    let witness =
        upto_typed::Witness { to: p.witness.to, facilitator: p.witness.facilitator, validAfter: valid_after };
    let signature = Signature::try_from(upto.signature.as_ref())
        .map_err(|_| Refusal::new(RefusalReason::Permit2Signature, "the signature is not 65 bytes"))?;
    let digest = x402::upto_digest(terms.chain_id, terms.asset, amount, nonce, deadline, &witness);
    if typed::recover(&digest, &signature) != Some(p.from) {
        return Err(Refusal::new(
            RefusalReason::Permit2Signature,
            "the permit is not signed by its owner (wrong key, chain, token, amount or witness)",
        ));
    }
    check_upto_chain(chain, terms.asset, p.from, nonce, amount).await?;
    Ok(CheckedPermit {
        owner: p.from,
        token: terms.asset,
        ceiling: amount,
        nonce,
        deadline,
        witness,
        signature: upto.signature.clone(),
    })
}

/// The chain's side of a permit: its nonce unused, Permit2 allowed to move the ceiling, and the
/// owner holding it.
async fn check_upto_chain(
    chain: &ChainClient,
    asset: Address,
    owner: Address,
    nonce: U256,
    amount: U256,
) -> Result<(), Refusal> {
    let provider = chain.provider();
    let bitmap = IPermit2Nonces::new(x402::PERMIT2, provider)
        .nonceBitmap(owner, nonce >> 8)
        .call()
        .await
        .map_err(Refusal::chain)?;
    if bitmap.bit((nonce & U256::from(0xff)).to::<usize>()) {
        return Err(Refusal::new(RefusalReason::Permit2Nonce, "the permit's nonce was used"));
    }
    let token = IErc20Reads::new(asset, provider);
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

/// Moves `amount` (at most the permit's ceiling) of a checked permit through the `upto` proxy,
/// sent by `chain`'s signer (the witness's facilitator), and waits for it. Nothing is sent for
/// nothing: `Ok(None)`.
pub async fn submit_upto(
    chain: &ChainClient,
    permit: &CheckedPermit,
    amount: U256,
) -> Result<Option<B256>, Refusal> {
    if amount.is_zero() {
        return Ok(None);
    }
    if amount > permit.ceiling {
        return Err(Refusal::new(
            RefusalReason::UptoSettlementExceedsAmount,
            format!("{amount} is more than the permit's {}", permit.ceiling),
        ));
    }
    let proxy = IUptoPermit2Proxy::new(x402::UPTO_PERMIT2_PROXY, chain.provider());
    let call = proxy.settle(
        IUptoPermit2Proxy::PermitTransferFrom {
            permitted: IUptoPermit2Proxy::TokenPermissions { token: permit.token, amount: permit.ceiling },
            nonce: permit.nonce,
            deadline: permit.deadline,
        },
        amount,
        permit.owner,
        IUptoPermit2Proxy::Witness {
            to: permit.witness.to,
            facilitator: permit.witness.facilitator,
            validAfter: permit.witness.validAfter,
        },
        permit.signature.clone(),
    );
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

impl Paywall {
    /// Verifies an `upto` permit for a call costing at most `ceiling` ([`check_upto`] with this
    /// server as recipient and facilitator). The permit is reserved in memory while the call is
    /// served.
    pub(super) async fn verify_upto(
        &self,
        payload: &PaymentPayload,
        ceiling: u128,
    ) -> Result<UptoPayment, Refusal> {
        let Some(operator) = self.inner.operator else {
            return Err(Refusal::new(RefusalReason::UnsupportedScheme, "upto is not offered here"));
        };
        let c = &self.inner.config;
        let upto = parse_upto(&payload.payload)?;
        let terms = UptoTerms {
            chain_id: c.chain_id,
            asset: c.asset,
            pay_to: c.pay_to,
            facilitator: operator,
            ceiling: U256::from(ceiling),
        };
        let permit = check_upto(&self.inner.chain, &terms, &upto).await?;
        let key = (permit.owner, permit.nonce);
        if !self.inner.upto_in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(key) {
            return Err(Refusal::new(
                RefusalReason::Permit2Nonce,
                "this permit is already paying for a call",
            ));
        }
        Ok(UptoPayment { permit, paywall: self.clone() })
    }
}

impl UptoPayment {
    /// Who pays.
    pub fn owner(&self) -> Address {
        self.permit.owner
    }

    /// The Permit2 nonce, as the payment's reference.
    pub fn reference(&self) -> B256 {
        B256::from(self.permit.nonce)
    }

    /// The call was not served: the permit is free again.
    pub(super) fn release(&self) {
        self.paywall
            .inner
            .upto_in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(self.permit.owner, self.permit.nonce));
    }

    /// Moves the actual cost (at most the ceiling) through the proxy, then answers. Nothing
    /// moves for a call that cost nothing.
    pub(super) async fn settle(self, actual: u128) -> Result<SettleResponse, Refusal> {
        let amount = U256::from(actual).min(self.permit.ceiling);
        let result = submit_upto(self.paywall.chain(), &self.permit, amount).await;
        self.release();
        let tx = result?;
        Ok(SettleResponse {
            success: true,
            error_reason: None,
            error_message: None,
            payer: Some(self.permit.owner.to_checksum(None)),
            transaction: tx.map(|t| t.to_string()).unwrap_or_default(),
            network: self.paywall.network(),
            amount: Some(amount.to_string()),
            extra: None,
        })
    }
}
