//! `agora models`: the GGUF models this node serves, and `agora models add`.

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
    /// (a hard link, or a copy across file systems). A running node serves it after a restart,
    /// loading it when a request names it: `"model": "<file name without .gguf>"`.
    Add {
        /// The GGUF file.
        file: PathBuf,
    },
}

pub(crate) fn run(global: &GlobalArgs, args: ModelsArgs) -> Result<()> {
    match args.command {
        None => list(global),
        Some(ModelsCommand::Add { file }) => {
            let config = global.resolve()?;
            let (info, target, how) = agora_node::models::add(&config.data_dir, &file)?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{how} {} as {} ({}, {:.1}M parameters, {}, context {})",
                file.display(),
                info.id,
                info.architecture,
                info.parameters as f64 / 1e6,
                info.quantization,
                info.context_length
            )?;
            writeln!(out, "  {}", target.display())?;
            writeln!(out, "  sha256 {}", info.sha256)?;
            writeln!(
                out,
                "requests choose it with \"model\": \"{}\" (the node loads it on first use)",
                info.id
            )?;
            Ok(())
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
