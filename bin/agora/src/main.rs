//! `agora`: the command line of the agora node. It parses arguments, resolves the configuration
//! and calls the node; all the work happens in the `agora-*` crates.

mod agent;
mod bench;
mod chat;
mod cli;
mod credits;
mod feedback;
mod funding;
mod guard;
mod job;
mod market;
mod models;
mod pay;
mod receipt;
mod status;
mod units;
mod validate;

use anyhow::Result;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    units::set_raw(cli.global.raw);
    init_tracing(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`agora … | head`): nothing more to say.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: cli::Cli) -> Result<()> {
    match cli.command {
        cli::Command::Up(args) => cli::up(&cli.global, args).await,
        cli::Command::Devnet => cli::devnet(&cli.global).await,
        cli::Command::Deploy(args) => cli::deploy(&cli.global, args).await,
        cli::Command::Serve => cli::serve(&cli.global).await,
        cli::Command::Chat(args) => chat::run(&cli.global, args).await,
        cli::Command::Models(args) => models::run(&cli.global, args).await,
        cli::Command::Validate(command) => validate::run(&cli.global, command).await,
        cli::Command::Feedback(command) => feedback::run(&cli.global, command).await,
        cli::Command::Agent(command) => agent::run(&cli.global, command).await,
        cli::Command::Receipt(command) => receipt::run(&cli.global, command).await,
        cli::Command::Bench(command) => bench::run(&cli.global, command).await,
        cli::Command::Guard(args) => guard::run(&cli.global, args).await,
        cli::Command::Pay(args) => pay::pay(&cli.global, args).await,
        cli::Command::Mandate(command) => pay::mandate(&cli.global, command).await,
        cli::Command::Channel(command) => pay::channel(&cli.global, command).await,
        cli::Command::Earnings(args) => pay::earnings(&cli.global, args).await,
        cli::Command::Credits(command) => credits::run(&cli.global, command).await,
        cli::Command::Funding(command) => funding::funding(&cli.global, command).await,
        cli::Command::Qf(command) => funding::qf(&cli.global, command).await,
        cli::Command::Market(command) => market::market(&cli.global, command).await,
        cli::Command::Trader(command) => market::trader(&cli.global, command).await,
        cli::Command::Decide(command) => market::decide(&cli.global, command).await,
        cli::Command::Job(command) => job::job(&cli.global, command).await,
        cli::Command::Validator(command) => job::validator(&cli.global, command).await,
        cli::Command::Faucet(args) => pay::faucet(&cli.global, args).await,
        cli::Command::Status => status::run(&cli.global).await,
        cli::Command::Config => cli::config(&cli.global),
        cli::Command::Setup => cli::setup(&cli.global).await,
    }
}

/// Prints an error and its causes on stderr, one line.
#[allow(clippy::print_stderr)]
fn report(error: &anyhow::Error) {
    let mut message = match error.downcast_ref::<alloy::contract::Error>() {
        Some(call) => format!("error: {}", agora_node::contracts::explain_call_error(call)),
        None => format!("error: {error}"),
    };
    for cause in error.chain().skip(1) {
        // A revert of an agora contract is named with its arguments, not as a raw selector.
        let cause = match cause.downcast_ref::<alloy::contract::Error>() {
            Some(call) => agora_node::contracts::explain_call_error(call),
            None => cause.to_string(),
        };
        if !message.contains(&cause) {
            message.push_str(&format!(": {cause}"));
        }
    }
    eprintln!("{message}");
}

/// Logs go to stderr; `AGORA_LOG` (e.g. `debug`, `agora=trace`) overrides the level.
fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,agora=info",
        (false, 1) => "warn,agora=debug",
        (false, _) => "info,agora=trace",
    };
    let filter = EnvFilter::try_from_env("AGORA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}
