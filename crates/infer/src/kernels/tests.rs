use super::*;

/// Two threads for the products, as the engine runs by default.
static TEAM: std::sync::LazyLock<Team> = std::sync::LazyLock::new(|| Team::new(2).unwrap());

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
        matmul(KernelIsa::detect(), &TEAM, &w, &q, &mut out);
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
    let isas = KernelIsa::available();
    assert_eq!(isas[0], KernelIsa::Scalar);
    for (format, mins) in CASES {
        // Rows not a whole number of groups, and tokens not a whole number of tiles.
        let (rows, cols, tokens) = (130, 1536, 7);
        let w = match format {
            WeightFormat::K8 => random_k8(rows, cols, mins, &mut rng),
            _ => random_matrix(format, rows, cols, &mut rng),
        };
        let mut x: Vec<f32> = (0..cols * tokens).map(|_| rng.f32() * 4.0).collect();
        // Extreme activations: a block at the 8-bit limits, and an all-zero block.
        x[..BLOCK].iter_mut().enumerate().for_each(|(i, v)| *v = if i % 2 == 0 { 9.0 } else { -9.0 });
        x[BLOCK..2 * BLOCK].fill(0.0);
        let q = QuantizedActivations::quantize(&x, cols);
        let mut reference = vec![0f32; rows * tokens];
        matmul(KernelIsa::Scalar, &TEAM, &w, &q, &mut reference);
        for &isa in &isas[1..] {
            let mut fast = vec![0f32; rows * tokens];
            matmul(isa, &TEAM, &w, &q, &mut fast);
            let same = reference.iter().zip(&fast).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{format:?} (minimums: {mins}): {} differs from scalar", isa.name());
        }
    }
}

#[test]
fn eight_bit_weights_at_their_limits_do_not_saturate() {
    // -128 weights against ±127 activations: the largest pair sums the 16-bit multiply sees.
    let (rows, cols) = (16, 64);
    let quants = vec![0x80u8; rows * cols];
    let scales = vec![1.0f32; rows * cols / BLOCK];
    let w = WeightMatrix::from_blocks(WeightFormat::Q8_0, rows, cols, quants, scales, Vec::new()).unwrap();
    for sign in [1.0f32, -1.0] {
        let x = vec![sign; cols];
        let q = QuantizedActivations::quantize(&x, cols);
        for isa in KernelIsa::available() {
            let mut out = vec![0f32; rows];
            matmul(isa, &TEAM, &w, &q, &mut out);
            // Each element: -128 · (±127) · (1/127).
            let want = -128.0 * sign * cols as f32;
            assert!(out.iter().all(|v| (v - want).abs() < 1e-2), "{}: {out:?}", isa.name());
        }
    }
}

#[test]
fn thread_count_does_not_change_results() {
    let mut rng = Lcg(3);
    let w = random_matrix(WeightFormat::Q4_1, 1000, 576, &mut rng);
    let x: Vec<f32> = (0..576 * 5).map(|_| rng.f32()).collect();
    let q = QuantizedActivations::quantize(&x, 576);
    let run = |threads| {
        let team = Team::new(threads).unwrap();
        let mut out = vec![0f32; 5000];
        matmul(KernelIsa::detect(), &team, &w, &q, &mut out);
        out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(2));
    assert_eq!(run(1), run(3));
}

#[test]
fn single_and_batched_products_agree() {
    let mut rng = Lcg(5);
    for (format, mins) in CASES {
        let w = match format {
            WeightFormat::K8 => random_k8(200, 576, mins, &mut rng),
            _ => random_matrix(format, 200, 576, &mut rng),
        };
        let x: Vec<f32> = (0..576 * 6).map(|_| rng.f32()).collect();
        let q = QuantizedActivations::quantize(&x, 576);
        for isa in KernelIsa::available() {
            let mut batched = vec![0f32; 1200];
            matmul(isa, &TEAM, &w, &q, &mut batched);
            for t in 0..6 {
                let one = QuantizedActivations::quantize(&x[t * 576..(t + 1) * 576], 576);
                let mut out = vec![0f32; 200];
                matmul(isa, &TEAM, &w, &one, &mut out);
                assert_eq!(out, batched[t * 200..(t + 1) * 200], "{format:?} {}", isa.name());
            }
        }
    }
}

#[test]
fn f32_matrices_and_dot_products() {
    let w = WeightMatrix::f32(2, 32, (0..64).map(|i| i as f32).collect()).unwrap();
    let x = vec![1f32; 32];
    let q = QuantizedActivations::quantize(&x, 32);
    let mut out = vec![0f32; 2];
    matmul(KernelIsa::Scalar, &TEAM, &w, &q, &mut out);
    assert_eq!(out, vec![(0..32).sum::<i32>() as f32, (32..64).sum::<i32>() as f32]);
    assert!(WeightMatrix::f32(2, 31, vec![0.0; 62].into()).is_err());
    assert!(WeightMatrix::quantized(WeightFormat::Q4_1, 1, 32, &[0; 19]).is_err());
}

#[test]
fn activations_round_half_away_from_zero_like_f32_round() {
    // A block whose largest magnitude is 127 quantizes with scale 1: the values themselves.
    let mut rng = Lcg(13);
    let mut x: Vec<f32> = vec![127.0, 0.5, 1.5, 2.5, -0.5, -2.5, 0.499_999_97, -0.499_999_97, 126.5, -126.5];
    x.extend((x.len()..BLOCK).map(|_| rng.f32() * 120.0));
    let q = QuantizedActivations::quantize(&x, BLOCK);
    let want: Vec<i8> = x.iter().map(|v| v.round() as i8).collect();
    assert_eq!(q.qs, want);
    let sum = |h: &[i8]| h.iter().map(|v| i32::from(*v)).sum::<i32>();
    assert_eq!(q.halves, vec![sum(&want[..16]), sum(&want[16..])]);
}

#[test]
fn exp_is_accurate_and_the_same_on_every_isa() {
    let mut worst = 0f64;
    let mut x = -87.0f32;
    while x <= 88.0 {
        let (got, want) = (f64::from(exp(x)), f64::from(x).exp());
        worst = worst.max(((got - want) / want).abs());
        x += 0.0137;
    }
    assert!(worst < 3.0 * f64::from(f32::EPSILON), "relative error {worst}");
    assert_eq!(exp(0.0), 1.0);
    assert_eq!(exp(-1000.0), exp(-87.0));
    assert!(exp(f32::NAN).is_nan());
    // The vector routines built for each ISA agree bit for bit.
    let mut rng = Lcg(17);
    let half = |v: f32| half::f16::from_f32(v).to_bits();
    let (q, keys, values): (Vec<f32>, Vec<u16>, Vec<u16>) = (
        (0..64).map(|_| rng.f32()).collect(),
        (0..64 * 3 * 37).map(|_| half(rng.f32() * 3.0)).collect(),
        (0..64 * 3 * 37).map(|_| half(rng.f32())).collect(),
    );
    let gate: Vec<f32> = (0..100).map(|_| rng.f32() * 20.0).collect();
    let up: Vec<f32> = (0..100).map(|_| rng.f32()).collect();
    let run = |isa| {
        let mut out = vec![0f32; 64];
        let cache = HeadCache { keys: &keys, values: &values, stride: 192, offset: 64, visible: 37 };
        attend(isa, &q, cache, 0.125, &mut Vec::new(), &mut out);
        let mut g = gate.clone();
        silu_mul(isa, &mut g, &up);
        out.extend(g);
        out.push(dot_f32(isa, &q, &gate[..64]));
        out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    let reference = run(KernelIsa::Scalar);
    for isa in KernelIsa::available() {
        assert_eq!(run(isa), reference, "{}", isa.name());
    }
}

#[test]
fn file_formats_keep_their_f16_scales_and_k_quants_their_f32_ones() {
    let mut rng = Lcg(19);
    // Q4_0, Q4_1 and Q8_0 take no more memory than in the file (their scales stay f16).
    for format in [WeightFormat::Q4_1, WeightFormat::Q4_0, WeightFormat::Q8_0] {
        let w = random_matrix(format, 64, 576, &mut rng);
        assert_eq!(w.memory_bytes(), format.row_bytes(576) * 64, "{format:?}");
    }
    // Scales that are no f16 (products of two factors) stay exact as f32.
    let k = random_k8(64, 576, true, &mut rng);
    assert_eq!(k.memory_bytes(), 64 * 576 + 4 * (2 + 1) * 64 * 576 / BLOCK);
}

#[test]
fn f16_values_convert_exactly() {
    for bits in 0..=u16::MAX {
        let (ours, reference) = (vector::f16_to_f32(bits), half::f16::from_bits(bits).to_f32());
        if reference.is_nan() {
            assert!(ours.is_nan(), "{bits:#06x}");
        } else {
            assert_eq!(ours.to_bits(), reference.to_bits(), "{bits:#06x}");
        }
    }
}

#[test]
fn sin_cos_is_within_an_ulp_of_the_rounded_value() {
    let ulps = |a: f32, b: f32| (a.to_bits() as i64 - b.to_bits() as i64).abs();
    let mut x = -20_000.0f32;
    let mut exact = 0;
    let mut total = 0;
    while x < 20_000.0 {
        let (s, c) = sin_cos(x);
        let (ws, wc) = (f64::from(x).sin() as f32, f64::from(x).cos() as f32);
        // Near zero the ulp is tiny: compare those absolutely.
        for (got, want) in [(s, ws), (c, wc)] {
            assert!(ulps(got, want) <= 1 || (got - want).abs() < 1e-12, "{x}: {got} vs {want}");
            exact += usize::from(got == want);
            total += 1;
        }
        x += 0.731;
    }
    assert!(exact * 100 >= total * 99, "only {exact} of {total} exact");
    assert!(sin_cos(f32::NAN).0.is_nan() && sin_cos(f32::INFINITY).1.is_nan());
    assert_eq!(sin_cos(0.0), (0.0, 1.0));
}

#[test]
fn exp_f64_is_accurate() {
    let mut worst = 0f64;
    let mut x = -700.0f64;
    while x <= 700.0 {
        let (got, want) = (exp_f64(x), x.exp());
        worst = worst.max(((got - want) / want).abs());
        x += 0.0917;
    }
    assert!(worst < 4.0 * f64::EPSILON, "relative error {worst}");
    assert_eq!(exp_f64(0.0), 1.0);
    assert_eq!(exp_f64(-1000.0), 0.0);
    assert!(exp_f64(f64::NAN).is_nan());
}
