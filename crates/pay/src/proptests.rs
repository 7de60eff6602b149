//! Property tests of the codecs and signature formats, and a fuzz pass over every parser of
//! untrusted input (the payment headers a client sends, the 402s and responses a server sends).

#![allow(clippy::unwrap_used)] // a failed round trip fails the test

use crate::{
    typed::{self, Authorization, AuthorizationJson, ExactPayload},
    wire::{self, PaymentPayload, PaymentRequired, PaymentRequirements, ResourceInfo, SettleResponse},
};
use alloy::{
    primitives::{Address, B256, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use base64::Engine;
use proptest::prelude::*;
use serde_json::Value;

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}

/// JSON without floats (which JSON does not carry exactly).
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An optional JSON field: absent and `null` are one value on the wire, so `Some(null)` is not
/// a payload of its own.
fn optional_json() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(json().prop_filter("null is absence", |v| !v.is_null()))
}

fn resource() -> impl Strategy<Value = ResourceInfo> {
    (".{0,24}", proptest::option::of(".{0,16}"), proptest::option::of("[a-z/]{1,16}")).prop_map(
        |(url, description, mime_type)| ResourceInfo {
            url,
            description,
            mime_type,
            ..ResourceInfo::default()
        },
    )
}

fn requirements() -> impl Strategy<Value = PaymentRequirements> {
    (
        prop_oneof![
            Just(wire::SCHEME_EXACT.to_owned()),
            Just(wire::SCHEME_UPTO.to_owned()),
            Just(wire::SCHEME_BATCH.to_owned()),
            "[a-z]{1,8}"
        ],
        any::<u64>().prop_map(wire::caip2),
        any::<u128>().prop_map(|a| a.to_string()),
        address().prop_map(|a| a.to_checksum(None)),
        address().prop_map(|a| a.to_checksum(None)),
        any::<u64>(),
        json(),
    )
        .prop_map(|(scheme, network, amount, asset, pay_to, max_timeout_seconds, extra)| {
            PaymentRequirements { scheme, network, amount, asset, pay_to, max_timeout_seconds, extra }
        })
}

fn required() -> impl Strategy<Value = PaymentRequired> {
    (
        proptest::option::of("[a-z_]{1,24}"),
        resource(),
        prop::collection::vec(requirements(), 0..3),
        optional_json(),
    )
        .prop_map(|(error, resource, accepts, extensions)| PaymentRequired {
            x402_version: 2,
            error,
            resource,
            accepts,
            extensions,
        })
}

fn payload() -> impl Strategy<Value = PaymentPayload> {
    (proptest::option::of(resource()), requirements(), json(), optional_json()).prop_map(
        |(resource, accepted, payload, extensions)| PaymentPayload {
            x402_version: 2,
            resource,
            accepted,
            payload,
            extensions,
        },
    )
}

fn settle() -> impl Strategy<Value = SettleResponse> {
    (
        any::<bool>(),
        proptest::option::of("[a-z_]{1,16}"),
        proptest::option::of(address().prop_map(|a| a.to_checksum(None))),
        b256().prop_map(|t| t.to_string()),
        any::<u64>().prop_map(wire::caip2),
        proptest::option::of(any::<u128>().prop_map(|a| a.to_string())),
        optional_json(),
    )
        .prop_map(|(success, error_reason, payer, transaction, network, amount, extra)| SettleResponse {
            success,
            error_reason,
            error_message: None,
            payer,
            transaction,
            network,
            amount,
            extra,
        })
}

fn authorization() -> impl Strategy<Value = Authorization> {
    (address(), address(), any::<[u8; 32]>(), any::<u64>(), any::<u64>(), b256()).prop_map(
        |(from, to, value, valid_after, valid_before, nonce)| Authorization {
            from,
            to,
            value: U256::from_be_bytes(value),
            valid_after,
            valid_before,
            nonce,
        },
    )
}

fn signer() -> impl Strategy<Value = PrivateKeySigner> {
    any::<[u8; 32]>()
        .prop_filter_map("a valid secret key", |k| PrivateKeySigner::from_bytes(&B256::from(k)).ok())
}

proptest! {
    #[test]
    fn required_header_round_trips(required in required()) {
        let header = wire::encode_header(&required);
        prop_assert_eq!(wire::decode_header::<PaymentRequired>(&header).unwrap(), required);
    }

    #[test]
    fn payment_header_round_trips(payload in payload()) {
        let header = wire::encode_header(&payload);
        prop_assert_eq!(wire::decode_payment(&header, false, &[]).unwrap(), payload.clone());
        // URL-safe base64 without padding is read too.
        let json = serde_json::to_vec(&payload).unwrap();
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        prop_assert_eq!(wire::decode_payment(&url_safe, false, &[]).unwrap(), payload);
    }

    #[test]
    fn v1_payment_takes_the_offered_requirement(offered in requirements(), inner in json()) {
        let v1 = wire::encode_header(&serde_json::json!({
            "x402Version": 1, "scheme": offered.scheme, "network": offered.network, "payload": inner,
        }));
        let decoded = wire::decode_payment(&v1, true, std::slice::from_ref(&offered)).unwrap();
        prop_assert_eq!(decoded.accepted, offered);
        prop_assert_eq!(decoded.payload, inner);
    }

    #[test]
    fn settle_response_round_trips(settle in settle()) {
        let header = wire::encode_header(&settle);
        prop_assert_eq!(wire::decode_header::<SettleResponse>(&header).unwrap(), settle);
    }

    #[test]
    fn authorization_round_trips_with_its_digests(a in authorization(), token in address(), chain_id in any::<u64>()) {
        let domain = typed::token_domain("USD Coin", "2", chain_id, token);
        let text = serde_json::to_string(&a.to_json()).unwrap();
        let back = serde_json::from_str::<AuthorizationJson>(&text).unwrap().parse().unwrap();
        prop_assert_eq!(back, a);
        prop_assert_eq!(back.transfer_digest(&domain), a.transfer_digest(&domain));
        prop_assert_eq!(back.receive_digest(&domain), a.receive_digest(&domain));
        prop_assert_ne!(a.transfer_digest(&domain), a.receive_digest(&domain));
    }

    #[test]
    fn signed_authorization_recovers_its_signer(key in signer(), a in authorization(), token in address()) {
        let domain = typed::token_domain("USD Coin", "2", 8453, token);
        let a = Authorization { from: key.address(), ..a };
        let signature = key.sign_hash_sync(&a.transfer_digest(&domain)).unwrap();
        let payload = ExactPayload { signature: signature.as_bytes().into(), authorization: a.to_json() };
        let payload: ExactPayload = serde_json::from_value(serde_json::to_value(&payload).unwrap()).unwrap();
        let parsed = payload.authorization.parse().unwrap();
        let signature = alloy::primitives::Signature::try_from(payload.signature.as_ref()).unwrap();
        prop_assert_eq!(typed::recover(&parsed.transfer_digest(&domain), &signature), Some(key.address()));
        // Signed for another domain, it names someone else.
        let other = typed::token_domain("USD Coin", "2", 8454, token);
        prop_assert_ne!(typed::recover(&parsed.transfer_digest(&other), &signature), Some(key.address()));
    }

    #[test]
    fn voucher_recovers_its_signer(key in signer(), chain_id in 1u64..u64::MAX, id in b256(), max in any::<u128>()) {
        let domain = typed::batch_domain(chain_id);
        let signature = typed::sign_voucher(&key, &domain, id, max).unwrap();
        prop_assert_eq!(typed::voucher_signer(&domain, id, max, &signature), Some(key.address()));
        prop_assert_ne!(typed::voucher_signer(&domain, id, max.wrapping_add(1), &signature), Some(key.address()));
    }
}

/// Pieces of x402 JSON, so that fuzzed headers reach deep into the decoder and not only its
/// first byte.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\"x402Version\":".to_owned()),
        Just("\"accepted\":".to_owned()),
        Just("\"payload\":".to_owned()),
        Just("\"scheme\":\"exact\"".to_owned()),
        Just("\"scheme\":\"batch-settlement\"".to_owned()),
        Just("\"type\":\"deposit\"".to_owned()),
        Just("\"channelConfig\":".to_owned()),
        Just("\"withdrawDelay\":".to_owned()),
        Just("\"network\":\"base-sepolia\"".to_owned()),
        Just("\"amount\":\"1\"".to_owned()),
        Just("\"maxTimeoutSeconds\":".to_owned()),
        Just("null".to_owned()),
        Just("1".to_owned()),
        Just("2".to_owned()),
        Just("-1e999".to_owned()),
        Just("18446744073709551616".to_owned()),
        ".{0,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Every parser of a header that came from outside, on one input: none may panic.
fn parse_everything(text: &str, offered: &[PaymentRequirements]) {
    let _ = wire::decode_payment(text, false, offered);
    let _ = wire::decode_payment(text, true, offered);
    let _ = wire::decode_header::<PaymentRequired>(text);
    let _ = wire::decode_header::<SettleResponse>(text);
    let _ = wire::decode_header::<wire::VerifyResponse>(text);
    let _ = wire::decode_header::<wire::FacilitatorRequest>(text);
    if let Ok(payload) = wire::decode_header::<PaymentPayload>(text) {
        if let Ok(exact) = serde_json::from_value::<ExactPayload>(payload.payload.clone()) {
            let _ = exact.authorization.parse();
        }
        let _ = serde_json::from_value::<crate::paywall::UptoPayload>(payload.payload.clone());
        let _ = serde_json::from_value::<typed::BatchPayload>(payload.payload);
    }
    let _ = typed::parse_amount(text);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn untrusted_headers_never_panic(
        raw in ".{0,64}",
        bytes in prop::collection::vec(any::<u8>(), 0..96),
        jsonish in jsonish(),
        offered in prop::collection::vec(requirements(), 0..2),
    ) {
        parse_everything(&raw, &offered);
        let engine = base64::engine::general_purpose::STANDARD;
        parse_everything(&engine.encode(&bytes), &offered);
        parse_everything(&engine.encode(jsonish.as_bytes()), &offered);
        parse_everything(&jsonish, &offered);
    }
}

#[test]
fn fuzzed_headers_fail_with_a_typed_error() {
    let offered: [PaymentRequirements; 0] = [];
    let err = wire::decode_payment("not base64!", false, &offered).unwrap_err();
    assert!(matches!(err, wire::WireError::Base64(_)), "{err}");
    let err =
        wire::decode_payment(&wire::encode_header(&serde_json::json!([1])), false, &offered).unwrap_err();
    assert!(matches!(err, wire::WireError::Json(_)), "{err}");
    let v1 = wire::encode_header(&serde_json::json!({
        "x402Version": 1, "scheme": "exact", "network": "base", "payload": {}
    }));
    let err = wire::decode_payment(&v1, true, &offered).unwrap_err();
    assert!(matches!(err, wire::WireError::NotOffered { .. }), "{err}");
}
