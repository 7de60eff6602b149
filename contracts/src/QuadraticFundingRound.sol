// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IArbitratorV2} from "./IArbitration.sol";
import {OptimisticDistributor} from "./OptimisticDistributor.sol";

/// @title QuadraticFundingRound
/// @notice Quadratic-funding rounds paid on chain: a funder puts up a matching pool for a list
/// of projects; until the donation deadline anyone `donate`s to a project, the donation going
/// straight from the donor to the project's address (and, where the round requires it, only
/// donors holding an ERC-8004 identity count: see `requireIdentity`). After the deadline the
/// matching, computed off chain from the `Donated` events, is paid out of the matching pool
/// through `OptimisticDistributor`.
///
/// @dev Holds, per round, its matching pool until paid out and the bonds of its result; never
/// the donations.
contract QuadraticFundingRound is OptimisticDistributor {
    using SafeERC20 for IERC20;

    /// @notice What a funder fixes when creating a round.
    struct QfParams {
        /// What the round pays out as matching, all of it through the result's tree.
        uint256 matchingPool;
        /// The bond a result's poster (and a challenger) posts.
        uint256 resultBond;
        /// The last second donations are taken.
        uint64 donationDeadline;
        /// Seconds a posted result can be challenged.
        uint64 challengeWindow;
        /// Seconds after finality before the funder may sweep what was not claimed.
        uint64 claimPeriod;
        /// Whether a donor must hold an identity (an ERC-8004 agent NFT).
        bool requireIdentity;
    }

    /// @notice A round.
    struct Round {
        QfParams params;
        address funder;
        /// Everything donated to the round's projects.
        uint256 donated;
        /// How many donations were made.
        uint256 donations;
        address[] projects;
    }

    /// @notice The ERC-8004 identity registry (an ERC-721) gating donors.
    IERC721 public immutable identity;

    /// @notice Rounds created so far (ids start at 1).
    uint256 public roundCount;

    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint256 roundId => mapping(uint32 project => uint256)) private _projectDonated;

    /// @notice `funder` created round `roundId` with `params`, its matching pool taken, for `projects`.
    event RoundCreated(uint256 indexed roundId, address indexed funder, QfParams params, address[] projects);
    /// @notice `donor` gave `amount` to project `project` of `roundId` (paid to the project's address).
    event Donated(uint256 indexed roundId, uint32 indexed project, address indexed donor, uint256 amount);

    error NoSuchRound(uint256 roundId);
    error EmptyPool();
    error DeadlinePassed(uint256 deadline, uint256 nowTs);
    error NoProjects();
    error ZeroProject(uint256 index);
    error TooManyProjects(uint256 count);
    error DonationsClosed(uint256 roundId, uint256 deadline);
    error DonationsOpen(uint256 roundId, uint256 deadline);
    error NoSuchProject(uint256 roundId, uint32 project);
    error ZeroDonation(uint256 roundId);
    error NoIdentity(address donor);

    constructor(IERC20 token_, IArbitratorV2 arbitrator_, IERC721 identity_)
        OptimisticDistributor(token_, arbitrator_)
    {
        identity = identity_;
    }

    /// @notice Creates a round with `params` for `projects_` (their payout addresses, indexed from
    /// 0), taking the matching pool from the caller, its funder (approve it first).
    function createRound(QfParams calldata params, address[] calldata projects_)
        external
        nonReentrant
        returns (uint256 roundId)
    {
        if (params.matchingPool == 0) revert EmptyPool();
        if (params.donationDeadline <= block.timestamp) {
            revert DeadlinePassed(params.donationDeadline, block.timestamp);
        }
        if (projects_.length == 0) revert NoProjects();
        if (projects_.length > type(uint32).max) revert TooManyProjects(projects_.length);
        for (uint256 i; i < projects_.length; ++i) {
            if (projects_[i] == address(0)) revert ZeroProject(i);
        }
        roundId = ++roundCount;
        Round storage r = _rounds[roundId];
        r.params = params;
        r.funder = msg.sender;
        r.projects = projects_;
        token.safeTransferFrom(msg.sender, address(this), params.matchingPool);
        emit RoundCreated(roundId, msg.sender, params, projects_);
    }

    /// @notice Donates `amount` to project `project` of `roundId`, paid straight to the project's
    /// address (approve this contract first), until the donation deadline.
    function donate(uint256 roundId, uint32 project, uint256 amount) external nonReentrant {
        Round storage r = _round(roundId);
        if (block.timestamp > r.params.donationDeadline) {
            revert DonationsClosed(roundId, r.params.donationDeadline);
        }
        if (project >= r.projects.length) revert NoSuchProject(roundId, project);
        if (amount == 0) revert ZeroDonation(roundId);
        if (r.params.requireIdentity && identity.balanceOf(msg.sender) == 0) revert NoIdentity(msg.sender);
        r.donated += amount;
        r.donations += 1;
        _projectDonated[roundId][project] += amount;
        token.safeTransferFrom(msg.sender, r.projects[project], amount);
        emit Donated(roundId, project, msg.sender, amount);
    }

    // ---- views ----

    /// @notice Round `roundId`.
    function round(uint256 roundId) external view returns (Round memory) {
        return _round(roundId);
    }

    /// @notice The projects of `roundId`.
    function projects(uint256 roundId) external view returns (address[] memory) {
        return _round(roundId).projects;
    }

    /// @notice Everything donated to project `project` of `roundId`.
    function projectDonated(uint256 roundId, uint32 project) external view returns (uint256) {
        return _projectDonated[roundId][project];
    }

    // ---- OptimisticDistributor ----

    function _payoutOpen(uint256 roundId) internal view override {
        Round storage r = _round(roundId);
        if (block.timestamp <= r.params.donationDeadline) {
            revert DonationsOpen(roundId, r.params.donationDeadline);
        }
    }

    function _payoutTotal(uint256 roundId) internal view override returns (uint256) {
        return _rounds[roundId].params.matchingPool;
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
}
