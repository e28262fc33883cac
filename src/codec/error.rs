//! The codec's error type, classified by kind (the C API maps kinds to status codes, the
//! plugin reports them on HDF5's error stack).

use std::fmt;

/// What went wrong, coarse enough to map onto C status codes and HDF5 error classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A caller-supplied argument (shape, dtype, bound, buffer length...) is invalid.
    InvalidArgument,
    /// The input ends before the stream says it should.
    Truncated,
    /// The stream is malformed, fails its checksum, or contradicts itself.
    Corrupt,
    /// The stream is valid but uses a format version or feature this build cannot decode.
    Unsupported,
    /// The caller's output buffer is too small.
    BufferTooSmall,
    /// A size in the stream or the request exceeds a hard limit of this implementation.
    LimitExceeded,
}

/// Error returned by every fallible function of the codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }
    pub(crate) fn truncated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Truncated, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Truncated => "truncated stream",
            ErrorKind::Corrupt => "corrupt stream",
            ErrorKind::Unsupported => "unsupported stream",
            ErrorKind::BufferTooSmall => "buffer too small",
            ErrorKind::LimitExceeded => "limit exceeded",
        };
        write!(f, "{k}: {}", self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
