// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @notice What `X402BatchSettlement.deposit` calls to move a payer's tokens into escrow. A
/// collector knows one way of getting the payer's consent (an ERC-3009 authorization, a Permit2
/// signature, ...) and must leave exactly `amount` more of `token` with its caller, which the
/// settlement contract checks on its balance after the call.
interface IDepositCollector {
    /// @param payer whose tokens are deposited.
    /// @param token the ERC-20 of the channel.
    /// @param amount exactly what the caller's balance must grow by.
    /// @param channelId the channel being funded; collectors bind their authorization to it.
    /// @param collectorData the collector's own parameters (signatures, nonces, deadlines).
    function collect(
        address payer,
        address token,
        uint256 amount,
        bytes32 channelId,
        bytes calldata collectorData
    ) external;
}

/// @notice A collector that serves one settlement contract, fixed at construction. Only that
/// contract may call `collect`, so nobody can spend a payer's authorization outside a deposit
/// into the channel the authorization names.
/// @dev The settlement address is an immutable: it lives in the runtime code, so a copy of the
/// code placed at another address (how agora's devnet installs the canonical x402 contracts)
/// keeps it. Construct it with the settlement contract's canonical address.
abstract contract DepositCollector is IDepositCollector {
    /// @notice The `X402BatchSettlement` this collector deposits into.
    address public immutable x402BatchSettlement;

    /// @notice `collect` was called by someone other than `x402BatchSettlement`.
    error OnlyX402BatchSettlement();
    /// @notice The constructor was given the zero address for the settlement contract.
    error InvalidX402BatchSettlementAddress();

    constructor(address settlement) {
        if (settlement == address(0)) revert InvalidX402BatchSettlementAddress();
        x402BatchSettlement = settlement;
    }

    modifier onlySettlement() {
        if (msg.sender != x402BatchSettlement) revert OnlyX402BatchSettlement();
        _;
    }
}
