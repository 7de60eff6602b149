//! The OpenAI-compatible API in process, on the real default model.

use agora_receipts::ReceiptEnvelope;
use agora_testkit::{TestNet, TestNode, default_model};
use serde_json::{Value, json};

async fn post(url: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

fn question(extra: Value) -> Value {
    let mut body = json!({
        "model": "SmolLM2-135M-Instruct.Q4_1",
        "messages": [{"role": "user", "content": "Explain in one sentence what an ERC-20 approval is."}],
        "temperature": 0,
        "max_tokens": 48,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn completion_carries_a_receipt_that_verifies_and_reexecutes() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let (status, headers, body) = post(&node.url("/v1/chat/completions"), question(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.starts_with("An ERC-20 approval is"), "{text}");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 44);
    assert!(headers.contains_key("x-agora-receipt"));

    let envelope = ReceiptEnvelope::from_json(&body.to_string()).unwrap();
    let (_, version) = {
        let r = reqwest::get(node.url("/version")).await.unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    let signer = envelope.verify().unwrap();
    assert_eq!(
        signer,
        version["nodeAddress"].as_str().unwrap().parse::<alloy::primitives::Address>().unwrap()
    );
    assert_eq!(envelope.output.text, text);

    // A different engine instance (1 thread) re-executes it to the same tokens.
    let engine = agora_infer::Engine::load(
        &default_model(),
        &agora_infer::EngineOptions { threads: 1, ..Default::default() },
    )
    .unwrap();
    let again = agora_receipts::reexecute(&envelope, &engine).unwrap();
    assert!(again.matches(), "diverged at {:?}", again.first_divergence);

    // A receipt whose output was swapped no longer verifies.
    let mut forged = envelope.clone();
    forged.output.text = "something else".into();
    assert!(forged.verify().is_err());
}

#[tokio::test]
async fn streaming_sends_chunks_usage_and_done() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let body = question(json!({"stream": true, "stream_options": {"include_usage": true}, "max_tokens": 8}));
    let response =
        reqwest::Client::new().post(node.url("/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).collect();
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect::<Vec<_>>()
        .concat();
    assert!(content.starts_with("An ERC-20"), "{content}");
    let finish = chunks.iter().find(|c| !c["choices"][0]["finish_reason"].is_null()).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert!(ReceiptEnvelope::from_json(&finish.to_string()).unwrap().verify().is_ok());
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 8);
}

#[tokio::test]
async fn bad_requests_get_openai_errors_and_the_server_keeps_serving() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let url = node.url("/v1/chat/completions");
    let client = reqwest::Client::new();

    let response =
        client.post(&url).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let err: Value = response.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");

    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "invalid UTF-8");

    let cases = [
        (question(json!({"model": "gpt-9"})), 404, "model_not_found"),
        (question(json!({"temperature": 2.5})), 400, ""),
        (question(json!({"max_tokens": 0})), 400, ""),
        (question(json!({"max_tokens": 1_000_000_000_000u64})), 400, ""),
        (question(json!({"messages": []})), 400, ""),
        (question(json!({"messages": [{"role": "wizard", "content": "x"}]})), 400, ""),
        (
            question(json!({"messages": [{"role": "user", "content": "word ".repeat(9000)}]})),
            400,
            "context_length_exceeded",
        ),
    ];
    for (body, status, code) in cases {
        let (got, _, err) = post(&url, body.clone()).await;
        assert_eq!(got, status, "{body} -> {err}");
        if !code.is_empty() {
            assert_eq!(err["error"]["code"], code, "{err}");
        }
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Still serving.
    let (status, _, _) = post(&url, question(json!({"max_tokens": 2}))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_full_queue_answers_429_and_a_client_that_leaves_frees_the_worker() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await; // batch 4, queue 4
    let url = node.url("/v1/chat/completions");
    let long = question(json!({"max_tokens": 4000, "temperature": 1.0, "seed": 1, "stop": ["\u{0}"]}));

    // Streams that will run for a long time: four run together, four wait, the ninth is refused.
    let client = reqwest::Client::new();
    let mut running = Vec::new();
    for _ in 0..8 {
        let body = json!({"stream": true}).as_object().unwrap().iter().fold(long.clone(), |mut b, (k, v)| {
            b[k] = v.clone();
            b
        });
        // A worker takes a generation from the queue a moment after it is queued: until the
        // first four are taken, the queue may still be full.
        let started = std::time::Instant::now();
        let response = loop {
            let response = client.post(&url).json(&body).send().await.unwrap();
            if response.status() != 429 || started.elapsed().as_secs() >= 10 {
                break response;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(response.status(), 200);
        running.push(response);
    }
    let (status, _, err) = post(&url, question(json!({}))).await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "queue_full");

    // Every client goes away: their generations stop, and the node answers again.
    drop(running);
    let started = std::time::Instant::now();
    loop {
        let (status, _, _) = post(&url, question(json!({"max_tokens": 2}))).await;
        if status == 200 {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "the worker never came free");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Several models: `[inference] models` are listed by `/v1/models`, loaded when a request first
/// names one, and kept within the memory budget by unloading the least recently used; an
/// unknown name is a 404 and a model that cannot fit is a 503 that says why.
#[tokio::test]
async fn more_models_load_on_first_use_within_the_memory_budget() {
    let files = tempfile::tempdir().unwrap();
    let model = default_model();
    let link = |name: &str| {
        let path = files.path().join(format!("{name}.gguf"));
        std::fs::hard_link(&model, &path).or_else(|_| std::fs::copy(&model, &path).map(|_| ())).unwrap();
        path
    };
    let (alpha, beta) = (link("alpha"), link("beta"));
    let size = std::fs::metadata(&model).unwrap().len();
    let net = TestNet::start().await;
    // Room for the default model and one more (each counts 1.5x its file), not two more.
    let node = TestNode::start_with(&net, Some(model.clone()), 0, |c| {
        c.inference.models = vec![alpha, beta];
        c.inference.memory_budget = size * 3 + size / 4;
    })
    .await;
    let loaded = || async {
        let list: Value = reqwest::get(node.url("/v1/models")).await.unwrap().json().await.unwrap();
        let ids: Vec<String> =
            list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, ["SmolLM2-135M-Instruct.Q4_1", "alpha", "beta"]);
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["agora"]["loaded"].as_bool().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(loaded().await, [true, false, false]);

    let url = node.url("/v1/chat/completions");
    let (_, _, reference) = post(&url, question(json!({}))).await;
    let (status, _, alpha) = post(&url, question(json!({"model": "alpha"}))).await;
    assert_eq!(status, 200, "{alpha}");
    assert_eq!(alpha["model"], "alpha");
    assert_eq!(
        alpha["choices"][0]["message"], reference["choices"][0]["message"],
        "same weights, same answer"
    );
    assert_eq!(loaded().await, [true, true, false]);

    let (status, _, beta) = post(&url, question(json!({"model": "beta", "max_tokens": 4}))).await;
    assert_eq!(status, 200, "{beta}");
    assert_eq!(loaded().await, [true, false, true], "alpha made room for beta");

    let (status, _, err) = post(&url, question(json!({"model": "gamma"}))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("model_not_found")), "{err}");
    node.stop().await.unwrap();

    // A budget with no room beside the default model.
    let node = TestNode::start_with(&net, Some(model.clone()), 0, |c| {
        c.inference.models = vec![files.path().join("alpha.gguf")];
        c.inference.memory_budget = size * 2;
    })
    .await;
    let (status, _, err) = post(&node.url("/v1/chat/completions"), question(json!({"model": "alpha"}))).await;
    assert_eq!(status, 503, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("memory_budget_mib"), "{err}");
}
