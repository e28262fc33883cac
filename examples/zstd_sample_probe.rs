//! Probe for the lossless encoder's zstd skip rule (`stream::encode_body`): for every chunk
//! (16,256,256) of the shared volumes and each of its four (16,128,128) quarters, the full
//! method-1 (zstd-shuffle) size, the method-6 body size and the sample estimate of several
//! sampling schemes. A scheme is safe when no tile where zstd wins (full < method 6) would be
//! skipped (estimate * 4 > method 6 * 5). Prints a Markdown table per scheme.
//! Run: `cargo run --release --example zstd_sample_probe [data dir]`

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
#[path = "../benches/support/volumes.rs"]
#[allow(dead_code)]
mod volumes;

use h5z_apr::codec::{m1, m6, Config};
use std::path::Path;

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data".into());
    let vols = volumes::load(Path::new(&root));
    // (name, fraction of the tile sampled, parts for a tile of n bytes)
    type Scheme = (&'static str, usize, fn(usize) -> usize);
    let schemes: [Scheme; 4] = [
        ("8 x 1/64 (before ea4c2b5)", 8, |_| 8),
        ("1/8 in 2-8 pieces (now)", 8, m1::zstd_sample_parts),
        ("1/16 in 2-4 pieces", 16, |b| {
            (b / 16 / (16 << 10)).clamp(2, 4)
        }),
        ("1/16 in 2-8 pieces", 16, |b| {
            (b / 16 / (16 << 10)).clamp(2, 8)
        }),
    ];
    // Per scheme: tiles, wrongly skipped, skipped, min / max estimate over full.
    let mut stats = vec![
        (
            0usize,
            0usize,
            0usize,
            f64::INFINITY,
            0f64,
            f64::INFINITY,
            0f64
        );
        schemes.len()
    ];
    let mut wins = 0;
    for v in &vols {
        if v.shape.len() != 3 {
            continue;
        }
        for (shape, data) in volumes::chunks(v) {
            let s = v.dtype.size();
            let mut tiles = vec![(shape.clone(), data.clone())];
            let (z, y, x) = (shape[0], shape[1], shape[2]);
            if y >= 128 && x >= 128 {
                for (y0, x0) in [(0, 0), (0, x / 2), (y / 2, 0), (y / 2, x / 2)] {
                    let (dy, dx) = (y / 2, x / 2);
                    let mut b = Vec::with_capacity(z * dy * dx * s);
                    for k in 0..z {
                        for j in y0..y0 + dy {
                            let off = ((k * y + j) * x + x0) * s;
                            b.extend_from_slice(&data[off..off + dx * s]);
                        }
                    }
                    tiles.push((vec![z, dy, dx], b));
                }
            }
            for (sh, t) in tiles {
                if t.len() < 64 << 10 {
                    continue; // the encoder tries the full candidate below 64 KiB
                }
                let Some(m) = m6::encode(&t, v.dtype, [sh[0], sh[1], sh[2]], &Config::lossless())
                else {
                    continue;
                };
                let full = m1::encode(&t, v.dtype, 3).expect("zstd").len();
                let win = full < m.len();
                wins += win as usize;
                for (st, &(_, frac, parts)) in stats.iter_mut().zip(&schemes) {
                    let p = parts(t.len());
                    let e = m1::estimate(&t, v.dtype, 3, p, frac * p).expect("zstd");
                    let skip = e * 4 > m.len() * 5;
                    let r = e as f64 / full as f64;
                    st.0 += 1;
                    st.1 += (skip && win) as usize;
                    st.2 += skip as usize;
                    st.3 = st.3.min(r);
                    st.4 = st.4.max(r);
                    if win {
                        st.5 = st.5.min(r);
                        st.6 = st.6.max(r);
                    }
                }
            }
        }
        eprintln!("{} done", v.name);
    }
    println!("tiles where zstd wins: {wins}\n");
    println!("| scheme | tiles | skipped | zstd-wins skipped (must be 0) | estimate / full | same where zstd wins |");
    println!("|---|---:|---:|---:|---|---|");
    for ((name, ..), st) in schemes.iter().zip(&stats) {
        println!(
            "| {name} | {} | {} | {} | {:.2} .. {:.2} | {:.2} .. {:.2} |",
            st.0, st.2, st.1, st.3, st.4, st.5, st.6
        );
    }
}
