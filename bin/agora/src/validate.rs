//! `agora validate`: ask a validator to check an agent's work, answer as a validator by
//! re-executing the inference receipt, and read the result.

use crate::cli::GlobalArgs;
use agora_node::ops::chain as ops;
use agora_node::receipts::ReceiptEnvelope;
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
    let text = match command {
        ValidateCommand::Request { agent, validator, receipt } => {
            let json = std::fs::read_to_string(&receipt)
                .with_context(|| format!("cannot read {}", receipt.display()))?;
            let envelope = ReceiptEnvelope::from_json(&json)?;
            let sent = ops::request_validation(&config, agent, validator, &envelope).await?;
            if global.json {
                return crate::cli::print_json(&sent);
            }
            format!("requested validation of agent {agent} by {validator}\nrequest {}\n", sent.request)
        }
        ValidateCommand::Respond { hash } => {
            let answer = ops::respond_to_validation(&config, hash).await?;
            if global.json {
                return crate::cli::print_json(&answer);
            }
            format!("answered {} for agent {}: {}\n", answer.response, answer.agent, answer.reason)
        }
        ValidateCommand::Status { hash } => {
            let status = ops::validation_status(&config, hash).await?;
            if global.json {
                return crate::cli::print_json(&status);
            }
            format!(
                "request   {hash}\nagent     {}\nvalidator {}\nresponse  {}\ntag       {}\n",
                status.agent,
                status.validator,
                status.response.map_or("(not answered yet)".into(), |r| r.to_string()),
                status.tag
            )
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}
