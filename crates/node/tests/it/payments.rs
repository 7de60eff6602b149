//! Paid inference on the public listener, on the real model: the official x402 client pays the
//! `exact` route; a payer pays over a channel; receipts name the payment; the public listener
//! exposes nothing of the owner's API.

use agora_contracts::bindings::DevStablecoin;
use agora_pay::{Mandate, Payer, PayerConfig, Prefer};
use agora_receipts::ReceiptEnvelope;
use agora_store::Store;
use agora_testkit::{TestNet, TestNode, default_model};
use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use serde_json::{Value, json};
use std::{path::PathBuf, sync::Arc};

fn question() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "default",
        "messages": [{"role": "user", "content": "Say hello in one word."}],
        "max_tokens": 8,
        "temperature": 0,
    }))
    .unwrap()
}

/// A payer with a fresh key, 1 dUSD and no ETH, that pays `node` over a channel under a mandate.
async fn channel_payer(net: &TestNet, node: &TestNode) -> (Payer, PrivateKeySigner, tempfile::TempDir) {
    let key = PrivateKeySigner::random();
    // (Not the deployer: the node signs with that account too.)
    let minter = net.client_for(3).await;
    DevStablecoin::new(net.stablecoin_address(), minter.provider())
        .faucet(key.address(), U256::from(1_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    Mandate {
        name: "m".into(),
        budget: 500_000,
        per_call: 20_000,
        payees: vec![node.node_address()],
        expires_at: 0,
    }
    .save(&store)
    .unwrap();
    let config = PayerConfig {
        mandate: "m".into(),
        prefer: Prefer::Channel,
        channel_deposit: 100_000,
        expected_calls: 1,
    };
    (Payer::new(key.clone(), store, config), key, dir)
}

async fn balance(net: &TestNet, who: Address) -> U256 {
    DevStablecoin::new(net.stablecoin_address(), net.deployer().provider())
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_x402_client_pays_the_exact_route() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let modules = root.join(".tools/npm/node_modules");
    assert!(modules.join("@x402/fetch").is_dir(), "run `make setup` first");
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let payer = net.wallet(2);
    let before = balance(&net, node.node_address()).await;

    let url = node.paid_url("/v1/chat/completions");
    let key = alloy::hex::encode_prefixed(payer.to_bytes());
    let asset = net.stablecoin_address().to_checksum(None);
    let out = tokio::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/x402_client.js"))
        .args([&url, &key, &asset])
        .env("NODE_PATH", &modules)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["status"], 200, "{got}");
    let settlement = &got["paymentResponse"];
    assert_eq!(settlement["success"], true, "{got}");
    assert!(settlement["transaction"].as_str().unwrap().starts_with("0x"), "{got}");
    assert!(!got["body"]["choices"][0]["message"]["content"].as_str().unwrap().is_empty());

    // Paid on chain, the exact amount the 402 asked for; the receipt names the authorization.
    let amount: u64 = settlement["amount"].as_str().unwrap().parse().unwrap();
    assert!(amount > 0);
    assert_eq!(balance(&net, node.node_address()).await, before + U256::from(amount));
    let envelope = ReceiptEnvelope::from_json(&got["body"].to_string()).unwrap();
    envelope.verify().unwrap();
    let payment = envelope.payment.as_ref().expect("the receipt names the payment");
    assert_eq!(payment.scheme, "exact");
    assert_eq!(payment.payer, payer.address());
    assert_eq!(payment.amount, amount.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_paid_inference_names_the_payment_and_the_public_listener_is_closed() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let url = node.paid_url("/v1/chat/completions");

    // Only priced routes on the public listener.
    for path in ["/health", "/agents", "/deployments", "/x402/supported"] {
        let status = reqwest::get(node.paid_url(path)).await.unwrap().status().as_u16();
        assert_eq!(status, 404, "{path} on the paid listener");
    }
    // ...and, free, the price list routers read: what is sold and for how much, not where the
    // model file lies.
    let models: Value = reqwest::get(node.paid_url("/v1/models")).await.unwrap().json().await.unwrap();
    let sold = &models["data"][0]["agora"];
    assert_eq!(sold["price"]["per_token"], "10", "{models}");
    assert!(sold["sha256"].is_string() && sold.get("path").is_none(), "{models}");
    // The owner's API stays free, and offers the facilitator.
    let owner = reqwest::Client::new()
        .post(node.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(question())
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status().as_u16(), 200);
    let supported: Value = reqwest::get(node.url("/x402/supported")).await.unwrap().json().await.unwrap();
    assert_eq!(supported["kinds"][0]["scheme"], "exact");
    assert_eq!(supported["signers"]["eip155:*"][0], node.node_address().to_checksum(None));

    // A payer with dollars and no ETH opens a channel with its first call.
    let (payer, key, _dir) = channel_payer(&net, &node).await;
    let mut cumulative = 0u128;
    for _ in 0..3 {
        let response = payer.send(reqwest::Method::POST, &url, Some(question())).await.unwrap();
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        let settlement = response.settlement.unwrap();
        let extra = settlement.extra.unwrap();
        // A voucher answer carries what it charged in `extra` (`amount` is empty, as the
        // official server writes it).
        assert_eq!(settlement.amount.as_deref(), Some(""));
        let amount: u128 = extra["chargedAmount"].as_str().unwrap().parse().unwrap();
        let usage = &body["usage"];
        assert_eq!(amount, 10 * u128::from(usage["total_tokens"].as_u64().unwrap()), "charged per token");
        cumulative += amount;
        let envelope = ReceiptEnvelope::from_json(&body.to_string()).unwrap();
        envelope.verify().unwrap();
        let payment = envelope.payment.unwrap();
        assert_eq!((payment.scheme.as_str(), payment.payer), ("batch-settlement", key.address()));
        assert_eq!(
            payment.cumulative,
            Some(cumulative.to_string()),
            "the receipt names the cumulative charge"
        );
        assert_eq!(extra["channelState"]["chargedCumulativeAmount"], cumulative.to_string());
    }

    // A paid stream is charged before its last chunk, which carries the settlement.
    let mut streamed: Value = serde_json::from_slice(&question()).unwrap();
    streamed["stream"] = json!(true);
    let response =
        payer.send(reqwest::Method::POST, &url, Some(serde_json::to_vec(&streamed).unwrap())).await.unwrap();
    assert_eq!(response.status, 200);
    let text = String::from_utf8_lossy(&response.body);
    assert!(text.contains("agora_payment") && text.contains("data: [DONE]"), "{text}");
    let streamed_amount: u128 =
        response.settlement.unwrap().extra.unwrap()["chargedAmount"].as_str().unwrap().parse().unwrap();
    assert!(streamed_amount > 0);
    assert_eq!(payer.channels().unwrap()[0].charged, cumulative + streamed_amount);
}

/// A paid stream the client cuts after a few chunks is charged for the text it delivered (not
/// nothing, not the whole ceiling), durably, and its voucher cannot be used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_stream_cut_halfway_is_charged_for_what_it_delivered() {
    use agora_pay::{typed, wire};
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let url = node.paid_url("/v1/chat/completions");
    let (payer, key, _dir) = channel_payer(&net, &node).await;
    // The first call opens the channel.
    assert_eq!(payer.send(reqwest::Method::POST, &url, Some(question())).await.unwrap().status, 200);
    let channel = payer.channels().unwrap()[0].clone();
    let before = channel.charged;

    // A long answer, streamed; the voucher covers this request's ceiling.
    let messages = json!([{"role": "user", "content": "Count from 1 to 200, separated by commas."}]);
    let long = serde_json::to_vec(
        &json!({"model": "default", "messages": messages, "max_tokens": 120, "temperature": 0, "stream": true}),
    )
    .unwrap();
    let client = reqwest::Client::new();
    let post = |header: Option<String>| {
        let mut request = client.post(&url).header("content-type", "application/json").body(long.clone());
        if let Some(header) = header {
            request = request.header("payment-signature", header);
        }
        request.send()
    };
    let refusal = post(None).await.unwrap();
    assert_eq!(refusal.status(), 402);
    let required: wire::PaymentRequired =
        wire::decode_header(refusal.headers()["payment-required"].to_str().unwrap()).unwrap();
    let offer = required.accepts.iter().find(|r| r.scheme == wire::SCHEME_BATCH).unwrap().clone();
    let ceiling: u128 = offer.amount.parse().unwrap();
    let max = before + ceiling;
    let signature = typed::sign_voucher(&key, &typed::batch_domain(31337), channel.id, max).unwrap();
    let header = wire::encode_header(&wire::PaymentPayload {
        x402_version: 2,
        resource: None,
        accepted: offer.clone(),
        payload: serde_json::to_value(typed::BatchPayload {
            kind: typed::BatchKind::Voucher,
            channel_config: channel.config,
            voucher: typed::VoucherJson {
                channel_id: channel.id,
                max_claimable_amount: max.to_string(),
                signature: signature.as_bytes().into(),
            },
            deposit: None,
            amount: None,
        })
        .unwrap(),
        extensions: None,
    });
    let mut stream = post(Some(header.clone())).await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut received = String::new();
    // The first chunk names the role (empty content); five more carry text.
    while received.matches("\"content\":").count() < 6 {
        let chunk = stream.chunk().await.unwrap().expect("the stream ended before six chunks");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!received.contains("[DONE]"), "cut before the end");
    drop(stream);

    // The charge lands in the background; the corrective 402 for the same voucher shows it.
    let prompt_tokens = {
        let free = json!({"model": "default", "messages": messages, "max_tokens": 1, "temperature": 0});
        let answer: Value = client
            .post(node.url("/v1/chat/completions"))
            .json(&free)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        u128::from(answer["usage"]["prompt_tokens"].as_u64().unwrap())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let charged = loop {
        let replay = post(Some(header.clone())).await.unwrap();
        assert_eq!(replay.status(), 402, "the voucher of a cut stream is not accepted again");
        let body: Value = replay.json().await.unwrap();
        let state =
            body["accepts"].as_array().unwrap().iter().find_map(|r| r["extra"].get("channelState")).cloned();
        let charged: u128 =
            state.map_or(before, |s| s["chargedCumulativeAmount"].as_str().unwrap().parse().unwrap());
        if charged > before {
            break charged - before;
        }
        assert!(std::time::Instant::now() < deadline, "the cut stream was never charged: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(charged >= 10 * (prompt_tokens + 5), "at least the five text chunks read: {charged}");
    assert!(charged < ceiling, "not the whole answer: {charged} of {ceiling}");
}
