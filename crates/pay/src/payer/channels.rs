//! The payer's x402 `batch-settlement` channels: opening and topping up, vouchers, resyncs
//! from a corrective 402, and the books of what each channel holds.

use super::{Mandate, Payer, PayerChannel, chain_of, extra_str, now_secs, token_names};
use crate::{
    error::PayError,
    typed::{
        self, Authorization, BatchKind, BatchPayload, ChannelConfigJson, DepositAuthorizationJson,
        DepositJson, Erc3009DepositJson, VoucherJson,
    },
    wire::{self, PaymentRequired, PaymentRequirements},
    x402::{self, IBatchSettlement},
};
use agora_store::rusqlite::{self, OptionalExtension, params};
use alloy::{
    primitives::{Address, B256, U256},
    signers::SignerSync,
};
use serde_json::Value;

impl Payer {
    /// Opens a channel to the payee of `offer` (a `channel` requirement) with `amount`, or tops
    /// up the one already open, submitting the signed deposit through `chain` (whose signer
    /// pays the gas). Checked against the mandate like any payment.
    pub async fn open_channel(
        &self,
        chain: &agora_chain::ChainClient,
        offer: &PaymentRequirements,
        amount: u128,
    ) -> Result<PayerChannel, PayError> {
        let _serial = self.serial.lock().await;
        let mandate = self.mandate()?;
        let payee: Address =
            offer.pay_to.parse().map_err(|_| PayError::Unpayable("payTo is not an address".into()))?;
        self.check_mandate(&mandate, payee, 0, amount)?;
        let terms = Self::channel_terms(offer)?;
        let chain_id = terms.chain_id;
        if chain.chain_id() != chain_id {
            return Err(PayError::Unpayable(format!(
                "the offer is on chain {chain_id} but the RPC endpoint serves chain {}",
                chain.chain_id()
            )));
        }
        let mut channel = match self.find_channel(offer)? {
            Some(c) => c,
            None => self.new_channel(&terms),
        };
        let signed = self.sign_deposit(offer, &channel, amount, 3600)?;
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, chain.provider());
        let data = x402::erc3009_collector_data(
            U256::ZERO,
            U256::from(signed.valid_before),
            signed.salt,
            &signed.signature,
        );
        let receipt = contract
            .deposit(channel.config.to_sol().into(), amount, x402::ERC3009_DEPOSIT_COLLECTOR, data)
            .send()
            .await
            .map_err(|e| PayError::Contract { what: "deposit not sent", source: Box::new(e) })?
            .get_receipt()
            .await
            .map_err(|source| PayError::Receipt { what: "deposit receipt", source })?;
        if !receipt.status() {
            return Err(PayError::Reverted { what: "deposit", tx: receipt.transaction_hash });
        }
        channel.deposited = channel.deposited.saturating_add(amount);
        self.save_channel(&channel, payee)?;
        Ok(channel)
    }

    pub(super) fn channel_terms(r: &PaymentRequirements) -> Result<ChannelOffer, PayError> {
        let chain_id = chain_of(&r.network).unwrap_or_default();
        let asset: Address =
            r.asset.parse().map_err(|_| PayError::Unpayable("asset is not an address".into()))?;
        let payee: Address =
            r.pay_to.parse().map_err(|_| PayError::Unpayable("payTo is not an address".into()))?;
        let receiver_authorizer: Address = extra_str(r, "receiverAuthorizer")
            .and_then(|s| s.parse().ok())
            .filter(|a: &Address| *a != Address::ZERO)
            .ok_or_else(|| {
                PayError::Unpayable("the batch-settlement offer names no extra.receiverAuthorizer".into())
            })?;
        let delay = r.extra.get("withdrawDelay").and_then(Value::as_u64).unwrap_or(x402::MIN_WITHDRAW_DELAY);
        if !(x402::MIN_WITHDRAW_DELAY..=x402::MAX_WITHDRAW_DELAY).contains(&delay) {
            return Err(PayError::Unpayable(format!("the offer's withdrawDelay {delay}s is out of range")));
        }
        Ok(ChannelOffer { chain_id, asset, payee, receiver_authorizer, delay })
    }

    /// A channel not yet on chain: this payer's key pays and authorizes, a fresh salt.
    pub(super) fn new_channel(&self, offer: &ChannelOffer) -> PayerChannel {
        let config = ChannelConfigJson {
            payer: self.key.address(),
            payer_authorizer: self.key.address(),
            receiver: offer.payee,
            receiver_authorizer: offer.receiver_authorizer,
            token: offer.asset,
            withdraw_delay: offer.delay,
            salt: B256::from(rand::random::<[u8; 32]>()),
        };
        PayerChannel {
            id: config.id(offer.chain_id),
            chain_id: offer.chain_id,
            contract: x402::BATCH_SETTLEMENT,
            config,
            deposited: 0,
            signed_max: 0,
            acked_max: 0,
            charged: 0,
        }
    }

    /// The open channel to this requirement's payee, if any.
    pub fn find_channel(&self, r: &PaymentRequirements) -> Result<Option<PayerChannel>, PayError> {
        let ChannelOffer { chain_id, asset, payee, receiver_authorizer, .. } = Self::channel_terms(r)?;
        let contract = x402::BATCH_SETTLEMENT;
        let id: Option<String> = self.store.read(|conn| {
            conn.query_row(
                "SELECT channel_id FROM payer_channels
                 WHERE chain_id = ?1 AND contract = ?2 AND payee = ?3 AND token = ?4
                 ORDER BY updated_ms DESC LIMIT 1",
                params![chain_id as i64, contract.to_string(), payee.to_string(), asset.to_string()],
                |r| r.get(0),
            )
            .optional()
        })?;
        match id.and_then(|id| id.parse().ok()) {
            // A channel with another receiver authorizer is not payable to this offer.
            Some(id) => Ok(self.channel(id)?.filter(|c| c.config.receiver_authorizer == receiver_authorizer)),
            None => Ok(None),
        }
    }

    /// A channel this payer opened.
    pub fn channel(&self, id: B256) -> Result<Option<PayerChannel>, PayError> {
        Ok(self.store.read(|conn| {
            conn.query_row(
                "SELECT chain_id, contract, config, deposited, signed_max, acked_max, charged
                 FROM payer_channels WHERE channel_id = ?1",
                [id.to_string()],
                |r| {
                    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
                    Ok(PayerChannel {
                        id,
                        chain_id: r.get::<_, i64>(0)? as u64,
                        contract: text(1)?.parse().unwrap_or_default(),
                        config: serde_json::from_str(&text(2)?).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                2,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?,
                        deposited: text(3)?.parse().unwrap_or(0),
                        signed_max: text(4)?.parse().unwrap_or(0),
                        acked_max: text(5)?.parse().unwrap_or(0),
                        charged: text(6)?.parse().unwrap_or(0),
                    })
                },
            )
            .optional()
        })?)
    }

    /// Records that the rest of channel `id` went back to the payer: what stays in it is what
    /// the payee claimed on chain, so nothing of it counts as held under a mandate any more.
    pub fn record_withdrawn(&self, id: B256, claimed_on_chain: u128) -> Result<(), PayError> {
        self.store.write(|tx| {
            tx.execute(
                "UPDATE payer_channels SET deposited = ?2, updated_ms = ?3 WHERE channel_id = ?1",
                params![id.to_string(), claimed_on_chain.to_string(), agora_store::now_ms()],
            )
        })?;
        Ok(())
    }

    /// Every channel this payer opened.
    pub fn channels(&self) -> Result<Vec<PayerChannel>, PayError> {
        let ids: Vec<String> = self.store.read(|conn| {
            let mut stmt = conn.prepare("SELECT channel_id FROM payer_channels ORDER BY updated_ms")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })?;
        let mut out = Vec::new();
        for id in ids.into_iter().filter_map(|id| id.parse().ok()) {
            out.extend(self.channel(id)?);
        }
        Ok(out)
    }

    pub(super) fn save_channel(&self, c: &PayerChannel, payee: Address) -> Result<(), PayError> {
        let config = serde_json::to_string(&c.config).unwrap_or_default();
        self.store.write(|tx| {
            tx.execute(
                "INSERT INTO payer_channels (channel_id, chain_id, contract, payee, token, config, deposited,
                     signed_max, acked_max, charged, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (channel_id) DO UPDATE SET deposited = excluded.deposited,
                     signed_max = excluded.signed_max, acked_max = excluded.acked_max,
                     charged = excluded.charged, updated_ms = excluded.updated_ms",
                params![
                    c.id.to_string(),
                    c.chain_id as i64,
                    c.contract.to_string(),
                    payee.to_string(),
                    c.config.token.to_string(),
                    config,
                    c.deposited.to_string(),
                    c.signed_max.to_string(),
                    c.acked_max.to_string(),
                    c.charged.to_string(),
                    agora_store::now_ms(),
                ],
            )
        })?;
        Ok(())
    }

    /// Signs the next voucher on the channel to `payee` (opening or topping it up with a signed
    /// deposit the payee submits when needed). The voucher is recorded before it is sent.
    pub(super) fn sign_voucher(
        &self,
        mandate: &Mandate,
        r: &PaymentRequirements,
        payee: Address,
        ceiling: u128,
    ) -> Result<(Value, B256), PayError> {
        let offer = Self::channel_terms(r)?;
        let domain = typed::batch_domain(offer.chain_id);
        let mut channel = match self.find_channel(r)? {
            Some(c) => c,
            None => self.new_channel(&offer),
        };
        // Exactly what was charged plus this call's ceiling, as the scheme demands.
        let max = channel.charged.saturating_add(ceiling);
        let mut deposit = None;
        if max > channel.deposited {
            let want = self.config.channel_deposit.max(max - channel.deposited);
            self.check_mandate(mandate, payee, 0, want)?;
            let signed = self.sign_deposit(r, &channel, want, r.max_timeout_seconds.max(60))?;
            deposit = Some(DepositJson {
                amount: want.to_string(),
                authorization: DepositAuthorizationJson {
                    erc3009_authorization: Some(Erc3009DepositJson {
                        valid_after: "0".into(),
                        valid_before: signed.valid_before.to_string(),
                        salt: signed.salt,
                        signature: signed.signature,
                    }),
                    permit2_authorization: None,
                },
            });
            // Counted as escrow from now on; the payee's answer confirms it.
            channel.deposited = channel.deposited.saturating_add(want);
        }
        let signature = typed::sign_voucher(&self.key, &domain, channel.id, max)?;
        channel.signed_max = channel.signed_max.max(max);
        self.save_channel(&channel, payee)?;
        let payload = BatchPayload {
            kind: if deposit.is_some() { BatchKind::Deposit } else { BatchKind::Voucher },
            channel_config: channel.config,
            voucher: VoucherJson {
                channel_id: channel.id,
                max_claimable_amount: max.to_string(),
                signature: signature.as_bytes().into(),
            },
            deposit,
            amount: None,
        };
        Ok((serde_json::to_value(payload).unwrap_or_default(), channel.id))
    }

    /// Signs an ERC-3009 `ReceiveWithAuthorization` of `amount` from this payer to the deposit
    /// collector, valid for `valid_for` seconds, whose nonce binds it to `channel`.
    fn sign_deposit(
        &self,
        offer: &PaymentRequirements,
        channel: &PayerChannel,
        amount: u128,
        valid_for: u64,
    ) -> Result<SignedDeposit, PayError> {
        let (name, version) = token_names(offer)?;
        let token_domain = typed::token_domain(name, version, channel.chain_id, channel.config.token);
        let salt = B256::from(rand::random::<[u8; 32]>());
        let valid_before = now_secs() + valid_for;
        let authorization = Authorization {
            from: self.key.address(),
            to: x402::ERC3009_DEPOSIT_COLLECTOR,
            value: U256::from(amount),
            valid_after: 0,
            valid_before,
            nonce: typed::deposit_nonce(channel.id, salt),
        };
        let signature = self.key.sign_hash_sync(&authorization.receive_digest(&token_domain))?;
        Ok(SignedDeposit { salt, valid_before, signature: signature.as_bytes().into() })
    }

    pub(super) fn mark_needs_deposit(&self, id: B256) -> Result<(), PayError> {
        // The payee says the deposit does not cover the voucher (or the channel is closing): the
        // next voucher carries a top-up.
        if let Some(mut c) = self.channel(id)? {
            c.deposited = c.charged;
            let payee = c.config.receiver;
            self.save_channel(&c, payee)?;
        }
        Ok(())
    }

    /// Adopts the payee's channel state from a corrective 402 when it carries a voucher we
    /// signed; returns whether it did. Spend the payee charged that we had not seen is recorded.
    pub(super) fn resync(
        &self,
        id: B256,
        refusal: &PaymentRequired,
        mandate: &Mandate,
        payee: Address,
        url: &str,
    ) -> Result<bool, PayError> {
        let Some(extra) = refusal.accepts.iter().find(|r| r.scheme == wire::SCHEME_BATCH).map(|r| &r.extra)
        else {
            return Ok(false);
        };
        let Some(state) = extra.get("channelState") else { return Ok(false) };
        let Some(mut channel) = self.channel(id)? else { return Ok(false) };
        let amount = |v: Option<&Value>| v.and_then(Value::as_str).and_then(typed::parse_amount);
        let Some(charged) = amount(state.get("chargedCumulativeAmount")) else { return Ok(false) };
        let max = amount(extra.pointer("/voucherState/signedMaxClaimable")).unwrap_or(0);
        if charged > 0 {
            // The state must be backed by a voucher we signed: a payee cannot invent a charge.
            let sig = extra
                .pointer("/voucherState/signature")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<alloy::primitives::Bytes>().ok())
                .and_then(|b| alloy::primitives::Signature::try_from(b.as_ref()).ok());
            let domain = typed::batch_domain(channel.chain_id);
            let ours =
                sig.and_then(|s| typed::voucher_signer(&domain, id, max, &s)) == Some(self.key.address());
            if !ours || charged > max {
                tracing::warn!(target: "agora::pay", channel = %id, "ignoring channel state not backed by our voucher");
                return Ok(false);
            }
        }
        if charged > channel.charged {
            // Served calls whose answers we never saw (a lost response): count them.
            let missed = charged - channel.charged;
            let spend = self.reserve(mandate, payee, url, "channel-resync", missed, &id.to_string())?;
            self.settle_spend(spend, missed, "settled")?;
        }
        channel.charged = charged;
        channel.acked_max = max;
        if let Some(d) = amount(state.get("balance")) {
            channel.deposited = d;
        }
        self.save_channel(&channel, payee)?;
        Ok(true)
    }

    /// Adopts what a payment response says of the channel: the cumulative charge (else the
    /// charge before plus `chargedAmount`) and the balance the payee saw.
    pub(super) fn apply_state(&self, id: B256, extra: &Value) -> Result<(), PayError> {
        let amount = |v: Option<&Value>| v.and_then(Value::as_str).and_then(typed::parse_amount);
        let Some(mut channel) = self.channel(id)? else { return Ok(()) };
        let state = extra.get("channelState");
        if let Some(charged) = amount(state.and_then(|s| s.get("chargedCumulativeAmount"))) {
            channel.charged = charged;
        } else if let Some(delta) = amount(extra.get("chargedAmount")) {
            channel.charged = channel.charged.saturating_add(delta);
        }
        channel.acked_max = channel.signed_max;
        // The payee's cached balance may predate a top-up we sent on chain ourselves.
        if let Some(d) = amount(state.and_then(|s| s.get("balance"))) {
            channel.deposited = channel.deposited.max(d);
        }
        let payee = channel.config.receiver;
        self.save_channel(&channel, payee)
    }
}

/// What a `batch-settlement` offer says of the channel to open.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChannelOffer {
    pub(super) chain_id: u64,
    pub(super) asset: Address,
    pub(super) payee: Address,
    pub(super) receiver_authorizer: Address,
    pub(super) delay: u64,
}

/// An ERC-3009 deposit authorization this payer signed.
struct SignedDeposit {
    salt: B256,
    valid_before: u64,
    signature: alloy::primitives::Bytes,
}
