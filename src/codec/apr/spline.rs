//! Cubic smoothing spline (Unser 1993 recursive filter), applied separably along y, x, z.
//!
//! Causal pass `u[k] = x[k] + b1·u[k-1] + b2·u[k-2]`, anti-causal pass on the result,
//! output `norm·w` (DC gain 1). Boundaries use the whole-sample mirror extension. The first
//! two causal outputs are truncated sums over `K = ceil(|ln 1e-4 / ln rho|)` terms of the
//! causal response `h` (mirror indices fold the sums onto the signal, so short axes are handled
//! exactly rather than lumped on the last sample; the truncated tail is folded back so that
//! constants pass exactly). The last two final outputs follow exactly from the symmetry of the
//! output about the last sample (`o[n] = o[n-2]`, `o[n+1] = o[n-3]`): the anti-causal recursion
//! at `n-1, n-2, n-3` is then a 3x3 linear system in the causal outputs `u[n-3..n]`, which
//! replaces LibAPR's truncated two-sided sums at no cost (its solution is [`EndCoefs`]).

use super::grid::{mirror, Dims};

/// Smallest lambda used: below 1/144 the poles become real and the formulas degenerate.
const LAMBDA_MIN: f64 = 0.01;

/// Filter constants for one lambda.
#[derive(Debug, Clone)]
pub(crate) struct SplineFilter {
    end: EndCoefs,
    pub rho: f64,
    pub omega: f64,
    b1: f32,
    b2: f32,
    norm: f32,
    /// Causal impulse response `h(k) = rho^k sin((k+1)w)/sin w`, `k < K`.
    h: Vec<f64>,
    /// Two-sided response of the whole filter `G(k)`, `k < K` (symmetric).
    g: Vec<f64>,
}

/// Boundary initialisation of one axis length: sparse `(index, weight)` lists.
struct AxisInit {
    u0: Vec<(usize, f32)>,
    u1: Vec<(usize, f32)>,
}

/// `o[n-1] = a1·u[n-1] + a2·u[n-2] + a3·u[n-3]`, `o[n-2] = bn·u[n-2] + bb·o[n-1]`.
#[derive(Debug, Clone, Copy)]
struct EndCoefs {
    a1: f32,
    a2: f32,
    a3: f32,
    bn: f32,
    bb: f32,
}

fn sparse(dense: &[f64]) -> Vec<(usize, f32)> {
    dense
        .iter()
        .enumerate()
        .filter(|(_, &v)| v != 0.0)
        .map(|(i, &v)| (i, v as f32))
        .collect()
}

impl SplineFilter {
    pub fn new(lambda: f32) -> Self {
        let l = (lambda as f64).max(LAMBDA_MIN);
        let s = (3.0 + 144.0 * l).sqrt();
        let xi = 1.0 - 96.0 * l + 24.0 * l * s;
        let rho =
            (24.0 * l - 1.0 - xi.sqrt()) / (24.0 * l) * ((48.0 * l + 24.0 * l * s) / xi).sqrt();
        let omega = ((144.0 * l - 1.0) / xi).sqrt().atan();
        let b1 = 2.0 * rho * omega.cos();
        let b2 = -rho * rho;
        let norm = (1.0 - 2.0 * rho * omega.cos() + rho * rho).powi(2);
        let k0 = ((1e-4f64).ln() / rho.ln()).abs().ceil().max(2.0) as usize;
        let hk = |k: usize| rho.powi(k as i32) * ((k + 1) as f64 * omega).sin() / omega.sin();
        let h: Vec<f64> = (0..k0).map(hk).collect();
        // G(k) = norm · sum_m h(m) h(m+k), summed until rho^m is negligible.
        let m_max = ((1e-12f64).ln() / rho.ln()).abs().ceil() as usize + k0 + 8;
        let hl: Vec<f64> = (0..m_max + k0).map(hk).collect();
        let g: Vec<f64> = (0..k0)
            .map(|k| norm * (0..m_max).map(|m| hl[m] * hl[m + k]).sum::<f64>())
            .collect();
        // o[n-1] = A, o[n-2] = B from
        //   A = norm u1 + b1 B + b2 C,  B = norm u2 + b1 A + b2 B,  C = norm u3 + b1 B + b2 A
        let d = (1.0 + b2) * ((1.0 - b2).powi(2) - b1 * b1) / (1.0 - b2);
        let end = EndCoefs {
            a1: (norm / d) as f32,
            a2: (norm * b1 * (1.0 + b2) / ((1.0 - b2) * d)) as f32,
            a3: (norm * b2 / d) as f32,
            bn: (norm / (1.0 - b2)) as f32,
            bb: (b1 / (1.0 - b2)) as f32,
        };
        SplineFilter {
            end,
            rho,
            omega,
            b1: b1 as f32,
            b2: b2 as f32,
            norm: norm as f32,
            h,
            g,
        }
    }

    /// Number of terms of the boundary sums.
    pub fn k0(&self) -> usize {
        self.h.len()
    }

    /// Two-sided response `G(k)` (0 beyond the truncation).
    pub fn response(&self, k: isize) -> f64 {
        self.g.get(k.unsigned_abs()).copied().unwrap_or(0.0)
    }

    fn axis_init(&self, n: usize) -> AxisInit {
        let k0 = self.k0() as isize;
        let mut u0 = vec![0f64; n];
        let mut u1 = vec![0f64; n];
        for k in 0..k0 {
            let hk = self.h[k as usize];
            u0[mirror(-k, n)] += hk;
            u1[mirror(1 - k, n)] += hk;
        }
        // fold the truncated tails back in so that constants pass exactly: the sums must
        // total H(1) = 1/(1-b1-b2)
        let h1 = 1.0 / (1.0 - 2.0 * self.rho * self.omega.cos() + self.rho * self.rho);
        for (v, total) in [(&mut u0, h1), (&mut u1, h1)] {
            let s: f64 = v.iter().sum();
            v.iter_mut().for_each(|c| *c *= total / s);
        }
        AxisInit {
            u0: sparse(&u0),
            u1: sparse(&u1),
        }
    }

    /// Filters lanes `lo..hi` of `n` samples stored with row stride `stride` (layout
    /// `[n][stride]`), `n >= 3`, in place. `tmp` holds `2·(hi-lo)` values.
    #[allow(clippy::too_many_arguments)]
    fn filter_block(
        &self,
        data: &mut [f32],
        n: usize,
        stride: usize,
        lo: usize,
        hi: usize,
        ini: &AxisInit,
        tmp: &mut [f32],
    ) {
        let (b1, b2, norm) = (self.b1, self.b2, self.norm);
        let w = hi - lo;
        let row = |k: usize| k * stride + lo;
        let (t_u0, t_u1) = tmp[..2 * w].split_at_mut(w);
        for (buf, list) in [(&mut *t_u0, &ini.u0), (&mut *t_u1, &ini.u1)] {
            buf.fill(0.0);
            for &(j, c) in list.iter() {
                axpy_row(buf, &data[row(j)..row(j) + w], c);
            }
        }
        data[row(0)..row(0) + w].copy_from_slice(t_u0);
        data[row(1)..row(1) + w].copy_from_slice(t_u1);
        // causal pass
        for k in 2..n {
            let (prev, cur) = data.split_at_mut(k * stride);
            let p2 = &prev[row(k - 2)..row(k - 2) + w];
            let p1 = &prev[row(k - 1)..row(k - 1) + w];
            causal_row(&mut cur[lo..hi], p1, p2, b1, b2);
        }
        // anti-causal pass on scaled values o = norm·w: o[k] = norm·u[k] + b1·o[k+1] + b2·o[k+2]
        // last two outputs from the symmetric-extension system (EndCoefs)
        let e = self.end;
        {
            let (first, last2) = data.split_at_mut((n - 2) * stride);
            let u3 = &first[row(n - 3)..row(n - 3) + w];
            let (r2, r1) = last2.split_at_mut(stride);
            for ((o2, o1), u3) in r2[lo..hi].iter_mut().zip(&mut r1[lo..hi]).zip(u3) {
                let a = e.a1 * *o1 + e.a2 * *o2 + e.a3 * *u3;
                *o2 = e.bn * *o2 + e.bb * a;
                *o1 = a;
            }
        }
        for k in (0..n - 2).rev() {
            let (first, next) = data.split_at_mut((k + 1) * stride);
            let n1 = &next[lo..hi];
            let n2 = &next[stride + lo..stride + hi];
            anticausal_row(&mut first[row(k)..row(k) + w], n1, n2, norm, b1, b2);
        }
    }

    /// Smooths a whole `[outer][n][lanes]` array along its `n` axis (skipped if `n <= 2`).
    fn filter_axis(&self, data: &mut [f32], (outer, n, lanes): (usize, usize, usize)) {
        if n <= 2 || outer == 0 || lanes == 0 {
            return;
        }
        let ini = self.axis_init(n);
        if lanes > 1 {
            // lane tiles keep the n rows of a tile in cache
            const TILE: usize = 1024;
            let mut tmp = vec![0f32; 2 * TILE.min(lanes)];
            for blk in data.chunks_exact_mut(n * lanes).take(outer) {
                let mut lo = 0;
                while lo < lanes {
                    let hi = (lo + TILE).min(lanes);
                    self.filter_block(blk, n, lanes, lo, hi, &ini, &mut tmp[..2 * (hi - lo)]);
                    lo = hi;
                }
            }
        } else {
            // contiguous axis: transpose groups of G lines into [n][G] so the recursion runs
            // across G independent lines at once.
            const G: usize = 32;
            let lines = outer;
            let mut buf = vec![0f32; n * G];
            let mut tmp = vec![0f32; 2 * G];
            let mut start = 0;
            while start < lines {
                let g = G.min(lines - start);
                let chunk = &mut data[start * n..(start + g) * n];
                for (r, line) in chunk.chunks_exact(n).enumerate() {
                    for (k, v) in line.iter().enumerate() {
                        buf[k * g + r] = *v;
                    }
                }
                self.filter_block(&mut buf[..n * g], n, g, 0, g, &ini, &mut tmp[..2 * g]);
                for (r, line) in chunk.chunks_exact_mut(n).enumerate() {
                    for (k, v) in line.iter_mut().enumerate() {
                        *v = buf[k * g + r];
                    }
                }
                start += g;
            }
        }
    }

    /// Autocorrelation `A(k) = sum_j G(j) G(j+k)` of the two-sided response.
    pub fn autocorrelation(&self, k: isize) -> f64 {
        let m = self.k0() as isize;
        ((-m + 1)..m)
            .map(|j| self.response(j) * self.response(j + k))
            .sum()
    }
}

/// `c[i] += b1·a[i] + b2·b[i]` (separate function: the slice arguments are known not to alias,
/// so the loop vectorises).
#[inline(never)]
fn causal_row(c: &mut [f32], a: &[f32], b: &[f32], b1: f32, b2: f32) {
    let n = c.len();
    let (a, b) = (&a[..n], &b[..n]);
    for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
        *c += b1 * *a + b2 * *b;
    }
}

/// `c[i] = norm·c[i] + b1·a[i] + b2·b[i]`.
#[inline(never)]
fn anticausal_row(c: &mut [f32], a: &[f32], b: &[f32], norm: f32, b1: f32, b2: f32) {
    let n = c.len();
    let (a, b) = (&a[..n], &b[..n]);
    for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
        *c = norm * *c + b1 * *a + b2 * *b;
    }
}

/// `acc[i] += c·x[i]`.
#[inline(never)]
fn axpy_row(acc: &mut [f32], x: &[f32], c: f32) {
    let n = acc.len();
    for (a, x) in acc.iter_mut().zip(&x[..n]) {
        *a += c * *x;
    }
}

/// Replaces `data` by its smoothing-spline coefficients along y, x, z (lambda > 0).
pub(crate) fn smooth(data: &mut [f32], dims: Dims, lambda: f32) {
    let f = SplineFilter::new(lambda);
    for axis in [2, 1, 0] {
        f.filter_axis(data, dims.axis_view(axis));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32) / (1u64 << 24) as f32
    }

    #[test]
    fn constants_for_lambda_3() {
        let f = SplineFilter::new(3.0);
        assert!((f.rho - 0.584).abs() < 2e-3, "rho {}", f.rho);
        assert!((f.omega - 0.537).abs() < 2e-3, "omega {}", f.omega);
        assert_eq!(f.k0(), 18);
    }

    #[test]
    fn dc_gain_is_one() {
        for lambda in [0.5f32, 3.0, 10.0] {
            let f = SplineFilter::new(lambda);
            let total: f64 = (-(f.k0() as isize) + 1..f.k0() as isize)
                .map(|k| f.response(k))
                .sum();
            assert!(
                (total - 1.0).abs() < 2e-3,
                "lambda {lambda}: sum G = {total}"
            );
            for n in [3usize, 5, 17, 40, 200] {
                let mut d = vec![1234.5f32; n];
                f.filter_axis(&mut d, (1, n, 1));
                for v in &d {
                    assert!(
                        (v - 1234.5).abs() < 1234.5 * 2e-6,
                        "lambda {lambda} n {n}: {v}"
                    );
                }
            }
        }
    }

    #[test]
    fn boundaries_match_long_mirrored_signal() {
        // reference: run the plain recursions (zero initial state) on a long explicitly
        // mirror-extended copy and read the middle period
        let lambda = 3.0f32;
        let f = SplineFilter::new(lambda);
        let (b1, b2, norm) = (f.b1 as f64, f.b2 as f64, f.norm as f64);
        let mut seed = 3;
        for n in [3usize, 4, 5, 7, 16, 40] {
            let x: Vec<f32> = (0..n).map(|_| lcg(&mut seed) * 100.0).collect();
            let p = 2 * n - 2;
            let off = 40 * p as isize;
            let len = 2 * off as usize + n;
            let ext: Vec<f64> = (0..len)
                .map(|j| x[mirror(j as isize - off, n)] as f64)
                .collect();
            let mut u = vec![0f64; len];
            for j in 0..len {
                u[j] = ext[j]
                    + if j >= 1 { b1 * u[j - 1] } else { 0.0 }
                    + if j >= 2 { b2 * u[j - 2] } else { 0.0 };
            }
            let mut o = vec![0f64; len];
            for j in (0..len).rev() {
                o[j] = norm * u[j]
                    + if j + 1 < len { b1 * o[j + 1] } else { 0.0 }
                    + if j + 2 < len { b2 * o[j + 2] } else { 0.0 };
            }
            let mut y = x.clone();
            f.filter_axis(&mut y, (1, n, 1));
            for i in 0..n {
                let want = o[off as usize + i];
                assert!(
                    (y[i] as f64 - want).abs() < 1e-2,
                    "n {n} i {i}: {} vs {want}",
                    y[i]
                );
            }
        }
    }

    #[test]
    fn two_sided_response_matches_closed_form() {
        // G(k) = c0 rho^k (cos kw + gamma sin kw) up to the overall normalisation.
        let f = SplineFilter::new(3.0);
        let (r, w) = (f.rho, f.omega);
        let c0 = (1.0 + r * r) / (1.0 - r * r) * (1.0 - 2.0 * r * w.cos() + r * r)
            / (1.0 + 2.0 * r * w.cos() + r * r);
        let gamma = (1.0 - r * r) / (1.0 + r * r) / w.tan();
        let closed =
            |k: i32| c0 * r.powi(k) * ((k as f64 * w).cos() + gamma * (k as f64 * w).sin());
        let scale = f.response(0) / closed(0);
        for k in 1..10 {
            let a = f.response(k as isize);
            let b = scale * closed(k);
            assert!((a - b).abs() < 1e-6, "k {k}: {a} vs {b}");
        }
    }

    #[test]
    fn interior_equals_convolution_and_lanes_agree() {
        let f = SplineFilter::new(3.0);
        let n = 120;
        let mut seed = 7;
        let x: Vec<f32> = (0..n).map(|_| lcg(&mut seed) * 100.0).collect();
        let mut y = x.clone();
        f.filter_axis(&mut y, (1, n, 1));
        for i in 30..90 {
            let want: f64 = (-17..18)
                .map(|k| f.response(k) * x[(i as isize + k) as usize] as f64)
                .sum();
            assert!(
                (y[i] as f64 - want).abs() < 0.05,
                "i {i}: {} vs {want}",
                y[i]
            );
        }
        // near the ends the mirror extension is used
        let ext = |j: isize| x[mirror(j, n)] as f64;
        for i in [0usize, 1, 2, n - 2, n - 1] {
            let want: f64 = (-17..18).map(|k| f.response(k) * ext(i as isize + k)).sum();
            assert!(
                (y[i] as f64 - want).abs() < 0.05,
                "edge i {i}: {} vs {want}",
                y[i]
            );
        }
        // the same signal laid out as 9 lanes gives the same result per lane
        let lanes = 9;
        let mut z: Vec<f32> = x
            .iter()
            .flat_map(|&v| std::iter::repeat(v).take(lanes))
            .collect();
        f.filter_axis(&mut z, (1, n, lanes));
        for i in 0..n {
            for l in 0..lanes {
                assert!((z[i * lanes + l] - y[i]).abs() < 1e-3);
            }
        }
    }
}
