// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IArbitrableV2, IArbitratorV2} from "./IArbitration.sol";
import {ConditionalTokens} from "./ConditionalTokens.sol";

// The casts below narrow an outcome count checked to be at most 255 and timestamps (64 bits).
// forge-lint: disable-start(unsafe-typecast)
/// @title OptimisticResolver
/// @notice The oracle of the `ConditionalTokens` conditions it asks: an answer is asserted with
/// a bond, stands unless disputed within its liveness, and disputes go to a Kleros v2
/// arbitrator (`IArbitratorV2`, e.g. the `ValidatorCouncil`).
///
/// 1. `ask(questionId, outcomes, text, bond, liveness)` prepares the condition
///    (oracle = this contract, `outcomes` slots, 2 to 255: the council's choice limit) and
///    fixes the question's bond and liveness.
/// 2. `assertOutcome` (anyone, posting `bond`) claims the answer is `outcome` (0-based).
/// 3. Undisputed, `settle` (anyone, once `block.timestamp ≥ assertedAt + liveness`) reports
///    payouts 1 for that outcome and 0 elsewhere, and returns the bond.
/// 4. Before then anyone but the asserter may `dispute`, posting the same bond plus the
///    arbitration cost: a dispute with `outcomes` choices, choice r meaning outcome r − 1.
///    A ruling r ≥ 1 reports outcome r − 1; the asserter takes both bonds if it asserted
///    outcome r − 1, else the disputer does. Ruling 0 (no decision) returns both bonds and
///    re-opens the question for a new assertion.
///
/// States: Asked → Asserted → (Settled | Disputed → (Settled | Asked)). A question's payouts are
/// reported exactly once.
///
/// @dev Holds exactly the bonds of the asserted and disputed questions.
contract OptimisticResolver is IArbitrableV2, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The most outcomes a question may have (the council's choice limit).
    uint256 public constant MAX_OUTCOMES = 255;

    enum State {
        None,
        Asked,
        Asserted,
        Disputed,
        Settled
    }

    /// @notice A question.
    struct Question {
        bytes32 conditionId;
        address asker;
        uint16 outcomes;
        State state;
        uint64 liveness;
        uint256 bond;
        address asserter;
        /// The asserted outcome (0-based), and then the settled one.
        uint16 outcome;
        /// When the assertion stops being disputable.
        uint64 livenessEnd;
        address disputer;
        uint256 disputeId;
    }

    ConditionalTokens public immutable ctf;
    /// @notice The token bonds and arbitration fees are paid in.
    IERC20 public immutable token;
    IArbitratorV2 public immutable arbitrator;

    mapping(bytes32 questionId => Question) private _questions;
    /// @dev arbitrator dispute id => question id (only for disputes this contract raised).
    mapping(uint256 disputeId => bytes32) private _disputeQuestion;
    mapping(uint256 disputeId => bool) private _disputeKnown;

    /// @notice A question was asked; its condition is `conditionId`.
    event QuestionAsked(
        bytes32 indexed questionId,
        bytes32 indexed conditionId,
        address indexed asker,
        uint256 outcomes,
        uint256 bond,
        uint64 liveness,
        string text
    );
    /// @notice `asserter` asserted `outcome`, disputable until `livenessEnd`.
    event OutcomeAsserted(
        bytes32 indexed questionId, address indexed asserter, uint256 outcome, uint64 livenessEnd
    );
    /// @notice `disputer` disputed the assertion; the arbitrator's dispute is `disputeId`.
    event AssertionDisputed(bytes32 indexed questionId, address indexed disputer, uint256 indexed disputeId);
    /// @notice The question settled on `outcome`; `winner` took `paid` (the bond, or both).
    event QuestionSettled(bytes32 indexed questionId, uint256 outcome, address indexed winner, uint256 paid);
    /// @notice The arbitrator gave no decision: both bonds were returned and the question re-opened.
    event QuestionReopened(bytes32 indexed questionId, uint256 indexed disputeId);

    error AlreadyAsked(bytes32 questionId);
    error InvalidOutcomeCount(uint256 outcomes);
    error NotAsked(bytes32 questionId);
    error AlreadyAsserted(bytes32 questionId, State state);
    error AlreadySettled(bytes32 questionId);
    error NotAsserted(bytes32 questionId, State state);
    error InvalidOutcome(uint256 outcome, uint256 outcomes);
    error LivenessOpen(uint64 until);
    error LivenessOver(uint64 until);
    error SelfDispute(bytes32 questionId);
    error NotArbitrator(address caller);
    error UnknownDispute(uint256 disputeId);
    error InvalidRuling(uint256 ruling, uint256 outcomes);

    constructor(ConditionalTokens ctf_, IERC20 token_, IArbitratorV2 arbitrator_) {
        ctf = ctf_;
        token = token_;
        arbitrator = arbitrator_;
    }

    // ---- views ----

    /// @notice Question `questionId`.
    function question(bytes32 questionId) external view returns (Question memory) {
        return _questions[questionId];
    }

    /// @notice The question of an arbitrator's dispute.
    function questionOfDispute(uint256 disputeId) external view returns (bytes32) {
        if (!_disputeKnown[disputeId]) revert UnknownDispute(disputeId);
        return _disputeQuestion[disputeId];
    }

    /// @notice What a disputer pays the arbitrator on top of its bond.
    function arbitrationCost() public view returns (uint256) {
        return arbitrator.arbitrationCost("", token);
    }

    // ---- the question ----

    /// @notice Asks `questionId` with `outcomes` (2 to 255) possible answers: prepares its
    /// condition on the CTF with this contract as the oracle (unless someone already did) and
    /// fixes the `bond` an assertion (and a dispute) posts and the `liveness` (seconds) an
    /// assertion can be disputed. `text` is only logged.
    function ask(bytes32 questionId, uint256 outcomes, string calldata text, uint256 bond, uint64 liveness)
        external
        returns (bytes32 conditionId)
    {
        if (outcomes < 2 || outcomes > MAX_OUTCOMES) revert InvalidOutcomeCount(outcomes);
        Question storage q = _questions[questionId];
        if (q.state != State.None) revert AlreadyAsked(questionId);
        conditionId = ctf.getConditionId(address(this), questionId, outcomes);
        q.conditionId = conditionId;
        q.asker = msg.sender;
        q.outcomes = uint16(outcomes);
        q.state = State.Asked;
        q.liveness = liveness;
        q.bond = bond;
        // Anyone may prepare any condition: one prepared ahead of the question is the same one.
        if (ctf.getOutcomeSlotCount(conditionId) == 0) {
            ctf.prepareCondition(address(this), questionId, outcomes);
        }
        emit QuestionAsked(questionId, conditionId, msg.sender, outcomes, bond, liveness, text);
    }

    /// @notice Asserts that the answer to `questionId` is `outcome` (0-based), posting the
    /// question's bond (approve it first).
    function assertOutcome(bytes32 questionId, uint256 outcome) external nonReentrant {
        Question storage q = _questions[questionId];
        State state = q.state;
        if (state == State.None) revert NotAsked(questionId);
        if (state == State.Settled) revert AlreadySettled(questionId);
        if (state != State.Asked) revert AlreadyAsserted(questionId, state);
        if (outcome >= q.outcomes) revert InvalidOutcome(outcome, q.outcomes);
        uint64 livenessEnd = uint64(block.timestamp) + q.liveness;
        q.state = State.Asserted;
        q.asserter = msg.sender;
        q.outcome = uint16(outcome);
        q.livenessEnd = livenessEnd;
        token.safeTransferFrom(msg.sender, address(this), q.bond);
        emit OutcomeAsserted(questionId, msg.sender, outcome, livenessEnd);
    }

    /// @notice Settles an undisputed assertion once its liveness is over (anyone may call):
    /// reports its outcome to the CTF and returns the asserter's bond.
    function settle(bytes32 questionId) external nonReentrant {
        Question storage q = _questions[questionId];
        State state = q.state;
        if (state == State.None) revert NotAsked(questionId);
        if (state == State.Settled) revert AlreadySettled(questionId);
        if (state != State.Asserted) revert NotAsserted(questionId, state);
        if (block.timestamp < q.livenessEnd) revert LivenessOpen(q.livenessEnd);
        q.state = State.Settled;
        _report(questionId, q.outcomes, q.outcome);
        token.safeTransfer(q.asserter, q.bond);
        emit QuestionSettled(questionId, q.outcome, q.asserter, q.bond);
    }

    /// @notice Disputes the assertion of `questionId` within its liveness: posts the bond plus
    /// the arbitration cost (approve both first) and raises a dispute with `outcomes` choices
    /// (choice r: outcome r − 1).
    function dispute(bytes32 questionId) external nonReentrant returns (uint256 disputeId) {
        Question storage q = _questions[questionId];
        State state = q.state;
        if (state == State.None) revert NotAsked(questionId);
        if (state == State.Settled) revert AlreadySettled(questionId);
        if (state != State.Asserted) revert NotAsserted(questionId, state);
        if (block.timestamp >= q.livenessEnd) revert LivenessOver(q.livenessEnd);
        if (msg.sender == q.asserter) revert SelfDispute(questionId);
        q.state = State.Disputed;
        q.disputer = msg.sender;
        uint256 cost = arbitrationCost();
        token.safeTransferFrom(msg.sender, address(this), q.bond + cost);
        token.forceApprove(address(arbitrator), cost);
        disputeId = arbitrator.createDispute(q.outcomes, "", token, cost);
        if (_disputeKnown[disputeId]) revert UnknownDispute(disputeId);
        _disputeKnown[disputeId] = true;
        _disputeQuestion[disputeId] = questionId;
        q.disputeId = disputeId;
        emit AssertionDisputed(questionId, msg.sender, disputeId);
        emit DisputeRequest(arbitrator, disputeId, uint256(questionId), 0, "");
    }

    /// @inheritdoc IArbitrableV2
    function rule(uint256 disputeId, uint256 ruling) external nonReentrant {
        if (msg.sender != address(arbitrator)) revert NotArbitrator(msg.sender);
        if (!_disputeKnown[disputeId]) revert UnknownDispute(disputeId);
        bytes32 questionId = _disputeQuestion[disputeId];
        Question storage q = _questions[questionId];
        if (q.state != State.Disputed || q.disputeId != disputeId) revert NotAsserted(questionId, q.state);
        if (ruling > q.outcomes) revert InvalidRuling(ruling, q.outcomes);
        emit Ruling(arbitrator, disputeId, ruling);
        uint256 bond = q.bond;
        if (ruling == 0) {
            address asserter = q.asserter;
            address disputer = q.disputer;
            q.state = State.Asked;
            q.asserter = address(0);
            q.outcome = 0;
            q.livenessEnd = 0;
            q.disputer = address(0);
            q.disputeId = 0;
            token.safeTransfer(asserter, bond);
            token.safeTransfer(disputer, bond);
            emit QuestionReopened(questionId, disputeId);
            return;
        }
        uint256 outcome = ruling - 1;
        address winner = outcome == q.outcome ? q.asserter : q.disputer;
        q.state = State.Settled;
        q.outcome = uint16(outcome);
        _report(questionId, q.outcomes, outcome);
        token.safeTransfer(winner, 2 * bond);
        emit QuestionSettled(questionId, outcome, winner, 2 * bond);
    }

    function _report(bytes32 questionId, uint256 outcomes, uint256 outcome) private {
        uint256[] memory payouts = new uint256[](outcomes);
        payouts[outcome] = 1;
        ctf.reportPayouts(questionId, payouts);
    }
}
// forge-lint: disable-end(unsafe-typecast)
