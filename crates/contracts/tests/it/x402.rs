//! Every function, event and error of the official x402 ABIs (@x402/evm, extracted into
//! contracts/test/fixtures/x402-abi.json by scripts/x402-fixtures.js) exists in our artifacts
//! with the same signature, so the official clients and facilitators can call our contracts.

use alloy::json_abi::JsonAbi;
use std::collections::BTreeSet;

fn abi(name: &str) -> JsonAbi {
    let path = format!("{}/artifacts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(json["abi"].clone()).unwrap()
}

fn official() -> serde_json::Value {
    let path = format!("{}/../../contracts/test/fixtures/x402-abi.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn listed(fixture: &serde_json::Value, contract: &str, kind: &str) -> Vec<String> {
    fixture[contract][kind]
        .as_array()
        .unwrap_or_else(|| panic!("fixture lacks {contract}.{kind}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn official_x402_signatures_exist_in_our_contracts() {
    let fixture = official();
    for contract in ["X402BatchSettlement", "X402UptoPermit2Proxy", "Permit2", "Multicall3"] {
        let ours = abi(contract);
        let functions: BTreeSet<String> = ours.functions().map(|f| f.signature()).collect();
        let events: BTreeSet<String> = ours.events().map(|e| e.signature()).collect();
        let errors: BTreeSet<String> = ours.errors().map(|e| e.signature()).collect();
        let expected = listed(&fixture, contract, "functions");
        assert!(!expected.is_empty(), "{contract}: the fixture lists no functions");
        for (kind, ours) in [("functions", &functions), ("events", &events), ("errors", &errors)] {
            for signature in listed(&fixture, contract, kind) {
                assert!(ours.contains(&signature), "{contract} lacks the official {kind} entry {signature}");
            }
        }
    }
}

#[test]
fn our_batch_settlement_adds_only_views_and_events() {
    // Beyond the official ABI we expose constants, `eip712Domain` and the lifecycle events;
    // nothing that changes state.
    let fixture = official();
    let official: BTreeSet<String> =
        listed(&fixture, "X402BatchSettlement", "functions").into_iter().collect();
    for function in abi("X402BatchSettlement").functions() {
        if !official.contains(&function.signature()) {
            assert!(
                matches!(
                    function.state_mutability,
                    alloy::json_abi::StateMutability::View | alloy::json_abi::StateMutability::Pure
                ),
                "extra state-changing function {}",
                function.signature()
            );
        }
    }
}
