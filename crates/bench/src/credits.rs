//! `agora bench credits`: what anonymous credits (`agora-credits`, RLN proofs over a pool of
//! deposits) cost. In one run it measures
//!
//! 1. the client: time to a ready call proof without precomputation (a fresh
//!    [`CallProver::prepare`] and [`CallProver::prove`] per call) and with it (only `prove` on a
//!    prepared prover), for calls of 1 and of 4 units, against the research figure for a whole
//!    proof on 2 cores (0.19–0.37 s) and the target of ≤ 0.15 s with precomputation;
//! 2. the provider: [`CallProof::verify`] per second on one core against 1.7 ms (≈ 550/s), and
//!    anonymous paid calls per second with the tickets durable before the answer (`verify` and
//!    [`TicketBook::record`] on a `synchronous=FULL` store) with 1 and 2 worker threads;
//! 3. gas on a scratch devnet: creating a pool, deposits (and their ERC-20 approve), a slash
//!    (commit and reveal) of a member who double-spent, and an exit (request and completion).
//!
//! Proofs are made against a local pool tree for parts 1 and 2 (the Merkle path costs the same at
//! any size: the tree's depth is fixed at 20) and against the devnet pool's tree for part 3.

use crate::error::{BenchError, Fallible, Result, run_error};
use agora_chain::{ChainClient, Devnet};
use agora_contracts::{
    SuiteContract,
    bindings::{DevStablecoin, IdentityRegistry, ZkCredits},
};
use agora_credits::{
    CallProof, CallProver, Credit, Fr, Pool, PoolKey, PoolTree, Recorded, TicketBook, request_signal,
};
use alloy::{
    primitives::{Address, U256, address},
    providers::Provider,
    rpc::types::TransactionReceipt,
    sol_types::SolEvent,
};
use serde::Serialize;
use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// The research figure for a whole RLN proof on 2 cores, seconds: low end.
pub const ANCHOR_PROOF_LOW_SECS: f64 = 0.19;
/// The research figure for a whole RLN proof on 2 cores, seconds: high end.
pub const ANCHOR_PROOF_HIGH_SECS: f64 = 0.37;
/// The target time to a ready proof with precomputation, seconds.
pub const TARGET_PRECOMPUTED_SECS: f64 = 0.15;
/// The research figure for one Groth16 verification on one core, milliseconds.
pub const ANCHOR_VERIFY_MS: f64 = 1.7;
/// The same, as verifications per second (1 / 1.7 ms, rounded as the research states it).
pub const ANCHOR_VERIFY_PER_SEC: f64 = 550.0;

/// Calls one deposit buys in the benchmark's pools: enough tickets for every proof made.
const CALLS_PER_DEPOSIT: u32 = 10_000;
/// Deposits on the devnet: the double-spender, the member who exits, and two more.
const DEPOSITS: usize = 4;

/// What to measure.
#[derive(Debug, Clone)]
pub struct CreditsConfig {
    /// Proofs timed per case (1 or 4 units, with or without precomputation).
    pub calls: usize,
    /// Calls in each provider run (verification alone, and paid calls with 1 and 2 workers).
    pub provider_calls: usize,
}

impl CreditsConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.calls == 0 {
            return Err(BenchError::Config("--calls must be at least 1"));
        }
        // Each case spends 1 or 4 tickets per call, two untimed warm-up proofs 5 more.
        if self.calls.saturating_mul(10).saturating_add(5) > CALLS_PER_DEPOSIT as usize {
            return Err(BenchError::Config("--calls must be at most 999"));
        }
        if self.provider_calls == 0 {
            return Err(BenchError::Config("--provider-calls must be at least 1"));
        }
        Ok(())
    }
}

/// Mean, median and 95th percentile of a set of durations, seconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Samples.
    pub samples: usize,
    /// Mean.
    pub mean_secs: f64,
    /// Median (nearest rank).
    pub p50_secs: f64,
    /// 95th percentile (nearest rank).
    pub p95_secs: f64,
}

impl Latency {
    fn of(samples: &[Duration]) -> Self {
        let mut secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        secs.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let n = secs.len();
            secs[((p * n as f64).ceil() as usize).clamp(1, n) - 1]
        };
        Self {
            samples: secs.len(),
            mean_secs: secs.iter().sum::<f64>() / secs.len() as f64,
            p50_secs: rank(0.50),
            p95_secs: rank(0.95),
        }
    }
}

/// Time to a ready proof for calls of one size.
#[derive(Debug, Clone, Serialize)]
pub struct ProofTimes {
    /// Units (tickets) each call spends.
    pub units: usize,
    /// A fresh `prepare` and `prove` per call: what a call waits for with no background work.
    pub without_precompute: Latency,
    /// Only `prove` on a prepared prover (the partial proof reused).
    pub with_precompute: Latency,
    /// Mean without precomputation over the anchor's low end (0.19 s).
    pub without_vs_anchor_low: f64,
    /// Mean without precomputation over the anchor's high end (0.37 s).
    pub without_vs_anchor_high: f64,
    /// Mean with precomputation over the anchor's low end.
    pub with_vs_anchor_low: f64,
    /// Mean with precomputation over the anchor's high end.
    pub with_vs_anchor_high: f64,
    /// Whether the 95th percentile with precomputation is at most 0.15 s.
    pub target_met: bool,
}

/// The provider's side.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderFigures {
    /// Distinct proofs the runs cycle through (every one made by the client part).
    pub distinct_proofs: usize,
    /// Calls in each run.
    pub calls: usize,
    /// `CallProof::verify` per second on one core (a one-thread pool; hex and point parsing
    /// included).
    pub verify_per_sec_one_core: f64,
    /// Milliseconds per verification.
    pub verify_ms: f64,
    /// Ours over the anchor (550/s).
    pub verify_vs_anchor: f64,
    /// Paid calls per second, verify and a durable record per call, one worker thread.
    pub paid_per_sec_one_worker: f64,
    /// The same with two worker threads.
    pub paid_per_sec_two_workers: f64,
}

/// Gas from the devnet's receipts.
#[derive(Debug, Clone, Serialize)]
pub struct CreditsGas {
    /// `IdentityRegistry.register(string)`: the provider's agent, once.
    pub register_agent: u64,
    /// `createPool`.
    pub create_pool: u64,
    /// The ERC-20 `approve` before a deposit.
    pub approve: u64,
    /// Each `deposit` in order (the transaction alone, without the approve).
    pub deposits: Vec<u64>,
    /// `commitSlash`.
    pub slash_commit: u64,
    /// `slash` (the reveal).
    pub slash_reveal: u64,
    /// `requestExit` (the RLN exit proof verified on chain).
    pub request_exit: u64,
    /// `completeExit`, after the exit delay.
    pub complete_exit: u64,
}

impl CreditsGas {
    /// Commit and reveal together.
    pub fn slash_total(&self) -> u64 {
        self.slash_commit + self.slash_reveal
    }
}

/// The report of `agora bench credits`.
#[derive(Debug, Clone, Serialize)]
pub struct CreditsReport {
    /// Threads the prover may use (the machine's available parallelism).
    pub cores: usize,
    /// The one-time `prepare` (the request-independent partial proof).
    pub prepare: Latency,
    /// Time to a ready proof, 1 unit and 4 units.
    pub proofs: Vec<ProofTimes>,
    /// An exit proof (single circuit, whole proof), made once against the devnet pool.
    pub exit_proof_secs: f64,
    /// The provider's side.
    pub provider: ProviderFigures,
    /// Gas.
    pub gas: CreditsGas,
}

/// Runs the benchmark (the gas part on a scratch devnet started with `anvil`), reporting
/// progress lines.
pub async fn run(
    anvil: &std::path::Path,
    config: &CreditsConfig,
    progress: &dyn Fn(&str),
) -> Result<CreditsReport> {
    config.validate()?;
    let (cores, prepare, proofs, made) = client(config, progress).map_err(run_error("credits"))?;
    let provider = provider(config, &made, progress).map_err(run_error("credits"))?;
    drop(made);
    progress("gas on a scratch devnet");
    let devnet = crate::scratch_devnet(anvil).await?;
    let result = chain_gas(&devnet, progress).await;
    devnet.stop().await;
    let (gas, exit_proof_secs) = result.map_err(run_error("credits"))?;
    Ok(CreditsReport { cores, prepare, proofs, exit_proof_secs, provider, gas })
}

impl fmt::Display for CreditsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls = self.proofs.first().map_or(0, |p| p.with_precompute.samples);
        writeln!(
            f,
            "client: time to a ready call proof, {calls} calls per case, {} cores; anchor: a whole proof in {ANCHOR_PROOF_LOW_SECS}-{ANCHOR_PROOF_HIGH_SECS} s on 2 cores",
            self.cores
        )?;
        writeln!(f, "  units  precomputed          mean s   p50 s   p95 s   vs 0.19 s  vs 0.37 s")?;
        for p in &self.proofs {
            for (label, l, low, high) in [
                (
                    "no (prepare + prove)",
                    &p.without_precompute,
                    p.without_vs_anchor_low,
                    p.without_vs_anchor_high,
                ),
                ("yes (prove only)", &p.with_precompute, p.with_vs_anchor_low, p.with_vs_anchor_high),
            ] {
                writeln!(
                    f,
                    "  {:>5}  {label:<20} {:>7.3} {:>7.3} {:>7.3}   {:>8.2}x  {:>8.2}x",
                    p.units, l.mean_secs, l.p50_secs, l.p95_secs, low, high
                )?;
            }
        }
        let l = &self.prepare;
        writeln!(
            f,
            "  one-time prepare (partial proof, {} samples): mean {:.3} s, p50 {:.3} s, p95 {:.3} s",
            l.samples, l.mean_secs, l.p50_secs, l.p95_secs
        )?;
        for p in &self.proofs {
            writeln!(
                f,
                "  target <= {TARGET_PRECOMPUTED_SECS} s with precomputation, {} unit(s): {} (p95 {:.1} ms, mean {:.1} ms)",
                p.units,
                if p.target_met { "met" } else { "not met" },
                p.with_precompute.p95_secs * 1e3,
                p.with_precompute.mean_secs * 1e3
            )?;
        }
        writeln!(f, "  exit proof (single circuit, whole proof, once): {:.3} s", self.exit_proof_secs)?;
        let p = &self.provider;
        writeln!(
            f,
            "provider: {} calls per run, cycling through {} distinct proofs (each call's tickets fresh)",
            p.calls, p.distinct_proofs
        )?;
        writeln!(
            f,
            "  {:<30} {:>6.0}/s  {:.2} ms each; {:.2}x the anchor's {ANCHOR_VERIFY_PER_SEC:.0}/s ({ANCHOR_VERIFY_MS} ms)",
            "verifications, one core", p.verify_per_sec_one_core, p.verify_ms, p.verify_vs_anchor
        )?;
        for (workers, rate) in [(1, p.paid_per_sec_one_worker), (2, p.paid_per_sec_two_workers)] {
            writeln!(
                f,
                "  {:<30} {rate:>6.0}/s  {:.2}x the one-core verification rate",
                format!("paid calls, durable, {workers} worker{}", if workers == 1 { "" } else { "s" }),
                rate / p.verify_per_sec_one_core
            )?;
        }
        let g = &self.gas;
        writeln!(f, "gas (devnet receipts)")?;
        let mut row = |what: &str, gas: u64| writeln!(f, "  {what:<38} {gas:>9}");
        row("register the agent (once)", g.register_agent)?;
        row("createPool", g.create_pool)?;
        row("approve (ERC-20, before each deposit)", g.approve)?;
        for (i, gas) in g.deposits.iter().enumerate() {
            row(&format!("deposit #{}", i + 1), *gas)?;
        }
        row("commitSlash", g.slash_commit)?;
        row("slash (the reveal)", g.slash_reveal)?;
        row("slash, commit + reveal", g.slash_total())?;
        row("requestExit (exit proof checked)", g.request_exit)?;
        row("completeExit", g.complete_exit)
    }
}

/// A made proof and the request signal it was made over.
struct Made {
    x: Fr,
    proof: CallProof,
}

/// The pool the client and provider parts prove against: local, never on chain.
fn local_key() -> PoolKey {
    PoolKey {
        chain_id: agora_chain::DEVNET_CHAIN_ID,
        contract: address!("00000000000000000000000000000000000C4Ed1"),
        pool_id: U256::from(1),
    }
}

/// A request's signal, distinct per `n`.
fn signal(n: usize) -> Fr {
    request_signal("POST", "/v1/chat/completions", format!("{{\"n\":{n}}}").as_bytes())
}

/// Part 1: every proof is over a distinct request and spends distinct tickets, so the provider
/// part can record them all. Returns the cores, the prepare times, the proof times and the
/// proofs made.
fn client(
    config: &CreditsConfig,
    progress: &dyn Fn(&str),
) -> Fallible<(usize, Latency, Vec<ProofTimes>, Vec<Made>)> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    agora_credits::warm_up();
    let key = local_key();
    let mut credit = Credit::generate(key, CALLS_PER_DEPOSIT);
    let others: Vec<Fr> = (0..7).map(|_| Credit::generate(key, CALLS_PER_DEPOSIT).leaf()).collect();
    let tree = PoolTree::from_leaves(others.into_iter().chain([credit.leaf()]))?;
    credit.leaf_index = tree.len() - 1;
    let mut ticket = 0u32;
    let mut request = 0usize;
    let mut take = |units: usize| {
        let tickets: Vec<u32> = (ticket..ticket + units as u32).collect();
        ticket += units as u32;
        request += 1;
        (signal(request), tickets)
    };
    // One untimed proof of each kind.
    let warm = CallProver::prepare(&credit, &tree)?;
    for units in [1, 4] {
        let (x, tickets) = take(units);
        warm.prove(x, &tickets)?;
    }

    let mut made = Vec::new();
    let mut prepares = Vec::new();
    let mut rows = Vec::new();
    for units in [1usize, 4] {
        progress(&format!("{} proofs of {units} unit(s) without precomputation", config.calls));
        let mut without = Vec::with_capacity(config.calls);
        for _ in 0..config.calls {
            let (x, tickets) = take(units);
            let started = Instant::now();
            let prover = CallProver::prepare(&credit, &tree)?;
            let prepared = started.elapsed();
            let proof = prover.prove(x, &tickets)?;
            without.push(started.elapsed());
            prepares.push(prepared);
            made.push(Made { x, proof });
        }
        progress(&format!("{} proofs of {units} unit(s) with precomputation", config.calls));
        let prover = CallProver::prepare(&credit, &tree)?;
        let mut with = Vec::with_capacity(config.calls);
        for _ in 0..config.calls {
            let (x, tickets) = take(units);
            let started = Instant::now();
            let proof = prover.prove(x, &tickets)?;
            with.push(started.elapsed());
            made.push(Made { x, proof });
        }
        let (without, with) = (Latency::of(&without), Latency::of(&with));
        rows.push(ProofTimes {
            units,
            without_vs_anchor_low: without.mean_secs / ANCHOR_PROOF_LOW_SECS,
            without_vs_anchor_high: without.mean_secs / ANCHOR_PROOF_HIGH_SECS,
            with_vs_anchor_low: with.mean_secs / ANCHOR_PROOF_LOW_SECS,
            with_vs_anchor_high: with.mean_secs / ANCHOR_PROOF_HIGH_SECS,
            target_met: with.p95_secs <= TARGET_PRECOMPUTED_SECS,
            without_precompute: without,
            with_precompute: with,
        });
    }
    let roots = [tree.root()];
    for m in &made {
        m.proof.verify(m.x, key.call_scope(), &roots)?;
    }
    Ok((cores, Latency::of(&prepares), rows, made))
}

/// A pool of one rayon thread: the verifier's pairing then runs on one core.
fn one_core() -> Fallible<rayon::ThreadPool> {
    Ok(rayon::ThreadPoolBuilder::new().num_threads(1).build()?)
}

/// Part 2. Call `i` verifies proof `i mod P` (P distinct proofs) and records its tickets under
/// pool id `1 + i / P`, so every record is a fresh insert of new tickets, as a real call's is.
fn provider(config: &CreditsConfig, made: &[Made], progress: &dyn Fn(&str)) -> Fallible<ProviderFigures> {
    let key = local_key();
    let scope = key.call_scope();
    let roots = [from_root(&made[0].proof)?];
    let calls = config.provider_calls;

    progress(&format!("{calls} verifications on one core"));
    let pool = one_core()?;
    let verify_secs = pool.install(|| -> Fallible<f64> {
        let started = Instant::now();
        for i in 0..calls {
            let m = &made[i % made.len()];
            m.proof.verify(m.x, scope, &roots)?;
        }
        Ok(started.elapsed().as_secs_f64())
    })?;
    let verify_per_sec = calls as f64 / verify_secs;

    let mut paid = Vec::new();
    for workers in [1usize, 2] {
        progress(&format!("{calls} paid calls, durable, {workers} worker(s)"));
        let dir = tempfile::tempdir()?;
        let book = TicketBook::new(Arc::new(agora_store::Store::open_in(dir.path())?));
        let next = AtomicUsize::new(0);
        let started = Instant::now();
        std::thread::scope(|s| -> Fallible<()> {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let (book, next, roots) = (&book, &next, &roots);
                    s.spawn(move || -> Fallible<()> {
                        one_core()?.install(|| -> Fallible<()> {
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                if i >= calls {
                                    return Ok(());
                                }
                                let m = &made[i % made.len()];
                                let spend = m.proof.verify(m.x, scope, roots)?;
                                let pool_key = PoolKey { pool_id: U256::from(1 + i / made.len()), ..key };
                                match book.record(&pool_key, &spend)? {
                                    Recorded::Fresh => {}
                                    other => return Err(format!("call {i} was recorded as {other:?}").into()),
                                }
                            }
                        })
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| "a worker panicked")??;
            }
            Ok(())
        })?;
        paid.push(calls as f64 / started.elapsed().as_secs_f64());
    }
    Ok(ProviderFigures {
        distinct_proofs: made.len(),
        calls,
        verify_per_sec_one_core: verify_per_sec,
        verify_ms: 1_000.0 / verify_per_sec,
        verify_vs_anchor: verify_per_sec / ANCHOR_VERIFY_PER_SEC,
        paid_per_sec_one_worker: paid[0],
        paid_per_sec_two_workers: paid[1],
    })
}

fn from_root(proof: &CallProof) -> Fallible<Fr> {
    agora_credits::from_hex(&proof.root).ok_or_else(|| "a proof's root is not a field element".into())
}

/// Checks a receipt's status and returns it.
fn mined(what: &str, receipt: TransactionReceipt) -> Fallible<TransactionReceipt> {
    if !receipt.status() {
        return Err(format!("{what} reverted (transaction {})", receipt.transaction_hash).into());
    }
    Ok(receipt)
}

/// [`agora_credits::create_pool`], returning the receipt's gas too.
async fn create_pool(
    chain: &ChainClient,
    contract: Address,
    agent: U256,
    token: Address,
) -> Fallible<(Pool, u64)> {
    let receipt = ZkCredits::new(contract, chain.provider())
        .createPool(agent, token, U256::from(1_000), CALLS_PER_DEPOSIT, U256::from(1_000_000), 3_600)
        .send()
        .await?
        .get_receipt()
        .await?;
    let receipt = mined("createPool", receipt)?;
    let event = receipt
        .logs()
        .iter()
        .find_map(|l| ZkCredits::PoolCreated::decode_log(&l.inner).ok())
        .ok_or("createPool emitted no PoolCreated")?;
    let key = PoolKey { chain_id: chain.chain_id(), contract, pool_id: event.poolId };
    Ok((agora_credits::pool(chain, key).await?, receipt.gas_used))
}

/// [`agora_credits::deposit`], returning the gas of the approve and of the deposit apart.
async fn deposit(chain: &ChainClient, pool: &Pool, credit: &mut Credit) -> Fallible<(u64, u64)> {
    let approve = DevStablecoin::new(pool.token, chain.provider())
        .approve(pool.key.contract, pool.deposit_amount())
        .send()
        .await?
        .get_receipt()
        .await?;
    let approve = mined("approve", approve)?;
    let receipt = ZkCredits::new(pool.key.contract, chain.provider())
        .deposit(pool.key.pool_id, agora_credits::to_u256(&credit.id_commitment()))
        .send()
        .await?
        .get_receipt()
        .await?;
    let receipt = mined("deposit", receipt)?;
    let event = receipt
        .logs()
        .iter()
        .find_map(|l| ZkCredits::Deposited::decode_log(&l.inner).ok())
        .ok_or("the deposit emitted no Deposited")?;
    credit.leaf_index = usize::try_from(event.index)?;
    Ok((approve.gas_used, receipt.gas_used))
}

/// [`agora_credits::slash`], returning the gas of the commitment and of the reveal.
async fn slash(chain: &ChainClient, key: PoolKey, secret: Fr, receiver: Address) -> Fallible<(u64, u64)> {
    let sender = chain.signer_address().ok_or("no slasher key")?;
    let word = |a: Address| U256::from_be_slice(a.into_word().as_slice());
    let words = [key.pool_id, agora_credits::to_u256(&secret), word(receiver), word(sender)];
    let commitment =
        alloy::primitives::keccak256(words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect::<Vec<u8>>());
    let c = ZkCredits::new(key.contract, chain.provider());
    let commit = mined("commitSlash", c.commitSlash(commitment).send().await?.get_receipt().await?)?;
    let reveal = mined(
        "slash",
        c.slash(key.pool_id, agora_credits::to_u256(&secret), receiver).send().await?.get_receipt().await?,
    )?;
    Ok((commit.gas_used, reveal.gas_used))
}

async fn gas_of(chain: &ChainClient, hash: alloy::primitives::B256) -> Fallible<u64> {
    let receipt = chain.provider().get_transaction_receipt(hash).await?.ok_or("no receipt")?;
    Ok(mined("transaction", receipt)?.gas_used)
}

/// Part 3: an agent's pool on a fresh devnet; four deposits; a member who spends a ticket twice
/// is found out by the provider's ticket book and slashed; another member exits.
async fn chain_gas(devnet: &Devnet, progress: &dyn Fn(&str)) -> Fallible<(CreditsGas, f64)> {
    let deployer = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await?;
    let provider = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(1)).await?;
    let buyer = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(2)).await?;
    let provider_address = provider.signer_address().ok_or("no provider key")?;
    let buyer_address = buyer.signer_address().ok_or("no buyer key")?;
    let dir = tempfile::tempdir()?;
    let deployment =
        agora_chain::ensure_deployed(&deployer, &dir.path().join("deployments.json"), |_, _, _| {}).await?;
    let token = deployment.address_of(SuiteContract::DevStablecoin).ok_or("no dev stablecoin")?;
    let identity = deployment.address_of(SuiteContract::IdentityRegistry).ok_or("no identity registry")?;
    let contract = deployment.address_of(SuiteContract::ZkCredits).ok_or("no ZkCredits")?;

    // The provider registers its agent and opens a pool.
    let registered = mined(
        "register",
        IdentityRegistry::new(identity, provider.provider())
            .register_2("data:application/json,{}".into())
            .send()
            .await?
            .get_receipt()
            .await?,
    )?;
    let agent = registered
        .logs()
        .iter()
        .find_map(|l| IdentityRegistry::Registered::decode_log(&l.inner).ok())
        .ok_or("register emitted no Registered")?
        .agentId;
    let (pool, create_gas) = create_pool(&provider, contract, agent, token).await?;

    // The buyer deposits four times.
    progress(&format!("{DEPOSITS} deposits"));
    DevStablecoin::new(token, deployer.provider())
        .faucet(buyer_address, pool.deposit_amount() * U256::from(DEPOSITS))
        .send()
        .await?
        .get_receipt()
        .await?;
    let mut credits = Vec::new();
    let mut approves = Vec::new();
    let mut deposits = Vec::new();
    for _ in 0..DEPOSITS {
        let mut credit = Credit::generate(pool.key, pool.calls);
        let (approve, gas) = deposit(&buyer, &pool, &mut credit).await?;
        approves.push(approve);
        deposits.push(gas);
        credits.push(credit);
    }
    let tree = agora_credits::tree(&provider, pool.key).await?;
    let roots = agora_credits::recent_roots(&provider, pool.key).await?;

    // The first member spends ticket 0 on two requests: the ticket book gives its secret away.
    progress("a double-spend, found out and slashed");
    let store_dir = tempfile::tempdir()?;
    let book = TicketBook::new(Arc::new(agora_store::Store::open_in(store_dir.path())?));
    let prover = CallProver::prepare(&credits[0], &tree)?;
    let mut found = None;
    for n in [1, 2] {
        let x = signal(n);
        let spend = prover.prove(x, &[0])?.verify(x, pool.key.call_scope(), &roots)?;
        if let Recorded::DoubleSpent(secret) = book.record(&pool.key, &spend)? {
            found = Some(secret);
        }
    }
    let secret = found.ok_or("the ticket book did not find the double-spend")?;
    let (slash_commit, slash_reveal) = slash(&provider, pool.key, secret, provider_address).await?;

    // The second member exits.
    progress("an exit");
    let started = Instant::now();
    let exit = agora_credits::prove_exit(&credits[1], &tree, buyer_address)?;
    let exit_proof_secs = started.elapsed().as_secs_f64();
    let request = agora_credits::request_exit(&buyer, pool.key, &exit, buyer_address).await?;
    let request_exit = gas_of(&buyer, request).await?;
    let rpc = buyer.provider();
    let _: serde_json::Value = rpc.raw_request("evm_increaseTime".into(), (pool.exit_delay + 1,)).await?;
    let _: serde_json::Value = rpc.raw_request("evm_mine".into(), ()).await?;
    let complete = agora_credits::complete_exit(&buyer, pool.key, exit.nullifier).await?;
    let complete_exit = gas_of(&buyer, complete).await?;
    let (_, _, state) = agora_credits::exit_state(&buyer, pool.key, exit.nullifier).await?;
    if state != 2 {
        return Err(format!("the exit is in state {state}, not paid").into());
    }

    Ok((
        CreditsGas {
            register_agent: registered.gas_used,
            create_pool: create_gas,
            approve: approves[0],
            deposits,
            slash_commit,
            slash_reveal,
            request_exit,
            complete_exit,
        },
        exit_proof_secs,
    ))
}
