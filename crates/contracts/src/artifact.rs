//! Committed contract artifacts: creation code, runtime code and immutable ranges.

use crate::{ArtifactError, Result};
use alloy::primitives::Bytes;
use serde::Deserialize;
use std::{ops::Range, sync::LazyLock};

/// A compiled contract as agora needs it.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The Solidity contract name.
    pub name: &'static str,
    /// Creation code (constructor arguments are appended to it when deploying).
    pub creation_code: Bytes,
    /// Runtime code as compiled, with zeros where immutables go.
    pub runtime_code: Bytes,
    /// Byte ranges of `runtime_code` that the constructor fills with immutables.
    pub immutable_ranges: Vec<Range<usize>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactJson {
    bytecode: CodeJson,
    deployed_bytecode: DeployedCodeJson,
}

#[derive(Deserialize)]
struct CodeJson {
    object: Bytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeployedCodeJson {
    object: Bytes,
    #[serde(default)]
    immutable_ranges: Vec<ImmutableRef>,
}

#[derive(Deserialize)]
struct ImmutableRef {
    start: usize,
    length: usize,
}

impl Artifact {
    /// Parses an artifact written by `scripts/export-artifacts.js`.
    pub fn from_json(name: &'static str, json: &str) -> Result<Self> {
        let parsed: ArtifactJson =
            serde_json::from_str(json).map_err(|source| ArtifactError::Malformed { name, source })?;
        let mut immutable_ranges: Vec<Range<usize>> =
            parsed.deployed_bytecode.immutable_ranges.iter().map(|r| r.start..r.start + r.length).collect();
        immutable_ranges.sort_by_key(|r| r.start);
        Ok(Self {
            name,
            creation_code: parsed.bytecode.object,
            runtime_code: parsed.deployed_bytecode.object,
            immutable_ranges,
        })
    }

    /// Whether `code` (as returned by `eth_getCode`) is this contract's runtime code: equal byte
    /// for byte except inside the immutable ranges, which depend on the deployment.
    pub fn matches_runtime_code(&self, code: &[u8]) -> bool {
        let expected = self.runtime_code.as_ref();
        if code.len() != expected.len() {
            return false;
        }
        let mut masked = self.immutable_ranges.iter().peekable();
        let mut i = 0;
        while i < code.len() {
            if let Some(range) = masked.peek()
                && range.contains(&i)
            {
                i = range.end;
                masked.next();
                continue;
            }
            if code[i] != expected[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

fn load(name: &'static str, json: &str) -> Artifact {
    // The artifacts are committed and checked by this crate's tests; a failure here means the
    // file was edited by hand, which no user input can cause.
    #[allow(clippy::expect_used)]
    Artifact::from_json(name, json).expect("committed artifact is valid")
}

pub(crate) static DEV_STABLECOIN: LazyLock<Artifact> =
    LazyLock::new(|| load("DevStablecoin", include_str!("../artifacts/DevStablecoin.json")));
pub(crate) static IDENTITY_REGISTRY: LazyLock<Artifact> =
    LazyLock::new(|| load("IdentityRegistry", include_str!("../artifacts/IdentityRegistry.json")));
pub(crate) static REPUTATION_REGISTRY: LazyLock<Artifact> =
    LazyLock::new(|| load("ReputationRegistry", include_str!("../artifacts/ReputationRegistry.json")));
pub(crate) static VALIDATION_REGISTRY: LazyLock<Artifact> =
    LazyLock::new(|| load("ValidationRegistry", include_str!("../artifacts/ValidationRegistry.json")));
pub(crate) static X402_BATCH_SETTLEMENT: LazyLock<Artifact> =
    LazyLock::new(|| load("X402BatchSettlement", include_str!("../artifacts/X402BatchSettlement.json")));
pub(crate) static ERC3009_DEPOSIT_COLLECTOR: LazyLock<Artifact> = LazyLock::new(|| {
    load("ERC3009DepositCollector", include_str!("../artifacts/ERC3009DepositCollector.json"))
});
pub(crate) static PERMIT2_DEPOSIT_COLLECTOR: LazyLock<Artifact> = LazyLock::new(|| {
    load("Permit2DepositCollector", include_str!("../artifacts/Permit2DepositCollector.json"))
});
pub(crate) static PERMIT2: LazyLock<Artifact> =
    LazyLock::new(|| load("Permit2", include_str!("../artifacts/Permit2.json")));
pub(crate) static X402_UPTO_PERMIT2_PROXY: LazyLock<Artifact> =
    LazyLock::new(|| load("X402UptoPermit2Proxy", include_str!("../artifacts/X402UptoPermit2Proxy.json")));
pub(crate) static MULTICALL3: LazyLock<Artifact> =
    LazyLock::new(|| load("Multicall3", include_str!("../artifacts/Multicall3.json")));
pub(crate) static POSEIDON_T2: LazyLock<Artifact> =
    LazyLock::new(|| load("PoseidonT2", include_str!("../artifacts/PoseidonT2.json")));
pub(crate) static POSEIDON_T3: LazyLock<Artifact> =
    LazyLock::new(|| load("PoseidonT3", include_str!("../artifacts/PoseidonT3.json")));
pub(crate) static POSEIDON_T4: LazyLock<Artifact> =
    LazyLock::new(|| load("PoseidonT4", include_str!("../artifacts/PoseidonT4.json")));
pub(crate) static RLN_VERIFIER: LazyLock<Artifact> =
    LazyLock::new(|| load("RlnVerifier", include_str!("../artifacts/RlnVerifier.json")));
pub(crate) static ZK_CREDITS: LazyLock<Artifact> =
    LazyLock::new(|| load("ZkCredits", include_str!("../artifacts/ZkCredits.json")));
pub(crate) static AGENTIC_COMMERCE: LazyLock<Artifact> =
    LazyLock::new(|| load("AgenticCommerce", include_str!("../artifacts/AgenticCommerce.json")));
pub(crate) static VALIDATOR_COUNCIL: LazyLock<Artifact> =
    LazyLock::new(|| load("ValidatorCouncil", include_str!("../artifacts/ValidatorCouncil.json")));
pub(crate) static JOB_EVALUATOR: LazyLock<Artifact> =
    LazyLock::new(|| load("JobEvaluator", include_str!("../artifacts/JobEvaluator.json")));

pub(crate) static DEEP_FUNDING_ROUND: LazyLock<Artifact> =
    LazyLock::new(|| load("DeepFundingRound", include_str!("../artifacts/DeepFundingRound.json")));

pub(crate) static CONDITIONAL_TOKENS: LazyLock<Artifact> =
    LazyLock::new(|| load("ConditionalTokens", include_str!("../artifacts/ConditionalTokens.json")));

pub(crate) static LMSR_MARKET_MAKER: LazyLock<Artifact> =
    LazyLock::new(|| load("LmsrMarketMaker", include_str!("../artifacts/LmsrMarketMaker.json")));

pub(crate) static OPTIMISTIC_RESOLVER: LazyLock<Artifact> =
    LazyLock::new(|| load("OptimisticResolver", include_str!("../artifacts/OptimisticResolver.json")));

pub(crate) static DECISION_MARKET: LazyLock<Artifact> =
    LazyLock::new(|| load("DecisionMarket", include_str!("../artifacts/DecisionMarket.json")));

pub(crate) static CHAIN_FACTS: LazyLock<Artifact> =
    LazyLock::new(|| load("ChainFacts", include_str!("../artifacts/ChainFacts.json")));

pub(crate) static FORECAST_BOARD: LazyLock<Artifact> =
    LazyLock::new(|| load("ForecastBoard", include_str!("../artifacts/ForecastBoard.json")));

pub(crate) static QUADRATIC_FUNDING_ROUND: LazyLock<Artifact> =
    LazyLock::new(|| load("QuadraticFundingRound", include_str!("../artifacts/QuadraticFundingRound.json")));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SUITE;

    #[test]
    fn every_suite_artifact_parses_and_has_code() {
        for contract in SUITE {
            let artifact = contract.artifact();
            assert_eq!(artifact.name, contract.name());
            assert!(artifact.creation_code.len() > artifact.runtime_code.len());
            assert!(!artifact.runtime_code.is_empty());
        }
    }

    #[test]
    fn every_x402_artifact_parses_and_has_code() {
        for contract in crate::X402_CONTRACTS {
            let artifact = contract.artifact();
            assert_eq!(artifact.name, contract.name());
            assert!(artifact.creation_code.len() > artifact.runtime_code.len());
            assert!(!artifact.runtime_code.is_empty());
        }
    }

    #[test]
    fn runtime_match_ignores_only_immutables() {
        let artifact = &*DEV_STABLECOIN;
        assert!(!artifact.immutable_ranges.is_empty(), "EIP-712 domain is cached in immutables");
        let mut code = artifact.runtime_code.to_vec();
        assert!(artifact.matches_runtime_code(&code));

        // Filling immutables (what the constructor does) still matches.
        for range in &artifact.immutable_ranges {
            code[range.clone()].fill(0xab);
        }
        assert!(artifact.matches_runtime_code(&code));

        // A byte changed outside any immutable does not.
        let outside = (0..code.len())
            .find(|i| !artifact.immutable_ranges.iter().any(|r| r.contains(i)))
            .unwrap_or_default();
        code[outside] ^= 0xff;
        assert!(!artifact.matches_runtime_code(&code));

        // Neither does a prefix, nor longer code.
        assert!(!artifact.matches_runtime_code(&artifact.runtime_code[..10]));
        let mut longer = artifact.runtime_code.to_vec();
        longer.push(0);
        assert!(!artifact.matches_runtime_code(&longer));
    }

    #[test]
    fn a_library_matches_with_its_own_address_written_in() {
        for artifact in [&*POSEIDON_T2, &*POSEIDON_T3, &*POSEIDON_T4] {
            assert_eq!(
                artifact.immutable_ranges,
                vec![1..21],
                "{}: the call-protection address",
                artifact.name
            );
            let mut code = artifact.runtime_code.to_vec();
            assert_eq!(code[0], 0x73, "PUSH20");
            // What the creation code writes there: the library's address.
            code[1..21].copy_from_slice(&[0x5a; 20]);
            assert!(artifact.matches_runtime_code(&code), "{}", artifact.name);
            code[21] ^= 0xff;
            assert!(!artifact.matches_runtime_code(&code), "{}", artifact.name);
        }
    }

    #[test]
    fn malformed_artifact_is_an_error() {
        let err = Artifact::from_json("X", "{\"bytecode\": 1}").unwrap_err();
        assert!(err.to_string().contains("artifact X is malformed"), "{err}");
    }
}
