//! Dequantization of every block format GGUF model files use, to f32, the way ggml's reference
//! (`dequantize_row_*` in `ggml-quants.c`) does it: the same integer unpacking and the same float
//! operations in the same order, so the values are bit-identical to ggml's.

use super::GgmlType;
use half::{bf16, f16};

/// Elements per K-quant super-block.
const QK_K: usize = 256;

/// A little-endian f16 at `at`, as f32.
fn half(block: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([block[at], block[at + 1]])).to_f32()
}

/// Converts the bytes of a tensor of `ty` to f32 values.
pub(crate) fn to_f32(ty: GgmlType, bytes: &[u8]) -> Result<Vec<f32>, String> {
    let size = ty.type_size();
    if !bytes.len().is_multiple_of(size) {
        return Err(format!("{} bytes are not whole {} blocks", bytes.len(), ty.name()));
    }
    let block: fn(&[u8], &mut [f32]) = match ty {
        GgmlType::F32 => |b, y| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        GgmlType::F16 => |b, y| y[0] = half(b, 0),
        GgmlType::BF16 => |b, y| y[0] = bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        GgmlType::Q4_0 => q4_0,
        GgmlType::Q4_1 => q4_1,
        GgmlType::Q5_0 => q5_0,
        GgmlType::Q5_1 => q5_1,
        GgmlType::Q8_0 => q8_0,
        GgmlType::Q2K => k_quant::<2>,
        GgmlType::Q3K => k_quant::<3>,
        GgmlType::Q4K => k_quant::<4>,
        GgmlType::Q5K => k_quant::<5>,
        GgmlType::Q6K => k_quant::<6>,
        GgmlType::Q8_1 | GgmlType::Q8K => {
            return Err(format!("{} holds activations, not weights; no model file stores it", ty.name()));
        }
    };
    let n = ty.block_size();
    let mut out = vec![0f32; bytes.len() / size * n];
    for (b, y) in bytes.chunks_exact(size).zip(out.chunks_exact_mut(n)) {
        block(b, y);
    }
    Ok(out)
}

/// `{ f16 d; u8 qs[16] }`: `(q - 8) · d`, low nibbles first.
fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    for (j, q) in b[2..18].iter().enumerate() {
        y[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
        y[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

/// `{ f16 d; f16 m; u8 qs[16] }`: `q · d + m`.
fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    for (j, q) in b[4..20].iter().enumerate() {
        y[j] = (q & 0x0f) as f32 * d + m;
        y[j + 16] = (q >> 4) as f32 * d + m;
    }
}

/// `{ f16 d; u8 qh[4]; u8 qs[16] }`: five bits, `(q - 16) · d`.
fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for (j, q) in b[6..22].iter().enumerate() {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        y[j] = (((q & 0x0f) as u32 | h0) as i32 - 16) as f32 * d;
        y[j + 16] = (((q >> 4) as u32 | h1) as i32 - 16) as f32 * d;
    }
}

/// `{ f16 d; f16 m; u8 qh[4]; u8 qs[16] }`: five bits, `q · d + m`.
fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for (j, q) in b[8..24].iter().enumerate() {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        y[j] = ((q & 0x0f) as u32 | h0) as f32 * d + m;
        y[j + 16] = ((q >> 4) as u32 | h1) as f32 * d + m;
    }
}

/// `{ f16 d; i8 qs[32] }`: `q · d`.
fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    for (y, q) in y.iter_mut().zip(&b[2..34]) {
        *y = *q as i8 as f32 * d;
    }
}

/// A K-quant super-block unpacked into 16 groups of 16 values: the integers, and per group a
/// scale and a minimum to subtract, computed exactly as ggml computes them. A value is
/// `scale · q − min`, with the float operations in ggml's order.
#[derive(Debug, Clone)]
pub(crate) struct Unpacked {
    pub(crate) q: [i8; QK_K],
    pub(crate) scale: [f32; 16],
    pub(crate) min: [f32; 16],
}

impl Default for Unpacked {
    fn default() -> Self {
        Self { q: [0; QK_K], scale: [0.0; 16], min: [0.0; 16] }
    }
}

impl Unpacked {
    /// Unpacks one block of `ty` (a K-quant), or says it is not one.
    pub(crate) fn read(ty: GgmlType, b: &[u8], out: &mut Self) -> bool {
        match ty {
            GgmlType::Q2K => unpack_q2_k(b, out),
            GgmlType::Q3K => unpack_q3_k(b, out),
            GgmlType::Q4K => unpack_q4_k(b, out, false),
            GgmlType::Q5K => unpack_q4_k(b, out, true),
            GgmlType::Q6K => unpack_q6_k(b, out),
            _ => return false,
        }
        true
    }

    fn dequantize(&self, y: &mut [f32]) {
        for (g, (q, y)) in self.q.chunks_exact(16).zip(y.chunks_exact_mut(16)).enumerate() {
            let (d, m) = (self.scale[g], self.min[g]);
            for (y, q) in y.iter_mut().zip(q) {
                *y = d * *q as f32 - m;
            }
        }
    }
}

fn k_quant<const T: u8>(b: &[u8], y: &mut [f32]) {
    let ty = match T {
        2 => GgmlType::Q2K,
        3 => GgmlType::Q3K,
        4 => GgmlType::Q4K,
        5 => GgmlType::Q5K,
        _ => GgmlType::Q6K,
    };
    let mut u = Unpacked::default();
    Unpacked::read(ty, b, &mut u);
    u.dequantize(y);
}

/// `{ u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }`: 16 groups of 16 two-bit values, each with a
/// 4-bit scale and a 4-bit min.
fn unpack_q2_k(b: &[u8], u: &mut Unpacked) {
    let (scales, qs) = (&b[..16], &b[16..80]);
    let (d, min) = (half(b, 80), half(b, 82));
    let (mut k, mut g) = (0, 0);
    for q in qs.chunks_exact(32) {
        for shift in [0, 2, 4, 6] {
            for half in [&q[..16], &q[16..]] {
                let sc = scales[g];
                (u.scale[g], u.min[g]) = (d * (sc & 0x0f) as f32, min * (sc >> 4) as f32);
                g += 1;
                for q in half {
                    u.q[k] = ((q >> shift) & 3) as i8;
                    k += 1;
                }
            }
        }
    }
}

/// `{ u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }`: three bits (two low, one in the mask),
/// 16 six-bit signed scales.
fn unpack_q3_k(b: &[u8], u: &mut Unpacked) {
    let (hmask, qs) = (&b[..32], &b[32..96]);
    let d = half(b, 108);
    let word = |i: usize| u32::from_le_bytes([b[96 + 4 * i], b[97 + 4 * i], b[98 + 4 * i], b[99 + 4 * i]]);
    let (a0, a1, tmp) = (word(0), word(1), word(2));
    const LOW: u32 = 0x0f0f_0f0f;
    const HIGH: u32 = 0x0303_0303;
    let aux = [
        (a0 & LOW) | ((tmp & HIGH) << 4),
        (a1 & LOW) | (((tmp >> 2) & HIGH) << 4),
        ((a0 >> 4) & LOW) | (((tmp >> 4) & HIGH) << 4),
        ((a1 >> 4) & LOW) | (((tmp >> 6) & HIGH) << 4),
    ];
    let scales = aux.iter().flat_map(|w| w.to_le_bytes());
    for (g, sc) in scales.enumerate() {
        u.scale[g] = d * (sc as i8 as i32 - 32) as f32;
        u.min[g] = 0.0;
    }
    let (mut k, mut m) = (0, 1u8);
    for q in qs.chunks_exact(32) {
        for shift in [0, 2, 4, 6] {
            for (q, h) in [(&q[..16], &hmask[..16]), (&q[16..], &hmask[16..])] {
                for (q, h) in q.iter().zip(h) {
                    u.q[k] = ((q >> shift) & 3) as i8 - if h & m != 0 { 0 } else { 4 };
                    k += 1;
                }
            }
            m <<= 1;
        }
    }
}

/// The 6-bit scale and min of group `j` of a Q4_K/Q5_K block's 12 packed bytes.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Q4_K `{ f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }`: 8 groups of 32 four-bit values; Q5_K
/// `{ f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }` adds a fifth bit.
fn unpack_q4_k(b: &[u8], u: &mut Unpacked, five: bool) {
    let (d, min) = (half(b, 0), half(b, 2));
    let scales = &b[4..16];
    let (qh, qs) = if five { (&b[16..48], &b[48..176]) } else { (&[0u8; 32][..], &b[16..144]) };
    for (i, q) in qs.chunks_exact(32).enumerate() {
        for (j, shift) in [(2 * i, 0), (2 * i + 1, 4)] {
            let (sc, m) = scale_min_k4(j, scales);
            let (dj, mj) = (d * sc as f32, min * m as f32);
            (u.scale[2 * j], u.scale[2 * j + 1], u.min[2 * j], u.min[2 * j + 1]) = (dj, dj, mj, mj);
            let bit = 1u8 << j;
            for (l, q) in q.iter().enumerate() {
                let high = if qh[l] & bit != 0 { 16 } else { 0 };
                u.q[32 * j + l] = (((q >> shift) & 0x0f) + high) as i8;
            }
        }
    }
}

/// `{ u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }`: six bits, 16 signed 8-bit scales.
fn unpack_q6_k(b: &[u8], u: &mut Unpacked) {
    let d = half(b, 208);
    for (g, sc) in b[192..208].iter().enumerate() {
        (u.scale[g], u.min[g]) = (d * *sc as i8 as f32, 0.0);
    }
    for n in 0..QK_K / 128 {
        let (ql, qh) = (&b[64 * n..64 * n + 64], &b[128 + 32 * n..128 + 32 * n + 32]);
        let q = &mut u.q[128 * n..128 * n + 128];
        for l in 0..32 {
            q[l] = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i8 - 32;
            q[l + 32] = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            q[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            q[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
        }
    }
}
