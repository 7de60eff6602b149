//! ERC-8004 agents as operations on a data directory: register this node's agent, list the
//! agents the discovery index knows, show one with the reputation its trusted raters give it.

use super::NodeApi;
use super::chain::with_chain;
use crate::{ChainTarget, NodeConfig, NodeError, Result};
use agora_agents::{AgentRecord, IndexedAgent, TrustedSummary};
use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::SuiteContract;
use agora_store::Store;
use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

fn identity_registry(deployment: &ChainDeployment) -> Result<Address> {
    deployment
        .address_of(SuiteContract::IdentityRegistry)
        .ok_or_else(|| NodeError::Missing("no identity registry on this chain".into()))
}

/// This node's agent, registered or brought up to date.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRegistration {
    /// The agent id.
    pub agent_id: U256,
    /// The registry, as ERC-8004 names it (`eip155:<chain>:<address>`).
    pub registry: String,
    /// The agent's wallet: the node key.
    pub wallet: Address,
    /// The registration URI on chain.
    pub uri: String,
    /// `registered`, `updated` or `unchanged`.
    pub action: String,
}

/// Registers this node's agent with the same profile `agora up` registers (the configured
/// model; on the local devnet the API address as its public URL), or brings it up to date.
/// Beside a running node, the node does it with its own profile.
pub async fn register(config: &NodeConfig) -> Result<AgentRegistration> {
    if let Some(node) = NodeApi::beside(config)? {
        return node.post("/agent/register", &serde_json::json!({})).await;
    }
    with_chain(config, |client, deployment| async move {
        let store = Store::open_in(&config.data_dir)?;
        let node_key = crate::node_key::load_or_create(&config.data_dir)?;
        let model = config
            .inference
            .model
            .as_ref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned());
        let local = matches!(config.chain, ChainTarget::Devnet(_)).then_some(config.api_listen);
        let state = crate::agent_profile(config, model.as_deref(), local);
        register_with(&client, &deployment, &store, &state.profile, &node_key).await
    })
    .await
}

/// Registers `profile` as the agent of `node_key` (or brings it up to date): what
/// [`register`] and a running node's `POST /agent/register` share.
pub async fn register_with(
    client: &ChainClient,
    deployment: &ChainDeployment,
    store: &Store,
    profile: &agora_agents::AgentProfile,
    node_key: &alloy::signers::local::PrivateKeySigner,
) -> Result<AgentRegistration> {
    let registry = identity_registry(deployment)?;
    let result = agora_agents::register_remembered(client, store, registry, profile, node_key).await?;
    Ok(AgentRegistration {
        agent_id: result.agent_id,
        registry: agora_agents::agent_registry_id(client.chain_id(), registry),
        wallet: node_key.address(),
        action: result.action().to_owned(),
        uri: result.uri,
    })
}

/// Brings the discovery index up to date and returns its store.
async fn sync_index(
    config: &NodeConfig,
    client: &ChainClient,
    deployment: &ChainDeployment,
) -> Result<Arc<Store>> {
    let store = Arc::new(Store::open_in(&config.data_dir)?);
    let local = matches!(config.chain, ChainTarget::Devnet(_));
    if let Some(indexer) = crate::discovery_indexer(client, deployment, Arc::clone(&store), local) {
        let report = indexer.sync().await?;
        tracing::info!(target: "agora::index", events = report.events, skipped = report.skipped, "index up to date");
    }
    Ok(store)
}

/// The agents a running node's index holds, as its `GET /agents` answers.
#[derive(Debug, Deserialize)]
struct NodeAgents {
    agents: Vec<IndexedAgent>,
}

/// One agent as a running node's `GET /agents/{id}` answers.
#[derive(Debug, Deserialize)]
struct NodeAgent {
    agent: IndexedAgent,
    reputation: TrustedSummary,
}

/// The agents the index knows on the configured chain, optionally only those with `skill` or
/// only active ones. Beside a running node, its index answers (it follows the chain by itself).
pub async fn list(config: &NodeConfig, skill: Option<&str>, active: bool) -> Result<Vec<IndexedAgent>> {
    if let Some(node) = NodeApi::beside(config)? {
        let query = [("skill", skill.unwrap_or_default()), ("active", if active { "true" } else { "" })];
        return Ok(node.get::<NodeAgents>("/agents", &query).await?.agents);
    }
    with_chain(config, |client, deployment| async move {
        let store = sync_index(config, &client, &deployment).await?;
        Ok(agora_agents::list_agents(&store, client.chain_id(), skill, active)?)
    })
    .await
}

/// One agent: what the chain says, what the index resolved, and its reputation among `trust`.
#[derive(Debug, Clone, Serialize)]
pub struct AgentDetails {
    /// The registry, as ERC-8004 names it.
    #[serde(skip)]
    pub registry: String,
    /// The chain's record and its registration file.
    pub agent: AgentRecord,
    /// The index's entry (skills, a fetch error), when indexed.
    #[serde(skip)]
    pub indexed: Option<IndexedAgent>,
    /// Feedback from the trusted raters only.
    pub reputation: TrustedSummary,
}

/// `trust` and the suite's job evaluator: its feedback is left only when a job it escrowed is
/// settled, names the job, and carries the delivery's hash, so it counts by default.
pub fn with_job_evaluator(trust: &[Address], deployment: &ChainDeployment) -> Vec<Address> {
    let mut trust = trust.to_vec();
    if let Some(evaluator) = deployment.address_of(SuiteContract::JobEvaluator)
        && !trust.contains(&evaluator)
    {
        trust.push(evaluator);
    }
    trust
}

/// Reads agent `id` and the reputation its `trust`ed raters (and the job evaluator) give it.
/// Beside a running node, the chain is read here and the index and reputation are the node's.
pub async fn show(config: &NodeConfig, id: U256, trust: &[Address]) -> Result<AgentDetails> {
    let node = NodeApi::beside(config)?;
    with_chain(config, |client, deployment| async move {
        let registry = identity_registry(&deployment)?;
        let agent = agora_agents::read_agent(&client, registry, id).await?;
        let trust = with_job_evaluator(trust, &deployment);
        let (indexed, reputation) = match node {
            Some(node) => {
                let trust: Vec<String> = trust.iter().map(|a| a.to_string()).collect();
                let answer: NodeAgent =
                    node.get(&format!("/agents/{id}"), &[("trust", &trust.join(","))]).await?;
                (Some(answer.agent), answer.reputation)
            }
            None => {
                let store = sync_index(config, &client, &deployment).await?;
                let reputation =
                    agora_agents::trusted_summary(&store, client.chain_id(), &id.to_string(), &trust)?;
                let indexed = agora_agents::list_agents(&store, client.chain_id(), None, false)?
                    .into_iter()
                    .find(|a| a.agent_id == id.to_string());
                (indexed, reputation)
            }
        };
        Ok(AgentDetails {
            registry: agora_agents::agent_registry_id(client.chain_id(), registry),
            agent,
            indexed,
            reputation,
        })
    })
    .await
}

/// Something to say about an agent in the ERC-8004 Reputation Registry.
#[derive(Debug, Clone)]
pub enum FeedbackAction {
    /// Leave feedback.
    Give {
        /// The agent.
        agent: U256,
        /// The score, a fixed-point number with `decimals`.
        value: i128,
        /// Decimals of `value`.
        decimals: u8,
        /// First tag.
        tag1: String,
        /// Second tag.
        tag2: String,
        /// The endpoint the feedback is about.
        endpoint: String,
        /// A feedback file URI (empty: none); ignored when `receipt` is given.
        uri: String,
        /// A receipt of a paid call: the feedback file is built with proof of payment.
        receipt: Option<Box<agora_receipts::ReceiptEnvelope>>,
    },
    /// Revoke one's own feedback number `index`.
    Revoke {
        /// The agent.
        agent: U256,
        /// The feedback index.
        index: u64,
    },
    /// Answer feedback number `index` of `client` (as the agent).
    Respond {
        /// The agent.
        agent: U256,
        /// Who left the feedback.
        client: Address,
        /// The feedback index.
        index: u64,
        /// The response's URI.
        uri: String,
    },
}

/// Feedback sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackSent {
    /// The agent.
    pub agent: U256,
    /// Who sent it (the configured signer).
    pub rater: Address,
    /// The feedback's index, after `Give`.
    pub index: Option<u64>,
    /// The transaction.
    pub transaction: alloy::primitives::B256,
}

fn registry_refused(e: alloy::contract::Error) -> NodeError {
    use agora_contracts::bindings::ReputationRegistry::ReputationRegistryErrors;
    let reason = match e.as_decoded_interface_error::<ReputationRegistryErrors>() {
        Some(decoded) => format!("{decoded:?}"),
        None => e.to_string(),
    };
    NodeError::Missing(format!("the registry refused it: {reason}"))
}

/// Sends `action` to the Reputation Registry as the configured signer (`AGORA_PRIVATE_KEY` or a
/// keystore).
pub async fn feedback(config: &NodeConfig, action: FeedbackAction) -> Result<FeedbackSent> {
    use agora_contracts::bindings::ReputationRegistry;
    use alloy::primitives::{B256, keccak256};
    with_chain(config, |client, deployment| async move {
        let address = deployment
            .address_of(SuiteContract::ReputationRegistry)
            .ok_or_else(|| NodeError::Missing("no reputation registry on this chain".into()))?;
        let registry = ReputationRegistry::new(address, client.provider());
        let me = client.signer_address().ok_or_else(|| {
            NodeError::Missing("set AGORA_PRIVATE_KEY (or a keystore) to sign feedback".into())
        })?;
        let (agent, pending) = match &action {
            FeedbackAction::Give { agent, value, decimals, tag1, tag2, endpoint, uri, receipt } => {
                let (uri, hash) = match receipt {
                    Some(envelope) => {
                        let params = agora_agents::feedback::FeedbackParams {
                            registry_id: agora_agents::agent_registry_id(
                                client.chain_id(),
                                identity_registry(&deployment)?,
                            ),
                            agent: *agent,
                            client: me,
                            chain_id: client.chain_id(),
                            value: *value,
                            decimals: *decimals,
                        };
                        let now = u64::try_from(agora_store::now_ms() / 1000).unwrap_or_default();
                        agora_agents::feedback::FeedbackFile::paid(&params, envelope, now)?.to_data_uri()
                    }
                    None if uri.is_empty() => (String::new(), B256::ZERO),
                    None => (uri.clone(), keccak256(uri.as_bytes())),
                };
                let call = registry.giveFeedback(
                    *agent,
                    *value,
                    *decimals,
                    tag1.clone(),
                    tag2.clone(),
                    endpoint.clone(),
                    uri,
                    hash,
                );
                (*agent, call.send().await)
            }
            FeedbackAction::Revoke { agent, index } => {
                (*agent, registry.revokeFeedback(*agent, *index).send().await)
            }
            FeedbackAction::Respond { agent, client: rater, index, uri } => {
                let call =
                    registry.appendResponse(*agent, *rater, *index, uri.clone(), keccak256(uri.as_bytes()));
                (*agent, call.send().await)
            }
        };
        let receipt = pending.map_err(registry_refused)?.get_receipt().await.map_err(|e| {
            NodeError::Validation { step: "waiting for the feedback transaction", source: e.into() }
        })?;
        let index = match action {
            FeedbackAction::Give { .. } => {
                Some(registry.getLastIndex(agent, me).call().await.map_err(registry_refused)?)
            }
            FeedbackAction::Revoke { index, .. } | FeedbackAction::Respond { index, .. } => Some(index),
        };
        Ok(FeedbackSent { agent, rater: me, index, transaction: receipt.transaction_hash })
    })
    .await
}
