// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IArbitrableV2, IArbitratorV2} from "./IArbitration.sol";
import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @title ValidatorCouncil
/// @notice A Kleros v2 arbitrator (`IArbitratorV2`) whose jurors are staked validators: ERC-8004
/// agents that re-execute the disputed work and vote on what they found, in the shape of an
/// ERC-8033 agent council (bonded members, commit–reveal, majority, reward and slash).
///
/// - A validator `join`s with one of its ERC-8004 agents and a stake of at least `minStake`, and
///   may `leave` (taking its stake) while it sits on no open dispute.
/// - `createDispute` (ERC-20 fees only: `arbitrationCost = jurors × feePerJuror`) draws `jurors`
///   distinct validators with at least `minStake` at stake, at random from the block's
///   randomness. A drawn validator's stake stays locked until the dispute is executed.
/// - Each juror commits `keccak256(abi.encode(disputeId, juror, choice, salt))` before the
///   commit deadline, then reveals choice, salt and `evidence` (the hash of its own signed
///   re-execution receipt) before the reveal deadline. The reveal phase opens at the commit
///   deadline, or as soon as every juror has committed.
/// - `execute` (anyone, after the reveal deadline or once all have revealed) rules by strict
///   majority of the revealed votes; a tie or no vote rules 0. Jurors who did not reveal, and
///   those who voted against a non-zero ruling, lose `slashAmount` of their stake (or all of it
///   if less is left). The fee and the slashed stakes are shared equally by the jurors who voted
///   with the ruling (on ruling 0, by all who revealed); if there is nobody to share them, they
///   are kept for the next dispute's reward. Then the arbitrable's `rule` is called.
///
/// @dev The contract holds exactly: the stakes of its validators + the fees of disputes not yet
/// executed + the carried-over rewards.
contract ValidatorCouncil is IArbitratorV2, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct Validator {
        uint256 agentId;
        uint256 stake;
        uint32 openDisputes;
        bool active;
    }

    struct Dispute {
        IArbitrableV2 arbitrable;
        uint256 choices;
        uint256 fee;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint8 commits;
        uint8 reveals;
        bool executed;
        uint256 ruling;
        address[] jurors;
    }

    struct Vote {
        bytes32 commitment;
        uint256 choice;
        bool revealed;
    }

    /// @dev The gas the arbitrable's `rule` is given by `execute`.
    uint256 private constant RULE_GAS = 1_000_000;

    IERC20 public immutable token;
    IdentityRegistry public immutable identity;
    uint256 public immutable jurors;
    uint64 public immutable commitPeriod;
    uint64 public immutable revealPeriod;
    uint256 public immutable feePerJuror;
    uint256 public immutable minStake;
    uint256 public immutable slashAmount;

    /// @notice Rewards no juror could take, added to the next executed dispute's.
    uint256 public carried;
    address[] private _roster;
    mapping(address validator => Validator) private _validators;
    Dispute[] private _disputes;
    mapping(uint256 disputeId => mapping(address juror => Vote)) private _votes;

    event Joined(address indexed validator, uint256 indexed agentId, uint256 stake);
    event Left(address indexed validator, uint256 stake);
    event Drawn(uint256 indexed disputeId, address[] jurors, uint64 commitDeadline, uint64 revealDeadline);
    event VoteCommitted(uint256 indexed disputeId, address indexed juror);
    event VoteRevealed(uint256 indexed disputeId, address indexed juror, uint256 choice, bytes32 evidence);
    event JurorSlashed(uint256 indexed disputeId, address indexed juror, uint256 amount);
    event JurorRewarded(uint256 indexed disputeId, address indexed juror, uint256 amount);
    event RulingNotDelivered(uint256 indexed disputeId, bytes reason);

    error NativeFeesNotAccepted();
    error WrongFeeToken(IERC20 token);
    error FeeTooLow(uint256 paid, uint256 cost);
    error InvalidChoices(uint256 choices);
    error NotEnoughValidators(uint256 eligible, uint256 needed);
    error NotAgentOf(uint256 agentId, address caller);
    error StakeTooLow(uint256 stake, uint256 minStake);
    error AlreadyJoined(address validator);
    error NotValidator(address caller);
    error StakeLocked(address validator, uint32 openDisputes);
    error NoSuchDispute(uint256 disputeId);
    error NotJuror(uint256 disputeId, address caller);
    error AlreadyCommitted(uint256 disputeId, address juror);
    error CommitClosed(uint256 disputeId, uint256 deadline);
    error RevealNotOpen(uint256 disputeId, uint256 opensAt);
    error RevealClosed(uint256 disputeId, uint256 deadline);
    error NotCommitted(uint256 disputeId, address juror);
    error AlreadyRevealed(uint256 disputeId, address juror);
    error CommitMismatch(uint256 disputeId, address juror);
    error InvalidChoice(uint256 choice, uint256 choices);
    error VotingOpen(uint256 disputeId, uint256 until);
    error AlreadyExecuted(uint256 disputeId);
    error NotEnoughGas(uint256 left, uint256 needed);

    constructor(
        IERC20 token_,
        IdentityRegistry identity_,
        uint256 jurors_,
        uint64 commitPeriod_,
        uint64 revealPeriod_,
        uint256 feePerJuror_,
        uint256 minStake_,
        uint256 slashAmount_
    ) {
        token = token_;
        identity = identity_;
        jurors = jurors_;
        commitPeriod = commitPeriod_;
        revealPeriod = revealPeriod_;
        feePerJuror = feePerJuror_;
        minStake = minStake_;
        slashAmount = slashAmount_;
        emit AcceptedFeeToken(token_, true);
    }

    // ---- validators ----

    /// @notice Joins the council as `agentId` (an ERC-8004 agent the caller owns, operates or is
    /// the wallet of) with `stake` (approve it first).
    function join(uint256 agentId, uint256 stake) external nonReentrant {
        if (!_isAgent(msg.sender, agentId)) revert NotAgentOf(agentId, msg.sender);
        Validator storage v = _validators[msg.sender];
        if (v.active) revert AlreadyJoined(msg.sender);
        if (v.stake + stake < minStake) revert StakeTooLow(v.stake + stake, minStake);
        if (v.agentId == 0 && !_onRoster(msg.sender)) _roster.push(msg.sender);
        v.agentId = agentId;
        v.stake += stake;
        v.active = true;
        token.safeTransferFrom(msg.sender, address(this), stake);
        emit Joined(msg.sender, agentId, v.stake);
    }

    /// @notice Leaves the council with the whole stake; refused while sitting on an open dispute.
    function leave() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (!v.active && v.stake == 0) revert NotValidator(msg.sender);
        if (v.openDisputes != 0) revert StakeLocked(msg.sender, v.openDisputes);
        uint256 stake = v.stake;
        v.active = false;
        v.stake = 0;
        token.safeTransfer(msg.sender, stake);
        emit Left(msg.sender, stake);
    }

    function validator(address who) external view returns (Validator memory) {
        return _validators[who];
    }

    function roster() external view returns (address[] memory) {
        return _roster;
    }

    // ---- IArbitratorV2 ----

    function createDispute(uint256, bytes calldata) external payable returns (uint256) {
        revert NativeFeesNotAccepted();
    }

    function createDispute(uint256 choices, bytes calldata, IERC20 feeToken, uint256 feeAmount)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        if (feeToken != token) revert WrongFeeToken(feeToken);
        uint256 cost = jurors * feePerJuror;
        if (feeAmount < cost) revert FeeTooLow(feeAmount, cost);
        if (choices < 2 || choices > type(uint8).max) revert InvalidChoices(choices);
        disputeId = _disputes.length;
        Dispute storage d = _disputes.push();
        d.arbitrable = IArbitrableV2(msg.sender);
        d.choices = choices;
        d.fee = feeAmount;
        d.commitDeadline = uint64(block.timestamp) + commitPeriod;
        d.revealDeadline = d.commitDeadline + revealPeriod;
        d.jurors = _draw(disputeId);
        token.safeTransferFrom(msg.sender, address(this), feeAmount);
        emit DisputeCreation(disputeId, IArbitrableV2(msg.sender));
        emit Drawn(disputeId, d.jurors, d.commitDeadline, d.revealDeadline);
    }

    function arbitrationCost(bytes calldata) external pure returns (uint256) {
        return type(uint256).max;
    }

    function arbitrationCost(bytes calldata, IERC20 feeToken) external view returns (uint256) {
        if (feeToken != token) revert WrongFeeToken(feeToken);
        return jurors * feePerJuror;
    }

    function currentRuling(uint256 disputeId)
        external
        view
        returns (uint256 ruling, bool tied, bool overridden)
    {
        Dispute storage d = _dispute(disputeId);
        (ruling, tied) = _tally(disputeId, d);
        overridden = false;
    }

    // ---- voting ----

    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _dispute(disputeId);
    }

    function getVote(uint256 disputeId, address juror) external view returns (Vote memory) {
        return _votes[disputeId][juror];
    }

    function disputeCount() external view returns (uint256) {
        return _disputes.length;
    }

    /// @notice The commitment a juror publishes for `choice` with `salt`.
    function commitmentOf(uint256 disputeId, address juror, uint256 choice, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(disputeId, juror, choice, salt));
    }

    function commit(uint256 disputeId, bytes32 commitment) external {
        Dispute storage d = _dispute(disputeId);
        if (!_isJuror(d, msg.sender)) revert NotJuror(disputeId, msg.sender);
        if (block.timestamp >= d.commitDeadline || d.executed) {
            revert CommitClosed(disputeId, d.commitDeadline);
        }
        // A zero commitment is none: counted, it could be made again and open the reveals early.
        if (commitment == 0) revert NotCommitted(disputeId, msg.sender);
        Vote storage vote = _votes[disputeId][msg.sender];
        if (vote.commitment != 0) revert AlreadyCommitted(disputeId, msg.sender);
        vote.commitment = commitment;
        d.commits += 1;
        emit VoteCommitted(disputeId, msg.sender);
    }

    function reveal(uint256 disputeId, uint256 choice, bytes32 salt, bytes32 evidence) external {
        Dispute storage d = _dispute(disputeId);
        if (!_isJuror(d, msg.sender)) revert NotJuror(disputeId, msg.sender);
        if (d.commits < d.jurors.length && block.timestamp < d.commitDeadline) {
            revert RevealNotOpen(disputeId, d.commitDeadline);
        }
        if (block.timestamp >= d.revealDeadline || d.executed) {
            revert RevealClosed(disputeId, d.revealDeadline);
        }
        Vote storage vote = _votes[disputeId][msg.sender];
        if (vote.commitment == 0) revert NotCommitted(disputeId, msg.sender);
        if (vote.revealed) revert AlreadyRevealed(disputeId, msg.sender);
        if (choice == 0 || choice > d.choices) revert InvalidChoice(choice, d.choices);
        if (commitmentOf(disputeId, msg.sender, choice, salt) != vote.commitment) {
            revert CommitMismatch(disputeId, msg.sender);
        }
        vote.revealed = true;
        vote.choice = choice;
        d.reveals += 1;
        emit VoteRevealed(disputeId, msg.sender, choice, evidence);
    }

    /// @notice Rules a dispute whose voting is over, pays and slashes its jurors, and tells the
    /// arbitrable (anyone may call).
    function execute(uint256 disputeId) external nonReentrant {
        Dispute storage d = _dispute(disputeId);
        if (d.executed) revert AlreadyExecuted(disputeId);
        if (d.reveals < d.jurors.length && block.timestamp < d.revealDeadline) {
            revert VotingOpen(disputeId, d.revealDeadline);
        }
        d.executed = true;
        (uint256 ruling,) = _tally(disputeId, d);
        d.ruling = ruling;

        uint256 pot = d.fee + carried;
        carried = 0;
        uint256 n = d.jurors.length;
        bool[] memory rewarded = new bool[](n);
        uint256 winners;
        for (uint256 i; i < n; ++i) {
            address juror = d.jurors[i];
            Vote storage vote = _votes[disputeId][juror];
            Validator storage v = _validators[juror];
            v.openDisputes -= 1;
            bool coherent = vote.revealed && (ruling == 0 || vote.choice == ruling);
            if (coherent) {
                rewarded[i] = true;
                ++winners;
            } else {
                uint256 cut = v.stake < slashAmount ? v.stake : slashAmount;
                v.stake -= cut;
                pot += cut;
                emit JurorSlashed(disputeId, juror, cut);
            }
        }
        if (winners == 0) {
            carried = pot;
        } else {
            uint256 share = pot / winners;
            uint256 dust = pot - share * winners;
            for (uint256 i; i < n; ++i) {
                if (!rewarded[i]) continue;
                uint256 amount = share + dust;
                dust = 0;
                token.safeTransfer(d.jurors[i], amount);
                emit JurorRewarded(disputeId, d.jurors[i], amount);
            }
        }

        emit Ruling(d.arbitrable, disputeId, ruling);
        _deliver(disputeId, address(d.arbitrable), ruling);
    }

    // ---- internals ----

    /// @dev Calls the arbitrable's `rule` with `RULE_GAS` and never lets it block the execution
    /// (which would lock the jurors' stakes for good): an arbitrable without code, or whose `rule`
    /// reverts or runs out of gas, does not get its ruling, and at most 256 bytes of its revert
    /// data are kept (a huge revert cannot take the gas left). A caller that leaves less than
    /// `RULE_GAS` for the call is refused, so nobody can drop a ruling by starving it.
    function _deliver(uint256 disputeId, address arbitrable, uint256 ruling) private {
        if (arbitrable.code.length == 0) {
            emit RulingNotDelivered(disputeId, "");
            return;
        }
        uint256 needed = RULE_GAS * 64 / 63 + 10_000;
        if (gasleft() < needed) revert NotEnoughGas(gasleft(), needed);
        bytes memory data = abi.encodeCall(IArbitrableV2.rule, (disputeId, ruling));
        bool ok;
        bytes memory reason;
        assembly ("memory-safe") {
            ok := call(RULE_GAS, arbitrable, 0, add(data, 0x20), mload(data), 0, 0)
            if iszero(ok) {
                let size := returndatasize()
                if gt(size, 256) { size := 256 }
                reason := mload(0x40)
                mstore(reason, size)
                returndatacopy(add(reason, 0x20), 0, size)
                mstore(0x40, add(add(reason, 0x20), and(add(size, 31), not(31))))
            }
        }
        if (!ok) emit RulingNotDelivered(disputeId, reason);
    }

    function _dispute(uint256 disputeId) private view returns (Dispute storage) {
        if (disputeId >= _disputes.length) revert NoSuchDispute(disputeId);
        return _disputes[disputeId];
    }

    function _isJuror(Dispute storage d, address who) private view returns (bool) {
        for (uint256 i; i < d.jurors.length; ++i) {
            if (d.jurors[i] == who) return true;
        }
        return false;
    }

    function _onRoster(address who) private view returns (bool) {
        for (uint256 i; i < _roster.length; ++i) {
            if (_roster[i] == who) return true;
        }
        return false;
    }

    /// @dev Strict majority of revealed votes; a tie (or no vote) is ruling 0.
    function _tally(uint256 disputeId, Dispute storage d) private view returns (uint256 ruling, bool tied) {
        uint256[] memory counts = new uint256[](d.choices + 1);
        for (uint256 i; i < d.jurors.length; ++i) {
            Vote storage vote = _votes[disputeId][d.jurors[i]];
            if (vote.revealed) counts[vote.choice] += 1;
        }
        uint256 best;
        for (uint256 c = 1; c <= d.choices; ++c) {
            if (counts[c] > best) {
                best = counts[c];
                ruling = c;
                tied = false;
            } else if (counts[c] == best && best != 0) {
                tied = true;
            }
        }
        if (tied) ruling = 0;
    }

    /// @dev Draws `jurors` distinct eligible validators: a seeded Fisher–Yates pass over the
    /// eligible ones. The seed is the block's randomness (`prevrandao`), which the proposer of
    /// the block can bias; a council on a chain where that matters should draw from a beacon.
    function _draw(uint256 disputeId) private returns (address[] memory drawn) {
        uint256 count = _roster.length;
        address[] memory eligible = new address[](count);
        uint256 m;
        for (uint256 i; i < count; ++i) {
            Validator storage v = _validators[_roster[i]];
            if (v.active && v.stake >= minStake) eligible[m++] = _roster[i];
        }
        if (m < jurors) revert NotEnoughValidators(m, jurors);
        uint256 seed = uint256(keccak256(abi.encode(block.prevrandao, disputeId, address(this))));
        drawn = new address[](jurors);
        for (uint256 i; i < jurors; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (m - i);
            (eligible[i], eligible[j]) = (eligible[j], eligible[i]);
            drawn[i] = eligible[i];
            _validators[drawn[i]].openDisputes += 1;
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
}
