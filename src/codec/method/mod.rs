//! The coding methods of a stream body, one file each with its encode/decode pair
//! (FORMAT.md §2.3). [`super::stream`] chooses one and writes its byte.

pub mod apr;
pub mod apr_pointwise;
pub mod float_grid;
pub mod palette;
pub mod pyramid;
pub mod pyramid_fast;
pub mod raw;
pub mod zstd_shuffle;
