//! `agora agent`: register this node's ERC-8004 agent, or look one up on chain.

use crate::cli::GlobalArgs;
use agora_contracts::SuiteContract;
use alloy::primitives::U256;
use anyhow::{Context, Result};
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the agents found on chain (the discovery index is brought up to date first).
    List {
        /// Only agents offering this skill (an id or tag from their registration or card).
        #[arg(long)]
        skill: Option<String>,
        /// Only agents whose registration says they are active.
        #[arg(long)]
        active: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(global: &GlobalArgs, command: AgentCommand) -> Result<()> {
    let config = global.resolve()?;
    let _lock = agora_node::DataDirLock::acquire(&config.data_dir).context(
        "`agora agent` needs the data directory; stop the node using it first, or ask the node's API",
    )?;
    let (devnet, client) = agora_node::open_chain(&config).await?;
    let result = run_on_chain(&config, &client, command).await;
    if let Some(devnet) = devnet {
        devnet.stop().await;
    }
    result
}

async fn run_on_chain(
    config: &agora_node::NodeConfig,
    client: &agora_chain::ChainClient,
    command: AgentCommand,
) -> Result<()> {
    let deployment = agora_node::deploy_suite(config, client).await?;
    let registry = deployment
        .address_of(SuiteContract::IdentityRegistry)
        .context("no identity registry on this chain")?;
    let mut out = std::io::stdout().lock();
    match command {
        AgentCommand::Register => {
            let store = agora_store::Store::open_in(&config.data_dir)?;
            let node_key = agora_node::node_key::load_or_create(&config.data_dir)?;
            // The same profile `agora up` would register: the configured model, and on the local
            // devnet the API address as the public URL.
            let model = config
                .inference
                .model
                .as_ref()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned());
            let local =
                matches!(config.chain, agora_node::ChainTarget::Devnet(_)).then_some(config.api_listen);
            let state = agora_node::agent_profile(config, model.as_deref(), local);
            let result =
                agora_agents::register_remembered(client, &store, registry, &state.profile, &node_key)
                    .await?;
            writeln!(
                out,
                "agent {} on {}",
                result.agent_id,
                agora_agents::agent_registry_id(client.chain_id(), registry)
            )?;
            writeln!(out, "wallet {}", node_key.address())?;
            writeln!(out, "uri {}", shorten(&result.uri))?;
            writeln!(out, "{}", result.action())?;
        }
        AgentCommand::List { skill, active, json } => {
            let store = sync_index(config, client, &deployment).await?;
            let agents = agora_agents::list_agents(&store, client.chain_id(), skill.as_deref(), active)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&agents)?)?;
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
        AgentCommand::Show { id, trust, json } => {
            let record = agora_agents::read_agent(client, registry, id).await?;
            let store = sync_index(config, client, &deployment).await?;
            let summary = agora_agents::trusted_summary(&store, client.chain_id(), &id.to_string(), &trust)?;
            if json {
                let all = serde_json::json!({ "agent": record, "reputation": summary });
                writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
            } else {
                writeln!(
                    out,
                    "agent   {} on {}",
                    record.agent_id,
                    agora_agents::agent_registry_id(client.chain_id(), registry)
                )?;
                writeln!(out, "owner   {}", record.owner)?;
                writeln!(out, "wallet  {}", record.wallet)?;
                writeln!(out, "uri     {}", shorten(&record.uri))?;
                let indexed = agora_agents::list_agents(&store, client.chain_id(), None, false)?
                    .into_iter()
                    .find(|a| a.agent_id == id.to_string());
                let fetched = indexed.as_ref().and_then(|a| a.registration.as_ref());
                if let Some(a) = &indexed
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
                if let Some(a) = &indexed
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
            }
        }
    }
    Ok(())
}

/// Brings the node's discovery index up to date and returns its store.
async fn sync_index(
    config: &agora_node::NodeConfig,
    client: &agora_chain::ChainClient,
    deployment: &agora_chain::ChainDeployment,
) -> Result<std::sync::Arc<agora_store::Store>> {
    let store = std::sync::Arc::new(agora_store::Store::open_in(&config.data_dir)?);
    let local = matches!(config.chain, agora_node::ChainTarget::Devnet(_));
    if let Some(indexer) =
        agora_node::discovery_indexer(client, deployment, std::sync::Arc::clone(&store), local)
    {
        let report = indexer.sync().await?;
        tracing::info!(target: "agora::index", events = report.events, skipped = report.skipped, "index up to date");
    }
    Ok(store)
}

fn shorten(uri: &str) -> String {
    if uri.len() > 96 { format!("{}… ({} bytes)", &uri[..80], uri.len()) } else { uri.to_owned() }
}
