//! `agora feedback`: leave, revoke or answer feedback in the ERC-8004 Reputation Registry, as the
//! configured signer (`AGORA_PRIVATE_KEY` or a keystore).

use crate::cli::GlobalArgs;
use agora_agents::feedback::{FeedbackFile, FeedbackParams};
use agora_contracts::{SuiteContract, bindings::ReputationRegistry};
use alloy::primitives::{Address, B256, U256, keccak256};
use anyhow::{Context, Result};
use clap::Subcommand;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub(crate) enum FeedbackCommand {
    /// Rate an agent: a signed fixed-point value (e.g. 87, or 9977 with --decimals 2).
    Give {
        /// The agent id.
        agent: U256,
        /// The value.
        #[arg(long, allow_hyphen_values = true)]
        value: i128,
        /// Decimals of the value (0..=18).
        #[arg(long, default_value_t = 0)]
        decimals: u8,
        /// First tag, e.g. starred, uptime, successRate.
        #[arg(long, default_value = "")]
        tag1: String,
        /// Second tag.
        #[arg(long, default_value = "")]
        tag2: String,
        /// The endpoint rated.
        #[arg(long, default_value = "")]
        endpoint: String,
        /// A file with details (its keccak256 is recorded).
        #[arg(long, default_value = "", conflicts_with = "receipt")]
        uri: String,
        /// The inference receipt of a paid call to this agent (a chat completion response or a
        /// receipt file): the feedback then carries it as proof of payment, in a feedback file
        /// put on chain as a data: URI.
        #[arg(long, value_name = "FILE")]
        receipt: Option<std::path::PathBuf>,
    },
    /// Revoke your feedback number INDEX on an agent.
    Revoke {
        /// The agent id.
        agent: U256,
        /// Your feedback index (1 = your first).
        index: u64,
    },
    /// Answer a feedback (anyone may: the agent, an auditor).
    Respond {
        /// The agent id.
        agent: U256,
        /// The client who gave the feedback.
        client: Address,
        /// The feedback index.
        index: u64,
        /// Where the response is.
        #[arg(long)]
        uri: String,
    },
}

pub(crate) async fn run(global: &GlobalArgs, command: FeedbackCommand) -> Result<()> {
    let config = global.resolve()?;
    let _lock = agora_node::DataDirLock::acquire(&config.data_dir)
        .context("`agora feedback` needs the data directory; stop the node using it first")?;
    let (devnet, client) = agora_node::open_chain(&config).await?;
    let result = send(&config, &client, command).await;
    if let Some(devnet) = devnet {
        devnet.stop().await;
    }
    let line = result?;
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

async fn send(
    config: &agora_node::NodeConfig,
    client: &agora_chain::ChainClient,
    command: FeedbackCommand,
) -> Result<String> {
    let deployment = agora_node::deploy_suite(config, client).await?;
    let address =
        deployment.address_of(SuiteContract::ReputationRegistry).context("no reputation registry")?;
    let registry = ReputationRegistry::new(address, client.provider());
    let me = client.signer_address().context("set AGORA_PRIVATE_KEY (or a keystore) to sign feedback")?;
    let pending = match &command {
        FeedbackCommand::Give { agent, value, decimals, tag1, tag2, endpoint, uri, receipt } => {
            let (uri, hash) = match receipt {
                Some(path) => {
                    let registry_id = agora_agents::agent_registry_id(
                        client.chain_id(),
                        deployment
                            .address_of(SuiteContract::IdentityRegistry)
                            .context("no identity registry")?,
                    );
                    let params = FeedbackParams {
                        registry_id,
                        agent: *agent,
                        client: me,
                        chain_id: client.chain_id(),
                        value: *value,
                        decimals: *decimals,
                    };
                    paid_feedback_file(path, &params)?
                }
                None if uri.is_empty() => (String::new(), B256::ZERO),
                None => (uri.clone(), keccak256(uri.as_bytes())),
            };
            registry
                .giveFeedback(
                    *agent,
                    *value,
                    *decimals,
                    tag1.clone(),
                    tag2.clone(),
                    endpoint.clone(),
                    uri,
                    hash,
                )
                .send()
                .await
        }
        FeedbackCommand::Revoke { agent, index } => registry.revokeFeedback(*agent, *index).send().await,
        FeedbackCommand::Respond { agent, client: rater, index, uri } => {
            registry
                .appendResponse(*agent, *rater, *index, uri.clone(), keccak256(uri.as_bytes()))
                .send()
                .await
        }
    };
    let receipt = pending
        .map_err(|e| anyhow::anyhow!("the registry refused it: {}", revert_reason(&e)))?
        .get_receipt()
        .await?;
    Ok(match command {
        FeedbackCommand::Give { agent, .. } => {
            let index = registry.getLastIndex(agent, me).call().await?;
            format!("feedback #{index} on agent {agent} from {me} (tx {})", receipt.transaction_hash)
        }
        FeedbackCommand::Revoke { agent, index } => format!("revoked feedback #{index} on agent {agent}"),
        FeedbackCommand::Respond { agent, index, .. } => {
            format!("responded to feedback #{index} on agent {agent}")
        }
    })
}

/// The feedback file of a paid call (see [`agora_agents::feedback`]) from the receipt file at
/// `path`, as a data: URI and its hash.
fn paid_feedback_file(path: &std::path::Path, params: &FeedbackParams) -> Result<(String, B256)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let envelope = agora_receipts::ReceiptEnvelope::from_json(&text)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    Ok(FeedbackFile::paid(params, &envelope, now)?.to_data_uri())
}

/// The custom error's name when the registry reverted with one of its errors.
fn revert_reason(e: &alloy::contract::Error) -> String {
    if let Some(decoded) = e.as_decoded_interface_error::<ReputationRegistry::ReputationRegistryErrors>() {
        return format!("{decoded:?}");
    }
    e.to_string()
}
