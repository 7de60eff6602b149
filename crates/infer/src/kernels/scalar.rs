//! Portable reference kernels. The AVX2 kernels must produce exactly these bits.

use super::{BLOCK, WeightFormat};

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

/// Weight quant of element `i` of a block (as a signed integer) and the block's scale/min.
#[inline]
fn block_weights(format: WeightFormat, block: &[u8], w: &mut [i32; BLOCK]) -> (f32, f32) {
    match format {
        WeightFormat::Q4_1 => {
            let qs = &block[4..20];
            for j in 0..16 {
                w[j] = i32::from(qs[j] & 0x0f);
                w[j + 16] = i32::from(qs[j] >> 4);
            }
            (f16(&block[0..2]), f16(&block[2..4]))
        }
        WeightFormat::Q4_0 => {
            let qs = &block[2..18];
            for j in 0..16 {
                w[j] = i32::from(qs[j] & 0x0f) - 8;
                w[j + 16] = i32::from(qs[j] >> 4) - 8;
            }
            (f16(&block[0..2]), 0.0)
        }
        WeightFormat::Q8_0 => {
            for (wi, b) in w.iter_mut().zip(&block[2..34]) {
                *wi = i32::from(*b as i8);
            }
            (f16(&block[0..2]), 0.0)
        }
        WeightFormat::F32 => unreachable!("f32 rows have no blocks"),
    }
}

/// Block size in bytes of a quantized format.
pub(super) fn block_bytes(format: WeightFormat) -> usize {
    format.row_bytes(BLOCK)
}

/// Adds one block's contribution to the eight lanes: lane `k` takes elements `4k..4k+4`.
#[inline]
pub(super) fn accumulate_block(lanes: &mut [f32; 8], dd: f32, isums: &[i32; 8]) {
    for k in 0..8 {
        lanes[k] += dd * isums[k] as f32;
    }
}

/// The fixed reduction order shared by every kernel.
#[inline]
pub(super) fn reduce(lanes: &[f32; 8], extra: f32) -> f32 {
    (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])))
        + extra
}

/// Quantized row · quantized activations.
pub(super) fn dot(format: WeightFormat, row: &[u8], qs: &[i8], ds: &[f32], sums: &[f32]) -> f32 {
    let bb = block_bytes(format);
    let mut lanes = [0f32; 8];
    let mut mins = 0f32;
    let mut w = [0i32; BLOCK];
    for (b, block) in row.chunks_exact(bb).enumerate() {
        let (d, m) = block_weights(format, block, &mut w);
        let a = &qs[b * BLOCK..(b + 1) * BLOCK];
        let mut isums = [0i32; 8];
        for (k, s) in isums.iter_mut().enumerate() {
            for i in 4 * k..4 * k + 4 {
                *s += w[i] * i32::from(a[i]);
            }
        }
        accumulate_block(&mut lanes, d * ds[b], &isums);
        if format == WeightFormat::Q4_1 {
            mins += m * sums[b];
        }
    }
    reduce(&lanes, mins)
}

/// A quantized row as f32.
pub(super) fn dequantize_row(format: WeightFormat, row: &[u8], out: &mut [f32]) {
    let bb = block_bytes(format);
    let mut w = [0i32; BLOCK];
    for (block, o) in row.chunks_exact(bb).zip(out.chunks_exact_mut(BLOCK)) {
        let (d, m) = block_weights(format, block, &mut w);
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
