//! The payer's channels: opening and topping up, vouchers, resyncs from a corrective 402, and
//! the books of what each channel holds.

use super::{Mandate, Payer, PayerChannel, chain_of, extra_str, now_secs, token_names};
use crate::{
    error::PayError,
    typed::{self, Authorization, ChannelConfig, ChannelPayload, DepositJson},
    wire::{self, PaymentRequired, PaymentRequirements},
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
        let (chain_id, contract, asset, _, delay) = Self::channel_terms(offer)?;
        if chain.chain_id() != chain_id {
            return Err(PayError::Unpayable(format!(
                "the offer is on chain {chain_id} but the RPC endpoint serves chain {}",
                chain.chain_id()
            )));
        }
        let domain = typed::channels_domain(chain_id, contract);
        let mut channel = match self.find_channel(offer)? {
            Some(c) => c,
            None => self.new_channel(&domain, chain_id, contract, payee, asset, delay),
        };
        let (name, version) = token_names(offer)?;
        let token_domain = typed::token_domain(name, version, chain_id, asset);
        let nonce_salt = B256::from(rand::random::<[u8; 32]>());
        let valid_before = now_secs() + 3600;
        let authorization = Authorization {
            from: self.key.address(),
            to: contract,
            value: U256::from(amount),
            valid_after: 0,
            valid_before,
            nonce: typed::deposit_nonce(channel.id, nonce_salt),
        };
        let signature = self.key.sign_hash_sync(&authorization.receive_digest(&token_domain))?;
        let channels = agora_contracts::bindings::PaymentChannels::new(contract, chain.provider());
        let c = &channel.config;
        let receipt = channels
            .depositWithAuthorization(
                agora_contracts::bindings::PaymentChannels::ChannelConfig {
                    payer: c.payer,
                    payerAuthorizer: c.payerAuthorizer,
                    receiver: c.receiver,
                    token: c.token,
                    withdrawDelay: c.withdrawDelay,
                    salt: c.salt,
                },
                amount,
                U256::ZERO,
                U256::from(valid_before),
                nonce_salt,
                signature.as_bytes().into(),
            )
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

    pub(super) fn channel_terms(
        r: &PaymentRequirements,
    ) -> Result<(u64, Address, Address, Address, u64), PayError> {
        let chain_id = chain_of(&r.network).unwrap_or_default();
        let contract: Address = extra_str(r, "channelContract")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| PayError::Unpayable("the channel offer names no channelContract".into()))?;
        let asset: Address =
            r.asset.parse().map_err(|_| PayError::Unpayable("asset is not an address".into()))?;
        let payee: Address =
            r.pay_to.parse().map_err(|_| PayError::Unpayable("payTo is not an address".into()))?;
        let delay = r.extra.get("withdrawDelay").and_then(Value::as_u64).unwrap_or(900);
        Ok((chain_id, contract, asset, payee, delay))
    }

    /// A channel not yet on chain: this payer's key pays and authorizes, a fresh salt.
    pub(super) fn new_channel(
        &self,
        domain: &alloy::sol_types::Eip712Domain,
        chain_id: u64,
        contract: Address,
        payee: Address,
        asset: Address,
        delay: u64,
    ) -> PayerChannel {
        let config = ChannelConfig {
            payer: self.key.address(),
            payerAuthorizer: self.key.address(),
            receiver: payee,
            token: asset,
            withdrawDelay: alloy::primitives::Uint::from(delay),
            salt: B256::from(rand::random::<[u8; 32]>()),
        };
        PayerChannel {
            id: config.id(domain),
            chain_id,
            contract,
            config,
            deposited: 0,
            signed_max: 0,
            acked_max: 0,
            charged: 0,
        }
    }

    /// The open channel to this requirement's payee, if any.
    pub fn find_channel(&self, r: &PaymentRequirements) -> Result<Option<PayerChannel>, PayError> {
        let (chain_id, contract, asset, payee, _) = Self::channel_terms(r)?;
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
            Some(id) => self.channel(id),
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
        let (chain_id, contract, asset, _, delay) = Self::channel_terms(r)?;
        let domain = typed::channels_domain(chain_id, contract);
        let mut channel = match self.find_channel(r)? {
            Some(c) => c,
            None => self.new_channel(&domain, chain_id, contract, payee, asset, delay),
        };
        let max = channel.charged.saturating_add(ceiling).max(channel.acked_max.saturating_add(1));
        let mut deposit = None;
        if max > channel.deposited {
            let want = self.config.channel_deposit.max(max - channel.deposited);
            self.check_mandate(mandate, payee, 0, want)?;
            let (name, version) = token_names(r)?;
            let token_domain = typed::token_domain(name, version, chain_id, asset);
            let nonce_salt = B256::from(rand::random::<[u8; 32]>());
            let now = now_secs();
            let authorization = Authorization {
                from: self.key.address(),
                to: contract,
                value: U256::from(want),
                valid_after: 0,
                valid_before: now + 3600,
                nonce: typed::deposit_nonce(channel.id, nonce_salt),
            };
            let signature = self.key.sign_hash_sync(&authorization.receive_digest(&token_domain))?;
            deposit = Some(DepositJson {
                config: channel.config.clone(),
                amount: want.to_string(),
                valid_after: "0".into(),
                valid_before: authorization.valid_before.to_string(),
                nonce_salt,
                signature: signature.as_bytes().into(),
            });
            // Counted as escrow from now on; the payee's answer confirms it.
            channel.deposited = channel.deposited.saturating_add(want);
        }
        let signature = typed::sign_voucher(&self.key, &domain, channel.id, max)?;
        channel.signed_max = channel.signed_max.max(max);
        self.save_channel(&channel, payee)?;
        let payload = ChannelPayload {
            channel_id: channel.id,
            max_claimable_amount: max.to_string(),
            signature: signature.as_bytes().into(),
            deposit,
        };
        Ok((serde_json::to_value(payload).unwrap_or_default(), channel.id))
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
        let Some(state) = refusal
            .accepts
            .iter()
            .find(|r| r.scheme == wire::SCHEME_CHANNEL)
            .and_then(|r| r.extra.get("channelState"))
        else {
            return Ok(false);
        };
        let Some(mut channel) = self.channel(id)? else { return Ok(false) };
        let amount = |v: Option<&Value>| v.and_then(Value::as_str).and_then(typed::parse_amount);
        let (Some(charged), Some(max)) =
            (amount(state.get("charged")), amount(state.pointer("/voucher/maxClaimableAmount")))
        else {
            return Ok(false);
        };
        if max > 0 {
            // The state must be backed by a voucher we signed: a payee cannot invent a charge.
            let sig = state
                .pointer("/voucher/signature")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<alloy::primitives::Bytes>().ok())
                .and_then(|b| alloy::primitives::Signature::try_from(b.as_ref()).ok());
            let domain = typed::channels_domain(channel.chain_id, channel.contract);
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
        if let Some(d) = amount(state.get("deposited")) {
            channel.deposited = d;
        }
        self.save_channel(&channel, payee)?;
        Ok(true)
    }

    pub(super) fn apply_state(&self, id: B256, state: &Value) -> Result<(), PayError> {
        let amount = |v: Option<&Value>| v.and_then(Value::as_str).and_then(typed::parse_amount);
        let Some(mut channel) = self.channel(id)? else { return Ok(()) };
        if let Some(charged) = amount(state.get("charged")) {
            channel.charged = charged;
        }
        if let Some(max) = amount(state.pointer("/voucher/maxClaimableAmount")) {
            channel.acked_max = max;
        }
        // The payee's cached deposit may predate a top-up we sent on chain ourselves.
        if let Some(d) = amount(state.get("deposited")) {
            channel.deposited = channel.deposited.max(d);
        }
        let payee = channel.config.receiver;
        self.save_channel(&channel, payee)
    }
}
