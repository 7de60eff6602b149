// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {WalletProofs} from "./IdentityRegistry.t.sol";
import {ForecastBoard} from "../src/ForecastBoard.sol";
import {ChainFacts} from "../src/ChainFacts.sol";
import {ConditionalTokens} from "../src/ConditionalTokens.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";
import {LmsrMarketMaker} from "../src/LmsrMarketMaker.sol";

/// @notice `vm.roll`, which the shared cheatcode interface leaves out.
interface RollForecasts {
    function roll(uint256 blockNumber) external;
}

contract ForecastBoardTest is WalletProofs {
    RollForecasts internal constant chain =
        RollForecasts(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes32 internal constant Q = keccak256("will it rain?");
    bytes32 internal constant R1 = keccak256("record 1");
    bytes32 internal constant R2 = keccak256("record 2");

    ConditionalTokens internal ctf;
    DevStablecoin internal usd;
    LmsrMarketMaker internal maker;
    IdentityRegistry internal identity;
    ChainFacts internal facts;
    ForecastBoard internal board;

    address internal creator = address(0xC4EA);
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);
    address internal operator = address(0x0BE4);
    address internal stranger = address(0x57A4);

    /// The private key of the wallet alice gives her agent in the wallet tests.
    uint256 internal constant WALLET_KEY = 0xC0FFEE;

    uint256 internal aliceAgent;
    uint256 internal bobAgent;
    /// A binary market whose condition's oracle is this test.
    uint256 internal market;

    function setUp() public {
        vm.chainId(31337);
        vm.warp(1_700_000_000);
        chain.roll(100);
        ctf = new ConditionalTokens();
        usd = new DevStablecoin();
        maker = new LmsrMarketMaker(ctf, IERC20Metadata(address(usd)));
        identity = new IdentityRegistry();
        facts = new ChainFacts(ctf);
        board = new ForecastBoard(identity, maker, ctf);
        usd.faucet(creator, 1_000_000e6);
        vm.prank(creator);
        usd.approve(address(maker), type(uint256).max);
        vm.prank(alice);
        aliceAgent = identity.register("ipfs://alice");
        vm.prank(bob);
        bobAgent = identity.register("ipfs://bob");
        market = createMarket(prepare(Q, 2));
    }

    // ---- helpers ----

    /// Prepares a condition whose oracle is this test contract.
    function prepare(bytes32 questionId, uint256 n) internal returns (bytes32 conditionId) {
        ctf.prepareCondition(address(this), questionId, n);
        conditionId = ctf.getConditionId(address(this), questionId, n);
    }

    function createMarket(bytes32 conditionId) internal returns (uint256) {
        vm.prank(creator);
        return maker.createMarket(conditionId, 100e18, type(uint256).max);
    }

    /// Alice sets her agent's wallet to `vm.addr(WALLET_KEY)`, with the wallet's EIP-712 proof.
    function setAliceWallet() internal returns (address wallet) {
        wallet = vm.addr(WALLET_KEY);
        uint256 deadline = block.timestamp + 60;
        bytes memory proof = walletProof(identity, WALLET_KEY, aliceAgent, deadline);
        vm.prank(alice);
        identity.setAgentWallet(aliceAgent, wallet, deadline, proof);
        assertEq(identity.getAgentWallet(aliceAgent), wallet, "wallet set");
    }

    /// Resolves the test's binary question `questionId` (outcome 0 wins when `yes`).
    function resolve(bytes32 questionId, bool yes) internal {
        uint256[] memory payouts = new uint256[](2);
        payouts[yes ? 0 : 1] = 1;
        ctf.reportPayouts(questionId, payouts);
    }

    // ---- publishing ----

    function test_publish_stores_and_emits() public {
        assertTrue(!board.hasForecast(market, aliceAgent), "none yet");
        vm.expectEmit(true, true, true, true, address(board));
        emit ForecastBoard.ForecastPublished(market, aliceAgent, alice, 620_000, R1);
        vm.prank(alice);
        board.publish(market, aliceAgent, 620_000, R1);
        ForecastBoard.Forecast memory f = board.forecastOf(market, aliceAgent);
        assertEq(f.probabilityPpm, 620_000, "ppm");
        assertEq(f.blockNumber, 100, "block");
        assertEq(f.timestamp, 1_700_000_000, "time");
        assertEq(f.forecaster, alice, "forecaster");
        assertEq(f.reasoning, R1, "reasoning");
        assertTrue(board.hasForecast(market, aliceAgent), "has it");
        assertEq(board.forecastCount(market), 1, "one");
        uint256[] memory list = board.forecastersOf(market);
        assertEq(list.length, 1, "one forecaster");
        assertEq(list[0], aliceAgent, "alice's agent");
    }

    function test_getters_and_an_empty_forecast() public view {
        assertEq(address(board.identity()), address(identity), "identity");
        assertEq(address(board.maker()), address(maker), "maker");
        assertEq(address(board.ctf()), address(ctf), "ctf");
        ForecastBoard.Forecast memory f = board.forecastOf(market, bobAgent);
        assertEq(f.probabilityPpm, 0, "ppm");
        assertEq(f.blockNumber, 0, "block");
        assertEq(f.timestamp, 0, "time");
        assertEq(f.forecaster, address(0), "forecaster");
        assertEq(f.reasoning, bytes32(0), "reasoning");
        assertTrue(!board.hasForecast(market, bobAgent), "none");
        assertEq(board.forecastCount(market), 0, "count");
        assertEq(board.forecastersOf(market).length, 0, "no forecasters");
    }

    function test_two_agents_on_one_market_listed_in_order() public {
        vm.prank(bob);
        board.publish(market, bobAgent, 0, R2);
        vm.warp(1_700_000_060);
        chain.roll(105);
        vm.prank(alice);
        board.publish(market, aliceAgent, 1_000_000, R1);
        uint256[] memory list = board.forecastersOf(market);
        assertEq(list.length, 2, "two");
        assertEq(list[0], bobAgent, "bob first");
        assertEq(list[1], aliceAgent, "alice second");
        assertEq(board.forecastCount(market), 2, "count");
        ForecastBoard.Forecast memory b = board.forecastOf(market, bobAgent);
        ForecastBoard.Forecast memory a = board.forecastOf(market, aliceAgent);
        assertEq(b.probabilityPpm, 0, "bob: certain no");
        assertEq(b.blockNumber, 100, "bob's block");
        assertEq(a.probabilityPpm, 1_000_000, "alice: certain yes");
        assertEq(a.blockNumber, 105, "alice's block");
        assertEq(a.timestamp, 1_700_000_060, "alice's time");
        assertEq(a.forecaster, alice, "alice");
        assertEq(b.forecaster, bob, "bob");
    }

    function test_forecasts_of_different_markets_are_separate() public {
        uint256 other = createMarket(prepare(keccak256("other"), 2));
        vm.startPrank(alice);
        board.publish(market, aliceAgent, 300_000, R1);
        board.publish(other, aliceAgent, 700_000, R2);
        vm.stopPrank();
        assertEq(board.forecastOf(market, aliceAgent).probabilityPpm, 300_000, "first market");
        assertEq(board.forecastOf(other, aliceAgent).probabilityPpm, 700_000, "second market");
        assertEq(board.forecastCount(other), 1, "one each");
    }

    // ---- who may publish ----

    function test_an_approved_operator_may_publish_and_a_stranger_may_not() public {
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, operator, aliceAgent));
        vm.prank(operator);
        board.publish(market, aliceAgent, 500_000, R1);
        vm.prank(alice);
        identity.approve(operator, aliceAgent);
        vm.prank(operator);
        board.publish(market, aliceAgent, 500_000, R1);
        assertEq(board.forecastOf(market, aliceAgent).forecaster, operator, "published by the operator");
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, stranger, bobAgent));
        vm.prank(stranger);
        board.publish(market, bobAgent, 500_000, R2);
        // Alice owns her agent, not bob's.
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, alice, bobAgent));
        vm.prank(alice);
        board.publish(market, bobAgent, 500_000, R2);
    }

    function test_an_operator_for_all_may_publish() public {
        vm.prank(bob);
        identity.setApprovalForAll(operator, true);
        vm.prank(operator);
        board.publish(market, bobAgent, 250_000, R2);
        assertTrue(board.hasForecast(market, bobAgent), "published");
    }

    function test_a_nonexistent_agent_is_not_an_agent() public {
        uint256 ghost = identity.totalAgents();
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, alice, ghost));
        vm.prank(alice);
        board.publish(market, ghost, 500_000, R1);
    }

    function test_the_agent_wallet_may_publish() public {
        address wallet = setAliceWallet();
        assertTrue(!identity.isAuthorizedOrOwner(wallet, aliceAgent), "the wallet is no operator");
        vm.expectEmit(true, true, true, true, address(board));
        emit ForecastBoard.ForecastPublished(market, aliceAgent, wallet, 450_000, R1);
        vm.prank(wallet);
        board.publish(market, aliceAgent, 450_000, R1);
        ForecastBoard.Forecast memory f = board.forecastOf(market, aliceAgent);
        assertEq(f.forecaster, wallet, "published by the wallet");
        assertEq(f.probabilityPpm, 450_000, "ppm");
        assertEq(f.reasoning, R1, "reasoning");
        // The wallet speaks for alice's agent only, not for bob's.
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, wallet, bobAgent));
        vm.prank(wallet);
        board.publish(market, bobAgent, 450_000, R1);
    }

    function test_an_unset_wallet_may_no_longer_publish() public {
        address wallet = setAliceWallet();
        vm.prank(alice);
        identity.unsetAgentWallet(aliceAgent);
        assertEq(identity.getAgentWallet(aliceAgent), address(0), "unset");
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, wallet, aliceAgent));
        vm.prank(wallet);
        board.publish(market, aliceAgent, 450_000, R1);
        // The owner still may.
        vm.prank(alice);
        board.publish(market, aliceAgent, 450_000, R1);
        assertEq(board.forecastOf(market, aliceAgent).forecaster, alice, "published by the owner");
    }

    function test_a_transfer_clears_the_wallet_s_right_to_publish() public {
        address wallet = setAliceWallet();
        vm.prank(alice);
        identity.transferFrom(alice, bob, aliceAgent);
        assertEq(identity.getAgentWallet(aliceAgent), address(0), "cleared on transfer");
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, wallet, aliceAgent));
        vm.prank(wallet);
        board.publish(market, aliceAgent, 450_000, R1);
        // Nor the former owner, who was the wallet at registration.
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, alice, aliceAgent));
        vm.prank(alice);
        board.publish(market, aliceAgent, 450_000, R1);
        vm.prank(bob);
        board.publish(market, aliceAgent, 450_000, R1);
        assertEq(board.forecastOf(market, aliceAgent).forecaster, bob, "published by the new owner");
    }

    function test_a_stranger_is_refused_when_the_agent_has_no_wallet() public {
        // Registration makes the registrant the wallet; unset it so the wallet is zero.
        vm.prank(bob);
        identity.unsetAgentWallet(bobAgent);
        assertEq(identity.getAgentWallet(bobAgent), address(0), "no wallet");
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotAgent.selector, stranger, bobAgent));
        vm.prank(stranger);
        board.publish(market, bobAgent, 500_000, R2);
        assertTrue(!board.hasForecast(market, bobAgent), "nothing published");
        vm.prank(bob);
        board.publish(market, bobAgent, 500_000, R2);
        assertEq(board.forecastOf(market, bobAgent).forecaster, bob, "the owner still may");
    }

    // ---- market checks ----

    function test_an_unknown_market_reverts() public {
        uint256 missing = maker.marketCount();
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.UnknownMarket.selector, missing));
        vm.prank(alice);
        board.publish(missing, aliceAgent, 500_000, R1);
    }

    function test_a_market_of_three_outcomes_is_not_binary() public {
        uint256 three = createMarket(prepare(keccak256("three"), 3));
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.NotBinary.selector, three, 3));
        vm.prank(alice);
        board.publish(three, aliceAgent, 500_000, R1);
    }

    function test_a_resolved_market_takes_no_forecasts() public {
        vm.prank(alice);
        board.publish(market, aliceAgent, 800_000, R1);
        resolve(Q, true);
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.AlreadyResolved.selector, market));
        vm.prank(bob);
        board.publish(market, bobAgent, 900_000, R2);
        // What was published before stays readable for scoring.
        assertEq(board.forecastOf(market, aliceAgent).probabilityPpm, 800_000, "kept");
    }

    function test_a_chain_facts_market_takes_forecasts_until_settled() public {
        uint64 at = uint64(block.number + 10);
        (bytes32 q, bytes32 condition) =
            facts.ask(IERC20(address(usd)), alice, 5e6, at, "Will alice hold $5?");
        uint256 m = createMarket(condition);
        vm.prank(alice);
        board.publish(m, aliceAgent, 900_000, R1);
        chain.roll(at);
        // After the question's block but before settlement the board still accepts: a scorer
        // should not count this one (published at or after `atBlock`).
        vm.prank(bob);
        board.publish(m, bobAgent, 100_000, R2);
        assertEq(board.forecastOf(m, bobAgent).blockNumber, at, "late: at the question's block");
        facts.settle(q);
        vm.prank(operator);
        uint256 carolAgent = identity.register("ipfs://carol");
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.AlreadyResolved.selector, m));
        vm.prank(operator);
        board.publish(m, carolAgent, 100_000, R2);
    }

    // ---- the forecast itself ----

    function test_a_probability_above_one_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.BadProbability.selector, uint32(1_000_001)));
        vm.prank(alice);
        board.publish(market, aliceAgent, 1_000_001, R1);
    }

    function test_a_forecast_is_never_overwritten() public {
        vm.prank(alice);
        board.publish(market, aliceAgent, 400_000, R1);
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.AlreadyForecast.selector, market, aliceAgent));
        vm.prank(alice);
        board.publish(market, aliceAgent, 600_000, R2);
        // Not through an operator either.
        vm.prank(alice);
        identity.approve(operator, aliceAgent);
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.AlreadyForecast.selector, market, aliceAgent));
        vm.prank(operator);
        board.publish(market, aliceAgent, 600_000, R2);
        ForecastBoard.Forecast memory f = board.forecastOf(market, aliceAgent);
        assertEq(f.probabilityPpm, 400_000, "first forecast kept");
        assertEq(f.reasoning, R1, "first reasoning kept");
        assertEq(board.forecastCount(market), 1, "listed once");
    }

    function test_the_constructor_refuses_another_ctf() public {
        ConditionalTokens other = new ConditionalTokens();
        vm.expectRevert(
            abi.encodeWithSelector(
                ForecastBoard.WrongConditionalTokens.selector, address(other), address(ctf)
            )
        );
        new ForecastBoard(identity, maker, other);
    }

    function testFuzz_probability_range(uint32 seed, bytes32 reasoning) public {
        uint32 bad = uint32(bound(seed, 1_000_001, type(uint32).max));
        vm.expectRevert(abi.encodeWithSelector(ForecastBoard.BadProbability.selector, bad));
        vm.prank(alice);
        board.publish(market, aliceAgent, bad, reasoning);
        uint32 ok = uint32(bound(seed, 0, 1_000_000));
        vm.prank(alice);
        board.publish(market, aliceAgent, ok, reasoning);
        ForecastBoard.Forecast memory f = board.forecastOf(market, aliceAgent);
        assertEq(f.probabilityPpm, ok, "stored exactly");
        assertEq(f.reasoning, reasoning, "reasoning");
    }
}
