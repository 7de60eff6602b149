//! A payer's way out of its channels: start the timed withdrawal, then, once the delay has
//! passed, take back what the payee did not claim. The chain's signer must be the channel's
//! payer (the contract refuses anyone else).

use crate::{
    error::PayError,
    payer::{Payer, PayerChannel},
    x402::{self, IBatchSettlement},
};
use agora_chain::ChainClient;
use alloy::primitives::{Address, B256};

/// A step of a channel's timed exit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelExit {
    /// The channel.
    pub channel_id: B256,
    /// The transaction.
    pub transaction: B256,
    /// When the exit may complete (unix seconds), after [`Payer::close_channel`]; 0 after
    /// [`Payer::withdraw_channel`].
    pub withdraw_ready_at: u64,
    /// Returned to the payer (atomic units, a decimal string in JSON), after
    /// [`Payer::withdraw_channel`].
    #[serde(serialize_with = "decimal")]
    pub returned: u128,
    /// Who got it back.
    pub payer: Address,
}

fn decimal<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

impl Payer {
    /// Channel `id`, which this payer must have opened.
    fn own_channel(&self, id: B256) -> Result<PayerChannel, PayError> {
        self.channel(id)?.ok_or(PayError::UnknownChannel(id))
    }

    /// Starts the timed exit of channel `id` (`initiateWithdraw` of all that is not claimed,
    /// sent through `chain`): the payee stops taking vouchers and claims what it is owed, and
    /// after the delay [`Payer::withdraw_channel`] returns the rest.
    pub async fn close_channel(&self, chain: &ChainClient, id: B256) -> Result<ChannelExit, PayError> {
        let channel = self.own_channel(id)?;
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, chain.provider());
        let state = contract
            .channels(id)
            .call()
            .await
            .map_err(|e| PayError::Contract { what: "reading the channel", source: Box::new(e) })?;
        let amount = state.balance.saturating_sub(state.totalClaimed);
        let receipt = contract
            .initiateWithdraw(channel.config.to_sol().into(), amount)
            .send()
            .await
            .map_err(|e| PayError::Contract {
                what: "initiateWithdraw refused (only the channel's payer may close it, once, with something left)",
                source: Box::new(e),
            })?
            .get_receipt()
            .await
            .map_err(|source| PayError::Receipt { what: "waiting for initiateWithdraw", source })?;
        if !receipt.status() {
            return Err(PayError::Reverted { what: "initiateWithdraw", tx: receipt.transaction_hash });
        }
        let pending = contract
            .pendingWithdrawals(id)
            .call()
            .await
            .map_err(|e| PayError::Contract { what: "reading the withdrawal", source: Box::new(e) })?;
        Ok(ChannelExit {
            channel_id: id,
            transaction: receipt.transaction_hash,
            withdraw_ready_at: pending.initiatedAt.to::<u64>() + channel.config.withdraw_delay,
            returned: 0,
            payer: channel.config.payer,
        })
    }

    /// Completes the exit of channel `id` once its delay has passed (`finalizeWithdraw`, sent
    /// through `chain`), and books the returned deposit in this payer's records.
    pub async fn withdraw_channel(&self, chain: &ChainClient, id: B256) -> Result<ChannelExit, PayError> {
        let channel = self.own_channel(id)?;
        let contract = IBatchSettlement::new(x402::BATCH_SETTLEMENT, chain.provider());
        let before = contract
            .channels(id)
            .call()
            .await
            .map_err(|e| PayError::Contract { what: "reading the channel", source: Box::new(e) })?;
        let receipt = contract
            .finalizeWithdraw(channel.config.to_sol().into())
            .send()
            .await
            .map_err(|e| PayError::Contract {
                what: "finalizeWithdraw refused: close the channel first and wait out the delay",
                source: Box::new(e),
            })?
            .get_receipt()
            .await
            .map_err(|source| PayError::Receipt { what: "waiting for finalizeWithdraw", source })?;
        if !receipt.status() {
            return Err(PayError::Reverted { what: "finalizeWithdraw", tx: receipt.transaction_hash });
        }
        let after = contract
            .channels(id)
            .call()
            .await
            .map_err(|e| PayError::Contract { what: "reading the channel", source: Box::new(e) })?;
        self.record_withdrawn(id, after.balance)?;
        Ok(ChannelExit {
            channel_id: id,
            transaction: receipt.transaction_hash,
            withdraw_ready_at: 0,
            returned: before.balance.saturating_sub(after.balance),
            payer: channel.config.payer,
        })
    }
}
