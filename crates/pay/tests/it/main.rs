//! The paywall and the payer against a real chain (anvil with the agora suite and the x402
//! contracts at their canonical addresses): a fixed-price route paid with `exact`, `upto` and a
//! `batch-settlement` channel, the refusals of bad payments, spending mandates, corrective 402s,
//! claims and the payer's timed exit.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use agora_contracts::bindings::DevStablecoin;
use agora_pay::{
    Mandate, PayError, Payer, PayerConfig, Paywall, PaywallConfig, Prefer,
    paywall::{FixedPrice, fixed_price},
    typed::{self, Authorization, BatchKind, BatchPayload, ChannelConfigJson, ExactPayload, VoucherJson},
    wire::{self, PaymentPayload, PaymentRequired, reason},
    x402::{self, IBatchSettlement},
};
use agora_store::Store;
use agora_testkit::TestNet;
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::{SignerSync, local::PrivateKeySigner},
};
use std::sync::Arc;

const PRICE: u128 = 1_000;
/// The shortest withdrawal delay the batch settlement contract takes.
const DELAY: u64 = 900;

struct Setup {
    net: TestNet,
    paywall: Paywall,
    url: String,
    provider: Address,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let net = TestNet::start().await;
    let provider_key = net.wallet(1);
    let provider = provider_key.address();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let config = PaywallConfig {
        chain_id: 31337,
        asset: net.stablecoin_address(),
        asset_name: "Agora Dev USD".into(),
        asset_version: "1".into(),
        pay_to: provider,
        exact: true,
        upto: true,
        batch: true,
        min_withdraw_delay: DELAY,
        max_timeout_seconds: 120,
        credits: None,
        claim_threshold: u128::MAX,
    };
    let paywall = Paywall::new(config, net.client_for(1).await, store);
    let price = FixedPrice { paywall: paywall.clone(), amount: PRICE, description: "a pong".into() };
    let app = axum::Router::new()
        .route("/ping", axum::routing::get(|| async { "pong" }))
        .route(
            "/fail",
            axum::routing::get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
        )
        .layer(axum::middleware::from_fn_with_state(price, fixed_price));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Setup { net, paywall, url, provider, _dir: dir }
}

/// A payer with a fresh key holding dUSD but no ETH, under a generous mandate.
async fn payer(net: &TestNet, prefer: Prefer) -> (Payer, Arc<Store>, tempfile::TempDir, PrivateKeySigner) {
    let key = PrivateKeySigner::random();
    faucet(net, key.address(), 1_000_000).await;
    let (payer, store, dir) = payer_with_key(key.clone(), prefer, 1_000_000, 10_000);
    (payer, store, dir, key)
}

/// A voucher payload on the channel of `config` (whose id is `channel`) up to `max`, signed by
/// `key`.
fn voucher_header(
    offer: &wire::PaymentRequirements,
    key: &PrivateKeySigner,
    config: &ChannelConfigJson,
    channel: B256,
    max: u128,
) -> String {
    let signature = typed::sign_voucher(key, &typed::batch_domain(31337), channel, max).unwrap();
    wire::encode_header(&PaymentPayload {
        x402_version: 2,
        resource: None,
        accepted: offer.clone(),
        payload: serde_json::to_value(BatchPayload {
            kind: BatchKind::Voucher,
            channel_config: *config,
            voucher: VoucherJson {
                channel_id: channel,
                max_claimable_amount: max.to_string(),
                signature: signature.as_bytes().into(),
            },
            deposit: None,
            amount: None,
        })
        .unwrap(),
        extensions: None,
    })
}

async fn channel_offer(url: &str) -> wire::PaymentRequirements {
    let (_, headers, _) = get(url, None).await;
    required_of(&headers).accepts.into_iter().find(|r| r.scheme == wire::SCHEME_BATCH).unwrap()
}

/// Moves the chain's clock past a channel's withdrawal delay.
async fn wait_out_the_delay(net: &TestNet) {
    let rpc = net.deployer().provider();
    let _: serde_json::Value = rpc.raw_request("evm_increaseTime".into(), (DELAY + 1,)).await.unwrap();
    let _: serde_json::Value = rpc.raw_request("evm_mine".into(), ()).await.unwrap();
}

fn payer_with_key(
    key: PrivateKeySigner,
    prefer: Prefer,
    budget: u128,
    per_call: u128,
) -> (Payer, Arc<Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    Mandate { name: "default".into(), budget, per_call, payees: vec![], expires_at: 0 }.save(&store).unwrap();
    let config =
        PayerConfig { mandate: "default".into(), prefer, channel_deposit: 50_000, expected_calls: 1 };
    (Payer::new(key, Arc::clone(&store), config), store, dir)
}

async fn faucet(net: &TestNet, to: Address, amount: u64) {
    DevStablecoin::new(net.stablecoin_address(), net.deployer().provider())
        .faucet(to, U256::from(amount))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
}

async fn balance(net: &TestNet, who: Address) -> U256 {
    DevStablecoin::new(net.stablecoin_address(), net.deployer().provider())
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

async fn get(
    url: &str,
    header: Option<(&str, String)>,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    (status, headers, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

fn required_of(headers: &reqwest::header::HeaderMap) -> PaymentRequired {
    wire::decode_header(headers.get("payment-required").expect("a PAYMENT-REQUIRED header").to_str().unwrap())
        .unwrap()
}

/// Signs an `exact` payment for `required`'s first (exact) offer, then lets `tamper` change it.
fn exact_header(
    key: &PrivateKeySigner,
    required: &PaymentRequired,
    tamper: impl FnOnce(&mut Authorization, &mut PaymentPayload),
) -> String {
    let offer = required.accepts.iter().find(|r| r.scheme == "exact").unwrap().clone();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut authorization = Authorization {
        from: key.address(),
        to: offer.pay_to.parse().unwrap(),
        value: U256::from(PRICE),
        valid_after: now - 600,
        valid_before: now + 120,
        nonce: B256::from(rand::random::<[u8; 32]>()),
    };
    let mut payload = PaymentPayload {
        x402_version: 2,
        resource: Some(required.resource.clone()),
        accepted: offer.clone(),
        payload: serde_json::Value::Null,
        extensions: None,
    };
    tamper(&mut authorization, &mut payload);
    let domain = typed::token_domain("Agora Dev USD", "1", 31337, offer.asset.parse().unwrap());
    let signature = key.sign_hash_sync(&authorization.transfer_digest(&domain)).unwrap();
    payload.payload = serde_json::to_value(ExactPayload {
        signature: signature.as_bytes().into(),
        authorization: authorization.to_json(),
    })
    .unwrap();
    wire::encode_header(&payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_pays_per_call_and_bad_payments_are_refused_with_a_reason() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);

    // No payment: 402 with the requirements in the v2 header.
    let (status, headers, body) = get(&url, None).await;
    assert_eq!(status, 402);
    let required = required_of(&headers);
    assert_eq!(required.x402_version, 2);
    let schemes: Vec<_> = required.accepts.iter().map(|r| r.scheme.as_str()).collect();
    assert_eq!(schemes, ["exact", "upto", "batch-settlement"]);
    assert_eq!(required.accepts[0].network, "eip155:31337");
    assert_eq!(required.accepts[0].amount, PRICE.to_string());
    assert_eq!(required.accepts[0].extra["name"], "Agora Dev USD");
    assert_eq!(body["error"]["code"], reason::PAYMENT_REQUIRED);

    let key = PrivateKeySigner::random();
    faucet(&s.net, key.address(), 100_000).await;
    let refused = |status: u16, body: &serde_json::Value, code: &str| {
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(status == 402 || status == 400, "status {status} for {code}");
    };
    // Malformed header: 400.
    let (status, _, body) = get(&url, Some(("payment-signature", "%%%not base64".into()))).await;
    assert_eq!(status, 400);
    refused(status, &body, reason::INVALID_PAYLOAD);
    let (status, _, body) =
        get(&url, Some(("payment-signature", wire::encode_header(&serde_json::json!({"x402Version": 2})))))
            .await;
    refused(status, &body, reason::INVALID_PAYLOAD);
    // A forged signature: signed by someone else in the payer's name.
    let forger = PrivateKeySigner::random();
    let forged = exact_header(&forger, &required, |a, _| a.from = key.address());
    let (status, _, body) = get(&url, Some(("payment-signature", forged))).await;
    refused(status, &body, reason::SIGNATURE);
    // Wrong recipient, amount, window, network, and an amount above what was asked.
    type Tamper = Box<dyn FnOnce(&mut Authorization, &mut PaymentPayload)>;
    let cases: Vec<(&str, Tamper)> = vec![
        (reason::RECIPIENT_MISMATCH, Box::new(|a, _| a.to = Address::repeat_byte(9))),
        (reason::VALUE_MISMATCH, Box::new(|a, _| a.value = U256::from(PRICE - 1))),
        (reason::VALID_BEFORE, Box::new(|a, _| a.valid_before = a.valid_after + 1)),
        (reason::INVALID_NETWORK, Box::new(|_, p| p.accepted.network = "eip155:1".into())),
        (reason::ABOVE_CEILING, Box::new(|_, p| p.accepted.amount = (PRICE * 10).to_string())),
        (reason::UNSUPPORTED_SCHEME, Box::new(|_, p| p.accepted.scheme = "deferred".into())),
    ];
    for (code, tamper) in cases {
        let header = exact_header(&key, &required, tamper);
        let (status, _, body) = get(&url, Some(("payment-signature", header))).await;
        refused(status, &body, code);
    }
    assert_eq!(balance(&s.net, s.provider).await, U256::from(10_000_000_000u64), "nothing was charged");

    // A good payment is served and settled on chain; the same header again is a replay.
    let good = exact_header(&key, &required, |_, _| {});
    let (status, headers, _) = get(&url, Some(("payment-signature", good.clone()))).await;
    assert_eq!(status, 200);
    let settle: wire::SettleResponse =
        wire::decode_header(headers.get("payment-response").unwrap().to_str().unwrap()).unwrap();
    assert!(settle.success && settle.transaction.starts_with("0x"), "{settle:?}");
    assert_eq!(balance(&s.net, key.address()).await, U256::from(100_000 - PRICE));
    let (status, _, body) = get(&url, Some(("payment-signature", good))).await;
    refused(status, &body, reason::NONCE_USED);
    // The v1 header is accepted too.
    let v1 = {
        let header = exact_header(&key, &required, |_, _| {});
        let payload: PaymentPayload = wire::decode_header(&header).unwrap();
        wire::encode_header(&serde_json::json!({
            "x402Version": 1, "scheme": "exact", "network": "eip155:31337", "payload": payload.payload
        }))
    };
    let (status, headers, _) = get(&url, Some(("x-payment", v1))).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-payment-response"));
    // A route that fails is not charged, and its nonce can be used again.
    let header = exact_header(&key, &required, |_, _| {});
    let (status, _, _) = get(&format!("{}/fail", s.url), Some(("payment-signature", header))).await;
    assert_eq!(status, 500);
    assert_eq!(balance(&s.net, key.address()).await, U256::from(100_000 - 2 * PRICE));
    assert_eq!(balance(&s.net, s.provider).await, U256::from(10_000_000_000u64 + 2 * PRICE as u64));

    // The payer library does all of this by itself, and records what it spent.
    let (payer, store, _dir, _) = payer(&s.net, Prefer::Exact).await;
    let response = payer.send(reqwest::Method::GET, &url, None).await.unwrap();
    assert_eq!((response.status, response.body.as_slice()), (200, b"pong".as_slice()));
    assert_eq!(Mandate::spent(&store, "default").unwrap(), PRICE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_pays_many_calls_and_settles_them_in_one_claim() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);
    let (payer, store, _dir, key) = payer(&s.net, Prefer::Channel).await;
    let provider_before = balance(&s.net, s.provider).await;
    // The payer has no ETH: the deposit is an EIP-3009 authorization the provider submits.
    assert_eq!(s.net.deployer().provider().get_balance(payer.address()).await.unwrap(), U256::ZERO);
    for _ in 0..20 {
        let response = payer.send(reqwest::Method::GET, &url, None).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.scheme.as_deref(), Some("batch-settlement"));
        assert_eq!(response.settlement.as_ref().unwrap().transaction, "", "vouchers settle off-chain");
    }
    let channels = payer.channels().unwrap();
    assert_eq!(channels.len(), 1);
    let channel = &channels[0];
    assert_eq!(channel.charged, 20 * PRICE);
    assert_eq!(channel.deposited, 50_000);
    assert_eq!(Mandate::spent(&store, "default").unwrap(), 20 * PRICE);

    // The provider's books, then one claim transaction.
    let state = s.paywall.ledger().unwrap().load(channel.id).unwrap().unwrap();
    assert_eq!((state.charged, state.calls, state.voucher_max), (20 * PRICE, 20, 20 * PRICE));
    let report = s.paywall.claim_due(true).await.unwrap();
    // One claim and one settlement to the receiver.
    assert_eq!((report.channels, report.amount, report.transactions.len()), (1, 20 * PRICE, 2));
    assert_eq!(balance(&s.net, s.provider).await, provider_before + U256::from(20 * PRICE));
    assert_eq!(balance(&s.net, payer.address()).await, U256::from(1_000_000 - 50_000));
    // Nothing more to claim.
    assert_eq!(s.paywall.claim_due(true).await.unwrap().channels, 0);

    // A payer that lost its state signs a voucher from zero: the corrective 402 carries the
    // provider's last voucher (ours), the payer resyncs and the call goes through.
    store
        .write(|tx| {
            tx.execute("UPDATE payer_channels SET charged = '0', acked_max = '0', signed_max = '0'", [])
        })
        .unwrap();
    let response = payer.send(reqwest::Method::GET, &url, None).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(payer.channels().unwrap()[0].charged, 21 * PRICE);

    // Two requests racing with the same voucher: one is served, the other refused, one charge.
    let offer = channel_offer(&url).await;
    let config = channel.config;
    let state = s.paywall.ledger().unwrap().load(channel.id).unwrap().unwrap();
    let max = state.charged + PRICE;
    // A voucher signed by another key is refused.
    let forged = voucher_header(&offer, &PrivateKeySigner::random(), &config, channel.id, max);
    let (status, _, body) = get(&url, Some(("payment-signature", forged))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::VOUCHER_SIGNATURE)));
    // A config that is not the channel's (another receiver authorizer) does not hash to its id.
    let other = ChannelConfigJson { receiver_authorizer: Address::repeat_byte(3), ..config };
    let (status, _, body) =
        get(&url, Some(("payment-signature", voucher_header(&offer, &key, &other, channel.id, max)))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::CHANNEL_ID_MISMATCH)));
    let header = voucher_header(&offer, &key, &config, channel.id, max);
    let (a, b) = tokio::join!(
        get(&url, Some(("payment-signature", header.clone()))),
        get(&url, Some(("payment-signature", header.clone())))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 402], "one served, one refused");
    let refused = if a.0 == 402 { a } else { b };
    assert_eq!(refused.2["error"]["code"], reason::CUMULATIVE_MISMATCH);
    let corrective = required_of(&refused.1);
    let extra = &corrective.accepts.iter().find(|r| r.scheme == wire::SCHEME_BATCH).unwrap().extra;
    assert_eq!(
        extra["channelState"]["chargedCumulativeAmount"],
        (22 * PRICE).to_string(),
        "the corrective 402 carries the state"
    );
    assert_eq!(extra["voucherState"]["signedMaxClaimable"], (22 * PRICE).to_string());
    let state = s.paywall.ledger().unwrap().load(channel.id).unwrap().unwrap();
    assert_eq!(state.charged, 22 * PRICE, "charged once");
    // The same voucher later is a replay; a voucher for more than this call is refused too.
    let (status, _, body) = get(&url, Some(("payment-signature", header))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::CUMULATIVE_MISMATCH)));
    let too_much = voucher_header(&offer, &key, &config, channel.id, 60_000);
    let (status, _, body) = get(&url, Some(("payment-signature", too_much))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::CUMULATIVE_MISMATCH)));
    // A channel never funded.
    let unfunded = ChannelConfigJson { salt: B256::repeat_byte(5), ..config };
    let unknown = voucher_header(&offer, &key, &unfunded, unfunded.id(31337), PRICE);
    let (status, _, body) = get(&url, Some(("payment-signature", unknown))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::UNKNOWN_CHANNEL)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandates_refuse_before_anything_is_signed() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);
    let key = PrivateKeySigner::random();
    faucet(&s.net, key.address(), 1_000_000).await;
    let nothing_spent = |store: &Store| {
        let rows: i64 =
            store.read(|c| c.query_row("SELECT COUNT(*) FROM payer_spend", [], |r| r.get(0))).unwrap();
        assert_eq!(rows, 0, "nothing was signed or recorded");
    };

    // Per-call cap below the price.
    let (payer, store, _d1) = payer_with_key(key.clone(), Prefer::Exact, 1_000_000, PRICE - 1);
    let err = payer.send(reqwest::Method::GET, &url, None).await.unwrap_err();
    assert!(matches!(err, PayError::Mandate { .. }), "{err}");
    assert!(err.to_string().contains("per-call cap"), "{err}");
    nothing_spent(&store);

    // Payee not on the allow-list; expired; over budget.
    let (payer, store, _d2) = payer_with_key(key.clone(), Prefer::Exact, 1_000_000, 10_000);
    Mandate {
        name: "default".into(),
        budget: 1_000_000,
        per_call: 10_000,
        payees: vec![Address::repeat_byte(1)],
        expires_at: 0,
    }
    .save(&store)
    .unwrap();
    let err = payer.send(reqwest::Method::GET, &url, None).await.unwrap_err();
    assert!(err.to_string().contains("allow-list"), "{err}");
    Mandate {
        name: "default".into(),
        budget: 1_000_000,
        per_call: 10_000,
        payees: vec![s.provider],
        expires_at: 1,
    }
    .save(&store)
    .unwrap();
    let err = payer.send(reqwest::Method::GET, &url, None).await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    nothing_spent(&store);
    Mandate {
        name: "default".into(),
        budget: 2 * PRICE,
        per_call: 10_000,
        payees: vec![s.provider],
        expires_at: 0,
    }
    .save(&store)
    .unwrap();
    for _ in 0..2 {
        assert_eq!(payer.send(reqwest::Method::GET, &url, None).await.unwrap().status, 200);
    }
    let err = payer.send(reqwest::Method::GET, &url, None).await.unwrap_err();
    assert!(err.to_string().contains("exceeds the budget"), "{err}");
    assert_eq!(Mandate::spent(&store, "default").unwrap(), 2 * PRICE);

    // No mandate at all.
    let dir = tempfile::tempdir().unwrap();
    let bare = Payer::new(
        key,
        Arc::new(Store::open_in(dir.path()).unwrap()),
        PayerConfig {
            mandate: "default".into(),
            prefer: Prefer::Exact,
            channel_deposit: 10_000,
            expected_calls: 1,
        },
    );
    let err = bare.send(reqwest::Method::GET, &url, None).await.unwrap_err();
    assert!(matches!(err, PayError::NoMandate(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_channel_is_claimed_before_the_payer_takes_the_rest() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);
    let (payer, _store, _dir, key) = payer(&s.net, Prefer::Channel).await;
    for _ in 0..5 {
        assert_eq!(payer.send(reqwest::Method::GET, &url, None).await.unwrap().status, 200);
    }
    let channel = payer.channels().unwrap()[0].clone();
    let id = channel.id;
    let provider_before = balance(&s.net, s.provider).await;
    assert_eq!(s.paywall.watch_withdrawals().await.unwrap(), 0, "no withdrawal yet");
    assert_eq!(s.paywall.claim_due(false).await.unwrap().channels, 0, "below the threshold: nothing due");

    // The payer starts its exit (the one transaction it pays gas for).
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(key.address())
        .value(U256::from(10u64).pow(U256::from(17)));
    s.net.deployer().provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    let as_payer = agora_chain::ChainClient::connect(&s.net.rpc_url(), Some(key.clone())).await.unwrap();
    let channels = IBatchSettlement::new(x402::BATCH_SETTLEMENT, as_payer.provider());
    let sol_config: IBatchSettlement::ChannelConfig = channel.config.to_sol().into();
    channels.initiateWithdraw(sol_config.clone(), 50_000).send().await.unwrap().get_receipt().await.unwrap();

    // The provider notices, refuses new vouchers on it, and claims before the delay ends.
    assert_eq!(s.paywall.watch_withdrawals().await.unwrap(), 1);
    let offer = channel_offer(&url).await;
    let next = voucher_header(&offer, &key, &channel.config, id, 6 * PRICE);
    let (status, _, body) = get(&url, Some(("payment-signature", next))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::CHANNEL_CLOSING)));
    let report = s.paywall.claim_due(false).await.unwrap();
    assert_eq!((report.channels, report.amount), (1, 5 * PRICE));
    assert_eq!(balance(&s.net, s.provider).await, provider_before + U256::from(5 * PRICE));

    // After the delay the payer recovers exactly the unclaimed rest.
    wait_out_the_delay(&s.net).await;
    let before = balance(&s.net, key.address()).await;
    channels.finalizeWithdraw(sol_config).send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!(balance(&s.net, key.address()).await, before + U256::from(50_000 - 5 * PRICE));
    // The payer's books follow: nothing of the withdrawn channel counts as held any more.
    assert_eq!(payer.held_in_channels().unwrap(), 50_000 - 5 * PRICE);
    let on_chain = channels.channels(id).call().await.unwrap();
    assert_eq!(on_chain.balance, on_chain.totalClaimed);
    payer.record_withdrawn(id, on_chain.balance).unwrap();
    assert_eq!(payer.held_in_channels().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payer_closes_and_withdraws_its_channel() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);
    let (payer, _store, _dir, key) = payer(&s.net, Prefer::Channel).await;
    for _ in 0..3 {
        assert_eq!(payer.send(reqwest::Method::GET, &url, None).await.unwrap().status, 200);
    }
    let id = payer.channels().unwrap()[0].id;
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(key.address())
        .value(U256::from(10u64).pow(U256::from(17)));
    s.net.deployer().provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    let as_payer = agora_chain::ChainClient::connect(&s.net.rpc_url(), Some(key.clone())).await.unwrap();

    let unknown = payer.close_channel(&as_payer, B256::repeat_byte(9)).await.unwrap_err();
    assert!(matches!(unknown, PayError::UnknownChannel(_)), "{unknown}");

    let closed = payer.close_channel(&as_payer, id).await.unwrap();
    assert_eq!((closed.channel_id, closed.payer, closed.returned), (id, key.address(), 0));
    assert!(closed.withdraw_ready_at > 0);
    let early = payer.withdraw_channel(&as_payer, id).await.unwrap_err();
    assert!(matches!(early, PayError::Contract { .. }), "{early}");

    wait_out_the_delay(&s.net).await;
    let before = balance(&s.net, key.address()).await;
    let exit = payer.withdraw_channel(&as_payer, id).await.unwrap();
    // Nothing was claimed: the whole deposit comes back, and the books hold nothing of it.
    assert_eq!(exit.returned, 50_000);
    assert_eq!(balance(&s.net, key.address()).await, before + U256::from(exit.returned));
    assert_eq!(payer.held_in_channels().unwrap(), 0);
    assert_eq!(serde_json::to_value(&exit).unwrap()["returned"], "50000");
}

/// A TCP proxy to the chain that can be cut: connections are refused and open ones dropped
/// while it is off.
async fn cuttable_proxy(target: String) -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let target = target.trim_start_matches("http://").to_owned();
    let (on, watch) = tokio::sync::watch::channel(true);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { return };
            let mut watch = watch.clone();
            if !*watch.borrow() {
                continue;
            }
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = watch.wait_for(|on| !*on) => {}
                }
            });
        }
    });
    (url, on)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_chain_delays_exact_settlement_and_loses_nothing() {
    let net = TestNet::start().await;
    let (chain_url, chain_on) = cuttable_proxy(net.rpc_url()).await;
    let provider = net.wallet(1);
    let provider_client =
        agora_chain::ChainClient::connect(&chain_url, Some(provider.clone())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let config = PaywallConfig {
        chain_id: 31337,
        asset: net.stablecoin_address(),
        asset_name: "Agora Dev USD".into(),
        asset_version: "1".into(),
        pay_to: provider.address(),
        exact: true,
        upto: false,
        batch: false,
        min_withdraw_delay: DELAY,
        max_timeout_seconds: 120,
        credits: None,
        claim_threshold: u128::MAX,
    };
    let paywall = Paywall::new(config, provider_client, Arc::clone(&store));
    // The chain goes away while the call is served, after the payment was verified.
    let cut = chain_on.clone();
    let app = axum::Router::new()
        .route(
            "/ping",
            axum::routing::get(move || {
                let cut = cut.clone();
                async move {
                    cut.send_replace(false);
                    "pong"
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            FixedPrice { paywall: paywall.clone(), amount: PRICE, description: "a pong".into() },
            fixed_price,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ping", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let key = PrivateKeySigner::random();
    faucet(&net, key.address(), 100_000).await;
    let (_, headers, _) = get(&url, None).await;
    let required = required_of(&headers);
    let (status, headers, _) =
        get(&url, Some(("payment-signature", exact_header(&key, &required, |_, _| {})))).await;
    assert_eq!(status, 200, "served: the payment was verified while the chain answered");
    let settle: wire::SettleResponse =
        wire::decode_header(headers.get("payment-response").unwrap().to_str().unwrap()).unwrap();
    assert!(settle.success && settle.transaction.is_empty(), "{settle:?}");
    assert_eq!(settle.extra.unwrap()["pending"], true);
    assert_eq!(balance(&net, key.address()).await, U256::from(100_000u64), "not settled yet");
    let status: String =
        store.read(|c| c.query_row("SELECT status FROM pay_exact", [], |r| r.get(0))).unwrap();
    assert_eq!(status, "pending", "the signed authorization is kept");

    // While the chain is away, retries change nothing; once it is back, the payment settles.
    assert_eq!(paywall.retry_pending_exact().await, 0);
    chain_on.send_replace(true);
    assert_eq!(paywall.retry_pending_exact().await, 1);
    assert_eq!(balance(&net, key.address()).await, U256::from(100_000 - PRICE));
    assert_eq!(balance(&net, provider.address()).await, U256::from(10_000_000_000u64 + PRICE as u64));
    assert_eq!(paywall.retry_pending_exact().await, 0, "settled once");
}

/// 64 random bytes and a valid recovery byte: a signature that parses, by nobody.
fn random_signature() -> alloy::primitives::Bytes {
    let mut bytes = [rand::random::<[u8; 32]>(), rand::random::<[u8; 32]>()].concat();
    bytes.push(27);
    bytes.into()
}

/// Nothing goes on chain that was not verified here: a channel deposit with a valid config and
/// a random signature, and a second `exact` payment from a payer funded for one, are refused
/// before any transaction. The node key's transactions keep flowing: later payments settle at
/// once, and its nonce moved only for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_deposit_or_an_overdrawn_payer_sends_nothing_and_later_payments_settle() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);
    let provider_chain = s.net.client_for(1).await;
    let queue = || async { provider_chain.transaction_queue(s.provider).await.unwrap() };
    let start = queue().await;

    // A deposit with a valid config and 65 random bytes as the payer's signature.
    let offer = channel_offer(&url).await;
    let victim = PrivateKeySigner::random();
    faucet(&s.net, victim.address(), 100_000).await;
    let config = ChannelConfigJson {
        payer: victim.address(),
        payer_authorizer: Address::ZERO,
        receiver: s.provider,
        receiver_authorizer: s.provider,
        token: s.net.stablecoin_address(),
        withdraw_delay: 3_600,
        salt: B256::repeat_byte(7),
    };
    let id = config.id(31337);
    let voucher = typed::sign_voucher(&victim, &typed::batch_domain(31337), id, PRICE).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let poisoned = wire::encode_header(&PaymentPayload {
        x402_version: 2,
        resource: None,
        accepted: offer.clone(),
        payload: serde_json::to_value(BatchPayload {
            kind: BatchKind::Deposit,
            channel_config: config,
            voucher: VoucherJson {
                channel_id: id,
                max_claimable_amount: PRICE.to_string(),
                signature: voucher.as_bytes().into(),
            },
            deposit: Some(typed::DepositJson {
                amount: "50000".into(),
                authorization: typed::DepositAuthorizationJson {
                    erc3009_authorization: Some(typed::Erc3009DepositJson {
                        valid_after: (now - 60).to_string(),
                        valid_before: (now + 600).to_string(),
                        salt: B256::repeat_byte(1),
                        signature: random_signature(),
                    }),
                    permit2_authorization: None,
                },
            }),
            amount: None,
        })
        .unwrap(),
        extensions: None,
    });
    for _ in 0..3 {
        let (status, _, body) = get(&url, Some(("payment-signature", poisoned.clone()))).await;
        assert_eq!(status, 402, "{body}");
        assert_eq!(body["error"]["code"], reason::DEPOSIT_FAILED, "{body}");
    }
    assert_eq!(queue().await, start, "no transaction was attempted for the poisoned deposit");

    // A payer funded for one call signs two; the second is refused before anything is sent,
    // also while the first is still being settled.
    let (_, headers, _) = get(&url, None).await;
    let required = required_of(&headers);
    let poor = PrivateKeySigner::random();
    faucet(&s.net, poor.address(), PRICE as u64).await;
    let (first, second) =
        (exact_header(&poor, &required, |_, _| {}), exact_header(&poor, &required, |_, _| {}));
    let (a, b) = tokio::join!(
        get(&url, Some(("payment-signature", first))),
        get(&url, Some(("payment-signature", second)))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 402], "one paid call, one refusal: {} / {}", a.2, b.2);
    let refused = if a.0 == 402 { &a.2 } else { &b.2 };
    assert_eq!(refused["error"]["code"], reason::INSUFFICIENT_FUNDS, "{refused}");
    assert_eq!(queue().await.mined, start.mined + 1, "one settlement, nothing reverted");

    // Later payments settle at once: nothing queues behind a gap.
    let (payer, _store, _dir, _key) = payer(&s.net, Prefer::Exact).await;
    for _ in 0..3 {
        let response = payer.send(reqwest::Method::GET, &url, None).await.unwrap();
        assert_eq!(response.status, 200);
        assert!(response.settlement.unwrap().transaction.starts_with("0x"), "settled, not pending");
    }
    let end = queue().await;
    assert_eq!((end.mined, end.waiting), (start.mined + 4, 0));
}

/// `upto`: a Permit2 permit of the ceiling, bound to this server; refused without Permit2's
/// allowance or for another facilitator, settled through the official proxy once approved, and
/// never twice for one permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upto_pays_through_permit2_and_bad_permits_are_refused() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);
    let (payer, store, _dir, key) = payer(&s.net, Prefer::Upto).await;
    let offer = {
        let (_, headers, _) = get(&url, None).await;
        required_of(&headers).accepts.into_iter().find(|r| r.scheme == wire::SCHEME_UPTO).unwrap()
    };
    assert_eq!(offer.extra["facilitatorAddress"], s.provider.to_checksum(None));

    // Without Permit2's allowance the permit cannot move anything: refused before serving.
    let err = payer.send(reqwest::Method::GET, &url, None).await.unwrap_err();
    assert!(err.to_string().contains(reason::PERMIT2_ALLOWANCE), "{err}");
    assert_eq!(Mandate::spent(&store, "default").unwrap(), 0);

    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(key.address())
        .value(U256::from(10u64).pow(U256::from(17)));
    s.net.deployer().provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    let as_payer = agora_chain::ChainClient::connect(&s.net.rpc_url(), Some(key.clone())).await.unwrap();
    assert!(payer.approve_permit2(&as_payer, s.net.stablecoin_address()).await.unwrap());
    assert!(!payer.approve_permit2(&as_payer, s.net.stablecoin_address()).await.unwrap(), "once");

    let provider_before = balance(&s.net, s.provider).await;
    let response = payer.send(reqwest::Method::GET, &url, None).await.unwrap();
    assert_eq!((response.status, response.scheme.as_deref()), (200, Some("upto")));
    let settlement = response.settlement.unwrap();
    assert!(settlement.transaction.starts_with("0x"), "{settlement:?}");
    assert_eq!(settlement.amount.as_deref(), Some("1000"));
    assert_eq!(balance(&s.net, s.provider).await, provider_before + U256::from(PRICE));
    assert_eq!(Mandate::spent(&store, "default").unwrap(), PRICE);

    // A permit naming another facilitator is refused.
    let mut other = offer.clone();
    other.extra["facilitatorAddress"] = serde_json::json!(Address::repeat_byte(9).to_checksum(None));
    let payload = sign_upto_payload(&key, &other);
    let header = wire::encode_header(&PaymentPayload {
        x402_version: 2,
        resource: None,
        accepted: offer.clone(),
        payload,
        extensions: None,
    });
    let (status, _, body) = get(&url, Some(("payment-signature", header))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::PERMIT2_FACILITATOR)));

    // The same permit twice: the second finds its nonce used.
    let payload = sign_upto_payload(&key, &offer);
    let header = wire::encode_header(&PaymentPayload {
        x402_version: 2,
        resource: None,
        accepted: offer.clone(),
        payload,
        extensions: None,
    });
    let (status, _, _) = get(&url, Some(("payment-signature", header.clone()))).await;
    assert_eq!(status, 200);
    let (status, _, body) = get(&url, Some(("payment-signature", header))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some(reason::PERMIT2_NONCE)));
    assert_eq!(balance(&s.net, s.provider).await, provider_before + U256::from(2 * PRICE));
}

/// An `upto` payload for `offer`, signed by `key` (as the official client builds it).
fn sign_upto_payload(key: &PrivateKeySigner, offer: &wire::PaymentRequirements) -> serde_json::Value {
    let facilitator: Address = offer.extra["facilitatorAddress"].as_str().unwrap().parse().unwrap();
    let to: Address = offer.pay_to.parse().unwrap();
    let token: Address = offer.asset.parse().unwrap();
    let nonce = U256::from_be_bytes(rand::random::<[u8; 32]>());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let deadline = U256::from(now + 120);
    let witness = x402::upto_typed::Witness { to, facilitator, validAfter: U256::ZERO };
    let digest = x402::upto_digest(31337, token, U256::from(PRICE), nonce, deadline, &witness);
    let signature = key.sign_hash_sync(&digest).unwrap();
    serde_json::json!({
        "signature": alloy::primitives::Bytes::from(signature.as_bytes()),
        "permit2Authorization": {
            "from": key.address(),
            "permitted": { "token": token, "amount": PRICE.to_string() },
            "spender": x402::UPTO_PERMIT2_PROXY,
            "nonce": nonce.to_string(),
            "deadline": deadline.to_string(),
            "witness": { "to": to, "facilitator": facilitator, "validAfter": "0" },
        },
    })
}

/// `auto` pays one call with `exact`, many with a channel, but not a channel the mandate cannot
/// hold the deposit of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_opens_a_channel_for_many_calls_only_within_the_mandate() {
    let s = setup().await;
    let url = format!("{}/ping", s.url);
    let key = PrivateKeySigner::random();
    faucet(&s.net, key.address(), 1_000_000).await;
    let with = |budget: u128, expected_calls: u64| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        Mandate { name: "default".into(), budget, per_call: 10_000, payees: vec![], expires_at: 0 }
            .save(&store)
            .unwrap();
        let config = PayerConfig {
            mandate: "default".into(),
            prefer: Prefer::Auto,
            channel_deposit: 50_000,
            expected_calls,
        };
        (Payer::new(key.clone(), store, config), dir)
    };
    let (one, _d1) = with(1_000_000, 1);
    assert_eq!(one.send(reqwest::Method::GET, &url, None).await.unwrap().scheme.as_deref(), Some("exact"));
    let (many, _d2) = with(1_000_000, 100);
    assert_eq!(
        many.send(reqwest::Method::GET, &url, None).await.unwrap().scheme.as_deref(),
        Some("batch-settlement")
    );
    let (poor, _d3) = with(20_000, 100);
    assert_eq!(
        poor.send(reqwest::Method::GET, &url, None).await.unwrap().scheme.as_deref(),
        Some("exact"),
        "a 50,000 deposit does not fit a 20,000 budget"
    );
}
