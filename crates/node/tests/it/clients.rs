//! What third-party clients read from the node: EIP-55 addresses (web3.py refuses lowercase
//! ones), an A2A card that advertises what is served (the HTTP+JSON binding on the paid
//! listener), an ERC-8004 registration file with a numeric agent id that points paying clients
//! at the paid listener.

use agora_testkit::{TestNet, TestNode, default_model};
use alloy::primitives::Address;
use serde_json::Value;

async fn json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Asserts `value` is an address written in its EIP-55 checksum form.
fn assert_checksummed(value: &Value) {
    let text = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    let address: Address = text.parse().unwrap();
    assert_eq!(text, address.to_checksum(None), "not EIP-55 checksummed");
}

#[tokio::test]
async fn addresses_are_served_checksummed() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let deployments = json(node.url("/deployments")).await;
    let contracts = deployments["contracts"].as_object().unwrap();
    assert!(!contracts.is_empty());
    for contract in contracts.values() {
        assert_checksummed(&contract["address"]);
    }
    let version = json(node.url("/version")).await;
    assert_checksummed(&version["nodeAddress"]);
    assert_eq!(version["nodeAddress"], node.node_address().to_checksum(None));

    // The discovery index has the node's own agent after a pass or two.
    let mut agents = Value::Null;
    for _ in 0..40 {
        agents = json(node.url("/agents")).await;
        if agents["agents"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let agent = &agents["agents"][0];
    assert_checksummed(&agent["owner"]);
    assert_checksummed(&agent["wallet"]);
    let id = agent["agent_id"].as_str().unwrap();
    let one = json(node.url(&format!("/agents/{id}"))).await;
    assert_checksummed(&one["agent"]["owner"]);
}

#[tokio::test]
async fn the_registration_file_and_card_describe_what_is_served() {
    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let file = json(node.url("/.well-known/agent-registration.json")).await;
    let registration = &file["registrations"][0];
    assert!(registration["agentId"].is_u64(), "ERC-8004 agentId is a number: {registration}");
    assert!(registration["agentRegistry"].as_str().unwrap().starts_with("eip155:31337:0x"), "{registration}");
    assert_eq!(file["x402Support"], true, "the paid listener is on");
    let openai = file["services"].as_array().unwrap().iter().find(|s| s["name"] == "OpenAI").unwrap();
    assert_eq!(
        openai["endpoint"],
        node.paid_url("/v1/chat/completions"),
        "strangers pay on the paid listener"
    );

    let card = json(node.url("/.well-known/agent-card.json")).await;
    assert_eq!(card["skills"][0]["id"], "chat-completions");
    // The A2A binding is served on the paid listener, and advertised there.
    let interfaces = card["supportedInterfaces"].as_array().expect("A2A v1.0 requires the field");
    assert_eq!(interfaces.len(), 1, "{card}");
    assert_eq!(interfaces[0]["url"], node.paid_url("/v1"));
    assert_eq!(interfaces[0]["protocolBinding"], "HTTP+JSON");
    assert_eq!(interfaces[0]["protocolVersion"], "1.0");
    assert_eq!(card["capabilities"]["streaming"], true);
    let response = reqwest::Client::new()
        .post(node.paid_url("/v1/message:send"))
        .header("A2A-Version", "1.0")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "indeed served: an empty request is an A2A error, not a 404");
    // Not on the owner's API.
    let response = reqwest::Client::new()
        .post(node.url("/v1/message:send"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let provider_url = card["provider"]["url"].as_str().unwrap();
    assert!(provider_url.starts_with("http://"), "absolute: {provider_url}");
}

#[tokio::test]
async fn a_node_without_a_public_url_serves_no_empty_or_relative_urls() {
    let net = TestNet::start().await;
    let node = TestNode::start_with(&net, Some(default_model()), 0, |config| {
        config.agent.public_url = None;
    })
    .await;
    let card = json(node.url("/.well-known/agent-card.json")).await;
    assert!(card.get("provider").is_none(), "no provider rather than an empty URL: {card}");
    // The paid listener has an absolute URL of its own.
    assert!(card["supportedInterfaces"][0]["url"].as_str().unwrap().starts_with("http://"), "{card}");
    let file = json(node.url("/.well-known/agent-registration.json")).await;
    for service in file["services"].as_array().unwrap() {
        let endpoint = service["endpoint"].as_str().unwrap();
        assert!(endpoint.starts_with("http://"), "absolute: {service}");
    }
    assert_eq!(file["x402Support"], true);
}
