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

    // Another node, knowing only the chain: its index finds the agent, resolves the registration
    // file from the URI on chain, and reads the skills from the A2A card the file points to.
    let second = TestNode::start(&net).await;
    let registry = second.deployment().address_of(SuiteContract::IdentityRegistry).unwrap();
    let client = net.client_for(3).await;
    let record = read_agent(&client, registry, agent_id).await.unwrap();
    assert_eq!(record.wallet, node_address, "the agent's wallet is the key that signs its receipts");
    assert_eq!(record.uri, first.url("/.well-known/agent-registration.json"));
    let store = std::sync::Arc::new(agora_store::Store::open_in(second.data_dir()).unwrap());
    let indexer =
        agora_node::discovery_indexer(&client, second.deployment(), std::sync::Arc::clone(&store), true)
            .unwrap();
    indexer.sync().await.unwrap();
    let found = agora_agents::list_agents(&store, 31337, Some("chat-completions"), true).unwrap();
    let found = found.iter().find(|a| a.agent_id == agent_id.to_string()).expect("discovered by skill");
    assert_eq!(found.name.as_deref(), Some("test node"));
    assert!(
        found.skills.contains(&"inference-receipts".to_owned()),
        "skills from the card: {:?}",
        found.skills
    );
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
        paid_url: None,
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

/// The first real validator: the agent's owner asks a validator to check an inference receipt;
/// the validator re-executes it and answers 100; a tampered receipt gets 0.
#[tokio::test]
async fn a_validator_reexecutes_a_receipt_and_answers_on_chain() {
    use agora_agents::validation;
    use agora_contracts::bindings::ValidationRegistry;
    use agora_receipts::ReceiptEnvelope;

    let net = TestNet::start().await;
    let node = TestNode::start_with_model(&net, Some(default_model())).await;
    let file = json(node.url("/.well-known/agent-registration.json")).await;
    let agent_id: alloy::primitives::U256 =
        serde_json::from_value(file["registrations"][0]["agentId"].clone()).unwrap();
    let reply: Value = reqwest::Client::new()
        .post(node.url("/v1/chat/completions"))
        .json(&serde_json::json!({
            "model": "default", "max_tokens": 12, "temperature": 0.7, "seed": 3,
            "messages": [{"role": "user", "content": "Name one Ethereum client."}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let envelope = ReceiptEnvelope::from_json(&reply.to_string()).unwrap();

    let identity = node.deployment().address_of(SuiteContract::IdentityRegistry).unwrap();
    let registry = node.deployment().address_of(SuiteContract::ValidationRegistry).unwrap();
    let registry_id = agora_agents::agent_registry_id(31337, identity);
    // The test node registered its agent with the deployer key; a fresh client picks up the
    // nonces the node used.
    let owner = &agora_chain::ChainClient::connect(&net.rpc_url(), net.devnet().dev_signer(0)).await.unwrap();
    let validator = net.client_for(5).await;
    let engine = agora_infer::Engine::load(
        &default_model(),
        &agora_infer::EngineOptions { threads: 2, ..Default::default() },
    )
    .unwrap();

    for (envelope, expected) in [(envelope.clone(), 100u8), (tampered(envelope), 0)] {
        let request = validation::request_file(agent_id, &registry_id, &envelope);
        validation::request(owner, registry, validator.signer_address().unwrap(), agent_id, &request)
            .await
            .unwrap();
        // The validator only knows the hash: it finds the request on chain, checks, re-executes.
        let uri = validation::find_request_uri(&validator, registry, request.hash, 0).await.unwrap();
        let (agent, received) = validation::open_request(&uri, request.hash).unwrap();
        assert_eq!(agent, agent_id);
        let reexecuted = agora_receipts::reexecute(&received, &engine);
        let verdict = validation::judge(&validator, identity, agent, &received, reexecuted).await.unwrap();
        assert_eq!(verdict.response, expected, "{}", verdict.reason);
        validation::respond(&validator, registry, request.hash, &verdict).await.unwrap();
        let status = ValidationRegistry::new(registry, validator.provider())
            .getValidationStatus(request.hash)
            .call()
            .await
            .unwrap();
        assert_eq!((status.response, status.tag.as_str()), (expected, validation::REEXECUTION_TAG));
    }

    // Self-validation is refused by the registry.
    let request = validation::request_file(agent_id, &registry_id, &tampered_again(&reply));
    let err = validation::request(owner, registry, owner.signer_address().unwrap(), agent_id, &request)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SelfValidation"), "{err}");
}

/// The receipt with a different output claimed (signature no longer matches).
fn tampered(mut envelope: agora_receipts::ReceiptEnvelope) -> agora_receipts::ReceiptEnvelope {
    envelope.output.text.push_str(" (edited)");
    envelope
}

fn tampered_again(reply: &Value) -> agora_receipts::ReceiptEnvelope {
    tampered(agora_receipts::ReceiptEnvelope::from_json(&reply.to_string()).unwrap())
}
