//! `agora bench index`: loads a fresh devnet with many registrations and feedbacks, then times
//! the discovery index catching up, its store size and `agent list --skill` latency, and
//! reports the registries' gas per call.

use crate::cli::GlobalArgs;
use agora_chain::{ChainClient, Devnet};
use agora_contracts::{
    SuiteContract,
    bindings::{BulkAgents, IdentityRegistry, ReputationRegistry, ValidationRegistry},
};
use alloy::{
    network::TransactionBuilder,
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use std::{io::Write, sync::Arc, time::Instant};

#[derive(Debug, Args)]
pub(crate) struct IndexArgs {
    /// Agents to register.
    #[arg(long, default_value_t = 10_000)]
    agents: u64,
    /// Feedbacks to leave.
    #[arg(long, default_value_t = 100_000)]
    feedback: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

const AGENTS_PER_TX: u64 = 100;
const FEEDBACK_PER_TX: u64 = 100;

#[allow(clippy::print_stderr)]
fn progress(message: &str) {
    eprintln!("bench: {message}");
}

pub(crate) async fn run(global: &GlobalArgs, args: IndexArgs) -> Result<()> {
    let config = global.resolve()?;
    let devnet = crate::bench::scratch_devnet(&config).await?;
    let result = measure(&devnet, &args).await;
    devnet.stop().await;
    let report = result?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        let r = &report;
        writeln!(out, "{} agents, {} feedbacks on a fresh devnet", r["agents"], r["feedback"])?;
        writeln!(out, "load (sending the transactions)  {:.1} s", r["load_secs"].as_f64().unwrap_or(0.0))?;
        writeln!(out, "index catch-up                   {:.2} s", r["index_secs"].as_f64().unwrap_or(0.0))?;
        writeln!(
            out,
            "events indexed                   {} ({:.0} events/s)",
            r["events"],
            r["events_per_sec"].as_f64().unwrap_or(0.0)
        )?;
        writeln!(
            out,
            "  of which eth_getLogs            {:.2} s; the index's own work {:.2} s ({:.0} events/s)",
            r["rpc_secs"].as_f64().unwrap_or(0.0),
            r["own_secs"].as_f64().unwrap_or(0.0),
            r["own_events_per_sec"].as_f64().unwrap_or(0.0)
        )?;
        writeln!(out, "store size                       {:.1} MiB", r["store_mib"].as_f64().unwrap_or(0.0))?;
        writeln!(
            out,
            "agent list --skill (p50, {} hits) {:.2} ms",
            r["skill_hits"],
            r["list_skill_ms_p50"].as_f64().unwrap_or(0.0)
        )?;
        writeln!(out, "gas: register(string)            {}", r["gas"]["register"])?;
        writeln!(out, "gas: giveFeedback                {}", r["gas"]["giveFeedback"])?;
        writeln!(out, "gas: validationRequest           {}", r["gas"]["validationRequest"])?;
        writeln!(out, "gas: validationResponse          {}", r["gas"]["validationResponse"])?;
    }
    Ok(())
}

async fn measure(devnet: &Devnet, args: &IndexArgs) -> Result<serde_json::Value> {
    let deployer = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await?;
    let dir = tempfile::tempdir()?;
    let deployment =
        agora_chain::ensure_deployed(&deployer, &dir.path().join("deployments.json"), |_, _, _| {}).await?;
    let identity = deployment.address_of(SuiteContract::IdentityRegistry).context("identity")?;
    let reputation = deployment.address_of(SuiteContract::ReputationRegistry).context("reputation")?;
    let validation = deployment.address_of(SuiteContract::ValidationRegistry).context("validation")?;

    // Gas of single calls, each from its own account.
    let owner = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(1)).await?;
    let rater = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(2)).await?;
    let validator = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(3)).await?;
    let uri = "data:application/json,{}".to_owned();
    let register =
        IdentityRegistry::new(identity, owner.provider()).register_2(uri).send().await?.get_receipt().await?;
    let feedback = ReputationRegistry::new(reputation, rater.provider())
        .giveFeedback(
            U256::ZERO,
            87,
            0,
            "starred".into(),
            String::new(),
            String::new(),
            String::new(),
            B256::ZERO,
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    let hash = B256::repeat_byte(7);
    let request = ValidationRegistry::new(validation, owner.provider())
        .validationRequest(
            validator.signer_address().context("validator")?,
            U256::ZERO,
            "data:,".into(),
            hash,
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    let response = ValidationRegistry::new(validation, validator.provider())
        .validationResponse(hash, 100, String::new(), B256::ZERO, "reexecution".into())
        .send()
        .await?
        .get_receipt()
        .await?;

    // Bulk load through a helper contract.
    let started = Instant::now();
    let bulk = BulkAgents::deploy(deployer.provider()).await?;
    // Feedback comes from a second helper: the first owns the agents, and self-feedback is refused.
    let raters = BulkAgents::deploy(deployer.provider()).await?;
    let me = deployer.signer_address().context("deployer")?;
    let mut nonce = deployer.provider().get_transaction_count(me).await?;
    let mut pending = Vec::new();
    let mut remaining = args.agents.saturating_sub(1);
    while remaining > 0 {
        let n = remaining.min(AGENTS_PER_TX);
        let call = bulk.registerMany(identity, U256::from(n), U256::from(10)).into_transaction_request();
        pending.push(send(&deployer, &mut nonce, call).await?);
        remaining -= n;
    }
    wait_all(&deployer, pending).await?;
    progress(&format!("registered {} agents", args.agents));
    let mut pending = Vec::new();
    let mut remaining = args.feedback.saturating_sub(1);
    while remaining > 0 {
        let n = remaining.min(FEEDBACK_PER_TX);
        let call = raters
            .feedbackMany(reputation, U256::ZERO, U256::from(args.agents.max(1)), U256::from(n))
            .into_transaction_request();
        pending.push(send(&deployer, &mut nonce, call).await?);
        remaining -= n;
        if pending.len() >= 50 {
            wait_all(&deployer, std::mem::take(&mut pending)).await?;
            progress(&format!("{} feedbacks left", remaining));
        }
    }
    wait_all(&deployer, pending).await?;
    let load_secs = started.elapsed().as_secs_f64();
    progress(&format!("loaded in {load_secs:.1} s; indexing"));

    let store = Arc::new(agora_store::Store::open_in(dir.path())?);
    let indexer =
        agora_node::discovery_indexer(&deployer, &deployment, Arc::clone(&store), true).context("indexer")?;
    let started = Instant::now();
    let report = indexer.sync().await?;
    let index_secs = started.elapsed().as_secs_f64();
    let store_bytes: u64 = ["agora.db", "agora.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    let mut samples = Vec::new();
    let mut hits = 0;
    for _ in 0..21 {
        let t = Instant::now();
        hits = agora_agents::list_agents(&store, deployer.chain_id(), Some("translation"), false)?.len();
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    Ok(json!({
        "agents": args.agents,
        "feedback": args.feedback,
        "load_secs": load_secs,
        "index_secs": index_secs,
        "events": report.events,
        "events_per_sec": report.events as f64 / index_secs,
        "rpc_secs": report.rpc_time.as_secs_f64(),
        "own_secs": report.index_time.as_secs_f64(),
        "own_events_per_sec": report.events as f64 / report.index_time.as_secs_f64(),
        "store_mib": store_bytes as f64 / (1024.0 * 1024.0),
        "skill_hits": hits,
        "list_skill_ms_p50": samples[samples.len() / 2],
        "gas": {
            "register": register.gas_used,
            "giveFeedback": feedback.gas_used,
            "validationRequest": request.gas_used,
            "validationResponse": response.gas_used,
        },
    }))
}

/// Sends a bulk transaction with the next of our own nonces: the default nonce filler asks the
/// node for each one, and rapid sends can race it into reusing a nonce.
async fn send(client: &ChainClient, nonce: &mut u64, tx: TransactionRequest) -> Result<B256> {
    let tx = tx.with_nonce(*nonce);
    *nonce += 1;
    // Full blocks raise the base fee block after block; a generous fixed cap keeps every bulk
    // transaction minable instead of stranding it in the pool.
    let tx = tx
        .with_gas_limit(29_000_000)
        .with_max_fee_per_gas(1_000_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000);
    Ok(*client.provider().send_transaction(tx).await?.tx_hash())
}

async fn wait_all(client: &ChainClient, hashes: Vec<B256>) -> Result<()> {
    for hash in hashes {
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        loop {
            anyhow::ensure!(Instant::now() < deadline, "bulk transaction {hash} was not mined within 60 s");
            if let Some(receipt) = client.provider().get_transaction_receipt(hash).await? {
                anyhow::ensure!(receipt.status(), "bulk transaction {hash} reverted");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    Ok(())
}
