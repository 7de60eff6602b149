//! `agora market`: prediction markets on questions the optimistic resolver settles, traded
//! against an LMSR maker.

use crate::cli::{GlobalArgs, print_json};
use crate::units::{money, parse_duration, parse_money};
use agora_node::{
    markets::chain::{MarketView, state_name},
    ops::markets as ops,
};
use alloy::primitives::U256;
use anyhow::Result;
use clap::Subcommand;
use std::io::Write;

const MARKET_HELP: &str = "\
A market is a question (asked of the optimistic resolver, which settles it) with an LMSR market
maker on it: buy the outcome you think is underpriced, sell it back, and once an answer is
asserted and its window passes without a dispute (or the validator council rules), redeem the
winning shares for one dollar each. Shares and amounts are in dollars.

Examples:
  agora market create \"Will the devnet reach block 1000 by Friday?\" --liquidity 100
  agora market list
  agora market buy 0 --outcome 0 --shares 10
  agora market resolve 0 --outcome 0        assert the answer (posting the bond)
  agora market resolve 0                    settle it after the window
  agora market redeem 0";

/// `agora market`
#[derive(Debug, Subcommand)]
#[command(after_help = MARKET_HELP)]
pub(crate) enum MarketCommand {
    /// Ask a question and open a market on it, paying the maker's subsidy (liquidity × ln n).
    Create {
        /// The question.
        question: String,
        /// Outcomes (2: no/yes is up to the question's wording; outcome 0 is the first).
        #[arg(long, default_value_t = 2)]
        outcomes: usize,
        /// The liquidity b, in dollars: prices move slower, and the subsidy is b × ln n.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "100")]
        liquidity: u128,
        /// The bond of an answer (and of a dispute), in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "5")]
        bond: u128,
        /// How long an asserted answer is open to dispute.
        #[arg(long, value_parser = parse_duration, default_value = "2h")]
        liveness: u64,
    },
    /// Open a market on a question the chain answers by itself: will ACCOUNT hold at least
    /// DOLLARS of the suite's dollar at block N? Settled from the chain's state, no bond.
    CreateFact {
        /// The account.
        #[arg(long)]
        account: alloy::primitives::Address,
        /// The threshold, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        at_least: u128,
        /// The block.
        #[arg(long)]
        at_block: u64,
        /// The liquidity b, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "100")]
        liquidity: u128,
    },
    /// Every market: its question, prices and state.
    List,
    /// One market, and what this node holds in it.
    Show {
        /// The market id.
        id: U256,
    },
    /// Buy shares of an outcome (paying at most the quote plus 1% unless --max-cost).
    Buy {
        /// The market id.
        id: U256,
        /// The outcome.
        #[arg(long)]
        outcome: usize,
        /// Shares, in whole dollars' worth (each pays $1 if the outcome wins).
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        shares: u128,
        /// The most to pay, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        max_cost: Option<u128>,
    },
    /// Sell shares back to the maker (taking at least the quote minus 1% unless --min-refund).
    Sell {
        /// The market id.
        id: U256,
        /// The outcome.
        #[arg(long)]
        outcome: usize,
        /// Shares.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        shares: u128,
        /// The least to take, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        min_refund: Option<u128>,
    },
    /// Assert the answer (--outcome, posting the bond), or settle an undisputed one after its
    /// window (without --outcome).
    Resolve {
        /// The market id.
        id: U256,
        /// The answer to assert.
        #[arg(long)]
        outcome: Option<usize>,
    },
    /// Dispute an asserted answer: the bond and the council's fee; the council rules.
    Dispute {
        /// The market id.
        id: U256,
    },
    /// Redeem this node's shares of a resolved market.
    Redeem {
        /// The market id.
        id: U256,
    },
}

fn line(m: &MarketView) -> String {
    let prices: Vec<String> =
        m.prices.iter().map(|p| format!("{:.3}", u128::try_from(*p).unwrap_or(0) as f64 / 1e18)).collect();
    let answer = m.outcome.map(|o| format!(", answer {o}")).unwrap_or_default();
    format!("market {}: {} — prices [{}], {}{answer}", m.id, m.text, prices.join(", "), state_name(m.state))
}

fn json(m: &MarketView) -> serde_json::Value {
    serde_json::json!({
        "id": m.id.to_string(),
        "question": m.text,
        "questionId": m.question_id,
        "conditionId": m.condition_id,
        "outcomes": m.outcomes,
        "prices": m.prices.iter().map(|p| u128::try_from(*p).unwrap_or(0) as f64 / 1e18).collect::<Vec<_>>(),
        "state": state_name(m.state),
        "answer": m.outcome,
        "livenessEnd": m.liveness_end,
    })
}

pub(crate) async fn market(global: &GlobalArgs, command: MarketCommand) -> Result<()> {
    let config = global.resolve()?;
    let mut out = std::io::stdout().lock();
    match command {
        MarketCommand::Create { question, outcomes, liquidity, bond, liveness } => {
            let id = ops::create(&config, &question, outcomes, liquidity, bond, liveness).await?;
            if global.json {
                return print_json(&serde_json::json!({ "id": id.to_string() }));
            }
            let subsidy = liquidity as f64 * (outcomes as f64).ln();
            writeln!(
                out,
                "market {id} open: {question} ({outcomes} outcomes, liquidity {}, subsidy about {})",
                money(liquidity),
                money(subsidy.ceil() as u128)
            )?;
        }
        MarketCommand::CreateFact { account, at_least, at_block, liquidity } => {
            let id = ops::create_fact(&config, account, at_least, at_block, liquidity).await?;
            writeln!(
                out,
                "market {id} open: will {account} hold at least {} at block {at_block}? (the chain answers it)",
                money(at_least)
            )?;
        }
        MarketCommand::List => {
            let all = ops::list(&config).await?;
            if global.json {
                return print_json(&all.iter().map(json).collect::<Vec<_>>());
            }
            if all.is_empty() {
                writeln!(out, "no markets yet: agora market create \"QUESTION\"")?;
            }
            for m in &all {
                writeln!(out, "{}", line(m))?;
            }
        }
        MarketCommand::Show { id } => {
            let (m, held) = ops::show(&config, id).await?;
            if global.json {
                let mut v = json(&m);
                v["held"] = serde_json::json!(held.iter().map(ToString::to_string).collect::<Vec<_>>());
                return print_json(&v);
            }
            writeln!(out, "{}", line(&m))?;
            for (i, h) in held.iter().enumerate() {
                writeln!(
                    out,
                    "  outcome {i}: this node holds {} shares",
                    money(u128::try_from(*h).unwrap_or(0))
                )?;
            }
        }
        MarketCommand::Buy { id, outcome, shares, max_cost } => {
            let paid = ops::trade(&config, id, outcome, i128::try_from(shares)?, max_cost).await?;
            writeln!(
                out,
                "market {id}: bought {} shares of outcome {outcome} for {}",
                money(shares),
                money(paid.unsigned_abs())
            )?;
        }
        MarketCommand::Sell { id, outcome, shares, min_refund } => {
            let got = ops::trade(&config, id, outcome, -i128::try_from(shares)?, min_refund).await?;
            writeln!(
                out,
                "market {id}: sold {} shares of outcome {outcome} for {}",
                money(shares),
                money(got.unsigned_abs())
            )?;
        }
        MarketCommand::Resolve { id, outcome } => {
            let done = ops::resolve(&config, id, outcome).await?;
            writeln!(out, "market {id}: {done}")?;
        }
        MarketCommand::Dispute { id } => {
            let d = ops::dispute(&config, id).await?;
            writeln!(out, "market {id}: disputed; the council decides dispute {d}")?;
        }
        MarketCommand::Redeem { id } => {
            let paid = ops::redeem(&config, id).await?;
            if global.json {
                return print_json(
                    &serde_json::json!({"market": id.to_string(), "payout": paid.to_string()}),
                );
            }
            writeln!(out, "market {id}: redeemed {}", money(u128::try_from(paid).unwrap_or(0)))?;
        }
    }
    Ok(())
}

const TRADER_HELP: &str = "\
The AI trader reads the open binary markets, asks a model the probability of each question
(twice: for yes and for no; how well the two answers agree is its confidence), bets a capped,
confidence-scaled Kelly fraction of its bankroll without buying past its own belief, and keeps a
record of each trade with the model's receipts in the data directory (trader/), so anyone can
re-run why it traded. It redeems what resolved markets owe it. It asks through the node running
on the data directory: `--through-node auto` reaches paid providers under the owner's mandate.

A small model is not an oracle: `agora trader score` reports its Brier score against always-50%
on the markets that resolved, even when it loses. Each forecast is also published on the
chain's forecast board under the node's ERC-8004 agent, before the answer is known, so anyone
can score every trader: `agora trader leaderboard` ranks them by Brier score and P&L, and
`--publish` gives those scores as ERC-8004 feedback, so good forecasters gain reputation.

`agora trader arb` needs no forecast at all: told how markets are related (exactly one of
several resolves YES; or one implies another), it buys equal legs that pay the same in every
possible world and cost less, up to where the prices agree (a partition's prices sum to 1; an
event is priced at most as high as what it implies). Its trades are what keeps the markets
coherent, and it earns the difference whatever happens.

Examples:
  agora trader run --once
  agora trader run --through-node auto --bankroll 20 --cap 0.1 --every 5m
  agora trader score
  agora trader leaderboard --publish
  agora trader arb --partition 3,4,5 --implies 6:7 --budget 50 --once";

/// `agora trader`
#[derive(Debug, Subcommand)]
#[command(after_help = TRADER_HELP)]
pub(crate) enum TraderCommand {
    /// Trade the open markets (every --every, or once with --once).
    Run {
        /// The model asked, through the running node (`auto`: paid providers under the mandate).
        #[arg(long, value_name = "MODEL", default_value = "default")]
        through_node: String,
        /// Dollars at stake per market.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "10")]
        bankroll: u128,
        /// The largest fraction of the bankroll one trade stakes.
        #[arg(long, default_value_t = 0.1)]
        cap: f64,
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
        /// Time between passes.
        #[arg(long, value_parser = parse_duration, default_value = "1m")]
        every: u64,
    },
    /// The trader's Brier score on resolved markets, against always-50% (0.25).
    Score,
    /// Every agent's published forecasts on resolved markets, scored (Brier and P&L), ranked.
    Leaderboard {
        /// Publish the scores as ERC-8004 feedback from this node's key (tags `brier` and `pnl`,
        /// and `market:<id>`), once per agent and market.
        #[arg(long)]
        publish: bool,
    },
    /// Keep related markets' prices coherent, for a profit in every world (no forecast needed).
    Arb {
        /// Markets of which exactly one resolves YES (comma-separated ids; repeatable).
        #[arg(long, value_name = "ID,ID,…", value_parser = parse_partition)]
        partition: Vec<Vec<U256>>,
        /// `A:B`: if market A resolves YES, so does market B (repeatable).
        #[arg(long, value_name = "A:B", value_parser = parse_implies)]
        implies: Vec<(U256, U256)>,
        /// The most spent per relation and pass.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "10")]
        budget: u128,
        /// The least earned in every world for a trade to be worth making.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "0.01")]
        min_profit: u128,
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
        /// Time between passes.
        #[arg(long, value_parser = parse_duration, default_value = "1m")]
        every: u64,
    },
}

fn signed_money(units: i128) -> String {
    if units < 0 { format!("-{}", money(units.unsigned_abs())) } else { money(units.unsigned_abs()) }
}

fn parse_id(text: &str) -> Result<U256, String> {
    text.trim().parse::<U256>().map_err(|_| format!("\"{text}\" is not a market id"))
}

fn parse_partition(text: &str) -> Result<Vec<U256>, String> {
    let ids = text.split(',').map(parse_id).collect::<Result<Vec<_>, _>>()?;
    if ids.len() < 2 {
        return Err("a partition needs at least two markets, e.g. 3,4,5".into());
    }
    Ok(ids)
}

fn parse_implies(text: &str) -> Result<(U256, U256), String> {
    let (a, b) = text.split_once(':').ok_or_else(|| format!("\"{text}\" is not A:B (e.g. 6:7)"))?;
    Ok((parse_id(a)?, parse_id(b)?))
}

pub(crate) async fn trader(global: &GlobalArgs, command: TraderCommand) -> Result<()> {
    let config = global.resolve()?;
    match command {
        TraderCommand::Run { through_node, bankroll, cap, once, every } => {
            if !(0.0..=1.0).contains(&cap) {
                anyhow::bail!("--cap {cap} is not a fraction in [0, 1]");
            }
            let policy = ops::TraderPolicy { model: through_node, bankroll, cap };
            loop {
                let (records, redeemed) = ops::trader_pass(&config, &policy).await?;
                let mut out = std::io::stdout().lock();
                for r in &records {
                    let why = format!(
                        "the model says {:.0}% (confidence {:.2}), the market {:.0}% (decided in {} ms)",
                        r.forecast.probability * 100.0,
                        r.forecast.confidence,
                        r.price * 100.0,
                        r.decided_ms
                    );
                    match r.bought {
                        Some(o) => writeln!(
                            out,
                            "market {}: bought {} shares of outcome {o} for {}: {why}",
                            r.market,
                            money(r.shares),
                            money(r.cost)
                        )?,
                        None => writeln!(out, "market {}: no trade: {why}", r.market)?,
                    }
                }
                if redeemed > 0 {
                    writeln!(out, "redeemed {} from resolved markets", money(redeemed))?;
                }
                if once {
                    return Ok(());
                }
                drop(out);
                tokio::time::sleep(std::time::Duration::from_secs(every.max(1))).await;
            }
        }
        TraderCommand::Score => {
            let scores = ops::trader_scores(&config).await?;
            let mut out = std::io::stdout().lock();
            if global.json {
                let rows: Vec<_> = scores
                    .iter()
                    .map(|(r, answer, brier)| serde_json::json!({"market": r.market, "forecast": r.forecast.probability, "answer": answer, "brier": brier}))
                    .collect();
                return print_json(&rows);
            }
            if scores.is_empty() {
                writeln!(out, "no resolved market this trader forecast yet")?;
                return Ok(());
            }
            for (r, answer, brier) in &scores {
                writeln!(
                    out,
                    "market {}: forecast {:.2} for outcome 0, answer {answer}: Brier {brier:.4}",
                    r.market, r.forecast.probability
                )?;
            }
            let mean = scores.iter().map(|s| s.2).sum::<f64>() / scores.len() as f64;
            let verdict = if mean < 0.25 {
                "better than"
            } else if mean > 0.25 {
                "worse than"
            } else {
                "the same as"
            };
            writeln!(
                out,
                "mean Brier {mean:.4} over {} markets: {verdict} always answering 50% (0.25)",
                scores.len()
            )?;
        }
        TraderCommand::Leaderboard { publish } => {
            let rows: Vec<(ops::ForecastScore, Option<String>)> = if publish {
                ops::publish_scores(&config).await?.into_iter().map(|p| (p.score, Some(p.result))).collect()
            } else {
                ops::leaderboard(&config).await?.into_iter().map(|s| (s, None)).collect()
            };
            if global.json {
                let rows: Vec<_> = rows
                    .iter()
                    .map(|(s, r)| {
                        let mut v = serde_json::to_value(s).unwrap_or_default();
                        if let Some(r) = r {
                            v["published"] = serde_json::Value::from(r.as_str());
                        }
                        v
                    })
                    .collect();
                return print_json(&rows);
            }
            let mut out = std::io::stdout().lock();
            if rows.is_empty() {
                writeln!(out, "no forecast on a resolved market yet")?;
                return Ok(());
            }
            for (s, r) in &rows {
                write!(
                    out,
                    "market {}: agent {} forecast {:.2}, answer {}: Brier {:.4}, P&L {}{}",
                    s.market,
                    s.agent_id,
                    s.probability,
                    s.answer,
                    s.brier,
                    signed_money(s.pnl),
                    if s.counted { "" } else { " (not counted: published after the answer could be known)" }
                )?;
                match r {
                    Some(r) => writeln!(out, ": {r}")?,
                    None => writeln!(out)?,
                }
            }
            // Per agent: counted forecasts, mean Brier, total P&L; best Brier first.
            let mut agents: std::collections::BTreeMap<&str, (usize, f64, i128)> = Default::default();
            for (s, _) in rows.iter().filter(|(s, _)| s.counted) {
                let e = agents.entry(s.agent_id.as_str()).or_default();
                e.0 += 1;
                e.1 += s.brier;
                e.2 += s.pnl;
            }
            let mut ranked: Vec<_> = agents.into_iter().collect();
            ranked.sort_by(|a, b| (a.1.1 / a.1.0 as f64).total_cmp(&(b.1.1 / b.1.0 as f64)));
            writeln!(out, "\nrank  agent  markets  mean Brier  P&L")?;
            for (i, (agent, (n, brier, pnl))) in ranked.iter().enumerate() {
                writeln!(
                    out,
                    "{:>4}  {agent:>5}  {n:>7}  {:>10.4}  {}",
                    i + 1,
                    brier / *n as f64,
                    signed_money(*pnl)
                )?;
            }
            writeln!(out, "(always answering 50% scores a Brier of 0.2500)")?;
        }
        TraderCommand::Arb { partition, implies, budget, min_profit, once, every } => {
            let relations: Vec<ops::MarketRelation> = partition
                .into_iter()
                .map(ops::MarketRelation::Partition)
                .chain(implies.into_iter().map(|(a, b)| ops::MarketRelation::Implies(a, b)))
                .collect();
            if relations.is_empty() {
                anyhow::bail!("say how markets are related: --partition 3,4,5 and/or --implies 6:7");
            }
            loop {
                let records = ops::arbitrage_pass(&config, &relations, budget, min_profit).await?;
                if global.json {
                    print_json(&records)?;
                } else {
                    let mut out = std::io::stdout().lock();
                    for r in &records {
                        let prices =
                            |p: &[f64]| p.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" ");
                        match &r.skipped {
                            Some(why) => writeln!(
                                out,
                                "{}: no trade ({why}); prices {}",
                                r.relation,
                                prices(&r.before)
                            )?,
                            None => {
                                let legs: Vec<String> = r
                                    .legs
                                    .iter()
                                    .map(|l| {
                                        format!(
                                            "{} shares of {} in market {} for {}",
                                            money(l.shares),
                                            if l.outcome == 0 { "YES" } else { "NO" },
                                            l.market,
                                            money(l.cost)
                                        )
                                    })
                                    .collect();
                                writeln!(
                                    out,
                                    "{}: bought {}; prices {} -> {}; pays at least {} for {} whatever happens",
                                    r.relation,
                                    legs.join(", "),
                                    prices(&r.before),
                                    prices(&r.after),
                                    money(r.payout),
                                    money(r.cost)
                                )?
                            }
                        }
                    }
                }
                if once {
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_secs(every.max(1))).await;
            }
        }
    }
    Ok(())
}

const DECIDE_HELP: &str = "\
A decision market (futarchy): humans choose the metric, markets choose the action. A proposal
asks a metric question (\"will X be met?\") and opens two books on it: one that counts only if the
proposal passes, one only if it fails. After trading, it passes iff the pass book's TWAP of YES
beats the fail book's by the threshold (3% by default), and then its action runs. The losing
branch's trades are void. The TWAPs observe at most once a second and each observation moves
at most --max-step: poke a proposal regularly (anyone may), and a last-second spike cannot
decide it.

Examples:
  agora decide propose \"Will weekly active agents exceed 100?\" --target 0xabc… --data 0x… --trading 3d
  agora decide trade 0 --branch pass --yes 20 --collateral 15
  agora decide poke 0
  agora decide status 0
  agora decide finalize 0";

/// `agora decide`
#[derive(Debug, Subcommand)]
#[command(after_help = DECIDE_HELP)]
pub(crate) enum DecideCommand {
    /// Propose an action, judged by a metric question.
    Propose {
        /// The metric question (outcome 0 = yes).
        metric: String,
        /// The action's target contract.
        #[arg(long)]
        target: alloy::primitives::Address,
        /// The action's calldata (hex).
        #[arg(long, default_value = "0x")]
        data: alloy::primitives::Bytes,
        /// How long trading lasts.
        #[arg(long, value_parser = parse_duration, default_value = "1d")]
        trading: u64,
        /// How long before the TWAPs start recording.
        #[arg(long, value_parser = parse_duration, default_value = "0s")]
        twap_delay: u64,
        /// The largest move of one TWAP observation, as a price (0–1).
        #[arg(long, default_value_t = 0.05)]
        max_step: f64,
        /// θ in basis points: pass iff TWAP(pass) > TWAP(fail) × (1 + θ).
        #[arg(long, default_value_t = 300)]
        threshold_bps: u16,
        /// Each book's liquidity, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "100")]
        liquidity: u128,
    },
    /// Where a decision stands: prices, TWAPs, the rule.
    Status {
        /// The proposal id.
        id: U256,
    },
    /// Trade the metric in one branch's book.
    Trade {
        /// The proposal id.
        id: U256,
        /// `pass` or `fail`.
        #[arg(long, value_parser = ["pass", "fail"])]
        branch: String,
        /// Shares of YES to buy (dollars' worth).
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, conflicts_with = "no")]
        yes: Option<u128>,
        /// Shares of NO to buy.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        no: Option<u128>,
        /// Dollars split into pass and fail dollars first (the branch's book takes its half).
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money, default_value = "0")]
        collateral: u128,
    },
    /// Record an observation of both books (anyone may).
    Poke {
        /// The proposal id.
        id: U256,
    },
    /// Decide after trading: pass runs the action.
    Finalize {
        /// The proposal id.
        id: U256,
    },
}

pub(crate) async fn decide(global: &GlobalArgs, command: DecideCommand) -> Result<()> {
    let config = global.resolve()?;
    let mut out = std::io::stdout().lock();
    let price = |p: U256| u128::try_from(p).unwrap_or(0) as f64 / 1e18;
    match command {
        DecideCommand::Propose {
            metric,
            target,
            data,
            trading,
            twap_delay,
            max_step,
            threshold_bps,
            liquidity,
        } => {
            if !(0.0..=1.0).contains(&max_step) {
                anyhow::bail!("--max-step {max_step} is not a price in [0, 1]");
            }
            let proposal = agora_node::markets::chain::Proposal {
                metric: metric.clone(),
                target,
                data: data.to_vec(),
                trading,
                twap_delay,
                max_step: U256::from((max_step * 1e18) as u128),
                threshold_bps,
                b: ops::wad_of_units(liquidity),
                bond: 5_000_000,
                liveness: 7200,
            };
            let id = ops::propose(&config, &proposal).await?;
            writeln!(
                out,
                "proposal {id}: trading on \"{metric}\" if it passes and if it fails, for {}",
                agora_node::jobs::worker::duration(trading)
            )?;
        }
        DecideCommand::Status { id } => {
            let d = ops::decision(&config, id).await?;
            let status = match d.status {
                1 if d.now >= d.end => {
                    "trading over, not finalized yet (agora decide finalize, or the node's keeper)"
                }
                1 => "trading",
                2 => "passed (the action ran)",
                3 => "failed",
                _ => "unknown",
            };
            if d.status == 1 && d.now < d.end {
                let left = agora_node::jobs::worker::duration(d.end - d.now);
                writeln!(out, "proposal {id}: {status}; trading ends in {left} of chain time")?;
            } else {
                let ago = agora_node::jobs::worker::duration(d.now.saturating_sub(d.end));
                writeln!(out, "proposal {id}: {status}; trading ended {ago} ago in chain time")?;
            }
            writeln!(out, "  pass book: YES {:.3}, TWAP {:.3}", price(d.prices[0]), price(d.twaps[0]))?;
            writeln!(out, "  fail book: YES {:.3}, TWAP {:.3}", price(d.prices[1]), price(d.twaps[1]))?;
            let theta = u128::try_from(d.threshold_bps).unwrap_or(0) as f64 / 1e4;
            let bar = price(d.twaps[1]) * (1.0 + theta);
            writeln!(
                out,
                "  passes iff the pass TWAP beats {bar:.3} (the fail TWAP × {:.2}): {}",
                1.0 + theta,
                if price(d.twaps[0]) > bar { "it would pass now" } else { "it would fail now" }
            )?;
        }
        DecideCommand::Trade { id, branch, yes, no, collateral } => {
            let b = usize::from(branch == "fail");
            let shares = match (yes, no) {
                (Some(y), _) => i128::try_from(y)?,
                (None, Some(n)) => -i128::try_from(n)?,
                (None, None) => anyhow::bail!("say what to buy: --yes DOLLARS or --no DOLLARS"),
            };
            let paid = ops::decide_trade(&config, id, b, shares, collateral).await?;
            writeln!(
                out,
                "proposal {id}: traded in the {branch} book for {} {branch} dollars",
                money(paid.unsigned_abs())
            )?;
        }
        DecideCommand::Poke { id } => {
            ops::poke(&config, id).await?;
            writeln!(out, "proposal {id}: observed")?;
        }
        DecideCommand::Finalize { id } => {
            let passed = ops::finalize_decision(&config, id).await?;
            writeln!(
                out,
                "proposal {id}: {}",
                if passed { "passed; the action ran" } else { "failed; the action did not run" }
            )?;
        }
    }
    Ok(())
}
