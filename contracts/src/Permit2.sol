// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @notice The signature-transfer interface of Uniswap's Permit2, as far as x402 uses it: one
/// token per signature, with or without a witness, and unordered nonces.
interface ISignatureTransfer {
    struct TokenPermissions {
        address token;
        uint256 amount;
    }

    struct PermitTransferFrom {
        TokenPermissions permitted;
        uint256 nonce;
        uint256 deadline;
    }

    struct SignatureTransferDetails {
        address to;
        uint256 requestedAmount;
    }

    event UnorderedNonceInvalidation(address indexed owner, uint256 word, uint256 mask);

    /// @notice The permit's deadline has passed.
    error SignatureExpired(uint256 signatureDeadline);
    /// @notice More was requested than the permit allows.
    error InvalidAmount(uint256 maxAmount);
    /// @notice The nonce was used or invalidated.
    error InvalidNonce();
    /// @notice An EOA signature that is neither 64 nor 65 bytes long.
    error InvalidSignatureLength();
    /// @notice An EOA signature from which no address can be recovered.
    error InvalidSignature();
    /// @notice An EOA signature by someone other than the owner.
    error InvalidSigner();
    /// @notice The owner is a contract and its ERC-1271 check did not accept the signature.
    error InvalidContractSignature();

    function DOMAIN_SEPARATOR() external view returns (bytes32);

    function nonceBitmap(address owner, uint256 wordPos) external view returns (uint256);

    function permitTransferFrom(
        PermitTransferFrom memory permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes calldata signature
    ) external;

    function permitWitnessTransferFrom(
        PermitTransferFrom memory permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes32 witness,
        string calldata witnessTypeString,
        bytes calldata signature
    ) external;

    function invalidateUnorderedNonces(uint256 wordPos, uint256 mask) external;
}

/// @title Permit2
/// @notice agora's implementation of the signature-transfer half of Uniswap's Permit2, for
/// devnets where the canonical Permit2 is not deployed. Same functions, errors, EIP-712 domain
/// (name "Permit2", no version) and typed-data hashing as Uniswap's, so signatures made for the
/// canonical Permit2 (by wallets, by the x402 clients) verify here when the code sits at the
/// canonical address. Owners approve this contract on the token (a plain ERC-20 allowance); a
/// signed permit lets its `spender` (the caller) move up to the permitted amount once.
/// @dev Not included: the allowance-transfer half (`approve`, `permit`, `transferFrom`, ...)
/// and the batch signature transfers. The domain separator is computed from `address(this)` and
/// `block.chainid` at each call, so a copy of the code anywhere computes its own.
contract Permit2 is ISignatureTransfer {
    using SafeERC20 for IERC20;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("Permit2");

    bytes32 private constant TOKEN_PERMISSIONS_TYPEHASH =
        keccak256("TokenPermissions(address token,uint256 amount)");
    bytes32 private constant PERMIT_TRANSFER_FROM_TYPEHASH = keccak256(
        "PermitTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline)TokenPermissions(address token,uint256 amount)"
    );
    /// @notice The witness type is this stub followed by the caller's `witnessTypeString`.
    string private constant PERMIT_WITNESS_TRANSFER_FROM_TYPEHASH_STUB =
        "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,";

    /// @inheritdoc ISignatureTransfer
    /// @dev Bit `nonce & 0xff` of word `nonce >> 8` is set once the nonce is spent.
    mapping(address owner => mapping(uint256 wordPos => uint256 bits)) public nonceBitmap;

    /// @inheritdoc ISignatureTransfer
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, block.chainid, address(this)));
    }

    /// @notice Moves `transferDetails.requestedAmount` of the permitted token from `owner` to
    /// `transferDetails.to`, on `owner`'s signature over the permit with the caller as spender.
    function permitTransferFrom(
        PermitTransferFrom memory permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(
                PERMIT_TRANSFER_FROM_TYPEHASH,
                _hashTokenPermissions(permit.permitted),
                msg.sender,
                permit.nonce,
                permit.deadline
            )
        );
        _transfer(permit, transferDetails, owner, structHash, signature);
    }

    /// @notice `permitTransferFrom` where the signed struct also carries `witness`, the hash of
    /// a struct the caller defines in `witnessTypeString` (the rest of the type after the stub:
    /// `"<Type> witness)<referenced types, sorted>"`).
    function permitWitnessTransferFrom(
        PermitTransferFrom memory permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes32 witness,
        string calldata witnessTypeString,
        bytes calldata signature
    ) external {
        bytes32 typeHash = keccak256(
            abi.encodePacked(PERMIT_WITNESS_TRANSFER_FROM_TYPEHASH_STUB, witnessTypeString)
        );
        bytes32 structHash = keccak256(
            abi.encode(
                typeHash,
                _hashTokenPermissions(permit.permitted),
                msg.sender,
                permit.nonce,
                permit.deadline,
                witness
            )
        );
        _transfer(permit, transferDetails, owner, structHash, signature);
    }

    /// @notice Spends the caller's nonces set in `mask` within word `wordPos`, so signatures
    /// using them can no longer be used.
    function invalidateUnorderedNonces(uint256 wordPos, uint256 mask) external {
        nonceBitmap[msg.sender][wordPos] |= mask;
        emit UnorderedNonceInvalidation(msg.sender, wordPos, mask);
    }

    function _hashTokenPermissions(TokenPermissions memory permitted) private pure returns (bytes32) {
        return keccak256(abi.encode(TOKEN_PERMISSIONS_TYPEHASH, permitted.token, permitted.amount));
    }

    function _transfer(
        PermitTransferFrom memory permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes32 structHash,
        bytes calldata signature
    ) private {
        if (block.timestamp > permit.deadline) revert SignatureExpired(permit.deadline);
        uint256 requested = transferDetails.requestedAmount;
        if (requested > permit.permitted.amount) revert InvalidAmount(permit.permitted.amount);
        _useNonce(owner, permit.nonce);
        _verify(keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR(), structHash)), owner, signature);
        IERC20(permit.permitted.token).safeTransferFrom(owner, transferDetails.to, requested);
    }

    function _useNonce(address owner, uint256 nonce) private {
        // forge-lint: disable-next-line(incorrect-shift)
        uint256 bit = 1 << (nonce & 0xff);
        uint256 flipped = nonceBitmap[owner][nonce >> 8] ^= bit;
        if (flipped & bit == 0) revert InvalidNonce();
    }

    /// @dev An owner without code signs with ECDSA, as 65 bytes (r, s, v) or 64 (EIP-2098 r, vs);
    /// an owner with code is asked through ERC-1271.
    function _verify(bytes32 digest, address owner, bytes calldata signature) private view {
        if (owner.code.length != 0) {
            if (IERC1271(owner).isValidSignature(digest, signature) != IERC1271.isValidSignature.selector) {
                revert InvalidContractSignature();
            }
            return;
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        if (signature.length == 65) {
            r = bytes32(signature[0:32]);
            s = bytes32(signature[32:64]);
            v = uint8(signature[64]);
        } else if (signature.length == 64) {
            r = bytes32(signature[0:32]);
            bytes32 vs = bytes32(signature[32:64]);
            s = vs & bytes32(uint256(type(uint256).max >> 1));
            v = uint8(uint256(vs) >> 255) + 27;
        } else {
            revert InvalidSignatureLength();
        }
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
        if (signer != owner) revert InvalidSigner();
    }
}
