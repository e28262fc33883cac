//! Where apr mode breaks LibAPR's pointwise condition |I - I'| <= E * sigma_local, and why:
//! for each (E, gradient threshold) it prints the ratio, max |I - I'| / sigma_local, the share
//! of pixels beyond E * sigma_local, and the same over pixels whose gradient is below the
//! automatic threshold (zeroed) vs the rest.
//! Usage: cargo run --release --example apr_probe -- volume_u16.npy [z0 nz]
use h5z_apr::codec::{self, AprParams, Config, DType};

fn load_npy_u16(p: &str) -> (Vec<usize>, Vec<u8>) {
    let b = std::fs::read(p).expect("read npy");
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = std::str::from_utf8(&b[10..10 + hl]).unwrap();
    assert!(h.contains("'<u2'"), "uint16 little-endian npy only: {h}");
    let s = &h[h.find("'shape': (").unwrap() + 10..];
    let s = &s[..s.find(')').unwrap()];
    let shape: Vec<usize> = s.split(',').filter_map(|t| t.trim().parse().ok()).collect();
    (shape, b[10 + hl..].to_vec())
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (mut shape, mut data) = load_npy_u16(&a[1]);
    if a.len() > 3 {
        let (z0, nz): (usize, usize) = (a[2].parse().unwrap(), a[3].parse().unwrap());
        let plane = shape[1] * shape[2] * 2;
        data = data[z0 * plane..(z0 + nz) * plane].to_vec();
        shape[0] = nz;
    }
    let vals: Vec<f64> = codec::values_f64(DType::U16, &data);
    println!("| E | grad_th | ratio | max err/sigma | px > E*sigma % |");
    println!("|---|---|---:|---:|---:|");
    for &e in &[0.1, 0.4] {
        for gth in [None, Some(0.0f32)] {
            let mut p = AprParams::default();
            p.grad_th = gth;
            let cfg = Config::apr(e).with_apr_params(p);
            let s = codec::compress(&data, DType::U16, &shape, &cfg).unwrap();
            let (_, back) = codec::decompress(&s).unwrap();
            let bv = codec::values_f64(DType::U16, &back);
            let sig = codec::local_scale_for(&data, DType::U16, &shape, &cfg);
            let (mut worst, mut viol) = (0f64, 0usize);
            for i in 0..vals.len() {
                let err = (vals[i] - bv[i]).abs();
                let r = err / sig[i] as f64;
                if r.is_finite() {
                    worst = worst.max(r);
                }
                if err > e * sig[i] as f64 {
                    viol += 1;
                }
            }
            println!(
                "| {e} | {} | {:.2} | {:.2} | {:.2} |",
                gth.map_or("auto".into(), |g| g.to_string()),
                data.len() as f64 / s.len() as f64,
                worst,
                100.0 * viol as f64 / vals.len() as f64
            );
        }
    }
}
