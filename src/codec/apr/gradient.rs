//! Gradient magnitude and downsampled intensity on the ds grid (one pass over the image).
//!
//! Gradient: central differences with replicate clamping, `((c[i+1]-c[i-1]) / 2d)²` summed over
//! the active axes, then the maximum over each 2x2x2 block. Intensity: mean of each 2x2x2 block
//! with clamped indices (always divided by 8), optionally followed by the cubic B-spline
//! evaluation filter `[1/6, 4/6, 1/6]` per axis.

use super::grid::{bspline_eval_axis, Dims};

/// Adds `((a[i] - b[i]) * h)²` to `acc`.
fn add_sq_diff(acc: &mut [f32], a: &[f32], b: &[f32], h: f32) {
    for ((s, p), m) in acc.iter_mut().zip(a).zip(b) {
        let d = (*p - *m) * h;
        *s += d * d;
    }
}

/// Returns `(grad_ds, intensity_ds)` on `dims.half()`. `spacing` = `(dz, dx, dy)`.
pub(crate) fn gradient_and_ds(
    c: &[f32],
    dims: Dims,
    spacing: [f32; 3],
    bspline_eval: bool,
) -> (Vec<f32>, Vec<f32>) {
    let Dims { nz, nx, ny } = dims;
    let ds = dims.half();
    let mut grad = vec![0f32; ds.len()];
    let mut int = vec![0f32; ds.len()];
    let [hz, hx, hy] = spacing.map(|d| 0.5 / d);
    let plane = nx * ny;
    let row = |z: usize, x: usize| &c[z * plane + x * ny..][..ny];
    let mut g2 = vec![0f32; ny];
    let mut gmax = vec![0f32; ny];
    let mut sum = vec![0f32; ny];
    for zd in 0..ds.nz {
        let z0 = 2 * zd;
        let zs: &[usize] = if z0 + 1 < nz { &[z0, z0 + 1] } else { &[z0] };
        for xd in 0..ds.nx {
            let x0 = 2 * xd;
            let xs: &[usize] = if x0 + 1 < nx { &[x0, x0 + 1] } else { &[x0] };
            // clamped duplicates count twice in the /8 mean
            let weight = ((3 - zs.len()) * (3 - xs.len())) as f32;
            gmax.fill(0.0);
            sum.fill(0.0);
            for &z in zs {
                for &x in xs {
                    let r = row(z, x);
                    for (s, v) in sum.iter_mut().zip(r) {
                        *s += weight * *v;
                    }
                    g2.fill(0.0);
                    if ny > 1 {
                        add_sq_diff(&mut g2[1..ny - 1], &r[2..], &r[..ny - 2], hy);
                        let d0 = (r[1] - r[0]) * hy;
                        g2[0] += d0 * d0;
                        let d1 = (r[ny - 1] - r[ny - 2]) * hy;
                        g2[ny - 1] += d1 * d1;
                    }
                    if nx > 1 {
                        add_sq_diff(
                            &mut g2,
                            row(z, (x + 1).min(nx - 1)),
                            row(z, x.saturating_sub(1)),
                            hx,
                        );
                    }
                    if nz > 1 {
                        add_sq_diff(
                            &mut g2,
                            row((z + 1).min(nz - 1), x),
                            row(z.saturating_sub(1), x),
                            hz,
                        );
                    }
                    for (m, v) in gmax.iter_mut().zip(&g2) {
                        *m = m.max(*v);
                    }
                }
            }
            let base = (zd * ds.nx + xd) * ds.ny;
            let grow = &mut grad[base..base + ds.ny];
            let irow = &mut int[base..base + ds.ny];
            let mut gp = gmax.chunks_exact(2);
            let mut sp = sum.chunks_exact(2);
            for ((g, i), (gpair, spair)) in grow
                .iter_mut()
                .zip(irow.iter_mut())
                .zip((&mut gp).zip(&mut sp))
            {
                *g = gpair[0].max(gpair[1]).sqrt();
                *i = (spair[0] + spair[1]) * 0.125;
            }
            if let ([gl], [sl]) = (gp.remainder(), sp.remainder()) {
                grow[ds.ny - 1] = gl.sqrt();
                irow[ds.ny - 1] = 2.0 * sl * 0.125;
            }
        }
    }
    if bspline_eval {
        bspline_eval_ds(&mut int, ds);
    }
    (grad, int)
}

/// The `[1/6, 4/6, 1/6]` evaluation filter per axis on a ds-grid intensity, in place (one
/// scratch grid). Callers that free the full-size image first call this after it.
pub(crate) fn bspline_eval_ds(int: &mut Vec<f32>, ds: Dims) {
    let mut tmp = vec![0f32; int.len()];
    for axis in [2, 1, 0] {
        if ds.n(axis) >= 2 {
            bspline_eval_axis(int, &mut tmp, ds.axis_view(axis));
            std::mem::swap(int, &mut tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ramp_gradient_and_mean() {
        // c = 3*z + 2*x + y on a 5x6x7 grid: interior gradient = sqrt(9+4+1)
        let d = Dims {
            nz: 5,
            nx: 6,
            ny: 7,
        };
        let c: Vec<f32> = (0..d.len())
            .map(|i| {
                let (z, x, y) = (i / 42, (i / 7) % 6, i % 7);
                (3 * z + 2 * x + y) as f32
            })
            .collect();
        let (g, m) = gradient_and_ds(&c, d, [1.0; 3], false);
        let ds = d.half();
        assert_eq!(
            ds,
            Dims {
                nz: 3,
                nx: 3,
                ny: 4
            }
        );
        // ds cell (0,0,0) holds pixel (1,1,1) whose central differences are exact
        assert!((g[0] - 14f32.sqrt()).abs() < 1e-5);
        // mean of the 2x2x2 block at origin: 3*0.5 + 2*0.5 + 0.5
        assert!((m[0] - 3.0).abs() < 1e-5);
        // last y cell is clamped: pixels y=6 counted twice -> mean y = 6
        let i = ds.ny - 1;
        assert!((m[i] - (1.5 + 1.0 + 6.0)).abs() < 1e-5, "{}", m[i]);
    }

    #[test]
    fn inactive_axes_have_no_gradient() {
        let d = Dims {
            nz: 1,
            nx: 1,
            ny: 8,
        };
        let c: Vec<f32> = (0..8).map(|y| (y * y) as f32).collect();
        let (g, m) = gradient_and_ds(&c, d, [1.0; 3], false);
        assert_eq!(g.len(), 4);
        // pixel 1: (4-0)/2 = 2, pixel 0: (1-0)/2 -> max 2
        assert!((g[0] - 2.0).abs() < 1e-6);
        assert!((m[0] - 0.5).abs() < 1e-6);
    }
}
