//! The particle-cell partition, particle sampling (cell means) and piecewise-constant
//! reconstruction.

use bitvec::vec::BitVec;
use ndarray::{ArrayView3, ArrayViewMut3};

use super::grid::{ceil_shift, cell_extent, level_max_for, sum_pool, Dims};

/// Particle-cell partition of one 3-D block. `shape = (z, x, y)` pixels, y fastest (C order).
///
/// Level `l` (`0..=level_max`) has `ceil(n / 2^(Lmax-l))` cells per axis; a level-`l` cell
/// spans `2^(Lmax-l)` pixels per active axis (the last one truncated). Axes of length 1 are
/// inactive: every level has one cell along them. Particle flags are stored per level as one
/// bit per cell in C order over the level grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticleCells {
    shape: [usize; 3],
    lmax: u32,
    /// `level_shape(l)` for every level (cached: `is_particle` is called per cell by walkers).
    shapes: Vec<[usize; 3]>,
    levels: Vec<BitVec>,
}

impl ParticleCells {
    /// A partition structure with no particles yet.
    pub fn new(shape: [usize; 3]) -> Self {
        let lmax = level_max_for(shape);
        let shapes: Vec<[usize; 3]> = (0..=lmax)
            .map(|l| shape.map(|n| ceil_shift(n, lmax - l)))
            .collect();
        let levels = shapes
            .iter()
            .map(|s| BitVec::repeat(false, s.iter().product()))
            .collect();
        ParticleCells {
            shape,
            lmax,
            shapes,
            levels,
        }
    }

    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// `max(1, ceil(log2(max dim)))` (LibAPR `GenInfo`).
    pub fn level_max(&self) -> u32 {
        self.lmax
    }

    /// `ceil(n / 2^(Lmax-l))` per axis. Panics if `l > level_max()`.
    pub fn level_shape(&self, l: u32) -> [usize; 3] {
        assert!(l <= self.lmax, "level {l} > level_max {}", self.lmax);
        self.shapes[l as usize]
    }

    #[inline]
    fn linear(&self, l: u32, idx: [usize; 3]) -> Option<usize> {
        let s = self.shapes.get(l as usize)?;
        if idx[0] >= s[0] || idx[1] >= s[1] || idx[2] >= s[2] {
            return None;
        }
        Some((idx[0] * s[1] + idx[1]) * s[2] + idx[2])
    }

    /// Whether cell `idx = (z, x, y)` of level `l` is a particle (false when out of range).
    pub fn is_particle(&self, l: u32, idx: [usize; 3]) -> bool {
        const W: usize = usize::BITS as usize;
        self.linear(l, idx)
            .map(|i| (self.levels[l as usize].as_raw_slice()[i / W] >> (i % W)) & 1 == 1)
            .unwrap_or(false)
    }

    /// Sets or clears a particle flag. Panics if `l` or `idx` is out of range.
    pub fn set_particle(&mut self, l: u32, idx: [usize; 3], on: bool) {
        let i = self
            .linear(l, idx)
            .unwrap_or_else(|| panic!("cell {idx:?} out of range at level {l}"));
        self.levels[l as usize].set(i, on);
    }

    /// Sets bit `i` of level `l` (word write; `i` must be in range).
    pub(crate) fn set_linear(&mut self, l: u32, i: usize) {
        const W: usize = usize::BITS as usize;
        let b = &mut self.levels[l as usize];
        debug_assert!(i < b.len());
        b.as_raw_mut_slice()[i / W] |= 1usize << (i % W);
    }

    /// Sets bits `i..i+n` of level `l` (`1 <= n <= 2`, in range).
    pub(crate) fn set_run(&mut self, l: u32, i: usize, n: usize) {
        const W: usize = usize::BITS as usize;
        let b = &mut self.levels[l as usize];
        debug_assert!(i + n <= b.len() && (1..=2).contains(&n));
        let mask = (1usize << n) - 1;
        let (w, off) = (i / W, i % W);
        let words = b.as_raw_mut_slice();
        words[w] |= mask << off;
        if off + n > W {
            words[w + 1] |= mask >> (W - off);
        }
    }

    /// The particle flags of level `l`, one bit per cell in C order over `level_shape(l)`.
    pub fn level_bits(&self, l: u32) -> &BitVec {
        &self.levels[l as usize]
    }

    /// Number of particles at level `l`.
    pub fn num_particles_at(&self, l: u32) -> usize {
        self.levels[l as usize].count_ones()
    }

    pub fn num_particles(&self) -> usize {
        self.levels.iter().map(|b| b.count_ones()).sum()
    }

    /// Pixel ranges `[lo, hi)` along (z, x, y) covered by cell `k` (linear) of level `l`.
    fn cell_box(&self, l: u32, k: usize) -> [(usize, usize); 3] {
        let s = self.level_shape(l);
        let sh = self.lmax - l;
        let (z, x, y) = (k / (s[1] * s[2]), (k / s[2]) % s[1], k % s[2]);
        [
            cell_extent(self.shape[0], sh, z),
            cell_extent(self.shape[1], sh, x),
            cell_extent(self.shape[2], sh, y),
        ]
    }

    /// True iff every pixel is covered by exactly one particle cell.
    pub fn is_partition(&self) -> bool {
        let [nz, nx, ny] = self.shape;
        let mut cover = vec![0u8; nz * nx * ny];
        for l in 0..=self.lmax {
            for k in self.levels[l as usize].iter_ones() {
                let [(z0, z1), (x0, x1), (y0, y1)] = self.cell_box(l, k);
                for z in z0..z1 {
                    for x in x0..x1 {
                        for c in &mut cover[(z * nx + x) * ny + y0..(z * nx + x) * ny + y1] {
                            *c = c.saturating_add(1);
                        }
                    }
                }
            }
        }
        cover.iter().all(|&c| c == 1)
    }

    /// Every pixel is its own particle (used for tiny blocks).
    pub(crate) fn fill_pixels(&mut self) {
        let lm = self.lmax as usize;
        for (l, b) in self.levels.iter_mut().enumerate() {
            b.fill(l == lm);
        }
    }
}

/// Calls `f(i - start)` for every set bit `i` in `start..end`, in increasing order, scanning
/// whole words (much faster than `BitSlice::iter_ones` on short ranges).
#[inline]
/// Calls `f(i - start)` for every set bit `i` in `start..end`, in increasing order (word scan).
pub(crate) fn for_each_one(bits: &BitVec, start: usize, end: usize, mut f: impl FnMut(usize)) {
    const W: usize = usize::BITS as usize;
    let words = bits.as_raw_slice();
    let mut w = start / W;
    while w * W < end {
        let mut word = words[w];
        let base = w * W;
        if base < start {
            word &= usize::MAX << (start - base);
        }
        if end - base < W {
            word &= (1usize << (end - base)) - 1;
        }
        while word != 0 {
            let t = word.trailing_zeros() as usize;
            f(base + t - start);
            word &= word - 1;
        }
        w += 1;
    }
}

/// Particle intensities = mean of the in-range pixels of each particle cell, in LibAPR order
/// (level ascending, then z, x, y within the level). Panics if the shapes differ.
pub fn sample_means(img: ArrayView3<f32>, cells: &ParticleCells) -> Vec<f32> {
    let (nz, nx, ny) = img.dim();
    assert_eq!(
        [nz, nx, ny],
        cells.shape,
        "image shape differs from the cells' shape"
    );
    let img = img.as_standard_layout();
    sample_means_of(img.as_slice().expect("standard layout"), cells)
}

/// [`sample_means`] of a C-order block of any element type exact in f32 (u8, i8, u16, i16,
/// f32: the same means bit for bit as of the block converted to f32), so an integer block
/// need not be widened to f32 first. Panics if `data.len()` differs from the cells' size.
pub fn sample_means_of<T: Copy + Into<f64>>(data: &[T], cells: &ParticleCells) -> Vec<f32> {
    assert_eq!(
        data.len(),
        cells.shape.iter().product::<usize>(),
        "image size differs from the cells' size"
    );
    let lmax = cells.lmax;
    let mut out = Vec::with_capacity(cells.num_particles());
    let lowest = (0..lmax).find(|&l| cells.levels[l as usize].any());
    // sum pyramid (f64) for the levels that hold particles below lmax
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); lmax as usize];
    if let Some(lo) = lowest {
        let mut d = Dims::from_shape(cells.shape);
        sums[lmax as usize - 1] = sum_pool(data, d);
        d = d.half();
        for l in (lo..lmax - 1).rev() {
            sums[l as usize] = sum_pool(&sums[l as usize + 1], d);
            d = d.half();
        }
    }
    let [nz, nx, ny] = cells.shape;
    for l in 0..=lmax {
        let bits = &cells.levels[l as usize];
        if bits.not_any() {
            continue;
        }
        let s = cells.level_shape(l);
        if l == lmax {
            for_each_one(bits, 0, bits.len(), |i| out.push(data[i].into() as f32));
            continue;
        }
        let sh = lmax - l;
        let cy: Vec<f64> = (0..s[2])
            .map(|i| {
                let (a, b) = cell_extent(ny, sh, i);
                (b - a) as f64
            })
            .collect();
        let sum = &sums[l as usize];
        for z in 0..s[0] {
            let (z0, z1) = cell_extent(nz, sh, z);
            for x in 0..s[1] {
                let (x0, x1) = cell_extent(nx, sh, x);
                let czx = ((z1 - z0) * (x1 - x0)) as f64;
                let r = (z * s[1] + x) * s[2];
                let srow = &sum[r..r + s[2]];
                for_each_one(bits, r, r + s[2], |y| {
                    out.push((srow[y] / (czx * cy[y])) as f32)
                });
            }
        }
    }
    out
}

/// Piecewise-constant reconstruction: every pixel gets the value of the particle whose cell
/// contains it. `values` are in [`sample_means`] order. Panics if `values.len()` differs from
/// the number of particles or `out` has another shape.
pub fn reconstruct_pc(cells: &ParticleCells, values: &[f32], mut out: ArrayViewMut3<f32>) {
    let (nz, nx, ny) = out.dim();
    assert_eq!(
        [nz, nx, ny],
        cells.shape,
        "output shape differs from the cells' shape"
    );
    assert_eq!(
        values.len(),
        cells.num_particles(),
        "one value per particle required"
    );
    if let Some(slice) = out.as_slice_mut() {
        fill_pc(cells, values, slice);
    } else {
        let mut buf = vec![0f32; nz * nx * ny];
        fill_pc(cells, values, &mut buf);
        for (o, v) in out.iter_mut().zip(buf) {
            *o = v;
        }
    }
}

fn fill_pc(cells: &ParticleCells, values: &[f32], out: &mut [f32]) {
    for_each_run(cells, values, 0.0, |o, n, v| out[o..o + n].fill(v));
}

/// [`reconstruct_pc`] straight into element bytes: `values` are the particles' values already
/// as little-endian elements of `ES` bytes, `out` holds the block's pixels (C order). Same
/// result as reconstructing f32 pixels and converting each, without the f32 image. Panics if
/// `out` is not `ES` bytes per pixel.
pub fn reconstruct_pc_bytes<const ES: usize>(
    cells: &ParticleCells,
    values: &[[u8; ES]],
    out: &mut [u8],
) {
    assert_eq!(out.len(), cells.shape.iter().product::<usize>() * ES);
    for_each_run(cells, values, [0; ES], |o, n, v| {
        for e in out[o * ES..(o + n) * ES].chunks_exact_mut(ES) {
            e.copy_from_slice(&v);
        }
    });
}

/// Calls `put(offset, n, value)` for every run of `n` pixels along y (C-order offset) that a
/// particle covers, particles in [`sample_means`] order (`missing` when `values` runs out).
/// The runs of all particles partition the block.
#[inline(always)]
fn for_each_run<T: Copy>(
    cells: &ParticleCells,
    values: &[T],
    missing: T,
    mut put: impl FnMut(usize, usize, T),
) {
    let [nz, nx, ny] = cells.shape;
    let mut vals = values.iter();
    for l in 0..=cells.lmax {
        let bits = &cells.levels[l as usize];
        if bits.not_any() {
            continue;
        }
        if l == cells.lmax {
            for_each_one(bits, 0, bits.len(), |i| {
                if let Some(&v) = vals.next() {
                    put(i, 1, v);
                }
            });
            continue;
        }
        let s = cells.level_shape(l);
        let sh = cells.lmax - l;
        for z in 0..s[0] {
            let (z0, z1) = cell_extent(nz, sh, z);
            for x in 0..s[1] {
                let (x0, x1) = cell_extent(nx, sh, x);
                let r = (z * s[1] + x) * s[2];
                for_each_one(bits, r, r + s[2], |y| {
                    let v = *vals.next().unwrap_or(&missing);
                    let (y0, y1) = cell_extent(ny, sh, y);
                    for zz in z0..z1 {
                        for xx in x0..x1 {
                            put((zz * nx + xx) * ny + y0, y1 - y0, v);
                        }
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pc_bytes_equal_pc_then_convert() {
        use crate::codec::elements::from_f32s;
        use crate::codec::{AprParams, DType};
        // An image with flat regions, an edge and noise, so every level has particles, on a
        // shape that is not a power of two (truncated cells).
        let shape = [5, 23, 37];
        let mut s = 12345u32;
        let img: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let (x, y) = ((i / 37) % 23, i % 37);
                let base = if x + y > 30 { 900.0 } else { 40.0 };
                base + (s >> 24) as f32 * if y > 25 { 2.0 } else { 0.05 } - 300.7
            })
            .collect();
        let view = ndarray::ArrayView3::from_shape(shape, &img).unwrap();
        let (cells, _) =
            crate::codec::apr::compute_particle_cells(view, 0.1, &AprParams::default());
        assert!(cells.is_partition());
        let levels = (0..=cells.level_max())
            .filter(|&l| cells.num_particles_at(l) > 0)
            .count();
        assert!(
            levels >= 2,
            "the test image must give particles on several levels"
        );
        let values: Vec<f32> = sample_means(view, &cells);
        let mut pc = ndarray::Array3::<f32>::zeros(shape);
        reconstruct_pc(&cells, &values, pc.view_mut());
        let pc = pc.into_raw_vec_and_offset().0;
        for dt in DType::ALL {
            let es = dt.size();
            let mut want = vec![0u8; pc.len() * es];
            from_f32s(dt, &pc, &mut want);
            let mut elems = vec![0u8; values.len() * es];
            from_f32s(dt, &values, &mut elems);
            let mut got = vec![0xa5u8; pc.len() * es];
            macro_rules! run {
                ($n:literal) => {{
                    let e: Vec<[u8; $n]> = elems
                        .chunks_exact($n)
                        .map(|c| c.try_into().unwrap())
                        .collect();
                    reconstruct_pc_bytes::<$n>(&cells, &e, &mut got)
                }};
            }
            match es {
                1 => run!(1),
                2 => run!(2),
                4 => run!(4),
                _ => run!(8),
            }
            assert_eq!(got, want, "{dt:?}");
        }
    }

    #[test]
    fn bit_runs_and_word_scan_across_word_boundaries() {
        let mut c = ParticleCells::new([1, 1, 200]);
        let l = c.level_max();
        c.set_run(l, 63, 2);
        c.set_run(l, 127, 1);
        c.set_linear(l, 199);
        let ones: Vec<usize> = c.level_bits(l).iter_ones().collect();
        assert_eq!(ones, vec![63, 64, 127, 199]);
        let mut seen = Vec::new();
        for_each_one(c.level_bits(l), 60, 128, |i| seen.push(i));
        assert_eq!(seen, vec![3, 4, 67]);
        assert_eq!(c.num_particles(), 4);
        assert!(!c.is_partition());
        assert!(c.is_particle(l, [0, 0, 63]) && c.is_particle(l, [0, 0, 64]));
        assert!(!c.is_particle(l, [0, 0, 62]) && !c.is_particle(l, [0, 0, 65]));
        assert!(!c.is_particle(l, [0, 0, 200]) && !c.is_particle(l, [1, 0, 0]));
        assert!(!c.is_particle(l + 1, [0, 0, 0]));
        c.set_particle(l, [0, 0, 64], false);
        assert!(!c.is_particle(l, [0, 0, 64]));
        // level shapes: ceil(n / 2^(Lmax - l)), level 0 has one cell
        assert_eq!(c.level_shape(0), [1, 1, 1]);
        assert_eq!(c.level_shape(l - 1), [1, 1, 100]);
    }
}
