//! Working buffers whose size a stream's header decides: a failed allocation is an error for
//! the caller (a host program keeps running), never an abort of the process.

use super::error::{Error, ErrorKind, Result};

/// `n` default values, or `LimitExceeded` when the memory cannot be had.
pub(crate) fn zeroed<T: Clone + Default>(n: usize) -> Result<Vec<T>> {
    let mut v = with_capacity(n)?;
    v.resize(n, T::default());
    Ok(v)
}

/// An empty vector with room for `n` values, or `LimitExceeded`.
pub(crate) fn with_capacity<T>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "cannot allocate {} bytes of decoder working memory",
                n.saturating_mul(std::mem::size_of::<T>())
            ),
        )
    })?;
    Ok(v)
}
