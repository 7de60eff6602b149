// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {ChainFacts} from "../src/ChainFacts.sol";
import {ConditionalTokens} from "../src/ConditionalTokens.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice `vm.roll`, which the shared cheatcode interface leaves out.
interface Roll {
    function roll(uint256 blockNumber) external;
}

contract ChainFactsTest is AgoraTest {
    Roll internal constant chain = Roll(address(uint160(uint256(keccak256("hevm cheat code")))));
    ConditionalTokens internal ctf;
    ChainFacts internal facts;
    DevStablecoin internal usd;
    address internal alice = address(0xA11CE);

    function setUp() public {
        vm.chainId(31337);
        ctf = new ConditionalTokens();
        facts = new ChainFacts(ctf);
        usd = new DevStablecoin();
    }

    function test_a_fact_settles_from_the_chain_once_its_block_comes() public {
        uint64 at = uint64(block.number + 10);
        (bytes32 q, bytes32 condition) =
            facts.ask(IERC20(address(usd)), alice, 5e6, at, "Will alice hold $5?");
        assertEq(ctf.getOutcomeSlotCount(condition), 2, "binary");
        vm.expectRevert(abi.encodeWithSelector(ChainFacts.TooEarly.selector, q, at, block.number));
        facts.settle(q);
        usd.faucet(alice, 7e6);
        chain.roll(at);
        facts.settle(q);
        assertEq(ctf.payoutNumerators(condition, 0), 1, "yes");
        assertEq(ctf.payoutNumerators(condition, 1), 0, "not no");
        assertTrue(facts.fact(q).yes, "answered yes");
        vm.expectRevert(abi.encodeWithSelector(ChainFacts.AlreadySettled.selector, q));
        facts.settle(q);
        vm.expectRevert(abi.encodeWithSelector(ChainFacts.AlreadyAsked.selector, q));
        facts.ask(IERC20(address(usd)), alice, 5e6, at, "again");
    }

    function test_a_balance_below_the_threshold_answers_no() public {
        uint64 at = uint64(block.number + 1);
        (bytes32 q, bytes32 condition) =
            facts.ask(IERC20(address(usd)), alice, 5e6, at, "Will alice hold $5?");
        usd.faucet(alice, 4e6);
        chain.roll(at);
        facts.settle(q);
        assertEq(ctf.payoutNumerators(condition, 1), 1, "no");
        vm.expectRevert(abi.encodeWithSelector(ChainFacts.NotAsked.selector, bytes32(uint256(1))));
        facts.settle(bytes32(uint256(1)));
    }
}
