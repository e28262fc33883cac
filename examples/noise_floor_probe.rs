//! Noise mode's variance floor (format version 5, FORMAT.md §8) on real volumes: per volume,
//! chunks (16, 256, 256) zero-padded as HDF5 stores them, the fraction of 4x16x16 blocks whose
//! half-width floor(k * sigma(block min)) is 0 without the floor (c = 0, what format version 3
//! wrote) and with it, the range of the fitted c, and the stream ratio of noise mode.
//! Usage: noise_floor_probe K volume.npy ...

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, noise::half_width, noise_bound_for, values_f64, Config};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let k: f64 = a[1].parse().expect("k");
    println!("| volume | k | blocks k_j = 0, c = 0 (v3) | blocks k_j = 0, v5 | c range | sqrt(c) range | v5 ratio |");
    println!("|---|---:|---:|---:|---|---|---:|");
    for p in &a[2..] {
        let arr = npy::read(std::path::Path::new(p)).expect("npy");
        let sh = h5z_apr::codec::view3(&arr.shape);
        let es = arr.dtype.size();
        let ch = [16.min(sh[0]), 256.min(sh[1]), 256.min(sh[2])];
        let cfg = Config::noise(k);
        let (mut nb, mut z0, mut z1, mut stored, mut raw) = (0u64, 0u64, 0u64, 0usize, 0usize);
        let (mut cmin, mut cmax) = (f64::INFINITY, f64::NEG_INFINITY);
        let span = match arr.dtype.size() {
            1 => 255,
            2 => 65535,
            _ => u32::MAX as i64,
        };
        for cz in (0..sh[0]).step_by(ch[0]) {
            for cx in (0..sh[1]).step_by(ch[1]) {
                for cy in (0..sh[2]).step_by(ch[2]) {
                    let mut c = vec![0u8; ch.iter().product::<usize>() * es];
                    for z in 0..ch[0].min(sh[0] - cz) {
                        for x in 0..ch[1].min(sh[1] - cx) {
                            let n = ch[2].min(sh[2] - cy) * es;
                            let src = (((cz + z) * sh[1] + cx + x) * sh[2] + cy) * es;
                            let dst = (z * ch[1] + x) * ch[2] * es;
                            c[dst..dst + n].copy_from_slice(&arr.data[src..src + n]);
                        }
                    }
                    stored += compress(&c, arr.dtype, &ch, &cfg).expect("compress").len();
                    raw += c.len();
                    let v = values_f64(arr.dtype, &c);
                    let (_, models) = noise_bound_for(&c, arr.dtype, &ch, &cfg);
                    for (o, s, fa, fb, fc) in models {
                        cmin = cmin.min(fc as f64);
                        cmax = cmax.max(fc as f64);
                        for bz in (0..s[0]).step_by(4) {
                            for bx in (0..s[1]).step_by(16) {
                                for by in (0..s[2]).step_by(16) {
                                    let mut m = f64::INFINITY;
                                    for z in bz..(bz + 4).min(s[0]) {
                                        for x in bx..(bx + 16).min(s[1]) {
                                            for y in by..(by + 16).min(s[2]) {
                                                let i = ((o[0] + z) * ch[1] + o[1] + x) * ch[2]
                                                    + o[2]
                                                    + y;
                                                m = m.min(v[i]);
                                            }
                                        }
                                    }
                                    nb += 1;
                                    z0 += (half_width(k, fa, fb, 0.0, m, span) == 0) as u64;
                                    z1 += (half_width(k, fa, fb, fc, m, span) == 0) as u64;
                                }
                            }
                        }
                    }
                }
            }
        }
        let pc = |x: u64| 100.0 * x as f64 / nb.max(1) as f64;
        println!(
            "| {p} | {k} | {z0}/{nb} = {:.1} % | {z1}/{nb} = {:.1} % | {cmin:.4} .. {cmax:.4} | {:.3} .. {:.3} | {:.3} |",
            pc(z0),
            pc(z1),
            cmin.sqrt(),
            cmax.sqrt(),
            raw as f64 / stored as f64
        );
    }
}
