//! `agora models`: the GGUF models this node can use.

use crate::cli::GlobalArgs;
use anyhow::Result;
use std::{collections::BTreeSet, io::Write, path::PathBuf};

pub(crate) fn run(global: &GlobalArgs) -> Result<()> {
    let config = global.resolve()?;
    let mut files = BTreeSet::new();
    if let Some(model) = &config.inference.model {
        files.insert(model.clone());
    }
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
                let default = if Some(&path) == config.inference.model.as_ref() { " (serving)" } else { "" };
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
