//! A provider killed while a paid request is in flight, as a real process: the owner's router
//! fails over to the next provider, and the owner pays only for the answer received.

use super::{agora, free_port, signal};
use agora_contracts::bindings::DevStablecoin;
use agora_pay::Mandate;
use agora_store::Store;
use agora_testkit::{TestNet, TestNode, default_model};
use alloy::primitives::{Address, U256};
use serde_json::{Value, json};
use std::{
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

/// `agora up` on `net`'s chain as a provider: its own data directory (with the net's
/// deployments), dev account `signer` as its chain key, `price` per token.
struct Provider {
    child: Child,
    wallet: Address,
}

impl Provider {
    async fn start(net: &TestNet, dir: &Path, signer: usize, price: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(net.deployments_path(), dir.join("deployments.json")).unwrap();
        let (api, paid) = (free_port(), free_port());
        let key = alloy::hex::encode_prefixed(net.wallet(signer).to_bytes());
        let mut child = agora()
            .args(["up", "--data-dir"])
            .arg(dir)
            .args(["--rpc-url", &net.rpc_url()])
            .args(["--listen", &format!("127.0.0.1:{api}"), "--paid-listen", &format!("127.0.0.1:{paid}")])
            .args(["--model", default_model().to_str().unwrap(), "--threads", "1"])
            .env("AGORA_PRIVATE_KEY", key)
            .env("AGORA_PRICE_PER_TOKEN", price)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let health = format!("http://127.0.0.1:{api}/health");
        while !reqwest::get(&health).await.is_ok_and(|r| r.status().is_success()) {
            assert!(child.try_wait().unwrap().is_none(), "agora up exited");
            assert!(Instant::now() < deadline, "agora up did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let wallet = agora_node::node_key::load_or_create(dir).unwrap().address();
        Self { child, wallet }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn balance(net: &TestNet, who: Address) -> U256 {
    DevStablecoin::new(net.stablecoin_address(), net.deployer().provider())
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

async fn chat(node: &TestNode, model: &str) -> (u16, Value) {
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "Name one colour of the rainbow."}],
        "temperature": 0,
        "max_tokens": 8,
    });
    let response =
        reqwest::Client::new().post(node.url("/v1/chat/completions")).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn charged(route: &Value) -> U256 {
    route["charged"].as_str().unwrap_or_else(|| panic!("no charge in {route}")).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_killed_with_a_paid_request_in_flight_is_failed_over_and_not_paid() {
    let net = TestNet::start().await;
    let root = tempfile::tempdir().unwrap();
    // The cheaper provider is tried first; it will be killed.
    let mut doomed = Provider::start(&net, &root.path().join("doomed"), 1, "5").await;
    let steady = Provider::start(&net, &root.path().join("steady"), 2, "10").await;
    // The client serves no model: a model name goes to the providers.
    let client = TestNode::start_with(&net, None, 3, |c| c.router.recheck_percent = 0).await;
    net.faucet(client.node_address(), 1_000_000).await;
    Mandate { name: "default".into(), budget: 500_000, per_call: 20_000, payees: vec![], expires_at: 0 }
        .save(&Store::open_in(client.data_dir()).unwrap())
        .unwrap();

    // Both providers are listed once the client's index and catalog have them.
    let (mut doomed_id, mut model) = (None, String::new());
    for _ in 0..120 {
        let models: Value = reqwest::get(client.url("/v1/models")).await.unwrap().json().await.unwrap();
        let remote: Vec<&Value> =
            models["data"].as_array().unwrap().iter().filter(|m| m["agora"]["remote"] == true).collect();
        let wallet_of = |m: &&Value| m["agora"]["wallet"].as_str().unwrap().parse::<Address>().unwrap();
        if remote.iter().any(|m| wallet_of(m) == steady.wallet)
            && let Some(m) = remote.iter().find(|m| wallet_of(m) == doomed.wallet)
        {
            doomed_id = Some(m["agora"]["agentId"].as_str().unwrap().to_owned());
            model = m["agora"]["model"].as_str().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let doomed_id = doomed_id.expect("both providers listed");
    let start = (
        balance(&net, client.node_address()).await,
        balance(&net, doomed.wallet).await,
        balance(&net, steady.wallet).await,
    );

    // One paid call to the doomed provider: the client knows its price from now on, and its
    // next call goes out paid at once.
    let (status, first) = chat(&client, &format!("agent:{doomed_id}/{model}")).await;
    assert_eq!(status, 200, "{first}");
    let first_charge = charged(&first["agora_route"]);

    // Frozen, the doomed provider's kernel still takes the connection and the paid request;
    // then it is killed with the request unanswered.
    signal(&doomed.child, libc::SIGSTOP);
    let call = tokio::spawn({
        let url = client.url("/v1/chat/completions");
        let model = model.clone();
        async move {
            let body = json!({
                "model": model,
                "messages": [{"role": "user", "content": "Name one colour of the rainbow."}],
                "temperature": 0,
                "max_tokens": 8,
            });
            let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    let (status, answer) = call.await.unwrap();
    assert_eq!(status, 200, "failed over: {answer}");
    let route = &answer["agora_route"];
    assert_eq!(route["failedOver"][0]["agentId"], doomed_id.as_str(), "{route}");
    assert_eq!(route["wallet"].as_str().unwrap().parse::<Address>().unwrap(), steady.wallet, "{route}");
    let second_charge = charged(route);

    // The owner paid the answer it got, and the first call; the killed provider got nothing more.
    let mut now = start;
    for _ in 0..120 {
        now = (
            balance(&net, client.node_address()).await,
            balance(&net, doomed.wallet).await,
            balance(&net, steady.wallet).await,
        );
        if start.0 - now.0 == first_charge + second_charge && now.2 - start.2 == second_charge {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(start.0 - now.0, first_charge + second_charge, "the client paid for two answers");
    assert_eq!(now.1 - start.1, first_charge, "the killed provider was paid for its one answer only");
    assert_eq!(now.2 - start.2, second_charge);
}
