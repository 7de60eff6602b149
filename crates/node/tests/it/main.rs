//! The node in process on a real chain: its API, and the test kit's funded wallets.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

mod a2a;
mod access;
mod agents;
mod clients;
mod errors;
mod guard;
mod http;
mod index;
mod inference;
mod payments;
mod pull;
mod router;
mod ui;

use agora_contracts::bindings::DevStablecoin;
use agora_testkit::{TestNet, TestNode, WALLET_STABLECOIN};
use alloy::{
    primitives::{B256, U256},
    signers::Signer,
    sol_types::{SolStruct, eip712_domain},
};
use serde_json::Value;

fn no_inference() -> agora_node::InferenceConfig {
    agora_node::InferenceConfig {
        model: None,
        explicit: false,
        threads: 1,
        queue: 1,
        batch: 1,
        models: Vec::new(),
        memory_budget: 4 << 30,
        max_context: None,
        log_prompts: false,
    }
}

/// A node on `net`'s chain with no model and no agent registration.
fn rpc_config(
    net: &TestNet,
    data_dir: &std::path::Path,
    api_listen: std::net::SocketAddr,
    payments: agora_node::PaymentsConfig,
) -> agora_node::NodeConfig {
    agora_node::NodeConfig {
        data_dir: data_dir.to_path_buf(),
        api_listen,
        api: Default::default(),
        chain: agora_node::ChainTarget::Rpc { url: net.rpc_url() },
        signer: None,
        config_file: None,
        inference: no_inference(),
        agent: agora_node::AgentConfig {
            register: false,
            name: "n".into(),
            description: "d".into(),
            public_url: None,
        },
        payments,
        guard: Default::default(),
        jobs: Default::default(),
        markets: Default::default(),
        router: Default::default(),
    }
}

fn no_payments() -> agora_node::PaymentsConfig {
    agora_node::PaymentsConfig {
        enabled: false,
        listen: "127.0.0.1:0".parse().unwrap(),
        price_per_token: 10,
        max_per_request: 20_000,
        min_withdraw_delay: 900,
        claim_threshold: 1_000_000,
        settle_interval: 10,
        credit_calls: 0,
        credit_unit_tokens: 512,
        credit_stake: 1_000_000,
        credit_exit_delay: 86_400,
    }
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn api_answers_health_version_and_deployments() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;

    let (status, health) = get(&node.url("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["chainId"], 31337);
    assert!(health["blockNumber"].as_u64().unwrap() >= 1);

    let (status, version) = get(&node.url("/version")).await;
    assert_eq!(status, 200);
    assert_eq!(version["name"], "agora");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    let (status, deployments) = get(&node.url("/deployments")).await;
    assert_eq!(status, 200);
    assert_eq!(deployments["chainId"], 31337);
    let recorded = deployments["contracts"]["DevStablecoin"]["address"].as_str().unwrap();
    assert_eq!(recorded.parse::<alloy::primitives::Address>().unwrap(), net.stablecoin_address());

    let (status, missing) = get(&node.url("/nope")).await;
    assert_eq!(status, 404);
    assert!(missing["error"]["message"].as_str().unwrap().contains("/nope"));

    let data_dir = node.stop().await.unwrap();
    let store = agora_store::Store::open_in(data_dir.path()).unwrap();
    assert!(store.journal_last("node.started").unwrap().is_some());
    assert!(store.journal_last("node.stopped").unwrap().is_some(), "clean shutdown is journaled");
}

#[tokio::test]
async fn health_reports_a_chain_that_went_away() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    drop(net); // anvil is gone
    let (status, body) = get(&node.url("/health")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["type"], "unavailable");
}

#[tokio::test]
async fn a_second_node_cannot_share_a_data_dir() {
    let net = TestNet::start().await;
    let node = TestNode::start(&net).await;
    let config = rpc_config(&net, node.data_dir(), "127.0.0.1:0".parse().unwrap(), no_payments());
    let err = agora_node::Node::start(config).await.unwrap_err();
    assert!(matches!(err, agora_node::NodeError::DataDirLocked { .. }), "{err:?}");
}

#[tokio::test]
async fn a_taken_api_port_is_a_clear_error() {
    let net = TestNet::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = rpc_config(&net, dir.path(), taken.local_addr().unwrap(), no_payments());
    let err = agora_node::Node::start(config).await.unwrap_err();
    assert!(err.to_string().contains("cannot listen on"), "{err}");
    assert!(err.to_string().contains("--listen"), "{err}");
}

/// A taken paid port is found before the chain is touched, and the message names the option
/// that moves it.
#[tokio::test]
async fn a_taken_paid_port_is_a_clear_error_before_anything_is_deployed() {
    let net = TestNet::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = rpc_config(
        &net,
        dir.path(),
        "127.0.0.1:0".parse().unwrap(),
        agora_node::PaymentsConfig { enabled: true, listen: taken.local_addr().unwrap(), ..no_payments() },
    );
    let err = agora_node::Node::start(config).await.unwrap_err().to_string();
    assert!(err.contains("cannot listen on") && err.contains("--paid-listen"), "{err}");
    assert!(!dir.path().join("deployments.json").exists(), "nothing deployed: {err}");
}

alloy::sol! {
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// The test kit's wallets hold the devnet dollar, and can pay with an EIP-3009 authorization
/// signed off-chain, submitted by someone else: what x402 `exact` payments rely on.
#[tokio::test]
async fn funded_wallets_pay_with_eip3009_authorizations() {
    let net = TestNet::start().await;
    let payer = net.wallet(1);
    let payee = net.wallet(2).address();
    let token = DevStablecoin::new(net.stablecoin_address(), net.deployer().provider());
    assert_eq!(token.balanceOf(payer.address()).call().await.unwrap(), U256::from(WALLET_STABLECOIN));
    assert_eq!(token.decimals().call().await.unwrap(), 6);

    let domain = eip712_domain! {
        name: token.name().call().await.unwrap(),
        version: token.version().call().await.unwrap(),
        chain_id: 31337,
        verifying_contract: net.stablecoin_address(),
    };
    let auth = TransferWithAuthorization {
        from: payer.address(),
        to: payee,
        value: U256::from(1_500_000u64),
        validAfter: U256::ZERO,
        validBefore: U256::from(u64::MAX),
        nonce: B256::repeat_byte(7),
    };
    let signature = payer.sign_hash(&auth.eip712_signing_hash(&domain)).await.unwrap();
    let call = token.transferWithAuthorization_0(
        auth.from,
        auth.to,
        auth.value,
        auth.validAfter,
        auth.validBefore,
        auth.nonce,
        signature.as_bytes().into(),
    );
    // The deployer relays it and pays the gas.
    call.send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!(token.balanceOf(payee).call().await.unwrap(), U256::from(WALLET_STABLECOIN + 1_500_000));
    assert!(token.authorizationState(auth.from, auth.nonce).call().await.unwrap());

    // A replay is refused by the chain.
    let replay = call.send().await;
    assert!(replay.is_err(), "replayed authorization must revert");
}

/// The ERC-8004 registries are deployed as one suite: the reputation and validation registries
/// point at the identity registry, and a full register → feedback → summary round trip works.
#[tokio::test]
async fn erc8004_registries_are_deployed_and_wired() {
    use agora_contracts::{
        SuiteContract,
        bindings::{IdentityRegistry, ReputationRegistry, ValidationRegistry},
    };
    let net = TestNet::start().await;
    let at = |c| net.deployment().address_of(c).unwrap();
    let identity_address = at(SuiteContract::IdentityRegistry);
    let owner = net.client_for(1).await;
    let client = net.client_for(2).await;
    let identity = IdentityRegistry::new(identity_address, owner.provider());
    let reputation = ReputationRegistry::new(at(SuiteContract::ReputationRegistry), client.provider());
    let validation = ValidationRegistry::new(at(SuiteContract::ValidationRegistry), owner.provider());
    assert_eq!(reputation.getIdentityRegistry().call().await.unwrap(), identity_address);
    assert_eq!(validation.getIdentityRegistry().call().await.unwrap(), identity_address);
    assert_eq!(identity.getVersion().call().await.unwrap(), "2.0.0");

    identity.register_2("data:application/json,{}".into()).send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!(identity.totalAgents().call().await.unwrap(), U256::from(1));
    let agent = U256::ZERO;
    reputation
        .giveFeedback(agent, 95, 0, "starred".into(), String::new(), String::new(), String::new(), B256::ZERO)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let summary = reputation
        .getSummary(agent, vec![client.signer_address().unwrap()], String::new(), String::new())
        .call()
        .await
        .unwrap();
    assert_eq!((summary.count, summary.summaryValue), (1, 95));
}
