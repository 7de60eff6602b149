//! `agora feedback`: leave, revoke or answer feedback in the ERC-8004 Reputation Registry, as the
//! configured signer (`AGORA_PRIVATE_KEY` or a keystore).

use crate::cli::GlobalArgs;
use agora_node::ops::agents::{self as ops, FeedbackAction};
use agora_node::receipts::ReceiptEnvelope;
use alloy::primitives::{Address, U256};
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
    let action = match command {
        FeedbackCommand::Give { agent, value, decimals, tag1, tag2, endpoint, uri, receipt } => {
            let receipt = match receipt {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Some(Box::new(ReceiptEnvelope::from_json(&text)?))
                }
                None => None,
            };
            FeedbackAction::Give { agent, value, decimals, tag1, tag2, endpoint, uri, receipt }
        }
        FeedbackCommand::Revoke { agent, index } => FeedbackAction::Revoke { agent, index },
        FeedbackCommand::Respond { agent, client, index, uri } => {
            FeedbackAction::Respond { agent, client, index, uri }
        }
    };
    let line = match &action {
        FeedbackAction::Give { .. } => {
            let sent = ops::feedback(&config, action).await?;
            if global.json {
                return print_sent("give", &sent, None);
            }
            format!(
                "feedback #{} on agent {} from {} (tx {})",
                sent.index.unwrap_or_default(),
                sent.agent,
                sent.rater,
                sent.transaction
            )
        }
        FeedbackAction::Revoke { agent, index } => {
            let (agent, index) = (*agent, *index);
            let sent = ops::feedback(&config, action).await?;
            if global.json {
                return print_sent("revoke", &sent, Some(index));
            }
            format!("revoked feedback #{index} on agent {agent}")
        }
        FeedbackAction::Respond { agent, index, .. } => {
            let (agent, index) = (*agent, *index);
            let sent = ops::feedback(&config, action).await?;
            if global.json {
                return print_sent("respond", &sent, Some(index));
            }
            format!("responded to feedback #{index} on agent {agent}")
        }
    };
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

/// `--json`: what was sent, with the action and the feedback's index.
fn print_sent(action: &str, sent: &ops::FeedbackSent, index: Option<u64>) -> Result<()> {
    let mut value = serde_json::to_value(sent)?;
    value["action"] = action.into();
    if let Some(index) = index {
        value["index"] = index.into();
    }
    crate::cli::print_json(&value)
}
