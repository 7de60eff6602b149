//! Chain access against a real anvil: devnet lifecycle and state persistence, deployment and
//! its checks on reuse.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use agora_chain::{
    ChainClient, ChainError, DeployAction, DeploymentsFile, Devnet, DevnetConfig, ensure_deployed,
    forget_chain,
};
use agora_contracts::{SUITE, SuiteContract};
use alloy::{primitives::B256, providers::Provider};
use std::path::PathBuf;

mod x402;

fn anvil() -> PathBuf {
    let installed = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/bin/anvil"));
    if installed.is_file() { installed } else { PathBuf::from("anvil") }
}

fn devnet_config(state_dir: Option<PathBuf>) -> DevnetConfig {
    DevnetConfig { anvil: anvil(), port: 0, state_dir, ..DevnetConfig::default() }
}

#[tokio::test]
async fn devnet_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let deployments = dir.path().join("deployments.json");
    let config = devnet_config(Some(dir.path().join("devnet")));

    let devnet = Devnet::start(&config).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    assert_eq!(client.chain_id(), 31337);
    let mut actions = Vec::new();
    let first = ensure_deployed(&client, &deployments, |c, a, _| actions.push((c, a))).await.unwrap();
    let deployed: Vec<_> = SUITE.iter().map(|c| (*c, DeployAction::Deployed)).collect();
    assert_eq!(actions, deployed, "the whole suite, in order");
    let genesis = client.genesis_hash();
    let block = client.block_number().await.unwrap();
    devnet.stop().await;

    // Same state dir, new process (and a new port): the same chain, the same contracts.
    let devnet = Devnet::start(&config).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    assert_eq!(client.genesis_hash(), genesis);
    assert!(client.block_number().await.unwrap() >= block);
    let mut actions = Vec::new();
    let second = ensure_deployed(&client, &deployments, |c, a, _| actions.push((c, a))).await.unwrap();
    let reused: Vec<_> = SUITE.iter().map(|c| (*c, DeployAction::Reused)).collect();
    assert_eq!(actions, reused);
    assert_eq!(first, second);
}

#[tokio::test]
async fn a_different_chain_with_the_same_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let deployments = dir.path().join("deployments.json");
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    ensure_deployed(&client, &deployments, |_, _, _| {}).await.unwrap();

    // The file now says chain 31337 is one with another genesis: a record from another devnet.
    let mut file = DeploymentsFile::load(&deployments).unwrap();
    file.chains.get_mut("31337").unwrap().genesis_hash = B256::repeat_byte(0x11);
    file.save(&deployments).unwrap();
    let before = std::fs::read(&deployments).unwrap();

    let err = ensure_deployed(&client, &deployments, |_, _, _| {}).await.unwrap_err();
    assert!(matches!(err, ChainError::OtherChain { chain_id: 31337, .. }), "{err:?}");
    assert!(err.to_string().contains("another chain with the same id"), "{err}");
    assert_eq!(std::fs::read(&deployments).unwrap(), before, "the file is not overwritten");

    // `--forget` is the way out: the record goes, a fresh deployment is recorded.
    assert!(forget_chain(&deployments, 31337).unwrap());
    let fresh = ensure_deployed(&client, &deployments, |_, _, _| {}).await.unwrap();
    assert_eq!(fresh.genesis_hash, client.genesis_hash());
}

#[tokio::test]
async fn code_at_a_recorded_address_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let deployments = dir.path().join("deployments.json");
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    let deployment = ensure_deployed(&client, &deployments, |_, _, _| {}).await.unwrap();
    let token = deployment.address_of(SuiteContract::DevStablecoin).unwrap();
    let before = std::fs::read(&deployments).unwrap();

    // Someone else's code at our address.
    let _: () =
        client.provider().raw_request("anvil_setCode".into(), (token, "0x6080604052600080fd")).await.unwrap();
    let err = ensure_deployed(&client, &deployments, |_, _, _| {}).await.unwrap_err();
    assert!(matches!(err, ChainError::UnexpectedCode { .. }), "{err:?}");
    assert!(err.to_string().contains("is not agora's DevStablecoin"), "{err}");

    // No code at all.
    let _: () = client.provider().raw_request("anvil_setCode".into(), (token, "0x")).await.unwrap();
    let err = ensure_deployed(&client, &deployments, |_, _, _| {}).await.unwrap_err();
    assert!(matches!(err, ChainError::MissingCode { .. }), "{err:?}");
    assert_eq!(std::fs::read(&deployments).unwrap(), before, "the file is not overwritten");
}

#[tokio::test]
async fn deploying_without_a_signer_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), None).await.unwrap();
    let err = ensure_deployed(&client, &dir.path().join("d.json"), |_, _, _| {}).await.unwrap_err();
    assert!(matches!(err, ChainError::NoSigner { chain_id: 31337 }), "{err:?}");
}

#[tokio::test]
async fn a_taken_port_or_a_missing_anvil_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Devnet::start(&DevnetConfig { port, ..devnet_config(None) }).await.unwrap_err();
    assert!(matches!(err, ChainError::PortInUse { .. }), "{err:?}");
    assert!(err.to_string().contains("--devnet-port"), "{err}");

    let err = Devnet::start(&DevnetConfig { anvil: "/nonexistent/anvil".into(), ..devnet_config(None) })
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::AnvilMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("agora setup"), "{err}");
}

#[tokio::test]
async fn a_damaged_state_file_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("devnet");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(state_dir.join("state.json"), b"{ this is not anvil state").unwrap();
    let err = Devnet::start(&devnet_config(Some(state_dir.clone()))).await.unwrap_err();
    assert!(matches!(err, ChainError::DevnetStart { .. }), "{err:?}");
    assert!(err.to_string().contains("move it aside"), "{err}");
    assert_eq!(std::fs::read(state_dir.join("state.json")).unwrap(), b"{ this is not anvil state");
}

#[tokio::test]
async fn websocket_endpoints_work_like_http() {
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let http = ChainClient::connect(&devnet.rpc_url(), None).await.unwrap();
    let ws = ChainClient::connect(&devnet.ws_url(), devnet.dev_signer(0)).await.unwrap();
    assert_eq!(ws.chain_id(), http.chain_id());
    assert_eq!(ws.genesis_hash(), http.genesis_hash());
    // Deploying over the WebSocket connection signs and sends real transactions.
    let dir = tempfile::tempdir().unwrap();
    let deployment = ensure_deployed(&ws, &dir.path().join("d.json"), |_, _, _| {}).await.unwrap();
    let token = deployment.address_of(SuiteContract::DevStablecoin).unwrap();
    assert!(!http.provider().get_code_at(token).await.unwrap().is_empty());
}

/// anvil builds a new genesis at every start; the devnet fixes it, so the chain stays the same
/// chain however often it restarts, and block time still follows the clock.
#[tokio::test]
async fn the_genesis_and_the_clock_survive_many_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = devnet_config(Some(dir.path().join("devnet")));
    let mut genesis = None;
    let mut last_timestamp = 0;
    let recipient = alloy::primitives::Address::repeat_byte(0x42);
    for round in 1..=6u64 {
        let devnet = Devnet::start(&config).await.unwrap();
        let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
        assert_eq!(*genesis.get_or_insert(client.genesis_hash()), client.genesis_hash(), "round {round}");
        assert_eq!(
            client.provider().get_balance(recipient).await.unwrap(),
            alloy::primitives::U256::from(round - 1)
        );
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(recipient)
            .value(alloy::primitives::U256::from(1));
        client.provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        let timestamp = client.latest_block_timestamp().await.unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(
            timestamp >= last_timestamp,
            "block time never goes back: {timestamp} after {last_timestamp}"
        );
        assert!(timestamp + 5 >= now, "block time follows the clock: {timestamp} vs now {now}");
        last_timestamp = timestamp;
        devnet.stop().await;
        // anvil stamps the genesis it builds with the current second: restart in another one.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    // The chain's files (every account and transaction) are the owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let devnet_dir = dir.path().join("devnet");
    assert_eq!(mode(devnet_dir.clone()), 0o700);
    for file in ["state.json", "genesis.json", "anvil.log", "accounts.json"] {
        assert_eq!(mode(devnet_dir.join(file)), 0o600, "{file}");
    }
}

/// A state directory written by a devnet without a genesis record holds one block 0 per start;
/// the first start with the record repairs it and keeps the chain's real genesis.
#[tokio::test]
async fn a_state_saved_without_a_genesis_record_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("devnet");
    std::fs::create_dir_all(&state_dir).unwrap();
    let state = state_dir.join("state.json");
    let mut original = None;
    for _ in 0..4 {
        // What older devnets ran: anvil with --state and no fixed genesis.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = std::process::Command::new(anvil())
            .args(["--port", &port.to_string(), "--state"])
            .arg(&state)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let client = loop {
            if let Ok(client) = ChainClient::connect(&url, None).await {
                break client;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let from =
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse::<alloy::primitives::Address>().unwrap();
        let tx = alloy::rpc::types::TransactionRequest::default()
            .from(from)
            .to(alloy::primitives::Address::repeat_byte(7))
            .value(alloy::primitives::U256::from(1));
        client.provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        let block1 = client.provider().get_block_by_number(1.into()).await.unwrap().unwrap();
        original.get_or_insert(block1.header.parent_hash);
        // SIGTERM: anvil dumps its state and exits.
        std::process::Command::new("kill").arg(child.id().to_string()).status().unwrap();
        child.wait().unwrap();
        // Let anvil's clock move on, so each start's genesis differs.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let zeros = saved["blocks"].as_array().unwrap().iter().filter(|b| b["header"]["number"] == "0x0").count();
    assert!(zeros > 1, "anvil saved one genesis per start ({zeros})");

    for _ in 0..3 {
        let devnet = Devnet::start(&devnet_config(Some(state_dir.clone()))).await.unwrap();
        let client = ChainClient::connect(&devnet.rpc_url(), None).await.unwrap();
        assert_eq!(Some(client.genesis_hash()), original, "the chain's own genesis");
        assert_eq!(client.block_number().await.unwrap(), 4);
        devnet.stop().await;
    }
}

/// A transaction that reverts at gas estimation takes no nonce with it: the next transaction of
/// the same key is mined at once instead of waiting behind a gap. Concurrent senders of one key
/// in one process never collide on a nonce.
#[tokio::test]
async fn a_reverted_send_leaves_no_nonce_gap_and_concurrent_sends_all_land() {
    let devnet = Devnet::start(&devnet_config(None)).await.unwrap();
    let client = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    let me = client.signer_address().unwrap();
    // A call that reverts: code that always reverts, at an address we call with value.
    let reverter = alloy::primitives::Address::repeat_byte(0x99);
    let _: () =
        client.provider().raw_request("anvil_setCode".into(), (reverter, "0x60006000fd")).await.unwrap();
    let failing = alloy::rpc::types::TransactionRequest::default().to(reverter);
    for _ in 0..3 {
        assert!(client.provider().send_transaction(failing.clone()).await.is_err(), "the call reverts");
    }
    let before = client.transaction_queue(me).await.unwrap();
    assert_eq!(before.waiting, 0);
    // Another client for the same key, as a second part of the node would hold.
    let other = ChainClient::connect(&devnet.rpc_url(), devnet.dev_signer(0)).await.unwrap();
    let sends = (0..8u64).map(|i| {
        let client = if i % 2 == 0 { client.clone() } else { other.clone() };
        async move {
            let tx = alloy::rpc::types::TransactionRequest::default()
                .to(alloy::primitives::Address::repeat_byte(0x55))
                .value(alloy::primitives::U256::from(1));
            let pending = client.provider().send_transaction(tx).await.unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(20), pending.get_receipt())
                .await
                .unwrap()
                .unwrap()
        }
    });
    let receipts = futures_util::future::join_all(sends).await;
    assert!(receipts.iter().all(|r| r.status()));
    let after = client.transaction_queue(me).await.unwrap();
    assert_eq!((after.mined, after.waiting), (before.mined + 8, 0), "every send mined, nothing stuck");
}
