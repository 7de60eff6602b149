//! Installed use: `agora setup` leaves a data directory that `agora up` runs on from any folder,
//! with nothing of the checkout on the `PATH`; and every command group works beside the running
//! node (no "data directory in use", no second devnet), reading what the node holds.

use super::{UpProcess, failing, free_port, http_get, wait_exit};
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

/// anvil's first two dev keys (the devnet's well-known accounts): the deployer, and a rater.
const RATER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const RATER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

fn checkout(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(path)
}

/// `agora` run from `cwd` with only the system's folders on the PATH (no anvil there).
fn installed(cwd: &Path, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora"));
    cmd.current_dir(cwd).env("PATH", "/usr/local/bin:/usr/bin:/bin").arg("--data-dir").arg(data_dir);
    for var in [
        "AGORA_PRIVATE_KEY",
        "AGORA_RPC_URL",
        "AGORA_DATA_DIR",
        "AGORA_LISTEN",
        "AGORA_CONFIG",
        "AGORA_MODEL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn from_another_folder_a_node_runs_on_its_data_directory_and_every_command_group_works_beside_it() {
    let root = tempfile::tempdir().unwrap();
    let (data, cwd) = (root.path().join("data"), root.path().join("elsewhere"));
    std::fs::create_dir_all(data.join("tools/bin")).unwrap();
    std::fs::create_dir_all(data.join("models")).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    // What `agora setup` fetches, taken from the checkout's `make setup` instead of the registries.
    let anvil = std::fs::canonicalize(checkout(".tools/bin/anvil")).expect("run `make setup` first");
    std::os::unix::fs::symlink(anvil, data.join("tools/bin/anvil")).unwrap();
    let model = "SmolLM2-135M-Instruct.Q4_1.gguf";
    std::os::unix::fs::symlink(checkout(".models").join(model), data.join("models").join(model)).unwrap();

    // Setup finds both in place, checked (the model by its pinned sha256), and fetches nothing.
    let setup = ok(installed(&cwd, &data).arg("setup").output().unwrap());
    assert_eq!(setup.matches(" present ").count(), 2, "{setup}");

    let (api, devnet, paid) = (free_port(), free_port(), free_port());
    let child = installed(&cwd, &data)
        .args(["up", "--listen", &format!("127.0.0.1:{api}"), "--devnet-port", &devnet.to_string()])
        .args(["--paid-listen", &format!("127.0.0.1:{paid}"), "--threads", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = UpProcess { child, api_port: api, devnet_port: devnet, paid_port: paid };
    let deadline = Instant::now() + Duration::from_secs(90);
    while http_get(api, "/health").is_none_or(|(status, _)| status != 200) {
        if let Some(status) = up.child.try_wait().unwrap() {
            panic!("agora up exited with {status}: {}", up.stderr());
        }
        assert!(Instant::now() < deadline, "agora up did not become healthy");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Beside it: the commands find the node from the data directory alone (no --listen).
    let agora = |args: &[&str]| installed(&cwd, &data).args(args).output().unwrap();
    let rated = |args: &[&str]| {
        installed(&cwd, &data).env("AGORA_PRIVATE_KEY", RATER_KEY).args(args).output().unwrap()
    };

    // status: one page.
    let status = ok(agora(&["status"]));
    for line in [
        "agent     0 \"agora node\"",
        "paid      http://127.0.0.1:",
        "balance   ",
        "dUSD",
        "models    SmolLM2",
        "router    http://127.0.0.1:",
        "privacy open, paid under mandate \"default\"",
    ] {
        assert!(status.contains(line), "{line:?} in {status}");
    }
    // agents: the node's index, the chain read beside it, and the node's own registration.
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let list = ok(agora(&["agent", "list"]));
        if list.contains("agora node") || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(list.contains("agora node"), "{list}");
    assert!(ok(agora(&["agent", "register"])).contains("unchanged"));
    // feedback: signed with the caller's own key, on the node's chain.
    assert!(ok(rated(&["feedback", "give", "0", "--value", "87"])).contains("feedback #1 on agent 0"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let shown = ok(agora(&["agent", "show", "0", "--trust", RATER]));
        if shown.contains("rating  87") || Instant::now() > deadline {
            break shown;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(shown.contains("owner") && shown.contains("rating  87 over 1 feedback"), "{shown}");
    // validate: a receipt of the node's own answer, requested, re-executed by the rater, answered.
    let reply = root.path().join("reply.json");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{api}/v1/chat/completions"))
            .json(&serde_json::json!({
                "model": "default", "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 3, "temperature": 0
            }))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    std::fs::write(&reply, &body).unwrap();
    let reply = reply.to_str().unwrap();
    let requested =
        ok(agora(&["validate", "request", "--agent", "0", "--validator", RATER, "--receipt", reply]));
    let hash =
        requested.split_whitespace().find(|w| w.starts_with("0x") && w.len() == 66).unwrap().to_owned();
    assert!(ok(agora(&["validate", "status", &hash])).contains("not answered yet"));
    assert!(ok(rated(&["validate", "respond", &hash])).contains("answered 100"));
    assert!(ok(agora(&["validate", "status", &hash])).contains("response  100"));
    // faucet, mandate, channel, earnings: dollars in, dollars out.
    assert!(ok(agora(&["faucet", "--amount", "3"])).contains("minted 3.00 dUSD"));
    let set = ok(agora(&["mandate", "set", "--budget", "5", "--per-call", "$0.01", "--expires-in", "2h"]));
    assert!(set.contains("budget 5.00 dUSD, per call 0.01 dUSD"), "{set}");
    let mandate = ok(agora(&["mandate", "show"]));
    assert!(
        mandate.contains("left     5.00 dUSD") && mandate.contains("expires  in 2.0 h, at 20"),
        "{mandate}"
    );
    assert!(ok(agora(&["--raw", "mandate", "show"])).contains("budget   5000000\n"));
    assert!(ok(agora(&["channel", "status"])).contains("no channels"));
    assert!(ok(agora(&["earnings"])).contains("charged 0.00 dUSD"));
    // guard lists: written beside the node, read by it.
    ok(agora(&["guard", "list", "add", "block", "0x000000000000000000000000000000000000dEaD"]));
    assert!(ok(agora(&["status"])).contains("1 blocked"));
    // models: one added beside the node is served at once, one removed is no longer.
    assert!(ok(agora(&["models"])).contains("(default)"));
    let other = root.path().join("other.gguf");
    std::fs::hard_link(std::fs::canonicalize(checkout(".models").join(model)).unwrap(), &other)
        .or_else(|_| std::fs::copy(checkout(".models").join(model), &other).map(|_| ()))
        .unwrap();
    ok(agora(&["models", "add", other.to_str().unwrap()]));
    let served = || {
        let (_, models) = http_get(api, "/v1/models").unwrap();
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(served(), ["SmolLM2-135M-Instruct.Q4_1", "other"]);
    ok(agora(&["models", "rm", "other"]));
    assert_eq!(served(), ["SmolLM2-135M-Instruct.Q4_1"]);
    // jobs, the council, deployments.
    assert!(ok(agora(&["job", "list"])).contains("no jobs"));
    assert!(ok(agora(&["validator", "status"])).contains("not on the council"));
    assert!(ok(agora(&["deploy"])).contains("IdentityRegistry"));
    // A second node on the same data directory is refused, saying where the first one answers.
    let second = failing(agora(&["serve"]));
    assert!(second.contains("already runs") && second.contains(&format!("127.0.0.1:{api}")), "{second}");

    super::signal(&up.child, libc::SIGTERM);
    assert!(wait_exit(&mut up.child, Duration::from_secs(30)).success());
    // Without the node, a command runs on the data directory itself (its own devnet, the same
    // chain); the agent's registration file was served by the node, so it is unresolved now.
    let alone = ok(agora(&["--devnet-port", &free_port().to_string(), "agent", "list"]));
    assert!(alone.lines().any(|l| l.trim_start().starts_with("0 ")), "{alone}");
}
