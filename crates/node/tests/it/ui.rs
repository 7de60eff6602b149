//! The web app's routes: the page and its policy, the session token and the owner's origin on
//! every state-changing route (a foreign `Origin` or `Host` changes nothing, even with the
//! token), the proxy's questions answered through the page, mandates checked field by field,
//! and a clear message where a part of the node is off.

use agora_testkit::{TestNet, TestNode};
use serde_json::{Value, json};
use std::net::SocketAddr;

async fn send(addr: SocketAddr, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = match body {
        Some(b) => client.post(format!("http://{addr}{path}")).json(b),
        None => client.get(format!("http://{addr}{path}")),
    };
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn page(addr: SocketAddr) -> (reqwest::header::HeaderMap, String) {
    let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

fn session_of(html: &str) -> String {
    let at = html.find("name=\"agora-session\" content=\"").expect("the page carries its session") + 30;
    html[at..at + 64].to_owned()
}

/// The page's poll of the guard's queue (with its session, which makes it count as open).
async fn pending(addr: SocketAddr, session: &str) -> Vec<Value> {
    send(addr, "/ui/api/guard/pending", None, &[("x-agora-session", session)]).await.1["pending"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_with_a_strict_policy() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let (headers, html) = page(node.api_addr()).await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(session_of(&html).len(), 64);
    // Nothing is loaded from anywhere else.
    for path in ["/", "/ui/app.js", "/ui/app.css"] {
        let text =
            reqwest::get(format!("http://{}{path}", node.api_addr())).await.unwrap().text().await.unwrap();
        let remote = text.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !remote.contains("http://") && !remote.contains("https://"),
            "{path} names a remote resource"
        );
    }
    // A second start draws another session.
    let other = TestNode::start(&net).await;
    assert_ne!(session_of(&page(other.api_addr()).await.1), session_of(&html));
}

#[tokio::test]
async fn a_confirmation_is_answered_only_by_the_page_of_this_node() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let addr = node.api_addr();
    let session = session_of(&page(addr).await.1);
    let verdict = json!({"level": "high", "method": "eth_sendTransaction", "findings": [], "effects": ["lets 0xabc… spend all your dUSD"], "assets": [], "simulator": "revm", "elapsed_ms": 3});

    // No page open yet: the proxy is told to ask on its terminal.
    let (status, body) = send(addr, "/guard/ask", Some(&json!({"verdict": verdict})), &[]).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("no_page")), "{body}");

    // A poll without the page's session (an image on another site can send one) opens nothing.
    let (status, _) = send(addr, "/ui/api/guard/pending", None, &[]).await;
    assert_eq!(status, 200);
    let (status, body) = send(addr, "/guard/ask", Some(&json!({"verdict": verdict})), &[]).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("no_page")), "{body}");

    // The page polls: now the proxy's question waits for it.
    assert!(pending(addr, &session).await.is_empty());
    let ask = {
        let verdict = verdict.clone();
        tokio::spawn(async move { send(addr, "/guard/ask", Some(&json!({"verdict": verdict})), &[]).await })
    };
    let mut waiting = Vec::new();
    for _ in 0..100 {
        waiting = pending(addr, &session).await;
        if !waiting.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["verdict"]["effects"][0], "lets 0xabc… spend all your dUSD");
    let id = waiting[0]["id"].as_str().unwrap().to_owned();
    let decide = format!("/ui/api/guard/pending/{id}");
    let approve = json!({"approve": true});

    // Refused, and nothing answered: no session; a foreign origin or a rebound name even with it.
    let forged = "0".repeat(64);
    let refusals: [&[(&str, &str)]; 4] = [
        &[],
        &[("x-agora-session", forged.as_str())],
        &[("x-agora-session", &session), ("origin", "https://evil.example")],
        &[("x-agora-session", &session), ("host", "evil.example")],
    ];
    for headers in refusals {
        let (status, body) = send(addr, &decide, Some(&approve), headers).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert_eq!(pending(addr, &session).await.len(), 1, "a refused answer changed nothing: {headers:?}");
        assert!(!ask.is_finished());
    }
    // The page's own answer goes through, once.
    let (status, body) = send(addr, &decide, Some(&approve), &[("x-agora-session", &session)]).await;
    assert_eq!((status, body["approved"].clone()), (200, json!(true)), "{body}");
    let (status, answer) = ask.await.unwrap();
    assert_eq!(
        (status, answer["approved"].clone(), answer["decision"].clone()),
        (200, json!(true), json!("approved"))
    );
    let (status, _) = send(addr, &decide, Some(&approve), &[("x-agora-session", &session)]).await;
    assert_eq!(status, 404, "answered already");
    let history = send(addr, "/ui/api/guard/history", None, &[]).await.1;
    assert_eq!(history["checks"][0]["decision"], "approved", "{history}");
}

#[tokio::test]
async fn mandates_from_the_page_are_checked_and_need_the_page_s_session() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let addr = node.api_addr();
    let session = session_of(&page(addr).await.1);
    let payee = "0x00000000000000000000000000000000000000aa";
    let mandate =
        json!({"name": "evil", "budget": "1000", "per_call": "1000", "payees": [payee], "expires_in": "7d"});
    for headers in [
        vec![],
        vec![("x-agora-session", session.as_str()), ("origin", "http://127.0.0.1:1")],
        vec![("x-agora-session", session.as_str()), ("host", "attacker.example:8402")],
    ] {
        let (status, body) = send(addr, "/ui/api/mandates", Some(&mandate), &headers).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
    }
    let money = send(addr, "/ui/api/money", None, &[]).await.1;
    assert_eq!(money["mandates"], json!([]), "nothing was written: {money}");
    assert_eq!(money["by_day"].as_array().unwrap().len(), 14, "{money}");

    let with = [("x-agora-session", session.as_str())];
    let mut bad = mandate.clone();
    bad["per_call"] = json!("2000");
    let (status, body) = send(addr, "/ui/api/mandates", Some(&bad), &with).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "the per-call cap is above the budget");
    assert_eq!(body["error"]["param"], "per_call");
    let mut good = mandate.clone();
    good["name"] = json!("default");
    let (status, body) = send(addr, "/ui/api/mandates", Some(&good), &with).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mandate"]["budget"], "1000000000");
    let money = send(addr, "/ui/api/money", None, &[]).await.1;
    assert_eq!(money["mandates"][0]["name"], "default", "{money}");
}

#[tokio::test]
async fn the_address_book_is_edited_from_the_page_only() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let addr = node.api_addr();
    let session = session_of(&page(addr).await.1);
    let contact =
        json!({"list": "contact", "entry": "0x00000000000000000000000000000000000000aa", "label": "Alice"});
    let (status, _) =
        send(addr, "/ui/api/guard/lists", Some(&contact), &[("origin", "https://evil.example")]).await;
    assert_eq!(status, 403);
    let (status, _) = send(addr, "/ui/api/guard/lists", Some(&contact), &[]).await;
    assert_eq!(status, 403);
    let lists = send(addr, "/ui/api/guard/lists", None, &[]).await.1;
    assert_eq!(lists["contacts"], json!([]), "nothing was written: {lists}");
    let with = [("x-agora-session", session.as_str())];
    let (status, body) = send(addr, "/ui/api/guard/lists", Some(&contact), &with).await;
    assert_eq!((status, body["added"].clone()), (200, json!(true)), "{body}");
    let lists = send(addr, "/ui/api/guard/lists", None, &[]).await.1;
    assert_eq!(lists["contacts"][0]["name"], "Alice", "{lists}");
    let bad = json!({"list": "friends", "entry": "x"});
    let (status, body) = send(addr, "/ui/api/guard/lists", Some(&bad), &with).await;
    assert_eq!((status, body["error"]["param"].clone()), (400, json!("list")), "{body}");
    let bad = json!({"list": "block", "entry": "not an address"});
    let (status, body) = send(addr, "/ui/api/guard/lists", Some(&bad), &with).await;
    assert_eq!((status, body["error"]["param"].clone()), (400, json!("entry")), "{body}");
    let remove =
        json!({"list": "contact", "entry": "0x00000000000000000000000000000000000000aa", "remove": true});
    let (status, body) = send(addr, "/ui/api/guard/lists", Some(&remove), &with).await;
    assert_eq!((status, body["removed"].clone()), (200, json!(true)), "{body}");
}

/// Without a chain (the inference-only API), the chain's pages say so instead of failing.
#[tokio::test]
async fn a_part_that_is_off_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(agora_store::Store::open_in(dir.path()).unwrap());
    let app = agora_node::api::app(agora_node::api::AppState::new(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    for path in
        ["/ui/api/markets", "/ui/api/decisions", "/ui/api/jobs", "/ui/api/funding", "/ui/api/feedback"]
    {
        let (status, body) = send(addr, path, None, &[]).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("no chain"), "{path}: {body}");
    }
    let (status, body) = send(addr, "/v1/models", None, &[]).await;
    assert!(status == 503 || body["data"] == json!([]), "no model: {status} {body}");
}
