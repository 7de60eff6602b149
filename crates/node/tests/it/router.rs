//! The owner's OpenAI endpoint as a router: providers found on chain answer `auto`, a named
//! remote model and the local model, through the official `openai` client; payments on chain
//! match the calls; a provider that returns tampered answers under valid signatures is caught by
//! re-execution, marked, stops being routed to and gets negative feedback on chain.

use agora_agents::AgentProfile;
use agora_contracts::{
    SuiteContract,
    bindings::{DevStablecoin, ReputationRegistry},
};
use agora_pay::Mandate;
use agora_receipts::{ReceiptEnvelope, signing_hash};
use agora_store::Store;
use agora_testkit::{TestNet, TestNode, default_model};
use alloy::{
    primitives::{Address, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use serde_json::{Value, json};
use std::{
    path::PathBuf,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

/// What the cheater returns in place of the model's answer.
const TAMPERED: &str = "The answer is 42.";

async fn balance(net: &TestNet, who: Address) -> U256 {
    DevStablecoin::new(net.stablecoin_address(), net.deployer().provider())
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

/// A provider endpoint that forwards to `upstream` (an honest node's paid listener, payment
/// and all) and replaces each answer with [`TAMPERED`], re-signing the receipt with `key`: the
/// signature is valid and the signer is the agent's wallet, only the work is not the model's.
async fn cheating_proxy(upstream: String, key: PrivateKeySigner) -> String {
    use axum::{body::Bytes, http::HeaderMap, response::IntoResponse};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let (upstream, key) = (upstream.clone(), key.clone());
            async move {
                let mut request = reqwest::Client::new().request(method, format!("{upstream}{}", uri.path()));
                for (name, value) in &headers {
                    if name != "host" && name != "content-length" {
                        request = request.header(name.as_str(), value.as_bytes());
                    }
                }
                let response = request.body(body.to_vec()).send().await.unwrap();
                let status = response.status().as_u16();
                let mut out = HeaderMap::new();
                for (name, value) in response.headers() {
                    // The x402 headers (PAYMENT-REQUIRED, PAYMENT-RESPONSE); not the receipt.
                    if name.as_str().starts_with("payment-") || name.as_str().starts_with("x-payment-") {
                        out.insert(
                            axum::http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                            axum::http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                        );
                    }
                }
                let mut body: Value = response.json().await.unwrap_or(Value::Null);
                if status == 200 && uri.path() == "/v1/chat/completions" {
                    let mut envelope: ReceiptEnvelope =
                        serde_json::from_value(body["agora_receipt"].clone()).unwrap();
                    envelope.output.text = TAMPERED.into();
                    envelope.output.tokens[0] ^= 1;
                    envelope.signed.receipt.outputHash = keccak256(TAMPERED.as_bytes());
                    envelope.signed.signature =
                        key.sign_hash_sync(&signing_hash(&envelope.signed.receipt)).unwrap();
                    body["agora_receipt"] = json!(envelope);
                    body["choices"][0]["message"]["content"] = json!(TAMPERED);
                }
                (axum::http::StatusCode::from_u16(status).unwrap(), out, axum::Json(body)).into_response()
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A provider that dies mid-answer: it lists `upstream`'s models at a price of 1 per token (so
/// it is ranked first), passes unpaid calls on (so the 402 is `upstream`'s), and cuts every paid
/// call off after the first bytes of its answer, as a process killed mid-stream would.
async fn dying_proxy(upstream: String) -> String {
    use axum::{body::Body, http::HeaderMap, response::IntoResponse};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: HeaderMap,
              body: axum::body::Bytes| {
            let upstream = upstream.clone();
            async move {
                if headers.contains_key("payment-signature") {
                    let cut = futures_util::stream::iter([
                        Ok(axum::body::Bytes::from_static(b"{\"id\":\"chatcmpl-")),
                        Err(std::io::Error::other("killed")),
                    ]);
                    return (axum::http::StatusCode::OK, Body::from_stream(cut)).into_response();
                }
                let mut request = reqwest::Client::new().request(method, format!("{upstream}{}", uri.path()));
                if let Some(kind) = headers.get("content-type") {
                    request = request.header("content-type", kind.as_bytes());
                }
                let response = request.body(body.to_vec()).send().await.unwrap();
                let status = axum::http::StatusCode::from_u16(response.status().as_u16()).unwrap();
                let required = response.headers().get("payment-required").map(|v| v.as_bytes().to_vec());
                let mut body: Value = response.json().await.unwrap_or(Value::Null);
                if uri.path() == "/v1/models" {
                    body["data"][0]["agora"]["price"]["per_token"] = json!("1");
                }
                let mut out = HeaderMap::new();
                if let Some(required) = required {
                    out.insert("payment-required", axum::http::HeaderValue::from_bytes(&required).unwrap());
                }
                (status, out, axum::Json(body)).into_response()
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Registers an agent owned by dev account `owner` selling `model` at `paid_url`, with
/// `wallet` as its agent wallet; its id.
async fn register(
    net: &TestNet,
    owner: usize,
    model: &str,
    paid_url: &str,
    wallet: &PrivateKeySigner,
) -> String {
    let client = net.client_for(owner).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let registry = net.deployment().address_of(SuiteContract::IdentityRegistry).unwrap();
    let profile = AgentProfile {
        name: "cheap and fast".into(),
        description: "chat completions".into(),
        public_url: None,
        skills: AgentProfile::inference_skills(model),
        paid_url: Some(paid_url.into()),
    };
    agora_agents::register_remembered(&client, &store, registry, &profile, wallet)
        .await
        .unwrap()
        .agent_id
        .to_string()
}

async fn post(url: String, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The remote entries of the node's `/v1/models`, by agent id.
async fn remote(node: &TestNode) -> Vec<Value> {
    let models = get(node.url("/v1/models")).await;
    models["data"].as_array().unwrap().iter().filter(|m| m["agora"]["remote"] == true).cloned().collect()
}

fn ask(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "Name one colour of the rainbow."}],
        "temperature": 0,
        "max_tokens": 12,
    })
}

fn charged(route: &Value) -> U256 {
    route["charged"].as_str().unwrap_or_else(|| panic!("no charge in {route}")).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_endpoint_routes_to_providers_found_on_chain_and_catches_a_cheat() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let pylib = root.join(".tools/pylib");
    assert!(pylib.join("openai").is_dir(), "run `make setup` first");
    let net = TestNet::start().await;
    let p1 = TestNode::start_with(&net, Some(default_model()), 1, |_| {}).await;
    let p2 = TestNode::start_with(&net, Some(default_model()), 2, |_| {}).await;
    let p3 = TestNode::start_with(&net, Some(default_model()), 4, |_| {}).await;
    let model = get(p1.url("/v1/models")).await["data"][0]["id"].as_str().unwrap().to_owned();
    // The cheater sells p2's work under its own agent, with p2's key as its wallet.
    let p2_key = agora_node::node_key::load_or_create(p2.data_dir()).unwrap();
    let proxy = cheating_proxy(p2.paid_url(""), p2_key.clone()).await;
    let cheater = register(&net, 4, &model, &proxy, &p2_key).await;
    let client = TestNode::start_with(&net, Some(default_model()), 3, |c| {
        c.router.recheck_percent = 100;
        c.router.timeout_secs = 120;
    })
    .await;
    // The client node pays from its node key: dUSD and a mandate, no ETH.
    let payer = client.node_address();
    net.faucet(payer, 1_000_000).await;
    let store = Store::open_in(client.data_dir()).unwrap();
    Mandate { name: "default".into(), budget: 500_000, per_call: 20_000, payees: vec![], expires_at: 0 }
        .save(&store)
        .unwrap();
    let wallets = [p1.node_address(), p2.node_address(), p3.node_address()];
    let earned = async || {
        let mut sum = U256::ZERO;
        for w in wallets {
            sum += balance(&net, w).await;
        }
        sum
    };
    let start_balances = (balance(&net, payer).await, earned().await);

    // Discovery: the four providers are listed with their price, from the index.
    let mut listed = Vec::new();
    for _ in 0..120 {
        listed = remote(&client).await;
        if listed.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if listed.len() != 4 {
        let agents = get(client.url("/agents")).await;
        panic!("four providers with one model each: {listed:#?}\nindexed: {agents:#}");
    }
    for entry in &listed {
        assert_eq!(entry["agora"]["pricePerToken"], "10", "{entry}");
        assert_eq!(entry["agora"]["model"], model.as_str());
        assert!(entry["agora"]["latencyMs"].is_number(), "{entry}");
    }
    let p1_id = listed
        .iter()
        .find(|e| e["agora"]["wallet"] == p1.node_address().to_checksum(None))
        .map(|e| e["agora"]["agentId"].as_str().unwrap().to_owned())
        .unwrap();

    // The cheater answers with a receipt that verifies; the re-execution catches it.
    let mut paid_total = U256::ZERO;
    let (status, body) =
        post(client.url("/v1/chat/completions"), ask(&format!("agent:{cheater}/{model}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], TAMPERED);
    assert_eq!(body["agora_route"]["agentId"], cheater.as_str());
    assert_eq!(body["agora_route"]["reexecuting"], true);
    paid_total += charged(&body["agora_route"]);
    let mut marked = Value::Null;
    for _ in 0..240 {
        marked =
            remote(&client).await.into_iter().find(|e| e["agora"]["agentId"] == cheater.as_str()).unwrap();
        if !marked["agora"]["marked"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        marked["agora"]["marked"].as_str().unwrap().contains("re-execution diverged at token 0"),
        "{marked}"
    );
    // Negative feedback on chain, from the client's chain signer (dev account 3).
    let reputation = ReputationRegistry::new(
        net.deployment().address_of(SuiteContract::ReputationRegistry).unwrap(),
        net.deployer().provider(),
    );
    let rater = net.wallet(3).address();
    let cheater_id: U256 = cheater.parse().unwrap();
    let mut last = 0;
    for _ in 0..120 {
        last = reputation.getLastIndex(cheater_id, rater).call().await.unwrap();
        if last > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last, 1, "one negative feedback on the cheater");
    let feedback = reputation.readFeedback(cheater_id, rater, 1).call().await.unwrap();
    assert_eq!(
        (feedback.value, feedback.tag1.as_str(), feedback.tag2.as_str()),
        (-100, "reexecution", "mismatch")
    );
    // Routing to it stops; the others keep serving.
    let (status, body) =
        post(client.url("/v1/chat/completions"), ask(&format!("agent:{cheater}/{model}"))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("provider_refused")), "{body}");

    // The official client, unchanged: auto (plain and streamed), a named remote model, local.
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/router_client.py"))
        .arg(client.url(""))
        .arg(format!("agent:{p1_id}/{model}"))
        .arg(&model)
        .env("PYTHONPATH", &pylib)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The three provider nodes (the cheater is an agent of its own, reselling p2's work).
    let honest: Vec<&str> =
        listed.iter().map(|e| e["agora"]["agentId"].as_str().unwrap()).filter(|id| *id != cheater).collect();
    assert_eq!(honest.len(), 3);
    for call in ["auto", "named"] {
        let route = &got[call]["route"];
        assert!(
            honest.contains(&route["agentId"].as_str().unwrap()),
            "{call} went to an honest provider: {route}"
        );
        assert_eq!(route["receiptChecked"], true);
        assert!(!got[call]["text"].as_str().unwrap().is_empty() && got[call]["text"] != TAMPERED, "{got}");
        paid_total += charged(route);
    }
    assert_eq!(got["named"]["route"]["agentId"], p1_id.as_str());
    let streamed = &got["stream"];
    assert_eq!(streamed["text"], got["auto"]["text"], "the same greedy answer streamed: {got}");
    assert!(streamed["usage"].as_u64().unwrap() > 0);
    paid_total += charged(&streamed["route"]);
    // The local model answers its own name, unpaid and unrouted.
    assert!(got["local"]["route"].is_null(), "{got}");
    assert!(!got["local"]["text"].as_str().unwrap().is_empty());
    assert!(got["models"].as_array().unwrap().iter().any(|m| m == &json!(format!("agent:{p1_id}/{model}"))));

    // A provider killed mid-answer: the call fails over to the next one, and only the answer
    // received is paid.
    let dead_key = PrivateKeySigner::random();
    let dying = dying_proxy(p1.paid_url("")).await;
    let dead = register(&net, 4, &model, &dying, &dead_key).await;
    for _ in 0..120 {
        if remote(&client).await.iter().any(|e| e["agora"]["agentId"] == dead.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, body) = post(client.url("/v1/chat/completions"), ask("auto")).await;
    assert_eq!(status, 200, "{body}");
    let route = &body["agora_route"];
    assert_eq!(
        route["failedOver"][0]["agentId"],
        dead.as_str(),
        "the cheapest, dead, was tried first: {route}"
    );
    assert!(honest.contains(&route["agentId"].as_str().unwrap()), "{route}");
    paid_total += charged(route);

    // Payments on chain match the calls: what the client lost, the provider nodes' wallets
    // gained (the cheater was paid through p2's wallet), call by call.
    let mut now = (U256::ZERO, U256::ZERO);
    for _ in 0..120 {
        now = (balance(&net, payer).await, earned().await);
        if start_balances.0 - now.0 == paid_total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(start_balances.0 - now.0, paid_total, "the client paid exactly the calls it was answered");
    assert_eq!(now.1 - start_balances.1, paid_total, "the providers got it all");
}

/// An endpoint that counts the connections made to it and answers none.
async fn counting_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (base, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_only_sends_nothing_out() {
    let net = TestNet::start().await;
    let provider = TestNode::start_with(&net, Some(default_model()), 1, |_| {}).await;
    // A second provider whose endpoint counts every connection made to it.
    let (watched, connections) = counting_endpoint().await;
    let model = get(provider.url("/v1/models")).await["data"][0]["id"].as_str().unwrap().to_owned();
    register(&net, 4, &model, &watched, &PrivateKeySigner::random()).await;
    let client = TestNode::start_with(&net, Some(default_model()), 2, |c| {
        c.router.privacy = agora_router::Privacy::LocalOnly;
    })
    .await;
    // The agents are on chain and in the client's index, yet nothing remote is listed or used.
    for _ in 0..60 {
        let agents = get(client.url("/agents")).await;
        if agents["agents"].as_array().is_some_and(|a| a.len() >= 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(remote(&client).await.is_empty());
    let agents = get(client.url("/agents")).await;
    let watched_listed = agents["agents"].as_array().unwrap().iter().any(|a| {
        a["registration"]["services"][0]["endpoint"].as_str().is_some_and(|e| e.starts_with(&watched))
    });
    assert!(watched_listed, "the watched provider is in the client's index: {agents:#}");
    let provider_id = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["wallet"] == provider.node_address().to_checksum(None))
        .map(|a| a["agent_id"].as_str().unwrap().to_owned())
        .expect("the provider is indexed");
    let (status, body) =
        post(client.url("/v1/chat/completions"), ask(&format!("agent:{provider_id}/any"))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("local_only")), "{body}");
    let (status, body) = post(client.url("/v1/chat/completions"), ask("auto")).await;
    assert_eq!(status, 200, "auto is the local model: {body}");
    assert!(body["agora_route"].is_null());
    // Nothing was paid or reserved, and no connection reached a provider.
    let store = Store::open_in(client.data_dir()).unwrap();
    let spent = Mandate::spent(&store, "default").unwrap();
    assert_eq!(spent, 0);
    assert_eq!(connections.load(Ordering::SeqCst), 0, "a local-only node connected to a provider");
}

/// Every row of every table in the store of `dir`, as text, by table.
fn dump(dir: &std::path::Path) -> std::collections::BTreeSet<(String, String)> {
    let store = Store::open_in(dir).unwrap();
    store
        .read(|c| {
            let tables: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut rows = std::collections::BTreeSet::new();
            for table in tables {
                let mut stmt = c.prepare(&format!("SELECT * FROM \"{table}\""))?;
                let width = stmt.column_count();
                let found: Vec<String> = stmt
                    .query_map([], |r| {
                        let cells: Vec<String> = (0..width)
                            .map(|i| match r.get_ref(i) {
                                Ok(agora_store::rusqlite::types::ValueRef::Text(t)) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                                Ok(agora_store::rusqlite::types::ValueRef::Blob(b)) => alloy::hex::encode(b),
                                Ok(v) => format!("{v:?}"),
                                Err(e) => e.to_string(),
                            })
                            .collect();
                        Ok(cells.join("|"))
                    })?
                    .collect::<Result<_, _>>()?;
                rows.extend(found.into_iter().map(|row| (table.clone(), row)));
            }
            Ok(rows)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_routing_pays_with_credits_and_the_provider_records_no_address_of_the_client() {
    let net = TestNet::start().await;
    let provider = TestNode::start_with(&net, Some(default_model()), 1, |_| {}).await;
    let model = get(provider.url("/v1/models")).await["data"][0]["id"].as_str().unwrap().to_owned();
    let client = TestNode::start_with(&net, Some(default_model()), 2, |c| {
        c.router.privacy = agora_router::Privacy::Anonymous;
        c.router.recheck_percent = 0;
    })
    .await;
    net.faucet(client.node_address(), 10_000_000).await;
    let mut provider_id = None;
    for _ in 0..120 {
        provider_id = remote(&client)
            .await
            .into_iter()
            .find(|e| e["agora"]["wallet"] == provider.node_address().to_checksum(None))
            .map(|e| e["agora"]["agentId"].as_str().unwrap().to_owned());
        if provider_id.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let named = format!("agent:{}/{model}", provider_id.expect("the provider is listed"));
    // No credit held: the provider cannot be paid anonymously, and nothing is paid openly.
    let (status, body) = post(client.url("/v1/chat/completions"), ask(&named)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("providers_failed")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no credit"), "{body}");

    // One deposit into the provider's pool (from the client's node key, as `agora credits buy`).
    agora_node::ops::credits::buy(client.config(), &provider.paid_url(""), None).await.unwrap();
    // What the calls add to the provider's records must name neither of the client's addresses.
    let before = dump(provider.data_dir());
    for n in 0..2 {
        let (status, body) = post(client.url("/v1/chat/completions"), ask(&named)).await;
        assert_eq!(status, 200, "call {n}: {body}");
        assert_eq!(body["agora_route"]["scheme"], "zk-credits", "{body}");
        assert_eq!(body["agora_route"]["receiptChecked"], true);
    }
    let after = dump(provider.data_dir());
    // The discovery index copies the chain (the client's own agent registration among it, read
    // whenever its pass comes): public data, not a record of the calls.
    let index = ["registry_events", "agents", "feedback", "index_cursor"];
    let added: Vec<&(String, String)> =
        after.difference(&before).filter(|(table, _)| !index.contains(&table.as_str())).collect();
    assert!(
        added.iter().any(|(table, _)| table == "credit_tickets"),
        "the calls were paid with tickets: {added:#?}"
    );
    let text = format!("{added:?}").to_lowercase();
    let signer = net.wallet(2).address();
    for who in [client.node_address(), signer] {
        assert!(
            !text.contains(&alloy::hex::encode(who.as_slice())),
            "the provider's records name {who}: {added:#?}"
        );
    }
    // Nothing was paid openly from the node key beyond the deposit.
    let store = Store::open_in(client.data_dir()).unwrap();
    assert_eq!(Mandate::spent(&store, "default").unwrap(), 0);
}
