// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ConditionalTokens} from "./ConditionalTokens.sol";
import {Lmsr} from "./Lmsr.sol";
import {WadMath} from "./WadMath.sol";

// The casts below convert between int256 and uint256 amounts whose sign is checked first and
// whose magnitude is bounded by MAX_SHARES (shares) and MAX_B (liquidity); timestamps fit 64 bits.
// forge-lint: disable-start(unsafe-typecast)
/// @title DecisionMarket
/// @notice Futarchy, MetaDAO-style: a proposal's action is executed iff the market expects a
/// metric to be better if it passes than if it fails.
///
/// Design (conditional collateral and two internal LMSR books):
/// - Each proposal prepares a binary DECISION condition on the CTF (oracle = this contract,
///   questionId = keccak256(abi.encode(this, id)); outcome 0 = pass, 1 = fail). Splitting
///   collateral on it gives pass-collateral (index set 1) and fail-collateral (index set 2): a
///   unit of each per unit of collateral (split on the CTF directly).
/// - The METRIC condition is a binary condition of another oracle (e.g. an
///   `OptimisticResolver` question: outcome 0 = YES, the metric is met; 1 = NO). Nested under a
///   branch's collection it gives the branch's YES and NO positions: "YES if pass" is the
///   position of `getCollectionId(getCollectionId(0, decision, 1), metric, 1)`, and so on.
/// - Each branch has an LMSR book (liquidity b, see `Lmsr`) selling and buying the branch's YES
///   and NO for the branch's collateral: the pass book trades pass-YES/pass-NO against
///   pass-collateral, the fail book fail-YES/fail-NO against fail-collateral. The books are
///   internal to this contract (no `LmsrMarketMaker`): it splits branch collateral into YES + NO
///   through the CTF to deliver shares and merges them back. The proposer funds both books with
///   one deposit of b·ln 2 collateral (token units, rounded up), split into both branches: only
///   one branch will ever pay out.
/// - TWAP: each book keeps an observation of its YES price, starting at 0.5 when recording
///   starts (`twapDelay` after the proposal). On every trade (after it) and on `poke`, at most
///   once a second, the time since the last update is accumulated at the old observation
///   (aggregator += observation × seconds), then the observation moves toward the book's YES
///   price by at most `maxStepWad`. TWAP = (aggregator + observation × seconds since the last
///   update) / seconds since recording started, all clipped at the end of trading.
/// - `finalize` (anyone, at or after the end of trading): passes iff
///   twapPass · 1e18 > twapFail · (1e18 + thresholdBps · 1e14) (θ in basis points, compared
///   exactly), reports the decision condition's payouts ([1, 0] on pass, [0, 1] on fail), so
///   the losing branch's positions redeem nothing (its trades are void), and on pass calls
///   `target` with `data`. A reverting action does not revert `finalize`: the proposal stays
///   passed and `ActionFailed(id, returndata)` is logged, unless the call ran out of gas
///   because the caller gave too little (less than 1/63 of the gas left on return:
///   `InsufficientGas`), so nobody can make an action fail by starving it. The action runs as
///   this contract, so its target may not be the CTF, the collateral or this contract
///   (`ForbiddenTarget`): it cannot touch the books of other proposals. A target without code
///   "succeeds" (EVM semantics).
/// - The metric condition is resolved by its own oracle; then each winning-branch YES/NO
///   redeems into branch collateral, which redeems into collateral.
/// - After finalizing, the proposer `withdraw`s what the books hold (branch collateral and the
///   YES/NO inventory) as CTF positions.
///
/// @dev Holds, per proposal not yet withdrawn, the books' branch collateral `balance` and
/// inventories `sets − q/unit` of YES and NO in each branch.
contract DecisionMarket is ERC1155Holder, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Pass and fail: the branch indices and the decision condition's outcomes.
    uint256 public constant PASS = 0;
    uint256 public constant FAIL = 1;
    uint256 public constant MIN_B = 1e12;
    uint256 public constant MAX_B = 1e33;
    uint256 public constant MAX_THRESHOLD_BPS = 10_000;

    /// @notice What a proposer fixes.
    struct ProposalParams {
        /// The binary metric condition (outcome 0 = YES).
        bytes32 metricConditionId;
        /// The action: `target.call(data)` on pass.
        address target;
        bytes data;
        /// Seconds of trading from the proposal.
        uint64 tradingPeriod;
        /// Seconds after the proposal before the TWAP starts recording (< tradingPeriod).
        uint64 twapDelay;
        /// The most an observation moves per update (wad, > 0).
        uint256 maxStepWad;
        /// θ: how much better (basis points) pass must be.
        uint256 thresholdBps;
        /// LMSR liquidity of each book (wad).
        uint256 b;
        /// The most the proposer pays for the books' funding (token units).
        uint256 maxFunding;
    }

    enum Status {
        None,
        Trading,
        Passed,
        Failed
    }

    /// @notice A proposal.
    struct Proposal {
        address proposer;
        Status status;
        bool withdrawn;
        uint64 start;
        uint64 twapStart;
        uint64 end;
        bytes32 decisionConditionId;
        bytes32 metricConditionId;
        address target;
        bytes data;
        uint256 maxStepWad;
        uint256 thresholdBps;
        uint256 b;
        /// Collateral paid by the proposer (token units): each book's initial balance.
        uint256 funding;
        /// The TWAPs at finalization.
        uint256 twapPass;
        uint256 twapFail;
    }

    /// @notice A branch's book.
    struct Book {
        /// Outstanding YES and NO shares (wad).
        int256 qYes;
        int256 qNo;
        /// Net full sets (YES + NO) split from branch collateral (token units).
        int256 sets;
        /// Branch collateral held (token units).
        uint256 balance;
        /// The last observation of the YES price (wad) and when it was made.
        uint256 observation;
        uint64 lastUpdate;
        /// Σ observation × seconds since recording started, up to `lastUpdate`.
        uint256 aggregator;
    }

    ConditionalTokens public immutable ctf;
    IERC20 public immutable collateral;
    /// @notice Wads per token unit: 10^(18 − decimals).
    uint256 public immutable unit;

    Proposal[] private _proposals;
    mapping(uint256 id => Book[2]) private _books;

    /// @notice A proposal was made: trading runs from now until `end`.
    event ProposalCreated(
        uint256 indexed id,
        address indexed proposer,
        bytes32 indexed decisionConditionId,
        bytes32 metricConditionId,
        address target,
        bytes data,
        uint64 end,
        uint256 funding
    );
    /// @notice `trader` traded in `branch`'s book, paying (positive) or receiving (negative)
    /// `amount` of branch collateral.
    event Traded(
        uint256 indexed id,
        uint256 indexed branch,
        address indexed trader,
        int256 yesDelta,
        int256 noDelta,
        int256 amount
    );
    /// @notice `branch`'s observation is now `observation`; `aggregator` up to now.
    event Observed(uint256 indexed id, uint256 indexed branch, uint256 observation, uint256 aggregator);
    /// @notice The proposal was decided.
    event ProposalFinalized(uint256 indexed id, bool passed, uint256 twapPass, uint256 twapFail);
    /// @notice The passed proposal's action ran.
    event ActionExecuted(uint256 indexed id, bytes returndata);
    /// @notice The passed proposal's action reverted; the proposal stays passed.
    event ActionFailed(uint256 indexed id, bytes returndata);
    /// @notice The proposer took the books' holdings.
    event Withdrawn(uint256 indexed id, address indexed proposer);

    error NoSuchProposal(uint256 id);
    error MetricNotBinary(bytes32 conditionId, uint256 outcomes);
    error MetricResolved(bytes32 conditionId);
    error InvalidSchedule(uint64 tradingPeriod, uint64 twapDelay);
    error InvalidMaxStep(uint256 maxStepWad);
    error InvalidThreshold(uint256 thresholdBps);
    error InvalidLiquidity(uint256 b);
    error FundingAboveMax(uint256 funding, uint256 maxFunding);
    error InvalidBranch(uint256 branch);
    error TradingClosed(uint256 id, uint64 end);
    error TradingOpen(uint256 id, uint64 end);
    error AlreadyFinalized(uint256 id);
    error NotFinalized(uint256 id);
    error NotProposer(uint256 id, address caller);
    error AlreadyWithdrawn(uint256 id);
    error SharesNotInTokenUnits(int256 delta);
    error SharesOutOfRange(int256 q);
    error CostAboveLimit(int256 cost, int256 limit);
    error RefundBelowLimit(uint256 refund, uint256 minRefund);
    error InsufficientGas();
    error ForbiddenTarget(address target);

    constructor(ConditionalTokens ctf_, IERC20Metadata collateral_) {
        ctf = ctf_;
        collateral = collateral_;
        unit = 10 ** (18 - collateral_.decimals());
        IERC20(collateral_).forceApprove(address(ctf_), type(uint256).max);
    }

    // ---- views ----

    /// @notice The number of proposals (ids are 0 to count − 1).
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    /// @notice Proposal `id`.
    function proposal(uint256 id) external view returns (Proposal memory) {
        return _proposal(id);
    }

    /// @notice `branch`'s book of proposal `id`.
    function book(uint256 id, uint256 branch) external view returns (Book memory) {
        _proposal(id);
        if (branch > FAIL) revert InvalidBranch(branch);
        return _books[id][branch];
    }

    /// @notice The YES and NO prices (wad) of `branch`'s book.
    function prices(uint256 id, uint256 branch) public view returns (uint256[] memory) {
        Proposal storage p = _proposal(id);
        if (branch > FAIL) revert InvalidBranch(branch);
        return Lmsr.prices(_q(_books[id][branch]), p.b);
    }

    /// @notice `branch`'s TWAP of its YES price (wad), up to now (or the end of trading).
    function twap(uint256 id, uint256 branch) public view returns (uint256) {
        Proposal storage p = _proposal(id);
        if (branch > FAIL) revert InvalidBranch(branch);
        Book storage bk = _books[id][branch];
        uint256 t = block.timestamp < p.end ? block.timestamp : p.end;
        if (t <= p.twapStart) return bk.observation;
        return (bk.aggregator + bk.observation * (t - bk.lastUpdate)) / (t - p.twapStart);
    }

    /// @notice The rule: pass iff twapPass > twapFail · (1 + θ), θ = thresholdBps / 10,000,
    /// compared exactly (twapPass · 1e18 > twapFail · (1e18 + thresholdBps · 1e14)).
    function passes(uint256 twapPass, uint256 twapFail, uint256 thresholdBps) public pure returns (bool) {
        return twapPass * 1e18 > twapFail * (1e18 + thresholdBps * 1e14);
    }

    /// @notice The ERC-1155 ids of proposal `id`: pass- and fail-collateral, then YES and NO in
    /// the pass branch, then in the fail branch.
    function positionIds(uint256 id) public view returns (uint256[6] memory ids) {
        Proposal storage p = _proposal(id);
        for (uint256 branch; branch < 2; ++branch) {
            bytes32 branchCollection = _branchCollection(p, branch);
            ids[branch] = ctf.getPositionId(collateral, branchCollection);
            ids[2 + 2 * branch] =
                ctf.getPositionId(collateral, ctf.getCollectionId(branchCollection, p.metricConditionId, 1));
            ids[3 + 2 * branch] =
                ctf.getPositionId(collateral, ctf.getCollectionId(branchCollection, p.metricConditionId, 2));
        }
    }

    /// @notice The question id of proposal `id`'s decision condition.
    function decisionQuestionId(uint256 id) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), id));
    }

    /// @notice What funding a book pair of liquidity `b` needs: b·ln 2 in token units, rounded up.
    function fundingFor(uint256 b) public view returns (uint256) {
        uint256 wad = WadMath.mulWadUp(b, uint256(WadMath.lnWad(2e18)) + 1);
        return (wad + unit - 1) / unit;
    }

    // ---- proposals ----

    /// @notice Proposes `p.target.call(p.data)`: prepares the decision condition, takes the books'
    /// funding (approve it) and opens trading for `p.tradingPeriod` seconds.
    function propose(ProposalParams calldata p) external nonReentrant returns (uint256 id) {
        _checkParams(p);
        uint256 funding = fundingFor(p.b);
        if (funding > p.maxFunding) revert FundingAboveMax(funding, p.maxFunding);
        id = _proposals.length;
        bytes32 questionId = decisionQuestionId(id);
        bytes32 decision = ctf.getConditionId(address(this), questionId, 2);
        Proposal storage pr = _proposals.push();
        pr.proposer = msg.sender;
        pr.status = Status.Trading;
        pr.start = uint64(block.timestamp);
        pr.twapStart = uint64(block.timestamp) + p.twapDelay;
        pr.end = uint64(block.timestamp) + p.tradingPeriod;
        pr.decisionConditionId = decision;
        pr.metricConditionId = p.metricConditionId;
        pr.target = p.target;
        pr.data = p.data;
        pr.maxStepWad = p.maxStepWad;
        pr.thresholdBps = p.thresholdBps;
        pr.b = p.b;
        pr.funding = funding;
        for (uint256 branch; branch < 2; ++branch) {
            Book storage bk = _books[id][branch];
            bk.balance = funding;
            bk.observation = 0.5e18;
            bk.lastUpdate = pr.twapStart;
        }
        if (ctf.getOutcomeSlotCount(decision) == 0) ctf.prepareCondition(address(this), questionId, 2);
        collateral.safeTransferFrom(msg.sender, address(this), funding);
        ctf.splitPosition(collateral, bytes32(0), decision, _binary(), funding);
        emit ProposalCreated(id, msg.sender, decision, p.metricConditionId, p.target, p.data, pr.end, funding);
    }

    /// @notice Trades `yesDelta` and `noDelta` shares (wad; positive buys, negative sells) in
    /// `branch`'s book of proposal `id`, paying in (or refunded in) the branch's collateral
    /// position (the trader approves this contract on the CTF with `setApprovalForAll`). Returns
    /// the branch-collateral token units paid (positive) or refunded (negative); reverts if that
    /// is above `limit`. Records an observation.
    function trade(uint256 id, uint256 branch, int256 yesDelta, int256 noDelta, int256 limit)
        external
        nonReentrant
        returns (int256 amount)
    {
        Proposal storage p = _proposal(id);
        if (branch > FAIL) revert InvalidBranch(branch);
        if (p.status != Status.Trading || block.timestamp >= p.end) revert TradingClosed(id, p.end);
        Book storage bk = _books[id][branch];
        int256[] memory deltas = new int256[](2);
        deltas[0] = yesDelta;
        deltas[1] = noDelta;
        int256[] memory next;
        (amount, next) = _quote(p, bk, deltas);
        if (amount > limit) {
            if (limit >= 0) revert CostAboveLimit(amount, limit);
            revert RefundBelowLimit(amount < 0 ? uint256(-amount) : 0, uint256(-limit));
        }
        bk.qYes = next[0];
        bk.qNo = next[1];
        uint256[6] memory ids = positionIds(id);
        if (amount > 0) {
            bk.balance += uint256(amount);
            ctf.safeTransferFrom(msg.sender, address(this), ids[branch], uint256(amount), "");
        }
        _settleShares(p, bk, branch, ids, deltas);
        if (amount < 0) {
            bk.balance -= uint256(-amount);
            ctf.safeTransferFrom(address(this), msg.sender, ids[branch], uint256(-amount), "");
        }
        emit Traded(id, branch, msg.sender, yesDelta, noDelta, amount);
        _observe(id, p, branch);
    }

    /// @notice Records an observation of both books (anyone may call).
    function poke(uint256 id) external nonReentrant {
        Proposal storage p = _proposal(id);
        if (p.status != Status.Trading) revert AlreadyFinalized(id);
        _observe(id, p, PASS);
        _observe(id, p, FAIL);
    }

    /// @notice Decides proposal `id` once trading is over (anyone may call): reports the decision
    /// condition and, on pass, executes the action (see the contract's notice).
    function finalize(uint256 id) external nonReentrant returns (bool passed) {
        Proposal storage p = _proposal(id);
        if (p.status != Status.Trading) revert AlreadyFinalized(id);
        if (block.timestamp < p.end) revert TradingOpen(id, p.end);
        uint256 twapPass = twap(id, PASS);
        uint256 twapFail = twap(id, FAIL);
        passed = passes(twapPass, twapFail, p.thresholdBps);
        p.status = passed ? Status.Passed : Status.Failed;
        p.twapPass = twapPass;
        p.twapFail = twapFail;
        uint256[] memory payouts = new uint256[](2);
        payouts[passed ? PASS : FAIL] = 1;
        ctf.reportPayouts(decisionQuestionId(id), payouts);
        emit ProposalFinalized(id, passed, twapPass, twapFail);
        if (passed) {
            uint256 gasBefore = gasleft();
            (bool ok, bytes memory returndata) = p.target.call(p.data);
            if (ok) {
                emit ActionExecuted(id, returndata);
            } else {
                if (gasleft() <= gasBefore / 63) revert InsufficientGas();
                emit ActionFailed(id, returndata);
            }
        }
    }

    /// @notice The proposer takes what the books of its finalized proposal hold: each branch's
    /// collateral and YES/NO inventory, as CTF positions.
    function withdraw(uint256 id) external nonReentrant {
        Proposal storage p = _proposal(id);
        if (msg.sender != p.proposer) revert NotProposer(id, msg.sender);
        if (p.status == Status.Trading) revert NotFinalized(id);
        if (p.withdrawn) revert AlreadyWithdrawn(id);
        p.withdrawn = true;
        uint256[6] memory ids = positionIds(id);
        uint256[] memory idList = new uint256[](6);
        uint256[] memory amounts = new uint256[](6);
        int256 u = int256(unit);
        for (uint256 branch; branch < 2; ++branch) {
            Book storage bk = _books[id][branch];
            idList[branch] = ids[branch];
            amounts[branch] = bk.balance;
            idList[2 + 2 * branch] = ids[2 + 2 * branch];
            amounts[2 + 2 * branch] = uint256(bk.sets - bk.qYes / u);
            idList[3 + 2 * branch] = ids[3 + 2 * branch];
            amounts[3 + 2 * branch] = uint256(bk.sets - bk.qNo / u);
            bk.balance = 0;
            bk.sets = 0;
            bk.qYes = 0;
            bk.qNo = 0;
        }
        ctf.safeBatchTransferFrom(address(this), msg.sender, idList, amounts, "");
        emit Withdrawn(id, msg.sender);
    }

    // ---- internals ----

    function _proposal(uint256 id) private view returns (Proposal storage) {
        if (id >= _proposals.length) revert NoSuchProposal(id);
        return _proposals[id];
    }

    function _checkParams(ProposalParams calldata p) private view {
        uint256 slots = ctf.getOutcomeSlotCount(p.metricConditionId);
        if (slots != 2) revert MetricNotBinary(p.metricConditionId, slots);
        if (ctf.payoutDenominator(p.metricConditionId) != 0) revert MetricResolved(p.metricConditionId);
        if (p.tradingPeriod == 0 || p.twapDelay >= p.tradingPeriod) {
            revert InvalidSchedule(p.tradingPeriod, p.twapDelay);
        }
        if (p.maxStepWad == 0 || p.maxStepWad > 1e18) revert InvalidMaxStep(p.maxStepWad);
        if (p.thresholdBps > MAX_THRESHOLD_BPS) revert InvalidThreshold(p.thresholdBps);
        if (p.b < MIN_B || p.b > MAX_B) revert InvalidLiquidity(p.b);
        // The action runs as this contract, which holds every live proposal's books: it must not
        // be able to move their positions or collateral.
        if (p.target == address(ctf) || p.target == address(collateral) || p.target == address(this)) {
            revert ForbiddenTarget(p.target);
        }
    }

    function _binary() private pure returns (uint256[] memory partition) {
        partition = new uint256[](2);
        partition[0] = 1;
        partition[1] = 2;
    }

    function _branchCollection(Proposal storage p, uint256 branch) private view returns (bytes32) {
        return ctf.getCollectionId(bytes32(0), p.decisionConditionId, uint256(1) << branch);
    }

    function _q(Book storage bk) private view returns (int256[] memory q) {
        q = new int256[](2);
        q[0] = bk.qYes;
        q[1] = bk.qNo;
    }

    function _quote(Proposal storage p, Book storage bk, int256[] memory deltas)
        private
        view
        returns (int256 amount, int256[] memory next)
    {
        int256 u = int256(unit);
        for (uint256 i; i < 2; ++i) {
            if (deltas[i] % u != 0) revert SharesNotInTokenUnits(deltas[i]);
            if (deltas[i] > Lmsr.MAX_SHARES || deltas[i] < -Lmsr.MAX_SHARES) {
                revert SharesOutOfRange(deltas[i]);
            }
        }
        (, amount, next) = Lmsr.trade(_q(bk), deltas, p.b, unit);
        for (uint256 i; i < 2; ++i) {
            if (next[i] > Lmsr.MAX_SHARES || next[i] < -Lmsr.MAX_SHARES) revert SharesOutOfRange(next[i]);
        }
    }

    /// @dev As `LmsrMarketMaker`: pull sold shares, split branch collateral into YES + NO if the
    /// inventory is short, send bought shares, merge the full sets the inventory then holds.
    function _settleShares(
        Proposal storage p,
        Book storage bk,
        uint256 branch,
        uint256[6] memory ids,
        int256[] memory deltas
    ) private {
        int256 u = int256(unit);
        uint256[] memory shareIds = new uint256[](2);
        uint256[] memory inAmounts = new uint256[](2);
        uint256[] memory outAmounts = new uint256[](2);
        bool anyIn;
        bool anyOut;
        for (uint256 i; i < 2; ++i) {
            shareIds[i] = ids[2 + 2 * branch + i];
            int256 t = deltas[i] / u;
            if (t > 0) {
                outAmounts[i] = uint256(t);
                anyOut = true;
            } else if (t < 0) {
                inAmounts[i] = uint256(-t);
                anyIn = true;
            }
        }
        int256 low = _lowInventory(bk);
        if (anyIn) ctf.safeBatchTransferFrom(msg.sender, address(this), shareIds, inAmounts, "");
        if (low < 0) _splitOrMerge(p, bk, branch, low);
        if (anyOut) ctf.safeBatchTransferFrom(address(this), msg.sender, shareIds, outAmounts, "");
        if (low > 0) _splitOrMerge(p, bk, branch, low);
    }

    /// @dev The lower of the YES and NO inventories after the trade (q already updated).
    function _lowInventory(Book storage bk) private view returns (int256) {
        int256 u = int256(unit);
        int256 invYes = bk.sets - bk.qYes / u;
        int256 invNo = bk.sets - bk.qNo / u;
        return invYes < invNo ? invYes : invNo;
    }

    /// @dev Splits −low branch collateral into YES + NO (low < 0), or merges low full sets back.
    function _splitOrMerge(Proposal storage p, Book storage bk, uint256 branch, int256 low) private {
        bytes32 branchCollection = _branchCollection(p, branch);
        bk.sets -= low;
        if (low < 0) {
            bk.balance -= uint256(-low);
            ctf.splitPosition(collateral, branchCollection, p.metricConditionId, _binary(), uint256(-low));
        } else {
            bk.balance += uint256(low);
            ctf.mergePositions(collateral, branchCollection, p.metricConditionId, _binary(), uint256(low));
        }
    }

    /// @dev Records an observation of `branch`'s YES price (see the contract's notice).
    function _observe(uint256 id, Proposal storage p, uint256 branch) private {
        uint64 t = block.timestamp < p.end ? uint64(block.timestamp) : p.end;
        if (t <= p.twapStart) return;
        Book storage bk = _books[id][branch];
        uint64 dt = t - bk.lastUpdate;
        if (dt == 0) return;
        uint256 obs = bk.observation;
        uint256 aggregator = bk.aggregator + obs * dt;
        uint256 price = Lmsr.prices(_q(bk), p.b)[0];
        uint256 step = p.maxStepWad;
        if (price > obs) {
            obs = price - obs > step ? obs + step : price;
        } else {
            obs = obs - price > step ? obs - step : price;
        }
        bk.observation = obs;
        bk.aggregator = aggregator;
        bk.lastUpdate = t;
        emit Observed(id, branch, obs, aggregator);
    }
}
// forge-lint: disable-end(unsafe-typecast)
