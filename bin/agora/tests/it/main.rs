//! The `agora` binary as a user runs it: `up` on the default devnet, restarts (clean and after
//! SIGKILL) that keep the chain and the deployments, and the errors for bad input.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

mod beside;
mod credits;
mod funding;
mod jobs;
mod markets;
mod router;
mod webapp;
mod x402;
mod x402_facilitator;

use serde_json::Value;
use std::{
    io::Read,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

fn agora() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora"));
    let tools = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/bin"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![tools];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    // The tests' own environment must not leak into the node's configuration.
    for var in ["AGORA_PRIVATE_KEY", "AGORA_RPC_URL", "AGORA_DATA_DIR", "AGORA_LISTEN", "AGORA_CONFIG"] {
        cmd.env_remove(var);
    }
    cmd
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Waits (up to 15 s) until `port` is free again; fails with `what` when it is not.
fn wait_until_free(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !port_is_free(port) {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[allow(unsafe_code)]
fn signal(child: &Child, sig: i32) {
    // SAFETY: signals our own child process, which has not been reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "agora did not exit within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `agora ARGS --data-dir DIR --rpc-url RPC`; its stdout, or a panic with its output.
fn run(dir: &Path, rpc: &str, args: &[&str]) -> String {
    let out = agora().args(args).arg("--data-dir").arg(dir).args(["--rpc-url", rpc]).output().unwrap();
    assert!(
        out.status.success(),
        "agora {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `agora ARGS` expecting a failure; its stderr.
fn refused(dir: &Path, rpc: &str, args: &[&str]) -> String {
    let out = agora().args(args).arg("--data-dir").arg(dir).args(["--rpc-url", rpc]).output().unwrap();
    assert!(!out.status.success(), "agora {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

/// One JSON-RPC call to the devnet at `rpc`.
fn devnet_call(rpc: &str, method: &'static str, params: Value) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use alloy::providers::Provider;
        let chain = agora_chain::ChainClient::connect(rpc, None).await.unwrap();
        chain.provider().raw_request(method.into(), params).await.unwrap()
    })
}

/// Moves the devnet's clock `secs` on and mines a block.
fn warp(rpc: &str, secs: u64) {
    devnet_call(rpc, "evm_increaseTime", serde_json::json!([secs]));
    devnet_call(rpc, "evm_mine", serde_json::json!([]));
}

/// Mines `blocks` blocks on the devnet.
fn mine(rpc: &str, blocks: u64) {
    devnet_call(rpc, "anvil_mine", serde_json::json!([blocks]));
}

/// The devnet's latest block number.
fn block_number(rpc: &str) -> u64 {
    let hex = devnet_call(rpc, "eth_blockNumber", serde_json::json!([]));
    u64::from_str_radix(hex.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn http_get(port: u16, path: &str) -> Option<(u16, Value)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.ok()?))
    })
}

/// A running `agora up`.
struct UpProcess {
    child: Child,
    api_port: u16,
    devnet_port: u16,
    paid_port: u16,
}

impl UpProcess {
    /// Starts `agora up` on fresh ports; retries with others when a port was taken meanwhile
    /// (other tests bind ephemeral ports concurrently).
    fn start(data_dir: &Path) -> Self {
        for _ in 0..3 {
            let (api_port, devnet_port) = (free_port(), free_port());
            match Self::try_start(data_dir, api_port, devnet_port, &[], &[]) {
                Ok(up) => return up,
                Err(log) if log.contains("in use") || log.contains("cannot listen") => continue,
                Err(log) => panic!("agora up failed: {log}"),
            }
        }
        panic!("agora up found no free ports in three tries");
    }

    fn try_start(
        data_dir: &Path,
        api_port: u16,
        devnet_port: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let paid_port = free_port();
        let child = agora()
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--devnet-port", &devnet_port.to_string()])
            .args(["--paid-listen", &format!("127.0.0.1:{paid_port}")])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut up = Self { child, api_port, devnet_port, paid_port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(api_port, "/health") {
                return Ok(up);
            }
            if let Some(status) = up.child.try_wait().unwrap() {
                return Err(format!("exited early with {status}: {}", up.stderr()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("did not become healthy: {}", up.stderr()))
    }

    fn deployments(&self) -> Value {
        http_get(self.api_port, "/deployments").unwrap().1
    }

    /// stderr so far; only call once the process has exited (or to report a failure).
    fn stderr(&mut self) -> String {
        let _ = self.child.kill();
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for UpProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The default model, installed by `make setup`.
fn default_model() -> String {
    let model =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(model.is_file(), "run `make setup` first");
    model.to_str().unwrap().to_owned()
}

/// `agora up` selling the default model on `data_dir`, retried on other ports when one was taken
/// meanwhile.
fn start_provider(data_dir: &Path, devnet_port: impl Fn() -> u16, threads: &str) -> UpProcess {
    start_seller(data_dir, devnet_port, threads, false)
}

/// [`start_provider`], registering the node's agent when `register` (credit pools are an agent's).
fn start_seller(data_dir: &Path, devnet_port: impl Fn() -> u16, threads: &str, register: bool) -> UpProcess {
    start_seller_with(data_dir, devnet_port, threads, register, &[])
}

/// [`start_seller`] with environment variables for the node (`AGORA_…` settings).
fn start_seller_with(
    data_dir: &Path,
    devnet_port: impl Fn() -> u16,
    threads: &str,
    register: bool,
    env: &[(&str, &str)],
) -> UpProcess {
    let model = default_model();
    let mut extra = vec!["--model", model.as_str(), "--threads", threads];
    if !register {
        extra.push("--no-register");
    }
    for _ in 0..3 {
        match UpProcess::try_start(data_dir, free_port(), devnet_port(), &extra, env) {
            Ok(up) => return up,
            Err(log) if log.contains("in use") || log.contains("cannot listen") => continue,
            Err(log) => panic!("agora up failed: {log}"),
        }
    }
    panic!("no free ports");
}

/// The cheapest paid call: a short system message keeps the prompt short, one token answers.
fn short_paid_call() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "default",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_tokens": 1,
        "temperature": 0,
    }))
    .unwrap()
}

/// The buyer's payer: its node key, a mandate for `provider`, channels with `deposit`.
fn buyer_payer(buyer_dir: &Path, provider: alloy::primitives::Address, deposit: u128) -> agora_pay::Payer {
    use agora_pay::{Mandate, Payer, PayerConfig, Prefer};
    let key = agora_node::node_key::load_or_create(buyer_dir).unwrap();
    let store = std::sync::Arc::new(agora_store::Store::open_in(buyer_dir).unwrap());
    Mandate {
        name: "default".into(),
        budget: 2_000_000,
        per_call: 1_000,
        payees: vec![provider],
        expires_at: 0,
    }
    .save(&store)
    .unwrap();
    Payer::new(
        key,
        store,
        PayerConfig {
            mandate: "default".into(),
            prefer: Prefer::Channel,
            channel_deposit: deposit,
            expected_calls: 1,
        },
    )
}

#[test]
fn up_keeps_chain_and_deployments_across_clean_and_killed_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("node");

    // First start: devnet, deployment, API.
    let mut up = UpProcess::start(&data_dir);
    let (api_port, devnet_port) = (up.api_port, up.devnet_port);
    let first = up.deployments();
    let token = first["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    let (_, health) = http_get(api_port, "/health").unwrap();
    assert_eq!(health["chainId"], 31337);

    // SIGTERM: clean shutdown, exit 0, the chain's state saved.
    signal(&up.child, libc::SIGTERM);
    let status = wait_exit(&mut up.child, Duration::from_secs(30));
    assert!(status.success(), "clean exit on SIGTERM, got {status}");
    let log = up.stderr();
    for progress in ["starting the local devnet", "devnet ready", "deployed", "node ready", "shutting down"] {
        assert!(log.contains(progress), "progress line {progress:?} missing from:\n{log}");
    }
    assert!(data_dir.join("devnet/state.json").is_file());
    assert!(port_is_free(devnet_port), "anvil stopped with the node");
    drop(up);

    // Second start: same chain (same genesis), same contracts, nothing redeployed.
    let mut up = UpProcess::start(&data_dir);
    let devnet_port = up.devnet_port;
    assert_eq!(up.deployments(), first, "same genesis and same addresses after a clean restart");

    // SIGKILL: anvil must not outlive the node, and must have saved the chain.
    up.child.kill().unwrap();
    up.child.wait().unwrap();
    wait_until_free(devnet_port, "anvil outlived a SIGKILLed node");
    let log = up.stderr();
    assert!(log.contains("reused"), "second start reused the contracts:\n{log}");
    drop(up);

    let up = UpProcess::start(&data_dir);
    let third = up.deployments();
    assert_eq!(third, first, "same chain and contracts after SIGKILL");
    assert_eq!(third["contracts"]["DevStablecoin"]["address"], token.as_str());
}

#[test]
fn config_prints_effective_values_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agora.toml");
    std::fs::write(&file, "[api]\nlisten = \"127.0.0.1:7000\"\n[devnet]\nport = 7001\n").unwrap();
    let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    let out = agora()
        .args(["config", "--config"])
        .arg(&file)
        .env("AGORA_PRIVATE_KEY", key)
        .env("AGORA_DEVNET_PORT", "7002")
        .args(["--data-dir", "/srv/agora"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:7000\""), "file value: {text}");
    assert!(text.contains("port = 7002"), "env beats file: {text}");
    assert!(text.contains("data_dir = \"/srv/agora\""), "flag: {text}");
    assert!(!text.contains("59c6995e"), "secret printed: {text}");
    assert!(text.contains("redacted"), "{text}");
}

/// `--json` makes every command that prints data print one JSON document on stdout, and only
/// that; on a fresh data directory, without a node or a chain.
#[test]
fn every_data_command_prints_json_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let model = default_model();
    let no_chain = format!("http://127.0.0.1:{}", free_port());
    let json = |args: &[&str]| -> Value {
        let out = agora().arg("--json").args(args).args(["--data-dir", &data_dir]).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    };

    let config = json(&["config"]);
    assert_eq!(config["data_dir"], data_dir.as_str(), "{config}");
    assert_eq!(config["api"]["listen"], "127.0.0.1:8402", "{config}");
    assert!(
        config["payments"]["price_per_token"].as_str().unwrap().parse::<u128>().is_ok(),
        "atomic: {config}"
    );

    let models = json(&["models", "--model", &model]);
    let default =
        models.as_array().unwrap().iter().find(|m| m["default"] == true).expect("the default model");
    assert_eq!(default["id"], "SmolLM2-135M-Instruct.Q4_1", "{models}");
    assert_eq!(default["quantization"], "Q4_1", "{models}");

    let set = json(&["mandate", "set", "--budget", "5", "--per-call", "0.01"]);
    assert_eq!(set["name"], "default", "{set}");
    let shown = json(&["mandate", "show"]);
    assert_eq!(shown["budget"], "5000000", "{shown}");
    assert_eq!(shown["perCall"], "10000", "{shown}");
    assert_eq!(shown["spent"], "0", "{shown}");

    let earnings = json(&["earnings"]);
    assert_eq!(earnings["channels"], serde_json::json!([]), "{earnings}");
    assert!(earnings["exact"].is_object(), "{earnings}");

    assert_eq!(json(&["guard", "list", "show"]), serde_json::json!([]));
    let added = json(&["guard", "list", "add", "contact", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]);
    assert_eq!(added["added"]["list"], "contact", "{added}");
    let lists = json(&["guard", "list", "show"]);
    assert_eq!(lists.as_array().unwrap().len(), 1, "{lists}");
    assert!(json(&["guard", "data", "show"])["blockedDomains"].as_u64().unwrap() > 0);

    // The flag is global: after the subcommand too.
    let out = agora()
        .args(["channel", "status", "--json", "--rpc-url", &no_chain, "--data-dir", &data_dir])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let channels: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(channels, serde_json::json!([]));
}

fn failing(out: Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "one error line: {stderr}");
    stderr
}

#[test]
fn malformed_config_fails_clearly_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agora.toml");
    std::fs::write(&file, "[api\nlisten = 1\n").unwrap();
    let data_dir = dir.path().join("data");
    let out = agora().arg("up").arg("--config").arg(&file).arg("--data-dir").arg(&data_dir).output().unwrap();
    let stderr = failing(out);
    assert!(stderr.contains("is malformed"), "{stderr}");
    assert!(!data_dir.exists(), "nothing created");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "[api\nlisten = 1\n");
}

#[test]
fn unreachable_rpc_and_taken_port_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let closed = free_port();
    let out = agora()
        .args([
            "up",
            "--rpc-url",
            &format!("http://127.0.0.1:{closed}"),
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("a"))
        .output()
        .unwrap();
    let stderr = failing(out);
    assert!(stderr.contains("cannot reach the Ethereum RPC"), "{stderr}");

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = agora()
        .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    let stderr = failing(out);
    assert!(stderr.contains("cannot listen on"), "{stderr}");

    let out = agora()
        .args(["up", "--listen", "127.0.0.1:0", "--devnet-port", &port.to_string(), "--data-dir"])
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
    let stderr = failing(out);
    assert!(stderr.contains("already in use"), "{stderr}");
}

#[test]
fn status_without_a_node_says_how_to_start_one() {
    let out = agora().args(["status", "--listen", &format!("127.0.0.1:{}", free_port())]).output().unwrap();
    let stderr = failing(out);
    assert!(stderr.contains("agora up"), "{stderr}");
}

#[test]
fn deploy_twice_reuses_the_contracts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let run = || {
        let out =
            agora().args(["deploy", "--devnet-port", &port, "--data-dir"]).arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (first, log) = run();
    assert!(first.contains("DevStablecoin"), "{first}");
    assert!(log.contains("deployed"), "{log}");
    let (second, log) = run();
    assert_eq!(first, second);
    assert!(log.contains("reused"), "{log}");
}

/// The official `openai` and `ollama` Python clients (installed by `make setup`) talk to `agora
/// serve` unchanged: a completion and a stream each (and Ollama's generate), with the same greedy
/// answer; and a model added with `agora models add` is listed and answers when a request names it.
#[test]
fn the_openai_and_ollama_python_clients_get_completions_and_streams() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let pylib = root.join(".tools/pylib");
    let model = root.join(".models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(pylib.join("openai").is_dir() && model.is_file(), "run `make setup` first");
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let second = files.path().join("second.gguf");
    std::fs::hard_link(&model, &second).or_else(|_| std::fs::copy(&model, &second).map(|_| ())).unwrap();
    let out =
        agora().args(["models", "add"]).arg(&second).arg("--data-dir").arg(dir.path()).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains(" as second ("),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = files.path().join("bad.gguf");
    std::fs::write(&bad, b"GGUF but not really").unwrap();
    let out = agora().args(["models", "add"]).arg(&bad).arg("--data-dir").arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not a valid GGUF file"), "{err}");
    assert!(!dir.path().join("models/bad.gguf").exists(), "a bad file is not added");
    let port = free_port();
    let mut serve = agora()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--threads", "2", "--model"])
        .arg(&model)
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(port, "/v1/models").is_none_or(|(status, _)| status != 200) {
        assert!(Instant::now() < deadline, "agora serve did not come up");
        assert!(serve.try_wait().unwrap().is_none(), "agora serve exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/openai_client.py"))
        .arg(format!("http://127.0.0.1:{port}"))
        .env("PYTHONPATH", &pylib)
        .output()
        .unwrap();
    let ollama = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/ollama_client.py"))
        .arg(format!("http://127.0.0.1:{port}"))
        .env("PYTHONPATH", &pylib)
        .output()
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(ollama.status.success(), "{}", String::from_utf8_lossy(&ollama.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_ollama: Value = serde_json::from_slice(&ollama.stdout).unwrap();
    assert_eq!(from_ollama["models"], got["models"], "/api/tags lists what /v1/models does");
    // The same greedy answer through both APIs and both ways of answering.
    let completion = got["completion"].as_str().unwrap();
    for key in ["chat", "stream", "generate", "generate_stream"] {
        assert_eq!(from_ollama[key], completion, "ollama {key}: {from_ollama}");
    }
    assert_eq!(from_ollama["chat_done_reason"], "stop");
    assert_eq!(from_ollama["chat_prompt_eval_count"], 44);
    assert!(from_ollama["chat_eval_count"].as_u64().unwrap() > 0);
    assert_eq!(from_ollama["stream_done"], true);
    assert_eq!(from_ollama["stream_eval_count"], from_ollama["chat_eval_count"]);
    assert_eq!(from_ollama["missing"]["status"], 404, "{from_ollama}");
    assert!(from_ollama["missing"]["error"].as_str().unwrap().contains("not found"), "{from_ollama}");
    assert_eq!(got["models"], serde_json::json!(["SmolLM2-135M-Instruct.Q4_1", "second"]));
    assert_eq!(got["other_model"], "second");
    assert_eq!(got["other_completion"], got["completion"], "the same weights answer alike");
    let completion = got["completion"].as_str().unwrap();
    assert!(completion.starts_with("An ERC-20 approval is"), "{got}");
    assert_eq!(got["finish_reason"], "stop");
    assert_eq!(got["prompt_tokens"], 44);
    assert_eq!(got["stream"], completion, "streamed text equals the completion (greedy)");
    assert_eq!(got["stream_finish_reason"], "stop");
    assert!(got["stream_usage"].as_u64().unwrap() > 0);
    // The legacy completion of a raw prompt: no chat template, the same text plain, streamed and
    // through Ollama's raw generate; its receipt re-executes.
    let legacy = got["legacy"].as_str().unwrap();
    assert!(!legacy.is_empty() && !legacy.contains("<|im_"), "{got}");
    assert_eq!(got["legacy_object"], "text_completion");
    assert_eq!(got["legacy_finish_reason"], "length");
    assert!(got["legacy_prompt_tokens"].as_u64().unwrap() < 10, "no template around the prompt: {got}");
    assert_eq!(got["legacy_stream"], legacy);
    assert_eq!(from_ollama["raw"], legacy, "{from_ollama}");
    let receipt = files.path().join("legacy.json");
    std::fs::write(&receipt, got["legacy_receipt"].to_string()).unwrap();
    let out = agora()
        .args(["receipt", "verify", "--reexecute", "--threads", "1", "--model"])
        .arg(&model)
        .arg(&receipt)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("identical"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two nodes on one devnet: the second buys 1,000 inference calls from the first over one
/// channel. The provider is SIGKILLed in the middle of a call and restarted; in the end it
/// claims, and what the chain moved equals what was served, to the unit.
#[test]
fn a_second_node_buys_many_calls_over_one_channel_and_a_provider_crash_loses_nothing() {
    // Enough calls for many group commits and a crash in the middle, few enough that the test
    // keeps its margin on a slow machine: each call prefills its prompt on the model (about
    // 0.2 s in the test build); `agora bench pay` measures thousands of calls.
    const CALLS: u32 = 150;
    let dir = tempfile::tempdir().unwrap();
    let (provider_dir, buyer_dir) = (dir.path().join("provider"), dir.path().join("buyer"));
    let start = |devnet_port: u16| start_provider(&provider_dir, || devnet_port, "2");
    let mut provider = start(free_port());
    let devnet_port = provider.devnet_port;
    let rpc = format!("http://127.0.0.1:{devnet_port}");
    let token = provider.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();

    // The buyer node: its own data directory and key, dollars from the devnet faucet, a mandate.
    let out = agora()
        .args(["faucet", "--amount", "10", "--token", &token, "--rpc-url", &rpc, "--data-dir"])
        .arg(&buyer_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failing(out));
    let buyer_key = agora_node::node_key::load_or_create(&buyer_dir).unwrap();
    let provider_key = agora_node::node_key::load_or_create(&provider_dir).unwrap();
    let payer = buyer_payer(&buyer_dir, provider_key.address(), 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let body = short_paid_call();

    let (mut served, mut paid_total, mut killed) = (0u32, 0u128, false);
    let mut attempts = 0;
    while served < CALLS {
        attempts += 1;
        assert!(attempts < CALLS + 100, "too many failed calls");
        let url = format!("http://127.0.0.1:{}/v1/chat/completions", provider.paid_port);
        if served == CALLS / 2 && !killed {
            // SIGKILL the provider while a paid call is in flight.
            let call = runtime.spawn({
                let payer_body = body.clone();
                let payer = buyer_payer(&buyer_dir, provider_key.address(), 1_000_000);
                async move { payer.send(reqwest::Method::POST, &url, Some(payer_body)).await }
            });
            std::thread::sleep(Duration::from_millis(30));
            provider.child.kill().unwrap();
            provider.child.wait().unwrap();
            killed = true;
            if let Ok(Ok(response)) = runtime.block_on(call)
                && response.status == 200
            {
                served += 1;
                paid_total += response.settlement.unwrap().charged().unwrap();
            }
            drop(provider);
            wait_until_free(devnet_port, "anvil outlived the provider");
            provider = start(devnet_port);
            continue;
        }
        match runtime.block_on(payer.send(reqwest::Method::POST, &url, Some(body.clone()))) {
            Ok(response) if response.status == 200 => {
                served += 1;
                paid_total += response.settlement.unwrap().charged().unwrap();
            }
            Ok(response) => panic!("HTTP {}: {}", response.status, String::from_utf8_lossy(&response.body)),
            Err(e) => panic!("paid call failed: {e}"),
        }
    }
    let channels = payer.channels().unwrap();
    assert_eq!(channels.len(), 1, "one channel for all calls");
    let channel = &channels[0];
    // What the buyer was charged: every answer it got, plus (after a resync) a call the provider
    // served and recorded just before it was killed, whose answer never arrived.
    assert!(
        channel.charged >= paid_total && channel.charged - paid_total <= 1_000,
        "{} vs {paid_total}",
        channel.charged
    );

    // The provider claims everything it recorded, in one transaction.
    let out = agora()
        .args(["earnings", "--claim", "--json", "--rpc-url", &rpc, "--data-dir"])
        .arg(&provider_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failing(out));
    let earnings: Value = serde_json::from_slice(&out.stdout).unwrap();
    let recorded = &earnings["channels"][0];
    assert_eq!(recorded["chargedCumulativeAmount"], channel.charged.to_string(), "provider and buyer agree");

    // On chain: the channel paid the provider exactly what was charged.
    runtime.block_on(async {
        let chain = agora_chain::ChainClient::connect(&rpc, None).await.unwrap();
        let contract =
            agora_pay::x402::IBatchSettlement::new(agora_pay::x402::BATCH_SETTLEMENT, chain.provider());
        let state = contract.channels(channel.id).call().await.unwrap();
        assert_eq!(state.totalClaimed, channel.charged, "claimed on chain == charged");
        let dollars = agora_contracts::bindings::DevStablecoin::new(token.parse().unwrap(), chain.provider());
        let earned = dollars.balanceOf(provider_key.address()).call().await.unwrap();
        assert_eq!(
            earned,
            alloy::primitives::U256::from(channel.charged),
            "the provider's balance is its claims"
        );
        let left = dollars.balanceOf(buyer_key.address()).call().await.unwrap();
        assert_eq!(
            left,
            alloy::primitives::U256::from(10_000_000u64 - 1_000_000),
            "the rest of the deposit stays in escrow"
        );
    });
}

#[test]
fn guard_check_reports_from_files_and_flags_and_the_lists_persist() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let net = runtime.block_on(agora_testkit::TestNet::start());
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let user = net.wallet(1).address().to_string();
    let friend = net.wallet(3).address().to_string();
    let guard = |args: &[&str]| {
        let mut cmd = agora();
        cmd.args(["--data-dir", &data_dir, "guard"]).args(args);
        cmd.output().unwrap()
    };

    // The address book persists in the data directory.
    let out = guard(&["list", "add", "contact", &friend, "--label", "Alice"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8(guard(&["list", "show"]).stdout).unwrap();
    assert!(shown.contains("contact") && shown.contains("Alice"), "{shown}");
    let bad = guard(&["list", "add", "block", "not a domain"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither an address nor a domain"));

    // Flags: 32 opaque bytes to personal_sign, as JSON.
    let hash = format!("0x{}", "ab".repeat(32));
    let out = guard(&["check", "--upstream", &net.rpc_url(), "--from", &user, "--message", &hash, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["level"], "high");
    assert_eq!(verdict["findings"][0]["id"], "G08");

    // A request file: a readable report. A transfer to the contact: nothing above low.
    let file = dir.path().join("request.json");
    std::fs::write(&file, serde_json::json!({"method": "eth_sign", "params": [user, hash]}).to_string())
        .unwrap();
    let report =
        String::from_utf8(guard(&["check", "--upstream", &net.rpc_url(), file.to_str().unwrap()]).stdout)
            .unwrap();
    assert!(report.starts_with("verdict: CRITICAL") && report.contains("G08 Blind signature"), "{report}");
    let tx = dir.path().join("tx.json");
    std::fs::write(
        &tx,
        serde_json::json!({"from": user, "to": friend, "value": "0x2386f26fc10000"}).to_string(),
    )
    .unwrap();
    let report =
        String::from_utf8(guard(&["check", "--upstream", &net.rpc_url(), tx.to_str().unwrap()]).stdout)
            .unwrap();
    assert!(report.starts_with("verdict: INFO") && report.contains("you send 0.01 ETH to"), "{report}");

    // No node: a clear error, not a verdict.
    let out = guard(&["check", "--upstream", "http://127.0.0.1:9", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no node at http://127.0.0.1:9"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(net);
}

/// The standing restart drill: ten stops and starts of a provider on its own data directory,
/// SIGTERM and SIGKILL mixed, with a paid channel call in each life. The chain stays the same
/// chain (the node would refuse another genesis), the contracts stay, the channel and the
/// buyer's balance stay, and a claim made through the running node is still recorded after
/// the next restart.
#[test]
fn ten_mixed_restarts_keep_the_chain_the_channel_and_the_balances() {
    let dir = tempfile::tempdir().unwrap();
    let (provider_dir, buyer_dir) = (dir.path().join("provider"), dir.path().join("buyer"));
    let start = || start_provider(&provider_dir, free_port, "1");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let body = short_paid_call();
    let buyer_key = agora_node::node_key::load_or_create(&buyer_dir).unwrap();
    let provider_key = agora_node::node_key::load_or_create(&provider_dir).unwrap();
    let payer = buyer_payer(&buyer_dir, provider_key.address(), 500_000);

    let mut first_deployments = None;
    for life in 0..10 {
        let mut up = start();
        let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
        let deployments = up.deployments();
        let first = first_deployments.get_or_insert_with(|| deployments.clone());
        assert_eq!(&deployments, first, "life {life}: the same chain and contracts");
        let token = first["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
        if life == 0 {
            let out = agora()
                .args(["faucet", "--amount", "10", "--token", &token, "--rpc-url", &rpc, "--data-dir"])
                .arg(&buyer_dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let url = format!("http://127.0.0.1:{}/v1/chat/completions", up.paid_port);
        let response = runtime.block_on(payer.send(reqwest::Method::POST, &url, Some(body.clone()))).unwrap();
        assert_eq!(response.status, 200, "life {life}: {}", String::from_utf8_lossy(&response.body));
        let channels = payer.channels().unwrap();
        assert_eq!(channels.len(), 1, "life {life}: one channel for every call");
        let channel = channels[0].clone();
        runtime.block_on(async {
            let chain = agora_chain::ChainClient::connect(&rpc, None).await.unwrap();
            let contract =
                agora_pay::x402::IBatchSettlement::new(agora_pay::x402::BATCH_SETTLEMENT, chain.provider());
            let state = contract.channels(channel.id).call().await.unwrap();
            assert_eq!(state.balance, 500_000, "life {life}: the deposit is still there");
            let dollars =
                agora_contracts::bindings::DevStablecoin::new(token.parse().unwrap(), chain.provider());
            let left = dollars.balanceOf(buyer_key.address()).call().await.unwrap();
            assert_eq!(left, alloy::primitives::U256::from(9_500_000u64), "life {life}: the buyer's balance");
        });
        if life == 8 {
            // A claim beside the running node goes through it, so the node's own transactions
            // and bookkeeping are not disturbed.
            let out = agora()
                .args(["earnings", "--claim", "--json", "--data-dir"])
                .arg(&provider_dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let earnings: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(earnings["channels"][0]["totalClaimed"], channel.charged.to_string(), "{earnings}");
        }
        if life % 2 == 0 {
            signal(&up.child, libc::SIGTERM);
            let status = wait_exit(&mut up.child, Duration::from_secs(30));
            assert!(status.success(), "life {life}: clean exit on SIGTERM, got {status}");
        } else {
            up.child.kill().unwrap();
            up.child.wait().unwrap();
            wait_until_free(up.devnet_port, "anvil outlived a SIGKILLed node");
        }
        if life == 9 {
            // After the restart the claim made in life 8 is still recorded, never undone.
            let out = agora().args(["earnings", "--json", "--data-dir"]).arg(&provider_dir).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let earnings: Value = serde_json::from_slice(&out.stdout).unwrap();
            let claimed: u128 = earnings["channels"][0]["totalClaimed"].as_str().unwrap().parse().unwrap();
            assert!(
                claimed > 0 && claimed < channel.charged,
                "claimed in life 8, charged more since: {earnings}"
            );
        }
    }
}

/// Ctrl-C in `agora chat` stops the answer being written and keeps the chat: the next question
/// is answered, and the process ends only at the end of its input.
///
/// Answers are capped at 256 tokens: the first is interrupted about 10 tokens in ("[stopped]" is
/// printed only for an answer cut short), and the second, whose wording depends on where the
/// first was cut, ends within seconds however long the model would ramble.
#[test]
fn ctrl_c_in_chat_stops_the_answer_and_keeps_the_chat() {
    use std::io::Write;
    let mut child = agora()
        .args(["chat", "--max-tokens", "256", "--threads", "1", "--model", &default_model()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let written = std::sync::Arc::clone(&written);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 256];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                written.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    stdin.write_all(b"Write a very long story about a dragon.\n").unwrap();
    stdin.flush().unwrap();
    // Interrupt once the answer is being written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while written.lock().unwrap().len() < 40 {
        assert!(Instant::now() < deadline, "no answer within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, libc::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(30);
    let stopped_at = loop {
        let before = written.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(300));
        let after = written.lock().unwrap().len();
        if after == before {
            break after;
        }
        assert!(Instant::now() < deadline, "the answer went on after Ctrl-C");
    };
    stdin.write_all(b"Say hi.\n").unwrap();
    drop(stdin);
    let status = wait_exit(&mut child, Duration::from_secs(90));
    reader.join().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("[stopped]"), "{stderr}");
    let written = written.lock().unwrap();
    assert!(written.len() > stopped_at + 2, "the second question was answered");
}
