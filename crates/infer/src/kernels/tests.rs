use super::*;

/// A small deterministic generator, so tests need no RNG crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn f32(&mut self) -> f32 {
        (self.next() % 20_001) as f32 / 10_000.0 - 1.0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// The matrices the kernels are tested on: every format, and K-quant layouts with and without
/// minimums.
const CASES: [(WeightFormat, bool); 5] = [
    (WeightFormat::Q4_1, true),
    (WeightFormat::Q4_0, false),
    (WeightFormat::Q8_0, false),
    (WeightFormat::K8, false),
    (WeightFormat::K8, true),
];

/// A `K8` matrix as K-quants unpack to: 6-bit signed integers, a scale per 16, a minimum per 32
/// when `mins`.
fn random_k8(rows: usize, cols: usize, mins: bool, rng: &mut Lcg) -> WeightMatrix {
    let blocks = rows * cols / BLOCK;
    let quants = (0..blocks * BLOCK).map(|_| ((rng.next() % 64) as u8).wrapping_sub(32)).collect();
    let scales = (0..2 * blocks).map(|_| rng.f32() * 0.01).collect();
    let mins = if mins { (0..blocks).map(|_| rng.f32() * 0.1).collect() } else { Vec::new() };
    WeightMatrix::from_blocks(WeightFormat::K8, rows, cols, quants, scales, mins).unwrap()
}

fn random_matrix(format: WeightFormat, rows: usize, cols: usize, rng: &mut Lcg) -> WeightMatrix {
    let mut bytes = Vec::new();
    for _ in 0..rows * cols / BLOCK {
        let scale = half::f16::from_f32(rng.f32() * 0.05).to_bits().to_le_bytes();
        bytes.extend_from_slice(&scale);
        match format {
            WeightFormat::Q4_1 => {
                bytes.extend_from_slice(&half::f16::from_f32(rng.f32() * 0.1).to_bits().to_le_bytes());
                bytes.extend((0..16).map(|_| rng.byte()));
            }
            WeightFormat::Q4_0 => bytes.extend((0..16).map(|_| rng.byte())),
            WeightFormat::Q8_0 => bytes.extend((0..32).map(|_| rng.byte())),
            WeightFormat::F32 | WeightFormat::K8 => unreachable!(),
        }
    }
    WeightMatrix::quantized(format, rows, cols, &bytes).unwrap()
}

fn reference(w: &WeightMatrix, x: &[f32]) -> Vec<f32> {
    let mut row = vec![0f32; w.cols()];
    (0..w.rows())
        .map(|r| {
            w.dequantize_row(r, &mut row);
            row.iter().zip(x).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() as f32
        })
        .collect()
}

#[test]
fn quantized_kernels_match_the_dequantized_product() {
    let mut rng = Lcg(7);
    for (format, mins) in CASES {
        let (rows, cols) = (70, 576);
        let w = match format {
            WeightFormat::K8 => random_k8(rows, cols, mins, &mut rng),
            _ => random_matrix(format, rows, cols, &mut rng),
        };
        let x: Vec<f32> = (0..cols).map(|_| rng.f32()).collect();
        let q = QuantizedActivations::quantize(&x, cols);
        let mut out = vec![0f32; rows];
        matmul(KernelIsa::detect(), &w, &q, &mut out);
        let expected = reference(&w, &x);
        for (r, (got, want)) in out.iter().zip(&expected).enumerate() {
            // 8-bit activations: the error is a small fraction of the row's magnitude.
            let scale = expected.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            assert!((got - want).abs() <= 0.02 * scale, "{format:?} ({mins}) row {r}: {got} vs {want}");
        }
    }
}

#[test]
fn every_isa_gives_the_same_bits() {
    let mut rng = Lcg(11);
    let isa = KernelIsa::detect();
    for (format, mins) in CASES {
        let (rows, cols) = (130, 1536);
        let w = match format {
            WeightFormat::K8 => random_k8(rows, cols, mins, &mut rng),
            _ => random_matrix(format, rows, cols, &mut rng),
        };
        let x: Vec<f32> = (0..cols * 3).map(|_| rng.f32() * 4.0).collect();
        let q = QuantizedActivations::quantize(&x, cols);
        let mut scalar_out = vec![0f32; rows * 3];
        let mut fast_out = vec![0f32; rows * 3];
        matmul(KernelIsa::Scalar, &w, &q, &mut scalar_out);
        matmul(isa, &w, &q, &mut fast_out);
        let same = scalar_out.iter().zip(&fast_out).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{format:?} (minimums: {mins}): {} differs from scalar", isa.name());
    }
}

#[test]
fn thread_count_does_not_change_results() {
    let mut rng = Lcg(3);
    let w = random_matrix(WeightFormat::Q4_1, 1000, 576, &mut rng);
    let x: Vec<f32> = (0..576 * 5).map(|_| rng.f32()).collect();
    let q = QuantizedActivations::quantize(&x, 576);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut out = vec![0f32; 5000];
        pool.install(|| matmul(KernelIsa::detect(), &w, &q, &mut out));
        out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(2));
    assert_eq!(run(1), run(3));
}

#[test]
fn single_and_batched_products_agree() {
    let mut rng = Lcg(5);
    for w in [random_matrix(WeightFormat::Q8_0, 200, 576, &mut rng), random_k8(200, 576, true, &mut rng)] {
        let x: Vec<f32> = (0..576 * 4).map(|_| rng.f32()).collect();
        let q = QuantizedActivations::quantize(&x, 576);
        let mut batched = vec![0f32; 800];
        matmul(KernelIsa::detect(), &w, &q, &mut batched);
        for t in 0..4 {
            let one = QuantizedActivations::quantize(&x[t * 576..(t + 1) * 576], 576);
            let mut out = vec![0f32; 200];
            matmul(KernelIsa::detect(), &w, &one, &mut out);
            assert_eq!(out, batched[t * 200..(t + 1) * 200]);
        }
    }
}

#[test]
fn f32_matrices_and_dot_products() {
    let w = WeightMatrix::f32(2, 32, (0..64).map(|i| i as f32).collect()).unwrap();
    let x = vec![1f32; 32];
    let q = QuantizedActivations::quantize(&x, 32);
    let mut out = vec![0f32; 2];
    matmul(KernelIsa::Scalar, &w, &q, &mut out);
    assert_eq!(out, vec![(0..32).sum::<i32>() as f32, (32..64).sum::<i32>() as f32]);
    assert!(WeightMatrix::f32(2, 31, vec![0.0; 62].into()).is_err());
    assert!(WeightMatrix::quantized(WeightFormat::Q4_1, 1, 32, &[0; 19]).is_err());
}
