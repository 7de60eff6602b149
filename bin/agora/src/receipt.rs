//! `agora receipt verify`: check a receipt's signature and hashes, and optionally re-run the
//! inference locally and compare it token by token.

use crate::cli::GlobalArgs;
use agora_node::receipts::ReceiptEnvelope;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::{io::Write, path::PathBuf};

#[derive(Debug, Subcommand)]
pub(crate) enum ReceiptCommand {
    /// Verify a receipt: a saved chat completion response (with `agora_receipt`) or the receipt
    /// itself. Exits non-zero when it does not check out.
    Verify {
        /// The JSON file.
        file: PathBuf,
        /// Also re-run the inference with the local model (same file, same engine version) and
        /// compare the output token by token.
        #[arg(long)]
        reexecute: bool,
    },
}

pub(crate) async fn run(global: &GlobalArgs, command: ReceiptCommand) -> Result<()> {
    let ReceiptCommand::Verify { file, reexecute } = command;
    let json = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let envelope = ReceiptEnvelope::from_json(&json).with_context(|| format!("{}", file.display()))?;
    let r = &envelope.signed.receipt;
    let signer = envelope.verify().context("the receipt does not verify")?;
    let mut report = serde_json::json!({
        "signature": { "ok": true, "signer": signer },
        "hashes": { "ok": true },
        "engine": r.engine,
        "engineVersion": r.engineVersion,
        "modelSha256": alloy::hex::encode(r.modelSha256),
        "promptTokens": r.promptTokens,
        "completionTokens": r.completionTokens,
        "reexecute": null,
    });
    if !global.json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "signature  ok: signed by node {signer}")?;
        writeln!(out, "hashes     ok: request and output match the signed hashes")?;
        writeln!(out, "engine     {} {}", r.engine, r.engineVersion)?;
        writeln!(out, "model      sha256 {}", alloy::hex::encode(r.modelSha256))?;
        writeln!(out, "tokens     {} prompt, {} completion", r.promptTokens, r.completionTokens)?;
        out.flush()?;
    }
    if !reexecute {
        return if global.json { crate::cli::print_json(&report) } else { Ok(()) };
    }

    let config = global.resolve()?;
    let engine = agora_node::load_engine(&config.inference)
        .await?
        .context("--reexecute needs the model: run `make setup`, or pass --model FILE")?;
    let result = tokio::task::spawn_blocking(move || {
        let outcome = agora_node::receipts::reexecute(&envelope, &engine);
        (outcome, envelope, engine)
    })
    .await?;
    let (outcome, envelope, engine) = result;
    let outcome = outcome.context("re-execution")?;
    match outcome.first_divergence {
        None => {
            if global.json {
                report["reexecute"] = serde_json::json!({
                    "ok": true,
                    "tokens": outcome.tokens.len(),
                    "seconds": outcome.time.as_secs_f64(),
                });
                return crate::cli::print_json(&report);
            }
            writeln!(
                std::io::stdout().lock(),
                "reexecute  ok: {} tokens, identical (checked in one pass, {:.2} s)",
                outcome.tokens.len(),
                outcome.time.as_secs_f64()
            )?;
            Ok(())
        }
        Some(at) => {
            let tok = engine.tokenizer();
            let common = tok.decode(&outcome.tokens[..at.min(outcome.tokens.len())]);
            let theirs_token = envelope.output.tokens.get(at).copied();
            let ours_token = outcome.tokens.get(at).copied();
            if global.json {
                // The report, then the error on stderr and a failing exit as without --json.
                let token =
                    |t: Option<u32>| t.map(|t| serde_json::json!({ "id": t, "text": tok.decode(&[t]) }));
                report["reexecute"] = serde_json::json!({
                    "ok": false,
                    "tokens": outcome.tokens.len(),
                    "seconds": outcome.time.as_secs_f64(),
                    "divergesAt": at,
                    "common": common,
                    "receipt": token(theirs_token),
                    "local": token(ours_token),
                });
                crate::cli::print_json(&report)?;
                bail!("re-execution diverges from the receipt at token {at}")
            }
            let theirs = theirs_token.map(|t| format!("{t} {:?}", tok.decode(&[t])));
            let ours = ours_token.map(|t| format!("{t} {:?}", tok.decode(&[t])));
            let mut out = std::io::stdout().lock();
            writeln!(out, "reexecute  MISMATCH at token {at} after {common:?}")?;
            let (receipt_ended, local_ended) = match (&theirs, &ours) {
                (None, _) => ("(ended)", "(goes on)"),
                _ => ("(goes on)", "(ended)"),
            };
            writeln!(out, "           receipt: {}", theirs.unwrap_or_else(|| receipt_ended.into()))?;
            writeln!(out, "           local:   {}", ours.unwrap_or_else(|| local_ended.into()))?;
            bail!("re-execution diverges from the receipt at token {at}")
        }
    }
}
