//! The x402 contracts that the official x402 clients and facilitators expect at fixed
//! (CREATE2) addresses on every chain: the `batch-settlement` escrow with its deposit
//! collectors, the `upto` Permit2 proxy, and Permit2 itself; plus Multicall3, which the official
//! facilitator reads chain state through.
//!
//! On public chains the official deployments live at those addresses. On a devnet they do not,
//! so agora places its own implementations there (same ABI, same EIP-712 domains): each is
//! deployed normally, then its runtime code is copied to the canonical address. That is why the
//! contracts keep no constructor-written storage, and why each is constructed with the canonical
//! addresses of the contracts it talks to ([`X402Contract::constructor_args`]).
//!
//! Multicall3 is not an x402 contract and not ours to demand: agora places it on a devnet (which
//! lacks it) but does not require it elsewhere ([`X402Contract::required_off_dev_chains`]).

use crate::{Artifact, artifact};
use alloy::{
    primitives::{Address, Bytes, U256, address},
    sol_types::Eip712Domain,
};

/// One of the x402 contracts with a canonical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum X402Contract {
    /// Uniswap's Permit2 (agora's implementation of its signature transfers).
    Permit2,
    /// The `batch-settlement` escrow: channels, vouchers, claims, settlement, refunds.
    BatchSettlement,
    /// Deposits into batch-settlement channels by an ERC-3009 `receiveWithAuthorization`.
    Erc3009DepositCollector,
    /// Deposits into batch-settlement channels by a Permit2 witness transfer.
    Permit2DepositCollector,
    /// The spender of `upto` Permit2 authorizations.
    UptoPermit2Proxy,
    /// A Multicall3-compatible aggregator: the official facilitator batches its reads through
    /// `tryAggregate`, viem's `multicall` through `aggregate3`.
    Multicall3,
}

/// Every x402 contract, each after the ones it is constructed with.
pub const X402_CONTRACTS: &[X402Contract] = &[
    X402Contract::Permit2,
    X402Contract::BatchSettlement,
    X402Contract::Erc3009DepositCollector,
    X402Contract::Permit2DepositCollector,
    X402Contract::UptoPermit2Proxy,
    X402Contract::Multicall3,
];

/// The EIP-712 domain name of the batch-settlement contract.
pub const BATCH_SETTLEMENT_DOMAIN_NAME: &str = "x402 Batch Settlement";
/// The EIP-712 domain version of the batch-settlement contract.
pub const BATCH_SETTLEMENT_DOMAIN_VERSION: &str = "1";

impl X402Contract {
    /// Where the official x402 packages expect the contract, on every chain.
    pub const fn canonical_address(self) -> Address {
        match self {
            Self::Permit2 => address!("0x000000000022D473030F116dDEE9F6B43aC78BA3"),
            Self::BatchSettlement => address!("0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003"),
            Self::Erc3009DepositCollector => address!("0x4020806089470a89826cB9fB1f4059150b550004"),
            Self::Permit2DepositCollector => address!("0x4020425FAf3B746C082C2f942b4E5159887B0005"),
            Self::UptoPermit2Proxy => address!("0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"),
            Self::Multicall3 => address!("0xcA11bde05977b3631167028862bE2a173976CA11"),
        }
    }

    /// The Solidity contract name (and artifact name) of agora's implementation.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Permit2 => "Permit2",
            Self::BatchSettlement => "X402BatchSettlement",
            Self::Erc3009DepositCollector => "ERC3009DepositCollector",
            Self::Permit2DepositCollector => "Permit2DepositCollector",
            Self::UptoPermit2Proxy => "X402UptoPermit2Proxy",
            Self::Multicall3 => "Multicall3",
        }
    }

    /// Whether the contract must already be at its canonical address on a chain where agora
    /// does not place it (any chain but a dev chain). The x402 contracts must: the payment
    /// flows call them. Multicall3 need not: most chains have it, but it is a general-purpose
    /// utility that agora itself never calls, so its absence is not ours to refuse.
    pub const fn required_off_dev_chains(self) -> bool {
        !matches!(self, Self::Multicall3)
    }

    /// The contracts whose canonical addresses the constructor takes, in order.
    pub const fn constructor_dependencies(self) -> &'static [X402Contract] {
        match self {
            Self::Permit2 | Self::BatchSettlement | Self::Multicall3 => &[],
            Self::Erc3009DepositCollector => &[Self::BatchSettlement],
            Self::Permit2DepositCollector => &[Self::BatchSettlement, Self::Permit2],
            Self::UptoPermit2Proxy => &[Self::Permit2],
        }
    }

    /// The constructor arguments: the canonical addresses of [`Self::constructor_dependencies`].
    /// They end up in immutables, which travel with the runtime code.
    pub fn constructor_args(self) -> Vec<Address> {
        self.constructor_dependencies().iter().map(|c| c.canonical_address()).collect()
    }

    /// Creation code with the constructor arguments appended.
    pub fn deploy_code(self) -> Bytes {
        let mut code = self.artifact().creation_code.to_vec();
        for address in self.constructor_args() {
            code.extend_from_slice(address.into_word().as_slice());
        }
        code.into()
    }

    /// The contract's committed artifact.
    pub fn artifact(self) -> &'static Artifact {
        match self {
            Self::Permit2 => &artifact::PERMIT2,
            Self::BatchSettlement => &artifact::X402_BATCH_SETTLEMENT,
            Self::Erc3009DepositCollector => &artifact::ERC3009_DEPOSIT_COLLECTOR,
            Self::Permit2DepositCollector => &artifact::PERMIT2_DEPOSIT_COLLECTOR,
            Self::UptoPermit2Proxy => &artifact::X402_UPTO_PERMIT2_PROXY,
            Self::Multicall3 => &artifact::MULTICALL3,
        }
    }

    /// Looks a contract up by its Solidity name.
    pub fn from_name(name: &str) -> Option<Self> {
        X402_CONTRACTS.iter().copied().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for X402Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The batch-settlement contract's EIP-712 domain on `chain_id`: channel ids, vouchers, refunds
/// and claim batches are hashed under it.
pub fn batch_settlement_domain(chain_id: u64) -> Eip712Domain {
    Eip712Domain::new(
        Some(BATCH_SETTLEMENT_DOMAIN_NAME.into()),
        Some(BATCH_SETTLEMENT_DOMAIN_VERSION.into()),
        Some(U256::from(chain_id)),
        Some(X402Contract::BatchSettlement.canonical_address()),
        None,
    )
}

/// Permit2's EIP-712 domain on `chain_id` (a name, no version).
pub fn permit2_domain(chain_id: u64) -> Eip712Domain {
    Eip712Domain::new(
        Some("Permit2".into()),
        None,
        Some(U256::from(chain_id)),
        Some(X402Contract::Permit2.canonical_address()),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::X402BatchSettlement::ChannelConfig;
    use alloy::{
        primitives::{B256, aliases::U40, b256},
        sol_types::SolStruct,
    };

    #[test]
    fn names_and_lookups_agree() {
        for contract in X402_CONTRACTS {
            assert_eq!(X402Contract::from_name(contract.name()), Some(*contract));
            assert_eq!(contract.to_string(), contract.name());
        }
        assert_eq!(X402Contract::from_name("PaymentChannels"), None);
    }

    #[test]
    fn only_multicall3_is_optional_off_dev_chains() {
        let optional: Vec<_> = X402_CONTRACTS.iter().filter(|c| !c.required_off_dev_chains()).collect();
        assert_eq!(optional, [&X402Contract::Multicall3]);
        assert_eq!(
            X402Contract::Multicall3.canonical_address(),
            address!("0xcA11bde05977b3631167028862bE2a173976CA11")
        );
        assert_eq!(X402Contract::Multicall3.deploy_code(), X402Contract::Multicall3.artifact().creation_code);
    }

    #[test]
    fn dependencies_come_first_and_are_passed_by_canonical_address() {
        for (i, contract) in X402_CONTRACTS.iter().enumerate() {
            for dep in contract.constructor_dependencies() {
                assert!(X402_CONTRACTS[..i].contains(dep), "{contract} depends on {dep}, listed later");
            }
        }
        let code = X402Contract::Permit2DepositCollector.deploy_code();
        let creation = &X402Contract::Permit2DepositCollector.artifact().creation_code;
        assert_eq!(code.len(), creation.len() + 64);
        assert_eq!(
            &code[creation.len() + 12..creation.len() + 32],
            X402Contract::BatchSettlement.canonical_address()
        );
        assert_eq!(&code[creation.len() + 44..], X402Contract::Permit2.canonical_address());
        assert_eq!(
            X402Contract::BatchSettlement.deploy_code(),
            X402Contract::BatchSettlement.artifact().creation_code
        );
    }

    /// The channel id the official client computes for the fixture's channel
    /// (contracts/test/fixtures/x402-vectors.json), from Rust's EIP-712.
    #[test]
    fn channel_ids_hash_like_the_official_client() {
        let config = ChannelConfig {
            payer: address!("0x93a299103A4A8D7676a818842A8f941539F40792"),
            payerAuthorizer: address!("0x93a299103A4A8D7676a818842A8f941539F40792"),
            receiver: address!("0x7eCE000000000000000000000000000000000002"),
            receiverAuthorizer: address!("0x437bFE027fa881CDF891086bcF837577C30eE9A0"),
            token: address!("0x70C0000000000000000000000000000000000001"),
            withdrawDelay: U40::from(900),
            salt: B256::ZERO,
        };
        assert_eq!(
            config.eip712_signing_hash(&batch_settlement_domain(31337)),
            b256!("0x5aaf89a12b8cc4ede6201802aa58571d51aa07993ca4d28cdd893df73135a8e0")
        );
        // Uniswap's Permit2 domain separator on Ethereum mainnet.
        assert_eq!(
            permit2_domain(1).separator(),
            b256!("0x866a5aba21966af95d6c7ab78eb2b2fc913915c28be3b9aa07cc04ff903e3f28")
        );
    }
}
