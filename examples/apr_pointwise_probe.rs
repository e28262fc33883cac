//! apr mode against LibAPR's pointwise condition |I - I'| <= E * sigma_local (issue 9): on every
//! 3-D integer volume under DATA_DIR (chunks of (16, 256, 256) clipped to the volume, at most 8
//! per volume, evenly spaced), for E in 0.05, 0.1, 0.2, 0.4, the ratio, PSNR, max |I - I'| /
//! sigma_local and the share of pixels beyond E * sigma_local of
//! (float volumes too, apr rows only)
//! (a) the particle bodies alone (method 3, format version 2, the encoder before version 4),
//! (b) the bound map alone (method 7 with floor(E * min sigma_local) per 4x16x16 block),
//! (c) what the version 4 encoder writes (method 3 where verified and smaller, else (b)),
//! and of abs 1, 4, 16, 64. sigma_local = `codec::local_scale_for` (per tile, after the sigma
//! floor; E does not change it). PSNR = 20 log10(range of the measured chunks / RMSE).
//! Counts only, no timing. Usage: apr_pointwise_probe [DATA_DIR]

#[path = "../tests/data_support/mod.rs"]
mod data_support;
#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, decompress, local_scale_for, values_f64, AprCoding, Config, DType};

/// (chunk shape, bytes) of a 3-D array, chunks of (16, 256, 256), at most `max` evenly spaced.
fn chunks(shape: &[usize], data: &[u8], es: usize, max: usize) -> Vec<([usize; 3], Vec<u8>)> {
    let all = data_support::chunks(shape, data, es);
    let step = all.len().div_ceil(max);
    all.into_iter()
        .step_by(step)
        .map(|(s, b)| ([s[0], s[1], s[2]], b))
        .collect()
}

#[derive(Default)]
struct Acc {
    raw: usize,
    coded: usize,
    sq: f64,
    n: usize,
    worst: f64,
    viol: usize,
}

fn measure(
    ch: &[([usize; 3], Vec<u8>)],
    sig: &[Vec<f32>],
    dtype: DType,
    cfg: &Config,
    e: f64,
) -> Acc {
    let mut a = Acc::default();
    for ((shape, buf), sg) in ch.iter().zip(sig) {
        let s = compress(buf, dtype, shape, cfg).expect("compress");
        let (_, back) = decompress(&s).expect("decompress");
        a.raw += buf.len();
        a.coded += s.len();
        let (x, y) = (values_f64(dtype, buf), values_f64(dtype, &back));
        for i in 0..x.len() {
            let err = (x[i] - y[i]).abs();
            a.sq += err * err;
            a.n += 1;
            let r = err / sg[i] as f64;
            if r.is_finite() {
                a.worst = a.worst.max(r);
            }
            if err > e * sg[i] as f64 {
                a.viol += 1;
            }
        }
    }
    a
}

fn psnr(a: &Acc, range: f64) -> String {
    if a.sq == 0.0 {
        return "inf".into();
    }
    format!("{:.1}", 20.0 * (range / (a.sq / a.n as f64).sqrt()).log10())
}

fn main() {
    let (_, files) = data_support::npy_files_from_args();
    let mut apr_rows = Vec::new();
    let mut abs_rows = Vec::new();
    for f in files {
        let a = npy::read(&f).expect("npy");
        if a.shape.len() != 3 {
            continue;
        }
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let ch = chunks(&a.shape, &a.data, a.dtype.size(), 8);
        let vals: Vec<f64> = ch
            .iter()
            .flat_map(|(_, b)| values_f64(a.dtype, b))
            .collect();
        let range = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - vals.iter().copied().fold(f64::INFINITY, f64::min);
        let sig: Vec<Vec<f32>> = ch
            .iter()
            .map(|(s, b)| local_scale_for(b, a.dtype, s, &Config::apr(0.1)))
            .collect();
        let label = format!(
            "{name} {}x({})",
            ch.len(),
            ch[0].0.map(|v| v.to_string()).join("x")
        );
        for e in [0.05, 0.1, 0.2, 0.4] {
            let m =
                |c: AprCoding| measure(&ch, &sig, a.dtype, &Config::apr(e).with_apr_coding(c), e);
            let (p, b, v) = (
                m(AprCoding::Particles),
                m(AprCoding::BoundMap),
                m(AprCoding::Pointwise),
            );
            let cell = |x: &Acc| {
                format!(
                    "{:.2} | {} | {:.3} | {:.2}",
                    x.raw as f64 / x.coded as f64,
                    psnr(x, range),
                    x.worst,
                    100.0 * x.viol as f64 / x.n as f64
                )
            };
            let row = format!(
                "| {label} | {e} | {} | {} | {} |",
                cell(&p),
                cell(&b),
                cell(&v)
            );
            eprintln!("{row}");
            apr_rows.push(row);
        }
        // abs bounds in counts: integer volumes only.
        let bounds: &[f64] = if a.dtype.is_float() {
            &[]
        } else {
            &[1.0, 4.0, 16.0, 64.0]
        };
        for &k in bounds {
            let x = measure(&ch, &sig, a.dtype, &Config::abs(k), 0.1);
            let row = format!(
                "| {label} | {k} | {:.2} | {} | {:.3} |",
                x.raw as f64 / x.coded as f64,
                psnr(&x, range),
                x.worst
            );
            eprintln!("{row}");
            abs_rows.push(row);
        }
    }
    println!("apr mode: (a) particles only (method 3, v2) | (b) bound map only (method 7) | (c) v4 encoder; each: ratio | PSNR dB | max err/sigma | px > E*sigma %\n");
    println!("| volume (chunks) | E | (a) ratio | (a) PSNR | (a) max e/s | (a) viol % | (b) ratio | (b) PSNR | (b) max e/s | (b) viol % | (c) ratio | (c) PSNR | (c) max e/s | (c) viol % |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &apr_rows {
        println!("{r}");
    }
    println!("\nabs mode (max err/sigma against the same sigma_local):\n");
    println!("| volume (chunks) | abs | ratio | PSNR | max e/s |");
    println!("|---|---:|---:|---:|---:|");
    for r in &abs_rows {
        println!("{r}");
    }
}
