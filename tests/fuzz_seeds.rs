//! Fuzz seeds for noise mode (method 7) and palette-fast (method 9) in tests/fuzz_corpus/
//! (scripts/fuzz.sh feeds every file there to every decode target): small valid streams (several
//! method-7 or method-9 tiles in one chunk; i8 with k = 4, near the dtype's range, and a 2-D u8
//! chunk with k = 1, which no golden has), and damaged ones that must be refused: a truncated
//! stream, a truncated body with a valid CRC, method 6 in a noise stream and method 7 in an abs
//! stream (valid CRCs, so the decoder reaches the tiles); in format version 5 also a negative
//! noise floor c, a version 5 noise stream claiming version 4 (bodies without c), and method 9
//! in a version 4 stream and in a noise stream.
//!
//! Noise mode wrote format version 3 before h5z-apr 0.4 and writes version 5 now (FORMAT.md §8):
//! the `noise_m*` files are the version 3 seeds, kept as they are (this encoder cannot write
//! them again), the `noise_v5_*` and `palette_v5_*` files are what this encoder writes.
//! `noise_seeds_behave` checks the committed files (and that regenerating them gives seeds of
//! the same kind), `damaged_v5_seeds_are_errors_or_the_right_length` sweeps byte edits over the
//! valid version 5 ones; `cargo test --release --test fuzz_seeds -- --ignored` rewrites
//! the version 5 files and the roundtrip seed.

mod stream_support;
use h5z_apr::codec::{self, Config, DType, Mode};
use std::path::PathBuf;
use stream_support::{first_tile, fix_crc, with_crc};

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

/// One fuzz seed: today's encoder's stream (damaged where `refused` says why it must be refused).
struct Seed {
    /// The file `write_noise_seeds` writes.
    name: &'static str,
    /// The version 3 file of the same kind, committed before noise mode wrote version 5
    /// (checked, never rewritten).
    v3: Option<&'static str>,
    stream: Vec<u8>,
    /// The refusal message of a damaged seed.
    refused: Option<&'static str>,
}

fn seed(
    name: &'static str,
    v3: Option<&'static str>,
    stream: Vec<u8>,
    refused: Option<&'static str>,
) -> Seed {
    Seed {
        name,
        v3,
        stream,
        refused,
    }
}

fn seeds() -> Vec<Seed> {
    let shape = [8usize, 24, 40];
    let d = volume(DType::U16, &shape, 100.0, 2.0, 1);
    // A small tile target: 4 tiles of (2, 24, 40) -> several method-7 tiles in one chunk.
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
    // Palette-fast: a ramp of ~470 levels plus 0..3 levels of noise, the values 5 apart (a
    // sparse palette of > 256 values per tile, so u16 indices); the same 4 tiles, method 9.
    let mut r = 7u64;
    let pal_data: Vec<u8> = (0..d.len() / 2)
        .flat_map(|i| {
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (z, x, y) = (i / (24 * 40), (i / 40) % 24, i % 40);
            let level = 10 * y + 3 * x + 2 * z + (r >> 62) as usize;
            (300 + 5 * level as u16).to_le_bytes()
        })
        .collect();
    let palette = codec::compress_with_tile_target(
        &pal_data,
        DType::U16,
        &shape,
        &Config::lossless(),
        d.len() / 5,
    )
    .unwrap();

    let body = |s: &[u8]| s[..s.len() - 4].to_vec();
    let m = first_tile(&tiles, 2);
    let mut m6 = body(&tiles);
    assert_eq!(m6[m], 7);
    m6[m] = 6;
    let mut abs_mode = body(&tiles);
    assert_eq!(abs_mode[6], 3);
    abs_mode[6] = 1; // P = 0.5 is a valid abs bound: the tile is what is wrong
    let short_body = body(&u8s)[..u8s.len() - 4 - 5].to_vec();
    // Version 5 method-7 bodies: f32 a, b, c (FORMAT.md §8); c < 0 is refused.
    let mut floor = body(&tiles);
    floor[m + 9..m + 13].copy_from_slice(&(-1.0f32).to_le_bytes());
    let mut as_v4 = body(&tiles);
    assert_eq!(as_v4[4], 5);
    as_v4[4] = 4;
    let p = first_tile(&palette, 2);
    let mut m9_v4 = body(&palette);
    assert_eq!((m9_v4[4], m9_v4[p]), (5, 9));
    m9_v4[4] = 4;
    let mut m9_noise = body(&palette);
    m9_noise[6] = 3; // P = 0 is a valid noise factor: the tile is what is wrong
    vec![
        seed(
            "noise_v5_m7_tiles_u16_3d.apr",
            Some("noise_m7_tiles_u16_3d.apr"),
            tiles.clone(),
            None,
        ),
        seed(
            "noise_v5_m7_k4_i8_3d.apr",
            Some("noise_m7_k4_i8_3d.apr"),
            i8s,
            None,
        ),
        seed(
            "noise_v5_m7_k1_u8_2d.apr",
            Some("noise_m7_k1_u8_2d.apr"),
            u8s,
            None,
        ),
        seed(
            "noise_v5_m7_truncated_u16_3d.apr",
            Some("noise_m7_truncated_u16_3d.apr"),
            tiles[..tiles.len() * 3 / 5].to_vec(),
            Some("checksum mismatch"),
        ),
        seed(
            "noise_v5_m7_short_body_crc_u8_2d.apr",
            Some("noise_m7_short_body_crc_u8_2d.apr"),
            with_crc(short_body),
            Some("runs past the stream"),
        ),
        seed(
            "noise_v5_m6_tile_in_noise_u16_3d.apr",
            Some("noise_m6_tile_in_noise_u16_3d.apr"),
            with_crc(m6),
            Some("coding method 6 is not valid for mode 3"),
        ),
        seed(
            "noise_v5_m7_tile_in_abs_u16_3d.apr",
            Some("noise_m7_tile_in_abs_u16_3d.apr"),
            with_crc(abs_mode),
            Some("coding method 7 is not valid for mode 1"),
        ),
        seed(
            "noise_v5_m7_floor_negative_crc_u16_3d.apr",
            None,
            with_crc(floor),
            Some("tile 0: method 7 noise floor c = -1"),
        ),
        seed(
            "noise_v5_m7_as_v4_u16_3d.apr",
            None,
            with_crc(as_v4),
            // The bytes of c are read as the step map's length.
            Some("tile 0: method 7 step map"),
        ),
        seed("palette_v5_m9_tiles_u16_3d.apr", None, palette, None),
        seed(
            "palette_v5_m9_in_v4_u16_3d.apr",
            None,
            with_crc(m9_v4),
            Some("coding method 9 in a format version 4 stream (needs 5)"),
        ),
        seed(
            "palette_v5_m9_in_noise_u16_3d.apr",
            None,
            with_crc(m9_noise),
            Some("coding method 9 is not valid for mode 3"),
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
#[ignore = "rewrites tests/fuzz_corpus/{noise,palette}_v5_*.apr and the roundtrip noise seed"]
fn write_noise_seeds() {
    for sd in seeds() {
        std::fs::write(corpus().join(sd.name), &sd.stream).unwrap();
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
    for sd in seeds() {
        let files = [(sd.name, 5u8)].into_iter().chain(sd.v3.map(|n| (n, 3)));
        for (name, version) in files {
            let path = corpus().join(name);
            let s = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (run with --ignored to write it)", path.display())
            });
            check_seed(name, version, &s, &sd);
        }
    }
}

/// A committed seed file `s` of format `version` is what `sd` says: decoded with every tile of
/// the seed's method, or refused with its message.
fn check_seed(name: &str, version: u8, s: &[u8], sd: &Seed) {
    assert!(
        s.len() <= 16384,
        "{name}: scripts/fuzz.sh runs -max_len=16384"
    );
    let fresh = &sd.stream;
    let method = if name.starts_with("palette") { 9 } else { 7 };
    match sd.refused {
        None => {
            let (h, out) = codec::decompress(s).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(h.version, version, "{name}");
            assert_eq!(matches!(h.mode, Mode::Noise(_)), method == 7, "{name}");
            assert_eq!(out.len(), h.nbytes());
            let st = codec::stats(s).unwrap();
            // Every tile has the seed's method (255 = mixed methods would also hide a fallback).
            assert_eq!(st.method, method, "{name}");
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
            let e = codec::decompress(s)
                .err()
                .unwrap_or_else(|| panic!("{name} must be refused"));
            assert!(e.to_string().contains(msg), "{name}: {e}");
            let e = codec::decompress(fresh).unwrap_err();
            assert!(e.to_string().contains(msg), "{name} (regenerated): {e}");
        }
    }
}

/// What the fuzz targets do first to the valid version 5 seeds: every byte after the header
/// set to 0xff and flipped in bit 4, the CRC fixed up. Every decode is an error or the
/// chunk's length (never a panic); most are errors.
#[test]
fn damaged_v5_seeds_are_errors_or_the_right_length() {
    for sd in seeds().iter().filter(|sd| sd.refused.is_none()) {
        let s = &sd.stream;
        let hlen = 16 + 4 * s[7] as usize;
        let (mut tries, mut errors) = (0, 0);
        for i in hlen..s.len() - 4 {
            for v in [0xff, s[i] ^ 0x10] {
                if v == s[i] {
                    continue;
                }
                let mut t = s.clone();
                t[i] = v;
                fix_crc(&mut t);
                tries += 1;
                match codec::decompress(&t) {
                    Ok((h, out)) => assert_eq!(out.len(), h.nbytes(), "{}: byte {i}", sd.name),
                    Err(_) => errors += 1,
                }
            }
        }
        eprintln!("{}: {errors} of {tries} refused", sd.name);
        assert!(
            errors * 2 > tries,
            "{}: {errors} of {tries} refused",
            sd.name
        );
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
