//! The node's ERC-8004 agent: registered on start, idempotent, discoverable from the chain alone.

use agora_agents::{AgentProfile, ensure_registered, read_agent};
use agora_contracts::SuiteContract;
use agora_testkit::{TestNet, TestNode, default_model};
use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use serde_json::Value;

async fn json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_second_node_discovers_the_first_nodes_agent_from_the_chain() {
    let net = TestNet::start().await;
    let first = TestNode::start_with_model(&net, Some(default_model())).await;
    let file = json(first.url("/.well-known/agent-registration.json")).await;
    assert_eq!(file["type"], agora_agents::REGISTRATION_TYPE);
    let agent_id: alloy::primitives::U256 =
        serde_json::from_value(file["registrations"][0]["agentId"].clone()).unwrap();
    let version = json(first.url("/version")).await;
    let node_address: Address = version["nodeAddress"].as_str().unwrap().parse().unwrap();
    let card = json(first.url("/.well-known/agent-card.json")).await;
    assert_eq!(card["skills"][0]["id"], "chat-completions", "skills from what the node serves");

    // Another node, knowing only the chain.
    let second = TestNode::start(&net).await;
    let registry = second.deployment().address_of(SuiteContract::IdentityRegistry).unwrap();
    let client = net.client_for(3).await;
    let record = read_agent(&client, registry, agent_id).await.unwrap();
    assert_eq!(record.wallet, node_address, "the agent's wallet is the key that signs its receipts");
    let registration = record.registration.expect("data: URI resolved");
    assert_eq!(registration["name"], "test node");
    assert_eq!(registration["registrations"][0]["agentId"], file["registrations"][0]["agentId"]);
}

#[tokio::test]
async fn registering_twice_changes_nothing_and_a_new_description_updates_the_uri() {
    let net = TestNet::start().await;
    let registry = net.deployment().address_of(SuiteContract::IdentityRegistry).unwrap();
    let owner = net.client_for(1).await;
    let wallet = PrivateKeySigner::random();
    let mut profile = AgentProfile {
        name: "a".into(),
        description: "first".into(),
        public_url: Some("http://127.0.0.1:9".into()),
        skills: AgentProfile::inference_skills("m"),
        x402: false,
    };
    let first = ensure_registered(&owner, registry, &profile, None, &wallet).await.unwrap();
    assert!(first.registered && first.uri_updated && first.wallet_set, "{first:?}");
    assert_eq!(first.uri, "http://127.0.0.1:9/.well-known/agent-registration.json");

    let block = owner.block_number().await.unwrap();
    let again = ensure_registered(&owner, registry, &profile, Some(first.agent_id), &wallet).await.unwrap();
    assert!(!again.registered && !again.uri_updated && !again.wallet_set, "{again:?}");
    assert_eq!(owner.block_number().await.unwrap(), block, "no transaction sent");

    // The URI is a URL here, so the file's content is not on chain: drop the URL to use a data URI.
    profile.public_url = None;
    profile.description = "second".into();
    let updated = ensure_registered(&owner, registry, &profile, Some(first.agent_id), &wallet).await.unwrap();
    assert!(!updated.registered && updated.uri_updated && !updated.wallet_set, "{updated:?}");
    let record = read_agent(&owner, registry, first.agent_id).await.unwrap();
    assert_eq!(record.registration.unwrap()["description"], "second");

    // An id that is not ours (someone else's agent) is not reused: a new agent is registered.
    let stranger = net.client_for(2).await;
    let theirs =
        ensure_registered(&stranger, registry, &profile, Some(first.agent_id), &wallet).await.unwrap();
    assert!(theirs.registered);
    assert_ne!(theirs.agent_id, first.agent_id);
}
