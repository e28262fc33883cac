//! Every volume in ../shared/data, chunked (16,256,256) as the benchmarks do: lossless is
//! bit-exact and abs mode holds its bound on every element. Skips loudly without the data.

mod data_support;
use data_support::{chunks, data_dir, npy_files};

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, decompress, values_f64, Config};

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
