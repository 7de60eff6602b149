//! `agora job` and `agora validator`: jobs between agents (an escrowed budget, a provider's
//! bond, a delivery anyone can re-run, disputes a council of validators settles), by hand. A
//! running node (`agora up`) takes, delivers, finalizes and audits by itself under `[jobs]`;
//! these commands run beside it.

use crate::cli::{GlobalArgs, print_json};
use crate::units::{money256, parse_duration, parse_money256};
use agora_node::{
    infer::{ChatMessage, SamplingParams},
    jobs::{
        Activity, Policy, Verdict,
        worker::{choice_name, duration},
    },
    ops::jobs::{self as ops, JobReport, PostRequest, ProviderRef},
};
use alloy::primitives::{Address, B256, U256};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use std::io::Write;

const JOB_HELP: &str = "\
A job: a client escrows a budget for an inference (a model, messages, sampling with a seed);
the provider posts a bond and delivers the output with its signed receipt; for a window anyone
may re-run it and challenge a wrong delivery; a council of staked validators re-runs it and
votes; the loser pays. Amounts are in dollars of the chain's stablecoin.

Examples:
  agora job post --provider 1 -p \"Name three colours.\" --price 0.05
  agora job list --mine
  agora job status 3
  agora job challenge 3            re-run job 3 here; challenge only if the delivery is wrong
  agora job settle 3               finalize, refund or execute whatever is due";

/// `agora job`
#[derive(Debug, Subcommand)]
#[command(after_help = JOB_HELP)]
pub(crate) enum JobCommand {
    /// Post and fund a job for a provider (its ERC-8004 agent id, or an address).
    Post(PostArgs),
    /// Jobs on the escrow, newest first.
    List {
        /// Only jobs this node posted or may deliver.
        #[arg(long)]
        mine: bool,
    },
    /// Everything about one job: spec, parties, amounts, delivery, dispute.
    Show {
        /// The job id.
        id: U256,
    },
    /// Where a job stands and what happens next, in one line.
    Status {
        /// The job id.
        id: U256,
    },
    /// Take a job as this node's agent, posting the bond (a running node does it by itself).
    Accept {
        /// The job id.
        id: U256,
    },
    /// Run an accepted job on the local model and hand in the signed receipt.
    Submit {
        /// The job id.
        id: U256,
    },
    /// Re-run a delivered job on the local model; challenge it if the delivery is wrong
    /// (posting the bond and the council's fee, won back with half the provider's bond).
    Challenge {
        /// The job id.
        id: U256,
        /// Challenge even when the delivery matches the re-run (the challenge then loses).
        #[arg(long)]
        anyway: bool,
    },
    /// Take whatever step is due: finalize a delivery past its window, refund an expired job,
    /// execute a council ruling. Anyone may.
    Settle {
        /// The job id.
        id: U256,
    },
}

/// `agora job post`
#[derive(Debug, Args)]
pub(crate) struct PostArgs {
    /// The provider: an ERC-8004 agent id (the job goes to the agent's wallet) or an address.
    #[arg(long, value_name = "AGENT|ADDRESS")]
    provider: String,
    /// The user message.
    #[arg(short, long, value_name = "TEXT")]
    prompt: String,
    /// A system message first.
    #[arg(long, value_name = "TEXT")]
    system: Option<String>,
    /// Tokens to generate at most.
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    /// The sampling seed (anyone re-runs the job with it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The budget, in dollars (e.g. 0.05).
    #[arg(long, value_name = "DOLLARS", value_parser = parse_money256)]
    price: U256,
    /// The provider's bond, in dollars [default: four times the council's fee, so a right
    /// challenge pays].
    #[arg(long, value_name = "DOLLARS", value_parser = parse_money256)]
    bond: Option<U256>,
    /// How long the job stays open: 90s, 45m, 2h, 1d [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    expires: u64,
    /// The model file's sha256 [default: the local model's, see --model].
    #[arg(long, value_name = "SHA256")]
    model_sha256: Option<B256>,
}

/// `agora validator`
#[derive(Debug, Subcommand)]
#[command(after_help = "\
Validators audit deliveries by re-running them, challenge wrong ones, and sit on the council
that decides disputes (commit, reveal, majority; no-shows and the minority are slashed). A
running node does all of it by itself with [jobs] validate = true; `validator run` does it in
the foreground.

Examples:
  agora faucet --amount 20 && agora validator join --stake 10
  agora validator run --audit-percent 25
  agora validator status")]
pub(crate) enum ValidatorCommand {
    /// Join the council as this node's agent, staking dollars.
    Join {
        /// The stake in dollars [default: the council's minimum].
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money256)]
        stake: Option<U256>,
    },
    /// Leave the council with the whole stake (refused while drawn for an open dispute).
    Leave,
    /// This node's seat: stake, open disputes, balance.
    Status,
    /// Audit and judge in the foreground until Ctrl-C: re-run deliveries (a sampled share),
    /// challenge wrong ones, vote in disputes this node is drawn for.
    Run {
        /// The share of deliveries to re-run, percent [default: [jobs] audit_percent].
        #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
        audit_percent: Option<u8>,
        /// Also take jobs addressed to this node.
        #[arg(long)]
        provide: bool,
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
    },
}

fn status_line(r: &JobReport) -> String {
    format!("job {}: {} ({}) — {}", r.job_id, r.status, r.phase, r.next)
}

fn show(r: &JobReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", status_line(r))?;
    writeln!(out, "  client    {}", r.client)?;
    let agent = r.agent_id.map(|a| format!(" (agent {a})")).unwrap_or_default();
    writeln!(out, "  provider  {}{agent}", r.provider)?;
    writeln!(out, "  budget    {}   bond {}", money256(r.budget), money256(r.bond))?;
    let expiry = if r.expires_at > r.now {
        format!("in {}", duration(r.expires_at - r.now))
    } else {
        format!("{} ago", duration(r.now - r.expires_at))
    };
    writeln!(out, "  expires   {expiry}")?;
    if let Some(spec) = &r.spec {
        writeln!(out, "  model     {}", spec.model_sha256)?;
        for m in &spec.request.messages {
            writeln!(out, "  {:<9} {}", m.role, m.content)?;
        }
        let s = &spec.request.sampling;
        writeln!(
            out,
            "  sampling  max_tokens {} temperature {} seed {}",
            s.max_tokens, s.temperature, s.seed
        )?;
    } else {
        writeln!(out, "  (the description is not an agora inference job)")?;
    }
    if let Some(text) = &r.output {
        writeln!(out, "  delivered {text:?}")?;
    }
    if let Some(d) = r.dispute {
        writeln!(out, "  dispute   {d}")?;
    }
    if let Some(ruling) = r.ruling {
        writeln!(out, "  ruling    {}", u8::try_from(ruling).map_or("unknown", choice_name))?;
    }
    Ok(())
}

pub(crate) async fn job(global: &GlobalArgs, command: JobCommand) -> Result<()> {
    let config = global.resolve()?;
    match command {
        JobCommand::Post(a) => {
            let provider = match a.provider.parse::<U256>() {
                Ok(id) if !a.provider.starts_with("0x") => ProviderRef::Agent(id),
                _ => ProviderRef::Address(a.provider.parse::<Address>().map_err(|_| {
                    anyhow::anyhow!("--provider {:?} is neither an agent id nor an address", a.provider)
                })?),
            };
            let mut messages = Vec::new();
            if let Some(system) = a.system {
                messages.push(ChatMessage::new("system", system));
            }
            messages.push(ChatMessage::new("user", a.prompt));
            let sampling = SamplingParams {
                temperature: a.temperature,
                seed: a.seed,
                max_tokens: a.max_tokens,
                ..SamplingParams::default()
            };
            let posted = ops::post(
                &config,
                PostRequest {
                    provider,
                    messages,
                    sampling,
                    model: a.model_sha256,
                    price: a.price,
                    bond: a.bond,
                    expires_in: a.expires,
                },
            )
            .await?;
            if global.json {
                return print_json(&posted);
            }
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "job {} posted and funded: {} for {} (bond {}), expires in {}",
                posted.job_id,
                money256(posted.price),
                posted.provider,
                money256(posted.bond),
                duration(a.expires)
            )?;
            writeln!(out, "follow it with: agora job status {}", posted.job_id)?;
        }
        JobCommand::List { mine } => {
            let reports = ops::list(&config, mine).await?;
            if global.json {
                return print_json(&reports);
            }
            let mut out = std::io::stdout().lock();
            if reports.is_empty() {
                writeln!(out, "no jobs{}", if mine { " of this node" } else { "" })?;
            }
            for r in reports {
                writeln!(
                    out,
                    "{:>5}  {:<10} {:<11} {:>10}  bond {:>8}  provider {}",
                    r.job_id.to_string(),
                    r.status,
                    r.phase,
                    money256(r.budget),
                    money256(r.bond),
                    r.provider
                )?;
            }
        }
        JobCommand::Show { id } => {
            let r = ops::show(&config, id).await?;
            if global.json {
                return print_json(&r);
            }
            show(&r)?;
        }
        JobCommand::Status { id } => {
            let r = ops::show(&config, id).await?;
            if global.json {
                return print_json(&r);
            }
            writeln!(std::io::stdout(), "{}", status_line(&r))?;
        }
        JobCommand::Accept { id } => {
            let r = ops::accept(&config, id).await?;
            if global.json {
                return print_json(&r);
            }
            writeln!(std::io::stdout(), "accepted, bond {} posted\n{}", money256(r.bond), status_line(&r))?;
        }
        JobCommand::Submit { id } => {
            let r = ops::submit(&config, id).await?;
            if global.json {
                return print_json(&r);
            }
            writeln!(std::io::stdout(), "{}", status_line(&r))?;
        }
        JobCommand::Challenge { id, anyway } => {
            let c = ops::challenge(&config, id, anyway).await?;
            if global.json {
                if matches!((&c.verdict, c.dispute), (Verdict::Wrong { .. }, None)) {
                    bail!("the challenge was not sent");
                }
                return print_json(&c);
            }
            let mut out = std::io::stdout().lock();
            match (&c.verdict, c.dispute) {
                (Verdict::Stands, None) => {
                    writeln!(
                        out,
                        "job {id}: the delivery matches the re-run; not challenged (a challenge would lose {})",
                        money256(c.stake)
                    )?;
                }
                (verdict, Some(dispute)) => {
                    if let Verdict::Wrong { reason } = verdict {
                        writeln!(out, "job {id}: the delivery is wrong: {reason}")?;
                    }
                    writeln!(
                        out,
                        "challenged with {} at stake; the council decides dispute {dispute} (agora job status {id})",
                        money256(c.stake)
                    )?;
                }
                (Verdict::Wrong { .. }, None) => bail!("the challenge was not sent"),
            }
        }
        JobCommand::Settle { id } => {
            let (step, r) = ops::settle(&config, id).await?;
            if global.json {
                return print_json(&serde_json::json!({ "step": step, "job": r }));
            }
            writeln!(std::io::stdout(), "job {id}: {step}\n{}", status_line(&r))?;
        }
    }
    Ok(())
}

pub(crate) async fn validator(global: &GlobalArgs, command: ValidatorCommand) -> Result<()> {
    let config = global.resolve()?;
    let seat_line = |s: &ops::CouncilSeat| {
        if s.active {
            format!(
                "{} on the council: stake {}, {} open disputes; balance {}",
                s.address,
                money256(s.stake),
                s.open_disputes,
                money256(s.balance)
            )
        } else {
            format!(
                "{} is not on the council (minimum stake {}; balance {}): agora validator join",
                s.address,
                money256(s.min_stake),
                money256(s.balance)
            )
        }
    };
    match command {
        ValidatorCommand::Join { stake } => {
            let s = ops::join(&config, stake).await?;
            if global.json {
                return print_json(&s);
            }
            writeln!(std::io::stdout(), "{}", seat_line(&s))?;
        }
        ValidatorCommand::Leave => {
            let s = ops::leave(&config).await?;
            if global.json {
                return print_json(&s);
            }
            writeln!(std::io::stdout(), "left the council; balance {}", money256(s.balance))?;
        }
        ValidatorCommand::Status => {
            let s = ops::council(&config).await?;
            if global.json {
                return print_json(&s);
            }
            writeln!(std::io::stdout(), "{}", seat_line(&s))?;
        }
        ValidatorCommand::Run { audit_percent, provide, once } => {
            let policy = Policy {
                provide,
                validate: true,
                audit_percent: audit_percent.unwrap_or(config.jobs.audit_percent),
                ..config.jobs.clone()
            };
            let mut worker = ops::worker(&config, policy).await?;
            if once {
                let done = worker.pass().await?;
                if global.json {
                    return print_json(&done.iter().map(activity_json).collect::<Vec<_>>());
                }
                done.iter().for_each(|a| {
                    let _ = writeln!(std::io::stdout(), "{a}");
                });
                return Ok(());
            }
            // Until Ctrl-C: one line per activity, a JSON object each with --json.
            let json = global.json;
            let print = move |a: &Activity| {
                let _ = if json {
                    writeln!(std::io::stdout(), "{}", activity_json(a))
                } else {
                    writeln!(std::io::stdout(), "{a}")
                };
            };
            tracing::info!(target: "agora::jobs", "validating; Ctrl-C to stop");
            ops::run_worker(worker, agora_node::shutdown_signal(), print).await?;
        }
    }
    Ok(())
}

/// What a validator's pass did, as `--json` prints it: `activity` names it (`accepted`,
/// `audited`, `failed`, ...); ids and amounts are decimal strings.
fn activity_json(a: &Activity) -> serde_json::Value {
    use serde_json::json;
    match a {
        Activity::Accepted { job, bond } => {
            json!({ "activity": "accepted", "job": job.to_string(), "bond": bond.to_string() })
        }
        Activity::Declined { job, reason } => {
            json!({ "activity": "declined", "job": job.to_string(), "reason": reason })
        }
        Activity::Delivered { job, tokens } => {
            json!({ "activity": "delivered", "job": job.to_string(), "tokens": tokens })
        }
        Activity::Finalized { job } => json!({ "activity": "finalized", "job": job.to_string() }),
        Activity::Refunded { job } => json!({ "activity": "refunded", "job": job.to_string() }),
        Activity::Joined { stake } => json!({ "activity": "joined", "stake": stake.to_string() }),
        Activity::Audited { job, verdict } => {
            json!({ "activity": "audited", "job": job.to_string(), "verdict": verdict })
        }
        Activity::Challenged { job, dispute } => {
            json!({ "activity": "challenged", "job": job.to_string(), "dispute": dispute.to_string() })
        }
        Activity::Committed { dispute, choice } => {
            json!({ "activity": "committed", "dispute": dispute.to_string(), "choice": choice })
        }
        Activity::Revealed { dispute, choice } => {
            json!({ "activity": "revealed", "dispute": dispute.to_string(), "choice": choice })
        }
        Activity::Ruled { dispute, ruling } => {
            json!({ "activity": "ruled", "dispute": dispute.to_string(), "ruling": ruling.to_string() })
        }
        Activity::RoundVote { dispute, choice, revealed } => json!({
            "activity": if *revealed { "revealed" } else { "committed" },
            "about": "funding round",
            "dispute": dispute.to_string(),
            "choice": choice,
        }),
        Activity::RoundRuled { dispute, ruling } => json!({
            "activity": "ruled",
            "about": "funding round",
            "dispute": dispute.to_string(),
            "ruling": ruling.to_string(),
        }),
        Activity::Failed { what, error } => json!({ "activity": "failed", "what": what, "error": error }),
    }
}
