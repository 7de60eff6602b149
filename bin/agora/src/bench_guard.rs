//! `agora bench guard`: verdict latency over a scenario corpus on a fresh devnet, for the
//! in-process and the node-backed simulator, and the time the local model's summary adds.

use crate::cli::GlobalArgs;
use agora_guard::{Guard, GuardData, GuardOptions, GuardRequest, SimulatorKind};
use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};
use std::{io::Write, time::Instant};

mod corpus {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    alloy::sol!(
        #[sol(rpc)]
        MockToken,
        "../../crates/guard/tests/artifacts/MockToken.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        Airdrop,
        "../../crates/guard/tests/artifacts/Airdrop.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        Forwarder,
        "../../crates/guard/tests/artifacts/Forwarder.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        Evasive,
        "../../crates/guard/tests/artifacts/Evasive.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        Executor,
        "../../crates/guard/tests/artifacts/Executor.json"
    );
}
use corpus::*;

#[derive(Debug, Args)]
pub(crate) struct GuardArgs {
    /// Rounds over the corpus per simulator.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Also time the local model's summary through the node API at this URL (e.g.
    /// http://127.0.0.1:8402, with `agora up` running).
    #[arg(long, value_name = "URL")]
    explain_api: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub(crate) async fn run(global: &GlobalArgs, args: GuardArgs) -> Result<()> {
    let config = global.resolve()?;
    let mut err = std::io::stderr().lock();
    writeln!(err, "starting a devnet and deploying the scenario contracts…")?;
    let devnet = crate::bench::scratch_devnet(&config).await?;
    let url = devnet.rpc_url();
    let reader = ProviderBuilder::new().connect_http(url.parse()?).erased();
    let deployer = devnet.dev_signer(0).context("dev account 0")?;
    let d: DynProvider =
        ProviderBuilder::new().wallet(EthereumWallet::from(deployer)).connect_http(url.parse()?).erased();
    let attacker = devnet.dev_signer(2).context("dev account 2")?.address();
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
        bail!("minting the corpus tokens failed");
    }
    let eth = U256::from(10u64).pow(U256::from(18));
    let tx = |to: Address, data: Vec<u8>, value: U256| json!({"from": user, "to": to, "data": Bytes::from(data), "value": value});
    let permit = json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "Permit": [{"name":"owner","type":"address"},{"name":"spender","type":"address"},{"name":"value","type":"uint256"},{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}]
        },
        "primaryType": "Permit",
        "domain": {"name": "Mock", "version": "1", "chainId": 31337, "verifyingContract": mock},
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
    let data = GuardData::embedded()?;
    let mut results = serde_json::Map::new();
    let mut last_verdict = None;
    for kind in [SimulatorKind::Revm, SimulatorKind::Node] {
        let name = if kind == SimulatorKind::Revm { "revm" } else { "node" };
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
        writeln!(err, "{name}: {} rounds over {} requests…", args.rounds, corpus.len())?;
        let mut all = Vec::new();
        let mut per: Vec<(String, Vec<f64>)> =
            corpus.iter().map(|(n, _)| ((*n).to_owned(), Vec::new())).collect();
        for _ in 0..args.rounds {
            for (i, (_, request)) in corpus.iter().enumerate() {
                let started = Instant::now();
                guard.check(request).await?;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                all.push(ms);
                per[i].1.push(ms);
            }
        }
        all.sort_by(f64::total_cmp);
        let per_json: Vec<Value> = per
            .into_iter()
            .map(|(n, mut v)| {
                v.sort_by(f64::total_cmp);
                json!({"request": n, "p50_ms": percentile(&v, 50.0), "p95_ms": percentile(&v, 95.0)})
            })
            .collect();
        results.insert(
            name.into(),
            json!({"p50_ms": percentile(&all, 50.0), "p95_ms": percentile(&all, 95.0), "samples": all.len(), "per_request": per_json}),
        );
    }
    if let (Some(api), Some(verdict)) = (&args.explain_api, &last_verdict) {
        let client = reqwest::Client::new();
        let mut times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            agora_guard::explain::summarize(&client, api, verdict, 96).await.map_err(anyhow::Error::msg)?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        results.insert(
            "explain".into(),
            json!({"p50_ms": percentile(&times, 50.0), "max_tokens": 96, "api": api}),
        );
    }
    let results = Value::Object(results);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "guard verdict latency over {} requests x {} rounds (local anvil, no model):",
        corpus.len(),
        args.rounds
    )?;
    for name in ["revm", "node"] {
        let r = &results[name];
        writeln!(
            out,
            "  {name:<5} p50 {:>6.2} ms   p95 {:>6.2} ms",
            r["p50_ms"].as_f64().unwrap_or(0.0),
            r["p95_ms"].as_f64().unwrap_or(0.0)
        )?;
    }
    writeln!(out, "  per request (revm p50 / node p50, ms):")?;
    let (a, b) = (&results["revm"]["per_request"], &results["node"]["per_request"]);
    for i in 0..corpus.len() {
        writeln!(
            out,
            "    {:<32} {:>6.2} / {:>6.2}",
            a[i]["request"].as_str().unwrap_or(""),
            a[i]["p50_ms"].as_f64().unwrap_or(0.0),
            b[i]["p50_ms"].as_f64().unwrap_or(0.0)
        )?;
    }
    if let Some(e) = results.get("explain") {
        writeln!(
            out,
            "  local model summary adds p50 {:.0} ms (96 tokens max)",
            e["p50_ms"].as_f64().unwrap_or(0.0)
        )?;
    } else {
        writeln!(
            out,
            "  (model summary not timed: pass --explain-api http://127.0.0.1:8402 with `agora up` running)"
        )?;
    }
    devnet.stop().await;
    Ok(())
}
