// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {StablecoinSigning} from "./DevStablecoin.t.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";

/// @dev Drives the token with random faucet mints, transfers, authorized transfers and replays
/// of spent authorizations among a fixed set of actors, keeping ghost accounts of what happened.
contract StablecoinHandler is StablecoinSigning {
    DevStablecoin public immutable token;
    uint256[] internal keys;
    address[] public actors;

    uint256 public ghostMinted;
    uint256 public replaysAccepted;
    uint256 public authorizationsUsed;

    struct Spent {
        uint256 key;
        address to;
        uint256 value;
        uint256 validBefore;
        bytes32 nonce;
    }

    Spent[] internal spent;

    constructor(DevStablecoin token_) {
        token = token_;
        for (uint256 i = 1; i <= 4; i++) {
            keys.push(0x1000 + i);
            actors.push(vm.addr(0x1000 + i));
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function spentCount() external view returns (uint256) {
        return spent.length;
    }

    function spentAt(uint256 i) external view returns (address authorizer, bytes32 nonce) {
        return (vm.addr(spent[i].key), spent[i].nonce);
    }

    function faucet(uint256 actor, uint256 amount) external {
        amount = bound(amount, 0, token.FAUCET_LIMIT());
        token.faucet(actors[actor % actors.length], amount);
        ghostMinted += amount;
    }

    function transfer(uint256 from, uint256 to, uint256 amount) external {
        address sender = actors[from % actors.length];
        amount = bound(amount, 0, token.balanceOf(sender));
        vm.prank(sender);
        token.transfer(actors[to % actors.length], amount);
    }

    function transferWithAuthorization(uint256 from, uint256 to, uint256 amount, bytes32 nonce) external {
        uint256 key = keys[from % keys.length];
        address payer = vm.addr(key);
        if (token.authorizationState(payer, nonce)) return;
        amount = bound(amount, 0, token.balanceOf(payer));
        address payee = actors[to % actors.length];
        uint256 validBefore = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(token, key, payee, amount, 0, validBefore, nonce);
        token.transferWithAuthorization(payer, payee, amount, 0, validBefore, nonce, v, r, s);
        spent.push(Spent(key, payee, amount, validBefore, nonce));
        authorizationsUsed++;
    }

    /// Re-submits an authorization that was already used; it must never go through.
    function replay(uint256 index) external {
        if (spent.length == 0) return;
        Spent memory s_ = spent[index % spent.length];
        (uint8 v, bytes32 r, bytes32 s) =
            signTransfer(token, s_.key, s_.to, s_.value, 0, s_.validBefore, s_.nonce);
        try token.transferWithAuthorization(
            vm.addr(s_.key), s_.to, s_.value, 0, s_.validBefore, s_.nonce, v, r, s
        ) {
            replaysAccepted++;
        } catch {}
    }
}

contract DevStablecoinInvariantTest is StablecoinSigning {
    DevStablecoin internal token;
    StablecoinHandler internal handler;

    function setUp() public {
        vm.chainId(31337);
        vm.warp(1_700_000_000);
        token = new DevStablecoin();
        handler = new StablecoinHandler(token);
    }

    /// forge fuzzes only the contracts listed here.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_total_supply_equals_sum_of_balances() public view {
        uint256 sum;
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            sum += token.balanceOf(handler.actors(i));
        }
        assertEq(token.totalSupply(), sum, "supply == sum of balances");
        assertEq(token.totalSupply(), handler.ghostMinted(), "supply == minted");
    }

    function invariant_authorization_nonce_is_used_once() public view {
        assertEq(handler.replaysAccepted(), 0, "a spent authorization was accepted again");
        assertEq(handler.spentCount(), handler.authorizationsUsed(), "ghost ledger");
        for (uint256 i = 0; i < handler.spentCount(); i++) {
            (address authorizer, bytes32 nonce) = handler.spentAt(i);
            assertTrue(token.authorizationState(authorizer, nonce), "used nonce is marked");
        }
    }
}
