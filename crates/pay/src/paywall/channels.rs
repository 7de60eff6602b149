//! The x402 `batch-settlement` scheme: a deposit once into a channel of the official batch
//! settlement contract, then one cumulative voucher per call; claims go on chain in batches.
//!
//! A voucher must be exactly what was charged so far plus this call's ceiling (as the official
//! server demands); anything else is answered with a corrective 402 whose `channelState` and
//! `voucherState` let the official client resync.

use super::{
    ChannelPayment, MIN_SETTLE_WINDOW_SECS, Paywall, Refusal, RefusalReason,
    exact::{authorization_state, is_revert},
    now_secs,
};
use crate::{
    ledger::{ChannelState, ChannelTerms},
    typed::{self, Authorization, BatchKind, BatchPayload, ChannelConfigJson, DepositJson},
    wire::{self, PaymentPayload, ResourceInfo, SettleResponse},
    x402::{self, IBatchSettlement},
};
use alloy::primitives::{Address, B256, Signature, U256};
use serde_json::{Value, json};

impl Paywall {
    pub(super) async fn verify_channel(
        &self,
        payload: &PaymentPayload,
        ceiling: u128,
    ) -> Result<ChannelPayment, Refusal> {
        let (Some(ledger), Some(operator)) = (&self.inner.ledger, self.inner.operator) else {
            return Err(Refusal::new(
                RefusalReason::UnsupportedScheme,
                "batch-settlement is not offered here",
            ));
        };
        let batch: BatchPayload = serde_json::from_value(payload.payload.clone()).map_err(|e| {
            Refusal::new(RefusalReason::InvalidPayload, format!("not a batch-settlement payload: {e}"))
        })?;
        if batch.kind == BatchKind::Refund {
            return Err(Refusal::new(
                RefusalReason::InvalidPayload,
                "a refund is asked for on the channel's own route, not with a paid call",
            ));
        }
        let config = batch.channel_config;
        let id = batch.voucher.channel_id;
        self.check_config(&config, id, operator)?;
        let max = typed::parse_amount(&batch.voucher.max_claimable_amount).ok_or_else(|| {
            Refusal::new(RefusalReason::InvalidPayload, "maxClaimableAmount is not a decimal uint128")
        })?;
        let signature = Signature::try_from(batch.voucher.signature.as_ref()).map_err(|_| {
            Refusal::new(RefusalReason::VoucherSignature, "the voucher signature is not 65 bytes")
        })?;
        let expected_signer = config.voucher_signer();
        if typed::voucher_signer(&self.inner.batch_domain, id, max, &signature) != Some(expected_signer) {
            return Err(Refusal::new(
                RefusalReason::VoucherSignature,
                format!("the voucher is not signed by the channel's payer authorizer {expected_signer}"),
            ));
        }

        let mut guard = ledger.slot(id).lock_owned().await;
        if guard.is_none() {
            *guard = Some(match ledger.load(id).map_err(Refusal::chain)? {
                Some(state) => state,
                None => self.channel_from_chain(&config, id).await?,
            });
        }
        let Some(state) = guard.as_mut() else { unreachable!("loaded above") };
        // The voucher's base is checked before a deposit goes on chain: a stale voucher must not
        // cost the payer a deposit the call then refuses.
        self.check_voucher_base(state, max, ceiling)?;
        match (&batch.deposit, batch.kind) {
            (Some(deposit), _) => {
                self.deposit(&config, id, deposit).await?;
                state.terms = self.channel_terms(&config, id).await?;
            }
            (None, BatchKind::Deposit) => {
                return Err(Refusal::new(
                    RefusalReason::InvalidPayload,
                    "a deposit payload without `deposit`",
                ));
            }
            (None, _) => {}
        }
        if max > state.terms.deposited || state.terms.closing_at != 0 {
            // The payer may have topped up, or cancelled the withdrawal, since we last looked.
            state.terms = self.channel_terms(&config, id).await?;
        }
        if state.terms.deposited == 0 {
            return Err(Refusal::new(
                RefusalReason::UnknownChannel,
                format!("channel {id} was never funded"),
            ));
        }
        if state.terms.closing_at != 0 {
            return Err(self.corrective(
                state,
                ceiling,
                RefusalReason::ChannelClosing,
                "the payer has started a withdrawal from this channel; it takes no more vouchers",
            ));
        }
        if max > state.terms.deposited {
            return Err(self.corrective(
                state,
                ceiling,
                RefusalReason::CumulativeExceedsBalance,
                format!(
                    "the voucher is for {max} but the channel holds {}; top it up",
                    state.terms.deposited
                ),
            ));
        }
        Ok(ChannelPayment {
            channel_id: id,
            voucher_max: max,
            charged_before: state.charged,
            ceiling,
            payer: state.terms.payer,
            signature: batch.voucher.signature,
            guard,
            paywall: self.clone(),
        })
    }

    /// The channel's config must hash to the voucher's id and name this server as receiver and
    /// receiver authorizer, this route's token and a withdrawal delay at least ours.
    fn check_config(&self, config: &ChannelConfigJson, id: B256, operator: Address) -> Result<(), Refusal> {
        let c = &self.inner.config;
        if config.id(c.chain_id) != id {
            return Err(Refusal::new(
                RefusalReason::ChannelIdMismatch,
                "the channel config does not hash to the voucher's channelId on this chain",
            ));
        }
        if config.receiver != c.pay_to {
            return Err(Refusal::new(
                RefusalReason::ReceiverMismatch,
                format!("the channel pays {}, not this server ({})", config.receiver, c.pay_to),
            ));
        }
        if config.receiver_authorizer != operator {
            return Err(Refusal::new(
                RefusalReason::ReceiverAuthorizerMismatch,
                format!(
                    "the channel's receiver authorizer is {}, not {operator}",
                    config.receiver_authorizer
                ),
            ));
        }
        if config.token != c.asset {
            return Err(Refusal::new(
                RefusalReason::TokenMismatch,
                format!("the channel holds {}, not {}", config.token, c.asset),
            ));
        }
        if config.withdraw_delay < c.min_withdraw_delay || config.withdraw_delay > x402::MAX_WITHDRAW_DELAY {
            return Err(Refusal::new(
                RefusalReason::WithdrawDelayMismatch,
                format!(
                    "the channel's withdrawal delay is {}s; this server takes {}s to {}s",
                    config.withdraw_delay,
                    c.min_withdraw_delay,
                    x402::MAX_WITHDRAW_DELAY
                ),
            ));
        }
        Ok(())
    }

    /// A voucher must be what was charged so far plus this call's ceiling.
    fn check_voucher_base(&self, state: &ChannelState, max: u128, ceiling: u128) -> Result<(), Refusal> {
        let expected = state.charged.saturating_add(ceiling);
        if max != expected {
            return Err(self.corrective(
                state,
                ceiling,
                RefusalReason::CumulativeMismatch,
                format!(
                    "the voucher is for {max} but this call needs exactly {expected} (charged so far {}); \
                     resync from channelState",
                    state.charged
                ),
            ));
        }
        Ok(())
    }

    /// A channel first seen: its terms from the chain, charged as far as was claimed.
    async fn channel_from_chain(
        &self,
        config: &ChannelConfigJson,
        id: B256,
    ) -> Result<ChannelState, Refusal> {
        let terms = self.channel_terms(config, id).await?;
        let claimed = self.channel_claimed(id).await?;
        Ok(ChannelState::new(id, terms, claimed))
    }

    /// A 402 that carries the server's view of the channel, so a client that lost state can
    /// resync: what was charged, and the last voucher it signed (as the official server does).
    fn corrective(
        &self,
        state: &ChannelState,
        ceiling: u128,
        code: RefusalReason,
        message: impl Into<String>,
    ) -> Refusal {
        let mut required = self.required(&ResourceInfo::default(), ceiling);
        for r in &mut required.accepts {
            if r.scheme == wire::SCHEME_BATCH
                && let Some(extra) = r.extra.as_object_mut()
            {
                extra.insert("channelState".into(), channel_state_json(state));
                if !state.voucher_sig.is_empty() {
                    extra.insert(
                        "voucherState".into(),
                        json!({
                            "signedMaxClaimable": state.voucher_max.to_string(),
                            "signature": state.voucher_sig,
                        }),
                    );
                }
            }
        }
        let mut refusal = Refusal::new(code, message);
        refusal.required = Some(Box::new(required));
        refusal
    }

    /// What the chain says of channel `id`: its balance and any pending withdrawal.
    async fn channel_terms(&self, config: &ChannelConfigJson, id: B256) -> Result<ChannelTerms, Refusal> {
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, self.inner.chain.provider());
        let channel = contract.channels(id).call().await.map_err(Refusal::chain)?;
        let pending = contract.pendingWithdrawals(id).call().await.map_err(Refusal::chain)?;
        let initiated = pending.initiatedAt.to::<u64>();
        let closing_at = if initiated == 0 { 0 } else { initiated + config.withdraw_delay };
        Ok(ChannelTerms::new(config, channel.balance, closing_at))
    }

    async fn channel_claimed(&self, id: B256) -> Result<u128, Refusal> {
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, self.inner.chain.provider());
        Ok(contract.channels(id).call().await.map_err(Refusal::chain)?.totalClaimed)
    }

    /// Submits a deposit the payer signed (the server pays the gas), once it is checked here.
    async fn deposit(
        &self,
        config: &ChannelConfigJson,
        id: B256,
        deposit: &DepositJson,
    ) -> Result<(), Refusal> {
        let refuse = |message: String| Refusal::new(RefusalReason::DepositFailed, message);
        let Some(erc3009) = &deposit.authorization.erc3009_authorization else {
            return Err(refuse(
                "this server takes deposits by ERC-3009 authorization (assetTransferMethod eip3009)".into(),
            ));
        };
        let parse = |s: &str, what: &str| {
            typed::parse_amount(s).ok_or_else(|| {
                Refusal::new(RefusalReason::InvalidPayload, format!("deposit {what} is not a decimal number"))
            })
        };
        let amount = parse(&deposit.amount, "amount")?;
        let valid_after = parse(&erc3009.valid_after, "validAfter")?;
        let valid_before = parse(&erc3009.valid_before, "validBefore")?;
        if amount == 0 {
            return Err(refuse("the deposit is for nothing".into()));
        }
        let now = u128::from(now_secs());
        if now <= valid_after || valid_before < now + u128::from(MIN_SETTLE_WINDOW_SECS) {
            return Err(refuse(
                "the deposit authorization is not valid now (or expires within seconds)".into(),
            ));
        }
        let signature = Signature::try_from(erc3009.signature.as_ref())
            .map_err(|_| refuse("the deposit signature is not 65 bytes".into()))?;
        let authorization = Authorization {
            from: config.payer,
            to: x402::ERC3009_DEPOSIT_COLLECTOR,
            value: U256::from(amount),
            valid_after: u64::try_from(valid_after).unwrap_or(u64::MAX),
            valid_before: u64::try_from(valid_before).unwrap_or(u64::MAX),
            nonce: typed::deposit_nonce(id, erc3009.salt),
        };
        if typed::recover(&authorization.receive_digest(&self.inner.token_domain), &signature)
            != Some(authorization.from)
        {
            return Err(refuse(format!(
                "the deposit is not signed by the payer {} (wrong key, chain, token or amount)",
                authorization.from
            )));
        }
        let (used, balance) =
            authorization_state(&self.inner.chain, self.inner.config.asset, &authorization).await?;
        if used {
            return Err(refuse("this deposit was already made (its nonce is used)".into()));
        }
        if balance < authorization.value {
            return Err(Refusal::new(
                RefusalReason::InsufficientFunds,
                format!("the payer holds {balance}, less than the deposit of {amount}"),
            ));
        }
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, self.inner.chain.provider());
        let data = x402::erc3009_collector_data(
            U256::from(valid_after),
            U256::from(valid_before),
            erc3009.salt,
            &erc3009.signature,
        );
        let pending = contract
            .deposit(config.to_sol().into(), amount, x402::ERC3009_DEPOSIT_COLLECTOR, data)
            .send()
            .await
            .map_err(|e| {
                if is_revert(&e) {
                    refuse(format!("the chain refused the deposit: {e}"))
                } else {
                    Refusal::chain(e)
                }
            })?;
        let receipt = pending.get_receipt().await.map_err(Refusal::chain)?;
        if !receipt.status() {
            return Err(refuse("the deposit transaction reverted".into()));
        }
        tracing::info!(target: "agora::pay", channel = %id, amount, "channel deposit settled");
        Ok(())
    }
}

/// The channel state as corrective 402s and payment responses carry it (the official fields,
/// amounts as decimal strings).
pub fn channel_state_json(state: &ChannelState) -> Value {
    json!({
        "channelId": state.id,
        "balance": state.terms.deposited.to_string(),
        "totalClaimed": state.claimed.to_string(),
        "withdrawRequestedAt": if state.terms.closing_at == 0 {
            0
        } else {
            state.terms.closing_at.saturating_sub(state.terms.withdraw_delay)
        },
        "refundNonce": "0",
        "chargedCumulativeAmount": state.charged.to_string(),
    })
}

impl ChannelPayment {
    pub(super) async fn charge(mut self, actual: u128) -> Result<SettleResponse, Refusal> {
        // At least one unit: a voucher must always move the charge, so it cannot pay twice.
        let actual = actual.clamp(1, self.ceiling.max(1));
        let Some(ledger) = self.paywall.ledger().cloned() else {
            return Err(Refusal::new(
                RefusalReason::UnsupportedScheme,
                "batch-settlement is not offered here",
            ));
        };
        let Some(state) = self.guard.as_mut() else { unreachable!("verified channels are loaded") };
        let mut next = state.clone();
        next.voucher_max = self.voucher_max;
        next.voucher_sig = self.signature.clone();
        next.charged = self.charged_before.saturating_add(actual);
        next.calls += 1;
        ledger
            .commit(next.clone())
            .await
            .map_err(|e| Refusal::new(RefusalReason::LedgerUnavailable, e.to_string()))?;
        let extra = json!({
            "chargedAmount": actual.to_string(),
            "channelState": channel_state_json(&next),
        });
        *state = next;
        Ok(SettleResponse {
            success: true,
            error_reason: None,
            payer: Some(self.payer.to_checksum(None)),
            transaction: String::new(),
            network: self.paywall.network(),
            amount: Some(String::new()),
            extra: Some(extra),
        })
    }
}
