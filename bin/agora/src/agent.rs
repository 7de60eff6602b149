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
    /// Show an agent: owner, wallet, URI and its registration file.
    Show {
        /// The agent id (0 is a valid id).
        id: U256,
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
            let key = format!("agent.{}.{registry}", client.chain_id());
            let known = store.setting(&key)?.and_then(|v| v.parse::<U256>().ok());
            let result =
                agora_agents::ensure_registered(client, registry, &state.profile, known, &node_key).await?;
            store.set_setting(&key, &result.agent_id.to_string())?;
            writeln!(
                out,
                "agent {} on {}",
                result.agent_id,
                agora_agents::agent_registry_id(client.chain_id(), registry)
            )?;
            writeln!(out, "wallet {}", node_key.address())?;
            writeln!(out, "uri {}", shorten(&result.uri))?;
            let what = match (result.registered, result.uri_updated, result.wallet_set) {
                (true, _, _) => "registered",
                (false, false, false) => "unchanged",
                _ => "updated",
            };
            writeln!(out, "{what}")?;
        }
        AgentCommand::Show { id, json } => {
            let record = agora_agents::read_agent(client, registry, id).await?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&record)?)?;
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
                if let Some(file) = &record.registration {
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
            }
        }
    }
    Ok(())
}

fn shorten(uri: &str) -> String {
    if uri.len() > 96 { format!("{}… ({} bytes)", &uri[..80], uri.len()) } else { uri.to_owned() }
}
