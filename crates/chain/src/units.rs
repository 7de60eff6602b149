//! Amounts for people: atomic units of a token written in its own units with its symbol
//! (`1.25 dUSD`), and read back from what people type (`1.25`, `$1.25`, `1.25 dUSD`, or atomic
//! units with the `atomic` suffix: `1250000atomic`).

use std::fmt;

/// A token's unit: its symbol and how many decimals its atomic units have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// The symbol, e.g. `dUSD`.
    pub symbol: &'static str,
    /// Decimals of the atomic unit (6 for dollar tokens, 18 for ether).
    pub decimals: u8,
}

/// The suite's dollar token (`DevStablecoin`: six decimals, like USDC), which every price, payment,
/// deposit and bond is counted in.
pub const DOLLARS: Unit = Unit { symbol: "dUSD", decimals: 6 };

/// Ether.
pub const ETHER: Unit = Unit { symbol: "ETH", decimals: 18 };

/// The suffix that marks an amount typed in atomic units.
pub const ATOMIC_SUFFIX: &str = "atomic";

impl Unit {
    /// `amount` atomic units in this unit: at least two decimals, more where the amount has
    /// them, never rounded (`1.25 dUSD`, `0.000125 dUSD`, `10.00 dUSD`).
    pub fn format(&self, amount: u128) -> String {
        format_units(amount, self.decimals, self.symbol)
    }

    /// Reads an amount a person typed: in this unit (`1.25`, `$1.25` for dollars, `1.25 dUSD`,
    /// the symbol in any case), or in atomic units with the `atomic` suffix (`1250000atomic`).
    pub fn parse(&self, text: &str) -> Result<u128, AmountError> {
        let t = text.trim();
        let bad = |why: &str| AmountError { text: text.to_owned(), unit: *self, why: why.to_owned() };
        if let Some(atomic) = t.strip_suffix(ATOMIC_SUFFIX) {
            let atomic = atomic.trim();
            if atomic.is_empty() || !atomic.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("atomic units are a whole number"));
            }
            return atomic.parse().map_err(|_| bad("too large"));
        }
        let t = t.strip_prefix('$').filter(|_| self.symbol.ends_with("USD")).unwrap_or(t);
        let t = match t.len().checked_sub(self.symbol.len()) {
            Some(at) if t.is_char_boundary(at) && t[at..].eq_ignore_ascii_case(self.symbol) => t[..at].trim(),
            _ => t,
        };
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
            return Err(bad("not a number"));
        }
        if frac.len() > usize::from(self.decimals) {
            return Err(bad(&format!("{} has at most {} decimals", self.symbol, self.decimals)));
        }
        let scale = 10u128.pow(u32::from(self.decimals));
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad("too large"))? };
        let frac: u128 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<width$}", width = usize::from(self.decimals))
                .parse()
                .map_err(|_| bad("too large"))?
        };
        whole.checked_mul(scale).and_then(|w| w.checked_add(frac)).ok_or_else(|| bad("too large"))
    }
}

/// `amount` atomic units of a token with `decimals` and `symbol`, as [`Unit::format`] writes
/// them.
pub fn format_units(amount: u128, decimals: u8, symbol: &str) -> String {
    let scale = 10u128.checked_pow(u32::from(decimals)).unwrap_or(u128::MAX);
    let (whole, frac) = (amount / scale, amount % scale);
    let mut frac = format!("{frac:0width$}", width = usize::from(decimals));
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    if frac.is_empty() { format!("{whole} {symbol}") } else { format!("{whole}.{frac} {symbol}") }
}

/// An amount that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountError {
    text: String,
    unit: Unit,
    why: String,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an amount ({}): write it in {} (e.g. 1.25 or 1.25{}) or in atomic units as 1250000{}",
            self.text, self.why, self.unit.symbol, self.unit.symbol, ATOMIC_SUFFIX
        )
    }
}

impl std::error::Error for AmountError {}

/// A duration for people: `45 s`, `12 min`, `3.5 h`, `2.0 d`.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{:.1} h", s as f64 / 3600.0),
        s => format!("{:.1} d", s as f64 / 86_400.0),
    }
}

/// The civil date (year, month 1–12, day 1–31, proleptic Gregorian) `days` after 1970-01-01
/// (Howard Hinnant's algorithm).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    // Both are small: day 1–31, month 1–12.
    (yoe + era * 400 + i64::from(month <= 2), month as u32, day as u32)
}

/// A unix time as a UTC date and time: `2026-12-06 12:04 UTC`.
pub fn utc(unix_secs: u64) -> String {
    let (year, month, day) = civil_date((unix_secs / 86_400) as i64);
    let secs = unix_secs % 86_400;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// When `at` (unix seconds) is, seen from `now`: `now`, `in 14 min, at 2026-12-06 12:04 UTC`,
/// or `3 min ago, at …`.
pub fn when(at: u64, now: u64) -> String {
    match at.cmp(&now) {
        std::cmp::Ordering::Equal => "now".to_owned(),
        std::cmp::Ordering::Greater => format!("in {}, at {}", duration(at - now), utc(at)),
        std::cmp::Ordering::Less => format!("{} ago, at {}", duration(now - at), utc(at)),
    }
}

/// The system clock, unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_in_their_unit_and_read_back() {
        assert_eq!(DOLLARS.format(1_250_000), "1.25 dUSD");
        assert_eq!(DOLLARS.format(10_000_000), "10.00 dUSD");
        assert_eq!(DOLLARS.format(125), "0.000125 dUSD");
        assert_eq!(DOLLARS.format(0), "0.00 dUSD");
        assert_eq!(ETHER.format(1_500_000_000_000_000_000), "1.50 ETH");
        for amount in [0, 1, 125, 1_000_000, 1_250_000, 123_456_789, u128::from(u64::MAX)] {
            assert_eq!(DOLLARS.parse(&DOLLARS.format(amount)), Ok(amount), "{amount}");
            assert_eq!(DOLLARS.parse(&format!("{amount}atomic")), Ok(amount));
        }
        for text in ["1.25", "$1.25", "1.25 dUSD", "1.25dusd", " 1.250000 ", "1250000atomic"] {
            assert_eq!(DOLLARS.parse(text), Ok(1_250_000), "{text}");
        }
        assert_eq!(DOLLARS.parse(".5"), Ok(500_000));
        assert_eq!(DOLLARS.parse("10"), Ok(10_000_000));
    }

    #[test]
    fn what_is_not_an_amount_is_refused_with_the_way_to_write_it() {
        for text in [
            "",
            "abc",
            "1.2.3",
            "-1",
            "1.0000001",
            "1e6",
            "$",
            "1.5atomic",
            "99999999999999999999999999999999999",
        ] {
            let e = DOLLARS.parse(text).unwrap_err().to_string();
            assert!(e.contains("1250000atomic"), "{text}: {e}");
        }
        assert!(DOLLARS.parse("1.0000001").unwrap_err().to_string().contains("at most 6 decimals"));
        // `$` only means dollars.
        assert!(ETHER.parse("$1").is_err());
    }

    #[test]
    fn times_read_as_dates_and_durations() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_796_558_640), "2026-12-06 12:04 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(when(1_796_558_640, 1_796_558_640 - 14 * 60), "in 14 min, at 2026-12-06 12:04 UTC");
        assert_eq!(when(100, 100), "now");
        assert_eq!(when(100, 145), "45 s ago, at 1970-01-01 00:01 UTC");
        assert_eq!(duration(3 * 86_400), "3.0 d");
    }
}
