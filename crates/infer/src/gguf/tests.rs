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

    /// A scale as ggml stores one: small, positive or negative, never NaN.
    fn scale(&mut self) -> half::f16 {
        let x = (self.next() % 2000) as f32 / 20_000.0 - 0.04;
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

/// Two rows of `blocks_per_row` random blocks of `ty`, with valid scales.
pub(super) fn blocks(ty: GgmlType, scales: &[usize], blocks: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let size = ty.type_size();
    let mut out = rng.bytes(size * blocks);
    for block in out.chunks_exact_mut(size) {
        for &at in scales {
            block[at..at + 2].copy_from_slice(&rng.scale().to_le_bytes());
        }
    }
    out
}

/// Writes a GGUF v3 file with `tensors` (name, type, dims outermost first, bytes).
pub(super) fn write_gguf(path: &Path, tensors: &[(&str, GgmlType, Vec<usize>, Vec<u8>)]) {
    let mut f = Vec::new();
    let string = |f: &mut Vec<u8>, s: &str| {
        f.extend((s.len() as u64).to_le_bytes());
        f.extend(s.as_bytes());
    };
    f.extend(b"GGUF");
    f.extend(3u32.to_le_bytes());
    f.extend((tensors.len() as u64).to_le_bytes());
    f.extend(3u64.to_le_bytes());
    string(&mut f, "general.architecture");
    f.extend(8u32.to_le_bytes());
    string(&mut f, "llama");
    string(&mut f, "general.alignment");
    f.extend(4u32.to_le_bytes());
    f.extend(32u32.to_le_bytes());
    string(&mut f, "test.list");
    f.extend(9u32.to_le_bytes());
    f.extend(5u32.to_le_bytes());
    f.extend(2u64.to_le_bytes());
    f.extend((-7i32).to_le_bytes());
    f.extend(9i32.to_le_bytes());
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
            (format!("t.{}", ty.name()), *ty, vec![2, cols], blocks(*ty, scales, 4, i as u64 + 1))
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
    write_gguf(&path, &refs);
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
        // Weights keep their blocks where a kernel exists, and dequantize alike otherwise.
        let m = file.matrix(name).unwrap();
        assert_eq!((m.rows(), m.cols()), (dims[0], dims[1]), "{}", ty.name());
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
    write_gguf(&path, &[("w", GgmlType::F32, vec![2, 4], vec![0; 32])]);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 8).unwrap();
    let err = GgufFile::open(&path).unwrap_err().to_string();
    assert!(err.contains("beyond the end"), "{err}");
}
