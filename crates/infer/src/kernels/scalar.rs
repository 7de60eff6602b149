//! Portable reference kernels. The AVX2 kernels must produce exactly these bits.

use super::{BLOCK, BlockRow, WeightFormat};

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
        let v = (xi * id).round() as i8;
        *qi = v;
        sum += i32::from(v);
    }
    (d, d * sum as f32)
}

/// Block `b`'s quants of `row` as signed integers.
#[inline]
fn block_weights(format: WeightFormat, quants: &[u8], w: &mut [i32; BLOCK]) {
    match format {
        WeightFormat::Q4_1 | WeightFormat::Q4_0 => {
            let offset = if format == WeightFormat::Q4_0 { 8 } else { 0 };
            for j in 0..16 {
                w[j] = i32::from(quants[j] & 0x0f) - offset;
                w[j + 16] = i32::from(quants[j] >> 4) - offset;
            }
        }
        WeightFormat::Q8_0 | WeightFormat::K8 => {
            for (wi, b) in w.iter_mut().zip(quants) {
                *wi = i32::from(*b as i8);
            }
        }
        WeightFormat::F32 => unreachable!("f32 rows have no blocks"),
    }
}

/// Adds one block's contribution to the eight lanes: lane `k` takes elements `4k..4k+4`.
#[inline]
pub(super) fn accumulate_block(lanes: &mut [f32; 8], dd: f32, isums: &[i32; 8]) {
    for k in 0..8 {
        lanes[k] += dd * isums[k] as f32;
    }
}

/// The same for a block with a scale per 16: lanes 0–3 take the first half, 4–7 the second.
#[inline]
pub(super) fn accumulate_halves(lanes: &mut [f32; 8], dd: [f32; 2], isums: &[i32; 8]) {
    for k in 0..8 {
        lanes[k] += dd[k / 4] * isums[k] as f32;
    }
}

/// The fixed reduction order shared by every kernel.
#[inline]
pub(super) fn reduce(lanes: &[f32; 8], extra: f32) -> f32 {
    (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])))
        + extra
}

/// Quantized row · quantized activations.
pub(super) fn dot(format: WeightFormat, row: BlockRow<'_>, qs: &[i8], ds: &[f32], sums: &[f32]) -> f32 {
    let qb = format.quant_bytes();
    let mut lanes = [0f32; 8];
    let mut mins = 0f32;
    let mut w = [0i32; BLOCK];
    for (b, quants) in row.quants.chunks_exact(qb).enumerate() {
        block_weights(format, quants, &mut w);
        let a = &qs[b * BLOCK..(b + 1) * BLOCK];
        let mut isums = [0i32; 8];
        for (k, s) in isums.iter_mut().enumerate() {
            for i in 4 * k..4 * k + 4 {
                *s += w[i] * i32::from(a[i]);
            }
        }
        if format == WeightFormat::K8 {
            accumulate_halves(&mut lanes, [row.scales[2 * b] * ds[b], row.scales[2 * b + 1] * ds[b]], &isums);
        } else {
            accumulate_block(&mut lanes, row.scales[b] * ds[b], &isums);
        }
        if !row.mins.is_empty() {
            mins += row.mins[b] * sums[b];
        }
    }
    reduce(&lanes, mins)
}

/// A quantized row as f32.
pub(super) fn dequantize_row(format: WeightFormat, row: BlockRow<'_>, out: &mut [f32]) {
    let qb = format.quant_bytes();
    let mut w = [0i32; BLOCK];
    for (b, (quants, o)) in row.quants.chunks_exact(qb).zip(out.chunks_exact_mut(BLOCK)).enumerate() {
        block_weights(format, quants, &mut w);
        if format == WeightFormat::K8 {
            // As the K-quant reference computes it: `scale · q (− min)`, no `+ 0.0` where there is
            // no minimum (which would turn -0.0 into 0.0).
            for (i, (oi, wi)) in o.iter_mut().zip(&w).enumerate() {
                let v = *wi as f32 * row.scales[2 * b + i / 16];
                *oi = row.mins.get(b).map_or(v, |m| v + m);
            }
            continue;
        }
        let (d, m) = (row.scales[b], row.mins.get(b).copied().unwrap_or(0.0));
        for (oi, wi) in o.iter_mut().zip(&w) {
            *oi = *wi as f32 * d + m;
        }
    }
}

/// f32 dot product in eight lanes with a fixed reduction.
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    for i in chunks * 8..a.len() {
        lanes[i % 8] += a[i] * b[i];
    }
    reduce(&lanes, 0.0)
}
