//! `agora status`: asks a running node over its API and reports.

use crate::cli::{GlobalArgs, StatusArgs};
use anyhow::Result;
use serde_json::Value;
use std::io::Write;

pub(crate) async fn run(global: &GlobalArgs, args: StatusArgs) -> Result<()> {
    let config = global.resolve()?;
    let status = agora_node::ops::status::status(&config).await?;
    let (base, health, version, deployments) =
        (&status.base, &status.health, &status.version, &status.deployments);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
    } else {
        writeln!(out, "node      {base} (agora {})", version["version"].as_str().unwrap_or("?"))?;
        if status.healthy {
            writeln!(
                out,
                "health    ok, chain {} at block {}, up {}s",
                health["chainId"], health["blockNumber"], health["uptimeSecs"]
            )?;
        } else {
            writeln!(
                out,
                "health    {}: {}",
                status.health_status,
                health["error"]["message"].as_str().unwrap_or("?")
            )?;
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
        }
        if let Some(contracts) = deployments["contracts"].as_object() {
            for (name, contract) in contracts {
                writeln!(out, "contract  {name:<16} {}", contract["address"].as_str().unwrap_or("?"))?;
            }
        }
    }
    if !status.healthy {
        anyhow::bail!("the node at {base} is unhealthy");
    }
    Ok(())
}
