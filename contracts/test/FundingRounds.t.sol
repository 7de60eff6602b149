// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {FundingTest, TestMerkle, TestArbitrator} from "./utils/FundingTest.sol";
import {OptimisticDistributor} from "../src/OptimisticDistributor.sol";
import {DeepFundingRound} from "../src/DeepFundingRound.sol";
import {QuadraticFundingRound} from "../src/QuadraticFundingRound.sol";
import {IArbitrableV2, IArbitratorV2} from "../src/IArbitration.sol";

contract FundingRoundsTest is FundingTest {
    event GraphPublished(uint256 indexed roundId, bytes graph);
    event SubmissionRevealed(
        uint256 indexed roundId, uint256 indexed index, address indexed solver, bytes data
    );
    event SampleDrawn(uint256 indexed roundId, bytes32 seed);
    event JuryRevealed(uint256 indexed roundId, address indexed juror, bytes answers);
    event ResultPosted(uint256 indexed roundId, address indexed poster, bytes32 root, bytes32 resultHash);
    event ResultChallenged(
        uint256 indexed roundId, address indexed challenger, uint256 indexed disputeId, bytes32 correctRoot
    );
    event ResultFinal(uint256 indexed roundId, bytes32 root, bytes32 resultHash);
    event ResultCleared(uint256 indexed roundId, uint256 indexed disputeId);
    event Claimed(uint256 indexed roundId, uint256 indexed index, address indexed account, uint256 amount);
    event Swept(uint256 indexed roundId, uint256 amount);
    event Donated(uint256 indexed roundId, uint32 indexed project, address indexed donor, uint256 amount);

    bytes32 internal constant RESULT = keccak256("the result document");
    bytes32 internal constant OTHER_RESULT = keccak256("the challenger's result document");

    function setUp() public {
        setUpFunding();
    }

    function stateOf(uint256 roundId) internal view returns (OptimisticDistributor.PayoutState) {
        return deep.payout(roundId).state;
    }

    function postDeep(uint256 roundId, bytes32 root) internal {
        vm.prank(poster);
        deep.postResult(roundId, root, RESULT, POOL);
    }

    function deepRoot() internal view returns (bytes32) {
        (address[] memory accounts, uint256[] memory amounts) = deepPayout();
        return TestMerkle.root(TestMerkle.leaves(accounts, amounts));
    }

    function otherRoot() internal view returns (bytes32) {
        (address[] memory accounts, uint256[] memory amounts) = otherPayout();
        return TestMerkle.root(TestMerkle.leaves(accounts, amounts));
    }

    // ---------------------------------------------------------------------------------------
    // The whole deep-funding round
    // ---------------------------------------------------------------------------------------

    function test_deep_round_end_to_end_conserves_the_pool() public {
        uint256 funder0 = bal(funder);
        uint256 roundId = e2eCreate();
        e2eSolvers(roundId);
        e2eSampleAndJury(roundId);
        e2ePostAndFinalize(roundId);
        uint256 claimedSum = e2eClaims(roundId);
        uint256 swept = e2eSweep(roundId, claimedSum);
        assertEq(claimedSum + swept, POOL, "claims + sweep == pool");
        assertEq(bal(funder), funder0 - POOL + swept, "the funder paid the pool, got the sweep");
        assertEq(bal(address(deep)), 0, "nothing left behind");
    }

    function e2eCreate() internal returns (uint256 roundId) {
        uint256 funder0 = bal(funder);
        vm.prank(funder);
        roundId = deep.createRound(deepParams(), twoJurors());
        assertEq(roundId, 1, "round ids start at 1");
        assertEq(bal(address(deep)), POOL, "the pool is held");
        assertEq(bal(funder), funder0 - POOL, "taken from the funder");
        assertTrue(deep.isJuror(roundId, juror1) && deep.isJuror(roundId, juror2), "jurors");
        assertTrue(!deep.isJuror(roundId, stranger), "not a juror");
        assertEq(deep.jurors(roundId).length, 2, "two jurors");
        assertEq(deep.round(roundId).funder, funder, "funder");

        vm.expectEmit(true, true, true, true, address(deep));
        emit GraphPublished(roundId, graph());
        vm.prank(stranger);
        deep.publishGraph(roundId, graph());
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.GraphMismatch.selector, roundId));
        deep.publishGraph(roundId, "another graph");
    }

    function e2eSolvers(uint256 roundId) internal {
        uint256 solverA0 = bal(solverA);
        uint256 solverB0 = bal(solverB);
        // Two solvers commit (indices in commit order), staking.
        assertEq(commitSolver(roundId, solverA), 0, "first commitment is index 0");
        assertEq(commitSolver(roundId, solverB), 1, "second is index 1");
        assertEq(deep.submissionCount(roundId), 2, "two submissions");
        assertEq(bal(address(deep)), POOL + 2 * STAKE, "stakes held");
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.AlreadyCommitted.selector, roundId, solverA));
        vm.prank(solverA);
        deep.commit(roundId, bytes32(uint256(1)));

        // Reveals after the commit deadline, stakes returned.
        vm.warp(deep.round(roundId).params.commitDeadline + 1);
        vm.expectEmit(true, true, true, true, address(deep));
        emit SubmissionRevealed(roundId, 0, solverA, submissionOf(solverA));
        revealSolver(roundId, solverA);
        revealSolver(roundId, solverB);
        DeepFundingRound.Submission memory s = deep.submission(roundId, 1);
        assertEq(s.solver, solverB, "solver");
        assertEq(s.commitment, commitment(roundId, solverB, s.dataHash, saltOf(solverB)), "commitment");
        assertEq(s.dataHash, keccak256(submissionOf(solverB)), "data hash kept");
        assertTrue(s.revealed, "revealed");
        assertEq(bal(solverA), solverA0, "stake back");
        assertEq(bal(solverB), solverB0, "stake back");
        assertEq(deep.round(roundId).revealed, 2, "two revealed");
    }

    function e2eSampleAndJury(uint256 roundId) internal {
        vmf.prevrandao(0x1234);
        bytes32 expectedSeed = keccak256(abi.encode(blockhash(block.number - 1), uint256(0x1234), roundId));
        vm.expectEmit(true, true, true, true, address(deep));
        emit SampleDrawn(roundId, expectedSeed);
        deep.drawSample(roundId);
        assertEq(deep.seed(roundId), expectedSeed, "seed");
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.SampleAlreadyDrawn.selector, roundId));
        deep.drawSample(roundId);

        commitJuror(roundId, juror1);
        commitJuror(roundId, juror2);
        vm.warp(deep.round(roundId).params.juryCommitDeadline + 1);
        vm.expectEmit(true, true, true, true, address(deep));
        emit JuryRevealed(roundId, juror1, answersOf(juror1));
        revealJuror(roundId, juror1);
        revealJuror(roundId, juror2);
        DeepFundingRound.JuryAnswer memory a = deep.juryAnswer(roundId, juror2);
        assertEq(a.answersHash, keccak256(answersOf(juror2)), "answers hash kept");
        assertTrue(a.revealed, "juror revealed");
    }

    function e2ePostAndFinalize(uint256 roundId) internal {
        uint256 poster0 = bal(poster);
        uint64 juryRevealDeadline = deep.round(roundId).params.juryRevealDeadline;
        bytes32 root = deepRoot();
        // Not before the jury reveal deadline.
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.ScoringNotOpen.selector, roundId, juryRevealDeadline + 1)
        );
        postDeep(roundId, root);
        vm.warp(juryRevealDeadline + 1);
        vm.expectEmit(true, true, true, true, address(deep));
        emit ResultPosted(roundId, poster, root, RESULT);
        postDeep(roundId, root);
        assertEq(bal(poster), poster0 - BOND, "bond posted");
        OptimisticDistributor.Payout memory po = deep.payout(roundId);
        assertEq(po.root, root, "root");
        assertEq(po.resultHash, RESULT, "result hash");
        assertEq(po.poster, poster, "poster");
        assertEq(po.bond, BOND, "bond");
        assertEq(po.challengeEnd, block.timestamp + CHALLENGE_WINDOW, "challenge end");
        assertTrue(po.state == OptimisticDistributor.PayoutState.Posted, "posted");

        // The window: no claims, no finalize until it is over; no challenge after it.
        (address[] memory accounts, uint256[] memory amounts) = deepPayout();
        bytes32[] memory proof = TestMerkle.proof(TestMerkle.leaves(accounts, amounts), 0);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.NotFinal.selector, roundId));
        deep.claim(roundId, 0, accounts[0], amounts[0], proof);
        vm.expectRevert(
            abi.encodeWithSelector(OptimisticDistributor.ChallengeOpen.selector, roundId, po.challengeEnd)
        );
        deep.finalize(roundId);
        vm.warp(po.challengeEnd + 1);
        bytes32 other = otherRoot();
        vm.expectRevert(
            abi.encodeWithSelector(OptimisticDistributor.ChallengeClosed.selector, roundId, po.challengeEnd)
        );
        vm.prank(challenger);
        deep.challenge(roundId, other, OTHER_RESULT);
        vm.expectEmit(true, true, true, true, address(deep));
        emit ResultFinal(roundId, root, RESULT);
        vm.prank(stranger);
        deep.finalize(roundId);
        assertEq(bal(poster), poster0, "the poster's bond is returned");
        assertEq(deep.payout(roundId).finalAt, block.timestamp, "final at");
    }

    /// Claims (by a relayer, paid to the accounts); projectY (leaf 3) does not claim.
    function e2eClaims(uint256 roundId) internal returns (uint256 claimedSum) {
        (address[] memory accounts, uint256[] memory amounts) = deepPayout();
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        for (uint256 i; i < 3; ++i) {
            uint256 before = bal(accounts[i]);
            bytes32[] memory proof = TestMerkle.proof(nodes, i);
            vm.expectEmit(true, true, true, true, address(deep));
            emit Claimed(roundId, i, accounts[i], amounts[i]);
            vm.prank(relayer);
            deep.claim(roundId, i, accounts[i], amounts[i], proof);
            assertEq(bal(accounts[i]), before + amounts[i], "paid to the account");
            assertTrue(deep.isClaimed(roundId, i), "marked claimed");
            claimedSum += amounts[i];
        }
        assertTrue(!deep.isClaimed(roundId, 3), "leaf 3 unclaimed");
        assertEq(deep.payout(roundId).claimed, claimedSum, "claimed total");
    }

    /// The sweep: only the funder, only after the claim period; claims end with it.
    function e2eSweep(uint256 roundId, uint256 claimedSum) internal returns (uint256 swept) {
        uint256 endsAt = block.timestamp + CLAIM_PERIOD;
        vm.expectRevert(
            abi.encodeWithSelector(OptimisticDistributor.ClaimPeriodOpen.selector, roundId, endsAt)
        );
        vm.prank(funder);
        deep.sweep(roundId);
        vm.warp(endsAt + 1);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.NotFunder.selector, roundId, stranger));
        vm.prank(stranger);
        deep.sweep(roundId);
        uint256 funderBefore = bal(funder);
        vm.expectEmit(true, true, true, true, address(deep));
        emit Swept(roundId, POOL - claimedSum);
        vm.prank(funder);
        deep.sweep(roundId);
        swept = bal(funder) - funderBefore;
        (address[] memory accounts, uint256[] memory amounts) = deepPayout();
        assertEq(swept, amounts[3], "the unclaimed leaf goes back to the funder");
        assertTrue(deep.payout(roundId).swept, "swept");

        bytes32[] memory proof = TestMerkle.proof(TestMerkle.leaves(accounts, amounts), 3);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.ClaimPeriodOver.selector, roundId));
        deep.claim(roundId, 3, accounts[3], amounts[3], proof);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.ClaimPeriodOver.selector, roundId));
        vm.prank(funder);
        deep.sweep(roundId);
    }

    function test_claims_are_taken_after_the_claim_period_until_the_sweep() public {
        uint256 roundId = scoredDeep();
        postDeep(roundId, deepRoot());
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        deep.finalize(roundId);
        vm.warp(block.timestamp + CLAIM_PERIOD + 100);
        (address[] memory accounts, uint256[] memory amounts) = deepPayout();
        claimAll(roundId, accounts, amounts);
        assertEq(deep.payout(roundId).claimed, POOL, "all claimed");
        vm.prank(funder);
        deep.sweep(roundId);
        assertEq(bal(address(deep)), 0, "empty");
    }

    // ---------------------------------------------------------------------------------------
    // T11: commit–reveal, jury, claims
    // ---------------------------------------------------------------------------------------

    function test_reveal_not_matching_the_commitment_reverts() public {
        uint256 roundId = createDeep();
        commitSolver(roundId, solverA);
        vm.warp(deep.round(roundId).params.commitDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.CommitMismatch.selector, roundId, solverA));
        vm.prank(solverA);
        deep.reveal(roundId, "other weights", saltOf(solverA));
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.CommitMismatch.selector, roundId, solverA));
        vm.prank(solverA);
        deep.reveal(roundId, submissionOf(solverA), bytes32(uint256(7)));
        // The right one goes through, once.
        revealSolver(roundId, solverA);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.AlreadyRevealed.selector, roundId, solverA));
        revealSolver(roundId, solverA);
    }

    function test_reveal_windows() public {
        uint256 roundId = createDeep();
        DeepFundingRound.RoundParams memory p = deep.round(roundId).params;
        commitSolver(roundId, solverA);
        commitSolver(roundId, solverB);
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.RevealNotOpen.selector, roundId, p.commitDeadline + 1)
        );
        revealSolver(roundId, solverA);
        vm.warp(p.commitDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.CommitClosed.selector, roundId, p.commitDeadline)
        );
        commitSolver(roundId, stranger);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.NotCommitted.selector, roundId, stranger));
        revealSolver(roundId, stranger);
        revealSolver(roundId, solverA);
        vm.warp(p.revealDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.RevealClosed.selector, roundId, p.revealDeadline)
        );
        revealSolver(roundId, solverB);
    }

    function test_unrevealed_stake_is_forfeited_to_the_funder_pool_untouched() public {
        uint256 roundId = createDeep();
        DeepFundingRound.RoundParams memory p = deep.round(roundId).params;
        uint256 solverB0 = bal(solverB);
        commitSolver(roundId, solverA);
        commitSolver(roundId, solverB);
        vm.warp(p.commitDeadline + 1);
        revealSolver(roundId, solverA);
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.RevealsOpen.selector, roundId, p.revealDeadline)
        );
        vm.prank(funder);
        deep.withdrawForfeited(roundId);
        vm.warp(p.revealDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.NotFunder.selector, roundId, stranger));
        vm.prank(stranger);
        deep.withdrawForfeited(roundId);
        uint256 funder0 = bal(funder);
        vm.prank(funder);
        deep.withdrawForfeited(roundId);
        assertEq(bal(funder), funder0 + STAKE, "the unrevealed stake");
        assertEq(bal(solverB), solverB0 - STAKE, "solver B lost its stake");
        assertEq(bal(address(deep)), POOL, "the pool is untouched");
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.NothingForfeited.selector, roundId));
        vm.prank(funder);
        deep.withdrawForfeited(roundId);
    }

    function test_jury_cannot_reveal_before_the_submission_deadline() public {
        uint256 roundId = createDeep();
        DeepFundingRound.RoundParams memory p = deep.round(roundId).params;
        commitSolver(roundId, solverA);
        // No sample before the commit deadline, so no jury commitment either.
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.SampleNotOpen.selector, roundId, p.commitDeadline + 1)
        );
        deep.drawSample(roundId);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.SampleNotDrawn.selector, roundId));
        commitJuror(roundId, juror1);
        // A reveal before the submissions' deadline is refused.
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.RevealNotOpen.selector, roundId, p.juryCommitDeadline + 1)
        );
        revealJuror(roundId, juror1);
        vm.warp(p.commitDeadline + 1);
        deep.drawSample(roundId);
        commitJuror(roundId, juror1);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.AlreadyCommitted.selector, roundId, juror1));
        commitJuror(roundId, juror1);
        // Still refused until the jury commit deadline has passed too.
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.RevealNotOpen.selector, roundId, p.juryCommitDeadline + 1)
        );
        revealJuror(roundId, juror1);
        vm.warp(p.juryCommitDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.CommitClosed.selector, roundId, p.juryCommitDeadline)
        );
        commitJuror(roundId, juror2);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.CommitMismatch.selector, roundId, juror1));
        vm.prank(juror1);
        deep.juryReveal(roundId, "forged answers", saltOf(juror1));
        revealJuror(roundId, juror1);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.NotCommitted.selector, roundId, juror2));
        revealJuror(roundId, juror2);
        vm.warp(p.juryRevealDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.RevealClosed.selector, roundId, p.juryRevealDeadline)
        );
        revealJuror(roundId, juror1);
    }

    function test_a_juror_not_in_the_set_is_refused() public {
        uint256 roundId = createDeep();
        vm.warp(deep.round(roundId).params.commitDeadline + 1);
        deep.drawSample(roundId);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.NotJuror.selector, roundId, stranger));
        vm.prank(stranger);
        deep.juryCommit(roundId, bytes32(uint256(1)));
        vm.warp(deep.round(roundId).params.juryCommitDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.NotJuror.selector, roundId, stranger));
        vm.prank(stranger);
        deep.juryReveal(roundId, "answers", bytes32(0));
    }

    function test_create_round_validates() public {
        DeepFundingRound.RoundParams memory p = deepParams();
        address[] memory jurors = twoJurors();
        vm.startPrank(funder);

        p.pool = 0;
        vm.expectRevert(DeepFundingRound.EmptyPool.selector);
        deep.createRound(p, jurors);
        p = deepParams();
        p.commitDeadline = uint64(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(DeepFundingRound.DeadlinePassed.selector, block.timestamp, block.timestamp)
        );
        deep.createRound(p, jurors);
        p = deepParams();
        p.revealDeadline = p.commitDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(
                DeepFundingRound.RevealBeforeCommit.selector, p.commitDeadline, p.revealDeadline
            )
        );
        deep.createRound(p, jurors);
        p = deepParams();
        p.juryCommitDeadline = p.commitDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(
                DeepFundingRound.JuryBeforeSubmissions.selector, p.commitDeadline, p.juryCommitDeadline
            )
        );
        deep.createRound(p, jurors);
        p = deepParams();
        p.juryRevealDeadline = p.juryCommitDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(
                DeepFundingRound.JuryRevealBeforeJuryCommit.selector,
                p.juryCommitDeadline,
                p.juryRevealDeadline
            )
        );
        deep.createRound(p, jurors);
        p = deepParams();
        p.revealDeadline = p.juryRevealDeadline + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                DeepFundingRound.JuryRevealBeforeReveal.selector, p.revealDeadline, p.juryRevealDeadline
            )
        );
        deep.createRound(p, jurors);
        p = deepParams();
        p.solverShareBps = 10_001;
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.ShareTooLarge.selector, 10_001));
        deep.createRound(p, jurors);
        p = deepParams();
        vm.expectRevert(DeepFundingRound.NoJurors.selector);
        deep.createRound(p, new address[](0));
        address[] memory dup = new address[](2);
        (dup[0], dup[1]) = (juror1, juror1);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.DuplicateJuror.selector, juror1));
        deep.createRound(p, dup);
        dup[1] = address(0);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.ZeroJuror.selector, 1));
        deep.createRound(p, dup);
        vm.stopPrank();

        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.NoSuchRound.selector, 1));
        deep.round(1);
        assertEq(createDeep(), 1, "a valid round is created");
        assertEq(createDeep(), 2, "ids count up");
    }

    function test_post_result_wrong_total_and_twice() public {
        uint256 roundId = scoredDeep();
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.WrongTotal.selector, POOL - 1, POOL));
        vm.prank(poster);
        deep.postResult(roundId, deepRoot(), RESULT, POOL - 1);
        postDeep(roundId, deepRoot());
        vm.expectRevert(
            abi.encodeWithSelector(
                OptimisticDistributor.WrongState.selector, roundId, OptimisticDistributor.PayoutState.Posted
            )
        );
        vm.prank(challenger);
        deep.postResult(roundId, otherRoot(), OTHER_RESULT, POOL);
    }

    function test_post_result_needs_the_sample() public {
        uint256 roundId = createDeep();
        vm.warp(deep.round(roundId).params.juryRevealDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.SampleNotDrawn.selector, roundId));
        postDeep(roundId, deepRoot());
        vm.expectRevert(abi.encodeWithSelector(DeepFundingRound.NoSuchRound.selector, 9));
        postDeep(9, deepRoot());
    }

    function test_claim_wrong_proof_double_claim_and_unclaimable_leaf() public {
        uint256 roundId = scoredDeep();
        // Leaf 2 has no account: its amount stays with the funder.
        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        (accounts[0], amounts[0]) = (solverA, 2_000e6);
        (accounts[1], amounts[1]) = (projectX, 7_000e6);
        (accounts[2], amounts[2]) = (address(0), 1_000e6);
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        postDeep(roundId, TestMerkle.root(nodes));
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        deep.finalize(roundId);

        bytes32[] memory proof0 = TestMerkle.proof(nodes, 0);
        // Another amount, another account, another index, another leaf's proof: all invalid.
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.InvalidProof.selector, roundId, 0));
        deep.claim(roundId, 0, solverA, amounts[0] + 1, proof0);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.InvalidProof.selector, roundId, 0));
        deep.claim(roundId, 0, stranger, amounts[0], proof0);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.InvalidProof.selector, roundId, 1));
        deep.claim(roundId, 1, solverA, amounts[0], proof0);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.InvalidProof.selector, roundId, 0));
        deep.claim(roundId, 0, solverA, amounts[0], TestMerkle.proof(nodes, 1));
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.Unclaimable.selector, roundId, 2));
        deep.claim(roundId, 2, address(0), amounts[2], TestMerkle.proof(nodes, 2));

        deep.claim(roundId, 0, solverA, amounts[0], proof0);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.AlreadyClaimed.selector, roundId, 0));
        deep.claim(roundId, 0, solverA, amounts[0], proof0);
        deep.claim(roundId, 1, projectX, amounts[1], TestMerkle.proof(nodes, 1));

        vm.warp(block.timestamp + CLAIM_PERIOD + 1);
        uint256 funder0 = bal(funder);
        vm.prank(funder);
        deep.sweep(roundId);
        assertEq(bal(funder), funder0 + amounts[2], "the account-less leaf is swept to the funder");
        assertEq(bal(address(deep)), 0, "empty");
    }

    /// A tree whose leaves add up to more than the pool (a wrong result nobody challenged) can
    /// never pay more than the pool: the round's money, not other rounds', is at stake.
    function test_claims_never_exceed_the_payout_total() public {
        uint256 other = createDeep(); // another round's pool in the same contract
        uint256 roundId = scoredDeep();
        address[] memory accounts = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        (accounts[0], amounts[0]) = (solverA, POOL);
        (accounts[1], amounts[1]) = (solverB, 1);
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        postDeep(roundId, TestMerkle.root(nodes));
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        deep.finalize(roundId);
        deep.claim(roundId, 0, solverA, POOL, TestMerkle.proof(nodes, 0));
        vm.expectRevert(
            abi.encodeWithSelector(OptimisticDistributor.PayoutExceeded.selector, roundId, POOL + 1, POOL)
        );
        deep.claim(roundId, 1, solverB, 1, TestMerkle.proof(nodes, 1));
        assertEq(bal(address(deep)), POOL, "the other round's pool is intact");
        assertTrue(other != roundId, "two rounds");
    }

    /// The formulas the off-chain side computes, written out.
    function test_leaf_and_commitment_formulas() public view {
        assertEq(
            deep.leafOf(3, projectY, 3_000e6),
            keccak256(bytes.concat(keccak256(abi.encode(uint256(3), projectY, uint256(3_000e6))))),
            "leaf: OpenZeppelin StandardMerkleTree (uint256, address, uint256)"
        );
        assertEq(deep.leafOf(3, projectY, 3_000e6), qf.leafOf(3, projectY, 3_000e6), "same leaf in both");
        bytes32 dataHash = keccak256("data");
        assertEq(
            deep.commitmentOf(7, solverA, dataHash, bytes32(uint256(9))),
            keccak256(abi.encode(uint256(7), solverA, dataHash, bytes32(uint256(9)))),
            "commitment"
        );
        // Sorted-pair hashing: the order of the leaves in a pair does not matter.
        bytes32 x = keccak256("x");
        bytes32 y = keccak256("y");
        assertEq(TestMerkle.hashPair(x, y), TestMerkle.hashPair(y, x), "commutative");
    }

    // ---------------------------------------------------------------------------------------
    // Challenges through the validator council
    // ---------------------------------------------------------------------------------------

    function challengeDeep(uint256 roundId) internal returns (uint256 disputeId) {
        vm.prank(challenger);
        disputeId = deep.challenge(roundId, otherRoot(), OTHER_RESULT);
    }

    function test_challenge_upheld_by_the_council_makes_the_challengers_root_final() public {
        uint256 roundId = scoredDeep();
        uint256 poster0 = bal(poster);
        uint256 challenger0 = bal(challenger);
        postDeep(roundId, deepRoot());

        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.SelfChallenge.selector, roundId));
        vm.prank(poster);
        deep.challenge(roundId, otherRoot(), OTHER_RESULT);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.SameResult.selector, roundId));
        vm.prank(challenger);
        deep.challenge(roundId, deepRoot(), RESULT);

        vm.expectEmit(true, true, true, true, address(deep));
        emit ResultChallenged(roundId, challenger, 0, otherRoot());
        vm.expectEmit(true, true, true, true, address(deep));
        emit IArbitrableV2.DisputeRequest(council, 0, roundId, 0, "");
        uint256 disputeId = challengeDeep(roundId);
        assertEq(deep.roundOfDispute(disputeId), roundId, "dispute -> round");
        assertEq(bal(challenger), challenger0 - BOND - COST, "bond + arbitration cost");
        assertTrue(stateOf(roundId) == OptimisticDistributor.PayoutState.Challenged, "challenged");
        vm.expectRevert(
            abi.encodeWithSelector(
                OptimisticDistributor.WrongState.selector,
                roundId,
                OptimisticDistributor.PayoutState.Challenged
            )
        );
        deep.finalize(roundId);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.NotArbitrator.selector, stranger));
        vm.prank(stranger);
        deep.rule(disputeId, CHALLENGER_RIGHT);

        councilVote(disputeId, votes(CHALLENGER_RIGHT, CHALLENGER_RIGHT, STANDS));
        vm.expectEmit(true, true, true, true, address(deep));
        emit ResultFinal(roundId, otherRoot(), OTHER_RESULT);
        council.execute(disputeId);

        OptimisticDistributor.Payout memory po = deep.payout(roundId);
        assertTrue(po.state == OptimisticDistributor.PayoutState.Final, "final");
        assertEq(po.root, otherRoot(), "the challenger's root");
        assertEq(po.resultHash, OTHER_RESULT, "the challenger's result");
        assertEq(bal(poster), poster0 - BOND, "the poster lost its bond");
        assertEq(bal(challenger), challenger0 + BOND - COST, "the challenger took both bonds");

        // Claims work against the challenger's tree, not the posted one.
        (address[] memory accounts, uint256[] memory amounts) = deepPayout();
        bytes32[] memory postedNodes = TestMerkle.leaves(accounts, amounts);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.InvalidProof.selector, roundId, 0));
        deep.claim(roundId, 0, accounts[0], amounts[0], TestMerkle.proof(postedNodes, 0));
        (accounts, amounts) = otherPayout();
        claimAll(roundId, accounts, amounts);
        assertEq(bal(projectZ), 5_000e6, "paid by the challenger's tree");
        assertEq(deep.payout(roundId).claimed, POOL, "all of the pool");
        assertEq(bal(address(deep)), 0, "nothing left");
    }

    function test_ruling_1_keeps_the_posted_result() public {
        uint256 roundId = scoredDeep();
        uint256 poster0 = bal(poster);
        uint256 challenger0 = bal(challenger);
        postDeep(roundId, deepRoot());
        uint256 disputeId = challengeDeep(roundId);
        councilVote(disputeId, votes(STANDS, STANDS, STANDS));
        council.execute(disputeId);
        OptimisticDistributor.Payout memory po = deep.payout(roundId);
        assertTrue(po.state == OptimisticDistributor.PayoutState.Final, "final");
        assertEq(po.root, deepRoot(), "the posted root");
        assertEq(po.resultHash, RESULT, "the posted result");
        assertEq(bal(poster), poster0 + BOND, "the poster took both bonds");
        assertEq(bal(challenger), challenger0 - BOND - COST, "the challenger lost bond and fee");
        (address[] memory accounts, uint256[] memory amounts) = deepPayout();
        claimAll(roundId, accounts, amounts);
        assertEq(bal(address(deep)), 0, "all paid");
    }

    function test_ruling_0_clears_the_result_and_returns_both_bonds() public {
        uint256 roundId = scoredDeep();
        uint256 poster0 = bal(poster);
        uint256 challenger0 = bal(challenger);
        postDeep(roundId, deepRoot());
        uint256 disputeId = challengeDeep(roundId);
        // Nobody votes: the council rules 0.
        councilVote(disputeId, votes(0, 0, 0));
        vm.expectEmit(true, true, true, true, address(deep));
        emit ResultCleared(roundId, disputeId);
        council.execute(disputeId);
        OptimisticDistributor.Payout memory po = deep.payout(roundId);
        assertTrue(po.state == OptimisticDistributor.PayoutState.None, "cleared");
        assertEq(po.root, bytes32(0), "no root");
        assertEq(bal(poster), poster0, "poster's bond returned");
        assertEq(bal(challenger), challenger0 - COST, "challenger's bond returned (not the fee)");
        assertEq(bal(address(deep)), POOL, "only the pool is held");

        // A new result can be posted and goes through.
        vm.prank(challenger);
        deep.postResult(roundId, otherRoot(), OTHER_RESULT, POOL);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        deep.finalize(roundId);
        (address[] memory accounts, uint256[] memory amounts) = otherPayout();
        claimAll(roundId, accounts, amounts);
        assertEq(bal(address(deep)), 0, "all paid");
        assertEq(bal(challenger), challenger0 - COST, "its second bond returned too");
    }

    /// Edge rulings the council never gives, through the test double of an arbitrator.
    function test_invalid_and_stale_rulings_are_refused() public {
        TestArbitrator arb = new TestArbitrator(token, 5e6);
        DeepFundingRound d = new DeepFundingRound(token, arb);
        vm.startPrank(funder);
        token.approve(address(d), type(uint256).max);
        uint256 roundId = d.createRound(deepParams(), twoJurors());
        vm.stopPrank();
        vm.warp(d.round(roundId).params.juryRevealDeadline + 1);
        d.drawSample(roundId);
        vm.startPrank(poster);
        token.approve(address(d), type(uint256).max);
        d.postResult(roundId, deepRoot(), RESULT, POOL);
        vm.stopPrank();
        vm.startPrank(challenger);
        token.approve(address(d), type(uint256).max);
        uint256 disputeId = d.challenge(roundId, otherRoot(), OTHER_RESULT);
        vm.stopPrank();
        assertEq(bal(address(arb)), 5e6, "the double took its fee");

        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.InvalidRuling.selector, 3));
        arb.giveRuling(disputeId, 3);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.UnknownDispute.selector, 7));
        vm.prank(address(arb));
        d.rule(7, 1);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.UnknownDispute.selector, 7));
        d.roundOfDispute(7);

        arb.giveRuling(disputeId, 0);
        assertTrue(d.payout(roundId).state == OptimisticDistributor.PayoutState.None, "cleared");
        // The same dispute cannot rule again, and a second challenge opens a new dispute.
        vm.expectRevert(
            abi.encodeWithSelector(
                OptimisticDistributor.WrongState.selector, roundId, OptimisticDistributor.PayoutState.None
            )
        );
        arb.giveRuling(disputeId, 1);
        vm.prank(poster);
        d.postResult(roundId, deepRoot(), RESULT, POOL);
        vm.prank(challenger);
        uint256 second = d.challenge(roundId, otherRoot(), OTHER_RESULT);
        assertEq(second, 1, "a new dispute");
        vm.expectRevert(
            abi.encodeWithSelector(
                OptimisticDistributor.WrongState.selector,
                roundId,
                OptimisticDistributor.PayoutState.Challenged
            )
        );
        arb.giveRuling(disputeId, 1);
        arb.giveRuling(second, 2);
        assertEq(d.payout(roundId).root, otherRoot(), "the challenger's root");
        assertEq(bal(address(d)), POOL, "the pool, no bonds");
    }

    // ---------------------------------------------------------------------------------------
    // Quadratic funding
    // ---------------------------------------------------------------------------------------

    function qfParams(bool requireIdentity) internal view returns (QuadraticFundingRound.QfParams memory) {
        return QuadraticFundingRound.QfParams({
            matchingPool: POOL,
            resultBond: BOND,
            donationDeadline: uint64(block.timestamp + 7 days),
            challengeWindow: CHALLENGE_WINDOW,
            claimPeriod: CLAIM_PERIOD,
            requireIdentity: requireIdentity
        });
    }

    function qfProjects() internal view returns (address[] memory list) {
        list = new address[](3);
        (list[0], list[1], list[2]) = (projectX, projectY, projectZ);
    }

    function test_qf_round_identity_gated_donations_go_to_projects_matching_claimed() public {
        uint256 funder0 = bal(funder);
        vm.prank(funder);
        uint256 roundId = qf.createRound(qfParams(true), qfProjects());
        assertEq(roundId, 1, "round ids start at 1");
        assertEq(bal(address(qf)), POOL, "the matching pool is held");
        assertEq(bal(funder), funder0 - POOL, "taken from the funder");
        assertEq(qf.projects(roundId).length, 3, "three projects");

        // A donor without an identity is refused; one with an agent NFT donates.
        vm.expectRevert(abi.encodeWithSelector(QuadraticFundingRound.NoIdentity.selector, stranger));
        vm.prank(stranger);
        qf.donate(roundId, 0, 5e6);
        vm.prank(stranger);
        identity.register("ipfs://donor");
        vm.prank(juror1);
        identity.register("ipfs://donor2");

        vm.expectEmit(true, true, true, true, address(qf));
        emit Donated(roundId, 0, stranger, 5e6);
        vm.prank(stranger);
        qf.donate(roundId, 0, 5e6);
        vm.prank(juror1);
        qf.donate(roundId, 0, 1e6);
        vm.prank(juror1);
        qf.donate(roundId, 2, 9e6);
        assertEq(bal(projectX), 6e6, "straight to project X");
        assertEq(bal(projectZ), 9e6, "straight to project Z");
        assertEq(bal(address(qf)), POOL, "donations are never held");
        assertEq(qf.projectDonated(roundId, 0), 6e6, "project X total");
        assertEq(qf.round(roundId).donated, 15e6, "round total");
        assertEq(qf.round(roundId).donations, 3, "donation count");

        vm.expectRevert(abi.encodeWithSelector(QuadraticFundingRound.NoSuchProject.selector, roundId, 3));
        vm.prank(stranger);
        qf.donate(roundId, 3, 1e6);
        vm.expectRevert(abi.encodeWithSelector(QuadraticFundingRound.ZeroDonation.selector, roundId));
        vm.prank(stranger);
        qf.donate(roundId, 1, 0);

        // Matching after the deadline.
        uint64 deadline = qf.round(roundId).params.donationDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(QuadraticFundingRound.DonationsOpen.selector, roundId, deadline)
        );
        vm.prank(poster);
        qf.postResult(roundId, bytes32(0), RESULT, POOL);
        vm.warp(deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(QuadraticFundingRound.DonationsClosed.selector, roundId, deadline)
        );
        vm.prank(stranger);
        qf.donate(roundId, 0, 1e6);

        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        (accounts[0], amounts[0]) = (projectX, 4_500e6);
        (accounts[1], amounts[1]) = (projectY, 0);
        (accounts[2], amounts[2]) = (projectZ, 5_500e6);
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        vm.expectRevert(abi.encodeWithSelector(OptimisticDistributor.WrongTotal.selector, POOL + 1, POOL));
        vm.prank(poster);
        qf.postResult(roundId, TestMerkle.root(nodes), RESULT, POOL + 1);
        vm.prank(poster);
        qf.postResult(roundId, TestMerkle.root(nodes), RESULT, POOL);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        qf.finalize(roundId);
        for (uint256 i; i < 3; ++i) {
            vm.prank(relayer);
            qf.claim(roundId, i, accounts[i], amounts[i], TestMerkle.proof(nodes, i));
        }
        assertEq(bal(projectX), 6e6 + 4_500e6, "donations + matching");
        assertEq(bal(projectZ), 9e6 + 5_500e6, "donations + matching");
        assertEq(qf.payout(roundId).claimed, POOL, "the whole matching pool");
        assertEq(bal(address(qf)), 0, "nothing left");
    }

    function test_qf_without_identity_gating_and_validation() public {
        vm.startPrank(funder);
        QuadraticFundingRound.QfParams memory p = qfParams(false);
        p.matchingPool = 0;
        vm.expectRevert(QuadraticFundingRound.EmptyPool.selector);
        qf.createRound(p, qfProjects());
        p = qfParams(false);
        p.donationDeadline = uint64(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(
                QuadraticFundingRound.DeadlinePassed.selector, block.timestamp, block.timestamp
            )
        );
        qf.createRound(p, qfProjects());
        vm.expectRevert(QuadraticFundingRound.NoProjects.selector);
        qf.createRound(qfParams(false), new address[](0));
        address[] memory bad = qfProjects();
        bad[1] = address(0);
        vm.expectRevert(abi.encodeWithSelector(QuadraticFundingRound.ZeroProject.selector, 1));
        qf.createRound(qfParams(false), bad);
        uint256 roundId = qf.createRound(qfParams(false), qfProjects());
        vm.stopPrank();
        vm.prank(stranger);
        qf.donate(roundId, 1, 2e6);
        assertEq(bal(projectY), 2e6, "no identity needed");
        vm.expectRevert(abi.encodeWithSelector(QuadraticFundingRound.NoSuchRound.selector, 5));
        qf.donate(5, 0, 1e6);
    }

    // ---------------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------------

    /// Any split of the pool into leaves (some without an account) pays out exactly the pool:
    /// claims + sweep == pool, and the contract is left with nothing.
    function testFuzz_any_split_of_the_pool_is_conserved(uint256 seed, uint8 count, uint256 pool) public {
        uint256 n = bound(count, 1, 24);
        pool = bound(pool, 1, 500_000e6);
        address[] memory accounts = new address[](n);
        uint256[] memory amounts = new uint256[](n);
        uint256 left = pool;
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            amounts[i] = i == n - 1 ? left : r % (left + 1);
            left -= amounts[i];
            // About one leaf in eight has no account.
            accounts[i] = r % 8 == 0 ? address(0) : address(uint160(0xB0000 + i));
        }
        DeepFundingRound.RoundParams memory p = deepParams();
        p.pool = pool;
        vm.prank(funder);
        uint256 roundId = deep.createRound(p, twoJurors());
        vm.warp(p.juryRevealDeadline + 1);
        deep.drawSample(roundId);
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        vm.prank(poster);
        deep.postResult(roundId, TestMerkle.root(nodes), RESULT, pool);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        deep.finalize(roundId);

        uint256 paid;
        for (uint256 i; i < n; ++i) {
            if (accounts[i] == address(0)) continue;
            // Skip one in three: those leaves are swept.
            if (uint256(keccak256(abi.encode(seed, "skip", i))) % 3 == 0) continue;
            deep.claim(roundId, i, accounts[i], amounts[i], TestMerkle.proof(nodes, i));
            paid += amounts[i];
            assertLe(deep.payout(roundId).claimed, pool, "claims never exceed the pool");
        }
        vm.warp(block.timestamp + CLAIM_PERIOD + 1);
        uint256 funder0 = bal(funder);
        vm.prank(funder);
        deep.sweep(roundId);
        assertEq(paid + bal(funder) - funder0, pool, "claims + sweep == pool");
        assertEq(bal(address(deep)), 0, "nothing left");
    }

    /// Whatever the leaves say, the claims of a round stop at its payout total.
    function testFuzz_claims_never_exceed_the_pool(uint256 seed, uint8 count) public {
        uint256 n = bound(count, 1, 16);
        address[] memory accounts = new address[](n);
        uint256[] memory amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            accounts[i] = address(uint160(0xC0000 + i));
            amounts[i] = uint256(keccak256(abi.encode(seed, i))) % (POOL / 2);
        }
        createDeep(); // another round's pool in the same contract
        uint256 roundId = scoredDeep();
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        postDeep(roundId, TestMerkle.root(nodes));
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        deep.finalize(roundId);
        uint256 paid;
        for (uint256 i; i < n; ++i) {
            bytes32[] memory proof = TestMerkle.proof(nodes, i);
            if (paid + amounts[i] > POOL) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        OptimisticDistributor.PayoutExceeded.selector, roundId, paid + amounts[i], POOL
                    )
                );
                deep.claim(roundId, i, accounts[i], amounts[i], proof);
            } else {
                deep.claim(roundId, i, accounts[i], amounts[i], proof);
                paid += amounts[i];
            }
        }
        assertLe(deep.payout(roundId).claimed, POOL, "claimed <= pool");
        assertEq(bal(address(deep)), 2 * POOL - paid, "the other round's pool is untouched");
    }

    // ---------------------------------------------------------------------------------------
    // Gas (forge test --match-test test_gas_report -vv)
    // ---------------------------------------------------------------------------------------

    /// `size` pseudo-random bytes (non-zero almost everywhere, as real payloads are).
    function payload(uint256 size, bytes32 tag) internal pure returns (bytes memory out) {
        out = new bytes(size);
        for (uint256 i; i < size; i += 32) {
            bytes32 word = keccak256(abi.encode(tag, i));
            assembly ("memory-safe") {
                mstore(add(add(out, 32), i), word)
            }
        }
        assembly ("memory-safe") {
            mstore(out, size)
        }
    }

    /// The gas of each step, as `gasleft()` deltas around the external call (no intrinsic
    /// 21,000 or calldata gas; storage touched by an earlier step of the test is warm).
    function test_gas_report() public {
        uint256 roundId = gasSolvingAndJury();
        gasPayout(roundId);
        gasChallenge();
        gasQf();
    }

    function gasSolvingAndJury() internal returns (uint256 roundId) {
        // A 1,000-edge submission: 12 bytes an edge (two 4-byte node ids, a 4-byte weight).
        bytes memory data = payload(12_000, "weights");
        // 20 pairs × 32 bytes of answers.
        bytes memory answers = payload(640, "answers");
        DeepFundingRound.RoundParams memory p = deepParams();
        address[] memory jurors = twoJurors();
        uint256 g;

        vm.prank(funder);
        g = gasleft();
        roundId = deep.createRound(p, jurors);
        emit log_named_uint("deep createRound (2 jurors)", g - gasleft());

        bytes32 c = commitment(roundId, solverA, keccak256(data), saltOf(solverA));
        vm.prank(solverA);
        g = gasleft();
        deep.commit(roundId, c);
        emit log_named_uint("deep commit (stake)", g - gasleft());

        vm.warp(p.commitDeadline + 1);
        vm.prank(solverA);
        g = gasleft();
        deep.reveal(roundId, data, saltOf(solverA));
        emit log_named_uint("deep reveal (12,000-byte payload, stake back)", g - gasleft());

        g = gasleft();
        deep.drawSample(roundId);
        emit log_named_uint("deep drawSample", g - gasleft());

        c = commitment(roundId, juror1, keccak256(answers), saltOf(juror1));
        vm.prank(juror1);
        g = gasleft();
        deep.juryCommit(roundId, c);
        emit log_named_uint("deep juryCommit", g - gasleft());

        vm.warp(p.juryCommitDeadline + 1);
        vm.prank(juror1);
        g = gasleft();
        deep.juryReveal(roundId, answers, saltOf(juror1));
        emit log_named_uint("deep juryReveal (640-byte answers)", g - gasleft());
        vm.warp(p.juryRevealDeadline + 1);
    }

    /// 1,024 equal leaves: proofs of depth 10.
    function bigTree() internal pure returns (address[] memory accounts, uint256[] memory amounts) {
        uint256 n = 1024;
        accounts = new address[](n);
        amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            accounts[i] = address(uint160(0xD0000 + i));
            amounts[i] = POOL / n;
        }
        amounts[0] += POOL - (POOL / n) * n;
    }

    function gasPayout(uint256 roundId) internal {
        (address[] memory accounts, uint256[] memory amounts) = bigTree();
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        bytes32 root = TestMerkle.root(nodes);
        uint256 g;

        vm.prank(poster);
        g = gasleft();
        deep.postResult(roundId, root, RESULT, POOL);
        emit log_named_uint("postResult (bond)", g - gasleft());

        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        g = gasleft();
        deep.finalize(roundId);
        emit log_named_uint("finalize (bond back)", g - gasleft());

        bytes32[] memory proof = TestMerkle.proof(nodes, 5);
        assertEq(proof.length, 10, "depth 10");
        vm.prank(relayer);
        g = gasleft();
        deep.claim(roundId, 5, accounts[5], amounts[5], proof);
        emit log_named_uint("claim (proof depth 10, first in its bitmap word)", g - gasleft());

        proof = TestMerkle.proof(nodes, 6);
        vm.prank(relayer);
        g = gasleft();
        deep.claim(roundId, 6, accounts[6], amounts[6], proof);
        emit log_named_uint("claim (proof depth 10, bitmap word already written)", g - gasleft());
    }

    function gasChallenge() internal {
        uint256 roundId = scoredDeep();
        postDeep(roundId, deepRoot());
        bytes32 root = otherRoot();
        vm.prank(challenger);
        uint256 g = gasleft();
        uint256 disputeId = deep.challenge(roundId, root, OTHER_RESULT);
        emit log_named_uint("challenge (bond + fee, council dispute)", g - gasleft());
        councilVote(disputeId, votes(CHALLENGER_RIGHT, CHALLENGER_RIGHT, CHALLENGER_RIGHT));
        g = gasleft();
        council.execute(disputeId);
        emit log_named_uint("council execute -> rule(2)", g - gasleft());
    }

    function gasQf() internal {
        QuadraticFundingRound.QfParams memory p = qfParams(true);
        address[] memory list = qfProjects();
        vm.prank(funder);
        uint256 g = gasleft();
        uint256 roundId = qf.createRound(p, list);
        emit log_named_uint("qf createRound (3 projects)", g - gasleft());
        vm.prank(stranger);
        identity.register("ipfs://donor");
        vm.prank(stranger);
        g = gasleft();
        qf.donate(roundId, 0, 5e6);
        emit log_named_uint("qf donate (identity-gated, first to the project)", g - gasleft());
        vm.prank(stranger);
        g = gasleft();
        qf.donate(roundId, 0, 5e6);
        emit log_named_uint("qf donate (identity-gated, again)", g - gasleft());
    }
}
