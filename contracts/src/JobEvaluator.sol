// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AgenticCommerce} from "./AgenticCommerce.sol";
import {IACPHook, IArbitrableV2, IArbitratorV2} from "./IArbitration.sol";
import {IdentityRegistry} from "./IdentityRegistry.sol";
import {ReputationRegistry} from "./ReputationRegistry.sol";

/// @title JobEvaluator
/// @notice An optimistic evaluator for ERC-8183 jobs whose work can be checked by re-doing it
/// (agora's deterministic inference), with a provider bond and disputes decided by any Kleros v2
/// arbitrator (`IArbitratorV2`). A job uses it by naming this contract as both its evaluator
/// and its hook.
///
/// 1. The client funds the job with the terms as `fund`'s `optParams`:
///    `abi.encode(bytes32 modelHash, uint256 bond)`; the bond must be at least `minBond()`, twice
///    the arbitration cost (as UMA's optimistic oracle requires twice its final fee).
/// 2. The provider accepts with `accept(jobId, agentId)`, naming its ERC-8004 agent and posting
///    the bond (refused once too late to deliver: see 3). Until then the client may `cancel`
///    (full refund).
/// 3. The provider submits through the escrow with `optParams = abi.encode(bytes32 modelHash,
///    bytes delivery)`, where `deliverable = keccak256(delivery)`: the delivery (output and
///    signed receipt) is published in `Delivered`, so anyone can re-execute the job from the
///    job's description and check it. A delivery for another model, or too late for a challenge
///    and a ruling to fit before the job's expiry, is refused.
/// 4. For `challengeWindow` after the submission anyone but the provider may `challenge`,
///    posting an equal bond plus the arbitration cost, with evidence (their own receipt). The
///    dispute goes to the arbitrator (choices: 1 = the delivery stands, 2 = it is wrong).
///    Undisputed, the submission stands: `finalize` pays the provider and returns its bond.
/// 5. The ruling settles the job:
///    - 1: the provider is paid and gets its bond back plus the challenger's whole bond;
///    - 2: the client is refunded; the challenger gets its bond back plus half the provider's
///      bond (1.5×, as UMA pays a winning disputer), the client the other half;
///    - 0 (no decision): the client is refunded and both bonds are returned.
/// 6. Timeouts, once the escrow has refunded an expired job (`claimRefund`): `settle` gives a
///    bond posted for work never delivered to the client, returns the bond of an undisputed
///    delivery nobody finalized, and returns both bonds of a dispute that got no ruling in time.
///
/// Every settlement also leaves ERC-8004 feedback on the provider's agent from this contract,
/// tagged `job` and the outcome, with the job's URI and deliverable: feedback that only a paid,
/// settled job can produce, for raters who trust this evaluator.
///
/// @dev Holds exactly the bonds of unsettled jobs. A bond is paid out once, by the one
/// settlement of its job. Amounts are in the escrow's token.
contract JobEvaluator is IACPHook, IArbitrableV2, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Ruling choices.
    uint256 public constant CHOICES = 2;
    uint256 public constant DELIVERY_STANDS = 1;
    uint256 public constant DELIVERY_WRONG = 2;

    enum Phase {
        None,
        Funded,
        Accepted,
        Submitted,
        Challenged,
        Settled
    }

    struct Case {
        Phase phase;
        bytes32 modelHash;
        uint256 bond;
        uint256 agentId;
        address provider;
        address client;
        address challenger;
        uint64 submittedAt;
        bytes32 deliverable;
        uint256 disputeId;
        uint256 ruling;
    }

    AgenticCommerce public immutable escrow;
    IArbitratorV2 public immutable arbitrator;
    IdentityRegistry public immutable identity;
    ReputationRegistry public immutable reputation;
    IERC20 public immutable token;
    /// @notice Seconds after a submission during which it can be challenged.
    uint64 public immutable challengeWindow;
    /// @notice Seconds a dispute is given to be ruled; a submission must leave the challenge
    /// window and this much time before the job expires.
    uint64 public immutable rulingWindow;

    /// @dev The gas the reputation registry is given for a settlement's feedback.
    uint256 private constant FEEDBACK_GAS = 500_000;

    mapping(uint256 jobId => Case) private _cases;
    /// @dev arbitrator dispute id → job id + 1 (0: no such dispute).
    mapping(uint256 disputeId => uint256) private _disputeJob;

    event TermsSet(uint256 indexed jobId, bytes32 modelHash, uint256 bond);
    event Accepted(uint256 indexed jobId, address indexed provider, uint256 indexed agentId, uint256 bond);
    event Cancelled(uint256 indexed jobId);
    event Delivered(uint256 indexed jobId, bytes32 deliverable, bytes32 modelHash, bytes delivery);
    event Challenged(
        uint256 indexed jobId, address indexed challenger, uint256 indexed disputeId, bytes evidence
    );
    event Settled(
        uint256 indexed jobId, uint8 outcome, uint256 toProvider, uint256 toClient, uint256 toChallenger
    );

    /// @notice Outcomes in `Settled`.
    uint8 public constant OUTCOME_COMPLETED = 1;
    uint8 public constant OUTCOME_UPHELD = 2;
    uint8 public constant OUTCOME_OVERTURNED = 3;
    uint8 public constant OUTCOME_NO_RULING = 4;
    uint8 public constant OUTCOME_UNDELIVERED = 5;
    uint8 public constant OUTCOME_UNFINALIZED = 6;
    uint8 public constant OUTCOME_CANCELLED = 7;
    uint8 public constant OUTCOME_REFUSED = 8;

    error OnlyEscrow(address caller);
    error OnlyArbitrator(address caller);
    error NotOurJob(uint256 jobId);
    error MissingTerms(uint256 jobId);
    error BondTooSmall(uint256 bond, uint256 minBond);
    error WrongPhase(uint256 jobId, Phase phase);
    error NotFunded(uint256 jobId, AgenticCommerce.Status status);
    error NotProvider(uint256 jobId, address caller);
    error NotClient(uint256 jobId, address caller);
    error NotAgentOf(uint256 agentId, address caller);
    error WrongModel(uint256 jobId, bytes32 expected, bytes32 got);
    error DeliverableMismatch(uint256 jobId, bytes32 deliverable, bytes32 hashed);
    error TooLateToSubmit(uint256 jobId, uint256 latest);
    error ChallengeWindowClosed(uint256 jobId, uint256 closedAt);
    error ChallengeWindowOpen(uint256 jobId, uint256 closesAt);
    error SelfChallenge(uint256 jobId);
    error UnknownDispute(uint256 disputeId);
    error InvalidRuling(uint256 ruling);
    error NotExpired(uint256 jobId, AgenticCommerce.Status status);
    error NotEnoughGas(uint256 left, uint256 needed);

    constructor(
        AgenticCommerce escrow_,
        IArbitratorV2 arbitrator_,
        IdentityRegistry identity_,
        ReputationRegistry reputation_,
        uint64 challengeWindow_,
        uint64 rulingWindow_
    ) {
        escrow = escrow_;
        arbitrator = arbitrator_;
        identity = identity_;
        reputation = reputation_;
        token = escrow_.token();
        challengeWindow = challengeWindow_;
        rulingWindow = rulingWindow_;
    }

    /// @notice A job's case here.
    function getCase(uint256 jobId) external view returns (Case memory) {
        return _cases[jobId];
    }

    /// @notice The job of an arbitrator's dispute.
    function jobOfDispute(uint256 disputeId) external view returns (uint256) {
        uint256 stored = _disputeJob[disputeId];
        if (stored == 0) revert UnknownDispute(disputeId);
        return stored - 1;
    }

    /// @notice What a challenger pays the arbitrator on top of its bond.
    function arbitrationCost() public view returns (uint256) {
        return arbitrator.arbitrationCost("", token);
    }

    /// @notice The smallest bond a job may ask: twice the arbitration cost.
    function minBond() public view returns (uint256) {
        return 2 * arbitrationCost();
    }

    // ---- the escrow's hook ----

    function beforeAction(uint256 jobId, bytes4 selector, bytes calldata data) external {
        if (msg.sender != address(escrow)) revert OnlyEscrow(msg.sender);
        if (selector == AgenticCommerce.fund.selector) {
            _setTerms(jobId, data);
        } else if (selector == AgenticCommerce.submit.selector) {
            _deliver(jobId, data);
        }
    }

    function afterAction(uint256, bytes4, bytes calldata) external view {
        if (msg.sender != address(escrow)) revert OnlyEscrow(msg.sender);
    }

    function _setTerms(uint256 jobId, bytes calldata optParams) private {
        AgenticCommerce.Job memory job = escrow.getJob(jobId);
        if (job.evaluator != address(this) || job.hook != address(this)) revert NotOurJob(jobId);
        if (optParams.length != 64) revert MissingTerms(jobId);
        (bytes32 modelHash, uint256 bond) = abi.decode(optParams, (bytes32, uint256));
        uint256 min = minBond();
        if (bond < min) revert BondTooSmall(bond, min);
        Case storage c = _cases[jobId];
        c.phase = Phase.Funded;
        c.modelHash = modelHash;
        c.bond = bond;
        c.client = job.client;
        c.provider = job.provider;
        emit TermsSet(jobId, modelHash, bond);
    }

    function _deliver(uint256 jobId, bytes calldata data) private {
        Case storage c = _cases[jobId];
        if (c.phase != Phase.Accepted) revert WrongPhase(jobId, c.phase);
        (bytes32 deliverable, bytes memory optParams) = abi.decode(data, (bytes32, bytes));
        (bytes32 modelHash, bytes memory delivery) = abi.decode(optParams, (bytes32, bytes));
        if (modelHash != c.modelHash) revert WrongModel(jobId, c.modelHash, modelHash);
        bytes32 hashed = keccak256(delivery);
        if (hashed != deliverable) revert DeliverableMismatch(jobId, deliverable, hashed);
        uint256 expiredAt = escrow.getJob(jobId).expiredAt;
        uint256 needed = uint256(challengeWindow) + rulingWindow;
        if (block.timestamp + needed > expiredAt) {
            revert TooLateToSubmit(jobId, expiredAt > needed ? expiredAt - needed : 0);
        }
        c.phase = Phase.Submitted;
        c.submittedAt = uint64(block.timestamp);
        c.deliverable = deliverable;
        emit Delivered(jobId, deliverable, modelHash, delivery);
    }

    // ---- the parties ----

    /// @notice The provider takes a funded job, naming its ERC-8004 agent and posting the bond.
    function accept(uint256 jobId, uint256 agentId) external nonReentrant {
        Case storage c = _cases[jobId];
        if (c.phase != Phase.Funded) revert WrongPhase(jobId, c.phase);
        AgenticCommerce.Job memory job = escrow.getJob(jobId);
        if (job.status != AgenticCommerce.Status.Funded) revert NotFunded(jobId, job.status);
        if (msg.sender != job.provider) revert NotProvider(jobId, msg.sender);
        if (!_isAgent(msg.sender, agentId)) revert NotAgentOf(agentId, msg.sender);
        // A bond posted too late to deliver could only be lost.
        uint256 needed = uint256(challengeWindow) + rulingWindow;
        if (block.timestamp + needed > job.expiredAt) {
            revert TooLateToSubmit(jobId, job.expiredAt > needed ? job.expiredAt - needed : 0);
        }
        c.phase = Phase.Accepted;
        c.agentId = agentId;
        token.safeTransferFrom(msg.sender, address(this), c.bond);
        emit Accepted(jobId, msg.sender, agentId, c.bond);
    }

    /// @notice The client withdraws a funded job no provider has accepted: a full refund.
    function cancel(uint256 jobId) external nonReentrant {
        Case storage c = _cases[jobId];
        if (c.phase != Phase.Funded) revert WrongPhase(jobId, c.phase);
        if (msg.sender != c.client) revert NotClient(jobId, msg.sender);
        c.phase = Phase.Settled;
        if (escrow.getJob(jobId).status == AgenticCommerce.Status.Funded) {
            escrow.reject(jobId, "cancelled", "");
        }
        emit Cancelled(jobId);
        emit Settled(jobId, OUTCOME_CANCELLED, 0, 0, 0);
    }

    /// @notice Disputes a submission within its challenge window: posts the job's bond plus the
    /// arbitration cost (approve both first) and raises a dispute with the arbitrator.
    /// `evidence` is published as it is (agora validators put their own signed receipt there).
    function challenge(uint256 jobId, bytes calldata evidence)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        Case storage c = _cases[jobId];
        if (c.phase != Phase.Submitted) revert WrongPhase(jobId, c.phase);
        uint256 closesAt = uint256(c.submittedAt) + challengeWindow;
        if (block.timestamp >= closesAt) revert ChallengeWindowClosed(jobId, closesAt);
        if (msg.sender == c.provider) revert SelfChallenge(jobId);
        c.phase = Phase.Challenged;
        c.challenger = msg.sender;
        uint256 cost = arbitrationCost();
        token.safeTransferFrom(msg.sender, address(this), c.bond + cost);
        token.forceApprove(address(arbitrator), cost);
        disputeId = arbitrator.createDispute(CHOICES, "", token, cost);
        if (_disputeJob[disputeId] != 0) revert UnknownDispute(disputeId);
        _disputeJob[disputeId] = jobId + 1;
        c.disputeId = disputeId;
        emit Challenged(jobId, msg.sender, disputeId, evidence);
        emit DisputeRequest(arbitrator, disputeId, jobId, 0, "");
    }

    /// @notice After an unchallenged window, pays the provider and returns its bond (anyone may call).
    function finalize(uint256 jobId) external nonReentrant {
        Case storage c = _cases[jobId];
        if (c.phase != Phase.Submitted) revert WrongPhase(jobId, c.phase);
        uint256 closesAt = uint256(c.submittedAt) + challengeWindow;
        if (block.timestamp < closesAt) revert ChallengeWindowOpen(jobId, closesAt);
        c.phase = Phase.Settled;
        escrow.complete(jobId, c.deliverable, "");
        token.safeTransfer(c.provider, c.bond);
        _feedback(jobId, c, 100, "completed");
        emit Settled(jobId, OUTCOME_COMPLETED, c.bond, 0, 0);
    }

    /// @inheritdoc IArbitrableV2
    function rule(uint256 disputeId, uint256 ruling) external nonReentrant {
        if (msg.sender != address(arbitrator)) revert OnlyArbitrator(msg.sender);
        uint256 stored = _disputeJob[disputeId];
        if (stored == 0) revert UnknownDispute(disputeId);
        if (ruling > CHOICES) revert InvalidRuling(ruling);
        uint256 jobId = stored - 1;
        Case storage c = _cases[jobId];
        if (c.phase != Phase.Challenged) revert WrongPhase(jobId, c.phase);
        c.phase = Phase.Settled;
        c.ruling = ruling;
        emit Ruling(arbitrator, disputeId, ruling);
        bool pending = escrow.getJob(jobId).status == AgenticCommerce.Status.Submitted;
        uint256 bond = c.bond;
        if (ruling == DELIVERY_STANDS) {
            if (pending) escrow.complete(jobId, c.deliverable, "");
            token.safeTransfer(c.provider, 2 * bond);
            _feedback(jobId, c, 100, "upheld");
            emit Settled(jobId, OUTCOME_UPHELD, 2 * bond, 0, 0);
        } else if (ruling == DELIVERY_WRONG) {
            if (pending) escrow.reject(jobId, c.deliverable, "");
            uint256 half = bond / 2;
            token.safeTransfer(c.challenger, bond + half);
            token.safeTransfer(c.client, bond - half);
            _feedback(jobId, c, 0, "overturned");
            emit Settled(jobId, OUTCOME_OVERTURNED, 0, bond - half, bond + half);
        } else {
            if (pending) escrow.reject(jobId, c.deliverable, "");
            token.safeTransfer(c.provider, bond);
            token.safeTransfer(c.challenger, bond);
            emit Settled(jobId, OUTCOME_REFUSED, bond, 0, bond);
        }
    }

    /// @notice Settles the bonds of a job the escrow refunded after its expiry (anyone may call):
    /// a bond for work never delivered goes to the client; an undisputed delivery's bond, or the
    /// two bonds of a dispute that got no ruling, go back to whoever posted them.
    function settle(uint256 jobId) external nonReentrant {
        Case storage c = _cases[jobId];
        AgenticCommerce.Status status = escrow.getJob(jobId).status;
        if (status != AgenticCommerce.Status.Expired) revert NotExpired(jobId, status);
        Phase phase = c.phase;
        uint256 bond = c.bond;
        if (phase == Phase.Funded) {
            c.phase = Phase.Settled;
            emit Settled(jobId, OUTCOME_CANCELLED, 0, 0, 0);
        } else if (phase == Phase.Accepted) {
            c.phase = Phase.Settled;
            token.safeTransfer(c.client, bond);
            _feedback(jobId, c, 0, "undelivered");
            emit Settled(jobId, OUTCOME_UNDELIVERED, 0, bond, 0);
        } else if (phase == Phase.Submitted) {
            c.phase = Phase.Settled;
            token.safeTransfer(c.provider, bond);
            emit Settled(jobId, OUTCOME_UNFINALIZED, bond, 0, 0);
        } else if (phase == Phase.Challenged) {
            c.phase = Phase.Settled;
            token.safeTransfer(c.provider, bond);
            token.safeTransfer(c.challenger, bond);
            emit Settled(jobId, OUTCOME_NO_RULING, bond, 0, bond);
        } else {
            revert WrongPhase(jobId, phase);
        }
    }

    function _isAgent(address who, uint256 agentId) private view returns (bool) {
        try identity.isAuthorizedOrOwner(who, agentId) returns (bool ok) {
            if (ok) return true;
        } catch {
            return false;
        }
        return identity.getAgentWallet(agentId) == who;
    }

    /// @dev Feedback never blocks a settlement: a registry that refuses it (say, the agent was
    /// burned) leaves the money where the ruling put it.
    function _feedback(uint256 jobId, Case storage c, int128 value, string memory outcome) private {
        string memory uri = string.concat(
            "agora-job:",
            Strings.toString(block.chainid),
            ":",
            Strings.toHexString(address(escrow)),
            ":",
            Strings.toString(jobId)
        );
        // The registry gets FEEDBACK_GAS, which must be left: a caller cannot drop the feedback
        // by starving the call.
        uint256 needed = FEEDBACK_GAS * 64 / 63 + 10_000;
        if (gasleft() < needed) revert NotEnoughGas(gasleft(), needed);
        try reputation.giveFeedback{gas: FEEDBACK_GAS}(
            c.agentId, value, 0, "job", outcome, "", uri, c.deliverable
        ) {}
            catch {}
    }
}
