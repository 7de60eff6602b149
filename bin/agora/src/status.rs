//! `agora status`: one page about the running node, asked over its API.

use crate::cli::GlobalArgs;
use crate::units::{in_unit, money, raw};
use agora_node::chain::units::{ETHER, duration, format_units};
use anyhow::Result;
use serde_json::Value;
use std::io::Write;

pub(crate) async fn run(global: &GlobalArgs) -> Result<()> {
    let config = global.resolve()?;
    let status = agora_node::ops::status::status(&config).await?;
    if global.json {
        crate::cli::print_json(&status)?;
    } else {
        print(&mut std::io::stdout().lock(), &status)?;
    }
    if !status.healthy {
        anyhow::bail!("the node at {} is unhealthy", status.base);
    }
    Ok(())
}

fn print(out: &mut impl Write, status: &agora_node::ops::status::NodeStatus) -> Result<()> {
    let (base, health, deployments, report) =
        (&status.base, &status.health, &status.deployments, &status.report);
    writeln!(out, "node      {base} (agora {}), up {}", report.version, duration(report.uptime_secs))?;
    if !status.healthy {
        writeln!(
            out,
            "health    {}: {}",
            status.health_status,
            health["error"]["message"].as_str().unwrap_or("?")
        )?;
    }
    match &report.chain {
        Some(chain) => {
            writeln!(out, "chain     {} at block {} ({})", chain.chain_id, chain.block, chain.rpc_url)?
        }
        None => writeln!(out, "chain     none (agora serve: inference only)")?,
    }
    match &report.agent {
        Some(agent) => {
            writeln!(out, "agent     {} {:?} on {}", agent.agent_id, agent.name, agent.registry)?;
            if let Some(card) = &agent.card_url {
                writeln!(out, "          card {card}")?;
            }
        }
        None if report.chain.is_some() => writeln!(out, "agent     not registered (agora agent register)")?,
        None => {}
    }
    writeln!(out, "api       {base}/v1 (OpenAI), {base}/api (Ollama)")?;
    match &report.paid_url {
        Some(url) => writeln!(out, "paid      {url}/v1/chat/completions and A2A under {url}/v1 (x402)")?,
        None => writeln!(out, "paid      off")?,
    }
    if let Some(key) = health["nodeKey"].as_object() {
        let waiting = key["waiting"].as_u64().unwrap_or(0);
        let state = match key.get("stuckSecs").and_then(Value::as_u64) {
            Some(secs) => format!(
                "STUCK: {waiting} transaction(s) waiting, none mined for {secs}s; settlements queue behind them"
            ),
            None if waiting > 0 => format!("{waiting} transaction(s) waiting to be mined"),
            None => "no transactions waiting".to_owned(),
        };
        writeln!(
            out,
            "node key  {} nonce {}, {state}",
            key["address"].as_str().unwrap_or("?"),
            key["mined"].as_u64().unwrap_or(0)
        )?;
    } else if let Some(key) = report.node_key {
        writeln!(out, "node key  {key}")?;
    }
    if !report.balances.is_empty() {
        let balances: Vec<String> = report
            .balances
            .iter()
            .map(|b| match b.token {
                None => in_unit(ETHER, b.amount),
                Some(_) if raw() => b.amount.to_string(),
                Some(_) => format_units(b.amount, b.decimals, &b.symbol),
            })
            .collect();
        writeln!(out, "balance   {}", balances.join(", "))?;
    }
    if let Some(e) = &report.earnings {
        writeln!(
            out,
            "earned    {} over {} call(s) in {} channel(s), {} claimed; {} settled with exact",
            money(e.charged),
            e.calls,
            e.channels,
            money(e.claimed),
            money(e.exact_settled)
        )?;
    }
    let p = &report.paying;
    if p.channels > 0 {
        writeln!(
            out,
            "paying    {} channel(s): {} deposited, {} charged (agora channel status)",
            p.channels,
            money(p.deposited),
            money(p.charged)
        )?;
    } else {
        writeln!(out, "paying    no channels")?;
    }
    let models: Vec<String> = report
        .models
        .iter()
        .map(|m| format!("{}{}", m.id, if m.loaded { " (loaded)" } else { "" }))
        .collect();
    writeln!(out, "models    {}", if models.is_empty() { "none".to_owned() } else { models.join(", ") })?;
    if let Some(r) = &report.router {
        let marked = if r.marked > 0 { format!(" ({} marked as cheating)", r.marked) } else { String::new() };
        writeln!(
            out,
            "router    {base}/v1 routes auto, remote and agent:<id>/<model>: {} provider(s){marked}, privacy {}, paid under mandate {:?}",
            r.providers, r.privacy, r.mandate
        )?;
    }
    if let Some(g) = &report.guard {
        writeln!(
            out,
            "guard     {base}/guard/check; lists: {} contact(s), {} allowed, {} blocked (agora guard list)",
            g.contacts, g.allowed, g.blocked
        )?;
    }
    if let Some(contracts) = deployments["contracts"].as_object() {
        for (name, contract) in contracts {
            writeln!(out, "contract  {name:<18} {}", contract["address"].as_str().unwrap_or("?"))?;
        }
    }
    Ok(())
}
