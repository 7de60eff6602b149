//! Every error in the API's JSON shape, and the x402 facilitator in x402's own shapes.

use agora_testkit::{TestNet, TestNode};
use serde_json::{Value, json};

/// `{"error":{"message","type","param","code"}}` with a JSON content type.
async fn api_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{status} as {content_type}");
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(error.get("param").is_some() && error.get("code").is_some(), "{body}");
    body
}

#[tokio::test]
async fn errors_take_the_apis_json_shape() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let client = reqwest::Client::new();

    // Over 2 MiB: refused before parsing, in JSON (axum alone answers text/plain).
    let big = json!({"model": "default", "messages": [{"role": "user", "content": "a".repeat(3 << 20)}]});
    let response = client.post(node.url("/v1/chat/completions")).json(&big).send().await.unwrap();
    let body = api_error(response, 413).await;
    assert_eq!(body["error"]["code"], "request_too_large");
    // The same on the paid listener.
    let response = client.post(node.paid_url("/v1/chat/completions")).json(&big).send().await.unwrap();
    api_error(response, 413).await;

    // A known route, another method (axum alone answers with an empty body).
    let response = client.get(node.url("/v1/chat/completions")).send().await.unwrap();
    let body = api_error(response, 405).await;
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let response = client.delete(node.url("/health")).send().await.unwrap();
    api_error(response, 405).await;
    let response = client.get(node.paid_url("/v1/chat/completions")).send().await.unwrap();
    api_error(response, 405).await;

    // Unknown routes, on both listeners.
    let response = client.get(node.url("/nope")).send().await.unwrap();
    api_error(response, 404).await;
    let response = client.post(node.paid_url("/nope")).json(&json!({})).send().await.unwrap();
    api_error(response, 404).await;

    // A query axum cannot parse (its rejection is plain text).
    let response = client.get(node.url("/agents?active=maybe")).send().await.unwrap();
    let body = api_error(response, 400).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("active"), "{body}");
}

/// The facilitator answers a body it cannot parse as x402 facilitators do, so x402 clients and
/// conformance tools read a refusal rather than an unknown error shape.
#[tokio::test]
async fn the_facilitator_answers_unparsable_bodies_in_x402_shapes() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: &'static str| {
        client.post(node.url(path)).header("content-type", "application/json").body(body).send()
    };
    for body in ["not json", "{}", r#"{"paymentPayload": 7}"#] {
        let response = post("/x402/verify", body).await.unwrap();
        assert_eq!(response.status(), 400);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["isValid"], false, "{answer}");
        assert_eq!(answer["invalidReason"], "invalid_payload", "{answer}");
        assert!(answer.get("error").is_none(), "not an OpenAI error: {answer}");

        let response = post("/x402/settle", body).await.unwrap();
        assert_eq!(response.status(), 400);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["success"], false, "{answer}");
        assert_eq!(answer["errorReason"], "invalid_payload", "{answer}");
        assert_eq!(answer["transaction"], "", "{answer}");
        assert_eq!(answer["network"], "eip155:31337", "{answer}");
        assert!(answer.get("error").is_none(), "not an OpenAI error: {answer}");
    }
}
