//! `POST /guard/check` on the owner's API: the verdict without forwarding anything.

use agora_testkit::{TestNet, TestNode, default_model};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_judges_requests_and_the_local_model_only_rephrases() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let client = reqwest::Client::new();
    let user = net.wallet(1).address();

    // A blind signature: critical, with the finding's id, level, title and evidence.
    let body = json!({"method": "eth_sign", "params": [user, format!("0x{}", "11".repeat(32))]});
    let response = client.post(node.url("/guard/check?explain=true")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let verdict: Value = response.json().await.unwrap();
    assert_eq!(verdict["level"], "critical", "{verdict}");
    assert_eq!(verdict["findings"][0]["id"], "G08");
    assert!(verdict["findings"][0]["evidence"][0].as_str().unwrap().starts_with("hash 0x1111"));
    // The summary is the model's words after the guard's own level, which the model cannot change.
    let summary = verdict["summary"].as_str().expect("a summary from the local model");
    assert!(summary.starts_with("[CRITICAL] ") && summary.len() > "[CRITICAL] ".len(), "{summary}");

    // A plain transfer of ETH to the node's own account: simulated, nothing above low.
    let body = json!({"method": "eth_sendTransaction", "params": [{"from": user, "to": net.wallet(2).address(), "value": "0x1"}]});
    let verdict: Value =
        client.post(node.url("/guard/check")).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(verdict["simulator"], "revm", "{verdict}");
    assert!(matches!(verdict["level"].as_str(), Some("info" | "low" | "medium")), "{verdict}");
    assert!(
        verdict["effects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("you send 0.000000000000000001 ETH")),
        "{verdict}"
    );

    // Bad input: clear 400s.
    for body in [
        json!({"params": []}),
        json!({"method": "eth_chainId", "params": []}),
        json!({"method": "eth_sendRawTransaction", "params": ["0x1234"]}),
    ] {
        let response = client.post(node.url("/guard/check")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
    }
}
