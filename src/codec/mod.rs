//! The APR chunk codec: one N-dimensional chunk of pixels <-> one self-describing byte stream.
//!
//! Safe Rust only, no HDF5 or C types, no I/O. The stream format is specified in `FORMAT.md`.
//!
//! Element bytes passed to [`compress`] and returned by [`decompress`] are **little-endian**,
//! in C order (last axis fastest). Byte-order conversion is the caller's job (the HDF5 layer
//! does it from the dataset's datatype).
#![forbid(unsafe_code)]

//!
//! Layout: [`stream`] (header, method byte, CRC-32, choice of and dispatch on the coding
//! method) over one file per coding method in `method/` (raw, zstd-shuffle, pyramid,
//! palette-pyramid, apr); element conversion in `elements`, residual symbols in `symbols`,
//! the entropy coder in `rans`, bit and section I/O in `bits`; [`apr`] is the APR pipeline
//! (particle cells of an image) that the apr method codes.

pub mod apr;
mod bits;
mod config;
mod container;
mod crc32;
mod dtype;
mod elements;
pub mod error;
mod header;
mod limits;
mod method;
pub mod noise;
mod params;
mod rans;
#[doc(hidden)]
pub mod rans4;
mod scratch;
mod stream;
mod symbols;
pub mod threads;

pub use config::{AprCoding, Config, Mode};
pub use container::{
    choose_tile, local_scale_for, local_scale_with_tile_target, noise_bound_for,
    noise_bound_with_tile_target, tile_target, view3, TILE_MIN, TILE_PAIR_MIN,
};
pub use crc32::crc32;
pub use dtype::{checked_len, DType, MAX_CHUNK_BYTES, MAX_RANK};
pub use error::{Error, ErrorKind, Result};
pub use header::{Header, FORMAT_VERSION, MAGIC};
pub use limits::{check_header_against, DecodeLimits};
/// Cells visited by this thread's apr tree walks (work counter for tests; not a stable API).
#[doc(hidden)]
pub use method::apr::work_units as apr_work_units;
pub use params::AprParams;
pub use stream::{stats, Method, StreamStats};
pub use threads::{set_threads, threads};

/// Method 6 ("pyramid-fast", FORMAT.md §5) bodies directly, without the method byte, for
/// benches, goldens and the reference-decoder tests until the v2 tile container calls them.
/// `encode_m2`/`decode_m2` are the method-2 bodies of the same chunk (bench baseline).
#[doc(hidden)]
pub mod m6 {
    pub use super::method::pyramid_fast::{decode, decode_m2, encode, encode_m2, NCTX};
}

/// Method 1 (zstd-shuffle) bodies and the encoder's sample estimate of their size, for the
/// probe that checks the estimate (`examples/zstd_sample_probe.rs`).
#[doc(hidden)]
pub mod m1 {
    pub use super::method::zstd_shuffle::{encode, estimate};
    pub use super::stream::zstd_sample_parts;
}

/// Method 7 (noise mode, FORMAT.md §6) bodies directly, without the method byte, for goldens
/// and the reference-decoder tests.
#[doc(hidden)]
pub mod m7 {
    pub use super::method::pyramid_fast::{
        block_grid, decode7 as decode, encode7 as encode, model_len, noise_steps, BLOCK,
    };
}

/// Element values of little-endian `data` as f64 (integers exactly; for evaluation and tests).
pub fn values_f64(dtype: DType, data: &[u8]) -> Vec<f64> {
    elements::to_f64s(dtype, data)
}

/// Worst-case stream length for a chunk of this dtype and shape (any mode).
pub fn max_compressed_len(dtype: DType, shape: &[usize]) -> usize {
    let n: usize = shape.iter().product();
    // header + raw fallback section (tag + length) + checksum, with slack.
    16 + 4 * shape.len() + n * dtype.size() + 64
}

/// Reads and validates the header of a stream without decoding it.
pub fn read_header(stream: &[u8]) -> Result<Header> {
    Header::parse(stream).map(|(h, _)| h)
}

/// Compresses one chunk. `data` holds `prod(shape)` little-endian elements of `dtype`, C order.
pub fn compress(data: &[u8], dtype: DType, shape: &[usize], cfg: &Config) -> Result<Vec<u8>> {
    check(data, dtype, shape, cfg)?;
    let nthreads = if cfg.threads > 0 {
        cfg.threads
    } else {
        threads::threads()
    };
    container::encode(data, dtype, shape, cfg, nthreads, None)
}

fn check(data: &[u8], dtype: DType, shape: &[usize], cfg: &Config) -> Result<()> {
    cfg.validate()?;
    if matches!(cfg.mode, Mode::Noise(_)) && dtype.is_float() {
        return Err(stream::noise_float_error(dtype));
    }
    let n = checked_len(dtype, shape)?;
    if data.len() != n * dtype.size() {
        return Err(Error::invalid(format!(
            "data has {} bytes, shape {:?} of {} needs {}",
            data.len(),
            shape,
            dtype.name(),
            n * dtype.size()
        )));
    }
    Ok(())
}

/// Like [`compress`] with the encoder's tile size target in raw bytes (measurements only;
/// the default is [`tile_target`]).
#[doc(hidden)]
pub fn compress_with_tile_target(
    data: &[u8],
    dtype: DType,
    shape: &[usize],
    cfg: &Config,
    target: usize,
) -> Result<Vec<u8>> {
    check(data, dtype, shape, cfg)?;
    let nthreads = cfg.threads.max(1);
    container::encode(data, dtype, shape, cfg, nthreads, Some(target.max(1)))
}

/// Encodes a format version 1 stream (FORMAT.md §2), as h5z-apr 0.1 wrote them. For tests and
/// the benchmark's blocking-cost column; the encoder writes version 2.
#[doc(hidden)]
pub fn compress_v1(data: &[u8], dtype: DType, shape: &[usize], cfg: &Config) -> Result<Vec<u8>> {
    check(data, dtype, shape, cfg)?;
    stream::compress_v1(data, dtype, shape, cfg)
}

/// Like [`compress`], into a caller buffer; returns the stream length.
pub fn compress_into(
    data: &[u8],
    dtype: DType,
    shape: &[usize],
    cfg: &Config,
    out: &mut [u8],
) -> Result<usize> {
    let s = compress(data, dtype, shape, cfg)?;
    if s.len() > out.len() {
        return Err(Error::new(
            crate::codec::error::ErrorKind::BufferTooSmall,
            format!("stream needs {} bytes, buffer has {}", s.len(), out.len()),
        ));
    }
    out[..s.len()].copy_from_slice(&s);
    Ok(s.len())
}

/// Decodes a stream into its header and little-endian element bytes.
pub fn decompress(stream: &[u8]) -> Result<(Header, Vec<u8>)> {
    let (h, _) = stream::validate(stream)?;
    let mut out = scratch::zeroed::<u8>(h.nbytes())?;
    decompress_into(stream, &mut out)?;
    Ok((h, out))
}

/// Checks everything that can be checked before the output is allocated: the header, the
/// stream length, the CRC-32, that the body can back the size the header claims (FORMAT.md's
/// expansion limit), and `limits` (caller's decoded-size limit, expected dtype and shape).
/// Returns the header; allocating `header.nbytes()` after this is what the caller agreed to.
pub fn validate_stream(stream: &[u8], limits: &DecodeLimits) -> Result<Header> {
    // The header alone first: a limit or mismatch is reported as such even when the rest of
    // the stream is also bad.
    let h = read_header(stream)?;
    check_header_against(&h, limits)?;
    let (h, _) = stream::validate(stream)?;
    Ok(h)
}

/// Like [`decompress`], but refuses (before allocating anything) a stream that decodes to
/// more than `max_output` bytes, with [`ErrorKind::LimitExceeded`].
pub fn decompress_with_limit(stream: &[u8], max_output: usize) -> Result<(Header, Vec<u8>)> {
    decompress_with_limits(stream, &DecodeLimits::max_output(max_output))
}

/// Like [`decompress`], with every check of [`validate_stream`] made before allocating.
pub fn decompress_with_limits(stream: &[u8], limits: &DecodeLimits) -> Result<(Header, Vec<u8>)> {
    let h = validate_stream(stream, limits)?;
    let mut out = scratch::zeroed::<u8>(h.nbytes())?;
    decompress_into(stream, &mut out)?;
    Ok((h, out))
}

/// Decodes a stream into `out`, which must be exactly `header.nbytes()` long.
/// Never panics on hostile input; checks the CRC-32 before decoding.
/// Decodes on [`threads()`] threads (the bytes never depend on the count).
pub fn decompress_into(stream: &[u8], out: &mut [u8]) -> Result<Header> {
    stream::decompress_into(stream, out, threads::threads())
}

/// Like [`decompress_into`] on exactly `nthreads` threads (at most one per tile).
pub fn decompress_into_threads(stream: &[u8], out: &mut [u8], nthreads: usize) -> Result<Header> {
    stream::decompress_into(stream, out, nthreads.max(1))
}

/// Measurement hook (benches/memory.rs attributes the encoder's peak memory with it): when a
/// function is set, the encoder calls it with a stage name at a few points per tile (never in
/// a hot loop). Unset (the default) it costs one atomic load per stage. Not a stable API.
#[doc(hidden)]
pub static PROBE: std::sync::OnceLock<fn(&'static str)> = std::sync::OnceLock::new();

#[inline]
pub(crate) fn probe(stage: &'static str) {
    if let Some(f) = PROBE.get() {
        f(stage)
    }
}
