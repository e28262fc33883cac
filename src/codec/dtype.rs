//! Element types of a chunk and the hard limits on its shape (FORMAT.md §2.1).

use crate::codec::error::{Error, ErrorKind, Result};

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
            ErrorKind::LimitExceeded,
            format!("chunk of {n} elements exceeds {MAX_CHUNK_BYTES} bytes"),
        ));
    }
    Ok(n as usize)
}
