//! Quality metrics for judging a lossy round trip: pointwise errors, PSNR, SSIM per 2-D slice,
//! and downstream observables (Otsu threshold, connected components,
//! Dice overlap, intensity-distribution distance).
//!
//! Volumes are passed as flat `f64` slices in C order with a 3-D shape `[z, y, x]`; callers
//! fold higher ranks into `z` and treat 1-D/2-D data as `[1, 1, n]` / `[1, h, w]`
//! (see [`shape3`]). The noise level comes from [`h5z_apr::codec::apr::estimate_noise_sigma`].
//! Safe Rust, no I/O.
#![forbid(unsafe_code)]

use h5z_apr::DType;

/// Folds an N-D shape into `[z, y, x]`: the last two axes are the 2-D slice, every leading
/// axis is folded into `z`.
pub fn shape3(shape: &[usize]) -> [usize; 3] {
    match shape.len() {
        0 => [1, 1, 1],
        1 => [1, 1, shape[0]],
        n => [shape[..n - 2].iter().product(), shape[n - 2], shape[n - 1]],
    }
}

/// Converts little-endian element bytes of `dtype` into `f64` values (the codec's conversion).
pub fn to_f64(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    h5z_apr::codec::values_f64(dtype, bytes)
}

/// Summary statistics of one volume (NaNs are skipped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

/// Min, max, mean and standard deviation of the finite values of `x`.
pub fn summary(x: &[f64]) -> Summary {
    let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for &v in x.iter().filter(|v| v.is_finite()) {
        min = min.min(v);
        max = max.max(v);
        sum += v;
        n += 1;
    }
    if n == 0 {
        return Summary {
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            std: f64::NAN,
        };
    }
    let mean = sum / n as f64;
    let var = x
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| (v - mean) * (v - mean))
        .sum::<f64>()
        / n as f64;
    Summary {
        min,
        max,
        mean,
        std: var.sqrt(),
    }
}

/// Pointwise error statistics between an original and its reconstruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorStats {
    pub max_abs: f64,
    pub mean_abs: f64,
    pub mse: f64,
}

impl ErrorStats {
    pub fn rmse(&self) -> f64 {
        self.mse.sqrt()
    }
}

/// Max / mean absolute error and mean squared error. Panics if the lengths differ.
pub fn error_stats(orig: &[f64], recon: &[f64]) -> ErrorStats {
    assert_eq!(orig.len(), recon.len(), "error_stats: length mismatch");
    let (mut max_abs, mut sum_abs, mut sum_sq) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in orig.iter().zip(recon) {
        let d = (a - b).abs();
        max_abs = max_abs.max(d);
        sum_abs += d;
        sum_sq += d * d;
    }
    let n = orig.len().max(1) as f64;
    ErrorStats {
        max_abs,
        mean_abs: sum_abs / n,
        mse: sum_sq / n,
    }
}

/// Peak signal-to-noise ratio in dB: `10 log10(range^2 / mse)`; `+inf` for an exact copy.
pub fn psnr(mse: f64, data_range: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (data_range * data_range / mse).log10()
    }
}

/// Side of the square SSIM window (scikit-image default).
pub const SSIM_WIN: usize = 7;

/// Sums of every `win`-long window along rows of an `h x w` image: output `h x (w-win+1)`.
fn box_rows(src: &[f64], h: usize, w: usize, win: usize) -> Vec<f64> {
    let ow = w + 1 - win;
    let mut out = vec![0.0; h * ow];
    for r in 0..h {
        let row = &src[r * w..(r + 1) * w];
        for c in 0..ow {
            out[r * ow + c] = row[c..c + win].iter().sum();
        }
    }
    out
}

/// Sums of every `win`-long window along columns of an `h x w` image: output `(h-win+1) x w`.
fn box_cols(src: &[f64], h: usize, w: usize, win: usize) -> Vec<f64> {
    let oh = h + 1 - win;
    let mut out = vec![0.0; oh * w];
    for r in 0..oh {
        for k in 0..win {
            let row = &src[(r + k) * w..(r + k + 1) * w];
            for (o, &v) in out[r * w..(r + 1) * w].iter_mut().zip(row) {
                *o += v;
            }
        }
    }
    out
}

fn box_mean(src: &[f64], h: usize, w: usize, wh: usize, ww: usize) -> Vec<f64> {
    let r = box_rows(src, h, w, ww);
    let mut c = box_cols(&r, h, w + 1 - ww, wh);
    let inv = 1.0 / (wh * ww) as f64;
    c.iter_mut().for_each(|v| *v *= inv);
    c
}

/// Mean structural similarity of two `h x w` images (Wang et al. 2004) with scikit-image's
/// defaults: uniform 7x7 window (smaller if the image is), K1 = 0.01, K2 = 0.03, sample
/// covariances, averaged over the windows that lie fully inside the image.
pub fn ssim_2d(a: &[f64], b: &[f64], h: usize, w: usize, data_range: f64) -> f64 {
    assert_eq!(a.len(), h * w);
    assert_eq!(b.len(), h * w);
    let (wh, ww) = (SSIM_WIN.min(h), SSIM_WIN.min(w));
    let np = (wh * ww) as f64;
    let cov_norm = if np > 1.0 { np / (np - 1.0) } else { 1.0 };
    let c1 = (0.01 * data_range).powi(2);
    let c2 = (0.03 * data_range).powi(2);
    let sq = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).collect::<Vec<_>>();
    let ux = box_mean(a, h, w, wh, ww);
    let uy = box_mean(b, h, w, wh, ww);
    let uxx = box_mean(&sq(a, a), h, w, wh, ww);
    let uyy = box_mean(&sq(b, b), h, w, wh, ww);
    let uxy = box_mean(&sq(a, b), h, w, wh, ww);
    let mut total = 0.0;
    for i in 0..ux.len() {
        let (mx, my) = (ux[i], uy[i]);
        let vx = cov_norm * (uxx[i] - mx * mx);
        let vy = cov_norm * (uyy[i] - my * my);
        let vxy = cov_norm * (uxy[i] - mx * my);
        let num = (2.0 * mx * my + c1) * (2.0 * vxy + c2);
        let den = (mx * mx + my * my + c1) * (vx + vy + c2);
        total += if den == 0.0 { 1.0 } else { num / den };
    }
    total / ux.len() as f64
}

/// SSIM of every 2-D slice of a `[z, y, x]` volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceSsim {
    pub mean: f64,
    pub worst: f64,
    /// Index (along the folded `z` axis) of the worst slice.
    pub worst_slice: usize,
}

/// SSIM per `y x x` slice, with one `data_range` for the whole volume.
pub fn ssim_slices(a: &[f64], b: &[f64], shape: [usize; 3], data_range: f64) -> SliceSsim {
    let [nz, h, w] = shape;
    let plane = h * w;
    let (mut sum, mut worst, mut worst_slice) = (0.0, f64::INFINITY, 0);
    for z in 0..nz {
        let s = ssim_2d(
            &a[z * plane..(z + 1) * plane],
            &b[z * plane..(z + 1) * plane],
            h,
            w,
            data_range,
        );
        sum += s;
        if s < worst {
            worst = s;
            worst_slice = z;
        }
    }
    SliceSsim {
        mean: sum / nz.max(1) as f64,
        worst,
        worst_slice,
    }
}

/// Number of histogram bins used by [`otsu_threshold`].
pub const OTSU_BINS: usize = 256;

/// Otsu's threshold over a 256-bin histogram spanning the finite values of `x`: the bin edge
/// that maximises the between-class variance. Foreground is `value > threshold`.
/// A constant input returns its value (so the foreground is empty).
pub fn otsu_threshold(x: &[f64]) -> f64 {
    let s = summary(x);
    if s.max.is_nan() || s.max <= s.min {
        return s.min;
    }
    let scale = OTSU_BINS as f64 / (s.max - s.min);
    let mut hist = [0u64; OTSU_BINS];
    for &v in x.iter().filter(|v| v.is_finite()) {
        let b = (((v - s.min) * scale) as usize).min(OTSU_BINS - 1);
        hist[b] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0) = (0u64, 0.0f64);
    let (mut best, mut best_k) = (-1.0f64, 0usize);
    for (k, &c) in hist.iter().enumerate().take(OTSU_BINS - 1) {
        w0 += c;
        sum0 += k as f64 * c as f64;
        let w1 = total - w0;
        if w0 == 0 || w1 == 0 {
            continue;
        }
        let m0 = sum0 / w0 as f64;
        let m1 = (sum_all - sum0) / w1 as f64;
        let between = w0 as f64 * w1 as f64 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_k = k;
        }
    }
    // Upper edge of the last background bin.
    s.min + (best_k + 1) as f64 / scale
}

/// Connected components of a 3-D mask with 6-connectivity (faces). Returns the size in voxels
/// of every component, in order of first appearance (C order).
pub fn component_sizes(mask: &[bool], shape: [usize; 3]) -> Vec<usize> {
    let [nz, ny, nx] = shape;
    assert_eq!(mask.len(), nz * ny * nx);
    const NONE: u32 = u32::MAX;
    // Union-find over voxel indices; parent[i] == NONE for background.
    let mut parent: Vec<u32> = vec![NONE; mask.len()];
    fn find(parent: &mut [u32], mut i: u32) -> u32 {
        while parent[i as usize] != i {
            let p = parent[i as usize];
            parent[i as usize] = parent[p as usize];
            i = p;
        }
        i
    }
    let union = |parent: &mut [u32], a: u32, b: u32| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent[hi as usize] = lo;
        }
    };
    let plane = ny * nx;
    for i in 0..mask.len() {
        if !mask[i] {
            continue;
        }
        parent[i] = i as u32;
        let (z, rem) = (i / plane, i % plane);
        let (y, x) = (rem / nx, rem % nx);
        if x > 0 && mask[i - 1] {
            union(&mut parent, i as u32, (i - 1) as u32);
        }
        if y > 0 && mask[i - nx] {
            union(&mut parent, i as u32, (i - nx) as u32);
        }
        if z > 0 && mask[i - plane] {
            union(&mut parent, i as u32, (i - plane) as u32);
        }
    }
    let mut size_of_root: Vec<u32> = vec![0; mask.len()];
    let mut order = Vec::new();
    for (i, &m) in mask.iter().enumerate() {
        if m {
            let r = find(&mut parent, i as u32) as usize;
            if size_of_root[r] == 0 {
                order.push(r);
            }
            size_of_root[r] += 1;
        }
    }
    order.iter().map(|&r| size_of_root[r] as usize).collect()
}

/// Dice overlap `2|A∩B| / (|A| + |B|)`; 1 when both masks are empty.
pub fn dice(a: &[bool], b: &[bool]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut inter, mut na, mut nb) = (0usize, 0usize, 0usize);
    for (&p, &q) in a.iter().zip(b) {
        na += p as usize;
        nb += q as usize;
        inter += (p && q) as usize;
    }
    if na + nb == 0 {
        1.0
    } else {
        2.0 * inter as f64 / (na + nb) as f64
    }
}

/// 1-Wasserstein (earth mover's) distance between the intensity distributions of two
/// equally long samples, in intensity units: the mean absolute difference of the sorted
/// values. Never larger than the mean absolute error between the samples.
#[cfg(test)]
pub fn wasserstein1(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut sa = a.to_vec();
    sa.sort_unstable_by(f64::total_cmp);
    wasserstein1_sorted(&sa, b)
}

/// Like [`wasserstein1`] with the first sample already sorted (reuse it across settings).
pub fn wasserstein1_sorted(sorted_a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(sorted_a.len(), b.len());
    let mut sb = b.to_vec();
    sb.sort_unstable_by(f64::total_cmp);
    let n = sorted_a.len().max(1) as f64;
    sorted_a
        .iter()
        .zip(&sb)
        .map(|(p, q)| (p - q).abs())
        .sum::<f64>()
        / n
}

/// Result of the reference segmentation (Otsu threshold, then 6-connected components).
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    pub threshold: f64,
    pub mask: Vec<bool>,
    /// Foreground voxels.
    pub foreground: usize,
    /// Components with at least `min_voxels` voxels.
    pub objects: usize,
}

/// Segments a volume: Otsu threshold, foreground `> threshold`, objects = 6-connected
/// components of at least `min_voxels` voxels.
pub fn segment(x: &[f64], shape: [usize; 3], min_voxels: usize) -> Segmentation {
    let threshold = otsu_threshold(x);
    let mask: Vec<bool> = x.iter().map(|&v| v > threshold).collect();
    let foreground = mask.iter().filter(|&&m| m).count();
    let objects = component_sizes(&mask, shape)
        .into_iter()
        .filter(|&s| s >= min_voxels.max(1))
        .count();
    Segmentation {
        threshold,
        mask,
        foreground,
        objects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn shape3_folds_leading_axes() {
        assert_eq!(shape3(&[7]), [1, 1, 7]);
        assert_eq!(shape3(&[4, 5]), [1, 4, 5]);
        assert_eq!(shape3(&[2, 3, 4, 5]), [6, 4, 5]);
    }

    #[test]
    fn to_f64_reads_little_endian() {
        assert_eq!(
            to_f64(DType::I16, &[0xff, 0xff, 0x02, 0x01]),
            vec![-1.0, 258.0]
        );
        assert_eq!(to_f64(DType::F32, &1.5f32.to_le_bytes()), vec![1.5]);
        assert_eq!(to_f64(DType::I8, &[0x80]), vec![-128.0]);
    }

    #[test]
    fn error_stats_and_psnr_by_hand() {
        // errors 0, 1, -3, 0 -> max 3, mean |e| 1, mse (0+1+9+0)/4 = 2.5
        let e = error_stats(&[0.0, 1.0, 2.0, 3.0], &[0.0, 2.0, -1.0, 3.0]);
        assert_eq!(e.max_abs, 3.0);
        assert_eq!(e.mean_abs, 1.0);
        assert_eq!(e.mse, 2.5);
        // range 255, mse 2.5 -> 10 log10(65025 / 2.5) = 44.15140...
        assert!(close(psnr(2.5, 255.0), 44.151_403_52, 1e-7));
        assert_eq!(psnr(0.0, 255.0), f64::INFINITY);
    }

    #[test]
    fn ssim_identical_is_one_and_constant_shift_by_hand() {
        let h = 9;
        let w = 8;
        let a: Vec<f64> = (0..h * w).map(|i| ((i * 37) % 101) as f64).collect();
        assert_eq!(ssim_2d(&a, &a, h, w, 100.0), 1.0);
        // Two constant 7x7 images c and d: variances 0, so
        // SSIM = (2cd + C1) / (c^2 + d^2 + C1), C1 = (0.01 L)^2.
        let (c, d, l) = (10.0, 20.0, 100.0);
        let x = vec![c; 49];
        let y = vec![d; 49];
        let c1 = (0.01f64 * l).powi(2);
        let want = (2.0 * c * d + c1) / (c * c + d * d + c1);
        assert!(close(ssim_2d(&x, &y, 7, 7, l), want, 1e-12));
    }

    #[test]
    fn ssim_single_window_by_hand() {
        // 7x7 images: x = checkerboard 0/1, y = x negated (1 - x). One window.
        let x: Vec<f64> = (0..49).map(|i| ((i / 7 + i % 7) % 2) as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.0 - v).collect();
        let l = 1.0f64;
        let (c1, c2) = ((0.01 * l).powi(2), (0.03 * l).powi(2));
        let mx = 25.0 / 49.0; // 25 ones
        let my = 24.0 / 49.0;
        let n = 49.0f64;
        let vx = n / (n - 1.0) * (mx - mx * mx);
        let vy = n / (n - 1.0) * (my - my * my);
        let vxy = n / (n - 1.0) * (0.0 - mx * my);
        let want =
            (2.0 * mx * my + c1) * (2.0 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        assert!(close(ssim_2d(&x, &y, 7, 7, l), want, 1e-12));
        assert!(want < -0.9);
    }

    #[test]
    fn ssim_slices_finds_the_worst_slice() {
        let (h, w) = (8, 8);
        let a: Vec<f64> = (0..3 * h * w).map(|i| (i % 13) as f64).collect();
        let mut b = a.clone();
        for v in &mut b[h * w..2 * h * w] {
            *v = 0.0;
        }
        let s = ssim_slices(&a, &b, [3, h, w], 12.0);
        assert_eq!(s.worst_slice, 1);
        assert!(s.worst < 0.5);
        assert!(close(s.mean, (2.0 + s.worst) / 3.0, 1e-12));
    }

    #[test]
    fn otsu_splits_two_clusters() {
        // 60 values at 10, 40 values at 200: any edge between the clusters maximises the
        // between-class variance; the first such edge lies just above 10.
        let mut x = vec![10.0; 60];
        x.extend(vec![200.0; 40]);
        let t = otsu_threshold(&x);
        assert!(t > 10.0 && t < 200.0, "t {t}");
        // Bin width is 190/256; the first edge above the low cluster is 10 + 190/256.
        assert!(close(t, 10.0 + 190.0 / 256.0, 1e-9));
        let fg = x.iter().filter(|&&v| v > t).count();
        assert_eq!(fg, 40);
        assert_eq!(otsu_threshold(&[5.0, 5.0]), 5.0);
    }

    #[test]
    fn otsu_three_levels_by_hand() {
        // Values 0 (x50), 100 (x30), 250 (x20): classes {0} vs {100, 250} give between-class
        // variance 50*50*(0-160)^2 = 6.4e7; {0, 100} vs {250}: 80*20*(37.5-250)^2 = 7.225e7.
        // So the threshold separates 250 from the rest.
        let mut x = vec![0.0; 50];
        x.extend(vec![100.0; 30]);
        x.extend(vec![250.0; 20]);
        let t = otsu_threshold(&x);
        assert!((100.0..250.0).contains(&t), "t {t}");
    }

    #[test]
    fn components_by_hand() {
        // Slice 0:      Slice 1:
        // 1 1 0 0       0 0 0 0
        // 0 0 0 1       0 0 0 1
        // 1 0 0 1       0 0 0 0
        // Objects: {(0,0,0),(0,0,1)} size 2; {(0,1,3),(0,2,3),(1,1,3)} size 3; {(0,2,0)} size 1.
        // Diagonal contact does not connect (6-connectivity).
        let s0 = [1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1];
        let s1 = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        let mask: Vec<bool> = s0.iter().chain(&s1).map(|&v| v == 1).collect();
        assert_eq!(component_sizes(&mask, [2, 3, 4]), vec![2, 3, 1]);
        let diag = [true, false, false, true];
        assert_eq!(component_sizes(&diag, [1, 2, 2]), vec![1, 1]);
        // A U shape whose arms meet only at the bottom row: one component (needs union of
        // two provisional labels).
        let u = [1, 0, 1, 1, 0, 1, 1, 1, 1];
        let u: Vec<bool> = u.iter().map(|&v| v == 1).collect();
        assert_eq!(component_sizes(&u, [1, 3, 3]), vec![7]);
    }

    #[test]
    fn dice_by_hand() {
        let a = [true, true, false, false];
        let b = [true, false, true, false];
        assert_eq!(dice(&a, &b), 0.5); // 2*1 / (2+2)
        assert_eq!(dice(&a, &a), 1.0);
        assert_eq!(dice(&[false; 3], &[false; 3]), 1.0);
        assert_eq!(dice(&[true, false], &[false, true]), 0.0);
    }

    #[test]
    fn wasserstein_by_hand_and_below_mae() {
        // Permutation: same distribution, distance 0, though pointwise errors are large.
        assert_eq!(wasserstein1(&[1.0, 2.0, 3.0], &[3.0, 1.0, 2.0]), 0.0);
        // Shift by 2 -> distance 2.
        assert_eq!(wasserstein1(&[1.0, 2.0, 3.0], &[3.0, 4.0, 5.0]), 2.0);
        let a = [0.0, 5.0, 1.0, 7.0];
        let b = [1.0, 3.0, 1.5, 9.0];
        let mae = error_stats(&a, &b).mean_abs;
        // sorted a 0 1 5 7, sorted b 1 1.5 3 9 -> (1 + .5 + 2 + 2) / 4 = 1.375
        assert_eq!(wasserstein1(&a, &b), 1.375);
        assert!(wasserstein1(&a, &b) <= mae);
    }

    #[test]
    fn segment_counts_objects_and_applies_min_size() {
        // Two bright blobs (sizes 4 and 1) on a dark background.
        let mut x = vec![0.0; 5 * 5];
        for i in [0, 1, 5, 6, 18] {
            x[i] = 100.0;
        }
        let s = segment(&x, [1, 5, 5], 1);
        assert_eq!(s.foreground, 5);
        assert_eq!(s.objects, 2);
        assert_eq!(segment(&x, [1, 5, 5], 2).objects, 1);
    }
}
