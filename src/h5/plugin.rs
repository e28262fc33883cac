//! The plugin entry points HDF5 looks for (`H5PLget_plugin_type`, `H5PLget_plugin_info`) and
//! the static filter class. Both entry points are trivial: no HDF5 calls, no allocation, so
//! HDF5's scan of the plugin directory stays cheap.

use super::filter;
use super::sys::*;
use std::os::raw::{c_char, c_void};

/// Filter name stored in every file (shown by `h5dump -p` as the COMMENT).
/// `tests::name_matches_format_version` keeps the format number in sync with the codec.
pub const FILTER_NAME: &str = concat!("apr (h5z-apr ", env!("CARGO_PKG_VERSION"), ", format 6)\0");

/// `H5Z_class2_t` holds a raw name pointer; this wrapper lets it live in a `static`.
#[repr(transparent)]
pub struct FilterClass(pub H5Z_class2_t);

// SAFETY: the class is immutable and its name points to a 'static string.
unsafe impl Sync for FilterClass {}

/// The filter class registered with HDF5 (version 1 = `H5Z_class2_t`).
pub static FILTER_CLASS: FilterClass = FilterClass(H5Z_class2_t {
    version: 1,
    id: crate::FILTER_ID as H5Z_filter_t,
    encoder_present: 1,
    decoder_present: 1,
    name: FILTER_NAME.as_ptr() as *const c_char,
    can_apply: Some(filter::can_apply),
    set_local: Some(filter::set_local),
    filter: Some(filter::filter),
});

/// Plugin type: a filter.
#[no_mangle]
pub extern "C" fn H5PLget_plugin_type() -> H5PL_type_t {
    H5PL_TYPE_FILTER
}

/// Plugin info: the static `H5Z_class2_t`.
#[no_mangle]
pub extern "C" fn H5PLget_plugin_info() -> *const c_void {
    &FILTER_CLASS.0 as *const H5Z_class2_t as *const c_void
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_matches_format_version() {
        let expect = format!(
            "apr (h5z-apr {}, format {})\0",
            crate::VERSION,
            crate::codec::FORMAT_VERSION
        );
        assert_eq!(FILTER_NAME, expect);
    }

    #[test]
    fn class_fields() {
        let c = &FILTER_CLASS.0;
        assert_eq!(c.version, 1);
        assert_eq!(c.id, 47815);
        assert_eq!((c.encoder_present, c.decoder_present), (1, 1));
        assert!(c.can_apply.is_some() && c.set_local.is_some() && c.filter.is_some());
        assert_eq!(H5PLget_plugin_type(), 0);
        assert_eq!(H5PLget_plugin_info(), c as *const _ as *const c_void);
    }
}
