//! The sample attestations the verifying crates ship: each verifies at a time inside its
//! collateral's validity, and a tampered copy, an expired collateral or another key does not.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use agora_attest::{AttestError, Evidence, Platform, Processor, report_data_for, verify, verify_binding};
use alloy::primitives::Address;
use base64::Engine as _;

/// Inside the sample collaterals' validity (they expired on 2025-07-19).
const TDX_NOW: u64 = 1_752_919_234;
const SGX_NOW: u64 = 1_752_919_277;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn dcap(quote: &[u8], collateral: &[u8]) -> Evidence {
    Evidence::Dcap { quote: b64(quote), collateral: serde_json::from_slice(collateral).unwrap() }
}

fn tdx() -> (Vec<u8>, Evidence) {
    let quote = include_bytes!("fixtures/tdx_quote").to_vec();
    let evidence = dcap(&quote, include_bytes!("fixtures/tdx_quote_collateral.json"));
    (quote, evidence)
}

fn snp(report: &[u8]) -> Evidence {
    Evidence::SevSnp {
        processor: Processor::Milan,
        report: b64(report),
        vcek: b64(include_bytes!("fixtures/vcek_milan.der")),
    }
}

fn milan_report() -> Vec<u8> {
    alloy::hex::decode(include_str!("fixtures/report_milan.hex").trim()).unwrap()
}

#[test]
fn a_tdx_quote_verifies_and_a_tampered_or_expired_one_does_not() {
    let (quote, evidence) = tdx();
    let attested = verify(&evidence, TDX_NOW).unwrap();
    assert_eq!(attested.platform, Platform::Tdx);
    assert_eq!(attested.status, "UpToDate");
    assert_eq!(
        alloy::hex::encode(attested.report_data),
        "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"
    );
    assert_eq!(attested.measurement.len(), 96, "MRTD is 48 bytes");

    // One bit of the report data flipped: the quote's signature no longer holds.
    let mut tampered = quote.clone();
    tampered[568] ^= 1;
    let collateral = include_bytes!("fixtures/tdx_quote_collateral.json");
    assert!(matches!(verify(&dcap(&tampered, collateral), TDX_NOW), Err(AttestError::Invalid { .. })));
    // The collateral has expired by the next second.
    assert!(matches!(verify(&evidence, TDX_NOW + 2), Err(AttestError::Invalid { .. })));
    // Not base64, or not a collateral.
    let bad = Evidence::Dcap { quote: "!!".into(), collateral: serde_json::json!({}) };
    assert!(matches!(verify(&bad, TDX_NOW), Err(AttestError::Malformed(_))));
}

#[test]
fn an_sgx_quote_verifies_with_its_tcb_status() {
    let evidence =
        dcap(include_bytes!("fixtures/sgx_quote"), include_bytes!("fixtures/sgx_quote_collateral.json"));
    let attested = verify(&evidence, SGX_NOW).unwrap();
    assert_eq!(attested.platform, Platform::Sgx);
    assert_eq!(attested.status, "ConfigurationAndSWHardeningNeeded");
    assert!(attested.report_data.starts_with(b"Hello, world!"));
}

#[test]
fn an_sev_snp_report_verifies_against_amds_keys_and_a_tampered_one_does_not() {
    let report = milan_report();
    let attested = verify(&snp(&report), 0).unwrap();
    assert_eq!(attested.platform, Platform::SevSnp);
    assert!(alloy::hex::encode(attested.report_data).starts_with("d447b55d197491bf"));

    let mut tampered = report.clone();
    tampered[0x50] ^= 1; // the report data
    assert!(matches!(verify(&snp(&tampered), 0), Err(AttestError::Invalid { .. })));
    // Signed for a Milan part: Genoa's keys do not sign its VCEK.
    let wrong_family = Evidence::SevSnp {
        processor: Processor::Genoa,
        report: b64(&report),
        vcek: b64(include_bytes!("fixtures/vcek_milan.der")),
    };
    assert!(matches!(verify(&wrong_family, 0), Err(AttestError::Invalid { .. })));
    assert!(matches!(verify(&snp(&report[..100]), 0), Err(AttestError::Malformed(_))));
}

#[test]
fn genuine_evidence_that_binds_another_key_is_refused() {
    let key: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse().unwrap();
    let (_, evidence) = tdx();
    assert_eq!(verify_binding(&evidence, key, TDX_NOW), Err(AttestError::Unbound { key }));
    assert_eq!(verify_binding(&snp(&milan_report()), key, 0), Err(AttestError::Unbound { key }));
    // The binding is the key's hash under the domain, then zeros: a different key, different data.
    let data = report_data_for(key);
    assert_eq!(&data[32..], &[0u8; 32]);
    assert_ne!(data, report_data_for(Address::repeat_byte(1)));
}

#[test]
fn evidence_reads_as_the_registration_file_writes_it() {
    let json =
        serde_json::json!({ "type": "sev-snp", "processor": "milan", "report": "AA==", "vcek": "AA==" });
    let evidence: Evidence = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&evidence).unwrap(), json);
    assert!(serde_json::from_value::<Evidence>(serde_json::json!({ "type": "nitro" })).is_err());
}
