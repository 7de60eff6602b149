//! `agora chat`: talk to the local model in a plain terminal, with the reply streamed as it is
//! generated. Nothing leaves the machine.

use crate::cli::GlobalArgs;
use agora_node::infer::{ChatMessage, SamplingParams};
use anyhow::{Context, Result};
use clap::Args;
use std::{
    io::{BufRead, Write},
    ops::ControlFlow,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    /// Ask one question, print the answer and exit.
    #[arg(short, long, value_name = "PROMPT")]
    prompt: Option<String>,
    /// A system message (otherwise the model's template decides).
    #[arg(long)]
    system: Option<String>,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 512)]
    max_tokens: usize,
    /// Sampling temperature; 0 always takes the most likely token.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Seed for sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Chat with a remote provider instead, paying per call over x402: its base URL, e.g.
    /// http://127.0.0.1:8412 (a channel is opened on the first call unless --scheme exact).
    #[arg(long, value_name = "URL")]
    pay: Option<String>,
    /// With --pay: pay with anonymous credits bought with `agora credits buy`, so the provider
    /// cannot tell who asks nor which questions came from the same person.
    #[arg(long, requires = "pay")]
    anonymous: bool,
    #[command(flatten)]
    payment: crate::pay::PayOptions,
}

pub(crate) async fn run(global: &GlobalArgs, args: ChatArgs) -> Result<()> {
    let config = global.resolve()?;
    if let Some(url) = args.pay.clone() {
        return remote(&config, &url, args).await;
    }
    let engine = agora_node::load_engine(&config.inference)
        .await?
        .context("no model: run `agora setup`, or pass --model FILE")?;
    let params = SamplingParams {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        seed: args.seed,
        ..Default::default()
    };
    let mut history: Vec<ChatMessage> =
        args.system.iter().map(|s| ChatMessage::new("system", s.clone())).collect();
    // Ctrl-C stops the answer being written and keeps the chat (what was said stays in it); at
    // the prompt it says how to quit. The process is not ended by it.
    let keys = Arc::new(Interrupt::default());
    tokio::spawn(watch_ctrl_c(Arc::clone(&keys)));

    tokio::task::spawn_blocking(move || -> Result<()> {
        let answer = |history: &mut Vec<ChatMessage>, question: String| -> Result<()> {
            history.push(ChatMessage::new("user", question));
            let mut out = std::io::stdout().lock();
            keys.answering.store(true, Ordering::SeqCst);
            keys.stop.store(false, Ordering::SeqCst);
            let generation = engine.chat(history, &params, |text| {
                let ok = out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_ok();
                if ok && !keys.stop.load(Ordering::SeqCst) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            });
            keys.answering.store(false, Ordering::SeqCst);
            let generation = generation?;
            writeln!(out)?;
            if keys.stop.swap(false, Ordering::SeqCst) {
                let _ = writeln!(std::io::stderr().lock(), "[stopped]");
            }
            history.push(ChatMessage::new("assistant", generation.text));
            Ok(())
        };
        if let Some(prompt) = args.prompt {
            return answer(&mut history, prompt);
        }
        let stdin = std::io::stdin();
        let interactive = std::io::IsTerminal::is_terminal(&stdin);
        if interactive {
            eprintln_hint();
        }
        let mut lines = stdin.lock().lines();
        loop {
            if interactive {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "> ");
                let _ = err.flush();
            }
            let Some(line) = lines.next() else { break };
            let line = line.context("reading standard input")?;
            match line.trim() {
                "" => continue,
                "/exit" | "/quit" => break,
                "/reset" => {
                    history.retain(|m| m.role == "system");
                    continue;
                }
                question => answer(&mut history, question.to_owned())?,
            }
        }
        Ok(())
    })
    .await?
}

#[allow(clippy::print_stderr)]
fn eprintln_hint() {
    eprintln!(
        "chatting with the local model; Ctrl-C stops an answer, /reset starts over, /exit or Ctrl-D quits"
    );
}

/// What Ctrl-C means now: stop the answer being written, or (at the prompt) nothing but a hint.
#[derive(Debug, Default)]
struct Interrupt {
    answering: AtomicBool,
    stop: AtomicBool,
}

async fn watch_ctrl_c(keys: Arc<Interrupt>) {
    while tokio::signal::ctrl_c().await.is_ok() {
        if keys.answering.load(Ordering::SeqCst) {
            keys.stop.store(true, Ordering::SeqCst);
        } else {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\n(/exit or Ctrl-D quits)\n> ");
            let _ = err.flush();
        }
    }
}

/// `agora chat --pay URL`: the conversation goes to a remote provider's OpenAI-compatible API,
/// every answer paid under the mandate; the cost of each goes to stderr.
async fn remote(config: &agora_node::NodeConfig, base: &str, mut args: ChatArgs) -> Result<()> {
    if matches!(args.payment.scheme, crate::pay::SchemeArg::Auto) {
        args.payment.scheme = crate::pay::SchemeArg::Channel;
    }
    let (payer, credits) = if args.anonymous {
        let credits = agora_node::ops::credits::payer(config).await?;
        credits.prepare_in_background();
        (None, Some(credits))
    } else {
        (Some(crate::pay::payer(config, &args.payment)?), None)
    };
    let url = format!("{}/v1/chat/completions", base.trim_end_matches('/'));
    let mut history: Vec<serde_json::Value> =
        args.system.iter().map(|s| serde_json::json!({ "role": "system", "content": s })).collect();
    let ask = async |history: &mut Vec<serde_json::Value>, question: String| -> Result<()> {
        history.push(serde_json::json!({ "role": "user", "content": question }));
        let body = serde_json::json!({
            "model": "default",
            "messages": history,
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
            "seed": args.seed,
        });
        let body = serde_json::to_vec(&body)?;
        let response = match (&payer, &credits) {
            (Some(payer), _) => payer.send(agora_node::pay::Method::POST, &url, Some(body)).await?,
            (None, Some(credits)) => credits.send(&url, body).await?,
            (None, None) => unreachable!("a payer of one kind is built above"),
        };
        let reply: serde_json::Value =
            serde_json::from_slice(&response.body).context("the provider's answer is not JSON")?;
        if response.status != 200 {
            anyhow::bail!("the provider answered HTTP {}: {}", response.status, reply["error"]["message"]);
        }
        let text = reply["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned();
        writeln!(std::io::stdout().lock(), "{text}")?;
        if let Some(settlement) = &response.settlement {
            let _ = writeln!(
                std::io::stderr().lock(),
                "  [paid {} with {}]",
                settlement.charged().map_or_else(|| "?".to_owned(), crate::units::money),
                response.scheme.as_deref().unwrap_or("?")
            );
        }
        history.push(serde_json::json!({ "role": "assistant", "content": text }));
        Ok(())
    };
    if let Some(prompt) = args.prompt.clone() {
        return ask(&mut history, prompt).await;
    }
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading standard input")?;
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => break,
            question => ask(&mut history, question.to_owned()).await?,
        }
    }
    Ok(())
}
