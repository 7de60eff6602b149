//! `agora models`: the GGUF models this node serves, `agora models add`, `pull` and `rm`.

use crate::cli::GlobalArgs;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::{collections::BTreeSet, io::Write, path::PathBuf};

#[derive(Debug, Args)]
pub(crate) struct ModelsArgs {
    #[command(subcommand)]
    command: Option<ModelsCommand>,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Check a GGUF model (it is loaded once) and add it to the data directory's `models/`
    /// (a hard link, or a copy across file systems). A running node serves it at once,
    /// loading it when a request names it: `"model": "<file name without .gguf>"`.
    Add {
        /// The GGUF file.
        file: PathBuf,
    },
    /// Download a GGUF model into the data directory's `models/`, then check it as `add` does.
    /// An interrupted download resumes where it stopped when run again; the file is checked
    /// against its sha256 (`--sha256`, or the one the hub names) and loaded once before it is
    /// kept. Examples:
    ///
    ///   agora models pull HuggingFaceTB/SmolLM2-360M-Instruct-GGUF:smollm2-360m-instruct-q8_0.gguf
    ///   agora models pull https://example.org/models/model-q4_k_m.gguf --sha256 <64 hex digits>
    #[command(verbatim_doc_comment)]
    Pull {
        /// `owner/repo:file.gguf` on the hub (AGORA_HF_ENDPOINT, default https://huggingface.co),
        /// or the http(s) URL of a .gguf file.
        reference: String,
        /// The sha256 the file must have.
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
    },
    /// Remove a model from the data directory's `models/` (and any unfinished download of it).
    Rm {
        /// Its name, as `agora models` lists it.
        name: String,
    },
}

pub(crate) async fn run(global: &GlobalArgs, args: ModelsArgs) -> Result<()> {
    match args.command {
        None => list(global),
        Some(ModelsCommand::Pull { reference, sha256 }) => pull(global, &reference, sha256.as_deref()).await,
        Some(ModelsCommand::Rm { name }) => {
            let config = global.resolve()?;
            let removed = agora_node::pull::remove(&config.data_dir, &name)?;
            if global.json {
                return crate::cli::print_json(&serde_json::json!({ "removed": removed }));
            }
            writeln!(std::io::stdout().lock(), "removed {}", removed.display())?;
            Ok(())
        }
        Some(ModelsCommand::Add { file }) => {
            let config = global.resolve()?;
            let (info, target, how) = agora_node::models::add(&config.data_dir, &file)?;
            if global.json {
                return crate::cli::print_json(&serde_json::json!({
                    "action": how,
                    "source": file,
                    "path": target,
                    "model": info,
                }));
            }
            print_added(&format!("{how} {} as", file.display()), &info, &target, "")
        }
    }
}

fn list(global: &GlobalArgs) -> Result<()> {
    let config = global.resolve()?;
    let mut files = BTreeSet::new();
    if let Some(model) = &config.inference.model {
        files.insert(model.clone());
    }
    files.extend(config.inference.models.iter().cloned());
    for dir in [PathBuf::from(".models"), config.data_dir.join("models")] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "gguf") {
                    files.insert(path);
                }
            }
        }
    }
    if global.json {
        return crate::cli::print_json(
            &files.iter().map(|path| model_json(path, &config)).collect::<Vec<_>>(),
        );
    }
    let mut out = std::io::stdout().lock();
    if files.is_empty() {
        writeln!(
            out,
            "no models found in ./.models or {}; run `make setup`",
            config.data_dir.join("models").display()
        )?;
        return Ok(());
    }
    writeln!(out, "{:<36} {:>9} {:<6} {:>8} {:<8} sha256", "model", "size", "quant", "params", "arch")?;
    for path in files {
        match agora_node::infer::inspect(&path) {
            Ok(info) => {
                let default = if Some(&path) == config.inference.model.as_ref() {
                    " (default)"
                } else if config.inference.models.contains(&path) {
                    " (served)"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "{:<36} {:>6.1} MB {:<6} {:>7.1}M {:<8} {}{default}",
                    info.id,
                    info.file_size as f64 / 1e6,
                    info.quantization,
                    info.parameters as f64 / 1e6,
                    info.architecture,
                    info.sha256,
                )?;
            }
            Err(e) => writeln!(out, "{:<36} unreadable: {e}", path.display())?,
        }
    }
    Ok(())
}

/// One model of the list as `--json` prints it: what `inspect` read, whether it is the default
/// or served, or why it could not be read.
fn model_json(path: &std::path::Path, config: &agora_node::NodeConfig) -> serde_json::Value {
    let default = Some(path) == config.inference.model.as_deref();
    let served = default || config.inference.models.iter().any(|m| m == path);
    match agora_node::infer::inspect(path) {
        Ok(info) => {
            let mut value = serde_json::to_value(info).unwrap_or_default();
            value["default"] = default.into();
            value["served"] = served.into();
            value
        }
        Err(e) => serde_json::json!({
            "path": path,
            "default": default,
            "served": served,
            "error": e.to_string(),
        }),
    }
}

/// Downloads a model with a progress line on stderr, then prints what was added.
async fn pull(global: &GlobalArgs, reference: &str, sha256: Option<&str>) -> Result<()> {
    use agora_node::pull::{DEFAULT_HUB, PullProgress, PullSource};
    let config = global.resolve()?;
    let hub = std::env::var("AGORA_HF_ENDPOINT").unwrap_or_else(|_| DEFAULT_HUB.to_owned());
    let source = PullSource::parse(reference, &hub)?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let show = |p: &PullProgress| {
        let mut line = match p.total {
            Some(total) => format!(
                "{:.1} of {:.1} MiB ({:.0}%)",
                mib(p.done),
                mib(total),
                100.0 * p.done as f64 / total.max(1) as f64
            ),
            None => format!("{:.1} MiB", mib(p.done)),
        };
        line += &format!(" at {:.1} MiB/s", mib(p.speed() as u64));
        if let Some(eta) = p.eta() {
            line += &format!(", ~{}s left", eta.as_secs());
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line:<60}");
        let _ = err.flush();
    };
    let _ = writeln!(std::io::stderr().lock(), "downloading {} from {}", source.file_name, source.url);
    let result = agora_node::pull::pull(&config.data_dir, &source, sha256, show).await;
    let _ = writeln!(std::io::stderr().lock());
    let agora_node::pull::Pulled { info, path: target, checked } = result?;
    if global.json {
        return crate::cli::print_json(&serde_json::json!({
            "action": "pulled",
            "source": source.url,
            "path": target,
            "checked": checked,
            "model": info,
        }));
    }
    let note =
        if checked { " (checked)" } else { " (not checked: nothing named the expected one; pass --sha256)" };
    print_added("added", &info, &target, note)
}

/// What `add` and `pull` put in `models/`: the model, where, its sha256 (with `sha_note`) and
/// how requests choose it.
fn print_added(
    headline: &str,
    info: &agora_node::infer::ModelInfo,
    target: &std::path::Path,
    sha_note: &str,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{headline} {} ({}, {:.1}M parameters, {}, context {})",
        info.id,
        info.architecture,
        info.parameters as f64 / 1e6,
        info.quantization,
        info.context_length
    )?;
    writeln!(out, "  {}", target.display())?;
    writeln!(out, "  sha256 {}{sha_note}", info.sha256)?;
    writeln!(out, "requests choose it with \"model\": \"{}\" (the node loads it on first use)", info.id)?;
    Ok(())
}
