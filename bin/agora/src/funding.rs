//! `agora funding` and `agora qf`: deep-funding rounds (AI solvers, a sparse human jury, the
//! best blend paid by Merkle claims) and pairwise-bounded quadratic funding, on chain.

use crate::cli::{GlobalArgs, print_json};
use crate::units::{money, parse_duration, parse_money, when};
use agora_node::{
    funding::{
        chain::{Plan, QfPlan},
        graph::Graph,
        jury::{JuryAnswer, NamedAnswer},
        score::blend,
    },
    jobs::worker::duration,
    ops::funding::{self as ops, GraphSources, Solution},
};
use alloy::primitives::{Address, U256};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::{io::Write, path::PathBuf};

const FUNDING_HELP: &str = "\
A deep-funding round asks how much of a project's credit belongs to each of its dependencies,
all the way down. Solvers (AI or not) submit a weight for every edge of the dependency graph;
a few jurors answer random pairwise questions drawn from the chain after submissions close;
submissions are scored against the jury only; the best blend of them pays the pool, and the
solvers in proportion to their share of the blend. Anyone re-settles the round from the chain
and can challenge a wrong posted result; the validator council re-settles it and rules.

Examples:
  agora funding graph --lock Cargo.lock --depth 2 --max-deps 12 -o graph.json
  agora funding solve --graph graph.json -o baseline.json
  agora funding solve --graph graph.json --ai --questions 40 -o ai.json
  agora funding solve --graph graph.json --ai --through-node auto -o remote.json   paid providers
  agora funding compare --graph graph.json --jury answers.json baseline.json ai.json
  agora funding round create --graph graph.json --pool 100 --juror 0xabc… --juror 0xdef…
  agora funding round submit 1 --weights ai.json
  agora funding round status 1";

/// `agora funding`
#[derive(Debug, Subcommand)]
#[command(after_help = FUNDING_HELP)]
pub(crate) enum FundingCommand {
    /// Build a funding graph from real lockfiles: Cargo.lock, an npm install, Python packages.
    Graph(GraphArgs),
    /// Produce a submission: the baseline (dependency counts) or the local model as a panel of
    /// persona jurors (--ai), every answer with its receipt.
    Solve(SolveArgs),
    /// Score submission files against a jury file, offline: each one's cost and the blend.
    Compare(CompareArgs),
    /// A round on chain: create, status, submit, reveal, jury, score, challenge, finalize, claim.
    #[command(subcommand)]
    Round(RoundCommand),
}

/// `agora funding graph`
#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// A Cargo.lock: its workspace packages are the root.
    #[arg(long, value_name = "FILE")]
    lock: Option<PathBuf>,
    /// An npm install folder (its package.json and node_modules/.package-lock.json).
    #[arg(long, value_name = "DIR")]
    npm: Option<PathBuf>,
    /// A folder of installed Python packages (*.dist-info).
    #[arg(long, value_name = "DIR")]
    python: Option<PathBuf>,
    /// The Python packages installed on purpose (the others are their requirements).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    python_top: Vec<String>,
    /// Keep this many levels below the root (0: all).
    #[arg(long, default_value_t = 0)]
    depth: usize,
    /// Keep at most this many dependencies per package, the most depended on (0: all).
    #[arg(long, default_value_t = 0)]
    max_deps: usize,
    /// The root's name.
    #[arg(long, default_value = "agora")]
    name: String,
    /// Who can claim a package's payout, `NAME=ADDRESS` (repeat); the others' payouts stay in
    /// the round until the funder sweeps them.
    #[arg(long = "recipient", value_name = "NAME=ADDRESS", value_parser = parse_recipient)]
    recipients: Vec<(String, Address)>,
    /// Write the graph here [default: print it].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `agora funding solve`
#[derive(Debug, Args)]
pub(crate) struct SolveArgs {
    /// The graph (from `agora funding graph`).
    #[arg(long, value_name = "FILE")]
    graph: PathBuf,
    /// Ask the local model instead of using the baseline.
    #[arg(long)]
    ai: bool,
    /// Questions the model is asked (drawn like a juror's).
    #[arg(long, default_value_t = 40)]
    questions: usize,
    /// Personas each question is asked of (1–3).
    #[arg(long, default_value_t = 2)]
    personas: usize,
    /// Ask through the node running on this data directory, as this model: `auto` or a remote
    /// model's name reaches a provider its router pays (under the owner's mandate), a local name
    /// its own engine. Without it, the model is loaded here.
    #[arg(long, value_name = "MODEL", requires = "ai")]
    through_node: Option<String>,
    /// Write the solution here [default: print it].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `agora funding compare`
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The graph.
    #[arg(long, value_name = "FILE")]
    graph: PathBuf,
    /// Jury answers: a JSON list of answers by edge and node number
    /// (`{"kind":"compare","less":3,"more":5,"times_centi":250}`,
    /// `{"kind":"originality","node":7,"percent":60}`) or by package name
    /// (`{"parent":"agora","less":"anyhow","more":"alloy","times":20}`, `{"node":"axum","percent":60}`).
    #[arg(long, value_name = "FILE")]
    jury: PathBuf,
    /// Solution files (from `agora funding solve`), in commit order.
    #[arg(required = true)]
    submissions: Vec<PathBuf>,
}

/// `agora funding round`
#[derive(Debug, Subcommand)]
pub(crate) enum RoundCommand {
    /// Create a round over a graph, paying the pool from this node's wallet.
    Create(CreateArgs),
    /// Where a round stands and what happens next.
    Status {
        /// The round id.
        id: U256,
    },
    /// Commit a submission (staking); reveal it after the submission deadline.
    Submit {
        /// The round id.
        id: U256,
        /// A solution file (from `agora funding solve`).
        #[arg(long, value_name = "FILE")]
        weights: PathBuf,
    },
    /// Reveal this node's submission (the stake comes back).
    Reveal {
        /// The round id.
        id: U256,
    },
    /// The jury: show this juror's questions (drawing the sample when due), answer them from a
    /// file or with the local model, or reveal the answers.
    Jury(JuryArgs),
    /// Settle the round from the chain (deterministic fixed point); --post posts the result.
    Score {
        /// The round id.
        id: U256,
        /// Post the result (with the bond).
        #[arg(long)]
        post: bool,
        /// Leave this juror's answers out: how much one juror moves the result. Posted, such a
        /// result is wrong, and any re-settlement challenges it.
        #[arg(long, value_name = "ADDRESS")]
        without_juror: Option<Address>,
    },
    /// Re-settle here and challenge the posted result if it differs.
    Challenge {
        /// The round id.
        id: U256,
        /// Challenge even when it matches (the challenge then loses its bond).
        #[arg(long)]
        anyway: bool,
    },
    /// Make an unchallenged result final after its window.
    Finalize {
        /// The round id.
        id: U256,
    },
    /// Claim what the final result pays an account (this node by default; anyone may send).
    Claim {
        /// The round id.
        id: U256,
        /// The account paid.
        #[arg(long)]
        account: Option<Address>,
    },
}

/// `agora funding round create`
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The graph (from `agora funding graph`).
    #[arg(long, value_name = "FILE")]
    graph: PathBuf,
    /// The pool, in dollars.
    #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
    pool: u128,
    /// A juror's address (repeat).
    #[arg(long = "juror", value_name = "ADDRESS", required = true)]
    jurors: Vec<Address>,
    /// The solvers' share of the pool, percent.
    #[arg(long, default_value_t = 10)]
    solver_share: u16,
    /// A solver's stake, returned on reveal, in dollars.
    #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "1")]
    stake: u128,
    /// The result's bond (and a challenger's), in dollars.
    #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "5")]
    bond: u128,
    /// How long submissions are open: 90s, 45m, 2h, 1d.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    submit_for: u64,
    /// How long reveals are open after that.
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    reveal_for: u64,
    /// How long jurors answer after submissions close.
    #[arg(long, value_parser = parse_duration, default_value = "1d")]
    jury_for: u64,
    /// How long jurors reveal after that.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    jury_reveal_for: u64,
    /// The challenge window of a posted result.
    #[arg(long, value_parser = parse_duration, default_value = "1d")]
    challenge_for: u64,
    /// How long payouts can be claimed before the funder may sweep.
    #[arg(long, value_parser = parse_duration, default_value = "30d")]
    claim_for: u64,
    /// Questions drawn per juror.
    #[arg(long, default_value_t = 8)]
    pairs: u32,
}

/// `agora funding round jury`
#[derive(Debug, Args)]
pub(crate) struct JuryArgs {
    /// The round id.
    id: U256,
    /// Commit these answers (a JSON list, see `agora funding compare --help`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ai", "reveal"])]
    answers: Option<PathBuf>,
    /// Let the local model answer (a persona juror; each answer has a receipt).
    #[arg(long, conflicts_with = "reveal")]
    ai: bool,
    /// Reveal the committed answers.
    #[arg(long)]
    reveal: bool,
    /// Show another juror's questions.
    #[arg(long, value_name = "ADDRESS")]
    of: Option<Address>,
}

fn write_out(path: Option<&PathBuf>, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    match path {
        Some(p) => std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display())),
        None => {
            writeln!(std::io::stdout().lock(), "{text}")?;
            Ok(())
        }
    }
}

fn parse_recipient(text: &str) -> std::result::Result<(String, Address), String> {
    let (name, address) = text.split_once('=').ok_or_else(|| format!("{text:?} is not NAME=ADDRESS"))?;
    let address = address.parse().map_err(|_| format!("{address:?} is not an address"))?;
    Ok((name.to_owned(), address))
}

fn read_graph(path: &PathBuf) -> Result<Graph> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let graph: Graph =
        serde_json::from_str(&text).with_context(|| format!("{} is not a funding graph", path.display()))?;
    graph.validate().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(graph)
}

fn report_progress(started: std::time::Instant, done: usize, total: usize) {
    let per = started.elapsed().as_secs_f64() / done.max(1) as f64;
    let left = per * (total - done) as f64;
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r  asked {done}/{total} ({per:.1} s each, about {left:.0} s left)   ");
    if done == total {
        let _ = writeln!(err);
    }
}

fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

pub(crate) async fn funding(global: &GlobalArgs, command: FundingCommand) -> Result<()> {
    match command {
        FundingCommand::Graph(a) => {
            let cargo_lock = a.lock.or_else(|| {
                let default = PathBuf::from("Cargo.lock");
                (a.npm.is_none() && a.python.is_none() && default.exists()).then_some(default)
            });
            if cargo_lock.is_none() && a.npm.is_none() && a.python.is_none() {
                bail!("no sources: pass --lock Cargo.lock, --npm DIR or --python DIR");
            }
            let sources = GraphSources {
                name: a.name,
                cargo_lock,
                npm: a.npm,
                python: a.python.map(|p| (p, a.python_top)),
                depth: a.depth,
                max_deps: a.max_deps,
            };
            let mut graph = ops::build_graph(&sources)?;
            for (name, address) in &a.recipients {
                let node = graph
                    .nodes
                    .iter_mut()
                    .find(|n| n.id == *name || short(&n.id) == name)
                    .ok_or_else(|| anyhow::anyhow!("--recipient {name}: no such package in the graph"))?;
                node.recipient = Some(*address);
            }
            if a.output.is_none() || global.json {
                return write_out(a.output.as_ref(), &graph);
            }
            write_out(a.output.as_ref(), &graph)?;
            let children = graph.children();
            let mut top: Vec<&str> =
                children[0].iter().map(|&e| short(&graph.nodes[graph.edges[e].target as usize].id)).collect();
            top.truncate(12);
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "graph {}: {} packages, {} dependency edges, {} questions for a jury; root {}",
                graph.name,
                graph.nodes.len(),
                graph.edges.len(),
                ops::questions_in(&graph),
                graph.root()
            )?;
            writeln!(
                out,
                "  {} direct dependencies: {}{}",
                children[0].len(),
                top.join(", "),
                if children[0].len() > 12 { ", …" } else { "" }
            )?;
            if let Some(p) = &a.output {
                writeln!(out, "  written to {}", p.display())?;
            }
            Ok(())
        }
        FundingCommand::Solve(a) => {
            let graph = read_graph(&a.graph)?;
            let solution = if let Some(model) = &a.through_node {
                let config = global.resolve()?;
                let started = std::time::Instant::now();
                let quiet = global.json;
                ops::solve_through_node(
                    &config,
                    &graph,
                    model,
                    a.questions,
                    a.personas,
                    move |done, total| {
                        if !quiet {
                            report_progress(started, done, total);
                        }
                    },
                )
                .await?
            } else if a.ai {
                let config = global.resolve()?;
                let started = std::time::Instant::now();
                let quiet = global.json;
                ops::solve_ai(&config, &graph, a.questions, a.personas, move |done, total| {
                    if quiet {
                        return;
                    }
                    let per = started.elapsed().as_secs_f64() / done as f64;
                    let left = per * (total - done) as f64;
                    let mut err = std::io::stderr().lock();
                    let _ =
                        write!(err, "\r  asked {done}/{total} ({per:.1} s each, about {left:.0} s left)   ");
                    if done == total {
                        let _ = writeln!(err);
                    }
                })
                .await?
            } else {
                ops::solve_baseline(&graph)
            };
            if a.output.is_none() || global.json {
                return write_out(a.output.as_ref(), &solution);
            }
            write_out(a.output.as_ref(), &solution)?;
            let answered = solution.judgements.iter().filter(|j| j.answer.is_some()).count();
            let mut out = std::io::stdout().lock();
            write!(
                out,
                "{} solution for {} ({} edges)",
                solution.solver.split(':').next().unwrap_or(""),
                graph.name,
                graph.edges.len()
            )?;
            if !solution.judgements.is_empty() {
                write!(
                    out,
                    ": {answered} of {} model answers read as judgements, each with its receipt",
                    solution.judgements.len()
                )?;
            }
            writeln!(
                out,
                "; written to {}",
                a.output.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            )?;
            Ok(())
        }
        FundingCommand::Compare(a) => compare(global, a),
        FundingCommand::Round(command) => round(global, command).await,
    }
}

#[derive(serde::Serialize)]
struct Compared {
    submission: String,
    cost: f64,
    alpha: f64,
}

fn compare(global: &GlobalArgs, a: CompareArgs) -> Result<()> {
    let graph = read_graph(&a.graph)?;
    let items = graph.items();
    let text = std::fs::read_to_string(&a.jury).with_context(|| format!("reading {}", a.jury.display()))?;
    // Answers by edge number, or by package name (kept beside a graph that may be rebuilt).
    let answers: Vec<JuryAnswer> = match serde_json::from_str(&text) {
        Ok(answers) => answers,
        Err(_) => {
            let named: Vec<NamedAnswer> = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a list of jury answers", a.jury.display()))?;
            named
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    n.resolve(&graph).map_err(|e| anyhow::anyhow!("{} answer {i}: {e}", a.jury.display()))
                })
                .collect::<Result<_>>()?
        }
    };
    let jury = answers
        .iter()
        .enumerate()
        .map(|(i, answer)| {
            answer.to_answer::<f64>(&graph, &items).map_err(|e| anyhow::anyhow!("answer {i}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut logits = Vec::new();
    for p in &a.submissions {
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let s: Solution =
            serde_json::from_str(&text).with_context(|| format!("{} is not a solution file", p.display()))?;
        if s.graph_root != graph.root() {
            bail!("{} is a solution for another graph (root {})", p.display(), s.graph_root);
        }
        logits.push(
            graph.logits::<f64>(&items, &s.weights).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        );
    }
    let blend = blend(&logits, &jury)?;
    let rows: Vec<Compared> = a
        .submissions
        .iter()
        .zip(blend.costs.iter().zip(&blend.alpha))
        .map(|(p, (c, al))| Compared { submission: p.display().to_string(), cost: *c, alpha: *al })
        .collect();
    if global.json {
        return print_json(
            &serde_json::json!({ "answers": jury.len(), "submissions": rows, "blendCost": blend.cost }),
        );
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} jury answers; cost is the sum of squared log-ratio errors, lower is better",
        jury.len()
    )?;
    let n = jury.len().max(1) as f64;
    for r in &rows {
        writeln!(
            out,
            "  {:<32} cost {:>9.4} (mean {:.4})  blend weight {:.3}",
            r.submission,
            r.cost,
            r.cost / n,
            r.alpha
        )?;
    }
    writeln!(out, "  {:<32} cost {:>9.4} (mean {:.4})", "the blend", blend.cost, blend.cost / n)?;
    Ok(())
}

async fn round(global: &GlobalArgs, command: RoundCommand) -> Result<()> {
    let config = global.resolve()?;
    let mut out = std::io::stdout().lock();
    match command {
        RoundCommand::Create(a) => {
            let graph = read_graph(&a.graph)?;
            if a.solver_share > 100 {
                bail!("--solver-share {} is over 100%", a.solver_share);
            }
            let plan = Plan {
                graph,
                jurors: a.jurors,
                pool: a.pool,
                solver_share_bps: a.solver_share * 100,
                solver_stake: a.stake,
                result_bond: a.bond,
                submit_secs: a.submit_for,
                reveal_secs: a.reveal_for,
                jury_commit_secs: a.jury_for,
                jury_reveal_secs: a.jury_reveal_for,
                challenge_secs: a.challenge_for,
                claim_secs: a.claim_for,
                pairs_per_juror: a.pairs,
            };
            let created = ops::create(&config, &plan).await?;
            if global.json {
                return print_json(&created);
            }
            writeln!(
                out,
                "round {} created: {} over {} ({} edges, root {}); {} jurors, {} questions each; submissions close in {}",
                created.id,
                money(plan.pool),
                plan.graph.name,
                plan.graph.edges.len(),
                created.graph_root,
                plan.jurors.len(),
                plan.pairs_per_juror,
                duration(plan.submit_secs)
            )?;
        }
        RoundCommand::Status { id } => {
            let s = ops::status(&config, id).await?;
            if global.json {
                return print_json(&s);
            }
            writeln!(out, "round {id}: {} — {}", s.phase, s.next)?;
            writeln!(out, "  pool {} from {}", money(s.pool), s.funder)?;
            writeln!(out, "  submissions: {} committed, {} revealed", s.submissions.0, s.submissions.1)?;
            writeln!(
                out,
                "  jury: {} jurors{}",
                s.jurors.len(),
                if s.juror { " (this node is one)" } else { "" }
            )?;
            let names = ["submissions close", "reveals close", "jury answers close", "jury reveals close"];
            for (name, at) in names.iter().zip(s.deadlines) {
                writeln!(out, "  {name:<19} {}", when(at))?;
            }
            match (s.result, s.challenge) {
                (Some((root, _, _)), Some((challenger, dispute))) if s.phase == "final" => writeln!(
                    out,
                    "  result {root}: final after council dispute {dispute}, challenged by {challenger}"
                )?,
                (Some((root, poster, _)), _) if s.phase == "final" => {
                    writeln!(out, "  result {root} posted by {poster}: final")?
                }
                (Some((root, poster, end)), _) => {
                    writeln!(out, "  result {root} posted by {poster}; challenges until {}", when(end))?
                }
                _ => {}
            }
        }
        RoundCommand::Submit { id, weights } => {
            let w = ops::read_solution(&weights)?;
            let index = ops::submit(&config, id, &w).await?;
            writeln!(
                out,
                "round {id}: submission {index} committed; reveal it after submissions close: agora funding round reveal {id}"
            )?;
        }
        RoundCommand::Reveal { id } => {
            let gas = ops::reveal(&config, id).await?;
            writeln!(out, "round {id}: submission revealed, stake returned (gas {gas})")?;
        }
        RoundCommand::Jury(a) => {
            if a.reveal {
                let gas = ops::jury_reveal(&config, a.id).await?;
                writeln!(out, "round {}: answers revealed (gas {gas})", a.id)?;
            } else if a.ai {
                let judgements = ops::jury_answer_ai(&config, a.id).await?;
                let read = judgements.iter().filter(|j| j.answer.is_some()).count();
                writeln!(
                    out,
                    "round {}: the local model answered {read} of {} questions; committed",
                    a.id,
                    judgements.len()
                )?;
            } else if let Some(path) = a.answers {
                let answers: Vec<JuryAnswer> = serde_json::from_str(
                    &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                )
                .with_context(|| format!("{} is not a list of jury answers", path.display()))?;
                let n = answers.len();
                let asked = ops::jury_answer(&config, a.id, answers).await?;
                writeln!(
                    out,
                    "round {}: {n} answers to {asked} questions committed; reveal them after the answering closes",
                    a.id
                )?;
            } else {
                let questions = ops::jury_questions(&config, a.id, a.of).await?;
                if global.json {
                    return print_json(&questions);
                }
                writeln!(out, "round {}: {} questions for this juror", a.id, questions.len())?;
                for q in questions {
                    writeln!(out, "  {}", q.text)?;
                }
            }
        }
        RoundCommand::Score { id, post, without_juror } => {
            let result = ops::score(&config, id, post, without_juror).await?;
            if global.json {
                return print_json(&result);
            }
            writeln!(
                out,
                "round {id}: {} valid submissions, blend cost {}",
                result.submissions.len(),
                result.cost
            )?;
            for s in &result.submissions {
                writeln!(
                    out,
                    "  submission {} by {}: alone {}, weight {}",
                    s.index, s.solver, s.cost, s.alpha
                )?;
            }
            for r in &result.rejected {
                writeln!(out, "  left out: {}: {}", r.what, r.reason)?;
            }
            let mut leaves = result.leaves.clone();
            leaves.sort_by_key(|l| std::cmp::Reverse(l.amount));
            for l in leaves.iter().take(10) {
                writeln!(out, "  {:>14}  {}", money(l.amount), l.label)?;
            }
            if leaves.len() > 10 {
                writeln!(out, "  … {} more payouts", leaves.len() - 10)?;
            }
            writeln!(
                out,
                "  root {}{}",
                result.root,
                if post { ", posted" } else { " (not posted: --post)" }
            )?;
        }
        RoundCommand::Challenge { id, anyway } => {
            let c = ops::challenge(&config, id, anyway).await?;
            match c.dispute {
                Some(d) => writeln!(
                    out,
                    "round {id}: the posted root {} is not {} (re-settled here); challenged, council dispute {d}",
                    c.posted, c.here
                )?,
                None => writeln!(
                    out,
                    "round {id}: the posted result matches the re-settlement here; not challenged"
                )?,
            }
        }
        RoundCommand::Finalize { id } => {
            ops::finalize(&config, id).await?;
            writeln!(out, "round {id}: final; payouts can be claimed")?;
        }
        RoundCommand::Claim { id, account } => {
            let c = ops::claim(&config, id, account).await?;
            if global.json {
                return print_json(&c);
            }
            let total: u128 = c.claimed.iter().map(|c| c.0).sum();
            match (c.payouts, c.claimed.len()) {
                (0, _) => writeln!(out, "round {id}: the final result pays {} nothing", c.account)?,
                (_, 0) => writeln!(out, "round {id}: {}'s payouts were already claimed", c.account)?,
                (_, n) => {
                    writeln!(out, "round {id}: claimed {} for {} ({n} payouts)", money(total), c.account)?
                }
            }
        }
    }
    Ok(())
}

const QF_HELP: &str = "\
Quadratic funding: donors give to projects; a matching pool is split by how broad each
project's support is (pairwise-bounded CLR: every pair of donors has a $10 budget across all
projects, so colluding pairs extract little). Donations go straight to the projects; the
matching is posted with a challenge window and claimed by Merkle proof.

Examples:
  agora qf create --project 0xabc… --project 0xdef… --pool 100 --identity
  agora qf donate 1 --project 0 --amount 5
  agora qf status 1
  agora qf score 1 --post";

/// `agora qf`
#[derive(Debug, Subcommand)]
#[command(after_help = QF_HELP)]
pub(crate) enum QfCommand {
    /// Create a round over projects, paying the matching pool from this node's wallet.
    Create {
        /// A project's payout address (repeat); projects are numbered from 0 in this order.
        #[arg(long = "project", value_name = "ADDRESS", required = true)]
        projects: Vec<Address>,
        /// The matching pool, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        pool: u128,
        /// Only ERC-8004 identity holders may donate.
        #[arg(long)]
        identity: bool,
        /// How long donations are open.
        #[arg(long, value_parser = parse_duration, default_value = "7d")]
        donate_for: u64,
        /// The result's bond, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "5")]
        bond: u128,
        /// The challenge window of a posted result.
        #[arg(long, value_parser = parse_duration, default_value = "1d")]
        challenge_for: u64,
        /// How long payouts can be claimed before the funder may sweep.
        #[arg(long, value_parser = parse_duration, default_value = "30d")]
        claim_for: u64,
    },
    /// Donate to a project (the money goes straight to it).
    Donate {
        /// The round id.
        id: U256,
        /// The project's number.
        #[arg(long)]
        project: u32,
        /// In dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        amount: u128,
    },
    /// Donations so far and the matching they would get now.
    Status {
        /// The round id.
        id: U256,
    },
    /// Settle the matching from the chain; --post posts it.
    Score {
        /// The round id.
        id: U256,
        /// Post the result (with the bond).
        #[arg(long)]
        post: bool,
    },
    /// Re-settle here and challenge a posted result that differs.
    Challenge {
        /// The round id.
        id: U256,
    },
    /// Make an unchallenged result final after its window.
    Finalize {
        /// The round id.
        id: U256,
    },
    /// Claim a project's matching (this node's by default).
    Claim {
        /// The round id.
        id: U256,
        /// The account paid.
        #[arg(long)]
        account: Option<Address>,
    },
}

pub(crate) async fn qf(global: &GlobalArgs, command: QfCommand) -> Result<()> {
    let config = global.resolve()?;
    let mut out = std::io::stdout().lock();
    match command {
        QfCommand::Create { projects, pool, identity, donate_for, bond, challenge_for, claim_for } => {
            let n = projects.len();
            let plan = QfPlan {
                projects,
                pool,
                bond,
                donate_secs: donate_for,
                challenge_secs: challenge_for,
                claim_secs: claim_for,
                require_identity: identity,
            };
            let id = ops::qf_create(&config, &plan).await?;
            writeln!(
                out,
                "qf round {id} created: {} matching for {n} projects; donations close in {}{}",
                money(pool),
                duration(donate_for),
                if identity { " (ERC-8004 identity holders only)" } else { "" }
            )?;
        }
        QfCommand::Donate { id, project, amount } => {
            ops::qf_donate(&config, id, project, amount).await?;
            writeln!(out, "qf round {id}: donated {} to project {project}", money(amount))?;
        }
        QfCommand::Status { id } => {
            let s = ops::qf_status(&config, id).await?;
            if global.json {
                return print_json(&s);
            }
            writeln!(
                out,
                "qf round {id}: {}; donations close {}; matching pool {}",
                s.state,
                when(s.deadline),
                money(s.pool)
            )?;
            for (p, addr) in s.projects.iter().enumerate() {
                let matched: u128 = s
                    .matching
                    .leaves
                    .iter()
                    .filter(|l| l.label == format!("project {p}"))
                    .map(|l| l.amount)
                    .sum();
                writeln!(
                    out,
                    "  project {p} {addr}: {} from {} donors, matching now {}",
                    money(s.donated[p]),
                    s.donors[p],
                    money(matched)
                )?;
            }
        }
        QfCommand::Score { id, post } => {
            let r = ops::qf_score(&config, id, post).await?;
            if global.json {
                return print_json(&r);
            }
            for l in &r.leaves {
                writeln!(out, "  {:>14}  {} {}", money(l.amount), l.label, l.account)?;
            }
            writeln!(out, "  root {}{}", r.root, if post { ", posted" } else { " (not posted: --post)" })?;
        }
        QfCommand::Challenge { id } => {
            let c = ops::qf_challenge(&config, id).await?;
            match c.dispute {
                Some(d) => writeln!(
                    out,
                    "qf round {id}: the posted root {} is not {}; challenged, council dispute {d}",
                    c.posted, c.here
                )?,
                None => writeln!(out, "qf round {id}: the posted result matches; not challenged")?,
            }
        }
        QfCommand::Finalize { id } => {
            ops::qf_finalize(&config, id).await?;
            writeln!(out, "qf round {id}: final; matching can be claimed")?;
        }
        QfCommand::Claim { id, account } => {
            let claims = ops::qf_claim(&config, id, account).await?;
            let total: u128 = claims.iter().map(|c| c.0).sum();
            writeln!(out, "qf round {id}: claimed {}", money(total))?;
        }
    }
    Ok(())
}
