//! Method 10 "float-grid" (FORMAT.md §10, format version 6 tiles): a float tile with a bound
//! b > 0 (abs mode, or an apr tile's bound) as integers on a uniform grid of step `s <= 2b`,
//! coded exactly by method 6.
//!
//! Element i is stored as its grid index `q_i = round(x_i / s)`; the tile keeps `q0 = min q`
//! and codes `u_i = q_i - q0` as a u8, u16 or u32 tile with method 6 (lossless), the fast
//! pyramid coder of the integer modes. The decoder computes `x'_i = dtype(f64(q0 + u_i) * s)`.
//! Method 2's float quantiser puts its quantisation inside the prediction loop, in f64, with
//! one rANS state; here every prediction is an integer one, so float tiles get the speed of
//! the integer tiles. Pre-quantising and predicting afterwards gives the same residual
//! statistics (both predict from values carrying one quantisation error each): on the
//! cryo-ET f32 volume the streams are within 0.2 % of method 2's (FORMAT.md §10.3).
//!
//! The grid step keeps a margin below 2b (`step_for`: 2^-10 of it, and the dtype's spacing at
//! the tile's largest value), so that rounding the product to the dtype cannot take an element
//! past b; the encoder checks every element with the decoder's own formula anyway and declines
//! the tile (the caller then writes method 2 / 8) when one misses the bound, when a value is
//! not finite, when the spacing leaves a step below b, or when the indices span 2^32 or more.

use super::pyramid_fast;
use crate::codec::config::Config;
use crate::codec::dtype::DType;
use crate::codec::error::{Error, Result};
use crate::codec::rans4::Reader;
use crate::codec::scratch;

/// The grid step the encoder uses for bound `b` on a tile whose values satisfy
/// `|x| <= max_abs`: `2b (1 - 2^-10)`, less the dtype's spacing `u` at `max_abs + 2b`, so that
/// `|x - dtype(q s)| <= s/2 + u/2 <= b` (the product is within s/2 of x, its rounding to the
/// dtype moves it by at most half a spacing). None when that leaves less than b (values
/// whose spacing is comparable to the bound: method 2 codes those).
pub fn step_for(b: f64, max_abs: f64, dtype: DType) -> Option<f64> {
    let mant = if dtype == DType::F32 { 23 } else { 52 };
    let m = max_abs + 2.0 * b;
    // A power of two >= the spacing of every value of magnitude <= m.
    let u = if m > 0.0 {
        2f64.powi(m.log2().ceil() as i32 + 1 - mant)
    } else {
        0.0
    };
    let s = (2.0 * b * (1.0 - 1.0 / 1024.0)).min(2.0 * b - u);
    (s.is_finite() && s >= b).then_some(s)
}

#[cfg(test)]
thread_local! {
    /// Unit tests only: makes the encoder decline every tile on this thread (to write the
    /// methods 2 and 8 of earlier versions).
    pub(crate) static DISABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Largest |q0| a decoder accepts: q0 + u (u < 2^32) stays below 2^53, exact in f64.
const MAX_Q0: i64 = 1 << 52;

/// The grid tile's dtype for an index span.
fn grid_dtype(span: u64) -> Option<DType> {
    match span {
        0..=0xff => Some(DType::U8),
        0x100..=0xffff => Some(DType::U16),
        0x1_0000..=0xffff_ffff => Some(DType::U32),
        _ => None,
    }
}

/// Element `i` of a float tile of `W`-byte elements (4: f32, widened exactly; 8: f64).
#[inline(always)]
fn load<const W: usize>(c: &[u8]) -> f64 {
    if W == 4 {
        f32::from_le_bytes(c.try_into().expect("4")) as f64
    } else {
        f64::from_le_bytes(c.try_into().expect("8"))
    }
}

/// The decoder's value of grid index q: the f64 product, rounded to f32 for f32 tiles.
#[inline(always)]
fn value_f32(q: i64, s: f64) -> f32 {
    (q as f64 * s) as f32
}

/// 1.5 * 2^52: `(r + ROUND) - ROUND` is r rounded to an integer (ties to even) for
/// |r| <= 2^51, in two instructions (f64::round is a library call on baseline x86-64).
const ROUND: f64 = 6_755_399_441_055_744.0;

/// Largest |x / s| the encoder codes (the rounding above is exact up to it).
const MAX_ENC: f64 = (1u64 << 51) as f64;

/// The grid index of `x` for `inv = 1 / s` (|x inv| <= MAX_ENC): the nearest integer to
/// x inv (within an ulp of x / s; the encoder checks every decoded value against b anyway).
#[inline(always)]
fn index(x: f64, inv: f64) -> i64 {
    ((x * inv + ROUND) - ROUND) as i64
}

/// Appends a method 10 body (without the method byte) of a float tile with bound `b` to `out`;
/// false (and `out` unchanged) when the tile cannot be coded so (see the module docs).
pub fn encode_into(
    data: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    b: f64,
    out: &mut Vec<u8>,
) -> bool {
    #[cfg(test)]
    if DISABLED.with(|d| d.get()) {
        return false;
    }
    let n: usize = shape3.iter().product();
    if n == 0 || data.len() != n * dtype.size() {
        return false;
    }
    match dtype {
        DType::F32 => encode_tile::<4>(data, dtype, shape3, b, out),
        DType::F64 => encode_tile::<8>(data, dtype, shape3, b, out),
        _ => false,
    }
}

fn encode_tile<const W: usize>(
    data: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    b: f64,
    out: &mut Vec<u8>,
) -> bool {
    // One pass for the range; the indices then lie in [index(min), index(max)] (division and
    // rounding are monotone), so the grid dtype is known before the indices are made.
    let (mut min, mut max, mut finite) = (f64::INFINITY, f64::NEG_INFINITY, true);
    for c in data.chunks_exact(W) {
        let x = load::<W>(c);
        finite &= x.is_finite();
        // (NaN: `finite` declines the tile)
        if x < min {
            min = x;
        }
        if x > max {
            max = x;
        }
    }
    if !finite {
        return false;
    }
    let Some(s) = step_for(b, min.abs().max(max.abs()), dtype) else {
        return false;
    };
    // Multiplication by 1/s is monotone too.
    let inv = 1.0 / s;
    if !(min * inv >= -MAX_ENC && max * inv <= MAX_ENC) {
        return false;
    }
    let (lo, hi) = (index(min, inv), index(max, inv));
    let Some(g) = grid_dtype((hi - lo) as u64) else {
        return false;
    };
    let mut u = Vec::with_capacity(data.len() / W * g.size());
    let ok = match g {
        DType::U8 => indices::<W, 1>(data, s, b, lo, &mut u),
        DType::U16 => indices::<W, 2>(data, s, b, lo, &mut u),
        _ => indices::<W, 4>(data, s, b, lo, &mut u),
    };
    if !ok {
        return false;
    }
    let start = out.len();
    out.extend_from_slice(&s.to_le_bytes());
    out.extend_from_slice(&lo.to_le_bytes());
    out.push(g.code());
    if !pyramid_fast::encode_into(&u, g, shape3, &Config::lossless(), out) {
        out.truncate(start);
        return false;
    }
    true
}

/// Appends `index(x) - lo` of every element as a `G`-byte unsigned integer to `u`; false when
/// an element's decoded value (the decoder's formula) misses the bound b.
fn indices<const W: usize, const G: usize>(
    data: &[u8],
    s: f64,
    b: f64,
    lo: i64,
    u: &mut Vec<u8>,
) -> bool {
    let (mut ok, inv) = (true, 1.0 / s);
    for c in data.chunks_exact(W) {
        let x = load::<W>(c);
        let q = index(x, inv);
        let y = if W == 4 {
            value_f32(q, s) as f64
        } else {
            q as f64 * s
        };
        ok &= (x - y).abs() <= b;
        let d = (q - lo) as u32;
        u.extend_from_slice(&d.to_le_bytes()[..G]);
    }
    ok
}

/// The grid step of a method 10 body (its first 8 bytes), for the caller's bound check.
pub fn step(body: &[u8]) -> Result<f64> {
    let b = body
        .get(..8)
        .ok_or_else(|| Error::truncated("method 10 body ends inside its grid step"))?;
    Ok(f64::from_le_bytes(b.try_into().expect("8")))
}

/// Decodes a method 10 body (FORMAT.md §10, the bytes after the method byte) of a float tile
/// of shape `shape3` into `out`. Never panics on corrupt input.
pub fn decode(body: &[u8], dtype: DType, shape3: [usize; 3], out: &mut [u8]) -> Result<()> {
    if !dtype.is_float() {
        return Err(Error::corrupt("method 10 is defined for float dtypes only"));
    }
    if body.len() < 17 {
        return Err(Error::truncated(
            "method 10 body ends inside its grid header",
        ));
    }
    let s = step(body)?;
    if !(s.is_finite() && s > 0.0) {
        return Err(Error::corrupt(format!(
            "method 10 grid step {s} is not finite and > 0"
        )));
    }
    let q0 = i64::from_le_bytes(body[8..16].try_into().expect("8"));
    if !(-MAX_Q0..=MAX_Q0).contains(&q0) {
        return Err(Error::corrupt(format!(
            "method 10 grid origin {q0} is outside +-2^52"
        )));
    }
    let g = match DType::from_code(body[16]) {
        Some(g @ (DType::U8 | DType::U16 | DType::U32)) => g,
        _ => {
            return Err(Error::corrupt(format!(
                "method 10 grid dtype code {} is not u8, u16 or u32",
                body[16]
            )))
        }
    };
    let rest = &body[17..];
    // The grid tile is exact: its method-6 half-width must be 0.
    let mut r = Reader {
        buf: rest,
        pos: 0,
        truncated: "method 10 grid tile ends inside a varint",
    };
    if r.varint()? != 0 {
        return Err(Error::corrupt(
            "method 10 grid tile has a non-zero half-width",
        ));
    }
    let n = out.len() / dtype.size();
    let mut u = scratch::zeroed::<u8>(n.saturating_mul(g.size()))?;
    pyramid_fast::decode(rest, g, shape3, &mut u)?;
    let finite = match (dtype, g) {
        (DType::F32, DType::U8) => store::<4, 1>(&u, q0, s, out),
        (DType::F32, DType::U16) => store::<4, 2>(&u, q0, s, out),
        (DType::F32, _) => store::<4, 4>(&u, q0, s, out),
        (_, DType::U8) => store::<8, 1>(&u, q0, s, out),
        (_, DType::U16) => store::<8, 2>(&u, q0, s, out),
        _ => store::<8, 4>(&u, q0, s, out),
    };
    if !finite {
        return Err(Error::corrupt(
            "method 10 tile decodes to a value that is not finite",
        ));
    }
    Ok(())
}

/// Writes `dtype(f64(q0 + u) * s)` per element of `W`-byte floats (4: f32, rounded from the
/// f64 product; 8: f64) from the `G`-byte indices `u`; true iff every value is finite.
#[inline(always)]
fn store<const W: usize, const G: usize>(u: &[u8], q0: i64, s: f64, out: &mut [u8]) -> bool {
    let mut ok = true;
    for (o, c) in out.chunks_exact_mut(W).zip(u.chunks_exact(G)) {
        let mut v = [0u8; 4];
        v[..G].copy_from_slice(c);
        let q = q0 + u32::from_le_bytes(v) as i64;
        if W == 4 {
            let y = value_f32(q, s);
            ok &= y.is_finite();
            o.copy_from_slice(&y.to_le_bytes());
        } else {
            let y = q as f64 * s;
            ok &= y.is_finite();
            o.copy_from_slice(&y.to_le_bytes());
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn wave(n: usize, amp: f32) -> Vec<f32> {
        (0..n)
            .map(|i| amp * ((i as f32) * 0.013).sin() + 0.001 * (i % 7) as f32)
            .collect()
    }

    #[test]
    fn roundtrip_within_bound_every_grid_dtype() {
        let shape = [4, 16, 32];
        let n = 4 * 16 * 32;
        // Amplitudes whose index spans need u8, u16 and u32 grids at b = 1e-3.
        for (amp, want) in [(0.1f32, DType::U8), (20.0, DType::U16), (100.0, DType::U32)] {
            let x = wave(n, amp);
            let b = 1e-3;
            let mut body = Vec::new();
            assert!(
                encode_into(&f32s(&x), DType::F32, shape, b, &mut body),
                "{amp}"
            );
            assert_eq!(DType::from_code(body[16]), Some(want), "{amp}");
            let mut out = vec![0u8; n * 4];
            decode(&body, DType::F32, shape, &mut out).unwrap();
            for (a, c) in x.iter().zip(out.chunks_exact(4)) {
                let y = f32::from_le_bytes(c.try_into().unwrap());
                assert!(((*a as f64) - y as f64).abs() <= b, "{amp}: {a} -> {y}");
            }
        }
    }

    #[test]
    fn f64_roundtrip_within_bound() {
        let shape = [2, 8, 64];
        let x: Vec<f64> = (0..2 * 8 * 64)
            .map(|i| (i as f64 * 0.01).cos() * 5.0)
            .collect();
        let data: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut body = Vec::new();
        assert!(encode_into(&data, DType::F64, shape, 0.01, &mut body));
        let mut out = vec![0u8; data.len()];
        decode(&body, DType::F64, shape, &mut out).unwrap();
        for (a, c) in x.iter().zip(out.chunks_exact(8)) {
            assert!((a - f64::from_le_bytes(c.try_into().unwrap())).abs() <= 0.01);
        }
    }

    #[test]
    fn declines_what_it_cannot_bound() {
        let shape = [1, 4, 4];
        let mut x = wave(16, 1.0);
        let mut body = Vec::new();
        // Not finite.
        x[3] = f32::NAN;
        assert!(!encode_into(&f32s(&x), DType::F32, shape, 0.1, &mut body));
        x[3] = f32::INFINITY;
        assert!(!encode_into(&f32s(&x), DType::F32, shape, 0.1, &mut body));
        // f32 spacing (2 above 2^24) comparable to the bound: no step of at least b keeps
        // every product's rounding within b.
        let big: Vec<f32> = (0..16).map(|k| (16_777_216 + 2 * k) as f32).collect();
        for b in [0.5, 1.5, 2.5] {
            assert!(
                !encode_into(&f32s(&big), DType::F32, shape, b, &mut body),
                "{b}"
            );
        }
        // A bound well above the spacing is fine.
        assert!(encode_into(&f32s(&big), DType::F32, shape, 64.0, &mut body));
        body.clear();
        // An index span of 2^32 or more.
        x[3] = 1.0e4;
        assert!(!encode_into(&f32s(&x), DType::F32, shape, 1e-6, &mut body));
        assert!(body.is_empty());
        // Integers are not float tiles.
        assert!(!encode_into(&[0u8; 16], DType::U8, shape, 1.0, &mut body));
    }

    #[test]
    fn rejects_forged_headers() {
        let shape = [1, 8, 8];
        let x = wave(64, 2.0);
        let mut body = Vec::new();
        assert!(encode_into(&f32s(&x), DType::F32, shape, 0.01, &mut body));
        let mut out = vec![0u8; 64 * 4];
        let err = |b: &[u8]| decode(b, DType::F32, shape, &mut vec![0u8; 256]).unwrap_err();
        decode(&body, DType::F32, shape, &mut out).unwrap();
        for s in [0.0f64, -1.0, f64::NAN, f64::INFINITY] {
            let mut b = body.clone();
            b[..8].copy_from_slice(&s.to_le_bytes());
            assert!(err(&b).message().contains("grid step"), "{s}");
        }
        let mut b = body.clone();
        b[8..16].copy_from_slice(&(MAX_Q0 + 1).to_le_bytes());
        assert!(err(&b).message().contains("origin"));
        for code in [0u8, 2, 4, 6, 7, 8, 99] {
            let mut b = body.clone();
            b[16] = code;
            assert!(err(&b).message().contains("grid dtype"), "{code}");
        }
        let mut b = body.clone();
        b[17] = 1; // method-6 half-width
        assert!(err(&b).message().contains("half-width"));
        // A step that overflows the values to infinity.
        let mut b = body.clone();
        b[..8].copy_from_slice(&1e300f64.to_le_bytes());
        assert!(err(&b).message().contains("not finite"));
        for cut in 0..17 {
            assert!(decode(&body[..cut], DType::F32, shape, &mut out).is_err());
        }
        assert!(decode(&body, DType::U16, shape, &mut out).is_err());
    }
}
