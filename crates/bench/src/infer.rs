//! `agora bench infer`: prompt and generation speed of the local engine, single stream and four
//! concurrent streams, with llama.cpp measured in the same run on the same GGUF file, the same
//! prompt tokens and the same thread count, and the ratios between them.

use crate::error::{BenchError, Fallible, Result, run_error};
use agora_infer::{ChatMessage, Engine, EngineOptions, SamplingParams};

pub use agora_infer::KernelIsa;
use serde::{Deserialize, Serialize};
use std::{
    fmt,
    ops::ControlFlow,
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::Instant,
};

/// The long prompt: a summary request over a few paragraphs (about 500 tokens).
const LONG_TEXT: &str = include_str!("long_prompt.txt");
const SHORT_TEXT: &str = "Explain in one sentence what an ERC-20 approval is.";

/// What to measure.
#[derive(Debug, Clone)]
pub struct InferConfig {
    /// The GGUF model both engines load.
    pub model: PathBuf,
    /// Threads for both engines.
    pub threads: usize,
    /// Tokens to generate per stream (end-of-turn is ignored).
    pub tokens: usize,
    /// The llama.cpp bench binary (`make bench-llamacpp` builds it); without it only agora runs.
    pub llamacpp: Option<PathBuf>,
    /// Runs of every measurement; the report gives their medians.
    pub runs: usize,
    /// The kernels agora runs (`None`: the best this CPU supports).
    pub kernels: Option<KernelIsa>,
}

impl InferConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.threads == 0 {
            return Err(BenchError::Config("--bench-threads must be at least 1"));
        }
        if self.tokens == 0 {
            return Err(BenchError::Config("--tokens must be at least 1"));
        }
        if self.runs == 0 {
            return Err(BenchError::Config("--runs must be at least 1"));
        }
        Ok(())
    }
}

/// One engine's speed on one prompt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Speed {
    /// Tokens in the prompt (single stream only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<usize>,
    /// Prompt processing, tokens per second (single stream only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tps: Option<f64>,
    /// Generation, tokens per second (single stream only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen_tps: Option<f64>,
    /// Generated tokens per second over all streams (concurrent runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_gen_tps: Option<f64>,
    /// Peak resident memory of the process, MiB (llama.cpp only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
}

/// One row: a prompt at a number of streams, both engines.
#[derive(Debug, Clone, Serialize)]
pub struct InferRow {
    /// `short` or `long`.
    pub prompt: &'static str,
    /// Concurrent streams.
    pub streams: usize,
    /// agora's engine.
    pub agora: Speed,
    /// llama.cpp, when its bench binary was given.
    pub llamacpp: Option<Speed>,
}

/// The report of `agora bench infer`.
#[derive(Debug, Clone, Serialize)]
pub struct InferReport {
    /// The model's id.
    pub model: String,
    /// Threads for both engines.
    pub threads: usize,
    /// Tokens generated per stream.
    pub tokens: usize,
    /// The matmul kernels agora chose for this CPU.
    pub kernels: String,
    /// How agora's engine was compiled (profile, optimisation level, debug assertions).
    pub build: String,
    /// Runs of every measurement; each figure is their median.
    pub runs: usize,
    /// agora's peak resident memory, MiB.
    pub agora_peak_rss_mib: f64,
    /// The measurements.
    pub results: Vec<InferRow>,
    /// Checking a receipt of `tokens` tokens on the short prompt against generating it.
    pub verification: Verification,
}

/// A receipt's check ([`agora_infer::Engine::verify`]: prompt and output in one pass) against its
/// generation.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Tokens of the output checked.
    pub tokens: usize,
    /// Seconds to generate it (prompt and generation).
    pub generate_secs: f64,
    /// Seconds to check it.
    pub verify_secs: f64,
}

/// Runs the benchmark (blocking: call it from a blocking thread).
pub fn run(config: &InferConfig) -> Result<InferReport> {
    config.validate()?;
    measure(config).map_err(run_error("infer"))
}

fn params(tokens: usize) -> SamplingParams {
    SamplingParams { max_tokens: tokens, ignore_eos: true, ..Default::default() }
}

fn single(prompt: &[u32], g: &agora_infer::Generation) -> Speed {
    Speed {
        prompt_tokens: Some(prompt.len()),
        prompt_tps: Some(prompt.len() as f64 / g.prompt_time.as_secs_f64()),
        gen_tps: Some(g.tokens.len() as f64 / g.generation_time.as_secs_f64()),
        total_gen_tps: None,
        peak_rss_mib: None,
    }
}

/// The median of some values (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

impl Speed {
    /// Each figure's median over `runs` (peak memory: the largest).
    fn median(runs: &[Speed]) -> Speed {
        let field = |f: fn(&Speed) -> Option<f64>| median(runs.iter().filter_map(f).collect());
        Speed {
            prompt_tokens: runs.first().and_then(|s| s.prompt_tokens),
            prompt_tps: field(|s| s.prompt_tps),
            gen_tps: field(|s| s.gen_tps),
            total_gen_tps: field(|s| s.total_gen_tps),
            peak_rss_mib: runs.iter().filter_map(|s| s.peak_rss_mib).reduce(f64::max),
        }
    }
}

fn measure(config: &InferConfig) -> Fallible<InferReport> {
    // One engine for every run, as a node serves: its peak memory is what serving costs.
    let options = EngineOptions { threads: config.threads, isa: config.kernels, ..Default::default() };
    let engine = Arc::new(Engine::load(&config.model, &options)?);
    let mut runs: Vec<InferReport> = Vec::new();
    for _ in 0..config.runs {
        runs.push(measure_once(config, &engine)?);
    }
    let mut report = runs[0].clone();
    for (i, row) in report.results.iter_mut().enumerate() {
        let ours: Vec<Speed> = runs.iter().map(|r| r.results[i].agora.clone()).collect();
        row.agora = Speed::median(&ours);
        let theirs: Vec<Speed> = runs.iter().filter_map(|r| r.results[i].llamacpp.clone()).collect();
        row.llamacpp = (!theirs.is_empty()).then(|| Speed::median(&theirs));
    }
    let field = |f: fn(&Verification) -> f64| median(runs.iter().map(|r| f(&r.verification)).collect());
    report.verification.generate_secs = field(|v| v.generate_secs).unwrap_or_default();
    report.verification.verify_secs = field(|v| v.verify_secs).unwrap_or_default();
    report.runs = config.runs;
    report.agora_peak_rss_mib = peak_rss_mib();
    Ok(report)
}

/// One run of every measurement (llama.cpp loads its model afresh in each of its processes).
fn measure_once(config: &InferConfig, engine: &Arc<Engine>) -> Fallible<InferReport> {
    let InferConfig { model, threads, tokens, llamacpp, .. } = config;
    let (threads, tokens) = (*threads, *tokens);
    let mut prompts = Vec::new();
    for (name, text) in [("short", SHORT_TEXT), ("long", LONG_TEXT)] {
        prompts.push((name, engine.chat_prompt(&[ChatMessage::new("user", text)])?));
    }
    // Warm-up: caches, page faults, thread start.
    engine.generate(&prompts[0].1, &params(4), |_| ControlFlow::Continue(()))?;

    let reference = |prompt: &[u32], streams: usize| -> Fallible<Option<Speed>> {
        llamacpp.as_deref().map(|bin| run_llamacpp(bin, model, threads, tokens, prompt, streams)).transpose()
    };
    let mut results = Vec::new();
    for (name, prompt) in &prompts {
        let g = engine.generate(prompt, &params(tokens), |_| ControlFlow::Continue(()))?;
        results.push(InferRow {
            prompt: name,
            streams: 1,
            agora: single(prompt, &g),
            llamacpp: reference(prompt, 1)?,
        });
    }
    // A receipt's check: the short prompt's output verified in one pass.
    let prepared = engine.prepare(prompts[0].1.clone(), params(tokens))?;
    let g = engine.run(&prepared, |_| ControlFlow::Continue(()))?;
    let checked = engine.verify(&prepared, &g.tokens)?;
    if checked.first_divergence.is_some() {
        return Err("the engine's own output does not verify".into());
    }
    let verification = Verification {
        tokens: g.tokens.len(),
        generate_secs: (g.prompt_time + g.generation_time).as_secs_f64(),
        verify_secs: checked.time.as_secs_f64(),
    };
    // Four concurrent streams on the short prompt: total generated tokens per second.
    let started = Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let engine = Arc::clone(engine);
            let prompt = prompts[0].1.clone();
            std::thread::spawn(move || {
                let p = SamplingParams { seed: i, ..params(tokens) };
                engine.generate(&prompt, &p, |_| ControlFlow::Continue(())).map(|g| g.tokens.len())
            })
        })
        .collect();
    let mut generated = 0;
    for handle in handles {
        generated += handle.join().map_err(|_| "a stream panicked")??;
    }
    let total = Speed {
        prompt_tokens: None,
        prompt_tps: None,
        gen_tps: None,
        total_gen_tps: Some(generated as f64 / started.elapsed().as_secs_f64()),
        peak_rss_mib: None,
    };
    results.push(InferRow {
        prompt: "short",
        streams: 4,
        agora: total,
        llamacpp: reference(&prompts[0].1, 4)?,
    });
    Ok(InferReport {
        model: engine.info().id.clone(),
        threads,
        tokens,
        kernels: engine.isa().name().to_owned(),
        build: agora_infer::engine_build(),
        runs: 1,
        agora_peak_rss_mib: peak_rss_mib(),
        results,
        verification,
    })
}

/// Runs the llama.cpp bench binary on the same prompt tokens; it prints one JSON object.
fn run_llamacpp(
    bin: &Path,
    model: &Path,
    threads: usize,
    tokens: usize,
    prompt: &[u32],
    streams: usize,
) -> Fallible<Speed> {
    let ids: Vec<String> = prompt.iter().map(u32::to_string).collect();
    let output = Command::new(bin)
        .arg(model)
        .arg(threads.to_string())
        .arg(tokens.to_string())
        .arg(streams.to_string())
        .arg(ids.join(","))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", bin.display(), String::from_utf8_lossy(&output.stderr)).into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .map_err(|e| format!("unexpected output from {}: {line} ({e})", bin.display()).into())
}

/// This process's peak resident memory, MiB.
pub(crate) fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

impl fmt::Display for InferReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model {}  threads {}  {} tokens  kernels {}  medians of {} run{}",
            self.model,
            self.threads,
            self.tokens,
            self.kernels,
            self.runs,
            if self.runs == 1 { "" } else { "s" }
        )?;
        writeln!(f, "agora: {}  peak RSS {:.0} MiB", self.build, self.agora_peak_rss_mib)?;
        writeln!(f, "{:<22} {:>12} {:>12} {:>8}", "", "agora", "llama.cpp", "ratio")?;
        let row = |f: &mut fmt::Formatter<'_>, label: String, ours: Option<f64>, theirs: Option<f64>| {
            let cell = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
            let ratio = crate::ratio(ours, theirs);
            writeln!(f, "{label:<22} {:>12} {:>12} {ratio:>8}", cell(ours), cell(theirs))
        };
        for r in &self.results {
            let (a, l) = (&r.agora, r.llamacpp.as_ref());
            if r.streams == 1 {
                let name = format!("{} ({} tok)", r.prompt, a.prompt_tokens.unwrap_or(0));
                row(f, format!("prompt t/s {name}"), a.prompt_tps, l.and_then(|l| l.prompt_tps))?;
                row(f, format!("gen t/s {name}"), a.gen_tps, l.and_then(|l| l.gen_tps))?;
            } else {
                row(f, "gen t/s 4 streams total".into(), a.total_gen_tps, l.and_then(|l| l.total_gen_tps))?;
            }
        }
        if let Some(rss) = self.results.first().and_then(|r| r.llamacpp.as_ref()).and_then(|l| l.peak_rss_mib)
        {
            writeln!(f, "llama.cpp peak RSS {rss:.0} MiB")?;
        }
        let v = &self.verification;
        writeln!(
            f,
            "receipt check ({} tokens, one pass) {:.2} s vs generating it {:.2} s: {:.2}x",
            v.tokens,
            v.verify_secs,
            v.generate_secs,
            v.verify_secs / v.generate_secs.max(1e-9)
        )?;
        Ok(())
    }
}
