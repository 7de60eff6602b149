//! The x402 contracts at their canonical addresses.
//!
//! The official x402 clients and facilitators call the batch-settlement escrow, its deposit
//! collectors, the `upto` proxy and Permit2 at fixed addresses, and the facilitator reads chain
//! state through Multicall3. Public chains have the official deployments there; a devnet has
//! nothing, so on a dev chain agora deploys its own implementations (same ABI and EIP-712
//! domains) and copies their runtime code to the canonical addresses with `anvil_setCode`. The
//! deployed copies are left unused. On any other chain nothing is deployed: the code at each
//! x402 contract's canonical address must exist, or the x402 flows cannot work and we say which
//! contract is missing. Multicall3 is not checked there: it is not ours to demand
//! ([`X402Contract::required_off_dev_chains`]).

use crate::{ChainClient, ChainError, Result, error::BoxError, is_dev_chain};
use agora_contracts::{X402_CONTRACTS, X402Contract};
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes},
    providers::Provider,
    rpc::types::TransactionRequest,
};

/// What [`ensure_x402_contracts`] found or did for one contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X402Action {
    /// Dev chain: agora's code was already at the canonical address.
    Present,
    /// Dev chain: agora's code was placed at the canonical address now.
    Placed,
    /// Other chain: code exists at the canonical address (the official deployment; its bytes
    /// are not ours, so they are not compared).
    Found,
    /// Other chain: a contract agora does not require there (Multicall3) was not looked for.
    Skipped,
}

impl X402Action {
    /// A word for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Placed => "placed",
            Self::Found => "found",
            Self::Skipped => "skipped (not required)",
        }
    }
}

/// One x402 contract and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct X402Placement {
    /// Which contract.
    pub contract: X402Contract,
    /// Its canonical address.
    pub address: Address,
    /// What was found or done.
    pub action: X402Action,
}

/// Makes sure every x402 contract is at its canonical address on the client's chain: placed
/// there on a dev chain when missing or different (needs the client's signer), checked to
/// exist on any other chain, except those not required there (Multicall3), which are skipped.
/// Returns one [`X402Placement`] per contract, in [`X402_CONTRACTS`] order. Running it again on
/// a dev chain changes nothing.
pub async fn ensure_x402_contracts(client: &ChainClient) -> Result<Vec<X402Placement>> {
    let chain_id = client.chain_id();
    let dev = is_dev_chain(chain_id);
    let mut placements = Vec::with_capacity(X402_CONTRACTS.len());
    for &contract in X402_CONTRACTS {
        let address = contract.canonical_address();
        if !dev && !contract.required_off_dev_chains() {
            tracing::debug!(target: "agora::deploy", contract = contract.name(), %address, chain_id, "not required off dev chains: skipped");
            placements.push(X402Placement { contract, address, action: X402Action::Skipped });
            continue;
        }
        let code = code_at(client, address).await?;
        let action = if !dev {
            if code.is_empty() {
                return Err(ChainError::X402ContractMissing {
                    contract: contract.name().to_owned(),
                    address,
                    chain_id,
                });
            }
            X402Action::Found
        } else if contract.artifact().matches_runtime_code(&code) {
            X402Action::Present
        } else {
            place(client, contract).await?;
            X402Action::Placed
        };
        tracing::debug!(target: "agora::deploy", contract = contract.name(), %address, chain_id, action = action.as_str(), "x402 contract");
        placements.push(X402Placement { contract, address, action });
    }
    Ok(placements)
}

async fn code_at(client: &ChainClient, address: Address) -> Result<Bytes> {
    client.provider().get_code_at(address).await.map_err(|e| ChainError::Rpc {
        call: "eth_getCode",
        url: client.url().to_owned(),
        source: e.into(),
    })
}

/// Deploys `contract` from the client's signer, then copies the deployed runtime code (with its
/// immutables: the canonical addresses it was constructed with) to the canonical address.
async fn place(client: &ChainClient, contract: X402Contract) -> Result<()> {
    let chain_id = client.chain_id();
    let address = contract.canonical_address();
    let deploy_failed =
        |source: BoxError| ChainError::Deploy { contract: contract.name().to_owned(), chain_id, source };
    let deployer = client.signer_address().ok_or(ChainError::NoSigner { chain_id })?;
    let tx = TransactionRequest::default().with_from(deployer).with_deploy_code(contract.deploy_code());
    let receipt = client
        .provider()
        .send_transaction(tx)
        .await
        .map_err(|e| deploy_failed(e.into()))?
        .get_receipt()
        .await
        .map_err(|e| deploy_failed(e.into()))?;
    if !receipt.status() {
        return Err(deploy_failed(format!("transaction {} reverted", receipt.transaction_hash).into()));
    }
    let deployed =
        receipt.contract_address.ok_or_else(|| deploy_failed("receipt has no contract address".into()))?;
    let code = code_at(client, deployed).await?;
    if !contract.artifact().matches_runtime_code(&code) {
        return Err(ChainError::UnexpectedCode {
            contract: contract.name().to_owned(),
            address: deployed,
            chain_id,
        });
    }

    set_code(client, contract, address, &code).await?;
    if code_at(client, address).await? != code {
        return Err(ChainError::SetCode {
            contract: contract.name().to_owned(),
            address,
            chain_id,
            source: "the code read back differs from the code set".into(),
        });
    }
    tracing::debug!(target: "agora::deploy", contract = contract.name(), %address, from = %deployed, chain_id, "placed");
    Ok(())
}

/// `anvil_setCode`, or hardhat's name for it on nodes that only know that one.
async fn set_code(
    client: &ChainClient,
    contract: X402Contract,
    address: Address,
    code: &Bytes,
) -> Result<()> {
    let provider = client.provider();
    let first = provider.raw_request::<_, serde_json::Value>("anvil_setCode".into(), (address, code)).await;
    let Err(anvil) = first else { return Ok(()) };
    if provider.raw_request::<_, serde_json::Value>("hardhat_setCode".into(), (address, code)).await.is_ok() {
        return Ok(());
    }
    Err(ChainError::SetCode {
        contract: contract.name().to_owned(),
        address,
        chain_id: client.chain_id(),
        source: anvil.into(),
    })
}
