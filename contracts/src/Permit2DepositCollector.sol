// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {DepositCollector} from "./DepositCollector.sol";
import {ISignatureTransfer} from "./Permit2.sol";

/// @title Permit2DepositCollector
/// @notice Deposits into x402 batch-settlement channels with a Permit2 witness transfer: the
/// payer signs `PermitWitnessTransferFrom` with this collector as spender and the witness
/// `DepositWitness(bytes32 channelId)`, and Permit2 moves the tokens straight to the settlement
/// contract. Optionally the payer's EIP-2612 permit approving Permit2 comes along and is tried
/// first (a failure is logged, not fatal: the approval may exist already).
contract Permit2DepositCollector is DepositCollector {
    /// @notice The Permit2 the collector transfers through.
    ISignatureTransfer public immutable PERMIT2;

    /// @notice The witness part of the signed type, as Permit2 wants it (referenced structs in
    /// alphabetical order, the way EIP-712 encoders write them).
    string public constant DEPOSIT_WITNESS_TYPE_STRING =
        "DepositWitness witness)DepositWitness(bytes32 channelId)TokenPermissions(address token,uint256 amount)";
    bytes32 public constant DEPOSIT_WITNESS_TYPEHASH = keccak256("DepositWitness(bytes32 channelId)");

    /// @notice The constructor was given the zero address for Permit2.
    error InvalidPermit2Address();
    /// @notice The EIP-2612 permit's value is not the deposit amount.
    error Permit2612AmountMismatch();

    event EIP2612PermitFailedWithReason(address indexed token, address indexed owner, string reason);
    event EIP2612PermitFailedWithPanic(address indexed token, address indexed owner, uint256 errorCode);
    event EIP2612PermitFailedWithData(address indexed token, address indexed owner, bytes data);

    /// @param settlement the canonical `X402BatchSettlement` address.
    /// @param permit2 the canonical Permit2 address.
    constructor(address settlement, address permit2) DepositCollector(settlement) {
        if (permit2 == address(0)) revert InvalidPermit2Address();
        PERMIT2 = ISignatureTransfer(permit2);
    }

    /// @param collectorData `abi.encode(uint256 nonce, uint256 deadline, bytes permit2Signature,
    /// bytes eip2612PermitData)`, the layout of the x402 facilitator's
    /// `buildPermit2CollectorData`; `eip2612PermitData` is empty or `abi.encode(uint256 value,
    /// uint256 deadline, uint8 v, bytes32 r, bytes32 s)`.
    function collect(
        address payer,
        address token,
        uint256 amount,
        bytes32 channelId,
        bytes calldata collectorData
    ) external onlySettlement {
        (uint256 nonce, uint256 deadline, bytes memory signature, bytes memory eip2612PermitData) =
            abi.decode(collectorData, (uint256, uint256, bytes, bytes));
        if (eip2612PermitData.length != 0) _tryPermit(payer, token, amount, eip2612PermitData);
        PERMIT2.permitWitnessTransferFrom(
            ISignatureTransfer.PermitTransferFrom({
                permitted: ISignatureTransfer.TokenPermissions({token: token, amount: amount}),
                nonce: nonce,
                deadline: deadline
            }),
            ISignatureTransfer.SignatureTransferDetails({to: x402BatchSettlement, requestedAmount: amount}),
            payer,
            keccak256(abi.encode(DEPOSIT_WITNESS_TYPEHASH, channelId)),
            DEPOSIT_WITNESS_TYPE_STRING,
            signature
        );
    }

    function _tryPermit(address payer, address token, uint256 amount, bytes memory data) private {
        (uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) =
            abi.decode(data, (uint256, uint256, uint8, bytes32, bytes32));
        if (value != amount) revert Permit2612AmountMismatch();
        try IERC20Permit(token).permit(payer, address(PERMIT2), value, deadline, v, r, s) {}
        catch Error(string memory reason) {
            emit EIP2612PermitFailedWithReason(token, payer, reason);
        } catch Panic(uint256 code) {
            emit EIP2612PermitFailedWithPanic(token, payer, code);
        } catch (bytes memory returned) {
            emit EIP2612PermitFailedWithData(token, payer, returned);
        }
    }
}
