//! compress -> decompress round trip on arbitrary small arrays, every dtype and mode.
//! Input: dtype, mode/parameter, effort, rank, dims (each 1..=24), then element bytes (cycled
//! to fill the array). Checks: compress succeeds on every valid input (apr mode may refuse
//! non-finite floats), the stream decodes to the same dtype/shape/mode, lossless is bit-exact,
//! abs keeps |x - x'| <= bound (integers: floor(bound); non-finite floats exact), noise mode
//! keeps |x - x'| <= k * sigma(x) with the per-tile model (`codec::noise_bound_for`).
#![no_main]
use h5z_apr::codec::{self, Config, DType, Mode};
use libfuzzer_sys::fuzz_target;

/// Set to false once abs-mode f32 escapes keep signalling NaNs bit-exact (src fix pending).
const F32_SNAN_QUIETED: bool = false;

const BOUNDS: [f64; 8] = [0.0, 0.5, 1.0, 2.0, 4.0, 100.0, 1e-3, 0.25];
const RELS: [f64; 6] = [0.01, 0.05, 0.1, 0.3, 1.0, 0.001];

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let dtype = DType::ALL[usize::from(data[0]) % 8];
    let mode = match data[1] % 4 {
        0 => Mode::Lossless,
        1 => Mode::Abs(BOUNDS[usize::from(data[1] >> 2) % BOUNDS.len()]),
        2 => Mode::Apr(RELS[usize::from(data[1] >> 2) % RELS.len()]),
        _ => Mode::Noise(RELS[usize::from(data[1] >> 2) % RELS.len()] * 2.0),
    };
    let effort = 1 + i32::from(data[2] % 5);
    let rank = 1 + usize::from(data[3] % 4);
    if data.len() < 4 + rank {
        return;
    }
    let shape: Vec<usize> = data[4..4 + rank]
        .iter()
        .map(|&d| 1 + usize::from(d % 24))
        .collect();
    let bytes = &data[4 + rank..];
    let nbytes = shape.iter().product::<usize>() * dtype.size();
    let src: Vec<u8> = if bytes.is_empty() {
        vec![0; nbytes]
    } else {
        bytes.iter().copied().cycle().take(nbytes).collect()
    };
    let cfg = Config::lossless().with_mode(mode).with_effort(effort);
    let vals = codec::values_f64(dtype, &src);
    let stream = match codec::compress(&src, dtype, &shape, &cfg) {
        Ok(s) => s,
        Err(e) => {
            let nonfinite = vals.iter().any(|v| !v.is_finite());
            // apr refuses non-finite values, noise mode refuses float dtypes.
            assert!(
                (matches!(mode, Mode::Apr(_)) && nonfinite)
                    || (matches!(mode, Mode::Noise(_)) && dtype.is_float()),
                "compress failed: {e}"
            );
            return;
        }
    };
    assert!(stream.len() <= codec::max_compressed_len(dtype, &shape));
    let (h, out) = codec::decompress(&stream).expect("own stream must decode");
    assert_eq!((h.dtype, &h.shape[..], h.mode), (dtype, &shape[..], mode));
    match mode {
        Mode::Lossless => assert_eq!(out, src, "lossless not bit-exact"),
        Mode::Abs(b) => {
            let back = codec::values_f64(dtype, &out);
            let lim = if dtype.is_float() { b } else { b.floor() };
            let es = dtype.size();
            for (i, (x, y)) in vals.iter().zip(&back).enumerate() {
                if x.is_finite() {
                    assert!((x - y).abs() <= lim, "element {i}: {x} -> {y}, bound {b}");
                } else if dtype == DType::F32 && F32_SNAN_QUIETED {
                    // Known bug (tests/fuzz_regressions.rs,
                    // abs_mode_f32_signalling_nan_reconstructs_exactly): signalling NaNs come
                    // back with the quiet bit set. Everything else must be exact.
                    let a = u32::from_le_bytes(src[i * 4..i * 4 + 4].try_into().expect("4"));
                    let b = u32::from_le_bytes(out[i * 4..i * 4 + 4].try_into().expect("4"));
                    assert!(
                        a == b || (x.is_nan() && a | 0x0040_0000 == b),
                        "non-finite {i}: {a:#x} -> {b:#x}"
                    );
                } else {
                    assert_eq!(
                        &src[i * es..(i + 1) * es],
                        &out[i * es..(i + 1) * es],
                        "non-finite {i}"
                    );
                }
            }
        }
        Mode::Noise(_) => {
            // |x - x'| <= k * sigma(x), sigma from the model the encoder fits per tile
            // (+inf where the stream codes elements exactly).
            let (bound, _) = codec::noise_bound_for(&src, dtype, &shape, &cfg);
            let back = codec::values_f64(dtype, &out);
            assert_eq!(bound.len(), vals.len());
            for (i, (x, y)) in vals.iter().zip(&back).enumerate() {
                assert!(
                    (x - y).abs() <= bound[i],
                    "element {i}: {x} -> {y}, bound {}",
                    bound[i]
                );
            }
        }
        Mode::Apr(_) => assert_eq!(out.len(), src.len()),
    }
});
