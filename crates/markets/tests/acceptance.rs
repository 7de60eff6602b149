//! The research digest's market tests: L1–L4 (LMSR), F1 (FPMM), D1–D2 (futarchy), in f64 and in
//! fixed point, and the traders' sizing and scoring.
#![allow(clippy::unwrap_used)]

use agora_markets::{
    Real, Wad, fpmm,
    futarchy::{Decision, Twap, conditional_expectation, decide, redeem},
    lmsr::Lmsr,
    trader::{Side, brier, kelly, order},
};

#[track_caller]
fn close<T: Real>(got: T, want: f64, tol: f64) {
    let g = got.to_f64();
    assert!((g - want).abs() <= tol, "{} got {g}, want {want}", T::NAME);
}

fn r<T: Real>(n: i128, d: i128) -> T {
    T::ratio(n, d)
}

fn l1_l2<T: Real>() {
    let m = Lmsr::new(r::<T>(100, 1), 2).unwrap();
    let zero = [T::zero(), T::zero()];
    close(m.cost(&zero).unwrap(), 69.314718, 1e-6);
    let cost = m.buy_cost(&zero, 0, r(50, 1)).unwrap();
    close(cost, 28.092980, 1e-6);
    close(cost / r(50, 1), 0.561860, 1e-6);
    let after = [r::<T>(50, 1), T::zero()];
    let p = m.prices(&after).unwrap();
    close(p[0], 0.622459, 1e-6);
    close(p[1], 0.377541, 1e-6);
    // L2: selling back refunds the same; buying the other side instead costs 21.907020.
    close(m.buy_cost(&after, 0, r(-50, 1)).unwrap(), -28.092980, 1e-6);
    close(m.buy_cost(&after, 1, r(50, 1)).unwrap(), 21.907020, 1e-6);
    let p = m.prices(&[r::<T>(50, 1), r(50, 1)]).unwrap();
    close(p[0], 0.5, 1e-12);
}

fn l3_l4<T: Real>() {
    close(Lmsr::new(r::<T>(100, 1), 2).unwrap().worst_loss(), 69.314718, 1e-6);
    let m3 = Lmsr::new(r::<T>(100, 1), 3).unwrap();
    close(m3.worst_loss(), 109.861229, 1e-6);
    let zero = [T::zero(); 3];
    close(m3.buy_cost(&zero, 0, r(100, 1)).unwrap(), 45.283243, 1e-6);
    let p = m3.prices(&[r::<T>(100, 1), T::zero(), T::zero()]).unwrap();
    for (got, want) in p.iter().zip([0.576117, 0.211942, 0.211942]) {
        close(*got, want, 1e-6);
    }
    // L4: from 0.5 to 0.9 takes 100·ln 9 shares and costs 160.943791.
    let m = Lmsr::new(r::<T>(100, 1), 2).unwrap();
    let zero = [T::zero(), T::zero()];
    let shares = m.shares_to_price(&zero, 0, r(9, 10)).unwrap();
    close(shares, 219.722458, 1e-6);
    close(m.buy_cost(&zero, 0, shares).unwrap(), 160.943791, 1e-6);
    close(m.prices(&[shares, T::zero()]).unwrap()[0], 0.9, 1e-9);
    // The subsidy sizing: risking 1,000 over two outcomes is b ≈ 1442.7.
    close(Lmsr::for_subsidy(r::<T>(1000, 1), 2).unwrap().b, 1442.695041, 1e-6);
}

fn f1<T: Real>() {
    let (out, after) = fpmm::buy(&[r::<T>(100, 1), r(100, 1)], 0, r(10, 1)).unwrap();
    close(out, 19.090909, 1e-6);
    close(after[0], 90.909091, 1e-6);
    close(after[1], 110.0, 1e-9);
    close(fpmm::prices(&after)[0], 0.547511, 1e-6);
    close(after[0] * after[1], 10_000.0, 1e-6);
}

fn d1_d2<T: Real>() {
    let yes = conditional_expectation(r::<T>(6, 10), r(48, 100)).unwrap();
    let no = conditional_expectation(r::<T>(4, 10), r(28, 100)).unwrap();
    close(yes, 0.8, 1e-12);
    close(no, 0.7, 1e-12);
    assert!(yes > no, "choose YES");
    let theta = r::<T>(3, 100);
    assert_eq!(decide(r::<T>(12, 10), T::one(), theta), Decision::Pass);
    assert_eq!(decide(r::<T>(102, 100), T::one(), theta), Decision::Fail);
    close(redeem(Decision::Pass, Decision::Fail, r::<T>(5, 1)), 0.0, 0.0);
    close(redeem(Decision::Pass, Decision::Pass, r::<T>(5, 1)), 5.0, 0.0);
}

fn twap<T: Real>() {
    // Opened at 0, recording from 100, each observation moves at most 0.05.
    let mut t = Twap::new(r::<T>(1, 1), 0, 100, r(5, 100));
    t.observe(r(12, 10), 50); // before recording: the observation moves, nothing accrues
    close(t.observation, 1.05, 1e-12);
    assert!(t.value(100).is_none());
    t.observe(r(12, 10), 200);
    close(t.value(200).unwrap(), 1.05, 1e-12);
    // A spike to 10 in the last second moves the observation by 0.05 only.
    t.observe(r(10, 1), 299);
    close(t.observation, 1.15, 1e-12);
    let v = t.value(300).unwrap();
    close(v, (1.05 * 100.0 + 1.10 * 99.0 + 1.15) / 200.0, 1e-12);
}

fn traders<T: Real>() {
    close(brier(r::<T>(1, 2), true), 0.25, 1e-12);
    close(brier(r::<T>(9, 10), false), 0.81, 1e-12);
    let (side, f) = kelly(r::<T>(7, 10), r(1, 2), T::one(), T::one()).unwrap();
    assert_eq!(side, Side::Yes);
    close(f, 0.4, 1e-12);
    let (side, f) = kelly(r::<T>(3, 10), r(1, 2), r(1, 2), r(1, 10)).unwrap();
    assert_eq!(side, Side::No);
    close(f, 0.1, 1e-12); // (0.5 − 0.3)/0.5 · 0.5 = 0.2, capped at 0.1
    // A rich, sure trader stops at its belief: the price ends at 0.7, not beyond.
    let m = Lmsr::new(r::<T>(100, 1), 2).unwrap();
    let zero = [T::zero(), T::zero()];
    let s = order(&m, &zero, 0, r(7, 10), T::one(), T::one(), r(1_000_000, 1)).unwrap();
    close(m.prices(&[s, T::zero()]).unwrap()[0], 0.7, 1e-9);
    // A poor one spends its capped stake: 10% of 100.
    let s = order(&m, &zero, 0, r(7, 10), T::one(), r(1, 10), r(100, 1)).unwrap();
    close(m.buy_cost(&zero, 0, s).unwrap(), 10.0, 1e-6);
    // Below the price, it sells: the NO side gains the refund.
    let s = order(&m, &zero, 0, r(3, 10), T::one(), r(1, 10), r(100, 1)).unwrap();
    assert!(s < T::zero());
    close(-m.buy_cost(&zero, 0, s).unwrap(), 10.0, 1e-6);
}

macro_rules! both {
    ($($name:ident => $f:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            $f::<f64>();
            $f::<Wad>();
        }
    )*};
}

both! {
    l1_l2_lmsr_buy_and_round_trip => l1_l2,
    l3_l4_bounded_loss_and_price_targets => l3_l4,
    f1_fixed_product_buy => f1,
    d1_d2_futarchy => d1_d2,
    the_twap_caps_each_observation => twap,
    traders_size_by_capped_kelly_up_to_their_belief => traders,
}

#[test]
fn bad_parameters_are_refused_by_name() {
    assert_eq!(Lmsr::new(0.0, 2).unwrap_err().to_string(), "the liquidity parameter b must be positive");
    assert_eq!(Lmsr::new(1.0, 1).unwrap_err().to_string(), "a market needs at least 2 outcomes, got 1");
    let m = Lmsr::new(1.0, 2).unwrap();
    assert!(m.cost(&[0.0]).unwrap_err().to_string().contains("1 entries for a market of 2"));
    assert!(kelly(1.0, 0.5, 1.0, 1.0).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

    /// L3 over random trade paths: whatever traders buy and sell, the maker's loss (the most it
    /// pays out, less what it took in) never exceeds `b · ln n`, and prices stay a distribution.
    #[test]
    fn the_makers_loss_is_bounded_on_any_path(
        n in 2usize..5,
        trades in proptest::collection::vec((0usize..4, -300.0f64..300.0), 1..30),
    ) {
        let m = Lmsr::new(100.0, n).unwrap();
        let mut q = vec![0.0; n];
        let mut taken = 0.0;
        for (i, s) in trades {
            let i = i % n;
            taken += m.buy_cost(&q, i, s).unwrap();
            q[i] += s;
            let p = m.prices(&q).unwrap();
            proptest::prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        let worst_payout = q.iter().copied().fold(f64::MIN, f64::max);
        proptest::prop_assert!(worst_payout - taken <= m.worst_loss() + 1e-6);
    }
}

#[test]
#[allow(clippy::print_stdout)]
fn the_market_price_knows_more_than_its_average_trader() {
    use agora_markets::sim::{Setup, summarize};
    let s = summarize(&Setup::default(), 400);
    println!(
        "400 runs, 20 traders × 10 private flips, 5 rounds, b = 100: price error {:.4}, average trader's error {:.4}, pooled estimates' error {:.4}; worst maker loss {:.2} (bound {:.2})",
        s.price_error, s.trader_error, s.average_error, s.worst_maker_loss, s.bound
    );
    assert!(s.price_error < s.trader_error, "{s:?}");
    assert!(s.worst_maker_loss <= s.bound + 1e-9, "{s:?}");
}
