//! `agora bench index`: loads a fresh devnet with many registrations and feedbacks, then times
//! the discovery index catching up, its store size and `agent list --skill` latency, and
//! reports the registries' gas per call.

use crate::error::{BenchError, Fallible, Result, run_error};
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
use serde::Serialize;
use std::{fmt, sync::Arc, time::Instant};

const AGENTS_PER_TX: u64 = 100;
const FEEDBACK_PER_TX: u64 = 100;

/// What to load.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    /// Agents to register.
    pub agents: u64,
    /// Feedbacks to leave.
    pub feedback: u64,
}

impl IndexConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.agents == 0 {
            return Err(BenchError::Config("--agents must be at least 1"));
        }
        Ok(())
    }
}

/// Gas of one call of each registry function.
#[derive(Debug, Clone, Serialize)]
pub struct IndexGas {
    /// `register(string)`.
    pub register: u64,
    /// `giveFeedback`.
    #[serde(rename = "giveFeedback")]
    pub give_feedback: u64,
    /// `validationRequest`.
    #[serde(rename = "validationRequest")]
    pub validation_request: u64,
    /// `validationResponse`.
    #[serde(rename = "validationResponse")]
    pub validation_response: u64,
}

/// The report of `agora bench index`.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// Agents registered.
    pub agents: u64,
    /// Feedbacks left.
    pub feedback: u64,
    /// Seconds spent sending and mining the load.
    pub load_secs: f64,
    /// Seconds the index took to catch up.
    pub index_secs: f64,
    /// Events indexed.
    pub events: usize,
    /// Events indexed per second, all included.
    pub events_per_sec: f64,
    /// Seconds spent in `eth_getLogs`.
    pub rpc_secs: f64,
    /// Seconds of the index's own work.
    pub own_secs: f64,
    /// Events per second of the index's own work.
    pub own_events_per_sec: f64,
    /// Store size after indexing, MiB.
    pub store_mib: f64,
    /// Agents `agent list --skill translation` finds.
    pub skill_hits: usize,
    /// Median latency of that listing, ms.
    pub list_skill_ms_p50: f64,
    /// Registry gas per call.
    pub gas: IndexGas,
}

/// Runs the benchmark on a scratch devnet started with `anvil`, reporting progress lines.
pub async fn run(
    anvil: &std::path::Path,
    config: &IndexConfig,
    progress: &dyn Fn(&str),
) -> Result<IndexReport> {
    config.validate()?;
    let devnet = crate::scratch_devnet(anvil).await?;
    let result = measure(&devnet, config, progress).await;
    devnet.stop().await;
    result.map_err(run_error("index"))
}

impl fmt::Display for IndexReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} agents, {} feedbacks on a fresh devnet", self.agents, self.feedback)?;
        writeln!(f, "load (sending the transactions)  {:.1} s", self.load_secs)?;
        writeln!(f, "index catch-up                   {:.2} s", self.index_secs)?;
        writeln!(
            f,
            "events indexed                   {} ({:.0} events/s)",
            self.events, self.events_per_sec
        )?;
        writeln!(
            f,
            "  of which eth_getLogs            {:.2} s; the index's own work {:.2} s ({:.0} events/s)",
            self.rpc_secs, self.own_secs, self.own_events_per_sec
        )?;
        writeln!(f, "store size                       {:.1} MiB", self.store_mib)?;
        writeln!(f, "agent list --skill (p50, {} hits) {:.2} ms", self.skill_hits, self.list_skill_ms_p50)?;
        writeln!(f, "gas: register(string)            {}", self.gas.register)?;
        writeln!(f, "gas: giveFeedback                {}", self.gas.give_feedback)?;
        writeln!(f, "gas: validationRequest           {}", self.gas.validation_request)?;
        writeln!(f, "gas: validationResponse          {}", self.gas.validation_response)
    }
}

async fn measure(devnet: &Devnet, args: &IndexConfig, progress: &dyn Fn(&str)) -> Fallible<IndexReport> {
    let deployer = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await?;
    let dir = tempfile::tempdir()?;
    let deployment =
        agora_chain::ensure_deployed(&deployer, &dir.path().join("deployments.json"), |_, _, _| {}).await?;
    let identity = deployment.address_of(SuiteContract::IdentityRegistry).ok_or("no identity registry")?;
    let reputation =
        deployment.address_of(SuiteContract::ReputationRegistry).ok_or("no reputation registry")?;
    let validation =
        deployment.address_of(SuiteContract::ValidationRegistry).ok_or("no validation registry")?;

    let gas = registry_gas(devnet, identity, reputation, validation).await?;

    // Bulk load through a helper contract.
    let started = Instant::now();
    let bulk = BulkAgents::deploy(deployer.provider()).await?;
    // Feedback comes from a second helper: the first owns the agents, and self-feedback is refused.
    let raters = BulkAgents::deploy(deployer.provider()).await?;
    let me = deployer.signer_address().ok_or("no deployer key")?;
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
    let indexer = agora_node::discovery_indexer(&deployer, &deployment, Arc::clone(&store), true)
        .ok_or("no discovery index on this deployment")?;
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
    Ok(IndexReport {
        agents: args.agents,
        feedback: args.feedback,
        load_secs,
        index_secs,
        events: report.events,
        events_per_sec: report.events as f64 / index_secs,
        rpc_secs: report.rpc_time.as_secs_f64(),
        own_secs: report.index_time.as_secs_f64(),
        own_events_per_sec: report.events as f64 / report.index_time.as_secs_f64(),
        store_mib: store_bytes as f64 / (1024.0 * 1024.0),
        skill_hits: hits,
        list_skill_ms_p50: samples[samples.len() / 2],
        gas,
    })
}

/// Gas of one call of each registry function, each from its own account.
async fn registry_gas(
    devnet: &Devnet,
    identity: alloy::primitives::Address,
    reputation: alloy::primitives::Address,
    validation: alloy::primitives::Address,
) -> Fallible<IndexGas> {
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
            validator.signer_address().ok_or("no validator key")?,
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

    Ok(IndexGas {
        register: register.gas_used,
        give_feedback: feedback.gas_used,
        validation_request: request.gas_used,
        validation_response: response.gas_used,
    })
}

/// Sends a bulk transaction with the next of our own nonces: the default nonce filler asks the
/// node for each one, and rapid sends can race it into reusing a nonce.
async fn send(client: &ChainClient, nonce: &mut u64, tx: TransactionRequest) -> Fallible<B256> {
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

async fn wait_all(client: &ChainClient, hashes: Vec<B256>) -> Fallible<()> {
    for hash in hashes {
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if Instant::now() >= deadline {
                return Err(format!("bulk transaction {hash} was not mined within 60 s").into());
            }
            if let Some(receipt) = client.provider().get_transaction_receipt(hash).await? {
                if !receipt.status() {
                    return Err(format!("bulk transaction {hash} reverted").into());
                }
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    Ok(())
}
