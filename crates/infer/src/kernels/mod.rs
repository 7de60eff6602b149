//! Matrix kernels: quantized weight rows times quantized activations.
//!
//! Every kernel has a scalar reference and, on x86-64, AVX2 and AVX-512 VNNI versions chosen at
//! run time. All give **bit-identical** results: each block's dot product is an exact integer
//! (order-independent), and the floating-point part is the same sequence of separate multiplies
//! and adds (never fused) for every row, in block order. Work is split across threads by groups
//! of rows only, and a row's arithmetic does not depend on how many tokens are multiplied with
//! it, so neither the thread count nor the batch changes a result. This is what makes an
//! inference re-executable as a proof.
//!
//! Weights are repacked at load into groups of [`GROUP`] interleaved rows ([`WeightMatrix`]);
//! activations are quantized once per matrix product into 8-bit blocks with a scale and sums
//! ([`QuantizedActivations`]). Per row and block the result is
//! `acc += (scale · d) · isum` (once per block, or once per half for a scale per 16), plus
//! `min · d·Σq` accumulated apart and added at the end.

mod scalar;
mod vector;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use vector::{HeadCache, attend, dot_f32, exp, exp_f64, silu, silu_mul, sin_cos};

use crate::{InferError, Result, team::Team};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KernelIsa {
    /// Portable Rust, any CPU.
    Scalar,
    /// x86-64 AVX2 with F16C (detected at run time).
    Avx2,
    /// x86-64 AVX-512 with VNNI dot products (detected at run time).
    Avx512Vnni,
}

impl KernelIsa {
    /// The best implementation this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                return Self::Avx512Vnni;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("f16c") {
                return Self::Avx2;
            }
        }
        Self::Scalar
    }

    /// Every implementation this CPU can run, the reference first.
    pub fn available() -> Vec<Self> {
        let best = Self::detect();
        [Self::Scalar, Self::Avx2, Self::Avx512Vnni].into_iter().filter(|i| *i <= best).collect()
    }

    /// Name used in logs and benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
            Self::Avx512Vnni => "avx512-vnni",
        }
    }
}

/// Rows stored together: a quantized matrix is repacked at load so that each block of [`GROUP`]
/// consecutive rows sits in one run of memory, four bytes of each row in turn. A kernel then
/// multiplies eight rows by one broadcast run of four activations per instruction, and every
/// row's block sum comes out in its own lane with no horizontal reduction.
pub const GROUP: usize = 8;

/// A weight matrix of `rows` × `cols`.
#[derive(Debug)]
pub struct WeightMatrix {
    format: WeightFormat,
    rows: usize,
    cols: usize,
    data: WeightData,
}

#[derive(Debug)]
enum WeightData {
    /// Blocks repacked at load: scales and minimums split off (see [`Scales`]),
    /// f16), quants interleaved by groups of [`GROUP`] rows (see [`Groups`]). Rows are padded
    /// with zero rows to a whole group.
    Groups {
        /// Per group and block: `GROUP × quant_bytes()` bytes, in runs of 32 where byte
        /// `4·j + e` of run `v` is byte `4·v + e` of row `j`'s block.
        quants: Box<[u8]>,
        /// Per group and block: `scales_per_block()` runs of `GROUP` scales (one per row).
        scales: Scales,
        /// Per group and block: `GROUP` minimums (`Q4_1`, and `K8` from formats with minimums;
        /// empty otherwise).
        mins: Scales,
    },
    F32(Box<[f32]>),
}

impl WeightData {
    /// Repacked blocks from [`interleave`]'s arrays.
    fn groups(quants: Vec<u8>, scales: Vec<f32>, mins: Vec<f32>) -> Self {
        Self::Groups {
            quants: quants.into_boxed_slice(),
            scales: Scales::new(scales),
            mins: Scales::new(mins),
        }
    }
}

/// Scales or minimums, one per row and block (or half block): f16 where every value is exactly
/// one (what Q4_0, Q4_1 and Q8_0 files store: less memory to stream per token), f32 otherwise
/// (K-quant scales are products of two factors). Either way the kernels see the same f32 values.
#[derive(Debug)]
enum Scales {
    Half(Box<[u16]>),
    Single(Box<[f32]>),
}

impl Scales {
    fn new(values: Vec<f32>) -> Self {
        let half = |v: f32| half::f16::from_f32(v);
        if values.iter().all(|v| half(*v).to_f32().to_bits() == v.to_bits()) {
            Self::Half(values.iter().map(|v| half(*v).to_bits()).collect())
        } else {
            Self::Single(values.into_boxed_slice())
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Half(v) => v.len(),
            Self::Single(v) => v.len(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Self::Half(v) => 2 * v.len(),
            Self::Single(v) => 4 * v.len(),
        }
    }

    fn run(&self, range: std::ops::Range<usize>) -> ScaleRun<'_> {
        match self {
            Self::Half(v) => ScaleRun::Half(&v[range]),
            Self::Single(v) => ScaleRun::Single(&v[range]),
        }
    }

    /// The parts one after the other; `None` when they are not all stored alike.
    fn concat<'a>(parts: impl Iterator<Item = &'a Scales>) -> Option<Self> {
        let (mut half, mut single) = (Vec::new(), Vec::new());
        for part in parts {
            match part {
                Self::Half(v) => half.extend_from_slice(v),
                Self::Single(v) => single.extend_from_slice(v),
            }
        }
        match (half.is_empty(), single.is_empty()) {
            (_, true) => Some(Self::Half(half.into_boxed_slice())),
            (true, false) => Some(Self::Single(single.into_boxed_slice())),
            (false, false) => None,
        }
    }
}

/// A run of [`Scales`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScaleRun<'a> {
    Half(&'a [u16]),
    Single(&'a [f32]),
}

impl ScaleRun<'_> {
    #[inline]
    pub(crate) fn get(self, i: usize) -> f32 {
        match self {
            Self::Half(v) => half::f16::from_bits(v[i]).to_f32(),
            Self::Single(v) => v[i],
        }
    }

    #[inline]
    pub(crate) fn is_empty(self) -> bool {
        match self {
            Self::Half(v) => v.is_empty(),
            Self::Single(v) => v.is_empty(),
        }
    }
}

/// One group of rows: its blocks' parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Groups<'a> {
    quants: &'a [u8],
    scales: ScaleRun<'a>,
    mins: ScaleRun<'a>,
}

impl WeightMatrix {
    /// A quantized matrix from its raw GGUF bytes.
    pub fn quantized(format: WeightFormat, rows: usize, cols: usize, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != rows * format.row_bytes(cols) {
            return Err(InferError::Model(format!(
                "a {format:?} matrix of {rows}x{cols} cannot hold {} bytes",
                bytes.len()
            )));
        }
        let mut at = 0;
        Self::read_quantized(format, rows, cols, |buf| {
            buf.copy_from_slice(&bytes[at..at + buf.len()]);
            at += buf.len();
            Ok(())
        })
    }

    /// A quantized matrix from its GGUF bytes as `read` fills them in, a group of rows at a
    /// time: loading holds the repacked matrix and one group's bytes, never the whole tensor
    /// twice.
    pub fn read_quantized(
        format: WeightFormat,
        rows: usize,
        cols: usize,
        mut read: impl FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<Self> {
        if matches!(format, WeightFormat::F32 | WeightFormat::K8) || !cols.is_multiple_of(BLOCK) {
            return Err(InferError::Model(format!("no {format:?} matrix of {rows}x{cols}")));
        }
        let block_bytes = format.row_bytes(BLOCK);
        let qb = format.quant_bytes();
        let row_bytes = format.row_bytes(cols);
        let mut buf = vec![0u8; GROUP * row_bytes];
        let (mut q, mut s, mut m) = (Vec::new(), Vec::new(), Vec::new());
        for g in 0..rows.div_ceil(GROUP) {
            let n = GROUP.min(rows - g * GROUP);
            let bytes = &mut buf[..n * row_bytes];
            read(bytes)?;
            let block = |i: usize| &bytes[i * block_bytes..(i + 1) * block_bytes];
            let (gq, gs, gm) = interleave(
                format,
                n,
                cols,
                |i| &block(i)[block_bytes - qb..],
                |i, _| scalar::f16(&block(i)[0..2]),
                (format == WeightFormat::Q4_1).then_some(|i: usize| scalar::f16(&block(i)[2..4])),
            );
            q.extend_from_slice(&gq);
            s.extend_from_slice(&gs);
            m.extend_from_slice(&gm);
        }
        let data =
            WeightData::Groups { quants: q.into_boxed_slice(), scales: Scales::new(s), mins: Scales::new(m) };
        Ok(Self { format, rows, cols, data })
    }

    /// A quantized matrix from its parts, row by row (a layout repacked at load):
    /// `format.quant_bytes()` of quants, `format.scales_per_block()` scales and none or one
    /// minimum per block.
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
        let (qb, sb) = (format.quant_bytes(), format.scales_per_block());
        let (q, s, m) = interleave(
            format,
            rows,
            cols,
            |i| &quants[i * qb..(i + 1) * qb],
            |i, h| scales[i * sb + h],
            (!mins.is_empty()).then_some(|i: usize| mins[i]),
        );
        Ok(Self { format, rows, cols, data: WeightData::groups(q, s, m) })
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

    /// The matrices one above the other, as one matrix whose product gives each one's outputs in
    /// turn, with every row's arithmetic unchanged; `None` when they differ in format, width or
    /// minimums, or a matrix other than the last is not a whole number of groups.
    pub fn stack(parts: &[WeightMatrix]) -> Option<Self> {
        let first = parts.first()?;
        let (format, cols) = (first.format, first.cols);
        let compatible = parts.iter().enumerate().all(|(i, m)| {
            m.format == format && m.cols == cols && (i + 1 == parts.len() || m.rows.is_multiple_of(GROUP))
        });
        if !compatible {
            return None;
        }
        let rows = parts.iter().map(|m| m.rows).sum();
        let data = match &first.data {
            WeightData::F32(_) => {
                let mut values = Vec::with_capacity(rows * cols);
                for m in parts {
                    let WeightData::F32(v) = &m.data else { return None };
                    values.extend_from_slice(v);
                }
                WeightData::F32(values.into_boxed_slice())
            }
            WeightData::Groups { mins, .. } => {
                let with_mins = mins.len() > 0;
                let mut parts_data = Vec::with_capacity(parts.len());
                for part in parts {
                    let WeightData::Groups { quants, scales, mins } = &part.data else { return None };
                    if (mins.len() > 0) != with_mins {
                        return None;
                    }
                    parts_data.push((quants, scales, mins));
                }
                WeightData::Groups {
                    quants: parts_data.iter().flat_map(|(q, _, _)| q.iter().copied()).collect(),
                    scales: Scales::concat(parts_data.iter().map(|(_, s, _)| *s))?,
                    mins: Scales::concat(parts_data.iter().map(|(_, _, m)| *m))?,
                }
            }
        };
        Some(Self { format, rows, cols, data })
    }

    /// Bytes the matrix holds in memory.
    pub fn memory_bytes(&self) -> usize {
        match &self.data {
            WeightData::F32(v) => v.len() * 4,
            WeightData::Groups { quants, scales, mins } => quants.len() + scales.bytes() + mins.bytes(),
        }
    }

    /// Row `r` as f32 (used for embedding lookups).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        match &self.data {
            WeightData::F32(v) => out.copy_from_slice(&v[r * self.cols..(r + 1) * self.cols]),
            WeightData::Groups { .. } => {
                scalar::dequantize_row(self.format, self.group(r / GROUP), r % GROUP, out);
            }
        }
    }

    /// Group `g`'s blocks.
    #[inline]
    fn group(&self, g: usize) -> Groups<'_> {
        match &self.data {
            WeightData::Groups { quants, scales, mins } => {
                let nb = self.cols / BLOCK;
                let (qb, sb) = (self.format.quant_bytes(), self.format.scales_per_block());
                let (q, s) = (nb * GROUP * qb, nb * GROUP * sb);
                Groups {
                    quants: &quants[g * q..(g + 1) * q],
                    scales: scales.run(g * s..(g + 1) * s),
                    mins: if mins.len() == 0 {
                        mins.run(0..0)
                    } else {
                        mins.run(g * nb * GROUP..(g + 1) * nb * GROUP)
                    },
                }
            }
            WeightData::F32(_) => {
                Groups { quants: &[], scales: ScaleRun::Single(&[]), mins: ScaleRun::Single(&[]) }
            }
        }
    }

    /// Whether [`WeightMatrix::group_product`] takes two groups at once on `isa`.
    #[inline]
    fn has_pair_product(&self, isa: KernelIsa) -> bool {
        isa == KernelIsa::Avx512Vnni && matches!(self.data, WeightData::Groups { .. })
    }

    /// `width` groups from `g` (rows `GROUP·g..`; two only where [`Self::has_pair_product`])
    /// against the activation vectors `acts` (up to eight with two groups, four with one), one
    /// row of results per vector (the first `width · GROUP` values).
    #[inline]
    fn group_product(
        &self,
        isa: KernelIsa,
        g: usize,
        width: usize,
        acts: &[ActRow<'_>],
        out: &mut [[f32; 2 * GROUP]],
    ) {
        match &self.data {
            WeightData::F32(v) => {
                for (i, o) in out.iter_mut().enumerate() {
                    for (j, oj) in o.iter_mut().take(width * GROUP).enumerate() {
                        let r = (g * GROUP + j).min(self.rows - 1);
                        *oj = dot_f32(isa, &v[r * self.cols..(r + 1) * self.cols], acts[i].raw);
                    }
                }
            }
            WeightData::Groups { .. } => {
                #[cfg(target_arch = "x86_64")]
                if width == 2 {
                    let pair = [self.group(g), self.group(g + 1)];
                    return x86::pair_product_vnni(self.format, pair, acts, out);
                }
                let mut tile = [[0f32; GROUP]; TOKEN_TILE];
                let tile = &mut tile[..out.len()];
                let group = self.group(g);
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    KernelIsa::Avx2 => x86::group_product(self.format, group, acts, tile),
                    #[cfg(target_arch = "x86_64")]
                    KernelIsa::Avx512Vnni => x86::group_product_vnni(self.format, group, acts, tile),
                    _ => scalar::group_product(self.format, group, acts, tile),
                }
                for (o, t) in out.iter_mut().zip(tile.iter()) {
                    o[..GROUP].copy_from_slice(t);
                }
            }
        }
    }
}

/// Repacks blocks, numbered row by row, into groups of [`GROUP`] interleaved rows: `quants(i)`,
/// `scale(i, h)` and `min(i)` give block `i`'s parts. Returns the quants, scales and minimums
/// (empty without `min`) in the layout of [`WeightData::Groups`].
fn interleave<'a>(
    format: WeightFormat,
    rows: usize,
    cols: usize,
    quants: impl Fn(usize) -> &'a [u8],
    scale: impl Fn(usize, usize) -> f32,
    min: Option<impl Fn(usize) -> f32>,
) -> (Vec<u8>, Vec<f32>, Vec<f32>) {
    let nb = cols / BLOCK;
    let (qb, sb) = (format.quant_bytes(), format.scales_per_block());
    let groups = rows.div_ceil(GROUP);
    let mut q = vec![0u8; groups * nb * GROUP * qb];
    let mut s = vec![0f32; groups * nb * GROUP * sb];
    let mut m = vec![0f32; if min.is_some() { groups * nb * GROUP } else { 0 }];
    for r in 0..rows {
        let (g, j) = (r / GROUP, r % GROUP);
        for b in 0..nb {
            let block = r * nb + b;
            let at = (g * nb + b) * GROUP;
            let dst = &mut q[at * qb..(at + GROUP) * qb];
            for (v, four) in quants(block).chunks_exact(4).enumerate() {
                dst[v * 32 + 4 * j..v * 32 + 4 * j + 4].copy_from_slice(four);
            }
            for h in 0..sb {
                s[(at * sb) + h * GROUP + j] = scale(block, h);
            }
            if let Some(min) = &min {
                m[at + j] = min(block);
            }
        }
    }
    (q, s, m)
}

/// One activation vector's parts: 8-bit values, and per block the scale, the scaled sum (for
/// minimums) and the integer sums of each half (for unsigned weight encodings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActRow<'a> {
    qs: &'a [i8],
    ds: &'a [f32],
    sums: &'a [f32],
    halves: &'a [i32],
    /// The values before quantization (for f32 weights).
    raw: &'a [f32],
}

/// `n` activation vectors of `cols` elements, quantized to 8-bit blocks. The f32 values are
/// kept too, for f32 weights.
#[derive(Debug, Default)]
pub struct QuantizedActivations {
    cols: usize,
    qs: Vec<i8>,
    ds: Vec<f32>,
    sums: Vec<f32>,
    halves: Vec<i32>,
    raw: Vec<f32>,
}

impl QuantizedActivations {
    /// Quantizes `x`, holding `n` vectors of `cols` values each, on the calling thread (the
    /// engine fills its buffers with [`QuantizedActivations::fill`]).
    #[cfg(test)]
    pub(crate) fn quantize(x: &[f32], cols: usize) -> Self {
        debug_assert!(cols.is_multiple_of(BLOCK) && x.len().is_multiple_of(cols));
        let mut q = Self::default();
        q.resize(x.len() / cols, cols);
        q.raw.copy_from_slice(x);
        quantize_blocks(&q.raw, &mut q.qs, &mut q.ds, &mut q.sums, &mut q.halves);
        q
    }

    /// Fills this buffer with `n` vectors of `cols` values, `row(t, out)` writing vector `t`,
    /// and quantizes them: rows are written and quantized in parallel on `team`, a few vectors
    /// per item (each vector's values and blocks are its own, so the split changes nothing).
    pub(crate) fn fill(
        &mut self,
        team: &Team,
        n: usize,
        cols: usize,
        row: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        debug_assert!(cols.is_multiple_of(BLOCK));
        self.resize(n, cols);
        let nb = cols / BLOCK;
        // About 4,096 values per item: enough work to be worth handing out.
        let per = (4096 / cols).max(1);
        let mut items: Vec<_> = self
            .raw
            .chunks_mut(per * cols)
            .zip(self.qs.chunks_mut(per * cols))
            .zip(self.ds.chunks_mut(per * nb))
            .zip(self.sums.chunks_mut(per * nb))
            .zip(self.halves.chunks_mut(2 * per * nb))
            .collect();
        team.for_chunks(&mut items, 1, |c, item| {
            let ((((raw, qs), ds), sums), halves) = &mut item[0];
            for (t, out) in (c * per..).zip(raw.chunks_exact_mut(cols)) {
                row(t, out);
            }
            quantize_blocks(raw, qs, ds, sums, halves);
        });
    }

    /// Room for `n` vectors of `cols` values.
    fn resize(&mut self, n: usize, cols: usize) {
        let (len, blocks) = (n * cols, n * cols / BLOCK);
        self.cols = cols;
        self.qs.resize(len, 0);
        self.ds.resize(blocks, 0.0);
        self.sums.resize(blocks, 0.0);
        self.halves.resize(2 * blocks, 0);
        self.raw.resize(len, 0.0);
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.raw.len().checked_div(self.cols).unwrap_or(0)
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, t: usize) -> ActRow<'_> {
        let nb = self.cols / BLOCK;
        ActRow {
            qs: &self.qs[t * self.cols..(t + 1) * self.cols],
            ds: &self.ds[t * nb..(t + 1) * nb],
            sums: &self.sums[t * nb..(t + 1) * nb],
            halves: &self.halves[2 * t * nb..2 * (t + 1) * nb],
            raw: &self.raw[t * self.cols..(t + 1) * self.cols],
        }
    }
}

/// Quantizes whole blocks of `x` into 8-bit values `qs`, with each block's scale `ds`, scaled sum
/// `sums` and the integer sums of its halves `halves`.
fn quantize_blocks(x: &[f32], qs: &mut [i8], ds: &mut [f32], sums: &mut [f32], halves: &mut [i32]) {
    for (b, block) in x.chunks_exact(BLOCK).enumerate() {
        let q = &mut qs[b * BLOCK..(b + 1) * BLOCK];
        let (d, sum) = scalar::quantize_block(block, q);
        ds[b] = d;
        sums[b] = sum;
        halves[2 * b] = q[..16].iter().map(|v| i32::from(*v)).sum();
        halves[2 * b + 1] = q[16..].iter().map(|v| i32::from(*v)).sum();
    }
}

/// Groups per parallel work item at least: large enough to amortise scheduling, small enough
/// that a 192-row matrix still splits evenly over two threads.
const GROUP_CHUNK: usize = 4;

/// Activation vectors a work item multiplies together, so each weight block is unpacked once
/// for all of them while it is in registers: eight for the 512-bit kernel (32 registers), four
/// for the others.
const TOKEN_TILE: usize = 8;

/// `out[t][r] = W[r] · x[t]` for every token `t` and row `r`. `out` holds `x.len()` rows of
/// `w.rows()` values. Parallel over groups of rows, so the result does not depend on the
/// thread count; each row's arithmetic is the same however many tokens are multiplied with it.
pub(crate) fn matmul(
    isa: KernelIsa,
    team: &Team,
    w: &WeightMatrix,
    x: &QuantizedActivations,
    out: &mut [f32],
) {
    let n = x.len();
    let rows = w.rows();
    debug_assert_eq!(x.cols, w.cols());
    debug_assert_eq!(out.len(), n * rows);
    if n == 0 {
        return;
    }
    let groups = rows.div_ceil(GROUP);
    // Large matrices in about eight items per thread: enough to balance the threads, few
    // enough that claiming them costs nothing.
    let chunk = GROUP_CHUNK.max(groups / (8 * team.threads())).next_multiple_of(2);
    let chunk_rows = chunk * GROUP;
    let acts: Vec<ActRow<'_>> = (0..n).map(|t| x.row(t)).collect();
    // Item `c` fills rows `c·chunk_rows..` of every token's output: `parts`, one per token.
    let fill = |c: usize, parts: &mut [Option<&mut [f32]>]| {
        let mut tile = [[0f32; 2 * GROUP]; TOKEN_TILE];
        let end = ((c + 1) * chunk).min(groups);
        let mut g = c * chunk;
        while g < end {
            // Two groups at a time where the kernels have a 16-row form.
            let width = if g + 1 < end && w.has_pair_product(isa) { 2 } else { 1 };
            let j0 = (g - c * chunk) * GROUP;
            let valid = (width * GROUP).min(rows - g * GROUP);
            let tile_len = if width == 2 { TOKEN_TILE } else { TOKEN_TILE / 2 };
            for t0 in (0..n).step_by(tile_len) {
                let tn = (n - t0).min(tile_len);
                w.group_product(isa, g, width, &acts[t0..t0 + tn], &mut tile[..tn]);
                for (part, res) in parts[t0..t0 + tn].iter_mut().zip(&tile[..tn]) {
                    if let Some(part) = part {
                        part[j0..j0 + valid].copy_from_slice(&res[..valid]);
                    }
                }
            }
            g += width;
        }
    };
    if n == 1 {
        team.for_chunks(out, chunk_rows, |c, part| fill(c, &mut [Some(part)]));
        return;
    }
    // Every token's output cut at the items' rows, item by item: item `c` takes `n` in a row.
    let items = groups.div_ceil(chunk);
    let mut parts: Vec<Option<&mut [f32]>> = (0..items * n).map(|_| None).collect();
    for (t, token_out) in out.chunks_exact_mut(rows).enumerate() {
        for (c, part) in token_out.chunks_mut(chunk_rows).enumerate() {
            parts[c * n + t] = Some(part);
        }
    }
    team.for_chunks(&mut parts, n, fill);
}

#[cfg(test)]
mod tests;
