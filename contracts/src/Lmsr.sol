// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {WadMath} from "./WadMath.sol";

// The casts below convert prices (non-negative exponentials) and b (at most 1e33) between
// int256 and uint256.
// forge-lint: disable-start(unsafe-typecast)
/// @title Lmsr
/// @notice Hanson's logarithmic market scoring rule, in wads (1e18 = one share or one unit of
/// collateral), shared by `LmsrMarketMaker` and `DecisionMarket`.
///
/// - Cost: C(q) = b·ln Σ_i e^(q_i/b), evaluated as C(q) = max(q) + b·ln Σ_i e^((q_i − max(q))/b)
///   (log-sum-exp: every exponent is ≤ 0, the sum is in [1, n]).
/// - Prices: p_i = e^((q_i − max)/b) / Σ_j e^((q_j − max)/b); they sum to 1e18 within n wei.
/// - A trade Δ costs C(q + Δ) − C(q). Each evaluation of C is within `slack(b, n)` of the exact
///   value, so the maker charges `C(q+Δ) − C(q) + 2·slack` (never less than the exact cost; a
///   refund is the exact one less at least as much), then converts to token units rounding in
///   its own favour: up for what the trader pays, down for what it receives. A trade of zero
///   shares costs 0. Summed over any sequence of trades the maker takes in at least
///   C(q) − C(0), so its loss is at most C(0) = b·ln n.
/// @dev Exponents below −42 (prices under 1e-18) count as 0.
library Lmsr {
    using WadMath for int256;

    /// @notice The largest |q_i| (wad) a market takes, far beyond any collateral, so that no
    /// intermediate overflows.
    int256 internal constant MAX_SHARES = 1e36;

    /// @notice C(q) (wad) for liquidity `b` (wad).
    function cost(int256[] memory q, uint256 b) internal pure returns (int256) {
        int256 max = _max(q);
        int256 bi = int256(b);
        int256 sum;
        for (uint256 i; i < q.length; ++i) {
            sum += WadMath.expWad(WadMath.divWad(q[i] - max, bi));
        }
        return max + WadMath.mulWad(bi, WadMath.lnWad(sum));
    }

    /// @notice The prices (wad) at `q`.
    function prices(int256[] memory q, uint256 b) internal pure returns (uint256[] memory p) {
        int256 max = _max(q);
        int256 bi = int256(b);
        p = new uint256[](q.length);
        uint256 sum;
        for (uint256 i; i < q.length; ++i) {
            p[i] = uint256(WadMath.expWad(WadMath.divWad(q[i] - max, bi)));
            sum += p[i];
        }
        for (uint256 i; i < q.length; ++i) {
            p[i] = p[i] * 1e18 / sum;
        }
    }

    /// @notice A bound on the error of one evaluation of `cost` (wad): the exponentials (and the
    /// quotients feeding them) are within 2 wei each, so the sum within 3n wei of a number ≥ 1,
    /// its logarithm within 3n + 1 wei, and b times it within (3n + 1)·b/1e18 + 1 wei.
    function slack(uint256 b, uint256 n) internal pure returns (int256) {
        return int256((4 * n + 4) * (b / 1e18 + 1));
    }

    /// @notice What trading `deltas` at `q` costs: `costWad`, the cost in wads rounded in the
    /// maker's favour (positive: the trader pays; negative: the maker refunds), and `amount`,
    /// the token units that move (`unit` wads per token unit: up when paid, down when refunded).
    /// Also returns `next` = q + Δ (callers bound its entries by `MAX_SHARES`).
    function trade(int256[] memory q, int256[] memory deltas, uint256 b, uint256 unit)
        internal
        pure
        returns (int256 costWad, int256 amount, int256[] memory next)
    {
        next = new int256[](q.length);
        bool any;
        for (uint256 i; i < q.length; ++i) {
            next[i] = q[i] + deltas[i];
            if (deltas[i] != 0) any = true;
        }
        if (!any) return (0, 0, next);
        int256 diff = cost(next, b) - cost(q, b);
        costWad = diff + 2 * slack(b, q.length);
        int256 u = int256(unit);
        if (costWad >= 0) {
            amount = (costWad + u - 1) / u;
        } else {
            amount = costWad / u;
        }
    }

    function _max(int256[] memory q) private pure returns (int256 max) {
        max = q[0];
        for (uint256 i = 1; i < q.length; ++i) {
            if (q[i] > max) max = q[i];
        }
    }
}
// forge-lint: disable-end(unsafe-typecast)
