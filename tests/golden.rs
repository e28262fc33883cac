//! Golden streams: every stream format version keeps decoding, forever (append-only).
//!
//! `tests/golden/v<fmt>_<case>.apr` were written once by this file's generator and are never
//! overwritten. The inputs are regenerated from code here; `tests/golden/v<fmt>.manifest` holds
//! the CRC-32 of each decoded chunk, so lossy decodes must stay bit-identical too.
//! To add cases for a new format version: add them to `cases()` with that version and run
//! `H5Z_APR_WRITE_GOLDEN=1 cargo test --release --test golden` (existing files are kept).

use h5z_apr::codec::{
    compress_v1, compress_with_tile_target, crc32, decompress, decompress_into_threads,
    local_scale_with_tile_target, noise_bound_with_tile_target, values_f64 as values, Config,
    DType, Mode,
};
use std::path::PathBuf;

struct Case {
    version: u8,
    name: &'static str,
    dtype: DType,
    shape: Vec<usize>,
    cfg: Config,
    /// v2: the encoder's tile size target in bytes when the file was written (small ones
    /// make small cases multi-tile).
    target: usize,
}

fn cases() -> Vec<Case> {
    let c = |name, dtype, shape: &[usize], cfg| Case {
        version: 1,
        name,
        dtype,
        shape: shape.to_vec(),
        cfg,
        target: 0,
    };
    let c2 = |name, dtype, shape: &[usize], cfg, target| Case {
        version: 2,
        name,
        dtype,
        shape: shape.to_vec(),
        cfg,
        target,
    };
    let c3 = |name, dtype, shape: &[usize], cfg, target| Case {
        version: 3,
        name,
        dtype,
        shape: shape.to_vec(),
        cfg,
        target,
    };
    let c4 = |name, dtype, shape: &[usize], cfg, target| Case {
        version: 4,
        name,
        dtype,
        shape: shape.to_vec(),
        cfg,
        target,
    };
    let c6 = |name, dtype, shape: &[usize], cfg, target| Case {
        version: 6,
        name,
        dtype,
        shape: shape.to_vec(),
        cfg,
        target,
    };
    let c5 = |name, dtype, shape: &[usize], cfg, target| Case {
        version: 5,
        name,
        dtype,
        shape: shape.to_vec(),
        cfg,
        target,
    };
    vec![
        c(
            "lossless_u16_3d",
            DType::U16,
            &[6, 33, 40],
            Config::lossless(),
        ),
        c("lossless_f32_2d", DType::F32, &[45, 31], Config::lossless()),
        c(
            "lossless_i16_4d",
            DType::I16,
            &[2, 3, 9, 10],
            Config::lossless(),
        ),
        c("lossless_u8_const", DType::U8, &[4000], Config::lossless()),
        c("abs4_u16_3d", DType::U16, &[6, 33, 40], Config::abs(4.0)),
        c("abs_f64_1d", DType::F64, &[777], Config::abs(0.001)),
        c("abs2_i32_3d", DType::I32, &[5, 16, 17], Config::abs(2.0)),
        c(
            "palette_u16_3d",
            DType::U16,
            &[4, 32, 32],
            Config::lossless(),
        ),
        c("apr_u16_3d", DType::U16, &[16, 48, 40], Config::apr(0.1)),
        c("apr_f32_2d", DType::F32, &[64, 50], Config::apr(0.1)),
        c("apr_u8_1d", DType::U8, &[300], Config::apr(0.2)),
        // Format version 2 (FORMAT.md §4): tiles of every allowed shape, partial boxes
        // (padded edge chunks), constant tiles, an empty box.
        c2(
            "lossless_u16_3d",
            DType::U16,
            &[6, 33, 40],
            Config::lossless(),
            2048,
        ),
        // Method 6 tiles (FORMAT.md §5), written after method 6 joined the v2 encoder.
        c2(
            "tiles6_abs1_u16_3d",
            DType::U16,
            &[9, 40, 52],
            Config::abs(1.0),
            16384,
        ),
        c2(
            "tiles6_abs4_i16_3d",
            DType::I16,
            &[9, 40, 52],
            Config::abs(4.0),
            1 << 20,
        ),
        c2(
            "tiles6_abs2_u8_1d",
            DType::U8,
            &[5000],
            Config::abs(2.0),
            2048,
        ),
        c2(
            "tiles6_abs3_i32_2d",
            DType::I32,
            &[70, 61],
            Config::abs(3.0),
            1 << 20,
        ),
        c2(
            "lossless_f32_2d",
            DType::F32,
            &[45, 31],
            Config::lossless(),
            1 << 18,
        ),
        c2(
            "lossless_i16_4d",
            DType::I16,
            &[2, 3, 9, 10],
            Config::lossless(),
            400,
        ),
        c2(
            "lossless_u8_const",
            DType::U8,
            &[4000],
            Config::lossless(),
            1 << 18,
        ),
        c2(
            "abs4_u16_3d",
            DType::U16,
            &[6, 33, 40],
            Config::abs(4.0),
            8192,
        ),
        c2("abs_f64_1d", DType::F64, &[777], Config::abs(0.001), 1024),
        c2(
            "abs2_i32_3d",
            DType::I32,
            &[5, 16, 17],
            Config::abs(2.0),
            1 << 18,
        ),
        c2(
            "palette_u16_3d",
            DType::U16,
            &[4, 32, 32],
            Config::lossless(),
            4096,
        ),
        c2(
            "apr_u16_3d",
            DType::U16,
            &[16, 48, 40],
            Config::apr(0.1),
            16384,
        ),
        c2("apr_f32_2d", DType::F32, &[64, 50], Config::apr(0.1), 4096),
        c2("apr_u8_1d", DType::U8, &[300], Config::apr(0.2), 100),
        c2(
            "edge_lossless_u16_3d",
            DType::U16,
            &[8, 20, 24],
            Config::lossless(),
            1024,
        ),
        c2(
            "edge_abs4_u16_3d",
            DType::U16,
            &[8, 20, 24],
            Config::abs(4.0),
            2048,
        ),
        c2(
            "edge_apr_u16_3d",
            DType::U16,
            &[8, 20, 24],
            Config::apr(0.1),
            1 << 18,
        ),
        c2(
            "edgez_apr_f32_3d",
            DType::F32,
            &[8, 20, 24],
            Config::apr(0.1),
            4096,
        ),
        c2(
            "consttile_u16_3d",
            DType::U16,
            &[4, 32, 32],
            Config::abs(1.0),
            2048,
        ),
        // Format version 3 (FORMAT.md §6): noise mode, method 7 tiles with a per-block step map.
        c3(
            "noise_u16_3d",
            DType::U16,
            &[16, 48, 40],
            Config::noise(0.5),
            16384,
        ),
        c3(
            "noisy_k1_u16_3d",
            DType::U16,
            &[9, 40, 52],
            Config::noise(1.0),
            1 << 20,
        ),
        c3(
            "noisy_k05_i16_4d",
            DType::I16,
            &[2, 3, 9, 40],
            Config::noise(0.5),
            1000,
        ),
        c3(
            "noisy_k2_u8_1d",
            DType::U8,
            &[5000],
            Config::noise(2.0),
            2048,
        ),
        c3(
            "noisy_k05_i32_2d",
            DType::I32,
            &[70, 61],
            Config::noise(0.5),
            1 << 20,
        ),
        c3(
            "noisy_k05_u32_3d",
            DType::U32,
            &[5, 33, 47],
            Config::noise(0.5),
            1 << 20,
        ),
        c3(
            "edge_noisy_k05_u16_3d",
            DType::U16,
            &[8, 20, 24],
            Config::noise(0.5),
            2048,
        ),
        c3(
            "consttile_noise_u16_3d",
            DType::U16,
            &[4, 32, 32],
            Config::noise(0.5),
            2048,
        ),
        c3(
            "noisy_k0_u16_3d",
            DType::U16,
            &[6, 33, 40],
            Config::noise(0.0),
            1 << 20,
        ),
        // Format version 4 (FORMAT.md §7): apr mode with LibAPR's condition at every pixel
        // (method 7 bound maps, method 8 for floats, method 3 where it verifies, constant and
        // partial-box tiles). Cases named "smooth" have no noise.
        c4(
            "apr_u16_3d",
            DType::U16,
            &[16, 48, 40],
            Config::apr(0.1),
            1 << 20,
        ),
        c4(
            "smooth_apr_u16_3d",
            DType::U16,
            &[8, 40, 48],
            Config::apr(0.2),
            8192,
        ),
        c4("apr_u8_1d", DType::U8, &[3000], Config::apr(0.2), 2048),
        c4(
            "edge_apr_i16_3d",
            DType::I16,
            &[8, 20, 24],
            Config::apr(0.1),
            2048,
        ),
        c4(
            "apr_f32_2d",
            DType::F32,
            &[64, 50],
            Config::apr(0.1),
            1 << 20,
        ),
        c4(
            "smooth_apr_f32_3d",
            DType::F32,
            &[8, 40, 48],
            Config::apr(0.4),
            16384,
        ),
        // Format version 5 (FORMAT.md §9): palette tiles coded as method 9 (u8 indices for
        // palettes of <= 256 values, u16 above), lossless and abs, several tiles, an edge box.
        c5(
            "palette_u16_3d",
            DType::U16,
            &[4, 32, 32],
            Config::lossless(),
            2048,
        ),
        c5(
            "palette_abs2_u16_3d",
            DType::U16,
            &[6, 33, 40],
            Config::abs(2.0),
            4096,
        ),
        c5(
            "palettewide_u16_3d",
            DType::U16,
            &[4, 40, 48],
            Config::lossless(),
            1 << 20,
        ),
        c5(
            "palette_i16_3d",
            DType::I16,
            &[3, 30, 34],
            Config::lossless(),
            1 << 20,
        ),
        c5(
            "palette_u8_2d",
            DType::U8,
            &[50, 60],
            Config::lossless(),
            1024,
        ),
        c5(
            "edge_palette_u16_3d",
            DType::U16,
            &[6, 33, 40],
            Config::lossless(),
            1 << 20,
        ),
        // Format version 5 (FORMAT.md §8): noise mode with the variance floor c in every
        // method-7 body. Same inputs as the version 3 cases ("dark" cases: a noisy dark
        // background, where the floor matters).
        c5(
            "noisy_k05_u16_3d",
            DType::U16,
            &[16, 48, 40],
            Config::noise(0.5),
            16384,
        ),
        c5(
            "noisy_k1_u16_3d",
            DType::U16,
            &[9, 40, 52],
            Config::noise(1.0),
            1 << 20,
        ),
        c5(
            "noisy_k05_i16_4d",
            DType::I16,
            &[2, 3, 9, 40],
            Config::noise(0.5),
            1000,
        ),
        c5(
            "noisy_k2_u8_1d",
            DType::U8,
            &[5000],
            Config::noise(2.0),
            2048,
        ),
        c5(
            "noisy_k05_u32_3d",
            DType::U32,
            &[5, 33, 47],
            Config::noise(0.5),
            1 << 20,
        ),
        c5(
            "edge_noisy_k05_u16_3d",
            DType::U16,
            &[8, 20, 24],
            Config::noise(0.5),
            2048,
        ),
        c5(
            "consttile_noise_u16_3d",
            DType::U16,
            &[4, 32, 32],
            Config::noise(0.5),
            2048,
        ),
        c5(
            "noisy_k0_u16_3d",
            DType::U16,
            &[6, 33, 40],
            Config::noise(0.0),
            1 << 20,
        ),
        c5(
            "dark_k05_u16_3d",
            DType::U16,
            &[8, 40, 48],
            Config::noise(0.5),
            1 << 20,
        ),
        // Format version 6 (FORMAT.md §10): float abs and apr tiles as method 10 (grid indices
        // coded by method 6 as u8, u16 or u32 tiles), one and several tiles, an edge box.
        c6(
            "abs_f64_1d",
            DType::F64,
            &[777],
            Config::abs(0.001),
            1 << 20,
        ),
        c6(
            "abs_f32_3d",
            DType::F32,
            &[6, 33, 40],
            Config::abs(0.05),
            8192,
        ),
        c6(
            "abs_f32_2d",
            DType::F32,
            &[45, 31],
            Config::abs(0.0005),
            1 << 20,
        ),
        c6(
            "abs_f64_3d",
            DType::F64,
            &[5, 16, 17],
            Config::abs(2.0),
            1 << 20,
        ),
        c6(
            "edgez_abs_f32_3d",
            DType::F32,
            &[8, 20, 24],
            Config::abs(0.1),
            4096,
        ),
        c6(
            "apr_f32_2d",
            DType::F32,
            &[64, 50],
            Config::apr(0.1),
            1 << 20,
        ),
        c6(
            "smooth_apr_f32_3d",
            DType::F32,
            &[8, 40, 48],
            Config::apr(0.4),
            16384,
        ),
    ]
}

/// Deterministic test input: blobs on a noisy background (integer-valued noise from a LCG).
fn input(case: &Case) -> Vec<u8> {
    let n: usize = case.shape.iter().product();
    let mut s: u64 = 0x1234_5678;
    let mut out = Vec::with_capacity(n * case.dtype.size());
    let last = *case.shape.last().unwrap();
    for i in 0..n {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = ((s >> 33) % 11) as f64 - 5.0;
        let (y, x) = ((i % last) as f64, (i / last) as f64);
        let blob = 2000.0 * (-((y - 20.0).powi(2) + (x % 40.0 - 15.0).powi(2)) / 60.0).exp();
        // v3 cases named "noisy": noise growing with the intensity (Poisson-like, var ~ 2 I).
        let noise = if case.name.contains("noisy") {
            noise * (2.0 * (100.0 + blob)).sqrt() / 3.0
        } else if case.name.contains("dark") {
            // Read noise (sd ~ 3) on a dark background plus shot noise on the blobs.
            noise * (9.0 + 0.5 * blob).sqrt() / 3.0
        } else if case.name.contains("smooth") {
            0.0
        } else {
            noise
        };
        let v = 100.0 + blob + noise;
        match case.dtype {
            // v5 palette cases: sparse values (a step of 5, 47, 3 or 29).
            DType::U8 if case.name.contains("palette") => out.push(((v / 50.0) as u8) * 5),
            DType::U8 => out.push((v / 10.0).min(255.0) as u8),
            DType::I8 => out.push(((v / 20.0) - 100.0) as i8 as u8),
            DType::U16 if case.name.contains("palettewide") => {
                out.extend_from_slice(&((v as u16) * 3).to_le_bytes())
            }
            DType::U16 if case.name.contains("palette") => {
                out.extend_from_slice(&(((v / 50.0) as u16) * 47).to_le_bytes())
            }
            DType::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
            DType::I16 if case.name.contains("palette") => {
                out.extend_from_slice(&(((v / 20.0) as i16 - 40) * 29).to_le_bytes())
            }
            DType::I16 => out.extend_from_slice(&((v - 1000.0) as i16).to_le_bytes()),
            DType::U32 => out.extend_from_slice(&((v * 1000.0) as u32).to_le_bytes()),
            DType::I32 => out.extend_from_slice(&((v - 500.0) as i32 * 3).to_le_bytes()),
            DType::F32 => out.extend_from_slice(&((v / 7.0) as f32).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&(v / 13.0).to_le_bytes()),
        }
    }
    if case.name.ends_with("const") {
        out.iter_mut().for_each(|b| *b = 42);
    }
    let es = case.dtype.size();
    let [z, x, y] = h5z_apr::codec::view3(&case.shape);
    // HDF5's padding of a partial edge chunk: zeros (the fill value) outside the data.
    let data_box = if case.name.starts_with("edgez") {
        Some([5, x, y])
    } else if case.name.starts_with("edge") {
        Some([5, 17, 21])
    } else {
        None
    };
    for (i, e) in out.chunks_exact_mut(es).enumerate() {
        let (zi, xi, yi) = (i / (x * y), (i / y) % x, i % y);
        if let Some(b) = data_box {
            if zi >= b[0] || xi >= b[1] || yi >= b[2] {
                e.fill(0);
            }
        }
        // One plane of one value: a constant (method 5) tile.
        if case.name.starts_with("consttile") && zi == 1 {
            e.fill(7);
        }
    }
    let _ = z;
    out
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Writes missing golden files (only with H5Z_APR_WRITE_GOLDEN=1); never overwrites.
fn maybe_write() {
    if std::env::var("H5Z_APR_WRITE_GOLDEN").as_deref() != Ok("1") {
        return;
    }
    for case in cases() {
        let path = dir().join(format!("v{}_{}.apr", case.version, case.name));
        if path.exists() || case.version != h5z_apr::codec::FORMAT_VERSION {
            continue;
        }
        let s = compress_with_tile_target(
            &input(&case),
            case.dtype,
            &case.shape,
            &case.cfg.clone().with_threads(1),
            case.target,
        )
        .unwrap();
        std::fs::write(&path, &s).unwrap();
        let (_, out) = decompress(&s).unwrap();
        let manifest = dir().join(format!("v{}.manifest", case.version));
        let mut m = std::fs::read_to_string(&manifest).unwrap_or_default();
        m.push_str(&format!("{} {:08x}\n", case.name, crc32(&out)));
        std::fs::write(&manifest, m).unwrap();
        eprintln!("wrote {}", path.display());
    }
}

#[test]
fn golden_streams_decode_forever() {
    maybe_write();
    let mut checked = 0;
    for case in cases() {
        let path = dir().join(format!("v{}_{}.apr", case.version, case.name));
        let s = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("missing golden file {}: {e}", path.display()));
        let manifest =
            std::fs::read_to_string(dir().join(format!("v{}.manifest", case.version))).unwrap();
        let want = manifest
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{} ", case.name)))
            .unwrap_or_else(|| panic!("{} not in manifest", case.name));
        let (h, out) = decompress(&s).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        // Any thread count decodes the same bytes.
        for t in [1, 2, 3, 8] {
            let mut o = vec![0u8; out.len()];
            decompress_into_threads(&s, &mut o, t).unwrap();
            assert!(o == out, "{}: {t} threads decode differently", case.name);
        }
        assert_eq!(h.version, case.version);
        assert_eq!(h.dtype, case.dtype);
        assert_eq!(h.shape, case.shape);
        assert_eq!(h.mode, case.cfg.mode, "{}", case.name);
        assert_eq!(
            format!("{:08x}", crc32(&out)),
            want.trim(),
            "{}: decoded bytes changed",
            case.name
        );
        let orig = input(&case);
        match case.cfg.mode {
            Mode::Lossless => assert_eq!(out, orig, "{}", case.name),
            Mode::Abs(b) => {
                for (x, y) in values(case.dtype, &orig)
                    .iter()
                    .zip(values(case.dtype, &out))
                {
                    assert!((x - y).abs() <= b, "{}: {x} -> {y}", case.name);
                }
            }
            Mode::Apr(e) if case.version >= 4 => {
                // LibAPR's condition at every pixel (FORMAT.md §7.1).
                let sig = local_scale_with_tile_target(
                    &orig,
                    case.dtype,
                    &case.shape,
                    &case.cfg,
                    Some(case.target),
                );
                for ((x, y), s) in values(case.dtype, &orig)
                    .iter()
                    .zip(values(case.dtype, &out))
                    .zip(sig)
                {
                    assert!(
                        (x - y).abs() <= e * s as f64,
                        "{}: {x} -> {y}, E*sigma {}",
                        case.name,
                        e * s as f64
                    );
                }
            }
            Mode::Apr(_) => assert_eq!(out.len(), orig.len()),
            Mode::Noise(_) => {
                let (bound, _) = noise_bound_with_tile_target(
                    &orig,
                    case.dtype,
                    &case.shape,
                    &case.cfg,
                    Some(case.target),
                );
                for ((x, y), b) in values(case.dtype, &orig)
                    .iter()
                    .zip(values(case.dtype, &out))
                    .zip(bound)
                {
                    assert!((x - y).abs() <= b, "{}: {x} -> {y} > {b}", case.name);
                }
            }
        }
        if case.version == 1 && !matches!(case.cfg.mode, Mode::Apr(_)) {
            // The v1 encoder is still reachable (for tests and benchmarks) and still writes
            // exactly these bytes (lossless/abs; the apr encoder's choices have moved since).
            let again = compress_v1(&orig, case.dtype, &case.shape, &case.cfg).unwrap();
            assert!(again == s, "{}: v1 encoder output changed", case.name);
        }
        // Float apr tiles of versions 4 and 5 are written as method 10 since version 6 (the
        // version 6 cases hold today's bytes); they keep decoding.
        let float_before_grid = case.dtype.is_float() && case.version < 6;
        if case.version >= 4 && !float_before_grid {
            // Apr mode is still written exactly as when the version 4 goldens were written, and
            // noise mode as the version 5 goldens (version 3 noise streams are no longer
            // written: version 5 added the floor c, FORMAT.md §8; they keep decoding).
            let again = compress_with_tile_target(
                &orig,
                case.dtype,
                &case.shape,
                &case.cfg.clone().with_threads(1),
                case.target,
            )
            .unwrap();
            assert!(again == s, "{}: encoder output changed", case.name);
        }
        checked += 1;
    }
    assert_eq!(checked, cases().len());
}
