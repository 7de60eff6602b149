//! f32 routines outside the matrix products: dot products, the exponential, attention over a
//! cache. Each is written once, as plain Rust whose lanes are independent and whose reductions
//! run in a fixed tree, and compiled twice: for the baseline CPU and, chosen at run time, with
//! AVX2. Vectorizing independent lanes never reorders an IEEE operation, so both copies give
//! the same bits.

use super::KernelIsa;

/// The fixed reduction order of eight lanes.
#[inline(always)]
fn reduce(lanes: &[f32; 8]) -> f32 {
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// f32 dot product in eight interleaved lanes, summed in a fixed tree.
#[inline(always)]
pub(super) fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        lanes[i] += x * y;
    }
    reduce(&lanes)
}

/// f16 bits to f32, exactly, from integer and float operations that vectorize: normals and
/// subnormals are shifted into place and scaled by 2^112 (exact), infinities and NaNs keep their
/// payload.
#[inline(always)]
pub(super) fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let rest = h & 0x7fff;
    let scaled = f32::from_bits(rest << 13) * f32::from_bits(0x7780_0000);
    let value = if rest >= 0x7c00 { f32::from_bits(0x7f80_0000 | ((rest & 0x3ff) << 13)) } else { scaled };
    f32::from_bits(value.to_bits() | sign)
}

/// [`dot8`] of f32 values with f16 ones.
#[inline(always)]
pub(super) fn dot8_half(a: &[f32], b: &[u16]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * f16_to_f32(y[k]);
        }
    }
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        lanes[i] += x * f16_to_f32(*y);
    }
    reduce(&lanes)
}

/// Sum in eight interleaved lanes, summed in a fixed tree.
#[inline(always)]
fn sum8(a: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = a.chunks_exact(8);
    let rest = chunks.remainder();
    for x in chunks {
        for k in 0..8 {
            lanes[k] += x[k];
        }
    }
    for (i, x) in rest.iter().enumerate() {
        lanes[i] += x;
    }
    reduce(&lanes)
}

/// `e^x` from additions, multiplications and bit operations only, so it gives the same bits on
/// every CPU and with every C library (the platform's `expf` differs between versions), and it
/// vectorizes. Relative error within 2 ulp; inputs below −87.3 give 0, above 88 give `e^88`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that `n · LN2_HI` is exact for |n| < 2^11.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer (ties to even).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor series of e^r for |r| ≤ ln2/2, to r^7/7!.
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// `x · sigmoid(x)`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// One attention head's view of a sequence's key/value cache (f16 bits): a position every
/// `stride` values, this head's at `offset`, the first `visible` positions.
#[derive(Debug, Clone, Copy)]
pub struct HeadCache<'a> {
    /// Keys of every position.
    pub keys: &'a [u16],
    /// Values of every position.
    pub values: &'a [u16],
    /// Values per position.
    pub stride: usize,
    /// Where this head's values start within a position.
    pub offset: usize,
    /// Positions the query sees.
    pub visible: usize,
}

/// [`dot8_half`] of one query with four keys at once: four independent chains of additions
/// (one key's chain waits on its own additions only), each key's lanes and tree exactly as in
/// [`dot8_half`].
#[inline(always)]
pub(super) fn dot8_half4(a: &[f32], keys: [&[u16]; 4]) -> [f32; 4] {
    keys.map(|k| dot8_half(a, k))
}

/// One attention head of one query over its cache; `scores` is scratch. `dot4` is
/// [`dot8_half4`] and `weighted` is [`weighted_values`], or versions of
/// them with the same operations in the same order.
#[inline(always)]
pub(super) fn attend_with(
    query: &[f32],
    cache: HeadCache<'_>,
    scale: f32,
    scores: &mut Vec<f32>,
    out: &mut [f32],
    dot4: impl Fn(&[f32], [&[u16]; 4]) -> [f32; 4],
    weighted: impl Fn(&[f32], HeadCache<'_>, &mut [f32]),
) {
    let hd = query.len();
    let HeadCache { keys, stride, offset, visible, .. } = cache;
    // Plain loops, not iterator adaptors: an adaptor's `fold` may stay out of line and so be
    // built without the caller's instructions.
    scores.resize(visible, 0.0);
    let key = |p: usize| &keys[p * stride + offset..][..hd];
    let mut max = f32::NEG_INFINITY;
    for p in (0..visible).step_by(4) {
        // The last run of fewer than four repeats its last key (and drops those results).
        let at = |j: usize| key((p + j).min(visible - 1));
        let four = dot4(query, [at(0), at(1), at(2), at(3)]);
        for (j, s) in four.into_iter().take(visible - p).enumerate() {
            let s = s * scale;
            scores[p + j] = s;
            max = max.max(s);
        }
    }
    for s in scores.iter_mut() {
        *s = exp(*s - max);
    }
    let sum = sum8(scores);
    weighted(scores, cache, out);
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// `out = Σ_p scores[p] · value_p` (f16 values), each element accumulated in position order.
#[inline(always)]
pub(super) fn weighted_values(scores: &[f32], cache: HeadCache<'_>, out: &mut [f32]) {
    let HeadCache { values, stride, offset, .. } = cache;
    let hd = out.len();
    // In registers for the usual head sizes.
    match hd {
        64 => weighted_sum::<64>(scores, values, stride, offset, out),
        128 => weighted_sum::<128>(scores, values, stride, offset, out),
        _ => {
            out.fill(0.0);
            for (p, s) in scores.iter().enumerate() {
                let value = &values[p * stride + offset..][..hd];
                for (o, v) in out.iter_mut().zip(value) {
                    *o += s * f16_to_f32(*v);
                }
            }
        }
    }
}

/// `out = Σ_p scores[p] · value_p` for a head of `HD` values, accumulated in a local array the
/// compiler keeps in registers; the same operations in the same order as the general loop.
#[inline(always)]
fn weighted_sum<const HD: usize>(
    scores: &[f32],
    values: &[u16],
    stride: usize,
    offset: usize,
    out: &mut [f32],
) {
    let mut acc = [0f32; HD];
    for (p, s) in scores.iter().enumerate() {
        let value = &values[p * stride + offset..][..HD];
        for i in 0..HD {
            acc[i] += s * f16_to_f32(value[i]);
        }
    }
    out.copy_from_slice(&acc);
}

/// `gate[i] = silu(gate[i]) · up[i]`.
#[inline(always)]
pub(super) fn silu_mul_generic(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
}

/// f32 dot product (eight lanes, fixed reduction).
#[inline]
pub fn dot_f32(isa: KernelIsa, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if isa >= KernelIsa::Avx2 {
        return super::x86::dot_f32(a, b);
    }
    let _ = isa;
    dot8(a, b)
}

/// Attention of one query head over its cache (see [`attend_with`]), softmax with [`exp`].
#[inline]
pub fn attend(
    isa: KernelIsa,
    query: &[f32],
    cache: HeadCache<'_>,
    scale: f32,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if isa >= KernelIsa::Avx2 {
        return super::x86::attend(query, cache, scale, scores, out);
    }
    let _ = isa;
    attend_with(query, cache, scale, scores, out, dot8_half4, weighted_values);
}

/// `gate[i] = silu(gate[i]) · up[i]`.
#[inline]
pub fn silu_mul(isa: KernelIsa, gate: &mut [f32], up: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa >= KernelIsa::Avx2 {
        return super::x86::silu_mul(gate, up);
    }
    let _ = isa;
    silu_mul_generic(gate, up);
}

/// `(sin x, cos x)` rounded to f32, from f64 additions and multiplications only, so the same on
/// every CPU and C library: `x` is reduced by π/2 in three exact parts (Cody and Waite's
/// method, exact for |x| < 2^20) and both functions are Taylor polynomials on [−π/4, π/4],
/// accurate to ~1e-14 before the rounding to f32.
pub fn sin_cos(x: f32) -> (f32, f32) {
    const FRAC_2_PI: f64 = std::f64::consts::FRAC_2_PI;
    // π/2 in three parts of 33 bits each (fdlibm's `pio2_1`, `pio2_2`, `pio2_3`).
    const PIO2_1: f64 = 1.570_796_326_734_125_6;
    const PIO2_2: f64 = 6.077_100_506_303_966e-11;
    const PIO2_3: f64 = 2.022_266_248_711_166_5e-21;
    // Adding and subtracting 1.5 · 2^52 rounds to the nearest integer (ties to even).
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let x = f64::from(x);
    if !x.is_finite() {
        return (f32::NAN, f32::NAN);
    }
    let k = (x * FRAC_2_PI + ROUND) - ROUND;
    let r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
    let r2 = r * r;
    let mut s = 1.0 / 6_227_020_800.0;
    s = s * r2 - 1.0 / 39_916_800.0;
    s = s * r2 + 1.0 / 362_880.0;
    s = s * r2 - 1.0 / 5_040.0;
    s = s * r2 + 1.0 / 120.0;
    s = s * r2 - 1.0 / 6.0;
    let sin = r + r * r2 * s;
    let mut c = -1.0 / 87_178_291_200.0;
    c = c * r2 + 1.0 / 479_001_600.0;
    c = c * r2 - 1.0 / 3_628_800.0;
    c = c * r2 + 1.0 / 40_320.0;
    c = c * r2 - 1.0 / 720.0;
    c = c * r2 + 1.0 / 24.0;
    c = c * r2 - 0.5;
    let cos = 1.0 + r2 * c;
    // The quadrant: k mod 4 (k is an integer below 2^20 in magnitude here).
    let (sin, cos) = match (k as i64).rem_euclid(4) {
        0 => (sin, cos),
        1 => (cos, -sin),
        2 => (-sin, -cos),
        _ => (-cos, sin),
    };
    (sin as f32, cos as f32)
}

/// `e^x` in f64 from additions, multiplications and bit operations only (the sampler's weights):
/// reduced by ln 2 in two parts, a Taylor polynomial to r^13 on |r| ≤ ln2/2 (error ~1e-17),
/// scaled by 2^n. Inputs below −708 give 0, above 709 give `e^709`.
pub fn exp_f64(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const ROUND: f64 = 6_755_399_441_055_744.0;
    if x.is_nan() {
        return x;
    }
    if x < -708.0 {
        return 0.0;
    }
    let x = x.min(709.0);
    let n = (x * std::f64::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    for d in [
        479_001_600.0,
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5_040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / d;
    }
    p * f64::from_bits(((n as i64 + 1023) as u64) << 52)
}
