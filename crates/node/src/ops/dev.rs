//! Development-chain conveniences: gas for a key, dollars from the dev stablecoin's faucet.
//! Each refuses on any chain that [`agora_chain::is_dev_chain`] does not call a devnet.

use crate::{NodeConfig, NodeError, Result};
use agora_chain::ChainClient;
use agora_contracts::{SuiteContract, bindings::DevStablecoin};
use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use serde::Serialize;

/// What a key is given for gas on a development chain: 1 ETH.
pub const DEV_GAS_GRANT: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);

/// Below this balance a key on a development chain is given [`DEV_GAS_GRANT`]: 0.1 ETH.
pub const DEV_GAS_FLOOR: U256 = U256::from_limbs([100_000_000_000_000_000, 0, 0, 0]);

/// Gives `address` [`DEV_GAS_GRANT`] with `anvil_setBalance` when the chain is a development
/// chain and the key has less than [`DEV_GAS_FLOOR`]; the one way any part of the node funds a
/// dev key for gas. Returns the new balance when it funded the key, `None` when nothing was
/// needed, the chain is not a development chain, or it is one that is not anvil (then a warning
/// says to send the key ETH).
pub async fn fund_for_gas(client: &ChainClient, address: Address) -> Result<Option<U256>> {
    if !agora_chain::is_dev_chain(client.chain_id()) {
        return Ok(None);
    }
    let provider = client.provider();
    let balance = provider
        .get_balance(address)
        .await
        .map_err(|e| NodeError::payments("reading a balance")(e.into()))?;
    if balance >= DEV_GAS_FLOOR {
        return Ok(None);
    }
    let funded = balance + DEV_GAS_GRANT;
    let set: std::result::Result<serde_json::Value, _> =
        provider.raw_request("anvil_setBalance".into(), (address, funded)).await;
    if let Err(e) = set {
        // A development chain that is not anvil: the key needs ETH sent to it.
        tracing::warn!(target: "agora::dev", %address, "the key has no gas and the chain refused anvil_setBalance ({e}); send it some ETH");
        return Ok(None);
    }
    tracing::info!(target: "agora::dev", %address, "gave the key 1 ETH for gas (development chain)");
    Ok(Some(funded))
}

/// What `agora faucet` minted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaucetReport {
    /// The stablecoin.
    pub token: Address,
    /// Who received it.
    pub to: Address,
    /// Atomic units minted (6 decimals).
    pub amount: u128,
    /// The mint transaction.
    pub transaction: alloy::primitives::B256,
}

/// Mints `amount` atomic units of the dev stablecoin to `to` (default: the node key) on a development
/// chain; `token` defaults to the one recorded in the data directory's deployments.
pub async fn faucet(
    config: &NodeConfig,
    to: Option<Address>,
    amount: u128,
    token: Option<Address>,
) -> Result<FaucetReport> {
    let chain = super::payments::wallet_client(config).await?;
    if !agora_chain::is_dev_chain(chain.chain_id()) {
        return Err(NodeError::NotDevChain { what: "the faucet", chain_id: chain.chain_id() });
    }
    let token = match token {
        Some(token) => token,
        None => agora_chain::DeploymentsFile::load(&config.deployments_path())?
            .chain(chain.chain_id())
            .and_then(|d| d.address_of(SuiteContract::DevStablecoin))
            .ok_or_else(|| {
                NodeError::Missing(
                    "no stablecoin recorded for this chain: pass --token (see GET /deployments on the node)"
                        .into(),
                )
            })?,
    };
    let to = match to {
        Some(to) => to,
        None => crate::node_key::load_or_create(&config.data_dir)?.address(),
    };
    let receipt = DevStablecoin::new(token, chain.provider())
        .faucet(to, U256::from(amount))
        .send()
        .await
        .map_err(|e| NodeError::payments("minting dev dollars")(e.into()))?
        .get_receipt()
        .await
        .map_err(|e| NodeError::payments("minting dev dollars")(e.into()))?;
    Ok(FaucetReport { token, to, amount, transaction: receipt.transaction_hash })
}
