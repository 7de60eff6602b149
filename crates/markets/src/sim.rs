//! Information aggregation, measured: traders who each see a noisy private signal of a hidden
//! probability trade an LMSR market; does the final price know more than they do?
//!
//! Each run draws a true probability θ, gives each trader `flips` private coin flips of θ (its
//! estimate is `(heads + 1)/(flips + 2)`), and lets the traders trade in a shuffled order for a
//! number of rounds, each sizing by capped Kelly up to its own estimate ([`crate::trader::order`]).
//! The event then happens with probability θ and the maker pays the winning shares.
//! Deterministic for a seed.

use crate::{Real, lmsr::Lmsr, trader::order};

/// What one run shows.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// The hidden probability.
    pub truth: f64,
    /// The market's final price of the event.
    pub price: f64,
    /// The traders' mean absolute error: how far each one's own estimate was from the truth.
    pub trader_error: f64,
    /// The plain average of the traders' estimates.
    pub average_estimate: f64,
    /// What the maker lost once the event resolved (negative: it gained).
    pub maker_loss: f64,
    /// Its bound, `b · ln 2`.
    pub bound: f64,
}

/// The simulation's knobs.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Traders.
    pub traders: usize,
    /// Private coin flips each sees.
    pub flips: u32,
    /// Rounds of trading.
    pub rounds: usize,
    /// The maker's liquidity.
    pub b: f64,
    /// Each trader's bankroll per trade.
    pub bankroll: f64,
    /// The Kelly cap.
    pub cap: f64,
}

impl Default for Setup {
    fn default() -> Self {
        Self { traders: 20, flips: 10, rounds: 5, b: 100.0, bankroll: 100.0, cap: 0.25 }
    }
}

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One run with `seed`.
pub fn run(setup: &Setup, seed: u64) -> Run {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let truth = 0.1 + 0.8 * rng.unit();
    let estimates: Vec<f64> = (0..setup.traders)
        .map(|_| {
            let heads = (0..setup.flips).filter(|_| rng.unit() < truth).count() as f64;
            (heads + 1.0) / (f64::from(setup.flips) + 2.0)
        })
        .collect();
    let market = Lmsr::new(setup.b, 2).unwrap_or(Lmsr { b: setup.b, n: 2 });
    let mut q = [0.0f64, 0.0];
    let mut collected = 0.0;
    let mut order_of: Vec<usize> = (0..setup.traders).collect();
    for _ in 0..setup.rounds {
        // Fisher–Yates with the run's generator.
        for i in (1..order_of.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order_of.swap(i, j);
        }
        for &t in &order_of {
            let shares = order(&market, &q, 0, estimates[t], 1.0, setup.cap, setup.bankroll).unwrap_or(0.0);
            // Against the event, a trader buys the other outcome (it holds nothing to sell):
            // the same move of the price, paid for up front.
            let (outcome, amount) = if shares >= 0.0 { (0, shares) } else { (1, -shares) };
            if amount > 0.0 {
                collected += market.buy_cost(&q, outcome, amount).unwrap_or(0.0);
                q[outcome] += amount;
            }
        }
    }
    let price = market.prices(&q).map_or(0.5, |p| p[0]);
    let happened = rng.unit() < truth;
    // The maker pays one unit per share of the outcome that happened.
    let paid = if happened { q[0] } else { q[1] };
    let trader_error = estimates.iter().map(|e| (e - truth).abs()).sum::<f64>() / estimates.len() as f64;
    Run {
        truth,
        price,
        trader_error,
        average_estimate: estimates.iter().sum::<f64>() / estimates.len() as f64,
        maker_loss: paid - collected,
        bound: market.worst_loss(),
    }
}

/// Mean errors over many runs.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// Runs.
    pub runs: usize,
    /// Mean |price − truth|.
    pub price_error: f64,
    /// Mean over runs of the traders' mean |estimate − truth|.
    pub trader_error: f64,
    /// Mean |average estimate − truth|: what pooling the signals by hand would give.
    pub average_error: f64,
    /// The largest loss the maker took in any run.
    pub worst_maker_loss: f64,
    /// Its bound.
    pub bound: f64,
}

/// `runs` runs with seeds `0..runs`.
pub fn summarize(setup: &Setup, runs: usize) -> Summary {
    let all: Vec<Run> = (0..runs as u64).map(|s| run(setup, s)).collect();
    let n = all.len().max(1) as f64;
    Summary {
        runs,
        price_error: all.iter().map(|r| (r.price - r.truth).abs()).sum::<f64>() / n,
        trader_error: all.iter().map(|r| r.trader_error).sum::<f64>() / n,
        average_error: all.iter().map(|r| (r.average_estimate - r.truth).abs()).sum::<f64>() / n,
        worst_maker_loss: all.iter().map(|r| r.maker_loss).fold(f64::MIN, f64::max),
        bound: all.first().map_or(0.0, |r| r.bound),
    }
}

// `Real` is what the traders' sizing is generic over; the simulation runs it in f64.
const _: fn() = || {
    fn real<T: Real>() {}
    real::<f64>();
};
