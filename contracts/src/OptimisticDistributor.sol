// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IArbitrableV2, IArbitratorV2} from "./IArbitration.sol";

/// @title OptimisticDistributor
/// @notice Pays out a funding round's result, computed off chain, by an optimistic Merkle
/// distribution whose disputes go to any Kleros v2 arbitrator (`IArbitratorV2`). The concrete
/// round contracts say when a round can take a result, how much it must distribute and who
/// funded it; this contract does the rest, per `roundId`:
///
/// 1. Once the round is open for a result, anyone `postResult`s the Merkle root of the payout
///    leaves, the hash of the off-chain result document, and the total the leaves distribute
///    (which must be the round's whole payout), posting the round's result bond.
/// 2. Until `challengeEnd` anyone but the poster may `challenge`, naming the root and result
///    hash it holds correct and posting an equal bond plus the arbitration cost. The dispute
///    goes to the arbitrator with two choices: 1 = the posted result stands, 2 = the
///    challenger's is right. Only one challenge per posted result.
/// 3. Unchallenged, `finalize` (anyone, after `challengeEnd`) returns the poster's bond and makes
///    the result final. A ruling settles a challenged result: on 1 the posted result is final
///    and the poster takes both bonds; on 2 the challenger's result is final and the challenger
///    takes both bonds; on 0 (no decision) both bonds are returned and the result is cleared,
///    so a new one can be posted.
/// 4. Against a final root anyone `claim`s a leaf for its account:
///    `leaf = keccak256(bytes.concat(keccak256(abi.encode(uint256 index, address account,
///    uint256 amount))))` (OpenZeppelin's StandardMerkleTree leaf), with sorted-pair hashing of
///    the proof. A leaf whose account is zero is unclaimable (it stays with the funder).
/// 5. After `claimPeriod` from finality the funder may `sweep` whatever was not claimed; until
///    then (and until it sweeps) claims are taken.
///
/// @dev Holds, per round, its payout until claimed or swept and the bonds of its unsettled
/// result. Claims of a round never pay more than its payout total, whatever its tree says.
abstract contract OptimisticDistributor is IArbitrableV2, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using BitMaps for BitMaps.BitMap;

    /// @notice Ruling choices.
    uint256 public constant CHOICES = 2;
    /// @notice Ruling: the posted result stands.
    uint256 public constant RESULT_STANDS = 1;
    /// @notice Ruling: the challenger's result is the right one.
    uint256 public constant CHALLENGER_RIGHT = 2;

    /// @notice Where a round's result stands.
    enum PayoutState {
        None,
        Posted,
        Challenged,
        Final
    }

    /// @notice A round's result and its payout.
    struct Payout {
        /// The Merkle root of the payout leaves (the challenger's, if a ruling made it final).
        bytes32 root;
        /// keccak256 of the off-chain result document.
        bytes32 resultHash;
        address poster;
        /// The bond the poster posted (a challenger posts as much).
        uint256 bond;
        /// The last second the posted result can be challenged.
        uint64 challengeEnd;
        address challenger;
        bytes32 challengerRoot;
        bytes32 challengerResultHash;
        uint256 disputeId;
        PayoutState state;
        /// When the result became final.
        uint64 finalAt;
        /// The total paid out by claims.
        uint256 claimed;
        /// Whether the funder took what was left after the claim period.
        bool swept;
    }

    /// @notice The token the rounds are funded and paid in, and the bonds posted in.
    IERC20 public immutable token;
    /// @notice The arbitrator deciding challenged results.
    IArbitratorV2 public immutable arbitrator;

    mapping(uint256 roundId => Payout) private _payouts;
    /// @dev roundId => the leaf indices claimed.
    mapping(uint256 roundId => BitMaps.BitMap) private _claimedBits;
    /// @dev arbitrator dispute id => round id + 1 (0: no such dispute).
    mapping(uint256 disputeId => uint256) private _disputeRound;

    /// @notice A result was posted for `roundId`.
    event ResultPosted(uint256 indexed roundId, address indexed poster, bytes32 root, bytes32 resultHash);
    /// @notice The posted result of `roundId` was challenged; the arbitrator's dispute is `disputeId`.
    event ResultChallenged(
        uint256 indexed roundId, address indexed challenger, uint256 indexed disputeId, bytes32 correctRoot
    );
    /// @notice The result of `roundId` is final: claims are open against `root`.
    event ResultFinal(uint256 indexed roundId, bytes32 root, bytes32 resultHash);
    /// @notice The arbitrator refused to rule on `disputeId`: both bonds were returned and the
    /// result of `roundId` cleared, so a new one can be posted.
    event ResultCleared(uint256 indexed roundId, uint256 indexed disputeId);
    /// @notice Leaf `index` of `roundId` paid `amount` to `account`.
    event Claimed(uint256 indexed roundId, uint256 indexed index, address indexed account, uint256 amount);
    /// @notice The funder of `roundId` took the `amount` nobody claimed.
    event Swept(uint256 indexed roundId, uint256 amount);

    error WrongState(uint256 roundId, PayoutState state);
    error WrongTotal(uint256 total, uint256 expected);
    error ChallengeClosed(uint256 roundId, uint256 challengeEnd);
    error ChallengeOpen(uint256 roundId, uint256 challengeEnd);
    error SelfChallenge(uint256 roundId);
    error SameResult(uint256 roundId);
    error NotArbitrator(address caller);
    error UnknownDispute(uint256 disputeId);
    error InvalidRuling(uint256 ruling);
    error NotFinal(uint256 roundId);
    error Unclaimable(uint256 roundId, uint256 index);
    error AlreadyClaimed(uint256 roundId, uint256 index);
    error InvalidProof(uint256 roundId, uint256 index);
    error PayoutExceeded(uint256 roundId, uint256 claimed, uint256 total);
    error ClaimPeriodOver(uint256 roundId);
    error ClaimPeriodOpen(uint256 roundId, uint256 endsAt);
    error NotFunder(uint256 roundId, address caller);

    constructor(IERC20 token_, IArbitratorV2 arbitrator_) {
        token = token_;
        arbitrator = arbitrator_;
    }

    // ---- the hooks of a round kind ----

    /// @dev Reverts, with an error naming why, unless `roundId` can take a result now.
    function _payoutOpen(uint256 roundId) internal view virtual;

    /// @dev The amount the payout tree of `roundId` must distribute exactly.
    function _payoutTotal(uint256 roundId) internal view virtual returns (uint256);

    /// @dev The result bond, challenge window, claim period and funder of `roundId`.
    function _roundParams(uint256 roundId)
        internal
        view
        virtual
        returns (uint256 bond, uint64 challengeWindow, uint64 claimPeriod, address funder);

    // ---- views ----

    /// @notice The result and payout of `roundId`.
    function payout(uint256 roundId) external view returns (Payout memory) {
        return _payouts[roundId];
    }

    /// @notice Whether leaf `index` of `roundId` was claimed.
    function isClaimed(uint256 roundId, uint256 index) public view returns (bool) {
        return _claimedBits[roundId].get(index);
    }

    /// @notice The round of an arbitrator's dispute.
    function roundOfDispute(uint256 disputeId) external view returns (uint256) {
        uint256 stored = _disputeRound[disputeId];
        if (stored == 0) revert UnknownDispute(disputeId);
        return stored - 1;
    }

    /// @notice What a challenger pays the arbitrator on top of its bond.
    function arbitrationCost() public view returns (uint256) {
        return arbitrator.arbitrationCost("", token);
    }

    /// @notice The leaf of the payout tree that pays `amount` to `account` at `index`.
    function leafOf(uint256 index, address account, uint256 amount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
    }

    // ---- the result ----

    /// @notice Posts the result of `roundId`: the Merkle `root` of its payout leaves, the hash of
    /// the off-chain result document, and the `total` the leaves distribute, which must be the
    /// round's whole payout. Posts the round's result bond (approve it first).
    function postResult(uint256 roundId, bytes32 root, bytes32 resultHash, uint256 total)
        external
        nonReentrant
    {
        _payoutOpen(roundId);
        Payout storage p = _payouts[roundId];
        if (p.state != PayoutState.None) revert WrongState(roundId, p.state);
        uint256 expected = _payoutTotal(roundId);
        if (total != expected) revert WrongTotal(total, expected);
        (uint256 bond, uint64 challengeWindow,,) = _roundParams(roundId);
        p.root = root;
        p.resultHash = resultHash;
        p.poster = msg.sender;
        p.bond = bond;
        p.challengeEnd = uint64(block.timestamp) + challengeWindow;
        p.state = PayoutState.Posted;
        token.safeTransferFrom(msg.sender, address(this), bond);
        emit ResultPosted(roundId, msg.sender, root, resultHash);
    }

    /// @notice Challenges the posted result of `roundId` within its window, naming the root and
    /// result hash held correct: posts the poster's bond plus the arbitration cost (approve both
    /// first) and raises a dispute with the arbitrator (1 = the posted result stands, 2 = the
    /// challenger's is right).
    function challenge(uint256 roundId, bytes32 correctRoot, bytes32 correctResultHash)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        Payout storage p = _payouts[roundId];
        if (p.state != PayoutState.Posted) revert WrongState(roundId, p.state);
        if (block.timestamp > p.challengeEnd) revert ChallengeClosed(roundId, p.challengeEnd);
        if (msg.sender == p.poster) revert SelfChallenge(roundId);
        if (correctRoot == p.root && correctResultHash == p.resultHash) revert SameResult(roundId);
        p.state = PayoutState.Challenged;
        p.challenger = msg.sender;
        p.challengerRoot = correctRoot;
        p.challengerResultHash = correctResultHash;
        uint256 cost = arbitrationCost();
        token.safeTransferFrom(msg.sender, address(this), p.bond + cost);
        token.forceApprove(address(arbitrator), cost);
        disputeId = arbitrator.createDispute(CHOICES, "", token, cost);
        if (_disputeRound[disputeId] != 0) revert UnknownDispute(disputeId);
        _disputeRound[disputeId] = roundId + 1;
        p.disputeId = disputeId;
        emit ResultChallenged(roundId, msg.sender, disputeId, correctRoot);
        emit DisputeRequest(arbitrator, disputeId, roundId, 0, "");
    }

    /// @inheritdoc IArbitrableV2
    function rule(uint256 disputeId, uint256 ruling) external nonReentrant {
        if (msg.sender != address(arbitrator)) revert NotArbitrator(msg.sender);
        uint256 stored = _disputeRound[disputeId];
        if (stored == 0) revert UnknownDispute(disputeId);
        if (ruling > CHOICES) revert InvalidRuling(ruling);
        uint256 roundId = stored - 1;
        Payout storage p = _payouts[roundId];
        if (p.state != PayoutState.Challenged || p.disputeId != disputeId) {
            revert WrongState(roundId, p.state);
        }
        emit Ruling(arbitrator, disputeId, ruling);
        uint256 bond = p.bond;
        if (ruling == RESULT_STANDS) {
            p.state = PayoutState.Final;
            p.finalAt = uint64(block.timestamp);
            token.safeTransfer(p.poster, 2 * bond);
            emit ResultFinal(roundId, p.root, p.resultHash);
        } else if (ruling == CHALLENGER_RIGHT) {
            p.root = p.challengerRoot;
            p.resultHash = p.challengerResultHash;
            p.state = PayoutState.Final;
            p.finalAt = uint64(block.timestamp);
            token.safeTransfer(p.challenger, 2 * bond);
            emit ResultFinal(roundId, p.root, p.resultHash);
        } else {
            address poster = p.poster;
            address challenger = p.challenger;
            // Nothing was claimed (claims need a final result): the round starts over.
            delete _payouts[roundId];
            token.safeTransfer(poster, bond);
            token.safeTransfer(challenger, bond);
            emit ResultCleared(roundId, disputeId);
        }
    }

    /// @notice Makes an unchallenged result final once its challenge window is over and returns
    /// the poster's bond (anyone may call).
    function finalize(uint256 roundId) external nonReentrant {
        Payout storage p = _payouts[roundId];
        if (p.state != PayoutState.Posted) revert WrongState(roundId, p.state);
        if (block.timestamp <= p.challengeEnd) revert ChallengeOpen(roundId, p.challengeEnd);
        p.state = PayoutState.Final;
        p.finalAt = uint64(block.timestamp);
        token.safeTransfer(p.poster, p.bond);
        emit ResultFinal(roundId, p.root, p.resultHash);
    }

    // ---- the payout ----

    /// @notice Pays leaf `index` of the final result of `roundId`: `amount` to `account`, with
    /// `proof` (sorted-pair hashing) against the root. Anyone may call; the money goes to
    /// `account`. Taken until the funder sweeps the round.
    function claim(uint256 roundId, uint256 index, address account, uint256 amount, bytes32[] calldata proof)
        external
        nonReentrant
    {
        Payout storage p = _payouts[roundId];
        if (p.state != PayoutState.Final) revert NotFinal(roundId);
        if (p.swept) revert ClaimPeriodOver(roundId);
        if (account == address(0)) revert Unclaimable(roundId, index);
        BitMaps.BitMap storage claimedBits = _claimedBits[roundId];
        if (claimedBits.get(index)) revert AlreadyClaimed(roundId, index);
        if (!MerkleProof.verifyCalldata(proof, p.root, leafOf(index, account, amount))) {
            revert InvalidProof(roundId, index);
        }
        uint256 claimed = p.claimed + amount;
        uint256 total = _payoutTotal(roundId);
        if (claimed > total) revert PayoutExceeded(roundId, claimed, total);
        claimedBits.set(index);
        p.claimed = claimed;
        token.safeTransfer(account, amount);
        emit Claimed(roundId, index, account, amount);
    }

    /// @notice Sends the funder of `roundId` what was not claimed (including the leaves without
    /// an account), once `claimPeriod` has passed since the result became final. Claims end here.
    function sweep(uint256 roundId) external nonReentrant {
        (,, uint64 claimPeriod, address funder) = _roundParams(roundId);
        if (msg.sender != funder) revert NotFunder(roundId, msg.sender);
        Payout storage p = _payouts[roundId];
        if (p.state != PayoutState.Final) revert NotFinal(roundId);
        if (p.swept) revert ClaimPeriodOver(roundId);
        uint256 endsAt = uint256(p.finalAt) + claimPeriod;
        if (block.timestamp <= endsAt) revert ClaimPeriodOpen(roundId, endsAt);
        p.swept = true;
        uint256 amount = _payoutTotal(roundId) - p.claimed;
        token.safeTransfer(funder, amount);
        emit Swept(roundId, amount);
    }
}
