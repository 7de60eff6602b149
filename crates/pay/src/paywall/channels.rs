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
use agora_chain::ChainClient;
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
        check_channel_config(&config, id, &self.channel_expect(operator))?;
        let max = voucher_amount(&batch.voucher)?;
        check_voucher_signature(&self.inner.batch_domain, &config, id, max, &batch.voucher.signature)?;

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

    /// What this server asks of a channel: it pays `pay_to` in this route's token, with the
    /// node key as receiver authorizer and a withdrawal delay at least ours.
    fn channel_expect(&self, operator: Address) -> ChannelExpect {
        let c = &self.inner.config;
        ChannelExpect {
            chain_id: c.chain_id,
            receiver: c.pay_to,
            receiver_authorizer: operator,
            token: c.asset,
            min_withdraw_delay: c.min_withdraw_delay,
            withdraw_delay: None,
        }
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
        let on_chain = read_channel(&self.inner.chain, id).await?;
        Ok(ChannelState::new(id, on_chain.terms(config), on_chain.total_claimed))
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
        Ok(read_channel(&self.inner.chain, id).await?.terms(config))
    }

    /// Submits a deposit the payer signed (the server pays the gas), once it is checked here.
    async fn deposit(
        &self,
        config: &ChannelConfigJson,
        id: B256,
        deposit: &DepositJson,
    ) -> Result<(), Refusal> {
        let chain = &self.inner.chain;
        let checked =
            check_deposit(chain, &self.inner.token_domain, self.inner.config.asset, config, id, deposit)
                .await?;
        submit_deposit(chain, config, id, &checked).await?;
        Ok(())
    }
}

/// What a channel must name to be paid through: the receiver, its authorizer, the token, and a
/// withdrawal delay (at least `min_withdraw_delay`, exactly `withdraw_delay` when given, and
/// always within what the contract takes).
#[derive(Debug, Clone, Copy)]
pub struct ChannelExpect {
    /// The chain the channel id is computed on.
    pub chain_id: u64,
    /// Who the channel pays.
    pub receiver: Address,
    /// Who claims for the receiver.
    pub receiver_authorizer: Address,
    /// The token.
    pub token: Address,
    /// The shortest withdrawal delay taken.
    pub min_withdraw_delay: u64,
    /// The withdrawal delay asked for, if one was.
    pub withdraw_delay: Option<u64>,
}

/// A channel's config must hash to the voucher's id on this chain and name what `expect` asks.
/// The paywall and the facilitator both call it.
pub fn check_channel_config(
    config: &ChannelConfigJson,
    id: B256,
    expect: &ChannelExpect,
) -> Result<(), Refusal> {
    if config.id(expect.chain_id) != id {
        return Err(Refusal::new(
            RefusalReason::ChannelIdMismatch,
            "the channel config does not hash to the voucher's channelId on this chain",
        ));
    }
    if config.receiver != expect.receiver {
        return Err(Refusal::new(
            RefusalReason::ReceiverMismatch,
            format!("the channel pays {}, not {}", config.receiver, expect.receiver),
        ));
    }
    if config.receiver_authorizer != expect.receiver_authorizer || config.receiver_authorizer == Address::ZERO
    {
        return Err(Refusal::new(
            RefusalReason::ReceiverAuthorizerMismatch,
            format!(
                "the channel's receiver authorizer is {}, not {}",
                config.receiver_authorizer, expect.receiver_authorizer
            ),
        ));
    }
    if config.token != expect.token {
        return Err(Refusal::new(
            RefusalReason::TokenMismatch,
            format!("the channel holds {}, not {}", config.token, expect.token),
        ));
    }
    if config.withdraw_delay < x402::MIN_WITHDRAW_DELAY || config.withdraw_delay > x402::MAX_WITHDRAW_DELAY {
        return Err(Refusal::new(
            RefusalReason::WithdrawDelayOutOfRange,
            format!(
                "the channel's withdrawal delay is {}s; the contract takes {}s to {}s",
                config.withdraw_delay,
                x402::MIN_WITHDRAW_DELAY,
                x402::MAX_WITHDRAW_DELAY
            ),
        ));
    }
    if config.withdraw_delay < expect.min_withdraw_delay
        || expect.withdraw_delay.is_some_and(|d| d != config.withdraw_delay)
    {
        return Err(Refusal::new(
            RefusalReason::WithdrawDelayMismatch,
            format!(
                "the channel's withdrawal delay is {}s; {} is asked for",
                config.withdraw_delay,
                match expect.withdraw_delay {
                    Some(d) => format!("{d}s"),
                    None => format!("at least {}s", expect.min_withdraw_delay),
                }
            ),
        ));
    }
    Ok(())
}

/// A voucher's cumulative amount.
pub fn voucher_amount(voucher: &typed::VoucherJson) -> Result<u128, Refusal> {
    typed::parse_amount(&voucher.max_claimable_amount).ok_or_else(|| {
        Refusal::new(RefusalReason::InvalidPayload, "maxClaimableAmount is not a decimal uint128")
    })
}

/// A voucher for `max` on channel `id` must be signed by the channel's payer authorizer (the
/// payer when that is zero), with a low-s ECDSA signature as the contract takes.
pub fn check_voucher_signature(
    domain: &alloy::sol_types::Eip712Domain,
    config: &ChannelConfigJson,
    id: B256,
    max: u128,
    signature: &alloy::primitives::Bytes,
) -> Result<(), Refusal> {
    let signature = Signature::try_from(signature.as_ref()).map_err(|_| {
        Refusal::new(RefusalReason::VoucherSignature, "the voucher signature is not 65 bytes")
    })?;
    let expected = config.voucher_signer();
    if typed::voucher_signer(domain, id, max, &signature) != Some(expected) {
        return Err(Refusal::new(
            RefusalReason::VoucherSignature,
            format!("the voucher is not signed by the channel's payer authorizer {expected}"),
        ));
    }
    Ok(())
}

/// A deposit checked locally and against the chain, ready to submit.
#[derive(Debug, Clone)]
pub struct CheckedDeposit {
    /// Atomic units.
    pub amount: u128,
    /// The payer's `ReceiveWithAuthorization` to the ERC-3009 deposit collector.
    pub authorization: Authorization,
    /// Its signature.
    pub signature: alloy::primitives::Bytes,
    /// The salt its nonce was made with.
    pub salt: B256,
}

/// Checks a deposit into channel `id` (whose config is checked already): an ERC-3009
/// `ReceiveWithAuthorization` of the payer to the ERC-3009 deposit collector under
/// `token_domain`, with nonce `keccak256(abi.encode(channelId, salt))`, valid now and for a few
/// seconds more, its nonce unused and the payer holding the amount. The paywall and the
/// facilitator both call it.
pub async fn check_deposit(
    chain: &ChainClient,
    token_domain: &alloy::sol_types::Eip712Domain,
    asset: Address,
    config: &ChannelConfigJson,
    id: B256,
    deposit: &DepositJson,
) -> Result<CheckedDeposit, Refusal> {
    let refuse = |message: String| Refusal::new(RefusalReason::DepositFailed, message);
    let Some(erc3009) = &deposit.authorization.erc3009_authorization else {
        return Err(refuse(
            "deposits are taken by ERC-3009 authorization only (assetTransferMethod eip3009)".into(),
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
        return Err(refuse("the deposit authorization is not valid now (or expires within seconds)".into()));
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
    if typed::recover(&authorization.receive_digest(token_domain), &signature) != Some(authorization.from) {
        return Err(refuse(format!(
            "the deposit is not signed by the payer {} (wrong key, chain, token or amount)",
            authorization.from
        )));
    }
    let (used, balance) = authorization_state(chain, asset, &authorization).await?;
    if used {
        return Err(refuse("this deposit was already made (its nonce is used)".into()));
    }
    if balance < authorization.value {
        return Err(Refusal::new(
            RefusalReason::InsufficientFunds,
            format!("the payer holds {balance}, less than the deposit of {amount}"),
        ));
    }
    Ok(CheckedDeposit { amount, authorization, signature: erc3009.signature.clone(), salt: erc3009.salt })
}

/// Submits a checked deposit into channel `id` through the ERC-3009 deposit collector (`chain`'s
/// signer pays the gas) and waits for it.
pub async fn submit_deposit(
    chain: &ChainClient,
    config: &ChannelConfigJson,
    id: B256,
    deposit: &CheckedDeposit,
) -> Result<B256, Refusal> {
    let refuse = |message: String| Refusal::new(RefusalReason::DepositFailed, message);
    let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, chain.provider());
    let a = &deposit.authorization;
    let data = x402::erc3009_collector_data(
        U256::from(a.valid_after),
        U256::from(a.valid_before),
        deposit.salt,
        &deposit.signature,
    );
    let pending = contract
        .deposit(config.to_sol().into(), deposit.amount, x402::ERC3009_DEPOSIT_COLLECTOR, data)
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
    tracing::info!(target: "agora::pay", channel = %id, amount = deposit.amount, "channel deposit settled");
    Ok(receipt.transaction_hash)
}

/// A channel as the batch settlement contract holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainChannel {
    /// Its balance (including what was claimed).
    pub balance: u128,
    /// What was claimed from it.
    pub total_claimed: u128,
    /// When its payer asked to withdraw (unix seconds), 0 if not.
    pub withdraw_requested_at: u64,
    /// The nonce its next refund signature must carry.
    pub refund_nonce: U256,
}

impl ChainChannel {
    /// The channel's terms: its config, this balance, and when a requested withdrawal can
    /// complete (0 if none).
    pub fn terms(&self, config: &ChannelConfigJson) -> ChannelTerms {
        let closing_at = match self.withdraw_requested_at {
            0 => 0,
            at => at + config.withdraw_delay,
        };
        ChannelTerms::new(config, self.balance, closing_at)
    }

    /// The official `channelState` form: amounts as decimal strings, `withdrawRequestedAt` a
    /// number.
    pub fn to_json(&self, id: B256) -> Value {
        json!({
            "channelId": id,
            "balance": self.balance.to_string(),
            "totalClaimed": self.total_claimed.to_string(),
            "withdrawRequestedAt": self.withdraw_requested_at,
            "refundNonce": self.refund_nonce.to_string(),
        })
    }
}

/// Reads channel `id` from the batch settlement contract.
pub async fn read_channel(chain: &ChainClient, id: B256) -> Result<ChainChannel, Refusal> {
    let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, chain.provider());
    let channel = contract.channels(id);
    let pending = contract.pendingWithdrawals(id);
    let nonce = contract.refundNonce(id);
    let (channel, pending, refund_nonce) =
        tokio::try_join!(channel.call(), pending.call(), nonce.call()).map_err(Refusal::chain)?;
    Ok(ChainChannel {
        balance: channel.balance,
        total_claimed: channel.totalClaimed,
        withdraw_requested_at: pending.initiatedAt.to::<u64>(),
        refund_nonce,
    })
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
            error_message: None,
            payer: Some(self.payer.to_checksum(None)),
            transaction: String::new(),
            network: self.paywall.network(),
            amount: Some(String::new()),
            extra: Some(extra),
        })
    }
}
