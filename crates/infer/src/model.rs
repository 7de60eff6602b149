//! The transformer forward pass for the llama and qwen2 architectures.
//!
//! Matrix products go through [`crate::kernels`]; everything else (norms, rotary embedding,
//! attention, activation) is plain Rust with a fixed order of floating-point operations, so
//! the logits are bit-identical across runs and thread counts.

use crate::{
    Result,
    gguf::{Architecture, GgufFile, ModelConfig},
    kernels::{self, KernelIsa, QuantizedActivations, WeightMatrix},
    team::Team,
};

/// Matrices that read the same input (q, k and v; gate and up), stacked into one when their
/// layouts allow, so one parallel product serves them all.
struct Projections {
    /// One stacked matrix, or each matrix on its own.
    matrices: Vec<WeightMatrix>,
    /// Output size of each matrix, in order.
    widths: Vec<usize>,
    /// Storage format of each matrix, in order (what the tests of mixed layouts check).
    #[cfg_attr(not(test), allow(dead_code))]
    formats: Vec<kernels::WeightFormat>,
}

impl Projections {
    fn new(matrices: Vec<WeightMatrix>) -> Self {
        let widths = matrices.iter().map(WeightMatrix::rows).collect();
        let formats = matrices.iter().map(WeightMatrix::format).collect();
        let matrices = match WeightMatrix::stack(&matrices) {
            Some(stacked) => vec![stacked],
            None => matrices,
        };
        Self { matrices, widths, formats }
    }

    /// Every matrix times every vector of `x`: `out` holds, per vector, each matrix's outputs in
    /// turn.
    fn matmul(
        &self,
        isa: KernelIsa,
        team: &Team,
        x: &QuantizedActivations,
        out: &mut [f32],
        scratch: &mut Vec<f32>,
    ) {
        if let [stacked] = self.matrices.as_slice() {
            kernels::matmul(isa, team, stacked, x, out);
            return;
        }
        let (n, total) = (x.len(), self.widths.iter().sum::<usize>());
        let mut col = 0;
        for m in &self.matrices {
            let rows = m.rows();
            scratch.resize(n * rows, 0.0);
            kernels::matmul(isa, team, m, x, scratch);
            for t in 0..n {
                out[t * total + col..][..rows].copy_from_slice(&scratch[t * rows..][..rows]);
            }
            col += rows;
        }
    }

    fn parameters(&self) -> u64 {
        self.matrices.iter().map(|m| (m.rows() * m.cols()) as u64).sum()
    }
}

struct Layer {
    attn_norm: Vec<f32>,
    /// q, k and v.
    qkv: Projections,
    bq: Option<Vec<f32>>,
    bk: Option<Vec<f32>>,
    bv: Option<Vec<f32>>,
    wo: WeightMatrix,
    ffn_norm: Vec<f32>,
    /// Gate and up.
    gate_up: Projections,
    w_down: WeightMatrix,
}

/// Loaded weights of a model.
pub(crate) struct Weights {
    pub(crate) config: ModelConfig,
    embeddings: WeightMatrix,
    layers: Vec<Layer>,
    output_norm: Vec<f32>,
    /// `None`: tied to the embeddings.
    output: Option<WeightMatrix>,
    /// Per-dimension rotary frequencies.
    inv_freq: Vec<f32>,
    /// Parameter count, for display.
    pub(crate) parameters: u64,
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weights").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Weights {
    /// The storage formats of layer `l`'s matrices: q, k, v, output, gate, up, down.
    #[cfg(test)]
    pub(crate) fn layer_formats(&self, l: usize) -> Vec<kernels::WeightFormat> {
        let x = &self.layers[l];
        let mut formats = x.qkv.formats.clone();
        formats.push(x.wo.format());
        formats.extend(&x.gate_up.formats);
        formats.push(x.w_down.format());
        formats
    }

    pub(crate) fn load(file: &mut GgufFile) -> Result<Self> {
        let config = file.config()?;
        let bias = |file: &mut GgufFile, name: String| -> Result<Option<Vec<f32>>> {
            if file.has(&name) { file.vector(&name).map(Some) } else { Ok(None) }
        };
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let n = |part: &str| format!("blk.{i}.{part}");
            layers.push(Layer {
                attn_norm: file.vector(&n("attn_norm.weight"))?,
                qkv: Projections::new(vec![
                    file.matrix(&n("attn_q.weight"))?,
                    file.matrix(&n("attn_k.weight"))?,
                    file.matrix(&n("attn_v.weight"))?,
                ]),
                bq: bias(file, n("attn_q.bias"))?,
                bk: bias(file, n("attn_k.bias"))?,
                bv: bias(file, n("attn_v.bias"))?,
                wo: file.matrix(&n("attn_output.weight"))?,
                ffn_norm: file.vector(&n("ffn_norm.weight"))?,
                gate_up: Projections::new(vec![
                    file.matrix(&n("ffn_gate.weight"))?,
                    file.matrix(&n("ffn_up.weight"))?,
                ]),
                w_down: file.matrix(&n("ffn_down.weight"))?,
            });
        }
        let embeddings = file.matrix("token_embd.weight")?;
        let output = if file.has("output.weight") { Some(file.matrix("output.weight")?) } else { None };
        let output_norm = file.vector("output_norm.weight")?;

        // Rotary frequencies, optionally scaled per dimension (Llama 3.1+ ships `rope_freqs`).
        let half = config.head_dim / 2;
        let factors =
            if file.has("rope_freqs.weight") { Some(file.vector("rope_freqs.weight")?) } else { None };
        let inv_freq = (0..half)
            .map(|i| {
                let base = 1.0 / f64::from(config.rope_base).powf(2.0 * i as f64 / config.head_dim as f64);
                let factor = factors.as_ref().and_then(|f| f.get(i)).copied().unwrap_or(1.0);
                (base / f64::from(factor)) as f32
            })
            .collect();

        let matrix_params = |m: &WeightMatrix| (m.rows() * m.cols()) as u64;
        let mut parameters = matrix_params(&embeddings) + output_norm.len() as u64;
        parameters += output.as_ref().map_or(0, matrix_params);
        for l in &layers {
            parameters += l.qkv.parameters() + l.gate_up.parameters();
            parameters += matrix_params(&l.wo) + matrix_params(&l.w_down);
            parameters += (l.attn_norm.len() + l.ffn_norm.len()) as u64;
        }
        Ok(Self { config, embeddings, layers, output_norm, output, inv_freq, parameters })
    }
}

/// Keys and values of the positions processed so far, as f16 bits (half the memory of f32, as
/// llama.cpp keeps them; rounded to nearest even, so the same on every CPU).
#[derive(Debug, Default)]
pub(crate) struct KvCache {
    keys: Vec<Vec<u16>>,
    values: Vec<Vec<u16>>,
    len: usize,
}

impl KvCache {
    #[cfg(test)]
    pub(crate) fn new(layers: usize) -> Self {
        Self { keys: vec![Vec::new(); layers], values: vec![Vec::new(); layers], len: 0 }
    }

    /// A cache with room for `positions` positions of `config`'s model, so that it never grows
    /// by doubling (which would hold up to twice the memory, and a copy while it grows).
    pub(crate) fn with_capacity(config: &ModelConfig, positions: usize) -> Self {
        let size = positions * config.kv_heads * config.head_dim;
        let layer = || Vec::with_capacity(size);
        Self {
            keys: (0..config.layers).map(|_| layer()).collect(),
            values: (0..config.layers).map(|_| layer()).collect(),
            len: 0,
        }
    }
}

/// Scratch buffers reused across forward passes.
#[derive(Debug, Default)]
struct Scratch {
    q8: QuantizedActivations,
    /// For projections that could not be stacked.
    part: Vec<f32>,
}

impl Weights {
    /// Runs `tokens` (at positions `cache.len()..`) through the model, appends them to the cache,
    /// and returns the logits of the last token (what the tests compare; the engine goes through
    /// [`Weights::forward_batch`]).
    #[cfg(test)]
    pub(crate) fn forward(
        &self,
        isa: KernelIsa,
        team: &Team,
        tokens: &[u32],
        cache: &mut KvCache,
    ) -> Vec<f32> {
        self.forward_batch(isa, team, &mut [(tokens, cache)], false).pop().unwrap_or_default()
    }

    /// Runs several sequences' new tokens through the model in one pass, each against its own
    /// cache, and returns each sequence's logits: of its last token, or with `all` of every
    /// token. Every result is bit-identical to running that sequence alone, one token at a
    /// time: each step (norm, quantization, matrix row, rotary embedding, attention query)
    /// depends on its own position only, so neighbours and batch sizes change nothing.
    pub(crate) fn forward_batch(
        &self,
        isa: KernelIsa,
        team: &Team,
        seqs: &mut [(&[u32], &mut KvCache)],
        all: bool,
    ) -> Vec<Vec<f32>> {
        let lens: Vec<usize> = seqs.iter().map(|(tokens, _)| tokens.len()).collect();
        let hidden = self.hidden(isa, team, seqs);
        // Generation needs only each sequence's last position to pick its next token.
        let mut picked = Vec::new();
        let mut off = 0;
        for &len in &lens {
            picked.extend(if all { off..off + len } else { off + len.max(1) - 1..off + len });
            off += len;
        }
        let logits = self.logits(isa, team, &hidden, &picked);
        if let [len] = lens[..] {
            // One sequence: its logits as they are, not copied.
            if all || len > 0 {
                return vec![logits];
            }
        }
        let vocab = self.vocab();
        let mut out = Vec::with_capacity(seqs.len());
        let mut at = 0;
        for len in lens {
            let rows = if all { len } else { usize::from(len > 0) };
            out.push(logits[at * vocab..(at + rows) * vocab].to_vec());
            at += rows;
        }
        out
    }

    /// The output layer (the embeddings where they are tied).
    fn output(&self) -> &WeightMatrix {
        self.output.as_ref().unwrap_or(&self.embeddings)
    }

    /// Rows of the output layer: the vocabulary's size.
    pub(crate) fn vocab(&self) -> usize {
        self.output().rows()
    }

    /// The logits of the positions `picked` of `hidden` (from [`Weights::hidden`]), one row of
    /// the vocabulary each, in that order.
    pub(crate) fn logits(&self, isa: KernelIsa, team: &Team, hidden: &[f32], picked: &[usize]) -> Vec<f32> {
        if picked.is_empty() {
            return Vec::new();
        }
        let c = &self.config;
        let d = c.embedding;
        let mut q8 = QuantizedActivations::default();
        q8.fill(team, picked.len(), d, |r, out| {
            let t = picked[r];
            rms_norm(isa, &hidden[t * d..(t + 1) * d], &self.output_norm, c.rms_eps, out);
        });
        let mut logits = vec![0f32; picked.len() * self.vocab()];
        kernels::matmul(isa, team, self.output(), &q8, &mut logits);
        logits
    }

    /// Runs several sequences' new tokens through the model's layers in one pass, each against
    /// its own cache (which the tokens are appended to), and returns every token's hidden state
    /// before the output norm: one row of the embedding width each, sequence after sequence.
    pub(crate) fn hidden(
        &self,
        isa: KernelIsa,
        team: &Team,
        seqs: &mut [(&[u32], &mut KvCache)],
    ) -> Vec<f32> {
        let c = &self.config;
        let d = c.embedding;
        let (hd, kv_dim, q_dim) = (c.head_dim, c.kv_heads * c.head_dim, c.heads * c.head_dim);
        // Where each sequence's tokens sit in the batch, and where its positions start.
        let mut offsets = Vec::with_capacity(seqs.len());
        let mut n = 0;
        for (tokens, cache) in seqs.iter() {
            offsets.push((n, tokens.len(), cache.len));
            n += tokens.len();
        }
        if n == 0 {
            return Vec::new();
        }
        let mut scratch = Scratch::default();

        // Each token's rotary (sin, cos) pairs, once for every layer and head.
        let mut rotations = Vec::with_capacity(n * hd / 2);
        for &(_, len, start) in &offsets {
            for pos in start..start + len {
                rotations.extend(self.inv_freq.iter().map(|f| kernels::sin_cos(pos as f32 * f)));
            }
        }
        let mut x = vec![0f32; n * d];
        for (t, token) in seqs.iter().flat_map(|(tokens, _)| tokens.iter()).enumerate() {
            let row = (*token as usize).min(self.embeddings.rows() - 1);
            self.embeddings.dequantize_row(row, &mut x[t * d..(t + 1) * d]);
        }
        let mut attn = vec![0f32; n * q_dim];
        let mut o = vec![0f32; n * d];
        let ff = c.feed_forward;
        let qkv_width = q_dim + 2 * kv_dim;
        let mut qkv = vec![0f32; n * qkv_width];
        let mut gate_up = vec![0f32; n * 2 * ff];

        for (li, layer) in self.layers.iter().enumerate() {
            let row = |t: usize| &x[t * d..(t + 1) * d];
            scratch.q8.fill(team, n, d, |t, out| rms_norm(isa, row(t), &layer.attn_norm, c.rms_eps, out));
            layer.qkv.matmul(isa, team, &scratch.q8, &mut qkv, &mut scratch.part);
            // Biases and the rotary embedding, in place in each token's q, k and v.
            let per = (4096 / qkv_width).max(1);
            team.for_chunks(&mut qkv, per * qkv_width, |c, rows| {
                for (t, row) in (c * per..).zip(rows.chunks_exact_mut(qkv_width)) {
                    let (q, kv) = row.split_at_mut(q_dim);
                    let (k, v) = kv.split_at_mut(kv_dim);
                    add_bias(q, layer.bq.as_deref());
                    add_bias(k, layer.bk.as_deref());
                    add_bias(v, layer.bv.as_deref());
                    let rot = &rotations[t * hd / 2..(t + 1) * hd / 2];
                    q.chunks_exact_mut(hd)
                        .chain(k.chunks_exact_mut(hd))
                        .for_each(|head| self.rope(head, rot));
                }
            });
            // Each sequence's keys and values join its cache as f16.
            let per = (4096 / kv_dim).max(1);
            for ((_, cache), &(off, len, _)) in seqs.iter_mut().zip(&offsets) {
                let (keys, values) = (&mut cache.keys[li], &mut cache.values[li]);
                let at = keys.len();
                keys.resize(at + len * kv_dim, 0);
                values.resize(at + len * kv_dim, 0);
                let mut items: Vec<_> =
                    keys[at..].chunks_mut(per * kv_dim).zip(values[at..].chunks_mut(per * kv_dim)).collect();
                team.for_chunks(&mut items, 1, |c, item| {
                    let (keys, values) = &mut item[0];
                    let rows = keys.chunks_exact_mut(kv_dim).zip(values.chunks_exact_mut(kv_dim));
                    for (t, (key, value)) in (off + c * per..).zip(rows) {
                        let row = &qkv[t * qkv_width + q_dim..(t + 1) * qkv_width];
                        let half = |(out, x): (&mut u16, &f32)| *out = half::f16::from_f32(*x).to_bits();
                        key.iter_mut().zip(&row[..kv_dim]).for_each(half);
                        value.iter_mut().zip(&row[kv_dim..]).for_each(half);
                    }
                });
            }
            // Every sequence's queries in one parallel pass, each against its own cache.
            let caches: Vec<(&[u16], &[u16])> =
                seqs.iter().map(|(_, cache)| (&cache.keys[li][..], &cache.values[li][..])).collect();
            self.attention(isa, team, (&qkv, qkv_width), &caches, &offsets, &mut attn);

            scratch.q8.fill(team, n, q_dim, |t, out| out.copy_from_slice(&attn[t * q_dim..(t + 1) * q_dim]));
            kernels::matmul(isa, team, &layer.wo, &scratch.q8, &mut o);
            add_into(&mut x, &o);

            let row = |t: usize| &x[t * d..(t + 1) * d];
            scratch.q8.fill(team, n, d, |t, out| rms_norm(isa, row(t), &layer.ffn_norm, c.rms_eps, out));
            layer.gate_up.matmul(isa, team, &scratch.q8, &mut gate_up, &mut scratch.part);
            scratch.q8.fill(team, n, ff, |t, out| {
                let (g, u) = gate_up[t * 2 * ff..(t + 1) * 2 * ff].split_at(ff);
                out.copy_from_slice(g);
                kernels::silu_mul(isa, out, u);
            });
            kernels::matmul(isa, team, &layer.w_down, &scratch.q8, &mut o);
            add_into(&mut x, &o);
        }
        for ((_, cache), &(_, len, _)) in seqs.iter_mut().zip(&offsets) {
            cache.len += len;
        }
        x
    }

    /// Rotates `x` (one head) by the position's `(sin, cos)` pairs.
    fn rope(&self, x: &mut [f32], rotations: &[(f32, f32)]) {
        let half = self.config.head_dim / 2;
        for (i, &(sin, cos)) in rotations.iter().enumerate() {
            let (a, b) = match self.config.arch {
                // GGUF llama weights are permuted for rotation of adjacent pairs.
                Architecture::Llama => (2 * i, 2 * i + 1),
                // qwen2 rotates the first half against the second.
                Architecture::Qwen2 => (i, i + half),
            };
            let (x0, x1) = (x[a], x[b]);
            x[a] = x0 * cos - x1 * sin;
            x[b] = x0 * sin + x1 * cos;
        }
    }

    /// Causal attention of every new query over its sequence's cache: token `t`'s queries are
    /// row `t` of `q` (rows `q_stride` apart, a head every `head_dim` values); it belongs to the sequence
    /// whose `(offset, length, start)` covers it and sits at position `start + t - offset`.
    fn attention(
        &self,
        isa: KernelIsa,
        team: &Team,
        (q, q_stride): (&[f32], usize),
        caches: &[(&[u16], &[u16])],
        offsets: &[(usize, usize, usize)],
        out: &mut [f32],
    ) {
        let c = &self.config;
        let hd = c.head_dim;
        let kv_dim = c.kv_heads * hd;
        let group = c.heads / c.kv_heads;
        let scale = 1.0 / (hd as f32).sqrt();
        thread_local! {
            /// Each thread's attention scores, reused across heads and passes.
            static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        // A head of a token per item while there are few (a decoding step), a token's heads
        // per item in a pass over many tokens, where handing out each head would cost more than
        // the shortest of them.
        let per = if out.len() / hd >= 64 * team.threads() { c.heads } else { 1 };
        team.for_chunks(out, per * hd, |item, outs| {
            SCORES.with_borrow_mut(|scores| {
                for (idx, out_head) in (item * per..).zip(outs.chunks_exact_mut(hd)) {
                    let (t, head) = (idx / c.heads, idx % c.heads);
                    let s = offsets.partition_point(|&(off, len, _)| off + len <= t);
                    let ((keys, values), (off, _, start)) = (caches[s], offsets[s]);
                    let query = &q[t * q_stride + head * hd..][..hd];
                    let offset = (head / group) * hd;
                    let visible = start + t - off + 1;
                    let cache = kernels::HeadCache { keys, values, stride: kv_dim, offset, visible };
                    kernels::attend(isa, query, cache, scale, scores, out_head);
                }
            })
        });
    }
}

/// One vector's RMS norm: `out = x / rms(x) · weight`.
fn rms_norm(isa: KernelIsa, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let mean = kernels::dot_f32(isa, x, x) / weight.len() as f32;
    let inv = 1.0 / (mean + eps).sqrt();
    for ((o, xi), w) in out.iter_mut().zip(x).zip(weight) {
        *o = xi * inv * w;
    }
}

/// One vector plus its bias, where the model has one.
fn add_bias(x: &mut [f32], bias: Option<&[f32]>) {
    for (xi, b) in x.iter_mut().zip(bias.unwrap_or_default()) {
        *xi += b;
    }
}

fn add_into(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
