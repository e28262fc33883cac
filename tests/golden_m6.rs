//! Golden method-6 bodies (FORMAT.md §5): `tests/golden/v2_m6_<case>.apr` = method byte 6 +
//! body of one format-version-2 tile, written once by this file's generator and never
//! overwritten; `tests/golden/v2_m6.manifest` holds per case `name dtype_code Z X Y k crc32`
//! (CRC-32 of the decoded little-endian elements). They keep decoding bit-identically forever,
//! here and in the reference decoder (tests/python/test_reference_m6.py). Until the v2
//! container exists they are bare tile bodies (the lead may wrap them into v2 streams).
//! To add cases: add them to `cases()` and run
//! `H5Z_APR_WRITE_GOLDEN=1 cargo test --release --test golden_m6` (existing files are kept).

use h5z_apr::codec::{crc32, m6, values_f64 as values, Config, DType};
use std::path::PathBuf;

struct Case {
    name: &'static str,
    dtype: DType,
    shape: [usize; 3],
    k: i64,
}

fn cases() -> Vec<Case> {
    let c = |name, dtype, shape, k| Case {
        name,
        dtype,
        shape,
        k,
    };
    vec![
        c("lossless_u16", DType::U16, [6, 33, 40], 0),
        c("lossless_u8", DType::U8, [1, 45, 31], 0),
        c("lossless_i8", DType::I8, [2, 9, 70], 0),
        c("lossless_i16", DType::I16, [3, 17, 20], 0),
        c("lossless_u32", DType::U32, [4, 16, 17], 0),
        c("lossless_i32", DType::I32, [5, 16, 17], 0),
        c("lossless_f32", DType::F32, [3, 20, 21], 0),
        c("lossless_u16_one", DType::U16, [1, 1, 1], 0),
        c("lossless_u16_line", DType::U16, [1, 1, 300], 0),
        c("lossless_u16_const", DType::U16, [4, 8, 8], 0),
        c("abs1_u16", DType::U16, [6, 33, 40], 1),
        c("abs4_u16", DType::U16, [6, 33, 40], 4),
        c("abs3_i8", DType::I8, [2, 30, 31], 3),
        c("abs2_i32", DType::I32, [5, 16, 17], 2),
        c("abs100_u32", DType::U32, [3, 19, 25], 100),
    ]
}

fn lcg(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *s >> 33
}

/// Deterministic input: a smooth field plus noise (floats with a NaN, -0.0 and inf mixed in).
fn input(c: &Case) -> Vec<u8> {
    let [nz, nx, ny] = c.shape;
    let mut s = 12345u64 + c.name.len() as u64;
    let mut out = Vec::new();
    for z in 0..nz {
        for x in 0..nx {
            for y in 0..ny {
                let f = if c.name.ends_with("const") {
                    0.0
                } else {
                    (z as f64 * 0.9).sin() * 40.0 + (x as f64 * 0.3 + y as f64 * 0.2).cos() * 60.0
                };
                let v = f as i64 + (lcg(&mut s) % 9) as i64 - 4;
                match c.dtype {
                    DType::U8 => out.push((v + 120).clamp(0, 255) as u8),
                    DType::I8 => out.push(v.clamp(-128, 127) as i8 as u8),
                    DType::U16 => out.extend_from_slice(&((v * 50 + 9000) as u16).to_le_bytes()),
                    DType::I16 => out.extend_from_slice(&((v * 200) as i16).to_le_bytes()),
                    DType::U32 => out
                        .extend_from_slice(&((v * 1_000_003 + 3_000_000_000) as u32).to_le_bytes()),
                    DType::I32 => out.extend_from_slice(&((v * 7_000_001) as i32).to_le_bytes()),
                    DType::F32 => {
                        let x = match lcg(&mut s) % 53 {
                            0 => f32::NAN,
                            1 => -0.0,
                            2 => f32::NEG_INFINITY,
                            _ => v as f32 / 7.0,
                        };
                        out.extend_from_slice(&x.to_le_bytes())
                    }
                    DType::F64 => unreachable!(),
                }
            }
        }
    }
    out
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn manifest() -> Vec<(String, u8, [usize; 3], i64, u32)> {
    let text = std::fs::read_to_string(dir().join("v2_m6.manifest")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                [
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                ],
                f[5].parse().unwrap(),
                u32::from_str_radix(f[6], 16).unwrap(),
            )
        })
        .collect()
}

#[test]
fn write_missing_goldens() {
    if std::env::var("H5Z_APR_WRITE_GOLDEN").is_err() {
        return;
    }
    let have = manifest();
    let mut text = std::fs::read_to_string(dir().join("v2_m6.manifest")).unwrap_or_default();
    for c in cases() {
        if have.iter().any(|m| m.0 == c.name) {
            continue;
        }
        let data = input(&c);
        let cfg = if c.k == 0 {
            Config::lossless()
        } else {
            Config::abs(c.k as f64)
        };
        let body = m6::encode(&data, c.dtype, c.shape, &cfg).expect("method 6 applies");
        let mut out = vec![0u8; data.len()];
        m6::decode(&body, c.dtype, c.shape, &mut out).unwrap();
        let mut file = vec![6u8];
        file.extend_from_slice(&body);
        std::fs::write(dir().join(format!("v2_m6_{}.apr", c.name)), file).unwrap();
        let [z, x, y] = c.shape;
        text.push_str(&format!(
            "{} {} {z} {x} {y} {} {:08x}\n",
            c.name,
            c.dtype.code(),
            c.k,
            crc32(&out)
        ));
    }
    std::fs::write(dir().join("v2_m6.manifest"), text).unwrap();
}

#[test]
fn goldens_decode_bit_exactly() {
    let m = manifest();
    assert!(
        m.len() >= cases().len() || std::env::var("H5Z_APR_WRITE_GOLDEN").is_ok(),
        "v2_m6.manifest lacks cases; run with H5Z_APR_WRITE_GOLDEN=1"
    );
    for (name, code, shape, k, crc) in m {
        let dtype = DType::from_code(code).unwrap();
        let file = std::fs::read(dir().join(format!("v2_m6_{name}.apr"))).unwrap();
        assert_eq!(file[0], 6, "{name}: method byte");
        let n: usize = shape.iter().product();
        let mut out = vec![0u8; n * dtype.size()];
        m6::decode(&file[1..], dtype, shape, &mut out).unwrap();
        assert_eq!(crc32(&out), crc, "{name}: decoded CRC");
        let c = cases().into_iter().find(|c| c.name == name).expect("case");
        let data = input(&c);
        if k == 0 {
            assert_eq!(out, data, "{name}: lossless");
        } else {
            for (a, b) in values(dtype, &data).iter().zip(values(dtype, &out)) {
                assert!((a - b).abs() <= k as f64, "{name}: bound");
            }
        }
        // Damage is an error, never a panic.
        for cut in 0..file.len() - 1 {
            assert!(
                m6::decode(&file[1..1 + cut], dtype, shape, &mut out).is_err(),
                "{name} cut {cut}"
            );
        }
    }
}
