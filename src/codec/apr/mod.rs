//! The Adaptive Particle Representation pipeline (LibAPR semantics), per 3-D block.
//!
//! Steps (LibAPR, Cheeseman et al. 2018; the project notes are `../shared/docs/apr-algorithm.md`
//! §2, outside this repository): optional smoothing spline (`lambda > 0`), gradient
//! magnitude (central differences, 2x2x2 max onto the ds grid), ds intensity (2x2x2 mean, then
//! `[1/6,4/6,1/6]` if smoothed), local intensity scale sigma, parameters (intensity threshold,
//! sigma floor, gradient threshold, automatic ones from Li thresholds and the noise level),
//! levels `floor(log2(grad/sigma · 2^Lmax · min(d) / E))`, max pyramid, pulling scheme,
//! particle cells with the equivalence optimisation.
//!
//! Blocks are `(z, x, y)` arrays, y fastest; rank-1/2 data come as `[1,1,n]` / `[1,nx,ny]` and
//! axes of length 1 are inactive (no smoothing, no gradient component, LIS constants by the
//! number of active axes, children collapse along them).
//!
//! Automatic thresholds (`None` in [`AprParams`]). LibAPR's automatic parameters are Li
//! minimum-cross-entropy thresholds of the gradient and of sigma. Alone they fail both ways:
//! on noisy data they let noise through (Rc ≈ 1, LibAPR issue #124), most of all without
//! smoothing; on CT they split tissue from bone rather than signal from noise and zero real
//! soft-tissue gradients (one 12x256x256 head-CT block: grad_th 116, sigma_th 1094, RMSE
//! 128 HU for a noise of 3.5 HU). Here the estimated noise sigma `s_n`
//! ([`estimate_noise_sigma`]) bounds them from both sides:
//! - `grad_th = clamp(Li(grad), F, GRAD_LI_CAP_K · F)` with the noise floor
//!   `F = GRAD_NOISE_K · s_n · g1`, where `g1` is the RMS gradient magnitude that unit white
//!   noise has after the same smoothing spline and finite differences (computed from the
//!   filter): pure-noise gradients are zeroed with high probability whatever `lambda` is, and
//!   gradients far above the noise are never zeroed;
//! - `sigma_th = clamp(Li(sigma), SIGMA_NOISE_K · s_n, SIGMA_LI_CAP_K · s_n)`: the allowed
//!   error `E·sigma` in flat regions is 1 to 3 noise sigmas at `E = 0.1`;
//! - both at least `1e-6 · max|I|` (f32 round-off of the smoothing; avoids sigma = 0), so a
//!   noise-free block is refined wherever its gradient is non-zero;
//! - `ip_th` = off (`-inf`): LibAPR's 0 would zero the gradient of all non-positive data.
//!
//! Explicit (`Some`) values are used as given, LibAPR semantics.
//!
//! Differences from LibAPR, all deliberate: everything runs in f32 with no integer offset
//! (so `ip_th` compares with the data as given); `min(d)` in the level formula is over the
//! active axes only; the last two outputs of the smoothing spline come from the exact
//! mirror-symmetry equations instead of truncated sums, and the truncated tails of the first
//! two are folded back (constants pass unchanged); particle values are true means of the
//! in-range pixels (f64 sums, no edge replication, no integer truncation); blocks with
//! `max dim <= 4` (`Lmax <= 2`) keep every pixel. Single-threaded, no halo between blocks.

mod cells;
mod gradient;
mod grid;
mod lis;
mod pulling;
mod spline;
mod thresholds;

pub(crate) use cells::for_each_one;
pub use cells::{
    reconstruct_pc, reconstruct_pc_bytes, sample_means, sample_means_of, ParticleCells,
};
pub(crate) use thresholds::longest_axis_lines;
pub use thresholds::{estimate_noise_sigma, li_threshold};

use ndarray::{Array3, ArrayView3};

use crate::codec::AprParams;
pub(crate) use grid::level_max_for;
use grid::{ceil_shift, Dims};

/// Automatic gradient threshold >= this many RMS gradients of smoothed white noise.
pub const GRAD_NOISE_K: f32 = 3.0;
/// The Li gradient threshold may raise the automatic one to at most this many times the noise
/// floor `GRAD_NOISE_K · s_n · g1`.
pub const GRAD_LI_CAP_K: f32 = 30.0;
/// Automatic sigma floor >= this many noise sigmas (allowed flat-region error `E·10·s_n`).
pub const SIGMA_NOISE_K: f32 = 10.0;
/// The Li sigma threshold may raise the automatic floor to at most this many noise sigmas.
pub const SIGMA_LI_CAP_K: f32 = 30.0;

/// What the pipeline used and produced for one block.
#[derive(Debug, Clone, PartialEq)]
pub struct AprInfo {
    /// Estimated noise standard deviation of the block ([`estimate_noise_sigma`]).
    pub noise_sigma: f32,
    /// Sigma floor used (given or automatic).
    pub sigma_th: f32,
    /// Gradient threshold used (given or automatic).
    pub grad_th: f32,
    /// Intensity threshold used (given, or `-inf` = off when automatic).
    pub ip_th: f32,
    pub num_particles: usize,
}

/// Intermediate results on the ds grid.
struct Front {
    ds: Dims,
    grad: Vec<f32>,
    sigma: Vec<f32>,
    sigma_th: f32,
    grad_th: f32,
    ip_th: f32,
}

fn spacing(p: &AprParams) -> [f32; 3] {
    [p.dz, p.dx, p.dy]
}

/// Smoothing, gradient, ds intensity, local intensity scale, parameters. Needs max dim > 4.
fn front_end(img: ArrayView3<f32>, p: &AprParams, noise_sigma: f32) -> Front {
    let (nz, nx, ny) = img.dim();
    let c: std::borrow::Cow<[f32]> = match img.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(img.iter().copied().collect()),
    };
    front_end_cow(c, Dims { nz, nx, ny }, p, noise_sigma)
}

/// [`front_end`] on a C-order block; an owned block is smoothed in place (no copy).
fn front_end_cow(c: std::borrow::Cow<[f32]>, dims: Dims, p: &AprParams, noise_sigma: f32) -> Front {
    let smoothed = p.lambda > 0.0;
    let c = if smoothed {
        let mut c = c.into_owned();
        spline::smooth(&mut c, dims, p.lambda);
        std::borrow::Cow::Owned(c)
    } else {
        c
    };
    // The B-spline evaluation of the ds intensity runs after the full-size image is freed.
    let (mut grad, mut ids) = gradient::gradient_and_ds(&c, dims, spacing(p), false);
    drop(c);
    let ds = dims.half();
    if smoothed {
        gradient::bspline_eval_ds(&mut ids, ds);
    }
    let mut sigma = lis::local_intensity_scale(&ids, ds, p.psfx, p.dx);

    // parameters
    let ip_th = p.ip_th.unwrap_or(f32::NEG_INFINITY);
    let (sigma_th, grad_th) = if p.sigma_th.is_none() || p.grad_th.is_none() {
        // LibAPR: over the cells brighter than the intensity threshold (evenly subsampled)
        let step = ids.len().div_ceil(1 << 15).max(1);
        let fg = |v: &[f32]| -> Vec<f32> {
            v.iter()
                .zip(&ids)
                .step_by(step)
                .filter(|(_, &i)| i > ip_th)
                .map(|(&g, _)| g)
                .collect()
        };
        let li = |v: &[f32]| thresholds::li_threshold(&fg(v)).unwrap_or(0.0).max(0.0);
        let shape = dims.shape();
        let active = shape.map(|n| n > 1);
        let smoothed_axes = shape.map(|n| smoothed && n > 2);
        let g1 = thresholds::noise_gradient_rms(p.lambda, active, smoothed_axes, spacing(p));
        // f32 round-off floor (smoothing a constant is exact only to ~1e-7 relative)
        let tiny = 1e-6 * ids.iter().fold(0f32, |m, v| m.max(v.abs()));
        let sig = p.sigma_th.unwrap_or_else(|| {
            li(&sigma)
                .min(SIGMA_LI_CAP_K * noise_sigma)
                .max(SIGMA_NOISE_K * noise_sigma)
                .max(tiny)
        });
        let grad_floor = GRAD_NOISE_K * noise_sigma * g1;
        let gr = p.grad_th.unwrap_or_else(|| {
            li(&grad)
                .min(GRAD_LI_CAP_K * grad_floor)
                .max(grad_floor)
                .max(tiny)
        });
        (sig, gr)
    } else {
        (p.sigma_th.unwrap_or(0.0), p.grad_th.unwrap_or(0.0))
    };
    // applyParameters order: intensity threshold, sigma floor, gradient threshold
    for (g, &i) in grad.iter_mut().zip(&ids) {
        if i <= ip_th {
            *g = 0.0;
        }
    }
    for s in sigma.iter_mut() {
        if *s < sigma_th {
            *s = if *s < p.sigma_th_max {
                60000.0
            } else {
                sigma_th
            };
        }
    }
    for g in grad.iter_mut() {
        if *g < grad_th {
            *g = 0.0;
        }
    }
    Front {
        ds,
        grad,
        sigma,
        sigma_th,
        grad_th,
        ip_th,
    }
}

/// `floor(log2(v))` for `v >= 1` (0 below, saturating at `cap`).
fn level_of(v: f32, cap: u8) -> u8 {
    if v.is_nan() || v < 1.0 {
        0
    } else if !v.is_finite() {
        cap
    } else {
        // exponent of a normal float = floor(log2 v)
        let e = ((v.to_bits() >> 23) & 0xff) as i32 - 127;
        (e.max(0) as u32).min(cap as u32) as u8
    }
}

/// The full pipeline for one block: particle cells plus the parameters used.
pub fn compute_particle_cells(
    img: ArrayView3<f32>,
    rel_error: f32,
    p: &AprParams,
) -> (ParticleCells, AprInfo) {
    let (nz, nx, ny) = img.dim();
    let c: std::borrow::Cow<[f32]> = match img.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(img.iter().copied().collect()),
    };
    let (cells, info, _) = pipeline(c, [nz, nx, ny], rel_error, p);
    (cells, info)
}

/// [`compute_particle_cells`] on an owned C-order block of `shape`, which it consumes: the
/// smoothing runs in place, so the pipeline holds one f32 copy of the block instead of two
/// (same result, bit for bit). Panics if `img.len()` differs from the shape's size.
pub fn compute_particle_cells_owned(
    img: Vec<f32>,
    shape: [usize; 3],
    rel_error: f32,
    p: &AprParams,
) -> (ParticleCells, AprInfo) {
    assert_eq!(img.len(), shape.iter().product::<usize>(), "block size");
    let (cells, info, _) = pipeline(std::borrow::Cow::Owned(img), shape, rel_error, p);
    (cells, info)
}

/// [`compute_particle_cells_owned`], also returning the block's [`local_intensity_scale`]
/// (the same values, computed once: the encoder of format version 4 checks the particles and
/// builds the bound map against it).
pub fn compute_particle_cells_and_scale(
    img: Vec<f32>,
    shape: [usize; 3],
    rel_error: f32,
    p: &AprParams,
) -> (ParticleCells, AprInfo, Array3<f32>) {
    assert_eq!(img.len(), shape.iter().product::<usize>(), "block size");
    pipeline(std::borrow::Cow::Owned(img), shape, rel_error, p)
}

/// [`local_intensity_scale`] of a block too small for levels (max dim <= 4): `max - min`.
fn tiny_block_scale(img: &[f32], shape: [usize; 3]) -> Array3<f32> {
    let ds = Dims {
        nz: shape[0],
        nx: shape[1],
        ny: shape[2],
    }
    .half();
    let max = img.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let min = img.iter().copied().fold(f32::INFINITY, f32::min);
    Array3::from_elem((ds.nz, ds.nx, ds.ny), (max - min).max(0.0))
}

fn pipeline(
    img: std::borrow::Cow<[f32]>,
    shape: [usize; 3],
    rel_error: f32,
    p: &AprParams,
) -> (ParticleCells, AprInfo, Array3<f32>) {
    let [nz, nx, ny] = shape;
    let mut cells = ParticleCells::new(shape);
    let noise_sigma =
        estimate_noise_sigma(ArrayView3::from_shape((nz, nx, ny), &img).expect("block shape"));
    let lmax = level_max_for(shape);
    if nz * nx * ny == 0 || lmax <= 2 {
        cells.fill_pixels();
        let n = cells.num_particles();
        let info = AprInfo {
            noise_sigma,
            sigma_th: p.sigma_th.unwrap_or(0.0),
            grad_th: p.grad_th.unwrap_or(0.0),
            ip_th: p.ip_th.unwrap_or(f32::NEG_INFINITY),
            num_particles: n,
        };
        let sig = tiny_block_scale(&img, shape);
        return (cells, info, sig);
    }
    let f = front_end_cow(img, Dims { nz, nx, ny }, p, noise_sigma);
    // levels on the ds grid
    let dmin = shape
        .iter()
        .zip(spacing(p))
        .filter(|(&n, _)| n > 1)
        .map(|(_, d)| d)
        .fold(f32::INFINITY, f32::min);
    let scale = (lmax as f32).exp2() * dmin / rel_error;
    let cap = lmax.min(255) as u8;
    let lev: Vec<u8> = f
        .grad
        .iter()
        .zip(&f.sigma)
        .map(|(&g, &s)| {
            if g.is_nan() || g <= 0.0 {
                0
            } else if s.is_nan() || s <= 0.0 {
                cap
            } else {
                level_of(g / s * scale, cap)
            }
        })
        .collect();
    debug_assert_eq!(lev.len(), f.ds.len());
    let shape_of = |l: u32| Dims::from_shape(shape.map(|n| ceil_shift(n, lmax - l)));
    let st = pulling::pulling_scheme(lev, lmax, shape_of);
    let cells = pulling::particle_cells(&st, shape, p.neighborhood_optimization);
    debug_assert!(
        cells.is_partition(),
        "particle cells must partition the block"
    );
    let info = AprInfo {
        noise_sigma,
        sigma_th: f.sigma_th,
        grad_th: f.grad_th,
        ip_th: f.ip_th,
        num_particles: cells.num_particles(),
    };
    let ds = Dims { nz, nx, ny }.half();
    let sig = Array3::from_shape_vec((ds.nz, ds.nx, ds.ny), f.sigma).expect("ds shape");
    (cells, info, sig)
}

/// The local intensity scale the pipeline uses for the levels (after the sigma floor), on the
/// ds grid `ceil(n/2)` per axis, for tests of the reconstruction condition: pixel `(z, x, y)`
/// maps to ds cell `(z/2, x/2, y/2)`. It does not depend on `E` (nor do the automatic
/// thresholds). For blocks with max dim <= 4 (all pixels are particles)
/// it is the block's `max - min` (any positive scale satisfies the condition there).
pub fn local_intensity_scale(img: ArrayView3<f32>, p: &AprParams) -> Array3<f32> {
    let (nz, nx, ny) = img.dim();
    let ds = Dims { nz, nx, ny }.half();
    if level_max_for([nz, nx, ny]) <= 2 || nz * nx * ny == 0 {
        let v: Vec<f32> = img.iter().copied().collect();
        return tiny_block_scale(&v, [nz, nx, ny]);
    }
    let f = front_end(img, p, estimate_noise_sigma(img));
    Array3::from_shape_vec((ds.nz, ds.nx, ds.ny), f.sigma).expect("ds shape")
}

/// Per-block quantiser half-widths that keep LibAPR's reconstruction condition
/// `|I - I'| <= E·sigma_local(x)` at every pixel: block `b` (C order over the grid of
/// `block`-sized boxes, the last ones truncated) gets `floor(E · min sigma_local)` over its
/// pixels (pixel `(z, x, y)` takes ds cell `(z/2, x/2, y/2)` of
/// [`local_intensity_scale`]), clamped to `0..=kmax`. For integer values a quantiser of
/// half-width k errs by at most k, so the condition holds by construction (up to the same
/// sigma the encoder computed from the original). Panics if a block side is 0.
pub fn block_half_widths(
    img: ArrayView3<f32>,
    rel_error: f64,
    p: &AprParams,
    block: [usize; 3],
    kmax: i64,
) -> Vec<i64> {
    let (nz, nx, ny) = img.dim();
    let sig = local_intensity_scale(img, p);
    block_half_widths_from_scale(sig.view(), [nz, nx, ny], rel_error, block, kmax)
}

/// [`block_half_widths`] from a scale already computed by [`local_intensity_scale`] for a block
/// of `shape` (so the encoder computes it once for the bound map and the check of the
/// particle body). Panics if a block side is 0 or `sig` is not the ds grid of `shape`.
pub fn block_half_widths_from_scale(
    sig: ArrayView3<f32>,
    shape: [usize; 3],
    rel_error: f64,
    block: [usize; 3],
    kmax: i64,
) -> Vec<i64> {
    assert!(block.iter().all(|&b| b > 0), "block side 0");
    let [nz, nx, ny] = shape;
    assert_eq!(
        sig.dim(),
        (nz.div_ceil(2), nx.div_ceil(2), ny.div_ceil(2)),
        "scale is not the ds grid of the block"
    );
    let g = [nz, nx, ny]
        .iter()
        .zip(block)
        .map(|(&n, b)| n.div_ceil(b))
        .collect::<Vec<_>>();
    let mut out = Vec::with_capacity(g.iter().product());
    for bz in 0..g[0] {
        for bx in 0..g[1] {
            for by in 0..g[2] {
                // ds cells touched by the block's pixels.
                let r =
                    |b: usize, s: usize, n: usize| (b * s / 2)..((b * s + s).min(n) - 1) / 2 + 1;
                let mut m = f32::INFINITY;
                for z in r(bz, block[0], nz) {
                    for x in r(bx, block[1], nx) {
                        for y in r(by, block[2], ny) {
                            m = m.min(sig[[z, x, y]]);
                        }
                    }
                }
                // Slightly below E·sigma so that k / sigma <= E also holds in floating point.
                let k = (rel_error * m as f64 * (1.0 - 1e-12)).floor();
                out.push(if k.is_nan() || k < 0.0 {
                    0
                } else {
                    (k.min(kmax as f64)) as i64
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    #[test]
    fn block_half_widths_bound_every_pixel() {
        let shape = (7, 40, 35);
        let img = Array3::from_shape_fn(shape, |(z, x, y)| {
            let r2 = (x as f32 - 20.0).powi(2) + (y as f32 - 17.0).powi(2);
            let h = ((z * 7919 + x * 104_729 + y * 1_299_709) % 97) as f32;
            if r2 < 120.0 {
                3000.0 + 10.0 * h
            } else {
                100.0 + 0.3 * h
            }
        });
        let p = AprParams::default();
        let e = 0.1;
        let block = [4, 16, 16];
        let k = block_half_widths(img.view(), e, &p, block, 1 << 20);
        assert_eq!(k.len(), 2 * 3 * 3);
        let sig = local_intensity_scale(img.view(), &p);
        let mut larger = 0;
        for z in 0..shape.0 {
            for x in 0..shape.1 {
                for y in 0..shape.2 {
                    let b = ((z / 4) * 3 + x / 16) * 3 + y / 16;
                    let s = sig[[z / 2, x / 2, y / 2]] as f64;
                    assert!(
                        k[b] as f64 <= e * s,
                        "pixel ({z},{x},{y}): k {} > E*sigma {}",
                        k[b],
                        e * s
                    );
                }
            }
        }
        for &kb in &k {
            larger += (kb > k.iter().copied().min().unwrap()) as usize;
        }
        assert!(larger > 0, "the bright disc must allow larger bins: {k:?}");
        // The pipeline's own scale is the same, bit for bit (the v4 encoder uses it).
        for shape in [[7, 40, 35], [2, 3, 4], [1, 1, 300]] {
            let im = Array3::from_shape_fn((shape[0], shape[1], shape[2]), |(z, x, y)| {
                img[[z % 7, x % 40, y % 35]]
            });
            let (cells, _, s2) =
                compute_particle_cells_and_scale(im.iter().copied().collect(), shape, e as f32, &p);
            assert_eq!(
                cells.num_particles(),
                compute_particle_cells(im.view(), e as f32, &p)
                    .0
                    .num_particles()
            );
            let s1 = local_intensity_scale(im.view(), &p);
            assert_eq!(s1.dim(), s2.dim());
            assert!(
                s1.iter()
                    .zip(s2.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{shape:?}"
            );
        }
        // kmax clamps.
        assert!(block_half_widths(img.view(), e, &p, block, 1)
            .iter()
            .all(|&v| v <= 1));
    }
}
