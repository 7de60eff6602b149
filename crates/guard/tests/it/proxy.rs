//! A wallet-like client pointed at the guard's JSON-RPC proxy.

use super::world::*;
use agora_guard::{
    Level, SimulatorKind,
    proxy::{self, NOT_CHECKED, ProxyConfig, USER_REJECTED},
};
use alloy::{primitives::U256, providers::Provider, sol_types::SolCall};
use serde_json::{Value, json};

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn rpc(client: &reqwest::Client, url: &str, body: Value) -> Value {
    client.post(url).json(&body).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_gets_refusals_with_the_verdict_and_ordinary_traffic_passes_untouched() {
    let w = World::start().await;
    let config = ProxyConfig {
        upstream: w.url(),
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(w.guard(SimulatorKind::Revm), config.clone())).await;
    let client = reqwest::Client::new();

    // Ordinary traffic: the same answers as the node gives.
    for (method, params) in [
        ("eth_chainId", json!([])),
        ("eth_blockNumber", json!([])),
        ("eth_getBalance", json!([w.contact, "latest"])),
        (
            "eth_call",
            json!([{"to": w.mock, "data": format!("0x{}", alloy::primitives::hex::encode(MockToken::symbolCall {}.abi_encode()))}, "latest"]),
        ),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let direct = rpc(&client, &w.url(), body.clone()).await;
        let proxied = rpc(&client, &url, body).await;
        assert_eq!(proxied, direct, "{method}");
    }

    // An unlimited approval to the attacker is refused with 4001 and the verdict in error.data.
    let u = w.fresh_user().await;
    let tx = w.tx(
        &u,
        w.mock,
        MockToken::approveCall { spender: w.attacker.address(), value: U256::MAX }.abi_encode(),
    );
    let answer = rpc(
        &client,
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}),
    )
    .await;
    assert_eq!(answer["error"]["code"], json!(USER_REJECTED), "{answer}");
    assert!(
        answer["error"]["message"].as_str().unwrap().starts_with("agora guard refused this request"),
        "{answer}"
    );
    let data = &answer["error"]["data"];
    assert_eq!(data["level"], json!("high"));
    let ids: Vec<&str> =
        data["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"G01") && ids.contains(&"G02"), "{data}");
    for f in data["findings"].as_array().unwrap() {
        assert!(f["title"].is_string() && f["evidence"].is_array() && f["level"].is_string(), "{f}");
    }

    // A harmless transfer from an account the node holds is checked and forwarded: a real hash.
    let benign = json!({"from": w.contact, "to": w.second, "value": "0x1"});
    let answer = rpc(
        &client,
        &url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "eth_sendTransaction", "params": [benign]}),
    )
    .await;
    assert!(answer["result"].as_str().is_some_and(|h| h.len() == 66), "{answer}");
    // The send is remembered: the recipient is now part of the user's history.
    let history = agora_guard::lists::UserLists::load(&w.store).unwrap().history;
    assert_eq!(history.get(&w.second), Some(&1), "{history:?}");

    // A batch mixing both: each answered on its own, in order.
    let answer = rpc(
        &client,
        &url,
        json!([
            {"jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 4, "method": "eth_sign", "params": [u.address(), format!("0x{}", "ab".repeat(32))]},
        ]),
    )
    .await;
    assert_eq!(answer[0]["result"], json!("0x7a69"));
    assert_eq!(answer[1]["error"]["code"], json!(USER_REJECTED));

    // Malformed params are refused as invalid, not forwarded.
    let answer = rpc(&client, &url, json!({"jsonrpc": "2.0", "id": 5, "method": "eth_signTypedData_v4", "params": [u.address(), "{oops"]})).await;
    assert_eq!(answer["error"]["code"], json!(proxy::INVALID_PARAMS), "{answer}");

    // A node that goes away: nothing is forwarded unchecked.
    let dead = ProxyConfig { upstream: "http://127.0.0.1:9".into(), ..config };
    let dead_guard = agora_guard::Guard::new(
        alloy::providers::ProviderBuilder::new().connect_http("http://127.0.0.1:9".parse().unwrap()).erased(),
        w.data.clone(),
        None,
        agora_guard::GuardOptions::default(),
    );
    let url = serve(proxy::router(dead_guard, dead)).await;
    let answer = rpc(
        &client,
        &url,
        json!({"jsonrpc": "2.0", "id": 6, "method": "eth_sendTransaction", "params": [benign]}),
    )
    .await;
    assert_eq!(answer["error"]["code"], json!(NOT_CHECKED), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("--allow-unchecked"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stalls_mid_analysis_fails_the_check_and_nothing_is_forwarded() {
    let w = World::start().await;
    // A relay to anvil that answers the first requests and then stops answering (a node that
    // hangs in the middle of an analysis).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = format!("http://{}", listener.local_addr().unwrap());
    let upstream = w.url();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let upstream = upstream.clone();
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 3 {
                    std::future::pending::<()>().await;
                }
                let answer = reqwest::Client::new()
                    .post(&upstream)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                ([(axum::http::header::CONTENT_TYPE, "application/json")], answer)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let provider = alloy::providers::ProviderBuilder::new().connect_http(relay.parse().unwrap()).erased();
    let options =
        agora_guard::GuardOptions { deadline: std::time::Duration::from_secs(2), ..Default::default() };
    let guard = agora_guard::Guard::new(provider, w.data.clone(), None, options);
    let config = ProxyConfig {
        upstream: relay,
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(guard, config)).await;
    let u = w.fresh_user().await;
    let tx = w.tx(&u, w.mock, MockToken::transferCall { to: w.contact, value: U256::from(1u8) }.abi_encode());
    let started = std::time::Instant::now();
    let answer = rpc(
        &reqwest::Client::new(),
        &url,
        json!({"jsonrpc": "2.0", "id": 9, "method": "eth_sendTransaction", "params": [tx]}),
    )
    .await;
    assert_eq!(answer["error"]["code"], json!(NOT_CHECKED), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("did not finish within 2 s"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 3, "the relay answered the first reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_confirm_the_user_decides_after_seeing_the_report() {
    let w = World::start().await;
    let config = ProxyConfig {
        upstream: w.url(),
        block_level: Level::High,
        confirm: true,
        allow_unchecked: false,
        explain: None,
    };
    let client = reqwest::Client::new();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    // The user first refuses, then accepts, the same unlimited approval after reading the report.
    for (answer, expect_forwarded) in [(false, false), (true, true)] {
        let log = seen.clone();
        let asker: proxy::Asker = std::sync::Arc::new(move |report: String| {
            log.lock().unwrap().push(report);
            answer
        });
        let url = serve(proxy::router_with_asker(w.guard(SimulatorKind::Revm), config.clone(), asker)).await;
        let tx = json!({"from": w.contact, "to": w.mock, "data": alloy::primitives::Bytes::from(MockToken::approveCall { spender: w.attacker.address(), value: U256::MAX }.abi_encode())});
        let reply = rpc(
            &client,
            &url,
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}),
        )
        .await;
        if expect_forwarded {
            assert!(reply["result"].as_str().is_some_and(|h| h.len() == 66), "{reply}");
        } else {
            assert_eq!(reply["error"]["code"], json!(USER_REJECTED), "{reply}");
        }
    }
    let reports = seen.lock().unwrap();
    assert_eq!(reports.len(), 2);
    assert!(
        reports[0].starts_with("verdict: HIGH") && reports[0].contains("G01 Unlimited approval"),
        "{}",
        reports[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viem_wallet_gets_a_user_rejected_error_with_the_verdict() {
    let modules =
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/npm/node_modules"));
    assert!(modules.join("viem").is_dir(), "run `make setup` first");
    let w = World::start().await;
    let config = ProxyConfig {
        upstream: w.url(),
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(w.guard(SimulatorKind::Revm), config)).await;
    let out = tokio::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/viem_wallet.js"))
        .args([
            url,
            w.contact.to_string(),
            w.mock.to_string(),
            w.attacker.address().to_string(),
            w.second.to_string(),
        ])
        .env("NODE_PATH", &modules)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["chainId"], 31337, "{got}");
    assert_eq!(got["symbol"], "MOCK", "{got}");
    let refusal = &got["refusal"];
    assert_eq!(refusal["name"], "UserRejectedRequestError", "{got}");
    assert_eq!(refusal["code"], 4001, "{got}");
    assert!(refusal["details"].as_str().unwrap().contains("agora guard refused this request"), "{got}");
    assert_eq!(refusal["verdict"]["level"], "high", "{got}");
    assert!(refusal["verdict"]["findings"].as_array().unwrap().iter().any(|f| f["id"] == "G01"), "{got}");
    assert!(got["sent"].as_str().is_some_and(|h| h.len() == 66), "{got}");
}
