//! Anonymous credits between two nodes on the devnet: a buyer buys a deposit from a provider
//! node and pays 100 calls with proofs; the provider's records name nobody and tie no two calls
//! together; replays, double-spends, forgeries and foreign pools are refused (the double-spender
//! is slashed on chain); tickets survive a provider SIGKILL; the stake exits to a fresh address
//! once, and never after a slash.

use super::{UpProcess, agora, failing, free_port};
use crate::x402::dollars_of;
use agora_pay::{CreditPayer, wire};
use serde_json::{Value, json};
use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

/// `agora up` selling the default model, registered (the credit pool is its agent's; exits
/// are payable a day after their request).
fn seller(data_dir: &Path) -> UpProcess {
    super::start_seller(data_dir, free_port, "2", true)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A chat request made unique by `n` (a distinct request per call: distinct signals).
fn call_body(n: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "default",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": format!("hi {n}")}],
        "max_tokens": 1,
        "temperature": 0,
    }))
    .unwrap()
}

struct Buyer {
    dir: std::path::PathBuf,
    address: alloy::primitives::Address,
}

/// A buyer data directory whose node key holds 10 devnet dollars, having bought one deposit of
/// 100 calls with `agora credits buy`.
fn buyer(root: &Path, name: &str, rpc: &str, token: &str, provider_url: &str) -> Buyer {
    let dir = root.join(name);
    let address = agora_node::node_key::load_or_create(&dir).unwrap().address();
    let out = agora()
        .args(["faucet", "--amount", "10", "--token", token, "--rpc-url", rpc, "--to"])
        .arg(address.to_string())
        .args(["--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failing(out));
    let out = agora()
        .args([
            "credits",
            "buy",
            "--provider",
            provider_url,
            "--calls",
            "100",
            "--rpc-url",
            rpc,
            "--data-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failing(out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("bought 100 anonymous calls"), "{text}");
    Buyer { dir, address }
}

async fn credit_payer(dir: &Path, rpc: &str) -> CreditPayer {
    let store = Arc::new(agora_store::Store::open_in(dir).unwrap());
    let key = agora_node::node_key::load_or_create(dir).unwrap();
    let chain = agora_chain::ChainClient::connect(rpc, Some(key)).await.unwrap();
    CreditPayer::new(store, chain)
}

/// Every row of every table of a store, as text: the provider's records, to diff.
fn dump(dir: &Path) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    let store = agora_store::Store::open_in(dir).unwrap();
    store
        .read(|c| {
            let mut tables = std::collections::BTreeMap::new();
            let names: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for name in names {
                let mut s = c.prepare(&format!("SELECT * FROM \"{name}\""))?;
                let n = s.column_count();
                let rows: Vec<Vec<String>> = s
                    .query_map([], |r| {
                        (0..n)
                            .map(|i| {
                                Ok(match r.get_ref(i)? {
                                    agora_store::rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                                    agora_store::rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                                    agora_store::rusqlite::types::ValueRef::Real(v) => v.to_string(),
                                    agora_store::rusqlite::types::ValueRef::Text(t) => {
                                        String::from_utf8_lossy(t).into_owned()
                                    }
                                    agora_store::rusqlite::types::ValueRef::Blob(b) => alloy::hex::encode(b),
                                })
                            })
                            .collect()
                    })?
                    .collect::<Result<_, _>>()?;
                tables.insert(name, rows);
            }
            Ok(tables)
        })
        .unwrap()
}

/// Rows of `after` not in `before`, per table.
fn added(
    before: &std::collections::BTreeMap<String, Vec<Vec<String>>>,
    after: &std::collections::BTreeMap<String, Vec<Vec<String>>>,
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (table, rows) in after {
        let old = before.get(table).cloned().unwrap_or_default();
        for row in rows {
            if !old.contains(row) {
                out.push((table.clone(), row.clone()));
            }
        }
    }
    out
}

fn chain_call(rpc: &str, method: &str, params: Value) -> Value {
    runtime().block_on(async {
        use alloy::providers::Provider;
        let chain = agora_chain::ChainClient::connect(rpc, None).await.unwrap();
        chain.provider().raw_request::<_, Value>(method.to_owned().into(), params).await.unwrap()
    })
}

/// Two buyers pay 100 and 10 calls, interleaved; the provider serves them all and its records
/// and logs name neither buyer, and every value two call records share is shared by all of
/// them (pool-wide, not a buyer's). Then each bad payment is refused with its reason and
/// nothing served; a double-spend is slashed on chain; the slashed buyer cannot exit.
#[test]
fn a_hundred_anonymous_calls_leave_no_trace_of_the_buyer_and_cheats_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let provider_dir = root.path().join("provider");
    let mut provider = seller(&provider_dir);
    let rpc = format!("http://127.0.0.1:{}", provider.devnet_port);
    let deployments = provider.deployments();
    let token = deployments["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    let credits_contract = deployments["contracts"]["ZkCredits"]["address"].as_str().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{}", provider.paid_port);
    let url = format!("{base}/v1/chat/completions");
    let a = buyer(root.path(), "a", &rpc, &token, &base);
    let b = buyer(root.path(), "b", &rpc, &token, &base);

    let before = dump(&provider_dir);
    let rt = runtime();
    let (pa, pb) =
        rt.block_on(async { (credit_payer(&a.dir, &rpc).await, credit_payer(&b.dir, &rpc).await) });
    // The pool's payee (the agent's owner) is paid the stake of a slashed member.
    let payee = pa.wallet().list().unwrap()[0].pool.payee;
    let payee_before = dollars_of(&rpc, &token, payee);
    let started = Instant::now();
    for n in 0..100 {
        if n % 10 == 0 {
            eprintln!("call {n} after {:.1} s", started.elapsed().as_secs_f64());
        }
        let response = rt.block_on(pa.send(&url, call_body(n))).unwrap();
        assert_eq!(response.status, 200, "call {n}: {}", String::from_utf8_lossy(&response.body));
        assert_eq!(response.scheme.as_deref(), Some(wire::SCHEME_CREDITS));
        if n % 10 == 0 {
            let response = rt.block_on(pb.send(&url, call_body(1000 + n))).unwrap();
            assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        }
    }
    // The hundred tickets are spent: a 101st call finds no credit left.
    let err = rt.block_on(pa.send(&url, call_body(101))).unwrap_err();
    assert!(err.to_string().contains("no credit with tickets left"), "{err}");
    let after = dump(&provider_dir);

    // What the calls left: 120 ticket rows, and in no record the buyers' addresses.
    let rows = added(&before, &after);
    let tickets = rows.iter().filter(|(t, _)| t == "credit_tickets").count();
    assert_eq!(tickets, 110, "one ticket per call");
    let text = format!("{rows:?}").to_lowercase();
    for who in [a.address, b.address] {
        assert!(!text.contains(&alloy::hex::encode(who.as_slice())), "the provider's store names a buyer");
    }
    // No identifier links calls: a value in two or more new rows of a table is in all of them.
    let mut by_table: std::collections::BTreeMap<&str, Vec<&Vec<String>>> = Default::default();
    for (table, row) in &rows {
        by_table.entry(table.as_str()).or_default().push(row);
    }
    for (table, rows) in by_table {
        let width = rows[0].len();
        for column in 0..width {
            let mut counts: std::collections::HashMap<&str, usize> = Default::default();
            for row in &rows {
                *counts.entry(row[column].as_str()).or_default() += 1;
            }
            for (value, count) in counts {
                assert!(
                    count == 1 || count == rows.len(),
                    "{table} column {column}: {value:?} is shared by {count} of {} call records",
                    rows.len()
                );
            }
        }
    }

    // Bad payments: each refused with its reason, nothing served, nothing recorded.
    let refusals = rt.block_on(bad_payments(&pb, &url));
    for (what, status, reason) in refusals {
        assert!(status == 402 || status == 400, "{what}: HTTP {status}");
        assert!(!reason.is_empty(), "{what}: no reason");
        let expected = match what {
            "replay" => "invalid_zk_credits_ticket_replayed",
            "forged share" => "invalid_zk_credits_proof",
            "unknown root" => "invalid_zk_credits_root",
            "another pool" => "invalid_zk_credits_pool",
            "malformed" => "invalid_payload",
            "double spend" => "invalid_zk_credits_ticket_double_spent",
            _ => unreachable!(),
        };
        assert_eq!(reason, expected, "{what}");
    }
    let tickets_after =
        added(&before, &dump(&provider_dir)).iter().filter(|(t, _)| t == "credit_tickets").count();
    // The one good proof among them was served: one ticket more, no other.
    assert_eq!(tickets_after, 111, "a refused payment records no ticket");

    // The double-spender (buyer b) is slashed on chain, the stake paid to the provider.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let store = agora_store::Store::open_in(&provider_dir).unwrap();
        let counts = agora_credits::TicketBook::new(Arc::new(store)).slash_counts().unwrap();
        if counts.iter().any(|(s, n)| s == "slashed" && *n == 1) {
            break;
        }
        assert!(Instant::now() < deadline, "the double-spend was not slashed: {counts:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(dollars_of(&rpc, &token, payee) - payee_before, STAKE, "the stake went to the provider");
    let contract_holds = dollars_of(&rpc, &token, credits_contract.parse().unwrap());

    // Buyer a exits to a fresh address: requested now, paid a day later, once.
    let exit = |dir: &Path| {
        agora().args(["credits", "exit", "--rpc-url", &rpc, "--data-dir"]).arg(dir).output().unwrap()
    };
    let out = exit(&a.dir);
    assert!(out.status.success(), "{}", failing(out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("exit requested"), "{text}");
    let fresh: alloy::primitives::Address =
        text.split(" to ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap().parse().unwrap();
    assert_ne!(fresh, a.address);
    chain_call(&rpc, "evm_increaseTime", json!([86_401]));
    chain_call(&rpc, "evm_mine", json!([]));
    let out = exit(&a.dir);
    assert!(out.status.success(), "{}", failing(out));
    assert!(String::from_utf8(out.stdout).unwrap().contains("paid to"), "the exit was not paid");
    assert_eq!(dollars_of(&rpc, &token, fresh), STAKE, "the stake reached the fresh address");
    assert_eq!(contract_holds - dollars_of(&rpc, &token, credits_contract.parse().unwrap()), STAKE);
    // A second exit of the same deposit (its one exit ticket) is refused on chain.
    let second = rt.block_on(async {
        let held = pa.wallet().list().unwrap().remove(0);
        let tree = agora_credits::exit_tree(pa.chain(), held.credit.key).await.unwrap();
        let other = alloy::primitives::Address::repeat_byte(7);
        let proof = agora_credits::prove_exit(&held.credit, &tree, other).unwrap();
        agora_credits::request_exit(pa.chain(), held.credit.key, &proof, other).await
    });
    assert!(second.is_err(), "a second exit was accepted");
    // The slashed buyer cannot exit at all.
    let out = exit(&b.dir);
    assert!(!out.status.success(), "a slashed member exited");

    // The provider's log names neither buyer either.
    let log = provider.stderr().to_lowercase();
    for who in [a.address, b.address] {
        assert!(!log.contains(&alloy::hex::encode(who.as_slice())), "the provider's log names a buyer");
    }
}

/// The devnet stake of the default pool: one dollar.
const STAKE: u128 = 1_000_000;

/// Each bad payment against `url`: (what, HTTP status, reason code).
async fn bad_payments(payer: &CreditPayer, url: &str) -> Vec<(&'static str, u16, String)> {
    use agora_credits::{CallProver, request_signal};
    let http = reqwest::Client::new();
    let body = call_body(5000);
    let first =
        http.post(url).header("content-type", "application/json").body(body.clone()).send().await.unwrap();
    assert_eq!(first.status(), 402);
    let required: wire::PaymentRequired =
        wire::decode_header(first.headers()[wire::PAYMENT_REQUIRED_HEADER].to_str().unwrap()).unwrap();
    let offer = agora_pay::payer::offered_pools(&required).remove(0);
    let held = payer.wallet().list().unwrap().into_iter().find(|h| h.status == "active").unwrap();
    let tree = agora_credits::tree(payer.chain(), held.credit.key).await.unwrap();
    let prover = CallProver::prepare(&held.credit, &tree).unwrap();
    let signal = request_signal("POST", "/v1/chat/completions", &body);
    // A fresh ticket beyond what the wallet used, so only the alteration is wrong.
    let ticket = held.credit.calls - 1;
    let good = prover.prove(signal, &[ticket]).unwrap();
    let send = async |proof: Value, accepted: wire::PaymentRequirements, body: Vec<u8>| {
        let header = wire::encode_header(&wire::PaymentPayload {
            x402_version: 2,
            resource: Some(required.resource.clone()),
            accepted,
            payload: proof,
            extensions: None,
        });
        let r = http
            .post(url)
            .header("content-type", "application/json")
            .header(wire::PAYMENT_SIGNATURE_HEADER, header)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let reason = r
            .headers()
            .get(wire::PAYMENT_REQUIRED_HEADER)
            .and_then(|v| wire::decode_header::<wire::PaymentRequired>(v.to_str().ok()?).ok())
            .and_then(|r| r.error)
            .unwrap_or_else(|| "".into());
        (status, reason)
    };
    let mut out = Vec::new();
    let mut forged = good.clone();
    forged.ys[0] = agora_credits::to_hex(
        &(agora_credits::from_hex(&good.ys[0]).unwrap() + agora_credits::Fr::from(1u64)),
    );
    let (s, r) = send(serde_json::to_value(&forged).unwrap(), offer.requirement.clone(), body.clone()).await;
    out.push(("forged share", s, r));
    let mut rootless = good.clone();
    rootless.root = agora_credits::to_hex(&agora_credits::Fr::from(12345u64));
    let (s, r) =
        send(serde_json::to_value(&rootless).unwrap(), offer.requirement.clone(), body.clone()).await;
    out.push(("unknown root", s, r));
    let mut other_pool = offer.requirement.clone();
    other_pool.extra["poolId"] = json!("999");
    let (s, r) = send(serde_json::to_value(&good).unwrap(), other_pool, body.clone()).await;
    out.push(("another pool", s, r));
    let (s, r) = send(json!({ "root": "0x01" }), offer.requirement.clone(), body.clone()).await;
    out.push(("malformed", s, r));
    // The good proof is served once, then its replay is refused.
    let (s, _) = send(serde_json::to_value(&good).unwrap(), offer.requirement.clone(), body.clone()).await;
    assert_eq!(s, 200, "the unaltered proof pays");
    let (s, r) = send(serde_json::to_value(&good).unwrap(), offer.requirement.clone(), body.clone()).await;
    out.push(("replay", s, r));
    // The same ticket on another request: the secret is out.
    let other = call_body(5001);
    let twice = prover.prove(request_signal("POST", "/v1/chat/completions", &other), &[ticket]).unwrap();
    let (s, r) = send(serde_json::to_value(&twice).unwrap(), offer.requirement.clone(), other).await;
    out.push(("double spend", s, r));
    out
}

/// Calls paid while the provider is SIGKILLed and started again on the same chain: every ticket
/// of an answered call is still recorded after the restart, so sending its proof again is
/// refused as a replay; a call cut by the kill is either served once or refused, never twice.
#[test]
fn no_ticket_is_spent_twice_across_a_provider_kill() {
    let root = tempfile::tempdir().unwrap();
    let provider_dir = root.path().join("provider");
    let provider = seller(&provider_dir);
    let devnet_port = provider.devnet_port;
    let rpc = format!("http://127.0.0.1:{devnet_port}");
    let token = provider.deployments()["contracts"]["DevStablecoin"]["address"].as_str().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{}", provider.paid_port);
    let buyer = buyer(root.path(), "buyer", &rpc, &token, &base);
    let rt = runtime();
    let payer = rt.block_on(credit_payer(&buyer.dir, &rpc));
    let held = payer.wallet().list().unwrap().remove(0);
    let key = held.credit.key;
    let prover = rt.block_on(payer.prepare(&held)).unwrap();
    let http = reqwest::Client::new();
    let paid = |url: &str, n: usize, header: &str| {
        rt.block_on(
            http.post(url)
                .header("content-type", "application/json")
                .header(wire::PAYMENT_SIGNATURE_HEADER, header)
                .body(call_body(n))
                .send(),
        )
        .map(|r| r.status().as_u16())
    };
    let first = rt
        .block_on(
            http.post(format!("{base}/v1/chat/completions"))
                .body(call_body(0))
                .header("content-type", "application/json")
                .send(),
        )
        .unwrap();
    let required: wire::PaymentRequired =
        wire::decode_header(first.headers()[wire::PAYMENT_REQUIRED_HEADER].to_str().unwrap()).unwrap();
    let offer = agora_pay::payer::offered_pools(&required).remove(0);

    // Calls, one after another, until the provider is killed under them.
    let pid = provider.child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2500));
        // SAFETY-free: `kill` of our child's pid through the shell's `kill`.
        let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let url = format!("{base}/v1/chat/completions");
    let mut answered = Vec::new();
    let mut cut = Vec::new();
    for n in 0..200 {
        let (_, tickets) = payer.wallet().take_tickets(&key, 1).unwrap().unwrap();
        let signal = agora_credits::request_signal("POST", "/v1/chat/completions", &call_body(n));
        let proof = prover.prove(signal, &tickets).unwrap();
        let header = wire::encode_header(&wire::PaymentPayload {
            x402_version: 2,
            resource: Some(required.resource.clone()),
            accepted: offer.requirement.clone(),
            payload: serde_json::to_value(&proof).unwrap(),
            extensions: None,
        });
        match paid(&url, n, &header) {
            Ok(200) => answered.push((n, header, proof.nullifiers[0].clone())),
            Ok(status) => panic!("call {n} answered {status}"),
            Err(_) => {
                cut.push((n, header));
                break;
            }
        }
    }
    killer.join().unwrap();
    assert!(
        !answered.is_empty() && !cut.is_empty(),
        "the kill landed between calls: {} answered",
        answered.len()
    );
    drop(provider);
    super::wait_until_free(devnet_port, "anvil outlived the provider");

    let provider = super::start_seller(&provider_dir, || devnet_port, "2", true);
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", provider.paid_port);
    // Every answered call's ticket is on disk: its proof is a replay now.
    let store = agora_store::Store::open_in(&provider_dir).unwrap();
    let recorded: Vec<String> = store
        .read(|c| {
            let mut s = c.prepare("SELECT nullifier FROM credit_tickets")?;
            s.query_map([], |r| r.get(0))?.collect()
        })
        .unwrap();
    for (n, header, nullifier) in &answered {
        assert!(recorded.contains(nullifier), "call {n}'s ticket was lost in the kill");
        assert_eq!(paid(&url, *n, header).unwrap(), 402, "call {n} was served twice");
    }
    // The call cut by the kill: served now if its ticket was not recorded, refused if it was;
    // either way never twice.
    for (n, header) in &cut {
        let again = paid(&url, *n, header).unwrap();
        assert!(again == 200 || again == 402, "{again}");
        assert_eq!(paid(&url, *n, header).unwrap(), 402, "the cut call was served twice");
    }
}
