//! The chain as a data directory sees it: deploying the suite, and the ERC-8004 validation flow
//! (request a check of an agent's work, answer one by re-executing its receipt, read a status).
//! Each operation runs beside a running node, or alone under the data directory's lock.

use crate::{ChainTarget, NodeConfig, NodeError, Result};
use agora_agents::validation;
use agora_chain::{ChainClient, ChainDeployment, Devnet};
use agora_contracts::{SuiteContract, bindings::ValidationRegistry};
use agora_receipts::ReceiptEnvelope;
use alloy::primitives::{Address, B256, U256};
use serde::Serialize;

/// Runs `op` with a client of the configured chain and the agora suite on it.
///
/// Beside a running node it connects to the node's chain and reads the suite the node recorded:
/// no lock, no second devnet, no deployment (the node owns those). Otherwise it takes the data
/// directory's lock, starts the devnet when that is the configured chain, deploys what is
/// missing, and stops the devnet it started.
pub(crate) async fn with_chain<T, F>(
    config: &NodeConfig,
    op: impl FnOnce(ChainClient, ChainDeployment) -> F,
) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    if crate::running_node(&config.data_dir).is_some() {
        let client = beside_client(config).await?;
        let deployment = recorded_suite(config, &client)?;
        return op(client, deployment).await;
    }
    let _lock = crate::DataDirLock::acquire(&config.data_dir)?;
    let (devnet, client): (Option<Devnet>, ChainClient) = crate::open_chain(config).await?;
    let result = match crate::deploy_suite(config, &client).await {
        Ok(deployment) => op(client, deployment).await,
        Err(e) => Err(e),
    };
    if let Some(devnet) = devnet {
        devnet.stop().await;
    }
    result
}

/// A client of the chain the node running beside uses, signing with the configured key or, on
/// the local devnet, with the devnet's first account as the node does.
async fn beside_client(config: &NodeConfig) -> Result<ChainClient> {
    let url = super::chain_url(config);
    let signer = match (config.signer.as_ref().map(|s| s.load()).transpose()?, &config.chain) {
        (Some(signer), _) => Some(signer),
        (None, ChainTarget::Devnet(devnet)) => {
            devnet.state_dir.as_deref().and_then(|dir| agora_chain::recorded_dev_signer(dir, 0))
        }
        (None, ChainTarget::Rpc { .. }) => None,
    };
    ChainClient::connect(&url, signer).await.map_err(|source| {
        NodeError::Missing(format!(
            "a node runs on {} but its chain at {url} does not answer ({source})",
            config.data_dir.display()
        ))
    })
}

/// The suite recorded in the data directory for `client`'s chain.
pub(crate) fn recorded_suite(config: &NodeConfig, client: &ChainClient) -> Result<ChainDeployment> {
    agora_chain::DeploymentsFile::load(&config.deployments_path())?.chain(client.chain_id()).cloned().ok_or_else(
        || {
            NodeError::Missing(format!(
                "no contracts recorded for chain {} in {}: start the node once (agora up) or run agora deploy",
                client.chain_id(),
                config.deployments_path().display()
            ))
        },
    )
}

/// Deploys the agora suite where it is not yet (or, with `forget`, again from scratch on this
/// chain), and returns the deployment recorded in the data directory. Beside a running node it
/// returns what the node deployed (and `forget` is refused: stop the node first).
pub async fn deploy(config: &NodeConfig, forget: bool) -> Result<ChainDeployment> {
    if forget && crate::running_node(&config.data_dir).is_some() {
        return Err(NodeError::Missing(format!(
            "a node runs on {}: stop it before deploying afresh",
            config.data_dir.display()
        )));
    }
    if forget {
        let _lock = crate::DataDirLock::acquire(&config.data_dir)?;
        let (devnet, client) = crate::open_chain(config).await?;
        let result = match agora_chain::forget_chain(&config.deployments_path(), client.chain_id()) {
            Ok(forgot) => {
                if forgot {
                    tracing::info!(target: "agora::deploy", chain_id = client.chain_id(), "forgot the recorded deployment");
                }
                crate::deploy_suite(config, &client).await
            }
            Err(e) => Err(e.into()),
        };
        if let Some(devnet) = devnet {
            devnet.stop().await;
        }
        return result;
    }
    with_chain(config, |_, deployment| async move { Ok(deployment) }).await
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
    with_chain(config, |client, deployment| async move {
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
    with_chain(config, |client, deployment| async move {
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
    with_chain(config, |client, deployment| async move {
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
