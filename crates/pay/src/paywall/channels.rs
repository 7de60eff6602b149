//! The `channel` scheme: cumulative vouchers on a payment channel, deposits the payer signed.

use super::{
    ChannelPayment, MIN_SETTLE_WINDOW_SECS, Paywall, Refusal, RefusalReason,
    exact::{authorization_state, is_revert},
    now_secs,
};
use crate::{
    ledger::{ChannelState, ChannelTerms},
    typed::{self, Authorization, ChannelPayload},
    wire::{self, PaymentPayload, ResourceInfo, SettleResponse},
};
use agora_contracts::bindings::PaymentChannels;
use alloy::{
    primitives::{Address, B256, Signature, U256},
    sol_types::Eip712Domain,
};
use serde_json::{Value, json};

impl Paywall {
    pub(super) async fn verify_channel(
        &self,
        payload: &PaymentPayload,
        ceiling: u128,
    ) -> Result<ChannelPayment, Refusal> {
        let (Some(ledger), Some(domain)) = (&self.inner.ledger, &self.inner.channels_domain) else {
            return Err(Refusal::new(RefusalReason::UnsupportedScheme, "channels are not offered here"));
        };
        let c = &self.inner.config;
        let voucher: ChannelPayload = serde_json::from_value(payload.payload.clone()).map_err(|e| {
            Refusal::new(RefusalReason::InvalidPayload, format!("not a channel voucher payload: {e}"))
        })?;
        let max = typed::parse_amount(&voucher.max_claimable_amount).ok_or_else(|| {
            Refusal::new(RefusalReason::InvalidPayload, "maxClaimableAmount is not a decimal uint128")
        })?;
        let signature = Signature::try_from(voucher.signature.as_ref()).map_err(|_| {
            Refusal::new(RefusalReason::VoucherSignature, "the voucher signature is not 65 bytes")
        })?;
        let id = voucher.channel_id;
        let deposited_now = match &voucher.deposit {
            Some(deposit) => self.deposit(id, deposit, domain).await?,
            None => false,
        };

        let mut guard = ledger.slot(id).lock_owned().await;
        if guard.is_none() || deposited_now {
            *guard = Some(self.load_channel(ledger, id, deposited_now).await?);
        }
        let Some(state) = guard.as_mut() else { unreachable!("loaded above") };

        if state.terms.token != c.asset || state.terms.withdraw_delay < c.min_withdraw_delay {
            return Err(Refusal::new(
                RefusalReason::UnknownChannel,
                format!(
                    "the channel holds another token or its withdrawal delay is under {}s",
                    c.min_withdraw_delay
                ),
            ));
        }
        let expected_signer =
            if state.terms.authorizer == Address::ZERO { state.terms.payer } else { state.terms.authorizer };
        if typed::voucher_signer(domain, id, max, &signature) != Some(expected_signer) {
            return Err(Refusal::new(
                RefusalReason::VoucherSignature,
                format!("the voucher is not signed by the channel's authorizer {expected_signer}"),
            ));
        }
        let required = state.charged.saturating_add(ceiling).max(state.voucher_max.saturating_add(1));
        if max < required {
            return Err(self.corrective(
                state,
                ceiling,
                RefusalReason::CumulativeMismatch,
                format!(
                    "the voucher is for {max} but this call needs at least {required} (charged so far {}); \
                     resync from channelState",
                    state.charged
                ),
            ));
        }
        if max > state.terms.deposited || state.terms.closing_at != 0 {
            // The payer may have topped up, or cancelled the withdrawal, since we last looked.
            state.terms = self.channel_terms(id).await?;
        }
        if state.terms.closing_at != 0 {
            return Err(self.corrective(
                state,
                ceiling,
                RefusalReason::ChannelClosing,
                "the payer has started a withdrawal from this channel; deposit to reopen it",
            ));
        }
        if max > state.terms.deposited {
            return Err(self.corrective(
                state,
                ceiling,
                RefusalReason::InsufficientFunds,
                format!(
                    "the voucher is for {max} but the channel holds {}; top it up",
                    state.terms.deposited
                ),
            ));
        }
        let charged_before = state.charged;
        let payer = state.terms.payer;
        Ok(ChannelPayment {
            channel_id: id,
            voucher_max: max,
            charged_before,
            ceiling,
            payer,
            signature: voucher.signature,
            guard,
            paywall: self.clone(),
        })
    }

    /// Channel `id` as the ledger stored it, else as the chain knows it; its terms re-read from
    /// the chain after a deposit.
    async fn load_channel(
        &self,
        ledger: &crate::ledger::Ledger,
        id: B256,
        deposited_now: bool,
    ) -> Result<ChannelState, Refusal> {
        Ok(match ledger.load(id).map_err(Refusal::chain)? {
            Some(mut state) if deposited_now => {
                state.terms = self.channel_terms(id).await?;
                state
            }
            Some(state) => state,
            None => {
                let terms = self.channel_terms(id).await?;
                let claimed = self.channel_claimed(id).await?;
                ChannelState::new(id, terms, claimed)
            }
        })
    }

    /// A 402 that carries the server's view of the channel, so a client that lost state can
    /// resync: what was charged, and the last voucher it signed.
    fn corrective(
        &self,
        state: &ChannelState,
        ceiling: u128,
        code: RefusalReason,
        message: impl Into<String>,
    ) -> Refusal {
        let mut required = self.required(&ResourceInfo::default(), ceiling);
        for r in &mut required.accepts {
            if r.scheme == wire::SCHEME_CHANNEL
                && let Some(extra) = r.extra.as_object_mut()
            {
                extra.insert("channelState".into(), channel_state_json(state));
            }
        }
        let mut refusal = Refusal::new(code, message);
        refusal.required = Some(Box::new(required));
        refusal
    }

    async fn channel_terms(&self, id: B256) -> Result<ChannelTerms, Refusal> {
        let Some(contract) = self.inner.config.channels else {
            return Err(Refusal::new(RefusalReason::UnsupportedScheme, "channels are not offered here"));
        };
        let channels = PaymentChannels::new(contract, self.inner.chain.provider());
        let got = channels.getChannel(id).call().await.map_err(Refusal::chain)?;
        if got.payer == Address::ZERO {
            return Err(Refusal::new(
                RefusalReason::UnknownChannel,
                format!("channel {id} was never opened"),
            ));
        }
        if got.receiver != self.inner.config.pay_to {
            return Err(Refusal::new(
                RefusalReason::UnknownChannel,
                format!("channel {id} pays {}, not this server", got.receiver),
            ));
        }
        Ok(ChannelTerms {
            payer: got.payer,
            authorizer: got.payerAuthorizer,
            token: got.token,
            withdraw_delay: got.withdrawDelay.to::<u64>(),
            deposited: got.deposited,
            closing_at: got.withdrawReadyAt.to::<u64>(),
        })
    }

    async fn channel_claimed(&self, id: B256) -> Result<u128, Refusal> {
        let Some(contract) = self.inner.config.channels else { return Ok(0) };
        let channels = PaymentChannels::new(contract, self.inner.chain.provider());
        Ok(channels.getChannel(id).call().await.map_err(Refusal::chain)?.claimed)
    }

    /// Submits a deposit the payer signed (the provider pays the gas). `Ok(true)` once it is on
    /// chain.
    async fn deposit(
        &self,
        id: B256,
        deposit: &typed::DepositJson,
        domain: &Eip712Domain,
    ) -> Result<bool, Refusal> {
        let c = &self.inner.config;
        let config = &deposit.config;
        if config.id(domain) != id {
            return Err(Refusal::new(
                RefusalReason::InvalidPayload,
                "the deposit's config does not hash to channelId",
            ));
        }
        if config.receiver != c.pay_to || config.token != c.asset {
            return Err(Refusal::new(
                RefusalReason::UnknownChannel,
                "the channel pays another receiver or token",
            ));
        }
        if config.withdrawDelay.to::<u64>() < c.min_withdraw_delay {
            return Err(Refusal::new(
                RefusalReason::UnknownChannel,
                format!("the channel's withdrawal delay must be at least {}s", c.min_withdraw_delay),
            ));
        }
        let parse = |s: &str, what: &str| {
            typed::parse_amount(s).ok_or_else(|| {
                Refusal::new(RefusalReason::InvalidPayload, format!("deposit {what} is not a number"))
            })
        };
        let amount = parse(&deposit.amount, "amount")?;
        let valid_after = parse(&deposit.valid_after, "validAfter")?;
        let valid_before = parse(&deposit.valid_before, "validBefore")?;
        let Some(contract) = c.channels else { return Ok(false) };
        // Nothing goes on chain that was not verified here first: a deposit that would revert
        // costs the node gas and a transaction slot.
        self.check_deposit(contract, id, deposit, amount, valid_after, valid_before).await?;
        let channels = PaymentChannels::new(contract, self.inner.chain.provider());
        let call = channels.depositWithAuthorization(
            PaymentChannels::ChannelConfig {
                payer: config.payer,
                payerAuthorizer: config.payerAuthorizer,
                receiver: config.receiver,
                token: config.token,
                withdrawDelay: config.withdrawDelay,
                salt: config.salt,
            },
            amount,
            U256::from(valid_after),
            U256::from(valid_before),
            deposit.nonce_salt,
            deposit.signature.clone(),
        );
        let pending = call.send().await.map_err(|e| {
            if is_revert(&e) {
                Refusal::new(RefusalReason::DepositFailed, format!("the chain refused the deposit: {e}"))
            } else {
                Refusal::chain(e)
            }
        })?;
        let receipt = pending.get_receipt().await.map_err(Refusal::chain)?;
        if !receipt.status() {
            return Err(Refusal::new(RefusalReason::DepositFailed, "the deposit transaction reverted"));
        }
        tracing::info!(target: "agora::pay", channel = %id, amount, "channel deposit settled");
        Ok(true)
    }

    /// The checks the chain would make of a deposit, made locally: a non-zero amount, the
    /// authorization's time window, the payer's signature over the `ReceiveWithAuthorization`,
    /// an unused nonce and the payer's balance.
    async fn check_deposit(
        &self,
        contract: Address,
        id: B256,
        deposit: &typed::DepositJson,
        amount: u128,
        valid_after: u128,
        valid_before: u128,
    ) -> Result<(), Refusal> {
        let refuse = |message: String| Refusal::new(RefusalReason::DepositFailed, message);
        if amount == 0 {
            return Err(refuse("the deposit is for nothing".into()));
        }
        let now = u128::from(now_secs());
        if now <= valid_after || valid_before < now + u128::from(MIN_SETTLE_WINDOW_SECS) {
            return Err(refuse(
                "the deposit authorization is not valid now (or expires within seconds)".into(),
            ));
        }
        let signature = Signature::try_from(deposit.signature.as_ref())
            .map_err(|_| refuse("the deposit signature is not 65 bytes".into()))?;
        let authorization = Authorization {
            from: deposit.config.payer,
            to: contract,
            value: U256::from(amount),
            valid_after: u64::try_from(valid_after).unwrap_or(u64::MAX),
            valid_before: u64::try_from(valid_before).unwrap_or(u64::MAX),
            nonce: typed::deposit_nonce(id, deposit.nonce_salt),
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
        Ok(())
    }
}

/// The JSON of a channel's state as corrective 402s and payment responses carry it.
pub fn channel_state_json(state: &ChannelState) -> Value {
    json!({
        "channelId": state.id,
        "charged": state.charged.to_string(),
        "claimed": state.claimed.to_string(),
        "deposited": state.terms.deposited.to_string(),
        "voucher": {
            "maxClaimableAmount": state.voucher_max.to_string(),
            "signature": state.voucher_sig,
        },
    })
}

impl ChannelPayment {
    pub(super) async fn charge(mut self, actual: u128) -> Result<SettleResponse, Refusal> {
        let actual = actual.min(self.ceiling);
        let Some(ledger) = self.paywall.ledger().cloned() else {
            return Err(Refusal::new(RefusalReason::UnsupportedScheme, "channels are not offered here"));
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
        let extra = channel_state_json(&next);
        *state = next;
        Ok(SettleResponse {
            success: true,
            error_reason: None,
            payer: Some(self.payer.to_checksum(None)),
            transaction: String::new(),
            network: self.paywall.network(),
            amount: Some(actual.to_string()),
            extra: Some(extra),
        })
    }
}
