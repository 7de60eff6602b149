//! How amounts and times are printed and read: dollars of the suite's token with their symbol
//! (`1.25 dUSD`), atomic units only with `--raw`; dates in UTC and durations.

use agora_node::chain::units::{DOLLARS, Unit};
use alloy::primitives::U256;
use std::sync::atomic::{AtomicBool, Ordering};

static RAW: AtomicBool = AtomicBool::new(false);

/// Prints atomic units from now on (`--raw`).
pub(crate) fn set_raw(raw: bool) {
    RAW.store(raw, Ordering::Relaxed);
}

/// Whether amounts print in atomic units.
pub(crate) fn raw() -> bool {
    RAW.load(Ordering::Relaxed)
}

/// `amount` atomic units of the dollar token, as people read it (`1.25 dUSD`), or the atomic
/// units with `--raw`.
pub(crate) fn money(amount: u128) -> String {
    in_unit(DOLLARS, amount)
}

/// [`money`] of a 256-bit amount.
pub(crate) fn money256(amount: U256) -> String {
    money(u128::try_from(amount).unwrap_or(u128::MAX))
}

/// `amount` atomic units of `unit`, or the atomic units with `--raw`.
pub(crate) fn in_unit(unit: Unit, amount: u128) -> String {
    if raw() { amount.to_string() } else { unit.format(amount) }
}

/// An amount typed in dollars (`1.25`, `$1.25`, `1.25dUSD`) or atomic units (`1250000atomic`),
/// as atomic units: the parser of every amount argument.
pub(crate) fn parse_money(text: &str) -> Result<u128, String> {
    DOLLARS.parse(text).map_err(|e| e.to_string())
}

/// [`parse_money`] as a 256-bit amount.
pub(crate) fn parse_money256(text: &str) -> Result<U256, String> {
    parse_money(text).map(U256::from)
}

/// When unix time `at` is: `in 14 min, at 2026-12-06 12:04 UTC`.
pub(crate) fn when(at: u64) -> String {
    agora_node::chain::units::when(at, agora_node::chain::units::unix_now())
}

/// `90s`, `45m`, `2h`, `1d` or plain seconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = n.parse().map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 45m, 2h, 1d)"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    Ok(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_durations_parse() {
        assert_eq!(parse_money256("0.05").unwrap(), U256::from(50_000u64));
        assert_eq!(parse_money("$1.5").unwrap(), 1_500_000);
        assert_eq!(parse_money("10").unwrap(), 10_000_000);
        assert_eq!(parse_money(".000001").unwrap(), 1);
        assert_eq!(parse_money("2500atomic").unwrap(), 2500);
        assert!(parse_money("0.0000001").unwrap_err().contains("6 decimals"));
        assert!(parse_money("ten").is_err());
        assert!(parse_money("").is_err());
        assert_eq!(money(1_250_000), "1.25 dUSD");
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("600").unwrap(), 600);
        assert!(parse_duration("2w").is_err());
    }
}
