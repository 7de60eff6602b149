// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ChannelSigning} from "./PaymentChannels.t.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";
import {PaymentChannels} from "../src/PaymentChannels.sol";

/// @dev Drives a set of channels with random deposits, vouchers, claims (honest and greedy),
/// withdrawals and time, keeping ghost books of what was signed and what each payer is owed.
contract ChannelsHandler is ChannelSigning {
    DevStablecoin public immutable token;
    PaymentChannels public immutable channels;
    address public constant RECEIVER = address(0xB0B);

    uint256[] internal keys;
    bytes32[] public ids;
    /// Highest voucher amount each channel's payer signed.
    mapping(bytes32 => uint128) public highestVoucher;
    /// Whether a withdrawal ever paid a payer less than deposited minus claimed.
    uint256 public shortWithdrawals;
    uint256 public ghostDeposited;
    uint256 public ghostClaimed;
    uint256 public ghostWithdrawn;

    constructor(DevStablecoin token_, PaymentChannels channels_) {
        token = token_;
        channels = channels_;
        for (uint256 i = 1; i <= 3; i++) {
            uint256 key = 0x2000 + i;
            keys.push(key);
            address payer = vm.addr(key);
            token.faucet(payer, 1_000_000e6);
            vm.prank(payer);
            token.approve(address(channels_), type(uint256).max);
            ids.push(channels_.channelId(config(payer, address(0), RECEIVER, address(token_), bytes32(i))));
        }
    }

    function channelCount() external view returns (uint256) {
        return ids.length;
    }

    function deposit(uint256 which, uint128 amount) external {
        which %= keys.length;
        amount = uint128(bound(amount, 1, 10_000e6));
        address payer = vm.addr(keys[which]);
        vm.prank(payer);
        channels.deposit(config(payer, address(0), RECEIVER, address(token), bytes32(which + 1)), amount);
        ghostDeposited += amount;
    }

    function sign(uint256 which, uint128 increase) external {
        which %= keys.length;
        bytes32 id = ids[which];
        highestVoucher[id] += uint128(bound(increase, 0, 5_000e6));
    }

    /// The receiver claims with the highest voucher it holds, or tries one it never got.
    function claim(uint256 which, uint128 total, bool greedy) external {
        which %= keys.length;
        bytes32 id = ids[which];
        (address payer,,,,,,,) = channels.getChannel(id);
        if (payer == address(0)) return;
        uint128 max = highestVoucher[id];
        if (greedy) max = max + 1 + uint128(bound(total, 0, 1e9));
        total = uint128(bound(total, 0, max));
        // A greedy receiver forges the payer's signature with its own key.
        uint256 key = greedy ? 0xE11 : keys[which];
        PaymentChannels.ClaimEntry[] memory claims = entry(channels, key, id, max, total);
        vm.prank(RECEIVER);
        try channels.claim(claims) returns (uint256 paid) {
            ghostClaimed += paid;
        } catch {}
    }

    function initiateWithdraw(uint256 which) external {
        which %= keys.length;
        bytes32 id = ids[which];
        (address payer,,,,,,,) = channels.getChannel(id);
        if (payer == address(0)) return;
        vm.prank(payer);
        channels.initiateWithdraw(id);
    }

    function finalizeWithdraw(uint256 which) external {
        which %= keys.length;
        bytes32 id = ids[which];
        (address payer,,,,, uint40 readyAt, uint128 deposited, uint128 claimed) = channels.getChannel(id);
        if (payer == address(0) || readyAt == 0 || block.timestamp < readyAt) return;
        uint256 before = token.balanceOf(payer);
        channels.finalizeWithdraw(id);
        uint256 got = token.balanceOf(payer) - before;
        if (got != deposited - claimed) shortWithdrawals++;
        ghostWithdrawn += got;
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 2 hours));
    }
}

contract PaymentChannelsInvariantTest is ChannelSigning {
    DevStablecoin internal token;
    PaymentChannels internal channels;
    ChannelsHandler internal handler;

    function setUp() public {
        vm.chainId(31337);
        vm.warp(1_700_000_000);
        token = new DevStablecoin();
        channels = new PaymentChannels();
        handler = new ChannelsHandler(token, channels);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// Funds are conserved: what the contract holds is exactly what is deposited and not yet
    /// claimed or withdrawn, channel by channel.
    function invariant_funds_are_conserved() public view {
        uint256 owed;
        for (uint256 i = 0; i < handler.channelCount(); i++) {
            (,,,,,, uint128 deposited, uint128 claimed) = channels.getChannel(handler.ids(i));
            assertLe(claimed, deposited, "claimed <= deposited");
            owed += deposited - claimed;
        }
        assertEq(token.balanceOf(address(channels)), owed, "held == owed");
        assertEq(
            handler.ghostDeposited(),
            handler.ghostClaimed() + handler.ghostWithdrawn() + owed,
            "deposited == claimed + withdrawn + held"
        );
    }

    /// The receiver never claims more than the highest voucher the payer signed.
    function invariant_claims_never_exceed_the_highest_voucher() public view {
        for (uint256 i = 0; i < handler.channelCount(); i++) {
            bytes32 id = handler.ids(i);
            (,,,,,,, uint128 claimed) = channels.getChannel(id);
            assertLe(claimed, handler.highestVoucher(id), "claimed <= highest voucher");
        }
    }

    /// A payer who waits out the delay always recovers everything not claimed.
    function invariant_payer_recovers_the_unclaimed_rest() public view {
        assertEq(handler.shortWithdrawals(), 0, "a withdrawal paid less than the unclaimed rest");
    }
}
