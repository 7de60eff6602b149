// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {DepositCollector} from "./DepositCollector.sol";

/// @notice The EIP-3009 entry point the collector uses, with the signature as bytes (USDC v2.2
/// and agora's DevStablecoin have it).
interface IERC3009ReceiveWithAuthorization {
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;
}

/// @title ERC3009DepositCollector
/// @notice Deposits into x402 batch-settlement channels with an EIP-3009
/// `ReceiveWithAuthorization` signed by the payer to this collector. The authorization's nonce is
/// `keccak256(abi.encode(channelId, salt))`, so it is good for one deposit into one channel.
/// EIP-3009 lets only the payee submit a receive authorization, so the tokens come here first and
/// are passed on to the settlement contract in the same call.
contract ERC3009DepositCollector is DepositCollector {
    using SafeERC20 for IERC20;

    constructor(address settlement) DepositCollector(settlement) {}

    /// @param collectorData `abi.encode(uint256 validAfter, uint256 validBefore, uint256 salt,
    /// bytes signature)`, the layout of the x402 facilitator's `buildErc3009CollectorData`.
    function collect(
        address payer,
        address token,
        uint256 amount,
        bytes32 channelId,
        bytes calldata collectorData
    ) external onlySettlement {
        (uint256 validAfter, uint256 validBefore, uint256 salt, bytes memory signature) =
            abi.decode(collectorData, (uint256, uint256, uint256, bytes));
        IERC3009ReceiveWithAuthorization(token)
            .receiveWithAuthorization(
                payer,
                address(this),
                amount,
                validAfter,
                validBefore,
                depositNonce(channelId, salt),
                signature
            );
        IERC20(token).safeTransfer(x402BatchSettlement, amount);
    }

    /// @notice The EIP-3009 nonce the payer signs for a deposit into `channelId`.
    function depositNonce(bytes32 channelId, uint256 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(channelId, salt));
    }
}
