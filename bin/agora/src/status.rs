//! `agora status`: asks a running node over its API and reports.

use crate::cli::{GlobalArgs, StatusArgs};
use anyhow::{Context, Result};
use serde_json::Value;
use std::{io::Write, time::Duration};

pub(crate) async fn run(global: &GlobalArgs, args: StatusArgs) -> Result<()> {
    let config = global.resolve()?;
    let base = format!("http://{}", config.api_listen);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let get = |path: &'static str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let response = client.get(&url).send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
    };
    let (health_status, health) = get("/health").await.with_context(|| {
        format!("no agora node answers at {base}; start one with `agora up` (or pass --listen ADDR)")
    })?;
    let (_, version) = get("/version").await.context("reading /version")?;
    let (_, deployments) = get("/deployments").await.context("reading /deployments")?;

    let mut out = std::io::stdout().lock();
    if args.json {
        let all = serde_json::json!({ "health": health, "version": version, "deployments": deployments });
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
    } else {
        writeln!(out, "node      {base} (agora {})", version["version"].as_str().unwrap_or("?"))?;
        if health_status.is_success() {
            writeln!(
                out,
                "health    ok, chain {} at block {}, up {}s",
                health["chainId"], health["blockNumber"], health["uptimeSecs"]
            )?;
        } else {
            writeln!(
                out,
                "health    {health_status}: {}",
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
    if !health_status.is_success() {
        anyhow::bail!("the node at {base} is unhealthy");
    }
    Ok(())
}
