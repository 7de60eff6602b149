//! `agora bench guard`: verdict latency over a scenario corpus on a fresh devnet, for the
//! in-process and the node-backed simulator, and the time the local model's summary adds.

use crate::error::{Fallible, Result, run_error};
use agora_guard::{Guard, GuardData, GuardOptions, GuardRequest, SimulatorKind, explain::SUMMARY_MAX_TOKENS};
use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::{fmt, time::Instant};

// The guard's scenario contracts, shared with its tests.
use agora_testkit::guard_world::{Airdrop, Evasive, Executor, Forwarder, MockToken};

/// What to measure.
#[derive(Debug, Clone)]
pub struct GuardBenchConfig {
    /// Rounds over the corpus per simulator.
    pub rounds: usize,
    /// Also time the local model's summary through the node API at this URL.
    pub explain_api: Option<String>,
}

/// Latency of one request of the corpus.
#[derive(Debug, Clone, Serialize)]
pub struct RequestLatency {
    /// The scenario.
    pub request: String,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
}

/// Latency with one simulator.
#[derive(Debug, Clone, Serialize)]
pub struct SimulatorLatency {
    /// Median over every check, ms.
    pub p50_ms: f64,
    /// 95th percentile over every check, ms.
    pub p95_ms: f64,
    /// Checks timed.
    pub samples: usize,
    /// Per scenario.
    pub per_request: Vec<RequestLatency>,
}

/// What the local model's summary adds.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainLatency {
    /// Median, ms.
    pub p50_ms: f64,
    /// Summary length asked for.
    pub max_tokens: u32,
    /// The node API that answered.
    pub api: String,
}

/// The report of `agora bench guard`.
#[derive(Debug, Clone, Serialize)]
pub struct GuardReport {
    /// Rounds over the corpus per simulator.
    #[serde(skip)]
    pub rounds: usize,
    /// The in-process simulator.
    pub revm: SimulatorLatency,
    /// The node-backed simulator.
    pub node: SimulatorLatency,
    /// The model summary, when timed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<ExplainLatency>,
}

/// The `p`th percentile of `sorted` (nearest rank), 0 when it is empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs the benchmark on a scratch devnet started with `anvil`, reporting progress lines.
pub async fn run(
    anvil: &std::path::Path,
    config: &GuardBenchConfig,
    progress: &dyn Fn(&str),
) -> Result<GuardReport> {
    progress("starting a devnet and deploying the scenario contracts…");
    let devnet = crate::scratch_devnet(anvil).await?;
    let result = measure(&devnet, config, progress).await;
    devnet.stop().await;
    result.map_err(run_error("guard"))
}

/// The scenario corpus: requests a wallet sends, on contracts deployed on `devnet`. (Long
/// because it is a table: one entry per request, read as data.)
async fn corpus(
    devnet: &agora_chain::Devnet,
    reader: &DynProvider,
) -> Fallible<Vec<(&'static str, GuardRequest)>> {
    let url = devnet.rpc_url();
    let deployer = devnet.dev_signer(0).ok_or("no dev account 0")?;
    let d: DynProvider =
        ProviderBuilder::new().wallet(EthereumWallet::from(deployer)).connect_http(url.parse()?).erased();
    let attacker = devnet.dev_signer(2).ok_or("no dev account 2")?.address();
    let user = PrivateKeySigner::random().address();
    let _: Value =
        reader.raw_request("anvil_setBalance".into(), (user, U256::from(10u64).pow(U256::from(20)))).await?;
    let mock = *MockToken::deploy(&d, "Mock".into(), "MOCK".into()).await?.address();
    let airdrop = *Airdrop::deploy(&d).await?.address();
    let forwarder = *Forwarder::deploy(&d, attacker).await?.address();
    let evasive = *Evasive::deploy(&d, attacker).await?.address();
    let executor = *Executor::deploy(&d).await?.address();
    let mint = MockToken::mintCall { to: user, amount: U256::from(10u64).pow(U256::from(21)) }.abi_encode();
    let receipt = d
        .send_transaction(TransactionRequest::default().with_to(mock).with_input(mint))
        .await?
        .get_receipt()
        .await?;
    if !receipt.status() {
        return Err("minting the corpus tokens failed".into());
    }
    let eth = U256::from(10u64).pow(U256::from(18));
    let tx = |to: Address, data: Vec<u8>, value: U256| json!({"from": user, "to": to, "data": Bytes::from(data), "value": value});
    let permit = json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "Permit": [{"name":"owner","type":"address"},{"name":"spender","type":"address"},{"name":"value","type":"uint256"},{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}]
        },
        "primaryType": "Permit",
        "domain": {"name": "Mock", "version": "1", "chainId": agora_chain::DEVNET_CHAIN_ID, "verifyingContract": mock},
        "message": {"owner": user, "spender": attacker, "value": U256::MAX.to_string(), "nonce": "0", "deadline": U256::MAX.to_string()}
    });
    let corpus: Vec<(&str, GuardRequest)> = vec![
        (
            "unlimited approval to an EOA",
            GuardRequest::new(
                "eth_sendTransaction",
                json!([tx(
                    mock,
                    MockToken::approveCall { spender: attacker, value: U256::MAX }.abi_encode(),
                    U256::ZERO
                )]),
            ),
        ),
        (
            "token transfer",
            GuardRequest::new(
                "eth_sendTransaction",
                json!([tx(
                    mock,
                    MockToken::transferCall { to: attacker, value: eth }.abi_encode(),
                    U256::ZERO
                )]),
            ),
        ),
        ("ETH transfer", GuardRequest::new("eth_sendTransaction", json!([tx(attacker, vec![], eth)]))),
        (
            "payable claim that forwards",
            GuardRequest::new(
                "eth_sendTransaction",
                json!([tx(forwarder, Forwarder::claimCall {}.abi_encode(), eth)]),
            ),
        ),
        (
            "evasive claim",
            GuardRequest::new(
                "eth_sendTransaction",
                json!([tx(evasive, Evasive::claimCall {}.abi_encode(), eth)]),
            ),
        ),
        (
            "delegatecall to chosen code",
            GuardRequest::new(
                "eth_sendTransaction",
                json!([tx(
                    executor,
                    Executor::runCall { target: airdrop, data: Airdrop::claimCall {}.abi_encode().into() }
                        .abi_encode(),
                    U256::ZERO
                )]),
            ),
        ),
        (
            "batch hiding an approval",
            GuardRequest::new(
                "wallet_sendCalls",
                json!([{"from": user, "calls": [
                    {"to": airdrop, "data": Bytes::from(Airdrop::claimCall {}.abi_encode())},
                    {"to": mock, "data": Bytes::from(MockToken::approveCall { spender: attacker, value: U256::MAX }.abi_encode())},
                ]}]),
            ),
        ),
        ("permit signature", GuardRequest::new("eth_signTypedData_v4", json!([user, permit]))),
        ("eth_sign", GuardRequest::new("eth_sign", json!([user, format!("0x{}", "11".repeat(32))]))),
        ("personal_sign", GuardRequest::new("personal_sign", json!(["0x68656c6c6f", user]))),
    ];
    Ok(corpus)
}

async fn time_simulator(
    guard: &Guard,
    corpus: &[(&'static str, GuardRequest)],
    rounds: usize,
) -> Fallible<SimulatorLatency> {
    let mut all = Vec::new();
    let mut per: Vec<(String, Vec<f64>)> =
        corpus.iter().map(|(n, _)| ((*n).to_owned(), Vec::new())).collect();
    for _ in 0..rounds {
        for (i, (_, request)) in corpus.iter().enumerate() {
            let started = Instant::now();
            guard.check(request).await?;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            all.push(ms);
            per[i].1.push(ms);
        }
    }
    all.sort_by(f64::total_cmp);
    let per_request = per
        .into_iter()
        .map(|(request, mut v)| {
            v.sort_by(f64::total_cmp);
            RequestLatency { request, p50_ms: percentile(&v, 50.0), p95_ms: percentile(&v, 95.0) }
        })
        .collect();
    Ok(SimulatorLatency {
        p50_ms: percentile(&all, 50.0),
        p95_ms: percentile(&all, 95.0),
        samples: all.len(),
        per_request,
    })
}

async fn measure(
    devnet: &agora_chain::Devnet,
    config: &GuardBenchConfig,
    progress: &dyn Fn(&str),
) -> Fallible<GuardReport> {
    let reader = ProviderBuilder::new().connect_http(devnet.rpc_url().parse()?).erased();
    let corpus = corpus(devnet, &reader).await?;
    let data = GuardData::embedded()?;
    let mut latencies = Vec::new();
    let mut last_verdict = None;
    for kind in [SimulatorKind::Revm, SimulatorKind::Node] {
        let guard = Guard::new(
            reader.clone(),
            data.clone(),
            None,
            GuardOptions { simulator: kind, ..Default::default() },
        );
        // One warm-up round (first reads of each contract), not counted.
        for (_, request) in &corpus {
            last_verdict = Some(guard.check(request).await?);
        }
        progress(&format!("{kind:?}: {} rounds over {} requests…", config.rounds, corpus.len()));
        latencies.push(time_simulator(&guard, &corpus, config.rounds).await?);
    }
    let explain = match (&config.explain_api, &last_verdict) {
        (Some(api), Some(verdict)) => {
            let client = reqwest::Client::new();
            let mut times = Vec::new();
            for _ in 0..3 {
                let started = Instant::now();
                agora_guard::explain::summarize(&client, api, verdict, SUMMARY_MAX_TOKENS).await?;
                times.push(started.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            Some(ExplainLatency {
                p50_ms: percentile(&times, 50.0),
                max_tokens: SUMMARY_MAX_TOKENS,
                api: api.clone(),
            })
        }
        _ => None,
    };
    let node = latencies.pop().ok_or("no node timing")?;
    let revm = latencies.pop().ok_or("no revm timing")?;
    Ok(GuardReport { rounds: config.rounds, revm, node, explain })
}

impl fmt::Display for GuardReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "guard verdict latency over {} requests x {} rounds (local anvil, no model):",
            self.revm.per_request.len(),
            self.rounds
        )?;
        for (name, r) in [("revm", &self.revm), ("node", &self.node)] {
            writeln!(f, "  {name:<5} p50 {:>6.2} ms   p95 {:>6.2} ms", r.p50_ms, r.p95_ms)?;
        }
        writeln!(f, "  per request (revm p50 / node p50, ms):")?;
        for (a, b) in self.revm.per_request.iter().zip(&self.node.per_request) {
            writeln!(f, "    {:<32} {:>6.2} / {:>6.2}", a.request, a.p50_ms, b.p50_ms)?;
        }
        match &self.explain {
            Some(e) => {
                writeln!(f, "  local model summary adds p50 {:.0} ms ({} tokens max)", e.p50_ms, e.max_tokens)
            }
            None => writeln!(
                f,
                "  (model summary not timed: pass --explain-api http://127.0.0.1:8402 with `agora up` running)"
            ),
        }
    }
}
