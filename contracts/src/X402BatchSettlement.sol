// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IDepositCollector} from "./DepositCollector.sol";

/// @title X402BatchSettlement
/// @notice The escrow of the x402 `batch-settlement` scheme on EVM, with the ABI and EIP-712
/// domain ("x402 Batch Settlement", "1") the official x402 clients and facilitators use.
///
/// A channel is a `ChannelConfig`; its id is the EIP-712 hash of that struct under this
/// contract's domain, so nothing about a channel is stored but its balances. The payer funds it
/// through a deposit collector, then pays off-chain with cumulative vouchers
/// `Voucher(channelId, maxClaimableAmount)` signed by the payer authorizer (or, when that is
/// zero, by the payer itself, which admits ERC-1271 wallets). The receiver side (the receiver,
/// its authorizer, or anyone holding the authorizer's signature over a claim batch) records
/// claims up to a voucher's amount and never above the channel's balance; `settle` pays what
/// was claimed, per receiver and token, to the receiver.
///
/// Leaving: the receiver side can refund unclaimed escrow at once (`refund`, or
/// `refundWithSignature` relayed for the authorizer), and the payer can always take the unclaimed
/// rest back after the channel's `withdrawDelay` (`initiateWithdraw`, then `finalizeWithdraw`).
/// Only recorded claims reduce what the payer can take, so receivers claim during that delay.
///
/// Accounting: `balance` is what was deposited minus what was refunded or withdrawn; claimed
/// amounts stay in `balance` (as `totalClaimed`) and leave the contract through `settle`. So the
/// contract holds Σ balance − Σ totalSettled of each token.
///
/// @dev No constructor-written storage: the EIP-712 name and version are short strings kept in
/// immutables, and the cached domain separator is only used at the address it was computed
/// for, so a copy of the runtime code at the canonical address computes the canonical domain.
contract X402BatchSettlement is EIP712, Multicall, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice What a channel is; hashed into its id.
    struct ChannelConfig {
        address payer;
        address payerAuthorizer;
        address receiver;
        address receiverAuthorizer;
        address token;
        uint40 withdrawDelay;
        bytes32 salt;
    }

    /// @notice The balances of a channel: escrowed (claimed or not) and claimed.
    struct ChannelState {
        uint128 balance;
        uint128 totalClaimed;
    }

    /// @notice A payer's withdrawal in progress; `initiatedAt` is zero when none is.
    struct WithdrawalState {
        uint128 amount;
        uint40 initiatedAt;
    }

    /// @notice What a receiver has been credited (claimed) and paid (settled) in one token.
    struct ReceiverState {
        uint128 totalClaimed;
        uint128 totalSettled;
    }

    /// @notice A voucher as claimed: the channel it belongs to and its cumulative amount.
    struct Voucher {
        ChannelConfig channel;
        uint128 maxClaimableAmount;
    }

    /// @notice One claim: a signed voucher and the cumulative claimed total to record (at most
    /// the voucher's amount). Totals rather than deltas make a replayed claim a no-op.
    struct VoucherClaim {
        Voucher voucher;
        bytes signature;
        uint128 totalClaimed;
    }

    /// @notice The shortest and longest withdrawal delay a channel may have.
    uint40 public constant MIN_WITHDRAW_DELAY = 15 minutes;
    uint40 public constant MAX_WITHDRAW_DELAY = 30 days;

    bytes32 public constant CHANNEL_CONFIG_TYPEHASH = keccak256(
        "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)"
    );
    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(bytes32 channelId,uint128 maxClaimableAmount)");
    bytes32 public constant REFUND_TYPEHASH =
        keccak256("Refund(bytes32 channelId,uint256 nonce,uint128 amount)");
    bytes32 public constant CLAIM_ENTRY_TYPEHASH =
        keccak256("ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)");
    bytes32 public constant CLAIM_BATCH_TYPEHASH = keccak256(
        "ClaimBatch(ClaimEntry[] claims)ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)"
    );

    /// @notice Each channel's balances.
    mapping(bytes32 channelId => ChannelState) public channels;
    /// @notice The nonce the next `Refund` signature of a channel must carry. Every executed
    /// refund advances it, by either path, so a direct refund voids signatures made before it.
    mapping(bytes32 channelId => uint256) public refundNonce;
    /// @notice Each channel's withdrawal in progress.
    mapping(bytes32 channelId => WithdrawalState) public pendingWithdrawals;
    /// @notice Claimed and settled totals per receiver and token.
    mapping(address receiver => mapping(address token => ReceiverState)) public receivers;

    /// @notice A channel received its first escrow (its balance was zero and nothing claimed).
    event ChannelCreated(bytes32 indexed channelId, ChannelConfig config);
    /// @notice A channel's balance returned to zero with nothing claimed.
    event ChannelClosed(bytes32 indexed channelId, ChannelConfig config);
    event Deposited(bytes32 indexed channelId, address indexed sender, uint128 amount, uint128 newBalance);
    event Claimed(
        bytes32 indexed channelId, address indexed sender, uint128 claimAmount, uint128 newTotalClaimed
    );
    event Settled(address indexed receiver, address indexed token, address indexed sender, uint128 amount);
    event Refunded(bytes32 indexed channelId, address indexed sender, uint128 amount);
    event WithdrawInitiated(bytes32 indexed channelId, uint128 amount, uint40 finalizeAfter);
    event WithdrawFinalized(bytes32 indexed channelId, address indexed sender, uint128 amount);

    /// @notice The config has a zero payer, receiver, receiver authorizer or token.
    error InvalidChannel();
    /// @notice The channel's `withdrawDelay` is outside [MIN_WITHDRAW_DELAY, MAX_WITHDRAW_DELAY].
    error WithdrawDelayOutOfRange();
    error ZeroDeposit();
    error InvalidCollector();
    /// @notice The deposit would take the channel's balance past 2^128 - 1.
    error DepositOverflow();
    /// @notice The collector did not leave exactly `amount` more tokens with this contract.
    error DepositCollectionFailed();
    error EmptyBatch();
    /// @notice A voucher, claim-batch or refund signature is not the expected signer's.
    error InvalidSignature();
    /// @notice `claim` by someone who is neither the receiver nor the receiver authorizer.
    error NotAuthorizedToClaim();
    /// @notice A row of a signed claim batch has another receiver authorizer than the first.
    error NotReceiverAuthorizer();
    /// @notice A claimed total above the voucher's `maxClaimableAmount`.
    error ClaimExceedsCeiling();
    /// @notice A claimed total above the channel's balance.
    error ClaimExceedsBalance();
    /// @notice `initiateWithdraw` by someone who is neither the payer nor the payer authorizer.
    error NotAuthorizedToWithdraw();
    /// @notice `finalizeWithdraw` by someone who is neither the payer nor the payer authorizer.
    error NotAuthorizedToFinalizeWithdraw();
    error NothingToWithdraw();
    error WithdrawalAlreadyPending();
    error WithdrawalNotPending();
    error WithdrawAmountExceedsAvailable();
    error WithdrawDelayNotElapsed();
    /// @notice `refund` by someone who is neither the receiver nor the receiver authorizer.
    error NotAuthorizedToRefund();
    error ZeroRefund();
    /// @notice A `Refund` signature for another nonce than the channel's current one.
    error InvalidRefundNonce();

    constructor() EIP712("x402 Batch Settlement", "1") {}

    // ---------------------------------------------------------------------------------------
    // Deposits
    // ---------------------------------------------------------------------------------------

    /// @notice Adds `amount` to the channel `config`, pulled from the payer by `collector`
    /// (anyone may submit it: the payer's consent is in `collectorData`).
    function deposit(
        ChannelConfig calldata config,
        uint128 amount,
        address collector,
        bytes calldata collectorData
    ) external nonReentrant {
        if (
            config.payer == address(0) || config.receiver == address(0)
                || config.receiverAuthorizer == address(0) || config.token == address(0)
        ) revert InvalidChannel();
        if (config.withdrawDelay < MIN_WITHDRAW_DELAY || config.withdrawDelay > MAX_WITHDRAW_DELAY) {
            revert WithdrawDelayOutOfRange();
        }
        if (amount == 0) revert ZeroDeposit();
        if (collector == address(0)) revert InvalidCollector();

        bytes32 channelId = getChannelId(config);
        ChannelState storage channel = channels[channelId];
        uint128 before = channel.balance;
        if (amount > type(uint128).max - before) revert DepositOverflow();
        channel.balance = before + amount;

        IERC20 token = IERC20(config.token);
        uint256 held = token.balanceOf(address(this));
        IDepositCollector(collector).collect(config.payer, config.token, amount, channelId, collectorData);
        if (token.balanceOf(address(this)) != held + amount) revert DepositCollectionFailed();

        if (before == 0 && channel.totalClaimed == 0) emit ChannelCreated(channelId, config);
        emit Deposited(channelId, msg.sender, amount, before + amount);
    }

    // ---------------------------------------------------------------------------------------
    // Claims and settlement
    // ---------------------------------------------------------------------------------------

    /// @notice Records claims; the caller must be the receiver or the receiver authorizer of
    /// every row's channel. A row whose total is not above what is recorded is skipped.
    function claim(VoucherClaim[] calldata voucherClaims) external nonReentrant {
        uint256 n = voucherClaims.length;
        if (n == 0) revert EmptyBatch();
        for (uint256 i = 0; i < n; ++i) {
            if (!_isReceiverSide(msg.sender, voucherClaims[i].voucher.channel)) {
                revert NotAuthorizedToClaim();
            }
            _claim(voucherClaims[i]);
        }
    }

    /// @notice Records claims authorized by the receiver authorizer's signature over
    /// `getClaimBatchDigest(voucherClaims)`; anyone may submit it. Every row must have the
    /// first row's receiver authorizer.
    function claimWithSignature(VoucherClaim[] calldata voucherClaims, bytes calldata authorizerSignature)
        external
        nonReentrant
    {
        uint256 n = voucherClaims.length;
        if (n == 0) revert EmptyBatch();
        address authorizer = voucherClaims[0].voucher.channel.receiverAuthorizer;
        if (!SignatureChecker.isValidSignatureNowCalldata(
                authorizer, getClaimBatchDigest(voucherClaims), authorizerSignature
            )) {
            revert InvalidSignature();
        }
        for (uint256 i = 0; i < n; ++i) {
            if (voucherClaims[i].voucher.channel.receiverAuthorizer != authorizer) {
                revert NotReceiverAuthorizer();
            }
            _claim(voucherClaims[i]);
        }
    }

    /// @notice Pays `receiver` what it was credited in `token` and not yet paid. Anyone may
    /// call it; with nothing to pay it does nothing.
    function settle(address receiver, address token) external nonReentrant {
        ReceiverState storage account = receivers[receiver][token];
        uint128 amount = account.totalClaimed - account.totalSettled;
        if (amount == 0) return;
        account.totalSettled = account.totalClaimed;
        emit Settled(receiver, token, msg.sender, amount);
        IERC20(token).safeTransfer(receiver, amount);
    }

    // ---------------------------------------------------------------------------------------
    // The payer's exit
    // ---------------------------------------------------------------------------------------

    /// @notice Starts a withdrawal of `amount` of the unclaimed escrow; the payer (or the payer
    /// authorizer) can finalize it `withdrawDelay` seconds later.
    function initiateWithdraw(ChannelConfig calldata config, uint128 amount) external nonReentrant {
        if (!_isPayerSide(msg.sender, config)) revert NotAuthorizedToWithdraw();
        if (amount == 0) revert NothingToWithdraw();
        bytes32 channelId = getChannelId(config);
        WithdrawalState storage pending = pendingWithdrawals[channelId];
        if (pending.initiatedAt != 0) revert WithdrawalAlreadyPending();
        ChannelState storage channel = channels[channelId];
        if (amount > channel.balance - channel.totalClaimed) revert WithdrawAmountExceedsAvailable();
        pending.amount = amount;
        pending.initiatedAt = uint40(block.timestamp);
        emit WithdrawInitiated(channelId, amount, uint40(block.timestamp) + config.withdrawDelay);
    }

    /// @notice Pays the payer the pending withdrawal once its delay has passed, capped at what
    /// is unclaimed now.
    function finalizeWithdraw(ChannelConfig calldata config) external nonReentrant {
        if (!_isPayerSide(msg.sender, config)) revert NotAuthorizedToFinalizeWithdraw();
        bytes32 channelId = getChannelId(config);
        WithdrawalState storage pending = pendingWithdrawals[channelId];
        uint256 initiatedAt = pending.initiatedAt;
        if (initiatedAt == 0) revert WithdrawalNotPending();
        if (block.timestamp < initiatedAt + config.withdrawDelay) revert WithdrawDelayNotElapsed();

        ChannelState storage channel = channels[channelId];
        uint128 available = channel.balance - channel.totalClaimed;
        uint128 amount = pending.amount < available ? pending.amount : available;
        delete pendingWithdrawals[channelId];
        channel.balance -= amount;

        emit WithdrawFinalized(channelId, msg.sender, amount);
        if (channel.balance == 0 && channel.totalClaimed == 0) emit ChannelClosed(channelId, config);
        if (amount != 0) IERC20(config.token).safeTransfer(config.payer, amount);
    }

    // ---------------------------------------------------------------------------------------
    // Refunds by the receiver side
    // ---------------------------------------------------------------------------------------

    /// @notice Returns up to `amount` of the unclaimed escrow to the payer now; the caller must
    /// be the receiver or the receiver authorizer.
    function refund(ChannelConfig calldata config, uint128 amount) external nonReentrant {
        if (!_isReceiverSide(msg.sender, config)) revert NotAuthorizedToRefund();
        _refund(config, getChannelId(config), amount);
    }

    /// @notice `refund`, authorized by the receiver authorizer's signature over
    /// `getRefundDigest(channelId, nonce, amount)`; anyone may submit it. `nonce` must be the
    /// channel's current `refundNonce`.
    function refundWithSignature(
        ChannelConfig calldata config,
        uint128 amount,
        uint256 nonce,
        bytes calldata receiverAuthorizerSignature
    ) external nonReentrant {
        bytes32 channelId = getChannelId(config);
        if (nonce != refundNonce[channelId]) revert InvalidRefundNonce();
        bytes32 digest = getRefundDigest(channelId, nonce, amount);
        if (!SignatureChecker.isValidSignatureNowCalldata(
                config.receiverAuthorizer, digest, receiverAuthorizerSignature
            )) {
            revert InvalidSignature();
        }
        _refund(config, channelId, amount);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @notice The channel id: the EIP-712 hash of `config` under this contract's domain.
    function getChannelId(ChannelConfig calldata config) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CHANNEL_CONFIG_TYPEHASH, config)));
    }

    /// @notice What the payer (authorizer) signs for a voucher.
    function getVoucherDigest(bytes32 channelId, uint128 maxClaimableAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, maxClaimableAmount)));
    }

    /// @notice What the receiver authorizer signs for `refundWithSignature`.
    function getRefundDigest(bytes32 channelId, uint256 nonce, uint128 amount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REFUND_TYPEHASH, channelId, nonce, amount)));
    }

    /// @notice What the receiver authorizer signs for `claimWithSignature`:
    /// `ClaimBatch(ClaimEntry[] claims)` with one `ClaimEntry(channelId, maxClaimableAmount,
    /// totalClaimed)` per row (defined for an empty batch too, though claims refuse one).
    function getClaimBatchDigest(VoucherClaim[] calldata voucherClaims) public view returns (bytes32) {
        uint256 n = voucherClaims.length;
        bytes32[] memory entries = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            VoucherClaim calldata row = voucherClaims[i];
            entries[i] = keccak256(
                abi.encode(
                    CLAIM_ENTRY_TYPEHASH,
                    getChannelId(row.voucher.channel),
                    row.voucher.maxClaimableAmount,
                    row.totalClaimed
                )
            );
        }
        return
            _hashTypedDataV4(
                keccak256(abi.encode(CLAIM_BATCH_TYPEHASH, keccak256(abi.encodePacked(entries))))
            );
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    function _isReceiverSide(address account, ChannelConfig calldata config) private pure returns (bool) {
        return account == config.receiver || account == config.receiverAuthorizer;
    }

    function _isPayerSide(address account, ChannelConfig calldata config) private pure returns (bool) {
        return account == config.payer || account == config.payerAuthorizer;
    }

    /// @dev Checks one claim row and records it: the total rises to `row.totalClaimed` if that is
    /// above the recorded total, within the voucher and the balance, and the voucher is signed.
    function _claim(VoucherClaim calldata row) private {
        ChannelConfig calldata config = row.voucher.channel;
        bytes32 channelId = getChannelId(config);
        ChannelState storage channel = channels[channelId];
        uint128 recorded = channel.totalClaimed;
        uint128 total = row.totalClaimed;
        if (total <= recorded) return;
        uint128 ceiling = row.voucher.maxClaimableAmount;
        if (total > ceiling) revert ClaimExceedsCeiling();
        if (total > channel.balance) revert ClaimExceedsBalance();

        bytes32 digest = getVoucherDigest(channelId, ceiling);
        if (config.payerAuthorizer != address(0)) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, row.signature);
            if (err != ECDSA.RecoverError.NoError || signer != config.payerAuthorizer) {
                revert InvalidSignature();
            }
        } else if (!SignatureChecker.isValidSignatureNowCalldata(config.payer, digest, row.signature)) {
            revert InvalidSignature();
        }

        uint128 delta = total - recorded;
        channel.totalClaimed = total;
        receivers[config.receiver][config.token].totalClaimed += delta;
        emit Claimed(channelId, msg.sender, delta, total);
    }

    /// @dev Advances the refund nonce, then returns min(amount, unclaimed) to the payer and takes
    /// it off any pending withdrawal. With nothing unclaimed only the nonce moves.
    function _refund(ChannelConfig calldata config, bytes32 channelId, uint128 amount) private {
        if (amount == 0) revert ZeroRefund();
        unchecked {
            ++refundNonce[channelId];
        }
        ChannelState storage channel = channels[channelId];
        uint128 available = channel.balance - channel.totalClaimed;
        uint128 refunded = amount < available ? amount : available;
        if (refunded == 0) return;
        channel.balance -= refunded;

        WithdrawalState storage pending = pendingWithdrawals[channelId];
        if (pending.initiatedAt != 0) {
            if (refunded >= pending.amount) delete pendingWithdrawals[channelId];
            else pending.amount -= refunded;
        }

        emit Refunded(channelId, msg.sender, refunded);
        if (channel.balance == 0 && channel.totalClaimed == 0) emit ChannelClosed(channelId, config);
        IERC20(config.token).safeTransfer(config.payer, refunded);
    }
}
