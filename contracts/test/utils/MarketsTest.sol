// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {AgoraTest} from "./AgoraTest.sol";
import {TestArbitrator} from "./FundingTest.sol";
import {DevStablecoin} from "../../src/DevStablecoin.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {ValidatorCouncil} from "../../src/ValidatorCouncil.sol";
import {ConditionalTokens} from "../../src/ConditionalTokens.sol";
import {LmsrMarketMaker} from "../../src/LmsrMarketMaker.sol";
import {OptimisticResolver} from "../../src/OptimisticResolver.sol";
import {DecisionMarket} from "../../src/DecisionMarket.sol";
import {WadMath} from "../../src/WadMath.sol";
import {Lmsr} from "../../src/Lmsr.sol";

/// @notice The cheatcodes the market tests use beyond `AgoraTest`'s.
interface VmMarkets {
    function roll(uint256 newHeight) external;
    function toString(uint256 value) external pure returns (string memory);
}

/// @notice Exposes the internal math libraries as external calls (for reverts and fuzzing).
contract MathHarness {
    function lnWad(int256 x) external pure returns (int256) {
        return WadMath.lnWad(x);
    }

    function expWad(int256 x) external pure returns (int256) {
        return WadMath.expWad(x);
    }

    function cost(int256[] memory q, uint256 b) external pure returns (int256) {
        return Lmsr.cost(q, b);
    }

    function prices(int256[] memory q, uint256 b) external pure returns (uint256[] memory) {
        return Lmsr.prices(q, b);
    }

    function trade(int256[] memory q, int256[] memory deltas, uint256 b, uint256 unit)
        external
        pure
        returns (int256 costWad, int256 amount)
    {
        (costWad, amount,) = Lmsr.trade(q, deltas, b, unit);
    }

    function slack(uint256 b, uint256 n) external pure returns (int256) {
        return Lmsr.slack(b, n);
    }
}

/// @notice The target of a proposal's action: records the calls it gets; `fail` reverts.
contract ActionTarget {
    uint256 public value;
    uint256 public calls;
    address public caller;

    error Refused(uint256 code);

    function record(uint256 v) external {
        value = v;
        calls += 1;
        caller = msg.sender;
    }

    function fail(uint256 code) external pure {
        revert Refused(code);
    }
}

/// @notice The dev token (dUSD, 6 decimals), the ERC-8004 identity registry, a council of five
/// staked validators (each an ERC-8004 agent), the conditional tokens, the LMSR maker, the
/// optimistic resolver deciding disputes through the council (and one through a test-double
/// arbitrator, for rulings the council cannot give), and the decision market; funded actors
/// with every approval, and helpers.
abstract contract MarketsTest is AgoraTest {
    VmMarkets internal constant vmm = VmMarkets(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Printed by forge with -vv (ds-test's log event).
    event log_named_uint(string key, uint256 val);

    uint256 internal constant JURORS = 3;
    uint256 internal constant FEE_PER_JUROR = 1e6;
    uint256 internal constant COST = JURORS * FEE_PER_JUROR;
    uint256 internal constant MIN_STAKE = 100e6;
    uint256 internal constant SLASH = 10e6;
    uint64 internal constant COMMIT_PERIOD = 1 days;
    uint64 internal constant REVEAL_PERIOD = 1 days;
    uint256 internal constant VALIDATORS = 5;

    uint256 internal constant BOND = 50e6;
    uint64 internal constant LIVENESS = 2 days;
    /// Wads per dUSD unit.
    uint256 internal constant UNIT = 1e12;
    uint256 internal constant WAD = 1e18;
    /// The research numbers' tolerance: 1e-9 relative.
    uint256 internal constant REL = 1e9;

    DevStablecoin internal token;
    IdentityRegistry internal identity;
    ValidatorCouncil internal council;
    TestArbitrator internal testArbitrator;
    ConditionalTokens internal ctf;
    LmsrMarketMaker internal maker;
    OptimisticResolver internal resolver;
    /// A resolver whose disputes go to the test double.
    OptimisticResolver internal resolverT;
    DecisionMarket internal dm;
    MathHarness internal math;

    address internal creator = address(0xC4EA);
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);
    address internal carol = address(0xCA401);
    address internal asserter = address(0xA55E);
    address internal disputer = address(0xD15);
    address internal stranger = address(0x57A4);
    address[] internal validators;

    function setUpMarkets() internal {
        vm.warp(1_700_000_000);
        vmm.roll(100);
        identity = new IdentityRegistry();
        token = new DevStablecoin();
        council = new ValidatorCouncil(
            token, identity, JURORS, COMMIT_PERIOD, REVEAL_PERIOD, FEE_PER_JUROR, MIN_STAKE, SLASH
        );
        testArbitrator = new TestArbitrator(token, COST);
        ctf = new ConditionalTokens();
        maker = new LmsrMarketMaker(ctf, IERC20Metadata(address(token)));
        resolver = new OptimisticResolver(ctf, token, council);
        resolverT = new OptimisticResolver(ctf, token, testArbitrator);
        dm = new DecisionMarket(ctf, IERC20Metadata(address(token)));
        math = new MathHarness();
        vm.label(address(council), "council");
        vm.label(address(ctf), "ctf");
        vm.label(address(maker), "maker");
        vm.label(address(resolver), "resolver");
        vm.label(address(dm), "dm");
        for (uint256 i; i < VALIDATORS; ++i) {
            address v = address(uint160(0x7A1000 + i));
            validators.push(v);
            vm.label(v, string.concat("validator", vmm.toString(i)));
            joinCouncil(v, MIN_STAKE);
        }
        address[7] memory actors = [creator, alice, bob, carol, asserter, disputer, stranger];
        for (uint256 i; i < actors.length; ++i) {
            fundActor(actors[i]);
        }
    }

    function fundActor(address who) internal {
        token.faucet(who, 1_000_000e6);
        vm.startPrank(who);
        token.approve(address(ctf), type(uint256).max);
        token.approve(address(maker), type(uint256).max);
        token.approve(address(resolver), type(uint256).max);
        token.approve(address(resolverT), type(uint256).max);
        token.approve(address(dm), type(uint256).max);
        ctf.setApprovalForAll(address(maker), true);
        ctf.setApprovalForAll(address(dm), true);
        vm.stopPrank();
    }

    function joinCouncil(address who, uint256 stake) internal returns (uint256 agentId) {
        vm.prank(who);
        agentId = identity.register("ipfs://validator");
        token.faucet(who, stake);
        vm.prank(who);
        token.approve(address(council), stake);
        vm.prank(who);
        council.join(agentId, stake);
    }

    function bal(address who) internal view returns (uint256) {
        return token.balanceOf(who);
    }

    // ---- conditions and positions ----

    /// Prepares a condition whose oracle is this test contract.
    function prepare(bytes32 questionId, uint256 n) internal returns (bytes32 conditionId) {
        ctf.prepareCondition(address(this), questionId, n);
        conditionId = ctf.getConditionId(address(this), questionId, n);
    }

    function report(bytes32 questionId, uint256[] memory payouts) internal {
        ctf.reportPayouts(questionId, payouts);
    }

    function arr(uint256 a, uint256 b) internal pure returns (uint256[] memory list) {
        list = new uint256[](2);
        list[0] = a;
        list[1] = b;
    }

    function arr(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory list) {
        list = new uint256[](3);
        list[0] = a;
        list[1] = b;
        list[2] = c;
    }

    function iarr(int256 a, int256 b) internal pure returns (int256[] memory list) {
        list = new int256[](2);
        list[0] = a;
        list[1] = b;
    }

    function iarr(int256 a, int256 b, int256 c) internal pure returns (int256[] memory list) {
        list = new int256[](3);
        list[0] = a;
        list[1] = b;
        list[2] = c;
    }

    /// The singletons {0}, {1}, ... of an n-outcome condition.
    function singletons(uint256 n) internal pure returns (uint256[] memory list) {
        list = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            list[i] = uint256(1) << i;
        }
    }

    function positionOf(bytes32 parent, bytes32 conditionId, uint256 indexSet)
        internal
        view
        returns (uint256)
    {
        return ctf.getPositionId(token, ctf.getCollectionId(parent, conditionId, indexSet));
    }

    function held(address who, uint256 positionId) internal view returns (uint256) {
        return ctf.balanceOf(who, positionId);
    }

    // ---- approximate comparisons ----

    /// |left − right| ≤ |right| / relDiv (relDiv = 1e9: 1e-9 relative), or ≤ 1 wei.
    function assertRel(int256 left, int256 right, uint256 relDiv, string memory message) internal pure {
        uint256 diff = left > right ? uint256(left - right) : uint256(right - left);
        uint256 mag = right >= 0 ? uint256(right) : uint256(-right);
        if (diff > mag / relDiv && diff > 1) revert AssertionFailedInt(message, left, right);
    }

    function assertRel(uint256 left, uint256 right, uint256 relDiv, string memory message) internal pure {
        assertRel(int256(left), int256(right), relDiv, message);
    }

    // ---- the council ----

    function saltOf(address who) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", who));
    }

    /// Every council juror with a non-zero `choices[i]` commits, then reveals it; a zero is a
    /// no-show. Leaves the clock at the reveal deadline.
    function councilVote(uint256 disputeId, uint256[] memory choices) internal {
        address[] memory drawn = council.getDispute(disputeId).jurors;
        ValidatorCouncil.Dispute memory d = council.getDispute(disputeId);
        for (uint256 i; i < drawn.length; ++i) {
            if (choices[i] == 0) continue;
            bytes32 c = council.commitmentOf(disputeId, drawn[i], choices[i], saltOf(drawn[i]));
            vm.prank(drawn[i]);
            council.commit(disputeId, c);
        }
        if (block.timestamp < d.commitDeadline) vm.warp(d.commitDeadline);
        for (uint256 i; i < drawn.length; ++i) {
            if (choices[i] == 0) continue;
            vm.prank(drawn[i]);
            council.reveal(
                disputeId, choices[i], saltOf(drawn[i]), keccak256(abi.encode("receipt", drawn[i]))
            );
        }
        vm.warp(d.revealDeadline);
    }

    function votes(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory list) {
        return arr(a, b, c);
    }

    // ---- decision markets ----

    /// A binary metric question asked through the resolver (outcome 0 = YES).
    function askMetric(bytes32 questionId) internal returns (bytes32 conditionId) {
        vm.prank(creator);
        conditionId = resolver.ask(questionId, 2, "Will the metric be met?", BOND, LIVENESS);
    }

    function proposalParams(bytes32 metric, address target, bytes memory data)
        internal
        pure
        returns (DecisionMarket.ProposalParams memory p)
    {
        p = DecisionMarket.ProposalParams({
            metricConditionId: metric,
            target: target,
            data: data,
            tradingPeriod: 3 days,
            twapDelay: 1 days,
            maxStepWad: 0.01e18,
            thresholdBps: 300,
            b: 100e18,
            maxFunding: 100e6
        });
    }

    /// Splits `amount` dUSD of `who` into pass- and fail-collateral of proposal `id`.
    function splitDecision(address who, uint256 id, uint256 amount) internal {
        bytes32 decision = dm.proposal(id).decisionConditionId;
        vm.prank(who);
        ctf.splitPosition(token, bytes32(0), decision, arr(1, 2), amount);
    }
}
