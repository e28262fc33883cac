//! The HDF5 plugin: filter 47815 for any HDF5 >= 1.10 host, with no link-time dependency on
//! libhdf5 (symbols are resolved at run time from the library the host already loaded).
//!
//! - `sys` (private): hand-declared HDF5 ABI subset.
//! - `loader` (private): run-time symbol resolution.
//! - [`cd_values`]: the layout `set_local` stores (FORMAT.md §3.3); user values are
//!   [`crate::settings`]'s.
//! - [`error`]: the plugin's error (HDF5 minor class + message).
//! - [`filter`]: `can_apply`, `set_local`, the filter callback.
//! - [`plugin`]: `H5PLget_plugin_type` / `H5PLget_plugin_info` and the static class.
//! - [`dataset`]: a small reading API for the `h5z-apr` tool.
//! - `slab` (hidden, for `h5z-apr compress`): hyperslab reads and pre-compressed chunk writes.

pub mod cd_values;
pub mod dataset;
mod datatype;
pub mod error;
pub mod filter;
mod loader;
pub mod plugin;
#[doc(hidden)]
pub mod slab;
mod sys;

pub use dataset::{list_datasets, read_dataset, H5Dataset};
pub use error::{Error, Minor};

/// The libhdf5 copies found in this process, for the loader's own tests (`tests/h5_abi.rs`);
/// not an API.
#[doc(hidden)]
pub use loader::apis as loaded_libraries;
pub use plugin::{FILTER_CLASS, FILTER_NAME};

/// Registers filter 47815 with every libhdf5 copy already loaded in the process (for programs
/// that link HDF5 themselves and do not use `HDF5_PLUGIN_PATH`).
pub fn register_filter() -> Result<(), Error> {
    let all = loader::apis();
    if all.is_empty() {
        return Err(Error::new(
            Minor::CantFilter,
            "h5z-apr: no libhdf5 is loaded in this process; \
             link or load HDF5 before registering the filter",
        ));
    }
    for api in all {
        register_with(api)?;
    }
    Ok(())
}

/// Registers the static class with one library copy.
pub(crate) fn register_with(api: &loader::Api) -> Result<(), Error> {
    // SAFETY: resolved H5open/H5Zregister; the class is 'static.
    let r = unsafe {
        (api.open)();
        (api.zregister)(plugin::H5PLget_plugin_info())
    };
    if r < 0 {
        return Err(Error::new(
            Minor::CantFilter,
            format!(
                "h5z-apr: H5Zregister failed in the libhdf5 at {}",
                api.origin
            ),
        ));
    }
    Ok(())
}
