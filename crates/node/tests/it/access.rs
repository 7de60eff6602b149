//! Who may use the owner's API: web pages may not drive it (cross-site requests, DNS
//! rebinding), and it listens beyond loopback only behind a bearer token.

use agora_testkit::{TestNet, TestNode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const TOKEN: &str = "test-token-0123456789abcdef";

/// Sends `head` (request line and headers, without the blank line) and `body` over a fresh
/// connection; returns the status and the JSON body.
async fn raw(addr: SocketAddr, head: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn chat() -> String {
    json!({"model": "default", "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

fn settle() -> String {
    json!({"x402Version": 2, "paymentPayload": {}, "paymentRequirements": {}}).to_string()
}

fn assert_refused(status: u16, body: &Value, want: u16, mentions: &str) {
    assert_eq!(status, want, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(mentions), "the error says why ({mentions}): {body}");
    assert!(body["error"]["type"].is_string(), "the API's error shape: {body}");
}

/// A page on another site can POST `text/plain` without a CORS preflight: such requests never
/// reach a generation or the facilitator.
#[tokio::test]
async fn cross_site_text_plain_posts_are_refused() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let addr = node.api_addr();
    for (path, body) in [("/v1/chat/completions", chat()), ("/x402/settle", settle())] {
        // As a browser sends it: with the page's origin.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://evil.example\r\nContent-Type: text/plain"
        );
        let (status, answer) = raw(addr, &head, &body).await;
        assert_refused(status, &answer, 403, "evil.example");
        // Even with no Origin at all, a text/plain body is not taken as JSON.
        let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8");
        let (status, answer) = raw(addr, &head, &body).await;
        assert_refused(status, &answer, 415, "application/json");
        let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}");
        let (status, answer) = raw(addr, &head, &body).await;
        assert_refused(status, &answer, 415, "application/json");
    }
    // JSON with a charset is JSON: the facilitator answers (it refuses the empty payment).
    let head = format!(
        "POST /x402/settle HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8"
    );
    let (status, answer) = raw(addr, &head, &settle()).await;
    assert_ne!(status, 415, "{answer}");
    assert_eq!(answer["success"], false, "{answer}");
    // A POST without a body carries no JSON to check; it reaches the route.
    let (status, answer) = raw(addr, &format!("POST /x402/verify HTTP/1.1\r\nHost: {addr}"), "").await;
    assert_eq!((status, &answer["isValid"]), (400, &json!(false)), "{answer}");
    // The public paid listener takes JSON only, too.
    let paid: SocketAddr = node.paid_url("").trim_start_matches("http://").parse().unwrap();
    let head = format!("POST /v1/chat/completions HTTP/1.1\r\nHost: {paid}\r\nContent-Type: text/plain");
    let (status, answer) = raw(paid, &head, &chat()).await;
    assert_refused(status, &answer, 415, "application/json");
}

/// DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends its Host.
#[tokio::test]
async fn foreign_host_names_are_refused_loopback_ones_accepted() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let addr = node.api_addr();
    let port = addr.port();
    for host in ["attacker.example", &format!("attacker.example:{port}"), "127.0.0.1.nip.io", "0.0.0.0"] {
        let (status, answer) = raw(addr, &format!("GET /deployments HTTP/1.1\r\nHost: {host}"), "").await;
        assert_refused(status, &answer, 403, "Host");
    }
    for host in
        [format!("127.0.0.1:{port}"), format!("localhost:{port}"), "LOCALHOST".into(), "[::1]:1".into()]
    {
        let (status, answer) = raw(addr, &format!("GET /deployments HTTP/1.1\r\nHost: {host}"), "").await;
        assert_eq!(status, 200, "Host {host}: {answer}");
    }
    // The public paid listener is meant for strangers: any Host reaches it.
    let paid: SocketAddr = node.paid_url("").trim_start_matches("http://").parse().unwrap();
    let (status, _) = raw(paid, "GET /nope HTTP/1.1\r\nHost: node.example", "").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn foreign_origins_are_refused_the_apis_own_accepted() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let addr = node.api_addr();
    let port = addr.port();
    for origin in ["https://evil.example", "null", &format!("http://localhost:{port}"), "http://127.0.0.1:1"]
    {
        let head = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}");
        let (status, answer) = raw(addr, &head, "").await;
        assert_refused(status, &answer, 403, "Origin");
    }
    let head = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}");
    let (status, answer) = raw(addr, &head, "").await;
    assert_eq!(status, 200, "same origin: {answer}");
    let head = format!(
        "POST /x402/verify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nContent-Type: application/json"
    );
    let (status, answer) = raw(addr, &head, &settle()).await;
    assert!(answer.get("isValid").is_some(), "same-origin POST reaches the facilitator: {status} {answer}");
}

/// Origins the owner allows besides the API's own.
#[tokio::test]
async fn configured_origins_are_allowed() {
    let net = TestNet::start().await;
    let node = TestNode::start_with(&net, None, 0, |config| {
        config.api.allowed_origins = vec!["https://wallet.example".into()];
    })
    .await;
    let addr = node.api_addr();
    let head = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://wallet.example");
    assert_eq!(raw(addr, &head, "").await.0, 200);
    let head = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://other.example");
    assert_eq!(raw(addr, &head, "").await.0, 403);
}

#[tokio::test]
async fn a_non_loopback_listen_address_needs_a_token() {
    let net = TestNet::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = agora_node::NodeConfig {
        data_dir: dir.path().to_path_buf(),
        api_listen: "0.0.0.0:0".parse().unwrap(),
        api: Default::default(),
        chain: agora_node::ChainTarget::Rpc { url: net.rpc_url() },
        signer: None,
        config_file: None,
        inference: super::no_inference(),
        agent: agora_node::AgentConfig {
            register: false,
            name: "n".into(),
            description: "d".into(),
            public_url: None,
        },
        payments: super::no_payments(),
        guard: Default::default(),
        jobs: Default::default(),
        markets: Default::default(),
        router: Default::default(),
    };
    let err = agora_node::Node::start(config).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, agora_node::NodeError::Config(_)), "{err:?}");
    assert!(text.contains("not a loopback address"), "{text}");
    assert!(text.contains("--api-token") && text.contains("AGORA_API_TOKEN"), "says how: {text}");

    // With a token it starts, and every request needs the token; then any Host will do.
    let node = TestNode::start_with(&net, None, 0, |config| {
        config.api_listen = "0.0.0.0:0".parse().unwrap();
        config.api.token = Some(agora_node::ApiToken::new(TOKEN));
    })
    .await;
    let addr = SocketAddr::from(([127, 0, 0, 1], node.api_addr().port()));
    let (status, answer) = raw(addr, "GET /health HTTP/1.1\r\nHost: 127.0.0.1", "").await;
    assert_refused(status, &answer, 401, "Authorization: Bearer");
    let wrong = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}x");
    assert_eq!(raw(addr, &wrong, "").await.0, 401);
    let basic = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic dXNlcjpwYXNz";
    assert_eq!(raw(addr, basic, "").await.0, 401);
    let good = format!("GET /health HTTP/1.1\r\nHost: node.example:8402\r\nAuthorization: Bearer {TOKEN}");
    let (status, answer) = raw(addr, &good, "").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "ok");
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{addr}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "default", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 401);
    let response = client.get(format!("http://{addr}/version")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}
