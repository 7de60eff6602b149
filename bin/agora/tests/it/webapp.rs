//! The node's web app in a real browser (the system's Chromium, headless, driven by
//! puppeteer-core from `crates/node/tests/it/webapp.js`), against `agora up` on the devnet: a
//! chat streams and its receipt verifies; the wallet proxy's confirmations are approved and
//! rejected on the page and the wallet gets the answer each deserves; earnings move after a call
//! paid with the official x402 client; a market's price chart; a juror answers a funding round's
//! pairwise questions and reveals them; the other pages render; and a page
//! on another origin, or a request through a rebound name, changes nothing. Screenshots of each
//! page are left in `target/webapp/`.

use super::x402::{driver, funded_key, key_hex};
use super::{agora, free_port, run, start_seller};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Stdio},
};

fn shots() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/webapp"))
}

/// One step of the browser driver; its JSON report.
fn browser(step: &str, api: &str) -> Value {
    let out = driver("webapp.js").args([step, api]).arg(shots()).output().expect("node (run `make setup`)");
    assert!(
        out.status.success(),
        "the browser step {step} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A JSON-RPC call to the guard proxy; blocks until the owner answered.
fn rpc(url: &str, body: &Value) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        reqwest::Client::new().post(url).json(body).send().await.unwrap().json().await.unwrap()
    })
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_web_app_works_in_a_real_browser_and_other_origins_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let node = root.path().join("node");
    let up = start_seller(&node, free_port, "2", true);
    let api = format!("http://127.0.0.1:{}", up.api_port);
    let rpc_url = format!("http://127.0.0.1:{}", up.devnet_port);
    let token = up.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();

    // Chat: the answer streams in, and its receipt verifies.
    let chat = browser("chat", &api);
    assert!(chat["growth"].as_u64().unwrap() >= 2, "the answer arrived in one piece: {chat}");
    assert_eq!(chat["verify"]["good"], true, "{chat}");
    assert_eq!(chat["problems"], json!([]), "{chat}");

    // Guard: `agora guard --confirm` asks the open page; approved is forwarded, rejected is not.
    let proxy_port = free_port();
    let _proxy = Killed(
        agora()
            .args([
                "guard",
                "--confirm",
                "--listen",
                &format!("127.0.0.1:{proxy_port}"),
                "--upstream",
                &rpc_url,
            ])
            .arg("--data-dir")
            .arg(&node)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut page = driver("webapp.js")
        .args(["guard", &api])
        .arg(shots())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(page.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the guard page did not open: {line}");
    // An unlimited approval of dUSD to a personal account: HIGH, which the proxy refuses unless
    // the owner says otherwise.
    let approval = format!("0x095ea7b3{}{}", "0".repeat(24) + &"ab".repeat(20), "f".repeat(64));
    let tx = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction",
        "params": [{"from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "to": token, "data": approval}]});
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let mut answered = None;
    for _ in 0..50 {
        // The proxy may still be starting.
        if listening(&proxy) {
            answered = Some(rpc(&proxy, &tx));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let approved = answered.expect("the proxy never listened");
    let rejected = rpc(&proxy, &tx);
    let out = page.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| json!({"stdout": String::from_utf8_lossy(&out.stdout)}));
    assert!(
        approved["result"].as_str().is_some_and(|h| h.starts_with("0x")),
        "approved on the page, forwarded: {approved} {report}"
    );
    assert_eq!(rejected["error"]["code"], 4001, "rejected on the page, refused to the wallet: {rejected}");
    assert_eq!(report["decided"][0]["level"], "HIGH", "{report}");
    assert!(report["history"].as_str().unwrap().contains("approved"), "{report}");
    assert_eq!(report["listed"], "Added.", "the address book from the page: {report}");

    // Money: earnings move after a call paid with the official x402 client.
    let before = browser("money", &api);
    let buyer = funded_key(&rpc_url, &token);
    let paid = driver("x402_batch_client.js")
        .args([
            &format!("http://127.0.0.1:{}/v1/chat/completions", up.paid_port),
            &key_hex(&buyer),
            &token,
            "1",
            &rpc_url,
        ])
        .output()
        .unwrap();
    assert!(paid.status.success(), "the paid call failed: {}", String::from_utf8_lossy(&paid.stderr));
    let after = browser("money", &api);
    assert_ne!(before["total"], after["total"], "the earnings did not move: {before} {after}");
    assert!(after["bars"].as_u64().unwrap() >= 1, "today's bar: {after}");

    // Markets: a market with a trade shows its price chart.
    run(&node, &rpc_url, &["faucet", "--amount", "100"]);
    run(&node, &rpc_url, &["market", "create", "Will the page draw this?", "--liquidity", "20"]);
    for (outcome, shares) in [("0", "5"), ("1", "9"), ("0", "4"), ("0", "6")] {
        run(&node, &rpc_url, &["market", "buy", "0", "--outcome", outcome, "--shares", shares]);
        super::warp(&rpc_url, 600);
    }
    let markets = browser("markets", &api);
    assert!(markets["text"].as_str().unwrap().contains("Will the page draw this?"), "{markets}");
    assert!(markets["lines"].as_u64().unwrap() >= 1, "{markets}");

    // Funding: the node sits on a round's jury; it answers its questions on the page, then
    // reveals them, and the chain has them.
    let graph = root.path().join("g.json");
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    run(
        &node,
        &rpc_url,
        &["funding", "graph", "--lock", lock, "--depth", "1", "-o", graph.to_str().unwrap()],
    );
    let me = agora_node::node_key::load_or_create(&node).unwrap().address().to_string();
    let created = run(
        &node,
        &rpc_url,
        &[
            "funding",
            "round",
            "create",
            "--graph",
            graph.to_str().unwrap(),
            "--pool",
            "1",
            "--juror",
            &me,
            "--submit-for",
            "10m",
            "--reveal-for",
            "5m",
            "--jury-for",
            "10m",
            "--jury-reveal-for",
            "5m",
            "--challenge-for",
            "5m",
            "--pairs",
            "3",
        ],
    );
    let round = created.split_whitespace().nth(1).unwrap().to_owned();
    // Past the submissions and the solvers' reveals: jurors may answer.
    super::warp(&rpc_url, 10 * 60 + 5 * 60 + 1);
    let jury = browser("jury", &api);
    assert_eq!(jury["questions"], 3, "{jury}");
    assert!(jury["message"].as_str().unwrap().starts_with("Committed 3 answers"), "{jury}");
    let phase = || -> Value {
        serde_json::from_str(&run(&node, &rpc_url, &["--json", "funding", "round", "status", &round]))
            .unwrap()
    };
    // Past the jury's answering period (its deadline, as the round says).
    let status = phase();
    let (now, jury_end) = (status["now"].as_u64().unwrap(), status["deadlines"][2].as_u64().unwrap());
    super::warp(&rpc_url, jury_end.saturating_sub(now) + 1);
    assert_eq!(phase()["phase"], "jury revealing", "{}", phase());
    let revealed = browser("reveal", &api);
    assert!(revealed["message"].as_str().unwrap().starts_with("Revealed your answers"), "{revealed}");
    // Revealed on chain: a second reveal is refused.
    let again = super::refused(&node, &rpc_url, &["funding", "round", "jury", &round, "--reveal"]);
    assert!(again.contains("AlreadyRevealed"), "{again}");

    // The other pages render the node's data, with no script error.
    let pages = browser("pages", &api);
    assert_eq!(pages["problems"], json!([]), "{pages}");
    let detail = pages["seen"]["agentDetail"].as_str().unwrap();
    assert!(detail.contains("agora node") && detail.contains("trusted rater"), "{detail}");
    for route in ["agents", "jobs", "funding"] {
        assert_eq!(pages["seen"][route]["offline"], json!([]), "{route} could not load: {pages}");
    }

    // Another origin: nothing it sends is served, and no mandate named "evil" appears.
    let attack = browser("attack", &api);
    let money: Value = reqwest_get(&api, "/ui/api/money", None);
    assert!(
        !money["mandates"].as_array().unwrap().iter().any(|m| m["name"] == "evil"),
        "a page on another origin wrote a mandate: {attack}"
    );
    for (name, result) in attack["results"].as_object().unwrap() {
        let r = result.as_str().unwrap();
        assert!(r.starts_with("blocked") || r == "status 0" || r.starts_with("status 403"), "{name}: {r}");
    }
    assert!(attack["landed"].as_str().unwrap().contains("forbidden"), "the form's POST was served: {attack}");
    // A rebound name (a page at evil.example resolving to 127.0.0.1) is refused too.
    let rebound: Value = reqwest_get(&api, "/ui/api/money", Some("evil.example:8402"));
    assert_eq!(rebound["error"]["code"], "forbidden", "{rebound}");
}

fn reqwest_get(api: &str, path: &str, host: Option<&str>) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(format!("{api}{path}"));
        if let Some(host) = host {
            request = request.header("host", host);
        }
        request.send().await.unwrap().json().await.unwrap()
    })
}

/// Whether something answers HTTP at `url` yet.
fn listening(url: &str) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { reqwest::Client::new().get(url).send().await.is_ok() })
}
