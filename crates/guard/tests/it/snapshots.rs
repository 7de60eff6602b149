//! Snapshot tests of what the user sees: for each scenario, the terminal report and the findings
//! as JSON, compared with a checked-in file under `tests/snapshots/`. Any change to a rule's
//! title, level or message, or a finding that appears or disappears, fails here.
//! `AGORA_BLESS=1 cargo test -p agora-guard --test it snapshots` rewrites the files.
//!
//! Accounts are random per run, so every address of the world is written by name (`<user>`,
//! `<attacker>`, `<mock>`…) in all the spellings the guard prints; the elapsed time is dropped.

use super::*;
use agora_guard::{Guard, Verdict};
use alloy::primitives::Address;
use serde_json::Value;
use std::path::PathBuf;

fn snapshot_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"))
}

/// The report and the findings, with the world's addresses named.
fn render(v: &Verdict, names: &[(Address, &str)]) -> String {
    let findings: Vec<Value> = v
        .findings
        .iter()
        .map(|f| json!({"id": f.id, "level": f.level, "title": f.title, "message": f.message, "evidence": f.evidence}))
        .collect();
    let mut out =
        format!("{}\n--- findings ---\n{}\n", v.report(), serde_json::to_string_pretty(&findings).unwrap());
    for (address, name) in names {
        let checksum = address.to_checksum(None);
        let short = format!("{}…{}", &checksum[..6], &checksum[checksum.len() - 4..]);
        for spelling in [checksum.clone(), format!("{address:#x}"), short, hex::encode(address)] {
            out = out.replace(&spelling, &format!("<{name}>"));
        }
    }
    // "(eth_sendTransaction via revm, 12 ms)": the time is not part of the verdict.
    let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
    if let Some(first) = lines.first_mut()
        && let Some(comma) = first.rfind(", ")
        && first.ends_with(" ms)")
    {
        first.replace_range(comma.., ")");
    }
    lines.join("\n") + "\n"
}

fn compare(name: &str, actual: &str, mismatches: &mut Vec<String>) {
    let path = snapshot_dir().join(format!("{name}.txt"));
    if std::env::var_os("AGORA_BLESS").is_some() {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => mismatches.push(format!(
            "{name}: the report changed (AGORA_BLESS=1 to accept)\n--- expected\n{expected}\n--- actual\n{actual}"
        )),
        Err(_) => mismatches.push(format!("{name}: no snapshot at {} (AGORA_BLESS=1 writes it)", path.display())),
    }
}

async fn scenario(g: &Guard, method: &str, params: Value, origin: Option<&str>) -> Verdict {
    check_from(g, method, params, origin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdict_reports_match_their_snapshots() {
    let w = World::start().await;
    let g = w.guard(SimulatorKind::Revm);
    let u = w.fresh_user().await;
    let names: Vec<(Address, &str)> = vec![
        (u.address(), "user"),
        (w.attacker.address(), "attacker"),
        (w.deployer.address(), "deployer"),
        (w.contact, "contact"),
        (w.second, "second"),
        (w.blocked, "blocked"),
        (w.delegated_eoa, "delegated-eoa"),
        (w.mock, "mock"),
        (w.other, "other"),
        (w.heavy, "heavy"),
        (w.nft, "nft"),
        (w.router, "router"),
        (w.market, "market"),
    ];
    let huge = U256::from(1u8) << 255;
    let cases: Vec<(&str, &str, Value, Option<&str>)> = vec![
        (
            "unlimited-allowance-to-a-personal-account",
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::increaseAllowanceCall { spender: w.attacker.address(), added: huge }.abi_encode()
            )]),
            None,
        ),
        (
            "exact-approval-to-a-known-router",
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::approveCall { spender: w.router, value: U256::from(ETH) }.abi_encode()
            )]),
            None,
        ),
        (
            "whole-collection-to-a-personal-account",
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.nft,
                MockNFT::setApprovalForAllCall { operator: w.attacker.address(), approved: true }
                    .abi_encode()
            )]),
            None,
        ),
        (
            "tokens-to-a-contact",
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::transferCall { to: w.contact, value: U256::from(ETH) }.abi_encode()
            )]),
            None,
        ),
        (
            "tokens-to-their-own-contract",
            "eth_sendTransaction",
            json!([w.tx(
                &u,
                w.mock,
                MockToken::transferCall { to: w.mock, value: U256::from(ETH) }.abi_encode()
            )]),
            None,
        ),
        (
            "eth-to-a-contact",
            "eth_sendTransaction",
            json!([w.tx_value(&u, w.contact, vec![], ETH / 10)]),
            None,
        ),
        (
            "eth-to-a-blocked-account",
            "eth_sendTransaction",
            json!([w.tx_value(&u, w.blocked, vec![], ETH / 10)]),
            None,
        ),
        (
            "a-plain-message",
            "personal_sign",
            json!(["0x68656c6c6f", u.address()]),
            Some("https://app.example.org"),
        ),
        (
            "a-blind-32-byte-message",
            "personal_sign",
            json!([format!("0x{}", "ab".repeat(32)), u.address()]),
            None,
        ),
        ("eth-sign", "eth_sign", json!([u.address(), format!("0x{}", "cd".repeat(32))]), None),
    ];
    let mut mismatches = Vec::new();
    for (name, method, params, origin) in cases {
        let v = scenario(&g, method, params, origin).await;
        compare(name, &render(&v, &names), &mut mismatches);
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn a_changed_title_or_level_is_a_mismatch() {
    let v = Verdict::new(
        "eth_sendTransaction",
        vec![agora_guard::Finding::new(agora_guard::Rule::UnlimitedApproval, "m")],
        vec![],
        "revm",
    );
    let mut changed = v.clone();
    changed.findings[0].title = "Big approval".into();
    assert_ne!(render(&v, &[]), render(&changed, &[]));
    let mut changed = v.clone();
    changed.findings[0].level = Level::Low;
    assert_ne!(render(&v, &[]), render(&changed, &[]));
}
