//! A2A 1.0 (HTTP+JSON) on the public paid listener: the official `a2a-sdk` Python client sends,
//! polls, cancels and streams, paying with the official x402 Python client; an unpaid message
//! gets x402's 402, a malformed one an A2A error; a finished task outlives the node.

use agora_contracts::bindings::DevStablecoin;
use agora_pay::wire;
use agora_receipts::ReceiptEnvelope;
use agora_testkit::{TestNet, TestNode, default_model};
use alloy::primitives::{Address, U256};
use serde_json::{Value, json};
use std::path::PathBuf;

async fn balance(net: &TestNet, who: Address) -> U256 {
    DevStablecoin::new(net.stablecoin_address(), net.deployer().provider())
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

fn message(text: &str) -> Value {
    json!({
        "message": { "messageId": "m-1", "role": "ROLE_USER", "parts": [{ "text": text }] },
        "metadata": { "maxTokens": 8, "temperature": 0 },
    })
}

/// An A2A error: the binding's media type, a `google.rpc.Status` with an `ErrorInfo` naming
/// `reason`.
async fn a2a_error(response: reqwest::Response, status: u16, reason: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/a2a+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], status, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let info = &body["error"]["details"][0];
    assert_eq!(info["@type"], "type.googleapis.com/google.rpc.ErrorInfo", "{body}");
    assert_eq!(info["reason"], reason, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_a2a_client_sends_polls_cancels_and_streams_paying_with_x402() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let pylib = root.join(".tools/pylib");
    assert!(pylib.join("a2a").is_dir() && pylib.join("x402").is_dir(), "run `make setup` first");
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let before = balance(&net, node.node_address()).await;

    // The card names the binding on the paid listener.
    let card: Value =
        reqwest::get(node.url("/.well-known/agent-card.json")).await.unwrap().json().await.unwrap();
    assert_eq!(
        card["supportedInterfaces"],
        json!([{ "url": node.paid_url("/v1"), "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0" }])
    );
    assert_eq!(card["capabilities"]["streaming"], true);

    let payer = net.wallet(2);
    let out = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/a2a_client.py"))
        .arg(node.url(""))
        .arg(alloy::hex::encode_prefixed(payer.to_bytes()))
        .arg(net.stablecoin_address().to_checksum(None))
        .env("PYTHONPATH", &pylib)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();

    // A blocking send answers with the completed task: the model's text as its artifact, the
    // payment and the signed receipt in its metadata.
    let send = &got["send"];
    assert_eq!(send["state"], "TASK_STATE_COMPLETED", "{got}");
    let answer = send["text"].as_str().unwrap();
    assert!(!answer.is_empty(), "{got}");
    let agora = &send["metadata"]["agora"];
    assert_eq!(agora["payment"]["success"], true, "{got}");
    assert!(agora["payment"]["transaction"].as_str().unwrap().starts_with("0x"), "{got}");
    assert!(agora["receipt"]["signature"]["r"].is_string(), "{got}");
    assert_eq!(got["get"], json!({ "state": "TASK_STATE_COMPLETED", "text": answer }), "read back");
    assert_eq!(got["cancel_finished"], "TaskNotCancelableError");
    assert_eq!(got["get_unknown"], "TaskNotFoundError");

    // Returned at once, then followed to completion with get_task: the same (greedy) answer.
    let poll = &got["poll"];
    let states: Vec<&str> = poll["states"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(matches!(states[0], "TASK_STATE_SUBMITTED" | "TASK_STATE_WORKING"), "{got}");
    assert_eq!(states.last(), Some(&"TASK_STATE_COMPLETED"), "{got}");
    assert_eq!(poll["text"], answer, "{got}");
    assert_eq!(poll["metadata"]["agora"]["payment"]["success"], true, "settled in the background: {got}");

    // A long answer canceled while it is written.
    assert_eq!(got["cancel"]["state"], "TASK_STATE_CANCELED", "{got}");

    // Streamed: the task first, then updates as the model writes, ending completed.
    let stream = &got["stream"];
    let kinds: Vec<&str> = stream["kinds"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(kinds[0], "task", "{got}");
    assert!(kinds.contains(&"artifact_update") && kinds.contains(&"status_update"), "{got}");
    assert_eq!(stream["states"][0], "TASK_STATE_SUBMITTED", "{got}");
    assert_eq!(stream["states"].as_array().unwrap().last().unwrap(), "TASK_STATE_COMPLETED", "{got}");
    assert_eq!(stream["text"], answer, "the streamed text is the answer: {got}");
    assert_eq!(stream["last_chunk"], true, "{got}");

    // Four messages paid on chain (exact), one per message.
    assert!(balance(&net, node.node_address()).await > before);

    // A finished task outlives the node: the paid listener's routes over the same store, after
    // the node stopped, still answer it.
    let task_id = send["task_id"].as_str().unwrap().to_owned();
    let node_address = node.node_address();
    let dir = node.stop().await.unwrap();
    let store = std::sync::Arc::new(agora_store::Store::open_in(dir.path()).unwrap());
    let app = agora_node::api::paid_app(agora_node::api::AppState::new(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/v1/tasks/{task_id}?historyLength=0"))
        .header("A2A-Version", "1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let task: Value = response.json().await.unwrap();
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(task["artifacts"][0]["parts"][0]["text"], answer, "{task}");
    assert!(task.get("history").is_none(), "historyLength=0: {task}");
    // The receipt, as stored (the Python client reads numbers as doubles), verifies.
    let receipt = ReceiptEnvelope::from_json(&task["metadata"]["agora"]["receipt"].to_string()).unwrap();
    assert_eq!(receipt.verify().unwrap(), node_address);
    assert_eq!(receipt.payment.unwrap().payer, payer.address());
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_and_malformed_a2a_messages_are_refused_clearly() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let client = reqwest::Client::new();
    let post = |path: &str, content_type: &str, body: String| {
        client
            .post(node.paid_url(path))
            .header("content-type", content_type)
            .header("A2A-Version", "1.0")
            .body(body)
            .send()
    };

    // Unpaid: x402's 402, priced like the chat completion the message amounts to.
    for (path, content_type) in
        [("/v1/message:send", "application/json"), ("/v1/message:stream", "application/a2a+json")]
    {
        let response = post(path, content_type, message("Say hello in one word.").to_string()).await.unwrap();
        assert_eq!(response.status(), 402, "{path}");
        let required: wire::PaymentRequired =
            wire::decode_header(response.headers()["payment-required"].to_str().unwrap()).unwrap();
        assert!(required.resource.url.ends_with(path), "{}", required.resource.url);
        let exact = required.accepts.iter().find(|r| r.scheme == wire::SCHEME_EXACT).unwrap();
        let amount: u128 = exact.amount.parse().unwrap();
        assert!(amount > 10 * 8 && amount < 20_000, "the prompt and 8 tokens at 10 each: {amount}");
    }

    // Malformed: an A2A error naming what is wrong, never a 500.
    let body = a2a_error(
        post("/v1/message:send", "application/json", "not json".into()).await.unwrap(),
        400,
        "INVALID_REQUEST",
    )
    .await;
    assert!(body["error"]["message"].as_str().unwrap().contains("not JSON"), "{body}");
    a2a_error(
        post("/v1/message:send", "application/json", json!({"message": 7}).to_string()).await.unwrap(),
        400,
        "INVALID_REQUEST",
    )
    .await;
    a2a_error(
        post("/v1/message:send", "application/json", "{}".into()).await.unwrap(),
        400,
        "INVALID_PARAMS",
    )
    .await;
    let raw = json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"raw": "AAAA"}]}});
    a2a_error(
        post("/v1/message:stream", "application/json", raw.to_string()).await.unwrap(),
        400,
        "CONTENT_TYPE_NOT_SUPPORTED",
    )
    .await;
    let mut bad_sampling = message("hi");
    bad_sampling["metadata"]["maxTokens"] = json!("many");
    a2a_error(
        post("/v1/message:send", "application/json", bad_sampling.to_string()).await.unwrap(),
        400,
        "INVALID_PARAMS",
    )
    .await;
    let mut agent = message("hi");
    agent["message"]["role"] = json!("ROLE_AGENT");
    a2a_error(
        post("/v1/message:send", "application/json", agent.to_string()).await.unwrap(),
        400,
        "INVALID_PARAMS",
    )
    .await;
    let mut follow_up = message("hi");
    follow_up["message"]["taskId"] = json!("no-such-task");
    a2a_error(
        post("/v1/message:send", "application/json", follow_up.to_string()).await.unwrap(),
        404,
        "TASK_NOT_FOUND",
    )
    .await;

    // Without `A2A-Version` a request is A2A 0.3's.
    let response = client.post(node.paid_url("/v1/message:send")).json(&message("hi")).send().await.unwrap();
    a2a_error(response, 400, "VERSION_NOT_SUPPORTED").await;

    // Task routes.
    let get = |path: &str| client.get(node.paid_url(path)).header("A2A-Version", "1.0").send();
    a2a_error(get("/v1/tasks/nope").await.unwrap(), 404, "TASK_NOT_FOUND").await;
    a2a_error(get("/v1/tasks/nope?historyLength=-1").await.unwrap(), 400, "INVALID_PARAMS").await;
    a2a_error(get("/v1/tasks").await.unwrap(), 400, "UNSUPPORTED_OPERATION").await;
    let cancel = client.post(node.paid_url("/v1/tasks/nope:cancel")).header("A2A-Version", "1.0").send();
    a2a_error(cancel.await.unwrap(), 404, "TASK_NOT_FOUND").await;
    a2a_error(
        get("/v1/tasks/nope/pushNotificationConfigs").await.unwrap(),
        400,
        "PUSH_NOTIFICATION_NOT_SUPPORTED",
    )
    .await;
}
