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
// whose magnitude is bounded by MAX_SHARES (shares) and MAX_B (liquidity).
// forge-lint: disable-start(unsafe-typecast)
/// @title LmsrMarketMaker
/// @notice Automated LMSR market makers (Hanson) for the conditions of a `ConditionalTokens`,
/// all in one collateral token; one market per condition.
///
/// - `createMarket(conditionId, b, maxFunding)`: a market over the n outcomes (2 to 16) of a
///   prepared, unresolved condition with liquidity `b` (wad). The creator funds the maker's
///   worst-case loss b·ln n, in token units rounded up (`funding`), refused above `maxFunding`.
/// - Shares are wads (1e18 = one share) but positions are ERC-1155 tokens in the collateral's
///   units: one share of outcome i is `unit` = 10^(18 − decimals) wad of the root position of
///   index set 1 << i (1e12 for the 6-decimal dUSD). Every delta traded must be a whole number
///   of token units (`SharesNotInTokenUnits`).
/// - `trade(marketId, deltas, limit)`: the trader buys deltas[i] > 0 shares of outcome i from the
///   maker and sells deltas[i] < 0 back, paying C(q + Δ) − C(q) (see `Lmsr`: rounded up in wads,
///   then up to token units) or receiving the refund (rounded down twice). `limit` is the most
///   the trader pays (or, negative, minus the least it takes back): amount > limit reverts.
///   Sold positions are pulled with the CTF's `safeTransferFrom` (the trader approves the maker
///   with `setApprovalForAll`); collateral is pulled with `transferFrom` (approve it).
/// - The maker delivers outcome shares by splitting collateral into full sets through the CTF,
///   keeping the other outcomes as inventory, and merges full sets back into collateral whenever
///   it holds one of every outcome, so after each trade it holds `sets − q_i/unit` of outcome i
///   and `sets = max(q)/unit`.
/// - Trading ends when the condition is resolved. Then anyone may `close` the market (the maker
///   redeems its inventory through the CTF) and the creator `withdraw`s what the market holds:
///   the funding, plus what traders paid, minus what the winners are owed.
///
/// @dev Per market, `balance` is the collateral the market holds and `sets` the net full sets it
/// split (merges subtracted); its inventory of outcome i is `sets − q_i/unit`. The maker's
/// collateral balance is the sum of its markets' `balance`s; its position balances are its
/// markets' inventories (plus whatever anyone sent it unasked, which goes to the creator when
/// the market closes).
contract LmsrMarketMaker is ERC1155Holder, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The fewest and most outcomes of a market.
    uint256 public constant MIN_OUTCOMES = 2;
    uint256 public constant MAX_OUTCOMES = 16;
    /// @notice The range of the liquidity parameter b (wad).
    uint256 public constant MIN_B = 1e12;
    uint256 public constant MAX_B = 1e33;

    /// @notice A market.
    struct Market {
        bytes32 conditionId;
        address creator;
        /// LMSR liquidity (wad).
        uint256 b;
        /// Outstanding shares per outcome (wad).
        int256[] q;
        /// What the creator paid in (token units).
        uint256 funding;
        /// The collateral the market holds (token units).
        uint256 balance;
        /// Net full sets split by the market (token units).
        int256 sets;
        bool closed;
        bool withdrawn;
    }

    ConditionalTokens public immutable ctf;
    IERC20 public immutable collateral;
    /// @notice Wads per token unit: 10^(18 − decimals).
    uint256 public immutable unit;

    Market[] private _markets;
    /// @notice conditionId => market id + 1 (0: none).
    mapping(bytes32 conditionId => uint256) public marketOfCondition;

    /// @notice A market was created; `funding` token units were taken from its creator.
    event MarketCreated(
        uint256 indexed marketId,
        bytes32 indexed conditionId,
        address indexed creator,
        uint256 b,
        uint256 funding
    );
    /// @notice `trader` traded `deltas` (wad) for `amount` token units (positive: paid; negative:
    /// refunded); `costWad` is the cost before conversion to token units.
    event Traded(
        uint256 indexed marketId, address indexed trader, int256[] deltas, int256 costWad, int256 amount
    );
    /// @notice The market closed: its inventory redeemed for `redeemed` token units.
    event MarketClosed(uint256 indexed marketId, uint256 redeemed);
    /// @notice The creator took the `amount` the market held.
    event Withdrawn(uint256 indexed marketId, address indexed creator, uint256 amount);

    error DecimalsAbove18(uint8 decimals);
    error NoSuchMarket(uint256 marketId);
    error ConditionNotPrepared(bytes32 conditionId);
    error InvalidOutcomeCount(uint256 outcomes);
    error InvalidLiquidity(uint256 b);
    error MarketExists(bytes32 conditionId, uint256 marketId);
    error FundingAboveMax(uint256 funding, uint256 maxFunding);
    error ConditionResolved(bytes32 conditionId);
    error ConditionNotResolved(bytes32 conditionId);
    error MarketIsClosed(uint256 marketId);
    error MarketNotClosed(uint256 marketId);
    error WrongDeltaCount(uint256 given, uint256 outcomes);
    error InvalidOutcome(uint256 outcome, uint256 outcomes);
    error SharesNotInTokenUnits(uint256 outcome, int256 delta);
    error SharesOutOfRange(uint256 outcome, int256 q);
    error CostAboveLimit(int256 cost, int256 limit);
    error RefundBelowLimit(uint256 refund, uint256 minRefund);
    error NotCreator(uint256 marketId, address caller);
    error AlreadyWithdrawn(uint256 marketId);

    constructor(ConditionalTokens ctf_, IERC20Metadata collateral_) {
        uint8 decimals = collateral_.decimals();
        if (decimals > 18) revert DecimalsAbove18(decimals);
        ctf = ctf_;
        collateral = collateral_;
        unit = 10 ** (18 - decimals);
        IERC20(collateral_).forceApprove(address(ctf_), type(uint256).max);
    }

    // ---- views ----

    /// @notice The number of markets (ids are 0 to count − 1).
    function marketCount() external view returns (uint256) {
        return _markets.length;
    }

    /// @notice Market `marketId`: its condition, b, q, funding, balance, sets and state.
    function market(uint256 marketId) external view returns (Market memory) {
        return _market(marketId);
    }

    /// @notice The prices (wad) of the outcomes of `marketId`; they sum to 1e18 within n wei.
    function prices(uint256 marketId) external view returns (uint256[] memory) {
        Market storage m = _market(marketId);
        return Lmsr.prices(m.q, m.b);
    }

    /// @notice The LMSR cost function C(q) (wad) of `marketId`'s b at `q`, unrounded.
    function cost(uint256 marketId, int256[] calldata q) external view returns (int256) {
        Market storage m = _market(marketId);
        if (q.length != m.q.length) revert WrongDeltaCount(q.length, m.q.length);
        return Lmsr.cost(q, m.b);
    }

    /// @notice What trading `deltas` now would cost: in wads (rounded in the maker's favour) and
    /// in token units (what `trade` moves: positive paid, negative refunded).
    function quote(uint256 marketId, int256[] calldata deltas)
        external
        view
        returns (int256 costWad, int256 amount)
    {
        Market storage m = _market(marketId);
        (costWad, amount,) = _quote(m, deltas);
    }

    /// @notice The ERC-1155 id of outcome `outcome`'s position of `marketId`.
    function positionIdOf(uint256 marketId, uint256 outcome) public view returns (uint256) {
        Market storage m = _market(marketId);
        return _positionId(m.conditionId, outcome);
    }

    /// @notice The maker's inventory (token units) of each outcome of `marketId`.
    function inventory(uint256 marketId) external view returns (uint256[] memory inv) {
        Market storage m = _market(marketId);
        inv = new uint256[](m.q.length);
        for (uint256 i; i < inv.length; ++i) {
            inv[i] = uint256(m.sets - m.q[i] / int256(unit));
        }
    }

    // ---- markets ----

    /// @notice Creates the market of `conditionId` (prepared, unresolved, 2 to 16 outcomes) with
    /// liquidity `b` (wad), taking its funding, b·ln n in token units rounded up (approve it),
    /// from the caller; refused if that is above `maxFunding`.
    function createMarket(bytes32 conditionId, uint256 b, uint256 maxFunding)
        external
        nonReentrant
        returns (uint256 marketId)
    {
        uint256 n = ctf.getOutcomeSlotCount(conditionId);
        if (n == 0) revert ConditionNotPrepared(conditionId);
        if (n < MIN_OUTCOMES || n > MAX_OUTCOMES) revert InvalidOutcomeCount(n);
        if (ctf.payoutDenominator(conditionId) != 0) revert ConditionResolved(conditionId);
        if (b < MIN_B || b > MAX_B) revert InvalidLiquidity(b);
        uint256 existing = marketOfCondition[conditionId];
        if (existing != 0) revert MarketExists(conditionId, existing - 1);
        uint256 funding = fundingFor(b, n);
        if (funding > maxFunding) revert FundingAboveMax(funding, maxFunding);

        marketId = _markets.length;
        Market storage m = _markets.push();
        m.conditionId = conditionId;
        m.creator = msg.sender;
        m.b = b;
        m.q = new int256[](n);
        m.funding = funding;
        m.balance = funding;
        marketOfCondition[conditionId] = marketId + 1;
        collateral.safeTransferFrom(msg.sender, address(this), funding);
        emit MarketCreated(marketId, conditionId, msg.sender, b, funding);
    }

    /// @notice The funding of a market with liquidity `b` over `n` outcomes: b·ln n (the maker's
    /// worst-case loss; ln n rounded up by a wei, the product up), in token units rounded up.
    function fundingFor(uint256 b, uint256 n) public view returns (uint256) {
        uint256 lnN = uint256(WadMath.lnWad(int256(n * 1e18))) + 1;
        uint256 wad = WadMath.mulWadUp(b, lnN);
        return (wad + unit - 1) / unit;
    }

    /// @notice Trades `deltas` (wad per outcome; positive buys from the maker, negative sells to
    /// it) in `marketId`. Returns the token units paid (positive) or refunded (negative); reverts
    /// if that is above `limit` (the most to pay, or minus the least refund to take).
    function trade(uint256 marketId, int256[] calldata deltas, int256 limit)
        external
        nonReentrant
        returns (int256 amount)
    {
        return _trade(marketId, deltas, limit);
    }

    /// @notice Buys `shares` (wad) of `outcome`, paying at most `maxCost` token units; returns the
    /// cost.
    function buy(uint256 marketId, uint256 outcome, uint256 shares, uint256 maxCost)
        external
        nonReentrant
        returns (uint256)
    {
        int256[] memory deltas = _single(marketId, outcome, shares, false);
        int256 limit = maxCost > uint256(type(int256).max) ? type(int256).max : int256(maxCost);
        return uint256(_trade(marketId, deltas, limit));
    }

    /// @notice Sells `shares` (wad) of `outcome` back, taking at least `minRefund` token units;
    /// returns the refund.
    function sell(uint256 marketId, uint256 outcome, uint256 shares, uint256 minRefund)
        external
        nonReentrant
        returns (uint256)
    {
        int256[] memory deltas = _single(marketId, outcome, shares, true);
        int256 limit = minRefund > uint256(type(int256).max) ? type(int256).min : -int256(minRefund);
        int256 amount = _trade(marketId, deltas, limit);
        return amount <= 0 ? uint256(-amount) : 0;
    }

    /// @notice Once the condition is resolved, redeems the market's inventory through the CTF
    /// (anyone may call); trading is over for good.
    function close(uint256 marketId) external nonReentrant {
        Market storage m = _market(marketId);
        if (m.closed) revert MarketIsClosed(marketId);
        if (ctf.payoutDenominator(m.conditionId) == 0) revert ConditionNotResolved(m.conditionId);
        m.closed = true;
        uint256 n = m.q.length;
        uint256[] memory indexSets = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            indexSets[i] = uint256(1) << i;
        }
        uint256 redeemed = ctf.redeemPositions(collateral, bytes32(0), m.conditionId, indexSets);
        m.balance += redeemed;
        emit MarketClosed(marketId, redeemed);
    }

    /// @notice The creator takes what its closed market holds.
    function withdraw(uint256 marketId) external nonReentrant returns (uint256 amount) {
        Market storage m = _market(marketId);
        if (msg.sender != m.creator) revert NotCreator(marketId, msg.sender);
        if (!m.closed) revert MarketNotClosed(marketId);
        if (m.withdrawn) revert AlreadyWithdrawn(marketId);
        m.withdrawn = true;
        amount = m.balance;
        m.balance = 0;
        collateral.safeTransfer(msg.sender, amount);
        emit Withdrawn(marketId, msg.sender, amount);
    }

    // ---- internals ----

    function _market(uint256 marketId) private view returns (Market storage) {
        if (marketId >= _markets.length) revert NoSuchMarket(marketId);
        return _markets[marketId];
    }

    function _positionId(bytes32 conditionId, uint256 outcome) private view returns (uint256) {
        return
            ctf.getPositionId(collateral, ctf.getCollectionId(bytes32(0), conditionId, uint256(1) << outcome));
    }

    function _single(uint256 marketId, uint256 outcome, uint256 shares, bool negative)
        private
        view
        returns (int256[] memory d)
    {
        uint256 n = _market(marketId).q.length;
        if (outcome >= n) revert InvalidOutcome(outcome, n);
        if (shares > uint256(Lmsr.MAX_SHARES)) revert SharesOutOfRange(outcome, type(int256).max);
        d = new int256[](n);
        d[outcome] = negative ? -int256(shares) : int256(shares);
    }

    /// @dev The checks of a trade and its cost.
    function _quote(Market storage m, int256[] memory deltas)
        private
        view
        returns (int256 costWad, int256 amount, int256[] memory next)
    {
        uint256 n = m.q.length;
        if (deltas.length != n) revert WrongDeltaCount(deltas.length, n);
        int256 u = int256(unit);
        for (uint256 i; i < n; ++i) {
            if (deltas[i] % u != 0) revert SharesNotInTokenUnits(i, deltas[i]);
            if (deltas[i] > Lmsr.MAX_SHARES || deltas[i] < -Lmsr.MAX_SHARES) {
                revert SharesOutOfRange(i, deltas[i]);
            }
        }
        (costWad, amount, next) = Lmsr.trade(m.q, deltas, m.b, unit);
        for (uint256 i; i < n; ++i) {
            if (next[i] > Lmsr.MAX_SHARES || next[i] < -Lmsr.MAX_SHARES) revert SharesOutOfRange(i, next[i]);
        }
    }

    function _trade(uint256 marketId, int256[] memory deltas, int256 limit) private returns (int256 amount) {
        Market storage m = _market(marketId);
        if (m.closed) revert MarketIsClosed(marketId);
        bytes32 conditionId = m.conditionId;
        if (ctf.payoutDenominator(conditionId) != 0) revert ConditionResolved(conditionId);
        int256 costWad;
        int256[] memory next;
        (costWad, amount, next) = _quote(m, deltas);
        if (amount > limit) {
            if (limit >= 0) revert CostAboveLimit(amount, limit);
            revert RefundBelowLimit(amount < 0 ? uint256(-amount) : 0, uint256(-limit));
        }
        m.q = next;
        if (amount > 0) {
            m.balance += uint256(amount);
            collateral.safeTransferFrom(msg.sender, address(this), uint256(amount));
        }
        _settleShares(m, deltas);
        if (amount < 0) {
            m.balance -= uint256(-amount);
            collateral.safeTransfer(msg.sender, uint256(-amount));
        }
        emit Traded(marketId, msg.sender, deltas, costWad, amount);
    }

    /// @dev Moves the positions of a trade: pulls the sold ones, splits collateral into full sets
    /// when the inventory cannot cover the bought ones, sends those, and merges the full sets the
    /// inventory then holds. Inventory before: sets − q_old/unit; after: sets' − q_new/unit.
    function _settleShares(Market storage m, int256[] memory deltas) private {
        uint256 n = deltas.length;
        int256 u = int256(unit);
        bytes32 conditionId = m.conditionId;
        uint256[] memory ids = new uint256[](n);
        uint256[] memory inAmounts = new uint256[](n);
        uint256[] memory outAmounts = new uint256[](n);
        bool anyIn;
        bool anyOut;
        // The lowest inventory after the trade (before any split or merge).
        int256 low = type(int256).max;
        for (uint256 i; i < n; ++i) {
            ids[i] = _positionId(conditionId, i);
            int256 t = deltas[i] / u;
            if (t > 0) {
                outAmounts[i] = uint256(t);
                anyOut = true;
            } else if (t < 0) {
                inAmounts[i] = uint256(-t);
                anyIn = true;
            }
            int256 inv = m.sets - m.q[i] / u;
            if (inv < low) low = inv;
        }
        if (anyIn) ctf.safeBatchTransferFrom(msg.sender, address(this), ids, inAmounts, "");
        if (low < 0) {
            _splitOrMerge(m, conditionId, n, true, uint256(-low));
            m.sets -= low;
        }
        if (anyOut) ctf.safeBatchTransferFrom(address(this), msg.sender, ids, outAmounts, "");
        if (low > 0) {
            _splitOrMerge(m, conditionId, n, false, uint256(low));
            m.sets -= low;
        }
    }

    function _splitOrMerge(Market storage m, bytes32 conditionId, uint256 n, bool split, uint256 amount)
        private
    {
        uint256[] memory partition = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            partition[i] = uint256(1) << i;
        }
        if (split) {
            m.balance -= amount;
            ctf.splitPosition(collateral, bytes32(0), conditionId, partition, amount);
        } else {
            m.balance += amount;
            ctf.mergePositions(collateral, bytes32(0), conditionId, partition, amount);
        }
    }
}
// forge-lint: disable-end(unsafe-typecast)
