//! AVX2 kernels, selected at run time. Integer block sums are computed eight lanes at a time
//! and accumulated in float lanes exactly as [`super::scalar`] does, so results are identical.

#![allow(unsafe_code)]

use super::{BLOCK, BlockRow, WeightFormat, scalar};
use std::arch::x86_64::*;

/// Dispatches to the AVX2 kernel of `format`. Only called when AVX2 was detected.
#[inline]
pub(super) fn dot(format: WeightFormat, row: BlockRow<'_>, qs: &[i8], ds: &[f32], sums: &[f32]) -> f32 {
    debug_assert!(std::arch::is_x86_feature_detected!("avx2"));
    // SAFETY: `KernelIsa::Avx2` is only chosen after `is_x86_feature_detected!("avx2")`, and the
    // slices hold whole blocks (checked when the matrix and activations were built).
    unsafe { dot_avx2(format, row, qs, ds, sums) }
}

#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(format: WeightFormat, row: BlockRow<'_>, qs: &[i8], ds: &[f32], sums: &[f32]) -> f32 {
    // SAFETY: see `dot`; every pointer stays inside a block of `row` or `qs`.
    unsafe {
        let qb = format.quant_bytes();
        let nb = row.quants.len() / qb;
        debug_assert!(qs.len() >= nb * BLOCK && ds.len() >= nb && row.quants.len() >= nb * qb);
        let ones = _mm256_set1_epi16(1);
        let low = _mm_set1_epi8(0x0f);
        let eight = _mm256_set1_epi8(8);
        let mut acc = _mm256_setzero_ps();
        let mut mins = 0f32;
        for b in 0..nb {
            let quants = row.quants.as_ptr().add(b * qb);
            let a = _mm256_loadu_si256(qs.as_ptr().add(b * BLOCK) as *const __m256i);
            let isum = match format {
                WeightFormat::Q4_1 | WeightFormat::Q4_0 => {
                    let packed = _mm_loadu_si128(quants as *const __m128i);
                    let lo = _mm_and_si128(packed, low);
                    let hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low);
                    let w = _mm256_set_m128i(hi, lo);
                    let pairs = if format == WeightFormat::Q4_1 {
                        // Unsigned 0..15 times signed activations.
                        _mm256_maddubs_epi16(w, a)
                    } else {
                        // Signed -8..7: multiply magnitudes, move the sign to the activation.
                        let ws = _mm256_sub_epi8(w, eight);
                        _mm256_maddubs_epi16(_mm256_sign_epi8(ws, ws), _mm256_sign_epi8(a, ws))
                    };
                    _mm256_madd_epi16(pairs, ones)
                }
                WeightFormat::Q8_0 | WeightFormat::K8 => {
                    let w = _mm256_loadu_si256(quants as *const __m256i);
                    let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
                    _mm256_madd_epi16(pairs, ones)
                }
                WeightFormat::F32 => unreachable!("f32 rows have no blocks"),
            };
            // lanes += (d_w · d_a) × isum, multiply then add, never fused.
            let dd = block_scales(format, row, b, *ds.get_unchecked(b));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(dd, _mm256_cvtepi32_ps(isum)));
            if !row.mins.is_empty() {
                mins += *row.mins.get_unchecked(b) * *sums.get_unchecked(b);
            }
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
        scalar::reduce(&lanes, mins)
    }
}

/// Block `b`'s weight scale(s) times the activation scale `da`, one per lane: lanes 0–3 cover
/// elements 0–15 and lanes 4–7 elements 16–31, so a scale per 16 applies to its half.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn block_scales(format: WeightFormat, row: BlockRow<'_>, b: usize, da: f32) -> __m256 {
    // SAFETY: `b` is a block of `row`, which holds `scales_per_block()` scales per block.
    unsafe {
        if format == WeightFormat::K8 {
            let (s0, s1) = (*row.scales.get_unchecked(2 * b), *row.scales.get_unchecked(2 * b + 1));
            _mm256_set_m128(_mm_set1_ps(s1 * da), _mm_set1_ps(s0 * da))
        } else {
            _mm256_set1_ps(*row.scales.get_unchecked(b) * da)
        }
    }
}

/// Up to four activation vectors against one row: each block is unpacked once and used for every
/// vector. Per vector, the operations are exactly those of [`dot`], so the bits are the same.
#[inline]
pub(super) fn dot_many(
    format: WeightFormat,
    row: BlockRow<'_>,
    acts: &[(&[i8], &[f32], &[f32])],
    out: &mut [f32],
) {
    debug_assert!(std::arch::is_x86_feature_detected!("avx2"));
    debug_assert!(acts.len() <= 4 && out.len() == acts.len());
    // SAFETY: as for `dot`.
    unsafe { dot_many_avx2(format, row, acts, out) }
}

#[target_feature(enable = "avx2")]
unsafe fn dot_many_avx2(
    format: WeightFormat,
    row: BlockRow<'_>,
    acts: &[(&[i8], &[f32], &[f32])],
    out: &mut [f32],
) {
    // SAFETY: see `dot_many`; every pointer stays inside a block of `row` or of an activation.
    unsafe {
        let qb = format.quant_bytes();
        let nb = row.quants.len() / qb;
        let n = acts.len();
        let ones = _mm256_set1_epi16(1);
        let low = _mm_set1_epi8(0x0f);
        let eight = _mm256_set1_epi8(8);
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut mins = [0f32; 4];
        for b in 0..nb {
            let quants = row.quants.as_ptr().add(b * qb);
            // The row's block, in the form the multiply wants: (magnitudes, signs) or unsigned.
            let (w, signs) = match format {
                WeightFormat::Q4_1 | WeightFormat::Q4_0 => {
                    let packed = _mm_loadu_si128(quants as *const __m128i);
                    let lo = _mm_and_si128(packed, low);
                    let hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low);
                    let w = _mm256_set_m128i(hi, lo);
                    if format == WeightFormat::Q4_1 {
                        (w, None)
                    } else {
                        let ws = _mm256_sub_epi8(w, eight);
                        (_mm256_sign_epi8(ws, ws), Some(ws))
                    }
                }
                WeightFormat::Q8_0 | WeightFormat::K8 => {
                    let w = _mm256_loadu_si256(quants as *const __m256i);
                    (_mm256_sign_epi8(w, w), Some(w))
                }
                WeightFormat::F32 => unreachable!("f32 rows have no blocks"),
            };
            for t in 0..n {
                let (qs, ds, sums) = acts[t];
                let a = _mm256_loadu_si256(qs.as_ptr().add(b * BLOCK) as *const __m256i);
                let a = match signs {
                    Some(s) => _mm256_sign_epi8(a, s),
                    None => a,
                };
                let isum = _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), ones);
                let dd = block_scales(format, row, b, *ds.get_unchecked(b));
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(dd, _mm256_cvtepi32_ps(isum)));
                if !row.mins.is_empty() {
                    mins[t] += *row.mins.get_unchecked(b) * *sums.get_unchecked(b);
                }
            }
        }
        for t in 0..n {
            let mut lanes = [0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc[t]);
            out[t] = scalar::reduce(&lanes, mins[t]);
        }
    }
}
