//! Would a smooth reconstruction of apr mode's particles pay (issue 9)? For every 3-D integer
//! volume given, chunk by chunk (16, 256, 256 clipped), it computes the APR particle cells with
//! the encoder's pipeline (automatic thresholds), the particle means, and three reconstructions
//! of the SAME particles: piecewise constant (what apr mode decodes today), LibAPR's
//! `reconstruct_smooth` (pc, then per axis y, x, z a box mean of half-width
//! min(floor(2^(Lmax - level) / 2), 20) at each pixel, windows truncated at the borders), and
//! the same with the half-width halved. It prints PSNR (over the value range) and the share of
//! pixels with |I - I'| > E * sigma_local for each. The stored size is the same for all three
//! (the stream codes only the particles), so the PSNR difference is what a smooth decoder buys.
//! Usage: cargo run --release --example apr_smooth_probe -- volume.npy [more.npy ...]

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::apr::{
    compute_particle_cells, local_intensity_scale, reconstruct_pc, sample_means, ParticleCells,
};
use h5z_apr::codec::{values_f64, AprParams};
use ndarray::{Array3, ArrayView3, Axis};

/// Level of the particle covering each pixel.
fn level_map(cells: &ParticleCells) -> Array3<f32> {
    let mut lev = Vec::with_capacity(cells.num_particles());
    for l in 0..=cells.level_max() {
        lev.extend(std::iter::repeat(l as f32).take(cells.num_particles_at(l)));
    }
    let [z, x, y] = cells.shape();
    let mut out = Array3::<f32>::zeros((z, x, y));
    reconstruct_pc(cells, &lev, out.view_mut());
    out
}

/// Per axis y, x, z: box mean of half-width `min(floor(2^(lmax - level) / 2) >> shift, 20)`.
fn smooth(pc: &Array3<f32>, lev: &Array3<f32>, lmax: u32, shift: u32) -> Array3<f32> {
    let mut cur = pc.clone();
    for ax in [2usize, 1, 0] {
        let mut next = cur.clone();
        for (mut line_out, (line_in, line_lev)) in next
            .lanes_mut(Axis(ax))
            .into_iter()
            .zip(cur.lanes(Axis(ax)).into_iter().zip(lev.lanes(Axis(ax))))
        {
            let n = line_in.len();
            let mut pre = vec![0f64; n + 1];
            for (i, &v) in line_in.iter().enumerate() {
                pre[i + 1] = pre[i] + v as f64;
            }
            for p in 0..n {
                let w = (((1usize << (lmax - line_lev[p] as u32)) / 2) >> shift).min(20);
                let (a, b) = (p.saturating_sub(w), (p + w).min(n - 1));
                line_out[p] = ((pre[b + 1] - pre[a]) / (b + 1 - a) as f64) as f32;
            }
        }
        cur = next;
    }
    cur
}

fn main() {
    let es = [0.05f32, 0.1, 0.2, 0.4];
    println!("| volume | E | particles/px | PSNR pc dB | PSNR smooth dB | PSNR smooth/2 dB | px > E*sigma pc % | smooth % | smooth/2 % |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for path in std::env::args().skip(1) {
        let arr = npy::read(std::path::Path::new(&path)).expect("npy");
        if arr.shape.len() != 3 || arr.dtype.is_float() {
            eprintln!("{path}: not a 3-D integer volume, skipped");
            continue;
        }
        let (nz, nx, ny) = (arr.shape[0], arr.shape[1], arr.shape[2]);
        let vals: Vec<f32> = values_f64(arr.dtype, &arr.data)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let vol = ArrayView3::from_shape((nz, nx, ny), &vals).expect("shape");
        let lo = vals.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let hi = vals.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let range = (hi - lo).max(1.0);
        let p = AprParams::default();
        for &e in &es {
            let (mut sse, mut viol, mut parts) = ([0f64; 3], [0usize; 3], 0usize);
            for z0 in (0..nz).step_by(16) {
                for x0 in (0..nx).step_by(256) {
                    for y0 in (0..ny).step_by(256) {
                        let c = vol
                            .slice(ndarray::s![
                                z0..(z0 + 16).min(nz),
                                x0..(x0 + 256).min(nx),
                                y0..(y0 + 256).min(ny)
                            ])
                            .to_owned();
                        let (cells, _) = compute_particle_cells(c.view(), e, &p);
                        parts += cells.num_particles();
                        let means = sample_means(c.view(), &cells);
                        let mut pc = Array3::<f32>::zeros(c.dim());
                        reconstruct_pc(&cells, &means, pc.view_mut());
                        let lev = level_map(&cells);
                        let sig = local_intensity_scale(c.view(), &p);
                        let recs = [
                            pc.clone(),
                            smooth(&pc, &lev, cells.level_max(), 0),
                            smooth(&pc, &lev, cells.level_max(), 1),
                        ];
                        for (k, r) in recs.iter().enumerate() {
                            for ((idx, &o), &v) in c.indexed_iter().zip(r.iter()) {
                                // Integer output: the decoder rounds.
                                let d = (v.round() - o) as f64;
                                sse[k] += d * d;
                                let s = sig[[idx.0 / 2, idx.1 / 2, idx.2 / 2]] as f64;
                                if d.abs() > e as f64 * s {
                                    viol[k] += 1;
                                }
                            }
                        }
                    }
                }
            }
            let n = vals.len() as f64;
            let psnr = |s: f64| 10.0 * (range * range / (s / n)).log10();
            let name = std::path::Path::new(&path)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            println!(
                "| {name} | {e} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                parts as f64 / n,
                psnr(sse[0]),
                psnr(sse[1]),
                psnr(sse[2]),
                100.0 * viol[0] as f64 / n,
                100.0 * viol[1] as f64 / n,
                100.0 * viol[2] as f64 / n
            );
        }
    }
}
