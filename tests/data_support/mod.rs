//! Shared test helpers for tests that read ../shared/data: where it is (skipping loudly when it
//! is absent), its .npy files, and the (16,256,256) chunking the benchmarks use.
#![allow(dead_code)]

use std::path::PathBuf;

/// `$H5Z_APR_TEST_DATA` if set (as the Python tests), else `../shared/data` next to the repo.
pub fn data_dir() -> Option<PathBuf> {
    let d = std::env::var_os("H5Z_APR_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
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

pub fn npy_files(dir: &PathBuf) -> Vec<PathBuf> {
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

/// For examples: the directory given as the first argument (default `../shared/data` next to
/// the repo) and its .npy files; exits with status 2 and a SKIP line when there are none.
pub fn npy_files_from_args() -> (PathBuf, Vec<PathBuf>) {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let files = if root.is_dir() {
        npy_files(&root)
    } else {
        Vec::new()
    };
    if files.is_empty() {
        eprintln!("SKIP: no .npy under {}", root.display());
        std::process::exit(2);
    }
    (root, files)
}

/// (chunk shape, bytes) of a 2-D or 3-D array in chunks of (16,256,256) clipped to it.
pub fn chunks(shape: &[usize], data: &[u8], es: usize) -> Vec<(Vec<usize>, Vec<u8>)> {
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
