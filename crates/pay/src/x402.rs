//! The official x402 contracts: their canonical addresses (the same on every chain, deployed
//! with CREATE2; on agora's devnet, agora's own implementations are placed there), the parts of
//! their interfaces agora calls, and the Permit2 typed data `upto` is signed over.

use alloy::{
    primitives::{Address, B256, U256, address},
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};

/// The x402 batch settlement contract.
pub const BATCH_SETTLEMENT: Address = address!("0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003");
/// The ERC-3009 deposit collector of batch settlement.
pub const ERC3009_DEPOSIT_COLLECTOR: Address = address!("0x4020806089470a89826cB9fB1f4059150b550004");
/// The Permit2 deposit collector of batch settlement.
pub const PERMIT2_DEPOSIT_COLLECTOR: Address = address!("0x4020425FAf3B746C082C2f942b4E5159887B0005");
/// Uniswap's Permit2.
pub const PERMIT2: Address = address!("0x000000000022D473030F116dDEE9F6B43aC78BA3");
/// The x402 `upto` Permit2 proxy.
pub const UPTO_PERMIT2_PROXY: Address = address!("0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002");
/// The x402 `exact` Permit2 proxy.
pub const EXACT_PERMIT2_PROXY: Address = address!("0x402085c248EeA27D92E8b30b2C58ed07f9E20001");

/// The shortest withdrawal delay the batch settlement contract takes (seconds).
pub const MIN_WITHDRAW_DELAY: u64 = 900;
/// The longest withdrawal delay the batch settlement contract takes (seconds).
pub const MAX_WITHDRAW_DELAY: u64 = 30 * 24 * 3600;

alloy::sol! {
    /// The x402 batch settlement contract, as far as agora calls it.
    #[sol(rpc)]
    #[derive(Debug)]
    interface IBatchSettlement {
        struct ChannelConfig {
            address payer;
            address payerAuthorizer;
            address receiver;
            address receiverAuthorizer;
            address token;
            uint40 withdrawDelay;
            bytes32 salt;
        }
        struct Voucher {
            ChannelConfig channel;
            uint128 maxClaimableAmount;
        }
        struct VoucherClaim {
            Voucher voucher;
            bytes signature;
            uint128 totalClaimed;
        }

        function deposit(ChannelConfig config, uint128 amount, address collector, bytes collectorData) external;
        function claim(VoucherClaim[] voucherClaims) external;
        function claimWithSignature(VoucherClaim[] voucherClaims, bytes authorizerSignature) external;
        function settle(address receiver, address token) external;
        function initiateWithdraw(ChannelConfig config, uint128 amount) external;
        function finalizeWithdraw(ChannelConfig config) external;
        function refund(ChannelConfig config, uint128 amount) external;
        function refundWithSignature(ChannelConfig config, uint128 amount, uint256 nonce, bytes receiverAuthorizerSignature) external;
        function getChannelId(ChannelConfig config) external view returns (bytes32);
        function channels(bytes32 channelId) external view returns (uint128 balance, uint128 totalClaimed);
        function pendingWithdrawals(bytes32 channelId) external view returns (uint128 amount, uint40 initiatedAt);
        function receivers(address receiver, address token) external view returns (uint128 totalClaimed, uint128 totalSettled);
        function refundNonce(bytes32 channelId) external view returns (uint256);

        event Deposited(bytes32 indexed channelId, address indexed sender, uint128 amount, uint128 newBalance);
        event Claimed(bytes32 indexed channelId, address indexed sender, uint128 claimAmount, uint128 newTotalClaimed);
        event Settled(address indexed receiver, address indexed token, address indexed sender, uint128 amount);
        event WithdrawInitiated(bytes32 indexed channelId, uint128 amount, uint40 finalizeAfter);
        event WithdrawFinalized(bytes32 indexed channelId, address indexed sender, uint128 amount);
        event Refunded(bytes32 indexed channelId, address indexed sender, uint128 amount);
    }

    /// The x402 `upto` Permit2 proxy: moves up to what the payer permitted, to the witness's
    /// recipient, when the witness's facilitator asks.
    #[sol(rpc)]
    #[derive(Debug)]
    interface IUptoPermit2Proxy {
        struct TokenPermissions {
            address token;
            uint256 amount;
        }
        struct PermitTransferFrom {
            TokenPermissions permitted;
            uint256 nonce;
            uint256 deadline;
        }
        struct Witness {
            address to;
            address facilitator;
            uint256 validAfter;
        }

        function settle(PermitTransferFrom permit, uint256 amount, address owner, Witness witness, bytes signature) external;
    }

    /// The ERC-20 reads `upto` checks before serving.
    #[sol(rpc)]
    interface IErc20Reads {
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
    }

    /// Permit2's unordered nonces.
    #[sol(rpc)]
    interface IPermit2Nonces {
        function nonceBitmap(address owner, uint256 word) external view returns (uint256);
    }
}

/// The typed data of an `upto` permit, under Permit2's domain.
pub mod upto_typed {
    alloy::sol! {
        /// What Permit2 lets the spender move.
        #[derive(Debug, PartialEq, Eq)]
        struct TokenPermissions {
            address token;
            uint256 amount;
        }

        /// The recipient and the facilitator the permit is bound to.
        #[derive(Debug, PartialEq, Eq)]
        struct Witness {
            address to;
            address facilitator;
            uint256 validAfter;
        }

        /// What the payer signs.
        #[derive(Debug, PartialEq, Eq)]
        struct PermitWitnessTransferFrom {
            TokenPermissions permitted;
            address spender;
            uint256 nonce;
            uint256 deadline;
            Witness witness;
        }
    }
}

/// Permit2's EIP-712 domain on `chain_id` (a name, no version).
pub fn permit2_domain(chain_id: u64) -> Eip712Domain {
    eip712_domain! {
        name: "Permit2",
        chain_id: chain_id,
        verifying_contract: PERMIT2,
    }
}

/// The digest an `upto` permit signature covers.
pub fn upto_digest(
    chain_id: u64,
    token: Address,
    amount: U256,
    nonce: U256,
    deadline: U256,
    witness: &upto_typed::Witness,
) -> B256 {
    upto_typed::PermitWitnessTransferFrom {
        permitted: upto_typed::TokenPermissions { token, amount },
        spender: UPTO_PERMIT2_PROXY,
        nonce,
        deadline,
        witness: witness.clone(),
    }
    .eip712_signing_hash(&permit2_domain(chain_id))
}

impl From<crate::typed::ChannelConfig> for IBatchSettlement::ChannelConfig {
    fn from(c: crate::typed::ChannelConfig) -> Self {
        Self {
            payer: c.payer,
            payerAuthorizer: c.payerAuthorizer,
            receiver: c.receiver,
            receiverAuthorizer: c.receiverAuthorizer,
            token: c.token,
            withdrawDelay: c.withdrawDelay,
            salt: c.salt,
        }
    }
}

/// The collector data of an ERC-3009 deposit: `abi.encode(validAfter, validBefore, salt,
/// signature)`.
pub fn erc3009_collector_data(
    valid_after: U256,
    valid_before: U256,
    salt: B256,
    signature: &[u8],
) -> alloy::primitives::Bytes {
    use alloy::sol_types::SolValue;
    (
        valid_after,
        valid_before,
        U256::from_be_bytes(salt.0),
        alloy::primitives::Bytes::copy_from_slice(signature),
    )
        .abi_encode_params()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typed::{ChannelConfigJson, voucher_digest};
    use alloy::primitives::b256;

    /// Vectors from viem's `hashTypedData`, as the official client computes them.
    #[test]
    fn digests_match_the_official_encoders() {
        let config = ChannelConfigJson {
            payer: Address::repeat_byte(0x11),
            payer_authorizer: Address::repeat_byte(0x22),
            receiver: Address::repeat_byte(0x33),
            receiver_authorizer: Address::repeat_byte(0x44),
            token: Address::repeat_byte(0x55),
            withdraw_delay: 900,
            salt: B256::repeat_byte(0x66),
        };
        let id = config.id(31337);
        assert_eq!(id, b256!("0xe5d1b33e3c98882840021ab5f03e3adc8383ddacc0ca7506b80d8b7b50227905"));
        assert_eq!(
            voucher_digest(&crate::typed::batch_domain(31337), id, 1_234_567),
            b256!("0x1f91122b72c2ab48d93dc356748a2d91fd4ddda112a2abb0e59f021b1d5dcc09")
        );
        let witness = upto_typed::Witness {
            to: Address::repeat_byte(0x33),
            facilitator: Address::repeat_byte(0x44),
            validAfter: U256::ZERO,
        };
        assert_eq!(
            upto_digest(
                31337,
                Address::repeat_byte(0x55),
                U256::from(5000),
                U256::from(77),
                U256::from(1_900_000_000u64),
                &witness
            ),
            b256!("0xfbc991d48d8bb17ee19eb0e8944b779ed0a150e0b2693155089b348cb47abc0c")
        );
    }
}
