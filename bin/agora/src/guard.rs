//! `agora guard`: the pre-sign guard as a JSON-RPC proxy, a one-shot check, the user's lists and
//! the shipped data.

use crate::cli::{GlobalArgs, print_json};
use agora_node::{
    NodeConfig,
    guard::{GuardConfig, GuardRequest, Level, ListFile, ListKind, SimulatorKind},
    ops::guard as ops,
};
use alloy::primitives::{Address, Bytes, U256};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::{io::Write, net::SocketAddr, path::PathBuf};

const GUARD_HELP: &str = "\
Examples:
  agora guard                                   proxy on 127.0.0.1:8403 in front of the node's chain
  agora guard --upstream http://127.0.0.1:8545 --confirm
  agora guard check request.json                a {method, params} file, a transaction or typed data
  agora guard check --from 0xYou --to 0xToken --data 0x095ea7b3…
  agora guard check --from 0xYou --message 'hello' --origin https://app.example.org
  agora guard list add contact 0xFriend --label Alice
  agora guard list add block evil.example
  agora guard data update --phishing config.json --tokens tokenlist.json

Point the wallet's RPC URL at the proxy. It denies by default: read-only methods (eth_call,
eth_getBalance, eth_getLogs, ...) are forwarded unchanged; the methods that sign or send
(eth_sendTransaction[Sync], eth_sendRawTransaction[Sync], eth_signTransaction, wallet_sendCalls,
eth_signTypedData[_v3|_v4], personal_sign, eth_sign, ...) are checked first and refused with
JSON-RPC error 4001 (the verdict in error.data) when the verdict reaches the blocking level; every
other method (anvil_*, wallet_addEthereumChain, ...) is refused with -32601. A request the guard
cannot check is not forwarded unless --allow-unchecked is given. Under `agora guard`, --listen is
the proxy's address; --explain asks the node's API (127.0.0.1:8402) unless --explain-api says
otherwise.";

/// The guard: proxy (default), one-shot check, lists, data.
#[derive(Debug, Args)]
#[command(after_help = GUARD_HELP, args_conflicts_with_subcommands = true)]
pub(crate) struct GuardArgs {
    #[command(subcommand)]
    command: Option<GuardCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum GuardCommand {
    /// Check one request and print the report (nothing is forwarded or signed).
    Check(CheckArgs),
    /// The address book, allow- and block-lists the guard consults.
    #[command(subcommand)]
    List(ListCommand),
    /// The shipped phishing and token lists.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Where the proxy listens [default: [guard] listen (AGORA_GUARD_LISTEN), else 127.0.0.1:8403].
    // No clap default or env here: the flag shares its name with the global `--listen` (the node's
    // API), and clap copies a subcommand's value of a shared name, defaults included, up into the
    // global one, which made the node's API 127.0.0.1:8403 for everything `agora guard` did.
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    common: CommonArgs,
    /// Refuse verdicts at or above this level [default: [guard] block_level, else high].
    #[arg(long, value_parser = parse_level)]
    block_level: Option<Level>,
    /// Ask the owner instead of refusing outright: on the node's page (http://127.0.0.1:8402/#guard)
    /// while one is open, else in the terminal.
    #[arg(long)]
    confirm: bool,
    /// Forward requests the guard could not check (fail open). Off by default: fail closed.
    #[arg(long)]
    allow_unchecked: bool,
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// The node to read state from and forward to [default: the configured chain, else the
    /// local devnet].
    #[arg(long)]
    upstream: Option<String>,
    /// `revm` (in process) or `node` (the node's eth_simulateV1 and debug_traceCall) [default:
    /// [guard] simulator, else revm].
    #[arg(long)]
    simulator: Option<SimulatorKind>,
    /// Add a plain-language summary from the local model of the node's API (see
    /// `--explain-api`); the level never comes from the model.
    #[arg(long)]
    explain: bool,
    /// The node API whose model writes the `--explain` summary [default: the node's API from the
    /// configuration, 127.0.0.1:8402 unless agora.toml or AGORA_LISTEN say otherwise].
    #[arg(long, value_name = "URL")]
    explain_api: Option<String>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// A JSON file: `{"method", "params"[, "origin"]}`, a transaction object, or EIP-712 typed data.
    file: Option<PathBuf>,
    /// The signing account (for flags, and for files that leave it out).
    #[arg(long)]
    from: Option<Address>,
    /// Transaction recipient.
    #[arg(long)]
    to: Option<Address>,
    /// Wei to send.
    #[arg(long)]
    value: Option<U256>,
    /// Calldata (hex).
    #[arg(long)]
    data: Option<Bytes>,
    /// A message to sign with personal_sign (text, or 0x-hex).
    #[arg(long, conflicts_with_all = ["to", "data", "value"])]
    message: Option<String>,
    /// The site asking (for phishing and sign-in checks).
    #[arg(long)]
    origin: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum ListCommand {
    /// Add an address or domain to a list.
    Add {
        /// `contact`, `allow` or `block`.
        list: ListArg,
        /// An address, or a domain for allow/block.
        entry: String,
        /// Your label for it.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Remove an entry from a list.
    Remove {
        /// `contact`, `allow` or `block`.
        list: ListArg,
        /// The address or domain.
        entry: String,
    },
    /// Show every list.
    Show,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ListArg {
    Contact,
    Allow,
    Block,
}

impl From<ListArg> for ListKind {
    fn from(l: ListArg) -> Self {
        match l {
            ListArg::Contact => Self::Contact,
            ListArg::Allow => Self::Allow,
            ListArg::Block => Self::Block,
        }
    }
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Install newer lists into the data directory (they replace the shipped ones).
    Update {
        /// An eth-phishing-detect `config.json`.
        #[arg(long)]
        phishing: Option<PathBuf>,
        /// A token list (Uniswap token-list format).
        #[arg(long)]
        tokens: Option<PathBuf>,
    },
    /// What the guard is using now.
    Show,
}

fn parse_level(s: &str) -> Result<Level, String> {
    s.parse()
}

fn out(line: impl std::fmt::Display) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

/// The guard's settings: the node's `[guard]` (agora.toml < AGORA_GUARD_*) with the flags over it.
fn settings(config: &NodeConfig, common: &CommonArgs, serve: Option<&ServeArgs>) -> GuardConfig {
    let mut s = config.guard.clone();
    s.upstream = common.upstream.clone().or(s.upstream);
    s.simulator = common.simulator.unwrap_or(s.simulator);
    s.explain |= common.explain;
    s.explain_api = common.explain_api.clone().or(s.explain_api);
    if let Some(serve) = serve {
        s.listen = serve.listen.unwrap_or(s.listen);
        s.block_level = serve.block_level.unwrap_or(s.block_level);
        s.confirm |= serve.confirm;
        s.allow_unchecked |= serve.allow_unchecked;
    }
    s
}

pub(crate) async fn run(global: &GlobalArgs, args: GuardArgs) -> Result<()> {
    let config = global.resolve()?;
    let explain = explain_api(global, &config, &args)?;
    match args.command {
        None => serve(&config, &args.serve, explain).await,
        Some(GuardCommand::Check(check_args)) => check(&config, check_args, explain, global.json).await,
        Some(GuardCommand::List(command)) => list(&config, command, global.json),
        Some(GuardCommand::Data(command)) => data(&config, command, global.json),
    }
}

/// The node API asked for `--explain` summaries: `--explain-api` (or `[guard] explain_api`),
/// else the node's API. Under `agora guard` (the proxy), `--listen` names the proxy, so when it
/// was given the node's API is resolved from the layers beneath the flags (agora.toml,
/// AGORA_LISTEN, the default 127.0.0.1:8402); under `agora guard check` there is no proxy and
/// `--listen` is the node's API.
fn explain_api(global: &GlobalArgs, config: &NodeConfig, args: &GuardArgs) -> Result<Option<String>> {
    let (common, serve, listen_names_the_proxy) = match &args.command {
        None => (&args.serve.common, Some(&args.serve), args.serve.listen.is_some()),
        Some(GuardCommand::Check(check_args)) => (&check_args.common, None, false),
        Some(_) => return Ok(None),
    };
    let settings = settings(config, common, serve);
    if !settings.explain {
        return Ok(None);
    }
    if let Some(url) = &settings.explain_api {
        return Ok(Some(url.trim_end_matches('/').to_owned()));
    }
    let api = if listen_names_the_proxy {
        let below = agora_node::ConfigLayer { data_dir: global.data_dir.clone(), ..Default::default() };
        NodeConfig::load(global.config.as_deref(), below)?.api_listen
    } else {
        config.api_listen
    };
    Ok(Some(format!("http://{api}")))
}

async fn serve(config: &NodeConfig, args: &ServeArgs, explain: Option<String>) -> Result<()> {
    let settings = settings(config, &args.common, Some(args));
    let proxy = ops::bind_proxy(config, &settings, explain).await?;
    let _ = writeln!(
        std::io::stderr().lock(),
        "agora guard on http://{} → {} (refuses {} and above{}; simulator {})",
        proxy.listen,
        proxy.upstream,
        settings.block_level,
        if settings.confirm { ", asks first" } else { "" },
        match settings.simulator {
            SimulatorKind::Revm => "revm",
            SimulatorKind::Node => "node",
        }
    );
    Ok(proxy.run().await?)
}

/// Turns a file or flags into a request.
fn request_of(args: &CheckArgs) -> Result<GuardRequest> {
    let mut request = if let Some(path) = &args.file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        if v.get("method").is_some() {
            serde_json::from_value::<GuardRequest>(v)
                .context("a request file needs {\"method\", \"params\"}")?
        } else if v.get("primaryType").is_some() {
            let from = args.from.context("typed data needs --from (the signing account)")?;
            GuardRequest::new("eth_signTypedData_v4", json!([from, v]))
        } else if v.get("to").is_some() || v.get("data").is_some() || v.get("input").is_some() {
            let mut tx = v;
            if tx.get("from").is_none() {
                tx["from"] = json!(args.from.context("the transaction has no `from`: pass --from")?);
            }
            GuardRequest::new("eth_sendTransaction", json!([tx]))
        } else {
            bail!(
                "{}: expected a {{method, params}} request, a transaction or EIP-712 typed data",
                path.display()
            )
        }
    } else if let Some(message) = &args.message {
        let from = args.from.context("--message needs --from")?;
        let hex = if message.starts_with("0x") {
            message.clone()
        } else {
            format!("0x{}", alloy::primitives::hex::encode(message))
        };
        GuardRequest::new("personal_sign", json!([hex, from]))
    } else {
        let from = args.from.context("give a FILE, or --from with --to/--data/--value or --message")?;
        let mut tx = json!({ "from": from });
        if let Some(to) = args.to {
            tx["to"] = json!(to);
        }
        if let Some(value) = args.value {
            tx["value"] = json!(value);
        }
        if let Some(data) = &args.data {
            tx["data"] = json!(data);
        }
        GuardRequest::new("eth_sendTransaction", json!([tx]))
    };
    if args.origin.is_some() {
        request.origin = args.origin.clone();
    }
    Ok(request)
}

async fn check(config: &NodeConfig, args: CheckArgs, explain: Option<String>, json: bool) -> Result<()> {
    let request = request_of(&args)?;
    let settings = settings(config, &args.common, None);
    let (verdict, summary_error) = ops::check(config, &settings, &request, explain.as_deref()).await?;
    if let Some(e) = summary_error {
        let _ = writeln!(std::io::stderr().lock(), "no summary: {e}");
    }
    if json {
        print_json(&verdict)?;
    } else {
        out(verdict.report().trim_end())?;
    }
    Ok(())
}

fn list(config: &NodeConfig, command: ListCommand, json: bool) -> Result<()> {
    match command {
        ListCommand::Add { list, entry, label } => {
            ops::add_entry(config, list.into(), &entry, &label)?;
            if json {
                let kind = ListKind::from(list);
                return print_json(&json!({ "added": { "list": kind, "entry": entry, "label": label } }));
            }
            out(format!("added {entry} to the {} list", ListKind::from(list).as_str()))
        }
        ListCommand::Remove { list, entry } => {
            if ops::remove_entry(config, list.into(), &entry)? {
                if json {
                    let kind = ListKind::from(list);
                    return print_json(&json!({ "removed": { "list": kind, "entry": entry } }));
                }
                out(format!("removed {entry} from the {} list", ListKind::from(list).as_str()))
            } else {
                bail!("{entry} is not on the {} list", ListKind::from(list).as_str())
            }
        }
        ListCommand::Show => {
            let entries = ops::entries(config)?;
            if json {
                return print_json(&entries);
            }
            if entries.is_empty() {
                return out("no entries: add some with `agora guard list add contact|allow|block ENTRY`");
            }
            for e in entries {
                out(format!("{:<8} {:<44} {}", e.list.as_str(), e.entry, e.label))?;
            }
            Ok(())
        }
    }
}

fn data(config: &NodeConfig, command: DataCommand, json: bool) -> Result<()> {
    match command {
        DataCommand::Update { phishing, tokens } => {
            if phishing.is_none() && tokens.is_none() {
                bail!(
                    "give --phishing FILE and/or --tokens FILE (see crates/guard/data/README.md for where they come from)"
                );
            }
            let reports = ops::install_data(config, phishing.as_deref(), tokens.as_deref())?;
            if json {
                let installed: Vec<Value> = reports
                    .iter()
                    .map(|r| {
                        let list = match r.list {
                            ListFile::Phishing => "phishing",
                            ListFile::Tokens => "tokens",
                        };
                        json!({
                            "list": list,
                            "path": r.path,
                            "entries": r.entries,
                            "lookalikeTargets": r.lookalike_targets,
                        })
                    })
                    .collect();
                return print_json(&installed);
            }
            for report in reports {
                match report.list {
                    ListFile::Phishing => out(format!(
                        "phishing list: {} blocked domains, {} look-alike targets",
                        report.entries, report.lookalike_targets
                    ))?,
                    ListFile::Tokens => out(format!("token list: {} tokens", report.entries))?,
                }
            }
            Ok(())
        }
        DataCommand::Show => {
            let status = ops::data_status(config)?;
            if json {
                return print_json(&status);
            }
            let installed = |yes: bool| if yes { "installed" } else { "shipped" };
            out(format!(
                "phishing list ({}): version {}, {} blocked domains",
                installed(status.phishing_installed),
                status.phishing_version,
                status.blocked_domains
            ))?;
            out(format!("token list ({}): {} tokens", installed(status.tokens_installed), status.tokens))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The explain URL and the proxy address `argv` resolves to.
    fn resolved(argv: &[&str]) -> (Option<String>, Option<SocketAddr>) {
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let crate::cli::Command::Guard(args) = cli.command else { panic!("not agora guard: {argv:?}") };
        let config = cli.global.resolve().unwrap();
        let explain = explain_api(&cli.global, &config, &args).unwrap();
        let listen =
            args.command.is_none().then(|| settings(&config, &args.serve.common, Some(&args.serve)).listen);
        (explain, listen)
    }

    #[test]
    fn explain_asks_the_node_api_and_not_the_guard_port() {
        let dir = std::env::temp_dir().join("agora-guard-explain-test");
        let dir = dir.to_str().unwrap();
        let node = Some("http://127.0.0.1:8402".to_owned());
        let from = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
        let check =
            ["agora", "--data-dir", dir, "guard", "check", "--explain", "--from", from, "--message", "hi"];
        assert_eq!(resolved(&check).0, node, "agora guard check --explain");
        let proxy: SocketAddr = "127.0.0.1:8403".parse().unwrap();
        assert_eq!(
            resolved(&["agora", "--data-dir", dir, "guard", "--explain"]),
            (node.clone(), Some(proxy))
        );
        let elsewhere: SocketAddr = "127.0.0.1:9403".parse().unwrap();
        assert_eq!(
            resolved(&["agora", "--data-dir", dir, "guard", "--listen", "127.0.0.1:9403", "--explain"]),
            (node, Some(elsewhere)),
            "--listen moves the proxy, not the node's API"
        );
        let mut other = check.to_vec();
        other.extend(["--explain-api", "http://127.0.0.1:7402/"]);
        assert_eq!(resolved(&other).0.as_deref(), Some("http://127.0.0.1:7402"));
        assert_eq!(resolved(&["agora", "--data-dir", dir, "guard"]).0, None, "no --explain, no model");
    }
}
