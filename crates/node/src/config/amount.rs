//! Amounts of the suite's dollar token in the configuration: an integer is atomic units
//! (`price_per_token = 10`), a string carries its unit (`"0.00001 dUSD"`, `"$10"`,
//! `"10000000atomic"`). `agora config` prints them in dollars.

use agora_chain::units::DOLLARS;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};
use std::{fmt, str::FromStr};

/// An amount of the dollar token, atomic units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub u64);

impl FromStr for Amount {
    type Err = String;

    /// A bare integer is atomic units (as the configuration has always read it); anything else
    /// needs its unit: `0.5 dUSD`, `$0.50`, `500000atomic`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let atomic = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse::<u128>().map_err(|_| format!("{text:?} is too large"))?
        } else if t.starts_with('$') || t.ends_with(DOLLARS.symbol) || t.ends_with("atomic") {
            DOLLARS.parse(t).map_err(|e| e.to_string())?
        } else {
            return Err(format!(
                "{text:?} needs a unit: write \"{t} {}\" (dollars) or {t} without quotes (atomic units)",
                DOLLARS.symbol
            ));
        };
        u64::try_from(atomic).map(Self).map_err(|_| format!("{text:?} is too large"))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&DOLLARS.format(u128::from(self.0)))
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Atomic(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Atomic(n) => Ok(Self(n)),
            Raw::Text(text) => text.parse().map_err(D::Error::custom),
        }
    }
}

/// `amount` atomic units as a TOML value `agora config` prints and reads back: `"1.25 dUSD"`.
pub(super) fn toml(amount: u64) -> String {
    format!("\"{}\"", Amount(amount))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_atomic_integers_or_with_their_unit() {
        #[derive(Deserialize)]
        struct T {
            a: Amount,
        }
        let read = |text: &str| toml::from_str::<T>(text).map(|t| t.a.0).map_err(|e| e.to_string());
        assert_eq!(read("a = 10"), Ok(10));
        assert_eq!(read("a = \"0.00001 dUSD\""), Ok(10));
        assert_eq!(read("a = \"$10\""), Ok(10_000_000));
        assert_eq!(read("a = \"25atomic\""), Ok(25));
        assert_eq!(read("a = \"10\""), Ok(10));
        assert!(read("a = \"0.5\"").unwrap_err().contains("needs a unit"));
        assert!(read("a = \"lots dUSD\"").is_err());
        assert!(read("a = -1").is_err());
        // What `agora config` prints reads back as the same amount.
        for amount in [0, 10, 20_000, 1_000_000, 10_000_000] {
            assert_eq!(read(&format!("a = {}", toml(amount))), Ok(amount));
        }
    }
}
