//! Round trips of every dtype, rank 1-4, odd shapes, in lossless and abs modes; the bound is
//! checked on every element.

use h5z_apr::codec::{compress, decompress, values_f64 as values, Config, DType, Mode};

/// Deterministic pseudo-random generator (xorshift*), so failures reproduce.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A smooth blob field plus noise, scaled to a dtype's range, as LE bytes.
fn field(dtype: DType, shape: &[usize], seed: u64, noise: f64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n * dtype.size());
    let (lo, hi) = dtype.int_range();
    let span = if dtype.is_float() {
        1000.0
    } else {
        (hi - lo) as f64
    };
    for i in 0..n {
        let t = i as f64;
        let s = 0.5 + 0.35 * (t * 0.013).sin() * (t * 0.0007).cos();
        let v = s + noise * (rng.unit() - 0.5);
        let v = v.clamp(0.0, 1.0) * span * 0.98 + if dtype.is_float() { -500.0 } else { lo as f64 };
        match dtype {
            DType::U8 => out.push(v as u8),
            DType::I8 => out.push(v as i8 as u8),
            DType::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
            DType::I16 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            DType::U32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
            DType::I32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            DType::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    out
}

const SHAPES: &[&[usize]] = &[
    &[1],
    &[7],
    &[1000],
    &[1, 1],
    &[13, 17],
    &[64, 64],
    &[1, 1, 1],
    &[5, 9, 33],
    &[16, 31, 30],
    &[2, 3, 4, 5],
    &[3, 1, 7, 9],
];

#[test]
fn lossless_every_dtype_and_rank() {
    for &dt in &DType::ALL {
        for (k, &shape) in SHAPES.iter().enumerate() {
            for noise in [0.0, 0.05, 1.0] {
                let data = field(dt, shape, k as u64 + 1, noise);
                let s = compress(&data, dt, shape, &Config::lossless()).unwrap();
                let (h, back) = decompress(&s).unwrap();
                assert_eq!(h.shape, shape);
                assert_eq!(h.dtype, dt);
                assert_eq!(back, data, "{dt:?} {shape:?} noise {noise}");
            }
        }
    }
}

#[test]
fn lossless_special_floats_bit_exact() {
    let mut v: Vec<f32> = vec![
        f32::NAN,
        -0.0,
        0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
    ];
    v.push(f32::from_bits(0x7fc0_1234)); // NaN with payload
    v.push(f32::from_bits(0xffc0_0001));
    v.extend((0..100).map(|i| i as f32 * 0.25 - 3.0));
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let s = compress(&data, DType::F32, &[v.len()], &Config::lossless()).unwrap();
    assert_eq!(decompress(&s).unwrap().1, data);
    let w: Vec<f64> = vec![
        f64::NAN,
        -0.0,
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::MAX,
        -f64::MAX,
        1e-310,
    ];
    let data: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let s = compress(&data, DType::F64, &[2, 3], &Config::lossless()).unwrap();
    assert_eq!(decompress(&s).unwrap().1, data);
}

#[test]
fn abs_bound_holds_on_every_element() {
    for &dt in &DType::ALL {
        for (k, &shape) in SHAPES.iter().enumerate() {
            for bound in [0.0, 0.5, 1.0, 4.0, 37.5] {
                let data = field(dt, shape, 100 + k as u64, 0.2);
                let s = compress(&data, dt, shape, &Config::abs(bound)).unwrap();
                let (h, back) = decompress(&s).unwrap();
                assert_eq!(h.mode, Mode::Abs(bound));
                let (a, b) = (values(dt, &data), values(dt, &back));
                let eff = if dt.is_float() { bound } else { bound.floor() };
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        (x - y).abs() <= eff,
                        "{dt:?} {shape:?} bound {bound}: element {i}: {x} -> {y}"
                    );
                }
                if eff == 0.0 {
                    assert_eq!(back, data);
                }
            }
        }
    }
}

#[test]
fn abs_float_nonfinite_values_survive() {
    let v: Vec<f32> = vec![
        1.0,
        f32::NAN,
        2.0,
        f32::INFINITY,
        -3.0,
        f32::NEG_INFINITY,
        1e30,
        -1e30,
        0.1,
    ];
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let s = compress(&data, DType::F32, &[v.len()], &Config::abs(0.01)).unwrap();
    let back = values(DType::F32, &decompress(&s).unwrap().1);
    for (x, y) in v.iter().zip(&back) {
        let x = *x as f64;
        if x.is_nan() {
            assert!(y.is_nan());
        } else if x.is_infinite() {
            assert_eq!(x, *y);
        } else {
            assert!((x - y).abs() <= 0.01);
        }
    }
}

#[test]
fn extreme_integer_values_clamp_within_bound() {
    let v: Vec<u16> = (0..4096)
        .map(|i| {
            if i % 3 == 0 {
                65535
            } else if i % 3 == 1 {
                0
            } else {
                65534
            }
        })
        .collect();
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    for b in [1.0, 4.0, 1000.0, 1e9] {
        let s = compress(&data, DType::U16, &[64, 64], &Config::abs(b)).unwrap();
        let back = values(DType::U16, &decompress(&s).unwrap().1);
        for (x, y) in v.iter().zip(&back) {
            assert!((*x as f64 - y).abs() <= b.floor().min(65535.0));
        }
    }
    let v: Vec<i32> = vec![i32::MIN, i32::MAX, 0, -1, i32::MIN + 1, i32::MAX - 7];
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    for cfg in [Config::lossless(), Config::abs(3.0), Config::abs(1e12)] {
        let s = compress(&data, DType::I32, &[6], &cfg).unwrap();
        let back = values(DType::I32, &decompress(&s).unwrap().1);
        let b = cfg.mode.param().floor();
        for (x, y) in v.iter().zip(&back) {
            assert!((*x as f64 - y).abs() <= b.min(u32::MAX as f64));
        }
    }
}

#[test]
fn smooth_data_compresses() {
    let shape = [16, 64, 64];
    let mut data = Vec::new();
    for z in 0..16 {
        for x in 0..64 {
            for y in 0..64 {
                let r2 = ((z * 4 - 32) * (z * 4 - 32) + (x - 30) * (x - 30) + (y - 34) * (y - 34))
                    as f64;
                let v = 1000.0 + 30000.0 * (-r2 / 800.0).exp();
                data.extend_from_slice(&(v as u16).to_le_bytes());
            }
        }
    }
    let s = compress(&data, DType::U16, &shape, &Config::lossless()).unwrap();
    assert!(
        s.len() * 3 < data.len(),
        "lossless ratio only {}",
        data.len() as f64 / s.len() as f64
    );
    let s4 = compress(&data, DType::U16, &shape, &Config::abs(4.0)).unwrap();
    assert!(s4.len() < s.len());
}

#[test]
fn deterministic_output() {
    let shape = [8, 40, 24];
    let data = field(DType::F32, &shape, 3, 0.3);
    for cfg in [Config::lossless(), Config::abs(0.5)] {
        assert_eq!(
            compress(&data, DType::F32, &shape, &cfg).unwrap(),
            compress(&data, DType::F32, &shape, &cfg).unwrap()
        );
    }
}

#[test]
fn sparse_value_sets_use_the_palette_and_keep_the_bound() {
    // 12-bit data rescaled to 16 bits (like the cells3d nuclei stack): only every 47th value occurs.
    let shape = [8, 48, 40];
    let mut rng = Rng::new(9);
    let v: Vec<u16> = (0..shape.iter().product::<usize>())
        .map(|i| {
            let s = ((i % 40) as f64 * 0.2).sin() * 300.0 + 600.0 + rng.unit() * 20.0;
            (s as u16) * 47
        })
        .collect();
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let plain: Vec<u8> = v.iter().flat_map(|x| (x / 47).to_le_bytes()).collect();
    let s = compress(&data, DType::U16, &shape, &Config::lossless()).unwrap();
    assert_eq!(decompress(&s).unwrap().1, data);
    // Costs about what the unscaled values cost, not log2(47) bits more per element.
    let s_plain = compress(&plain, DType::U16, &shape, &Config::lossless()).unwrap();
    assert!(
        s.len() < s_plain.len() + 2000,
        "{} vs {}",
        s.len(),
        s_plain.len()
    );
    for b in [4.0, 23.0, 47.0, 100.0, 500.0] {
        let s = compress(&data, DType::U16, &shape, &Config::abs(b)).unwrap();
        let back = values(DType::U16, &decompress(&s).unwrap().1);
        for (x, y) in v.iter().zip(&back) {
            assert!((*x as f64 - y).abs() <= b, "bound {b}: {x} -> {y}");
        }
    }
}

#[test]
fn abs_bound_below_one_on_integers_codes_like_lossless() {
    // Repetitive int8 data where the byte coder wins: a bound < 1 allows no error, so abs mode
    // must pick the same exact coding as lossless mode.
    let data: Vec<u8> = (0..300 * 200).map(|i| ((i % 7) * 3) as u8).collect();
    let l = compress(&data, DType::I8, &[300, 200], &Config::lossless()).unwrap();
    let a = compress(&data, DType::I8, &[300, 200], &Config::abs(0.5)).unwrap();
    assert!(
        a.len() <= l.len() + 8,
        "abs 0.5: {} bytes, lossless {}",
        a.len(),
        l.len()
    );
    assert_eq!(decompress(&a).unwrap().1, data);
}

#[test]
fn huge_constant_chunks_stay_decodable() {
    // The entropy coders spend almost nothing per element of a constant chunk, while the
    // decoder refuses bodies more than 2^15 times smaller than what they decode to (its guard
    // against forged sizes): the encoder must still produce a stream it accepts.
    let shape = [256, 128, 128];
    let n: usize = shape.iter().product();
    for (dt, data) in [(DType::U8, vec![7u8; n]), (DType::U16, vec![0u8; 2 * n])] {
        for cfg in [Config::lossless(), Config::abs(2.0), Config::apr(0.1)] {
            let s = compress(&data, dt, &shape, &cfg).unwrap();
            let (_, back) = decompress(&s).unwrap_or_else(|e| panic!("{dt:?} {:?}: {e}", cfg.mode));
            assert_eq!(back, data);
            assert!(s.len() * 1000 < data.len(), "{} bytes", s.len());
        }
    }
}

#[test]
fn rank_32_and_non_finite_apr_input() {
    let mut shape = vec![1usize; 29];
    shape.extend([3, 4, 5]);
    let data: Vec<u8> = (0..60u16).flat_map(|v| (v * 3).to_le_bytes()).collect();
    for cfg in [Config::lossless(), Config::abs(1.0), Config::apr(0.1)] {
        let s = compress(&data, DType::U16, &shape, &cfg).unwrap();
        let (h, back) = decompress(&s).unwrap();
        assert_eq!(h.shape, shape);
        if cfg.mode == Mode::Lossless {
            assert_eq!(back, data);
        }
    }
    // apr mode is lossy by design, but NaN/Inf in the input must not break it.
    let v: Vec<f32> = (0..512)
        .map(|i| match i % 97 {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => f32::NEG_INFINITY,
            _ => (i as f32 * 0.1).sin(),
        })
        .collect();
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let s = compress(&data, DType::F32, &[8, 64], &Config::apr(0.1)).unwrap();
    assert_eq!(decompress(&s).unwrap().1.len(), data.len());
}
