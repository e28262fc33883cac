//! Value domains of the pyramid quantiser: integers (bin width 2b+1) and floats (bin width 2b).

use crate::codec::bits::{BitReader, BitWriter};
use crate::codec::elements::{narrow_f32, round_i64, widen_f32};
use crate::codec::rans::{Decoder, Encoder};
use crate::codec::symbols::{bucket, unbucket, unzigzag, zigzag, ESC};

/// Number of activity buckets; contexts = 2 * NB (coarse levels / finest level).
pub const NB: usize = 10;

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

/// [`IntDomain`] on u16 values, for palette indices (`0 <= lo <= hi < 2^16`): every operation
/// is IntDomain's on the widened values (predictions are clamped into `[lo, hi]`, so they fit),
/// hence the same symbols, bytes and decoded values with a quarter of the memory. A decoded
/// value outside `[lo, hi]` (only a forged stream has one; i64 decoding would produce it and
/// the caller refuse it) sets `bad`, which the caller must check after decoding.
pub struct IndexDomain {
    pub d: IntDomain,
    pub bad: std::cell::Cell<bool>,
}

impl IndexDomain {
    pub fn new(d: IntDomain) -> Self {
        debug_assert!(d.lo >= 0 && d.hi < 1 << 16);
        IndexDomain {
            d,
            bad: std::cell::Cell::new(false),
        }
    }
}

impl Domain for IndexDomain {
    type V = u16;
    #[inline]
    fn lin(&self, a: u16, b: u16) -> u16 {
        self.d.lin(a as i64, b as i64) as u16
    }
    #[inline]
    fn cubic(&self, a1: u16, a0: u16, b0: u16, b1: u16) -> u16 {
        self.d.cubic(a1 as i64, a0 as i64, b0 as i64, b1 as i64) as u16
    }
    #[inline]
    fn to_f64(v: u16) -> f64 {
        v as f64
    }
    #[inline]
    fn activity(&self, a: u16, b: u16) -> usize {
        self.d.activity(a as i64, b as i64)
    }
    #[inline]
    fn encode(&self, x: u16, p: u16, ctx: usize, enc: &mut Encoder, bits: &mut BitWriter) -> u16 {
        self.d.encode(x as i64, p as i64, ctx, enc, bits) as u16
    }
    #[inline]
    fn decode(&self, p: u16, ctx: usize, dec: &mut Decoder, bits: &mut BitReader) -> u16 {
        let v = self.d.decode(p as i64, ctx, dec, bits);
        if v < self.d.lo || v > self.d.hi {
            self.bad.set(true);
            return self.d.lo as u16;
        }
        v as u16
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
            let q = round_i64(t);
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
            bits.put(narrow_f32(x) as u64, 32);
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
                widen_f32(bits.get(32) as u32)
            } else {
                f64::from_bits(bits.get_wide(64))
            };
        }
        let q = unzigzag(unbucket(sym, dec, bits));
        let p = Self::sanitize(p);
        self.cast(p + q as f64 * self.w())
    }
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
}
