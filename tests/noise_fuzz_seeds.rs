//! Fuzz seeds for noise mode (format version 3, method 7) in tests/fuzz_corpus/ (scripts/fuzz.sh
//! feeds every file there to every decode target): small valid streams covering what the v3
//! goldens do not (several method-7 tiles in one chunk, i8, a 2-D u8 chunk with k = 1, k = 4 near
//! the dtype's range), and damaged ones that must be refused: a truncated stream, a truncated
//! body with a valid CRC, method 6 in a noise stream and method 7 in an abs stream (valid CRCs,
//! so the decoder reaches the tiles). `noise_seeds_behave` checks the committed files (and that
//! regenerating them gives seeds of the same kind);
//! `cargo test --release --test noise_fuzz_seeds -- --ignored` rewrites them.

mod stream_support;
use h5z_apr::codec::{self, Config, DType, Mode};
use std::path::PathBuf;
use stream_support::{varint, with_crc};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus")
}

/// Poisson-Gaussian-like counts on a ramp (deterministic LCG), as `dtype` little-endian bytes.
fn volume(dtype: DType, shape: &[usize], offset: f64, gain: f64, seed: u64) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut s = seed;
    let mut u = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (lo, hi) = match dtype {
        DType::U8 => (0.0, 255.0),
        DType::I8 => (-128.0, 127.0),
        DType::U16 => (0.0, 65535.0),
        _ => unreachable!("seed dtypes"),
    };
    let mut out = Vec::with_capacity(n * dtype.size());
    for i in 0..n {
        // A smooth ramp over the last two axes.
        let w = shape[shape.len() - 1];
        let h = if shape.len() > 1 {
            shape[shape.len() - 2]
        } else {
            1
        };
        let (x, y) = (i % w, (i / w) % h);
        let mean = offset + gain * (x + y) as f64;
        let g = (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos();
        let v = (mean + (gain * (mean - offset).max(1.0) + 4.0).sqrt() * g)
            .round()
            .clamp(lo, hi);
        match dtype {
            DType::U8 => out.push(v as u8),
            DType::I8 => out.push(v as i8 as u8),
            _ => out.extend_from_slice(&(v as u16).to_le_bytes()),
        }
    }
    out
}

/// Offset of the first tile's method byte and the tile count of a v2/v3 stream (FORMAT.md §4.2).
fn first_tile(s: &[u8], elem: usize) -> (usize, usize) {
    let rank = s[7] as usize;
    let mut p = 16 + 4 * rank;
    let e: Vec<usize> = (0..3).map(|_| varint(s, &mut p)).collect();
    p += elem;
    let t: Vec<usize> = (0..3).map(|_| varint(s, &mut p)).collect();
    let n: usize = (0..3).map(|d| e[d].div_ceil(t[d])).product();
    for _ in 0..n {
        varint(s, &mut p);
    }
    (p, n)
}

/// (file name, stream, refusal message for the damaged ones).
fn seeds() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let shape = [8usize, 24, 40];
    let d = volume(DType::U16, &shape, 100.0, 2.0, 1);
    // A small tile target: 5 tiles of (8, 24, 8) -> several method-7 tiles in one chunk.
    let tiles =
        codec::compress_with_tile_target(&d, DType::U16, &shape, &Config::noise(0.5), d.len() / 5)
            .unwrap();
    let i8s = codec::compress(
        &volume(DType::I8, &[6, 20, 33], -100.0, 2.5, 2),
        DType::I8,
        &[6, 20, 33],
        &Config::noise(4.0),
    )
    .unwrap();
    let u8s = codec::compress(
        &volume(DType::U8, &[40, 50], 10.0, 1.0, 3),
        DType::U8,
        &[40, 50],
        &Config::noise(1.0),
    )
    .unwrap();

    let body = |s: &[u8]| s[..s.len() - 4].to_vec();
    let (m, _) = first_tile(&tiles, 2);
    let mut m6 = body(&tiles);
    assert_eq!(m6[m], 7);
    m6[m] = 6;
    let mut abs_mode = body(&tiles);
    assert_eq!(abs_mode[6], 3);
    abs_mode[6] = 1; // P = 0.5 is a valid abs bound: the tile is what is wrong
    let short_body = body(&u8s)[..u8s.len() - 4 - 5].to_vec();
    vec![
        ("noise_m7_tiles_u16_3d.apr", tiles.clone(), None),
        ("noise_m7_k4_i8_3d.apr", i8s, None),
        ("noise_m7_k1_u8_2d.apr", u8s, None),
        (
            "noise_m7_truncated_u16_3d.apr",
            tiles[..tiles.len() * 3 / 5].to_vec(),
            Some("checksum mismatch"),
        ),
        (
            "noise_m7_short_body_crc_u8_2d.apr",
            with_crc(short_body),
            Some("runs past the stream"),
        ),
        (
            "noise_m6_tile_in_noise_u16_3d.apr",
            with_crc(m6),
            Some("coding method 6 is not valid for mode 3"),
        ),
        (
            "noise_m7_tile_in_abs_u16_3d.apr",
            with_crc(abs_mode),
            Some("coding method 7 is not valid for mode 1"),
        ),
    ]
}

/// A `roundtrip` target input (fuzz/fuzz_targets/roundtrip.rs): dtype 2 = u16, mode byte 19
/// (19 % 4 = 3: noise, k = 2 * RELS[19 >> 2 = 4] = 2.0), effort 1, rank 3, dims 24 x 24 x 24, then
/// 97 u16 elements (cycled to fill the array): a ramp with deterministic noise.
const ROUNDTRIP_SEED: &str = "roundtrip/noise_k2_u16_24x24x24";

fn roundtrip_seed() -> Vec<u8> {
    let mut v = vec![2u8, 19, 0, 2, 23, 23, 23];
    v.extend(volume(DType::U16, &[97], 1000.0, 8.0, 4));
    v
}

#[test]
#[ignore = "rewrites tests/fuzz_corpus/noise_*.apr and the roundtrip noise seed"]
fn write_noise_seeds() {
    for (name, s, _) in seeds() {
        std::fs::write(corpus().join(name), s).unwrap();
    }
    std::fs::write(corpus().join(ROUNDTRIP_SEED), roundtrip_seed()).unwrap();
}

/// The roundtrip seed is the committed file and codes noise mode with method 7 within the bound.
#[test]
fn roundtrip_noise_seed() {
    let data = std::fs::read(corpus().join(ROUNDTRIP_SEED)).unwrap();
    assert_eq!(data, roundtrip_seed());
    let shape = [24usize, 24, 24];
    let src: Vec<u8> = data[7..]
        .iter()
        .copied()
        .cycle()
        .take(24 * 24 * 24 * 2)
        .collect();
    let cfg = Config::lossless()
        .with_mode(Mode::Noise(2.0))
        .with_effort(1);
    let stream = codec::compress(&src, DType::U16, &shape, &cfg).unwrap();
    assert_eq!(codec::stats(&stream).unwrap().method, 7);
    let (_, out) = codec::decompress(&stream).unwrap();
    let (bound, _) = codec::noise_bound_for(&src, DType::U16, &shape, &cfg);
    let (x, y) = (
        codec::values_f64(DType::U16, &src),
        codec::values_f64(DType::U16, &out),
    );
    let worst = (0..x.len())
        .map(|i| (x[i] - y[i]).abs() / bound[i])
        .fold(0.0, f64::max);
    assert!(worst > 0.5 && worst <= 1.0, "max |err| / (k sigma) {worst}");
}

#[test]
fn noise_seeds_behave() {
    let seeds = seeds();
    for (name, fresh, refused) in &seeds {
        let path = corpus().join(name);
        let s = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with --ignored to write it)", path.display()));
        assert!(
            s.len() <= 16384,
            "{name}: scripts/fuzz.sh runs -max_len=16384"
        );
        match refused {
            None => {
                let (h, out) = codec::decompress(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(h.version, 3, "{name}");
                assert!(matches!(h.mode, Mode::Noise(_)), "{name}");
                assert_eq!(out.len(), h.nbytes());
                let st = codec::stats(&s).unwrap();
                // Every tile is method 7 (255 = mixed methods would also hide a fallback).
                assert_eq!(st.method, 7, "{name}");
                if name.contains("tiles") {
                    assert!(st.tiles >= 3, "{name}: {} tiles", st.tiles);
                }
                // Today's encoder writes the same structure (not necessarily the same bytes:
                // the seeds are inputs, an encoder change does not make them wrong).
                let f = codec::stats(fresh).unwrap();
                assert_eq!((f.method, f.tiles), (st.method, st.tiles), "{name}");
            }
            Some(msg) => {
                // Refused with the expected reason: the ones with a valid CRC get past the
                // checksum and fail in the tiles.
                let e = codec::decompress(&s)
                    .err()
                    .unwrap_or_else(|| panic!("{name} must be refused"));
                assert!(e.to_string().contains(msg), "{name}: {e}");
                let e = codec::decompress(fresh).unwrap_err();
                assert!(e.to_string().contains(msg), "{name} (regenerated): {e}");
            }
        }
    }
}

/// The noise branch of fuzz/fuzz_targets/roundtrip.rs on 400 pseudo-random inputs (every
/// integer dtype, ranks 1..4, dims 1..24, random or ramp element bytes): the target's check
/// |x - x'| <= `noise_bound_for` holds, so a fuzz finding there would be a real bug.
#[test]
fn roundtrip_target_noise_check_holds_on_random_inputs() {
    const RELS: [f64; 6] = [0.01, 0.05, 0.1, 0.3, 1.0, 0.001];
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as usize
    };
    let (mut coded7, mut lossy) = (0, 0);
    for case in 0..400 {
        let dtype = DType::ALL[next() % 6]; // the integer dtypes
        let k = RELS[next() % RELS.len()] * 2.0;
        let rank = 1 + next() % 4;
        let shape: Vec<usize> = (0..rank).map(|_| 1 + next() % 24).collect();
        let n: usize = shape.iter().product();
        let nbytes = n * dtype.size();
        let pattern: Vec<u8> = if case % 2 == 0 {
            (0..1 + next() % 300).map(|_| next() as u8).collect()
        } else {
            // A ramp with small noise in the low byte of each element.
            let mut p = Vec::new();
            for i in 0..97usize {
                let v = (i as u64 * 3 + (next() % 5) as u64).to_le_bytes();
                p.extend_from_slice(&v[..dtype.size()]);
            }
            p
        };
        let src: Vec<u8> = pattern.iter().copied().cycle().take(nbytes).collect();
        let cfg = Config::lossless()
            .with_mode(Mode::Noise(k))
            .with_effort(1 + (next() % 5) as i32);
        let stream = codec::compress(&src, dtype, &shape, &cfg).unwrap();
        coded7 += usize::from(codec::stats(&stream).unwrap().method == 7);
        let (_, out) = codec::decompress(&stream).unwrap();
        let (bound, _) = codec::noise_bound_for(&src, dtype, &shape, &cfg);
        let (x, y) = (
            codec::values_f64(dtype, &src),
            codec::values_f64(dtype, &out),
        );
        assert_eq!(bound.len(), x.len());
        for i in 0..x.len() {
            assert!(
                (x[i] - y[i]).abs() <= bound[i],
                "case {case} {dtype:?} {shape:?} k {k}: element {i}: {} -> {}, bound {}",
                x[i],
                y[i],
                bound[i]
            );
        }
        lossy += usize::from(x != y);
    }
    // The inputs reach method 7 and its lossy path, not only raw or constant tiles.
    eprintln!("method 7: {coded7} of 400 streams, lossy: {lossy}");
    assert!(
        coded7 > 50 && lossy > 20,
        "method 7: {coded7}, lossy: {lossy}"
    );
}
