// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ISignatureTransfer} from "./Permit2.sol";

/// @title X402UptoPermit2Proxy
/// @notice The spender of the x402 `upto` scheme's Permit2 signatures, with the ABI the official
/// x402 facilitators use. The payer signs a Permit2 `PermitWitnessTransferFrom` for a ceiling,
/// with this proxy as spender and the witness `Witness(address to, address facilitator,
/// uint256 validAfter)`. The facilitator named in the witness, and only it, settles: it picks
/// the amount (at most the ceiling, more than zero), and the tokens go from the payer to
/// `witness.to`, no earlier than `validAfter` and no later than the permit's deadline.
contract X402UptoPermit2Proxy is ReentrancyGuardTransient {
    /// @notice Who may settle, where the money goes, and from when.
    struct Witness {
        address to;
        address facilitator;
        uint256 validAfter;
    }

    /// @notice An EIP-2612 permit of the payer approving Permit2 on the token.
    struct EIP2612Permit {
        uint256 value;
        uint256 deadline;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    /// @notice The Permit2 the proxy transfers through.
    ISignatureTransfer public immutable PERMIT2;

    string public constant WITNESS_TYPE_STRING =
        "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,address facilitator,uint256 validAfter)";
    bytes32 public constant WITNESS_TYPEHASH =
        keccak256("Witness(address to,address facilitator,uint256 validAfter)");

    event Settled();
    event SettledWithPermit();
    event EIP2612PermitFailedWithReason(address indexed token, address indexed owner, string reason);
    event EIP2612PermitFailedWithPanic(address indexed token, address indexed owner, uint256 errorCode);
    event EIP2612PermitFailedWithData(address indexed token, address indexed owner, bytes data);

    /// @notice The constructor was given the zero address for Permit2.
    error InvalidPermit2Address();
    /// @notice The amount is above the permitted ceiling.
    error AmountExceedsPermitted();
    /// @notice The caller is not the facilitator the payer named.
    error UnauthorizedFacilitator();
    /// @notice The amount is zero.
    error InvalidAmount();
    /// @notice The owner is the zero address.
    error InvalidOwner();
    /// @notice `witness.to` is the zero address.
    error InvalidDestination();
    /// @notice Settled before `witness.validAfter`.
    error PaymentTooEarly();
    /// @notice The EIP-2612 permit's value is not the Permit2 ceiling.
    error Permit2612AmountMismatch();

    /// @param permit2 the canonical Permit2 address.
    constructor(address permit2) {
        if (permit2 == address(0)) revert InvalidPermit2Address();
        PERMIT2 = ISignatureTransfer(permit2);
    }

    /// @notice Moves `amount` (at most `permit.permitted.amount`) from `owner` to `witness.to`.
    function settle(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) external nonReentrant {
        _authorize(permit, amount, witness);
        _settle(permit, amount, owner, witness, signature);
        emit Settled();
    }

    /// @notice `settle`, first trying the payer's EIP-2612 permit that approves Permit2 (a
    /// failing permit is logged, not fatal: the approval may exist already).
    function settleWithPermit(
        EIP2612Permit calldata permit2612,
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) external nonReentrant {
        _authorize(permit, amount, witness);
        address token = permit.permitted.token;
        if (permit2612.value != permit.permitted.amount) revert Permit2612AmountMismatch();
        try IERC20Permit(token)
            .permit(
                owner,
                address(PERMIT2),
                permit2612.value,
                permit2612.deadline,
                permit2612.v,
                permit2612.r,
                permit2612.s
            ) {}
        catch Error(string memory reason) {
            emit EIP2612PermitFailedWithReason(token, owner, reason);
        } catch Panic(uint256 code) {
            emit EIP2612PermitFailedWithPanic(token, owner, code);
        } catch (bytes memory returned) {
            emit EIP2612PermitFailedWithData(token, owner, returned);
        }
        _settle(permit, amount, owner, witness, signature);
        emit SettledWithPermit();
    }

    function _authorize(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        Witness calldata witness
    ) private view {
        if (amount > permit.permitted.amount) revert AmountExceedsPermitted();
        if (msg.sender != witness.facilitator) revert UnauthorizedFacilitator();
    }

    function _settle(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) private {
        if (amount == 0) revert InvalidAmount();
        if (owner == address(0)) revert InvalidOwner();
        if (witness.to == address(0)) revert InvalidDestination();
        if (block.timestamp < witness.validAfter) revert PaymentTooEarly();
        PERMIT2.permitWitnessTransferFrom(
            permit,
            ISignatureTransfer.SignatureTransferDetails({to: witness.to, requestedAmount: amount}),
            owner,
            keccak256(abi.encode(WITNESS_TYPEHASH, witness.to, witness.facilitator, witness.validAfter)),
            WITNESS_TYPE_STRING,
            signature
        );
    }
}
