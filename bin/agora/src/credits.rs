//! `agora credits`: anonymous prepaid calls. Buy a deposit in a provider's pool, see what is
//! left, and take the stake back to a fresh address; `agora chat --pay URL --anonymous` spends
//! the credits.

use crate::cli::GlobalArgs;
use crate::units::{money256, when};
use alloy::primitives::{Address, U256};
use anyhow::Result;
use clap::Subcommand;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub(crate) enum CreditsCommand {
    /// Buy one deposit of anonymous credits from a provider: the price of its calls (paid to
    /// the provider now) plus a stake you get back with `credits exit` (lost if a ticket is
    /// ever spent twice). The provider cannot tell which calls are yours.
    Buy {
        /// The provider's base URL, e.g. http://127.0.0.1:8412 (its paid listener).
        #[arg(long, value_name = "URL")]
        provider: String,
        /// Calls per deposit (the provider's pool size) [default: the provider's first pool].
        #[arg(long, value_name = "N")]
        calls: Option<u32>,
    },
    /// Your credits: pool, calls left, status, exits.
    Status,
    /// Take the stakes back with a proof that names no deposit; run again after the pool's
    /// exit delay to be paid. The stake goes to --to, else to a fresh address whose key is
    /// saved in the data directory (credits/exit-ID.key).
    Exit {
        /// Only this credit (the id `credits status` shows).
        #[arg(long)]
        id: Option<i64>,
        /// Where the stake goes [default: a fresh address].
        #[arg(long, value_name = "ADDRESS")]
        to: Option<Address>,
    },
}

pub(crate) async fn run(global: &GlobalArgs, command: CreditsCommand) -> Result<()> {
    let config = global.resolve()?;
    let mut out = std::io::stdout().lock();
    match command {
        CreditsCommand::Buy { provider, calls } => {
            let bought = agora_node::ops::credits::buy(&config, &provider, calls).await?;
            let h = &bought.held;
            if global.json {
                let mut value = held_json(h);
                value["paid"] = bought.paid.to_string().into();
                return crate::cli::print_json(&value);
            }
            writeln!(
                out,
                "bought {} anonymous calls from {provider} (pool {}, credit {}): paid {} (calls {} + stake {})",
                h.credit.calls,
                h.pool.key.pool_id,
                h.id,
                money256(bought.paid),
                money256(h.pool.unit_price * U256::from(h.pool.calls)),
                money256(h.pool.stake),
            )?;
            writeln!(out, "spend them with: agora chat --pay {provider} --anonymous")?;
        }
        CreditsCommand::Status => {
            let held = agora_node::ops::credits::status(&config)?;
            if global.json {
                return crate::cli::print_json(&held.iter().map(held_json).collect::<Vec<_>>());
            }
            if held.is_empty() {
                writeln!(out, "no credits: buy some with `agora credits buy --provider URL`")?;
            }
            for h in held {
                let exit = match (h.status.as_str(), h.exit_to, h.exit_at) {
                    ("exiting", Some(to), Some(at)) => format!(", stake to {to} payable {}", when(at)),
                    _ => String::new(),
                };
                writeln!(
                    out,
                    "credit {}: {} of {} calls left, pool {} at {}, stake {}, {}{exit}",
                    h.id,
                    h.remaining(),
                    h.credit.calls,
                    h.pool.key.pool_id,
                    h.provider,
                    money256(h.pool.stake),
                    h.status,
                )?;
            }
        }
        CreditsCommand::Exit { id, to } => {
            let steps = agora_node::ops::credits::exit(&config, id, to).await?;
            if global.json {
                let steps: Vec<serde_json::Value> = steps
                    .iter()
                    .map(|s| {
                        let mut value = held_json(&s.held);
                        value["step"] = s.step.into();
                        value["to"] = serde_json::json!(s.to);
                        value["at"] = s.at.into();
                        value
                    })
                    .collect();
                return crate::cli::print_json(&steps);
            }
            if steps.is_empty() {
                writeln!(out, "no credit to exit")?;
            }
            for s in steps {
                let stake = money256(s.held.pool.stake);
                match s.step {
                    "requested" => writeln!(
                        out,
                        "credit {}: exit requested, {stake} to {} payable {}; run `agora credits exit` again then",
                        s.held.id,
                        s.to,
                        when(s.at)
                    )?,
                    "waiting" => writeln!(out, "credit {}: exit payable {}", s.held.id, when(s.at))?,
                    "paid" => writeln!(out, "credit {}: {stake} paid to {}", s.held.id, s.to)?,
                    _ => writeln!(
                        out,
                        "credit {}: the stake was slashed (a ticket was spent twice)",
                        s.held.id
                    )?,
                }
            }
        }
    }
    Ok(())
}

/// A credit as `--json` prints it (its secret left out; amounts atomic, as decimal strings).
fn held_json(h: &agora_credits::Held) -> serde_json::Value {
    serde_json::json!({
        "id": h.id,
        "provider": h.provider,
        "status": h.status,
        "calls": h.credit.calls,
        "remaining": h.remaining(),
        "chainId": h.pool.key.chain_id,
        "contract": h.pool.key.contract,
        "poolId": h.pool.key.pool_id.to_string(),
        "agentId": h.pool.agent_id.to_string(),
        "payee": h.pool.payee,
        "token": h.pool.token,
        "unitPrice": h.pool.unit_price.to_string(),
        "price": (h.pool.unit_price * U256::from(h.pool.calls)).to_string(),
        "stake": h.pool.stake.to_string(),
        "exitDelay": h.pool.exit_delay,
        "exitTo": h.exit_to,
        "exitAt": h.exit_at,
    })
}
