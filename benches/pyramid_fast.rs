//! Method 6 (pyramid-fast, FORMAT.md §5) against method 2 (today's pyramid, §2.4) and zstd-3:
//! for each volume of the README table, chunks (16,256,256) clipped to the volume, lossless and
//! abs 1 / abs 4 (integers; f32 lossless only: float abs stays on method 2), the bodies of both
//! methods coded directly (no container, no method choice), single core. Ratios to zstd-3 are
//! measured in the same run on the same chunks (best of 3 wall times; the machine is shared).
//!
//! Run: `cargo bench --bench pyramid_fast` (optional args: dataset-name filters, `--quick`).

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{m6, values_f64, Config, DType};
use std::path::Path;
use std::time::Instant;

#[path = "support/volumes.rs"]
mod volumes;
use volumes::{chunks, load};

/// Best wall time of a few repetitions (the machines are shared and noisy).
fn best_of<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let reps = if std::env::args().any(|a| a == "--quick") {
        1
    } else {
        3
    };
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..reps {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("reps >= 1"))
}

fn shape3(s: &[usize]) -> [usize; 3] {
    [s[0], s[1], s[2]]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if !root.is_dir() {
        eprintln!(
            "SKIP: {} not found; the benchmark needs the shared data",
            root.display()
        );
        return;
    }
    println!("| dataset | setting | ratio m2 | ratio m6 | m6 size / m2 | comp m2 vs zstd-3 | comp m6 vs zstd-3 | decomp m2 vs zstd-3 | decomp m6 vs zstd-3 | m6 comp MB/s | m6 decomp MB/s | zstd-3 comp / decomp MB/s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for v in load(&root) {
        if !args.is_empty() && !args.iter().any(|a| v.name.contains(a.as_str())) {
            continue;
        }
        let ch = chunks(&v);
        let raw: usize = ch.iter().map(|c| c.1.len()).sum();
        let mb = raw as f64 / 1e6;
        let (zc, zs) = best_of(|| {
            ch.iter()
                .map(|c| zstd::bulk::compress(&c.1, 3).unwrap())
                .collect::<Vec<_>>()
        });
        let (zd, _) = best_of(|| {
            for (z, c) in zs.iter().zip(&ch) {
                let d = zstd::bulk::decompress(z, c.1.len()).unwrap();
                assert_eq!(d.len(), c.1.len());
            }
        });
        let settings: &[(&str, i64)] = if v.dtype.is_float() {
            &[("lossless", 0)]
        } else {
            &[("lossless", 0), ("abs 1", 1), ("abs 4", 4)]
        };
        for &(name, k) in settings {
            let cfg = if k == 0 {
                Config::lossless()
            } else {
                Config::abs(k as f64)
            };
            let (c2, b2) = best_of(|| {
                ch.iter()
                    .map(|c| m6::encode_m2(&c.1, v.dtype, shape3(&c.0), k))
                    .collect::<Vec<_>>()
            });
            let (c6, b6) = best_of(|| {
                ch.iter()
                    .map(|c| {
                        m6::encode(&c.1, v.dtype, shape3(&c.0), &cfg).expect("method 6 applies")
                    })
                    .collect::<Vec<_>>()
            });
            let mut outs: Vec<Vec<u8>> = ch.iter().map(|c| vec![0u8; c.1.len()]).collect();
            let (d2, _) = best_of(|| {
                for ((b, c), o) in b2.iter().zip(&ch).zip(outs.iter_mut()) {
                    m6::decode_m2(b, v.dtype, shape3(&c.0), k, o).unwrap();
                }
            });
            let (d6, _) = best_of(|| {
                for ((b, c), o) in b6.iter().zip(&ch).zip(outs.iter_mut()) {
                    m6::decode(b, v.dtype, shape3(&c.0), o).unwrap();
                }
            });
            // Check method 6's output (the last decode left it in `outs`).
            for (c, o) in ch.iter().zip(&outs) {
                if k == 0 {
                    assert_eq!(&c.1, o, "{} lossless mismatch", v.name);
                } else {
                    let a = values_f64(v.dtype, &c.1);
                    let b = values_f64(v.dtype, o);
                    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= k as f64));
                }
            }
            let s2: usize = b2.iter().map(|b| b.len() + 1).sum();
            let s6: usize = b6.iter().map(|b| b.len() + 1).sum();
            println!(
                "| {} | {} | {:.3} | {:.3} | {:.4} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} / {:.0} |",
                v.name,
                name,
                raw as f64 / s2 as f64,
                raw as f64 / s6 as f64,
                s6 as f64 / s2 as f64,
                zc / c2,
                zc / c6,
                zd / d2,
                zd / d6,
                mb / c6,
                mb / d6,
                mb / zc,
                mb / zd,
            );
        }
    }
    let _ = DType::U8;
}
