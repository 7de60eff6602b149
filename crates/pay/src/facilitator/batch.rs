//! `batch-settlement` for other servers, as the official server drives its facilitator:
//!
//! - `/verify` of a `deposit`: the channel config (it hashes to the voucher's channel id and
//!   names the requirements' receiver, receiver authorizer, token and withdrawal delay), the
//!   voucher's signature, the payer's ERC-3009 authorization to the deposit collector (its
//!   nonce `keccak256(abi.encode(channelId, salt))`, unused, and the payer's balance), and the
//!   voucher against the channel as it will be. Of a `voucher` or `refund`: the config, the
//!   signature and the voucher against the channel on chain. Both answer the channel's state in
//!   `extra`.
//! - `/settle` of a `deposit` (checked again, then `deposit` through the ERC-3009 collector), a
//!   `claim` (each row's voucher and total checked; `claimWithSignature` with the server's
//!   receiver-authorizer signature, checked here, or `claim` sent as the receiver authorizer),
//!   a `settle` (`settle(receiver, token)` for the requirements' own receiver and token), or a
//!   `refund` (its claims first, then `refundWithSignature` or `refund` as the receiver
//!   authorizer, at the channel's current refund nonce).

use super::{Facilitator, Verified, requirement_address, token_domain};
use crate::{
    paywall::{self, ChannelExpect, Refusal, RefusalReason, SETTLE_TIMEOUT, is_revert},
    typed::{
        self, BatchKind, BatchPayload, ClaimEntry, ClaimJson, ClaimPayload, RefundPayload,
        SettleActionPayload,
    },
    wire::{FacilitatorRequest, PaymentRequirements, SettleResponse},
    x402::{self, IBatchSettlement},
};
use alloy::{
    network::Ethereum,
    primitives::{Address, B256, Bytes, Signature, U256},
    providers::PendingTransactionBuilder,
    rpc::types::TransactionReceipt,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The most claim rows one request may carry.
pub(super) const MAX_CLAIMS: usize = 256;

/// A batch-settlement payload of `kind`.
fn parse<T: DeserializeOwned>(payload: &Value, kind: &str) -> Result<T, Refusal> {
    serde_json::from_value(payload.clone()).map_err(|e| {
        Refusal::new(RefusalReason::InvalidPayload, format!("not a batch-settlement {kind} payload: {e}"))
    })
}

/// A deposit checked and ready to send.
struct DepositPlan {
    config: typed::ChannelConfigJson,
    id: B256,
    deposit: paywall::CheckedDeposit,
}

/// Claims checked and ready to send.
#[derive(Debug)]
struct ClaimPlan {
    rows: Vec<IBatchSettlement::VoucherClaim>,
    /// The receiver authorizer's signature, or `None` to claim as the receiver authorizer.
    signature: Option<Bytes>,
    /// The highest total claimed per channel once the claims are in.
    totals: Vec<(B256, u128)>,
}

/// What a sent transaction became.
async fn confirm(
    sent: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
    reason: RefusalReason,
    what: &str,
) -> Result<TransactionReceipt, Refusal> {
    let pending = sent.map_err(|e| {
        if is_revert(&e) {
            Refusal::new(reason, format!("the chain refused the {what}: {e}"))
        } else {
            Refusal::chain(e)
        }
    })?;
    let receipt = tokio::time::timeout(SETTLE_TIMEOUT, pending.get_receipt())
        .await
        .map_err(|_| {
            Refusal::chain(format!("no receipt for the {what} within {}s", SETTLE_TIMEOUT.as_secs()))
        })?
        .map_err(Refusal::chain)?;
    if !receipt.status() {
        return Err(Refusal::new(reason, format!("the {what} reverted in {}", receipt.transaction_hash)));
    }
    Ok(receipt)
}

/// The `withdrawDelay` the requirements ask for, if they name one.
fn asked_withdraw_delay(r: &PaymentRequirements) -> Result<Option<u64>, Refusal> {
    match r.extra.get("withdrawDelay") {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) => n.as_u64().map(Some),
        Some(Value::String(s)) => s.parse().ok().map(Some),
        Some(_) => None,
    }
    .ok_or_else(|| {
        Refusal::new(RefusalReason::InvalidRequirements, "extra.withdrawDelay is not a number of seconds")
    })
}

impl Facilitator {
    /// The requirements' receiver. Channels paying this node itself are its own paywall's, kept
    /// in its ledger: another server may not claim, refund or settle them through here.
    fn receiver(&self, r: &PaymentRequirements) -> Result<Address, Refusal> {
        let receiver = requirement_address(&r.pay_to, "payTo")?;
        if Some(receiver) == self.chain.signer_address() {
            return Err(Refusal::new(
                RefusalReason::ReceiverMismatch,
                "channels paying this node are its own paywall's; they are not settled for other servers",
            ));
        }
        Ok(receiver)
    }

    /// What a channel must name for these requirements: their receiver and token, the receiver
    /// authorizer they advertise (`authorizer` when they name none), and their withdrawal delay.
    fn channel_expect(
        &self,
        r: &PaymentRequirements,
        authorizer: Option<Address>,
    ) -> Result<ChannelExpect, Refusal> {
        let advertised = match r.extra.get("receiverAuthorizer") {
            Some(Value::String(s)) => Some(s.parse::<Address>().map_err(|_| {
                Refusal::new(RefusalReason::InvalidRequirements, "extra.receiverAuthorizer is not an address")
            })?),
            _ => None,
        };
        let receiver_authorizer = advertised.or(authorizer).ok_or_else(|| {
            Refusal::new(
                RefusalReason::ReceiverAuthorizerMismatch,
                "the requirements name no extra.receiverAuthorizer",
            )
        })?;
        Ok(ChannelExpect {
            chain_id: self.chain.chain_id(),
            receiver: self.receiver(r)?,
            receiver_authorizer,
            token: requirement_address(&r.asset, "asset")?,
            min_withdraw_delay: x402::MIN_WITHDRAW_DELAY,
            withdraw_delay: asked_withdraw_delay(r)?,
        })
    }

    /// `/verify` of a `deposit`, `voucher` or `refund` payload.
    pub(super) async fn verify_batch(&self, request: &FacilitatorRequest) -> Result<Verified, Refusal> {
        let payload = &request.payment_payload.payload;
        match payload_type(payload)? {
            "deposit" => {
                let (plan, before) = self.check_deposit_payload(request).await?;
                Ok(Verified { payer: plan.config.payer, extra: Some(before.to_json(plan.id)) })
            }
            kind @ ("voucher" | "refund") => self.check_voucher_payload(request, kind == "refund").await,
            other => Err(Refusal::new(
                RefusalReason::BatchPayloadType,
                format!("a {other:?} payload is not verified (deposit, voucher and refund are)"),
            )),
        }
    }

    /// `/settle` of a `deposit`, `claim`, `settle` or `refund` payload.
    pub(super) async fn settle_batch(&self, request: &FacilitatorRequest) -> Result<SettleResponse, Refusal> {
        let payload = &request.payment_payload.payload;
        match payload_type(payload)? {
            "deposit" => self.settle_deposit(request).await,
            "claim" => {
                let claim: ClaimPayload = parse(payload, "claim")?;
                let plan = self
                    .check_claims(
                        &request.payment_requirements,
                        &claim.claims,
                        claim.claim_authorizer_signature,
                        None,
                    )
                    .await?;
                let tx = self.submit_claims(plan).await?;
                Ok(self.settled(Some(tx), None, None))
            }
            "settle" => self.settle_receiver(request).await,
            "refund" => self.settle_refund(request).await,
            other => Err(Refusal::new(
                RefusalReason::BatchPayloadType,
                format!("a {other:?} payload is not settled (deposit, claim, settle and refund are)"),
            )),
        }
    }

    /// The config and voucher of a `deposit`, `voucher` or `refund` payload.
    fn check_channel_voucher(
        &self,
        r: &PaymentRequirements,
        batch: &BatchPayload,
    ) -> Result<(ChannelExpect, u128), Refusal> {
        let expect = self.channel_expect(r, None)?;
        let id = batch.voucher.channel_id;
        paywall::check_channel_config(&batch.channel_config, id, &expect)?;
        let max = paywall::voucher_amount(&batch.voucher)?;
        let domain = typed::batch_domain(self.chain.chain_id());
        paywall::check_voucher_signature(&domain, &batch.channel_config, id, max, &batch.voucher.signature)?;
        Ok((expect, max))
    }

    async fn check_deposit_payload(
        &self,
        request: &FacilitatorRequest,
    ) -> Result<(DepositPlan, paywall::ChainChannel), Refusal> {
        let r = &request.payment_requirements;
        let batch: BatchPayload = parse(&request.payment_payload.payload, "deposit")?;
        let Some(deposit) = batch.deposit.as_ref().filter(|_| batch.kind == BatchKind::Deposit) else {
            return Err(Refusal::new(RefusalReason::InvalidPayload, "a deposit payload without `deposit`"));
        };
        let (expect, max) = self.check_channel_voucher(r, &batch)?;
        let (config, id) = (batch.channel_config, batch.voucher.channel_id);
        let domain = token_domain(r, self.chain.chain_id(), expect.token)?;
        let deposit =
            paywall::check_deposit(&self.chain, &domain, expect.token, &config, id, deposit).await?;
        let before = paywall::read_channel(&self.chain, id).await?;
        let after = before.balance.saturating_add(deposit.amount);
        if max > after {
            return Err(Refusal::new(
                RefusalReason::CumulativeExceedsBalance,
                format!("the voucher is for {max} but the channel will hold {after}"),
            ));
        }
        if max <= before.total_claimed {
            return Err(Refusal::new(
                RefusalReason::CumulativeBelowClaimed,
                format!("the voucher is for {max}, not above the {} claimed", before.total_claimed),
            ));
        }
        Ok((DepositPlan { config, id, deposit }, before))
    }

    async fn check_voucher_payload(
        &self,
        request: &FacilitatorRequest,
        refund: bool,
    ) -> Result<Verified, Refusal> {
        let batch: BatchPayload = parse(&request.payment_payload.payload, "voucher")?;
        let (_, max) = self.check_channel_voucher(&request.payment_requirements, &batch)?;
        let id = batch.voucher.channel_id;
        let state = paywall::read_channel(&self.chain, id).await?;
        if state.balance == 0 {
            return Err(Refusal::new(RefusalReason::UnknownChannel, format!("channel {id} holds nothing")));
        }
        if max > state.balance {
            return Err(Refusal::new(
                RefusalReason::CumulativeExceedsBalance,
                format!("the voucher is for {max} but the channel holds {}", state.balance),
            ));
        }
        let below = if refund { max < state.total_claimed } else { max <= state.total_claimed };
        if below {
            return Err(Refusal::new(
                RefusalReason::CumulativeBelowClaimed,
                format!("the voucher is for {max}, below what was claimed ({})", state.total_claimed),
            ));
        }
        Ok(Verified { payer: batch.channel_config.payer, extra: Some(state.to_json(id)) })
    }

    async fn settle_deposit(&self, request: &FacilitatorRequest) -> Result<SettleResponse, Refusal> {
        let (plan, _) = self.check_deposit_payload(request).await?;
        let tx = paywall::submit_deposit(&self.chain, &plan.config, plan.id, &plan.deposit).await?;
        let after = paywall::read_channel(&self.chain, plan.id).await?;
        let mut response =
            self.settled(Some(tx), Some(plan.config.payer), Some(plan.deposit.amount.to_string()));
        response.extra = Some(json!({ "channelState": after.to_json(plan.id) }));
        Ok(response)
    }

    /// Checks claim rows before anything is sent: each pays the requirements' receiver in their
    /// token, is within its voucher and the channel's balance, and carries the payer
    /// authorizer's voucher signature; every row shares one receiver authorizer, which signed
    /// the batch (`signature`) or is this node. With `only`, every row must be that channel's.
    async fn check_claims(
        &self,
        r: &PaymentRequirements,
        claims: &[ClaimJson],
        signature: Option<Bytes>,
        only: Option<B256>,
    ) -> Result<ClaimPlan, Refusal> {
        let Some(first) = claims.first() else {
            return Err(Refusal::new(RefusalReason::InvalidPayload, "a claim of no vouchers"));
        };
        if claims.len() > MAX_CLAIMS {
            return Err(Refusal::new(
                RefusalReason::InvalidPayload,
                format!("{} claims in one request; at most {MAX_CLAIMS} are taken", claims.len()),
            ));
        }
        let chain_id = self.chain.chain_id();
        let receiver = self.receiver(r)?;
        let token = requirement_address(&r.asset, "asset")?;
        let authorizer = first.voucher.channel.receiver_authorizer;
        let domain = typed::batch_domain(chain_id);
        let (mut rows, mut entries) = (Vec::new(), Vec::new());
        for claim in claims {
            let config = &claim.voucher.channel;
            let id = config.id(chain_id);
            if only.is_some_and(|only| only != id) {
                return Err(Refusal::new(
                    RefusalReason::InvalidPayload,
                    format!("a claim for another channel ({id})"),
                ));
            }
            if config.receiver != receiver {
                return Err(Refusal::new(
                    RefusalReason::ReceiverMismatch,
                    format!("channel {id} pays {}, not {receiver}", config.receiver),
                ));
            }
            if config.token != token {
                return Err(Refusal::new(
                    RefusalReason::TokenMismatch,
                    format!("channel {id} holds {}, not {token}", config.token),
                ));
            }
            if config.receiver_authorizer != authorizer {
                return Err(Refusal::new(
                    RefusalReason::AuthorizerMismatch,
                    "every claim must share the first one's receiver authorizer",
                ));
            }
            let (max, total) = (claim.voucher.max_claimable_amount.0, claim.total_claimed.0);
            if total > max {
                return Err(Refusal::new(
                    RefusalReason::ClaimExceedsVoucher,
                    format!("a claim of {total} on channel {id} under a voucher for {max}"),
                ));
            }
            paywall::check_voucher_signature(&domain, config, id, max, &claim.signature)?;
            entries.push(ClaimEntry { channelId: id, maxClaimableAmount: max, totalClaimed: total });
            rows.push(IBatchSettlement::VoucherClaim {
                voucher: IBatchSettlement::Voucher {
                    channel: config.to_sol().into(),
                    maxClaimableAmount: max,
                },
                signature: claim.signature.clone(),
                totalClaimed: total,
            });
        }
        match &signature {
            Some(signature) => {
                let digest = typed::claim_batch_digest(&domain, entries.clone());
                check_authorizer_signature(&digest, signature, authorizer, "claims")?;
            }
            None => {
                let signer = self.signer()?;
                if authorizer != signer {
                    return Err(Refusal::new(
                        RefusalReason::AuthorizerMismatch,
                        format!(
                            "the channels' receiver authorizer is {authorizer}, not this node ({signer}): \
                             send its claimAuthorizerSignature"
                        ),
                    ));
                }
            }
        }
        // Then the chain: no claim above what its channel holds.
        let mut totals = Vec::<(B256, u128)>::new();
        for entry in &entries {
            let (id, total) = (entry.channelId, entry.totalClaimed);
            let state = paywall::read_channel(&self.chain, id).await?;
            if total > state.balance {
                return Err(Refusal::new(
                    RefusalReason::CumulativeExceedsBalance,
                    format!("a claim of {total} on channel {id}, which holds {}", state.balance),
                ));
            }
            match totals.iter_mut().find(|(c, _)| *c == id) {
                Some((_, t)) => *t = (*t).max(total),
                None => totals.push((id, total.max(state.total_claimed))),
            }
        }
        Ok(ClaimPlan { rows, signature, totals })
    }

    async fn submit_claims(&self, plan: ClaimPlan) -> Result<B256, Refusal> {
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, self.chain.provider());
        let sent = match plan.signature {
            Some(signature) => contract.claimWithSignature(plan.rows, signature).send().await,
            None => contract.claim(plan.rows).send().await,
        };
        let receipt = confirm(sent, RefusalReason::ClaimFailed, "claim").await?;
        tracing::info!(target: "agora::pay", tx = %receipt.transaction_hash, "facilitator claim settled");
        Ok(receipt.transaction_hash)
    }

    /// `settle(receiver, token)`, for the requirements' own receiver and token only.
    async fn settle_receiver(&self, request: &FacilitatorRequest) -> Result<SettleResponse, Refusal> {
        let r = &request.payment_requirements;
        let p: SettleActionPayload = parse(&request.payment_payload.payload, "settle")?;
        let (receiver, token) = (self.receiver(r)?, requirement_address(&r.asset, "asset")?);
        if p.receiver != receiver {
            return Err(Refusal::new(
                RefusalReason::ReceiverMismatch,
                format!("the settlement pays {}, not these requirements' {receiver}", p.receiver),
            ));
        }
        if p.token != token {
            return Err(Refusal::new(
                RefusalReason::TokenMismatch,
                format!("the settlement is in {}, not these requirements' {token}", p.token),
            ));
        }
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, self.chain.provider());
        let account = contract.receivers(receiver, token).call().await.map_err(Refusal::chain)?;
        if account.totalClaimed <= account.totalSettled {
            return Err(Refusal::new(RefusalReason::NothingToSettle, "nothing claimed waits to be settled"));
        }
        let receipt =
            confirm(contract.settle(receiver, token).send().await, RefusalReason::SettleTxFailed, "settle")
                .await?;
        let amount = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == x402::BATCH_SETTLEMENT)
            .filter_map(|log| log.log_decode::<IBatchSettlement::Settled>().ok())
            .find(|log| log.inner.data.receiver == receiver && log.inner.data.token == token)
            .map_or(0, |log| log.inner.data.amount);
        Ok(self.settled(Some(receipt.transaction_hash), None, Some(amount.to_string())))
    }

    /// A cooperative refund: the payload's claims first, then `amount` of what stays unclaimed
    /// back to the payer.
    async fn settle_refund(&self, request: &FacilitatorRequest) -> Result<SettleResponse, Refusal> {
        let r = &request.payment_requirements;
        let p: RefundPayload = parse(&request.payment_payload.payload, "refund")?;
        let (config, id) = (p.channel_config, p.voucher.channel_id);
        // The manager's own requirements name no receiver authorizer: the channel's is checked
        // by the signatures below.
        let expect = self.channel_expect(r, Some(config.receiver_authorizer))?;
        paywall::check_channel_config(&config, id, &expect)?;
        let max = paywall::voucher_amount(&p.voucher)?;
        let domain = typed::batch_domain(self.chain.chain_id());
        paywall::check_voucher_signature(&domain, &config, id, max, &p.voucher.signature)?;
        let amount = p.amount.0;
        if amount == 0 {
            return Err(Refusal::new(RefusalReason::InvalidPayload, "a refund of nothing"));
        }
        let nonce = U256::from(p.refund_nonce.0);
        let before = paywall::read_channel(&self.chain, id).await?;
        if before.refund_nonce != nonce {
            return Err(Refusal::new(
                RefusalReason::RefundNonce,
                format!("the refund is at nonce {nonce}; the channel is at {}", before.refund_nonce),
            ));
        }
        let claims = if p.claims.is_empty() {
            None
        } else {
            Some(self.check_claims(r, &p.claims, p.claim_authorizer_signature.clone(), Some(id)).await?)
        };
        let claimed = claims
            .as_ref()
            .and_then(|plan| plan.totals.iter().find(|(c, _)| *c == id).map(|(_, t)| *t))
            .unwrap_or(0)
            .max(before.total_claimed);
        if claimed > before.balance {
            return Err(Refusal::new(
                RefusalReason::CumulativeExceedsBalance,
                format!("the claims total {claimed}, more than the channel's {}", before.balance),
            ));
        }
        if amount.min(before.balance - claimed) == 0 {
            return Err(Refusal::new(
                RefusalReason::RefundNoBalance,
                "the channel keeps nothing unclaimed to refund",
            ));
        }
        match &p.refund_authorizer_signature {
            Some(signature) => {
                let digest = typed::refund_digest(&domain, id, nonce, amount);
                check_authorizer_signature(&digest, signature, config.receiver_authorizer, "refund")?;
            }
            None => {
                let signer = self.signer()?;
                if config.receiver_authorizer != signer {
                    return Err(Refusal::new(
                        RefusalReason::AuthorizerMismatch,
                        format!(
                            "the channel's receiver authorizer is {}, not this node ({signer}): send its \
                             refundAuthorizerSignature",
                            config.receiver_authorizer
                        ),
                    ));
                }
            }
        }
        // Everything is checked: the claims go first, so the refund cannot take what was charged.
        if let Some(plan) = claims {
            self.submit_claims(plan).await?;
        }
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, self.chain.provider());
        let sent = match p.refund_authorizer_signature {
            Some(signature) => {
                contract.refundWithSignature(config.to_sol().into(), amount, nonce, signature).send().await
            }
            None => contract.refund(config.to_sol().into(), amount).send().await,
        };
        let receipt = confirm(sent, RefusalReason::RefundFailed, "refund").await?;
        let after = paywall::read_channel(&self.chain, id).await?;
        let refunded = before.balance.saturating_sub(after.balance);
        tracing::info!(target: "agora::pay", channel = %id, refunded, "facilitator refund settled");
        let mut response =
            self.settled(Some(receipt.transaction_hash), Some(config.payer), Some(refunded.to_string()));
        response.extra = Some(json!({ "channelState": after.to_json(id) }));
        Ok(response)
    }
}

/// The payload's `type`.
fn payload_type(payload: &Value) -> Result<&str, Refusal> {
    payload.get("type").and_then(Value::as_str).ok_or_else(|| {
        Refusal::new(RefusalReason::BatchPayloadType, "a batch-settlement payload names its `type`")
    })
}

/// A receiver authorizer's signature over `digest` must be `authorizer`'s (ECDSA, low-s).
fn check_authorizer_signature(
    digest: &B256,
    signature: &Bytes,
    authorizer: Address,
    what: &str,
) -> Result<(), Refusal> {
    let signed = Signature::try_from(signature.as_ref()).ok().and_then(|s| typed::recover(digest, &s));
    if signed != Some(authorizer) {
        return Err(Refusal::new(
            RefusalReason::AuthorizerSignature,
            format!("the {what} signature is not the receiver authorizer {authorizer}'s"),
        ));
    }
    Ok(())
}
