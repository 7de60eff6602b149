//! The node's side of the router (the policy, the catalog and the checks are
//! [`agora_router`]'s): building it from the configuration, re-executing a sample of remote
//! answers on the local engine, and reporting a provider caught cheating on chain.

use crate::{NodeConfig, api::AppState};
use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::SuiteContract;
use agora_router::{Answer, Pay, Privacy, Router, RouterConfig};
use agora_store::Store;
use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use std::sync::Arc;

/// The router of a node on a chain: remote calls are paid from the node key under the policy's
/// mandate (or with the node's anonymous credits); the chain signer, which posts the node's
/// feedback, is a trusted rater.
pub(crate) fn build(
    config: &NodeConfig,
    store: &Arc<Store>,
    chain: &ChainClient,
    own_agent: Option<U256>,
    node_key: &PrivateKeySigner,
) -> Arc<Router> {
    let mut policy = config.router.clone();
    if let Some(signer) = chain.signer_address()
        && !policy.trusted_raters.contains(&signer)
    {
        policy.trusted_raters.push(signer);
    }
    let pay = match policy.privacy {
        Privacy::Open => Some(Pay::Open(Arc::new(agora_pay::Payer::new(
            node_key.clone(),
            Arc::clone(store),
            agora_pay::PayerConfig {
                mandate: policy.mandate.clone(),
                prefer: agora_pay::Prefer::Auto,
                channel_deposit: 0,
                expected_calls: 1,
            },
        )))),
        Privacy::Anonymous => {
            Some(Pay::Anonymous(Arc::new(agora_pay::CreditPayer::new(Arc::clone(store), chain.clone()))))
        }
        Privacy::LocalOnly => None,
    };
    tracing::info!(
        target: "agora::router",
        privacy = policy.privacy.as_str(),
        recheck_percent = policy.recheck_percent,
        mandate = %policy.mandate,
        "routing models not served here to providers found on chain"
    );
    Arc::new(Router::new(RouterConfig {
        policy,
        store: Arc::clone(store),
        chain_id: chain.chain_id(),
        own_agent: own_agent.map(|id| id.to_string()),
        pay,
        allow_private_endpoints: agora_chain::is_dev_chain(chain.chain_id()),
    }))
}

/// Re-executes `answer` on the local model with the same file, if one is served here and the
/// answer falls in the policy's sample; a mismatch marks the provider and posts negative
/// feedback with the evidence. Runs in the background: the owner has the answer already.
/// Returns whether a re-execution was started.
pub(crate) async fn maybe_recheck(state: &AppState, router: &Arc<Router>, answer: &Answer) -> bool {
    if !router.should_recheck() {
        return false;
    }
    let Some(models) = state.models() else { return false };
    let sha = &answer.model.sha256;
    let Some(info) = models.infos().await.into_iter().find(|i| &i.sha256 == sha) else { return false };
    let Ok(service) = models.get(&info.id).await else { return false };
    let engine = service.shared_engine();
    let (router, answer, state) = (Arc::clone(router), answer.clone(), state.clone());
    tokio::spawn(async move {
        let envelope = answer.receipt.clone();
        let checked =
            tokio::task::spawn_blocking(move || agora_receipts::reexecute(&envelope, &engine)).await;
        let reexecution = match checked {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(target: "agora::router", agent = %answer.provider.agent_id, "re-execution could not run: {e}");
                return;
            }
            Err(e) => {
                tracing::error!(target: "agora::router", "re-execution panicked: {e}");
                return;
            }
        };
        let agent = &answer.provider.agent_id;
        let Some(at) = reexecution.first_divergence else {
            tracing::info!(target: "agora::router", agent = %agent, ms = reexecution.time.as_millis() as u64, "re-execution matched");
            return;
        };
        let reason = format!("re-execution diverged at token {at} of {}", answer.receipt.output.tokens.len());
        let evidence = serde_json::json!({
            "receipt": answer.receipt,
            "reexecutedTokens": reexecution.tokens,
            "firstDivergence": at,
        });
        router.mark(agent, &reason, &evidence.to_string());
        if let Err(e) = report(&state, &answer).await {
            tracing::warn!(target: "agora::router", agent = %agent, "negative feedback could not be posted: {e}");
        }
    });
    true
}

/// Posts negative ERC-8004 feedback on the provider of `answer`, with its receipt and the proof
/// of payment in the feedback file.
async fn report(state: &AppState, answer: &Answer) -> Result<alloy::primitives::B256, String> {
    use agora_contracts::bindings::ReputationRegistry;
    let (client, deployment) = state.chain().ok_or("no chain")?;
    let (identity, reputation) = registries(deployment).ok_or("no ERC-8004 registries on this chain")?;
    let rater = client.signer_address().ok_or("the node has no chain signer to post feedback with")?;
    let agent: U256 = answer.provider.agent_id.parse().map_err(|_| "not a numeric agent id")?;
    let params = agora_agents::feedback::FeedbackParams {
        registry_id: agora_agents::agent_registry_id(client.chain_id(), identity),
        agent,
        client: rater,
        chain_id: client.chain_id(),
        value: -100,
        decimals: 0,
    };
    let now = u64::try_from(agora_store::now_ms() / 1000).unwrap_or_default();
    let file = agora_agents::feedback::FeedbackFile::paid(&params, &answer.receipt, now)
        .map_err(|e| e.to_string())?;
    let (uri, hash) = file.to_data_uri();
    let registry = ReputationRegistry::new(reputation, client.provider());
    let pending = registry
        .giveFeedback(
            agent,
            -100,
            0,
            "reexecution".into(),
            "mismatch".into(),
            answer.provider.endpoint.clone(),
            uri,
            hash,
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let receipt = pending.get_receipt().await.map_err(|e| e.to_string())?;
    tracing::warn!(
        target: "agora::router",
        agent = %answer.provider.agent_id,
        tx = %receipt.transaction_hash,
        "negative feedback posted: a re-executed answer did not match its receipt"
    );
    Ok(receipt.transaction_hash)
}

fn registries(
    deployment: &ChainDeployment,
) -> Option<(alloy::primitives::Address, alloy::primitives::Address)> {
    Some((
        deployment.address_of(SuiteContract::IdentityRegistry)?,
        deployment.address_of(SuiteContract::ReputationRegistry)?,
    ))
}
