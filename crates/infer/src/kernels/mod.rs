//! Matrix kernels: quantized weight rows times quantized activations.
//!
//! Every kernel has a scalar reference and, on x86-64, an AVX2 version chosen at run time. The
//! two give **bit-identical** results: the integer part of each block's dot product is exact,
//! and the floating-point part is done in the same order, lane by lane, with separate multiply
//! and add (never fused). Work is split across threads by output rows only, so the thread count
//! never changes a result either. This is what makes an inference re-executable as a proof.
//!
//! Weights stay in their GGUF block layout ([`WeightMatrix`]); activations are quantized once
//! per matrix product into 8-bit blocks with a scale and a sum ([`QuantizedActivations`]).

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::{InferError, Result};
use rayon::prelude::*;

/// Elements per quantization block (all supported formats use 32).
pub const BLOCK: usize = 32;

/// How a weight matrix's rows are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// 32 × 4-bit with scale and minimum (20 bytes a block).
    Q4_1,
    /// 32 × 4-bit with scale, offset 8 (18 bytes a block).
    Q4_0,
    /// 32 × 8-bit with scale (34 bytes a block).
    Q8_0,
    /// 32 × 8-bit with a scale per 16 and an optional minimum per 32: what K-quant super-blocks
    /// (Q3_K, Q5_K, Q6_K) are unpacked to at load, so their integer dot products stay exact.
    K8,
    /// Plain f32 (formats without a kernel are dequantized to this at load).
    F32,
}

impl WeightFormat {
    /// Quant bytes per block once the scale (and minimum) are split off.
    pub fn quant_bytes(self) -> usize {
        match self {
            Self::Q4_1 | Self::Q4_0 => 16,
            Self::Q8_0 | Self::K8 => 32,
            Self::F32 => 0,
        }
    }

    /// Scales per 32-element block.
    pub fn scales_per_block(self) -> usize {
        if self == Self::K8 { 2 } else { 1 }
    }

    /// Bytes per row of `cols` elements.
    pub fn row_bytes(self, cols: usize) -> usize {
        match self {
            Self::Q4_1 => cols / BLOCK * 20,
            Self::Q4_0 => cols / BLOCK * 18,
            Self::Q8_0 => cols / BLOCK * 34,
            Self::K8 => cols / BLOCK * 40,
            Self::F32 => cols * 4,
        }
    }
}

/// Which implementation runs the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelIsa {
    /// Portable Rust, any CPU.
    Scalar,
    /// x86-64 AVX2 (detected at run time).
    Avx2,
}

impl KernelIsa {
    /// The best implementation this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Self::Avx2;
        }
        Self::Scalar
    }

    /// Name used in logs and benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
        }
    }
}

/// A weight matrix of `rows` × `cols`, each row a run of blocks in `format`.
#[derive(Debug)]
pub struct WeightMatrix {
    format: WeightFormat,
    rows: usize,
    cols: usize,
    data: WeightData,
}

#[derive(Debug)]
enum WeightData {
    /// Blocks split into their parts at load time, so the hot loop converts no f16 scales.
    Blocks {
        /// Quant bytes, `format.quant_bytes()` per block.
        quants: Box<[u8]>,
        /// Block scales as f32 (`format.scales_per_block()` per block).
        scales: Box<[f32]>,
        /// Block minimums as f32 (`Q4_1`, and `K8` from formats with minimums; empty otherwise).
        mins: Box<[f32]>,
    },
    F32(Box<[f32]>),
}

impl WeightMatrix {
    /// A quantized matrix from its raw GGUF bytes.
    pub fn quantized(format: WeightFormat, rows: usize, cols: usize, bytes: &[u8]) -> Result<Self> {
        if matches!(format, WeightFormat::F32 | WeightFormat::K8)
            || !cols.is_multiple_of(BLOCK)
            || bytes.len() != rows * format.row_bytes(cols)
        {
            return Err(InferError::Model(format!(
                "a {format:?} matrix of {rows}x{cols} cannot hold {} bytes",
                bytes.len()
            )));
        }
        let blocks = rows * cols / BLOCK;
        let block_bytes = format.row_bytes(BLOCK);
        let qb = format.quant_bytes();
        let mut quants = Vec::with_capacity(blocks * qb);
        let mut scales = Vec::with_capacity(blocks);
        let mut mins = Vec::new();
        for block in bytes.chunks_exact(block_bytes) {
            scales.push(scalar::f16(&block[0..2]));
            if format == WeightFormat::Q4_1 {
                mins.push(scalar::f16(&block[2..4]));
            }
            quants.extend_from_slice(&block[block_bytes - qb..]);
        }
        let data = WeightData::Blocks {
            quants: quants.into_boxed_slice(),
            scales: scales.into_boxed_slice(),
            mins: mins.into_boxed_slice(),
        };
        Ok(Self { format, rows, cols, data })
    }

    /// A quantized matrix from its parts (a layout repacked at load): `format.quant_bytes()` of
    /// quants, `format.scales_per_block()` scales and none or one minimum per block.
    pub fn from_blocks(
        format: WeightFormat,
        rows: usize,
        cols: usize,
        quants: Vec<u8>,
        scales: Vec<f32>,
        mins: Vec<f32>,
    ) -> Result<Self> {
        let blocks = rows * cols / BLOCK;
        if format == WeightFormat::F32
            || !cols.is_multiple_of(BLOCK)
            || quants.len() != blocks * format.quant_bytes()
            || scales.len() != blocks * format.scales_per_block()
            || !(mins.is_empty() || mins.len() == blocks)
        {
            return Err(InferError::Model(format!(
                "a {format:?} matrix of {rows}x{cols} cannot hold {} quant bytes, {} scales and {} minimums",
                quants.len(),
                scales.len(),
                mins.len()
            )));
        }
        let data = WeightData::Blocks {
            quants: quants.into_boxed_slice(),
            scales: scales.into_boxed_slice(),
            mins: mins.into_boxed_slice(),
        };
        Ok(Self { format, rows, cols, data })
    }

    /// A plain f32 matrix, row-major.
    pub fn f32(rows: usize, cols: usize, values: Box<[f32]>) -> Result<Self> {
        if !cols.is_multiple_of(BLOCK) || values.len() != rows * cols {
            return Err(InferError::Model(format!(
                "an f32 matrix of {rows}x{cols} cannot hold {} values",
                values.len()
            )));
        }
        Ok(Self { format: WeightFormat::F32, rows, cols, data: WeightData::F32(values) })
    }

    /// Output size.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input size.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Storage format.
    pub fn format(&self) -> WeightFormat {
        self.format
    }

    /// Row `r` as f32 (used for embedding lookups).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        match &self.data {
            WeightData::F32(v) => out.copy_from_slice(&v[r * self.cols..(r + 1) * self.cols]),
            WeightData::Blocks { .. } => {
                let row = self.block_row(r);
                scalar::dequantize_row(self.format, row, out);
            }
        }
    }

    /// Dot product of row `r` with activation vector `t` of `x`.
    #[inline]
    fn dot(&self, isa: KernelIsa, r: usize, x: &QuantizedActivations, t: usize) -> f32 {
        match &self.data {
            WeightData::F32(v) => {
                let row = &v[r * self.cols..(r + 1) * self.cols];
                dot_f32(isa, row, x.raw_row(t))
            }
            WeightData::Blocks { .. } => {
                let row = self.block_row(r);
                let (qs, ds, sums) = x.row(t);
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    KernelIsa::Avx2 => x86::dot(self.format, row, qs, ds, sums),
                    _ => scalar::dot(self.format, row, qs, ds, sums),
                }
            }
        }
    }

    /// Row `r` against every activation vector of `x`, into `out` (one value per vector).
    #[inline]
    fn dot_rows(&self, isa: KernelIsa, r: usize, x: &QuantizedActivations, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if isa == KernelIsa::Avx2 && matches!(self.data, WeightData::Blocks { .. }) {
            let row = self.block_row(r);
            let empty: (&[i8], &[f32], &[f32]) = (&[], &[], &[]);
            for (g, group) in out.chunks_mut(4).enumerate() {
                let mut acts = [empty; 4];
                for (i, a) in acts.iter_mut().take(group.len()).enumerate() {
                    *a = x.row(g * 4 + i);
                }
                x86::dot_many(self.format, row, &acts[..group.len()], group);
            }
            return;
        }
        for (t, o) in out.iter_mut().enumerate() {
            *o = self.dot(isa, r, x, t);
        }
    }

    /// The parts of row `r`'s blocks.
    #[inline]
    fn block_row(&self, r: usize) -> BlockRow<'_> {
        match &self.data {
            WeightData::Blocks { quants, scales, mins } => {
                let nb = self.cols / BLOCK;
                let (qb, sb) = (self.format.quant_bytes(), self.format.scales_per_block());
                BlockRow {
                    quants: &quants[r * nb * qb..(r + 1) * nb * qb],
                    scales: &scales[r * nb * sb..(r + 1) * nb * sb],
                    mins: if mins.is_empty() { &[] } else { &mins[r * nb..(r + 1) * nb] },
                }
            }
            WeightData::F32(_) => BlockRow { quants: &[], scales: &[], mins: &[] },
        }
    }
}

/// One row of a quantized matrix, split into its parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockRow<'a> {
    quants: &'a [u8],
    scales: &'a [f32],
    mins: &'a [f32],
}

/// `n` activation vectors of `cols` elements, quantized to 8-bit blocks. The f32 values are
/// kept too, for f32 weights.
#[derive(Debug, Default)]
pub struct QuantizedActivations {
    cols: usize,
    qs: Vec<i8>,
    ds: Vec<f32>,
    sums: Vec<f32>,
    raw: Vec<f32>,
}

impl QuantizedActivations {
    /// Quantizes `x`, holding `n` vectors of `cols` values each.
    pub fn quantize(x: &[f32], cols: usize) -> Self {
        let mut q = Self::default();
        q.requantize(x, cols);
        q
    }

    /// Quantizes into this buffer, reusing its memory.
    pub fn requantize(&mut self, x: &[f32], cols: usize) {
        debug_assert!(cols.is_multiple_of(BLOCK) && x.len().is_multiple_of(cols));
        let blocks = x.len() / BLOCK;
        self.cols = cols;
        self.qs.resize(x.len(), 0);
        self.ds.resize(blocks, 0.0);
        self.sums.resize(blocks, 0.0);
        self.raw.clear();
        self.raw.extend_from_slice(x);
        for (b, block) in x.chunks_exact(BLOCK).enumerate() {
            let (d, sum) = scalar::quantize_block(block, &mut self.qs[b * BLOCK..(b + 1) * BLOCK]);
            self.ds[b] = d;
            self.sums[b] = sum;
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.raw.len().checked_div(self.cols).unwrap_or(0)
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, t: usize) -> (&[i8], &[f32], &[f32]) {
        let nb = self.cols / BLOCK;
        (
            &self.qs[t * self.cols..(t + 1) * self.cols],
            &self.ds[t * nb..(t + 1) * nb],
            &self.sums[t * nb..(t + 1) * nb],
        )
    }

    fn raw_row(&self, t: usize) -> &[f32] {
        &self.raw[t * self.cols..(t + 1) * self.cols]
    }
}

/// Rows per parallel work item: large enough to amortise scheduling, small enough to balance.
const ROW_CHUNK: usize = 64;

/// `out[t][r] = W[r] · x[t]` for every token `t` and row `r`. `out` holds `x.len()` rows of
/// `w.rows()` values. Parallel over rows, so the result does not depend on the thread count.
pub fn matmul(isa: KernelIsa, w: &WeightMatrix, x: &QuantizedActivations, out: &mut [f32]) {
    let n = x.len();
    let rows = w.rows();
    debug_assert_eq!(x.cols, w.cols());
    debug_assert_eq!(out.len(), n * rows);
    if n == 1 {
        out.par_chunks_mut(ROW_CHUNK).enumerate().for_each(|(c, chunk)| {
            for (i, o) in chunk.iter_mut().enumerate() {
                *o = w.dot(isa, c * ROW_CHUNK + i, x, 0);
            }
        });
        return;
    }
    // Several tokens: each work item takes a band of rows for every token (the rows stay in
    // cache), into a row-major scratch that is transposed afterwards.
    let mut by_row = vec![0f32; n * rows];
    by_row.par_chunks_mut(ROW_CHUNK * n).enumerate().for_each(|(c, chunk)| {
        for (i, row_out) in chunk.chunks_exact_mut(n).enumerate() {
            let r = c * ROW_CHUNK + i;
            w.dot_rows(isa, r, x, row_out);
        }
    });
    for r in 0..rows {
        for t in 0..n {
            out[t * rows + r] = by_row[r * n + t];
        }
    }
}

/// f32 dot product in eight interleaved lanes, summed in a fixed tree: the same bits on every
/// CPU and with or without vector instructions.
#[inline]
pub fn dot_f32(_isa: KernelIsa, a: &[f32], b: &[f32]) -> f32 {
    scalar::dot_f32(a, b)
}

#[cfg(test)]
mod tests;
