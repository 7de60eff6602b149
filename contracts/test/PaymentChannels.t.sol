// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";
import {PaymentChannels} from "../src/PaymentChannels.sol";

/// @dev Signing helpers shared by the unit and invariant tests.
abstract contract ChannelSigning is AgoraTest {
    function config(address payer, address authorizer, address receiver, address token, bytes32 salt)
        internal
        pure
        returns (PaymentChannels.ChannelConfig memory)
    {
        return PaymentChannels.ChannelConfig({
            payer: payer,
            payerAuthorizer: authorizer,
            receiver: receiver,
            token: token,
            withdrawDelay: 1 hours,
            salt: salt
        });
    }

    function signVoucher(PaymentChannels channels, uint256 key, bytes32 id, uint128 amount)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, channels.voucherDigest(id, amount));
        return abi.encodePacked(r, s, v);
    }

    function entry(PaymentChannels channels, uint256 key, bytes32 id, uint128 max, uint128 total)
        internal
        view
        returns (PaymentChannels.ClaimEntry[] memory claims)
    {
        claims = new PaymentChannels.ClaimEntry[](1);
        claims[0] = PaymentChannels.ClaimEntry(id, max, total, signVoucher(channels, key, id, max));
    }

    function signReceive(
        DevStablecoin token,
        uint256 key,
        address to,
        uint256 value,
        uint256 validBefore,
        bytes32 nonce
    ) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(
            abi.encode(
                token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), vm.addr(key), to, value, 0, validBefore, nonce
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}

contract PaymentChannelsTest is ChannelSigning {
    DevStablecoin internal token;
    PaymentChannels internal channels;

    uint256 internal constant PAYER_KEY = 0xA11CE;
    uint256 internal constant SESSION_KEY = 0x5E55;
    address internal payer;
    address internal session;
    address internal receiver = address(0xB0B);

    function setUp() public {
        vm.chainId(31337);
        vm.warp(1_700_000_000);
        token = new DevStablecoin();
        channels = new PaymentChannels();
        payer = vm.addr(PAYER_KEY);
        session = vm.addr(SESSION_KEY);
        token.faucet(payer, 1_000e6);
        vm.prank(payer);
        token.approve(address(channels), type(uint256).max);
    }

    function open(uint128 amount) internal returns (bytes32 id, PaymentChannels.ChannelConfig memory cfg) {
        cfg = config(payer, session, receiver, address(token), bytes32(0));
        vm.prank(payer);
        id = channels.deposit(cfg, amount);
    }

    function test_channel_id_is_the_eip712_digest_of_the_config() public view {
        PaymentChannels.ChannelConfig memory cfg = config(payer, session, receiver, address(token), "s");
        bytes32 structHash = keccak256(
            abi.encode(
                channels.CHANNEL_CONFIG_TYPEHASH(),
                payer,
                session,
                receiver,
                address(token),
                uint40(1 hours),
                bytes32("s")
            )
        );
        bytes32 expected = keccak256(abi.encodePacked("\x19\x01", channels.domainSeparator(), structHash));
        assertEq(channels.channelId(cfg), expected, "channel id");
        cfg.salt = "t";
        assertTrue(channels.channelId(cfg) != expected, "salt changes the id");
    }

    function test_deposit_opens_and_tops_up() public {
        (bytes32 id,) = open(100e6);
        (address p, address a, address r, address t, uint40 delay,, uint128 deposited, uint128 claimed) =
            channels.getChannel(id);
        assertEq(p, payer, "payer");
        assertEq(a, session, "authorizer");
        assertEq(r, receiver, "receiver");
        assertEq(t, address(token), "token");
        assertEq(uint256(delay), 1 hours, "delay");
        assertEq(uint256(deposited), 100e6, "deposited");
        assertEq(uint256(claimed), 0, "claimed");
        open(50e6);
        (,,,,,, deposited,) = channels.getChannel(id);
        assertEq(uint256(deposited), 150e6, "topped up");
        assertEq(token.balanceOf(address(channels)), 150e6, "held");
    }

    function test_deposit_rejects_bad_configs() public {
        PaymentChannels.ChannelConfig memory cfg = config(payer, session, receiver, address(token), 0);
        vm.startPrank(payer);
        vm.expectRevert(PaymentChannels.ZeroAmount.selector);
        channels.deposit(cfg, 0);
        cfg.withdrawDelay = 59;
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.InvalidWithdrawDelay.selector, uint40(59)));
        channels.deposit(cfg, 1);
        cfg.withdrawDelay = 1 hours;
        cfg.receiver = address(0);
        vm.expectRevert(PaymentChannels.ZeroAddress.selector);
        channels.deposit(cfg, 1);
        vm.stopPrank();
    }

    function test_deposit_with_authorization_needs_no_eth_from_the_payer() public {
        PaymentChannels.ChannelConfig memory cfg = config(payer, session, receiver, address(token), "gasless");
        bytes32 id = channels.channelId(cfg);
        bytes32 nonce = channels.depositNonce(id, "n1");
        bytes memory sig = signReceive(token, PAYER_KEY, address(channels), 20e6, block.timestamp + 60, nonce);
        // A relayer (the receiver's server) submits it and pays the gas.
        vm.prank(address(0xFEE));
        channels.depositWithAuthorization(cfg, 20e6, 0, block.timestamp + 60, "n1", sig);
        (,,,,,, uint128 deposited,) = channels.getChannel(id);
        assertEq(uint256(deposited), 20e6, "deposited");
        assertEq(token.balanceOf(payer), 980e6, "payer debited");
    }

    function test_deposit_authorization_cannot_be_redirected_to_another_channel() public {
        PaymentChannels.ChannelConfig memory cfg = config(payer, session, receiver, address(token), "a");
        bytes32 nonce = channels.depositNonce(channels.channelId(cfg), "n");
        bytes memory sig = signReceive(token, PAYER_KEY, address(channels), 20e6, block.timestamp + 60, nonce);
        // An attacker replays it for a channel whose vouchers they would sign themselves.
        PaymentChannels.ChannelConfig memory evil =
            config(payer, address(0xBAD), address(0xBAD), address(token), "a");
        vm.expectRevert(DevStablecoin.InvalidAuthorizationSignature.selector);
        channels.depositWithAuthorization(evil, 20e6, 0, block.timestamp + 60, "n", sig);
    }

    function test_claim_pays_up_to_the_voucher() public {
        (bytes32 id,) = open(100e6);
        PaymentChannels.ClaimEntry[] memory claims = entry(channels, SESSION_KEY, id, 30e6, 25e6);
        vm.prank(receiver);
        uint256 paid = channels.claim(claims);
        assertEq(paid, 25e6, "paid");
        assertEq(token.balanceOf(receiver), 25e6, "receiver balance");
        // A later voucher claims only the difference.
        claims = entry(channels, SESSION_KEY, id, 40e6, 40e6);
        vm.prank(receiver);
        paid = channels.claim(claims);
        assertEq(paid, 15e6, "difference");
        // An older voucher claims nothing and does not revert.
        claims = entry(channels, SESSION_KEY, id, 30e6, 30e6);
        vm.prank(receiver);
        paid = channels.claim(claims);
        assertEq(paid, 0, "stale voucher");
        assertEq(token.balanceOf(receiver), 40e6, "receiver total");
    }

    function test_claim_refuses_forged_and_inflated_vouchers() public {
        (bytes32 id,) = open(100e6);
        PaymentChannels.ClaimEntry[] memory claims = entry(channels, PAYER_KEY, id, 10e6, 10e6);
        vm.prank(receiver);
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.InvalidVoucherSignature.selector, id));
        channels.claim(claims); // signed by the payer, but the channel names a session key
        claims = entry(channels, SESSION_KEY, id, 10e6, 10e6);
        claims[0].maxClaimableAmount = 11e6; // the signature covers 10
        vm.prank(receiver);
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.InvalidVoucherSignature.selector, id));
        channels.claim(claims);
        claims = entry(channels, SESSION_KEY, id, 10e6, 11e6);
        vm.prank(receiver);
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.ClaimAboveVoucher.selector, id, 11e6, 10e6));
        channels.claim(claims);
        claims = entry(channels, SESSION_KEY, id, 10e6, 10e6);
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.NotReceiver.selector, id, address(this)));
        channels.claim(claims);
    }

    function test_claim_is_capped_at_the_deposit() public {
        (bytes32 id,) = open(5e6);
        PaymentChannels.ClaimEntry[] memory claims = entry(channels, SESSION_KEY, id, 9e6, 9e6);
        vm.prank(receiver);
        uint256 paid = channels.claim(claims);
        assertEq(paid, 5e6, "capped");
    }

    function test_payer_signs_vouchers_itself_without_an_authorizer() public {
        PaymentChannels.ChannelConfig memory cfg = config(payer, address(0), receiver, address(token), "self");
        vm.prank(payer);
        bytes32 id = channels.deposit(cfg, 10e6);
        PaymentChannels.ClaimEntry[] memory claims = entry(channels, PAYER_KEY, id, 3e6, 3e6);
        vm.prank(receiver);
        assertEq(channels.claim(claims), 3e6, "claimed");
    }

    function test_batch_claim_across_channels_makes_one_transfer() public {
        PaymentChannels.ClaimEntry[] memory claims = new PaymentChannels.ClaimEntry[](3);
        for (uint256 i = 0; i < 3; i++) {
            PaymentChannels.ChannelConfig memory cfg =
                config(payer, session, receiver, address(token), bytes32(uint256(i + 1)));
            vm.prank(payer);
            bytes32 id = channels.deposit(cfg, 10e6);
            uint128 amount = uint128((i + 1) * 1e6);
            claims[i] = PaymentChannels.ClaimEntry(
                id, amount, amount, signVoucher(channels, SESSION_KEY, id, amount)
            );
        }
        vm.prank(receiver);
        assertEq(channels.claim(claims), 6e6, "sum of the batch");
        assertEq(token.balanceOf(receiver), 6e6, "receiver");
    }

    function test_withdraw_returns_the_unclaimed_rest_after_the_delay() public {
        (bytes32 id,) = open(100e6);
        PaymentChannels.ClaimEntry[] memory claims = entry(channels, SESSION_KEY, id, 30e6, 30e6);
        vm.prank(receiver);
        channels.claim(claims);
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.NotPayer.selector, id, address(this)));
        channels.initiateWithdraw(id);
        vm.prank(payer);
        uint40 readyAt = channels.initiateWithdraw(id);
        assertEq(uint256(readyAt), block.timestamp + 1 hours, "ready at");
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.WithdrawNotReady.selector, id, readyAt));
        channels.finalizeWithdraw(id);
        // The receiver beats the deadline with a newer voucher.
        vm.warp(readyAt - 1);
        claims = entry(channels, SESSION_KEY, id, 50e6, 50e6);
        vm.prank(receiver);
        channels.claim(claims);
        vm.warp(readyAt);
        // Too late now: the claim is skipped.
        claims = entry(channels, SESSION_KEY, id, 70e6, 70e6);
        vm.prank(receiver);
        assertEq(channels.claim(claims), 0, "late claim skipped");
        assertEq(uint256(channels.finalizeWithdraw(id)), 50e6, "rest");
        assertEq(token.balanceOf(payer), 950e6, "payer got the rest back");
        assertEq(token.balanceOf(receiver), 50e6, "receiver kept its claims");
        assertEq(token.balanceOf(address(channels)), 0, "empty");
        vm.expectRevert(abi.encodeWithSelector(PaymentChannels.WithdrawNotInitiated.selector, id));
        channels.finalizeWithdraw(id);
    }

    function test_deposit_cancels_a_pending_withdrawal() public {
        (bytes32 id,) = open(10e6);
        vm.prank(payer);
        channels.initiateWithdraw(id);
        open(1e6);
        (,,,,, uint40 readyAt,,) = channels.getChannel(id);
        assertEq(uint256(readyAt), 0, "cancelled");
    }

    function testFuzz_receiver_never_claims_more_than_the_voucher_or_deposit(
        uint128 deposit,
        uint128 voucher,
        uint128 total
    ) public {
        deposit = uint128(bound(deposit, 1, 1_000e6));
        voucher = uint128(bound(voucher, 0, type(uint128).max));
        (bytes32 id,) = open(deposit);
        PaymentChannels.ClaimEntry[] memory claims = entry(channels, SESSION_KEY, id, voucher, total);
        vm.prank(receiver);
        if (total > voucher) {
            vm.expectRevert(
                abi.encodeWithSelector(PaymentChannels.ClaimAboveVoucher.selector, id, total, voucher)
            );
            channels.claim(claims);
            return;
        }
        uint256 paid = channels.claim(claims);
        uint256 expected = total < deposit ? total : deposit;
        assertEq(paid, expected, "paid");
        assertEq(token.balanceOf(address(channels)), deposit - expected, "held");
    }
}
