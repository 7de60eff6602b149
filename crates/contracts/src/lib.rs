//! Bindings to agora's Solidity contracts.
//!
//! The Foundry project in `contracts/` is compiled by `make artifacts`, which copies each
//! contract's ABI and bytecode into `crates/contracts/artifacts/`. Those files are committed, so
//! building this crate needs neither node nor solc; the `sources_match_artifacts` test fails when
//! a Solidity source changes without the artifacts being exported again.
//!
//! Each contract in [`SUITE`] is described by an [`Artifact`]: its creation code (to deploy) and
//! its runtime code with the byte ranges that hold immutables, so code found on a chain can be
//! compared with what we expect ([`Artifact::matches_runtime_code`]).

mod artifact;
mod error;
mod x402;

pub use artifact::Artifact;
pub use error::{ArtifactError, Result};
pub use x402::{
    BATCH_SETTLEMENT_DOMAIN_NAME, BATCH_SETTLEMENT_DOMAIN_VERSION, X402_CONTRACTS, X402Contract,
    batch_settlement_domain, permit2_domain,
};

/// Typed bindings generated from the committed artifacts.
pub mod bindings {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        DevStablecoin,
        "artifacts/DevStablecoin.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        IdentityRegistry,
        "artifacts/IdentityRegistry.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        ReputationRegistry,
        "artifacts/ReputationRegistry.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        ValidationRegistry,
        "artifacts/ValidationRegistry.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        BulkAgents,
        "artifacts/BulkAgents.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        X402BatchSettlement,
        "artifacts/X402BatchSettlement.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        ERC3009DepositCollector,
        "artifacts/ERC3009DepositCollector.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        Permit2DepositCollector,
        "artifacts/Permit2DepositCollector.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        Permit2,
        "artifacts/Permit2.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        Multicall3,
        "artifacts/Multicall3.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        RlnVerifier,
        "artifacts/RlnVerifier.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        ZkCredits,
        "artifacts/ZkCredits.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        AgenticCommerce,
        "artifacts/AgenticCommerce.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        ValidatorCouncil,
        "artifacts/ValidatorCouncil.json"
    );

    pub use evaluator::JobEvaluator;

    /// The evaluator's ABI names the escrow's `Job` struct and `Status` enum as
    /// `AgenticCommerce.*`; in its own module that generated `AgenticCommerce` does not clash.
    pub mod evaluator {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug, PartialEq, Eq)]
            JobEvaluator,
            "artifacts/JobEvaluator.json"
        );
    }

    pub use deep_funding::DeepFundingRound;

    /// The round contracts share the optimistic distributor's types; each in its own module.
    pub mod deep_funding {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug, PartialEq, Eq)]
            DeepFundingRound,
            "artifacts/DeepFundingRound.json"
        );
    }

    pub use quadratic_funding::QuadraticFundingRound;

    /// See [`deep_funding`].
    pub mod quadratic_funding {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug, PartialEq, Eq)]
            QuadraticFundingRound,
            "artifacts/QuadraticFundingRound.json"
        );
    }

    pub use markets::{
        ChainFacts, ConditionalTokens, DecisionMarket, ForecastBoard, LmsrMarketMaker, OptimisticResolver,
    };

    /// The market contracts, each in its own module (they share the arbitration types).
    pub mod markets {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

        pub use chain_facts::ChainFacts;
        pub use conditional_tokens::ConditionalTokens;
        pub use decision_market::DecisionMarket;
        pub use forecast_board::ForecastBoard;
        pub use lmsr_market_maker::LmsrMarketMaker;
        pub use optimistic_resolver::OptimisticResolver;

        pub mod chain_facts {
            alloy::sol!(
                #[sol(rpc)]
                #[derive(Debug, PartialEq, Eq)]
                ChainFacts,
                "artifacts/ChainFacts.json"
            );
        }
        pub mod conditional_tokens {
            alloy::sol!(
                #[sol(rpc)]
                #[derive(Debug, PartialEq, Eq)]
                ConditionalTokens,
                "artifacts/ConditionalTokens.json"
            );
        }
        pub mod lmsr_market_maker {
            alloy::sol!(
                #[sol(rpc)]
                #[derive(Debug, PartialEq, Eq)]
                LmsrMarketMaker,
                "artifacts/LmsrMarketMaker.json"
            );
        }
        pub mod optimistic_resolver {
            alloy::sol!(
                #[sol(rpc)]
                #[derive(Debug, PartialEq, Eq)]
                OptimisticResolver,
                "artifacts/OptimisticResolver.json"
            );
        }
        pub mod decision_market {
            alloy::sol!(
                #[sol(rpc)]
                #[derive(Debug, PartialEq, Eq)]
                DecisionMarket,
                "artifacts/DecisionMarket.json"
            );
        }
        pub mod forecast_board {
            alloy::sol!(
                #[sol(rpc)]
                #[derive(Debug, PartialEq, Eq)]
                ForecastBoard,
                "artifacts/ForecastBoard.json"
            );
        }
    }

    pub use upto::X402UptoPermit2Proxy;

    /// The proxy's ABI names Permit2's structs as `ISignatureTransfer.*`, as Permit2's does; in
    /// their own module the two generated `ISignatureTransfer`s do not clash.
    pub mod upto {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug, PartialEq, Eq)]
            X402UptoPermit2Proxy,
            "artifacts/X402UptoPermit2Proxy.json"
        );
    }
}

fn shown<T: std::fmt::Debug>(decoded: T) -> String {
    // `Variant(Variant { .. })` → `Variant { .. }`; a variant without fields stays as it is.
    let text = format!("{decoded:?}");
    match text.split_once('(') {
        Some((name, rest)) if rest.starts_with(name) => rest.trim_end_matches(')').to_owned(),
        _ => text,
    }
}

/// [`decode_revert`] for a revert known to come from `contract`: its own errors are tried
/// first, so an error whose signature another suite contract shares is named with this
/// contract's argument names (`RevealNotOpen { roundId, .. }`, not the council's `disputeId`).
pub fn decode_revert_from(contract: SuiteContract, data: &[u8]) -> Option<String> {
    use alloy::sol_types::SolInterface;
    let own = match contract {
        SuiteContract::DeepFundingRound => {
            bindings::DeepFundingRound::DeepFundingRoundErrors::abi_decode(data).ok().map(shown)
        }
        SuiteContract::QuadraticFundingRound => {
            bindings::QuadraticFundingRound::QuadraticFundingRoundErrors::abi_decode(data).ok().map(shown)
        }
        SuiteContract::ConditionalTokens => {
            bindings::ConditionalTokens::ConditionalTokensErrors::abi_decode(data).ok().map(shown)
        }
        SuiteContract::LmsrMarketMaker => {
            bindings::LmsrMarketMaker::LmsrMarketMakerErrors::abi_decode(data).ok().map(shown)
        }
        SuiteContract::OptimisticResolver => {
            bindings::OptimisticResolver::OptimisticResolverErrors::abi_decode(data).ok().map(shown)
        }
        SuiteContract::DecisionMarket => {
            bindings::DecisionMarket::DecisionMarketErrors::abi_decode(data).ok().map(shown)
        }
        SuiteContract::ChainFacts => bindings::ChainFacts::ChainFactsErrors::abi_decode(data).ok().map(shown),
        SuiteContract::ForecastBoard => {
            bindings::ForecastBoard::ForecastBoardErrors::abi_decode(data).ok().map(shown)
        }
        _ => None,
    };
    own.or_else(|| decode_revert(data))
}

/// How often [`send_to`] sends a call that checked out but reverted in its block.
const SEND_ATTEMPTS: u32 = 2;

/// [`send`] for a call to `contract`, naming its reverts by [`decode_revert_from`]. A call that
/// reverts in its block though its check (the gas estimate) passed is checked and sent again,
/// once: another sender changed the state in between.
pub async fn send_to<P, D>(
    contract: SuiteContract,
    call: alloy::contract::CallBuilder<P, D>,
    what: &str,
) -> Result<alloy::rpc::types::TransactionReceipt, String>
where
    P: alloy::providers::Provider,
    D: alloy::contract::CallDecoder,
{
    let refused = |e: alloy::contract::Error| {
        let named = e.as_revert_data().and_then(|data| decode_revert_from(contract, &data));
        match named {
            Some(decoded) => format!("{what}: the contract reverted with {decoded}"),
            None => format!("{what}: {}", explain_call_error(&e)),
        }
    };
    // A call is checked (its gas estimated) before it is sent. Another sender can change the
    // state in between (a keeper's observation, a trade), so the same call reverts or runs out
    // of gas in its block: it is checked and sent once more, and then a revert is named.
    let mut attempt = 0;
    loop {
        let pending = call.send().await.map_err(refused)?;
        let receipt = pending.get_receipt().await.map_err(|e| format!("{what}: {e}"))?;
        if receipt.status() {
            return Ok(receipt);
        }
        attempt += 1;
        if attempt == SEND_ATTEMPTS {
            return Err(format!(
                "{what}: the transaction reverted in its block ({}) though it checked out before: the chain's state changed in between",
                receipt.transaction_hash
            ));
        }
    }
}

/// Names a revert of an agora contract (or of the OpenZeppelin code inside it): the custom
/// error with its arguments, e.g. `ERC20InsufficientBalance { sender: 0x…, balance: 0, needed:
/// 1000 }`, instead of its 4-byte selector. `None` for data no suite contract defines.
pub fn decode_revert(data: &[u8]) -> Option<String> {
    use alloy::sol_types::SolInterface;
    if let Ok(e) = bindings::DevStablecoin::DevStablecoinErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::X402BatchSettlement::X402BatchSettlementErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::X402UptoPermit2Proxy::X402UptoPermit2ProxyErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::Permit2::Permit2Errors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::Permit2DepositCollector::Permit2DepositCollectorErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::ERC3009DepositCollector::ERC3009DepositCollectorErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::IdentityRegistry::IdentityRegistryErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::ReputationRegistry::ReputationRegistryErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::ValidationRegistry::ValidationRegistryErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::ZkCredits::ZkCreditsErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::AgenticCommerce::AgenticCommerceErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::JobEvaluator::JobEvaluatorErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::ValidatorCouncil::ValidatorCouncilErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::DeepFundingRound::DeepFundingRoundErrors::abi_decode(data) {
        return Some(shown(e));
    }
    if let Ok(e) = bindings::QuadraticFundingRound::QuadraticFundingRoundErrors::abi_decode(data) {
        return Some(shown(e));
    }
    None
}

/// A contract call's error in words: a revert of the suite decoded with its arguments, else
/// the error as alloy says it.
pub fn explain_call_error(error: &alloy::contract::Error) -> String {
    match error.as_revert_data().and_then(|data| decode_revert(&data)) {
        Some(decoded) => format!("the contract reverted with {decoded}"),
        None => error.to_string(),
    }
}

/// Sends a contract call and waits until it is mined. `what` names the step in the error: a
/// revert at estimation comes back decoded ([`explain_call_error`]), as does a transaction that
/// was mined but reverted.
pub async fn send<P, D>(
    call: alloy::contract::CallBuilder<P, D>,
    what: &str,
) -> Result<alloy::rpc::types::TransactionReceipt, String>
where
    P: alloy::providers::Provider,
    D: alloy::contract::CallDecoder,
{
    let receipt = call
        .send()
        .await
        .map_err(|e| format!("{what}: {}", explain_call_error(&e)))?
        .get_receipt()
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    if !receipt.status() {
        return Err(format!("{what}: the transaction reverted ({})", receipt.transaction_hash));
    }
    Ok(receipt)
}

/// [`send`] as a method of the call: `contract.f(x).sent("doing f").await`.
pub trait SendCall {
    /// Sends the call and waits until it is mined; see [`send`].
    fn sent(
        self,
        what: &str,
    ) -> impl std::future::Future<Output = Result<alloy::rpc::types::TransactionReceipt, String>> + Send;
}

impl<P, D> SendCall for alloy::contract::CallBuilder<P, D>
where
    P: alloy::providers::Provider + Send + Sync,
    D: alloy::contract::CallDecoder + Send + Sync,
{
    fn sent(
        self,
        what: &str,
    ) -> impl std::future::Future<Output = Result<alloy::rpc::types::TransactionReceipt, String>> + Send {
        let what = what.to_owned();
        async move { send(self, &what).await }
    }
}

/// A contract of the agora suite, deployed once per chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SuiteContract {
    /// The devnet dollar: ERC-20 with 6 decimals, EIP-2612 and EIP-3009, dev-chain faucet.
    DevStablecoin,
    /// ERC-8004 Identity Registry: agents as ERC-721 tokens.
    IdentityRegistry,
    /// ERC-8004 Reputation Registry (constructed with the identity registry).
    ReputationRegistry,
    /// ERC-8004 Validation Registry (constructed with the identity registry).
    ValidationRegistry,
    /// circomlib's Poseidon with one input (poseidon-solidity's library, deployed standalone).
    PoseidonT2,
    /// circomlib's Poseidon with two inputs.
    PoseidonT3,
    /// circomlib's Poseidon with three inputs.
    PoseidonT4,
    /// The Groth16 verifier of the RLN single circuit (exit proofs of credit pools).
    RlnVerifier,
    /// Anonymous prepaid call credits (constructed with the identity registry, the verifier and
    /// the three Poseidon contracts).
    ZkCredits,
    /// ERC-8183 job escrow in the devnet dollar (constructed with the stablecoin).
    AgenticCommerce,
    /// The arbitrator of job disputes: a council of staked ERC-8004 validators (constructed with
    /// the stablecoin, the identity registry and [`COUNCIL_PARAMS`]).
    ValidatorCouncil,
    /// The optimistic evaluator of jobs: bonds, challenges, rulings, job feedback (constructed
    /// with the escrow, the council, the two ERC-8004 registries and [`EVALUATOR_PARAMS`]).
    JobEvaluator,
    /// Deep-funding rounds: solver and jury commit–reveal, an optimistic result with council
    /// disputes, Merkle claims (constructed with the stablecoin and the council).
    DeepFundingRound,
    /// Quadratic-funding rounds: identity-gated donations, an optimistic matching result with
    /// council disputes, Merkle claims (constructed with the stablecoin, the council and the
    /// identity registry).
    QuadraticFundingRound,
    /// Outcome positions: ERC-1155 conditional tokens that nest (no constructor arguments).
    ConditionalTokens,
    /// LMSR market makers over the conditional tokens (constructed with them and the stablecoin).
    LmsrMarketMaker,
    /// The oracle of market questions: assertions with a bond and a liveness window, disputes to
    /// the council (constructed with the conditional tokens, the stablecoin and the council).
    OptimisticResolver,
    /// Futarchy: pass/fail books, capped TWAPs, the threshold rule, the action on pass
    /// (constructed with the conditional tokens and the stablecoin).
    DecisionMarket,
    /// The oracle of questions the chain answers by itself (a balance at a block), constructed
    /// with the conditional tokens.
    ChainFacts,
    /// Public, immutable forecasts of binary markets by ERC-8004 agents, so anyone can score a
    /// trader (constructed with the identity registry, the maker and the conditional tokens).
    ForecastBoard,
}

/// The council's numeric constructor arguments as deployed by agora: jurors per dispute,
/// commit and reveal periods (seconds), fee per juror, minimum stake and slash (token units,
/// 6 decimals: $0.50, $10, $2).
pub const COUNCIL_PARAMS: [u64; 6] = [3, 300, 300, 500_000, 10_000_000, 2_000_000];

/// The evaluator's numeric constructor arguments as deployed by agora: the challenge window and
/// the ruling window, in seconds. The ruling window covers the council's commit and reveal
/// periods with room for its execution.
pub const EVALUATOR_PARAMS: [u64; 2] = [300, 900];

/// Every contract of the suite, in deployment order (a contract only depends on earlier ones).
pub const SUITE: &[SuiteContract] = &[
    SuiteContract::DevStablecoin,
    SuiteContract::IdentityRegistry,
    SuiteContract::ReputationRegistry,
    SuiteContract::ValidationRegistry,
    SuiteContract::PoseidonT2,
    SuiteContract::PoseidonT3,
    SuiteContract::PoseidonT4,
    SuiteContract::RlnVerifier,
    SuiteContract::ZkCredits,
    SuiteContract::AgenticCommerce,
    SuiteContract::ValidatorCouncil,
    SuiteContract::JobEvaluator,
    SuiteContract::DeepFundingRound,
    SuiteContract::QuadraticFundingRound,
    SuiteContract::ConditionalTokens,
    SuiteContract::LmsrMarketMaker,
    SuiteContract::OptimisticResolver,
    SuiteContract::DecisionMarket,
    SuiteContract::ChainFacts,
    SuiteContract::ForecastBoard,
];

impl SuiteContract {
    /// The contract's name, as in Solidity and in the deployments file.
    pub const fn name(self) -> &'static str {
        match self {
            Self::DevStablecoin => "DevStablecoin",
            Self::IdentityRegistry => "IdentityRegistry",
            Self::ReputationRegistry => "ReputationRegistry",
            Self::ValidationRegistry => "ValidationRegistry",
            Self::PoseidonT2 => "PoseidonT2",
            Self::PoseidonT3 => "PoseidonT3",
            Self::PoseidonT4 => "PoseidonT4",
            Self::RlnVerifier => "RlnVerifier",
            Self::ZkCredits => "ZkCredits",
            Self::AgenticCommerce => "AgenticCommerce",
            Self::ValidatorCouncil => "ValidatorCouncil",
            Self::JobEvaluator => "JobEvaluator",
            Self::DeepFundingRound => "DeepFundingRound",
            Self::QuadraticFundingRound => "QuadraticFundingRound",
            Self::ConditionalTokens => "ConditionalTokens",
            Self::LmsrMarketMaker => "LmsrMarketMaker",
            Self::OptimisticResolver => "OptimisticResolver",
            Self::DecisionMarket => "DecisionMarket",
            Self::ChainFacts => "ChainFacts",
            Self::ForecastBoard => "ForecastBoard",
        }
    }

    /// The contracts of the suite this one is constructed with, in constructor order.
    pub const fn constructor_dependencies(self) -> &'static [SuiteContract] {
        match self {
            Self::DevStablecoin
            | Self::IdentityRegistry
            | Self::PoseidonT2
            | Self::PoseidonT3
            | Self::PoseidonT4
            | Self::RlnVerifier
            | Self::ConditionalTokens => &[],
            Self::ReputationRegistry | Self::ValidationRegistry => &[Self::IdentityRegistry],
            Self::ZkCredits => &[
                Self::IdentityRegistry,
                Self::RlnVerifier,
                Self::PoseidonT2,
                Self::PoseidonT3,
                Self::PoseidonT4,
            ],
            Self::AgenticCommerce => &[Self::DevStablecoin],
            Self::ValidatorCouncil => &[Self::DevStablecoin, Self::IdentityRegistry],
            Self::DeepFundingRound => &[Self::DevStablecoin, Self::ValidatorCouncil],
            Self::QuadraticFundingRound => {
                &[Self::DevStablecoin, Self::ValidatorCouncil, Self::IdentityRegistry]
            }
            Self::LmsrMarketMaker | Self::DecisionMarket => &[Self::ConditionalTokens, Self::DevStablecoin],
            Self::ChainFacts => &[Self::ConditionalTokens],
            Self::ForecastBoard => &[Self::IdentityRegistry, Self::LmsrMarketMaker, Self::ConditionalTokens],
            Self::OptimisticResolver => {
                &[Self::ConditionalTokens, Self::DevStablecoin, Self::ValidatorCouncil]
            }
            Self::JobEvaluator => &[
                Self::AgenticCommerce,
                Self::ValidatorCouncil,
                Self::IdentityRegistry,
                Self::ReputationRegistry,
            ],
        }
    }

    /// The numeric constructor arguments that follow the addresses, as agora deploys them.
    pub const fn constructor_values(self) -> &'static [u64] {
        match self {
            Self::ValidatorCouncil => &COUNCIL_PARAMS,
            Self::JobEvaluator => &EVALUATOR_PARAMS,
            _ => &[],
        }
    }

    /// Creation code with the constructor arguments appended, given the addresses of the
    /// contracts it depends on (in [`Self::constructor_dependencies`] order).
    pub fn deploy_code(self, dependencies: &[alloy::primitives::Address]) -> alloy::primitives::Bytes {
        let mut code = self.artifact().creation_code.to_vec();
        for address in dependencies {
            code.extend_from_slice(address.into_word().as_slice());
        }
        for value in self.constructor_values() {
            code.extend_from_slice(&alloy::primitives::U256::from(*value).to_be_bytes::<32>());
        }
        code.into()
    }

    /// Looks a suite contract up by its Solidity name.
    pub fn from_name(name: &str) -> Option<Self> {
        SUITE.iter().copied().find(|c| c.name() == name)
    }

    /// The contract's committed artifact.
    pub fn artifact(self) -> &'static Artifact {
        match self {
            Self::DevStablecoin => &artifact::DEV_STABLECOIN,
            Self::IdentityRegistry => &artifact::IDENTITY_REGISTRY,
            Self::ReputationRegistry => &artifact::REPUTATION_REGISTRY,
            Self::ValidationRegistry => &artifact::VALIDATION_REGISTRY,
            Self::PoseidonT2 => &artifact::POSEIDON_T2,
            Self::PoseidonT3 => &artifact::POSEIDON_T3,
            Self::PoseidonT4 => &artifact::POSEIDON_T4,
            Self::RlnVerifier => &artifact::RLN_VERIFIER,
            Self::ZkCredits => &artifact::ZK_CREDITS,
            Self::AgenticCommerce => &artifact::AGENTIC_COMMERCE,
            Self::ValidatorCouncil => &artifact::VALIDATOR_COUNCIL,
            Self::JobEvaluator => &artifact::JOB_EVALUATOR,
            Self::DeepFundingRound => &artifact::DEEP_FUNDING_ROUND,
            Self::QuadraticFundingRound => &artifact::QUADRATIC_FUNDING_ROUND,
            Self::ConditionalTokens => &artifact::CONDITIONAL_TOKENS,
            Self::LmsrMarketMaker => &artifact::LMSR_MARKET_MAKER,
            Self::OptimisticResolver => &artifact::OPTIMISTIC_RESOLVER,
            Self::DecisionMarket => &artifact::DECISION_MARKET,
            Self::ChainFacts => &artifact::CHAIN_FACTS,
            Self::ForecastBoard => &artifact::FORECAST_BOARD,
        }
    }
}

impl std::fmt::Display for SuiteContract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{Address, U256},
        sol_types::{SolCall, SolError},
    };

    #[test]
    fn reverts_are_named_with_their_arguments() {
        let data = bindings::DevStablecoin::ERC20InsufficientBalance {
            sender: Address::repeat_byte(1),
            balance: U256::from(5),
            needed: U256::from(1_000),
        }
        .abi_encode();
        let text = decode_revert(&data).unwrap_or_default();
        assert!(text.starts_with("ERC20InsufficientBalance {"), "{text}");
        assert!(text.contains("balance: 5") && text.contains("needed: 1000"), "{text}");
        assert_eq!(decode_revert(&[0xde, 0xad, 0xbe, 0xef]), None);
    }

    #[test]
    fn zk_credits_reverts_are_named() {
        use bindings::ZkCredits;
        let cases = [
            (ZkCredits::LeafTaken { leaf: U256::from(9) }.abi_encode(), "LeafTaken { leaf: 9 }"),
            (ZkCredits::InvalidProof {}.abi_encode(), "InvalidProof"),
            (ZkCredits::SlashRevealTooEarly {}.abi_encode(), "SlashRevealTooEarly"),
            (ZkCredits::UnknownRoot { root: U256::from(3) }.abi_encode(), "UnknownRoot { root: 3 }"),
            (
                ZkCredits::NotAgentOwner { caller: Address::repeat_byte(2), agentId: U256::from(4) }
                    .abi_encode(),
                "NotAgentOwner {",
            ),
        ];
        for (data, expected) in cases {
            let text = decode_revert(&data).unwrap_or_default();
            assert!(text.starts_with(expected), "{text} should start with {expected}");
        }
    }

    #[test]
    fn every_dependency_comes_earlier_in_the_suite() {
        for (i, contract) in SUITE.iter().enumerate() {
            for dependency in contract.constructor_dependencies() {
                let at = SUITE.iter().position(|c| c == dependency);
                assert!(at.is_some_and(|at| at < i), "{contract} depends on {dependency}, deployed later");
            }
            assert_eq!(SuiteContract::from_name(contract.name()), Some(*contract));
        }
    }

    #[test]
    fn zk_credits_is_constructed_with_its_dependencies_in_order() {
        let deps = SuiteContract::ZkCredits.constructor_dependencies();
        assert_eq!(
            deps,
            &[
                SuiteContract::IdentityRegistry,
                SuiteContract::RlnVerifier,
                SuiteContract::PoseidonT2,
                SuiteContract::PoseidonT3,
                SuiteContract::PoseidonT4
            ]
        );
        // The constructor takes five addresses, in that order.
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../artifacts/ZkCredits.json")).unwrap_or_default();
        let inputs: Vec<&str> = json["abi"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|item| item["type"] == "constructor")
            .flat_map(|item| item["inputs"].as_array().into_iter().flatten())
            .filter_map(|input| input["name"].as_str())
            .collect();
        assert_eq!(inputs, ["identityRegistry_", "verifier_", "poseidonT2_", "poseidonT3_", "poseidonT4_"]);
        let addresses: Vec<Address> = (1..=5u8).map(Address::repeat_byte).collect();
        let code = SuiteContract::ZkCredits.deploy_code(&addresses);
        let creation = &SuiteContract::ZkCredits.artifact().creation_code;
        assert_eq!(code.len(), creation.len() + 5 * 32);
        assert_eq!(&code[creation.len() + 12..creation.len() + 32], Address::repeat_byte(1).as_slice());
    }

    /// The views the Rust side reads return what it expects: `exits` as (receiver, releaseAt,
    /// state as a number), `pool` as the struct; `requestExit` takes the proof as eight words.
    #[test]
    fn views_decode_as_the_rust_side_reads_them() {
        let words = [
            Address::repeat_byte(7).into_word().0,
            U256::from(99u64).to_be_bytes(),
            U256::from(1u8).to_be_bytes(),
        ]
        .concat();
        let exit =
            bindings::ZkCredits::exitsCall::abi_decode_returns(&words).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exit.receiver, Address::repeat_byte(7));
        assert_eq!(exit.releaseAt, 99u64);
        assert_eq!(exit.state, 1u8);
        let call = bindings::ZkCredits::requestExitCall {
            poolId: U256::from(1),
            root: U256::from(2),
            nullifier: U256::from(3),
            y: U256::from(4),
            receiver: Address::repeat_byte(5),
            proof: [U256::ZERO; 8],
        };
        assert_eq!(call.abi_encode().len(), 4 + 32 * 13);
        let _: fn(bindings::ZkCredits::Pool) -> (U256, u32, u32, u32) =
            |p| (p.price, p.calls, p.openStakes, p.pendingExits);
    }

    /// `Deposited` carries both trees' leaves and roots, which is what `agora-credits` rebuilds
    /// the calls tree and the exit tree from; the exit tree has its own views.
    #[test]
    fn deposited_carries_the_calls_tree_and_the_exit_tree() {
        use alloy::sol_types::SolEvent;
        use bindings::ZkCredits;
        assert_eq!(
            ZkCredits::Deposited::SIGNATURE,
            "Deposited(uint256,uint256,uint256,uint256,uint256,uint256)"
        );
        let event = ZkCredits::Deposited {
            poolId: U256::from(1),
            index: U256::from(2),
            leaf: U256::from(3),
            root: U256::from(4),
            exitLeaf: U256::from(5),
            exitRoot: U256::from(6),
        };
        let data = event.encode_data();
        assert_eq!(data.len(), 5 * 32, "poolId is indexed, the other five words are data");
        assert_eq!(data[4 * 32..], U256::from(6).to_be_bytes::<32>());

        let known = ZkCredits::isKnownExitRootCall { poolId: U256::from(1), root: U256::from(2) };
        assert_eq!(known.abi_encode().len(), 4 + 2 * 32);
        let recent = ZkCredits::recentExitRootsCall { poolId: U256::from(1) };
        assert_eq!(recent.abi_encode().len(), 4 + 32);
        let current = ZkCredits::currentExitRootCall { poolId: U256::from(1) };
        assert_eq!(current.abi_encode().len(), 4 + 32);
        assert_ne!(ZkCredits::currentExitRootCall::SELECTOR, ZkCredits::currentRootCall::SELECTOR);
    }

    #[test]
    fn x402_reverts_are_named() {
        use bindings::{Permit2, X402BatchSettlement, X402UptoPermit2Proxy};
        let cases = [
            (X402BatchSettlement::ClaimExceedsBalance {}.abi_encode(), "ClaimExceedsBalance"),
            (X402BatchSettlement::WithdrawDelayNotElapsed {}.abi_encode(), "WithdrawDelayNotElapsed"),
            (X402UptoPermit2Proxy::UnauthorizedFacilitator {}.abi_encode(), "UnauthorizedFacilitator"),
            (
                Permit2::SignatureExpired { signatureDeadline: U256::from(7) }.abi_encode(),
                "SignatureExpired { signatureDeadline: 7 }",
            ),
            (Permit2::InvalidNonce {}.abi_encode(), "InvalidNonce"),
        ];
        for (data, expected) in cases {
            let text = decode_revert(&data).unwrap_or_default();
            assert!(text.starts_with(expected), "{text} should start with {expected}");
        }
    }
}
