//! Portable reference kernels. The AVX2 kernels must produce exactly these bits.

use super::{ActRow, BLOCK, GROUP, Groups, WeightFormat};

#[inline]
pub(super) fn f16(bytes: &[u8]) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([bytes[0], bytes[1]])).to_f32()
}

/// Quantizes 32 values to 8 bits: returns the scale `d` and `d × Σq`.
pub(super) fn quantize_block(x: &[f32], q: &mut [i8]) -> (f32, f32) {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut sum = 0i32;
    for (qi, xi) in q.iter_mut().zip(x) {
        // Rounds half away from zero, as `f32::round` does, without a call to the C library: the
        // constant is the largest f32 below 0.5, so no sum rounds up past the next integer.
        let v = xi * id;
        let v = (v + 0.499_999_97f32.copysign(v)) as i32 as i8;
        *qi = v;
        sum += i32::from(v);
    }
    (d, d * sum as f32)
}

/// Row `j`'s block at `quants` (a group's block, see [`Groups`]) as signed integers.
#[inline]
fn block_weights(format: WeightFormat, quants: &[u8], j: usize, w: &mut [i32; BLOCK]) {
    let byte = |i: usize| quants[(i / 4) * 32 + 4 * j + i % 4];
    match format {
        WeightFormat::Q4_1 | WeightFormat::Q4_0 => {
            let offset = if format == WeightFormat::Q4_0 { 8 } else { 0 };
            for i in 0..16 {
                w[i] = i32::from(byte(i) & 0x0f) - offset;
                w[i + 16] = i32::from(byte(i) >> 4) - offset;
            }
        }
        WeightFormat::Q8_0 | WeightFormat::K8 => {
            for (i, wi) in w.iter_mut().enumerate() {
                *wi = i32::from(byte(i) as i8);
            }
        }
        WeightFormat::F32 => unreachable!("f32 rows have no blocks"),
    }
}

/// The reference product of a group of rows with up to four activation vectors: per row and
/// block, `acc += (scale · d) · isum` (per half where there is a scale per 16), minimums
/// apart, added last. Every other kernel must give exactly these bits.
pub(super) fn group_product(
    format: WeightFormat,
    group: Groups<'_>,
    acts: &[ActRow<'_>],
    out: &mut [[f32; GROUP]],
) {
    let qb = format.quant_bytes();
    let sb = format.scales_per_block();
    let nb = group.quants.len() / (GROUP * qb);
    let mut w = [0i32; BLOCK];
    for (act, o) in acts.iter().zip(out.iter_mut()) {
        for (j, oj) in o.iter_mut().enumerate() {
            let (mut acc, mut mins) = (0f32, 0f32);
            for b in 0..nb {
                block_weights(format, &group.quants[b * GROUP * qb..(b + 1) * GROUP * qb], j, &mut w);
                let a = &act.qs[b * BLOCK..(b + 1) * BLOCK];
                let half = |h: usize| (16 * h..16 * h + 16).map(|i| w[i] * i32::from(a[i])).sum::<i32>();
                let (h0, h1) = (half(0), half(1));
                let scale = |h: usize| group.scales.get((b * sb + h) * GROUP + j);
                let d = act.ds[b];
                if sb == 2 {
                    acc += (scale(0) * d) * h0 as f32;
                    acc += (scale(1) * d) * h1 as f32;
                } else {
                    acc += (scale(0) * d) * (h0 + h1) as f32;
                }
                if !group.mins.is_empty() {
                    mins += group.mins.get(b * GROUP + j) * act.sums[b];
                }
            }
            *oj = acc + mins;
        }
    }
}

/// Row `j` of a group as f32.
pub(super) fn dequantize_row(format: WeightFormat, group: Groups<'_>, j: usize, out: &mut [f32]) {
    let qb = format.quant_bytes();
    let sb = format.scales_per_block();
    let mut w = [0i32; BLOCK];
    for (b, o) in out.chunks_exact_mut(BLOCK).enumerate() {
        block_weights(format, &group.quants[b * GROUP * qb..(b + 1) * GROUP * qb], j, &mut w);
        let scale = |h: usize| group.scales.get((b * sb + h) * GROUP + j);
        let min = (!group.mins.is_empty()).then(|| group.mins.get(b * GROUP + j));
        if format == WeightFormat::K8 {
            // As the K-quant reference computes it: `scale · q (− min)`, no `+ 0.0` where there is
            // no minimum (which would turn -0.0 into 0.0).
            for (i, (oi, wi)) in o.iter_mut().zip(&w).enumerate() {
                let v = *wi as f32 * scale(i / 16);
                *oi = min.map_or(v, |m| v + m);
            }
            continue;
        }
        let (d, m) = (scale(0), min.unwrap_or(0.0));
        for (oi, wi) in o.iter_mut().zip(&w) {
            *oi = *wi as f32 * d + m;
        }
    }
}
