//! Paying and being paid over HTTP 402 (x402): `agora pay`, `agora mandate`, `agora channel`,
//! `agora earnings` and, on development chains, `agora faucet`.
//!
//! The payer is this data directory's node key (the agent's wallet): it signs EIP-3009
//! authorizations and channel vouchers, always under a spending mandate kept in the store.

use crate::cli::{GlobalArgs, print_json};
use crate::units::{money, parse_duration, parse_money, when};
use agora_node::pay::{Mandate, Payer, PayerConfig, Prefer};
use agora_node::{
    NodeConfig,
    ops::payments::{self as ops, DEFAULT_MANDATE},
};
use alloy::primitives::{Address, B256};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemeArg {
    /// A channel if one is open to the payee or --calls is 10 or more, else exact, else upto.
    Auto,
    /// x402 `exact`: one EIP-3009 transfer of the price per call.
    Exact,
    /// x402 `upto`: authorize the ceiling, pay what the call cost (approves Permit2 once).
    Upto,
    /// x402 `batch-settlement`: a channel (opened on first use with --deposit), one voucher per
    /// call, claimed by the payee in batches.
    Channel,
}

impl From<SchemeArg> for Prefer {
    fn from(s: SchemeArg) -> Self {
        match s {
            SchemeArg::Auto => Prefer::Auto,
            SchemeArg::Exact => Prefer::Exact,
            SchemeArg::Upto => Prefer::Upto,
            SchemeArg::Channel => Prefer::Channel,
        }
    }
}

/// How to pay, shared by `agora pay` and `agora chat --pay`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PayOptions {
    /// Spending mandate to pay under.
    #[arg(long, default_value = DEFAULT_MANDATE)]
    pub(crate) mandate: String,
    /// Payment scheme.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) scheme: SchemeArg,
    /// What to deposit when a channel is opened or topped up, in dollars (`1.50`, or atomic
    /// units as `1500000atomic`).
    #[arg(long, default_value = "1", value_name = "DOLLARS", value_parser = parse_money)]
    pub(crate) deposit: u128,
    /// How many calls to this payee you expect: from 10 on, `auto` opens a channel.
    #[arg(long, default_value_t = 1)]
    pub(crate) calls: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PayArgs {
    /// The URL of a priced resource, e.g. http://127.0.0.1:8412/v1/chat/completions.
    url: String,
    /// JSON body to send (the request is then a POST).
    #[arg(long, short)]
    data: Option<String>,
    /// HTTP method [default: GET, or POST with --data].
    #[arg(long, short = 'X')]
    method: Option<String>,
    #[command(flatten)]
    options: PayOptions,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MandateCommand {
    /// Create or replace a mandate; what was spent under its name stays counted.
    Set {
        /// Its name.
        #[arg(long, default_value = DEFAULT_MANDATE)]
        name: String,
        /// Total that payments (and channel deposits) may reach, in dollars (e.g. 5 or 0.25).
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        budget: u128,
        /// The most one call may cost, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        per_call: u128,
        /// A payee that may be paid (repeat for several; none: any payee).
        #[arg(long = "payee")]
        payees: Vec<Address>,
        /// How long from now it lasts (90s, 45m, 2h, 7d; none: no expiry).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<u64>,
    },
    /// Show a mandate and what was spent under it.
    Show {
        /// Its name.
        #[arg(long, default_value = DEFAULT_MANDATE)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Open (or top up) a channel to the provider of URL with a deposit, submitted on chain.
    Open {
        /// A priced URL of the provider.
        url: String,
        /// What to deposit, in dollars.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_money)]
        amount: u128,
        /// Mandate the deposit counts against.
        #[arg(long, default_value = DEFAULT_MANDATE)]
        mandate: String,
    },
    /// The channels this node pays through, with their on-chain state.
    Status,
    /// Start the timed exit of a channel: after its delay, `withdraw` returns what was not claimed.
    Close {
        /// The channel id.
        channel: B256,
    },
    /// Complete the exit once the delay has passed.
    Withdraw {
        /// The channel id.
        channel: B256,
    },
}

#[derive(Debug, Args)]
pub(crate) struct EarningsArgs {
    /// Claim every channel with something unclaimed now.
    #[arg(long)]
    claim: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FaucetArgs {
    /// Who gets the dollars [default: this node's key].
    #[arg(long)]
    to: Option<Address>,
    /// How many dollars to mint.
    #[arg(long, default_value = "100", value_name = "DOLLARS", value_parser = parse_money)]
    amount: u128,
    /// The stablecoin [default: from this data directory's deployments].
    #[arg(long)]
    token: Option<Address>,
}

fn out(line: impl std::fmt::Display) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

fn note(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The payer of this data directory.
pub(crate) fn payer(config: &NodeConfig, options: &PayOptions) -> Result<Payer> {
    Ok(ops::payer(
        config,
        PayerConfig {
            mandate: options.mandate.clone(),
            prefer: options.scheme.into(),
            channel_deposit: options.deposit,
            expected_calls: options.calls,
        },
    )?)
}

pub(crate) async fn pay(global: &GlobalArgs, args: PayArgs) -> Result<()> {
    let config = global.resolve()?;
    let payer = payer(&config, &args.options)?;
    let method = match (&args.method, &args.data) {
        (Some(m), _) => {
            agora_node::pay::Method::from_bytes(m.to_uppercase().as_bytes()).context("not an HTTP method")?
        }
        (None, Some(_)) => agora_node::pay::Method::POST,
        (None, None) => agora_node::pay::Method::GET,
    };
    if let Some(data) = &args.data {
        serde_json::from_str::<serde_json::Value>(data).context("--data is not JSON")?;
    }
    if args.options.scheme == SchemeArg::Upto && ops::approve_upto(&config, &args.url).await? {
        note("approved Permit2 to move this token for upto payments (once per token)");
    }
    let response = payer.send(method, &args.url, args.data.map(String::into_bytes)).await?;
    std::io::stdout().lock().write_all(&response.body)?;
    if !response.body.ends_with(b"\n") {
        out("")?;
    }
    match (&response.settlement, &response.scheme) {
        (Some(s), Some(scheme)) => {
            let amount = s.charged().unwrap_or(0);
            let tx =
                if s.transaction.is_empty() { "off-chain voucher".to_owned() } else { s.transaction.clone() };
            note(format!("paid {} with {scheme} ({tx})", money(amount)));
        }
        _ => note(format!("HTTP {} (no payment made)", response.status)),
    }
    if !(200..300).contains(&response.status) {
        bail!("the server answered HTTP {}", response.status);
    }
    Ok(())
}

pub(crate) async fn mandate(global: &GlobalArgs, command: MandateCommand) -> Result<()> {
    let config = global.resolve()?;
    match command {
        MandateCommand::Set { name, budget, per_call, payees, expires_in } => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let mandate = Mandate {
                name: name.clone(),
                budget,
                per_call,
                payees,
                expires_at: expires_in.map_or(0, |s| now + s),
            };
            ops::set_mandate(&config, &mandate)?;
            if global.json {
                let report = ops::mandate(&config, &name)?.with_context(|| format!("no mandate {name:?}"))?;
                return print_json(&mandate_json(&report));
            }
            out(format!("mandate {name:?}: budget {}, per call {}", money(budget), money(per_call)))
        }
        MandateCommand::Show { name } => {
            let report = ops::mandate(&config, &name)?.with_context(|| format!("no mandate {name:?}"))?;
            if global.json {
                return print_json(&mandate_json(&report));
            }
            let (mandate, spent) = (report.mandate, report.spent);
            out(format!("mandate  {name}"))?;
            out(format!("budget   {}", money(mandate.budget)))?;
            out(format!("spent    {}", money(spent)))?;
            out(format!("left     {}", money(mandate.budget.saturating_sub(spent))))?;
            out(format!("per call {}", money(mandate.per_call)))?;
            let payees = if mandate.payees.is_empty() {
                "any".to_owned()
            } else {
                mandate.payees.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            };
            out(format!("payees   {payees}"))?;
            out(format!(
                "expires  {}",
                if mandate.expires_at == 0 { "never".to_owned() } else { when(mandate.expires_at) }
            ))
        }
    }
}

pub(crate) async fn channel(global: &GlobalArgs, command: ChannelCommand) -> Result<()> {
    let config = global.resolve()?;
    match command {
        ChannelCommand::Open { url, amount, mandate } => {
            let channel = ops::open_channel(&config, &url, amount, &mandate).await?;
            if global.json {
                return print_json(&channel);
            }
            out(format!(
                "channel {} to {}: deposited {}",
                channel.channel_id,
                channel.payee,
                money(channel.deposited)
            ))
        }
        ChannelCommand::Status => {
            let rows = ops::payer_channels(&config).await?;
            if global.json {
                return print_json(&rows);
            }
            if rows.is_empty() {
                return out(
                    "no channels (they open on the first paid call with --scheme channel, or with `agora channel open`)",
                );
            }
            for r in rows {
                let on_chain = match &r.on_chain {
                    Some(o) => format!(
                        "  (on chain: claimed {}, {})",
                        money(o.claimed),
                        match o.withdraw_ready_at {
                            _ if o.deposited == o.claimed => "withdrawn (empty)".to_owned(),
                            0 => "open".to_owned(),
                            t => format!("closing, withdrawable {}", when(t)),
                        }
                    ),
                    None => String::new(),
                };
                out(format!(
                    "{}  payee {}  deposited {}  charged {}{on_chain}",
                    r.channel_id,
                    r.payee,
                    money(r.deposited),
                    money(r.charged)
                ))?;
            }
            Ok(())
        }
        ChannelCommand::Close { channel } => {
            let exit = ops::close_channel(&config, channel).await?;
            if global.json {
                return print_json(&exit);
            }
            out(format!(
                "withdrawal started (tx {}); withdrawable {}: run `agora channel withdraw {channel}`",
                exit.transaction,
                when(exit.withdraw_ready_at)
            ))
        }
        ChannelCommand::Withdraw { channel } => {
            let exit = ops::withdraw_channel(&config, channel).await?;
            if global.json {
                return print_json(&exit);
            }
            out(format!("withdrew {} to {}", money(exit.returned), exit.payer))
        }
    }
}

pub(crate) async fn earnings(global: &GlobalArgs, args: EarningsArgs) -> Result<()> {
    let config = global.resolve()?;
    let mut claimed = None;
    if args.claim {
        let report = ops::claim(&config).await?;
        note(format!(
            "claimed {} from {} channel(s) in {} transaction(s), {} gas",
            money(report.amount),
            report.channels,
            report.transactions.len(),
            report.gas_used
        ));
        claimed = Some(report);
    }
    let earnings = ops::earnings(&config)?;
    if global.json {
        // The earnings, and with --claim what the claim did under `claim`.
        let mut value = serde_json::to_value(&earnings)?;
        if let Some(report) = claimed {
            value["claim"] = serde_json::to_value(report)?;
        }
        return print_json(&value);
    }
    out(format!("channels  {} paying, {} calls", earnings.channels.len(), earnings.calls))?;
    out(format!("  charged {}", money(earnings.charged)))?;
    out(format!("  claimed {}", money(earnings.claimed)))?;
    out(format!("  pending {}", money(earnings.charged - earnings.claimed)))?;
    for (status, total) in &earnings.exact {
        out(format!("exact     {status}: {} payment(s), {}", total.count, money(total.amount)))?;
    }
    if earnings.exact.is_empty() {
        out("exact     none")?;
    }
    Ok(())
}

pub(crate) async fn faucet(global: &GlobalArgs, args: FaucetArgs) -> Result<()> {
    let config = global.resolve()?;
    let report = agora_node::ops::dev::faucet(&config, args.to, args.amount, args.token).await?;
    if global.json {
        return print_json(&serde_json::json!({
            "token": report.token,
            "to": report.to,
            "amount": report.amount.to_string(),
            "transaction": report.transaction,
        }));
    }
    out(format!("minted {} to {}", money(report.amount), report.to))
}

/// A mandate and its spending as `--json` prints it (amounts atomic, as decimal strings).
fn mandate_json(report: &ops::MandateReport) -> serde_json::Value {
    let m = &report.mandate;
    serde_json::json!({
        "name": m.name,
        "budget": m.budget.to_string(),
        "perCall": m.per_call.to_string(),
        "spent": report.spent.to_string(),
        "left": m.budget.saturating_sub(report.spent).to_string(),
        "payees": m.payees,
        "expiresAt": (m.expires_at != 0).then_some(m.expires_at),
    })
}
