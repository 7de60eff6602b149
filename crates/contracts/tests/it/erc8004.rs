//! Every ERC-8004 v2 function selector and event topic of our registries equals the standard's,
//! so other ERC-8004 tools can read them.

use alloy::{json_abi::JsonAbi, primitives::keccak256};
use std::collections::BTreeMap;

fn abi(name: &str) -> JsonAbi {
    let path = format!("{}/artifacts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(json["abi"].clone()).unwrap()
}

fn selectors(abi: &JsonAbi) -> BTreeMap<String, String> {
    abi.functions().map(|f| (f.signature(), alloy::hex::encode_prefixed(f.selector()))).collect()
}

fn topics(abi: &JsonAbi) -> BTreeMap<String, String> {
    abi.events().map(|e| (e.signature(), alloy::hex::encode_prefixed(e.selector()))).collect()
}

/// (signature, selector) from the ERC-8004 v2 ABI.
const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("IdentityRegistry", "register()", "0x1aa3a008"),
    ("IdentityRegistry", "register(string)", "0xf2c298be"),
    ("IdentityRegistry", "register(string,(string,bytes)[])", "0x8ea42286"),
    ("IdentityRegistry", "setAgentURI(uint256,string)", "0x0af28bd3"),
    ("IdentityRegistry", "getMetadata(uint256,string)", "0xcb4799f2"),
    ("IdentityRegistry", "setMetadata(uint256,string,bytes)", "0x466648da"),
    ("IdentityRegistry", "setAgentWallet(uint256,address,uint256,bytes)", "0x2d1ef5ae"),
    ("IdentityRegistry", "getAgentWallet(uint256)", "0x00339509"),
    ("IdentityRegistry", "unsetAgentWallet(uint256)", "0x3fddcf19"),
    ("IdentityRegistry", "isAuthorizedOrOwner(address,uint256)", "0xd95e72be"),
    ("IdentityRegistry", "getVersion()", "0x0d8e6e2c"),
    (
        "ReputationRegistry",
        "giveFeedback(uint256,int128,uint8,string,string,string,string,bytes32)",
        "0x3c036a7e",
    ),
    ("ReputationRegistry", "revokeFeedback(uint256,uint64)", "0x4ab3ca99"),
    ("ReputationRegistry", "appendResponse(uint256,address,uint64,string,bytes32)", "0xc2349ab2"),
    ("ReputationRegistry", "getSummary(uint256,address[],string,string)", "0x81bbba58"),
    ("ReputationRegistry", "readFeedback(uint256,address,uint64)", "0x232b0810"),
    ("ReputationRegistry", "readAllFeedback(uint256,address[],string,string,bool)", "0xd9d84224"),
    ("ReputationRegistry", "getResponseCount(uint256,address,uint64,address[])", "0x6e04cacd"),
    ("ReputationRegistry", "getClients(uint256)", "0x42dd519c"),
    ("ReputationRegistry", "getLastIndex(uint256,address)", "0xf2d81759"),
    ("ReputationRegistry", "getIdentityRegistry()", "0xbc4d861b"),
    ("ReputationRegistry", "getVersion()", "0x0d8e6e2c"),
    ("ValidationRegistry", "validationRequest(address,uint256,string,bytes32)", "0xaaf400c4"),
    ("ValidationRegistry", "validationResponse(bytes32,uint8,string,bytes32,string)", "0x3d659a96"),
    ("ValidationRegistry", "getValidationStatus(bytes32)", "0xff2febfc"),
    ("ValidationRegistry", "getSummary(uint256,address[],string)", "0x1b7cabd6"),
    ("ValidationRegistry", "getAgentValidations(uint256)", "0x8d5d0c2d"),
    ("ValidationRegistry", "getValidatorRequests(address)", "0x4bf3158c"),
    ("ValidationRegistry", "getIdentityRegistry()", "0xbc4d861b"),
    ("ValidationRegistry", "getVersion()", "0x0d8e6e2c"),
];

const EVENTS: &[(&str, &str, &str)] = &[
    (
        "IdentityRegistry",
        "Registered(uint256,string,address)",
        "0xca52e62c367d81bb2e328eb795f7c7ba24afb478408a26c0e201d155c449bc4a",
    ),
    (
        "IdentityRegistry",
        "MetadataSet(uint256,string,string,bytes)",
        "0x2c149ed548c6d2993cd73efe187df6eccabe4538091b33adbd25fafdb8a1468b",
    ),
    (
        "IdentityRegistry",
        "URIUpdated(uint256,string,address)",
        "0x3a2c7fffc2cba7582c690e3b82c453ea02a308326a98a3ad7576c606336409fb",
    ),
    (
        "ReputationRegistry",
        "NewFeedback(uint256,address,uint64,int128,uint8,string,string,string,string,string,bytes32)",
        "0x6a4a61743519c9d648a14e6493f47dbe3ff1aa29e7785c96c8326a205e58febc",
    ),
    (
        "ReputationRegistry",
        "FeedbackRevoked(uint256,address,uint64)",
        "0x25156fd3288212246d8b008d5921fde376c71ed14ac2e072a506eb06fde6d09d",
    ),
    (
        "ReputationRegistry",
        "ResponseAppended(uint256,address,uint64,address,string,bytes32)",
        "0xb1c6be0b5b8aef6539e2fac0fd131a2faa7b49edf8e505b5eb0ad487d56051d4",
    ),
    (
        "ValidationRegistry",
        "ValidationRequest(address,uint256,string,bytes32)",
        "0x530436c3634a98e1e626b0898be2f1e9980cc1bd2a78c07a0aba52d0a48a5059",
    ),
    (
        "ValidationRegistry",
        "ValidationResponse(address,uint256,bytes32,uint8,string,bytes32,string)",
        "0xafddf629e874ccc3963b6a888c477bd464a6c8525024fc88759ea3b2326349ae",
    ),
];

#[test]
fn every_erc8004_selector_and_topic_matches_the_standard() {
    for (contract, signature, expected) in FUNCTIONS {
        let found = selectors(&abi(contract));
        assert_eq!(found.get(*signature).map(String::as_str), Some(*expected), "{contract}.{signature}");
    }
    for (contract, signature, expected) in EVENTS {
        let found = topics(&abi(contract));
        assert_eq!(
            found.get(*signature).map(String::as_str),
            Some(*expected),
            "{contract} event {signature}"
        );
    }
}

#[test]
fn the_agent_wallet_proof_type_is_the_standards() {
    assert_eq!(
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)"),
        "0x678b53cd718d595370ab070ebf48edfdcd834beac116bf23e625fc7f4d5b7d32"
            .parse::<alloy::primitives::B256>()
            .unwrap()
    );
}
