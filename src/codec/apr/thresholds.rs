//! Noise estimation and automatic thresholds.
//!
//! LibAPR's automatic parameters (Li minimum-cross-entropy thresholds of the gradient and of
//! the local intensity scale) are combined with floors derived from the estimated noise level,
//! so that pure noise is not resolved as structure (see [`super::compute_particle_cells`]).

use ndarray::ArrayView3;

use super::spline::SplineFilter;

/// Samples used by the noise estimate and by the Li thresholds.
const MAX_SAMPLES: usize = 1 << 16;
/// Samples used by the Li thresholds.
const LI_SAMPLES: usize = 1 << 15;

/// Median of `v` (reorders it). `v` must be non-empty.
fn median(v: &mut [f32]) -> f32 {
    let m = v.len() / 2;
    *v.select_nth_unstable_by(m, f32::total_cmp).1
}

/// Robust estimate of the standard deviation of additive noise.
///
/// Immerkaer's operator (the product of second differences along x and y, `[1,-2,1]⊗[1,-2,1]`,
/// which cancels every locally linear signal) is applied in the (x, y) planes; the noise sigma
/// is `median(|L|) / 0.6745 / 6` (6 = the operator's L2 norm). 3x3 neighbourhoods that are
/// exactly constant (padding, saturation, empty background) are skipped, so they neither count
/// as noise-free signal nor drag the median to zero. Images with fewer than 3 pixels along x or
/// y use the 1-D operator `[1,-2,1]` (norm sqrt 6) along their longest axis.
///
/// Spatially correlated noise (e.g. CT after the reconstruction kernel) has little energy at
/// the finest scale, so the estimate is repeated on the 2x-binned image (scaled back by the
/// binning's white-noise gain) and the larger of the two is returned. Returns 0 when there is
/// nothing to measure.
pub fn estimate_noise_sigma(img: ArrayView3<f32>) -> f32 {
    let img = img.as_standard_layout();
    let (nz, nx, ny) = img.dim();
    let data = img.as_slice().expect("standard layout");
    if nx >= 3 && ny >= 3 {
        let fine = immerkaer_2d(data, nz, nx, ny);
        let (bx, by) = (nx / 2, ny / 2);
        if bx < 3 || by < 3 {
            return fine;
        }
        // enough evenly spaced slices for the sample budget
        let per_slice = (bx - 2) * (by - 2);
        let want = MAX_SAMPLES.div_ceil(per_slice).max(1);
        let zs: Vec<usize> = (0..nz).step_by((nz / want).max(1)).collect();
        let mut binned = vec![0f32; zs.len() * bx * by];
        for (bz, &z) in zs.iter().enumerate() {
            for x in 0..bx {
                let r0 = &data[(z * nx + 2 * x) * ny..][..2 * by];
                let r1 = &data[(z * nx + 2 * x + 1) * ny..][..2 * by];
                let out = &mut binned[(bz * bx + x) * by..][..by];
                for ((o, a), b) in out
                    .iter_mut()
                    .zip(r0.chunks_exact(2))
                    .zip(r1.chunks_exact(2))
                {
                    *o = 0.25 * (a[0] + a[1] + b[0] + b[1]);
                }
            }
        }
        fine.max(2.0 * immerkaer_2d(&binned, zs.len(), bx, by))
    } else {
        // 1-D along the longest axis: gather the lines contiguously
        let (n, stride, starts) = longest_axis_lines(nz, nx, ny);
        let lines: Vec<f32> = starts
            .iter()
            .flat_map(|&s| (0..n).map(move |i| data[s + i * stride]))
            .collect();
        let fine = second_diff_1d(&lines, n);
        let bn = n / 2;
        if bn < 3 {
            return fine;
        }
        let binned: Vec<f32> = lines
            .chunks_exact(n)
            .flat_map(|l| l.chunks_exact(2).take(bn).map(|p| 0.5 * (p[0] + p[1])))
            .collect();
        fine.max(std::f32::consts::SQRT_2 * second_diff_1d(&binned, bn))
    }
}

/// The lines of a C-order `(nz, nx, ny)` array along its longest axis (ties: y, then x):
/// (line length, element stride, start index of every line).
pub(crate) fn longest_axis_lines(nz: usize, nx: usize, ny: usize) -> (usize, usize, Vec<usize>) {
    if ny >= nx && ny >= nz {
        (ny, 1, (0..nz * nx).map(|i| i * ny).collect())
    } else if nx >= nz {
        (
            nx,
            ny,
            (0..nz)
                .flat_map(|z| (0..ny).map(move |y| z * nx * ny + y))
                .collect(),
        )
    } else {
        (nz, nx * ny, (0..nx * ny).collect())
    }
}

/// Immerkaer MAD estimate on up to 65536 samples of a contiguous `(nz, nx, ny)` array.
fn immerkaer_2d(data: &[f32], nz: usize, nx: usize, ny: usize) -> f32 {
    let rows = nz * (nx - 2);
    let per_row = ny - 2;
    let want_rows = MAX_SAMPLES.div_ceil(per_row).max(1);
    let step = (rows / want_rows).max(1);
    let mut vals: Vec<f32> = Vec::with_capacity(rows.div_ceil(step) * per_row);
    let mut r = 0;
    while r < rows {
        let (z, x) = (r / (nx - 2), r % (nx - 2) + 1);
        let base = z * nx * ny;
        let a = &data[base + (x - 1) * ny..][..ny];
        let b = &data[base + x * ny..][..ny];
        let c = &data[base + (x + 1) * ny..][..ny];
        for y in 1..ny - 1 {
            let lap = |row: &[f32]| row[y - 1] - 2.0 * row[y] + row[y + 1];
            let l = lap(a) - 2.0 * lap(b) + lap(c);
            if l == 0.0 {
                let v = b[y];
                let flat = [a, b, c]
                    .iter()
                    .all(|row| row[y - 1] == v && row[y] == v && row[y + 1] == v);
                if flat {
                    continue;
                }
            }
            if l.is_finite() {
                vals.push(l.abs());
            }
        }
        r += step;
    }
    if vals.is_empty() {
        return 0.0;
    }
    median(&mut vals) / 0.6745 / 6.0
}

/// `[1,-2,1]` MAD estimate over lines of length `n` stored contiguously.
fn second_diff_1d(lines: &[f32], n: usize) -> f32 {
    if n < 3 {
        return 0.0;
    }
    let total = lines.len() / n * (n - 2);
    let step = total.div_ceil(MAX_SAMPLES).max(1);
    let vals: Vec<f32> = lines
        .chunks_exact(n)
        .flat_map(|l| l.windows(3))
        .step_by(step)
        .filter(|w| !(w[0] == w[1] && w[1] == w[2]))
        .map(|w| (w[0] - 2.0 * w[1] + w[2]).abs())
        .filter(|v| v.is_finite())
        .collect();
    if vals.is_empty() {
        return 0.0;
    }
    let mut vals = vals;
    median(&mut vals) / 0.6745 / 6f32.sqrt()
}

/// Li's iterative minimum cross-entropy threshold (`t = (μ_bg - μ_fg) / (ln μ_bg - ln μ_fg)`,
/// started at the mean) of up to 32768 evenly strided samples of `v`; float tolerance
/// `min(0.01, 1e-4 · range)`. `None` if `v` is empty.
pub fn li_threshold(v: &[f32]) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let step = v.len().div_ceil(LI_SAMPLES).max(1);
    let s: Vec<f64> = v
        .iter()
        .step_by(step)
        .filter(|x| x.is_finite())
        .map(|&x| x as f64)
        .collect();
    if s.is_empty() {
        return None;
    }
    let min = s.iter().copied().fold(f64::INFINITY, f64::min);
    let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max <= min {
        return Some(min as f32);
    }
    // work on v - min (Li needs positive means)
    let tol = (1e-4 * (max - min)).min(0.01);
    // sums over the foreground only; the background follows from the totals (branch-free loop)
    let s: Vec<f64> = s.iter().map(|x| x - min).collect();
    let total: f64 = s.iter().sum();
    let n = s.len() as f64;
    let mut t = total / n;
    for _ in 0..1000 {
        // four independent accumulators so the loop vectorises
        let (mut sf4, mut nf4) = ([0f64; 4], [0f64; 4]);
        let mut chunks = s.chunks_exact(4);
        for c in &mut chunks {
            for j in 0..4 {
                let f = f64::from(u8::from(c[j] > t));
                sf4[j] += f * c[j];
                nf4[j] += f;
            }
        }
        let (mut sf, mut nf) = (sf4.iter().sum::<f64>(), nf4.iter().sum::<f64>());
        for &x in chunks.remainder() {
            let f = f64::from(u8::from(x > t));
            sf += f * x;
            nf += f;
        }
        let (sb, nb) = (total - sf, n - nf);
        if nf == 0.0 || nb == 0.0 {
            break;
        }
        let (mf, mb) = (sf / nf, sb / nb);
        if mb <= 0.0 {
            break;
        }
        let next = (mb - mf) / (mb.ln() - mf.ln());
        let done = (next - t).abs() < tol;
        t = next;
        if done {
            break;
        }
    }
    Some((t + min) as f32)
}

/// RMS magnitude of the gradient (as computed by the pipeline, on the smoothing-spline
/// coefficients) of unit-variance white noise. `active[a]` says whether axis a (z, x, y) has
/// length > 1, `smoothed[a]` whether it was smoothed (length > 2 and lambda > 0).
pub(crate) fn noise_gradient_rms(
    lambda: f32,
    active: [bool; 3],
    smoothed: [bool; 3],
    spacing: [f32; 3],
) -> f32 {
    let f = (lambda > 0.0).then(|| SplineFilter::new(lambda));
    // per axis: (A(0), A(2)) of the 1-D response along that axis
    let ac = |a: usize| -> (f64, f64) {
        match (&f, smoothed[a]) {
            (Some(f), true) => (f.autocorrelation(0), f.autocorrelation(2)),
            _ => (1.0, 0.0),
        }
    };
    let mut var = 0f64;
    for a in 0..3 {
        if !active[a] {
            continue;
        }
        let (a0, a2) = ac(a);
        // central difference (c[i+1] - c[i-1]) / 2d: variance (2 A0 - 2 A2) / (4 d²)
        let mut v = (2.0 * a0 - 2.0 * a2) / (4.0 * (spacing[a] as f64).powi(2));
        for (b, &on) in active.iter().enumerate() {
            if b != a && on {
                v *= ac(b).0;
            }
        }
        var += v;
    }
    var.sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn gauss(seed: &mut u64) -> f32 {
        // sum of 12 uniforms - 6
        let mut s = 0.0;
        for _ in 0..12 {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s += ((*seed >> 40) as f32) / (1u64 << 24) as f32;
        }
        s - 6.0
    }

    #[test]
    fn noise_estimate_on_noise_plus_structure() {
        let mut seed = 1;
        let mut img = Array3::<f32>::zeros((4, 64, 64));
        for ((z, x, y), v) in img.indexed_iter_mut() {
            let smooth = 100.0 + 2.0 * x as f32 + (y as f32 * 0.1).sin() * 30.0 + z as f32;
            *v = smooth + 5.0 * gauss(&mut seed);
        }
        let s = estimate_noise_sigma(img.view());
        assert!((s - 5.0).abs() < 0.5, "sigma {s}");
        // constant padding must not pull the estimate to zero
        for ((_, x, _), v) in img.indexed_iter_mut() {
            if x < 40 {
                *v = 0.0;
            }
        }
        let s = estimate_noise_sigma(img.view());
        assert!((s - 5.0).abs() < 0.7, "sigma with padding {s}");
        // 1-D
        let one =
            Array3::from_shape_fn((1, 1, 5000), |(_, _, y)| y as f32 + 3.0 * gauss(&mut seed));
        let s = estimate_noise_sigma(one.view());
        assert!((s - 3.0).abs() < 0.3, "1-D sigma {s}");
        assert_eq!(
            estimate_noise_sigma(Array3::<f32>::zeros((2, 9, 9)).view()),
            0.0
        );
    }

    #[test]
    fn li_separates_two_modes() {
        let mut v = vec![10.0f32; 900];
        v.extend(std::iter::repeat(100.0).take(100));
        let t = li_threshold(&v).unwrap();
        assert!(t > 10.0 && t < 100.0, "{t}");
        assert_eq!(li_threshold(&[]), None);
        assert_eq!(li_threshold(&[3.0, 3.0]), Some(3.0));
    }

    #[test]
    fn noise_gradient_without_smoothing() {
        // unsmoothed: each component has variance 1/2 -> rms sqrt(d/2)
        let r = noise_gradient_rms(0.0, [true; 3], [false; 3], [1.0; 3]);
        assert!((r - 1.5f32.sqrt()).abs() < 1e-6);
        let r = noise_gradient_rms(0.0, [false, true, true], [false; 3], [1.0; 3]);
        assert!((r - 1.0).abs() < 1e-6);
        // smoothing strongly reduces it
        let s = noise_gradient_rms(3.0, [true; 3], [true; 3], [1.0; 3]);
        assert!(s < 0.2 * r, "{s}");
    }
}
