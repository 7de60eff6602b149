//! `agora bench`: arguments in, the benchmark crate's report out (a table, or JSON).

use crate::cli::GlobalArgs;
use agora_bench::{
    credits::CreditsConfig, guard::GuardBenchConfig, index::IndexConfig, infer::InferConfig, pay::PayConfig,
};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::{io::Write, path::PathBuf};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Inference speed against llama.cpp.
    Infer(InferArgs),
    /// The ERC-8004 discovery index at scale, and the registries' gas, on a fresh devnet.
    Index(IndexArgs),
    /// x402 payments: paid-call throughput, voucher verification, gas per paid call.
    Pay(PayArgs),
    /// Anonymous credits: time to a ready call proof, verifications and durable paid calls per
    /// second, and the pool's gas on a fresh devnet.
    Credits(CreditsArgs),
    /// The guard: verdict latency (p50, p95) with the in-process and the node simulator.
    Guard(GuardArgs),
    /// The router: what routing and receipt checks add to a paid remote call, against paying
    /// the provider directly; the cost of a re-execution and the time to catch a cheat.
    Router(RouterArgs),
    /// Deep funding: scoring time in fixed point against f64, the AI solver's time per
    /// judgement, and the gas of each step of a round on a fresh devnet.
    Funding(FundingArgs),
}

#[derive(Debug, Args)]
pub(crate) struct FundingArgs {
    /// Runs of each scoring (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Judgements timed on the model.
    #[arg(long, default_value_t = 10)]
    judgements: usize,
    /// The Cargo.lock whose graph the gas is measured on.
    #[arg(long, value_name = "FILE", default_value = "Cargo.lock")]
    lock: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RouterArgs {
    /// Calls timed each way (direct and routed, alternating).
    #[arg(long, default_value_t = 30)]
    calls: usize,
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
    /// Runs of every measurement (both engines alternate); the table gives their medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Kernels to measure: scalar, avx2 or avx512-vnni [default: the best this CPU runs].
    #[arg(long, value_name = "NAME", value_parser = parse_kernels)]
    kernels: Option<agora_bench::infer::KernelIsa>,
}

fn parse_kernels(name: &str) -> std::result::Result<agora_bench::infer::KernelIsa, String> {
    use agora_bench::infer::KernelIsa;
    let available = KernelIsa::available();
    match available.iter().find(|isa| isa.name() == name) {
        Some(isa) => Ok(*isa),
        None => Err(format!(
            "this CPU runs {}",
            available.iter().map(|isa| isa.name()).collect::<Vec<_>>().join(", ")
        )),
    }
}

#[derive(Debug, Args)]
pub(crate) struct IndexArgs {
    /// Agents to register.
    #[arg(long, default_value_t = 10_000)]
    agents: u64,
    /// Feedbacks to leave.
    #[arg(long, default_value_t = 100_000)]
    feedback: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PayArgs {
    /// Paid calls in the throughput run (spread over the channels).
    #[arg(long, default_value_t = 40_000)]
    calls: usize,
    /// Channels (one client connection each) in the throughput run; at least 51.
    #[arg(long, default_value_t = 64)]
    channels: usize,
}

#[derive(Debug, Args)]
pub(crate) struct CreditsArgs {
    /// Proofs timed per case (1 or 4 units, with or without precomputation).
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// Calls in each provider run (verifications alone, paid calls with 1 and 2 workers).
    #[arg(long, default_value_t = 1_000)]
    provider_calls: usize,
}

#[derive(Debug, Args)]
pub(crate) struct GuardArgs {
    /// Rounds over the corpus per simulator.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Also time the local model's summary through the node API at this URL (e.g.
    /// http://127.0.0.1:8402, with `agora up` running).
    #[arg(long, value_name = "URL")]
    explain_api: Option<String>,
}

#[allow(clippy::print_stderr)]
fn progress(message: &str) {
    eprintln!("bench: {message}");
}

/// Prints `report` as JSON or as its table.
fn print<R: serde::Serialize + std::fmt::Display>(report: &R, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
    } else {
        write!(out, "{report}")?;
    }
    Ok(())
}

pub(crate) async fn run(global: &GlobalArgs, command: BenchCommand) -> Result<()> {
    let config = global.resolve()?;
    match command {
        BenchCommand::Infer(args) => {
            let bench = InferConfig {
                model: config
                    .inference
                    .model
                    .clone()
                    .context("no model: run `make setup`, or pass --model FILE")?,
                threads: args.bench_threads,
                tokens: args.tokens,
                llamacpp: args.llamacpp,
                runs: args.runs,
                kernels: args.kernels,
            };
            let report = tokio::task::spawn_blocking(move || agora_bench::infer::run(&bench)).await??;
            print(&report, global.json)
        }
        BenchCommand::Index(args) => {
            let bench = IndexConfig { agents: args.agents, feedback: args.feedback };
            print(&agora_bench::index::run(&config.anvil(), &bench, &progress).await?, global.json)
        }
        BenchCommand::Pay(args) => {
            let bench = PayConfig { calls: args.calls, channels: args.channels };
            print(&agora_bench::pay::run(&config.anvil(), &bench, &progress).await?, global.json)
        }
        BenchCommand::Credits(args) => {
            let bench = CreditsConfig { calls: args.calls, provider_calls: args.provider_calls };
            print(&agora_bench::credits::run(&config.anvil(), &bench, &progress).await?, global.json)
        }
        BenchCommand::Router(args) => {
            let bench = agora_bench::router::RouterBenchConfig {
                model: config
                    .inference
                    .model
                    .clone()
                    .context("no model: run `make setup`, or pass --model FILE")?,
                calls: args.calls,
            };
            print(&agora_bench::router::run(&bench, &progress).await?, global.json)
        }
        BenchCommand::Funding(args) => {
            let bench = agora_bench::funding::FundingBenchConfig {
                model: config
                    .inference
                    .model
                    .clone()
                    .context("no model: run `make setup`, or pass --model FILE")?,
                cargo_lock: args.lock,
                runs: args.runs,
                judgements: args.judgements,
            };
            print(&agora_bench::funding::run(&bench, &progress).await?, global.json)
        }
        BenchCommand::Guard(args) => {
            let bench = GuardBenchConfig { rounds: args.rounds, explain_api: args.explain_api };
            print(&agora_bench::guard::run(&config.anvil(), &bench, &progress).await?, global.json)
        }
    }
}
