//! Grid geometry and separable per-axis kernels shared by the pipeline stages.
//!
//! Every 3-D array is a flat C-order slice over `(z, x, y)` (y fastest). A pass along one axis
//! views the array as `[outer][n][lanes]`: `n` samples along the axis, each sample a contiguous
//! run of `lanes` values (y: lanes = 1; x: outer = nz, lanes = ny; z: outer = 1, lanes = nx·ny),
//! so the inner loops are long contiguous zips the compiler vectorises.

/// Shape of a 3-D grid, `(z, x, y)`, y fastest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub nz: usize,
    pub nx: usize,
    pub ny: usize,
}

impl Dims {
    pub fn from_shape(s: [usize; 3]) -> Self {
        Dims {
            nz: s[0],
            nx: s[1],
            ny: s[2],
        }
    }
    pub fn shape(self) -> [usize; 3] {
        [self.nz, self.nx, self.ny]
    }
    pub fn len(self) -> usize {
        self.nz * self.nx * self.ny
    }
    /// The 2x-downsampled grid, `ceil(n/2)` per axis.
    pub fn half(self) -> Dims {
        Dims {
            nz: self.nz.div_ceil(2),
            nx: self.nx.div_ceil(2),
            ny: self.ny.div_ceil(2),
        }
    }
    pub fn n(self, axis: usize) -> usize {
        self.shape()[axis]
    }
    /// `(outer, n, lanes)` view for a pass along `axis` (0 = z, 1 = x, 2 = y).
    pub fn axis_view(self, axis: usize) -> (usize, usize, usize) {
        match axis {
            0 => (1, self.nz, self.nx * self.ny),
            1 => (self.nz, self.nx, self.ny),
            _ => (self.nz * self.nx, self.ny, 1),
        }
    }
}

/// `Lmax = max(1, ceil(log2(max dim)))` (LibAPR `GenInfo`).
pub(crate) fn level_max_for(shape: [usize; 3]) -> u32 {
    let m = shape.iter().copied().max().unwrap_or(0);
    if m <= 2 {
        1
    } else {
        usize::BITS - (m - 1).leading_zeros()
    }
}

/// `ceil(n / 2^s)`.
pub(crate) fn ceil_shift(n: usize, s: u32) -> usize {
    if s >= usize::BITS {
        usize::from(n > 0)
    } else {
        let d = 1usize << s;
        n.div_ceil(d)
    }
}

/// Number of in-range pixels along one axis of cell `i` at shift `s` (cell edge `2^s`).
pub(crate) fn cell_extent(n: usize, s: u32, i: usize) -> (usize, usize) {
    if s >= usize::BITS {
        return (0, n);
    }
    let lo = i << s;
    let hi = ((i + 1) << s).min(n);
    (lo, hi)
}

/// Whole-sample mirror index (`... c b | a b c d | c b ...`), `n >= 2`.
pub(crate) fn mirror(j: isize, n: usize) -> usize {
    let p = 2 * n as isize - 2;
    let m = j.rem_euclid(p);
    if m >= n as isize {
        (p - m) as usize
    } else {
        m as usize
    }
}

/// `dst = box mean of src` along one axis with half-width `w`, windows truncated at the ends
/// and divided by the in-range count. `src`, `dst` are `[outer][n][lanes]`.
pub(crate) fn box_mean_axis(
    src: &[f32],
    dst: &mut [f32],
    (outer, n, lanes): (usize, usize, usize),
    w: usize,
) {
    let inv: Vec<f32> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(w);
            let hi = (i + w).min(n - 1);
            1.0 / (hi - lo + 1) as f32
        })
        .collect();
    let blk = n * lanes;
    for (s, d) in src
        .chunks_exact(blk)
        .zip(dst.chunks_exact_mut(blk))
        .take(outer)
    {
        d.copy_from_slice(s);
        for off in 1..=w.min(n - 1) {
            let k = off * lanes;
            // d[i] += s[i + off] and d[i + off] += s[i]
            for (a, b) in d[..blk - k].iter_mut().zip(&s[k..]) {
                *a += *b;
            }
            for (a, b) in d[k..].iter_mut().zip(&s[..blk - k]) {
                *a += *b;
            }
        }
        if lanes == 1 {
            for (a, f) in d.iter_mut().zip(&inv) {
                *a *= *f;
            }
        } else {
            for (row, f) in d.chunks_exact_mut(lanes).zip(&inv) {
                for a in row {
                    *a *= *f;
                }
            }
        }
    }
}

/// Cubic B-spline evaluation filter `[1/6, 4/6, 1/6]` along one axis, mirrored ends
/// (`4/6·c0 + 2/6·c1`). `n >= 2`.
pub(crate) fn bspline_eval_axis(
    src: &[f32],
    dst: &mut [f32],
    (outer, n, lanes): (usize, usize, usize),
) {
    const A: f32 = 4.0 / 6.0;
    const B: f32 = 1.0 / 6.0;
    let blk = n * lanes;
    for (s, d) in src
        .chunks_exact(blk)
        .zip(dst.chunks_exact_mut(blk))
        .take(outer)
    {
        for (a, b) in d.iter_mut().zip(s) {
            *a = A * *b;
        }
        for (a, b) in d[..blk - lanes].iter_mut().zip(&s[lanes..]) {
            *a += B * *b;
        }
        for (a, b) in d[lanes..].iter_mut().zip(&s[..blk - lanes]) {
            *a += B * *b;
        }
        // mirror: the missing neighbour of the first/last sample is its inner neighbour
        for (a, b) in d[..lanes].iter_mut().zip(&s[lanes..2 * lanes]) {
            *a += B * *b;
        }
        for (a, b) in d[blk - lanes..]
            .iter_mut()
            .zip(&s[blk - 2 * lanes..blk - lanes])
        {
            *a += B * *b;
        }
    }
}

/// In-place 3-wide OR dilation of a 0/1 byte mask along one axis.
pub(crate) fn dilate_axis(
    m: &mut [u8],
    tmp: &mut Vec<u8>,
    (outer, n, lanes): (usize, usize, usize),
) {
    if n < 2 {
        return;
    }
    let blk = n * lanes;
    tmp.clear();
    tmp.extend_from_slice(m);
    for (s, d) in tmp
        .chunks_exact(blk)
        .zip(m.chunks_exact_mut(blk))
        .take(outer)
    {
        for (a, b) in d[..blk - lanes].iter_mut().zip(&s[lanes..]) {
            *a |= *b;
        }
        for (a, b) in d[lanes..].iter_mut().zip(&s[..blk - lanes]) {
            *a |= *b;
        }
    }
}

/// 3^d dilation over all axes of a 0/1 byte mask (axes of length 1 have no neighbours).
pub(crate) fn dilate(m: &mut [u8], d: Dims, tmp: &mut Vec<u8>) {
    for axis in [2, 1, 0] {
        dilate_axis(m, tmp, d.axis_view(axis));
    }
}

/// Max over each 2x2x2 block (in-range children only) of a child grid `c` into `ceil(c/2)`.
pub(crate) fn max_pool_u8(src: &[u8], c: Dims) -> Vec<u8> {
    let p = c.half();
    let mut dst = vec![0u8; p.len()];
    for pz in 0..p.nz {
        for px in 0..p.nx {
            let drow = &mut dst[(pz * p.nx + px) * p.ny..][..p.ny];
            for cz in (2 * pz)..(2 * pz + 2).min(c.nz) {
                for cx in (2 * px)..(2 * px + 2).min(c.nx) {
                    let srow = &src[(cz * c.nx + cx) * c.ny..][..c.ny];
                    let mut it = srow.chunks_exact(2);
                    for (d, pair) in drow.iter_mut().zip(&mut it) {
                        *d = (*d).max(pair[0]).max(pair[1]);
                    }
                    if let [last] = it.remainder() {
                        let d = &mut drow[p.ny - 1];
                        *d = (*d).max(*last);
                    }
                }
            }
        }
    }
    dst
}

/// Sum over each 2x2x2 block (in-range children only) of a child grid into `ceil(c/2)`, in f64.
pub(crate) fn sum_pool<T: Copy + Into<f64>>(src: &[T], c: Dims) -> Vec<f64> {
    let p = c.half();
    let mut dst = vec![0f64; p.len()];
    for pz in 0..p.nz {
        for px in 0..p.nx {
            let drow = &mut dst[(pz * p.nx + px) * p.ny..][..p.ny];
            for cz in (2 * pz)..(2 * pz + 2).min(c.nz) {
                for cx in (2 * px)..(2 * px + 2).min(c.nx) {
                    let srow = &src[(cz * c.nx + cx) * c.ny..][..c.ny];
                    let mut it = srow.chunks_exact(2);
                    for (d, pair) in drow.iter_mut().zip(&mut it) {
                        *d += pair[0].into() + pair[1].into();
                    }
                    if let [last] = it.remainder() {
                        drow[p.ny - 1] += (*last).into();
                    }
                }
            }
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_max_matches_formula() {
        assert_eq!(level_max_for([1, 1, 1]), 1);
        assert_eq!(level_max_for([1, 1, 2]), 1);
        assert_eq!(level_max_for([1, 1, 3]), 2);
        assert_eq!(level_max_for([1, 4, 1]), 2);
        assert_eq!(level_max_for([5, 1, 1]), 3);
        assert_eq!(level_max_for([16, 256, 256]), 8);
        assert_eq!(level_max_for([37, 50, 61]), 6);
        assert_eq!(ceil_shift(61, 1), 31);
        assert_eq!(ceil_shift(61, 6), 1);
    }

    #[test]
    fn mirror_is_whole_sample() {
        let m: Vec<usize> = (-3..7).map(|j| mirror(j, 4)).collect();
        assert_eq!(m, vec![3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    }

    #[test]
    fn box_mean_truncates_windows() {
        let src = [1.0f32, 2.0, 3.0, 4.0, 10.0];
        let mut dst = [0.0f32; 5];
        box_mean_axis(&src, &mut dst, (1, 5, 1), 1);
        let want = [1.5, 2.0, 3.0, 17.0 / 3.0, 7.0];
        for (a, b) in dst.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{dst:?}");
        }
        // same along a lane axis
        let src2: Vec<f32> = src.iter().flat_map(|&v| [v, -v]).collect();
        let mut dst2 = vec![0.0; 10];
        box_mean_axis(&src2, &mut dst2, (1, 5, 2), 1);
        for i in 0..5 {
            assert!((dst2[2 * i] - want[i]).abs() < 1e-6);
            assert!((dst2[2 * i + 1] + want[i]).abs() < 1e-6);
        }
    }
}
