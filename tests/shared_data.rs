//! Every volume in ../shared/data, chunked (16,256,256) as the benchmarks do: lossless is
//! bit-exact and abs mode holds its bound on every element. Skips loudly without the data.

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, decompress, values_f64, Config};
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!(
            "SKIPPED: {} not found; real-data tests need the shared data",
            d.display()
        );
        None
    }
}

fn npy_files(dir: &PathBuf) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(npy_files(&p));
        } else if p.extension().is_some_and(|x| x == "npy") {
            v.push(p);
        }
    }
    v.sort();
    v
}

/// (chunk shape, bytes) of a 2-D or 3-D array in chunks of (16,256,256) clipped to it.
fn chunks(shape: &[usize], data: &[u8], es: usize) -> Vec<(Vec<usize>, Vec<u8>)> {
    let (z, y, x) = match shape.len() {
        2 => (1, shape[0], shape[1]),
        _ => (shape[0], shape[1], shape[2]),
    };
    let mut out = Vec::new();
    for z0 in (0..z).step_by(16) {
        for y0 in (0..y).step_by(256) {
            for x0 in (0..x).step_by(256) {
                let (dz, dy, dx) = ((z - z0).min(16), (y - y0).min(256), (x - x0).min(256));
                let mut b = Vec::with_capacity(dz * dy * dx * es);
                for k in z0..z0 + dz {
                    for j in y0..y0 + dy {
                        let off = ((k * y + j) * x + x0) * es;
                        b.extend_from_slice(&data[off..off + dx * es]);
                    }
                }
                out.push((vec![dz, dy, dx], b));
            }
        }
    }
    out
}

#[test]
fn every_shared_volume_round_trips() {
    let Some(dir) = data_dir() else { return };
    let files = npy_files(&dir);
    assert!(
        files.len() >= 8,
        "expected the shared .npy volumes, found {}",
        files.len()
    );
    for f in files {
        let a = npy::read(&f).unwrap();
        let es = a.dtype.size();
        let range = {
            let v = values_f64(a.dtype, &a.data);
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        let bound = if a.dtype.is_float() {
            range / 100.0
        } else {
            4.0
        };
        let (mut raw, mut ll, mut ab) = (0usize, 0usize, 0usize);
        for (shape, c) in chunks(&a.shape, &a.data, es) {
            let s = compress(&c, a.dtype, &shape, &Config::lossless()).unwrap();
            assert_eq!(decompress(&s).unwrap().1, c, "{}: lossless", f.display());
            let t = compress(&c, a.dtype, &shape, &Config::abs(bound)).unwrap();
            let back = decompress(&t).unwrap().1;
            for (x, y) in values_f64(a.dtype, &c)
                .into_iter()
                .zip(values_f64(a.dtype, &back))
            {
                assert!(
                    (x - y).abs() <= bound,
                    "{}: abs {bound}: {x} -> {y}",
                    f.display()
                );
            }
            raw += c.len();
            ll += s.len();
            ab += t.len();
        }
        eprintln!(
            "{}: lossless {:.2}x, abs {bound:.4} {:.2}x",
            f.file_name().unwrap().to_string_lossy(),
            raw as f64 / ll as f64,
            raw as f64 / ab as f64
        );
    }
}
