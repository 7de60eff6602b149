//! Choosing the next token: greedy, or temperature with top-k, top-p and a repetition penalty,
//! drawn from a seeded generator so that the same seed gives the same text.

use crate::{InferError, Result};
use serde::{Deserialize, Serialize};

/// How to pick tokens and when to stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// 0 picks the most likely token (greedy); otherwise 0 < t ≤ 2.
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// > 1 discourages tokens already in the prompt or output (1 = off).
    pub repetition_penalty: f32,
    /// Seed of the random generator.
    pub seed: u64,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Strings that end the output (not included in it).
    pub stop: Vec<String>,
    /// Keep generating past end-of-turn tokens (benchmarks).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignore_eos: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            repetition_penalty: 1.0,
            seed: 0,
            max_tokens: 256,
            stop: Vec::new(),
            ignore_eos: false,
        }
    }
}

/// The most tokens one request may ask for.
pub const MAX_TOKENS_LIMIT: usize = 32_768;

impl SamplingParams {
    /// Checks every parameter is in range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(InferError::InvalidRequest(m));
        if !(0.0..=2.0).contains(&self.temperature) || self.temperature.is_nan() {
            return bad(format!("temperature must be between 0 and 2, got {}", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p must be in (0, 1], got {}", self.top_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty <= 10.0) {
            return bad(format!("repetition_penalty must be in (0, 10], got {}", self.repetition_penalty));
        }
        if self.max_tokens == 0 || self.max_tokens > MAX_TOKENS_LIMIT {
            return bad(format!(
                "max_tokens must be between 1 and {MAX_TOKENS_LIMIT}, got {}",
                self.max_tokens
            ));
        }
        if self.stop.len() > 4 || self.stop.iter().any(|s| s.is_empty() || s.len() > 256) {
            return bad("stop takes at most 4 non-empty strings of at most 256 bytes".into());
        }
        Ok(())
    }
}

/// xoshiro256** seeded through splitmix64: small, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub(crate) struct Rng([u64; 4]);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Picks tokens for one generation.
#[derive(Debug)]
pub(crate) struct Sampler {
    params: SamplingParams,
    rng: Rng,
}

impl Sampler {
    pub(crate) fn new(params: SamplingParams) -> Self {
        let rng = Rng::new(params.seed);
        Self { params, rng }
    }

    /// The next token given the logits and every token so far.
    pub(crate) fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let p = &self.params;
        if p.repetition_penalty != 1.0 {
            let mut seen = vec![false; logits.len()];
            for &t in history {
                if let Some(s) = seen.get_mut(t as usize)
                    && !*s
                {
                    *s = true;
                    let l = &mut logits[t as usize];
                    *l = if *l > 0.0 { *l / p.repetition_penalty } else { *l * p.repetition_penalty };
                }
            }
        }
        if p.temperature == 0.0 {
            return argmax(logits);
        }
        // Candidates by logit (descending, in `f32::total_cmp`'s order), ties by id: one integer
        // key each, all distinct, so any sort gives the same sequence and the draw is
        // reproducible. With top-k only the k first are found (a selection) and sorted.
        let mut keys: Vec<u64> = logits.iter().enumerate().map(|(i, l)| descending(*l, i as u32)).collect();
        if p.top_k > 0 && p.top_k < keys.len() {
            keys.select_nth_unstable(p.top_k - 1);
            keys.truncate(p.top_k);
        }
        keys.sort_unstable();
        let candidates: Vec<(u32, f32)> =
            keys.iter().map(|k| (*k as u32, logits[*k as u32 as usize])).collect();
        let max = f64::from(candidates[0].1);
        let temperature = f64::from(p.temperature);
        let weights: Vec<f64> = candidates
            .iter()
            .map(|(_, l)| crate::kernels::exp_f64((f64::from(*l) - max) / temperature))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut keep = weights.len();
        if p.top_p < 1.0 {
            let mut cumulative = 0.0;
            for (i, w) in weights.iter().enumerate() {
                cumulative += w / total;
                if cumulative >= f64::from(p.top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        let kept_total: f64 = weights[..keep].iter().sum();
        let mut target = self.rng.next_f64() * kept_total;
        for (i, w) in weights[..keep].iter().enumerate() {
            if target < *w {
                return candidates[i].0;
            }
            target -= w;
        }
        candidates[keep - 1].0
    }
}

/// A key that sorts logits in descending `f32::total_cmp` order, then ids in ascending order:
/// the logit's bits made monotonic (negative values flipped, positive ones offset by the sign
/// bit), inverted, above the id.
fn descending(logit: f32, id: u32) -> u64 {
    let bits = logit.to_bits();
    let ascending = if bits & 0x8000_0000 != 0 { !bits } else { bits | 0x8000_0000 };
    (u64::from(!ascending) << 32) | u64::from(id)
}

/// Index of the largest logit; the lowest index on ties.
pub(crate) fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, l) in logits.iter().enumerate() {
        if *l > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_keys_sort_as_total_cmp_then_id() {
        let values = [
            1.5,
            -0.0,
            0.0,
            -2.25,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1.5,
            f32::MIN_POSITIVE / 2.0,
            -f32::MIN_POSITIVE / 2.0,
            f32::NAN,
            -f32::NAN,
            3.0e38,
            -3.0e38,
            0.125,
        ];
        let mut by_keys: Vec<u32> = {
            let mut keys: Vec<u64> =
                values.iter().enumerate().map(|(i, v)| descending(*v, i as u32)).collect();
            keys.sort_unstable();
            keys.iter().map(|k| *k as u32).collect()
        };
        let mut by_cmp: Vec<(u32, f32)> = values.iter().enumerate().map(|(i, v)| (i as u32, *v)).collect();
        by_cmp.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(by_keys, by_cmp.iter().map(|c| c.0).collect::<Vec<_>>());
        by_keys.dedup();
        assert_eq!(by_keys.len(), values.len());
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1);
        let mut s = Sampler::new(SamplingParams::default());
        assert_eq!(s.sample(&mut [0.0, 1.0, 5.0], &[]), 2);
    }

    #[test]
    fn same_seed_same_draws_and_top_k_limits_the_choice() {
        let params = SamplingParams { temperature: 1.0, seed: 42, top_k: 3, ..Default::default() };
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32).collect();
        let draw = |params: &SamplingParams| {
            let mut s = Sampler::new(params.clone());
            (0..200).map(|_| s.sample(&mut logits.clone(), &[])).collect::<Vec<_>>()
        };
        let a = draw(&params);
        assert_eq!(a, draw(&params));
        assert_ne!(a, draw(&SamplingParams { seed: 43, ..params.clone() }));
        // The three largest logits (6.0) are at ids 6, 13 and 20.
        assert!(a.iter().all(|t| [6, 13, 20].contains(t)), "{a:?}");
    }

    #[test]
    fn top_p_keeps_the_nucleus() {
        let params = SamplingParams { temperature: 1.0, top_p: 0.5, seed: 1, ..Default::default() };
        let mut s = Sampler::new(params);
        // One token holds almost all the mass: the nucleus is that token alone.
        for _ in 0..100 {
            assert_eq!(s.sample(&mut [0.0, 10.0, 0.0, 0.0], &[]), 1);
        }
    }

    #[test]
    fn repetition_penalty_discourages_seen_tokens() {
        let mut s = Sampler::new(SamplingParams { repetition_penalty: 2.0, ..Default::default() });
        assert_eq!(s.sample(&mut [3.0, 2.0], &[0]), 1);
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let ok = SamplingParams::default();
        assert!(ok.validate().is_ok());
        for bad in [
            SamplingParams { temperature: 2.5, ..ok.clone() },
            SamplingParams { temperature: -0.1, ..ok.clone() },
            SamplingParams { top_p: 0.0, ..ok.clone() },
            SamplingParams { max_tokens: 0, ..ok.clone() },
            SamplingParams { max_tokens: MAX_TOKENS_LIMIT + 1, ..ok.clone() },
            SamplingParams { stop: vec![String::new()], ..ok.clone() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
