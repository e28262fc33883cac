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

use super::bits::{put_section, BitReader, BitWriter, Cursor};
use super::rans::{Decoder, Encoder};
use crate::error::{Error, Result};
use bitvec::prelude::*;

/// Number of activity buckets; contexts = 2 * NB (coarse levels / finest level).
const NB: usize = 10;
pub const NCTX: usize = 2 * NB;
/// Escape symbol: an unpredictable element stored verbatim (floats only).
pub const ESC: usize = 150;

/// Bucketed representation of a zigzagged residual: symbol + raw extra bits.
#[inline]
pub(crate) fn bucket(u: u64) -> (usize, u32, u64) {
    if u < 32 {
        (u as usize, 0, 0)
    } else {
        let e = 63 - u.leading_zeros();
        let sym = 32 + (e as usize - 5) * 2 + ((u >> (e - 1)) & 1) as usize;
        (sym, e - 1, u & ((1u64 << (e - 1)) - 1))
    }
}

#[inline]
pub(crate) fn unbucket(sym: usize, dec: &mut Decoder, bits: &mut BitReader) -> u64 {
    if sym < 32 {
        return sym as u64;
    }
    if sym >= ESC {
        dec.mark_bad();
        return 0;
    }
    let e = ((sym - 32) / 2 + 5) as u32;
    let top = 2 | ((sym - 32) & 1) as u64;
    let extra = bits.get_wide(e - 1);
    (top << (e - 1)) | extra
}

#[inline]
pub(crate) fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

#[inline]
fn activity_bucket(t: u64) -> usize {
    ((64 - t.leading_zeros()) as usize).min(NB - 1)
}

/// Value domain of the quantiser.
pub trait Domain {
    type V: Copy + Default;
    fn lin(&self, a: Self::V, b: Self::V) -> Self::V;
    fn cubic(&self, a1: Self::V, a0: Self::V, b0: Self::V, b1: Self::V) -> Self::V;
    fn to_f64(v: Self::V) -> f64;
    /// Activity bucket of the neighbour difference.
    fn activity(&self, a: Self::V, b: Self::V) -> usize;
    fn encode(
        &self,
        x: Self::V,
        p: Self::V,
        ctx: usize,
        enc: &mut Encoder,
        bits: &mut BitWriter,
    ) -> Self::V;
    /// Infallible; damage is recorded in `dec` and reported by `Decoder::finish`.
    fn decode(&self, p: Self::V, ctx: usize, dec: &mut Decoder, bits: &mut BitReader) -> Self::V;
}

/// Integer domain (all integer dtypes, and floats mapped to ordered integers for lossless).
pub struct IntDomain {
    /// Half bin width b >= 0; bin width w = 2b+1.
    pub b: i64,
    pub lo: i64,
    pub hi: i64,
}

impl IntDomain {
    #[inline]
    fn w(&self) -> i64 {
        2 * self.b + 1
    }
    #[inline]
    fn clamp(&self, p: i64) -> i64 {
        p.clamp(self.lo, self.hi)
    }
}

impl Domain for IntDomain {
    type V = i64;
    #[inline]
    fn lin(&self, a: i64, b: i64) -> i64 {
        (a >> 1) + (b >> 1) + (a & b & 1)
    }
    #[inline]
    fn cubic(&self, a1: i64, a0: i64, b0: i64, b1: i64) -> i64 {
        // Domains of up to 33 bits cannot overflow i64 here; only ordered f64 bits need i128.
        if self.lo >= -(1 << 40) && self.hi <= 1 << 40 {
            self.clamp((9 * (a0 + b0) - a1 - b1 + 8) >> 4)
        } else {
            let s = 9 * (a0 as i128 + b0 as i128) - a1 as i128 - b1 as i128;
            let p = (s + 8) >> 4;
            self.clamp(p.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
        }
    }
    #[inline]
    fn to_f64(v: i64) -> f64 {
        v as f64
    }
    #[inline]
    fn activity(&self, a: i64, b: i64) -> usize {
        // bit_length(floor(d / w)) capped at NB-1, without a division: with a = bit_length(d)
        // and c = bit_length(w), d / w lies in (2^(a-1-c), 2^(a-c+1)), so the answer is a-c or
        // a-c+1, the latter iff d >= w << (a-c).
        let d = a.abs_diff(b);
        let w = self.w() as u64;
        if d < w {
            return 0;
        }
        let k = w.leading_zeros() - d.leading_zeros();
        let j = k as usize + (d >= w << k) as usize;
        j.min(NB - 1)
    }
    #[inline]
    fn encode(&self, x: i64, p: i64, ctx: usize, enc: &mut Encoder, bits: &mut BitWriter) -> i64 {
        let (q, r) = if self.b == 0 {
            (x.wrapping_sub(p), x)
        } else {
            let w = self.w();
            let q = (x - p + self.b).div_euclid(w);
            (q, self.clamp(p + q * w))
        };
        let (sym, nb, extra) = bucket(zigzag(q));
        enc.push(ctx, sym);
        bits.put_wide(extra, nb);
        r
    }
    #[inline]
    fn decode(&self, p: i64, ctx: usize, dec: &mut Decoder, bits: &mut BitReader) -> i64 {
        let sym = dec.get(ctx);
        let q = unzigzag(unbucket(sym, dec, bits));
        if self.b == 0 {
            p.wrapping_add(q)
        } else {
            // Valid streams never overflow here (|q·w| <= dtype span); forged ones get a
            // wrapped value, clamped into range like any other.
            self.clamp(p.wrapping_add(q.wrapping_mul(self.w())))
        }
    }
}

/// Floating-point domain for the abs mode with bound b > 0.
pub struct FloatDomain {
    pub b: f64,
    pub is_f32: bool,
}

impl FloatDomain {
    #[inline]
    fn w(&self) -> f64 {
        2.0 * self.b
    }
    #[inline]
    fn sanitize(p: f64) -> f64 {
        if p.is_finite() {
            p
        } else {
            0.0
        }
    }
    #[inline]
    fn cast(&self, r: f64) -> f64 {
        if self.is_f32 {
            r as f32 as f64
        } else {
            r
        }
    }
}

impl Domain for FloatDomain {
    type V = f64;
    #[inline]
    fn lin(&self, a: f64, b: f64) -> f64 {
        0.5 * (a + b)
    }
    #[inline]
    fn cubic(&self, a1: f64, a0: f64, b0: f64, b1: f64) -> f64 {
        (9.0 * (a0 + b0) - a1 - b1) * 0.0625
    }
    #[inline]
    fn to_f64(v: f64) -> f64 {
        v
    }
    #[inline]
    fn activity(&self, a: f64, b: f64) -> usize {
        let t = ((a - b).abs() / self.w()).min(1e18);
        if t.is_finite() {
            activity_bucket(t as u64)
        } else {
            NB - 1
        }
    }
    #[inline]
    fn encode(&self, x: f64, p: f64, ctx: usize, enc: &mut Encoder, bits: &mut BitWriter) -> f64 {
        let p = Self::sanitize(p);
        let t = (x - p) / self.w();
        if t.abs() < (1u64 << 40) as f64 {
            let q = t.round() as i64;
            let r = self.cast(p + q as f64 * self.w());
            if (r - x).abs() <= self.b {
                let (sym, nb, extra) = bucket(zigzag(q));
                enc.push(ctx, sym);
                bits.put_wide(extra, nb);
                return r;
            }
        }
        // Unpredictable (NaN, Inf, huge jump, rounding at the bin edge): store verbatim.
        enc.push(ctx, ESC);
        if self.is_f32 {
            bits.put((x as f32).to_bits() as u64, 32);
        } else {
            bits.put_wide(x.to_bits(), 64);
        }
        x
    }
    #[inline]
    fn decode(&self, p: f64, ctx: usize, dec: &mut Decoder, bits: &mut BitReader) -> f64 {
        let sym = dec.get(ctx);
        if sym == ESC {
            return if self.is_f32 {
                f32::from_bits(bits.get(32) as u32) as f64
            } else {
                f64::from_bits(bits.get_wide(64))
            };
        }
        let q = unzigzag(unbucket(sym, dec, bits));
        let p = Self::sanitize(p);
        self.cast(p + q as f64 * self.w())
    }
}

/// One pass: all points whose coordinate along `axis` is an odd multiple of `h`.
#[derive(Clone, Copy, Debug)]
struct Pass {
    h: usize,
    axis: usize,
}

fn passes(shape: [usize; 3]) -> Vec<Pass> {
    let m = *shape.iter().max().expect("3 dims");
    let mut h = m.next_power_of_two() / 2;
    let mut v = Vec::new();
    while h >= 1 {
        for (axis, &n) in shape.iter().enumerate() {
            if n > h {
                v.push(Pass { h, axis });
            }
        }
        h /= 2;
    }
    v
}

/// Calls `f(idx, c)` for every point of the pass (c = coordinate along the pass axis).
#[inline(always)]
fn for_each_point(shape: [usize; 3], pass: Pass, mut f: impl FnMut(usize, usize)) {
    let h = pass.h;
    let step = |a: usize| -> (usize, usize) {
        use std::cmp::Ordering::*;
        match a.cmp(&pass.axis) {
            Less => (0, h),
            Equal => (h, 2 * h),
            Greater => (0, 2 * h),
        }
    };
    let (z0, zs) = step(0);
    let (x0, xs) = step(1);
    let (y0, ys) = step(2);
    let (nz, nx, ny) = (shape[0], shape[1], shape[2]);
    for z in (z0..nz).step_by(zs) {
        for x in (x0..nx).step_by(xs) {
            let row = (z * nx + x) * ny;
            for y in (y0..ny).step_by(ys) {
                let c = match pass.axis {
                    0 => z,
                    1 => x,
                    _ => y,
                };
                f(row + y, c);
            }
        }
    }
}

/// Geometry of one pass: axis length, index stride of one step h, the step, predictor choice.
#[derive(Clone, Copy)]
struct Line {
    n: usize,
    st: usize,
    h: usize,
    cubic: bool,
}

impl Line {
    /// Geometry of `pass` and the context offset of its level (finest level: NB).
    fn of(shape: [usize; 3], pass: Pass, cubic: bool) -> (Line, usize) {
        let g = Line {
            n: shape[pass.axis],
            st: strides(shape)[pass.axis] * pass.h,
            h: pass.h,
            cubic,
        };
        (g, if pass.h == 1 { NB } else { 0 })
    }
}

#[inline(always)]
fn predict<D: Domain>(d: &D, v: &[D::V], idx: usize, c: usize, g: Line) -> (D::V, usize) {
    let Line { n, st, h, cubic } = g;
    let a0 = v[idx - st];
    if c + h < n {
        let b0 = v[idx + st];
        let act = d.activity(a0, b0);
        let p = if cubic && c >= 3 * h && c + 3 * h < n {
            d.cubic(v[idx - 3 * st], a0, b0, v[idx + 3 * st])
        } else {
            d.lin(a0, b0)
        };
        (p, act)
    } else if c >= 3 * h {
        (a0, d.activity(a0, v[idx - 3 * st]))
    } else {
        (a0, 0)
    }
}

/// Visits every point of a pass in the order of [`for_each_point`], calling
/// `step(idx, prediction, activity)` and storing its result at `v[idx]`. Identical to calling
/// [`predict`] per point, with the boundary tests hoisted out of the rows (the hot path).
#[inline(always)]
fn run_pass<D: Domain>(
    d: &D,
    v: &mut [D::V],
    shape: [usize; 3],
    pass: Pass,
    g: Line,
    mut step: impl FnMut(usize, D::V, usize) -> D::V,
) {
    let h = pass.h;
    let st = g.st;
    let (nz, nx, ny) = (shape[0], shape[1], shape[2]);
    let (z0, zs) = match pass.axis {
        0 => (h, 2 * h),
        _ => (0, h),
    };
    let (x0, xs) = match pass.axis {
        0 => (0, 2 * h),
        1 => (h, 2 * h),
        _ => (0, h),
    };
    let (y0, ys) = match pass.axis {
        2 => (h, 2 * h),
        _ => (0, 2 * h),
    };
    for z in (z0..nz).step_by(zs) {
        for x in (x0..nx).step_by(xs) {
            let row = (z * nx + x) * ny;
            if pass.axis == 2 {
                // Interior points (3h <= y < ny - 3h) take the fixed fast path.
                for y in (y0..ny).step_by(ys) {
                    let idx = row + y;
                    let (p, act) = if y >= 3 * h && y + 3 * h < ny {
                        let (a0, b0) = (v[idx - st], v[idx + st]);
                        let p = if g.cubic {
                            d.cubic(v[idx - 3 * st], a0, b0, v[idx + 3 * st])
                        } else {
                            d.lin(a0, b0)
                        };
                        (p, d.activity(a0, b0))
                    } else {
                        predict(d, v, idx, y, g)
                    };
                    v[idx] = step(idx, p, act);
                }
            } else {
                let c = if pass.axis == 0 { z } else { x };
                let n = g.n;
                if c + h < n {
                    let cubic = g.cubic && c >= 3 * h && c + 3 * h < n;
                    for y in (y0..ny).step_by(ys) {
                        let idx = row + y;
                        let (a0, b0) = (v[idx - st], v[idx + st]);
                        let p = if cubic {
                            d.cubic(v[idx - 3 * st], a0, b0, v[idx + 3 * st])
                        } else {
                            d.lin(a0, b0)
                        };
                        let act = d.activity(a0, b0);
                        v[idx] = step(idx, p, act);
                    }
                } else {
                    for y in (y0..ny).step_by(ys) {
                        let idx = row + y;
                        let (p, act) = predict(d, v, idx, c, g);
                        v[idx] = step(idx, p, act);
                    }
                }
            }
        }
    }
}

fn strides(shape: [usize; 3]) -> [usize; 3] {
    [shape[1] * shape[2], shape[2], 1]
}

/// Chooses cubic (true) or linear for a pass from the original values.
fn choose_cubic<D: Domain>(d: &D, x: &[D::V], shape: [usize; 3], pass: Pass) -> bool {
    let st = strides(shape)[pass.axis] * pass.h;
    let n = shape[pass.axis];
    let h = pass.h;
    let (mut el, mut ec) = (0.0f64, 0.0f64);
    let mut k = 0usize;
    for_each_point(shape, pass, |idx, c| {
        k += 1;
        // Sample: every 4th point is plenty to pick the better interpolant.
        if k & 3 != 0 || !(c >= 3 * h && c + 3 * h < n) {
            return;
        }
        let xv = D::to_f64(x[idx]);
        let l = D::to_f64(d.lin(x[idx - st], x[idx + st]));
        let cu = D::to_f64(d.cubic(x[idx - 3 * st], x[idx - st], x[idx + st], x[idx + 3 * st]));
        el += (xv - l).abs();
        ec += (xv - cu).abs();
    });
    ec < el
}

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
            run_pass(d, &mut v, shape, pass, g, |idx, p, act| {
                d.encode(xb[idx], p, fine + act, &mut enc, &mut bits)
            });
        }
    }
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
            run_pass(d, vb, shape, pass, g, |_, p, act| {
                d.decode(p, fine + act, &mut dec, &mut bits)
            });
        }
    }
    dec.finish()?;
    bits.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_matches_its_definition() {
        // FORMAT.md: context = min(9, bit_length(floor(|a - b| / w))).
        let mut s = 7u64;
        for b in [0i64, 1, 2, 4, 37, 1000] {
            let d = IntDomain {
                b,
                lo: -(1 << 31),
                hi: 1 << 31,
            };
            for _ in 0..20000 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let a = (s >> 40) as i64 - (1 << 23);
                let c = ((s >> 7) & 0xfffff) as i64 * if s & 1 == 0 { 1 } else { 100 };
                let t = a.abs_diff(c) / (2 * b as u64 + 1);
                let want = ((64 - t.leading_zeros()) as usize).min(NB - 1);
                assert_eq!(d.activity(a, c), want, "b={b} a={a} c={c}");
            }
        }
    }

    #[test]
    fn bucket_roundtrip() {
        for u in (0..5000u64).chain([u64::MAX, u64::MAX - 1, 1 << 40, (1 << 33) + 5]) {
            let (sym, nb, extra) = bucket(u);
            assert!(sym < ESC);
            let mut w = BitWriter::new();
            w.put_wide(extra, nb);
            let buf = w.finish();
            let mut r = BitReader::new(&buf);
            let mut enc = Encoder::new(1);
            enc.push(0, 0);
            let mut tbl = Vec::new();
            enc.finish(&mut tbl);
            let mut cur = Cursor::new(&tbl);
            let mut dec = Decoder::new(&mut cur, 1).unwrap();
            assert_eq!(unbucket(sym, &mut dec, &mut r), u);
        }
    }
}
