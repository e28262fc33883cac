//! Predictive coding over the dyadic level pyramid (the APR's level structure used as predictor).
//!
//! Points are visited coarse to fine: level by level (stride h = 2^(K-1) .. 1), and within a
//! level axis by axis (z, x, y). Each new point is predicted by linear or cubic interpolation
//! from already reconstructed points of coarser levels along the current axis, the residual is
//! quantised (bin width 2b+1 for integers, 2b for floats, so |x - x'| <= b on every element;
//! b = 0 is lossless), and the quantisation symbols are entropy-coded with a context chosen from
//! the local activity (difference of the two interpolation neighbours), so flat or noise-only
//! regions that the APR would represent by large particles cost almost nothing.
//!
//! The choice linear/cubic is made per pass (level x axis) from the data and stored as one bit.
//!
//! This is method 2 (FORMAT.md §2.4); method 4 (palette, §2.5) codes its indices with it too.

mod domain;
mod passes;

use crate::codec::bits::{put_section, BitReader, BitWriter, Cursor};
use crate::codec::elements::{from_f64s, from_ints, to_f64s};
use crate::codec::error::{Error, Result};
use crate::codec::rans::{Decoder, Encoder};
use crate::codec::scratch;
use crate::codec::{DType, Mode};
use bitvec::prelude::*;
use domain::NB;
pub use domain::{Domain, FloatDomain, IndexDomain, IntDomain};
use passes::{choose_cubic, run_pass, Line};
pub(crate) use passes::{passes, Pass};

/// Contexts of the rANS section: activity bucket x (coarse levels / finest level).
pub const NCTX: usize = 2 * NB;

/// Encodes `nblocks` consecutive blocks of `shape` from `x`; appends the body to `out`.
pub fn encode<D: Domain>(d: &D, x: &[D::V], shape: [usize; 3], nblocks: usize, out: &mut Vec<u8>) {
    let bl = shape.iter().product::<usize>();
    debug_assert_eq!(x.len(), bl * nblocks);
    let ps = passes(shape);
    let mut choice: BitVec<u8, Lsb0> = BitVec::with_capacity(ps.len() * nblocks);
    let mut enc = Encoder::with_capacity(NCTX, x.len());
    let mut bits = BitWriter::new();
    let mut v: Vec<D::V> = vec![D::V::default(); bl];
    for b in 0..nblocks {
        let xb = &x[b * bl..(b + 1) * bl];
        // Origin: predicted by the previous block's reconstructed origin (0 for the first).
        let p0 = if b > 0 { v[0] } else { D::V::default() };
        v[0] = d.encode(xb[0], p0, NB - 1, &mut enc, &mut bits);
        for &pass in &ps {
            let cubic = choose_cubic(d, xb, shape, pass);
            choice.push(cubic);
            let (g, fine) = Line::of(shape, pass, cubic);
            run_pass(d, &mut v, shape, pass, g, |idx, _, p, act| {
                d.encode(xb[idx], p, fine + act, &mut enc, &mut bits)
            });
        }
    }
    put_section(out, choice.as_raw_slice());
    enc.finish(out);
    put_section(out, &bits.finish());
}

/// [`encode`] for a domain that codes `x` exactly (reconstructed value = original, e.g. an
/// integer domain with b = 0), without the reconstruction buffer: `x` itself serves as it.
/// Same bytes as [`encode`]: the pyramid reads only points it has already visited (coarser
/// levels and earlier axes of the same level), which hold their reconstructed = original
/// values in both; the per-pass choice reads originals, which `x` keeps. `x` is unchanged.
pub fn encode_exact_in_place<D: Domain>(
    d: &D,
    x: &mut [D::V],
    shape: [usize; 3],
    nblocks: usize,
    out: &mut Vec<u8>,
) {
    let bl = shape.iter().product::<usize>();
    debug_assert_eq!(x.len(), bl * nblocks);
    let ps = passes(shape);
    let mut choice: BitVec<u8, Lsb0> = BitVec::with_capacity(ps.len() * nblocks);
    let mut enc = Encoder::with_capacity(NCTX, x.len());
    let mut bits = BitWriter::new();
    for b in 0..nblocks {
        // Origin: predicted by the previous block's origin (0 for the first).
        let p0 = if b > 0 {
            x[(b - 1) * bl]
        } else {
            D::V::default()
        };
        let xb = &mut x[b * bl..(b + 1) * bl];
        xb[0] = d.encode(xb[0], p0, NB - 1, &mut enc, &mut bits);
        for &pass in &ps {
            let cubic = choose_cubic(d, xb, shape, pass);
            choice.push(cubic);
            let (g, fine) = Line::of(shape, pass, cubic);
            // The point still holds its original value: run_pass writes it after `step`.
            run_pass(d, xb, shape, pass, g, |_, x, p, act| {
                d.encode(x, p, fine + act, &mut enc, &mut bits)
            });
        }
    }
    crate::codec::probe("m4: symbols collected");
    put_section(out, choice.as_raw_slice());
    enc.finish(out);
    put_section(out, &bits.finish());
}

/// Decodes what [`encode`] wrote into `v` (len = nblocks * prod(shape)).
pub fn decode<D: Domain>(
    d: &D,
    cur: &mut Cursor,
    shape: [usize; 3],
    nblocks: usize,
    v: &mut [D::V],
) -> Result<()> {
    let bl = shape.iter().product::<usize>();
    let ps = passes(shape);
    let choice_bytes = cur.section()?;
    if choice_bytes.len() != (ps.len() * nblocks).div_ceil(8) {
        return Err(Error::corrupt(
            "predictor-choice section has the wrong length",
        ));
    }
    let choice = choice_bytes.view_bits::<Lsb0>();
    let mut dec = Decoder::new(cur, NCTX)?;
    let extra = cur.section()?;
    let mut bits = BitReader::new(extra);
    let mut k = 0;
    for b in 0..nblocks {
        let p0 = if b > 0 {
            v[(b - 1) * bl]
        } else {
            D::V::default()
        };
        let vb = &mut v[b * bl..(b + 1) * bl];
        vb[0] = d.decode(p0, NB - 1, &mut dec, &mut bits);
        for &pass in &ps {
            let cubic = choice[k];
            k += 1;
            let (g, fine) = Line::of(shape, pass, cubic);
            run_pass(d, vb, shape, pass, g, |_, _, p, act| {
                d.decode(p, fine + act, &mut dec, &mut bits)
            });
        }
    }
    dec.finish()?;
    bits.finish()
}

/// Integer-domain quantiser for a dtype and (integer) half bin width.
pub fn int_domain(dtype: DType, b: i64) -> IntDomain {
    let (lo, hi) = match dtype {
        DType::F32 => (i32::MIN as i64, i32::MAX as i64),
        DType::F64 => (i64::MIN, i64::MAX),
        d => d.int_range(),
    };
    IntDomain { b, lo, hi }
}

/// Integer half-bin width for an abs bound on an integer dtype (floor, capped to the range).
pub fn int_bound(dtype: DType, bound: f64) -> i64 {
    let (lo, hi) = dtype.int_range();
    let cap = (hi - lo) as f64;
    bound.floor().min(cap) as i64
}

/// Method 2 body of integer-domain values `v` (integers, or floats as ordered integers when
/// exact) with integer half bin width `b`.
pub fn encode_ints(
    dtype: DType,
    v: &[i64],
    b: i64,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut Vec<u8>,
) {
    encode(&int_domain(dtype, b), v, bs, nblocks, out);
}

/// Method 2 body of a float chunk with abs bound `bound > 0`.
pub fn encode_floats(
    data: &[u8],
    dtype: DType,
    bound: f64,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut Vec<u8>,
) {
    let v = to_f64s(dtype, data);
    let d = FloatDomain {
        b: bound,
        is_f32: dtype == DType::F32,
    };
    encode(&d, &v, bs, nblocks, out);
}

/// Decodes a method 2 body of a chunk of `dtype` in `mode` into `out`.
pub fn decode_chunk(
    cur: &mut Cursor,
    dtype: DType,
    mode: Mode,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut [u8],
) -> Result<()> {
    let n = out.len() / dtype.size();
    let bound = match mode {
        Mode::Abs(b) => b,
        _ => 0.0,
    };
    if dtype.is_float() && bound > 0.0 {
        let d = FloatDomain {
            b: bound,
            is_f32: dtype == DType::F32,
        };
        let mut v = scratch::zeroed::<f64>(n)?;
        decode(&d, cur, bs, nblocks, &mut v)?;
        from_f64s(dtype, &v, out);
    } else {
        let b = if dtype.is_float() {
            0
        } else {
            int_bound(dtype, bound)
        };
        let mut v = scratch::zeroed::<i64>(n)?;
        decode(&int_domain(dtype, b), cur, bs, nblocks, &mut v)?;
        from_ints(dtype, &v, out);
    }
    Ok(())
}
