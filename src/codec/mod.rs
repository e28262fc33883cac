//! The APR chunk codec: one N-dimensional chunk of pixels <-> one self-describing byte stream.
//!
//! Safe Rust only, no HDF5 or C types, no I/O. The stream format is specified in `FORMAT.md`.
//!
//! Element bytes passed to [`compress`] and returned by [`decompress`] are **little-endian**,
//! in C order (last axis fastest). Byte-order conversion is the caller's job (the HDF5 layer
//! does it from the dataset's datatype).
#![forbid(unsafe_code)]

pub mod apr;
mod aprmode;
mod bits;
mod crc32;
mod header;
mod interp;
mod params;
mod rans;
#[doc(hidden)]
pub mod rans4;
mod stream;

pub use crc32::crc32;
pub use header::{Header, FORMAT_VERSION, MAGIC};
pub use params::AprParams;
pub use stream::{stats, StreamStats};

use crate::error::{Error, Result};

/// Largest rank accepted (HDF5's H5S_MAX_RANK).
pub const MAX_RANK: usize = 32;
/// Largest decoded chunk accepted, in bytes (HDF5 chunks are limited to 4 GiB).
pub const MAX_CHUNK_BYTES: u64 = 1 << 32;

/// Element type of a chunk. The discriminant is the code stored in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DType {
    U8 = 1,
    I8 = 2,
    U16 = 3,
    I16 = 4,
    U32 = 5,
    I32 = 6,
    F32 = 7,
    F64 = 8,
}

impl DType {
    pub const ALL: [DType; 8] = [
        DType::U8,
        DType::I8,
        DType::U16,
        DType::I16,
        DType::U32,
        DType::I32,
        DType::F32,
        DType::F64,
    ];
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::F64 => 8,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            DType::I8 | DType::I16 | DType::I32 | DType::F32 | DType::F64
        )
    }
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.code() == code)
    }
    /// Smallest and largest representable value (integers only meaningful).
    pub fn int_range(self) -> (i64, i64) {
        match self {
            DType::U8 => (0, u8::MAX as i64),
            DType::I8 => (i8::MIN as i64, i8::MAX as i64),
            DType::U16 => (0, u16::MAX as i64),
            DType::I16 => (i16::MIN as i64, i16::MAX as i64),
            DType::U32 => (0, u32::MAX as i64),
            DType::I32 => (i32::MIN as i64, i32::MAX as i64),
            DType::F32 => (-(1 << 24), 1 << 24),
            DType::F64 => (-(1 << 53), 1 << 53),
        }
    }
    /// numpy-style name, e.g. `uint16`.
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::U32 => "uint32",
            DType::I32 => "int32",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
}

/// Compression mode. The code stored in the stream is 0, 1, 2 in this order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Bit-exact round trip.
    Lossless,
    /// Pointwise bound: |x - x'| <= bound on every element (integers: floor(bound)).
    Abs(f64),
    /// LibAPR semantics with relative error E (`rel_error`).
    Apr(f64),
}

impl Mode {
    pub fn code(self) -> u8 {
        match self {
            Mode::Lossless => 0,
            Mode::Abs(_) => 1,
            Mode::Apr(_) => 2,
        }
    }
    pub fn param(self) -> f64 {
        match self {
            Mode::Lossless => 0.0,
            Mode::Abs(b) => b,
            Mode::Apr(e) => e,
        }
    }
}

/// Codec settings. Build with [`Config::default`] (apr, E = 0.1) or the constructors,
/// then adjust with the `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    pub mode: Mode,
    /// Entropy-coder effort 1..=22 (zstd level of the byte sections); default 3.
    pub effort: i32,
    /// APR pipeline parameters (used by `Mode::Apr`).
    pub apr: AprParams,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Apr(0.1),
            effort: 3,
            apr: AprParams::default(),
        }
    }
}

impl Config {
    pub fn lossless() -> Self {
        Config {
            mode: Mode::Lossless,
            ..Config::default()
        }
    }
    pub fn abs(bound: f64) -> Self {
        Config {
            mode: Mode::Abs(bound),
            ..Config::default()
        }
    }
    pub fn apr(rel_error: f64) -> Self {
        Config {
            mode: Mode::Apr(rel_error),
            ..Config::default()
        }
    }
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    pub fn with_effort(mut self, effort: i32) -> Self {
        self.effort = effort;
        self
    }
    pub fn with_apr_params(mut self, apr: AprParams) -> Self {
        self.apr = apr;
        self
    }
    /// Checks the settings; every `compress*` call does this first.
    pub fn validate(&self) -> Result<()> {
        match self.mode {
            Mode::Lossless => {}
            Mode::Abs(b) => {
                if !(b.is_finite() && b >= 0.0) {
                    return Err(Error::invalid(format!(
                        "abs bound must be finite and >= 0, got {b}"
                    )));
                }
            }
            Mode::Apr(e) => {
                if !(e.is_finite() && e > 0.0) {
                    return Err(Error::invalid(format!(
                        "apr rel_error must be finite and > 0, got {e}"
                    )));
                }
            }
        }
        if !(1..=22).contains(&self.effort) {
            return Err(Error::invalid(format!(
                "effort must be in 1..=22, got {}",
                self.effort
            )));
        }
        self.apr.validate()
    }
}

/// Number of elements of `shape`, checked against the hard limits.
pub fn checked_len(dtype: DType, shape: &[usize]) -> Result<usize> {
    if shape.is_empty() || shape.len() > MAX_RANK {
        return Err(Error::invalid(format!(
            "rank must be 1..={MAX_RANK}, got {}",
            shape.len()
        )));
    }
    let mut n: u64 = 1;
    for &d in shape {
        if d == 0 {
            return Err(Error::invalid("every dimension must be >= 1"));
        }
        n = n.saturating_mul(d as u64);
    }
    if n.saturating_mul(dtype.size() as u64) > MAX_CHUNK_BYTES {
        return Err(Error::new(
            crate::error::ErrorKind::LimitExceeded,
            format!("chunk of {n} elements exceeds {MAX_CHUNK_BYTES} bytes"),
        ));
    }
    Ok(n as usize)
}

/// Element values of little-endian `data` as f64 (integers exactly; for evaluation and tests).
pub fn values_f64(dtype: DType, data: &[u8]) -> Vec<f64> {
    stream::to_f64s(dtype, data)
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
    cfg.validate()?;
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
    stream::compress(data, dtype, shape, cfg)
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
            crate::error::ErrorKind::BufferTooSmall,
            format!("stream needs {} bytes, buffer has {}", s.len(), out.len()),
        ));
    }
    out[..s.len()].copy_from_slice(&s);
    Ok(s.len())
}

/// Decodes a stream into its header and little-endian element bytes.
pub fn decompress(stream: &[u8]) -> Result<(Header, Vec<u8>)> {
    let (h, _) = stream::validate(stream)?;
    let mut out = vec![0u8; h.nbytes()];
    decompress_into(stream, &mut out)?;
    Ok((h, out))
}

/// Decodes a stream into `out`, which must be exactly `header.nbytes()` long.
/// Never panics on hostile input; checks the CRC-32 before decoding.
pub fn decompress_into(stream: &[u8], out: &mut [u8]) -> Result<Header> {
    stream::decompress_into(stream, out)
}
