//! An agora node as the x402 facilitator of the official `@x402/express` server (npm
//! `@x402/express`, `@x402/evm` 2.27.0, unchanged): the server takes its `/supported` kinds,
//! has it verify and settle `exact`, `upto` and `batch-settlement` payments of the official
//! clients, refund what a channel keeps unspent, and claim and settle the channels' vouchers;
//! the server's payee ends up with exactly what was charged.

use super::{
    failing, free_port, start_provider,
    x402::{ReferenceServer, dollars_of, driver, funded_key, give_gas, key_hex},
};
use serde_json::Value;

/// The price of one call of the reference route (atomic units: a tenth of a cent).
const PRICE: u128 = 1_000;
/// The calls bought over the channel.
const BATCH_CALLS: u128 = 10;

/// Runs a client driver and returns its JSON report.
fn run_client(server: &ReferenceServer, mut cmd: std::process::Command) -> Value {
    let out = cmd.output().expect("node (run `make setup`)");
    assert!(out.status.success(), "{}\nserver: {}", failing(out), server.log());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_official_express_server_is_paid_in_all_three_schemes_through_an_agora_facilitator() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_provider(&dir.path().join("node"), free_port, "2");
    let rpc = format!("http://127.0.0.1:{}", node.devnet_port);
    let token = node.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    let node_key = agora_node::node_key::load_or_create(&dir.path().join("node")).unwrap();
    let pay_to = alloy::signers::local::PrivateKeySigner::random().address();
    let facilitator = format!("http://127.0.0.1:{}/x402", node.api_port);
    let server = ReferenceServer::start(&[
        ("FACILITATOR_URL", &facilitator),
        ("SCHEMES", "exact,upto,batch-settlement"),
        ("PRICE", &PRICE.to_string()),
        ("ASSET", &token),
        ("PAY_TO", &pay_to.to_checksum(None)),
        ("RPC_URL", &rpc),
    ]);
    let url = format!("{}/paid", server.url);

    // The server took the node's kinds: the node settles upto and authorizes the channels' claims.
    let supported = server.get("/admin/supported");
    let node_address = node_key.address().to_checksum(None);
    let kind = |scheme: &str| {
        supported["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["scheme"] == scheme && k["x402Version"] == 2)
            .cloned()
    };
    assert_eq!(kind("upto").unwrap()["extra"]["facilitatorAddress"], node_address, "{supported}");
    assert_eq!(kind("batch-settlement").unwrap()["extra"]["receiverAuthorizer"], node_address, "{supported}");

    // exact: one EIP-3009 transfer of the price, sent by the node.
    let buyer = funded_key(&rpc, &token);
    let mut exact = driver("x402_client.js");
    exact.args([url.as_str(), key_hex(&buyer).as_str(), token.as_str()]);
    let report = run_client(&server, exact);
    assert_eq!(report["status"], 200, "{report}\nserver: {}", server.log());
    assert_eq!(report["body"]["scheme"], "exact");
    assert_eq!(report["paymentResponse"]["amount"], PRICE.to_string());
    assert!(report["paymentResponse"]["transaction"].as_str().unwrap().starts_with("0x"), "{report}");
    assert_eq!(dollars_of(&rpc, &token, buyer.address()), 10_000_000 - PRICE);

    // upto: a Permit2 permit naming the node as facilitator; the server charges the price.
    let buyer = funded_key(&rpc, &token);
    // The upto client approves Permit2 itself, which costs gas: give the key some ETH.
    give_gas(&rpc, buyer.address());
    let mut upto = driver("x402_upto_client.js");
    upto.args([url.as_str(), key_hex(&buyer).as_str(), token.as_str(), rpc.as_str()]);
    let report = run_client(&server, upto);
    assert_eq!(report["status"], 200, "{report}\nserver: {}", server.log());
    assert_eq!(report["body"]["scheme"], "upto");
    assert_eq!(report["paymentResponse"]["amount"], PRICE.to_string(), "{report}");
    assert!(report["paymentResponse"]["transaction"].as_str().unwrap().starts_with("0x"), "{report}");
    assert_eq!(dollars_of(&rpc, &token, buyer.address()), 10_000_000 - PRICE);

    // batch-settlement: a deposit the node makes (the server asks for ten calls' worth), then
    // ten vouchers, left for the server to claim.
    let buyer = funded_key(&rpc, &token);
    let mut batch = driver("x402_batch_client.js");
    batch.args([
        url.as_str(),
        key_hex(&buyer).as_str(),
        token.as_str(),
        &BATCH_CALLS.to_string(),
        rpc.as_str(),
    ]);
    let report = run_client(&server, batch);
    assert_eq!(report["answered"], BATCH_CALLS as u64, "{report}\nserver: {}", server.log());
    let charged: u128 = report["chargedTotal"].as_str().unwrap().parse().unwrap();
    assert_eq!(charged, BATCH_CALLS * PRICE, "{report}");
    assert_eq!(report["deposits"].as_array().unwrap().len(), 1, "{report}");
    let deposited: u128 = report["lastChannelState"]["balance"].as_str().unwrap().parse().unwrap();
    assert_eq!(dollars_of(&rpc, &token, buyer.address()), 10_000_000 - deposited);

    // Another buyer's channel, three calls, then a cooperative refund of what it keeps beyond the
    // charges: the node claims the outstanding voucher, then refunds the rest.
    let refunder = funded_key(&rpc, &token);
    let mut batch = driver("x402_batch_client.js");
    batch
        .args([url.as_str(), key_hex(&refunder).as_str(), token.as_str(), "3", rpc.as_str()])
        .env("REFUND", "1");
    let report = run_client(&server, batch);
    assert_eq!(report["answered"], 3, "{report}\nserver: {}", server.log());
    let refunded_charge: u128 = report["chargedTotal"].as_str().unwrap().parse().unwrap();
    assert_eq!(refunded_charge, 3 * PRICE, "{report}");
    assert_ne!(
        report["refund"]["success"],
        false,
        "the refund went through: {report}\nserver: {}",
        server.log()
    );
    assert_eq!(dollars_of(&rpc, &token, refunder.address()), 10_000_000 - refunded_charge, "{report}");

    // The server claims what it holds and settles it to its payee through the node.
    let settled = server.post("/admin/settle");
    assert!(
        settled["settle"]["transaction"].as_str().is_some_and(|t| t.starts_with("0x")),
        "{settled}\nserver: {}",
        server.log()
    );
    assert_eq!(
        dollars_of(&rpc, &token, pay_to),
        PRICE + PRICE + charged + refunded_charge,
        "the payee holds exactly what was charged: {settled}"
    );
    // The node paid the gas and received nothing.
    assert_eq!(dollars_of(&rpc, &token, node_key.address()), 0);
}
