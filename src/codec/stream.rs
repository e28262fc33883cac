//! Stream assembly: header, method byte, method body, CRC-32 (FORMAT.md §2). Chooses the
//! coding method on encode and dispatches on [`Method`] on decode; the bodies are coded in
//! [`super::method`].

use super::bits::Cursor;
use super::crc32::crc32;
use super::dtype::{checked_len, DType};
use super::elements::to_ints;
use super::header::Header;
use super::method::{
    apr, apr_pointwise, float_grid, palette, pyramid, pyramid_fast, raw, zstd_shuffle,
};
use super::{Config, Mode};
use crate::codec::error::{Error, ErrorKind, Result};

/// Largest possible expansion of a method 1, 2 or 4 body (see `decompress_into`).
pub(crate) const MAX_EXPANSION: u64 = 1 << 15;

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
    /// Format version 2 tiles only: the tile is one value (body = that element).
    Constant = 5,
    /// Format version 2 tiles only: the pyramid of method 2 with the interleaved rANS coder
    /// (FORMAT.md §5), lossless and abs, integer quantiser.
    PyramidFast = 6,
    /// Tiles only: method 6 with a half-width per 4x16x16 block, in noise mode (format
    /// version 3 on, FORMAT.md §6; the floor c from version 5, §8) and apr mode (version 4 on,
    /// §7).
    PyramidNoise = 7,
    /// Format version 4 apr-mode tiles of float dtypes only: a bound b, then method 2 with the
    /// float quantiser of bound b (FORMAT.md §7).
    PyramidBounded = 8,
    /// Format version 5 tiles only: the palette table of method 4, then the exact indices
    /// coded by method 6 as a u8 or u16 tile (FORMAT.md §9).
    PaletteFast = 9,
    /// Format version 6 tiles only: a float tile with a bound b as indices on a grid of step
    /// <= 2b, coded exactly by method 6 (FORMAT.md §10), in abs and apr tiles.
    FloatGrid = 10,
}

impl Method {
    /// The method a stored method byte names, if any.
    pub fn from_byte(b: u8) -> Option<Method> {
        [
            Method::Raw,
            Method::ZstdShuffle,
            Method::Pyramid,
            Method::Apr,
            Method::PalettePyramid,
            Method::Constant,
            Method::PyramidFast,
            Method::PyramidNoise,
            Method::PyramidBounded,
            Method::PaletteFast,
            Method::FloatGrid,
        ]
        .into_iter()
        .find(|m| *m as u8 == b)
    }

    /// What a body of this method must back with real bytes: decoded bytes for zstd, elements
    /// for the entropy-coded methods, nothing for raw (its length is checked exactly).
    fn claimed_size(self, nbytes: usize, dtype: DType) -> u64 {
        match self {
            Method::Raw | Method::Constant => 0,
            Method::ZstdShuffle => nbytes as u64,
            Method::Pyramid
            | Method::Apr
            | Method::PalettePyramid
            | Method::PyramidFast
            | Method::PyramidNoise
            | Method::PyramidBounded
            | Method::PaletteFast
            | Method::FloatGrid => (nbytes / dtype.size()) as u64,
        }
    }
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

// ---- compress / decompress ----------------------------------------------------------

/// Encodes a version 1 stream (FORMAT.md §2). The encoder writes version 2 (see
/// [`super::container`]); this stays for tests and for the benchmark's blocking-cost column.
pub fn compress_v1(data: &[u8], dtype: DType, shape: &[usize], cfg: &Config) -> Result<Vec<u8>> {
    let header = Header {
        version: 1,
        dtype,
        mode: cfg.mode,
        shape: shape.to_vec(),
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    header.write(&mut out);
    let (bs, nblocks) = block_shape(shape);
    encode_body(data, dtype, bs, nblocks, cfg, false, &mut out)?;
    let c = crc32(&out);
    out.extend_from_slice(&c.to_le_bytes());
    Ok(out)
}

/// Tiles below this size always try the full zstd candidate (the sample would be tiny).
const ZSTD_SKIP_MIN_BYTES: usize = 64 << 10;

/// The zstd sample is 1/8 of the tile in 2 to 8 evenly spread pieces of at least this size
/// where the tile allows (8 pieces from 1 MiB up): each zstd frame has a fixed cost (context
/// reset, Huffman and FSE tables) that 8 pieces of a small tile's 1/64 would pay 8 times.
const ZSTD_SAMPLE_PIECE_BYTES: usize = 16 << 10;

/// Number of sample pieces for a tile of `bytes` bytes (see [`ZSTD_SAMPLE_PIECE_BYTES`]).
pub fn zstd_sample_parts(bytes: usize) -> usize {
    (bytes / 8 / ZSTD_SAMPLE_PIECE_BYTES).clamp(2, 8)
}

/// Appends method byte + body (FORMAT.md §2.3-2.7) of `nblocks` blocks of shape `bs` to `out`.
/// Used for a whole v1 chunk and for each v2 tile (nblocks = 1).
/// `v2`: the body is a format-version-2 tile (nblocks = 1), where method 6 replaces method 2
/// for the integer quantiser.
pub(crate) fn encode_body(
    data: &[u8],
    dtype: DType,
    bs: [usize; 3],
    nblocks: usize,
    cfg: &Config,
    v2: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    let body_start = out.len();
    // Integer domain (integers, or floats as ordered integers when lossless).
    let int_pyramid = |out: &mut Vec<u8>, b: i64| {
        // With a bound, the palette only pays when quantisation bins of the value domain
        // could not merge distinct values anyway (every gap wider than the bin).
        let pal = palette::sparse_palette(dtype, data)
            .filter(|p| p.windows(2).all(|w| w[1] - w[0] > 2 * b));
        if let Some(pal) = pal {
            // Tiles (format version 5): the indices by method 6, exact (every gap of the
            // palette is wider than 2b, so a quantised index could only ever be exact).
            if v2 && nblocks == 1 {
                out.push(Method::PaletteFast as u8);
                if palette::encode_fast(&pal, data, dtype, bs, out) {
                    return;
                }
                out.pop();
            }
            out.push(Method::PalettePyramid as u8);
            palette::encode(&pal, data, dtype, b, bs, nblocks, out);
            return;
        }
        // Method 6 builds its own (narrower) working copy; the i64 values only for method 2.
        if v2 && nblocks == 1 {
            out.push(Method::PyramidFast as u8);
            if pyramid_fast::encode_into(data, dtype, bs, cfg, out) {
                return;
            }
            out.pop();
        }
        let v = to_ints(dtype, data);
        out.push(Method::Pyramid as u8);
        pyramid::encode_ints(dtype, &v, b, bs, nblocks, out);
    };
    let lossless_pyramid = |out: &mut Vec<u8>| int_pyramid(out, 0);
    // Exact coding: the pyramid, unless the generic byte coder wins (repeated patterns,
    // few distinct values, noise with a comb-shaped histogram).
    let lossless_best = |out: &mut Vec<u8>| -> Result<()> {
        lossless_pyramid(out);
        crate::codec::probe("pyramid body done");
        // The zstd candidate costs about one zstd-3 pass over the tile. A 1/8 sample (2-8
        // spread pieces, `zstd_sample_parts`) predicts its size within -8..+18 % on every
        // bench tile (`examples/zstd_sample_probe`, benches/results/fixed-costs-2026-12-04.md;
        // 8 pieces of 1/64 were -25..+28 %); the full candidate is coded
        // only when the prediction is within 25 % of the pyramid body, so it is skipped
        // where it cannot win and the output is what the full trial gives.
        let pyr_len = out.len() - body_start;
        if data.len() >= ZSTD_SKIP_MIN_BYTES && {
            let parts = zstd_sample_parts(data.len());
            zstd_shuffle::estimate(data, dtype, cfg.effort, parts, 8 * parts)? * 4 > pyr_len * 5
        } {
            crate::codec::probe("zstd candidate skipped");
            return Ok(());
        }
        let z = zstd_shuffle::encode(data, dtype, cfg.effort)?;
        crate::codec::probe("zstd candidate done");
        if 1 + z.len() < out.len() - body_start {
            out.truncate(body_start);
            out.push(Method::ZstdShuffle as u8);
            out.extend_from_slice(&z);
        }
        Ok(())
    };
    match cfg.mode {
        // An abs bound that allows no error (floats: 0; integers: < 1) is lossless coding.
        Mode::Abs(bound)
            if bound == 0.0 || (!dtype.is_float() && pyramid::int_bound(dtype, bound) == 0) =>
        {
            lossless_best(out)?;
        }
        Mode::Lossless => lossless_best(out)?,
        Mode::Abs(bound) => {
            if dtype.is_float() {
                // Tiles (format version 6): the grid of method 10 where it holds the bound.
                let grid = v2 && nblocks == 1 && {
                    out.push(Method::FloatGrid as u8);
                    float_grid::encode_into(data, dtype, bs, bound, out) || {
                        out.pop();
                        false
                    }
                };
                if !grid {
                    out.push(Method::Pyramid as u8);
                    pyramid::encode_floats(data, dtype, bound, bs, nblocks, out);
                }
            } else {
                int_pyramid(out, pyramid::int_bound(dtype, bound));
            }
        }
        // Format version 4 tiles (FORMAT.md §7): the condition at every pixel.
        Mode::Apr(rel_error)
            if v2 && nblocks == 1 && cfg.apr_coding != super::AprCoding::Particles =>
        {
            apr_pointwise::encode(data, dtype, bs, rel_error, cfg, out)?;
        }
        Mode::Apr(rel_error) => {
            out.push(Method::Apr as u8);
            apr::encode(data, dtype, bs, nblocks, rel_error, cfg, out)?;
        }
        Mode::Noise(k) => {
            if !v2 || nblocks != 1 {
                return Err(Error::invalid(
                    "noise mode exists in format versions 3 and 5 only (no v1 streams)",
                ));
            }
            if dtype.is_float() {
                return Err(noise_float_error(dtype));
            }
            match pyramid_fast::encode7(data, dtype, bs, k, cfg.effort)? {
                Some(body) => {
                    out.push(Method::PyramidNoise as u8);
                    out.extend_from_slice(&body);
                }
                // Below the expansion limit: stored exactly (zstd-shuffle, valid in every mode).
                None => {
                    out.push(Method::ZstdShuffle as u8);
                    out.extend_from_slice(&zstd_shuffle::encode(data, dtype, cfg.effort)?);
                }
            }
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
        let z = zstd_shuffle::encode(data, dtype, cfg.effort)?;
        out.push(Method::ZstdShuffle as u8);
        out.extend_from_slice(&z);
    }
    if out.len() - body_start > 1 + data.len() {
        out.truncate(body_start);
        out.push(Method::Raw as u8);
        raw::encode(data, out);
    }
    Ok(())
}

/// Noise mode refuses float data (the noise model is fitted to integer counts).
pub(crate) fn noise_float_error(dtype: DType) -> Error {
    Error::invalid(format!(
        "noise mode needs an integer dtype, got {} (for float data use abs mode)",
        dtype.name()
    ))
}

/// [`Method::claimed_size`] of a method byte; an unknown byte counts like an entropy-coded
/// body (its elements), and is then refused by the decoder's dispatch.
pub(crate) fn claimed_size(method: u8, nbytes: usize, dtype: DType) -> u64 {
    match Method::from_byte(method) {
        Some(m) => m.claimed_size(nbytes, dtype),
        None => (nbytes / dtype.size()) as u64,
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
    if h.version >= 2 {
        super::container::Layout::parse(&h, &body[hlen..])?;
        return Ok((h, hlen));
    }
    let n = checked_len(h.dtype, &h.shape)?;
    let method = body[hlen];
    // A claimed size must be backed by real bytes: rANS spends at least log2(4096/4095) bits
    // per symbol and a zstd block at least 4 bytes per 128 KiB, so no valid body of methods
    // 1, 2, 4 is more than 2^15 times smaller than the elements (or bytes) it decodes to. The
    // encoder keeps apr bodies (method 3) within the same limit (falling back to method 1,
    // zstd-shuffle, see `compress`).
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

pub fn decompress_into(stream: &[u8], out: &mut [u8], threads: usize) -> Result<Header> {
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
    let body = &stream[hlen..stream.len() - 4];
    if h.version >= 2 {
        super::container::decode(&h, body, out, threads)?;
        return Ok(h);
    }
    let (bs, nblocks) = block_shape(&h.shape);
    decode_body(body, 1, h.dtype, h.mode, bs, nblocks, out)?;
    Ok(h)
}

/// Decodes method byte + body (`mb`, consumed exactly) of `nblocks` blocks of shape `bs`
/// into `out`: a whole format version 1 chunk, or one tile (nblocks = 1) of a stream of format
/// `version` 2.. (FORMAT.md §4.3). Each method's arm holds every rule for it: the modes and
/// format versions it is valid in and the layout that depends on the version.
pub(crate) fn decode_body(
    mb: &[u8],
    version: u8,
    dtype: DType,
    mode: Mode,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut [u8],
) -> Result<()> {
    // Version 2 on: tiles, where methods 5.. exist (FORMAT.md §4.3).
    let v2 = version >= 2;
    let method = mb[0];
    let mut cur = Cursor::new(&mb[1..]);
    match (Method::from_byte(method), mode) {
        (Some(Method::Raw), _) => raw::decode(&mut cur, out)?,
        (Some(Method::ZstdShuffle), _) => zstd_shuffle::decode(&mut cur, dtype, out)?,
        (Some(Method::Pyramid), m) if !matches!(m, Mode::Noise(_)) => {
            pyramid::decode_chunk(&mut cur, dtype, mode, bs, nblocks, out)?
        }
        (Some(Method::PalettePyramid), Mode::Lossless | Mode::Abs(_)) if !dtype.is_float() => {
            let b = pyramid::int_bound(dtype, mode.param());
            palette::decode(&mut cur, dtype, b, bs, nblocks, out)?;
        }
        (Some(Method::Apr), Mode::Apr(_)) => apr::decode(&mut cur, dtype, bs, nblocks, out)?,
        (Some(Method::PyramidFast), Mode::Lossless | Mode::Abs(_)) if v2 && nblocks == 1 => {
            // The tile's half-width must be the stream's: the bound the header promises.
            let (lo, hi) = dtype.int_range();
            let want = match mode {
                Mode::Abs(p) if dtype.is_float() && p > 0.0 => {
                    return Err(Error::corrupt(
                        "method 6 is not valid for the float quantiser (abs with a bound > 0)",
                    ))
                }
                Mode::Abs(p) if !dtype.is_float() => pyramid::int_bound(dtype, p),
                _ => 0,
            };
            let k = cur.varint()?;
            if k != want as u64 || (!dtype.is_float() && k > (hi - lo) as u64) {
                return Err(Error::corrupt(format!(
                    "method 6 tile has half-width {k}, the stream's is {want}"
                )));
            }
            pyramid_fast::decode(&mb[1..], dtype, bs, out)?;
            cur.pos = cur.data.len();
        }
        // Methods 7 and 8 in apr tiles: format version 4 on (FORMAT.md §7).
        (Some(Method::PyramidNoise | Method::PyramidBounded), Mode::Apr(_)) if v2 && version < 4 => {
            return Err(Error::corrupt(format!(
                "coding method {method} in an apr tile of a format version {version} stream (needs 4)"
            )))
        }
        // Method 7: noise tiles (noise mode exists from version 3 on, FORMAT.md §6) and apr
        // tiles (version 4 on, above). Noise bodies of version 5 on carry the floor c after
        // a, b (§8): `model_len`.
        (Some(Method::PyramidNoise), Mode::Noise(_) | Mode::Apr(_)) if v2 && nblocks == 1 => {
            let mlen = pyramid_fast::model_len(version, matches!(mode, Mode::Noise(_)));
            pyramid_fast::decode7(&mb[1..], mlen, dtype, bs, out)?;
            cur.pos = cur.data.len();
        }
        (Some(Method::PyramidBounded), Mode::Apr(_)) if v2 && nblocks == 1 => {
            apr_pointwise::decode8(&mut cur, dtype, bs, out)?
        }
        // Method 9: format version 5 on (FORMAT.md §9), in any mode's tiles; then lossless and
        // abs tiles only.
        (Some(Method::PaletteFast), _) if v2 && version < 5 => {
            return Err(Error::corrupt(format!(
                "coding method 9 in a format version {version} stream (needs 5)"
            )))
        }
        (Some(Method::PaletteFast), Mode::Lossless | Mode::Abs(_)) if v2 && nblocks == 1 => {
            palette::decode_fast(&mb[1..], dtype, bs, out)?;
            cur.pos = cur.data.len();
        }
        // Method 10: format version 6 on (FORMAT.md §10), float abs tiles with a bound > 0
        // (a grid step of at most twice the bound) and float apr tiles.
        (Some(Method::FloatGrid), _) if v2 && version < 6 => {
            return Err(Error::corrupt(format!(
                "coding method 10 in a format version {version} stream (needs 6)"
            )))
        }
        (Some(Method::FloatGrid), Mode::Abs(_) | Mode::Apr(_))
            if nblocks == 1 && dtype.is_float() && (matches!(mode, Mode::Apr(_)) || mode.param() > 0.0) =>
        {
            if let Mode::Abs(p) = mode {
                let s = float_grid::step(&mb[1..])?;
                if s.is_nan() || s > 2.0 * p {
                    return Err(Error::corrupt(format!(
                        "method 10 grid step {s} exceeds twice the stream's bound {p}"
                    )));
                }
            }
            float_grid::decode(&mb[1..], dtype, bs, out)?;
            cur.pos = cur.data.len();
        }
        (Some(Method::Constant), _) if v2 => {
            let v = cur.bytes(dtype.size())?;
            for e in out.chunks_exact_mut(v.len()) {
                e.copy_from_slice(v);
            }
        }
        (_, mode) => {
            return Err(Error::corrupt(format!(
                "coding method {method} is not valid for mode {}{}",
                mode.code(),
                if v2 { "" } else { " in format version 1" }
            )))
        }
    }
    if cur.pos != cur.data.len() {
        return Err(Error::corrupt("trailing bytes after the last section"));
    }
    Ok(())
}

/// What a stream holds, read without decoding the pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStats {
    pub header: Header,
    /// Coding method byte (FORMAT.md §2.3); v2: the method of the first tile (5 when the
    /// chunk has no tiles), or 255 when the tiles use different methods.
    pub method: u8,
    /// Stream length in bytes.
    pub compressed_len: usize,
    /// Number of APR particles (apr mode only; v2: summed over the apr-coded tiles).
    pub particles: Option<u64>,
    /// Number of independently coded tiles (v1: 1; v2: the tile table's length).
    pub tiles: usize,
}

pub fn stats(stream: &[u8]) -> Result<StreamStats> {
    let (h, hlen) = validate(stream)?;
    let body = &stream[hlen..stream.len() - 4];
    if h.version >= 2 {
        let (method, particles, tiles) = super::container::stats(&h, body)?;
        return Ok(StreamStats {
            header: h,
            method,
            compressed_len: stream.len(),
            particles,
            tiles,
        });
    }
    let method = body[0];
    let particles = if method == Method::Apr as u8 {
        let (bs, nblocks) = block_shape(&h.shape);
        Some(apr::count_particles(
            &mut Cursor::new(&body[1..]),
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
        tiles: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_sample_parts_by_tile_size() {
        assert_eq!(zstd_sample_parts(64 << 10), 2);
        assert_eq!(zstd_sample_parts(256 << 10), 2);
        assert_eq!(zstd_sample_parts(512 << 10), 4);
        assert_eq!(zstd_sample_parts(1 << 20), 8);
        assert_eq!(zstd_sample_parts(16 << 20), 8);
    }

    /// Lossless keeps trying the zstd candidate where it wins (a repeated pseudo-random
    /// pattern, which no predictor sees), even with the sampled skip rule.
    #[test]
    fn lossless_still_picks_zstd_where_it_wins() {
        let shape = [8, 128, 128];
        let mut s = 7u32;
        let period: Vec<u16> = (0..1000)
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (s >> 16) as u16
            })
            .collect();
        let data: Vec<u8> = (0..8 * 128 * 128)
            .flat_map(|i| period[i % 1000].to_le_bytes())
            .collect();
        let mut out = Vec::new();
        encode_body(
            &data,
            DType::U16,
            shape,
            1,
            &Config::lossless(),
            true,
            &mut out,
        )
        .unwrap();
        assert_eq!(out[0], Method::ZstdShuffle as u8);
        assert!(out.len() < data.len() / 10);
    }

    /// A method-6 tile decodes only where FORMAT.md §4.3/§5.4 allow it: a v2 tile of a lossless
    /// or abs stream whose half-width equals the tile's k.
    #[test]
    fn method6_tiles_must_match_the_stream() {
        let shape = [3, 20, 30];
        let n = 3 * 20 * 30;
        let data: Vec<u8> = (0..n)
            .flat_map(|i| ((i as i16 % 97) * 11 - 400 + (i as i16 * 7919 % 5)).to_le_bytes())
            .collect();
        let body = pyramid_fast::encode(&data, DType::I16, shape, &Config::abs(4.0)).unwrap();
        let mut mb = vec![Method::PyramidFast as u8];
        mb.extend_from_slice(&body);
        let mut out = vec![0u8; data.len()];
        decode_body(&mb, 2, DType::I16, Mode::Abs(4.0), shape, 1, &mut out).unwrap();
        for (a, b) in data.chunks_exact(2).zip(out.chunks_exact(2)) {
            let (a, b) = (
                i16::from_le_bytes([a[0], a[1]]),
                i16::from_le_bytes([b[0], b[1]]),
            );
            assert!((a - b).abs() <= 4);
        }
        // Bound 4.9 floors to the same half-width 4: valid.
        decode_body(&mb, 2, DType::I16, Mode::Abs(4.9), shape, 1, &mut out).unwrap();
        for (mode, version, why) in [
            (Mode::Abs(2.0), 2, "half-width"),
            (Mode::Lossless, 2, "half-width"),
            (Mode::Apr(0.1), 2, "not valid"),
            (Mode::Abs(4.0), 1, "not valid"),
        ] {
            let e = decode_body(&mb, version, DType::I16, mode, shape, 1, &mut out).unwrap_err();
            assert!(e.message().contains(why), "{mode:?} version {version}: {e}");
        }
        let e = decode_body(&mb, 2, DType::F32, Mode::Abs(0.5), [3, 20, 15], 1, &mut out);
        assert!(e.unwrap_err().message().contains("float quantiser"));
    }
}
