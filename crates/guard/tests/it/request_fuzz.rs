//! The request parser takes untrusted input from any page: arbitrary JSON-RPC methods and
//! params must come back as a parsed request or a typed error, never a panic.

use agora_guard::{GuardRequest, request::GUARDED_METHODS};
use proptest::{prelude::*, test_runner::Config};
use serde_json::{Map, Value, json};

/// Keys the parser looks for, so generated objects reach past the first lookup.
const KEYS: &[&str] = &[
    "from",
    "to",
    "data",
    "input",
    "value",
    "gas",
    "nonce",
    "chainId",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "gasPrice",
    "calls",
    "types",
    "domain",
    "primaryType",
    "message",
    "EIP712Domain",
    "name",
    "type",
    "verifyingContract",
    "authorizationList",
    "version",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![proptest::sample::select(KEYS).prop_map(str::to_owned), ".{0,12}"]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| Value::from(format!("0x{}", hex(&b)))),
        "0x[0-9a-fA-F]{40}".prop_map(Value::from),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            // Typed data as a JSON string, the way wallets pass it.
            proptest::collection::vec((key(), scalar()), 0..6).prop_map(|kv| {
                Value::String(Value::Object(kv.into_iter().collect::<Map<_, _>>()).to_string())
            }),
        ]
    })
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(GUARDED_METHODS).prop_map(str::to_owned), 1 => ".{0,24}"]
}

proptest! {
    #![proptest_config(Config { cases: 16_384, ..Config::default() })]

    #[test]
    fn arbitrary_methods_and_params_parse_or_fail_typed(method in method(), params in json_value()) {
        if let Err(e) = GuardRequest::new(&method, params.clone()).action(None) {
            prop_assert!(e.is_bad_request(), "{method} {params}: {e:?}");
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn arbitrary_params_inside_a_list_parse_or_fail_typed(
        method in proptest::sample::select(GUARDED_METHODS),
        params in proptest::collection::vec(json_value(), 0..4),
    ) {
        if let Err(e) = GuardRequest::new(method, Value::Array(params.clone())).action(None) {
            prop_assert!(e.is_bad_request(), "{method} {params:?}: {e:?}");
        }
    }
}
