// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {X402Test} from "./utils/X402Test.sol";
import {X402BatchSettlement} from "../src/X402BatchSettlement.sol";

/// @dev Drives three channels (two with a payer authorizer, one where the payer signs) with
/// random deposits, vouchers, claims (honest, greedy and forged), relayed claim batches,
/// settlements, refunds, withdrawals and time, keeping ghost books of every token that moved.
contract BatchSettlementHandler is X402Test {
    address public constant RECEIVER = address(0x7eCE);
    uint256 internal constant RECEIVER_AUTH_KEY = 0xBEEF;
    uint256 internal constant FORGER_KEY = 0xE11;

    X402BatchSettlement.ChannelConfig[] internal configs;
    uint256[] internal voucherKeys;
    bytes32[] public ids;
    /// The highest voucher amount each channel's payer side signed.
    mapping(bytes32 => uint128) public highestVoucher;

    uint256 public ghostDeposited;
    uint256 public ghostSettled;
    uint256 public ghostRefunded;
    uint256 public ghostWithdrawn;
    /// Finalizations after the delay that reverted or paid other than min(pending, unclaimed).
    uint256 public exitFailures;
    /// Claims recorded above the highest signed voucher or the balance.
    uint256 public overClaims;

    constructor() {
        address receiverAuth = vm.addr(RECEIVER_AUTH_KEY);
        for (uint256 i = 0; i < 3; i++) {
            uint256 payerKey = 0x2000 + i;
            uint256 authKey = 0x3000 + i;
            address payerAuth = i == 2 ? address(0) : vm.addr(authKey);
            X402BatchSettlement.ChannelConfig memory c =
                channelConfig(vm.addr(payerKey), payerAuth, RECEIVER, receiverAuth);
            c.withdrawDelay = uint40(15 minutes + i * 1 hours);
            configs.push(c);
            voucherKeys.push(i == 2 ? payerKey : authKey);
            ids.push(channelIdOf(c));
        }
    }

    function channelCount() external view returns (uint256) {
        return ids.length;
    }

    function configOf(uint256 which) external view returns (X402BatchSettlement.ChannelConfig memory) {
        return configs[which];
    }

    function deposit(uint256 which, uint128 amount) external {
        which %= ids.length;
        amount = uint128(bound(amount, 1, 100_000e6));
        depositByErc3009(configs[which], 0x2000 + which, amount);
        ghostDeposited += amount;
    }

    function signVoucher(uint256 which, uint128 increase) external {
        which %= ids.length;
        highestVoucher[ids[which]] += uint128(bound(increase, 1, 50_000e6));
    }

    /// The receiver side claims with the highest voucher it holds, or tries more than it was
    /// given (a voucher it forged, or a total above the voucher).
    function claim(uint256 which, uint128 total, uint8 mode, bool relayed) external {
        which %= ids.length;
        bytes32 id = ids[which];
        uint128 max = highestVoucher[id];
        uint256 key = voucherKeys[which];
        mode %= 3;
        if (mode == 1) {
            // A voucher above the highest one, signed with a key that is not the payer side's.
            max = max + 1 + uint128(bound(total, 0, 1e12));
            key = FORGER_KEY;
        }
        total = uint128(bound(total, 0, mode == 2 ? uint256(max) + 1e12 : max));
        X402BatchSettlement.VoucherClaim[] memory rows = one(voucherClaim(configs[which], key, max, total));
        if (relayed) {
            bytes memory sig = sign(RECEIVER_AUTH_KEY, claimBatchDigestOf(rows));
            try settlement.claimWithSignature(rows, sig) {} catch {}
        } else {
            vm.prank(RECEIVER);
            try settlement.claim(rows) {} catch {}
        }
        (uint128 balance, uint128 claimed) = settlement.channels(id);
        if (claimed > highestVoucher[id] || claimed > balance) overClaims++;
    }

    function settle() external {
        uint256 before = token.balanceOf(RECEIVER);
        settlement.settle(RECEIVER, TOKEN);
        ghostSettled += token.balanceOf(RECEIVER) - before;
    }

    function refund(uint256 which, uint128 amount, bool relayed) external {
        which %= ids.length;
        X402BatchSettlement.ChannelConfig memory c = configs[which];
        amount = uint128(bound(amount, 1, 200_000e6));
        uint256 before = token.balanceOf(c.payer);
        if (relayed) {
            uint256 nonce = settlement.refundNonce(ids[which]);
            bytes memory sig = sign(RECEIVER_AUTH_KEY, refundDigestOf(ids[which], nonce, amount));
            settlement.refundWithSignature(c, amount, nonce, sig);
        } else {
            vm.prank(RECEIVER);
            settlement.refund(c, amount);
        }
        ghostRefunded += token.balanceOf(c.payer) - before;
    }

    function initiateWithdraw(uint256 which, uint128 amount) external {
        which %= ids.length;
        (uint128 balance, uint128 claimed) = settlement.channels(ids[which]);
        if (balance == claimed) return;
        amount = uint128(bound(amount, 1, balance - claimed));
        vm.prank(configs[which].payer);
        try settlement.initiateWithdraw(configs[which], amount) {} catch {}
    }

    /// Once the delay has passed the payer always gets min(pending, unclaimed), whatever
    /// happened in between.
    function finalizeWithdraw(uint256 which) external {
        which %= ids.length;
        X402BatchSettlement.ChannelConfig memory c = configs[which];
        (uint128 pending, uint40 initiatedAt) = settlement.pendingWithdrawals(ids[which]);
        if (initiatedAt == 0 || block.timestamp < uint256(initiatedAt) + c.withdrawDelay) return;
        (uint128 balance, uint128 claimed) = settlement.channels(ids[which]);
        uint256 expected = pending < balance - claimed ? pending : balance - claimed;
        uint256 before = token.balanceOf(c.payer);
        vm.prank(c.payer);
        try settlement.finalizeWithdraw(c) {
            uint256 got = token.balanceOf(c.payer) - before;
            if (got != expected) exitFailures++;
            ghostWithdrawn += got;
        } catch {
            exitFailures++;
        }
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 0, 2 hours));
    }
}

contract X402BatchSettlementInvariantTest is X402Test {
    BatchSettlementHandler internal handler;

    function setUp() public {
        installX402();
        handler = new BatchSettlementHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// The contract holds exactly the channels' balances less what was settled, and every token
    /// that came in went out to a receiver or a payer or is still held.
    function invariant_funds_are_conserved() public view {
        uint256 balances;
        uint256 claimed;
        for (uint256 i = 0; i < handler.channelCount(); i++) {
            (uint128 balance, uint128 total) = settlement.channels(handler.ids(i));
            assertLe(total, balance, "claimed <= balance");
            balances += balance;
            claimed += total;
        }
        (uint128 credited, uint128 settled) = settlement.receivers(handler.RECEIVER(), TOKEN);
        assertEq(credited, claimed, "the receiver is credited every claim");
        assertLe(settled, credited, "settled <= credited");
        uint256 held = token.balanceOf(BATCH_SETTLEMENT);
        assertEq(held, balances - settled, "held == balances - settled");
        assertEq(
            handler.ghostDeposited(),
            handler.ghostSettled() + handler.ghostRefunded() + handler.ghostWithdrawn() + held,
            "deposited == settled + refunded + withdrawn + held"
        );
        assertEq(handler.ghostSettled(), settled, "settled as recorded");
    }

    /// Nothing is ever claimed above the highest voucher the payer side signed.
    function invariant_claims_never_exceed_the_highest_voucher() public view {
        assertEq(handler.overClaims(), 0, "a claim went above the highest voucher or the balance");
        for (uint256 i = 0; i < handler.channelCount(); i++) {
            bytes32 id = handler.ids(i);
            (, uint128 claimed) = settlement.channels(id);
            assertLe(claimed, handler.highestVoucher(id), "claimed <= highest voucher");
        }
    }

    /// A payer who waits out the delay always gets the unclaimed rest it asked for.
    function invariant_the_payer_can_always_exit() public view {
        assertEq(handler.exitFailures(), 0, "a finalization after the delay failed or paid short");
    }
}
