//! Q1–Q5: plain CLR, the cap, collusion under plain CLR, and the pairwise bound.

use crate::close;
use agora_funding::{
    Real, Wad,
    merkle::{Tree, verify},
    qf::{Donation, allocate, clr, pairwise, settle},
};
use alloy::primitives::Address;

fn who(n: u8) -> Address {
    Address::with_last_byte(n)
}

fn d(donor: u8, project: usize, amount: u128) -> Donation {
    Donation { donor: who(donor), project, amount }
}

/// A: four donors × 1; B: one donor × 4; C: donors 9 and 16.
fn q1_donations() -> Vec<Donation> {
    vec![d(1, 0, 1), d(2, 0, 1), d(3, 0, 1), d(4, 0, 1), d(5, 1, 4), d(6, 2, 9), d(7, 2, 16)]
}

fn q1<T: Real>() {
    let ideal = clr::<T>(3, &q1_donations(), 1).unwrap();
    for (got, want) in ideal.iter().zip([12.0, 0.0, 24.0]) {
        close(*got, want, 1e-9);
    }
    let matched = allocate(&ideal, T::ratio(18, 1), None, false);
    for (got, want) in matched.iter().zip([6.0, 0.0, 12.0]) {
        close(*got, want, 1e-9);
    }
    // Q2: capped at half the pool, C gives 3 to A.
    let capped = allocate(&ideal, T::ratio(18, 1), Some(T::ratio(1, 2)), false);
    for (got, want) in capped.iter().zip([9.0, 0.0, 9.0]) {
        close(*got, want, 1e-9);
    }
}

fn q3_q4<T: Real>() {
    for (x, plain, bounded) in [(1u128, 0.947, 0.909), (100, 15.254, 9.091), (10_000, 17.968, 9.990)] {
        let mut all = q1_donations();
        all.push(d(8, 3, x));
        all.push(d(9, 3, x));
        let ideal = clr::<T>(4, &all, 1).unwrap();
        close(allocate(&ideal, T::ratio(18, 1), None, false)[3], plain, 1e-3);
        let only = [d(8, 0, x), d(9, 0, x)];
        let raw = pairwise::<T>(1, &only, 1, T::ratio(10, 1)).unwrap();
        close(raw[0], bounded, 1e-3);
        assert!(raw[0].to_f64() < 10.0);
    }
}

fn q5<T: Real>() {
    // X = {alice 4, bob 4, carol 1}; Y = {alice 1, bob 1}; Z = {carol 9, dave 4}.
    let (alice, bob, carol, dave) = (1, 2, 3, 4);
    let all = [
        d(alice, 0, 4),
        d(bob, 0, 4),
        d(carol, 0, 1),
        d(alice, 1, 1),
        d(bob, 1, 1),
        d(carol, 2, 9),
        d(dave, 2, 4),
    ];
    for (m, want) in [(10, [6.0, 0.666667, 3.75]), (1, [2.0, 0.166667, 0.857143])] {
        let raw = pairwise::<T>(3, &all, 1, T::ratio(m, 1)).unwrap();
        for (got, w) in raw.iter().zip(want) {
            close(*got, w, 1e-6);
        }
    }
    let unbounded = pairwise::<T>(3, &all, 1, T::ratio(1_000_000_000_000, 1)).unwrap();
    for (got, w) in unbounded.iter().zip([8.0, 1.0, 6.0]) {
        close(*got, w, 1e-6);
    }
}

#[test]
fn q1_q2_clr_and_the_cap() {
    q1::<f64>();
    q1::<Wad>();
}

#[test]
fn q3_q4_collusion_is_bounded_by_the_pair_budget() {
    q3_q4::<f64>();
    q3_q4::<Wad>();
}

#[test]
fn q5_pairwise_with_overlap() {
    q5::<f64>();
    q5::<Wad>();
}

#[test]
fn a_settled_round_pays_the_pool_exactly_by_merkle_proof() {
    let projects = [who(100), who(101), who(102)];
    // Q5's donations in dollars of dUSD (6 decimals).
    let donations: Vec<Donation> =
        [(1, 0, 4), (2, 0, 4), (3, 0, 1), (1, 1, 1), (2, 1, 1), (3, 2, 9), (4, 2, 4)]
            .iter()
            .map(|&(donor, project, dollars)| d(donor, project, dollars * 1_000_000))
            .collect();
    let pool = 1_000_000_000; // $1,000
    let result = settle(&projects, &donations, pool, 10_000_000, 10_000, who(99)).unwrap();
    let total: u128 = result.leaves.iter().map(|l| l.amount).sum();
    assert_eq!(total, pool);
    // M = $10: raw matches 6, 0.666667, 3.75 → shares of 10.416667.
    let shares = [6.0 / 10.416_666_7, 0.666_666_7 / 10.416_666_7, 3.75 / 10.416_666_7];
    for (leaf, share) in result.leaves.iter().zip(shares) {
        assert!((leaf.amount as f64 / pool as f64 - share).abs() < 1e-6, "{leaf:?}");
    }
    let tree = Tree::new(&result.leaves);
    assert_eq!(tree.root(), result.root);
    for leaf in &result.leaves {
        assert!(verify(result.root, leaf, &tree.proof(leaf).unwrap()));
    }
    // Nobody matched: the pool goes back to the funder.
    let lonely = settle(&projects, &donations[..1], pool, 10_000_000, 10_000, who(99)).unwrap();
    assert_eq!(lonely.leaves.len(), 1);
    assert_eq!((lonely.leaves[0].account, lonely.leaves[0].amount), (who(99), pool));
}
