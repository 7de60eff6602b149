//! The request parser's unit tests.

use super::*;
use serde_json::json;

#[test]
fn malformed_requests_get_clear_errors() {
    let cases = [
        ("eth_sendTransaction", json!([])),
        ("eth_sendTransaction", json!([{"to": "0x12"}])),
        ("eth_sendRawTransaction", json!(["0xzz"])),
        ("eth_sendRawTransaction", json!(["0x02f8"])),
        ("eth_signTypedData_v4", json!(["0x0000000000000000000000000000000000000001", "{not json"])),
        (
            "eth_signTypedData_v4",
            json!(["0x0000000000000000000000000000000000000001", {"types": {}, "primaryType": "Nope", "domain": {}, "message": {}}]),
        ),
        ("personal_sign", json!(["hello", "not an address"])),
        ("wallet_sendCalls", json!([{"from": "0x0000000000000000000000000000000000000001", "calls": []}])),
        ("eth_chainId", json!([])),
        (
            "eth_signTypedData",
            json!([[{"type": "string", "name": "m", "value": "hi"}], "0x0000000000000000000000000000000000000001"]),
        ),
    ];
    for (method, params) in cases {
        let err = GuardRequest::new(method, params.clone()).action(None).expect_err(method);
        assert!(matches!(err, GuardError::BadRequest(_)), "{method} {params}: {err}");
    }
}

#[test]
fn every_spelling_of_a_send_is_read_like_the_send_and_fees_are_kept() {
    let tx = json!({"from": "0x00000000000000000000000000000000000000aa", "to": "0x00000000000000000000000000000000000000bb",
        "data": "0x095ea7b3", "gas": "0x5208", "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00"});
    let plain = format!("{:?}", GuardRequest::new("eth_sendTransaction", json!([tx])).action(None).unwrap());
    for method in [
        "eth_sendTransactionSync",
        "eth_signTransaction",
        "eth_sendUnsignedTransaction",
        "personal_sendTransaction",
        "personal_signTransaction",
    ] {
        assert!(is_guarded(method), "{method}");
        let action = GuardRequest::new(method, json!([tx, "passphrase"])).action(None).unwrap();
        assert_eq!(format!("{action:?}"), plain, "{method}");
    }
    let Action::Transactions { fees: Some(fees), gas_limit: Some(21_000), .. } =
        GuardRequest::new("eth_sendTransaction", json!([tx])).action(None).unwrap()
    else {
        panic!("fees and gas are read")
    };
    assert_eq!(fees.price(500_000_000), 1_500_000_000, "base fee plus the whole tip");
    assert_eq!(fees.price(1_500_000_000), 2_000_000_000, "capped by maxFeePerGas");
    assert_eq!(fees.tip(1_500_000_000), 500_000_000);
    assert_eq!(policy("anvil_setBalance"), MethodPolicy::Refused);
    assert_eq!(policy("eth_getBalance"), MethodPolicy::ReadOnly);
    assert!(refusal_reason("anvil_setBalance").contains("change the node's state"));
}

#[test]
fn huge_calldata_and_huge_batches_are_refused() {
    let data = format!("0x{}", "00".repeat(MAX_CALLDATA + 1));
    let tx = json!([{"from": "0x0000000000000000000000000000000000000001", "to": "0x0000000000000000000000000000000000000002", "data": data}]);
    assert!(GuardRequest::new("eth_sendTransaction", tx).action(None).is_err());
    let calls: Vec<Value> =
        (0..=MAX_CALLS).map(|_| json!({"to": "0x0000000000000000000000000000000000000002"})).collect();
    let batch = json!([{"from": "0x0000000000000000000000000000000000000001", "calls": calls}]);
    assert!(GuardRequest::new("wallet_sendCalls", batch).action(None).is_err());
}

proptest::proptest! {
    /// Arbitrary bytes as a raw transaction, arbitrary text as typed data or as a message:
    /// an error or a request, never a panic.
    #[test]
    fn untrusted_params_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), text in ".{0,300}") {
        let who = "0x00000000000000000000000000000000000000aa";
        let _ = GuardRequest::new("eth_sendRawTransaction", json!([format!("0x{}", hex::encode(&raw))])).action(None);
        let _ = GuardRequest::new("eth_signTypedData_v4", json!([who, text.clone()])).action(None);
        let _ = GuardRequest::new("personal_sign", json!([text.clone(), who])).action(None);
        let _ = GuardRequest::new("eth_sign", json!([who, text.clone()])).action(None);
        let _ = GuardRequest::new("wallet_sendCalls", json!([{"from": who, "calls": [{"to": who, "data": text}]}])).action(None);
    }
}

#[test]
fn personal_sign_takes_either_parameter_order() {
    let who = "0x00000000000000000000000000000000000000aa";
    for params in [json!(["0x68656c6c6f", who]), json!([who, "0x68656c6c6f"])] {
        let Action::PersonalSign { signer, message } =
            GuardRequest::new("personal_sign", params).action(None).unwrap()
        else {
            panic!("not a personal_sign")
        };
        assert_eq!(signer, who.parse::<Address>().unwrap());
        assert_eq!(&message[..], b"hello");
    }
}
