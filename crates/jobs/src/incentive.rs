//! How often to audit, and how large a bond to ask, so that cheating does not pay.
//!
//! A provider that skips the work saves `saved` (Δ); caught, it loses the price `price` (p) and
//! its bond (Φ). Checked with probability q, it stays honest when `q · (p + Φ) ≥ Δ`.
//! A challenger that is right nets half the provider's bond less the arbitration cost.

use alloy::primitives::{B256, keccak256};

/// The smallest audit rate q that keeps a provider honest: `saved / (price + bond)`, in 0..=1.
pub fn min_audit_rate(saved: u128, price: u128, bond: u128) -> f64 {
    let at_stake = price.saturating_add(bond);
    if at_stake == 0 {
        return 1.0;
    }
    (saved as f64 / at_stake as f64).clamp(0.0, 1.0)
}

/// What a right challenger gains: half the provider's bond less the arbitration cost (negative
/// when the bond is too small to pay for a challenge).
pub fn challenger_net(bond: u128, arbitration_cost: u128) -> i128 {
    (bond / 2) as i128 - arbitration_cost as i128
}

/// The bond that makes a right challenge pay `margin` over its arbitration cost:
/// `2 · (2 · cost + margin)`, never below the evaluator's minimum of twice the cost.
pub fn bond_for(arbitration_cost: u128, margin: u128) -> u128 {
    2u128.saturating_mul(arbitration_cost.saturating_mul(2).saturating_add(margin))
}

/// Whether to audit job `job_id`, sampled at `rate` with the auditor's secret `seed`: the
/// provider cannot tell in advance which of its jobs are checked, and the same auditor always
/// decides the same way for the same job (a restart does not re-roll).
pub fn sampled(seed: B256, job_id: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 {
        return false;
    }
    let draw = keccak256([seed.as_slice(), &job_id.to_be_bytes()].concat());
    let x = u64::from_be_bytes(draw[..8].try_into().unwrap_or_default()) as f64 / u64::MAX as f64;
    x < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_follows_the_formula() {
        // Δ = $0.0001, p = $0.10, Φ = $3.00 (6-decimal units).
        let q = min_audit_rate(100, 100_000, 3_000_000);
        assert!((q - 100.0 / 3_100_000.0).abs() < 1e-12);
        assert_eq!(min_audit_rate(5, 0, 0), 1.0);
        assert_eq!(min_audit_rate(10_000_000, 1, 1), 1.0);
    }

    #[test]
    fn the_minimum_bond_leaves_a_challenger_nothing() {
        let cost = 1_500_000;
        assert_eq!(challenger_net(2 * cost, cost), 0);
        assert_eq!(challenger_net(bond_for(cost, 0), cost), cost as i128);
        assert_eq!(challenger_net(bond_for(cost, 500_000), cost), cost as i128 + 500_000);
    }

    #[test]
    fn sampling_hits_about_the_rate_and_is_stable() {
        let seed = B256::repeat_byte(0x42);
        let hits = (0..20_000).filter(|j| sampled(seed, *j, 0.1)).count();
        assert!((1_700..2_300).contains(&hits), "{hits}");
        assert_eq!(sampled(seed, 77, 0.5), sampled(seed, 77, 0.5));
        assert!((0..100).all(|j| sampled(seed, j, 1.0)));
        assert!((0..100).all(|j| !sampled(seed, j, 0.0)));
    }
}
