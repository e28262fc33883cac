//! Hand-declared subset of the HDF5 C ABI (HDF5 >= 1.10, 64-bit `hid_t`).
//!
//! The plugin never links libhdf5: these declarations describe the types and the function
//! signatures, and `super::loader` resolves the symbols at run time from the libhdf5 the host
//! process already loaded. `tests/h5_abi.rs` checks every layout and signature here against
//! `hdf5-sys` (which does link libhdf5, in that test binary only).
//!
//! C enums are declared as `c_int` aliases plus constants, never as Rust enums: a newer
//! libhdf5 may return a value this build does not know (e.g. `H5T_COMPLEX` in 2.0), and an
//! unknown discriminant in a Rust enum is undefined behaviour.
#![allow(non_camel_case_types)]
// The subset is declared whole (tests/h5_abi.rs checks it); not every item is used.
#![allow(dead_code)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

pub type hid_t = i64;
pub type herr_t = c_int;
pub type htri_t = c_int;
pub type hsize_t = u64;
pub type hssize_t = i64;
/// C `bool` (1 byte) since 1.10.
pub type hbool_t = u8;
pub type H5Z_filter_t = c_int;

/// `H5PL_type_t`: only the filter type is used.
pub type H5PL_type_t = c_int;
pub const H5PL_TYPE_FILTER: H5PL_type_t = 0;

/// `H5T_class_t`.
pub type H5T_class_t = c_int;
pub const H5T_INTEGER: H5T_class_t = 0;
pub const H5T_FLOAT: H5T_class_t = 1;
pub const H5T_TIME: H5T_class_t = 2;
pub const H5T_STRING: H5T_class_t = 3;
pub const H5T_BITFIELD: H5T_class_t = 4;
pub const H5T_OPAQUE: H5T_class_t = 5;
pub const H5T_COMPOUND: H5T_class_t = 6;
pub const H5T_REFERENCE: H5T_class_t = 7;
pub const H5T_ENUM: H5T_class_t = 8;
pub const H5T_VLEN: H5T_class_t = 9;
pub const H5T_ARRAY: H5T_class_t = 10;

/// `H5T_order_t`.
pub type H5T_order_t = c_int;
pub const H5T_ORDER_LE: H5T_order_t = 0;
pub const H5T_ORDER_BE: H5T_order_t = 1;

/// `H5T_sign_t`.
pub type H5T_sign_t = c_int;
pub const H5T_SGN_NONE: H5T_sign_t = 0;
pub const H5T_SGN_2: H5T_sign_t = 1;

/// `H5D_layout_t`.
pub type H5D_layout_t = c_int;
pub const H5D_CHUNKED: H5D_layout_t = 2;

/// `H5I_type_t` (the values used here are stable from 1.10 to 2.x).
pub type H5I_type_t = c_int;
pub const H5I_DATASET: H5I_type_t = 5;

pub const H5P_DEFAULT: hid_t = 0;
pub const H5S_ALL: hid_t = 0;
pub const H5E_DEFAULT: hid_t = 0;
pub const H5F_ACC_RDONLY: c_uint = 0;
/// `H5_INDEX_NAME`, `H5_ITER_NATIVE`.
pub const H5_INDEX_NAME: c_int = 0;
pub const H5_ITER_NATIVE: c_int = 2;

/// `flags` bit of the filter callback meaning "decode".
pub const H5Z_FLAG_REVERSE: c_uint = 0x0100;
/// Filter definition flags.
pub const H5Z_FLAG_MANDATORY: c_uint = 0x0000;
pub const H5Z_FLAG_OPTIONAL: c_uint = 0x0001;

pub type H5Z_can_apply_func_t =
    Option<unsafe extern "C" fn(dcpl_id: hid_t, type_id: hid_t, space_id: hid_t) -> htri_t>;
pub type H5Z_set_local_func_t =
    Option<unsafe extern "C" fn(dcpl_id: hid_t, type_id: hid_t, space_id: hid_t) -> herr_t>;
pub type H5Z_func_t = Option<
    unsafe extern "C" fn(
        flags: c_uint,
        cd_nelmts: usize,
        cd_values: *const c_uint,
        nbytes: usize,
        buf_size: *mut usize,
        buf: *mut *mut c_void,
    ) -> usize,
>;

/// `H5Z_class2_t` (`H5Zdevelop.h`, `H5Zpublic.h` before 1.13). Size 48, align 8 on LP64.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct H5Z_class2_t {
    pub version: c_int,
    pub id: H5Z_filter_t,
    pub encoder_present: c_uint,
    pub decoder_present: c_uint,
    pub name: *const c_char,
    pub can_apply: H5Z_can_apply_func_t,
    pub set_local: H5Z_set_local_func_t,
    pub filter: H5Z_func_t,
}

/// `H5L_iterate_t` callback. The info pointer differs between 1.10 (`H5L_info_t`) and 1.12+
/// (`H5L_info2_t`); it is never dereferenced here.
pub type H5L_iterate_t = Option<
    unsafe extern "C" fn(
        group: hid_t,
        name: *const c_char,
        info: *const c_void,
        op_data: *mut c_void,
    ) -> herr_t,
>;

// Function pointer types of every resolved function. Names follow the C functions.
pub type H5open_t = unsafe extern "C" fn() -> herr_t;
pub type H5get_libversion_t =
    unsafe extern "C" fn(majnum: *mut c_uint, minnum: *mut c_uint, relnum: *mut c_uint) -> herr_t;
pub type H5allocate_memory_t = unsafe extern "C" fn(size: usize, clear: hbool_t) -> *mut c_void;
pub type H5free_memory_t = unsafe extern "C" fn(mem: *mut c_void) -> herr_t;
pub type H5Iis_valid_t = unsafe extern "C" fn(id: hid_t) -> htri_t;
pub type H5Iget_type_t = unsafe extern "C" fn(id: hid_t) -> H5I_type_t;
pub type H5Epush2_t = unsafe extern "C" fn(
    err_stack: hid_t,
    file: *const c_char,
    func: *const c_char,
    line: c_uint,
    cls_id: hid_t,
    maj_id: hid_t,
    min_id: hid_t,
    msg: *const c_char,
    ...
) -> herr_t;
pub type H5Eget_auto2_t = unsafe extern "C" fn(
    estack_id: hid_t,
    func: *mut *const c_void,
    client_data: *mut *mut c_void,
) -> herr_t;
pub type H5Eset_auto2_t =
    unsafe extern "C" fn(estack_id: hid_t, func: *const c_void, client_data: *mut c_void) -> herr_t;
pub type H5Pget_filter_by_id2_t = unsafe extern "C" fn(
    plist_id: hid_t,
    id: H5Z_filter_t,
    flags: *mut c_uint,
    cd_nelmts: *mut usize,
    cd_values: *mut c_uint,
    namelen: usize,
    name: *mut c_char,
    filter_config: *mut c_uint,
) -> herr_t;
pub type H5Pmodify_filter_t = unsafe extern "C" fn(
    plist_id: hid_t,
    filter: H5Z_filter_t,
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
) -> herr_t;
pub type H5Pget_chunk_t =
    unsafe extern "C" fn(plist_id: hid_t, max_ndims: c_int, dim: *mut hsize_t) -> c_int;
pub type H5Pget_layout_t = unsafe extern "C" fn(plist_id: hid_t) -> H5D_layout_t;
pub type H5Tget_class_t = unsafe extern "C" fn(type_id: hid_t) -> H5T_class_t;
pub type H5Tget_size_t = unsafe extern "C" fn(type_id: hid_t) -> usize;
pub type H5Tget_sign_t = unsafe extern "C" fn(type_id: hid_t) -> H5T_sign_t;
pub type H5Tget_order_t = unsafe extern "C" fn(type_id: hid_t) -> H5T_order_t;
pub type H5Tget_precision_t = unsafe extern "C" fn(type_id: hid_t) -> usize;
pub type H5Tget_offset_t = unsafe extern "C" fn(type_id: hid_t) -> c_int;
pub type H5Sget_simple_extent_ndims_t = unsafe extern "C" fn(space_id: hid_t) -> c_int;
pub type H5Sget_simple_extent_dims_t =
    unsafe extern "C" fn(space_id: hid_t, dims: *mut hsize_t, maxdims: *mut hsize_t) -> c_int;
pub type H5Zregister_t = unsafe extern "C" fn(cls: *const c_void) -> herr_t;
pub type H5Zfilter_avail_t = unsafe extern "C" fn(id: H5Z_filter_t) -> htri_t;
pub type H5Fopen_t =
    unsafe extern "C" fn(filename: *const c_char, flags: c_uint, fapl_id: hid_t) -> hid_t;
pub type H5close_id_t = unsafe extern "C" fn(id: hid_t) -> herr_t;
pub type H5Dopen2_t =
    unsafe extern "C" fn(loc_id: hid_t, name: *const c_char, dapl_id: hid_t) -> hid_t;
pub type H5get_id_t = unsafe extern "C" fn(id: hid_t) -> hid_t;
pub type H5Dread_t = unsafe extern "C" fn(
    dset_id: hid_t,
    mem_type_id: hid_t,
    mem_space_id: hid_t,
    file_space_id: hid_t,
    plist_id: hid_t,
    buf: *mut c_void,
) -> herr_t;
pub type H5Dget_storage_size_t = unsafe extern "C" fn(dset_id: hid_t) -> hsize_t;
pub type H5Lvisit_t = unsafe extern "C" fn(
    grp_id: hid_t,
    idx_type: c_int,
    order: c_int,
    op: H5L_iterate_t,
    op_data: *mut c_void,
) -> herr_t;
pub type H5Oopen_t =
    unsafe extern "C" fn(loc_id: hid_t, name: *const c_char, lapl_id: hid_t) -> hid_t;

// Writing and hyperslab reading (the `h5z-apr compress` command, `super::slab`).
pub const H5F_ACC_EXCL: c_uint = 0x0004;
/// `H5S_seloper_t::H5S_SELECT_SET`.
pub const H5S_SELECT_SET: c_int = 0;
pub type H5Fcreate_t = unsafe extern "C" fn(
    filename: *const c_char,
    flags: c_uint,
    create_plist: hid_t,
    access_plist: hid_t,
) -> hid_t;
pub type H5Screate_simple_t =
    unsafe extern "C" fn(rank: c_int, dims: *const hsize_t, maxdims: *const hsize_t) -> hid_t;
/// `op` is an `H5S_seloper_t` (a C enum, passed as `int`).
pub type H5Sselect_hyperslab_t = unsafe extern "C" fn(
    space_id: hid_t,
    op: c_int,
    start: *const hsize_t,
    stride: *const hsize_t,
    count: *const hsize_t,
    block: *const hsize_t,
) -> herr_t;
pub type H5Pcreate_t = unsafe extern "C" fn(cls_id: hid_t) -> hid_t;
pub type H5Pset_chunk_t =
    unsafe extern "C" fn(plist_id: hid_t, ndims: c_int, dim: *const hsize_t) -> herr_t;
pub type H5Pset_filter_t = unsafe extern "C" fn(
    plist_id: hid_t,
    filter: H5Z_filter_t,
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
) -> herr_t;
pub type H5Pset_create_intermediate_group_t =
    unsafe extern "C" fn(plist_id: hid_t, crt_intmd: c_uint) -> herr_t;
pub type H5Dcreate2_t = unsafe extern "C" fn(
    loc_id: hid_t,
    name: *const c_char,
    type_id: hid_t,
    space_id: hid_t,
    lcpl_id: hid_t,
    dcpl_id: hid_t,
    dapl_id: hid_t,
) -> hid_t;
/// HDF5 >= 1.10.2.
pub type H5Dwrite_chunk_t = unsafe extern "C" fn(
    dset_id: hid_t,
    dxpl_id: hid_t,
    filters: u32,
    offset: *const hsize_t,
    data_size: usize,
    buf: *const c_void,
) -> herr_t;
