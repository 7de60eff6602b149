//! agora and the official x402 packages (npm `@x402/fetch`, `@x402/evm`, `@x402/express`
//! 2.27.0), unchanged: the official `batch-settlement` client buys many calls from `agora up`
//! across a provider SIGKILL, the official `upto` client is charged the tokens generated (and
//! the route's `bazaar` description passes the official validators), and an agora node buys
//! from the official reference server with both schemes.

use super::{agora, failing, free_port, start_provider, wait_until_free};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `node` running one of the drivers in crates/node/tests/it with the pinned packages.
pub(super) fn driver(script: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("crates/node/tests/it").join(script))
        .env("NODE_PATH", repo().join(".tools/npm/node_modules"));
    cmd
}

/// A fresh funded buyer key (not a node key): 10 dUSD from the devnet faucet.
pub(super) fn funded_key(rpc: &str, token: &str) -> alloy::signers::local::PrivateKeySigner {
    let key = alloy::signers::local::PrivateKeySigner::random();
    let out = agora()
        .args(["faucet", "--amount", "10", "--token", token, "--rpc-url", rpc, "--to"])
        .arg(key.address().to_string())
        .args(["--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failing(out));
    key
}

pub(super) fn key_hex(key: &alloy::signers::local::PrivateKeySigner) -> String {
    format!("0x{}", alloy::primitives::hex::encode(key.to_bytes()))
}

/// Gives `who` 0.1 ETH on the devnet, for a transaction it pays itself.
pub(super) fn give_gas(rpc: &str, who: alloy::primitives::Address) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use alloy::providers::Provider;
        let chain = agora_chain::ChainClient::connect(rpc, None).await.unwrap();
        let _: Value = chain
            .provider()
            .raw_request("anvil_setBalance".into(), (who, "0x16345785D8A0000"))
            .await
            .unwrap();
    });
}

pub(super) fn dollars_of(rpc: &str, token: &str, who: alloy::primitives::Address) -> u128 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let chain = agora_chain::ChainClient::connect(rpc, None).await.unwrap();
        let dollars = agora_contracts::bindings::DevStablecoin::new(token.parse().unwrap(), chain.provider());
        dollars.balanceOf(who).call().await.unwrap().to::<u128>()
    })
}

/// The official client buys many calls over one `batch-settlement` channel; the provider is
/// SIGKILLed halfway and restarted on the same chain while the client keeps going. In the end
/// the provider claims and settles: what the chain moved is exactly what the provider recorded,
/// which is what the client was charged (its last channel state), and every call was answered.
#[test]
fn the_official_batch_client_buys_calls_across_a_provider_kill_and_the_claim_matches() {
    // Each call prefills its prompt on the model (a few tenths of a second in the test build);
    // X402_CALLS=1000 runs the full-size version.
    let calls: u32 = std::env::var("X402_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let provider_dir = dir.path().join("provider");
    let start = |devnet_port: u16| start_provider(&provider_dir, || devnet_port, "2");
    let mut provider = start(free_port());
    let devnet_port = provider.devnet_port;
    let rpc = format!("http://127.0.0.1:{devnet_port}");
    let token = provider.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    let provider_key = agora_node::node_key::load_or_create(&provider_dir).unwrap();
    let buyer = funded_key(&rpc, &token);

    // The paid port changes on restart: the client talks to a fixed local port that forwards.
    let front = free_port();
    let forward = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(provider.paid_port));
    let _proxy = Forwarder::start(front, std::sync::Arc::clone(&forward));
    let url = format!("http://127.0.0.1:{front}/v1/chat/completions");

    let mut client: Child = driver("x402_batch_client.js")
        .args([url.as_str(), key_hex(&buyer).as_str(), token.as_str(), &calls.to_string(), rpc.as_str()])
        .env("PROGRESS", "1")
        .env("RETRY_SECS", "90")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (run `make setup`)");
    let stderr = BufReader::new(client.stderr.take().unwrap());
    let mut log = Vec::new();
    let mut killed = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        let answered: u32 = line.strip_prefix("answered ").and_then(|n| n.trim().parse().ok()).unwrap_or(0);
        log.push(line);
        if !killed && answered >= calls / 2 {
            // SIGKILL while the client is mid-stream of calls, then start again on the same chain.
            provider.child.kill().unwrap();
            provider.child.wait().unwrap();
            killed = true;
            drop(provider);
            wait_until_free(devnet_port, "anvil outlived the provider");
            provider = start(devnet_port);
            forward.store(provider.paid_port, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let output = client.wait_with_output().unwrap();
    assert!(output.status.success(), "the official client failed: {}", log.join("\n"));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(killed, "the provider was never killed: {report}");
    assert_eq!(report["answered"], calls, "every call answered: {report}");
    let deposits = report["deposits"].as_array().unwrap().len();
    let charged_total: u128 = report["chargedTotal"].as_str().unwrap().parse().unwrap();
    let cumulative: u128 =
        report["lastChannelState"]["chargedCumulativeAmount"].as_str().unwrap().parse().unwrap();
    // What the client was charged: every answer it got, plus at most the call the provider
    // served and recorded as it was killed, whose answer never arrived (the client adopts it
    // from the corrective 402's voucher state).
    assert!(cumulative >= charged_total && cumulative - charged_total <= 1_000, "{report}");

    let out = agora()
        .args(["earnings", "--claim", "--json", "--rpc-url", &rpc, "--data-dir"])
        .arg(&provider_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failing(out));
    let earnings: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(earnings["channels"].as_array().unwrap().len(), 1, "one channel: {earnings}");
    assert_eq!(earnings["channels"][0]["chargedCumulativeAmount"], cumulative.to_string(), "{earnings}");

    // On chain: the channel's claims and the provider's balance are what was charged.
    let channel_id: alloy::primitives::B256 = report["channelId"].as_str().unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let chain = agora_chain::ChainClient::connect(&rpc, None).await.unwrap();
        let contract =
            agora_pay::x402::IBatchSettlement::new(agora_pay::x402::BATCH_SETTLEMENT, chain.provider());
        let state = contract.channels(channel_id).call().await.unwrap();
        assert_eq!(state.totalClaimed, cumulative, "claimed on chain == charged");
    });
    assert_eq!(dollars_of(&rpc, &token, provider_key.address()), cumulative, "settled to the provider");
    let deposited: u128 = report["lastChannelState"]["balance"].as_str().unwrap().parse().unwrap_or_default();
    assert_eq!(
        dollars_of(&rpc, &token, buyer.address()),
        10_000_000 - deposited,
        "the buyer paid its {deposits} deposits and nothing else"
    );
}

/// The official `upto` client authorizes the request's ceiling and is charged the tokens the
/// model generated, not the ceiling.
#[test]
fn the_official_upto_client_is_charged_the_tokens_generated_not_the_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let provider = start_provider(&dir.path().join("provider"), free_port, "2");
    let rpc = format!("http://127.0.0.1:{}", provider.devnet_port);
    let token = provider.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    let buyer = funded_key(&rpc, &token);
    // The upto client approves Permit2 itself, which costs gas: give the key some ETH.
    give_gas(&rpc, buyer.address());
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", provider.paid_port);
    // The 402 describes the route for x402 discovery: the official validators accept it.
    let out = driver("x402_bazaar_check.js").arg(&url).output().expect("node (run `make setup`)");
    assert!(out.status.success(), "{}", failing(out));
    let bazaar: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&bazaar["valid"], &bazaar["specValid"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{bazaar}"
    );
    assert_eq!(bazaar["info"]["input"]["method"], "POST");
    assert_eq!(bazaar["resource"]["serviceName"], "agora");
    // A short answer under a high max_tokens: the ceiling is far above what is generated.
    let out = driver("x402_upto_client.js")
        .args([url.as_str(), key_hex(&buyer).as_str(), token.as_str(), rpc.as_str()])
        .env("MAX_TOKENS", "64")
        .output()
        .expect("node (run `make setup`)");
    assert!(out.status.success(), "{}", failing(out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], 200, "{report}");
    let prompt_tokens = report["body"]["usage"]["prompt_tokens"].as_u64().unwrap();
    let ceiling = 10 * u128::from(prompt_tokens + 64);
    let charged: u128 = report["paymentResponse"]["amount"].as_str().unwrap().parse().unwrap();
    let tokens = report["body"]["usage"]["total_tokens"].as_u64().unwrap();
    assert_eq!(charged, 10 * u128::from(tokens), "charged per token: {report}");
    assert!(charged < ceiling, "not the ceiling: {charged} of {ceiling}");
    assert!(report["paymentResponse"]["transaction"].as_str().unwrap().starts_with("0x"));
    assert_eq!(dollars_of(&rpc, &token, buyer.address()), 10_000_000 - charged);
}

/// A TCP forwarder from a fixed local port to a target port that can change (a restarted
/// provider listens on a new one).
struct Forwarder {
    _thread: std::thread::JoinHandle<()>,
}

impl Forwarder {
    fn start(port: u16, target: std::sync::Arc<std::sync::atomic::AtomicU16>) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let thread = std::thread::spawn(move || {
            for inbound in listener.incoming() {
                let Ok(inbound) = inbound else { continue };
                let to = target.load(std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let Ok(outbound) = std::net::TcpStream::connect(("127.0.0.1", to)) else { return };
                    let (mut a_read, mut b_write) =
                        (inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
                    let (mut b_read, mut a_write) = (outbound, inbound);
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut a_read, &mut b_write);
                        let _ = b_write.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut b_read, &mut a_write);
                    let _ = a_write.shutdown(std::net::Shutdown::Write);
                    let _ = up.join();
                });
            }
        });
        Self { _thread: thread }
    }
}

/// The official reference server (crates/node/tests/it/x402_express_server.js: `@x402/express`
/// with the official facilitator in-process, or the one at `FACILITATOR_URL`), started with
/// `env` on a free port; its stderr is kept for reports; killed on drop.
pub(super) struct ReferenceServer {
    child: Child,
    pub(super) url: String,
    log: Arc<Mutex<String>>,
}

impl ReferenceServer {
    pub(super) fn start(env: &[(&str, &str)]) -> Self {
        let mut cmd = driver("x402_express_server.js");
        cmd.env("PORT", "0").stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("node (run `make setup`)");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stderr, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let listening: Value = serde_json::from_str(line.trim()).unwrap_or_else(|_| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the reference server did not start: {line} {}", log.lock().unwrap())
        });
        let url = listening["listening"].as_str().unwrap().to_owned();
        Self { child, url, log }
    }

    /// What the server wrote on stderr so far.
    pub(super) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// POSTs `{}` to `path`; the answer must be a success.
    pub(super) fn post(&self, path: &str) -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let url = format!("{}{path}", self.url);
        runtime.block_on(async {
            let response =
                reqwest::Client::new().post(url).json(&serde_json::json!({})).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert!(status.is_success(), "{path}: {status} {body}");
            body
        })
    }

    /// GETs `path` as JSON.
    pub(super) fn get(&self, path: &str) -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            reqwest::get(format!("{}{path}", self.url)).await.unwrap().json().await.unwrap()
        })
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An agora node buys from the official reference server: over a `batch-settlement` channel
/// (one deposit, a voucher per call) and with `upto`; the server's official facilitator claims
/// and settles, and the seller's balance is what the buyer's books say it spent.
#[test]
fn an_agora_node_buys_from_the_official_server_with_batch_settlement_and_upto() {
    const PRICE: u128 = 1_000;
    const CALLS: u128 = 5;
    let dir = tempfile::tempdir().unwrap();
    let host = start_provider(&dir.path().join("host"), free_port, "1");
    let rpc = format!("http://127.0.0.1:{}", host.devnet_port);
    let token = host.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    // The seller: a fresh payTo; the official facilitator signs with anvil's dev account 5.
    let seller = alloy::signers::local::PrivateKeySigner::random().address().to_string();
    let facilitator_key = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
    let server = ReferenceServer::start(&[
        ("SCHEMES", "upto,batch-settlement"),
        ("PRICE", &PRICE.to_string()),
        ("ASSET", &token),
        ("PAY_TO", &seller),
        ("RPC_URL", &rpc),
        ("FACILITATOR_KEY", facilitator_key),
    ]);
    let url = format!("{}/paid", server.url);

    // The buyer: an agora data directory, dollars, a mandate.
    let buyer_dir = dir.path().join("buyer");
    let run = |args: &[&str]| {
        let out =
            agora().args(args).args(["--rpc-url", &rpc, "--data-dir"]).arg(&buyer_dir).output().unwrap();
        assert!(out.status.success(), "agora {args:?}: {}", failing(out));
        out
    };
    run(&["faucet", "--amount", "10", "--token", &token]);
    run(&["mandate", "set", "--budget", "1", "--per-call", "0.01"]);
    for call in 0..CALLS {
        let out = run(&["pay", &url, "--scheme", "channel", "--deposit", "20000atomic"]);
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(body.is_object(), "{body}");
        let note = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(note.contains("paid 0.001 dUSD with batch-settlement"), "{note}");
        // The first call's deposit goes on chain; the rest are vouchers.
        assert_eq!(note.contains("off-chain voucher"), call > 0, "{note}");
    }
    let out = run(&["pay", &url, "--scheme", "upto"]);
    let note = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(note.contains("with upto") && note.contains("0x"), "{note}");

    // The seller's server claims its vouchers and settles them to payTo.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let settled: Value = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/admin/settle", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert!(settled.get("error").is_none(), "{settled}");
    let seller: alloy::primitives::Address = seller.parse().unwrap();
    assert_eq!(dollars_of(&rpc, &token, seller), (CALLS + 1) * PRICE, "{settled}");
    let out = run(&["--raw", "mandate", "show"]);
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(shown.contains(&format!("spent    {}\n", (CALLS + 1) * PRICE)), "{shown}");
}
