//! Trusted-execution attestations of providers, verified offline.
//!
//! A provider that runs in a TEE publishes evidence in its ERC-8004 registration file
//! (`"attestation"`): an Intel DCAP quote (TDX or SGX) with its collateral, or an AMD SEV-SNP
//! report with the VCEK that signed it. The evidence proves which code runs (the measurement)
//! on genuine hardware, and its 64 bytes of report data bind the key that signs the provider's
//! inference receipts: [`report_data_for`] of that key. Verified here, with no network:
//!
//! - DCAP: the quote's signature chain to Intel's root, the collateral's CRLs and TCB info at
//!   the time given, and the TCB level (`dcap-qvl`; debug enclaves are refused);
//! - SEV-SNP: AMD's built-in ARK and ASK for the processor family, the VCEK they sign, and the
//!   report's signature by the VCEK (`sev`);
//! - then that the report data is [`report_data_for`] the receipt key.
//!
//! ```json
//! "attestation": { "type": "dcap", "quote": "<base64>", "collateral": { …dcap-qvl's QuoteCollateralV3… } }
//! "attestation": { "type": "sev-snp", "processor": "milan", "report": "<base64>", "vcek": "<base64 DER>" }
//! ```

use alloy::primitives::{Address, keccak256};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// What the report data commits to, before the key: `keccak256(DOMAIN ‖ address)`.
pub const BINDING_DOMAIN: &[u8] = b"agora receipt key v1";

/// The platforms verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// Intel TDX (a trust domain).
    Tdx,
    /// Intel SGX (an enclave).
    Sgx,
    /// AMD SEV-SNP (a confidential VM).
    SevSnp,
}

impl Platform {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tdx => "tdx",
            Self::Sgx => "sgx",
            Self::SevSnp => "sev-snp",
        }
    }
}

/// AMD processor families whose root keys are built in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Processor {
    /// EPYC 7003.
    Milan,
    /// EPYC 9004.
    Genoa,
    /// EPYC 9005.
    Turin,
}

/// Evidence as a registration file carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Evidence {
    /// An Intel DCAP quote (TDX or SGX) and the collateral to check it against.
    Dcap {
        /// The quote, base64.
        quote: String,
        /// `dcap-qvl`'s `QuoteCollateralV3`, as JSON.
        collateral: serde_json::Value,
    },
    /// An AMD SEV-SNP attestation report and the VCEK that signed it.
    SevSnp {
        /// The processor family (its built-in ARK and ASK).
        processor: Processor,
        /// The 1,184-byte report, base64.
        report: String,
        /// The VCEK certificate, DER, base64.
        vcek: String,
    },
}

/// What verified evidence says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attested {
    /// The platform.
    pub platform: Platform,
    /// The code measured (MRTD, MRENCLAVE, or the SNP launch measurement), hex.
    pub measurement: String,
    /// The TCB status (DCAP: `UpToDate`, `SWHardeningNeeded`…; SNP: `verified`).
    pub status: String,
    /// The 64 bytes of report data.
    #[serde(skip)]
    pub report_data: [u8; 64],
}

/// Why evidence was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttestError {
    /// It could not be read.
    #[error("the attestation is malformed: {0}")]
    Malformed(String),
    /// It does not verify.
    #[error("the {platform} attestation does not verify: {reason}")]
    Invalid {
        /// The platform claimed.
        platform: &'static str,
        /// Why.
        reason: String,
    },
    /// It verifies but binds another key.
    #[error("the attestation verifies but its report data does not bind the receipt key {key}")]
    Unbound {
        /// The key it should bind.
        key: Address,
    },
}

/// The report data that binds `key`: `keccak256(BINDING_DOMAIN ‖ key)`, then 32 zero bytes.
pub fn report_data_for(key: Address) -> [u8; 64] {
    let mut preimage = BINDING_DOMAIN.to_vec();
    preimage.extend_from_slice(key.as_slice());
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(keccak256(preimage).as_slice());
    data
}

fn base64(field: &str, text: &str) -> Result<Vec<u8>, AttestError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| AttestError::Malformed(format!("{field} is not base64: {e}")))
}

/// Verifies `evidence` at `now_secs` (Unix seconds: the collateral must be valid then).
pub fn verify(evidence: &Evidence, now_secs: u64) -> Result<Attested, AttestError> {
    match evidence {
        Evidence::Dcap { quote, collateral } => {
            let quote = base64("quote", quote)?;
            let collateral: dcap_qvl::QuoteCollateralV3 = serde_json::from_value(collateral.clone())
                .map_err(|e| AttestError::Malformed(format!("the collateral: {e}")))?;
            verify_dcap(&quote, &collateral, now_secs)
        }
        Evidence::SevSnp { processor, report, vcek } => {
            verify_snp(*processor, &base64("report", report)?, &base64("vcek", vcek)?)
        }
    }
}

/// Verifies `evidence` at `now_secs` and that it binds `key`.
pub fn verify_binding(evidence: &Evidence, key: Address, now_secs: u64) -> Result<Attested, AttestError> {
    let attested = verify(evidence, now_secs)?;
    if attested.report_data != report_data_for(key) {
        return Err(AttestError::Unbound { key });
    }
    Ok(attested)
}

fn verify_dcap(
    quote: &[u8],
    collateral: &dcap_qvl::QuoteCollateralV3,
    now_secs: u64,
) -> Result<Attested, AttestError> {
    let verified = dcap_qvl::verify::verify(quote, collateral, now_secs)
        .map_err(|e| AttestError::Invalid { platform: "dcap", reason: format!("{e:#}") })?;
    let (platform, measurement, report_data) = match (verified.report.as_td10(), verified.report.as_sgx()) {
        (Some(td), _) => (Platform::Tdx, alloy::hex::encode(td.mr_td), td.report_data),
        (None, Some(enclave)) => (Platform::Sgx, alloy::hex::encode(enclave.mr_enclave), enclave.report_data),
        (None, None) => {
            return Err(AttestError::Invalid {
                platform: "dcap",
                reason: "neither a TDX nor an SGX report".into(),
            });
        }
    };
    Ok(Attested { platform, measurement, status: verified.status, report_data })
}

fn verify_snp(processor: Processor, report: &[u8], vcek: &[u8]) -> Result<Attested, AttestError> {
    use sev::{
        certs::snp::{Certificate, Chain, Verifiable, builtin, ca},
        firmware::guest::AttestationReport,
        parser::ByteParser,
    };
    let invalid = |e: std::io::Error| AttestError::Invalid { platform: "sev-snp", reason: e.to_string() };
    let (ark, ask) = match processor {
        Processor::Milan => (builtin::milan::ark(), builtin::milan::ask()),
        Processor::Genoa => (builtin::genoa::ark(), builtin::genoa::ask()),
        Processor::Turin => (builtin::turin::ark(), builtin::turin::ask()),
    };
    let chain = Chain {
        ca: ca::Chain { ark: ark.map_err(invalid)?, ask: ask.map_err(invalid)? },
        vek: Certificate::from_der(vcek).map_err(|e| AttestError::Malformed(format!("the VCEK: {e}")))?,
    };
    let report = AttestationReport::from_bytes(report)
        .map_err(|e| AttestError::Malformed(format!("the report (1,184 bytes expected): {e}")))?;
    (&chain, &report).verify().map_err(invalid)?;
    Ok(Attested {
        platform: Platform::SevSnp,
        measurement: alloy::hex::encode(report.measurement),
        status: "verified".into(),
        report_data: report.report_data,
    })
}
