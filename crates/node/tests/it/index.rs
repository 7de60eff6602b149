//! The discovery index against a real chain: registrations, feedback and revocations followed
//! incrementally, reorgs undone, bad records skipped, private URLs not fetched.

use agora_agents::{Indexer, IndexerConfig, list_agents, trusted_summary};
use agora_contracts::{
    SuiteContract,
    bindings::{IdentityRegistry, ReputationRegistry},
};
use agora_store::Store;
use agora_testkit::TestNet;
use alloy::{
    network::TransactionBuilder,
    primitives::{B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use std::sync::Arc;

fn data_uri(name: &str, extra: &str) -> String {
    format!(
        r#"data:application/json,{{"type":"{}","name":"{name}","description":"d","services":[{{"name":"OpenAI","endpoint":"x"}}],"active":true{extra}}}"#,
        agora_agents::REGISTRATION_TYPE
    )
}

async fn register(net: &TestNet, wallet: usize, uri: &str) {
    let client = net.client_for(wallet).await;
    let identity = IdentityRegistry::new(
        net.deployment().address_of(SuiteContract::IdentityRegistry).unwrap(),
        client.provider(),
    );
    identity.register_2(uri.to_owned()).send().await.unwrap().get_receipt().await.unwrap();
}

fn indexer(net: &TestNet, store: Arc<Store>, allow_private_fetch: bool) -> Indexer {
    let identity = &net.deployment().contracts["IdentityRegistry"];
    Indexer::new(
        net.deployer().clone(),
        store,
        identity.address,
        net.deployment().address_of(SuiteContract::ReputationRegistry).unwrap(),
        identity.block_number,
        IndexerConfig { allow_private_fetch, reorg_window: 4, ..Default::default() },
    )
}

#[tokio::test]
async fn index_follows_registrations_feedback_and_revocations() {
    let net = TestNet::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let index = indexer(&net, Arc::clone(&store), false);

    register(&net, 1, &data_uri("alpha", "")).await;
    register(&net, 2, &data_uri("beta", r#","x":1"#)).await;
    let first = index.sync().await.unwrap();
    assert!(first.events >= 4, "{first:?}");
    let agents = list_agents(&store, 31337, None, false).unwrap();
    assert_eq!(agents.iter().map(|a| a.name.clone().unwrap()).collect::<Vec<_>>(), ["alpha", "beta"]);
    assert_eq!(agents[0].agent_id, "0");
    assert_eq!(list_agents(&store, 31337, Some("openai"), true).unwrap().len(), 2);
    assert!(list_agents(&store, 31337, Some("translation"), false).unwrap().is_empty());

    // Feedback on agent 0 from two raters, one of whom then revokes one of two.
    let reputation = net.deployment().address_of(SuiteContract::ReputationRegistry).unwrap();
    for (wallet, value) in [(3, 90i128), (3, 10), (4, 20)] {
        let client = net.client_for(wallet).await;
        ReputationRegistry::new(reputation, client.provider())
            .giveFeedback(
                U256::ZERO,
                value,
                0,
                "starred".into(),
                String::new(),
                String::new(),
                String::new(),
                B256::ZERO,
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let rater = net.client_for(3).await;
    ReputationRegistry::new(reputation, rater.provider())
        .revokeFeedback(U256::ZERO, 2)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    index.sync().await.unwrap();
    let summary = trusted_summary(&store, 31337, "0", &[net.wallet(3).address()]).unwrap();
    assert_eq!(summary.count, 1, "the revoked one never counts");
    assert_eq!(summary.average.as_deref(), Some("90"));
    assert_eq!(summary.untrusted_raters_left_out, 1, "wallet 4 is not trusted");
    let nobody = trusted_summary(&store, 31337, "0", &[]).unwrap();
    assert_eq!((nobody.count, nobody.average, nobody.untrusted_raters_left_out), (0, None, 2));

    // Resuming: nothing new, nothing changes.
    let again = index.sync().await.unwrap();
    assert_eq!(list_agents(&store, 31337, None, false).unwrap(), agents);
    assert!(again.to.is_some());
}

#[tokio::test]
async fn a_reorg_is_undone_by_the_next_pass() {
    let net = TestNet::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let index = indexer(&net, Arc::clone(&store), false);
    let provider = net.deployer().provider().clone();

    register(&net, 1, &data_uri("kept", "")).await;
    let snapshot: U256 = provider.raw_request("evm_snapshot".into(), ()).await.unwrap();
    register(&net, 2, &data_uri("orphaned", "")).await;
    index.sync().await.unwrap();
    assert_eq!(list_agents(&store, 31337, None, false).unwrap().len(), 2);

    // The chain reorganises: the second registration never happened, another one did.
    let _: bool = provider.raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    register(&net, 3, &data_uri("canonical", "")).await;
    index.sync().await.unwrap();
    let names: Vec<_> =
        list_agents(&store, 31337, None, false).unwrap().into_iter().map(|a| a.name.unwrap()).collect();
    assert_eq!(names, ["kept", "canonical"]);
}

#[tokio::test]
async fn bad_records_are_skipped_or_flagged_and_private_urls_are_not_fetched() {
    let net = TestNet::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let index = indexer(&net, Arc::clone(&store), false);
    let identity = net.deployment().address_of(SuiteContract::IdentityRegistry).unwrap();

    // A URI that is not UTF-8, sent as raw calldata.
    let mut call = IdentityRegistry::register_2Call { agentURI: String::new() }.abi_encode();
    // Replace the (empty) string with 4 bytes of invalid UTF-8.
    call.truncate(4 + 32);
    call.extend_from_slice(&U256::from(4).to_be_bytes::<32>());
    let mut bad = vec![0xff, 0xfe, 0xfd, 0xfc];
    bad.resize(32, 0);
    call.extend_from_slice(&bad);
    let client = net.client_for(1).await;
    let tx = TransactionRequest::default().with_to(identity).with_input(Bytes::from(call));
    client.provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();

    register(&net, 2, "not a uri").await;
    register(&net, 3, "data:application/json,{broken").await;
    register(&net, 4, "http://127.0.0.1:9/.well-known/agent-registration.json").await;
    register(&net, 5, &data_uri("fine", "")).await;
    let report = index.sync().await.unwrap();
    let agents = list_agents(&store, 31337, None, false).unwrap();
    // The indexer went on past every bad record; the good agent is there.
    assert!(agents.iter().any(|a| a.name.as_deref() == Some("fine")), "{agents:?} {report:?}");
    let errors: Vec<String> = agents.iter().filter_map(|a| a.fetch_error.clone()).collect();
    assert!(errors.iter().any(|e| e.contains("loopback or private")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("not JSON")), "{errors:?}");
}
