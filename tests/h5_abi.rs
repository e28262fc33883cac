//! The hand-declared HDF5 ABI (`src/h5/sys.rs`) checked against `hdf5-sys` (which links the
//! system libhdf5 into this test binary only), and the plugin `.so` checked for having no
//! libhdf5 dependency.

mod h5_support;

#[path = "../src/h5/sys.rs"]
mod my;
use hdf5_sys as hs;
use std::mem::{align_of, size_of, MaybeUninit};
use std::os::raw::c_int;
use std::process::Command;

macro_rules! offset {
    ($t:ty, $f:ident) => {{
        let u = MaybeUninit::<$t>::uninit();
        let base = u.as_ptr();
        // SAFETY: only the field address is computed, nothing is read.
        let field = unsafe { std::ptr::addr_of!((*base).$f) };
        field as usize - base as usize
    }};
}

#[test]
fn h5z_class2_t_layout_matches_hdf5_sys() {
    assert_eq!(size_of::<my::H5Z_class2_t>(), 48);
    assert_eq!(align_of::<my::H5Z_class2_t>(), 8);
    assert_eq!(
        size_of::<my::H5Z_class2_t>(),
        size_of::<hs::h5z::H5Z_class2_t>()
    );
    assert_eq!(
        align_of::<my::H5Z_class2_t>(),
        align_of::<hs::h5z::H5Z_class2_t>()
    );
    macro_rules! same_offset {
        ($($f:ident),+) => {$(
            assert_eq!(
                offset!(my::H5Z_class2_t, $f),
                offset!(hs::h5z::H5Z_class2_t, $f),
                stringify!($f)
            );
        )+};
    }
    same_offset!(
        version,
        id,
        encoder_present,
        decoder_present,
        name,
        can_apply,
        set_local,
        filter
    );
    assert_eq!(
        size_of::<my::H5Z_can_apply_func_t>(),
        size_of::<hs::h5z::H5Z_can_apply_func_t>()
    );
    assert_eq!(
        size_of::<my::H5Z_func_t>(),
        size_of::<hs::h5z::H5Z_func_t>()
    );
}

#[test]
fn scalar_types_and_constants_match_hdf5_sys() {
    assert_eq!(size_of::<my::hid_t>(), size_of::<hs::h5i::hid_t>());
    assert_eq!(size_of::<my::hsize_t>(), size_of::<hs::h5::hsize_t>());
    assert_eq!(size_of::<my::herr_t>(), size_of::<hs::h5::herr_t>());
    assert_eq!(size_of::<my::htri_t>(), size_of::<hs::h5::htri_t>());
    assert_eq!(size_of::<my::hbool_t>(), size_of::<hs::h5::hbool_t>());
    assert_eq!(
        size_of::<my::H5Z_filter_t>(),
        size_of::<hs::h5z::H5Z_filter_t>()
    );
    for s in [
        size_of::<hs::h5t::H5T_class_t>(),
        size_of::<hs::h5t::H5T_order_t>(),
        size_of::<hs::h5t::H5T_sign_t>(),
        size_of::<hs::h5d::H5D_layout_t>(),
        size_of::<hs::h5i::H5I_type_t>(),
        size_of::<hs::h5pl::H5PL_type_t>(),
    ] {
        assert_eq!(s, size_of::<c_int>(), "C enums are int-sized");
    }
    use hs::h5t::H5T_class_t as C;
    for (mine, theirs) in [
        (my::H5T_INTEGER, C::H5T_INTEGER),
        (my::H5T_FLOAT, C::H5T_FLOAT),
        (my::H5T_TIME, C::H5T_TIME),
        (my::H5T_STRING, C::H5T_STRING),
        (my::H5T_BITFIELD, C::H5T_BITFIELD),
        (my::H5T_OPAQUE, C::H5T_OPAQUE),
        (my::H5T_COMPOUND, C::H5T_COMPOUND),
        (my::H5T_REFERENCE, C::H5T_REFERENCE),
        (my::H5T_ENUM, C::H5T_ENUM),
        (my::H5T_VLEN, C::H5T_VLEN),
        (my::H5T_ARRAY, C::H5T_ARRAY),
    ] {
        assert_eq!(mine, theirs as c_int, "{theirs:?}");
    }
    assert_eq!(
        my::H5T_ORDER_LE,
        hs::h5t::H5T_order_t::H5T_ORDER_LE as c_int
    );
    assert_eq!(
        my::H5T_ORDER_BE,
        hs::h5t::H5T_order_t::H5T_ORDER_BE as c_int
    );
    assert_eq!(my::H5T_SGN_NONE, hs::h5t::H5T_sign_t::H5T_SGN_NONE as c_int);
    assert_eq!(my::H5T_SGN_2, hs::h5t::H5T_sign_t::H5T_SGN_2 as c_int);
    assert_eq!(my::H5D_CHUNKED, hs::h5d::H5D_layout_t::H5D_CHUNKED as c_int);
    assert_eq!(my::H5I_DATASET, hs::h5i::H5I_type_t::H5I_DATASET as c_int);
    assert_eq!(
        my::H5PL_TYPE_FILTER,
        hs::h5pl::H5PL_type_t::H5PL_TYPE_FILTER as c_int
    );
    assert_eq!(
        my::H5_INDEX_NAME,
        hs::h5::H5_index_t::H5_INDEX_NAME as c_int
    );
    assert_eq!(
        my::H5_ITER_NATIVE,
        hs::h5::H5_iter_order_t::H5_ITER_NATIVE as c_int
    );
    assert_eq!(my::H5Z_FLAG_REVERSE, hs::h5z::H5Z_FLAG_REVERSE);
    assert_eq!(my::H5Z_FLAG_OPTIONAL, hs::h5z::H5Z_FLAG_OPTIONAL);
    assert_eq!(my::H5Z_FLAG_MANDATORY, hs::h5z::H5Z_FLAG_MANDATORY);
    assert_eq!(my::H5P_DEFAULT, hs::h5p::H5P_DEFAULT);
    assert_eq!(my::H5S_ALL, hs::h5s::H5S_ALL);
    assert_eq!(my::H5E_DEFAULT, hs::h5e::H5E_DEFAULT);
    assert_eq!(my::H5F_ACC_RDONLY, hs::h5f::H5F_ACC_RDONLY);
    assert_eq!(my::H5F_ACC_EXCL, hs::h5f::H5F_ACC_EXCL);
    assert_eq!(
        my::H5S_SELECT_SET,
        hs::h5s::H5S_seloper_t::H5S_SELECT_SET as c_int
    );
}

/// Each assignment compiles only if the hand-declared pointer type has exactly the
/// parameter and return types of hdf5-sys's declaration.
#[test]
fn function_signatures_match_hdf5_sys() {
    let _: my::H5open_t = hs::h5::H5open;
    let _: my::H5get_libversion_t = hs::h5::H5get_libversion;
    let _: my::H5allocate_memory_t = hs::h5::H5allocate_memory;
    let _: my::H5free_memory_t = hs::h5::H5free_memory;
    let _: my::H5Iis_valid_t = hs::h5i::H5Iis_valid;
    let _: my::H5Epush2_t = hs::h5e::H5Epush2;
    let _: my::H5Pget_filter_by_id2_t = hs::h5p::H5Pget_filter_by_id2;
    let _: my::H5Pmodify_filter_t = hs::h5p::H5Pmodify_filter;
    let _: my::H5Pget_chunk_t = hs::h5p::H5Pget_chunk;
    let _: my::H5Tget_size_t = hs::h5t::H5Tget_size;
    let _: my::H5Tget_precision_t = hs::h5t::H5Tget_precision;
    let _: my::H5Tget_offset_t = hs::h5t::H5Tget_offset;
    let _: my::H5Sget_simple_extent_ndims_t = hs::h5s::H5Sget_simple_extent_ndims;
    let _: my::H5Sget_simple_extent_dims_t = hs::h5s::H5Sget_simple_extent_dims;
    let _: my::H5Zregister_t = hs::h5z::H5Zregister;
    let _: my::H5Zfilter_avail_t = hs::h5z::H5Zfilter_avail;
    let _: my::H5Fopen_t = hs::h5f::H5Fopen;
    let _: my::H5close_id_t = hs::h5f::H5Fclose;
    let _: my::H5Dopen2_t = hs::h5d::H5Dopen2;
    let _: my::H5get_id_t = hs::h5d::H5Dget_type;
    let _: my::H5Dread_t = hs::h5d::H5Dread;
    let _: my::H5Dget_storage_size_t = hs::h5d::H5Dget_storage_size;
    let _: my::H5Oopen_t = hs::h5o::H5Oopen;
    // Writing (h5::slab, for `h5z-apr compress`); H5Sselect_hyperslab takes the
    // H5S_seloper_t enum, declared as int (checked by value above).
    let _: my::H5Fcreate_t = hs::h5f::H5Fcreate;
    let _: my::H5Screate_simple_t = hs::h5s::H5Screate_simple;
    let _: my::H5Pcreate_t = hs::h5p::H5Pcreate;
    let _: my::H5Pset_chunk_t = hs::h5p::H5Pset_chunk;
    let _: my::H5Pset_filter_t = hs::h5p::H5Pset_filter;
    let _: my::H5Pset_create_intermediate_group_t = hs::h5p::H5Pset_create_intermediate_group;
    let _: my::H5Dcreate2_t = hs::h5d::H5Dcreate2;
    let _: my::H5Dwrite_chunk_t = hs::h5d::H5Dwrite_chunk;
}

/// In this binary libhdf5 is linked, so the loader must find it in the global scope, and
/// `register_filter` must make HDF5 accept our static class (HDF5 reads the struct).
#[test]
fn loader_finds_linked_hdf5_and_registration_works() {
    unsafe { hs::h5::H5open() };
    let apis = h5z_apr::h5::loaded_libraries();
    assert!(
        !apis.is_empty(),
        "loader found no libhdf5 although it is linked"
    );
    let (mut a, mut b, mut c) = (0, 0, 0);
    unsafe { hs::h5::H5get_libversion(&mut a, &mut b, &mut c) };
    assert_eq!(apis[0].version(), (a, b, c));
    assert_eq!(apis[0].origin, "<global scope>");
    h5z_apr::h5::register_filter().expect("register_filter");
    assert!(unsafe { hs::h5z::H5Zfilter_avail(47815) } > 0);
    let mut cfg = 0u32;
    assert!(unsafe { hs::h5z::H5Zget_filter_info(47815, &mut cfg) } >= 0);
    assert_eq!(
        cfg,
        hs::h5z::H5Z_FILTER_CONFIG_ENCODE_ENABLED | hs::h5z::H5Z_FILTER_CONFIG_DECODE_ENABLED
    );
}

fn readelf(args: &[&str]) -> Option<String> {
    let so = h5_support::profile_dir().join("libh5z_apr.so");
    if !h5_support::require_tools(&["readelf"]) {
        return None;
    }
    let out = Command::new("readelf")
        .args(args)
        .arg(&so)
        .output()
        .unwrap();
    assert!(out.status.success(), "readelf {args:?} failed");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn cdylib_has_no_libhdf5_dependency() {
    let Some(dynamic) = readelf(&["-d", "-W"]) else {
        return;
    };
    let needed: Vec<&str> = dynamic.lines().filter(|l| l.contains("(NEEDED)")).collect();
    assert!(
        needed.iter().any(|l| l.contains("libc.so")),
        "readelf output not understood:\n{dynamic}"
    );
    assert!(
        !needed.iter().any(|l| l.contains("hdf5")),
        "the plugin must not link libhdf5:\n{}",
        needed.join("\n")
    );
}

#[test]
fn cdylib_exports_plugin_entry_points_and_needs_no_hdf5_symbol() {
    let Some(syms) = readelf(&["--dyn-syms", "-W"]) else {
        return;
    };
    for f in ["H5PLget_plugin_type", "H5PLget_plugin_info"] {
        assert!(
            syms.lines().any(|l| l.ends_with(&format!(" {f}"))
                && l.contains("FUNC")
                && l.contains("GLOBAL")
                && !l.contains(" UND ")),
            "{f} not exported"
        );
    }
    let undefined_h5: Vec<&str> = syms
        .lines()
        .filter(|l| {
            l.contains(" UND ") && l.split_whitespace().last().unwrap_or("").starts_with("H5")
        })
        .collect();
    assert!(
        undefined_h5.is_empty(),
        "undefined HDF5 symbols: {undefined_h5:?}"
    );
}
