// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {JobsTest, VmJobs} from "./utils/JobsTest.sol";
import {AgenticCommerce} from "../src/AgenticCommerce.sol";
import {JobEvaluator} from "../src/JobEvaluator.sol";
import {ValidatorCouncil} from "../src/ValidatorCouncil.sol";
import {ReputationRegistry} from "../src/ReputationRegistry.sol";
import {IACPHook, IArbitrableV2, IArbitratorV2} from "../src/IArbitration.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @dev A hook that lets every action through until `broken`, then reverts every call.
contract ToggleHook is IACPHook {
    error HookBroken();

    bool public broken;

    function breakIt() external {
        broken = true;
    }

    function beforeAction(uint256, bytes4, bytes calldata) external view {
        if (broken) revert HookBroken();
    }

    function afterAction(uint256, bytes4, bytes calldata) external view {
        if (broken) revert HookBroken();
    }
}

/// @dev A hook that records what it was called with and the gas it was given; burns all of it
/// on `burn`.
contract RecordingHook is IACPHook {
    struct Call {
        bool before;
        uint256 jobId;
        bytes4 selector;
        bytes data;
        uint256 gas;
    }

    Call[] public calls;
    bool public burn;

    function setBurn(bool on) external {
        burn = on;
    }

    function count() external view returns (uint256) {
        return calls.length;
    }

    function get(uint256 i) external view returns (Call memory) {
        return calls[i];
    }

    function beforeAction(uint256 jobId, bytes4 selector, bytes calldata data) external {
        uint256 g = gasleft();
        if (burn) while (true) {}
        calls.push(Call(true, jobId, selector, data, g));
    }

    function afterAction(uint256 jobId, bytes4 selector, bytes calldata data) external {
        calls.push(Call(false, jobId, selector, data, gasleft()));
    }
}

/// @dev An arbitrable that asks the council for disputes and records its rulings.
contract RecordingArbitrable is IArbitrableV2 {
    ValidatorCouncil internal immutable council;
    uint256 public rulings;
    uint256 public lastRuling;

    constructor(ValidatorCouncil council_) {
        council = council_;
    }

    function open() external returns (uint256) {
        uint256 cost = council.arbitrationCost("", council.token());
        council.token().approve(address(council), cost);
        return council.createDispute(2, "", council.token(), cost);
    }

    function rule(uint256, uint256 ruling) external {
        require(msg.sender == address(council), "not the council");
        rulings += 1;
        lastRuling = ruling;
    }
}

/// @dev An arbitrable whose `rule` reverts with as much revert data as 90% of its gas can pay
/// for (copying it all back would then take more gas than its caller has left), or burns all
/// its gas.
contract BombArbitrable is IArbitrableV2 {
    ValidatorCouncil internal immutable council;
    bool public burn;

    constructor(ValidatorCouncil council_, bool burn_) {
        council = council_;
        burn = burn_;
    }

    function open() external returns (uint256) {
        uint256 cost = council.arbitrationCost("", council.token());
        council.token().approve(address(council), cost);
        return council.createDispute(2, "", council.token(), cost);
    }

    function rule(uint256, uint256) external view {
        if (burn) while (true) {}
        uint256 budget = gasleft() * 9 / 10;
        uint256 words = 1;
        while (3 * (2 * words) + (2 * words) * (2 * words) / 512 < budget) {
            words *= 2;
        }
        assembly ("memory-safe") {
            revert(0, mul(words, 32))
        }
    }
}

contract JobsUnitTest is JobsTest {
    function setUp() public {
        setUpJobs();
    }

    /// Every balance the jobs can move, in one list.
    function parties() internal view returns (address[] memory list) {
        list = new address[](7 + validators.length);
        list[0] = client;
        list[1] = provider;
        list[2] = challenger;
        list[3] = stranger;
        list[4] = address(escrow);
        list[5] = address(evaluator);
        list[6] = address(council);
        for (uint256 i; i < validators.length; ++i) {
            list[7 + i] = validators[i];
        }
    }

    function balances() internal view returns (uint256[] memory list) {
        address[] memory who = parties();
        list = new uint256[](who.length);
        for (uint256 i; i < who.length; ++i) {
            list[i] = bal(who[i]);
        }
    }

    function total() internal view returns (uint256 sum) {
        address[] memory who = parties();
        for (uint256 i; i < who.length; ++i) {
            sum += bal(who[i]);
        }
    }

    function isJuror(address[] memory jurors, address who) internal pure returns (bool) {
        for (uint256 i; i < jurors.length; ++i) {
            if (jurors[i] == who) return true;
        }
        return false;
    }

    /// Asserts each validator that was not drawn kept its balance and stake.
    function assertBystandersUntouched(address[] memory jurors, uint256[] memory before) internal view {
        for (uint256 i; i < validators.length; ++i) {
            if (isJuror(jurors, validators[i])) continue;
            assertEq(bal(validators[i]), before[7 + i], "a validator not drawn kept its balance");
            assertEq(stakeOf(validators[i]), MIN_STAKE, "a validator not drawn kept its stake");
        }
    }

    function assertFeedback(uint256 index, int128 value, string memory tag2) internal view {
        (int128 v, uint8 decimals, string memory tag1, string memory t2, bool revoked) =
            reputation.readFeedback(providerAgent, address(evaluator), uint64(index));
        assertEq(int256(v), int256(value), "feedback value");
        assertEq(decimals, 0, "feedback decimals");
        assertEq(tag1, "job", "tag1");
        assertEq(t2, tag2, "tag2");
        assertTrue(!revoked, "not revoked");
    }

    function feedbackCount() internal view returns (uint256) {
        return reputation.getLastIndex(providerAgent, address(evaluator));
    }

    // ---------------------------------------------------------------------------------------
    // The honest path
    // ---------------------------------------------------------------------------------------

    function test_honest_path_pays_budget_returns_bond_and_leaves_job_feedback() public {
        uint256 client0 = bal(client);
        uint256 provider0 = bal(provider);
        uint256 sum0 = total();

        uint256 jobId = openJob(BUDGET);
        assertEq(jobId, 1, "job ids start at 1");
        assertEq(escrow.getJob(jobId).budget, BUDGET, "budget");

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.TermsSet(jobId, MODEL, BOND);
        fundJob(jobId, BUDGET, BOND);
        assertEq(bal(address(escrow)), BUDGET, "the escrow holds the budget");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Funded, "funded");
        JobEvaluator.Case memory c = evaluator.getCase(jobId);
        assertTrue(c.phase == JobEvaluator.Phase.Funded, "phase funded");
        assertEq(c.modelHash, MODEL, "model");
        assertEq(c.bond, BOND, "bond");
        assertEq(c.client, client, "client");
        assertEq(c.provider, provider, "provider");

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Accepted(jobId, provider, providerAgent, BOND);
        acceptJob(jobId);
        assertEq(bal(address(evaluator)), BOND, "the evaluator holds the bond");
        assertEq(evaluator.getCase(jobId).agentId, providerAgent, "agent");

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Delivered(jobId, keccak256(delivery()), MODEL, delivery());
        submitJob(jobId, delivery());
        c = evaluator.getCase(jobId);
        assertTrue(c.phase == JobEvaluator.Phase.Submitted, "submitted");
        assertEq(c.deliverable, keccak256(delivery()), "deliverable");
        assertEq(c.submittedAt, block.timestamp, "submitted at");

        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        vm.expectEmit(true, true, true, true, address(reputation));
        emit ReputationRegistry.NewFeedback(
            providerAgent,
            address(evaluator),
            1,
            100,
            0,
            "job",
            "job",
            "completed",
            "",
            jobUri(jobId),
            keccak256(delivery())
        );
        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_COMPLETED(), BOND, 0, 0);
        vm.prank(stranger);
        evaluator.finalize(jobId);

        assertEq(bal(provider), provider0 + BUDGET, "provider: budget paid, bond back");
        assertEq(bal(client), client0 - BUDGET, "client paid the budget");
        assertEq(bal(address(escrow)), 0, "escrow empty");
        assertEq(bal(address(evaluator)), 0, "evaluator empty");
        assertEq(total(), sum0, "conserved");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Completed, "completed");
        assertTrue(phaseOf(jobId) == JobEvaluator.Phase.Settled, "settled");
        assertEq(feedbackCount(), 1, "one feedback");
        assertFeedback(1, 100, "completed");
    }

    // ---------------------------------------------------------------------------------------
    // Disputes, with the real council
    // ---------------------------------------------------------------------------------------

    function test_cheating_path_two_jurors_overturn_one_no_show_is_slashed() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 sum0 = total();

        uint256 disputeId = challengeJob(jobId, challenger);
        assertEq(disputeId, 0, "first dispute");
        assertEq(evaluator.jobOfDispute(disputeId), jobId, "dispute -> job");
        assertEq(bal(address(evaluator)), 2 * BOND, "both bonds held");
        assertEq(bal(address(council)), VALIDATORS * MIN_STAKE + COST, "stakes + fee");
        address[] memory jurors = jurorsOf(disputeId);
        assertEq(jurors.length, 3, "three jurors");
        assertTrue(jurors[0] != jurors[1] && jurors[1] != jurors[2] && jurors[0] != jurors[2], "distinct");
        for (uint256 i; i < 3; ++i) {
            assertTrue(isJuror(validators, jurors[i]), "a juror is a validator");
            assertEq(council.validator(jurors[i]).openDisputes, 1, "locked");
        }

        vote(disputeId, votes(WRONG, WRONG, 0));
        (uint256 current, bool tied,) = council.currentRuling(disputeId);
        assertEq(current, WRONG, "current ruling");
        assertTrue(!tied, "no tie");
        vm.prank(stranger);
        council.execute(disputeId);

        uint256 half = BOND / 2;
        uint256 share = (COST + SLASH) / 2;
        assertEq(bal(client), b0[0] + BUDGET + (BOND - half), "client: refunded + half the bond");
        assertEq(bal(provider), b0[1], "provider: loses its bond, no pay");
        assertEq(bal(challenger), b0[2] + half - COST, "challenger: +0.5 bond - fee");
        assertEq(bal(challenger) + COST - b0[2], BOND / 2, "net of the fee, half the bond");
        assertEq(bal(stranger), b0[3], "stranger");
        assertEq(bal(address(escrow)), 0, "escrow empty");
        assertEq(bal(address(evaluator)), 0, "evaluator empty");
        assertEq(bal(address(council)), VALIDATORS * MIN_STAKE - SLASH, "stakes - slash");
        assertEq(bal(jurors[0]), b0[7 + indexOf(jurors[0])] + share, "coherent juror 0");
        assertEq(bal(jurors[1]), b0[7 + indexOf(jurors[1])] + share, "coherent juror 1");
        assertEq(bal(jurors[2]), b0[7 + indexOf(jurors[2])], "no-show paid nothing");
        assertEq(stakeOf(jurors[0]), MIN_STAKE, "stake kept");
        assertEq(stakeOf(jurors[1]), MIN_STAKE, "stake kept");
        assertEq(stakeOf(jurors[2]), MIN_STAKE - SLASH, "no-show slashed");
        assertBystandersUntouched(jurors, b0);
        assertEq(council.carried(), 0, "nothing carried");
        assertEq(total(), sum0, "conserved");
        for (uint256 i; i < 3; ++i) {
            assertEq(council.validator(jurors[i]).openDisputes, 0, "unlocked");
        }
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Rejected, "rejected");
        JobEvaluator.Case memory c = evaluator.getCase(jobId);
        assertTrue(c.phase == JobEvaluator.Phase.Settled, "settled");
        assertEq(c.ruling, WRONG, "ruling stored");
        assertEq(c.challenger, challenger, "challenger");
        assertFeedback(1, 0, "overturned");

        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.AlreadyExecuted.selector, disputeId));
        council.execute(disputeId);
        // The slashed no-show is below the minimum: no longer drawn, free to leave with the rest.
        vm.prank(jurors[2]);
        council.leave();
        assertEq(bal(jurors[2]), b0[7 + indexOf(jurors[2])] + MIN_STAKE - SLASH, "leaves with the rest");
    }

    function indexOf(address v) internal view returns (uint256) {
        for (uint256 i; i < validators.length; ++i) {
            if (validators[i] == v) return i;
        }
        revert("not a validator");
    }

    function test_false_challenge_upheld_provider_paid_with_both_bonds() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 sum0 = total();
        uint256 disputeId = challengeJob(jobId, challenger);
        address[] memory jurors = jurorsOf(disputeId);
        vote(disputeId, votes(STANDS, STANDS, WRONG));

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_UPHELD(), 2 * BOND, 0, 0);
        council.execute(disputeId);

        uint256 share = (COST + SLASH) / 2;
        assertEq(bal(provider), b0[1] + BUDGET + 2 * BOND, "provider: paid + both bonds");
        assertEq(bal(client), b0[0], "client: paid for the work");
        assertEq(bal(challenger), b0[2] - BOND - COST, "challenger loses bond and fee");
        assertEq(bal(jurors[0]), b0[7 + indexOf(jurors[0])] + share, "coherent");
        assertEq(bal(jurors[1]), b0[7 + indexOf(jurors[1])] + share, "coherent");
        assertEq(bal(jurors[2]), b0[7 + indexOf(jurors[2])], "minority paid nothing");
        assertEq(stakeOf(jurors[2]), MIN_STAKE - SLASH, "minority slashed");
        assertBystandersUntouched(jurors, b0);
        assertEq(bal(address(escrow)) + bal(address(evaluator)), 0, "nothing left held");
        assertEq(total(), sum0, "conserved");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Completed, "completed");
        assertFeedback(1, 100, "upheld");
    }

    function test_tie_rules_zero_client_refunded_both_bonds_back() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 sum0 = total();
        uint256 disputeId = challengeJob(jobId, challenger);
        address[] memory jurors = jurorsOf(disputeId);
        vote(disputeId, votes(STANDS, WRONG, 0));
        (uint256 current, bool tied,) = council.currentRuling(disputeId);
        assertEq(current, 0, "tie: 0");
        assertTrue(tied, "tied");

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_REFUSED(), BOND, 0, BOND);
        council.execute(disputeId);

        uint256 share = (COST + SLASH) / 2;
        assertEq(bal(client), b0[0] + BUDGET, "client refunded");
        assertEq(bal(provider), b0[1] + BOND, "provider: bond back");
        assertEq(bal(challenger), b0[2] - COST, "challenger: bond back, fee spent");
        assertEq(bal(jurors[0]), b0[7 + indexOf(jurors[0])] + share, "revealed juror rewarded");
        assertEq(bal(jurors[1]), b0[7 + indexOf(jurors[1])] + share, "revealed juror rewarded");
        assertEq(stakeOf(jurors[0]), MIN_STAKE, "not slashed on ruling 0");
        assertEq(stakeOf(jurors[1]), MIN_STAKE, "not slashed on ruling 0");
        assertEq(stakeOf(jurors[2]), MIN_STAKE - SLASH, "no-show slashed");
        assertEq(total(), sum0, "conserved");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Rejected, "rejected");
        assertEq(feedbackCount(), 0, "no feedback without a decision");
    }

    // ---------------------------------------------------------------------------------------
    // Timeouts
    // ---------------------------------------------------------------------------------------

    function test_no_accept_claimRefund_after_expiry_then_settle() public {
        uint256 client0 = bal(client);
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        uint256 expiredAt = escrow.getJob(jobId).expiredAt;
        vm.warp(expiredAt);
        // Still Funded in the escrow, but too late to deliver: accepting could only lose the bond.
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                JobEvaluator.TooLateToSubmit.selector, jobId, expiredAt - CHALLENGE_WINDOW - RULING_WINDOW
            )
        );
        evaluator.accept(jobId, providerAgent);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.NotExpired.selector, jobId, AgenticCommerce.Status.Funded)
        );
        evaluator.settle(jobId);
        vm.prank(stranger);
        escrow.claimRefund(jobId);
        assertEq(bal(client), client0, "client refunded");
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.NotFunded.selector, jobId, AgenticCommerce.Status.Expired)
        );
        acceptJob(jobId);

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_CANCELLED(), 0, 0, 0);
        evaluator.settle(jobId);
        assertTrue(phaseOf(jobId) == JobEvaluator.Phase.Settled, "settled");
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        evaluator.settle(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Expired
            )
        );
        escrow.claimRefund(jobId);
        assertEq(bal(address(escrow)) + bal(address(evaluator)), 0, "nothing held");
        assertEq(feedbackCount(), 0, "no provider, no feedback");
    }

    function test_no_accept_client_cancels_for_a_full_refund() public {
        uint256 client0 = bal(client);
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.NotClient.selector, jobId, stranger));
        evaluator.cancel(jobId);

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_CANCELLED(), 0, 0, 0);
        vm.prank(client);
        evaluator.cancel(jobId);
        assertEq(bal(client), client0, "refunded");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Rejected, "rejected by the evaluator");
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        acceptJob(jobId);
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        evaluator.cancel(jobId);
        vm.warp(block.timestamp + EXPIRY);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Rejected
            )
        );
        escrow.claimRefund(jobId);
    }

    function test_cancel_after_the_escrow_refunded_settles_without_money() public {
        uint256 client0 = bal(client);
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        vm.warp(block.timestamp + EXPIRY);
        escrow.claimRefund(jobId);
        vm.prank(client);
        evaluator.cancel(jobId);
        assertEq(bal(client), client0, "refunded once");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Expired, "expired");
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        evaluator.settle(jobId);
    }

    /// A client that funds a job expiring too soon for a delivery cannot lure a provider into
    /// posting a bond it could only lose.
    function test_accept_too_late_to_deliver_is_TooLateToSubmit() public {
        vm.prank(client);
        uint256 jobId = escrow.createJob(
            provider, address(evaluator), block.timestamp + 2 days, "too short", address(evaluator)
        );
        vm.prank(client);
        escrow.setBudget(jobId, BUDGET, "");
        fundJob(jobId, BUDGET, BOND);
        uint256 expiredAt = block.timestamp + 2 days;
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                JobEvaluator.TooLateToSubmit.selector, jobId, expiredAt - CHALLENGE_WINDOW - RULING_WINDOW
            )
        );
        evaluator.accept(jobId, providerAgent);

        uint256 job2 = openJob(BUDGET);
        fundJob(job2, BUDGET, BOND);
        uint256 latest = block.timestamp + EXPIRY - CHALLENGE_WINDOW - RULING_WINDOW;
        vm.warp(latest + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.TooLateToSubmit.selector, job2, latest));
        evaluator.accept(job2, providerAgent);
        vm.warp(latest);
        acceptJob(job2);
        submitJob(job2, delivery());
    }

    function test_cancel_refused_once_accepted() public {
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        acceptJob(jobId);
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Accepted)
        );
        evaluator.cancel(jobId);
    }

    function test_no_delivery_bond_goes_to_the_client_with_undelivered_feedback() public {
        uint256 client0 = bal(client);
        uint256 provider0 = bal(provider);
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        acceptJob(jobId);
        // Too late to deliver: the challenge window and the ruling window must fit before expiry.
        uint256 expiredAt = escrow.getJob(jobId).expiredAt;
        uint256 latest = expiredAt - CHALLENGE_WINDOW - RULING_WINDOW;
        vm.warp(latest + 1);
        bytes memory what = delivery();
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.TooLateToSubmit.selector, jobId, latest));
        escrow.submit(jobId, keccak256(what), abi.encode(MODEL, what));

        vm.warp(expiredAt);
        escrow.claimRefund(jobId);
        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_UNDELIVERED(), 0, BOND, 0);
        evaluator.settle(jobId);
        assertEq(bal(client), client0 + BOND, "client: refund + the bond");
        assertEq(bal(provider), provider0 - BOND, "provider: loses the bond");
        assertEq(bal(address(evaluator)), 0, "evaluator empty");
        assertFeedback(1, 0, "undelivered");
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        evaluator.settle(jobId);
    }

    function test_submit_at_the_last_moment_is_accepted() public {
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        acceptJob(jobId);
        vm.warp(escrow.getJob(jobId).expiredAt - CHALLENGE_WINDOW - RULING_WINDOW);
        submitJob(jobId, delivery());
        assertTrue(phaseOf(jobId) == JobEvaluator.Phase.Submitted, "submitted");
    }

    function test_unfinalized_delivery_settles_bond_back_to_the_provider() public {
        uint256 client0 = bal(client);
        uint256 provider0 = bal(provider);
        uint256 jobId = submittedJob(BUDGET, BOND);
        vm.warp(escrow.getJob(jobId).expiredAt);
        escrow.claimRefund(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Expired
            )
        );
        evaluator.finalize(jobId);
        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_UNFINALIZED(), BOND, 0, 0);
        evaluator.settle(jobId);
        assertEq(bal(client), client0, "client refunded");
        assertEq(bal(provider), provider0, "provider: bond back, unpaid");
        assertEq(bal(address(escrow)) + bal(address(evaluator)), 0, "nothing held");
    }

    function test_finalize_after_expiry_before_the_refund_still_pays() public {
        uint256 provider0 = bal(provider);
        uint256 jobId = submittedJob(BUDGET, BOND);
        vm.warp(escrow.getJob(jobId).expiredAt + 1);
        evaluator.finalize(jobId);
        assertEq(bal(provider), provider0 + BUDGET, "paid");
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Completed
            )
        );
        escrow.claimRefund(jobId);
    }

    function test_no_votes_no_execution_before_expiry_settle_returns_both_bonds_late_ruling_is_dropped()
        public
    {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 sum0 = total();
        uint256 disputeId = challengeJob(jobId, challenger);
        address[] memory jurors = jurorsOf(disputeId);

        vm.warp(escrow.getJob(jobId).expiredAt);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.NotExpired.selector, jobId, AgenticCommerce.Status.Submitted)
        );
        evaluator.settle(jobId);
        escrow.claimRefund(jobId);
        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_NO_RULING(), BOND, 0, BOND);
        evaluator.settle(jobId);
        assertEq(bal(client), b0[0] + BUDGET, "client refunded");
        assertEq(bal(provider), b0[1] + BOND, "provider: bond back");
        assertEq(bal(challenger), b0[2] - COST, "challenger: bond back, fee spent");
        assertEq(bal(address(evaluator)), 0, "evaluator empty");

        // The council executes late: nobody voted (ruling 0, everyone slashed, the pot carried);
        // the evaluator refuses the ruling, which must not revert the execution.
        vm.expectEmit(true, true, true, true, address(council));
        emit ValidatorCouncil.RulingNotDelivered(
            disputeId,
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        council.execute(disputeId);
        assertTrue(council.getDispute(disputeId).executed, "executed");
        assertEq(council.carried(), COST + 3 * SLASH, "fee + slashes carried");
        for (uint256 i; i < 3; ++i) {
            assertEq(stakeOf(jurors[i]), MIN_STAKE - SLASH, "no-show slashed");
            assertEq(council.validator(jurors[i]).openDisputes, 0, "unlocked");
        }
        assertEq(bal(client), b0[0] + BUDGET, "no double refund");
        assertEq(bal(provider), b0[1] + BOND, "no double bond");
        assertEq(bal(challenger), b0[2] - COST, "no double bond");
        assertEq(bal(address(council)), VALIDATORS * MIN_STAKE + COST, "stakes + carried");
        assertEq(total(), sum0, "conserved");

        // The carried pot goes to the coherent jurors of the next dispute. Only two validators
        // still have the minimum at stake: top the slashed ones up so three can be drawn.
        for (uint256 i; i < 3; ++i) {
            vm.prank(jurors[i]);
            council.leave();
            uint256 agentId = council.validator(jurors[i]).agentId;
            token.faucet(jurors[i], SLASH);
            vm.prank(jurors[i]);
            token.approve(address(council), MIN_STAKE);
            vm.prank(jurors[i]);
            council.join(agentId, MIN_STAKE);
        }
        uint256 job2 = submittedJob(BUDGET, BOND);
        uint256 dispute2 = challengeJob(job2, challenger);
        address[] memory jurors2 = jurorsOf(dispute2);
        uint256[] memory b1 = balances();
        vote(dispute2, votes(WRONG, WRONG, WRONG));
        council.execute(dispute2);
        uint256 pot = COST + COST + 3 * SLASH;
        for (uint256 i; i < 3; ++i) {
            assertEq(bal(jurors2[i]), b1[7 + indexOf(jurors2[i])] + pot / 3, "carried pot shared");
        }
        assertEq(council.carried(), 0, "carried paid out");
    }

    function test_late_ruling_after_the_refund_pays_the_bonds_per_the_ruling_once() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 sum0 = total();
        uint256 disputeId = challengeJob(jobId, challenger);
        vote(disputeId, votes(WRONG, WRONG, WRONG));
        // Nobody executes before expiry; the escrow refunds the client first.
        vm.warp(escrow.getJob(jobId).expiredAt);
        escrow.claimRefund(jobId);
        assertEq(bal(client), b0[0] + BUDGET, "refunded by the escrow");

        vm.expectEmit(true, true, true, true, address(evaluator));
        emit JobEvaluator.Settled(jobId, evaluator.OUTCOME_OVERTURNED(), 0, BOND - BOND / 2, BOND + BOND / 2);
        council.execute(disputeId);
        assertEq(bal(client), b0[0] + BUDGET + BOND - BOND / 2, "client: refund once + half the bond");
        assertEq(bal(challenger), b0[2] + BOND / 2 - COST, "challenger: 1.5x bond");
        assertEq(bal(provider), b0[1], "provider loses the bond");
        assertEq(bal(address(evaluator)) + bal(address(escrow)), 0, "nothing held");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Expired, "the escrow was not touched again");
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        evaluator.settle(jobId);
        assertEq(total(), sum0, "conserved");
    }

    function test_late_upholding_ruling_after_the_refund_returns_both_bonds_to_the_provider() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 disputeId = challengeJob(jobId, challenger);
        vote(disputeId, votes(STANDS, STANDS, STANDS));
        vm.warp(escrow.getJob(jobId).expiredAt);
        escrow.claimRefund(jobId);
        council.execute(disputeId);
        assertEq(bal(client), b0[0] + BUDGET, "client refunded by the escrow");
        assertEq(bal(provider), b0[1] + 2 * BOND, "provider: both bonds, no pay");
        assertEq(bal(challenger), b0[2] - BOND - COST, "challenger lost");
    }

    function test_execute_after_expiry_before_the_refund_completes_the_job() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 disputeId = challengeJob(jobId, challenger);
        vote(disputeId, votes(STANDS, STANDS, 0));
        vm.warp(escrow.getJob(jobId).expiredAt + 1);
        council.execute(disputeId);
        assertEq(bal(provider), b0[1] + BUDGET + 2 * BOND, "paid and both bonds");
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Completed
            )
        );
        escrow.claimRefund(jobId);
    }

    // ---------------------------------------------------------------------------------------
    // Bad input, each with its error
    // ---------------------------------------------------------------------------------------

    function test_submit_with_another_model_is_WrongModel() public {
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        acceptJob(jobId);
        bytes32 other = keccak256("another model");
        bytes memory what = delivery();
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.WrongModel.selector, jobId, MODEL, other));
        escrow.submit(jobId, keccak256(what), abi.encode(other, what));
    }

    function test_submit_whose_deliverable_is_not_the_delivery_hash_is_refused() public {
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        acceptJob(jobId);
        bytes memory what = delivery();
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                JobEvaluator.DeliverableMismatch.selector, jobId, bytes32(uint256(1)), keccak256(what)
            )
        );
        escrow.submit(jobId, bytes32(uint256(1)), abi.encode(MODEL, what));
    }

    function test_submit_without_accept_is_WrongPhase() public {
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        bytes memory what = delivery();
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Funded)
        );
        escrow.submit(jobId, keccak256(what), abi.encode(MODEL, what));
    }

    function test_accept_on_an_unfunded_job_is_WrongPhase() public {
        uint256 jobId = openJob(BUDGET);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.None)
        );
        evaluator.accept(jobId, providerAgent);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, 99, JobEvaluator.Phase.None));
        evaluator.accept(99, providerAgent);
    }

    function test_a_job_not_using_this_evaluator_is_NotOurJob_at_fund() public {
        // Hooked here but evaluated by someone else.
        vm.prank(client);
        uint256 jobId =
            escrow.createJob(provider, stranger, block.timestamp + EXPIRY, "elsewhere", address(evaluator));
        vm.prank(client);
        escrow.setBudget(jobId, BUDGET, "");
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.NotOurJob.selector, jobId));
        escrow.fund(jobId, BUDGET, terms(MODEL, BOND));

        // Evaluated here but not hooked: the escrow funds it, the evaluator never heard of it.
        vm.prank(client);
        uint256 unhooked =
            escrow.createJob(provider, address(evaluator), block.timestamp + EXPIRY, "no hook", address(0));
        vm.prank(client);
        escrow.setBudget(unhooked, BUDGET, "");
        vm.prank(client);
        escrow.fund(unhooked, BUDGET, terms(MODEL, BOND));
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, unhooked, JobEvaluator.Phase.None)
        );
        evaluator.accept(unhooked, providerAgent);
    }

    function test_fund_without_terms_is_MissingTerms() public {
        uint256 jobId = openJob(BUDGET);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.MissingTerms.selector, jobId));
        escrow.fund(jobId, BUDGET, "");
    }

    function test_a_second_submission_is_WrongStatus() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        bytes memory what = "a second delivery";
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Submitted
            )
        );
        escrow.submit(jobId, keccak256(what), abi.encode(MODEL, what));
    }

    function test_commit_after_the_deadline_is_CommitClosed() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        address juror = jurorsOf(disputeId)[0];
        ValidatorCouncil.Dispute memory d = council.getDispute(disputeId);
        vm.warp(d.commitDeadline);
        bytes32 commitment = council.commitmentOf(disputeId, juror, WRONG, salt(juror));
        vm.prank(juror);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.CommitClosed.selector, disputeId, d.commitDeadline)
        );
        council.commit(disputeId, commitment);
    }

    function test_reveal_after_the_deadline_is_RevealClosed() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        address juror = jurorsOf(disputeId)[0];
        ValidatorCouncil.Dispute memory d = council.getDispute(disputeId);
        commitVote(disputeId, juror, WRONG);
        vm.prank(juror);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.RevealNotOpen.selector, disputeId, d.commitDeadline)
        );
        council.reveal(disputeId, WRONG, salt(juror), 0);
        vm.warp(d.revealDeadline);
        vm.prank(juror);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.RevealClosed.selector, disputeId, d.revealDeadline)
        );
        council.reveal(disputeId, WRONG, salt(juror), 0);
    }

    function test_reveal_not_matching_the_commit_is_CommitMismatch() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        address[] memory jurors = jurorsOf(disputeId);
        for (uint256 i; i < 3; ++i) {
            commitVote(disputeId, jurors[i], WRONG);
        }
        // Every juror committed: the reveal phase opens early.
        vm.prank(jurors[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.CommitMismatch.selector, disputeId, jurors[0])
        );
        council.reveal(disputeId, STANDS, salt(jurors[0]), 0);
        vm.prank(jurors[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.CommitMismatch.selector, disputeId, jurors[0])
        );
        council.reveal(disputeId, WRONG, bytes32(0), 0);
        vm.prank(jurors[0]);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.InvalidChoice.selector, 3, 2));
        council.reveal(disputeId, 3, salt(jurors[0]), 0);
        revealVote(disputeId, jurors[0], WRONG);
        vm.prank(jurors[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.AlreadyRevealed.selector, disputeId, jurors[0])
        );
        council.reveal(disputeId, WRONG, salt(jurors[0]), 0);
        vm.prank(jurors[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.AlreadyCommitted.selector, disputeId, jurors[0])
        );
        council.commit(disputeId, bytes32(uint256(1)));
        // Not everyone revealed and the deadline is ahead: voting is still open.
        ValidatorCouncil.Dispute memory d = council.getDispute(disputeId);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.VotingOpen.selector, disputeId, d.revealDeadline)
        );
        council.execute(disputeId);
        revealVote(disputeId, jurors[1], WRONG);
        revealVote(disputeId, jurors[2], WRONG);
        // All revealed: executable before the deadline.
        council.execute(disputeId);
        vm.prank(jurors[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.RevealClosed.selector, disputeId, d.revealDeadline)
        );
        council.reveal(disputeId, WRONG, salt(jurors[0]), 0);
    }

    function test_only_drawn_jurors_vote() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NotJuror.selector, disputeId, stranger));
        council.commit(disputeId, bytes32(uint256(1)));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NotJuror.selector, disputeId, stranger));
        council.reveal(disputeId, 1, 0, 0);
        address juror = jurorsOf(disputeId)[0];
        vm.warp(council.getDispute(disputeId).commitDeadline);
        vm.prank(juror);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NotCommitted.selector, disputeId, juror));
        council.reveal(disputeId, 1, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NoSuchDispute.selector, 7));
        council.execute(7);
    }

    function test_fund_after_a_budget_change_is_BudgetMismatch() public {
        uint256 jobId = openJob(BUDGET);
        // The provider raises the price between the client's read and its fund.
        vm.prank(provider);
        escrow.setBudget(jobId, BUDGET + 1, "");
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(AgenticCommerce.BudgetMismatch.selector, jobId, BUDGET + 1, BUDGET)
        );
        escrow.fund(jobId, BUDGET, terms(MODEL, BOND));
        fundJob(jobId, BUDGET + 1, BOND);
        assertEq(bal(address(escrow)), BUDGET + 1, "funded at the new price");
    }

    function test_bond_below_twice_the_arbitration_cost_is_BondTooSmall() public {
        assertEq(evaluator.arbitrationCost(), COST, "cost");
        assertEq(evaluator.minBond(), 2 * COST, "min bond");
        uint256 jobId = openJob(BUDGET);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.BondTooSmall.selector, 2 * COST - 1, 2 * COST));
        escrow.fund(jobId, BUDGET, terms(MODEL, 2 * COST - 1));
        fundJob(jobId, BUDGET, 2 * COST);
        assertEq(evaluator.getCase(jobId).bond, 2 * COST, "the minimum is enough");
    }

    function test_challenge_after_the_window_is_ChallengeWindowClosed() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 closesAt = block.timestamp + CHALLENGE_WINDOW;
        vm.warp(closesAt);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.ChallengeWindowClosed.selector, jobId, closesAt));
        evaluator.challenge(jobId, "late");
    }

    function test_finalize_before_the_window_is_ChallengeWindowOpen() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 closesAt = block.timestamp + CHALLENGE_WINDOW;
        vm.warp(closesAt - 1);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.ChallengeWindowOpen.selector, jobId, closesAt));
        evaluator.finalize(jobId);
    }

    function test_challenge_refusals() public {
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        acceptJob(jobId);
        vm.prank(challenger);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Accepted)
        );
        evaluator.challenge(jobId, "");
        submitJob(jobId, delivery());
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.SelfChallenge.selector, jobId));
        evaluator.challenge(jobId, "");
        challengeJob(jobId, challenger);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Challenged)
        );
        evaluator.challenge(jobId, "");
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Challenged)
        );
        evaluator.finalize(jobId);
    }

    function test_the_client_may_challenge() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256[] memory b0 = balances();
        uint256 disputeId = challengeJob(jobId, client);
        vote(disputeId, votes(WRONG, WRONG, WRONG));
        council.execute(disputeId);
        assertEq(
            bal(client), b0[0] + BUDGET + BOND - COST, "client: refund, both bonds back less its own, fee"
        );
    }

    function test_rule_from_a_non_arbitrator_is_OnlyArbitrator() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.OnlyArbitrator.selector, stranger));
        evaluator.rule(disputeId, STANDS);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.OnlyArbitrator.selector, provider));
        evaluator.rule(disputeId, STANDS);
        vm.prank(address(council));
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.UnknownDispute.selector, disputeId + 1));
        evaluator.rule(disputeId + 1, STANDS);
        vm.prank(address(council));
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.InvalidRuling.selector, 3));
        evaluator.rule(disputeId, 3);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.UnknownDispute.selector, disputeId + 1));
        evaluator.jobOfDispute(disputeId + 1);
    }

    function test_hooks_called_directly_are_OnlyEscrow() public {
        uint256 jobId = openJob(BUDGET);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.OnlyEscrow.selector, client));
        evaluator.beforeAction(jobId, AgenticCommerce.fund.selector, terms(MODEL, BOND));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.OnlyEscrow.selector, stranger));
        evaluator.afterAction(jobId, AgenticCommerce.fund.selector, "");
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.OnlyEscrow.selector, provider));
        evaluator.beforeAction(jobId, AgenticCommerce.submit.selector, "");
    }

    function test_second_payout_attempts_are_refused() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        evaluator.finalize(jobId);
        uint256 sum0 = total();
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        evaluator.finalize(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.NotExpired.selector, jobId, AgenticCommerce.Status.Completed)
        );
        evaluator.settle(jobId);
        vm.warp(block.timestamp + EXPIRY);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Completed
            )
        );
        escrow.claimRefund(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.NotExpired.selector, jobId, AgenticCommerce.Status.Completed)
        );
        evaluator.settle(jobId);
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Settled)
        );
        evaluator.cancel(jobId);

        // A ruled dispute: the arbitrator ruling again, settle, finalize: all refused.
        uint256 job2 = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(job2, challenger);
        vote(disputeId, votes(STANDS, STANDS, STANDS));
        council.execute(disputeId);
        sum0 = total();
        vm.prank(address(council));
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, job2, JobEvaluator.Phase.Settled)
        );
        evaluator.rule(disputeId, WRONG);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.AlreadyExecuted.selector, disputeId));
        council.execute(disputeId);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, job2, JobEvaluator.Phase.Settled)
        );
        evaluator.finalize(job2);
        vm.warp(block.timestamp + EXPIRY);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, job2, AgenticCommerce.Status.Completed
            )
        );
        escrow.claimRefund(job2);
        assertEq(total(), sum0, "nothing moved");
    }

    function test_settle_of_an_unknown_or_open_job() public {
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.NoSuchJob.selector, 5));
        evaluator.settle(5);
        uint256 jobId = openJob(BUDGET);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.NotExpired.selector, jobId, AgenticCommerce.Status.Open)
        );
        evaluator.settle(jobId);
    }

    // ---------------------------------------------------------------------------------------
    // Who may accept: the agent's owner, an operator, its wallet
    // ---------------------------------------------------------------------------------------

    function test_accept_requires_the_provider_as_the_agents_owner_operator_or_wallet() public {
        uint256 jobId = openJob(BUDGET);
        fundJob(jobId, BUDGET, BOND);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.NotProvider.selector, jobId, stranger));
        evaluator.accept(jobId, providerAgent);
        // An agent the provider has nothing to do with, and one that does not exist.
        vm.prank(stranger);
        uint256 strangers = identity.register("ipfs://stranger");
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.NotAgentOf.selector, strangers, provider));
        evaluator.accept(jobId, strangers);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(JobEvaluator.NotAgentOf.selector, 999, provider));
        evaluator.accept(jobId, 999);
        // The stranger makes the provider an operator: now it may act for that agent.
        vm.prank(stranger);
        identity.setApprovalForAll(provider, true);
        acceptForAgent(jobId, strangers);
        assertEq(evaluator.getCase(jobId).agentId, strangers, "accepted as the operated agent");
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(JobEvaluator.WrongPhase.selector, jobId, JobEvaluator.Phase.Accepted)
        );
        evaluator.accept(jobId, providerAgent);
    }

    function acceptForAgent(uint256 jobId, uint256 agentId) internal {
        vm.prank(provider);
        evaluator.accept(jobId, agentId);
    }

    /// Feedback never blocks a settlement: an evaluator the registry refuses (it operates the
    /// provider's agent, which is self-feedback) still pays.
    function test_refused_feedback_does_not_block_settlement() public {
        vm.prank(provider);
        identity.setApprovalForAll(address(evaluator), true);
        uint256 provider0 = bal(provider);
        uint256 jobId = submittedJob(BUDGET, BOND);
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        evaluator.finalize(jobId);
        assertEq(bal(provider), provider0 + BUDGET, "paid");
        assertEq(feedbackCount(), 0, "no feedback");
    }

    // ---------------------------------------------------------------------------------------
    // ERC-8183's normative text
    // ---------------------------------------------------------------------------------------

    function test_createJob_refusals() public {
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.ZeroEvaluator.selector));
        escrow.createJob(provider, address(0), block.timestamp + 1, "", address(0));
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.ExpiryNotInFuture.selector, block.timestamp));
        escrow.createJob(provider, stranger, block.timestamp, "", address(0));
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.HookNotContract.selector, stranger));
        escrow.createJob(provider, stranger, block.timestamp + 1, "", stranger);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.NoSuchJob.selector, 1));
        escrow.getJob(1);
    }

    function test_only_client_or_provider_set_the_budget() public {
        uint256 jobId = openJob(BUDGET);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, jobId, stranger));
        escrow.setBudget(jobId, 1, "");
        vm.prank(address(evaluator));
        vm.expectRevert(
            abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, jobId, address(evaluator))
        );
        escrow.setBudget(jobId, 1, "");
        vm.prank(provider);
        escrow.setBudget(jobId, 7, "");
        assertEq(escrow.getJob(jobId).budget, 7, "provider set it");
        vm.prank(client);
        escrow.setBudget(jobId, 8, "");
        assertEq(escrow.getJob(jobId).budget, 8, "client set it");
        fundJob(jobId, 8, BOND);
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Funded)
        );
        escrow.setBudget(jobId, 9, "");
    }

    function test_without_a_provider_nobody_else_sets_the_budget_and_fund_reverts() public {
        vm.prank(client);
        uint256 jobId = escrow.createJob(
            address(0), address(evaluator), block.timestamp + EXPIRY, "open call", address(evaluator)
        );
        // With no provider, the zero address is not a provider either.
        vm.prank(address(0));
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, jobId, address(0)));
        escrow.setBudget(jobId, 1, "");
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.ZeroBudget.selector, jobId));
        escrow.fund(jobId, 0, terms(MODEL, BOND));
        vm.prank(client);
        escrow.setBudget(jobId, BUDGET, "");
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.ProviderNotSet.selector, jobId));
        escrow.fund(jobId, BUDGET, terms(MODEL, BOND));

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, jobId, stranger));
        escrow.setProvider(jobId, provider, "");
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.ZeroProvider.selector));
        escrow.setProvider(jobId, address(0), "");
        vm.expectEmit(true, true, true, true, address(escrow));
        emit AgenticCommerce.ProviderSet(jobId, provider);
        vm.prank(client);
        escrow.setProvider(jobId, provider, "");
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.ProviderAlreadySet.selector, jobId, provider));
        escrow.setProvider(jobId, stranger, "");
        fundJob(jobId, BUDGET, BOND);
        assertEq(evaluator.getCase(jobId).provider, provider, "the provider set later");
    }

    function test_client_rejects_only_while_open() public {
        uint256 jobId = openJob(BUDGET);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, jobId, provider));
        escrow.reject(jobId, "no", "");
        vm.prank(client);
        escrow.reject(jobId, "changed my mind", "");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Rejected, "rejected");
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Rejected
            )
        );
        escrow.reject(jobId, "again", "");
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Rejected
            )
        );
        escrow.fund(jobId, BUDGET, terms(MODEL, BOND));

        uint256 funded = openJob(BUDGET);
        fundJob(funded, BUDGET, BOND);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, funded, client));
        escrow.reject(funded, "too late", "");
    }

    /// A job with a plain (EOA) evaluator and no hook, to drive the escrow alone.
    function plainJob(address judge) internal returns (uint256 jobId) {
        vm.prank(client);
        jobId = escrow.createJob(provider, judge, block.timestamp + EXPIRY, "plain", address(0));
        vm.prank(client);
        escrow.setBudget(jobId, BUDGET, "");
        vm.prank(client);
        escrow.fund(jobId, BUDGET, "");
    }

    function test_evaluator_rejects_funded_or_submitted_jobs_with_a_refund() public {
        address judge = address(0x1D6E);
        uint256 client0 = bal(client);
        uint256 a = plainJob(judge);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, a, stranger));
        escrow.reject(a, "", "");
        vm.expectEmit(true, true, true, true, address(escrow));
        emit AgenticCommerce.Refunded(a, client, BUDGET);
        vm.prank(judge);
        escrow.reject(a, "funded", "");
        assertEq(bal(client), client0, "refunded from Funded");

        uint256 b = plainJob(judge);
        vm.prank(judge);
        vm.expectRevert(
            abi.encodeWithSelector(AgenticCommerce.WrongStatus.selector, b, AgenticCommerce.Status.Funded)
        );
        escrow.complete(b, "", "");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, b, stranger));
        escrow.submit(b, bytes32(uint256(1)), "");
        vm.prank(provider);
        escrow.submit(b, bytes32(uint256(1)), "");
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.Unauthorized.selector, b, provider));
        escrow.complete(b, "", "");
        vm.prank(judge);
        escrow.reject(b, "submitted", "");
        assertEq(bal(client), client0, "refunded from Submitted");
        assertEq(bal(address(escrow)), 0, "escrow empty");

        uint256 c = plainJob(judge);
        uint256 provider0 = bal(provider);
        vm.prank(provider);
        escrow.submit(c, bytes32(uint256(2)), "");
        vm.prank(judge);
        escrow.complete(c, "good", "");
        assertEq(bal(provider), provider0 + BUDGET, "paid");
        vm.prank(judge);
        vm.expectRevert(
            abi.encodeWithSelector(AgenticCommerce.WrongStatus.selector, c, AgenticCommerce.Status.Completed)
        );
        escrow.reject(c, "", "");
    }

    function test_claimRefund_only_after_expiry_of_funded_or_submitted_jobs() public {
        uint256 jobId = openJob(BUDGET);
        vm.expectRevert(
            abi.encodeWithSelector(AgenticCommerce.WrongStatus.selector, jobId, AgenticCommerce.Status.Open)
        );
        escrow.claimRefund(jobId);
        fundJob(jobId, BUDGET, BOND);
        uint256 expiredAt = escrow.getJob(jobId).expiredAt;
        vm.warp(expiredAt - 1);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.NotExpired.selector, jobId, expiredAt));
        escrow.claimRefund(jobId);
        vm.warp(expiredAt);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit AgenticCommerce.Refunded(jobId, client, BUDGET);
        vm.prank(stranger);
        escrow.claimRefund(jobId);
    }

    function test_fund_after_expiry_is_refused() public {
        uint256 jobId = openJob(BUDGET);
        uint256 expiredAt = escrow.getJob(jobId).expiredAt;
        vm.warp(expiredAt);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(AgenticCommerce.ExpiryNotInFuture.selector, expiredAt));
        escrow.fund(jobId, BUDGET, terms(MODEL, BOND));
    }

    function test_claimRefund_works_with_a_hook_that_always_reverts() public {
        ToggleHook hook = new ToggleHook();
        uint256 client0 = bal(client);
        vm.prank(client);
        uint256 jobId =
            escrow.createJob(provider, stranger, block.timestamp + EXPIRY, "hooked", address(hook));
        vm.prank(client);
        escrow.setBudget(jobId, BUDGET, "");
        vm.prank(client);
        escrow.fund(jobId, BUDGET, "");
        vm.prank(provider);
        escrow.submit(jobId, bytes32(uint256(1)), "");
        hook.breakIt();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ToggleHook.HookBroken.selector));
        escrow.complete(jobId, "", "");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ToggleHook.HookBroken.selector));
        escrow.reject(jobId, "", "");
        vm.warp(block.timestamp + EXPIRY);
        escrow.claimRefund(jobId);
        assertEq(bal(client), client0, "refunded despite the hook");
        assertTrue(statusOf(jobId) == AgenticCommerce.Status.Expired, "expired");
    }

    function test_hooks_get_the_standard_data_and_at_most_HOOK_GAS() public {
        RecordingHook hook = new RecordingHook();
        vm.prank(client);
        uint256 jobId =
            escrow.createJob(address(0), stranger, block.timestamp + EXPIRY, "hooked", address(hook));
        vm.prank(client);
        escrow.setProvider(jobId, provider, "p");
        vm.prank(provider);
        escrow.setBudget(jobId, BUDGET, "b");
        vm.prank(client);
        escrow.fund(jobId, BUDGET, "f");
        vm.prank(provider);
        escrow.submit(jobId, bytes32(uint256(5)), "s");
        vm.prank(stranger);
        escrow.complete(jobId, bytes32(uint256(6)), "c");
        assertEq(hook.count(), 10, "before and after each of five actions");
        bytes4[5] memory selectors = [
            AgenticCommerce.setProvider.selector,
            AgenticCommerce.setBudget.selector,
            AgenticCommerce.fund.selector,
            AgenticCommerce.submit.selector,
            AgenticCommerce.complete.selector
        ];
        bytes[5] memory data = [
            abi.encode(provider, bytes("p")),
            abi.encode(BUDGET, bytes("b")),
            bytes("f"),
            abi.encode(bytes32(uint256(5)), bytes("s")),
            abi.encode(bytes32(uint256(6)), bytes("c"))
        ];
        for (uint256 i; i < 10; ++i) {
            RecordingHook.Call memory call = hook.get(i);
            assertTrue(call.before == (i % 2 == 0), "before, then after");
            assertEq(call.jobId, jobId, "job id");
            assertTrue(call.selector == selectors[i / 2], "selector");
            assertEq(call.data, data[i / 2], "data");
            assertLe(call.gas, escrow.HOOK_GAS(), "capped");
        }

        // A hook that burns its gas makes the action revert, and only its capped gas is lost.
        uint256 other = plainHooked(hook);
        hook.setBurn(true);
        vm.prank(client);
        uint256 before = gasleft();
        vm.expectRevert();
        escrow.fund(other, BUDGET, "");
        assertLe(before - gasleft(), escrow.HOOK_GAS() + 100_000, "the hook had HOOK_GAS, not all");
    }

    function plainHooked(RecordingHook hook) internal returns (uint256 jobId) {
        vm.prank(client);
        jobId = escrow.createJob(provider, stranger, block.timestamp + EXPIRY, "hooked", address(hook));
        vm.prank(client);
        escrow.setBudget(jobId, BUDGET, "");
    }

    // ---------------------------------------------------------------------------------------
    // The council: membership and arbitration
    // ---------------------------------------------------------------------------------------

    function test_join_and_leave() public {
        address v = address(0x7A2000);
        vm.prank(v);
        uint256 agentId = identity.register("ipfs://v");
        token.faucet(v, 2 * MIN_STAKE);
        vm.prank(v);
        token.approve(address(council), type(uint256).max);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NotAgentOf.selector, providerAgent, v));
        council.join(providerAgent, MIN_STAKE);
        vm.prank(v);
        vm.expectRevert(
            abi.encodeWithSelector(ValidatorCouncil.StakeTooLow.selector, MIN_STAKE - 1, MIN_STAKE)
        );
        council.join(agentId, MIN_STAKE - 1);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NotValidator.selector, v));
        council.leave();
        vm.prank(v);
        council.join(agentId, MIN_STAKE);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.AlreadyJoined.selector, v));
        council.join(agentId, MIN_STAKE);
        assertEq(council.roster().length, VALIDATORS + 1, "on the roster");
        vm.prank(v);
        council.leave();
        assertEq(bal(v), 2 * MIN_STAKE, "stake back");
        vm.prank(v);
        council.join(agentId, MIN_STAKE);
        assertEq(council.roster().length, VALIDATORS + 1, "not listed twice");
    }

    function test_a_drawn_juror_cannot_leave_until_executed() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        address juror = jurorsOf(disputeId)[0];
        vm.prank(juror);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.StakeLocked.selector, juror, 1));
        council.leave();
        vote(disputeId, votes(WRONG, WRONG, WRONG));
        council.execute(disputeId);
        vm.prank(juror);
        council.leave();
    }

    function test_not_enough_validators_refuses_the_challenge() public {
        for (uint256 i; i < VALIDATORS - 2; ++i) {
            vm.prank(validators[i]);
            council.leave();
        }
        uint256 jobId = submittedJob(BUDGET, BOND);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NotEnoughValidators.selector, 2, 3));
        evaluator.challenge(jobId, "");
    }

    function test_a_zero_commitment_is_refused() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        address juror = jurorsOf(disputeId)[0];
        // Counted, a zero commitment could be repeated until the reveals open early.
        vm.prank(juror);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NotCommitted.selector, disputeId, juror));
        council.commit(disputeId, bytes32(0));
        assertEq(council.getDispute(disputeId).commits, 0, "not counted");
    }

    function test_another_arbitrable_gets_its_ruling() public {
        RecordingArbitrable arbitrable = new RecordingArbitrable(council);
        token.faucet(address(arbitrable), COST);
        uint256 disputeId = arbitrable.open();
        vote(disputeId, votes(WRONG, STANDS, WRONG));
        vm.expectEmit(true, true, true, true, address(council));
        emit IArbitratorV2.Ruling(IArbitrableV2(address(arbitrable)), disputeId, WRONG);
        council.execute(disputeId);
        assertEq(arbitrable.rulings(), 1, "ruled once");
        assertEq(arbitrable.lastRuling(), WRONG, "the majority");
    }

    /// Anyone may raise a dispute, from an account without code too: its execution must still
    /// release (and pay) the jurors, or their stakes would stay locked for good.
    function test_execute_survives_an_arbitrable_without_code() public {
        uint256 disputeId = council.disputeCount();
        vm.prank(stranger);
        assertEq(council.createDispute(2, "", token, COST), disputeId, "dispute id");
        address[] memory jurors = jurorsOf(disputeId);
        uint256[] memory b0 = balances();
        vote(disputeId, votes(STANDS, STANDS, STANDS));
        vm.expectEmit(true, true, true, true, address(council));
        emit ValidatorCouncil.RulingNotDelivered(disputeId, "");
        council.execute(disputeId);
        for (uint256 i; i < 3; ++i) {
            assertEq(council.validator(jurors[i]).openDisputes, 0, "released");
            assertEq(bal(jurors[i]), b0[7 + indexOf(jurors[i])] + FEE_PER_JUROR, "paid");
            vm.prank(jurors[i]);
            council.leave();
        }
    }

    /// An arbitrable whose `rule` reverts with all the data its gas pays for, or burns all its
    /// gas, cannot make the execution run out of gas.
    function test_execute_survives_a_returnbomb_or_a_gas_burning_arbitrable() public {
        for (uint256 k; k < 2; ++k) {
            BombArbitrable bomb = new BombArbitrable(council, k == 1);
            token.faucet(address(bomb), COST);
            uint256 disputeId = bomb.open();
            address[] memory jurors = jurorsOf(disputeId);
            vote(disputeId, votes(STANDS, STANDS, STANDS));
            vmj.recordLogs();
            council.execute{gas: 10_000_000}(disputeId);
            VmJobs.Log[] memory logs = vmj.getRecordedLogs();
            VmJobs.Log memory last = logs[logs.length - 1];
            assertEq(last.topics[0], ValidatorCouncil.RulingNotDelivered.selector, "not delivered");
            bytes memory reason = abi.decode(last.data, (bytes));
            assertEq(reason.length, k == 0 ? 256 : 0, "at most 256 bytes of revert data kept");
            for (uint256 i; i < 3; ++i) {
                assertEq(council.validator(jurors[i]).openDisputes, 0, "released");
            }
        }
    }

    /// Whatever gas the caller of `execute` gives, it either reverts or delivers the ruling
    /// (with its feedback): a losing provider cannot have the dispute executed without its
    /// ruling, to take its bond back at expiry.
    function test_execute_cannot_be_starved_into_dropping_the_ruling() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 disputeId = challengeJob(jobId, challenger);
        vote(disputeId, votes(WRONG, WRONG, WRONG));
        uint256 delivered;
        for (uint256 g = 150_000; g < 1_400_000; g += 4_999) {
            uint256 outcome = attempt(abi.encodeCall(this.tryExecute, (jobId, disputeId, g)));
            assertTrue(outcome != 2, "executed without delivering the ruling");
            if (outcome == 1) ++delivered;
        }
        assertTrue(delivered > 0, "enough gas delivers it");
        vmj.expectPartialRevert(ValidatorCouncil.NotEnoughGas.selector);
        council.execute{gas: 600_000}(disputeId);
    }

    /// Nor can the caller of `finalize` or `settle` drop the provider's feedback.
    function test_settlements_cannot_be_starved_into_dropping_the_feedback() public {
        uint256 jobId = submittedJob(BUDGET, BOND);
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        uint256 done;
        for (uint256 g = 60_000; g < 900_000; g += 2_999) {
            uint256 outcome = attempt(abi.encodeCall(this.trySettle, (jobId, true, g)));
            assertTrue(outcome != 2, "finalized without feedback");
            if (outcome == 1) ++done;
        }
        assertTrue(done > 0, "enough gas finalizes");

        uint256 job2 = openJob(BUDGET);
        fundJob(job2, BUDGET, BOND);
        acceptJob(job2);
        vm.warp(block.timestamp + EXPIRY);
        escrow.claimRefund(job2);
        done = 0;
        for (uint256 g = 40_000; g < 900_000; g += 2_999) {
            uint256 outcome = attempt(abi.encodeCall(this.trySettle, (job2, false, g)));
            assertTrue(outcome != 2, "settled without feedback");
            if (outcome == 1) ++done;
        }
        assertTrue(done > 0, "enough gas settles");
    }

    error Outcome(uint256 outcome);

    /// Runs `call` on this contract, which always reverts with `Outcome` (so nothing it did
    /// stays): 0 = the step reverted, 1 = it settled with feedback, 2 = it settled without.
    function attempt(bytes memory call) internal returns (uint256) {
        (bool ok, bytes memory returned) = address(this).call(call);
        require(!ok && returned.length == 36 && bytes4(returned) == Outcome.selector, "unexpected");
        assembly ("memory-safe") {
            returned := add(returned, 4)
        }
        return abi.decode(returned, (uint256));
    }

    function tryExecute(uint256 jobId, uint256 disputeId, uint256 g) external {
        try council.execute{gas: g}(disputeId) {
            bool settled = phaseOf(jobId) == JobEvaluator.Phase.Settled;
            revert Outcome(settled && feedbackCount() == 1 ? 1 : 2);
        } catch {
            revert Outcome(0);
        }
    }

    function trySettle(uint256 jobId, bool viaFinalize, uint256 g) external {
        if (viaFinalize) {
            try evaluator.finalize{gas: g}(jobId) {
                revert Outcome(feedbackCount() == 1 ? 1 : 2);
            } catch {
                revert Outcome(0);
            }
        } else {
            try evaluator.settle{gas: g}(jobId) {
                revert Outcome(feedbackCount() == 1 ? 1 : 2);
            } catch {
                revert Outcome(0);
            }
        }
    }

    function test_council_fee_rules() public {
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.NativeFeesNotAccepted.selector));
        council.createDispute(2, "");
        assertEq(council.arbitrationCost(""), type(uint256).max, "no native fees");
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.WrongFeeToken.selector, address(0xBAD)));
        council.arbitrationCost("", IERC20(address(0xBAD)));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.FeeTooLow.selector, COST - 1, COST));
        council.createDispute(2, "", token, COST - 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ValidatorCouncil.InvalidChoices.selector, 1));
        council.createDispute(1, "", token, COST);
    }

    // ---------------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------------

    function testFuzz_honest_path_any_amounts(uint256 budget, uint256 bond) public {
        budget = bound(budget, 1, 500_000e6);
        bond = bound(bond, 2 * COST, 500_000e6);
        uint256 client0 = bal(client);
        uint256 provider0 = bal(provider);
        uint256 sum0 = total();
        uint256 jobId = submittedJob(budget, bond);
        assertEq(bal(address(escrow)), budget, "escrow holds the budget");
        assertEq(bal(address(evaluator)), bond, "evaluator holds the bond");
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        evaluator.finalize(jobId);
        assertEq(bal(provider), provider0 + budget, "provider");
        assertEq(bal(client), client0 - budget, "client");
        assertEq(total(), sum0, "conserved");
    }

    function testFuzz_challenge_and_finalize_timing(uint256 offset) public {
        offset = bound(offset, 0, 2 * CHALLENGE_WINDOW);
        uint256 jobId = submittedJob(BUDGET, BOND);
        uint256 submittedAt = block.timestamp;
        uint256 closesAt = submittedAt + CHALLENGE_WINDOW;
        vm.warp(submittedAt + offset);
        if (offset < CHALLENGE_WINDOW) {
            vm.expectRevert(
                abi.encodeWithSelector(JobEvaluator.ChallengeWindowOpen.selector, jobId, closesAt)
            );
            evaluator.finalize(jobId);
            challengeJob(jobId, challenger);
            assertTrue(phaseOf(jobId) == JobEvaluator.Phase.Challenged, "challenged in time");
        } else {
            vm.prank(challenger);
            vm.expectRevert(
                abi.encodeWithSelector(JobEvaluator.ChallengeWindowClosed.selector, jobId, closesAt)
            );
            evaluator.challenge(jobId, "");
            evaluator.finalize(jobId);
            assertTrue(phaseOf(jobId) == JobEvaluator.Phase.Settled, "finalized");
        }
    }

    /// Each juror: 0 = no-show, 1 = stands, 2 = wrong. The ruling, the juror payouts and the
    /// bond split follow the rules; nothing is created or lost.
    function testFuzz_juror_votes_and_amounts(
        uint8 a,
        uint8 b,
        uint8 c,
        uint256 budget,
        uint256 bond,
        uint256 seed
    ) public {
        uint256[] memory choices = votes(a % 3, b % 3, c % 3);
        budget = bound(budget, 1, 500_000e6);
        bond = bound(bond, 2 * COST, 500_000e6);
        vmj.prevrandao(seed);
        uint256 jobId = submittedJob(budget, bond);
        uint256[] memory b0 = balances();
        uint256 sum0 = total();
        uint256 disputeId = challengeJob(jobId, challenger);
        vote(disputeId, choices);
        council.execute(disputeId);

        uint256 ruling = expectedRuling(choices);
        assertEq(council.getDispute(disputeId).ruling, ruling, "ruling");
        assertEq(evaluator.getCase(jobId).ruling, ruling, "delivered");
        uint256 winners = checkJurors(jurorsOf(disputeId), choices, ruling, b0);
        checkParties(ruling, budget, bond, b0);
        assertEq(
            bal(address(council)),
            VALIDATORS * MIN_STAKE - (3 - winners) * SLASH + council.carried(),
            "council"
        );
        assertEq(total(), sum0, "conserved");
    }

    function expectedRuling(uint256[] memory choices) internal pure returns (uint256) {
        uint256 n1;
        uint256 n2;
        for (uint256 i; i < choices.length; ++i) {
            if (choices[i] == 1) ++n1;
            if (choices[i] == 2) ++n2;
        }
        return n1 > n2 ? 1 : n2 > n1 ? 2 : 0;
    }

    /// The coherent jurors share the fee and the slashes (the first one the dust); the others
    /// are slashed; with no coherent juror the pot is carried. Returns how many were coherent.
    function checkJurors(
        address[] memory jurors,
        uint256[] memory choices,
        uint256 ruling,
        uint256[] memory b0
    ) internal view returns (uint256 winners) {
        uint256 pot = COST;
        bool[] memory coherent = new bool[](3);
        for (uint256 i; i < 3; ++i) {
            coherent[i] = choices[i] != 0 && (ruling == 0 || choices[i] == ruling);
            if (coherent[i]) ++winners;
            else pot += SLASH;
        }
        bool first = true;
        for (uint256 i; i < 3; ++i) {
            uint256 before = b0[7 + indexOf(jurors[i])];
            if (coherent[i]) {
                uint256 share = pot / winners;
                if (first) share += pot - share * winners;
                first = false;
                assertEq(bal(jurors[i]), before + share, "coherent juror's share");
                assertEq(stakeOf(jurors[i]), MIN_STAKE, "coherent juror keeps its stake");
            } else {
                assertEq(bal(jurors[i]), before, "incoherent juror unpaid");
                assertEq(stakeOf(jurors[i]), MIN_STAKE - SLASH, "incoherent juror slashed");
            }
        }
        assertEq(council.carried(), winners == 0 ? pot : 0, "carried only without winners");
    }

    function checkParties(uint256 ruling, uint256 budget, uint256 bond, uint256[] memory b0) internal view {
        if (ruling == 1) {
            assertEq(bal(provider), b0[1] + budget + 2 * bond, "provider");
            assertEq(bal(client), b0[0], "client");
            assertEq(bal(challenger), b0[2] - bond - COST, "challenger");
        } else if (ruling == 2) {
            assertEq(bal(provider), b0[1], "provider");
            assertEq(bal(client), b0[0] + budget + bond - bond / 2, "client");
            assertEq(bal(challenger), b0[2] + bond / 2 - COST, "challenger");
        } else {
            assertEq(bal(provider), b0[1] + bond, "provider");
            assertEq(bal(client), b0[0] + budget, "client");
            assertEq(bal(challenger), b0[2] - COST, "challenger");
        }
        assertEq(bal(address(escrow)) + bal(address(evaluator)), 0, "nothing held");
    }

    // ---------------------------------------------------------------------------------------
    // Gas
    // ---------------------------------------------------------------------------------------

    /// Gas of each step, measured around the call alone (inside one test transaction, so
    /// accounts and slots touched before are warm; `forge test --isolate --gas-report` gives
    /// per-transaction figures). A ~1 KB delivery and a ~1 KB evidence.
    function test_gas() public {
        bytes memory kilobyte = new bytes(1024);
        for (uint256 i; i < 1024; ++i) {
            kilobyte[i] = bytes1(uint8(i * 7 + 1));
        }
        address v = address(0x7A3000);
        vm.prank(v);
        uint256 agentId = identity.register("ipfs://v");
        token.faucet(v, MIN_STAKE);
        vm.prank(v);
        token.approve(address(council), MIN_STAKE);
        vm.prank(v);
        uint256 g = gasleft();
        council.join(agentId, MIN_STAKE);
        emit log_named_uint("join", g - gasleft());

        vm.prank(client);
        g = gasleft();
        uint256 jobId = escrow.createJob(
            provider, address(evaluator), block.timestamp + EXPIRY, "summarize ipfs://doc", address(evaluator)
        );
        emit log_named_uint("createJob", g - gasleft());
        vm.prank(client);
        g = gasleft();
        escrow.setBudget(jobId, BUDGET, "");
        emit log_named_uint("setBudget (hooked)", g - gasleft());
        bytes memory t = terms(MODEL, BOND);
        vm.prank(client);
        g = gasleft();
        escrow.fund(jobId, BUDGET, t);
        emit log_named_uint("fund (terms, through the hook)", g - gasleft());
        vm.prank(provider);
        g = gasleft();
        evaluator.accept(jobId, providerAgent);
        emit log_named_uint("accept (bond)", g - gasleft());
        bytes32 deliverable = keccak256(kilobyte);
        bytes memory opt = abi.encode(MODEL, kilobyte);
        vm.prank(provider);
        g = gasleft();
        escrow.submit(jobId, deliverable, opt);
        emit log_named_uint("submit (1 KB delivery)", g - gasleft());
        vm.prank(challenger);
        g = gasleft();
        uint256 disputeId = evaluator.challenge(jobId, kilobyte);
        emit log_named_uint("challenge (1 KB evidence, createDispute + draw)", g - gasleft());
        address[] memory jurors = jurorsOf(disputeId);
        for (uint256 i; i < 3; ++i) {
            bytes32 commitment = council.commitmentOf(disputeId, jurors[i], WRONG, salt(jurors[i]));
            vm.prank(jurors[i]);
            g = gasleft();
            council.commit(disputeId, commitment);
            if (i == 0) emit log_named_uint("commit", g - gasleft());
        }
        for (uint256 i; i < 3; ++i) {
            vm.prank(jurors[i]);
            g = gasleft();
            council.reveal(disputeId, WRONG, salt(jurors[i]), bytes32(uint256(1)));
            if (i == 0) emit log_named_uint("reveal", g - gasleft());
        }
        g = gasleft();
        council.execute(disputeId);
        emit log_named_uint("execute (ruling 2, rule, payouts)", g - gasleft());

        uint256 job2 = submittedJob(BUDGET, BOND);
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        g = gasleft();
        evaluator.finalize(job2);
        emit log_named_uint("finalize", g - gasleft());

        uint256 job3 = openJob(BUDGET);
        fundJob(job3, BUDGET, BOND);
        acceptJob(job3);
        vm.warp(block.timestamp + EXPIRY);
        g = gasleft();
        escrow.claimRefund(job3);
        emit log_named_uint("claimRefund", g - gasleft());
        g = gasleft();
        evaluator.settle(job3);
        emit log_named_uint("settle (undelivered: bond to client)", g - gasleft());
    }
}
