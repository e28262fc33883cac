//! h5z-apr: an HDF5 compression filter (ID 47815) built on the Adaptive Particle Representation.
//!
//! Layers:
//! - [`codec`]: the chunk codec and stream format (safe Rust, no HDF5, no I/O).
//! - `h5`: the HDF5 plugin (hand-declared ABI subset, run-time symbol lookup, filter callbacks).
//! - `capi`: the C API that cbindgen turns into `include/h5z_apr.h`.

pub mod capi;
pub mod codec;
pub mod h5;
pub mod settings;

pub use codec::error::{Error, ErrorKind, Result};
pub use codec::{
    compress, compress_into, decompress, decompress_into, max_compressed_len, read_header, Config,
    DType, Header, Mode,
};

/// HDF5 filter ID of the APR filter (unregistered range 32768-65535).
pub const FILTER_ID: u32 = 47815;
/// Crate version, as shown in the filter name.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
