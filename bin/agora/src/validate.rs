//! `agora validate`: ask a validator to check an agent's work, answer as a validator by
//! re-executing the inference receipt, and read the result.

use crate::cli::GlobalArgs;
use agora_agents::validation;
use agora_contracts::{SuiteContract, bindings::ValidationRegistry};
use agora_receipts::ReceiptEnvelope;
use alloy::primitives::{Address, B256, U256};
use anyhow::{Context, Result};
use clap::Subcommand;
use std::{io::Write, path::PathBuf};

#[derive(Debug, Subcommand)]
pub(crate) enum ValidateCommand {
    /// As the agent's owner: ask VALIDATOR to check the work proven by a receipt file (a saved
    /// chat completion response, or the receipt itself).
    Request {
        /// The agent id.
        #[arg(long)]
        agent: U256,
        /// The validator's address (not the agent's owner, operator or wallet).
        #[arg(long)]
        validator: Address,
        /// The receipt file.
        #[arg(long)]
        receipt: PathBuf,
    },
    /// As the validator: fetch the request, re-execute its receipt with the local model, and
    /// answer 100 (identical, signed by the agent's wallet) or 0.
    Respond {
        /// The request hash.
        hash: B256,
    },
    /// Show a request's status.
    Status {
        /// The request hash.
        hash: B256,
    },
}

pub(crate) async fn run(global: &GlobalArgs, command: ValidateCommand) -> Result<()> {
    let config = global.resolve()?;
    let _lock = agora_node::DataDirLock::acquire(&config.data_dir)
        .context("`agora validate` needs the data directory; stop the node using it first")?;
    let (devnet, client) = agora_node::open_chain(&config).await?;
    let result = on_chain(&config, &client, command).await;
    if let Some(devnet) = devnet {
        devnet.stop().await;
    }
    let text = result?;
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

async fn on_chain(
    config: &agora_node::NodeConfig,
    client: &agora_chain::ChainClient,
    command: ValidateCommand,
) -> Result<String> {
    let deployment = agora_node::deploy_suite(config, client).await?;
    let registry =
        deployment.address_of(SuiteContract::ValidationRegistry).context("no validation registry")?;
    let identity = deployment.address_of(SuiteContract::IdentityRegistry).context("no identity registry")?;
    match command {
        ValidateCommand::Request { agent, validator, receipt } => {
            let json = std::fs::read_to_string(&receipt)
                .with_context(|| format!("cannot read {}", receipt.display()))?;
            let envelope = ReceiptEnvelope::from_json(&json)?;
            envelope.verify().context("the receipt does not verify; a validator would answer 0")?;
            let file = validation::request_file(
                agent,
                &agora_agents::agent_registry_id(client.chain_id(), identity),
                &envelope,
            );
            let hash = validation::request(client, registry, validator, agent, &file).await?;
            Ok(format!("requested validation of agent {agent} by {validator}\nrequest {hash}\n"))
        }
        ValidateCommand::Respond { hash } => {
            let from = deployment
                .contracts
                .get(SuiteContract::ValidationRegistry.name())
                .map_or(0, |c| c.block_number);
            let uri = validation::find_request_uri(client, registry, hash, from).await?;
            let (agent, envelope) = validation::open_request(&uri, hash)?;
            let engine = agora_node::load_engine(&config.inference)
                .await?
                .context("re-execution needs the model: run `make setup`, or pass --model FILE")?;
            let job = envelope.clone();
            let reexecuted =
                tokio::task::spawn_blocking(move || agora_receipts::reexecute(&job, &engine)).await?;
            let verdict = validation::judge(client, identity, agent, &envelope, reexecuted).await?;
            validation::respond(client, registry, hash, &verdict).await?;
            Ok(format!("answered {} for agent {agent}: {}\n", verdict.response, verdict.reason))
        }
        ValidateCommand::Status { hash } => {
            let status = ValidationRegistry::new(registry, client.provider())
                .getValidationStatus(hash)
                .call()
                .await
                .map_err(|e| anyhow::anyhow!("no such request: {e}"))?;
            let answered =
                ValidationRegistry::new(registry, client.provider()).hasResponse(hash).call().await?;
            Ok(format!(
                "request   {hash}\nagent     {}\nvalidator {}\nresponse  {}\ntag       {}\n",
                status.agentId,
                status.validatorAddress,
                if answered { status.response.to_string() } else { "(not answered yet)".into() },
                status.tag
            ))
        }
    }
}
