// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

// The casts below convert between int256 and uint256 only where the sign is known (x > 0, the
// mantissa and sums positive) and the magnitude is bounded by the domain checks.
// forge-lint: disable-start(unsafe-typecast)
/// @title WadMath
/// @notice Signed and unsigned 18-decimal fixed-point arithmetic ("wad": 1e18 is 1.0) with the
/// natural logarithm and the exponential, written for the LMSR market makers.
///
/// - `lnWad(x)`, for 0 < x (wad): x = m·2^k with the mantissa m in [1/√2, √2); then
///   ln x = k·ln 2 + 2·atanh(z), z = (m − 1)/(m + 1), |z| ≤ 0.1716, by the series
///   atanh(z) = Σ z^(2j+1)/(2j+1), all in 36-decimal fixed point. The result is truncated
///   toward zero: within 1 wei (plus 1e-30 relative) of the exact value.
/// - `expWad(x)`: x = k·ln 2 + r with k = round(x / ln 2), |r| ≤ ln2/2; e^r by its Taylor
///   series in 36-decimal fixed point, then scaled by 2^k. The result is truncated: within
///   1 wei (plus 1e-30 relative) below the exact value.
///   Domain: x ≤ −42e18 returns 0 (e^−42 < 1e-18); x > 135e18 reverts with `ExpOverflow`
///   (e^135 ≈ 4.26e58 is the largest power of e that fits an int256 wad).
/// - `mulWad`/`divWad` truncate (toward zero for signed values); the `Up` variants round away
///   from zero for non-negative operands.
library WadMath {
    /// @notice The exponent is above 135e18.
    error ExpOverflow(int256 x);
    /// @notice The logarithm of a non-positive number.
    error LnUndefined(int256 x);

    int256 internal constant WAD = 1e18;
    /// @dev 1.0 in the 36-decimal internal precision.
    int256 private constant ONE36 = 1e36;
    /// @dev ln 2 and √2 in 36-decimal precision (rounded to nearest).
    int256 private constant LN2_36 = 693147180559945309417232121458176568;
    int256 private constant SQRT2_36 = 1414213562373095048801688724209698079;
    /// @notice The largest exponent `expWad` takes.
    int256 internal constant EXP_MAX = 135e18;
    /// @notice At or below this exponent `expWad` returns 0.
    int256 internal constant EXP_MIN = -42e18;

    // ---- products and quotients ----

    /// @notice x·y / 1e18, truncated toward zero.
    function mulWad(int256 x, int256 y) internal pure returns (int256) {
        return x * y / WAD;
    }

    /// @notice x·1e18 / y, truncated toward zero.
    function divWad(int256 x, int256 y) internal pure returns (int256) {
        return x * WAD / y;
    }

    /// @notice x·y / 1e18, rounded down.
    function mulWadDown(uint256 x, uint256 y) internal pure returns (uint256) {
        return Math.mulDiv(x, y, 1e18);
    }

    /// @notice x·y / 1e18, rounded up.
    function mulWadUp(uint256 x, uint256 y) internal pure returns (uint256) {
        return Math.mulDiv(x, y, 1e18, Math.Rounding.Ceil);
    }

    /// @notice x·1e18 / y, rounded down.
    function divWadDown(uint256 x, uint256 y) internal pure returns (uint256) {
        return Math.mulDiv(x, 1e18, y);
    }

    /// @notice x·1e18 / y, rounded up.
    function divWadUp(uint256 x, uint256 y) internal pure returns (uint256) {
        return Math.mulDiv(x, 1e18, y, Math.Rounding.Ceil);
    }

    // ---- ln and exp ----

    /// @notice The natural logarithm of `x` (wad), truncated toward zero; reverts for x ≤ 0.
    function lnWad(int256 x) internal pure returns (int256) {
        if (x <= 0) revert LnUndefined(x);
        uint256 ux = uint256(x);
        // 2^59 < 1e18 < 2^60: x / 2^(log2(x) − 59) is in [0.576, 1.153) (as a wad).
        int256 k = int256(Math.log2(ux)) - 59;
        // m = x / 2^k, in 36-decimal precision.
        int256 m;
        if (k >= 0) {
            m = int256(Math.mulDiv(ux, 1e18, uint256(1) << uint256(k)));
        } else {
            m = int256((ux * 1e18) << uint256(-k));
        }
        // Bring m into [1/√2, √2).
        while (m >= SQRT2_36) {
            m /= 2;
            k += 1;
        }
        while (m * 2 < SQRT2_36) {
            m *= 2;
            k -= 1;
        }
        int256 z = (m - ONE36) * ONE36 / (m + ONE36);
        int256 z2 = z * z / ONE36;
        int256 term = z;
        int256 sum = z;
        for (int256 j = 3; term != 0; j += 2) {
            term = term * z2 / ONE36;
            sum += term / j;
        }
        return (k * LN2_36 + 2 * sum) / 1e18;
    }

    /// @notice e^x for `x` (wad), truncated; 0 for x ≤ −42e18, reverts for x > 135e18.
    function expWad(int256 x) internal pure returns (int256) {
        if (x <= EXP_MIN) return 0;
        if (x > EXP_MAX) revert ExpOverflow(x);
        int256 x36 = x * 1e18;
        // k = round(x / ln 2).
        int256 k = (x36 + (x36 >= 0 ? LN2_36 / 2 : -LN2_36 / 2)) / LN2_36;
        int256 r = x36 - k * LN2_36;
        int256 term = ONE36;
        int256 sum = ONE36;
        for (int256 j = 1; term != 0; ++j) {
            term = term * r / ONE36 / j;
            sum += term;
        }
        uint256 s = uint256(sum);
        if (k >= 0) return int256(Math.mulDiv(s, uint256(1) << uint256(k), 1e18));
        return int256((s >> uint256(-k)) / 1e18);
    }
}
// forge-lint: disable-end(unsafe-typecast)
