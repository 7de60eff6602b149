//! `agora agent`: register this node's ERC-8004 agent, or look one up on chain.

use crate::cli::GlobalArgs;
use agora_node::ops::agents as ops;
use alloy::primitives::U256;
use anyhow::Result;
use clap::Subcommand;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Register this node's agent (or bring it up to date); running it twice changes nothing.
    Register,
    /// Show an agent: owner, wallet, URI, its registration file, and a reputation summary that
    /// counts only raters you trust.
    Show {
        /// The agent id (0 is a valid id).
        id: U256,
        /// A rater whose feedback counts (repeatable); others are left out and counted.
        #[arg(long, value_name = "ADDRESS")]
        trust: Vec<alloy::primitives::Address>,
    },
    /// List the agents found on chain (the discovery index is brought up to date first).
    List {
        /// Only agents offering this skill (an id or tag from their registration or card).
        #[arg(long)]
        skill: Option<String>,
        /// Only agents whose registration says they are active.
        #[arg(long)]
        active: bool,
    },
}

pub(crate) async fn run(global: &GlobalArgs, command: AgentCommand) -> Result<()> {
    let config = global.resolve()?;
    let mut out = std::io::stdout().lock();
    match command {
        AgentCommand::Register => {
            let r = ops::register(&config).await?;
            if global.json {
                return crate::cli::print_json(&r);
            }
            writeln!(out, "agent {} on {}", r.agent_id, r.registry)?;
            writeln!(out, "wallet {}", r.wallet)?;
            writeln!(out, "uri {}", shorten(&r.uri))?;
            writeln!(out, "{}", r.action)?;
        }
        AgentCommand::List { skill, active } => {
            let agents = ops::list(&config, skill.as_deref(), active).await?;
            if global.json {
                crate::cli::print_json(&agents)?;
            } else if agents.is_empty() {
                writeln!(out, "no agents found")?;
            } else {
                for a in agents {
                    writeln!(
                        out,
                        "{:>6}  {:<24} {:<7} {}",
                        a.agent_id,
                        a.name.as_deref().unwrap_or("(unresolved)"),
                        if a.active == Some(true) { "active" } else { "" },
                        a.skills.join(",")
                    )?;
                }
            }
        }
        AgentCommand::Show { id, trust } => {
            let details = ops::show(&config, id, &trust).await?;
            if global.json {
                crate::cli::print_json(&details)?;
            } else {
                print_details(&mut out, &details)?;
            }
        }
    }
    Ok(())
}

fn print_details(out: &mut impl Write, details: &ops::AgentDetails) -> Result<()> {
    let (record, summary, indexed) = (&details.agent, &details.reputation, &details.indexed);
    writeln!(out, "agent   {} on {}", record.agent_id, details.registry)?;
    writeln!(out, "owner   {}", record.owner)?;
    writeln!(out, "wallet  {}", record.wallet)?;
    writeln!(out, "uri     {}", shorten(&record.uri))?;
    let fetched = indexed.as_ref().and_then(|a| a.registration.as_ref());
    if let Some(a) = indexed
        && let Some(error) = &a.fetch_error
    {
        writeln!(out, "file    not resolved: {error}")?;
    }
    if let Some(file) = record.registration.as_ref().or(fetched) {
        writeln!(out, "name    {}", file["name"].as_str().unwrap_or("?"))?;
        writeln!(out, "about   {}", file["description"].as_str().unwrap_or("?"))?;
        for service in file["services"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "service {} {}",
                service["name"].as_str().unwrap_or("?"),
                service["endpoint"].as_str().unwrap_or("?")
            )?;
        }
    }
    if let Some(a) = indexed
        && !a.skills.is_empty()
    {
        writeln!(out, "skills  {}", a.skills.join(", "))?;
    }
    match &summary.average {
        Some(avg) => writeln!(
            out,
            "rating  {avg} over {} feedback from {} trusted rater(s)",
            summary.count, summary.trusted_raters
        )?,
        None => writeln!(out, "rating  none from trusted raters")?,
    }
    if summary.untrusted_raters_left_out > 0 {
        writeln!(
            out,
            "        {} rater(s) left out: not trusted (pass --trust ADDRESS to count one)",
            summary.untrusted_raters_left_out
        )?;
    }
    Ok(())
}

fn shorten(uri: &str) -> String {
    if uri.len() > 96 { format!("{}… ({} bytes)", &uri[..80], uri.len()) } else { uri.to_owned() }
}
