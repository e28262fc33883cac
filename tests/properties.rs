//! Property tests: for arbitrary shapes, dtypes, values and bounds, lossless is bit-exact and
//! abs mode holds |x - x'| <= bound on every element.

use h5z_apr::codec::{compress, decompress, values_f64, Config, DType};
use proptest::prelude::*;

fn dtype() -> impl Strategy<Value = DType> {
    prop::sample::select(DType::ALL.to_vec())
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..12, 1..=4)
}

/// Random bytes, with floats kept finite and smooth-ish half of the time.
fn data(dt: DType, n: usize, seed: u64, smooth: bool) -> Vec<u8> {
    let mut s = seed | 1;
    let mut out = Vec::with_capacity(n * dt.size());
    for i in 0..n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let r = if smooth {
            ((i as f64 * 0.3).sin() * 100.0 + (s % 7) as f64) as i64 as u64
        } else {
            s
        };
        match dt {
            DType::F32 => {
                out.extend_from_slice(&((r as i64 % 100_000) as f32 * 0.37).to_le_bytes())
            }
            DType::F64 => {
                out.extend_from_slice(&((r as i64 % 10_000_000) as f64 * 0.013).to_le_bytes())
            }
            _ => out.extend_from_slice(&r.to_le_bytes()[..dt.size()]),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn lossless_is_exact(dt in dtype(), shape in shape(), seed in any::<u64>(), smooth in any::<bool>()) {
        let n: usize = shape.iter().product();
        let d = data(dt, n, seed, smooth);
        let s = compress(&d, dt, &shape, &Config::lossless()).unwrap();
        prop_assert_eq!(decompress(&s).unwrap().1, d);
    }

    #[test]
    fn abs_bound_holds(dt in dtype(), shape in shape(), seed in any::<u64>(), smooth in any::<bool>(),
                       bound in prop::sample::select(vec![0.0, 0.4, 1.0, 3.0, 17.5, 1000.0])) {
        let n: usize = shape.iter().product();
        let d = data(dt, n, seed, smooth);
        let s = compress(&d, dt, &shape, &Config::abs(bound)).unwrap();
        let back = decompress(&s).unwrap().1;
        let eff = if dt.is_float() { bound } else { bound.floor() };
        for (x, y) in values_f64(dt, &d).into_iter().zip(values_f64(dt, &back)) {
            prop_assert!((x - y).abs() <= eff, "{:?} {:?} bound {}: {} -> {}", dt, shape, bound, x, y);
        }
    }

    #[test]
    fn apr_mode_round_trips_shape_and_dtype(dt in dtype(), shape in shape(), seed in any::<u64>()) {
        let n: usize = shape.iter().product();
        let d = data(dt, n, seed, true);
        let s = compress(&d, dt, &shape, &Config::apr(0.1)).unwrap();
        let (h, back) = decompress(&s).unwrap();
        prop_assert_eq!(h.shape, shape);
        prop_assert_eq!(back.len(), d.len());
    }
}
