//! A wallet-like client pointed at the guard's JSON-RPC proxy.

use super::world::*;
use agora_guard::{
    Level, SimulatorKind,
    proxy::{self, NOT_CHECKED, ProxyConfig, USER_REJECTED},
};
use alloy::{primitives::U256, providers::Provider, sol_types::SolCall};
use serde_json::{Value, json};

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn rpc(client: &reqwest::Client, url: &str, body: Value) -> Value {
    client.post(url).json(&body).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_gets_refusals_with_the_verdict_and_ordinary_traffic_passes_untouched() {
    let w = World::start().await;
    let config = ProxyConfig {
        upstream: w.url(),
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(w.guard(SimulatorKind::Revm), config.clone())).await;
    let client = reqwest::Client::new();

    // Ordinary traffic: the same answers as the node gives.
    for (method, params) in [
        ("eth_chainId", json!([])),
        ("eth_blockNumber", json!([])),
        ("eth_getBalance", json!([w.contact, "latest"])),
        (
            "eth_call",
            json!([{"to": w.mock, "data": format!("0x{}", alloy::primitives::hex::encode(MockToken::symbolCall {}.abi_encode()))}, "latest"]),
        ),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let direct = rpc(&client, &w.url(), body.clone()).await;
        let proxied = rpc(&client, &url, body).await;
        assert_eq!(proxied, direct, "{method}");
    }

    // An unlimited approval to the attacker is refused with 4001 and the verdict in error.data.
    let u = w.fresh_user().await;
    let tx = w.tx(
        &u,
        w.mock,
        MockToken::approveCall { spender: w.attacker.address(), value: U256::MAX }.abi_encode(),
    );
    let answer = rpc(
        &client,
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}),
    )
    .await;
    assert_eq!(answer["error"]["code"], json!(USER_REJECTED), "{answer}");
    assert!(
        answer["error"]["message"].as_str().unwrap().starts_with("agora guard refused this request"),
        "{answer}"
    );
    let data = &answer["error"]["data"];
    assert_eq!(data["level"], json!("high"));
    let ids: Vec<&str> =
        data["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"G01") && ids.contains(&"G02"), "{data}");
    for f in data["findings"].as_array().unwrap() {
        assert!(f["title"].is_string() && f["evidence"].is_array() && f["level"].is_string(), "{f}");
    }

    // A harmless transfer from an account the node holds is checked and forwarded: a real hash.
    let benign = json!({"from": w.contact, "to": w.second, "value": "0x1"});
    let answer = rpc(
        &client,
        &url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "eth_sendTransaction", "params": [benign]}),
    )
    .await;
    assert!(answer["result"].as_str().is_some_and(|h| h.len() == 66), "{answer}");
    // The send is remembered: the recipient is now part of the user's history.
    let history = agora_guard::lists::UserLists::load(&w.store).unwrap().history;
    assert_eq!(history.get(&w.second), Some(&1), "{history:?}");

    // A batch mixing both: each answered on its own, in order.
    let answer = rpc(
        &client,
        &url,
        json!([
            {"jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 4, "method": "eth_sign", "params": [u.address(), format!("0x{}", "ab".repeat(32))]},
        ]),
    )
    .await;
    assert_eq!(answer[0]["result"], json!("0x7a69"));
    assert_eq!(answer[1]["error"]["code"], json!(USER_REJECTED));

    // Malformed params are refused as invalid, not forwarded.
    let answer = rpc(&client, &url, json!({"jsonrpc": "2.0", "id": 5, "method": "eth_signTypedData_v4", "params": [u.address(), "{oops"]})).await;
    assert_eq!(answer["error"]["code"], json!(proxy::INVALID_PARAMS), "{answer}");

    // A node that goes away: nothing is forwarded unchecked.
    let dead = ProxyConfig { upstream: "http://127.0.0.1:9".into(), ..config };
    let dead_guard = agora_guard::Guard::new(
        alloy::providers::ProviderBuilder::new().connect_http("http://127.0.0.1:9".parse().unwrap()).erased(),
        w.data.clone(),
        None,
        agora_guard::GuardOptions::default(),
    );
    let url = serve(proxy::router(dead_guard, dead)).await;
    let answer = rpc(
        &client,
        &url,
        json!({"jsonrpc": "2.0", "id": 6, "method": "eth_sendTransaction", "params": [benign]}),
    )
    .await;
    assert_eq!(answer["error"]["code"], json!(NOT_CHECKED), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("--allow-unchecked"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stalls_mid_analysis_fails_the_check_and_nothing_is_forwarded() {
    let w = World::start().await;
    // A relay to anvil that answers the first requests and then stops answering (a node that
    // hangs in the middle of an analysis).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = format!("http://{}", listener.local_addr().unwrap());
    let upstream = w.url();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let upstream = upstream.clone();
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 3 {
                    std::future::pending::<()>().await;
                }
                let answer = reqwest::Client::new()
                    .post(&upstream)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                ([(axum::http::header::CONTENT_TYPE, "application/json")], answer)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let provider = alloy::providers::ProviderBuilder::new().connect_http(relay.parse().unwrap()).erased();
    let options =
        agora_guard::GuardOptions { deadline: std::time::Duration::from_secs(2), ..Default::default() };
    let guard = agora_guard::Guard::new(provider, w.data.clone(), None, options);
    let config = ProxyConfig {
        upstream: relay,
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(guard, config)).await;
    let u = w.fresh_user().await;
    let tx = w.tx(&u, w.mock, MockToken::transferCall { to: w.contact, value: U256::from(1u8) }.abi_encode());
    let started = std::time::Instant::now();
    let answer = rpc(
        &reqwest::Client::new(),
        &url,
        json!({"jsonrpc": "2.0", "id": 9, "method": "eth_sendTransaction", "params": [tx]}),
    )
    .await;
    assert_eq!(answer["error"]["code"], json!(NOT_CHECKED), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("did not finish within 2 s"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 3, "the relay answered the first reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_confirm_the_user_decides_after_seeing_the_report() {
    let w = World::start().await;
    let config = ProxyConfig {
        upstream: w.url(),
        block_level: Level::High,
        confirm: true,
        allow_unchecked: false,
        explain: None,
    };
    let client = reqwest::Client::new();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    // The user first refuses, then accepts, the same unlimited approval after reading the report.
    for (answer, expect_forwarded) in [(false, false), (true, true)] {
        let log = seen.clone();
        let asker: proxy::Asker = std::sync::Arc::new(move |verdict: agora_guard::Verdict| {
            log.lock().unwrap().push(verdict.report());
            answer
        });
        let url = serve(proxy::router_with_asker(w.guard(SimulatorKind::Revm), config.clone(), asker)).await;
        let tx = json!({"from": w.contact, "to": w.mock, "data": alloy::primitives::Bytes::from(MockToken::approveCall { spender: w.attacker.address(), value: U256::MAX }.abi_encode())});
        let reply = rpc(
            &client,
            &url,
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}),
        )
        .await;
        if expect_forwarded {
            assert!(reply["result"].as_str().is_some_and(|h| h.len() == 66), "{reply}");
        } else {
            assert_eq!(reply["error"]["code"], json!(USER_REJECTED), "{reply}");
        }
    }
    let reports = seen.lock().unwrap();
    assert_eq!(reports.len(), 2);
    assert!(
        reports[0].starts_with("verdict: HIGH") && reports[0].contains("G01 Unlimited approval"),
        "{}",
        reports[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viem_wallet_gets_a_user_rejected_error_with_the_verdict() {
    let modules =
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/npm/node_modules"));
    assert!(modules.join("viem").is_dir(), "run `make setup` first");
    let w = World::start().await;
    let config = ProxyConfig {
        upstream: w.url(),
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(w.guard(SimulatorKind::Revm), config)).await;
    let out = tokio::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/viem_wallet.js"))
        .args([
            url,
            w.contact.to_string(),
            w.mock.to_string(),
            w.attacker.address().to_string(),
            w.second.to_string(),
        ])
        .env("NODE_PATH", &modules)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["chainId"], 31337, "{got}");
    assert_eq!(got["symbol"], "MOCK", "{got}");
    let refusal = &got["refusal"];
    assert_eq!(refusal["name"], "UserRejectedRequestError", "{got}");
    assert_eq!(refusal["code"], 4001, "{got}");
    assert!(refusal["details"].as_str().unwrap().contains("agora guard refused this request"), "{got}");
    assert_eq!(refusal["verdict"]["level"], "high", "{got}");
    assert!(refusal["verdict"]["findings"].as_array().unwrap().iter().any(|f| f["id"] == "G01"), "{got}");
    assert!(got["sent"].as_str().is_some_and(|h| h.len() == 66), "{got}");
}

/// What the proxy must do with a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Read-only: forwarded unchanged.
    Forward,
    /// Signs or sends: analysed, and a drainer is refused with 4001.
    Check,
    /// Anything else: refused without reaching the node.
    Refuse,
}

use Expect::{Check, Forward, Refuse};

/// Every method of the Ethereum JSON-RPC specification (ethereum/execution-apis at 033ca6e:
/// `src/eth`, `src/debug`, `src/engine`, `src/txpool`, `src/testing`), the legacy methods nodes
/// still serve, the wallet methods of EIP-1102, EIP-1193, EIP-3085, EIP-2255, EIP-747, EIP-5792,
/// ERC-7715 and ERC-7846, the signing methods wallets and libraries send, and the development and
/// administration namespaces, each with what the guard's proxy must do with it.
const METHODS: &[(&str, Expect)] = &[
    // execution-apis: eth
    ("eth_accounts", Forward),
    ("eth_baseFee", Forward),
    ("eth_blobBaseFee", Forward),
    ("eth_blockNumber", Forward),
    ("eth_call", Forward),
    ("eth_capabilities", Forward),
    ("eth_chainId", Forward),
    ("eth_coinbase", Forward),
    ("eth_config", Forward),
    ("eth_createAccessList", Forward),
    ("eth_estimateGas", Forward),
    ("eth_feeHistory", Forward),
    ("eth_fillTransaction", Forward),
    ("eth_gasPrice", Forward),
    ("eth_getBalance", Forward),
    ("eth_getBlockAccessList", Forward),
    ("eth_getBlockByHash", Forward),
    ("eth_getBlockByNumber", Forward),
    ("eth_getBlockReceipts", Forward),
    ("eth_getBlockTransactionCountByHash", Forward),
    ("eth_getBlockTransactionCountByNumber", Forward),
    ("eth_getCode", Forward),
    ("eth_getFilterChanges", Forward),
    ("eth_getFilterLogs", Forward),
    ("eth_getLogs", Forward),
    ("eth_getProof", Forward),
    ("eth_getStorageAt", Forward),
    ("eth_getStorageValues", Forward),
    ("eth_getTransactionByBlockHashAndIndex", Forward),
    ("eth_getTransactionByBlockNumberAndIndex", Forward),
    ("eth_getTransactionByHash", Forward),
    ("eth_getTransactionCount", Forward),
    ("eth_getTransactionReceipt", Forward),
    ("eth_maxPriorityFeePerGas", Forward),
    ("eth_newBlockFilter", Forward),
    ("eth_newFilter", Forward),
    ("eth_newPendingTransactionFilter", Forward),
    ("eth_sendRawTransaction", Check),
    ("eth_sendTransaction", Check),
    ("eth_sign", Check),
    ("eth_signTransaction", Check),
    ("eth_simulateV1", Forward),
    ("eth_syncing", Forward),
    ("eth_uninstallFilter", Forward),
    ("net_version", Forward),
    // execution-apis: debug, txpool, testing, engine
    ("debug_getBadBlocks", Forward),
    ("debug_getRawBlock", Forward),
    ("debug_getRawBlockAccessList", Forward),
    ("debug_getRawHeader", Forward),
    ("debug_getRawReceipts", Forward),
    ("debug_getRawTransaction", Forward),
    ("debug_traceBlockByHash", Forward),
    ("debug_traceBlockByNumber", Forward),
    ("debug_traceTransaction", Forward),
    ("txpool_content", Forward),
    ("txpool_contentFrom", Forward),
    ("txpool_status", Forward),
    ("testing_buildBlockV1", Refuse),
    ("engine_exchangeCapabilities", Refuse),
    ("engine_exchangeTransitionConfigurationV1", Refuse),
    ("engine_forkchoiceUpdatedV1", Refuse),
    ("engine_forkchoiceUpdatedV2", Refuse),
    ("engine_forkchoiceUpdatedV3", Refuse),
    ("engine_forkchoiceUpdatedV4", Refuse),
    ("engine_forkchoiceUpdatedV5", Refuse),
    ("engine_getBlobsV1", Refuse),
    ("engine_getBlobsV2", Refuse),
    ("engine_getBlobsV3", Refuse),
    ("engine_getBlobsV4", Refuse),
    ("engine_getInclusionListV1", Refuse),
    ("engine_getPayloadBodiesByHashV1", Refuse),
    ("engine_getPayloadBodiesByHashV2", Refuse),
    ("engine_getPayloadBodiesByRangeV1", Refuse),
    ("engine_getPayloadBodiesByRangeV2", Refuse),
    ("engine_getPayloadV1", Refuse),
    ("engine_getPayloadV2", Refuse),
    ("engine_getPayloadV3", Refuse),
    ("engine_getPayloadV4", Refuse),
    ("engine_getPayloadV5", Refuse),
    ("engine_getPayloadV6", Refuse),
    ("engine_newPayloadV1", Refuse),
    ("engine_newPayloadV2", Refuse),
    ("engine_newPayloadV3", Refuse),
    ("engine_newPayloadV4", Refuse),
    ("engine_newPayloadV5", Refuse),
    ("engine_newPayloadV6", Refuse),
    // Legacy reads nodes still serve, subscriptions, tracing.
    ("eth_getUncleByBlockHashAndIndex", Forward),
    ("eth_getUncleByBlockNumberAndIndex", Forward),
    ("eth_getUncleCountByBlockHash", Forward),
    ("eth_getUncleCountByBlockNumber", Forward),
    ("eth_protocolVersion", Forward),
    ("eth_mining", Forward),
    ("eth_hashrate", Forward),
    ("net_listening", Forward),
    ("net_peerCount", Forward),
    ("web3_clientVersion", Forward),
    ("web3_sha3", Forward),
    ("eth_subscribe", Forward),
    ("eth_unsubscribe", Forward),
    ("debug_traceCall", Forward),
    ("txpool_inspect", Forward),
    ("eth_getWork", Refuse),
    ("eth_submitWork", Refuse),
    ("eth_submitHashrate", Refuse),
    ("eth_getHeaderByNumber", Refuse),
    ("trace_call", Refuse),
    ("ots_getApiLevel", Refuse),
    // Signing and sending, in every spelling.
    ("eth_sendTransactionSync", Check),
    ("eth_sendRawTransactionSync", Check),
    ("eth_sendUnsignedTransaction", Check),
    ("personal_sendTransaction", Check),
    ("personal_signTransaction", Check),
    ("personal_sign", Check),
    ("eth_signTypedData", Check),
    ("eth_signTypedData_v3", Check),
    ("eth_signTypedData_v4", Check),
    ("wallet_sendCalls", Check),
    ("eth_signTypedData_v1", Refuse),
    ("eth_sendBundle", Refuse),
    ("eth_callBundle", Refuse),
    ("eth_sendPrivateTransaction", Refuse),
    ("eth_sendPrivateRawTransaction", Refuse),
    ("eth_cancelPrivateTransaction", Refuse),
    ("eth_sendUserOperation", Refuse),
    ("eth_estimateUserOperationGas", Refuse),
    // Keys and decryption.
    ("personal_unlockAccount", Refuse),
    ("personal_lockAccount", Refuse),
    ("personal_importRawKey", Refuse),
    ("personal_newAccount", Refuse),
    ("personal_listAccounts", Refuse),
    ("personal_ecRecover", Refuse),
    ("eth_decrypt", Refuse),
    ("eth_getEncryptionPublicKey", Refuse),
    // Wallet methods.
    ("eth_requestAccounts", Forward),
    ("wallet_getCapabilities", Forward),
    ("wallet_getCallsStatus", Forward),
    ("wallet_showCallsStatus", Refuse),
    ("wallet_addEthereumChain", Refuse),
    ("wallet_switchEthereumChain", Refuse),
    ("wallet_watchAsset", Refuse),
    ("wallet_requestPermissions", Refuse),
    ("wallet_getPermissions", Refuse),
    ("wallet_revokePermissions", Refuse),
    ("wallet_registerOnboarding", Refuse),
    ("wallet_scanQRCode", Refuse),
    ("wallet_grantPermissions", Refuse),
    ("wallet_prepareCalls", Refuse),
    ("wallet_sendPreparedCalls", Refuse),
    ("wallet_connect", Refuse),
    ("wallet_disconnect", Refuse),
    // Development nodes and administration.
    ("anvil_setBalance", Refuse),
    ("anvil_setCode", Refuse),
    ("anvil_setStorageAt", Refuse),
    ("anvil_setNonce", Refuse),
    ("anvil_impersonateAccount", Refuse),
    ("anvil_autoImpersonateAccount", Refuse),
    ("anvil_mine", Refuse),
    ("anvil_reset", Refuse),
    ("anvil_dumpState", Refuse),
    ("anvil_loadState", Refuse),
    ("anvil_setCoinbase", Refuse),
    ("anvil_nodeInfo", Refuse),
    ("hardhat_setBalance", Refuse),
    ("hardhat_setCode", Refuse),
    ("hardhat_impersonateAccount", Refuse),
    ("evm_mine", Refuse),
    ("evm_snapshot", Refuse),
    ("evm_revert", Refuse),
    ("evm_increaseTime", Refuse),
    ("evm_setNextBlockTimestamp", Refuse),
    ("debug_setHead", Refuse),
    ("admin_addPeer", Refuse),
    ("admin_nodeInfo", Refuse),
    ("miner_start", Refuse),
    ("miner_setEtherbase", Refuse),
    ("clique_propose", Refuse),
];

/// Read-only methods whose answer changes from one call to the next (a new filter id each time).
const FRESH_EACH_CALL: &[&str] = &["eth_newBlockFilter", "eth_newPendingTransactionFilter"];

fn guard_refusal(answer: &Value) -> bool {
    answer["error"]["message"].as_str().is_some_and(|m| m.starts_with("agora guard"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_is_forwarded_read_only_checked_or_refused_and_no_spelling_lets_a_drainer_through() {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEnvelope},
        eips::Encodable2718,
        primitives::{Bytes, TxKind, hex},
        signers::SignerSync,
    };
    let w = World::start().await;
    let config = ProxyConfig {
        upstream: w.url(),
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(w.guard(SimulatorKind::Revm), config)).await;
    let client = reqwest::Client::new();
    let attacker = w.attacker.address();

    // The drainer, in every form a signing method takes: an unlimited approval to the attacker's
    // personal account (from an account the node holds, and signed by a fresh user), a permit of
    // everything to it, a blind signature.
    let approve = MockToken::approveCall { spender: attacker, value: U256::MAX }.abi_encode();
    let tx = w.tx_value(&w.net.wallet(3), w.mock, approve.clone(), 0);
    let user = w.fresh_user().await;
    let signed = TxEip1559 {
        chain_id: 31337,
        nonce: 0,
        gas_limit: 100_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(w.mock),
        value: U256::ZERO,
        access_list: Default::default(),
        input: approve.clone().into(),
    };
    let sig = user.sign_hash_sync(&signed.signature_hash()).unwrap();
    let raw = Bytes::from(TxEnvelope::from(signed.into_signed(sig)).encoded_2718());
    let permit = json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "Permit": [{"name":"owner","type":"address"},{"name":"spender","type":"address"},{"name":"value","type":"uint256"},{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}]
        },
        "primaryType": "Permit",
        "domain": {"name": "Mock", "version": "1", "chainId": 31337, "verifyingContract": w.mock},
        "message": {"owner": w.contact, "spender": attacker, "value": U256::MAX.to_string(), "nonce": "0", "deadline": U256::MAX.to_string()}
    });
    let drainer = |method: &str| -> Value {
        match method {
            "eth_sendRawTransaction" | "eth_sendRawTransactionSync" => json!([raw]),
            "personal_sendTransaction" | "personal_signTransaction" => json!([tx, ""]),
            "wallet_sendCalls" => json!([{
                "version": "2.0.0", "from": w.contact, "chainId": "0x7a69", "atomicRequired": true,
                "calls": [{"to": w.mock, "data": Bytes::from(approve.clone())}]
            }]),
            "eth_signTypedData" | "eth_signTypedData_v3" => json!([w.contact, permit.to_string()]),
            "eth_signTypedData_v4" => json!([w.contact, permit]),
            "personal_sign" => json!([format!("0x{}", hex::encode([0xa5u8; 32])), w.contact]),
            "eth_sign" => json!([w.contact, format!("0x{}", "ab".repeat(32))]),
            _ => json!([tx]),
        }
    };
    // Meaningful reads where the method needs params; the rest go with none, and whatever the
    // node answers (a result or its own error) must come back unchanged.
    let symbol = format!("0x{}", hex::encode(MockToken::symbolCall {}.abi_encode()));
    let read_params = |method: &str| -> Value {
        match method {
            "eth_getBalance" | "eth_getTransactionCount" => json!([w.contact, "latest"]),
            "eth_getCode" => json!([w.mock, "latest"]),
            "eth_getStorageAt" => json!([w.mock, "0x2", "latest"]),
            "eth_call" | "eth_createAccessList" => json!([{"to": w.mock, "data": symbol}, "latest"]),
            "eth_estimateGas" => json!([{"from": w.contact, "to": w.second, "value": "0x1"}]),
            "eth_getBlockByNumber" => json!(["latest", false]),
            "eth_getBlockReceipts" | "eth_getBlockTransactionCountByNumber" => json!(["latest"]),
            "eth_getLogs" => json!([{"fromBlock": "0x0", "toBlock": "latest", "address": w.mock}]),
            "eth_feeHistory" => json!(["0x4", "latest", [25, 75]]),
            "web3_sha3" => json!(["0x68656c6c6f"]),
            _ => json!([]),
        }
    };

    let mut seen = std::collections::BTreeSet::new();
    for (i, (method, expect)) in METHODS.iter().enumerate() {
        assert!(seen.insert(*method), "{method} is listed twice");
        let policy = agora_guard::request::policy(method);
        let id = 1000 + i;
        match expect {
            Forward => {
                assert_eq!(policy, agora_guard::request::MethodPolicy::ReadOnly, "{method}");
                let body =
                    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": read_params(method)});
                let direct = rpc(&client, &w.url(), body.clone()).await;
                let proxied = rpc(&client, &url, body).await;
                assert!(!guard_refusal(&proxied), "{method} must reach the node: {proxied}");
                if FRESH_EACH_CALL.contains(method) {
                    assert!(proxied["result"].is_string(), "{method}: {proxied}");
                } else {
                    assert_eq!(proxied, direct, "{method} must pass through unchanged");
                }
            }
            Check => {
                assert_eq!(policy, agora_guard::request::MethodPolicy::Checked, "{method}");
                let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": drainer(method)});
                let answer = rpc(&client, &url, body).await;
                assert_eq!(
                    answer["error"]["code"],
                    json!(USER_REJECTED),
                    "{method} let a drainer through: {answer}"
                );
                assert_eq!(answer["error"]["data"]["method"], json!(method), "{answer}");
                let level: Level = answer["error"]["data"]["level"].as_str().unwrap().parse().unwrap();
                assert!(level >= Level::High, "{method}: {answer}");
            }
            Refuse => {
                assert_eq!(policy, agora_guard::request::MethodPolicy::Refused, "{method}");
                let params = if *method == "anvil_setBalance" {
                    json!([attacker, "0xffffffffffffffffffffffffffff"])
                } else {
                    json!([])
                };
                let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
                let answer = rpc(&client, &url, body).await;
                assert_eq!(answer["error"]["code"], json!(proxy::METHOD_REFUSED), "{method}: {answer}");
                assert_eq!(answer["id"], json!(id), "{answer}");
                assert_eq!(answer["error"]["data"]["method"], json!(method), "{answer}");
                let message = answer["error"]["message"].as_str().unwrap();
                assert!(message.contains("not on the guard's allow list"), "{message}");
            }
        }
    }

    // The five spellings that used to pass unchecked, together in one batch with a read and a
    // dev method: each element is judged on its own, in order.
    let five = [
        "eth_sendTransactionSync",
        "eth_sendRawTransactionSync",
        "eth_sendUnsignedTransaction",
        "eth_signTransaction",
        "eth_signTypedData_v3",
    ];
    let mut batch = vec![json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})];
    for (i, method) in five.iter().enumerate() {
        batch.push(json!({"jsonrpc": "2.0", "id": 10 + i, "method": method, "params": drainer(method)}));
    }
    batch
        .push(json!({"jsonrpc": "2.0", "id": 99, "method": "anvil_setBalance", "params": [attacker, "0x1"]}));
    let answers = rpc(&client, &url, Value::Array(batch)).await;
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 7, "{answers:?}");
    assert_eq!(answers[0]["result"], json!("0x7a69"));
    for (i, method) in five.iter().enumerate() {
        let answer = &answers[i + 1];
        assert_eq!(answer["id"], json!(10 + i), "{answer}");
        assert_eq!(answer["error"]["code"], json!(USER_REJECTED), "{method} in a batch: {answer}");
    }
    assert_eq!(answers[6]["error"]["code"], json!(proxy::METHOD_REFUSED), "{}", answers[6]);

    // Nothing reached the chain: no allowance, no transaction from the user, no free ETH.
    let token = MockToken::new(w.mock, &w.provider);
    assert_eq!(token.allowance(w.contact, attacker).call().await.unwrap(), U256::ZERO);
    assert_eq!(token.allowance(user.address(), attacker).call().await.unwrap(), U256::ZERO);
    assert_eq!(w.provider.get_transaction_count(user.address()).await.unwrap(), 0);
    assert!(w.provider.get_balance(attacker).await.unwrap() < U256::from(1u128 << 100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_answers_html_gets_a_json_rpc_error_not_html_labelled_json() {
    // A node behind a reverse proxy that fails: 502 with an HTML page.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|| async {
            (
                axum::http::StatusCode::BAD_GATEWAY,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>",
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let provider = alloy::providers::ProviderBuilder::new().connect_http(upstream.parse().unwrap()).erased();
    let guard = agora_guard::Guard::new(
        provider,
        agora_guard::GuardData::embedded().unwrap(),
        None,
        agora_guard::GuardOptions::default(),
    );
    let config = ProxyConfig {
        upstream,
        block_level: Level::High,
        confirm: false,
        allow_unchecked: false,
        explain: None,
    };
    let url = serve(proxy::router(guard, config)).await;
    let client = reqwest::Client::new();
    for body in [
        json!({"jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": []}),
        json!([
            {"jsonrpc": "2.0", "id": 4, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 5, "method": "eth_blockNumber", "params": []},
        ]),
    ] {
        let response = client.post(&url).json(&body).send().await.unwrap();
        assert_eq!(response.headers()[reqwest::header::CONTENT_TYPE], "application/json");
        let text = response.text().await.unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        let errors: Vec<&Value> = match &answer {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        assert_eq!(errors.len(), if body.is_array() { 2 } else { 1 }, "{answer}");
        for (error, request) in
            errors.iter().zip(body.as_array().cloned().unwrap_or_else(|| vec![body.clone()]))
        {
            assert_eq!(error["id"], request["id"], "{answer}");
            assert_eq!(error["error"]["code"], json!(proxy::UPSTREAM_FAILED), "{answer}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains("text/html") && message.contains("502"), "{message}");
        }
    }
}
