//! Jobs between two nodes on the devnet, as users run them: a client finds a provider node
//! through ERC-8004 (`agora agent list`), posts and funds a job (`agora job post`); the
//! provider node (`agora up`) takes it by its policy, bonds, delivers, and once the challenge
//! window has passed finalizes and is paid, all by itself; the client's re-run finds nothing to
//! challenge; the evaluator's feedback names the job and counts in the agent's summary. A job
//! priced below the provider's rate is left alone and refunded after it expires.

use super::{free_port, refused, run, start_seller, warp};
use crate::x402::dollars_of;
use serde_json::Value;
use std::{
    path::Path,
    time::{Duration, Instant},
};

/// The official A2A SDK reads job `id` as task `job-<id>` from the provider node (whose agent
/// card is on its owner API at `api_port`).
fn a2a_task(api_port: u16, id: &str) -> Value {
    let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let pylib = root.join(".tools/pylib");
    assert!(pylib.join("a2a").is_dir(), "run `make setup` first");
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/a2a_job.py"))
        .arg(format!("http://127.0.0.1:{api_port}"))
        .arg(format!("job-{id}"))
        .env("PYTHONPATH", &pylib)
        .output()
        .unwrap();
    assert!(out.status.success(), "a2a_job.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Polls `agora job status ID` until its line contains `want` (60 s at most).
fn wait_status(dir: &Path, rpc: &str, id: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = run(dir, rpc, &["job", "status", id]);
        if line.contains(want) {
            return line;
        }
        assert!(Instant::now() < deadline, "job {id} never reached {want:?}: {line}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_client_hires_a_provider_node_found_on_chain_which_delivers_and_is_paid_by_itself() {
    let root = tempfile::tempdir().unwrap();
    let (provider_dir, client) = (root.path().join("provider"), root.path().join("client"));
    let up = start_seller(&provider_dir, free_port, "2", true);
    let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
    let model = super::default_model();
    let provider_key = agora_node::node_key::load_or_create(&provider_dir).unwrap().address();
    std::fs::create_dir_all(&client).unwrap();
    std::fs::copy(provider_dir.join("deployments.json"), client.join("deployments.json")).unwrap();
    let token = up.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    // The provider needs dollars for its bonds, the client for its budgets.
    run(&provider_dir, &rpc, &["faucet", "--amount", "20"]);
    run(&client, &rpc, &["faucet", "--amount", "5"]);
    let client_key = agora_node::node_key::load_or_create(&client).unwrap().address();
    let provider0 = dollars_of(&rpc, &token, provider_key);

    // The client finds the provider among the agents on chain: its wallet is the node key.
    let agents: Value = serde_json::from_str(&run(&client, &rpc, &["agent", "list", "--json"])).unwrap();
    let agent = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["wallet"].as_str().unwrap().eq_ignore_ascii_case(&provider_key.to_string()))
        .unwrap_or_else(|| panic!("the provider's agent among {agents}"));
    let agent_id = agent["agent_id"].as_str().unwrap().to_owned();

    let post = |price: &str| {
        let out = run(
            &client,
            &rpc,
            &[
                "job",
                "post",
                "--provider",
                &agent_id,
                "-p",
                "Name three colours.",
                "--max-tokens",
                "16",
                "--price",
                price,
                "--model",
                &model,
                "--json",
            ],
        );
        let posted: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(posted["bond"], "0x5b8d80", "the default bond: four times the $1.50 council fee");
        u64::from_str_radix(posted["jobId"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap()
            .to_string()
    };
    let job = post("0.05");
    let cheap = post("0.0001");
    assert!(
        refused(&client, &rpc, &["job", "post", "--provider", &agent_id, "-p", "hi", "--price", "ten"])
            .contains("is not an amount")
    );

    // The provider node takes the job by itself and delivers.
    let line = wait_status(&client, &rpc, &job, "delivered");
    assert!(line.contains("open to challenges"), "{line}");
    let shown = run(&client, &rpc, &["job", "show", &job, "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert!(!shown["output"].as_str().unwrap().is_empty(), "{shown}");
    assert!(shown["agentId"].is_string(), "the provider took it as its agent: {shown}");

    // An A2A client follows the job as a task of the provider's agent.
    let task = a2a_task(up.api_port, &job);
    assert_eq!(task["state"], "TASK_STATE_WORKING", "{task}");
    assert!(task["status"].as_str().unwrap().contains("open to challenges"), "{task}");
    assert_eq!(task["text"], shown["output"], "{task}");
    assert_eq!(task["metadata"]["agora"]["job"]["jobId"], job.as_str(), "{task}");

    // The client re-runs it and finds nothing to challenge.
    let checked = run(&client, &rpc, &["job", "challenge", &job, "--model", &model]);
    assert!(checked.contains("matches the re-run; not challenged"), "{checked}");

    // After the window the provider finalizes by itself: paid, bond back.
    warp(&rpc, 301);
    wait_status(&client, &rpc, &job, "completed");
    assert_eq!(dollars_of(&rpc, &token, provider_key), provider0 + 50_000);
    assert_eq!(a2a_task(up.api_port, &job)["state"], "TASK_STATE_COMPLETED");
    let err = refused(&client, &rpc, &["job", "settle", &job]);
    assert!(err.contains("nothing is due"), "{err}");

    // The evaluator's feedback names the job and counts without being asked to.
    let details = run(&client, &rpc, &["agent", "show", &agent_id]);
    assert!(details.contains("over 1 feedback from 1 trusted rater"), "{details}");

    // The cheap job was left alone; once expired the client takes its budget back.
    let line = run(&client, &rpc, &["job", "status", &cheap]);
    assert!(line.contains("waiting for the provider"), "{line}");
    let before = dollars_of(&rpc, &token, client_key);
    warp(&rpc, 3601);
    let settled = run(&client, &rpc, &["job", "settle", &cheap]);
    assert!(settled.contains("refunded"), "{settled}");
    assert_eq!(dollars_of(&rpc, &token, client_key), before + 100);
    let mine = run(&client, &rpc, &["job", "list", "--mine"]);
    assert_eq!(mine.lines().count(), 2, "{mine}");
    assert!(mine.contains("completed") && mine.contains("expired"), "{mine}");
}
