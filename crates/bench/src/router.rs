//! `agora bench router`: what routing adds to a remote call. On a fresh devnet, one provider
//! node and one client node (both serving the model), it times
//!
//! 1. calls paid directly to the provider's paid listener (a payer with its own key, `exact`),
//!    the anchor;
//! 2. the same calls through the client node's OpenAI endpoint (`agent:<id>/<model>`): the
//!    router's own work is the call's time at the client minus the provider call it made (payment
//!    included), as the answer's `agora_route.latencyMs` reports it;
//! 3. the receipt check alone, and the local re-execution of a receipt (what a sampled answer
//!    costs), from which the time to catch a provider that cheats on every answer follows.

use crate::error::{Fallible, Result, run_error};
use agora_contracts::bindings::DevStablecoin;
use agora_pay::{Mandate, Payer, PayerConfig, Prefer};
use agora_receipts::ReceiptEnvelope;
use agora_store::Store;
use agora_testkit::{TestNet, TestNode};
use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use serde::Serialize;
use serde_json::{Value, json};
use std::{fmt, path::PathBuf, sync::Arc, time::Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct RouterBenchConfig {
    /// The model both nodes serve.
    pub model: PathBuf,
    /// Calls timed each way.
    pub calls: usize,
}

/// Medians and tails of one way of calling, ms.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
}

/// The time to catch a provider that cheats on every answer, at one sample rate.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// The share of answers re-executed, percent.
    pub recheck_percent: u8,
    /// Answers until the first re-executed one, on average.
    pub expected_answers: f64,
    /// Those answers' time at the routed median, plus one re-execution, seconds.
    pub expected_seconds: f64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct RouterReport {
    /// How the harness was compiled.
    pub profile: &'static str,
    /// Calls timed each way.
    pub calls: usize,
    /// Paid directly to the provider (the anchor).
    pub direct: Latency,
    /// Through the client node's router.
    pub routed: Latency,
    /// What the router added: the client's time minus the provider call it made.
    pub added: Latency,
    /// The receipt check alone, µs (median).
    pub check_us: f64,
    /// Re-executing one answer's receipt locally, ms (median).
    pub reexecution_ms: f64,
    /// Time to catch a cheat at some sample rates.
    pub detection: Vec<Detection>,
}

fn latency(mut samples: Vec<f64>) -> Latency {
    samples.sort_by(f64::total_cmp);
    Latency {
        p50_ms: crate::guard::percentile(&samples, 50.0),
        p95_ms: crate::guard::percentile(&samples, 95.0),
    }
}

const QUESTION: &str = "Name one colour of the rainbow.";

fn ask(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [{ "role": "user", "content": QUESTION }],
        "temperature": 0,
        "max_tokens": 8,
    })
}

/// Runs the benchmark, reporting progress lines.
pub async fn run(config: &RouterBenchConfig, progress: &dyn Fn(&str)) -> Result<RouterReport> {
    if config.calls < 2 {
        return Err(crate::BenchError::Config("--calls must be at least 2"));
    }
    measure(config, progress).await.map_err(run_error("router"))
}

async fn measure(config: &RouterBenchConfig, progress: &dyn Fn(&str)) -> Fallible<RouterReport> {
    progress("starting a devnet, a provider node and a client node");
    let net = TestNet::start().await;
    let provider = TestNode::start_with(&net, Some(config.model.clone()), 1, |_| {}).await;
    let client =
        TestNode::start_with(&net, Some(config.model.clone()), 2, |c| c.router.recheck_percent = 0).await;
    let minter = net.client_for(3).await;
    let token = DevStablecoin::new(net.stablecoin_address(), minter.provider());
    let http = reqwest::Client::new();

    // The client node pays from its key under a mandate; the direct payer has its own.
    let direct_key = PrivateKeySigner::random();
    for who in [client.node_address(), direct_key.address()] {
        token.faucet(who, U256::from(100_000_000u64)).send().await?.get_receipt().await?;
    }
    let mandate = Mandate {
        name: "default".into(),
        budget: 100_000_000,
        per_call: 50_000,
        payees: vec![],
        expires_at: 0,
    };
    mandate.save(&Store::open_in(client.data_dir())?)?;
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open_in(dir.path())?);
    mandate.save(&store)?;
    let payer = Payer::new(
        direct_key,
        store,
        PayerConfig {
            mandate: "default".into(),
            prefer: Prefer::Exact,
            channel_deposit: 0,
            expected_calls: 1,
        },
    );

    progress("waiting for the client's index to list the provider");
    let wallet = provider.node_address().to_checksum(None);
    let mut routed_model = None;
    for _ in 0..240 {
        let models: Value = http.get(client.url("/v1/models")).send().await?.json().await?;
        routed_model = models["data"]
            .as_array()
            .and_then(|d| d.iter().find(|m| m["agora"]["wallet"] == wallet.as_str()))
            .and_then(|m| m["id"].as_str().map(str::to_owned));
        if routed_model.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let routed_model = routed_model.ok_or("the client never listed the provider")?;

    progress(&format!("timing {} direct and {} routed calls, alternating", config.calls, config.calls));
    let direct_url = provider.paid_url("/v1/chat/completions");
    let body = serde_json::to_vec(&ask("default"))?;
    let (mut direct, mut routed, mut added) = (Vec::new(), Vec::new(), Vec::new());
    let mut receipt = None;
    // One untimed call each way first (connections, the payer's cached requirements).
    for i in 0..=config.calls {
        let started = Instant::now();
        let response = payer.send(reqwest::Method::POST, &direct_url, Some(body.clone())).await?;
        let direct_ms = started.elapsed().as_secs_f64() * 1e3;
        if response.status != 200 {
            return Err(format!("the direct call answered {}", response.status).into());
        }
        let started = Instant::now();
        let answer: Value = http
            .post(client.url("/v1/chat/completions"))
            .json(&ask(&routed_model))
            .send()
            .await?
            .json()
            .await?;
        let routed_ms = started.elapsed().as_secs_f64() * 1e3;
        let provider_ms =
            answer["agora_route"]["latencyMs"].as_f64().ok_or_else(|| format!("not routed: {answer}"))?;
        if i > 0 {
            direct.push(direct_ms);
            routed.push(routed_ms);
            added.push((routed_ms - provider_ms).max(0.0));
        }
        receipt = Some(serde_json::from_value::<ReceiptEnvelope>(answer["agora_receipt"].clone())?);
    }
    let receipt = receipt.ok_or("no answer")?;

    progress("timing the receipt check and a re-execution");
    let messages = receipt.request.messages.clone();
    let expected = agora_router::Expected {
        wallet: provider.node_address(),
        model_sha256: &alloy::hex::encode(receipt.signed.receipt.modelSha256),
        messages: &messages,
        seed: None,
        max_tokens: Some(8),
        payer: Some(client.node_address()),
        text: &receipt.output.text,
    };
    let mut checks = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        agora_router::check(&receipt, &expected)?;
        checks.push(started.elapsed().as_secs_f64() * 1e6);
    }
    checks.sort_by(f64::total_cmp);
    let engine = agora_infer::Engine::load(
        &config.model,
        &agora_infer::EngineOptions { threads: 2, max_context: None, isa: None },
    )?;
    let mut reexecutions = Vec::new();
    for _ in 0..5 {
        let r = agora_receipts::reexecute(&receipt, &engine)?;
        if !r.matches() {
            return Err("the provider's answer did not re-execute".into());
        }
        reexecutions.push(r.time.as_secs_f64() * 1e3);
    }
    let reexecution_ms = latency(reexecutions).p50_ms;
    let routed = latency(routed);
    let detection = [1u8, 10, 50, 100]
        .into_iter()
        .map(|p| {
            let answers = 100.0 / f64::from(p);
            Detection {
                recheck_percent: p,
                expected_answers: answers,
                expected_seconds: (answers * routed.p50_ms + reexecution_ms) / 1e3,
            }
        })
        .collect();
    Ok(RouterReport {
        profile: if cfg!(debug_assertions) { "dev (debug assertions on)" } else { "release" },
        calls: config.calls,
        direct: latency(direct),
        routed,
        added: latency(added),
        check_us: checks[checks.len() / 2],
        reexecution_ms,
        detection,
    })
}

impl fmt::Display for RouterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "routing a paid remote call ({} build, {} calls each way)", self.profile, self.calls)?;
        writeln!(f, "{:<44} {:>9} {:>9}", "", "p50 ms", "p95 ms")?;
        for (name, l) in [
            ("paid directly to the provider (anchor)", &self.direct),
            ("through the client node's router", &self.routed),
            ("added by the router (besides the call)", &self.added),
        ] {
            writeln!(f, "{name:<44} {:>9.2} {:>9.2}", l.p50_ms, l.p95_ms)?;
        }
        writeln!(f, "routed / direct (p50): {:.2}×", self.routed.p50_ms / self.direct.p50_ms)?;
        writeln!(
            f,
            "receipt check alone: {:.0} µs; re-executing one answer: {:.1} ms",
            self.check_us, self.reexecution_ms
        )?;
        writeln!(f, "time to catch a provider cheating on every answer:")?;
        for d in &self.detection {
            writeln!(
                f,
                "  re-check {:>3}%: after {:>5.0} answers on average, {:>7.1} s",
                d.recheck_percent, d.expected_answers, d.expected_seconds
            )?;
        }
        Ok(())
    }
}
