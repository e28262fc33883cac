//! Noise mode (FORMAT.md §6): the Poisson-Gaussian noise model sigma(I)^2 = max(c, a*I + b)
//! that the encoder fits per tile, and the per-block half-widths it derives from it. Encoder
//! only: the decoder of method 7 reads the half-widths and never needs a, b, c. Format
//! version 3 streams have no floor (c = 0); version 5 stores c (FORMAT.md §8).

/// Immerkaer's 3x3 high-pass `[1 -2 1; -2 4 -2; 1 -2 1]`: zero on planes and on separable
/// quadratics, sum of squared taps 36 (so E[r^2] = 36 sigma^2 for white noise).
const GAIN_2D: f64 = 36.0;
/// 1-D second difference `[1 -2 1]`: sum of squared taps 6.
const GAIN_1D: f64 = 6.0;
/// Samples of the fit at most (evenly spaced rows), and samples per bin at least.
const MAX_SAMPLES: usize = 1 << 18;
const MIN_PER_BIN: usize = 64;
const BINS: usize = 16;
/// 1 / Phi^-1(3/4): sigma = 1.4826 * median |r| for Gaussian residuals.
const MAD: f64 = 1.482_602_218_505_602;

/// Least-squares fit of `var = a*I + b` (a >= 0) to robust per-bin variances of a high-pass
/// residual, binned by local mean, and the variance floor `c`: the smallest positive per-bin
/// robust variance (what the tile's darkest noisy samples show; 0 when every bin is flat). `v` = the tile's
/// values, C order, shape (Z, X, Y). The result is rounded to f32 (what method 7 stores);
/// every later use reads the f32 values. Deterministic (no dependence on threads; f64
/// arithmetic in a fixed order). (a, b) are exactly what format version 3 stored.
pub fn fit(v: &[f64], shape: [usize; 3]) -> (f32, f32, f32) {
    let [nz, nx, ny] = shape;
    // (local mean, residual) samples.
    let mut s: Vec<(f64, f64)> = Vec::new();
    let gain;
    if nx >= 3 && ny >= 3 {
        gain = GAIN_2D;
        let rows = nz * (nx - 2);
        let step = (rows * (ny - 2)).div_ceil(MAX_SAMPLES).max(1);
        let mut r = 0usize;
        for z in 0..nz {
            for x in 1..nx - 1 {
                r += 1;
                if r % step != 0 {
                    continue;
                }
                let row = |dx: usize| &v[(z * nx + x + dx - 1) * ny..][..ny];
                let (a, b, c) = (row(0), row(1), row(2));
                for y in 1..ny - 1 {
                    let hp = (a[y - 1] + a[y + 1] + c[y - 1] + c[y + 1])
                        - 2.0 * (a[y] + c[y] + b[y - 1] + b[y + 1])
                        + 4.0 * b[y];
                    let m = (a[y - 1] + a[y] + a[y + 1])
                        + (b[y - 1] + b[y] + b[y + 1])
                        + (c[y - 1] + c[y] + c[y + 1]);
                    s.push((m / 9.0, hp));
                }
            }
        }
    } else {
        gain = GAIN_1D;
        // Lines along the longest axis.
        let (n, st, starts) = crate::codec::apr::longest_axis_lines(nz, nx, ny);
        if n >= 3 {
            for &o in &starts {
                for i in 1..n - 1 {
                    let (a, b, c) = (v[o + (i - 1) * st], v[o + i * st], v[o + (i + 1) * st]);
                    s.push(((a + b + c) / 3.0, a - 2.0 * b + c));
                }
            }
        }
    }
    if s.len() < MIN_PER_BIN {
        return (0.0, 0.0, 0.0);
    }
    sort_samples(&mut s);
    let nb = (s.len() / MIN_PER_BIN).clamp(1, BINS);
    // (mean intensity, robust variance) per bin.
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(nb);
    let mut abs: Vec<f64> = Vec::new();
    for j in 0..nb {
        let bin = &s[j * s.len() / nb..(j + 1) * s.len() / nb];
        let mean = bin.iter().map(|p| p.0).sum::<f64>() / bin.len() as f64;
        abs.clear();
        abs.extend(bin.iter().map(|p| p.1.abs()));
        let mid = abs.len() / 2;
        let (_, med, _) = abs.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
        let sd = MAD * *med;
        pts.push((mean, sd * sd / gain));
    }
    let (a, b) = nonneg_slope_line(&pts);
    // The floor: the smallest positive per-bin variance (bins are sorted by intensity, so this
    // is the darkest bin that shows noise). Bins of variance 0 are flat (a constant background,
    // padding, saturation: more than half their residuals are 0) and say nothing about the
    // measurement noise. Rounded down to f32, so the stored floor never exceeds a measured
    // variance.
    let c = pts
        .iter()
        .map(|p| p.1)
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let c = if c.is_finite() { floor_f32(c) } else { 0.0 };
    (a as f32, b as f32, c)
}

/// The largest f32 <= `x` (x finite, >= 0).
fn floor_f32(x: f64) -> f32 {
    let f = x as f32;
    if f as f64 > x {
        f32::from_bits(f.to_bits() - 1)
    } else {
        f
    }
}

/// Sorts the (local mean, residual) samples by mean, then residual (`total_cmp`). Samples
/// of integer data (mean = integer / 9 or / 3, residual an integer) are sorted as packed
/// integer keys, several times cheaper than comparing f64 pairs; the order, and so the
/// fit, is the same bit for bit. Other samples fall back to the pair sort.
fn sort_samples(s: &mut [(f64, f64)]) {
    if !sort_integer_samples(s) {
        s.sort_unstable_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
    }
}

/// The packed-key sort of [`sort_samples`]; false (and `s` untouched) when a sample is not
/// of that form or the keys do not fit 64 bits.
fn sort_integer_samples(s: &mut [(f64, f64)]) -> bool {
    const LIM: f64 = (1u64 << 52) as f64;
    // Nearest integer of a value that is within rounding error of one: a truncating cast
    // (libm's `round` is a call on baseline x86-64). Out-of-range values fail the checks.
    let near = |x: f64| (x + 0.5f64.copysign(x)) as i64 as f64;
    // The mean's numerator: m = q / 9 exactly as f64 division gives it. 2-D means are sums
    // of 9 values / 9; 1-D means, sums of 3 / 3, are the same reals as (3 * sum) / 9, so they
    // round alike.
    let d = 9.0;
    let (mut qmin, mut qmax, mut rmin, mut rmax) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
    for &(m, r) in s.iter() {
        let q = near(m * d);
        // -0.0 and 0.0 order differently under total_cmp: keep such residuals on the pair sort.
        if !(q.abs() < LIM && q / d == m && r.abs() < LIM && r == r as i64 as f64)
            || (r == 0.0 && r.is_sign_negative())
            || (m == 0.0 && m.is_sign_negative())
        {
            return false;
        }
        let (q, r) = (q as i64, r as i64);
        qmin = qmin.min(q);
        qmax = qmax.max(q);
        rmin = rmin.min(r);
        rmax = rmax.max(r);
    }
    let bits = |span: i64| 64 - (span as u64).leading_zeros();
    let (rb, qb) = (bits(rmax - rmin), bits(qmax - qmin));
    if rb >= 64 || rb + qb > 64 {
        return false;
    }
    let mut keys: Vec<u64> = s
        .iter()
        .map(|&(m, r)| {
            let q = near(m * d) as i64;
            (((q - qmin) as u64) << rb) | (r as i64 - rmin) as u64
        })
        .collect();
    radix_sort(&mut keys, rb + qb);
    let mask = (1u64 << rb) - 1;
    for (p, &k) in s.iter_mut().zip(&keys) {
        let q = (k >> rb) as i64 + qmin;
        let r = (k & mask) as i64 + rmin;
        *p = (q as f64 / d, r as f64);
    }
    true
}

/// Sorts `keys` (all below 2^`nbits`) ascending: LSD radix sort with 11-bit digits, a few
/// linear passes instead of a comparison sort's log2(n).
fn radix_sort(keys: &mut Vec<u64>, nbits: u32) {
    const D: u32 = 11;
    let mut tmp = vec![0u64; keys.len()];
    let mut shift = 0;
    while shift < nbits {
        let mut count = [0usize; 1 << D];
        for &k in keys.iter() {
            count[(k >> shift) as usize & ((1 << D) - 1)] += 1;
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &k in keys.iter() {
            let d = (k >> shift) as usize & ((1 << D) - 1);
            tmp[count[d]] = k;
            count[d] += 1;
        }
        std::mem::swap(keys, &mut tmp);
        shift += D;
    }
}

/// Least squares `y = a*x + b` with a >= 0 (b may be negative: a camera offset or the negative
/// values of CT make sigma^2 = a*(I - I0) + c; sigma^2 = max(0, a*I + b) stays non-decreasing).
fn nonneg_slope_line(p: &[(f64, f64)]) -> (f64, f64) {
    let n = p.len() as f64;
    let (sx, sy) = p.iter().fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for &(x, y) in p {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
    }
    if sxx > 0.0 && sxy > 0.0 {
        let a = sxy / sxx;
        (a, my - a * mx)
    } else {
        (0.0, my)
    }
}

/// k * sigma(I) = k * sqrt(max(c, a*I + b)) in f64 from the stored f32 a, b, c (c = 0 for
/// format version 3; c >= 0).
pub fn bound(k: f64, a: f32, b: f32, c: f32, i: f64) -> f64 {
    k * (a as f64 * i + b as f64).max(c as f64).max(0.0).sqrt()
}

/// Half-width of a block whose smallest value is `imin`: floor(k * sigma(imin)), at most
/// `span` (sigma is non-decreasing in I, so |e| <= it bounds every element of the block by
/// k * sigma(I(x))).
pub fn half_width(k: f64, a: f32, b: f32, c: f32, imin: f64, span: i64) -> i64 {
    let h = bound(k, a, b, c, imin).floor();
    if h.is_nan() || h <= 0.0 {
        0
    } else if h >= span as f64 {
        span
    } else {
        h as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(s: &mut u64) -> f64 {
        *s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(s: &mut u64) -> f64 {
        (-2.0 * lcg(s).ln()).sqrt() * (2.0 * std::f64::consts::PI * lcg(s)).cos()
    }

    /// Synthetic Poisson-Gaussian data (gain a, read noise b) on a smooth ramp: the fit
    /// recovers a within 15 % and sigma(I) within 10 % over the data's range.
    #[test]
    fn fit_recovers_a_and_b() {
        for &(ga, gb) in &[(2.0f64, 25.0f64), (0.5, 4.0), (4.0, 0.0), (1.0, -40.0)] {
            let shape = [8, 128, 128];
            let mut seed = 7u64;
            let v: Vec<f64> = (0..8 * 128 * 128)
                .map(|i| {
                    let (x, y) = ((i / 128) % 128, i % 128);
                    let mean = 50.0 + 8.0 * x as f64 + 4.0 * y as f64;
                    // Poisson(mean/a)*a ~ mean + sqrt(a*mean)*N (large counts), plus read noise.
                    (mean + (ga * mean + gb).sqrt() * gauss(&mut seed)).round()
                })
                .collect();
            let (a, b, c) = fit(&v, shape);
            assert!(c >= 0.0);
            assert!((a as f64 - ga).abs() < 0.15 * ga, "a {a} vs {ga} (b {b})");
            for i in [200.0, 500.0, 1000.0, 1500.0] {
                let (f, t) = (bound(1.0, a, b, 0.0, i), (ga * i + gb).sqrt());
                assert!(
                    (f / t - 1.0).abs() < 0.1,
                    "sigma({i}) {f} vs {t} (a {a}, b {b})"
                );
            }
        }
    }

    /// The packed-key sort gives exactly the pair sort's order, and refuses what it cannot
    /// pack (fractions, -0.0).
    #[test]
    fn integer_sample_sort_matches_the_pair_sort() {
        let mut seed = 3u64;
        for d in [9.0, 3.0] {
            let mut s: Vec<(f64, f64)> = (0..5000)
                .map(|_| {
                    let q = (lcg(&mut seed) * 600.0).floor() - 100.0;
                    let r = (gauss(&mut seed) * 40.0).round();
                    (q / d, if r == 0.0 { 0.0 } else { r })
                })
                .collect();
            let mut want = s.clone();
            want.sort_unstable_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
            assert!(sort_integer_samples(&mut s));
            let bits = |v: &[(f64, f64)]| -> Vec<(u64, u64)> {
                v.iter().map(|p| (p.0.to_bits(), p.1.to_bits())).collect()
            };
            assert_eq!(bits(&s), bits(&want));
        }
        let mut keys: Vec<u64> = (0..3000)
            .map(|i| ((i * 7919 % 3001) << 30) | (i % 17))
            .collect();
        let mut want = keys.clone();
        want.sort_unstable();
        radix_sort(&mut keys, 42);
        assert_eq!(keys, want);
        let mut frac = vec![(1.0 / 9.0, 0.5), (2.0 / 9.0, 1.0)];
        assert!(!sort_integer_samples(&mut frac));
        let mut negzero = vec![(1.0 / 9.0, -0.0), (2.0 / 9.0, 1.0)];
        assert!(!sort_integer_samples(&mut negzero));
    }

    #[test]
    fn constant_and_tiny_inputs_give_zero() {
        assert_eq!(fit(&[5.0; 1000], [1, 10, 100]), (0.0, 0.0, 0.0));
        assert_eq!(fit(&[1.0, 2.0], [1, 1, 2]), (0.0, 0.0, 0.0));
    }

    #[test]
    fn half_width_is_floor_and_clamped() {
        assert_eq!(half_width(0.5, 4.0, 0.0, 0.0, 100.0, 65535), 10);
        assert_eq!(half_width(0.5, 0.0, 0.0, 0.0, 100.0, 65535), 0);
        assert_eq!(half_width(0.5, 1.0, 0.0, 0.0, -50.0, 65535), 0);
        assert_eq!(half_width(1e9, 1.0, 1.0, 0.0, 1e9, 255), 255);
        // The floor: sigma^2 = max(c, a*I + b).
        assert_eq!(half_width(0.5, 1.0, -1000.0, 36.0, 100.0, 65535), 3);
        assert_eq!(half_width(0.5, 1.0, -1000.0, 36.0, 1100.0, 65535), 5);
        assert!(floor_f32(0.1) as f64 > 0.099_999_99);
        assert!(floor_f32(0.1) as f64 <= 0.1);
    }
}
