//! The chain as a data directory sees it: deploying the suite, and the ERC-8004 validation flow
//! (request a check of an agent's work, answer one by re-executing its receipt, read a status).
//! Each operation holds the data directory's lock and stops a devnet it started.

use crate::{NodeConfig, NodeError, Result};
use agora_agents::validation;
use agora_chain::{ChainClient, ChainDeployment, Devnet};
use agora_contracts::{SuiteContract, bindings::ValidationRegistry};
use agora_receipts::ReceiptEnvelope;
use alloy::primitives::{Address, B256, U256};
use serde::Serialize;

/// Runs `op` on the configured chain under the data directory's lock (`verb` names the command
/// in the error when another process holds it), stopping a devnet this call started.
pub(crate) async fn with_chain<T, F>(config: &NodeConfig, op: impl FnOnce(ChainClient) -> F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let _lock = crate::DataDirLock::acquire(&config.data_dir)?;
    let (devnet, client): (Option<Devnet>, ChainClient) = crate::open_chain(config).await?;
    let result = op(client).await;
    if let Some(devnet) = devnet {
        devnet.stop().await;
    }
    result
}

/// Deploys the agora suite where it is not yet (or, with `forget`, again from scratch on this
/// chain), and returns the deployment recorded in the data directory.
pub async fn deploy(config: &NodeConfig, forget: bool) -> Result<ChainDeployment> {
    with_chain(config, |client| async move {
        if forget && agora_chain::forget_chain(&config.deployments_path(), client.chain_id())? {
            tracing::info!(target: "agora::deploy", chain_id = client.chain_id(), "forgot the recorded deployment");
        }
        crate::deploy_suite(config, &client).await
    })
    .await
}

fn missing(what: &str) -> NodeError {
    NodeError::Missing(format!("no {what} in the deployed suite"))
}

fn fail<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    step: &'static str,
) -> impl FnOnce(E) -> NodeError {
    move |e| NodeError::Validation { step, source: e.into() }
}

/// A validation request sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRequested {
    /// The agent whose work is to be checked.
    pub agent: U256,
    /// Who is asked to check it.
    pub validator: Address,
    /// The request hash (what the validator answers).
    pub request: B256,
}

/// As an agent's owner: asks `validator` to check the work `receipt` proves.
pub async fn request_validation(
    config: &NodeConfig,
    agent: U256,
    validator: Address,
    receipt: &ReceiptEnvelope,
) -> Result<ValidationRequested> {
    receipt.verify().map_err(fail("the receipt does not verify; a validator would answer 0"))?;
    with_chain(config, |client| async move {
        let deployment = crate::deploy_suite(config, &client).await?;
        let registry = deployment
            .address_of(SuiteContract::ValidationRegistry)
            .ok_or_else(|| missing("validation registry"))?;
        let identity = deployment
            .address_of(SuiteContract::IdentityRegistry)
            .ok_or_else(|| missing("identity registry"))?;
        let file = validation::request_file(
            agent,
            &agora_agents::agent_registry_id(client.chain_id(), identity),
            receipt,
        );
        let request = validation::request(&client, registry, validator, agent, &file)
            .await
            .map_err(fail("sending the request"))?;
        Ok(ValidationRequested { agent, validator, request })
    })
    .await
}

/// A validator's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationAnswer {
    /// The agent whose work was checked.
    pub agent: U256,
    /// 100 (identical, signed by the agent's wallet) or 0.
    pub response: u8,
    /// Why.
    pub reason: String,
}

/// As the validator: fetches request `hash`, re-executes its receipt with the local model, and
/// answers 100 or 0 on chain.
pub async fn respond_to_validation(config: &NodeConfig, hash: B256) -> Result<ValidationAnswer> {
    with_chain(config, |client| async move {
        let deployment = crate::deploy_suite(config, &client).await?;
        let registry = deployment
            .address_of(SuiteContract::ValidationRegistry)
            .ok_or_else(|| missing("validation registry"))?;
        let identity = deployment
            .address_of(SuiteContract::IdentityRegistry)
            .ok_or_else(|| missing("identity registry"))?;
        let from =
            deployment.contracts.get(SuiteContract::ValidationRegistry.name()).map_or(0, |c| c.block_number);
        let uri = validation::find_request_uri(&client, registry, hash, from)
            .await
            .map_err(fail("finding the request"))?;
        let (agent, envelope) = validation::open_request(&uri, hash).map_err(fail("reading the request"))?;
        let engine = crate::load_engine(&config.inference).await?.ok_or(NodeError::NoModel)?;
        let job = envelope.clone();
        let reexecuted =
            tokio::task::spawn_blocking(move || agora_receipts::reexecute(&job, &engine)).await?;
        let verdict = validation::judge(&client, identity, agent, &envelope, reexecuted)
            .await
            .map_err(fail("judging"))?;
        validation::respond(&client, registry, hash, &verdict).await.map_err(fail("answering"))?;
        Ok(ValidationAnswer { agent, response: verdict.response, reason: verdict.reason })
    })
    .await
}

/// A validation request as the registry holds it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationStatus {
    /// The request hash.
    pub request: B256,
    /// The agent.
    pub agent: U256,
    /// The validator asked.
    pub validator: Address,
    /// The answer, once given.
    pub response: Option<u8>,
    /// The answer's tag.
    pub tag: String,
}

/// Reads request `hash` from the validation registry.
pub async fn validation_status(config: &NodeConfig, hash: B256) -> Result<ValidationStatus> {
    with_chain(config, |client| async move {
        let deployment = crate::deploy_suite(config, &client).await?;
        let registry = deployment
            .address_of(SuiteContract::ValidationRegistry)
            .ok_or_else(|| missing("validation registry"))?;
        let contract = ValidationRegistry::new(registry, client.provider());
        let status = contract.getValidationStatus(hash).call().await.map_err(fail("no such request"))?;
        let answered = contract.hasResponse(hash).call().await.map_err(fail("reading the request"))?;
        Ok(ValidationStatus {
            request: hash,
            agent: status.agentId,
            validator: status.validatorAddress,
            response: answered.then_some(status.response),
            tag: status.tag,
        })
    })
    .await
}
