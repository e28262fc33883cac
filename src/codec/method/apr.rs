//! Method 3, apr (FORMAT.md §2.6), the body of apr mode: the Adaptive Particle Representation of each 3-D block, stored as
//! (1) the particle-cell tree, one bit per open cell, level by level (bitvec, then zstd), and
//! (2) the particle intensities (cell means), quantised and entropy-coded (rANS) as deltas
//! along the LibAPR particle order. Decoding is LibAPR's piecewise-constant reconstruction.

use crate::codec::apr::{self, ParticleCells};
use crate::codec::bits::{put_section, BitReader, BitWriter, Cursor};
use crate::codec::elements::{from_f32s, round_i64, to_f32s};
use crate::codec::error::{Error, Result};
use crate::codec::rans::{Decoder, Encoder};
use crate::codec::scratch;
use crate::codec::symbols::{bucket, unbucket, unzigzag, zigzag};
use crate::codec::{Config, DType};
use bitvec::prelude::*;
use ndarray::ArrayView3;

/// Particle means are quantised with half-step `VALUE_STEP_FRACTION * E * sigma_floor`, a small
/// fraction of the APR's own error scale. Measured (benches/codec.rs): 0.1 leaves
/// PSNR unchanged against exact means while halving the stream on dense data.
const VALUE_STEP_FRACTION: f64 = 0.1;

/// Contexts: level bucket (0..8) x previous-residual bucket (0..4).
const LB: usize = 8;
const RB: usize = 4;
const NCTX: usize = LB * RB;

#[inline]
fn ctx(level: u32, lmax: u32, prev_sym: usize) -> usize {
    let lb = (lmax - level).min(LB as u32 - 1) as usize;
    let rb = match prev_sym {
        0 => 0,
        1..=2 => 1,
        3..=8 => 2,
        _ => 3,
    };
    lb * RB + rb
}

thread_local! {
    /// Work units of this thread's apr tree walks: cells visited (see [`work_units`]).
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Cells the apr tree walks of this thread have visited so far (a monotone counter, for tests
/// of the decoder's work bound; not a stable API).
pub fn work_units() -> u64 {
    WORK.with(|w| w.get())
}

/// Calls `decide(level, idx)` for every open cell in top-down order (level ascending, then
/// C order within the level); open cells are the root and the children of split cells, and
/// `decide` returns true for a leaf. Before each level, `on_level(level, open_cells)` may
/// refuse to go on. Work is proportional to the open cells, not to the level sizes.
fn walk_tree(
    shape: [usize; 3],
    lmax: u32,
    mut on_level: impl FnMut(u32, usize) -> Result<()>,
    mut decide: impl FnMut(u32, [usize; 3], usize) -> Result<bool>,
) -> Result<()> {
    // open[l] bitmap over cells of level l; cells are visited in C order (z, x, y) and
    // `decide` gets the cell's index and its linear index in the level grid.
    const W: usize = usize::BITS as usize;
    let level_shape = |l| level_shape(shape, lmax, l);
    let mut open: BitVec = bitvec![1; 1];
    for l in 0..=lmax {
        let ls = level_shape(l);
        let n_open = open.count_ones();
        on_level(l, n_open)?;
        WORK.with(|w| w.set(w.get() + n_open as u64));
        if n_open == 0 {
            break;
        }
        let next = if l < lmax { level_shape(l + 1) } else { [0; 3] };
        let mut next_open: BitVec = if l < lmax {
            bitvec![0; next[0] * next[1] * next[2]]
        } else {
            BitVec::new()
        };
        let words = next_open.as_raw_mut_slice();
        let mut err = None;
        'rows: for z in 0..ls[0] {
            for x in 0..ls[1] {
                let r = (z * ls[1] + x) * ls[2];
                apr::for_each_one(&open, r, r + ls[2], |y| {
                    if err.is_some() {
                        return;
                    }
                    // decide returns true if the cell is a particle (leaf).
                    match decide(l, [z, x, y], r + y) {
                        Err(e) => err = Some(e),
                        Ok(true) => {}
                        Ok(false) => {
                            // Open the (up to 2x2x2) children; along y they are one run of
                            // 1 or 2 bits.
                            let (y0, ny) = (2 * y, (2 * y + 2).min(next[2]) - 2 * y);
                            let mask = (1usize << ny) - 1;
                            for cz in 2 * z..(2 * z + 2).min(next[0]) {
                                for cx in 2 * x..(2 * x + 2).min(next[1]) {
                                    let i = (cz * next[1] + cx) * next[2] + y0;
                                    let (w, off) = (i / W, i % W);
                                    words[w] |= mask << off;
                                    if off + ny > W {
                                        words[w + 1] |= mask >> (W - off);
                                    }
                                }
                            }
                        }
                    }
                });
                if err.is_some() {
                    break 'rows;
                }
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        open = next_open;
    }
    Ok(())
}

/// Value quantisation of the particle intensities.
enum ValueCoding {
    /// Integer dtypes: the mean rounded to the nearest integer.
    Round,
    /// Floats: the mean quantised with bin width `2 * delta`.
    Step(f64),
}

impl ValueCoding {
    fn quantise(&self, m: f64) -> i64 {
        match *self {
            ValueCoding::Round => round_i64(m),
            ValueCoding::Step(d) => round_i64(m / (2.0 * d)),
        }
    }
    fn value(&self, q: i64) -> f64 {
        match *self {
            ValueCoding::Round => q as f64,
            ValueCoding::Step(d) => q as f64 * 2.0 * d,
        }
    }
}

/// The block as f32 (what the APR pipeline runs on), converted directly: 2 bytes per u16
/// element of working set instead of the 12 an f64 intermediate cost.
fn block_f32(dtype: DType, data: &[u8]) -> Vec<f32> {
    to_f32s(dtype, data)
}

/// The particle means of a block: from its elements directly when they are exact in f32 (the
/// same values as from the f32 block, at 1-2 bytes a pixel instead of 4), else from the f32
/// block.
fn block_means(dtype: DType, raw: &[u8], bs: [usize; 3], cells: &ParticleCells) -> Vec<f32> {
    match dtype {
        DType::U8 => apr::sample_means_of(raw, cells),
        DType::I8 => {
            let v: Vec<i8> = raw.iter().map(|&b| b as i8).collect();
            apr::sample_means_of(&v, cells)
        }
        DType::U16 | DType::I16 => {
            let c = raw.chunks_exact(2).map(|c| [c[0], c[1]]);
            if dtype == DType::U16 {
                let v: Vec<u16> = c.map(u16::from_le_bytes).collect();
                apr::sample_means_of(&v, cells)
            } else {
                let v: Vec<i16> = c.map(i16::from_le_bytes).collect();
                apr::sample_means_of(&v, cells)
            }
        }
        _ => {
            let img = block_f32(dtype, raw);
            let view = ArrayView3::from_shape(bs, &img).expect("block shape");
            apr::sample_means(view, cells)
        }
    }
}

pub fn encode(
    data: &[u8],
    dtype: DType,
    bs: [usize; 3],
    nblocks: usize,
    rel_error: f64,
    cfg: &Config,
    out: &mut Vec<u8>,
) -> Result<()> {
    encode_impl(data, dtype, bs, nblocks, rel_error, cfg, out, None)
}

/// [`encode`] of one block (a format-version-4 tile), also returning its
/// [`apr::local_intensity_scale`] as the pipeline computed it (same bytes as [`encode`]).
pub fn encode_with_scale(
    data: &[u8],
    dtype: DType,
    bs: [usize; 3],
    rel_error: f64,
    cfg: &Config,
    out: &mut Vec<u8>,
) -> Result<ndarray::Array3<f32>> {
    let mut sig = None;
    encode_impl(data, dtype, bs, 1, rel_error, cfg, out, Some(&mut sig))?;
    Ok(sig.expect("one block gives its scale"))
}

#[allow(clippy::too_many_arguments)]
fn encode_impl(
    data: &[u8],
    dtype: DType,
    bs: [usize; 3],
    nblocks: usize,
    rel_error: f64,
    cfg: &Config,
    out: &mut Vec<u8>,
    mut scale: Option<&mut Option<ndarray::Array3<f32>>>,
) -> Result<()> {
    let bl = bs.iter().product::<usize>();
    let es = dtype.size();
    let mut tree: BitVec<u8, Lsb0> = BitVec::new();
    let mut enc = Encoder::new(NCTX);
    let mut bits = BitWriter::new();
    let mut blocks = Vec::with_capacity(nblocks);
    let mut delta = f64::INFINITY;
    for b in 0..nblocks {
        let raw = &data[b * bl * es..(b + 1) * bl * es];
        // The pipeline consumes (smooths in place) the one f32 copy of the block; the means are
        // taken after it has freed its buffers.
        let (cells, info, sig) = apr::compute_particle_cells_and_scale(
            block_f32(dtype, raw),
            bs,
            rel_error as f32,
            &cfg.apr,
        );
        // The scale goes to the caller that asked for it, else it is freed before the means.
        match scale.as_deref_mut() {
            Some(slot) => *slot = Some(sig),
            None => drop(sig),
        }

        // Float means are kept to a tenth of the APR's own error scale E * sigma_floor.
        crate::codec::probe("apr cells");
        let scale = info.sigma_th.max(info.noise_sigma) as f64;
        if scale.is_finite() && scale > 0.0 {
            delta = delta.min(VALUE_STEP_FRACTION * rel_error * scale);
        }
        let means = block_means(dtype, raw, bs, &cells);
        crate::codec::probe("apr means");
        blocks.push((cells, means));
    }
    let coding = if dtype.is_float() {
        if !(delta.is_finite() && delta > 0.0) {
            delta = 1e-6;
        }
        ValueCoding::Step(delta)
    } else if delta.is_finite() && delta >= 1.0 {
        ValueCoding::Step(delta)
    } else {
        ValueCoding::Round
    };
    for (cells, means) in &blocks {
        let lmax = cells.level_max();
        walk_tree(
            bs,
            lmax,
            |_, _| Ok(()),
            |l, idx, _| {
                let leaf = l == lmax || cells.is_particle(l, idx);
                if l < lmax {
                    tree.push(leaf);
                }
                Ok(leaf)
            },
        )?;
        // Particle values in LibAPR order, delta-coded along that order.
        let mut prev = 0i64;
        let mut prev_sym = 0usize;
        let mut k = 0usize;
        for l in 0..=lmax {
            let n_l = cells.num_particles_at(l);
            for &m in &means[k..k + n_l] {
                let q = coding.quantise(m as f64);
                let (sym, nb, extra) = bucket(zigzag(q.wrapping_sub(prev)));
                enc.push(ctx(l, lmax, prev_sym), sym);
                bits.put_wide(extra, nb);
                prev = q;
                prev_sym = sym;
            }
            k += n_l;
        }
    }
    if let ValueCoding::Step(d) = coding {
        debug_assert!(d > 0.0);
        out.extend_from_slice(&d.to_le_bytes());
    } else {
        out.extend_from_slice(&0f64.to_le_bytes());
    }
    let z = zstd::bulk::compress(tree.as_raw_slice(), cfg.effort)
        .map_err(|e| Error::invalid(format!("zstd: {e}")))?;
    put_section(out, &z);
    enc.finish(out);
    put_section(out, &bits.finish());
    Ok(())
}

/// Upper bound on the number of tree bits of one block.
fn max_tree_bits(bs: [usize; 3]) -> usize {
    let lmax = apr::level_max_for(bs);
    (0..lmax)
        .map(|l| level_shape(bs, lmax, l).iter().product::<usize>())
        .sum()
}

/// Cells per axis at level `l`: ceil(n / 2^(lmax - l)) (FORMAT.md §2.6).
fn level_shape(shape: [usize; 3], lmax: u32, l: u32) -> [usize; 3] {
    shape.map(|n| n.div_ceil(1 << (lmax - l)))
}

/// Rebuilds the particle cells of every block from the tree section.
fn read_trees(cur: &mut Cursor, bs: [usize; 3], nblocks: usize) -> Result<Vec<ParticleCells>> {
    let z = cur.section()?;
    let cap = (max_tree_bits(bs) * nblocks).div_ceil(8) + 8;
    let raw =
        zstd::bulk::decompress(z, cap).map_err(|e| Error::corrupt(format!("tree section: {e}")))?;
    let mut pos = 0usize;
    let mut out = Vec::with_capacity(nblocks);
    for _ in 0..nblocks {
        let mut cells = ParticleCells::new(bs);
        let lmax = cells.level_max();
        // Every open cell below lmax costs one tree bit: a level with more open cells than
        // bits left is refused before it is walked (a forged geometry cannot make the walk
        // longer than the tree section can describe).
        let tree_len = raw.len() * 8;
        let check = |l: u32, n_open: usize, pos: usize| -> Result<()> {
            if l < lmax && n_open > tree_len - pos {
                return Err(Error::truncated(format!(
                    "tree section ends early: level {l} has {n_open} open cells, {} bits left",
                    tree_len - pos
                )));
            }
            Ok(())
        };
        let pos_at_level = std::cell::Cell::new(pos);
        walk_tree(
            bs,
            lmax,
            |l, n_open| check(l, n_open, pos_at_level.get()),
            |l, _, i| {
                let leaf = if l == lmax {
                    true
                } else {
                    let p = pos_at_level.get();
                    let Some(&byte) = raw.get(p / 8) else {
                        return Err(Error::truncated("tree section ends early"));
                    };
                    pos_at_level.set(p + 1);
                    (byte >> (p % 8)) & 1 == 1
                };
                if leaf {
                    // walk_tree's level grid is the cells' level grid (same ceil division).
                    cells.set_linear(l, i);
                }
                Ok(leaf)
            },
        )?;
        pos = pos_at_level.get();
        out.push(cells);
    }
    if raw.len() != pos.div_ceil(8) {
        return Err(Error::corrupt("tree section has trailing bytes"));
    }
    Ok(out)
}

/// Number of particles in an apr-mode body (for statistics), without reconstructing pixels.
pub fn count_particles(cur: &mut Cursor, bs: [usize; 3], nblocks: usize) -> Result<u64> {
    cur.bytes(8)?;
    let cells = read_trees(cur, bs, nblocks)?;
    Ok(cells.iter().map(|c| c.num_particles() as u64).sum())
}

/// Element bytes as `ES`-byte arrays (copied; `elems.len()` is a multiple of `ES`).
fn as_elems<const ES: usize>(elems: &[u8]) -> Vec<[u8; ES]> {
    elems
        .chunks_exact(ES)
        .map(|c| c.try_into().expect("ES bytes"))
        .collect()
}

pub fn decode(
    cur: &mut Cursor,
    dtype: DType,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut [u8],
) -> Result<()> {
    let d = f64::from_le_bytes(cur.bytes(8)?.try_into().expect("8"));
    let coding = if d == 0.0 && !dtype.is_float() {
        ValueCoding::Round
    } else if d.is_finite() && d > 0.0 {
        ValueCoding::Step(d)
    } else {
        return Err(Error::corrupt("invalid particle value step"));
    };
    let cells = read_trees(cur, bs, nblocks)?;
    let mut dec = Decoder::new(cur, NCTX)?;
    let mut bits = BitReader::new(cur.section()?);
    let bl = bs.iter().product::<usize>();
    let es = dtype.size();
    for (b, cells) in cells.iter().enumerate() {
        let lmax = cells.level_max();
        let mut values = Vec::with_capacity(cells.num_particles());
        let mut prev = 0i64;
        let mut prev_sym = 0usize;
        for l in 0..=lmax {
            for _ in 0..cells.num_particles_at(l) {
                let sym = dec.get(ctx(l, lmax, prev_sym));
                let q = prev.wrapping_add(unzigzag(unbucket(sym, &mut dec, &mut bits)));
                values.push(coding.value(q) as f32);
                prev = q;
                prev_sym = sym;
            }
        }
        // Each particle's value converted once, then copied to its pixels (the same bytes as
        // converting a reconstructed f32 image pixel by pixel).
        let mut elems = scratch::zeroed::<u8>(values.len() * es)?;
        from_f32s(dtype, &values, &mut elems);
        let block = &mut out[b * bl * es..(b + 1) * bl * es];
        match es {
            1 => apr::reconstruct_pc_bytes::<1>(cells, &as_elems(&elems), block),
            2 => apr::reconstruct_pc_bytes::<2>(cells, &as_elems(&elems), block),
            4 => apr::reconstruct_pc_bytes::<4>(cells, &as_elems(&elems), block),
            _ => apr::reconstruct_pc_bytes::<8>(cells, &as_elems(&elems), block),
        }
    }
    dec.finish()?;
    bits.finish()
}
