// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @notice The EIP-3009 entry point the channels use to take deposits signed by the payer.
interface IERC3009Receive {
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external;
}

/// @title PaymentChannels
/// @notice Unidirectional payment channels with cumulative EIP-712 vouchers, the shape of the
/// x402 `batch-settlement` scheme on EVM. A payer deposits once (or tops up), then pays each
/// call off-chain with a voucher `Voucher(channelId, maxClaimableAmount)` whose amount only
/// grows. The receiver claims any number of channels in one transaction, up to the highest
/// voucher it holds and never above the deposit. The payer can always leave: `initiateWithdraw`
/// starts the channel's delay, after which `finalizeWithdraw` returns everything not claimed.
/// Claims are refused from the moment the delay has passed, so the receiver must claim first.
contract PaymentChannels is EIP712 {
    using SafeERC20 for IERC20;

    /// @notice What a channel is. Its id is the EIP-712 digest of this struct under this
    /// contract's domain, so an id binds the chain, the contract and every field.
    /// @param payer who funds the channel and gets the unclaimed rest back.
    /// @param payerAuthorizer the key that signs vouchers (ECDSA); zero means the payer itself
    /// signs, which also admits ERC-1271 contract wallets.
    /// @param receiver who is paid and the only one who may claim.
    /// @param token the ERC-20 the channel holds.
    /// @param withdrawDelay seconds between `initiateWithdraw` and `finalizeWithdraw`.
    /// @param salt distinguishes channels with otherwise equal fields.
    struct ChannelConfig {
        address payer;
        address payerAuthorizer;
        address receiver;
        address token;
        uint40 withdrawDelay;
        bytes32 salt;
    }

    /// @notice A receiver's claim on one channel: the voucher it holds and the cumulative
    /// amount to have claimed after this call (at most the voucher's amount).
    struct ClaimEntry {
        bytes32 channelId;
        uint128 maxClaimableAmount;
        uint128 totalClaimed;
        bytes signature;
    }

    /// @dev Channel state, in three storage slots.
    struct Channel {
        address payer;
        uint40 withdrawDelay;
        uint40 withdrawReadyAt;
        address payerAuthorizer;
        address receiver;
        address token;
        uint128 deposited;
        uint128 claimed;
    }

    bytes32 public constant CHANNEL_CONFIG_TYPEHASH = keccak256(
        "ChannelConfig(address payer,address payerAuthorizer,address receiver,address token,uint40 withdrawDelay,bytes32 salt)"
    );
    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(bytes32 channelId,uint128 maxClaimableAmount)");

    /// @notice The shortest and longest withdrawal delays a channel may have.
    uint40 public constant MIN_WITHDRAW_DELAY = 1 minutes;
    uint40 public constant MAX_WITHDRAW_DELAY = 30 days;

    mapping(bytes32 => Channel) private _channels;

    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed payer,
        address indexed receiver,
        address payerAuthorizer,
        address token,
        uint40 withdrawDelay
    );
    event Deposited(bytes32 indexed channelId, address indexed from, uint128 amount, uint128 deposited);
    event Claimed(bytes32 indexed channelId, address indexed receiver, uint128 amount, uint128 totalClaimed);
    event WithdrawInitiated(bytes32 indexed channelId, uint40 readyAt);
    event WithdrawCancelled(bytes32 indexed channelId);
    event Withdrawn(bytes32 indexed channelId, address indexed payer, uint128 amount);

    error InvalidWithdrawDelay(uint40 delay);
    error ZeroAddress();
    error ZeroAmount();
    error DepositOverflow();
    error UnknownChannel(bytes32 channelId);
    error NotReceiver(bytes32 channelId, address caller);
    error NotPayer(bytes32 channelId, address caller);
    error InvalidVoucherSignature(bytes32 channelId);
    error ClaimAboveVoucher(bytes32 channelId, uint128 totalClaimed, uint128 maxClaimableAmount);
    error MixedTokens(address expected, address found);
    error WithdrawNotInitiated(bytes32 channelId);
    error WithdrawNotReady(bytes32 channelId, uint40 readyAt);

    constructor() EIP712("Agora Payment Channels", "1") {}

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @notice The id of the channel `config` describes (whether or not it was opened).
    function channelId(ChannelConfig calldata config) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    CHANNEL_CONFIG_TYPEHASH,
                    config.payer,
                    config.payerAuthorizer,
                    config.receiver,
                    config.token,
                    config.withdrawDelay,
                    config.salt
                )
            )
        );
    }

    /// @notice The EIP-712 digest the payer signs for a voucher.
    function voucherDigest(bytes32 id, uint128 maxClaimableAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, id, maxClaimableAmount)));
    }

    /// @notice The EIP-3009 nonce a deposit authorization for channel `id` must carry. Binding the
    /// nonce to the channel stops anyone from redirecting a signed deposit into another channel.
    function depositNonce(bytes32 id, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(id, salt));
    }

    /// @notice The EIP-712 domain separator (for clients that sign vouchers).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice A channel's state. `payer` is zero for a channel never opened.
    function getChannel(bytes32 id)
        external
        view
        returns (
            address payer,
            address payerAuthorizer,
            address receiver,
            address token,
            uint40 withdrawDelay,
            uint40 withdrawReadyAt,
            uint128 deposited,
            uint128 claimed
        )
    {
        Channel storage c = _channels[id];
        return (
            c.payer,
            c.payerAuthorizer,
            c.receiver,
            c.token,
            c.withdrawDelay,
            c.withdrawReadyAt,
            c.deposited,
            c.claimed
        );
    }

    // ---------------------------------------------------------------------------------------
    // Deposits
    // ---------------------------------------------------------------------------------------

    /// @notice Opens the channel (if new) and adds `amount`, paid by the caller with an ERC-20
    /// allowance. Anyone may top up a channel; the rest always goes back to its payer. A deposit
    /// cancels a pending withdrawal.
    function deposit(ChannelConfig calldata config, uint128 amount) external returns (bytes32 id) {
        id = _credit(config, amount);
        IERC20(config.token).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Like `deposit`, but funded by an EIP-3009 `ReceiveWithAuthorization` the payer
    /// signed for this contract, with nonce `depositNonce(id, nonceSalt)`; anyone may submit it,
    /// so the payer needs no ETH.
    function depositWithAuthorization(
        ChannelConfig calldata config,
        uint128 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonceSalt,
        bytes calldata signature
    ) external returns (bytes32 id) {
        id = _credit(config, amount);
        IERC3009Receive(config.token)
            .receiveWithAuthorization(
                config.payer,
                address(this),
                amount,
                validAfter,
                validBefore,
                depositNonce(id, nonceSalt),
                signature
            );
    }

    function _credit(ChannelConfig calldata config, uint128 amount) private returns (bytes32 id) {
        if (amount == 0) revert ZeroAmount();
        id = channelId(config);
        Channel storage c = _channels[id];
        if (c.payer == address(0)) {
            if (config.payer == address(0) || config.receiver == address(0) || config.token == address(0)) {
                revert ZeroAddress();
            }
            if (config.withdrawDelay < MIN_WITHDRAW_DELAY || config.withdrawDelay > MAX_WITHDRAW_DELAY) {
                revert InvalidWithdrawDelay(config.withdrawDelay);
            }
            c.payer = config.payer;
            c.payerAuthorizer = config.payerAuthorizer;
            c.receiver = config.receiver;
            c.token = config.token;
            c.withdrawDelay = config.withdrawDelay;
            emit ChannelOpened(
                id, config.payer, config.receiver, config.payerAuthorizer, config.token, config.withdrawDelay
            );
        }
        uint256 total = uint256(c.deposited) + amount;
        if (total > type(uint128).max) revert DepositOverflow();
        c.deposited = uint128(total);
        if (c.withdrawReadyAt != 0) {
            c.withdrawReadyAt = 0;
            emit WithdrawCancelled(id);
        }
        emit Deposited(id, msg.sender, amount, uint128(total));
    }

    // ---------------------------------------------------------------------------------------
    // Claims
    // ---------------------------------------------------------------------------------------

    /// @notice Claims several channels of the caller, all in one token, with one transfer.
    /// A claim is capped at the channel's deposit; an entry that would claim nothing new, or
    /// whose withdrawal delay has passed, is skipped, so that one late channel does not sink a
    /// batch. Returns the amount transferred.
    function claim(ClaimEntry[] calldata claims) external returns (uint256 paid) {
        address token;
        for (uint256 i = 0; i < claims.length; i++) {
            ClaimEntry calldata e = claims[i];
            Channel storage c = _channels[e.channelId];
            if (c.payer == address(0)) revert UnknownChannel(e.channelId);
            if (c.receiver != msg.sender) revert NotReceiver(e.channelId, msg.sender);
            if (token == address(0)) token = c.token;
            else if (c.token != token) revert MixedTokens(token, c.token);
            if (e.totalClaimed > e.maxClaimableAmount) {
                revert ClaimAboveVoucher(e.channelId, e.totalClaimed, e.maxClaimableAmount);
            }
            if (!_validVoucher(c, e.channelId, e.maxClaimableAmount, e.signature)) {
                revert InvalidVoucherSignature(e.channelId);
            }
            // Never above the deposit: a payer who withdrew the rest must not sink the batch.
            uint128 total = e.totalClaimed < c.deposited ? e.totalClaimed : c.deposited;
            uint128 before = c.claimed;
            if (total <= before) continue;
            if (c.withdrawReadyAt != 0 && block.timestamp >= c.withdrawReadyAt) continue;
            c.claimed = total;
            uint128 amount = total - before;
            paid += amount;
            emit Claimed(e.channelId, msg.sender, amount, total);
        }
        if (paid > 0) IERC20(token).safeTransfer(msg.sender, paid);
    }

    function _validVoucher(Channel storage c, bytes32 id, uint128 amount, bytes calldata signature)
        private
        view
        returns (bool)
    {
        bytes32 digest = voucherDigest(id, amount);
        address authorizer = c.payerAuthorizer;
        if (authorizer != address(0)) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
            return err == ECDSA.RecoverError.NoError && signer == authorizer;
        }
        return SignatureChecker.isValidSignatureNow(c.payer, digest, signature);
    }

    // ---------------------------------------------------------------------------------------
    // Withdrawal
    // ---------------------------------------------------------------------------------------

    /// @notice Starts the payer's exit: after the channel's delay, `finalizeWithdraw` returns
    /// what the receiver has not claimed by then. Calling it again restarts nothing.
    function initiateWithdraw(bytes32 id) external returns (uint40 readyAt) {
        Channel storage c = _channels[id];
        if (c.payer == address(0)) revert UnknownChannel(id);
        if (msg.sender != c.payer) revert NotPayer(id, msg.sender);
        readyAt = c.withdrawReadyAt;
        if (readyAt == 0) {
            readyAt = uint40(block.timestamp) + c.withdrawDelay;
            c.withdrawReadyAt = readyAt;
            emit WithdrawInitiated(id, readyAt);
        }
    }

    /// @notice Pays the unclaimed rest to the payer once the delay has passed. Anyone may call
    /// it; the money only ever goes to the payer. The channel stays open for new deposits.
    function finalizeWithdraw(bytes32 id) external returns (uint128 amount) {
        Channel storage c = _channels[id];
        if (c.payer == address(0)) revert UnknownChannel(id);
        uint40 readyAt = c.withdrawReadyAt;
        if (readyAt == 0) revert WithdrawNotInitiated(id);
        if (block.timestamp < readyAt) revert WithdrawNotReady(id, readyAt);
        amount = c.deposited - c.claimed;
        c.deposited = c.claimed;
        c.withdrawReadyAt = 0;
        emit Withdrawn(id, c.payer, amount);
        if (amount > 0) IERC20(c.token).safeTransfer(c.payer, amount);
    }
}
