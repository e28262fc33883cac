//! Local intensity scale (LibAPR `LocalIntensityScale`, `get_window_alt`).
//!
//! `m = box_mean_w1(I)`, `sigma = R · box_mean_w2(|I - m|)` on the ds grid, computed on a copy
//! reflect-padded by `max(w1, w2)` along each active axis (an axis is active iff its ds length
//! exceeds `max(w1, w2)`); R depends on the number of active axes.

use super::grid::{box_mean_axis, mirror, Dims};

pub(crate) const W1: [usize; 6] = [1, 1, 1, 2, 2, 3];
pub(crate) const W2: [usize; 6] = [2, 3, 4, 4, 5, 6];
pub(crate) const R3: [f32; 6] = [12.8214, 26.1256, 40.2795, 23.3692, 36.2061, 27.0385];
pub(crate) const R2: [f32; 6] = [13.2421, 28.7069, 52.0385, 24.4272, 34.9565, 21.1891];
pub(crate) const R1: [f32; 6] = [13.9040, 31.2843, 57.4037, 30.3767, 45.9930, 29.0890];

/// Window index `p = clamp(round(psfx/dx) - 1, 0, 5)`.
pub(crate) fn window_index(psfx: f32, dx: f32) -> usize {
    let p = (psfx / dx).round() - 1.0;
    if p.is_nan() {
        0
    } else {
        p.clamp(0.0, 5.0) as usize
    }
}

/// The R constant for `active` axes (1..=3) and window `p`.
pub(crate) fn r_constant(active: usize, p: usize) -> f32 {
    match active {
        1 => R1[p],
        2 => R2[p],
        _ => R3[p],
    }
}

/// Copies `src` (`[outer][n][lanes]`) into `[outer][n + 2·pad][lanes]`, mirror-filling the pads.
fn pad_axis(src: &[f32], (outer, n, lanes): (usize, usize, usize), pad: usize) -> Vec<f32> {
    let np = n + 2 * pad;
    let mut dst = vec![0f32; outer * np * lanes];
    for (s, d) in src
        .chunks_exact(n * lanes)
        .zip(dst.chunks_exact_mut(np * lanes))
        .take(outer)
    {
        for (j, out) in d.chunks_exact_mut(lanes).enumerate() {
            let i = mirror(j as isize - pad as isize, n);
            out.copy_from_slice(&s[i * lanes..(i + 1) * lanes]);
        }
    }
    dst
}

/// Local intensity scale on the ds grid `d` of the ds intensity `ids`.
pub(crate) fn local_intensity_scale(ids: &[f32], d: Dims, psfx: f32, dx: f32) -> Vec<f32> {
    let p = window_index(psfx, dx);
    let (w1, w2) = (W1[p], W2[p]);
    let wmax = w1.max(w2);
    let active: Vec<usize> = [2usize, 1, 0]
        .into_iter()
        .filter(|&a| d.n(a) > wmax)
        .collect();
    if active.is_empty() || ids.is_empty() {
        let n = ids.len().max(1) as f64;
        let mean = ids.iter().map(|&v| v as f64).sum::<f64>() / n;
        let min = ids.iter().copied().fold(f32::INFINITY, f32::min);
        let s = if ids.is_empty() {
            0.0
        } else {
            (mean - min as f64) as f32
        };
        return vec![s; ids.len()];
    }
    // pad
    let mut pd = d;
    let mut buf = ids.to_vec();
    for &a in &active {
        buf = pad_axis(&buf, pd.axis_view(a), wmax);
        match a {
            0 => pd.nz += 2 * wmax,
            1 => pd.nx += 2 * wmax,
            _ => pd.ny += 2 * wmax,
        }
    }
    let padded = buf.clone();
    let mut tmp = vec![0f32; buf.len()];
    for &a in &active {
        box_mean_axis(&buf, &mut tmp, pd.axis_view(a), w1);
        std::mem::swap(&mut buf, &mut tmp);
    }
    for (m, v) in buf.iter_mut().zip(&padded) {
        *m = (*v - *m).abs();
    }
    for &a in &active {
        box_mean_axis(&buf, &mut tmp, pd.axis_view(a), w2);
        std::mem::swap(&mut buf, &mut tmp);
    }
    // crop and scale
    let r = r_constant(active.len(), p);
    let off = |a: usize| if active.contains(&a) { wmax } else { 0 };
    let (oz, ox, oy) = (off(0), off(1), off(2));
    let mut out = Vec::with_capacity(d.len());
    for z in 0..d.nz {
        for x in 0..d.nx {
            let start = ((z + oz) * pd.nx + x + ox) * pd.ny + oy;
            out.extend(buf[start..start + d.ny].iter().map(|v| v * r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_constants() {
        assert_eq!(window_index(2.0, 1.0), 1);
        assert_eq!((W1[1], W2[1]), (1, 3));
        assert_eq!(window_index(0.1, 1.0), 0);
        assert_eq!(window_index(100.0, 1.0), 5);
        assert_eq!(r_constant(3, 1), 26.1256);
        assert_eq!(r_constant(2, 1), 28.7069);
        assert_eq!(r_constant(1, 1), 31.2843);
        assert_eq!(r_constant(3, 5), 27.0385);
    }

    #[test]
    fn constant_image_has_zero_scale_and_step_is_scaled() {
        let d = Dims {
            nz: 1,
            nx: 1,
            ny: 20,
        };
        let s = local_intensity_scale(&[5.0; 20], d, 2.0, 1.0);
        assert!(s.iter().all(|&v| v == 0.0));
        // a step of height 10: next to the edge m differs from I, far away it does not
        let step: Vec<f32> = (0..20).map(|i| if i < 10 { 0.0 } else { 10.0 }).collect();
        let s = local_intensity_scale(&step, d, 2.0, 1.0);
        // at i = 9: |I - m| is 10/3 at 9 and 10, 0 elsewhere in the w2 = 3 window -> (20/3)/7 * R1
        let want = 20.0 / 3.0 / 7.0 * R1[1];
        assert!((s[9] - want).abs() < 1e-3, "{} vs {want}", s[9]);
        assert_eq!(s[0], 0.0);
        assert_eq!(s[19], 0.0);
    }

    #[test]
    fn small_axes_are_inactive() {
        // 3-D grid with z length 3 (<= max(w1,w2) = 3): only x and y active -> 2-D constant
        let d = Dims {
            nz: 3,
            nx: 8,
            ny: 8,
        };
        let at = |z: usize, x: usize, y: usize| (z * 8 + x) * 8 + y;
        let mut ids = vec![0f32; d.len()];
        ids[at(1, 4, 4)] = 9.0;
        let s = local_intensity_scale(&ids, d, 2.0, 1.0);
        // the z-neighbours of the spike are unaffected (z inactive), the spike's own cell is not
        assert_eq!(s[at(0, 4, 4)], 0.0);
        assert!(s[at(1, 4, 4)] > 0.0);
        // all-inactive: constant mean - min
        let d1 = Dims {
            nz: 1,
            nx: 2,
            ny: 3,
        };
        let s = local_intensity_scale(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], d1, 2.0, 1.0);
        assert!(s.iter().all(|&v| (v - 2.5).abs() < 1e-6));
    }
}
