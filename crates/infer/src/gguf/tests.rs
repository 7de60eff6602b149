//! The GGUF reader and the dequantizers on files the tests write: every block format GGUF
//! model files use, against reference values (`tests/fixtures/dequant.json`, made by candle
//! 0.11.1's dequantization, itself a port of ggml's), bit for bit.

use super::*;
use std::io::Write;

/// A small deterministic generator (xorshift64*), so the blocks are the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }

    /// A scale as ggml stores one: small (within ±0.05 × `spread`), either sign, never NaN.
    fn scale(&mut self, spread: f32) -> half::f16 {
        let x = ((self.next() % 2000) as f32 / 20_000.0 - 0.04) * spread;
        half::f16::from_f32(x)
    }
}

/// The formats tested, and where each block keeps its f16 scales (byte offsets).
pub(super) const FORMATS: &[(GgmlType, &[usize])] = &[
    (GgmlType::Q4_0, &[0]),
    (GgmlType::Q4_1, &[0, 2]),
    (GgmlType::Q5_0, &[0]),
    (GgmlType::Q5_1, &[0, 2]),
    (GgmlType::Q8_0, &[0]),
    (GgmlType::Q2K, &[80, 82]),
    (GgmlType::Q3K, &[108]),
    (GgmlType::Q4K, &[0, 2]),
    (GgmlType::Q5K, &[0, 2]),
    (GgmlType::Q6K, &[208]),
];

/// `blocks` random blocks of `ty`, with valid scales (`spread` times ggml's usual size).
pub(super) fn blocks(ty: GgmlType, scales: &[usize], blocks: usize, seed: u64, spread: f32) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let size = ty.type_size();
    let mut out = rng.bytes(size * blocks);
    for block in out.chunks_exact_mut(size) {
        for &at in scales {
            block[at..at + 2].copy_from_slice(&rng.scale(spread).to_le_bytes());
        }
    }
    out
}

/// A metadata value the test writer can store.
pub(super) enum Meta {
    U32(u32),
    F32(f32),
    Str(&'static str),
    Strings(Vec<String>),
    I32s(Vec<i32>),
}

/// Writes a GGUF v3 file with `metadata` and `tensors` (name, type, dims outermost first, bytes).
pub(super) fn write_gguf(
    path: &Path,
    metadata: &[(&str, Meta)],
    tensors: &[(&str, GgmlType, Vec<usize>, Vec<u8>)],
) {
    fn string(f: &mut Vec<u8>, s: &str) {
        f.extend((s.len() as u64).to_le_bytes());
        f.extend(s.as_bytes());
    }
    let mut f = Vec::new();
    f.extend(b"GGUF");
    f.extend(3u32.to_le_bytes());
    f.extend((tensors.len() as u64).to_le_bytes());
    f.extend((metadata.len() as u64 + 1).to_le_bytes());
    string(&mut f, "general.alignment");
    f.extend(4u32.to_le_bytes());
    f.extend(32u32.to_le_bytes());
    for (key, value) in metadata {
        string(&mut f, key);
        match value {
            Meta::U32(v) => {
                f.extend(4u32.to_le_bytes());
                f.extend(v.to_le_bytes());
            }
            Meta::F32(v) => {
                f.extend(6u32.to_le_bytes());
                f.extend(v.to_le_bytes());
            }
            Meta::Str(v) => {
                f.extend(8u32.to_le_bytes());
                string(&mut f, v);
            }
            Meta::Strings(v) => {
                f.extend(9u32.to_le_bytes());
                f.extend(8u32.to_le_bytes());
                f.extend((v.len() as u64).to_le_bytes());
                for s in v {
                    string(&mut f, s);
                }
            }
            Meta::I32s(v) => {
                f.extend(9u32.to_le_bytes());
                f.extend(5u32.to_le_bytes());
                f.extend((v.len() as u64).to_le_bytes());
                for i in v {
                    f.extend(i.to_le_bytes());
                }
            }
        }
    }
    let mut offset = 0u64;
    let mut offsets = Vec::new();
    for (name, ty, dims, bytes) in tensors {
        string(&mut f, name);
        f.extend((dims.len() as u32).to_le_bytes());
        for d in dims.iter().rev() {
            f.extend((*d as u64).to_le_bytes());
        }
        f.extend((*ty as u32).to_le_bytes());
        f.extend(offset.to_le_bytes());
        offsets.push(offset);
        offset = (offset + bytes.len() as u64).next_multiple_of(32);
    }
    while f.len() % 32 != 0 {
        f.push(0);
    }
    let base = f.len() as u64;
    for ((_, _, _, bytes), at) in tensors.iter().zip(offsets) {
        f.resize((base + at) as usize, 0);
        f.extend(bytes);
    }
    std::fs::File::create(path).unwrap().write_all(&f).unwrap();
}

/// The tensors the tests write: for each format, two rows of two blocks.
fn test_tensors() -> Vec<(String, GgmlType, Vec<usize>, Vec<u8>)> {
    FORMATS
        .iter()
        .enumerate()
        .map(|(i, (ty, scales))| {
            let cols = 2 * ty.block_size();
            (format!("t.{}", ty.name()), *ty, vec![2, cols], blocks(*ty, scales, 4, i as u64 + 1, 1.0))
        })
        .collect()
}

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/fixtures/dequant.json")).unwrap()
}

#[test]
fn every_block_format_dequantizes_like_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quants.gguf");
    let tensors = test_tensors();
    let refs: Vec<_> = tensors.iter().map(|(n, t, d, b)| (n.as_str(), *t, d.clone(), b.clone())).collect();
    let metadata = [("general.architecture", Meta::Str("llama")), ("test.list", Meta::I32s(vec![-7, 9]))];
    write_gguf(&path, &metadata, &refs);
    let mut file = GgufFile::open(&path).unwrap();
    assert_eq!(file.string("general.architecture"), Some("llama"));
    assert_eq!(file.ints("test.list"), Some(vec![-7, 9]));
    let expected = fixture();
    for (name, ty, dims, _) in &tensors {
        let values = file.vector(name).unwrap();
        assert_eq!(values.len(), dims.iter().product::<usize>());
        let want: Vec<u32> = serde_json::from_value(expected[ty.name()].clone())
            .unwrap_or_else(|e| panic!("no reference for {}: {e}", ty.name()));
        let got: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        if let Some(at) = (0..want.len()).find(|i| got.get(*i) != want.get(*i)) {
            panic!(
                "{}: value {at} is {} (bits {:#x}), the reference {} ({:#x})",
                ty.name(),
                values[at],
                got[at],
                f32::from_bits(want[at]),
                want[at]
            );
        }
        assert_eq!(got.len(), want.len(), "{}", ty.name());
        // Weights keep their blocks where a kernel exists, K-quants are repacked into a kernel
        // layout, the rest is dequantized; each row reads back as the reference's values.
        let m = file.matrix(name).unwrap();
        assert_eq!((m.rows(), m.cols()), (dims[0], dims[1]), "{}", ty.name());
        let format = match ty {
            GgmlType::Q4_0 => WeightFormat::Q4_0,
            GgmlType::Q4_1 | GgmlType::Q4K => WeightFormat::Q4_1,
            GgmlType::Q8_0 => WeightFormat::Q8_0,
            GgmlType::Q3K | GgmlType::Q5K | GgmlType::Q6K => WeightFormat::K8,
            _ => WeightFormat::F32,
        };
        assert_eq!(m.format(), format, "{}", ty.name());
        let mut row = vec![0f32; dims[1]];
        for r in 0..dims[0] {
            m.dequantize_row(r, &mut row);
            let bits: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
            if matches!(ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0) {
                // Their kernels' `q·d + m` is not ggml's `(q − 8)·d` exactly; only close.
                let want = &want[r * dims[1]..(r + 1) * dims[1]];
                let close = row.iter().zip(want).all(|(a, b)| (a - f32::from_bits(*b)).abs() < 1e-6);
                assert!(close, "{} row {r}", ty.name());
            } else {
                assert_eq!(bits, want[r * dims[1]..(r + 1) * dims[1]], "{} row {r}", ty.name());
            }
        }
    }
}

#[test]
fn malformed_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[u8], &str)] = &[
        (b"not a gguf file at all", "magic"),
        (b"GGUF\x01\0\0\0", "version 1"),
        (b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\x01\0\0", "end of file"),
        (b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0k\x63\0\0\0", "value type 99"),
        (b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\x7f", "too many"),
    ];
    for (i, (bytes, reason)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.gguf"));
        std::fs::write(&path, bytes).unwrap();
        let err = GgufFile::open(&path).unwrap_err().to_string();
        assert!(err.contains("not a valid GGUF file") && err.contains(reason), "case {i}: {err}");
    }
    // A tensor whose data lies beyond the end of the file.
    let path = dir.path().join("short.gguf");
    write_gguf(&path, &[], &[("w", GgmlType::F32, vec![2, 4], vec![0; 32])]);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 8).unwrap();
    let err = GgufFile::open(&path).unwrap_err().to_string();
    assert!(err.contains("beyond the end"), "{err}");
}

/// A byte-level vocabulary (GPT-2's printable stand-ins for the 256 bytes) and ChatML's markers.
fn byte_vocabulary() -> Vec<String> {
    let printable =
        |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
    let mut extra = 0;
    let mut tokens: Vec<String> = (0..256u32)
        .map(|b| {
            let c = if printable(b) {
                b
            } else {
                extra += 1;
                255 + extra
            };
            char::from_u32(c).unwrap().to_string()
        })
        .collect();
    tokens.extend(["<|im_start|>".to_owned(), "<|im_end|>".to_owned()]);
    tokens
}

/// Writes a two-layer llama model of random weights whose matrices are the K-quants (and Q2_K's
/// f32 fallback), or with `dequantized`, the same model with every matrix stored as ggml's f32.
fn write_k_quant_model(path: &Path, dequantized: bool) {
    const EMBED: usize = 256;
    let vocab = byte_vocabulary();
    let n_vocab = vocab.len();
    let scales = |ty: GgmlType| FORMATS.iter().find(|(t, _)| *t == ty).unwrap().1;
    let mut seed = 100;
    let mut matrix = |name: String, ty: GgmlType, rows: usize, cols: usize| {
        seed += 1;
        let bytes = blocks(ty, scales(ty), rows * cols / ty.block_size(), seed, 0.01);
        if dequantized {
            let values = quants::to_f32(ty, &bytes).unwrap();
            (name, GgmlType::F32, vec![rows, cols], values.iter().flat_map(|v| v.to_le_bytes()).collect())
        } else {
            (name, ty, vec![rows, cols], bytes)
        }
    };
    let norm = |name: String| {
        let values: Vec<u8> = (0..EMBED).flat_map(|i| (1.0 + (i % 7) as f32 * 0.01).to_le_bytes()).collect();
        (name, GgmlType::F32, vec![EMBED], values)
    };
    let mut tensors = vec![matrix("token_embd.weight".into(), GgmlType::Q6K, n_vocab, EMBED)];
    for l in 0..2 {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        tensors.push(norm(n("attn_norm")));
        tensors.push(matrix(n("attn_q"), GgmlType::Q4K, EMBED, EMBED));
        tensors.push(matrix(n("attn_k"), GgmlType::Q5K, 128, EMBED));
        tensors.push(matrix(n("attn_v"), GgmlType::Q6K, 128, EMBED));
        tensors.push(matrix(n("attn_output"), GgmlType::Q3K, EMBED, EMBED));
        tensors.push(norm(n("ffn_norm")));
        tensors.push(matrix(n("ffn_gate"), GgmlType::Q4K, 512, EMBED));
        tensors.push(matrix(n("ffn_up"), GgmlType::Q5K, 512, EMBED));
        tensors.push(matrix(n("ffn_down"), GgmlType::Q4K, EMBED, 512));
    }
    tensors.push(norm("output_norm.weight".into()));
    tensors.push(matrix("output.weight".into(), GgmlType::Q2K, n_vocab, EMBED));
    let mut types = vec![1; 256];
    types.extend([3, 3]);
    let metadata = [
        ("general.architecture", Meta::Str("llama")),
        ("llama.embedding_length", Meta::U32(EMBED as u32)),
        ("llama.block_count", Meta::U32(2)),
        ("llama.feed_forward_length", Meta::U32(512)),
        ("llama.attention.head_count", Meta::U32(4)),
        ("llama.attention.head_count_kv", Meta::U32(2)),
        ("llama.context_length", Meta::U32(256)),
        ("llama.attention.layer_norm_rms_epsilon", Meta::F32(1e-5)),
        ("tokenizer.ggml.model", Meta::Str("gpt2")),
        ("tokenizer.ggml.pre", Meta::Str("gpt-2")),
        ("tokenizer.ggml.tokens", Meta::Strings(vocab)),
        ("tokenizer.ggml.token_type", Meta::I32s(types)),
        ("tokenizer.ggml.eos_token_id", Meta::U32(257)),
    ];
    let refs: Vec<_> = tensors.iter().map(|(n, t, d, b)| (n.as_str(), *t, d.clone(), b.clone())).collect();
    write_gguf(path, &metadata, &refs);
}

/// A model of K-quant matrices, written here, runs in their kernel layouts: the same tokens on
/// every kernel and thread count, and logits that follow the same model dequantized to f32.
#[test]
fn a_k_quant_model_runs_bit_identically_on_every_kernel_and_follows_its_dequantized_twin() {
    use crate::{Engine, EngineOptions, KernelIsa, SamplingParams, model::KvCache};
    let dir = tempfile::tempdir().unwrap();
    let (k_path, f32_path) = (dir.path().join("k.gguf"), dir.path().join("f32.gguf"));
    write_k_quant_model(&k_path, false);
    write_k_quant_model(&f32_path, true);
    let load = |path: &Path, threads, isa| {
        Engine::load(path, &EngineOptions { threads, isa: Some(isa), ..Default::default() }).unwrap()
    };
    let engine = load(&k_path, 1, KernelIsa::Scalar);
    assert_eq!(engine.info().quantization, "Q4_K");
    let formats = engine.batcher.core().weights.layer_formats(0);
    use WeightFormat::{K8, Q4_1};
    assert_eq!(formats, [Q4_1, K8, K8, K8, Q4_1, K8, Q4_1], "q k v o gate up down");

    let prompt: Vec<u32> = (0..24).map(|i| (i * 37 + 11) % 256).collect();
    let params = SamplingParams { max_tokens: 24, ignore_eos: true, ..Default::default() };
    let run =
        |e: &Engine| e.generate(&prompt, &params, |_| std::ops::ControlFlow::Continue(())).unwrap().tokens;
    let tokens = run(&engine);
    assert_eq!(tokens.len(), 24);
    let mut runs = vec![(3, KernelIsa::Scalar), (1, KernelIsa::detect())];
    runs.extend(KernelIsa::available().into_iter().map(|isa| (2, isa)));
    for (threads, isa) in runs {
        assert_eq!(run(&load(&k_path, threads, isa)), tokens, "{threads} threads, {}", isa.name());
    }

    let logits = |e: &Engine| {
        let core = e.batcher.core();
        core.weights.forward(e.isa(), &core.team, &prompt, &mut KvCache::new(2))
    };
    let (ours, twin) = (logits(&engine), logits(&load(&f32_path, 1, KernelIsa::Scalar)));
    assert_eq!(ours.len(), twin.len());
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum::<f64>();
    let cosine = dot(&ours, &twin) / (dot(&ours, &ours) * dot(&twin, &twin)).sqrt();
    assert!(cosine > 0.999, "the K-quant kernels' logits drift from the f32 model's: cosine {cosine}");
    assert_ne!(ours, twin, "the twin must run the f32 path, not the same kernels");
}

/// One batched pass serves sequences at different points (prompts and single decode steps,
/// empty ones too) with every logit bit-identical to running each alone, on every kernel.
#[test]
fn a_batch_of_sequences_gives_each_the_bits_it_gets_alone() {
    use crate::{Engine, EngineOptions, KernelIsa, model::KvCache};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.gguf");
    write_k_quant_model(&path, false);
    for isa in KernelIsa::available() {
        let engine =
            Engine::load(&path, &EngineOptions { threads: 2, isa: Some(isa), ..Default::default() }).unwrap();
        let (w, team) = (&engine.batcher.core().weights, &engine.batcher.core().team);
        let seqs: [Vec<u32>; 4] = [(0..9).collect(), vec![200], (40..80).rev().collect(), vec![]];
        // Alone: the first half as a prompt, then one token at a time.
        let alone: Vec<Vec<Vec<f32>>> = seqs
            .iter()
            .map(|tokens| {
                let mut cache = KvCache::new(2);
                let half = tokens.len() / 2;
                let mut out = vec![w.forward(isa, team, &tokens[..half], &mut cache)];
                out.extend(tokens[half..].iter().map(|t| w.forward(isa, team, &[*t], &mut cache)));
                out
            })
            .collect();
        // Together: the same steps, each pass serving whichever sequences have one left.
        let mut caches: Vec<KvCache> = (0..4).map(|_| KvCache::new(2)).collect();
        let mut together: Vec<Vec<Vec<f32>>> = vec![Vec::new(); 4];
        for step in 0..=seqs.iter().map(Vec::len).max().unwrap() {
            let feeds: Vec<&[u32]> = seqs
                .iter()
                .map(|s| {
                    let half = s.len() / 2;
                    match step {
                        0 => &s[..half],
                        k if half + k - 1 < s.len() => &s[half + k - 1..half + k],
                        _ => &s[..0],
                    }
                })
                .collect();
            let mut batch: Vec<(&[u32], &mut KvCache)> =
                feeds.iter().copied().zip(caches.iter_mut()).collect();
            let logits = w.forward_batch(isa, team, &mut batch, false);
            for (i, l) in logits.into_iter().enumerate() {
                if step == 0 || !feeds[i].is_empty() {
                    together[i].push(l);
                }
            }
        }
        for (i, (a, b)) in alone.iter().zip(&together).enumerate() {
            assert_eq!(a.len(), b.len(), "sequence {i}");
            for (s, (x, y)) in a.iter().zip(b).enumerate() {
                let same = x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same, "sequence {i}, step {s}, {} kernels: the batch changed the logits", isa.name());
            }
        }
    }
}
