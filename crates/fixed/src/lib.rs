//! Deterministic arithmetic for what agora settles on chain: the scoring of funding rounds and
//! the reference of the market maker.
//!
//! [`f64`] is for exploration. [`Wad`] is a signed fixed-point number with 18 decimals over an
//! `i128` whose `ln`, `exp` and `sqrt` are integer algorithms: the same inputs give the same bits
//! on every machine, compiler and thread count, which is what an on-chain challenge is decided on.
//! Algorithms are written once, generic over [`Real`], so both arithmetics run the same steps in
//! the same order.

use alloy::primitives::{I256, U256};
use std::{
    fmt,
    ops::{Add, Div, Mul, Neg, Sub},
};

/// A number the scoring can run on.
pub trait Real:
    Copy
    + PartialOrd
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The arithmetic's name, as reports print it (`f64`, `fixed`).
    const NAME: &'static str;
    /// 0.
    fn zero() -> Self;
    /// 1.
    fn one() -> Self;
    /// `n / d`, rounded toward zero in fixed point.
    fn ratio(n: i128, d: i128) -> Self;
    /// The natural logarithm of a positive number.
    fn ln(self) -> Self;
    /// `e^self`; in fixed point, 0 below e⁻⁴² and saturated above e⁴⁶.
    fn exp(self) -> Self;
    /// The square root of a number ≥ 0 (0 for a negative one).
    fn sqrt(self) -> Self;
    /// The nearest `f64`, for reports and comparisons.
    fn to_f64(self) -> f64;
    /// Whether the number is within `tolerance` of zero; the tolerance is the arithmetic's own
    /// (see [`Real::eps`]).
    fn is_small(self) -> bool {
        let eps = Self::eps();
        self <= eps && self >= -eps
    }
    /// The tolerance below which the solvers treat a quantity as zero.
    fn eps() -> Self;
    /// The absolute value.
    fn abs(self) -> Self {
        if self < Self::zero() { -self } else { self }
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
    #[allow(clippy::cast_precision_loss)]
    fn ratio(n: i128, d: i128) -> Self {
        n as f64 / d as f64
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn sqrt(self) -> Self {
        if self <= 0.0 { 0.0 } else { f64::sqrt(self) }
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn eps() -> Self {
        1e-12
    }
}

/// 10¹⁸: the scale of [`Wad`].
pub const WAD: i128 = 1_000_000_000_000_000_000;
/// ln 2 · 10¹⁸, rounded to nearest.
const LN2: i128 = 693_147_180_559_945_309;
/// ln 2 · 10³⁶ for the reductions that multiply it by an integer (kept exact to 10⁻³⁶).
const LN2_36: i128 = 693_147_180_559_945_309_417_232_121_458_176_568;
/// ln 10¹⁸ · 10¹⁸ = 18 · ln 10, rounded to nearest.
const LN_WAD: i128 = 41_446_531_673_892_822_312;

/// A signed fixed-point number: the `i128` counts units of 10⁻¹⁸. Products and quotients round
/// toward zero; overflow (beyond ±1.7·10²⁰) panics, which the scoring's bounded inputs exclude.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Wad(pub i128);

impl Wad {
    /// The raw integer (units of 10⁻¹⁸).
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// The fixed-point number nearest to `x` (for tests and inputs given as decimals).
    #[allow(clippy::cast_possible_truncation)]
    pub fn from_f64(x: f64) -> Self {
        Self((x * 1e18).round() as i128)
    }

    /// Parses a decimal string such as `-0.25` or `3` exactly (at most 18 decimals).
    pub fn parse(s: &str) -> Option<Self> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() || frac.len() > 18 {
            return None;
        }
        let all = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !all(int) || !all(frac) {
            return None;
        }
        let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut f: i128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
        for _ in frac.len()..18 {
            f *= 10;
        }
        let v = int.checked_mul(WAD)?.checked_add(f)?;
        Some(Self(if neg { -v } else { v }))
    }

    fn wide(a: i128) -> I256 {
        I256::try_from(a).unwrap_or(I256::ZERO)
    }

    fn narrow(a: I256) -> i128 {
        i128::try_from(a).unwrap_or_else(|_| panic!("fixed-point overflow: {a}"))
    }

    /// `a · b / d`, rounded toward zero, through 256 bits when `a · b` does not fit.
    fn mul_div(a: i128, b: i128, d: i128) -> i128 {
        match a.checked_mul(b) {
            Some(p) => p / d,
            None => Self::narrow(Self::wide(a) * Self::wide(b) / Self::wide(d)),
        }
    }

    /// ln of a raw positive integer viewed as `raw / 10¹⁸`.
    fn ln_raw(raw: i128) -> i128 {
        assert!(raw > 0, "fixed-point ln of a number ≤ 0");
        // raw = 2^n · f with f ∈ [1, 2): ln(raw/10¹⁸) = n·ln 2 + ln f − ln 10¹⁸.
        let n = 127 - i128::from(raw.leading_zeros());
        // f in WAD: raw · 10¹⁸ / 2^n, exact to the unit.
        let f = Self::narrow(
            (Self::wide(raw) * Self::wide(WAD)) / (I256::ONE << usize::try_from(n).unwrap_or(0)),
        );
        // ln f = 2·atanh(s), s = (f−1)/(f+1) ∈ [0, 1/3): 2(s + s³/3 + s⁵/5 + …).
        let s = Self::mul_div(f - WAD, WAD, f + WAD);
        let s2 = Self::mul_div(s, s, WAD);
        let mut term = s;
        let mut sum = 0i128;
        let mut k = 1i128;
        while term != 0 {
            sum += term / k;
            term = Self::mul_div(term, s2, WAD);
            k += 2;
        }
        2 * sum + (n * LN2_36) / WAD - LN_WAD
    }

    fn exp_raw(x: i128) -> i128 {
        if x < -42 * WAD {
            return 0;
        }
        assert!(x <= 46 * WAD, "fixed-point exp overflow: {x}");
        // x = k·ln 2 + r, |r| ≤ ln 2 / 2: e^x = 2^k · e^r.
        let k = (x + x.signum() * LN2 / 2) / LN2;
        let r = x - (k * LN2_36) / WAD;
        // e^r by its Taylor series, to the last unit.
        let mut term = WAD;
        let mut sum = WAD;
        let mut i = 1i128;
        while term != 0 {
            term = Self::mul_div(term, r, WAD) / i;
            sum += term;
            i += 1;
        }
        if k >= 0 { sum << k } else { sum >> (-k) }
    }
}

impl fmt::Debug for Wad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Wad {
    /// Exactly, with 18 decimals: `-0.250000000000000000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let w = WAD.unsigned_abs();
        write!(f, "{sign}{}.{:018}", a / w, a % w)
    }
}

impl Add for Wad {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self(self.0 + o.0)
    }
}
impl Sub for Wad {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self(self.0 - o.0)
    }
}
impl Mul for Wad {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        Self(Self::mul_div(self.0, o.0, WAD))
    }
}
impl Div for Wad {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        assert!(o.0 != 0, "fixed-point division by zero");
        Self(Self::mul_div(self.0, WAD, o.0))
    }
}
impl Neg for Wad {
    type Output = Self;
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl Real for Wad {
    const NAME: &'static str = "fixed";
    fn zero() -> Self {
        Self(0)
    }
    fn one() -> Self {
        Self(WAD)
    }
    fn ratio(n: i128, d: i128) -> Self {
        Self(Self::mul_div(n, WAD, d))
    }
    fn ln(self) -> Self {
        Self(Self::ln_raw(self.0))
    }
    fn exp(self) -> Self {
        Self(Self::exp_raw(self.0))
    }
    fn sqrt(self) -> Self {
        if self.0 <= 0 {
            return Self(0);
        }
        let v = U256::from(self.0.unsigned_abs()) * U256::from(WAD.unsigned_abs());
        Self(i128::try_from(v.root(2)).unwrap_or(i128::MAX))
    }
    #[allow(clippy::cast_precision_loss)]
    fn to_f64(self) -> f64 {
        (self.0 / WAD) as f64 + (self.0 % WAD) as f64 / 1e18
    }
    fn eps() -> Self {
        // 10⁻¹²: far above the rounding of a few thousand fixed-point steps.
        Self(1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_and_exp_are_exact_to_a_few_units() {
        for x in [1e-12, 0.001, 0.3, 0.5, 1.0, 1.5, 2.0, std::f64::consts::E, 10.0, 999.0, 1e9, 1e20] {
            let got = Wad::from_f64(x).ln().to_f64();
            assert!((got - x.ln()).abs() < 1e-15 * x.ln().abs().max(1.0), "ln {x}: {got}");
        }
        for x in [-40.0, -5.0, -1.0, -0.1, 0.0, 0.1, 0.5, 1.0, 3.3, 20.0, 45.0] {
            let got = Wad::from_f64(x).exp().to_f64();
            assert!((got - x.exp()).abs() <= 1e-15 * x.exp().max(1e-3), "exp {x}: {got} vs {}", x.exp());
        }
        assert!(Wad::one().ln().0.abs() <= 20, "ln 1 = {}", Wad::one().ln());
        assert_eq!(Wad(0).exp(), Wad::one());
        assert_eq!(Wad(-43 * WAD).exp(), Wad(0));
    }

    #[test]
    fn ln_of_exp_round_trips() {
        // Below e^-5 the 18 decimals hold fewer significant digits, and ln gives back fewer.
        for raw in [-5 * WAD, -WAD / 3, 7, 12_345_678_901_234_567_890, 30 * WAD] {
            let back = Wad(raw).exp().ln();
            let err = (back.0 - raw).abs();
            assert!(err < 1_000, "{raw}: {back:?} off by {err}");
        }
    }

    #[test]
    fn products_beyond_i128_go_through_256_bits() {
        let big = Wad(100 * WAD);
        assert_eq!((big * big).0, 10_000 * WAD);
        assert_eq!((big / Wad(WAD / 4)).0, 400 * WAD);
        assert_eq!(Wad::ratio(1, 3).0, 333_333_333_333_333_333);
        assert_eq!(Wad(-WAD) * Wad(WAD / 3), Wad(-333_333_333_333_333_333));
    }

    #[test]
    fn sqrt_is_the_floor_of_the_exact_root() {
        assert_eq!(Wad(4 * WAD).sqrt(), Wad(2 * WAD));
        assert_eq!(Wad(2 * WAD).sqrt(), Wad(1_414_213_562_373_095_048));
        assert_eq!(Wad(-WAD).sqrt(), Wad(0));
    }

    #[test]
    fn decimals_parse_and_print_exactly() {
        assert_eq!(Wad::parse("-0.25"), Some(Wad(-WAD / 4)));
        assert_eq!(Wad::parse("3"), Some(Wad(3 * WAD)));
        assert_eq!(Wad::parse(".5"), Some(Wad(WAD / 2)));
        assert_eq!(Wad::parse("1.0000000000000000001"), None);
        assert_eq!(Wad::parse("1e3"), None);
        assert_eq!(Wad(-WAD / 4).to_string(), "-0.250000000000000000");
    }
}
