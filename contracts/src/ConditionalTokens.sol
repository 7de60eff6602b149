// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title ConditionalTokens
/// @notice Outcome positions as ERC-1155 tokens, with the semantics of Gnosis' Conditional
/// Tokens Framework and simpler ids.
///
/// - A condition is a question an `oracle` will answer with one of `outcomeSlotCount` outcomes
///   (2 to 256): `conditionId = keccak256(abi.encodePacked(oracle, questionId, outcomeSlotCount))`.
///   Anyone may `prepareCondition`; only the oracle can `reportPayouts`, once: a numerator per
///   outcome (not all zero), their sum being the denominator.
/// - An index set is a bit mask of outcomes (bit i: outcome i). A collection is a set of
///   outcomes of one or more conditions: `getCollectionId(parent, conditionId, indexSet) =
///   keccak256(abi.encodePacked(parent, conditionId, indexSet))`, the root collection being 0.
///   A position is a collection backed by a collateral token: `getPositionId(collateral,
///   collectionId) = uint256(keccak256(abi.encodePacked(collateral, collectionId)))`; its
///   ERC-1155 id.
/// - Unlike Gnosis' (commutative, elliptic-curve) sum of collection ids, the nesting here is a
///   hash chain, so ORDER MATTERS: "A's outcome a, then B's outcome b" (B nested under A's
///   collection) is a different position from "B's outcome b, then A's outcome a"; each can only
///   be split from, merged into and redeemed through its own parent.
/// - `splitPosition` turns `amount` of a position (or of collateral) into `amount` of each part
///   of a partition of it; `mergePositions` is its inverse. `redeemPositions`, once the
///   condition is resolved, burns the caller's whole balance of each given position and pays
///   `balance · Σ_{i in set} numerator_i / denominator` (rounded down, per set) in the parent
///   position, or in collateral at the root.
///
/// @dev The contract holds exactly the collateral of the root positions not yet redeemed: for
/// every condition and every outcome i, the collateral equals the sum of the supplies of the
/// root positions whose index set contains i (before resolution; afterwards at least their
/// payouts). `splitPosition`, `mergePositions` and `redeemPositions` are not reentrant: an
/// ERC-1155 receiver hook they trigger cannot call any of them (transfers it may).
contract ConditionalTokens is ERC1155, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The payout numerators of a condition, one per outcome (all zero until reported);
    /// the array's length is the outcome slot count (0: not prepared).
    mapping(bytes32 conditionId => uint256[]) public payoutNumerators;
    /// @notice The sum of the numerators; 0 until reported.
    mapping(bytes32 conditionId => uint256) public payoutDenominator;

    /// @notice A condition was prepared.
    event ConditionPreparation(
        bytes32 indexed conditionId,
        address indexed oracle,
        bytes32 indexed questionId,
        uint256 outcomeSlotCount
    );
    /// @notice The oracle reported the payouts of a condition.
    event ConditionResolution(
        bytes32 indexed conditionId,
        address indexed oracle,
        bytes32 indexed questionId,
        uint256 outcomeSlotCount,
        uint256[] payoutNumerators
    );
    /// @notice `amount` of a position (or collateral) was split into each part of `partition`.
    event PositionSplit(
        address indexed stakeholder,
        IERC20 collateralToken,
        bytes32 indexed parentCollectionId,
        bytes32 indexed conditionId,
        uint256[] partition,
        uint256 amount
    );
    /// @notice `amount` of each part of `partition` was merged back.
    event PositionsMerge(
        address indexed stakeholder,
        IERC20 collateralToken,
        bytes32 indexed parentCollectionId,
        bytes32 indexed conditionId,
        uint256[] partition,
        uint256 amount
    );
    /// @notice Positions were redeemed for `payout` of the parent position (or collateral).
    event PayoutRedemption(
        address indexed redeemer,
        IERC20 indexed collateralToken,
        bytes32 indexed parentCollectionId,
        bytes32 conditionId,
        uint256[] indexSets,
        uint256 payout
    );

    error InvalidOutcomeSlotCount(uint256 outcomeSlotCount);
    error AlreadyPrepared(bytes32 conditionId);
    error ConditionNotPrepared(bytes32 conditionId);
    error AlreadyReported(bytes32 conditionId);
    error AllPayoutsZero(bytes32 conditionId);
    error ConditionNotResolved(bytes32 conditionId);
    /// @notice A partition with fewer than two parts, an empty or out-of-range part, or parts that
    /// overlap.
    error InvalidPartition(bytes32 conditionId, uint256 indexSet);
    error InvalidIndexSet(bytes32 conditionId, uint256 indexSet);
    error ZeroAmount();

    constructor() ERC1155("") {}

    // ---- ids ----

    /// @notice The id of the condition `oracle` answers for `questionId` with `outcomeSlotCount`
    /// outcomes.
    function getConditionId(address oracle, bytes32 questionId, uint256 outcomeSlotCount)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(oracle, questionId, outcomeSlotCount));
    }

    /// @notice The collection of the outcomes `indexSet` of `conditionId` within `parentCollectionId`
    /// (0: the root). Nesting is ordered: see the contract's notice.
    function getCollectionId(bytes32 parentCollectionId, bytes32 conditionId, uint256 indexSet)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(parentCollectionId, conditionId, indexSet));
    }

    /// @notice The ERC-1155 id of `collectionId` backed by `collateralToken`.
    function getPositionId(IERC20 collateralToken, bytes32 collectionId) public pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(collateralToken, collectionId)));
    }

    /// @notice The number of outcomes of a condition (0: not prepared).
    function getOutcomeSlotCount(bytes32 conditionId) public view returns (uint256) {
        return payoutNumerators[conditionId].length;
    }

    // ---- conditions ----

    /// @notice Prepares the condition `oracle` will answer for `questionId` with
    /// `outcomeSlotCount` (2 to 256) outcomes. Anyone may call.
    function prepareCondition(address oracle, bytes32 questionId, uint256 outcomeSlotCount) external {
        if (outcomeSlotCount < 2 || outcomeSlotCount > 256) revert InvalidOutcomeSlotCount(outcomeSlotCount);
        bytes32 conditionId = getConditionId(oracle, questionId, outcomeSlotCount);
        if (payoutNumerators[conditionId].length != 0) revert AlreadyPrepared(conditionId);
        payoutNumerators[conditionId] = new uint256[](outcomeSlotCount);
        emit ConditionPreparation(conditionId, oracle, questionId, outcomeSlotCount);
    }

    /// @notice Reports the payouts of the caller's condition for `questionId` (the condition with
    /// `payouts.length` outcomes whose oracle is the caller); once, not all zero.
    function reportPayouts(bytes32 questionId, uint256[] calldata payouts) external {
        uint256 n = payouts.length;
        bytes32 conditionId = getConditionId(msg.sender, questionId, n);
        uint256[] storage numerators = payoutNumerators[conditionId];
        if (n == 0 || numerators.length != n) revert ConditionNotPrepared(conditionId);
        if (payoutDenominator[conditionId] != 0) revert AlreadyReported(conditionId);
        uint256 den;
        for (uint256 i; i < n; ++i) {
            uint256 num = payouts[i];
            den += num;
            // Zeros are already stored: only non-zero numerators are written.
            if (num != 0) numerators[i] = num;
        }
        if (den == 0) revert AllPayoutsZero(conditionId);
        payoutDenominator[conditionId] = den;
        emit ConditionResolution(conditionId, msg.sender, questionId, n, payouts);
    }

    // ---- positions ----

    /// @notice Splits `amount` of the position `parentCollectionId` ∪ (the union of `partition`)
    /// into `amount` of each part of `partition` (disjoint, non-empty index sets of
    /// `conditionId`). When the partition covers every outcome the source is the parent position
    /// itself, or `collateralToken` (approve it first) when the parent is the root.
    function splitPosition(
        IERC20 collateralToken,
        bytes32 parentCollectionId,
        bytes32 conditionId,
        uint256[] calldata partition,
        uint256 amount
    ) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        (uint256[] memory ids, uint256[] memory amounts, uint256 union, uint256 full) =
            _parts(collateralToken, parentCollectionId, conditionId, partition, amount);
        if (union == full) {
            if (parentCollectionId == bytes32(0)) {
                collateralToken.safeTransferFrom(msg.sender, address(this), amount);
            } else {
                _burn(msg.sender, getPositionId(collateralToken, parentCollectionId), amount);
            }
        } else {
            _burn(
                msg.sender,
                getPositionId(collateralToken, getCollectionId(parentCollectionId, conditionId, union)),
                amount
            );
        }
        _mintBatch(msg.sender, ids, amounts, "");
        emit PositionSplit(msg.sender, collateralToken, parentCollectionId, conditionId, partition, amount);
    }

    /// @notice Merges `amount` of each part of `partition` back into the position of their
    /// union (the parent position, or `collateralToken` paid out, when it covers every outcome).
    function mergePositions(
        IERC20 collateralToken,
        bytes32 parentCollectionId,
        bytes32 conditionId,
        uint256[] calldata partition,
        uint256 amount
    ) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        (uint256[] memory ids, uint256[] memory amounts, uint256 union, uint256 full) =
            _parts(collateralToken, parentCollectionId, conditionId, partition, amount);
        _burnBatch(msg.sender, ids, amounts);
        emit PositionsMerge(msg.sender, collateralToken, parentCollectionId, conditionId, partition, amount);
        if (union == full) {
            if (parentCollectionId == bytes32(0)) {
                collateralToken.safeTransfer(msg.sender, amount);
            } else {
                _mint(msg.sender, getPositionId(collateralToken, parentCollectionId), amount, "");
            }
        } else {
            _mint(
                msg.sender,
                getPositionId(collateralToken, getCollectionId(parentCollectionId, conditionId, union)),
                amount,
                ""
            );
        }
    }

    /// @notice Redeems the caller's whole balance of each position `indexSets` of the resolved
    /// `conditionId` under `parentCollectionId`: pays `balance · Σ_{i in set} numerator_i /
    /// denominator` (rounded down, per set) in the parent position, or in `collateralToken` at
    /// the root. Returns the payout.
    function redeemPositions(
        IERC20 collateralToken,
        bytes32 parentCollectionId,
        bytes32 conditionId,
        uint256[] calldata indexSets
    ) external nonReentrant returns (uint256 totalPayout) {
        uint256 den = payoutDenominator[conditionId];
        if (den == 0) revert ConditionNotResolved(conditionId);
        uint256[] storage numerators = payoutNumerators[conditionId];
        uint256 n = numerators.length;
        uint256 full = _fullIndexSet(n);
        for (uint256 k; k < indexSets.length; ++k) {
            uint256 indexSet = indexSets[k];
            if (indexSet == 0 || indexSet & ~full != 0) revert InvalidIndexSet(conditionId, indexSet);
            uint256 positionId =
                getPositionId(collateralToken, getCollectionId(parentCollectionId, conditionId, indexSet));
            uint256 stake = balanceOf(msg.sender, positionId);
            if (stake == 0) continue;
            uint256 num;
            for (uint256 i; i < n; ++i) {
                if (indexSet & (uint256(1) << i) != 0) num += numerators[i];
            }
            totalPayout += Math.mulDiv(stake, num, den);
            _burn(msg.sender, positionId, stake);
        }
        emit PayoutRedemption(
            msg.sender, collateralToken, parentCollectionId, conditionId, indexSets, totalPayout
        );
        if (totalPayout != 0) {
            if (parentCollectionId == bytes32(0)) {
                collateralToken.safeTransfer(msg.sender, totalPayout);
            } else {
                _mint(msg.sender, getPositionId(collateralToken, parentCollectionId), totalPayout, "");
            }
        }
    }

    // ---- internals ----

    /// @dev Checks `partition` (at least two disjoint, non-empty parts within the condition's
    /// outcomes) and returns the ids of its positions, `amount` for each, their union and the
    /// full index set.
    function _parts(
        IERC20 collateralToken,
        bytes32 parentCollectionId,
        bytes32 conditionId,
        uint256[] calldata partition,
        uint256 amount
    ) private view returns (uint256[] memory ids, uint256[] memory amounts, uint256 union, uint256 full) {
        uint256 n = payoutNumerators[conditionId].length;
        if (n == 0) revert ConditionNotPrepared(conditionId);
        if (partition.length < 2) revert InvalidPartition(conditionId, 0);
        full = _fullIndexSet(n);
        ids = new uint256[](partition.length);
        amounts = new uint256[](partition.length);
        for (uint256 k; k < partition.length; ++k) {
            uint256 indexSet = partition[k];
            if (indexSet == 0 || indexSet & ~full != 0 || indexSet & union != 0) {
                revert InvalidPartition(conditionId, indexSet);
            }
            union |= indexSet;
            ids[k] =
                getPositionId(collateralToken, getCollectionId(parentCollectionId, conditionId, indexSet));
            amounts[k] = amount;
        }
    }

    function _fullIndexSet(uint256 n) private pure returns (uint256) {
        return n == 256 ? type(uint256).max : (uint256(1) << n) - 1;
    }
}
