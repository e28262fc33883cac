//! Checks a caller can make before it allocates the output of a stream: what the header
//! claims against a caller-given decoded-size limit and against the chunk the caller expects
//! (the HDF5 plugin knows the dataset's dtype and chunk shape from `set_local`).
//!
//! Kept apart from `stream` so that any stream version's header can be checked the same way.

use super::dtype::DType;
use super::error::{Error, ErrorKind, Result};
use super::header::Header;

/// What a caller is prepared to decode. `Default` = no limit beyond the header's own
/// validated size (what [`super::decompress`] uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest decoded size in bytes the caller accepts.
    pub max_output: Option<usize>,
    /// The dtype the stream must hold.
    pub dtype: Option<DType>,
    /// The chunk shape the stream must hold (exactly, rank included).
    pub shape: Option<Vec<usize>>,
}

impl DecodeLimits {
    /// Only a limit on the decoded size in bytes.
    pub fn max_output(max_output: usize) -> Self {
        DecodeLimits {
            max_output: Some(max_output),
            ..Self::default()
        }
    }

    /// Exactly this chunk: dtype, shape, and a decoded size of `prod(shape) * dtype.size()`.
    pub fn chunk(dtype: DType, shape: &[usize]) -> Self {
        let n = shape
            .iter()
            .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        DecodeLimits {
            max_output: Some(n),
            dtype: Some(dtype),
            shape: Some(shape.to_vec()),
        }
    }
}

/// Refuses a header that does not fit `limits`: a decoded size above `max_output` is
/// [`ErrorKind::LimitExceeded`], another dtype or shape than expected is
/// [`ErrorKind::Corrupt`] (the stream is not the chunk it is stored as). Reads only the header.
pub fn check_header_against(h: &Header, limits: &DecodeLimits) -> Result<()> {
    if let Some(d) = limits.dtype {
        if h.dtype != d {
            return Err(Error::corrupt(format!(
                "stream holds {} {:?} but {} {:?} is expected",
                h.dtype.name(),
                h.shape,
                d.name(),
                limits.shape.as_deref().unwrap_or(&h.shape)
            )));
        }
    }
    if let Some(s) = &limits.shape {
        if h.shape != *s {
            return Err(Error::corrupt(format!(
                "stream holds {} {:?} but {} {:?} is expected",
                h.dtype.name(),
                h.shape,
                limits.dtype.unwrap_or(h.dtype).name(),
                s
            )));
        }
    }
    if let Some(m) = limits.max_output {
        // The header parser has already refused shapes whose size overflows.
        let n = h.nbytes();
        if n > m {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "stream decodes to {n} bytes ({} {:?}), above the caller's limit of {m}",
                    h.dtype.name(),
                    h.shape
                ),
            ));
        }
    }
    Ok(())
}
