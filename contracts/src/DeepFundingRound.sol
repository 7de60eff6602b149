// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IArbitratorV2} from "./IArbitration.sol";
import {OptimisticDistributor} from "./OptimisticDistributor.sol";

/// @title DeepFundingRound
/// @notice Deep-funding rounds: a funder puts up a pool for a dependency graph (published as
/// data, committed to by its hash); solvers submit weights for its edges; a jury answers
/// pairwise comparisons drawn at random; the result, computed off chain (the jury's answers
/// score the solvers, the best submissions are blended, the pool flows down the graph), is paid
/// out through `OptimisticDistributor`.
///
/// 1. `createRound` takes the pool from the funder and fixes the graph's hash, the jurors and
///    the schedule: solver commits until `commitDeadline`, solver reveals until
///    `revealDeadline`, jury commits until `juryCommitDeadline`, jury reveals until
///    `juryRevealDeadline`. Anyone may `publishGraph` (the bytes whose hash is `graphRoot`).
/// 2. A solver `commit`s `commitmentOf(roundId, solver, keccak256(data), salt)` with a stake of
///    `solverStake`, and reveals `data` and `salt` after the commit deadline, getting the stake
///    back. Submission indices are the commit order (0 first). A stake never revealed is
///    forfeited: the funder takes it with `withdrawForfeited` after the reveal deadline.
/// 3. After the commit deadline anyone may `drawSample` once: the seed from which each juror's
///    comparisons are derived off chain. Jurors commit `commitmentOf(roundId, juror,
///    keccak256(answers), salt)` and reveal the answers after the jury commit deadline.
/// 4. After the jury reveal deadline the result can be posted. Its payout is the whole pool:
///    the solvers' share (`solverShareBps`) and the graph's payouts are all leaves of one tree.
///
/// @dev The seed is `blockhash` and `prevrandao` of the drawing block, which its proposer can
/// bias; rounds on a chain where that matters should draw from a beacon. Holds, per round, its
/// pool until paid out, the stakes of unrevealed commitments and the bonds of its result.
contract DeepFundingRound is OptimisticDistributor {
    using SafeERC20 for IERC20;

    /// @notice What a funder fixes when creating a round.
    struct RoundParams {
        /// keccak256 of the graph's bytes (see `publishGraph`).
        bytes32 graphRoot;
        /// What the round pays out, all of it through the result's tree.
        uint256 pool;
        /// The solvers' share of the pool, in basis points (applied off chain).
        uint16 solverShareBps;
        /// What a solver stakes with its commitment, returned on its reveal.
        uint256 solverStake;
        /// The bond a result's poster (and a challenger) posts.
        uint256 resultBond;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint64 juryCommitDeadline;
        uint64 juryRevealDeadline;
        /// Seconds a posted result can be challenged.
        uint64 challengeWindow;
        /// Seconds after finality before the funder may sweep what was not claimed.
        uint64 claimPeriod;
        /// How many comparisons each juror answers (applied off chain).
        uint32 pairsPerJuror;
    }

    /// @notice A round.
    struct Round {
        RoundParams params;
        address funder;
        /// The sample's seed (0: not drawn).
        bytes32 seed;
        /// How many submissions were revealed.
        uint32 revealed;
        /// Whether the funder took the forfeited stakes.
        bool forfeitWithdrawn;
    }

    /// @notice A solver's submission.
    struct Submission {
        address solver;
        bytes32 commitment;
        /// keccak256 of the revealed data (0 until revealed).
        bytes32 dataHash;
        bool revealed;
    }

    /// @notice A juror's answers.
    struct JuryAnswer {
        bytes32 commitment;
        /// keccak256 of the revealed answers (0 until revealed).
        bytes32 answersHash;
        bool revealed;
    }

    /// @notice Rounds created so far (ids start at 1).
    uint256 public roundCount;

    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint256 roundId => Submission[]) private _submissions;
    /// @dev roundId => solver => submission index + 1 (0: none).
    mapping(uint256 roundId => mapping(address solver => uint256)) private _submissionOf;
    mapping(uint256 roundId => address[]) private _jurors;
    mapping(uint256 roundId => mapping(address juror => bool)) private _isJuror;
    mapping(uint256 roundId => mapping(address juror => JuryAnswer)) private _answers;

    /// @notice `funder` created round `roundId` with `params`, its pool taken, and `jurors`.
    event RoundCreated(uint256 indexed roundId, address indexed funder, RoundParams params, address[] jurors);
    /// @notice The graph of `roundId` (data availability: not stored).
    event GraphPublished(uint256 indexed roundId, bytes graph);
    /// @notice `solver` committed submission `index` of `roundId`, staking `stake`.
    event SubmissionCommitted(
        uint256 indexed roundId,
        uint256 indexed index,
        address indexed solver,
        bytes32 commitment,
        uint256 stake
    );
    /// @notice `solver` revealed submission `index` of `roundId` (its stake returned).
    event SubmissionRevealed(
        uint256 indexed roundId, uint256 indexed index, address indexed solver, bytes data
    );
    /// @notice The sample of `roundId` was drawn: each juror's comparisons derive from `seed`.
    event SampleDrawn(uint256 indexed roundId, bytes32 seed);
    /// @notice `juror` committed its answers for `roundId`.
    event JuryCommitted(uint256 indexed roundId, address indexed juror, bytes32 commitment);
    /// @notice `juror` revealed its answers for `roundId`.
    event JuryRevealed(uint256 indexed roundId, address indexed juror, bytes answers);
    /// @notice The funder of `roundId` took the `amount` of stakes never revealed.
    event ForfeitWithdrawn(uint256 indexed roundId, address indexed funder, uint256 amount);

    error NoSuchRound(uint256 roundId);
    error EmptyPool();
    error DeadlinePassed(uint256 deadline, uint256 nowTs);
    error RevealBeforeCommit(uint256 commitDeadline, uint256 revealDeadline);
    error JuryBeforeSubmissions(uint256 commitDeadline, uint256 juryCommitDeadline);
    error JuryRevealBeforeJuryCommit(uint256 juryCommitDeadline, uint256 juryRevealDeadline);
    error JuryRevealBeforeReveal(uint256 revealDeadline, uint256 juryRevealDeadline);
    error ShareTooLarge(uint256 solverShareBps);
    error NoJurors();
    error ZeroJuror(uint256 index);
    error DuplicateJuror(address juror);
    error GraphMismatch(uint256 roundId);
    error EmptyCommitment(uint256 roundId, address who);
    error CommitClosed(uint256 roundId, uint256 deadline);
    error AlreadyCommitted(uint256 roundId, address who);
    error RevealNotOpen(uint256 roundId, uint256 opensAt);
    error RevealClosed(uint256 roundId, uint256 deadline);
    error NotCommitted(uint256 roundId, address who);
    error AlreadyRevealed(uint256 roundId, address who);
    error CommitMismatch(uint256 roundId, address who);
    error SampleNotOpen(uint256 roundId, uint256 opensAt);
    error SampleAlreadyDrawn(uint256 roundId);
    error SampleNotDrawn(uint256 roundId);
    error NotJuror(uint256 roundId, address who);
    error ScoringNotOpen(uint256 roundId, uint256 opensAt);
    error RevealsOpen(uint256 roundId, uint256 deadline);
    error NothingForfeited(uint256 roundId);

    constructor(IERC20 token_, IArbitratorV2 arbitrator_) OptimisticDistributor(token_, arbitrator_) {}

    // ---- the funder ----

    /// @notice Creates a round with `params` and `jurors`, taking the pool from the caller, its
    /// funder (approve it first).
    function createRound(RoundParams calldata params, address[] calldata jurors_)
        external
        nonReentrant
        returns (uint256 roundId)
    {
        _validate(params);
        if (jurors_.length == 0) revert NoJurors();
        roundId = ++roundCount;
        Round storage r = _rounds[roundId];
        r.params = params;
        r.funder = msg.sender;
        mapping(address => bool) storage isJuror_ = _isJuror[roundId];
        for (uint256 i; i < jurors_.length; ++i) {
            address juror = jurors_[i];
            if (juror == address(0)) revert ZeroJuror(i);
            if (isJuror_[juror]) revert DuplicateJuror(juror);
            isJuror_[juror] = true;
        }
        _jurors[roundId] = jurors_;
        token.safeTransferFrom(msg.sender, address(this), params.pool);
        emit RoundCreated(roundId, msg.sender, params, jurors_);
    }

    /// @notice Sends the funder the stakes of commitments never revealed (after the reveal deadline).
    function withdrawForfeited(uint256 roundId) external nonReentrant {
        Round storage r = _round(roundId);
        if (msg.sender != r.funder) revert NotFunder(roundId, msg.sender);
        uint64 deadline = r.params.revealDeadline;
        if (block.timestamp <= deadline) revert RevealsOpen(roundId, deadline);
        uint256 amount = (_submissions[roundId].length - r.revealed) * r.params.solverStake;
        if (r.forfeitWithdrawn || amount == 0) revert NothingForfeited(roundId);
        r.forfeitWithdrawn = true;
        token.safeTransfer(r.funder, amount);
        emit ForfeitWithdrawn(roundId, r.funder, amount);
    }

    /// @notice Publishes the graph of `roundId`: the bytes whose keccak256 is its `graphRoot`
    /// (anyone may call; the graph is emitted, not stored).
    function publishGraph(uint256 roundId, bytes calldata graph) external {
        Round storage r = _round(roundId);
        if (keccak256(graph) != r.params.graphRoot) revert GraphMismatch(roundId);
        emit GraphPublished(roundId, graph);
    }

    // ---- the solvers ----

    /// @notice The commitment to `dataHash` (a submission's or a juror's answers' keccak256)
    /// that `who` publishes for `roundId` with `salt`.
    function commitmentOf(uint256 roundId, address who, bytes32 dataHash, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(roundId, who, dataHash, salt));
    }

    /// @notice Commits a submission to `roundId` before its commit deadline, staking
    /// `solverStake` (approve it first). One per address; returns the submission's index.
    function commit(uint256 roundId, bytes32 commitment) external nonReentrant returns (uint256 index) {
        Round storage r = _round(roundId);
        if (block.timestamp > r.params.commitDeadline) revert CommitClosed(roundId, r.params.commitDeadline);
        if (commitment == 0) revert EmptyCommitment(roundId, msg.sender);
        if (_submissionOf[roundId][msg.sender] != 0) revert AlreadyCommitted(roundId, msg.sender);
        Submission[] storage subs = _submissions[roundId];
        index = subs.length;
        subs.push(Submission({solver: msg.sender, commitment: commitment, dataHash: 0, revealed: false}));
        _submissionOf[roundId][msg.sender] = index + 1;
        uint256 stake = r.params.solverStake;
        if (stake != 0) token.safeTransferFrom(msg.sender, address(this), stake);
        emit SubmissionCommitted(roundId, index, msg.sender, commitment, stake);
    }

    /// @notice Reveals the caller's submission to `roundId` (after the commit deadline, until the
    /// reveal deadline), returning its stake. `data` is emitted; its hash is kept.
    function reveal(uint256 roundId, bytes calldata data, bytes32 salt) external nonReentrant {
        Round storage r = _round(roundId);
        uint64 opensAfter = r.params.commitDeadline;
        if (block.timestamp <= opensAfter) revert RevealNotOpen(roundId, uint256(opensAfter) + 1);
        if (block.timestamp > r.params.revealDeadline) revert RevealClosed(roundId, r.params.revealDeadline);
        uint256 stored = _submissionOf[roundId][msg.sender];
        if (stored == 0) revert NotCommitted(roundId, msg.sender);
        Submission storage s = _submissions[roundId][stored - 1];
        if (s.revealed) revert AlreadyRevealed(roundId, msg.sender);
        bytes32 dataHash = keccak256(data);
        if (commitmentOf(roundId, msg.sender, dataHash, salt) != s.commitment) {
            revert CommitMismatch(roundId, msg.sender);
        }
        s.revealed = true;
        s.dataHash = dataHash;
        r.revealed += 1;
        uint256 stake = r.params.solverStake;
        if (stake != 0) token.safeTransfer(msg.sender, stake);
        emit SubmissionRevealed(roundId, stored - 1, msg.sender, data);
    }

    // ---- the sample and the jury ----

    /// @notice Draws the seed of `roundId`'s jury sample, once, after the commit deadline
    /// (anyone may call).
    function drawSample(uint256 roundId) external returns (bytes32 seed_) {
        Round storage r = _round(roundId);
        uint64 opensAfter = r.params.commitDeadline;
        if (block.timestamp <= opensAfter) revert SampleNotOpen(roundId, uint256(opensAfter) + 1);
        if (r.seed != 0) revert SampleAlreadyDrawn(roundId);
        seed_ = keccak256(abi.encode(blockhash(block.number - 1), block.prevrandao, roundId));
        r.seed = seed_;
        emit SampleDrawn(roundId, seed_);
    }

    /// @notice Commits the caller's answers (a juror of `roundId`), once the sample is drawn and
    /// until the jury commit deadline.
    function juryCommit(uint256 roundId, bytes32 commitment) external {
        Round storage r = _round(roundId);
        if (!_isJuror[roundId][msg.sender]) revert NotJuror(roundId, msg.sender);
        if (r.seed == 0) revert SampleNotDrawn(roundId);
        uint64 deadline = r.params.juryCommitDeadline;
        if (block.timestamp > deadline) revert CommitClosed(roundId, deadline);
        if (commitment == 0) revert EmptyCommitment(roundId, msg.sender);
        JuryAnswer storage a = _answers[roundId][msg.sender];
        if (a.commitment != 0) revert AlreadyCommitted(roundId, msg.sender);
        a.commitment = commitment;
        emit JuryCommitted(roundId, msg.sender, commitment);
    }

    /// @notice Reveals the caller's answers (a juror of `roundId`), after both the solvers' and
    /// the jury's commit deadlines, until the jury reveal deadline. `answers` is emitted; its
    /// hash is kept.
    function juryReveal(uint256 roundId, bytes calldata answers, bytes32 salt) external {
        Round storage r = _round(roundId);
        if (!_isJuror[roundId][msg.sender]) revert NotJuror(roundId, msg.sender);
        uint64 a1 = r.params.commitDeadline;
        uint64 a2 = r.params.juryCommitDeadline;
        uint64 opensAfter = a1 > a2 ? a1 : a2;
        if (block.timestamp <= opensAfter) revert RevealNotOpen(roundId, uint256(opensAfter) + 1);
        uint64 deadline = r.params.juryRevealDeadline;
        if (block.timestamp > deadline) revert RevealClosed(roundId, deadline);
        JuryAnswer storage a = _answers[roundId][msg.sender];
        if (a.commitment == 0) revert NotCommitted(roundId, msg.sender);
        if (a.revealed) revert AlreadyRevealed(roundId, msg.sender);
        bytes32 answersHash = keccak256(answers);
        if (commitmentOf(roundId, msg.sender, answersHash, salt) != a.commitment) {
            revert CommitMismatch(roundId, msg.sender);
        }
        a.revealed = true;
        a.answersHash = answersHash;
        emit JuryRevealed(roundId, msg.sender, answers);
    }

    // ---- views ----

    /// @notice Round `roundId`.
    function round(uint256 roundId) external view returns (Round memory) {
        return _round(roundId);
    }

    /// @notice Submission `index` of `roundId` (in commit order).
    function submission(uint256 roundId, uint256 index) external view returns (Submission memory) {
        return _submissions[roundId][index];
    }

    /// @notice How many submissions `roundId` has (committed).
    function submissionCount(uint256 roundId) external view returns (uint256) {
        return _submissions[roundId].length;
    }

    /// @notice The jurors of `roundId`.
    function jurors(uint256 roundId) external view returns (address[] memory) {
        return _jurors[roundId];
    }

    /// @notice Whether `who` is a juror of `roundId`.
    function isJuror(uint256 roundId, address who) external view returns (bool) {
        return _isJuror[roundId][who];
    }

    /// @notice The answers of `juror` in `roundId`.
    function juryAnswer(uint256 roundId, address juror) external view returns (JuryAnswer memory) {
        return _answers[roundId][juror];
    }

    /// @notice The sample's seed of `roundId` (0 until drawn).
    function seed(uint256 roundId) external view returns (bytes32) {
        return _round(roundId).seed;
    }

    // ---- OptimisticDistributor ----

    function _payoutOpen(uint256 roundId) internal view override {
        Round storage r = _round(roundId);
        uint64 deadline = r.params.juryRevealDeadline;
        if (block.timestamp <= deadline) revert ScoringNotOpen(roundId, uint256(deadline) + 1);
        if (r.seed == 0) revert SampleNotDrawn(roundId);
    }

    function _payoutTotal(uint256 roundId) internal view override returns (uint256) {
        return _rounds[roundId].params.pool;
    }

    function _roundParams(uint256 roundId)
        internal
        view
        override
        returns (uint256 bond, uint64 challengeWindow, uint64 claimPeriod, address funder)
    {
        Round storage r = _rounds[roundId];
        return (r.params.resultBond, r.params.challengeWindow, r.params.claimPeriod, r.funder);
    }

    // ---- internals ----

    function _round(uint256 roundId) private view returns (Round storage r) {
        r = _rounds[roundId];
        if (r.funder == address(0)) revert NoSuchRound(roundId);
    }

    function _validate(RoundParams calldata p) private view {
        if (p.pool == 0) revert EmptyPool();
        if (p.commitDeadline <= block.timestamp) revert DeadlinePassed(p.commitDeadline, block.timestamp);
        // An empty reveal window would forfeit every stake.
        if (p.revealDeadline <= p.commitDeadline) {
            revert RevealBeforeCommit(p.commitDeadline, p.revealDeadline);
        }
        if (p.juryCommitDeadline <= p.commitDeadline) {
            revert JuryBeforeSubmissions(p.commitDeadline, p.juryCommitDeadline);
        }
        if (p.juryRevealDeadline <= p.juryCommitDeadline) {
            revert JuryRevealBeforeJuryCommit(p.juryCommitDeadline, p.juryRevealDeadline);
        }
        if (p.juryRevealDeadline < p.revealDeadline) {
            revert JuryRevealBeforeReveal(p.revealDeadline, p.juryRevealDeadline);
        }
        if (p.solverShareBps > 10_000) revert ShareTooLarge(p.solverShareBps);
    }
}
