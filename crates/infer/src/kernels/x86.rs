//! x86-64 kernels, selected at run time: AVX2, and AVX-512 VNNI where present (256-bit for one
//! group, 512-bit for two). Each multiplies a group of interleaved rows by broadcast runs of four
//! activations, so a block's integer sum for each of the eight rows lands in its own lane; the
//! float part then runs lane by lane in exactly the order of [`super::scalar::group_product`],
//! so the results are identical. Up to four activation vectors share each unpacked block.

#![allow(unsafe_code)]

use super::{ActRow, BLOCK, GROUP, Groups, HeadCache, ScaleRun, WeightFormat};
use std::arch::x86_64::*;

/// The AVX2 kernel. Only called when AVX2 was detected.
#[inline]
pub(super) fn group_product(
    format: WeightFormat,
    group: Groups<'_>,
    acts: &[ActRow<'_>],
    out: &mut [[f32; GROUP]],
) {
    debug_assert!(std::arch::is_x86_feature_detected!("avx2"));
    // SAFETY: `KernelIsa::Avx2` is only chosen after `is_x86_feature_detected!("avx2")`, and the
    // slices hold whole blocks (checked when the matrix and activations were built).
    unsafe {
        match acts.len() {
            1 => group_avx2::<1>(format, group, acts, out),
            2 => group_avx2::<2>(format, group, acts, out),
            3 => group_avx2::<3>(format, group, acts, out),
            _ => group_avx2::<4>(format, group, acts, out),
        }
    }
}

/// The AVX-512 VNNI kernel. Only called when AVX-512 VNNI, VL and BW were detected.
#[inline]
pub(super) fn group_product_vnni(
    format: WeightFormat,
    group: Groups<'_>,
    acts: &[ActRow<'_>],
    out: &mut [[f32; GROUP]],
) {
    debug_assert!(std::arch::is_x86_feature_detected!("avx512vnni"));
    // SAFETY: `KernelIsa::Avx512Vnni` is only chosen after detecting avx512vnni, avx512vl and
    // avx512bw; the slices hold whole blocks as for `group_product`.
    unsafe {
        match acts.len() {
            1 => group_vnni::<1>(format, group, acts, out),
            2 => group_vnni::<2>(format, group, acts, out),
            3 => group_vnni::<3>(format, group, acts, out),
            _ => group_vnni::<4>(format, group, acts, out),
        }
    }
}

/// The kernel for a set of instructions. `VNNI`: multiply-accumulate with `vpdpbusd` (unsigned weights: 8-bit ones offset by 128 and
/// corrected with the activations' half sums); otherwise `vpmaddubsw` + `vpmaddwd` (8-bit
/// weights as magnitudes with their signs moved to the activations).
macro_rules! group_kernel {
    ($name:ident, $features:literal, $vnni:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name<const N: usize>(
            format: WeightFormat,
            group: Groups<'_>,
            acts: &[ActRow<'_>],
            out: &mut [[f32; GROUP]],
        ) {
            const VNNI: bool = $vnni;
            // SAFETY: every pointer stays inside a block of `group` or of an activation vector; the
            // caller enabled the instructions used.
            unsafe {
                let qb = format.quant_bytes();
                let sb = format.scales_per_block();
                let nb = group.quants.len() / (GROUP * qb);
                debug_assert!(acts.len() == N && out.len() == N);
                let nibbles = matches!(format, WeightFormat::Q4_1 | WeightFormat::Q4_0);
                let has_mins = !group.mins.is_empty();
                // What each half's integer sum must be corrected by, per unit of activation sum.
                let offset = match format {
                    WeightFormat::Q4_0 => 8,
                    WeightFormat::Q8_0 | WeightFormat::K8 if VNNI => 128,
                    _ => 0,
                };
                let ones = _mm256_set1_epi16(1);
                let low = _mm256_set1_epi8(0x0f);
                let flip = _mm256_set1_epi8(-128);
                let mut acc = [_mm256_setzero_ps(); N];
                let mut macc = [_mm256_setzero_ps(); N];
                for b in 0..nb {
                    let q = group.quants.as_ptr().add(b * GROUP * qb);
                    // Run `k`: elements 4k..4k+4 of each of the eight rows, as multiplier operands.
                    let mut w = [_mm256_setzero_si256(); 8];
                    let mut signs = [_mm256_setzero_si256(); 8];
                    if nibbles {
                        for v in 0..4 {
                            let p = _mm256_loadu_si256(q.add(32 * v) as *const __m256i);
                            w[v] = _mm256_and_si256(p, low);
                            w[4 + v] = _mm256_and_si256(_mm256_srli_epi16(p, 4), low);
                        }
                    } else {
                        for (k, (wk, sk)) in w.iter_mut().zip(signs.iter_mut()).enumerate() {
                            let p = _mm256_loadu_si256(q.add(32 * k) as *const __m256i);
                            if VNNI {
                                *wk = _mm256_xor_si256(p, flip);
                            } else {
                                *wk = _mm256_sign_epi8(p, p);
                                *sk = p;
                            }
                        }
                    }
                    let s0 = load8(group.scales, b * sb * GROUP);
                    let s1 = if sb == 2 { load8(group.scales, (b * sb + 1) * GROUP) } else { s0 };
                    let mn = if has_mins { load8(group.mins, b * GROUP) } else { _mm256_setzero_ps() };
                    for t in 0..N {
                        let act = acts.get_unchecked(t);
                        let a = act.qs.as_ptr().add(b * BLOCK) as *const i32;
                        // Two chains of products per half: short enough not to wait on each
                        // other, few enough to add little. Integer sums are exact in any order.
                        let mut p = [_mm256_setzero_si256(); 4];
                        for k in 0..8 {
                            let ab = _mm256_set1_epi32(a.add(k).read_unaligned());
                            let c = k / 4 * 2 + k % 2;
                            p[c] = if VNNI {
                                _mm256_dpbusd_epi32(p[c], w[k], ab)
                            } else {
                                let ab = if nibbles { ab } else { _mm256_sign_epi8(ab, signs[k]) };
                                _mm256_add_epi32(
                                    p[c],
                                    _mm256_madd_epi16(_mm256_maddubs_epi16(w[k], ab), ones),
                                )
                            };
                        }
                        let mut h = [_mm256_add_epi32(p[0], p[1]), _mm256_add_epi32(p[2], p[3])];
                        if offset != 0 {
                            let halves = act.halves.as_ptr().add(2 * b);
                            h[0] = _mm256_sub_epi32(h[0], _mm256_set1_epi32(offset * *halves));
                            h[1] = _mm256_sub_epi32(h[1], _mm256_set1_epi32(offset * *halves.add(1)));
                        }
                        let d = _mm256_set1_ps(*act.ds.get_unchecked(b));
                        // acc += (scale · d) · isum, multiply then add, never fused.
                        if sb == 2 {
                            acc[t] = _mm256_add_ps(
                                acc[t],
                                _mm256_mul_ps(_mm256_mul_ps(s0, d), _mm256_cvtepi32_ps(h[0])),
                            );
                            acc[t] = _mm256_add_ps(
                                acc[t],
                                _mm256_mul_ps(_mm256_mul_ps(s1, d), _mm256_cvtepi32_ps(h[1])),
                            );
                        } else {
                            let isum = _mm256_cvtepi32_ps(_mm256_add_epi32(h[0], h[1]));
                            acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(s0, d), isum));
                        }
                        if has_mins {
                            let s = _mm256_set1_ps(*act.sums.get_unchecked(b));
                            macc[t] = _mm256_add_ps(macc[t], _mm256_mul_ps(mn, s));
                        }
                    }
                }
                for t in 0..N {
                    _mm256_storeu_ps(out[t].as_mut_ptr(), _mm256_add_ps(acc[t], macc[t]));
                }
            }
        }
    };
}

group_kernel!(group_avx2, "avx2,f16c", false);
group_kernel!(group_vnni, "avx512vnni,avx512vl,avx512bw,avx2,f16c", true);

/// Eight scales from `at` as f32 (f16 ones converted exactly).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn load8(run: ScaleRun<'_>, at: usize) -> __m256 {
    // SAFETY: the caller enabled AVX2 and F16C, and `at + 8` is within the run.
    unsafe {
        match run {
            ScaleRun::Half(v) => _mm256_cvtph_ps(_mm_loadu_si128(v.as_ptr().add(at) as *const __m128i)),
            ScaleRun::Single(v) => _mm256_loadu_ps(v.as_ptr().add(at)),
        }
    }
}

/// [`super::vector::dot8`] compiled for AVX2. Only called when AVX2 was detected.
#[inline]
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    #[target_feature(enable = "avx2")]
    unsafe fn imp(a: &[f32], b: &[f32]) -> f32 {
        super::vector::dot8(a, b)
    }
    // SAFETY: only called for `KernelIsa::Avx2` and above, chosen after detecting AVX2.
    unsafe { imp(a, b) }
}

/// [`super::vector::attend_with`] compiled for AVX2, with F16C converting the cached keys and
/// values eight at a time. Only called when AVX2 and F16C were detected.
#[inline]
pub(super) fn attend(
    query: &[f32],
    cache: HeadCache<'_>,
    scale: f32,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn imp(query: &[f32], cache: HeadCache<'_>, scale: f32, scores: &mut Vec<f32>, out: &mut [f32]) {
        // SAFETY: the caller enabled AVX2 and F16C.
        let dot4 = |a: &[f32], keys: [&[u16]; 4]| unsafe { dot_half4(a, keys) };
        let weighted =
            |s: &[f32], cache: HeadCache<'_>, out: &mut [f32]| unsafe { weighted_half(s, cache, out) };
        super::vector::attend_with(query, cache, scale, scores, out, dot4, weighted)
    }
    // SAFETY: only called for `KernelIsa::Avx2` and above, chosen after detecting AVX2 and F16C.
    unsafe { imp(query, cache, scale, scores, out) }
}

/// [`super::vector::dot8_half`]: lane `k` takes elements `8c + k`, the remainder goes to the
/// first lanes, and the lanes are summed in the same tree.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn dot_half(a: &[f32], b: &[u16]) -> f32 {
    let n = a.len().min(b.len());
    let chunks = n / 8;
    // SAFETY: every load reads 8 elements below `chunks · 8 ≤ n`.
    let mut lanes = unsafe {
        let mut acc = _mm256_setzero_ps();
        for c in 0..chunks {
            let x = _mm256_loadu_ps(a.as_ptr().add(8 * c));
            let y = _mm256_cvtph_ps(_mm_loadu_si128(b.as_ptr().add(8 * c) as *const __m128i));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, y));
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
        lanes
    };
    for i in chunks * 8..n {
        lanes[i - chunks * 8] += a[i] * super::vector::f16_to_f32(b[i]);
    }
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// [`super::vector::dot8_half4`]: [`dot_half`] of one query with four keys, their chains of
/// additions interleaved.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn dot_half4(a: &[f32], keys: [&[u16]; 4]) -> [f32; 4] {
    let n = keys.iter().fold(a.len(), |n, k| n.min(k.len()));
    if !n.is_multiple_of(8) {
        // SAFETY: the caller enabled AVX2 and F16C.
        return keys.map(|k| unsafe { dot_half(a, k) });
    }
    // SAFETY: every load reads 8 elements below `n`, within `a` and every key.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        for c in 0..n / 8 {
            let x = _mm256_loadu_ps(a.as_ptr().add(8 * c));
            for (acc, key) in acc.iter_mut().zip(&keys) {
                let y = _mm256_cvtph_ps(_mm_loadu_si128(key.as_ptr().add(8 * c) as *const __m128i));
                *acc = _mm256_add_ps(*acc, _mm256_mul_ps(x, y));
            }
        }
        acc.map(|acc| {
            let mut l = [0f32; 8];
            _mm256_storeu_ps(l.as_mut_ptr(), acc);
            ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
        })
    }
}

/// [`super::vector::weighted_values`], eight elements at a time (each element's additions in
/// position order, as there).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn weighted_half(scores: &[f32], cache: HeadCache<'_>, out: &mut [f32]) {
    let hd = out.len();
    if hd != 64 {
        return super::vector::weighted_values(scores, cache, out);
    }
    let HeadCache { values, stride, offset, .. } = cache;
    // SAFETY: each position's 64 values lie within `values` (the caller sliced them before).
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 8];
        for (p, s) in scores.iter().enumerate() {
            let value = &values[p * stride + offset..][..64];
            let s = _mm256_set1_ps(*s);
            for (c, a) in acc.iter_mut().enumerate() {
                let v = _mm256_cvtph_ps(_mm_loadu_si128(value.as_ptr().add(8 * c) as *const __m128i));
                *a = _mm256_add_ps(*a, _mm256_mul_ps(s, v));
            }
        }
        for (c, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(out.as_mut_ptr().add(8 * c), *a);
        }
    }
}

/// [`super::vector::silu_mul_generic`] compiled for AVX2. Only called when AVX2 was detected.
#[inline]
pub(super) fn silu_mul(gate: &mut [f32], up: &[f32]) {
    #[target_feature(enable = "avx2")]
    unsafe fn imp(gate: &mut [f32], up: &[f32]) {
        super::vector::silu_mul_generic(gate, up)
    }
    // SAFETY: only called for `KernelIsa::Avx2` and above, chosen after detecting AVX2.
    unsafe { imp(gate, up) }
}

/// Two groups (sixteen rows) against `acts`, with 512-bit AVX-512 VNNI: lanes 0–7 are the first
/// group's rows, 8–15 the second's, each lane with exactly the operations of the 256-bit kernel.
/// Only called when AVX-512 VNNI, VL and BW were detected.
#[inline]
pub(super) fn pair_product_vnni(
    format: WeightFormat,
    groups: [Groups<'_>; 2],
    acts: &[ActRow<'_>],
    out: &mut [[f32; 2 * GROUP]],
) {
    debug_assert!(std::arch::is_x86_feature_detected!("avx512vnni"));
    // SAFETY: as for `group_product_vnni`.
    unsafe {
        match acts.len() {
            1 => pair_vnni::<1>(format, groups, acts, out),
            2 => pair_vnni::<2>(format, groups, acts, out),
            3 => pair_vnni::<3>(format, groups, acts, out),
            4 => pair_vnni::<4>(format, groups, acts, out),
            5 => pair_vnni::<5>(format, groups, acts, out),
            6 => pair_vnni::<6>(format, groups, acts, out),
            7 => pair_vnni::<7>(format, groups, acts, out),
            _ => pair_vnni::<8>(format, groups, acts, out),
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx512vl,avx2,f16c")]
unsafe fn pair_vnni<const N: usize>(
    format: WeightFormat,
    groups: [Groups<'_>; 2],
    acts: &[ActRow<'_>],
    out: &mut [[f32; 2 * GROUP]],
) {
    // SAFETY: every pointer stays inside a block of one of the groups or of an activation
    // vector; the caller enabled the instructions used.
    unsafe {
        debug_assert!(acts.len() == N && out.len() == N);
        let [ga, gb] = groups;
        let qb = format.quant_bytes();
        let sb = format.scales_per_block();
        let nb = ga.quants.len() / (GROUP * qb);
        let nibbles = matches!(format, WeightFormat::Q4_1 | WeightFormat::Q4_0);
        let has_mins = !ga.mins.is_empty();
        let offset = match format {
            WeightFormat::Q4_0 => 8,
            WeightFormat::Q8_0 | WeightFormat::K8 => 128,
            _ => 0,
        };
        let low = _mm512_set1_epi8(0x0f);
        let flip = _mm512_set1_epi8(-128);
        let both = |a: *const u8, b: *const u8| {
            let lo = _mm256_loadu_si256(a as *const __m256i);
            let hi = _mm256_loadu_si256(b as *const __m256i);
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
        };
        let scales = |run_a: ScaleRun<'_>, run_b: ScaleRun<'_>, at: usize| {
            let (lo, hi) = (load8(run_a, at), load8(run_b, at));
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                _mm512_castpd256_pd512(_mm256_castps_pd(lo)),
                _mm256_castps_pd(hi),
            ))
        };
        let mut acc = [_mm512_setzero_ps(); N];
        let mut macc = [_mm512_setzero_ps(); N];
        for b in 0..nb {
            let (qa, qz) = (ga.quants.as_ptr().add(b * GROUP * qb), gb.quants.as_ptr().add(b * GROUP * qb));
            let mut w = [_mm512_setzero_si512(); 8];
            if nibbles {
                for v in 0..4 {
                    let p = both(qa.add(32 * v), qz.add(32 * v));
                    w[v] = _mm512_and_si512(p, low);
                    w[4 + v] = _mm512_and_si512(_mm512_srli_epi16::<4>(p), low);
                }
            } else {
                for (k, wk) in w.iter_mut().enumerate() {
                    *wk = _mm512_xor_si512(both(qa.add(32 * k), qz.add(32 * k)), flip);
                }
            }
            let s0 = scales(ga.scales, gb.scales, b * sb * GROUP);
            let s1 = if sb == 2 { scales(ga.scales, gb.scales, (b * sb + 1) * GROUP) } else { s0 };
            let mn = if has_mins { scales(ga.mins, gb.mins, b * GROUP) } else { _mm512_setzero_ps() };
            for t in 0..N {
                let act = acts.get_unchecked(t);
                let a = act.qs.as_ptr().add(b * BLOCK) as *const i32;
                // One chain of products per half: the tokens' chains run side by side.
                let mut h = [_mm512_setzero_si512(); 2];
                for (k, wk) in w.iter().enumerate() {
                    let ab = _mm512_set1_epi32(a.add(k).read_unaligned());
                    h[k / 4] = _mm512_dpbusd_epi32(h[k / 4], *wk, ab);
                }
                if offset != 0 {
                    let halves = act.halves.as_ptr().add(2 * b);
                    h[0] = _mm512_sub_epi32(h[0], _mm512_set1_epi32(offset * *halves));
                    h[1] = _mm512_sub_epi32(h[1], _mm512_set1_epi32(offset * *halves.add(1)));
                }
                let d = _mm512_set1_ps(*act.ds.get_unchecked(b));
                // acc += (scale · d) · isum, multiply then add, never fused.
                if sb == 2 {
                    acc[t] =
                        _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(s0, d), _mm512_cvtepi32_ps(h[0])));
                    acc[t] =
                        _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(s1, d), _mm512_cvtepi32_ps(h[1])));
                } else {
                    let isum = _mm512_cvtepi32_ps(_mm512_add_epi32(h[0], h[1]));
                    acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(s0, d), isum));
                }
                if has_mins {
                    let s = _mm512_set1_ps(*act.sums.get_unchecked(b));
                    macc[t] = _mm512_add_ps(macc[t], _mm512_mul_ps(mn, s));
                }
            }
        }
        for t in 0..N {
            _mm512_storeu_ps(out[t].as_mut_ptr(), _mm512_add_ps(acc[t], macc[t]));
        }
    }
}
