//! Writes Rust-made method-6 bodies (FORMAT.md §5) and what the Rust decoder makes of them,
//! for the reference-decoder test `tests/python/test_reference_m6.py` (until the v2 container
//! exists there is no C-API path to a method-6 tile).
//! Usage: m6_dump <out_dir>. Writes `index.txt` (lines: name dtype_code Z X Y k) and per case
//! `name.m6` (method byte 6 + body), `name.in` (input elements), `name.out` (Rust decode).

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{m6, Config, DType};
use std::fmt::Write as _;
use std::path::Path;

fn lcg(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *s >> 33
}

/// Smooth field + noise of `amp`, or raw random bytes when amp == u64::MAX.
fn synth(dtype: DType, shape: [usize; 3], amp: u64, seed: u64) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut s = seed;
    if amp == u64::MAX {
        return (0..n * dtype.size()).map(|_| lcg(&mut s) as u8).collect();
    }
    let mut out = Vec::with_capacity(n * dtype.size());
    for i in 0..n {
        let (z, x, y) = (
            i / (shape[1] * shape[2]),
            (i / shape[2]) % shape[1],
            i % shape[2],
        );
        let f =
            (z as f64 * 0.7).sin() * 30.0 + (x as f64 * 0.2).cos() * (y as f64 * 0.15).sin() * 50.0;
        let noise = if amp > 0 {
            (lcg(&mut s) % (2 * amp + 1)) as i64 - amp as i64
        } else {
            0
        };
        let v = f as i64 + noise;
        match dtype {
            DType::U8 => out.push((v + 128).clamp(0, 255) as u8),
            DType::I8 => out.push(v.clamp(-128, 127) as i8 as u8),
            DType::U16 => {
                out.extend_from_slice(&((v * 97 + 30000).clamp(0, 65535) as u16).to_le_bytes())
            }
            DType::I16 => {
                out.extend_from_slice(&((v * 97).clamp(-32768, 32767) as i16).to_le_bytes())
            }
            DType::U32 => out
                .extend_from_slice(&((v * 50_000_000 + 2_000_000_000).max(0) as u32).to_le_bytes()),
            DType::I32 => out.extend_from_slice(&((v * 20_000_000) as i32).to_le_bytes()),
            DType::F32 => {
                let x = match lcg(&mut s) % 97 {
                    0 => f32::NAN,
                    1 => -0.0,
                    2 => f32::INFINITY,
                    _ => v as f32 * 0.013,
                };
                out.extend_from_slice(&x.to_le_bytes())
            }
            DType::F64 => out.extend_from_slice(&(v as f64).to_le_bytes()),
        }
    }
    out
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: m6_dump <out_dir>");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("out dir");
    let mut index = String::new();
    let mut put = |name: &str, dtype: DType, sh: [usize; 3], k: i64, data: &[u8]| {
        let cfg = if k == 0 {
            Config::lossless()
        } else {
            Config::abs(k as f64)
        };
        let Some(body) = m6::encode(data, dtype, sh, &cfg) else {
            return;
        };
        let mut out = vec![0u8; data.len()];
        m6::decode(&body, dtype, sh, &mut out).expect("Rust decodes its own body");
        let mut b = vec![6u8];
        b.extend_from_slice(&body);
        std::fs::write(dir.join(format!("{name}.m6")), &b).expect("write");
        std::fs::write(dir.join(format!("{name}.in")), data).expect("write");
        std::fs::write(dir.join(format!("{name}.out")), &out).expect("write");
        writeln!(
            index,
            "{name} {} {} {} {} {k}",
            dtype.code(),
            sh[0],
            sh[1],
            sh[2]
        )
        .expect("fmt");
    };
    let dtypes = [
        DType::U8,
        DType::I8,
        DType::U16,
        DType::I16,
        DType::U32,
        DType::I32,
        DType::F32,
    ];
    let mut seed = 1u64;
    for dt in dtypes {
        for sh in [
            [1, 1, 1],
            [1, 1, 5],
            [1, 7, 3],
            [3, 1, 1],
            [2, 9, 17],
            [5, 12, 23],
            [9, 16, 16],
        ] {
            for amp in [0, 2, 300, u64::MAX] {
                for k in [0i64, 1, 4, 37] {
                    if dt.is_float() && k > 0 {
                        continue;
                    }
                    seed += 1;
                    let data = synth(dt, sh, amp, seed);
                    let a = if amp == u64::MAX {
                        "rnd".to_string()
                    } else {
                        amp.to_string()
                    };
                    put(
                        &format!("syn_{}_{}x{}x{}_a{a}_k{k}", dt.name(), sh[0], sh[1], sh[2]),
                        dt,
                        sh,
                        k,
                        &data,
                    );
                }
            }
        }
    }
    // Crops of the shared-data volumes (small: the reference decoder runs at ~1 M elements/s).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    for rel in [
        "lls_bead_psf_pycudadecon/psf_uint16.npy",
        "fluo_confocal_nuclei_cells3d/nuclei_uint16.npy",
        "ct_head_ge/ct_head_ge_uint16.npy",
        "ct_headsq_vtk/headsq_quarter_uint16.npy",
        "fluo_2d_timelapse_ctc/timelapse_uint8.npy",
        "cryoet_tomogram_hiv/tomo_float32.npy",
        "fluo_nuclei_stardist/img3d_uint16.npy",
    ] {
        let Ok(a) = npy::read(&root.join(rel)) else {
            eprintln!("SKIP {rel}: not readable");
            continue;
        };
        if a.shape.len() != 3 {
            continue;
        }
        let (z, y, x) = (a.shape[0], a.shape[1], a.shape[2]);
        let (cz, cy, cx) = (5.min(z), 37.min(y), 61.min(x));
        let (z0, y0, x0) = ((z - cz) / 2, (y - cy) / 2, (x - cx) / 2);
        let s = a.dtype.size();
        let mut c = Vec::new();
        for k in z0..z0 + cz {
            for j in y0..y0 + cy {
                let off = ((k * y + j) * x + x0) * s;
                c.extend_from_slice(&a.data[off..off + cx * s]);
            }
        }
        let stem = rel.split('/').next().expect("dir");
        for k in [0i64, 1, 4] {
            if a.dtype.is_float() && k > 0 {
                continue;
            }
            put(&format!("real_{stem}_k{k}"), a.dtype, [cz, cy, cx], k, &c);
        }
    }
    std::fs::write(dir.join("index.txt"), index).expect("index");
}
