//! Profiling aid: compresses and decompresses one (16,256,256) chunk of a shared-data volume,
//! for `valgrind --tool=callgrind` instruction counts (repeatable on a shared machine).
//! Usage: profile_chunk <npy> <lossless|absB|apr|apr_v2|apr_map|noise|noiseK|zstd3> [enc|dec] [m2|m6]
//! (zstd3: the zstd level 3 baseline on the same bytes, toggle `profile_chunk::zstd_enc` / `zstd_dec`)
//! (absB: abs bound B, e.g. abs4; noiseK: noise mode k = K, e.g. noise0.5; `noise` = k 0.5;
//! apr = E 0.1 as the encoder writes it, format version 4; apr_v2 = particle bodies only, the
//! encoder before version 4; apr_map = bound map only)
//! With m2 / m6 the method-2 / method-6 body is coded directly (no stream, no method choice):
//! toggle-collect `h5z_apr::codec::method::pyramid_fast::{encode,decode}` (m6) or
//! `...::pyramid_fast::{encode_m2,decode_m2}` (m2).

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, decompress, m6, AprCoding, Config, Mode};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arr = npy::read(std::path::Path::new(&a[1])).expect("npy");
    let (z, y, x) = (arr.shape[0], arr.shape[1], arr.shape[2]);
    let (cz, cy, cx) = (16.min(z), 256.min(y), 256.min(x));
    let (y0, x0) = ((y - cy) / 2, (x - cx) / 2);
    let s = arr.dtype.size();
    let mut chunk = Vec::new();
    for k in 0..cz {
        for j in y0..y0 + cy {
            let off = ((k * y + j) * x + x0) * s;
            chunk.extend_from_slice(&arr.data[off..off + cx * s]);
        }
    }
    // absB = abs bound B (abs4 as before), noiseK = noise mode k = K (noise alone: k 0.5).
    let m = a[2].as_str();
    if m == "zstd3" {
        // The baseline: zstd level 3 on the same chunk bytes (as `benches/codec.rs`' zstd-3
        // row); toggle `profile_chunk::zstd_enc` / `profile_chunk::zstd_dec`.
        let z = zstd_enc(&chunk);
        if a.get(3).map(String::as_str) == Some("dec") {
            assert_eq!(zstd_dec(&z, chunk.len()), chunk);
        }
        println!("zstd-3: {} -> {} bytes", chunk.len(), z.len());
        return;
    }
    let num = |p: &str| m.strip_prefix(p).map(|v| v.parse::<f64>().expect("number"));
    let cfg = match m {
        "lossless" => Config::lossless(),
        "noise" => Config::noise(0.5),
        "apr_v2" => Config::apr(0.1).with_apr_coding(AprCoding::Particles),
        "apr_map" => Config::apr(0.1).with_apr_coding(AprCoding::BoundMap),
        _ if m.starts_with("abs") => Config::abs(num("abs").unwrap()),
        _ if m.starts_with("noise") => Config::noise(num("noise").unwrap()),
        _ => Config::apr(0.1),
    };
    let shape = [cz, cy, cx];
    if let Some(m) = a.get(4) {
        let k = match cfg.mode {
            Mode::Abs(b) => b as i64,
            _ => 0,
        };
        let body = if m == "m6" {
            m6::encode(&chunk, arr.dtype, shape, &cfg).expect("method 6")
        } else {
            m6::encode_m2(&chunk, arr.dtype, shape, k)
        };
        if a.get(3).map(String::as_str) == Some("dec") {
            let mut out = vec![0u8; chunk.len()];
            if m == "m6" {
                m6::decode(&body, arr.dtype, shape, &mut out).expect("decode");
            } else {
                m6::decode_m2(&body, arr.dtype, shape, k, &mut out).expect("decode");
            }
            assert!(k > 0 || out == chunk);
        }
        println!("{m}: {} -> {} bytes", chunk.len(), body.len());
        return;
    }
    let st = compress(&chunk, arr.dtype, &shape, &cfg).expect("compress");
    if let Some(reps) = std::env::var("PROFILE_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        wall(&chunk, &st, cfg, arr.dtype, shape, reps);
        return;
    }
    if a.get(3).map(String::as_str) == Some("dec") {
        let (_, back) = decompress(&st).expect("decompress");
        assert_eq!(back.len(), chunk.len());
    }
    println!("{} -> {} bytes", chunk.len(), st.len());
}

/// PROFILE_REPS=N: best-of-N wall times of compress and decompress of this chunk next to
/// zstd-3 on the same bytes, as ratios (for `perf record` or a quick wall-clock check; the
/// benches remain the measurement of record).
fn wall(
    chunk: &[u8],
    st: &[u8],
    cfg: Config,
    dtype: h5z_apr::codec::DType,
    shape: [usize; 3],
    reps: usize,
) {
    let best = |f: &mut dyn FnMut()| {
        let mut b = f64::INFINITY;
        for _ in 0..reps {
            let t = std::time::Instant::now();
            f();
            b = b.min(t.elapsed().as_secs_f64());
        }
        b
    };
    let z = zstd_enc(chunk);
    let ce = best(&mut || {
        std::hint::black_box(compress(chunk, dtype, &shape, &cfg).expect("compress"));
    });
    let cd = best(&mut || {
        std::hint::black_box(decompress(st).expect("decompress"));
    });
    let ze = best(&mut || {
        std::hint::black_box(zstd_enc(chunk));
    });
    let zd = best(&mut || {
        std::hint::black_box(zstd_dec(&z, chunk.len()));
    });
    let mb = |t: f64| chunk.len() as f64 / t / 1e6;
    println!(
        "compress {:.0} MB/s ({:.2}x zstd-3 {:.0}), decompress {:.0} MB/s ({:.2}x zstd-3 {:.0})",
        mb(ce),
        ze / ce,
        mb(ze),
        mb(cd),
        zd / cd,
        mb(zd)
    );
}

#[inline(never)]
fn zstd_enc(chunk: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(chunk, 3).expect("zstd")
}

#[inline(never)]
fn zstd_dec(z: &[u8], n: usize) -> Vec<u8> {
    zstd::bulk::decompress(z, n).expect("zstd")
}
