//! Stream assembly: header, method byte, method body, CRC-32. See FORMAT.md §2.

use super::bits::Cursor;
use super::crc32::crc32;
use super::header::{Header, FORMAT_VERSION};
use super::interp::{self, FloatDomain, IntDomain};
use super::{aprmode, checked_len, Config, DType, Mode};
use crate::error::{Error, ErrorKind, Result};

/// Largest possible expansion of a method 1, 2 or 4 body (see `decompress_into`).
const MAX_EXPANSION: u64 = 1 << 15;

/// How the body after the header is coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Method {
    /// Element bytes verbatim (little-endian).
    Raw = 0,
    /// Byte-plane shuffled elements, zstd frame.
    ZstdShuffle = 1,
    /// Pyramid-interpolation predictive coding (lossless / abs).
    Pyramid = 2,
    /// Adaptive Particle Representation (apr mode).
    Apr = 3,
    /// Sorted table of the distinct values, then pyramid coding of the value indices.
    PalettePyramid = 4,
}

/// Distinct values of a small-integer chunk when they are sparse in their range
/// (e.g. 12-bit data rescaled to 16 bits): coding indices into this table saves bits.
fn sparse_palette(dtype: DType, v: &[i64]) -> Option<Vec<i64>> {
    if dtype.size() > 2 || v.len() < 64 {
        return None;
    }
    let (lo, _) = dtype.int_range();
    let mut seen = vec![false; 1 << 16];
    for &x in v {
        seen[(x - lo) as usize] = true;
    }
    let pal: Vec<i64> = seen
        .iter()
        .enumerate()
        .filter(|(_, &s)| s)
        .map(|(i, _)| i as i64 + lo)
        .collect();
    let span = pal[pal.len() - 1] - pal[0] + 1;
    (pal.len() as i64 * 2 <= span).then_some(pal)
}

/// Largest index half-width k such that indices within k of each other map to values within `b`.
fn palette_bound(pal: &[i64], b: i64) -> i64 {
    let mut k = 0usize;
    while k + 1 < pal.len() && pal.windows(k + 2).all(|w| w[k + 1] - w[0] <= b) {
        k += 1;
    }
    k as i64
}

fn encode_palette(
    pal: &[i64],
    v: &[i64],
    b: i64,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut Vec<u8>,
) {
    use super::bits::put_varint;
    put_varint(out, pal.len() as u64);
    let mut prev = 0i64;
    for (i, &p) in pal.iter().enumerate() {
        let d = if i == 0 {
            ((p << 1) ^ (p >> 63)) as u64
        } else {
            (p - prev) as u64
        };
        put_varint(out, d);
        prev = p;
    }
    let mut index = vec![0i64; 1 << 16];
    let lo = pal[0];
    for (i, &p) in pal.iter().enumerate() {
        index[(p - lo) as usize] = i as i64;
    }
    let idx: Vec<i64> = v.iter().map(|&x| index[(x - lo) as usize]).collect();
    let d = IntDomain {
        b: palette_bound(pal, b),
        lo: 0,
        hi: pal.len() as i64 - 1,
    };
    interp::encode(&d, &idx, bs, nblocks, out);
}

fn decode_palette(
    cur: &mut Cursor,
    dtype: DType,
    b: i64,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut [u8],
) -> Result<()> {
    let k = cur.varint()?;
    if k == 0 || k > 1 << 16 {
        return Err(Error::corrupt("palette size out of range"));
    }
    let (lo, hi) = dtype.int_range();
    let mut pal = Vec::with_capacity(k as usize);
    let mut prev = 0i64;
    for i in 0..k {
        let d = cur.varint()?;
        let p = if i == 0 {
            ((d >> 1) as i64) ^ -((d & 1) as i64)
        } else {
            if d == 0 || d > (hi - lo) as u64 {
                return Err(Error::corrupt("palette not strictly increasing"));
            }
            prev + d as i64
        };
        if p < lo || p > hi {
            return Err(Error::corrupt("palette value outside the dtype range"));
        }
        pal.push(p);
        prev = p;
    }
    let d = IntDomain {
        b: palette_bound(&pal, b),
        lo: 0,
        hi: pal.len() as i64 - 1,
    };
    let mut idx = vec![0i64; out.len() / dtype.size()];
    interp::decode(&d, cur, bs, nblocks, &mut idx)?;
    let mut vals = Vec::with_capacity(idx.len());
    for i in idx {
        vals.push(
            *pal.get(i as usize)
                .ok_or_else(|| Error::corrupt("palette index out of range"))?,
        );
    }
    from_ints(dtype, &vals, out);
    Ok(())
}

/// Splits shape into the 3-D block shape (z, x, y) and the number of stacked blocks.
pub fn block_shape(shape: &[usize]) -> ([usize; 3], usize) {
    match shape.len() {
        1 => ([1, 1, shape[0]], 1),
        2 => ([1, shape[0], shape[1]], 1),
        r => {
            let n = shape[r - 3..].to_vec();
            ([n[0], n[1], n[2]], shape[..r - 3].iter().product())
        }
    }
}

// ---- element conversion -------------------------------------------------------------

/// Maps float bits to integers whose order matches the float order (bijective).
#[inline]
fn f32_to_ordered(bits: u32) -> i64 {
    let u = if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u ^ 0x8000_0000) as i32 as i64
}
#[inline]
fn ordered_to_f32(v: i64) -> u32 {
    let u = (v as i32 as u32) ^ 0x8000_0000;
    if u & 0x8000_0000 != 0 {
        u & 0x7fff_ffff
    } else {
        !u
    }
}
#[inline]
fn f64_to_ordered(bits: u64) -> i64 {
    let u = if bits >> 63 != 0 {
        !bits
    } else {
        bits | (1 << 63)
    };
    (u ^ (1 << 63)) as i64
}
#[inline]
fn ordered_to_f64(v: i64) -> u64 {
    let u = (v as u64) ^ (1 << 63);
    if u >> 63 != 0 {
        u & !(1 << 63)
    } else {
        !u
    }
}

/// Element bytes -> integer domain values (floats via the ordered mapping).
pub fn to_ints(dtype: DType, data: &[u8]) -> Vec<i64> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("size")) as i64)
                .collect()
        };
    }
    match dtype {
        DType::U8 => data.iter().map(|&b| b as i64).collect(),
        DType::I8 => data.iter().map(|&b| b as i8 as i64).collect(),
        DType::U16 => conv!(u16, 2),
        DType::I16 => conv!(i16, 2),
        DType::U32 => conv!(u32, 4),
        DType::I32 => conv!(i32, 4),
        DType::F32 => data
            .chunks_exact(4)
            .map(|c| f32_to_ordered(u32::from_le_bytes(c.try_into().expect("4"))))
            .collect(),
        DType::F64 => data
            .chunks_exact(8)
            .map(|c| f64_to_ordered(u64::from_le_bytes(c.try_into().expect("8"))))
            .collect(),
    }
}

/// Inverse of [`to_ints`].
pub fn from_ints(dtype: DType, v: &[i64], out: &mut [u8]) {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            for (o, &x) in out.chunks_exact_mut($n).zip(v) {
                o.copy_from_slice(&(x as $t).to_le_bytes());
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
                o.copy_from_slice(&ordered_to_f32(x).to_le_bytes());
            }
        }
        DType::F64 => {
            for (o, &x) in out.chunks_exact_mut(8).zip(v) {
                o.copy_from_slice(&ordered_to_f64(x).to_le_bytes());
            }
        }
    }
}

/// Element bytes -> f64 values (any dtype).
pub fn to_f64s(dtype: DType, data: &[u8]) -> Vec<f64> {
    match dtype {
        DType::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")) as f64)
            .collect(),
        DType::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
            .collect(),
        _ => to_ints(dtype, data).into_iter().map(|x| x as f64).collect(),
    }
}

/// f64 values -> element bytes (floats cast, integers rounded and clamped).
pub fn from_f64s(dtype: DType, v: &[f64], out: &mut [u8]) {
    match dtype {
        DType::F32 => {
            for (o, &x) in out.chunks_exact_mut(4).zip(v) {
                o.copy_from_slice(&(x as f32).to_le_bytes());
            }
        }
        DType::F64 => {
            for (o, &x) in out.chunks_exact_mut(8).zip(v) {
                o.copy_from_slice(&x.to_le_bytes());
            }
        }
        _ => {
            let (lo, hi) = dtype.int_range();
            let ints: Vec<i64> = v
                .iter()
                .map(|&x| (x.round() as i64).clamp(lo, hi))
                .collect();
            from_ints(dtype, &ints, out);
        }
    }
}

fn shuffle(data: &[u8], size: usize) -> Vec<u8> {
    let n = data.len() / size;
    let mut out = vec![0u8; data.len()];
    for (i, e) in data.chunks_exact(size).enumerate() {
        for (k, &b) in e.iter().enumerate() {
            out[k * n + i] = b;
        }
    }
    out
}

/// Method 1 body: one zstd frame of the byte-shuffled elements.
fn zstd_shuffle(data: &[u8], dtype: DType, effort: i32) -> Result<Vec<u8>> {
    zstd::bulk::compress(&shuffle(data, dtype.size()), effort)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("zstd: {e}")))
}

fn unshuffle(data: &[u8], size: usize, out: &mut [u8]) {
    let n = out.len() / size;
    for (i, e) in out.chunks_exact_mut(size).enumerate() {
        for (k, b) in e.iter_mut().enumerate() {
            *b = data[k * n + i];
        }
    }
}

/// Integer-domain quantiser for a dtype and (integer) half bin width.
fn int_domain(dtype: DType, b: i64) -> IntDomain {
    let (lo, hi) = match dtype {
        DType::F32 => (i32::MIN as i64, i32::MAX as i64),
        DType::F64 => (i64::MIN, i64::MAX),
        d => d.int_range(),
    };
    IntDomain { b, lo, hi }
}

/// Integer half-bin width for an abs bound on an integer dtype (floor, capped to the range).
fn int_bound(dtype: DType, bound: f64) -> i64 {
    let (lo, hi) = dtype.int_range();
    let cap = (hi - lo) as f64;
    bound.floor().min(cap) as i64
}

// ---- compress / decompress ----------------------------------------------------------

pub fn compress(data: &[u8], dtype: DType, shape: &[usize], cfg: &Config) -> Result<Vec<u8>> {
    let header = Header {
        version: FORMAT_VERSION,
        dtype,
        mode: cfg.mode,
        shape: shape.to_vec(),
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    header.write(&mut out);
    let body_start = out.len();
    let (bs, nblocks) = block_shape(shape);

    // Integer domain (integers, or floats as ordered integers when lossless).
    let int_pyramid = |out: &mut Vec<u8>, b: i64| {
        let v = to_ints(dtype, data);
        // With a bound, the palette only pays when quantisation bins of the value domain
        // could not merge distinct values anyway (every gap wider than the bin).
        let pal = (!dtype.is_float())
            .then(|| sparse_palette(dtype, &v))
            .flatten()
            .filter(|p| p.windows(2).all(|w| w[1] - w[0] > 2 * b));
        match pal {
            Some(pal) => {
                out.push(Method::PalettePyramid as u8);
                encode_palette(&pal, &v, b, bs, nblocks, out);
            }
            None => {
                out.push(Method::Pyramid as u8);
                interp::encode(&int_domain(dtype, b), &v, bs, nblocks, out);
            }
        }
    };
    let lossless_pyramid = |out: &mut Vec<u8>| int_pyramid(out, 0);
    // Exact coding: the pyramid, unless the generic byte coder wins (repeated patterns,
    // few distinct values, noise with a comb-shaped histogram).
    let lossless_best = |out: &mut Vec<u8>| -> Result<()> {
        lossless_pyramid(out);
        let z = zstd_shuffle(data, dtype, cfg.effort)?;
        if 1 + z.len() < out.len() - body_start {
            out.truncate(body_start);
            out.push(Method::ZstdShuffle as u8);
            out.extend_from_slice(&z);
        }
        Ok(())
    };
    match cfg.mode {
        // An abs bound that allows no error (floats: 0; integers: < 1) is lossless coding.
        Mode::Abs(bound) if bound == 0.0 || (!dtype.is_float() && int_bound(dtype, bound) == 0) => {
            lossless_best(&mut out)?;
        }
        Mode::Lossless => lossless_best(&mut out)?,
        Mode::Abs(bound) => {
            if dtype.is_float() {
                out.push(Method::Pyramid as u8);
                let v = to_f64s(dtype, data);
                let d = FloatDomain {
                    b: bound,
                    is_f32: dtype == DType::F32,
                };
                interp::encode(&d, &v, bs, nblocks, &mut out);
            } else {
                int_pyramid(&mut out, int_bound(dtype, bound));
            }
        }
        Mode::Apr(e) => {
            out.push(Method::Apr as u8);
            aprmode::encode(data, dtype, bs, nblocks, e, cfg, &mut out)?;
        }
    }
    // The decoder refuses bodies more than MAX_EXPANSION times smaller than what they decode
    // to (its guard against forged sizes). The rANS coders can spend almost nothing per element
    // of a huge constant chunk, so such a chunk is stored as zstd-shuffle, which is exact (valid
    // in every mode) and cannot beat that ratio (a zstd block of 128 KiB costs >= 4 bytes).
    if claimed_size(out[body_start], data.len(), dtype)
        > (out.len() - body_start) as u64 * MAX_EXPANSION
    {
        out.truncate(body_start);
        let z = zstd_shuffle(data, dtype, cfg.effort)?;
        out.push(Method::ZstdShuffle as u8);
        out.extend_from_slice(&z);
    }
    if out.len() - body_start > 1 + data.len() {
        out.truncate(body_start);
        out.push(Method::Raw as u8);
        out.extend_from_slice(data);
    }
    let c = crc32(&out);
    out.extend_from_slice(&c.to_le_bytes());
    Ok(out)
}

/// What a body of `method` must back with real bytes: decoded bytes for zstd, elements for
/// the entropy-coded methods, nothing for raw (its length is checked exactly).
fn claimed_size(method: u8, nbytes: usize, dtype: DType) -> u64 {
    match method {
        0 => 0,
        1 => nbytes as u64,
        _ => (nbytes / dtype.size()) as u64,
    }
}

/// Checks header, length, checksum and that the claimed size is backed by real bytes;
/// returns the header and its length. Nothing is allocated before this passes.
pub fn validate(stream: &[u8]) -> Result<(Header, usize)> {
    let (h, hlen) = Header::parse(stream)?;
    if stream.len() < hlen + 1 + 4 {
        return Err(Error::truncated("stream ends before its body"));
    }
    let (body, tail) = stream.split_at(stream.len() - 4);
    let want = u32::from_le_bytes(tail.try_into().expect("4"));
    if crc32(body) != want {
        return Err(Error::corrupt(
            "checksum mismatch (stream damaged or truncated)",
        ));
    }
    let n = checked_len(h.dtype, &h.shape)?;
    let method = body[hlen];
    // A claimed size must be backed by real bytes: rANS spends at least log2(4096/4095) bits
    // per symbol and a zstd block at least 4 bytes per 128 KiB, so no valid body of methods
    // 1, 2, 4 is more than 2^15 times smaller than the elements (or bytes) it decodes to. The
    // encoder keeps apr bodies (method 3) within the same limit (falling back to method 2).
    let backed = (body.len() - hlen) as u64 * MAX_EXPANSION;
    let claimed = claimed_size(method, n * h.dtype.size(), h.dtype);
    if claimed > backed {
        return Err(Error::corrupt(format!(
            "stream of {} bytes cannot hold {claimed} elements/bytes",
            stream.len()
        )));
    }
    Ok((h, hlen))
}

pub fn decompress_into(stream: &[u8], out: &mut [u8]) -> Result<Header> {
    let (h, hlen) = validate(stream)?;
    if out.len() != h.nbytes() {
        return Err(Error::new(
            ErrorKind::BufferTooSmall,
            format!(
                "output buffer has {} bytes, chunk needs {}",
                out.len(),
                h.nbytes()
            ),
        ));
    }
    let n = h.len();
    let (bs, nblocks) = block_shape(&h.shape);
    let body = &stream[..stream.len() - 4];
    let method = body[hlen];
    let mut cur = Cursor::new(&body[hlen + 1..]);
    match (method, h.mode) {
        (0, _) => {
            let raw = cur.bytes(n * h.dtype.size())?;
            out.copy_from_slice(raw);
        }
        (1, _) => {
            let mut buf = vec![0u8; out.len()];
            let got = zstd::bulk::decompress_to_buffer(cur.rest(), &mut buf)
                .map_err(|e| Error::corrupt(format!("zstd section: {e}")))?;
            if got != out.len() {
                return Err(Error::corrupt("zstd section has the wrong decoded size"));
            }
            cur.pos = cur.data.len();
            unshuffle(&buf, h.dtype.size(), out);
        }
        (2, _) => {
            let bound = match h.mode {
                Mode::Abs(b) => b,
                _ => 0.0,
            };
            if h.dtype.is_float() && bound > 0.0 {
                let d = FloatDomain {
                    b: bound,
                    is_f32: h.dtype == DType::F32,
                };
                let mut v = vec![0f64; n];
                interp::decode(&d, &mut cur, bs, nblocks, &mut v)?;
                from_f64s(h.dtype, &v, out);
            } else {
                let b = if h.dtype.is_float() {
                    0
                } else {
                    int_bound(h.dtype, bound)
                };
                let mut v = vec![0i64; n];
                interp::decode(&int_domain(h.dtype, b), &mut cur, bs, nblocks, &mut v)?;
                from_ints(h.dtype, &v, out);
            }
        }
        (4, Mode::Lossless) | (4, Mode::Abs(_)) if !h.dtype.is_float() => {
            let b = int_bound(h.dtype, h.mode.param());
            decode_palette(&mut cur, h.dtype, b, bs, nblocks, out)?;
        }
        (3, Mode::Apr(e)) => {
            aprmode::decode(&mut cur, h.dtype, bs, nblocks, e, out)?;
        }
        (m, mode) => {
            return Err(Error::corrupt(format!(
                "coding method {m} is not valid for mode {}",
                mode.code()
            )))
        }
    }
    if cur.pos != cur.data.len() {
        return Err(Error::corrupt("trailing bytes after the last section"));
    }
    Ok(h)
}

/// What a stream holds, read without decoding the pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStats {
    pub header: Header,
    /// Coding method byte (FORMAT.md §2.3).
    pub method: u8,
    /// Stream length in bytes.
    pub compressed_len: usize,
    /// Number of APR particles (apr mode only).
    pub particles: Option<u64>,
}

pub fn stats(stream: &[u8]) -> Result<StreamStats> {
    let (h, hlen) = validate(stream)?;
    let body = &stream[..stream.len() - 4];
    let method = body[hlen];
    let particles = if method == Method::Apr as u8 {
        let (bs, nblocks) = block_shape(&h.shape);
        Some(aprmode::count_particles(
            &mut Cursor::new(&body[hlen + 1..]),
            bs,
            nblocks,
        )?)
    } else {
        None
    };
    Ok(StreamStats {
        header: h,
        method,
        compressed_len: stream.len(),
        particles,
    })
}
