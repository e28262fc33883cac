//! Method 6 "pyramid-fast" (FORMAT.md §5): the pyramid predictor of method 2 for the integer
//! domain, restructured for speed. Valid only inside format-version-2 tiles.
//!
//! Same visiting order, predictions, contexts, quantiser and symbols as method 2 (§2.4) for one
//! block, but: the entropy coder is the 4-lane interleaved rANS of [`crate::codec::rans4`],
//! and every pass is processed row by row in three phases (predict + context for the whole row
//! from coarser values only, `decode_many` of the row's symbols, reconstruct), with kernels
//! monomorphised on the working integer type (`i32` for dtypes of <= 16 bits, `i64` for
//! u32/i32/f32-as-ordered-integers), cubic/linear and lossless/abs.
//!
//! Entry points [`encode`] / [`decode`] work on the body WITHOUT the method byte (the caller,
//! the v2 tile dispatch, writes and reads that byte).

use crate::codec::bits::put_varint;
use crate::codec::config::{Config, Mode};
use crate::codec::dtype::DType;
use crate::codec::elements::{f32_to_ordered, ordered_to_f32};
use crate::codec::error::{Error, Result};
use crate::codec::rans4::{Rans4Decoder, Rans4Encoder, Reader};
use crate::codec::scratch;
use crate::codec::symbols::{bucket, zigzag};

/// Activity buckets; contexts = 2 * NB (coarse levels / finest level), as method 2.
const NB: usize = 10;
/// Contexts of the rANS section.
pub const NCTX: usize = 2 * NB;
/// First invalid symbol (FORMAT.md §5.2): every residual of a domain spanning < 2^33 values
/// has |q| < 2^32, so zigzag(q) < 2^33 and its symbol is at most 87.
const NSYM: usize = 88;
/// Table entry flag of an invalid symbol.
const INVALID: u64 = 1 << 63;
/// The container refuses bodies more than this many times smaller than their elements.
const MAX_EXPANSION: usize = 1 << 15;

/// Working integer type of the value domain.
trait Work: Copy + Default + PartialOrd + std::fmt::Debug {
    fn from_i64(v: i64) -> Self;
    fn to_i64(self) -> i64;
    fn lin(a: Self, b: Self) -> Self;
    /// Unclamped `floor((9(a0+b0) - a1 - b1 + 8) / 16)` (exact: no overflow for the domains
    /// this type is used for).
    fn cubic(a1: Self, a0: Self, b0: Self, b1: Self) -> Self;
    fn adiff(a: Self, b: Self) -> u64;
    /// `|a - b|` in the working type, wrapping (exact for values of the domain; garbage but
    /// no panic for the out-of-domain values a corrupt lossless stream can produce).
    fn dist(a: Self, b: Self) -> Self;
    /// `w << t` saturated to the type's maximum.
    fn shl_sat(w: u64, t: u32) -> Self;
    /// `#{t : d >= th[t]}`, summed in the working type (vector lanes stay 32/64-bit).
    fn count_ge(d: Self, th: &[Self; NB - 1]) -> u8;
    /// `min(9, bit_length(d))` = `count_ge(d, [1, 2, 4, ..])` for `d = dist(a, b)` of values
    /// of the domain (lossless activity; any value in 0..=9 for out-of-domain garbage).
    fn bitlen9(d: Self) -> u8;
    /// `#{t < 9 : d >> t >= w}` = `count_ge(d, [w << t])` for `d = dist(a, b)` of values of
    /// the domain and w >= 1 (d >= w 2^t iff floor(d / 2^t) >= w); the step may differ per
    /// vector lane (method 7). Any value in 0..=9 for garbage.
    fn count_ge_w(d: Self, w: Self) -> u8;
    /// The same count, computed as fast as the type allows (i32: from float exponents).
    fn act_w(d: Self, w: Self) -> u8;
    /// Largest lossless symbol of a valid stream of the domains using this type: |residual|
    /// <= span, so zigzag < 2^17 (i32: <= 16-bit domains, symbol <= 55) or < 2^33 (i64).
    /// Decoding checks it first; a larger symbol puts its value outside the domain anyway,
    /// and below it the decoded value is exact in the working type (no i32 wrap), so the
    /// domain check can run over the decoded tile afterwards with the same verdict.
    const MAX_SYM: u8;
    /// OR over `v` of `v - lo` (wrapping, as unsigned): <= span (2^bits - 1) iff every value
    /// is in the domain `lo ..= lo + span`.
    fn or_offsets(v: &[Self], lo: Self) -> u64;
}

impl Work for i32 {
    const MAX_SYM: u8 = 55;
    fn or_offsets(v: &[i32], lo: i32) -> u64 {
        v.iter().fold(0u32, |a, &x| a | x.wrapping_sub(lo) as u32) as u64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as i32
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn lin(a: i32, b: i32) -> i32 {
        (a >> 1) + (b >> 1) + (a & b & 1)
    }
    #[inline(always)]
    fn cubic(a1: i32, a0: i32, b0: i32, b1: i32) -> i32 {
        // |values| < 2^16: 9 * 2^17 + 2^17 < 2^31.
        (9 * (a0 + b0) - a1 - b1 + 8) >> 4
    }
    #[inline(always)]
    fn adiff(a: i32, b: i32) -> u64 {
        a.abs_diff(b) as u64
    }
    #[inline(always)]
    fn dist(a: i32, b: i32) -> i32 {
        a.wrapping_sub(b).wrapping_abs()
    }
    fn shl_sat(w: u64, t: u32) -> i32 {
        (w << t).min(i32::MAX as u64) as i32
    }
    #[inline(always)]
    fn count_ge(d: i32, th: &[i32; NB - 1]) -> u8 {
        // 9 - #{t : d < t}; (d - t) >> 31 is -1 iff d < t (no overflow: d >= 0, t > 0).
        let mut j: i32 = (NB - 1) as i32;
        for &t in th {
            j = j.wrapping_add(d.wrapping_sub(t) >> 31);
        }
        j as u8
    }
    #[inline(always)]
    fn act_w(d: i32, w: i32) -> u8 {
        // d < 2^17, 1 <= w < 2^17: every float below is exact. With m = bit_length(d) -
        // bit_length(w) (exponents of 2d + 1 and w), w 2^m is in d's octave, so the count is
        // m + [d >= w 2^m] (<= 0 when d < w); w 2^m by adding m to w's exponent field. About
        // 12 vector ops for 4 points instead of 27. Garbage d: some value in 0..=9.
        let wb = (w as f32).to_bits();
        let m = (((d.wrapping_mul(2) | 1) as f32).to_bits() >> 23) as i32 - (wb >> 23) as i32 - 1;
        let thr = f32::from_bits(wb.wrapping_add((m as u32) << 23));
        (m + (d as f32 >= thr) as i32).clamp(0, 9) as u8
    }
    #[inline(always)]
    fn count_ge_w(d: i32, w: i32) -> u8 {
        // (w - 1 - (d >> t)) >> 31 is -1 iff d >> t >= w.
        let mut j: i32 = 0;
        for t in 0..NB as u32 - 1 {
            j = j.wrapping_sub(w.wrapping_sub(1).wrapping_sub(d >> t) >> 31);
        }
        j as u8
    }
    #[inline(always)]
    fn bitlen9(d: i32) -> u8 {
        // d < 2^17: 2d + 1 is exact in f32 and its exponent is 127 + bit_length(d) (also for
        // d = 0). Converts, shifts and packs in vector lanes (SSE2 has no lzcnt). Garbage d
        // (corrupt streams): the sign bit makes the exponent field >= 256, min(9) keeps 0..=9.
        let e = ((d.wrapping_mul(2) | 1) as f32).to_bits() >> 23;
        e.wrapping_sub(127).min(9) as u8
    }
}

impl Work for i64 {
    const MAX_SYM: u8 = NSYM as u8 - 1;
    fn or_offsets(v: &[i64], lo: i64) -> u64 {
        v.iter().fold(0u64, |a, &x| a | x.wrapping_sub(lo) as u64)
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self
    }
    #[inline(always)]
    fn lin(a: i64, b: i64) -> i64 {
        (a >> 1) + (b >> 1) + (a & b & 1)
    }
    #[inline(always)]
    fn cubic(a1: i64, a0: i64, b0: i64, b1: i64) -> i64 {
        // |values| < 2^32.
        (9 * (a0 + b0) - a1 - b1 + 8) >> 4
    }
    #[inline(always)]
    fn adiff(a: i64, b: i64) -> u64 {
        a.abs_diff(b)
    }
    #[inline(always)]
    fn dist(a: i64, b: i64) -> i64 {
        a.wrapping_sub(b).wrapping_abs()
    }
    fn shl_sat(w: u64, t: u32) -> i64 {
        (w << t).min(i64::MAX as u64) as i64
    }
    #[inline(always)]
    fn count_ge(d: i64, th: &[i64; NB - 1]) -> u8 {
        // 9 - #{t : d < t}; (d - t) >> 63 is -1 iff d < t (no overflow: d >= 0, t > 0).
        let mut j: i64 = (NB - 1) as i64;
        for &t in th {
            j = j.wrapping_add(d.wrapping_sub(t) >> 63);
        }
        j as u8
    }
    #[inline(always)]
    fn act_w(d: i64, w: i64) -> u8 {
        Self::count_ge_w(d, w)
    }
    #[inline(always)]
    fn count_ge_w(d: i64, w: i64) -> u8 {
        let mut j: i64 = 0;
        for t in 0..NB as u32 - 1 {
            j = j.wrapping_sub(w.wrapping_sub(1).wrapping_sub(d >> t) >> 63);
        }
        j as u8
    }
    #[inline(always)]
    fn bitlen9(d: i64) -> u8 {
        ((64 - (d as u64).leading_zeros()) as u8).min(9)
    }
}

/// Quantiser parameters of a chunk.
#[derive(Clone, Copy)]
struct Q<W> {
    /// Half bin width k (0 = lossless), w = 2k + 1.
    k: i64,
    w: u64,
    lo: W,
    hi: W,
    /// Activity thresholds `w << t`, t = 0..NB-1: activity = #{t : d >= w << t}.
    th: [W; NB - 1],
    /// Division-free quantiser (see [`Q::div_w`]): `rcp = floor(2^64 / w) + 1` and
    /// `c = ceil(span / w)`, or rcp = 0 where it would not be exact (then `div_euclid`).
    rcp: u64,
    c: i64,
}

impl<W: Work> Q<W> {
    fn new(k: i64, lo: i64, hi: i64) -> Self {
        let w = 2 * k as u64 + 1;
        Q {
            k,
            w,
            lo: W::from_i64(lo),
            hi: W::from_i64(hi),
            th: std::array::from_fn(|t| W::shl_sat(w, t as u32)),
            rcp: Self::rcp_for(k, lo, hi),
            c: ((hi - lo).max(0) as u64).div_ceil(w) as i64,
        }
    }
    /// `floor(2^64 / w) + 1` when, for every residual numerator `v = x - p + k` of values
    /// x, p of the domain, `u = v + c w` (c = ceil(span / w): u >= k >= 0) has
    /// `u w < 2^64`; else 0. Then `hi64(u * rcp) = floor(u / w)` exactly: rcp = 2^64 / w + e
    /// with 0 < e <= 1, and u e / 2^64 < 1 / w never lifts u / w (fractional part at most
    /// (w - 1) / w) to the next integer.
    fn rcp_for(k: i64, lo: i64, hi: i64) -> u64 {
        let w = 2 * k as u128 + 1;
        let span = (hi - lo).max(0) as u128;
        let umax = k as u128 + span + span.div_ceil(w) * w;
        if w < 3 || umax * w >= 1 << 64 {
            return 0;
        }
        (u64::MAX as u128 / w + 1) as u64
    }
    /// `floor(v / w)` for the numerator `v = x - p + k` of the tile's own k (x, p in the
    /// domain); `None` when this Q has no exact reciprocal.
    #[inline(always)]
    fn div_w(&self, v: i64) -> Option<i64> {
        if self.rcp == 0 {
            return None;
        }
        let u = (v + self.c * self.w as i64) as u64;
        debug_assert_eq!(
            ((u as u128 * self.rcp as u128) >> 64) as i64 - self.c,
            v.div_euclid(self.w as i64)
        );
        Some(((u as u128 * self.rcp as u128) >> 64) as i64 - self.c)
    }
    #[inline(always)]
    fn clamp(&self, p: W) -> W {
        if p < self.lo {
            self.lo
        } else if p > self.hi {
            self.hi
        } else {
            p
        }
    }
    /// min(9, bit_length(floor(d / w))) = #{t < 9 : d >= w * 2^t} for d = |a - b|: nine
    /// compares and adds with no branch and no leading_zeros, so row loops vectorise (the
    /// baseline x86-64 has no vector lzcnt). Same value for lossless (w = 1) and abs.
    #[inline(always)]
    #[allow(dead_code)]
    fn act<const LOSSLESS: bool>(&self, a: W, b: W) -> u8 {
        if LOSSLESS {
            W::bitlen9(W::dist(a, b))
        } else {
            W::act_w(W::dist(a, b), W::from_i64(self.w as i64))
        }
    }
}

/// Quantiser step of the points of one row: method 6 has one for the tile ([`One`]), method 7
/// one per block ([`Blocks`]). Monomorphised, so method 6 compiles as with a constant step.
trait Steps<W: Work>: Copy {
    /// Activity `#{t < 9 : d >= w_k << t}` of point `k` of the row for `d = |a - b|`.
    fn act_d(&self, k: usize, d: W) -> u8;
    /// (half-width, bin width) of point `k` of the row.
    fn hw(&self, k: usize) -> (i64, i64);
    /// The steps of a row of `m` points (lets a per-point table be sliced to `m` once, so the
    /// row loops index it without bounds checks).
    #[inline(always)]
    fn fit(self, _m: usize) -> Self {
        self
    }
}

/// The tile's one quantiser (method 6), held by value: a row kernel's copy cannot alias the
/// rows it writes, so the thresholds stay in registers (vector loops) instead of being
/// reloaded per point.
#[derive(Clone, Copy)]
struct One<W>(Q<W>);

impl<W: Work> Steps<W> for One<W> {
    #[inline(always)]
    fn act_d(&self, _: usize, d: W) -> u8 {
        W::act_w(d, W::from_i64(self.0.w as i64))
    }
    #[inline(always)]
    fn hw(&self, _: usize) -> (i64, i64) {
        (self.0.k, self.0.w as i64)
    }
}

/// Block size (Z, X, Y) of the method-7 step map (FORMAT.md §6).
pub const BLOCK: [usize; 3] = [4, 16, 16];

/// The blocks of one row of a method-7 tile (FORMAT.md §6): point k (y = y0 + k * ys) takes
/// the quantiser of block column y / 16.
#[derive(Clone, Copy)]
struct Blocks<'a, W> {
    qs: &'a [Q<W>],
    y0: usize,
    ys: usize,
}

impl<W: Work> Steps<W> for Blocks<'_, W> {
    #[inline(always)]
    fn act_d(&self, k: usize, d: W) -> u8 {
        W::count_ge(d, &self.qs[(self.y0 + k * self.ys) / BLOCK[2]].th)
    }
    #[inline(always)]
    fn hw(&self, k: usize) -> (i64, i64) {
        let q = &self.qs[(self.y0 + k * self.ys) / BLOCK[2]];
        (q.k, q.w as i64)
    }
}

/// Method-7 decode steps of one row: the bin width of each of its points, from [`RowWidths`]
/// (same activities and widths as [`Blocks`], which the encoder uses), so the row kernels
/// read the widths like a row of values: no block lookup per point, and vector lanes with
/// different steps.
#[derive(Clone, Copy)]
struct RowSteps<'a, W> {
    w: &'a [W],
}

impl<W: Work> Steps<W> for RowSteps<'_, W> {
    #[inline(always)]
    fn act_d(&self, k: usize, d: W) -> u8 {
        W::act_w(d, self.w[k])
    }
    #[inline(always)]
    fn hw(&self, k: usize) -> (i64, i64) {
        let w = self.w[k].to_i64();
        ((w - 1) / 2, w)
    }
    #[inline(always)]
    fn fit(self, m: usize) -> Self {
        RowSteps { w: &self.w[..m] }
    }
}

/// Per row pattern (first y, y step) of the passes and per block row (z / 4, x / 16) of a
/// method-7 tile, the bin width of every point of such a row (at most 3 values per block row
/// and y: about 3n / 64 for a large tile).
struct RowWidths<W> {
    /// (y0, ys, offset of block row 0, points per row).
    pats: Vec<(usize, usize, usize, usize)>,
    w: Vec<W>,
    shape: [usize; 3],
    g: [usize; 3],
}

impl<W: Work> RowWidths<W> {
    fn new(qs: &[Q<W>], shape: [usize; 3], g: [usize; 3]) -> Self {
        let ny = shape[2];
        let nbr = g[0] * g[1];
        let mut pats: Vec<(usize, usize, usize, usize)> = Vec::new();
        let mut w = Vec::new();
        // (0, 1): the origin's "row".
        for (y0, ys) in std::iter::once((0, 1)).chain(passes(shape).into_iter().map(row_y)) {
            if pats.iter().any(|&(a, b, _, _)| (a, b) == (y0, ys)) {
                continue;
            }
            let mp = (ny - y0).div_ceil(ys);
            pats.push((y0, ys, w.len(), mp));
            for br in 0..nbr {
                let row = &qs[br * g[2]..(br + 1) * g[2]];
                w.extend((0..mp).map(|k| W::from_i64(row[(y0 + k * ys) / BLOCK[2]].w as i64)));
            }
        }
        RowWidths { pats, w, shape, g }
    }
    /// The steps of the row starting at element `base` whose points are y = y0 + k * ys.
    #[inline(always)]
    fn row(&self, base: usize, y0: usize, ys: usize) -> RowSteps<'_, W> {
        let r = base / self.shape[2];
        let (z, x) = (r / self.shape[1], r % self.shape[1]);
        let br = (z / BLOCK[0]) * self.g[1] + x / BLOCK[1];
        let &(_, _, off, mp) = self
            .pats
            .iter()
            .find(|&&(a, b, _, _)| (a, b) == (y0, ys))
            .expect("row pattern of a pass");
        RowSteps {
            w: &self.w[off + br * mp..off + (br + 1) * mp],
        }
    }
}

/// Activity of point `k`: `#{t < 9 : |a - b| >= w_k << t}` (see [`Q::act`]); lossless (w = 1)
/// as `min(9, bit_length(|a - b|))`.
#[inline(always)]
fn act<W: Work, S: Steps<W>, const LOSSLESS: bool>(st: &S, k: usize, a: W, b: W) -> u8 {
    if LOSSLESS {
        W::bitlen9(W::dist(a, b))
    } else {
        st.act_d(k, W::dist(a, b))
    }
}

/// Value range of the integer domain of a dtype, and the working width (true = i32).
fn domain(dtype: DType) -> Option<(i64, i64, bool)> {
    match dtype {
        DType::U8 | DType::I8 | DType::U16 | DType::I16 => {
            let (lo, hi) = dtype.int_range();
            Some((lo, hi, true))
        }
        DType::U32 | DType::I32 => {
            let (lo, hi) = dtype.int_range();
            Some((lo, hi, false))
        }
        DType::F32 => Some((i32::MIN as i64, i32::MAX as i64, false)),
        DType::F64 => None,
    }
}

// The passes (visiting order) are method 2's (FORMAT.md §2.4).
use super::pyramid::{passes, Pass};

/// Rows of a pass: (start index of the row's first point, row length along y is implicit).
/// Calls `f(row_base, c)` for every row; `c` = coordinate along the pass axis (axis 0/1) or
/// unused (axis 2).
#[inline(always)]
fn for_each_row(shape: [usize; 3], p: Pass, mut f: impl FnMut(usize, usize)) {
    let h = p.h;
    let (nz, nx, ny) = (shape[0], shape[1], shape[2]);
    let (z0, zs, x0, xs) = match p.axis {
        0 => (h, 2 * h, 0, 2 * h),
        1 => (0, h, h, 2 * h),
        _ => (0, h, 0, h),
    };
    for z in (z0..nz).step_by(zs) {
        for x in (x0..nx).step_by(xs) {
            let c = if p.axis == 0 { z } else { x };
            f((z * nx + x) * ny, c);
        }
    }
}

/// Phase 1 for one row: predictions and contexts of its `m` points.
/// Returns m. `cubic` is the pass bit.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn predict_row<W: Work, S: Steps<W>, const LOSSLESS: bool>(
    q: &Q<W>,
    st: S,
    v: &[W],
    shape: [usize; 3],
    p: Pass,
    cubic: bool,
    base: usize,
    c: usize,
    fine: u8,
    pred: &mut [W],
    ctx: &mut [u8],
    tmp: &mut [W],
) -> usize {
    let h = p.h;
    let ny = shape[2];
    if p.axis == 2 {
        // Along y the neighbours are the even samples E[j] = r[2hj]: point k (y = h(2k+1))
        // has A1 = E[k-1], A0 = E[k], B0 = E[k+1], B1 = E[k+2] where they exist.
        let r = &v[base..base + ny];
        let m = (ny - h).div_ceil(2 * h);
        let st = st.fit(m);
        let ne = ny.div_ceil(2 * h);
        let e = &mut tmp[..ne];
        // (chunks, not step_by: the first element of each chunk is the same sequence, and a
        // constant chunk length vectorises.)
        if h == 1 {
            for (t, c) in e.iter_mut().zip(r.chunks(2)) {
                *t = c[0];
            }
        } else {
            for (t, c) in e.iter_mut().zip(r.chunks(2 * h)) {
                *t = c[0];
            }
        }
        let e = &*e;
        let (pred, ctx) = (&mut pred[..m], &mut ctx[..m]);
        let general = |k: usize| -> (W, u8) {
            let a0 = e[k];
            if k + 1 < ne {
                let b0 = e[k + 1];
                let pp = if cubic && k >= 1 && k + 2 < ne {
                    q.clamp(W::cubic(e[k - 1], a0, b0, e[k + 2]))
                } else {
                    W::lin(a0, b0)
                };
                (pp, act::<W, S, LOSSLESS>(&st, k, a0, b0))
            } else if k >= 1 {
                (a0, act::<W, S, LOSSLESS>(&st, k, a0, e[k - 1]))
            } else {
                (a0, 0)
            }
        };
        // Interior points k in [1, kend): A1 and B1 exist.
        let kend = ne.saturating_sub(2).max(1);
        for k in (0..m.min(1)).chain(kend..m) {
            let (pp, a) = general(k);
            pred[k] = pp;
            ctx[k] = a + fine;
        }
        if kend > 1 {
            let (pi, ci) = (&mut pred[1..kend], &mut ctx[1..kend]);
            if cubic {
                for (j, ((pp, cc), w)) in pi
                    .iter_mut()
                    .zip(ci.iter_mut())
                    .zip(e.windows(4))
                    .enumerate()
                {
                    *pp = q.clamp(W::cubic(w[0], w[1], w[2], w[3]));
                    *cc = act::<W, S, LOSSLESS>(&st, j + 1, w[1], w[2]) + fine;
                }
            } else {
                for (j, ((pp, cc), w)) in pi
                    .iter_mut()
                    .zip(ci.iter_mut())
                    .zip(e[1..].windows(2))
                    .enumerate()
                {
                    *pp = W::lin(w[0], w[1]);
                    *cc = act::<W, S, LOSSLESS>(&st, j + 1, w[0], w[1]) + fine;
                }
            }
        }
        m
    } else {
        let n = shape[p.axis];
        let sd = if p.axis == 0 { shape[1] * ny } else { ny } * h;
        let m = ny.div_ceil(2 * h);
        let st = st.fit(m);
        let (pred, ctx) = (&mut pred[..m], &mut ctx[..m]);
        let s = 2 * h;
        let ra0 = &v[base - sd..base - sd + ny];
        if c + h < n {
            let rb0 = &v[base + sd..base + sd + ny];
            if cubic && c >= 3 * h && c + 3 * h < n && s == 2 {
                let ra1 = &v[base - 3 * sd..base - 3 * sd + ny];
                let rb1 = &v[base + 3 * sd..base + 3 * sd + ny];
                let it = ra1
                    .chunks(2)
                    .zip(ra0.chunks(2))
                    .zip(rb0.chunks(2))
                    .zip(rb1.chunks(2));
                for (j, ((pp, cc), (((a1, a0), b0), b1))) in
                    pred.iter_mut().zip(ctx.iter_mut()).zip(it).enumerate()
                {
                    let (a1, a0, b0, b1) = (a1[0], a0[0], b0[0], b1[0]);
                    *pp = q.clamp(W::cubic(a1, a0, b0, b1));
                    *cc = act::<W, S, LOSSLESS>(&st, j, a0, b0) + fine;
                }
            } else if cubic && c >= 3 * h && c + 3 * h < n {
                let ra1 = &v[base - 3 * sd..base - 3 * sd + ny];
                let rb1 = &v[base + 3 * sd..base + 3 * sd + ny];
                let it = ra1
                    .chunks(s)
                    .zip(ra0.chunks(s))
                    .zip(rb0.chunks(s))
                    .zip(rb1.chunks(s));
                for (j, ((pp, cc), (((a1, a0), b0), b1))) in
                    pred.iter_mut().zip(ctx.iter_mut()).zip(it).enumerate()
                {
                    let (a1, a0, b0, b1) = (a1[0], a0[0], b0[0], b1[0]);
                    *pp = q.clamp(W::cubic(a1, a0, b0, b1));
                    *cc = act::<W, S, LOSSLESS>(&st, j, a0, b0) + fine;
                }
            } else if s == 2 {
                let it = ra0.chunks(2).zip(rb0.chunks(2));
                for (j, ((pp, cc), (a, b))) in
                    pred.iter_mut().zip(ctx.iter_mut()).zip(it).enumerate()
                {
                    let (a0, b0) = (a[0], b[0]);
                    *pp = W::lin(a0, b0);
                    *cc = act::<W, S, LOSSLESS>(&st, j, a0, b0) + fine;
                }
            } else {
                let it = ra0.chunks(s).zip(rb0.chunks(s));
                for (j, ((pp, cc), (a, b))) in
                    pred.iter_mut().zip(ctx.iter_mut()).zip(it).enumerate()
                {
                    let (a0, b0) = (a[0], b[0]);
                    *pp = W::lin(a0, b0);
                    *cc = act::<W, S, LOSSLESS>(&st, j, a0, b0) + fine;
                }
            }
        } else if c >= 3 * h {
            let ra1 = &v[base - 3 * sd..base - 3 * sd + ny];
            let one_sided = |s: usize, pred: &mut [W], ctx: &mut [u8]| {
                let it = ra0.chunks(s).zip(ra1.chunks(s));
                for (j, ((pp, cc), (a0, a1))) in
                    pred.iter_mut().zip(ctx.iter_mut()).zip(it).enumerate()
                {
                    *pp = a0[0];
                    *cc = act::<W, S, LOSSLESS>(&st, j, a0[0], a1[0]) + fine;
                }
            };
            if s == 2 {
                one_sided(2, pred, ctx);
            } else {
                one_sided(s, pred, ctx);
            }
        } else {
            for ((pp, cc), &a0) in pred
                .iter_mut()
                .zip(ctx.iter_mut())
                .zip(ra0.iter().step_by(s))
            {
                *pp = a0;
                *cc = fine;
            }
        }
        m
    }
}

/// (first y, y step) of the points of a row of pass `p`.
#[inline(always)]
fn row_y(p: Pass) -> (usize, usize) {
    if p.axis == 2 {
        (p.h, 2 * p.h)
    } else {
        (0, 2 * p.h)
    }
}

// ---- extra bits -----------------------------------------------------------------------

/// Decoder table entry of a symbol: u = base | (next `nb` extra bits & mask).
#[derive(Clone, Copy)]
struct Ent {
    base: u64,
    mask: u64,
    /// Number of extra bits; [`INVALID`] for s >= 88 (rejected through the largest symbol of
    /// the tile; the huge count only garbles the bits read after it).
    nb: u64,
}

/// The [`Ent`]s of the 256 symbols as three arrays (8-byte stride: a symbol indexes them
/// directly, no multiply by the entry size).
struct SymTab {
    base: [u64; 256],
    mask: [u64; 256],
    nb: [u64; 256],
}

impl SymTab {
    fn new() -> Self {
        let t = sym_table();
        SymTab {
            base: t.map(|e| e.base),
            mask: t.map(|e| e.mask),
            nb: t.map(|e| e.nb),
        }
    }
}

/// Per symbol: base value of u, mask and number of its extra bits.
fn sym_table() -> [Ent; 256] {
    let mut t = [Ent {
        base: 0,
        mask: 0,
        nb: INVALID,
    }; 256];
    for (s, e) in t.iter_mut().enumerate().take(NSYM) {
        *e = if s < 32 {
            Ent {
                base: s as u64,
                mask: 0,
                nb: 0,
            }
        } else {
            let ex = ((s - 32) / 2 + 5) as u64;
            let top = 2 | ((s - 32) & 1) as u64;
            Ent {
                base: top << (ex - 1),
                mask: (1 << (ex - 1)) - 1,
                nb: ex - 1,
            }
        };
    }
    t
}

/// LSB-first bit reader: the extra bits copied once with 8 zero bytes of padding, so every
/// read is one unaligned 8-byte load (the index is clamped into the buffer, so a corrupt
/// stream reading past the end gets garbage bits and is rejected by [`FastBits::finish`]).
struct FastBits {
    buf: Vec<u8>,
    len: usize,
    pos: usize, // bits read
}

impl FastBits {
    fn new(data: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(data.len() + 8);
        buf.extend_from_slice(data);
        buf.extend_from_slice(&[0u8; 8]);
        FastBits {
            buf,
            len: data.len(),
            pos: 0,
        }
    }
    fn finish(&self) -> Result<()> {
        if self.pos > 8 * self.len {
            return Err(Error::truncated("method 6 extra bits end early"));
        }
        if self.len != self.pos.div_ceil(8) {
            return Err(Error::corrupt("method 6 extra bits have unread bytes"));
        }
        Ok(())
    }
}

// ---- encoder ---------------------------------------------------------------------------

/// LSB-first bit writer for fields of at most 32 bits (all method-6 extra-bit fields: the
/// domains span < 2^33, so |q| <= 2^32 and a field has e - 1 <= 32 bits).
#[derive(Default)]
struct FastWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl FastWriter {
    /// Appends `v` (< 2^nb) in `nb` <= 32 bits.
    #[inline(always)]
    fn put(&mut self, v: u64, nb: u32) {
        debug_assert!(nb <= 32 && v >> nb == 0);
        self.acc |= v << self.n;
        self.n += nb;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }
    fn finish(mut self) -> Vec<u8> {
        let nbytes = self.n.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.acc.to_le_bytes()[..nbytes]);
        self.out
    }
}

/// Codes one residual: bucket symbol to the rANS encoder, the rest to the extra bits.
#[inline(always)]
fn put(enc: &mut Rans4Encoder, bits: &mut FastWriter, c: u8, d: i64) {
    let (sym, nb, extra) = bucket(zigzag(d));
    enc.push(c as usize, sym as u8);
    bits.put(extra, nb);
}

/// Method-6 body (without the method byte) of `data` (little-endian elements of `dtype`, C
/// order, shape `shape3` = (Z, X, Y)), or `None` when method 6 does not apply: mode apr,
/// float data in abs mode with a bound > 0, f64, an empty shape, or a body so small that the
/// container's expansion guard (body >= elements / 2^15) would refuse it (the caller then
/// uses another method, e.g. constant or zstd).
pub fn encode(data: &[u8], dtype: DType, shape3: [usize; 3], cfg: &Config) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    encode_into(data, dtype, shape3, cfg, &mut out).then_some(out)
}

/// [`encode`], appending the body to `out`; false (and `out` unchanged) when method 6 does
/// not apply.
pub fn encode_into(
    data: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    cfg: &Config,
    out: &mut Vec<u8>,
) -> bool {
    let n: usize = shape3.iter().product();
    if n == 0 || data.len() != n * dtype.size() {
        return false;
    }
    let Some((lo, hi, narrow)) = domain(dtype) else {
        return false;
    };
    let k = match cfg.mode {
        Mode::Lossless => 0,
        Mode::Abs(b) if dtype.is_float() => {
            if b == 0.0 {
                0
            } else {
                return false;
            }
        }
        Mode::Abs(b) => (b.floor().min((hi - lo) as f64)) as i64,
        Mode::Apr(_) | Mode::Noise(_) => return false,
    };
    let start = out.len();
    if narrow {
        let mut x: Vec<i32> = to_work(dtype, data);
        crate::codec::probe("m6: i32 working copy");
        encode_body(&mut x, Q::<i32>::new(k, lo, hi), shape3, out);
    } else {
        let mut x: Vec<i64> = to_work(dtype, data);
        encode_body(&mut x, Q::<i64>::new(k, lo, hi), shape3, out);
    }
    if (out.len() - start) * MAX_EXPANSION < n {
        out.truncate(start);
        return false;
    }
    true
}

fn to_work<W: Work>(dtype: DType, data: &[u8]) -> Vec<W> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n)
                .map(|c| W::from_i64(<$t>::from_le_bytes(c.try_into().expect("size")) as i64))
                .collect()
        };
    }
    match dtype {
        DType::U8 => data.iter().map(|&b| W::from_i64(b as i64)).collect(),
        DType::I8 => data.iter().map(|&b| W::from_i64(b as i8 as i64)).collect(),
        DType::U16 => conv!(u16, 2),
        DType::I16 => conv!(i16, 2),
        DType::U32 => conv!(u32, 4),
        DType::I32 => conv!(i32, 4),
        DType::F32 => data
            .chunks_exact(4)
            .map(|c| W::from_i64(f32_to_ordered(u32::from_le_bytes(c.try_into().expect("4")))))
            .collect(),
        DType::F64 => unreachable!("f64 is not coded by method 6"),
    }
}

fn from_work<W: Work>(dtype: DType, v: &[W], out: &mut [u8]) {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            for (o, &x) in out.chunks_exact_mut($n).zip(v) {
                o.copy_from_slice(&(x.to_i64() as $t).to_le_bytes());
            }
        };
    }
    match dtype {
        DType::U8 => conv!(u8, 1),
        DType::I8 => conv!(i8, 1),
        DType::U16 => conv!(u16, 2),
        DType::I16 => conv!(i16, 2),
        DType::U32 => conv!(u32, 4),
        DType::I32 => conv!(i32, 4),
        DType::F32 => {
            for (o, &x) in out.chunks_exact_mut(4).zip(v) {
                o.copy_from_slice(&ordered_to_f32(x.to_i64()).to_le_bytes());
            }
        }
        DType::F64 => {}
    }
}

/// Cheap per-pass predictor choice from the original values: sum of |x - linear| vs
/// |x - cubic| over every 4th interior point of each row (and every row of the pass).
fn choose_cubic<W: Work>(q: &Q<W>, x: &[W], shape: [usize; 3], p: Pass) -> bool {
    let (el, ec) = cubic_sums(q, x, shape, p);
    ec < el
}

/// The two sums of [`choose_cubic`]: (linear, cubic).
#[inline(always)]
fn cubic_sums<W: Work>(q: &Q<W>, x: &[W], shape: [usize; 3], p: Pass) -> (u64, u64) {
    let h = p.h;
    let ny = shape[2];
    let (mut el, mut ec) = (0u64, 0u64);
    let (_, ys) = row_y(p);
    let st = match p.axis {
        0 => shape[1] * ny * h,
        1 => ny * h,
        _ => h,
    };
    let n = shape[p.axis];
    for_each_row(shape, p, |base, c| {
        let mut acc = |xv: W, a1: W, a0: W, b0: W, b1: W| {
            el += W::adiff(xv, W::lin(a0, b0));
            ec += W::adiff(xv, q.clamp(W::cubic(a1, a0, b0, b1)));
        };
        if p.axis == 2 {
            // Sampled points y = h, 9h, 17h, ...; interior ones (A1 and B1 exist) from 9h.
            // Chunks of 8h from y - 3h = 6h: the sample has offsets 0, 2h, 3h, 4h, 6h in its
            // chunk, and exists while y + 3h < ny (the chunk is longer than 6h).
            let r = &x[base..base + ny];
            if 6 * h < ny {
                if h == 1 {
                    let mut it = r[6..].chunks_exact(8);
                    for c in &mut it {
                        acc(c[3], c[0], c[2], c[4], c[6]);
                    }
                    let c = it.remainder();
                    if c.len() > 6 {
                        acc(c[3], c[0], c[2], c[4], c[6]);
                    }
                } else {
                    for c in r[6 * h..].chunks(8 * h) {
                        if c.len() > 6 * h {
                            acc(c[3 * h], c[0], c[2 * h], c[4 * h], c[6 * h]);
                        }
                    }
                }
            }
        } else if c >= 3 * h && c + 3 * h < n {
            // Every 4th point of the row (y = 0, 4 ys, ..): the first of each chunk of 4 ys
            // of five rows of length ny (zipped slice chunks: no zipped step_by iterators).
            let s = 4 * ys;
            let row = |b: usize| &x[b..b + ny];
            let (r, ra1, ra0, rb0, rb1) = (
                row(base),
                row(base - 3 * st),
                row(base - st),
                row(base + st),
                row(base + 3 * st),
            );
            let it = r
                .chunks(s)
                .zip(ra1.chunks(s))
                .zip(ra0.chunks(s))
                .zip(rb0.chunks(s))
                .zip(rb1.chunks(s));
            for ((((xv, a1), a0), b0), b1) in it {
                acc(xv[0], a1[0], a0[0], b0[0], b1[0]);
            }
        }
    });
    (el, ec)
}

/// Codes `x` (overwritten with the reconstructed values).
fn encode_body<W: Work>(x: &mut [W], q: Q<W>, shape: [usize; 3], out: &mut Vec<u8>) {
    put_varint(out, q.k as u64);
    let one = |_: usize, _: usize, _: usize| One(q);
    if q.k == 0 {
        encode_impl::<W, _, true>(x, q, shape, one, out)
    } else {
        encode_impl::<W, _, false>(x, q, shape, one, out)
    }
}

/// Encoder residual: (symbol-domain q, reconstructed value), for half-width `k` and bin width
/// `w` = 2k + 1.
#[inline(always)]
fn quantise<W: Work, const LOSSLESS: bool>(q: &Q<W>, x: W, p: W, (k, w): (i64, i64)) -> (i64, W) {
    if LOSSLESS {
        (x.to_i64() - p.to_i64(), x)
    } else {
        // Method 6: (k, w) are the tile's own, so q's reciprocal divides exactly (method 7:
        // per-block steps, div_euclid unless a block has the step of q).
        let v = x.to_i64() - p.to_i64() + k;
        let d = match q.div_w(v) {
            Some(d) if k == q.k => d,
            _ => v.div_euclid(w),
        };
        (d, q.clamp(W::from_i64(p.to_i64() + d * w)))
    }
}

/// Quantises the points `row[k * ys]` of a row with predictions `pred[k]` into zigzagged
/// residuals `zz[k]`, overwriting each point with its reconstruction (abs).
#[inline(always)]
fn quantise_row<W: Work, S: Steps<W>, const LOSSLESS: bool>(
    q: &Q<W>,
    st: S,
    row: &mut [W],
    ys: usize,
    pred: &[W],
    zz: &mut [u64],
) {
    // (Two loop shapes: the one each mode compiles best with, by instruction count.)
    if LOSSLESS {
        for (k, ((u, xc), &pk)) in zz.iter_mut().zip(row.chunks(ys)).zip(pred).enumerate() {
            *u = zigzag(quantise::<W, LOSSLESS>(q, xc[0], pk, st.hw(k)).0);
        }
        return;
    }
    let m = zz.len().min(pred.len());
    let (zz, pred) = (&mut zz[..m], &pred[..m]);
    if q.rcp != 0 && (0..m).all(|k| st.hw(k).0 == q.k) {
        // Every point has the tile's step (method 6): Q::div_w with its constants hoisted.
        let (rcp, c, w) = (q.rcp as u128, q.c, q.w as i64);
        let kc = q.k + c * w;
        assert!(m == 0 || (m - 1) * ys < row.len());
        for k in 0..m {
            let i = k * ys;
            let p = pred[k].to_i64();
            let v = (row[i].to_i64() - p + kc) as u64;
            let d = ((v as u128 * rcp) >> 64) as i64 - c;
            zz[k] = zigzag(d);
            row[i] = q.clamp(W::from_i64(p + d * w));
        }
        return;
    }
    assert!(m == 0 || (m - 1) * ys < row.len());
    for k in 0..m {
        let i = k * ys;
        let (d, r) = quantise::<W, LOSSLESS>(q, row[i], pred[k], st.hw(k));
        zz[k] = zigzag(d);
        row[i] = r;
    }
}

/// Bucket symbols `sym[k]` of the zigzagged residuals `zz[k]`, their extra bits appended
/// to `bits` in order. Not inlined: inside the row closure the loop reloaded its spilled
/// pointers every point.
#[inline(never)]
fn bucket_row(zz: &[u64], sym: &mut [u8], bits: &mut FastWriter) {
    let one = |s: &mut u8, u: u64, bits: &mut FastWriter| {
        *s = if u < 32 {
            u as u8
        } else {
            let (b, nb, extra) = bucket(u);
            bits.put(extra, nb);
            b as u8
        };
    };
    // 8 at a time: when all 8 are < 32 (no extra bits) the symbols are the values.
    let m = sym.len().min(zz.len());
    let (sym, zz) = (&mut sym[..m], &zz[..m]);
    let mut sc = sym.chunks_exact_mut(8);
    let mut zc = zz.chunks_exact(8);
    for (s, z) in (&mut sc).zip(&mut zc) {
        if z.iter().fold(0, |a, &u| a | u) < 32 {
            for (s, &u) in s.iter_mut().zip(z) {
                *s = u as u8;
            }
        } else {
            for (s, &u) in s.iter_mut().zip(z) {
                one(s, u, bits);
            }
        }
    }
    for (s, &u) in sc.into_remainder().iter_mut().zip(zc.remainder()) {
        one(s, u, bits);
    }
}

/// The passes of a tile after its step header: predictor bits, rANS section, extra bits
/// (FORMAT.md §5.1). `steps(base, y0, ys)` = the steps of the row starting at element `base`
/// whose points are at y = y0 + k * ys.
///
/// Codes `x` in place: each point is overwritten with its reconstructed value when it is
/// coded (lossless: the same value). Same bytes as with a separate reconstruction buffer
/// initialised to `x`: predictions read only points already coded, the quantiser reads the
/// point's own value before it is overwritten, and the per-pass predictor choices, which
/// read originals, are all made before anything is overwritten.
fn encode_impl<'s, W: Work, S: Steps<W> + 's, const LOSSLESS: bool>(
    x: &mut [W],
    q: Q<W>,
    shape: [usize; 3],
    steps: impl Fn(usize, usize, usize) -> S + 's,
    out: &mut Vec<u8>,
) {
    let n = x.len();
    let ps = passes(shape);
    let mut choice = vec![0u8; ps.len().div_ceil(8)];
    for (j, &p) in ps.iter().enumerate() {
        if choose_cubic(&q, x, shape, p) {
            choice[j / 8] |= 1 << (j % 8);
        }
    }
    let mut enc = Rans4Encoder::with_capacity(NCTX, n);
    let mut bits = FastWriter::default();
    let ny = shape[2];
    let mut pred = vec![W::default(); ny];
    let mut ctx = vec![0u8; ny];
    let mut tmp = vec![W::default(); ny];
    // Per row: zigzagged residuals and their bucket symbols.
    let mut zz = vec![0u64; ny];
    let mut sym = vec![0u8; ny];
    crate::codec::probe("m6: + choices, symbol buffer");
    // Origin.
    {
        let (d, r) = quantise::<W, LOSSLESS>(&q, x[0], W::default(), steps(0, 0, 1).hw(0));
        put(&mut enc, &mut bits, NB as u8 - 1, d);
        x[0] = r;
    }
    for (j, &p) in ps.iter().enumerate() {
        let cubic = choice[j / 8] >> (j % 8) & 1 != 0;
        let fine = if p.h == 1 { NB as u8 } else { 0 };
        let (y0, ys) = row_y(p);
        for_each_row(shape, p, |base, c| {
            let st = steps(base, y0, ys);
            let m = predict_row::<W, S, LOSSLESS>(
                &q, st, x, shape, p, cubic, base, c, fine, &mut pred, &mut ctx, &mut tmp,
            );
            // Quantise the row (points y0 + k * ys: the first of each chunk of ys), then
            // bucket it (extra bits in point order) and hand its symbols over in one call.
            let (zz, sym) = (&mut zz[..m], &mut sym[..m]);
            let row = &mut x[base + y0..base + ny];
            if ys == 2 {
                quantise_row::<W, S, LOSSLESS>(&q, st, row, 2, &pred[..m], zz);
            } else {
                quantise_row::<W, S, LOSSLESS>(&q, st, row, ys, &pred[..m], zz);
            }
            bucket_row(zz, sym, &mut bits);
            enc.push_row(&ctx[..m], sym);
        });
    }
    crate::codec::probe("m6: symbols collected");
    out.extend_from_slice(&choice);
    enc.finish(out);
    crate::codec::probe("m6: rANS written");
    out.extend_from_slice(&bits.finish());
}

// ---- decoder ---------------------------------------------------------------------------

/// Decodes a method-6 body (without the method byte) of a tile of `dtype` and shape `shape3`
/// = (Z, X, Y) into `out` (exactly prod(shape3) * dtype.size() bytes, little-endian).
/// Never panics on corrupt input.
pub fn decode(body: &[u8], dtype: DType, shape3: [usize; 3], out: &mut [u8]) -> Result<()> {
    let n = shape3
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::invalid("method 6 tile shape overflows"))?;
    if n == 0 {
        return Err(Error::invalid("method 6 tile is empty"));
    }
    if out.len() != n.saturating_mul(dtype.size()) {
        return Err(Error::invalid("method 6 output buffer has the wrong size"));
    }
    let (lo, hi, narrow) =
        domain(dtype).ok_or_else(|| Error::corrupt("method 6 is not defined for float64"))?;
    let mut r = Reader {
        buf: body,
        pos: 0,
        truncated: "method 6 body ends inside a varint",
    };
    let k = r.varint()?;
    if k > (hi - lo) as u64 {
        return Err(Error::corrupt(
            "method 6 half bin width exceeds the value range",
        ));
    }
    if dtype == DType::F32 && k != 0 {
        return Err(Error::corrupt(
            "method 6 float32 tile with a non-zero bin width",
        ));
    }
    let k = k as i64;
    let rest = &body[r.pos..];
    if narrow {
        let q = Q::<i32>::new(k, lo, hi);
        let one = |_: usize, _: usize, _: usize| One(q);
        let v = if k == 0 {
            decode_impl::<i32, _, true>(rest, q, shape3, one)?
        } else {
            decode_impl::<i32, _, false>(rest, q, shape3, one)?
        };
        from_work(dtype, &v, out);
    } else {
        let q = Q::<i64>::new(k, lo, hi);
        let one = |_: usize, _: usize, _: usize| One(q);
        let v = if k == 0 {
            decode_impl::<i64, _, true>(rest, q, shape3, one)?
        } else {
            decode_impl::<i64, _, false>(rest, q, shape3, one)?
        };
        from_work(dtype, &v, out);
    }
    Ok(())
}

/// Phase 3 for one row: `out[k * ys] = p[k] + unzigzag(u(sym[k])) * w` (clamped for abs),
/// u from the symbol table and the extra bits. The bit position stays in a register for the
/// row. `smax`: the largest symbol seen (one vector pass over the row's symbols; the caller
/// rejects s >= 88, and lossless s > [`Work::MAX_SYM`]; the lossless values are checked
/// against the domain after the tile, see [`Work::MAX_SYM`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn reconstruct_row<W: Work, S: Steps<W>, const LOSSLESS: bool>(
    q: &Q<W>,
    st: S,
    pred: &[W],
    sym: &[u8],
    out: &mut [W],
    ys: usize,
    tab: &SymTab,
    bits: &mut FastBits,
    smax: &mut u8,
) {
    *smax = sym.iter().fold(*smax, |m, &s| m.max(s));
    // bits.buf = the extra bits + 8 zero bytes: loads clamped to start at <= len - 8 are in
    // bounds (and provably so, no check in the loop).
    let buf = &bits.buf[..];
    let last = buf.len().saturating_sub(8);
    let mut pos = bits.pos;
    let lo = q.lo.to_i64();
    let hi = q.hi.to_i64();
    let mut one = |p: W, s: u8, w: i64| -> W {
        let s = s as usize;
        let e = Ent {
            base: tab.base[s],
            mask: tab.mask[s],
            nb: tab.nb[s],
        };
        let b = (pos >> 3).min(last);
        let x = u64::from_le_bytes(buf[b..b + 8].try_into().expect("padded")) >> (pos & 7);
        pos = pos.wrapping_add(e.nb as usize);
        let u = e.base | (x & e.mask);
        let d = ((u >> 1) as i64) ^ -((u & 1) as i64);
        if LOSSLESS {
            W::from_i64(p.to_i64().wrapping_add(d))
        } else {
            let v = p.to_i64().wrapping_add(d.wrapping_mul(w));
            W::from_i64(v.clamp(lo, hi))
        }
    };
    let m = pred.len().min(sym.len());
    let st = st.fit(m);
    if m > 0 {
        // Slices sized up front: point k is out[k * ys], k < m, so no bounds checks.
        let (pred, sym) = (&pred[..m], &sym[..m]);
        if ys == 2 {
            let out = &mut out[..2 * m - 1];
            for k in 0..m {
                out[2 * k] = one(pred[k], sym[k], st.hw(k).1);
            }
        } else {
            let out = &mut out[..(m - 1) * ys + 1];
            for k in 0..m {
                out[k * ys] = one(pred[k], sym[k], st.hw(k).1);
            }
        }
    }
    bits.pos = pos;
}

fn decode_impl<'s, W: Work, S: Steps<W> + 's, const LOSSLESS: bool>(
    buf: &[u8],
    q: Q<W>,
    shape: [usize; 3],
    steps: impl Fn(usize, usize, usize) -> S + 's,
) -> Result<Vec<W>> {
    let n: usize = shape.iter().product();
    let ps = passes(shape);
    let nc = ps.len().div_ceil(8);
    if buf.len() < nc {
        return Err(Error::truncated(
            "method 6 body ends inside the predictor bits",
        ));
    }
    let (choice, buf) = buf.split_at(nc);
    let (mut dec, extra) = Rans4Decoder::new(buf, NCTX)?;
    let mut bits = FastBits::new(extra);
    let tab = SymTab::new();
    let mut smax = 0u8;
    let mut v = scratch::zeroed::<W>(n)?;
    let ny = shape[2];
    let mut pred = vec![W::default(); ny];
    let mut ctx = vec![0u8; ny];
    let mut tmp = vec![W::default(); ny];
    let mut sym = vec![0u8; ny];
    {
        let s = [dec.decode(NB - 1)];
        reconstruct_row::<W, S, LOSSLESS>(
            &q,
            steps(0, 0, 1),
            &[W::default()],
            &s,
            &mut v[..1],
            1,
            &tab,
            &mut bits,
            &mut smax,
        );
    }
    for (j, &p) in ps.iter().enumerate() {
        let cubic = choice[j / 8] >> (j % 8) & 1 == 1;
        let fine = if p.h == 1 { NB as u8 } else { 0 };
        let (y0, ys) = row_y(p);
        for_each_row(shape, p, |base, c| {
            let st = steps(base, y0, ys);
            let m = predict_row::<W, S, LOSSLESS>(
                &q, st, &v, shape, p, cubic, base, c, fine, &mut pred, &mut ctx, &mut tmp,
            );
            let (ctx, sym) = (&ctx[..m], &mut sym[..m]);
            dec.decode_many_no255(ctx, sym);
            let row = &mut v[base + y0..base + ny];
            reconstruct_row::<W, S, LOSSLESS>(
                &q,
                st,
                &pred[..m],
                sym,
                row,
                ys,
                &tab,
                &mut bits,
                &mut smax,
            );
        });
    }
    let span = q.hi.to_i64().wrapping_sub(q.lo.to_i64()) as u64;
    debug_assert!(span.wrapping_add(1).is_power_of_two());
    if smax as usize >= NSYM || (LOSSLESS && (smax > W::MAX_SYM || W::or_offsets(&v, q.lo) > span))
    {
        return Err(Error::corrupt(
            "method 6 body decodes a symbol or value outside the value domain",
        ));
    }
    dec.finish()?;
    bits.finish()?;
    Ok(v)
}

// ---- method 7: per-block steps from the noise model (FORMAT.md §6) -------------------------

/// Blocks of the method-7 step map along (Z, X, Y) for a tile of this shape.
pub fn block_grid(shape: [usize; 3]) -> [usize; 3] {
    [
        shape[0].div_ceil(BLOCK[0]),
        shape[1].div_ceil(BLOCK[1]),
        shape[2].div_ceil(BLOCK[2]),
    ]
}

/// Per block (C order over [`block_grid`]) the smallest element of `x`.
fn block_min<W: Work>(x: &[W], shape: [usize; 3]) -> Vec<i64> {
    let g = block_grid(shape);
    let mut m = vec![i64::MAX; g.iter().product()];
    let [_, nx, ny] = shape;
    for (r, row) in x.chunks_exact(ny).enumerate() {
        let (z, xx) = (r / nx, r % nx);
        let b0 = ((z / BLOCK[0]) * g[1] + xx / BLOCK[1]) * g[2];
        for (j, c) in row.chunks(BLOCK[2]).enumerate() {
            let mn = c.iter().map(|v| v.to_i64()).min().unwrap_or(i64::MAX);
            let e = &mut m[b0 + j];
            *e = (*e).min(mn);
        }
    }
    m
}

/// The row steps of a method-7 tile: row at element `base` takes its block row of `qs`.
#[inline(always)]
fn block_row<W: Work>(
    qs: &[Q<W>],
    shape: [usize; 3],
    g: [usize; 3],
    base: usize,
    y0: usize,
    ys: usize,
) -> Blocks<'_, W> {
    let r = base / shape[2];
    let (z, x) = (r / shape[1], r % shape[1]);
    let br = (z / BLOCK[0]) * g[1] + x / BLOCK[1];
    Blocks {
        qs: &qs[br * g[2]..(br + 1) * g[2]],
        y0,
        ys,
    }
}

/// Method-7 body (FORMAT.md §6, §8: format version 5, without the method byte) of an integer
/// tile in noise mode with factor `k`: the noise model a, b, c fitted on the tile, the
/// per-block half-widths floor(k * sqrt(max(c, a * min + b))), then the passes of method 6 with each element quantised with
/// its block's step. `None` for float dtypes (noise mode refuses them earlier) or a body below
/// the expansion limit.
pub fn encode7(
    data: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    k: f64,
    effort: i32,
) -> Result<Option<Vec<u8>>> {
    let n: usize = shape3.iter().product();
    if n == 0 || data.len() != n * dtype.size() || dtype.is_float() {
        return Ok(None);
    }
    let Some((lo, hi, narrow)) = domain(dtype) else {
        return Ok(None);
    };
    let body = if narrow {
        let mut x: Vec<i32> = to_work(dtype, data);
        let (m, ks) = steps7(&x, lo, hi, shape3, k);
        encode7_body::<i32>(&mut x, lo, hi, shape3, &m, &ks, effort)?
    } else {
        let mut x: Vec<i64> = to_work(dtype, data);
        let (m, ks) = steps7(&x, lo, hi, shape3, k);
        encode7_body::<i64>(&mut x, lo, hi, shape3, &m, &ks, effort)?
    };
    if body.len() * MAX_EXPANSION < n {
        return Ok(None);
    }
    Ok(Some(body))
}

/// Method-7 body (without the method byte) of an integer tile with a given step map: `ks` =
/// one half-width per block of [`block_grid`] (C order), `ab` = the two f32 fields a, b written
/// as they are (apr mode, FORMAT.md §7: 0 and 0). The core of [`encode7`], shared with apr
/// mode's bound map. `None` for float dtypes or a body below the expansion limit; an error if
/// `ks` has the wrong length or a half-width outside `0..=hi - lo`.
pub fn encode7_with_steps(
    data: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    ab: (f32, f32),
    ks: &[i64],
    effort: i32,
) -> Result<Option<Vec<u8>>> {
    let n: usize = shape3.iter().product();
    if n == 0 || data.len() != n * dtype.size() || dtype.is_float() {
        return Ok(None);
    }
    let Some((lo, hi, narrow)) = domain(dtype) else {
        return Ok(None);
    };
    if ks.len() != block_grid(shape3).iter().product::<usize>()
        || ks.iter().any(|&kb| !(0..=hi - lo).contains(&kb))
    {
        return Err(Error::invalid(
            "method 7 step map: wrong block count or half-width outside the dtype's range",
        ));
    }
    let m = [ab.0, ab.1];
    let body = if narrow {
        encode7_body::<i32>(&mut to_work(dtype, data), lo, hi, shape3, &m, ks, effort)?
    } else {
        encode7_body::<i64>(&mut to_work(dtype, data), lo, hi, shape3, &m, ks, effort)?
    };
    if body.len() * MAX_EXPANSION < n {
        return Ok(None);
    }
    Ok(Some(body))
}

/// The fitted noise model (a, b, c) and per-block half-widths method 7 uses for this tile
/// (integer dtypes; measurements and tests).
pub fn noise_steps(
    data: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    k: f64,
) -> (f32, f32, f32, Vec<i64>) {
    let (lo, hi, _) = domain(dtype).expect("integer dtype");
    let x: Vec<i64> = to_work(dtype, data);
    let ([a, b, c], ks) = steps7(&x, lo, hi, shape3, k);
    (a, b, c, ks)
}

fn steps7<W: Work>(x: &[W], lo: i64, hi: i64, shape: [usize; 3], k: f64) -> ([f32; 3], Vec<i64>) {
    let xf: Vec<f64> = x.iter().map(|v| v.to_i64() as f64).collect();
    let (a, b, c) = crate::codec::noise::fit(&xf, shape);
    let ks = block_min(x, shape)
        .into_iter()
        .map(|m| crate::codec::noise::half_width(k, a, b, c, m as f64, hi - lo))
        .collect();
    ([a, b, c], ks)
}

fn encode7_body<W: Work>(
    x: &mut [W],
    lo: i64,
    hi: i64,
    shape: [usize; 3],
    model: &[f32],
    ks: &[i64],
    effort: i32,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(x.len() / 2 + 64);
    for m in model {
        out.extend_from_slice(&m.to_le_bytes());
    }
    let mut map = Vec::with_capacity(ks.len() + 8);
    let mut prev = 0i64;
    for &kb in ks {
        put_varint(&mut map, zigzag(kb - prev));
        prev = kb;
    }
    let z = zstd::bulk::compress(&map, effort).map_err(|e| Error::invalid(format!("zstd: {e}")))?;
    put_varint(&mut out, z.len() as u64);
    out.extend_from_slice(&z);
    let qs: Vec<Q<W>> = ks.iter().map(|&kb| Q::new(kb, lo, hi)).collect();
    let g = block_grid(shape);
    let q = Q::<W>::new(0, lo, hi);
    let steps = |base: usize, y0: usize, ys: usize| block_row(&qs, shape, g, base, y0, ys);
    encode_impl::<W, _, false>(x, q, shape, steps, &mut out);
    Ok(out)
}

/// Bytes of the noise model at the start of a method-7 body: f32 a, b (format versions 3 and
/// 4) or f32 a, b, c (noise mode in format version 5, FORMAT.md §8).
pub fn model_len(version: u8, noise: bool) -> usize {
    if version >= 5 && noise {
        12
    } else {
        8
    }
}

/// Decodes a method-7 body (without the method byte) of an integer tile of shape `shape3` into
/// `out` (prod(shape3) * dtype.size() bytes, little-endian); the body starts with `mlen` bytes
/// of noise model ([`model_len`]). Never panics on corrupt input.
pub fn decode7(
    body: &[u8],
    mlen: usize,
    dtype: DType,
    shape3: [usize; 3],
    out: &mut [u8],
) -> Result<()> {
    let n = shape3
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::invalid("method 7 tile shape overflows"))?;
    if n == 0 {
        return Err(Error::invalid("method 7 tile is empty"));
    }
    if out.len() != n.saturating_mul(dtype.size()) {
        return Err(Error::invalid("method 7 output buffer has the wrong size"));
    }
    if dtype.is_float() {
        return Err(Error::corrupt(
            "method 7 is defined for integer dtypes only",
        ));
    }
    let (lo, hi, narrow) = domain(dtype).expect("integer dtype");
    if body.len() < mlen {
        return Err(Error::truncated(
            "method 7 body ends inside the noise model",
        ));
    }
    if mlen == 12 {
        // Format version 5: the floor c is a variance (FORMAT.md §8).
        let c = f32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
        if !(c.is_finite() && c >= 0.0) {
            return Err(Error::corrupt(format!(
                "method 7 noise floor c = {c} (must be finite and >= 0)"
            )));
        }
    }
    let mut r = Reader {
        buf: body,
        pos: mlen,
        truncated: "method 7 body ends inside a varint",
    };
    let zl = r.varint()?;
    if zl > (body.len() - r.pos) as u64 {
        return Err(Error::truncated("method 7 step map runs past the body"));
    }
    let zmap = &body[r.pos..r.pos + zl as usize];
    let rest = &body[r.pos + zl as usize..];
    let g = block_grid(shape3);
    let nb: usize = g.iter().product();
    // Each half-width delta is a varint of at most 10 bytes.
    let mut map = vec![0u8; nb.saturating_mul(10)];
    let got = zstd::bulk::decompress_to_buffer(zmap, &mut map)
        .map_err(|e| Error::corrupt(format!("method 7 step map: {e}")))?;
    let mut mr = Reader {
        buf: &map[..got],
        pos: 0,
        truncated: "method 7 step map ends early",
    };
    let span = (hi - lo) as u64;
    let mut ks = Vec::with_capacity(nb);
    let mut prev = 0i64;
    for _ in 0..nb {
        let u = mr.varint()?;
        let d = ((u >> 1) as i64) ^ -((u & 1) as i64);
        let kb = prev.checked_add(d).unwrap_or(-1);
        if kb < 0 || kb as u64 > span {
            return Err(Error::corrupt(
                "method 7 block half-width outside 0..=the value range",
            ));
        }
        ks.push(kb);
        prev = kb;
    }
    if mr.pos != got {
        return Err(Error::corrupt("method 7 step map has trailing bytes"));
    }
    macro_rules! run {
        ($w:ty) => {{
            let q = Q::<$w>::new(0, lo, hi);
            let v = if ks.iter().all(|&kb| kb == ks[0]) {
                // One half-width in every block (e.g. where the noise floor decides them all):
                // method 6's kernels with that quantiser, the same values without per-point
                // widths.
                let q1 = Q::<$w>::new(ks[0], lo, hi);
                decode_impl::<$w, _, false>(rest, q, shape3, |_: usize, _: usize, _: usize| {
                    One(q1)
                })?
            } else {
                let qs: Vec<Q<$w>> = ks.iter().map(|&kb| Q::new(kb, lo, hi)).collect();
                let rw = RowWidths::new(&qs, shape3, g);
                let steps = |base: usize, y0: usize, ys: usize| rw.row(base, y0, ys);
                decode_impl::<$w, _, false>(rest, q, shape3, steps)?
            };
            from_work(dtype, &v, out);
        }};
    }
    if narrow {
        run!(i32)
    } else {
        run!(i64)
    }
    Ok(())
}

// ---- baseline for benches: method 2 bodies of the same chunk ------------------------------

/// Method 2 body (v1 §2.4, one block, without the method byte) of an integer-domain chunk, for
/// benchmarks comparing it with method 6 on the same data.
pub fn encode_m2(data: &[u8], dtype: DType, shape3: [usize; 3], k: i64) -> Vec<u8> {
    let v = crate::codec::elements::to_ints(dtype, data);
    let mut out = Vec::new();
    super::pyramid::encode_ints(dtype, &v, k, shape3, 1, &mut out);
    out
}

/// Decodes [`encode_m2`]'s body.
pub fn decode_m2(
    body: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    k: i64,
    out: &mut [u8],
) -> Result<()> {
    let mut cur = crate::codec::bits::Cursor::new(body);
    let mode = if k == 0 {
        Mode::Lossless
    } else {
        Mode::Abs(k as f64)
    };
    super::pyramid::decode_chunk(&mut cur, dtype, mode, shape3, 1, out)
}

#[cfg(test)]
mod tests;
