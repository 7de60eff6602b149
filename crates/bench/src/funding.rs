//! `agora bench funding`: what a deep-funding round costs.
//!
//! 1. Scoring: a synthetic round of 5,000 edges (100 seeds × 50 dependencies over 1,000
//!    packages), 20 submissions and 500 jury answers, settled in fixed point (what is posted
//!    and challenged) against the same scoring in `f64` (the anchor), in one run.
//! 2. The AI solver: time per pairwise judgement on the default model (greedy, 8 tokens, signed
//!    receipt included).
//! 3. Gas on a fresh devnet for each step of a round over this repository's own dependency
//!    graph, and per payout claim.

use crate::error::{Fallible, Result, run_error};
use agora_funding::{
    Wad, ai,
    chain::{self as funding, FundingContracts, Plan},
    deps::{Builder, prune},
    graph::{Edge, Graph, Node, PPB, encode_weights},
    jury::{JuryAnswer, JurySheet, Question, sample},
    round::{RoundInput, score, settle},
    solve::baseline,
};
use agora_infer::{Engine, EngineOptions};
use agora_testkit::TestNet;
use alloy::{
    primitives::{Address, B256, keccak256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use serde::Serialize;
use std::{fmt, path::PathBuf, time::Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct FundingBenchConfig {
    /// The model the AI solver asks.
    pub model: PathBuf,
    /// The `Cargo.lock` of the round whose gas is measured.
    pub cargo_lock: PathBuf,
    /// Runs of each scoring (the median is reported).
    pub runs: usize,
    /// Judgements timed.
    pub judgements: usize,
}

/// Gas of one step.
#[derive(Debug, Clone, Serialize)]
pub struct Gas {
    /// The step.
    pub step: String,
    /// Gas used.
    pub gas: u64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct FundingReport {
    /// How the harness was compiled.
    pub profile: &'static str,
    /// Edges, submissions and jury answers of the scored round.
    pub round: (usize, usize, usize),
    /// Settling in fixed point, ms (median).
    pub fixed_ms: f64,
    /// The same scoring in f64, ms (median): the anchor.
    pub f64_ms: f64,
    /// The largest difference between the two arithmetics' final weights.
    pub max_weight_difference: f64,
    /// One judgement of the AI solver on the model, ms (median).
    pub judgement_ms: f64,
    /// The graph the gas was measured on: packages and edges.
    pub gas_graph: (usize, usize),
    /// Gas per step.
    pub gas: Vec<Gas>,
}

/// Runs the benchmark, reporting progress lines.
pub async fn run(config: &FundingBenchConfig, progress: &dyn Fn(&str)) -> Result<FundingReport> {
    measure(config, progress).await.map_err(run_error("funding"))
}

/// A deterministic stream of numbers (xorshift), so every run scores the same round.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// 1 root → 100 seeds → 50 dependencies each over 1,000 packages: 5,100 edges.
fn synthetic_round() -> RoundInput {
    let node = |i: usize| Node { id: format!("p{i}"), url: None, recipient: None, signals: None };
    let mut edges = Vec::new();
    let mut s = Stream(0x9e37_79b9_7f4a_7c15);
    for seed in 1..=100u32 {
        edges.push(Edge { source: 0, target: seed });
        let mut deps: Vec<u32> = Vec::new();
        while deps.len() < 50 {
            let d = 101 + (s.next() % 1000) as u32;
            if !deps.contains(&d) {
                deps.push(d);
            }
        }
        deps.sort_unstable();
        edges.extend(deps.into_iter().map(|target| Edge { source: seed, target }));
    }
    edges.sort_by_key(|e| (e.source, e.target));
    let graph = Graph { name: "synthetic".into(), nodes: (0..1101).map(node).collect(), edges };
    let children = graph.children();
    let submissions = (0..20u8)
        .map(|k| {
            let mut w = vec![0u32; graph.edges.len()];
            for (parent, out) in children.iter().enumerate() {
                let raw: Vec<u64> = out.iter().map(|_| 1 + s.next() % 1000).collect();
                let total: u64 = raw.iter().sum();
                let give = if parent == 0 { u64::from(PPB) } else { u64::from(PPB) * 6 / 10 };
                for (&e, r) in out.iter().zip(raw) {
                    w[e] = (give * r / total) as u32;
                }
            }
            (Address::with_last_byte(k + 1), encode_weights(&w))
        })
        .collect();
    // 50 jurors × 10 questions, answered by a noisy opinion.
    let seed = B256::repeat_byte(0x42);
    let jury = (0..50u8)
        .map(|j| {
            let juror = Address::repeat_byte(j + 1);
            let answers = sample(&graph, seed, juror, 10)
                .into_iter()
                .map(|q| match q {
                    Question::Compare { a, b } => {
                        JuryAnswer::Compare { less: a, more: b, times_centi: 100 + (s.next() % 400) as u32 }
                    }
                    Question::Originality { node } => {
                        JuryAnswer::Originality { node, percent: 20 + (s.next() % 60) as u8 }
                    }
                })
                .collect();
            (juror, JurySheet { answers }.encode())
        })
        .collect();
    RoundInput {
        graph,
        submissions,
        jury,
        seed,
        pairs_per_juror: 10,
        pool: 1_000_000_000,
        solver_share_bps: 1_000,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    crate::guard::percentile(&v, 50.0)
}

async fn measure(config: &FundingBenchConfig, progress: &dyn Fn(&str)) -> Fallible<FundingReport> {
    let input = synthetic_round();
    let answers: usize =
        input.jury.iter().map(|(_, s)| JurySheet::decode(s).map_or(0, |s| s.answers.len())).sum();
    progress(&format!(
        "scoring {} edges, {} submissions, {answers} jury answers, {} runs each arithmetic",
        input.graph.edges.len(),
        input.submissions.len(),
        config.runs
    ));
    let (mut fixed, mut float) = (Vec::new(), Vec::new());
    let mut difference = 0f64;
    for _ in 0..config.runs.max(1) {
        let t = Instant::now();
        let settled = settle(&input)?;
        fixed.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let scored = score::<f64>(&input)?;
        float.push(t.elapsed().as_secs_f64() * 1e3);
        for (w, f) in settled.weights.iter().zip(&scored.weights) {
            let w = Wad::parse(w).map_or(f64::NAN, agora_funding::Real::to_f64);
            difference = difference.max((w - f).abs());
        }
    }

    progress("timing the AI solver's judgements on the model");
    let model = config.model.clone();
    let n = config.judgements.max(1);
    let lock = std::fs::read_to_string(&config.cargo_lock)?;
    let mut builder = Builder::new("agora");
    builder.cargo_lock(&lock)?;
    let repo = prune(&builder.build("agora dependencies"), 2, 12);
    let repo_for_model = repo.clone();
    let judgement_ms = tokio::task::spawn_blocking(move || -> Fallible<f64> {
        let engine = Engine::load(&model, &EngineOptions { threads: 2, ..Default::default() })?;
        let signer = PrivateKeySigner::random();
        let questions = sample(&repo_for_model, keccak256(b"bench"), signer.address(), n);
        let mut times = Vec::new();
        for q in questions {
            let t = Instant::now();
            ai::judge(&engine, &signer, &repo_for_model, q, &ai::PERSONAS[0], false, 0)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(median(times))
    })
    .await??;

    progress(&format!(
        "a round over this repository's graph ({} packages) on a fresh devnet",
        repo.nodes.len()
    ));
    let gas = round_gas(&repo).await?;
    Ok(FundingReport {
        profile: if cfg!(debug_assertions) { "dev (debug assertions on)" } else { "release" },
        round: (input.graph.edges.len(), input.submissions.len(), answers),
        fixed_ms: median(fixed),
        f64_ms: median(float),
        max_weight_difference: difference,
        judgement_ms,
        gas_graph: (repo.nodes.len(), repo.edges.len()),
        gas,
    })
}

async fn warp(net: &TestNet, secs: u64) -> Fallible<()> {
    let p = net.deployer().provider();
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    Ok(())
}

async fn round_gas(graph: &Graph) -> Fallible<Vec<Gas>> {
    let net = TestNet::start().await;
    let c = FundingContracts::of(net.deployment()).ok_or("no round contracts in the suite")?;
    let mut graph = graph.clone();
    for (i, node) in graph.nodes.iter_mut().enumerate().skip(1) {
        node.recipient = Some(Address::left_padding_from(&(i as u64).to_be_bytes()));
    }
    let funder = net.client_for(1).await;
    let solvers = [net.client_for(2).await, net.client_for(3).await];
    let jurors = [net.client_for(4).await, net.client_for(5).await];
    let mut gas = Vec::new();
    let mut step = |name: &str, g: u64| gas.push(Gas { step: name.to_owned(), gas: g });
    let plan = Plan {
        graph: graph.clone(),
        jurors: jurors.iter().map(|j| j.signer_address().unwrap_or_default()).collect(),
        pool: 1_000_000_000,
        solver_share_bps: 1_000,
        solver_stake: 1_000_000,
        result_bond: 5_000_000,
        submit_secs: 600,
        reveal_secs: 300,
        jury_commit_secs: 600,
        jury_reveal_secs: 300,
        challenge_secs: 300,
        claim_secs: 3600,
        pairs_per_juror: 8,
    };
    let (id, created) = funding::create_round(&funder, c, &plan).await?;
    step("createRound (pool approved before)", created[1]);
    step(&format!("publishGraph ({} bytes)", graph.canonical().len()), created[2]);
    let weights = encode_weights(&baseline(&graph));
    let salt = |who: &agora_chain::ChainClient, what: &str| {
        funding::salt(who.signer_address().unwrap_or_default().as_slice(), id, what)
    };
    for s in &solvers {
        funding::commit(s, c, id, &weights, salt(s, "submission")).await?;
    }
    warp(&net, 601).await?;
    let mut revealed = 0;
    for s in &solvers {
        revealed = funding::reveal(s, c, id, &weights, salt(s, "submission")).await?;
    }
    step(&format!("reveal ({} edges, {} bytes)", graph.edges.len(), weights.len()), revealed);
    let seed = funding::draw_sample(&funder, c, id).await?;
    let mut sheets = Vec::new();
    for j in &jurors {
        let who = j.signer_address().unwrap_or_default();
        let answers = sample(&graph, seed, who, 8)
            .into_iter()
            .map(|q| match q {
                Question::Compare { a, b } => JuryAnswer::Compare { less: a, more: b, times_centi: 200 },
                Question::Originality { node } => JuryAnswer::Originality { node, percent: 60 },
            })
            .collect();
        let sheet = JurySheet { answers }.encode();
        let g = funding::jury_commit(j, c, id, &sheet, salt(j, "jury")).await?;
        sheets.push(sheet);
        step("juryCommit", g);
    }
    warp(&net, 601).await?;
    for (j, sheet) in jurors.iter().zip(&sheets) {
        let g = funding::jury_reveal(j, c, id, sheet, salt(j, "jury")).await?;
        step("juryReveal (8 answers)", g);
    }
    warp(&net, 301).await?;
    let result = settle(&funding::input(&funder, c, id).await?)?;
    step("postResult (bond approved before)", funding::post_result(&funder, c, id, &result).await?);
    warp(&net, 301).await?;
    step("finalize", funding::finalize(&funder, c, id).await?);
    let mut claims = Vec::new();
    for leaf in result.leaves.iter().filter(|l| l.account != Address::ZERO) {
        for (_, g) in funding::claim(&funder, c, id, &result, leaf.account).await? {
            claims.push(g as f64);
        }
    }
    let count = claims.len();
    step(&format!("claim (median of {count}, {} leaves)", result.leaves.len()), median(claims) as u64);
    gas.retain(|g| g.gas > 0);
    // Keep the first of repeated steps.
    let mut seen = std::collections::BTreeSet::new();
    gas.retain(|g| seen.insert(g.step.clone()));
    Ok(gas)
}

impl fmt::Display for FundingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "deep funding ({} build)", self.profile)?;
        let (e, s, j) = self.round;
        writeln!(f, "scoring a round of {e} edges, {s} submissions, {j} jury answers (median)")?;
        writeln!(f, "  f64 (anchor)          {:>9.1} ms", self.f64_ms)?;
        writeln!(
            f,
            "  fixed point (posted)  {:>9.1} ms   {:.2}× the f64 time; largest weight difference {:.1e}",
            self.fixed_ms,
            self.fixed_ms / self.f64_ms.max(1e-9),
            self.max_weight_difference
        )?;
        writeln!(
            f,
            "AI solver: {:.0} ms per pairwise judgement on the model (receipt signed)",
            self.judgement_ms
        )?;
        writeln!(f, "gas, a round over {} packages / {} edges:", self.gas_graph.0, self.gas_graph.1)?;
        for g in &self.gas {
            writeln!(f, "  {:<44} {:>9}", g.step, g.gas)?;
        }
        Ok(())
    }
}
