//! `agora bench infer`: prompt and generation speed of the local engine, single stream and four
//! concurrent streams, with llama.cpp measured in the same run on the same GGUF file, the same
//! prompt tokens and the same thread count, and the ratios between them.

use crate::cli::GlobalArgs;
use agora_infer::{ChatMessage, Engine, EngineOptions, SamplingParams};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::{io::Write, ops::ControlFlow, path::PathBuf, process::Command, sync::Arc, time::Instant};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Inference speed against llama.cpp.
    Infer(InferArgs),
    /// The ERC-8004 discovery index at scale, and the registries' gas, on a fresh devnet.
    Index(crate::bench_index::IndexArgs),
    /// x402 payments: paid-call throughput, voucher verification, gas per paid call.
    Pay(crate::bench_pay::PayArgs),
    /// The guard: verdict latency (p50, p95) with the in-process and the node simulator.
    Guard(crate::bench_guard::GuardArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InferArgs {
    /// Tokens to generate per stream (end-of-turn is ignored).
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Threads for both engines.
    #[arg(long, default_value_t = 2)]
    bench_threads: usize,
    /// The llama.cpp bench binary (`make bench-llamacpp` builds it); without it only agora runs.
    #[arg(long, value_name = "BIN")]
    llamacpp: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// The long prompt: a summary request over a few paragraphs (about 500 tokens).
const LONG_TEXT: &str = include_str!("bench_long_prompt.txt");
const SHORT_TEXT: &str = "Explain in one sentence what an ERC-20 approval is.";

/// A throwaway devnet on a free port, with the configured anvil, for the chain benchmarks.
pub(crate) async fn scratch_devnet(config: &agora_node::NodeConfig) -> Result<agora_chain::Devnet> {
    let anvil = match &config.chain {
        agora_node::ChainTarget::Devnet(d) => d.anvil.clone(),
        agora_node::ChainTarget::Rpc { .. } => "anvil".into(),
    };
    let config = agora_chain::DevnetConfig { anvil, port: 0, ..agora_chain::DevnetConfig::default() };
    Ok(agora_chain::Devnet::start(&config).await?)
}

pub(crate) async fn run(global: &GlobalArgs, command: BenchCommand) -> Result<()> {
    let args = match command {
        BenchCommand::Infer(args) => args,
        BenchCommand::Index(args) => return crate::bench_index::run(global, args).await,
        BenchCommand::Pay(args) => return crate::bench_pay::run(global, args).await,
        BenchCommand::Guard(args) => return crate::bench_guard::run(global, args).await,
    };
    let config = global.resolve()?;
    let model = config.inference.model.clone().context("no model: run `make setup`, or pass --model FILE")?;
    let threads = args.bench_threads;
    let tokens = args.tokens;
    let llamacpp = args.llamacpp.clone();
    let report = tokio::task::spawn_blocking(move || measure(&model, threads, tokens, llamacpp)).await??;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_table(&mut out, &report)?;
    }
    Ok(())
}

fn params(tokens: usize) -> SamplingParams {
    SamplingParams { max_tokens: tokens, ignore_eos: true, ..Default::default() }
}

fn measure(model: &PathBuf, threads: usize, tokens: usize, llamacpp: Option<PathBuf>) -> Result<Value> {
    let engine = Arc::new(Engine::load(model, &EngineOptions { threads, ..Default::default() })?);
    let mut prompts = Vec::new();
    for (name, text) in [("short", SHORT_TEXT), ("long", LONG_TEXT)] {
        prompts.push((name, engine.chat_prompt(&[ChatMessage::new("user", text)])?));
    }
    // Warm-up: caches, page faults, thread start.
    engine.generate(&prompts[0].1, &params(4), |_| ControlFlow::Continue(()))?;

    let mut results = Vec::new();
    for (name, prompt) in &prompts {
        let g = engine.generate(prompt, &params(tokens), |_| ControlFlow::Continue(()))?;
        let agora = json!({
            "prompt_tokens": prompt.len(),
            "prompt_tps": prompt.len() as f64 / g.prompt_time.as_secs_f64(),
            "gen_tps": g.tokens.len() as f64 / g.generation_time.as_secs_f64(),
        });
        let reference = match &llamacpp {
            Some(bin) => Some(run_llamacpp(bin, model, threads, tokens, prompt, 1)?),
            None => None,
        };
        results.push(json!({ "prompt": name, "streams": 1, "agora": agora, "llamacpp": reference }));
    }

    // Four concurrent streams on the short prompt: total generated tokens per second.
    let started = Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let engine = Arc::clone(&engine);
            let prompt = prompts[0].1.clone();
            std::thread::spawn(move || {
                let p = SamplingParams { seed: i, ..params(tokens) };
                engine.generate(&prompt, &p, |_| ControlFlow::Continue(())).map(|g| g.tokens.len())
            })
        })
        .collect();
    let mut generated = 0;
    for handle in handles {
        generated += handle.join().map_err(|_| anyhow::anyhow!("a stream panicked"))??;
    }
    let total_tps = generated as f64 / started.elapsed().as_secs_f64();
    let reference = match &llamacpp {
        Some(bin) => Some(run_llamacpp(bin, model, threads, tokens, &prompts[0].1, 4)?),
        None => None,
    };
    results.push(json!({
        "prompt": "short",
        "streams": 4,
        "agora": { "total_gen_tps": total_tps },
        "llamacpp": reference,
    }));
    Ok(json!({
        "model": engine.info().id,
        "threads": threads,
        "tokens": tokens,
        "kernels": engine.isa().name(),
        "agora_peak_rss_mib": peak_rss_mib(),
        "results": results,
    }))
}

/// Runs the llama.cpp bench binary on the same prompt tokens; it prints one JSON object.
fn run_llamacpp(
    bin: &PathBuf,
    model: &PathBuf,
    threads: usize,
    tokens: usize,
    prompt: &[u32],
    streams: usize,
) -> Result<Value> {
    let ids: Vec<String> = prompt.iter().map(u32::to_string).collect();
    let output = Command::new(bin)
        .arg(model)
        .arg(threads.to_string())
        .arg(tokens.to_string())
        .arg(streams.to_string())
        .arg(ids.join(","))
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !output.status.success() {
        bail!("{} failed: {}", bin.display(), String::from_utf8_lossy(&output.stderr));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("unexpected output from {}: {line}", bin.display()))
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn print_table(out: &mut impl Write, report: &Value) -> Result<()> {
    writeln!(
        out,
        "model {}  threads {}  {} tokens  kernels {}  agora peak RSS {:.0} MiB",
        report["model"].as_str().unwrap_or("?"),
        report["threads"],
        report["tokens"],
        report["kernels"].as_str().unwrap_or("?"),
        report["agora_peak_rss_mib"].as_f64().unwrap_or(0.0)
    )?;
    writeln!(out, "{:<22} {:>12} {:>12} {:>8}", "", "agora", "llama.cpp", "ratio")?;
    let row =
        |out: &mut dyn Write, label: String, ours: Option<f64>, theirs: Option<f64>| -> std::io::Result<()> {
            let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
            let ratio = match (ours, theirs) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => "-".to_owned(),
            };
            writeln!(out, "{label:<22} {:>12} {:>12} {ratio:>8}", fmt(ours), fmt(theirs))
        };
    for r in report["results"].as_array().into_iter().flatten() {
        let (a, l) = (&r["agora"], &r["llamacpp"]);
        if r["streams"] == 1 {
            let name = format!("{} ({} tok)", r["prompt"].as_str().unwrap_or("?"), a["prompt_tokens"]);
            row(out, format!("prompt t/s {name}"), a["prompt_tps"].as_f64(), l["prompt_tps"].as_f64())?;
            row(out, format!("gen t/s {name}"), a["gen_tps"].as_f64(), l["gen_tps"].as_f64())?;
        } else {
            row(
                out,
                "gen t/s 4 streams total".into(),
                a["total_gen_tps"].as_f64(),
                l["total_gen_tps"].as_f64(),
            )?;
        }
    }
    if let Some(rss) = report["results"][0]["llamacpp"]["peak_rss_mib"].as_f64() {
        writeln!(out, "llama.cpp peak RSS {rss:.0} MiB")?;
    }
    Ok(())
}
