//! The C API: caller-allocated buffers, integer codes, one status enum, a thread-local last
//! error. `build.rs` turns this file (and only this file) into `include/h5z_apr.h` with cbindgen,
//! so every item the header needs is declared here with C-friendly types and literal constants.
//!
//! Rules every function follows:
//! - functions taking raw pointers are `unsafe extern "C"` with a `# Safety` contract; they check
//!   null pointers, ranks and lengths before touching memory;
//! - no panic unwinds into C: every body runs under `catch_unwind` and a panic becomes
//!   `H5Z_APR_ERR_INTERNAL`;
//! - status-returning functions set the thread-local message read by [`h5z_apr_last_error`] on
//!   failure and clear it on success.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::codec::error::{Error, ErrorKind};
use crate::codec::{self, Config, DType, Mode};
use crate::settings::{self, Settings, SettingsError};

/// HDF5 filter ID of the APR filter (unregistered range 32768-65535).
pub const H5Z_FILTER_APR: c_uint = 47815;

/// Mode code: bit-exact round trip.
pub const H5Z_APR_MODE_LOSSLESS: c_int = 0;
/// Mode code: pointwise absolute error bound `|x - x'| <= value`.
pub const H5Z_APR_MODE_ABS: c_int = 1;
/// Mode code: Adaptive Particle Representation with relative error `E = value`; writes stream
/// format version 4, which holds LibAPR's condition `|x - x'| <= E * sigma_local(x)` at every
/// element (FORMAT.md §7).
pub const H5Z_APR_MODE_APR: c_int = 2;
/// Mode code: noise mode, `|x - x'| <= k * sigma(x)` with `k = value` (default 0.5) and the
/// Poisson-Gaussian noise model sigma the encoder fits per tile; integer dtypes only; writes
/// stream format version 3.
pub const H5Z_APR_MODE_NOISE: c_int = 3;
/// Mode code: apr-particles, apr mode with relative error `E = value` coded as LibAPR's
/// piecewise-constant particle cells in every tile (stream format version 2, what apr mode
/// wrote before format version 4). Much smaller on sparse volumes, but LibAPR's condition
/// `|x - x'| <= E * sigma_local(x)` is a target here, not a guarantee (measured: it fails on
/// 0.1-58 % of the elements of real volumes, benches/results/apr-pointwise-2026-12-03.md).
pub const H5Z_APR_MODE_APR_PARTICLES: c_int = 4;

/// Element type code: unsigned 8-bit integer.
pub const H5Z_APR_DTYPE_U8: c_int = 1;
/// Element type code: signed 8-bit integer.
pub const H5Z_APR_DTYPE_I8: c_int = 2;
/// Element type code: unsigned 16-bit integer.
pub const H5Z_APR_DTYPE_U16: c_int = 3;
/// Element type code: signed 16-bit integer.
pub const H5Z_APR_DTYPE_I16: c_int = 4;
/// Element type code: unsigned 32-bit integer.
pub const H5Z_APR_DTYPE_U32: c_int = 5;
/// Element type code: signed 32-bit integer.
pub const H5Z_APR_DTYPE_I32: c_int = 6;
/// Element type code: IEEE 754 binary32.
pub const H5Z_APR_DTYPE_F32: c_int = 7;
/// Element type code: IEEE 754 binary64.
pub const H5Z_APR_DTYPE_F64: c_int = 8;

/// Largest rank of a chunk (HDF5's H5S_MAX_RANK); size of `h5z_apr_info.shape`.
pub const H5Z_APR_MAX_RANK: usize = 32;
/// Largest number of `cd_values` written by `h5z_apr_cd_values`.
pub const H5Z_APR_CD_NELMTS_MAX: usize = 4;

const _: () = assert!(H5Z_FILTER_APR == crate::FILTER_ID);
const _: () = assert!(H5Z_APR_MAX_RANK == codec::MAX_RANK);
const _: () = assert!(
    H5Z_APR_DTYPE_U8 == DType::U8 as c_int
        && H5Z_APR_DTYPE_I8 == DType::I8 as c_int
        && H5Z_APR_DTYPE_U16 == DType::U16 as c_int
        && H5Z_APR_DTYPE_I16 == DType::I16 as c_int
        && H5Z_APR_DTYPE_U32 == DType::U32 as c_int
        && H5Z_APR_DTYPE_I32 == DType::I32 as c_int
        && H5Z_APR_DTYPE_F32 == DType::F32 as c_int
        && H5Z_APR_DTYPE_F64 == DType::F64 as c_int
);

/// Status returned by every fallible function. 0 is success; the others name the failure,
/// and `h5z_apr_last_error()` describes it.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum h5z_apr_status {
    /// Success.
    H5Z_APR_OK = 0,
    /// An argument is invalid: unknown mode or dtype, bad shape, length not matching the
    /// shape, bound out of range, overlapping buffers.
    H5Z_APR_ERR_INVALID_ARGUMENT = 1,
    /// A required pointer argument is NULL.
    H5Z_APR_ERR_NULL_POINTER = 2,
    /// The stream ends before it says it should.
    H5Z_APR_ERR_TRUNCATED = 3,
    /// The stream is malformed, fails its checksum, or contradicts itself.
    H5Z_APR_ERR_CORRUPT = 4,
    /// The stream is valid but needs a format version or feature this build cannot handle.
    H5Z_APR_ERR_UNSUPPORTED = 5,
    /// The caller's output buffer is too small.
    H5Z_APR_ERR_BUFFER_TOO_SMALL = 6,
    /// A size exceeds a hard limit of this implementation (e.g. a chunk over 4 GiB).
    H5Z_APR_ERR_LIMIT_EXCEEDED = 7,
    /// HDF5 could not be found or refused the request (`h5z_apr_register`).
    H5Z_APR_ERR_HDF5 = 8,
    /// A bug in h5z-apr (a caught panic). Please report it with the message.
    H5Z_APR_ERR_INTERNAL = 9,
}

use h5z_apr_status as St;

/// Codec parameters (mode, error parameter, entropy-coder effort).
/// Initialise every field, e.g. `h5z_apr_params p = {H5Z_APR_MODE_ABS, 0.5, 0};`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct h5z_apr_params {
    /// One of `H5Z_APR_MODE_*`.
    pub mode: c_int,
    /// Absolute bound (`H5Z_APR_MODE_ABS`, >= 0), relative error E (`H5Z_APR_MODE_APR`, > 0) or
    /// noise factor k (`H5Z_APR_MODE_NOISE`, >= 0); ignored by `H5Z_APR_MODE_LOSSLESS`.
    pub value: f64,
    /// Entropy-coder effort 1..22; 0 selects the default (3).
    pub effort: c_int,
}

/// What a stream says about the chunk it holds (filled by `h5z_apr_read_header`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct h5z_apr_info {
    /// Stream format version.
    pub format_version: c_int,
    /// One of `H5Z_APR_DTYPE_*`.
    pub dtype: c_int,
    /// One of `H5Z_APR_MODE_*`.
    pub mode: c_int,
    /// Mode parameter (bound or E; 0 for lossless).
    pub value: f64,
    /// Bytes per element.
    pub elem_size: usize,
    /// Number of dimensions, 1..H5Z_APR_MAX_RANK.
    pub rank: usize,
    /// Dimensions, C order (last axis fastest); entries from `rank` on are 0.
    pub shape: [usize; H5Z_APR_MAX_RANK],
    /// Number of elements of the decoded chunk.
    pub nelems: usize,
    /// Bytes of the decoded chunk: the `dst_cap` `h5z_apr_decompress` needs.
    pub nbytes: usize,
}

/// A failure on its way to C: a status and a message.
struct CErr {
    status: St,
    message: String,
}

impl CErr {
    fn new(status: St, message: impl Into<String>) -> Self {
        CErr {
            status,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(St::H5Z_APR_ERR_INVALID_ARGUMENT, message)
    }
    fn null(name: &str) -> Self {
        Self::new(
            St::H5Z_APR_ERR_NULL_POINTER,
            format!("argument `{name}` is NULL"),
        )
    }
}

impl From<Error> for CErr {
    fn from(e: Error) -> Self {
        CErr::new(status_of(e.kind()), e.to_string())
    }
}

/// Maps the crate's error kinds onto C status codes, one to one.
fn status_of(kind: ErrorKind) -> St {
    match kind {
        ErrorKind::InvalidArgument => St::H5Z_APR_ERR_INVALID_ARGUMENT,
        ErrorKind::Truncated => St::H5Z_APR_ERR_TRUNCATED,
        ErrorKind::Corrupt => St::H5Z_APR_ERR_CORRUPT,
        ErrorKind::Unsupported => St::H5Z_APR_ERR_UNSUPPORTED,
        ErrorKind::BufferTooSmall => St::H5Z_APR_ERR_BUFFER_TOO_SMALL,
        ErrorKind::LimitExceeded => St::H5Z_APR_ERR_LIMIT_EXCEEDED,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with` fails only during thread teardown; then there is nobody left to read it.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs `f` without letting a panic escape, records the outcome in the last-error slot and
/// returns the status.
fn guard(f: impl FnOnce() -> Result<(), CErr>) -> St {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error("");
            St::H5Z_APR_OK
        }
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            set_last_error(&format!(
                "internal error (panic): {}",
                panic_message(payload.as_ref())
            ));
            St::H5Z_APR_ERR_INTERNAL
        }
    }
}

fn dtype_of(code: c_int) -> Result<DType, CErr> {
    u8::try_from(code)
        .ok()
        .and_then(DType::from_code)
        .ok_or_else(|| CErr::invalid(format!("unknown dtype code {code} (expected 1..=8)")))
}

fn dtype_code(d: DType) -> c_int {
    c_int::from(d.code())
}

fn mode_code(m: Mode) -> c_int {
    c_int::from(m.code())
}

/// Turns C parameters into a validated codec configuration.
fn config_of(p: &h5z_apr_params) -> Result<Config, CErr> {
    Ok(settings_of(p)?.config()?)
}

/// The settings `p` describes; effort 0 means the default (and no effort slot).
fn settings_of(p: &h5z_apr_params) -> Result<Settings, CErr> {
    let (mode, apr_coding) = settings::mode_of_code(p.mode.into(), p.value)?;
    Ok(Settings {
        mode,
        effort: (p.effort != 0).then_some(p.effort),
        apr_coding,
    })
}

impl From<SettingsError> for CErr {
    fn from(e: SettingsError) -> Self {
        CErr::invalid(e.message())
    }
}

/// Borrows `len` bytes at `ptr` after checking the pointer and the length.
///
/// # Safety
/// If `ptr` is not NULL it must be valid for reads of `len` bytes for `'a`, and not be written
/// through any other pointer during `'a`.
unsafe fn bytes<'a>(ptr: *const c_void, len: usize, name: &str) -> Result<&'a [u8], CErr> {
    if ptr.is_null() {
        return Err(CErr::null(name));
    }
    if len > isize::MAX as usize {
        return Err(CErr::invalid(format!("`{name}` length {len} is too large")));
    }
    // SAFETY: non-null, length checked above, validity is the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Mutable counterpart of [`bytes`].
///
/// # Safety
/// If `ptr` is not NULL it must be valid for writes of `len` bytes for `'a` and not be accessed
/// through any other pointer during `'a`.
unsafe fn bytes_mut<'a>(ptr: *mut c_void, len: usize, name: &str) -> Result<&'a mut [u8], CErr> {
    if ptr.is_null() {
        return Err(CErr::null(name));
    }
    if len > isize::MAX as usize {
        return Err(CErr::invalid(format!("`{name}` length {len} is too large")));
    }
    // SAFETY: non-null, length checked above, validity and exclusivity are the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) })
}

/// Reads a shape array after checking the pointer and the rank (1..=H5Z_APR_MAX_RANK).
///
/// # Safety
/// If `shape` is not NULL and `rank` is in range, `shape` must point to `rank` readable,
/// aligned `size_t`s.
unsafe fn shape_of(shape: *const usize, rank: usize) -> Result<Vec<usize>, CErr> {
    if shape.is_null() {
        return Err(CErr::null("shape"));
    }
    if rank == 0 || rank > H5Z_APR_MAX_RANK {
        return Err(CErr::invalid(format!(
            "rank must be 1..={H5Z_APR_MAX_RANK}, got {rank}"
        )));
    }
    // SAFETY: non-null, rank bounded, validity is the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(shape, rank) }.to_vec())
}

fn check_disjoint(
    a: *const c_void,
    a_len: usize,
    b: *const c_void,
    b_len: usize,
) -> Result<(), CErr> {
    let (a0, b0) = (a as usize, b as usize);
    let overlap = a0 < b0.saturating_add(b_len) && b0 < a0.saturating_add(a_len);
    if overlap && a_len > 0 && b_len > 0 {
        return Err(CErr::invalid("`src` and `dst` overlap"));
    }
    Ok(())
}

/// Version of the library as a static NUL-terminated string, e.g. "0.1.0". Never NULL.
#[no_mangle]
pub extern "C" fn h5z_apr_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Newest stream format version this build writes and decodes.
#[no_mangle]
pub extern "C" fn h5z_apr_format_version() -> c_int {
    c_int::from(codec::FORMAT_VERSION)
}

/// Sets how many threads each compress/decompress call (C API and the HDF5 filter) may use
/// to code the tiles of one chunk, for the whole process. `n >= 1`: that many (values above
/// 256 are clamped); `n <= 0`: unset, so the environment variable `H5Z_APR_NTHREADS` decides
/// (read on every call), else 1. The default is 1 so that hosts running their own workers
/// (dask, multiprocessing, MPI) are not oversubscribed. Threads live only during a call.
/// The compressed bytes never depend on the thread count.
#[no_mangle]
pub extern "C" fn h5z_apr_set_nthreads(n: c_int) {
    codec::set_threads(usize::try_from(n).unwrap_or(0));
}

/// The thread count calls use now (>= 1): the value set by `h5z_apr_set_nthreads`, else
/// `H5Z_APR_NTHREADS`, else 1.
#[no_mangle]
pub extern "C" fn h5z_apr_get_nthreads() -> c_int {
    catch_unwind(|| c_int::try_from(codec::threads()).unwrap_or(1)).unwrap_or(1)
}

/// Message describing the failure of the last status-returning call on this thread, or "" if
/// that call succeeded. Never NULL. The string stays valid until the next h5z_apr call on the
/// same thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn h5z_apr_last_error() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    catch_unwind(|| {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ptr())
            .unwrap_or(EMPTY.as_ptr().cast())
    })
    .unwrap_or(EMPTY.as_ptr().cast())
}

/// Static name of a status code, e.g. "H5Z_APR_ERR_CORRUPT"; "unknown status" for other values.
/// Never NULL.
#[no_mangle]
pub extern "C" fn h5z_apr_status_name(status: c_int) -> *const c_char {
    let s: &'static str = match status {
        0 => "H5Z_APR_OK\0",
        1 => "H5Z_APR_ERR_INVALID_ARGUMENT\0",
        2 => "H5Z_APR_ERR_NULL_POINTER\0",
        3 => "H5Z_APR_ERR_TRUNCATED\0",
        4 => "H5Z_APR_ERR_CORRUPT\0",
        5 => "H5Z_APR_ERR_UNSUPPORTED\0",
        6 => "H5Z_APR_ERR_BUFFER_TOO_SMALL\0",
        7 => "H5Z_APR_ERR_LIMIT_EXCEEDED\0",
        8 => "H5Z_APR_ERR_HDF5\0",
        9 => "H5Z_APR_ERR_INTERNAL\0",
        _ => "unknown status\0",
    };
    s.as_ptr().cast()
}

/// Worst-case stream size in bytes for a chunk of `dtype` (`H5Z_APR_DTYPE_*`) and `shape`
/// (`rank` dimensions, C order), in any mode. Size `dst` of `h5z_apr_compress` with it.
/// Returns 0 on invalid arguments (see `h5z_apr_last_error`).
///
/// # Safety
/// `shape` must be NULL or point to `rank` readable `size_t`s.
#[no_mangle]
pub unsafe extern "C" fn h5z_apr_max_compressed_size(
    dtype: c_int,
    shape: *const usize,
    rank: usize,
) -> usize {
    let mut n = 0;
    guard(|| {
        let dtype = dtype_of(dtype)?;
        // SAFETY: forwarded contract.
        let shape = unsafe { shape_of(shape, rank)? };
        codec::checked_len(dtype, &shape)?;
        n = codec::max_compressed_len(dtype, &shape);
        Ok(())
    });
    n
}

/// Compresses one chunk of `src_len` bytes: `prod(shape)` little-endian elements of `dtype`,
/// C order. Writes the stream to `dst` (capacity `dst_cap`) and its length to `*dst_len`.
/// A `dst_cap` of `h5z_apr_max_compressed_size(dtype, shape, rank)` always suffices; a smaller
/// one may give `H5Z_APR_ERR_BUFFER_TOO_SMALL`. On failure `*dst_len` is 0 and `dst` may have
/// been partly written.
///
/// # Safety
/// - `params` must be NULL or point to a valid `h5z_apr_params`;
/// - `shape` must be NULL or point to `rank` readable `size_t`s;
/// - `src` must be NULL or valid for reading `src_len` bytes;
/// - `dst` must be NULL or valid for writing `dst_cap` bytes, and must not overlap `src`;
/// - `dst_len` must be NULL or point to a writable `size_t`.
///
/// NULL pointers are reported as `H5Z_APR_ERR_NULL_POINTER`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn h5z_apr_compress(
    params: *const h5z_apr_params,
    dtype: c_int,
    shape: *const usize,
    rank: usize,
    src: *const c_void,
    src_len: usize,
    dst: *mut c_void,
    dst_cap: usize,
    dst_len: *mut usize,
) -> h5z_apr_status {
    guard(|| {
        if dst_len.is_null() {
            return Err(CErr::null("dst_len"));
        }
        // SAFETY: non-null and writable by contract.
        unsafe { dst_len.write(0) };
        // SAFETY: NULL checked; validity by contract.
        let params = unsafe { params.as_ref() }.ok_or_else(|| CErr::null("params"))?;
        let cfg = config_of(params)?;
        let dtype = dtype_of(dtype)?;
        // SAFETY: forwarded contracts.
        let shape = unsafe { shape_of(shape, rank)? };
        check_disjoint(src, src_len, dst, dst_cap)?;
        // SAFETY: forwarded contracts; the buffers are disjoint (checked above).
        let data = unsafe { bytes(src, src_len, "src")? };
        // SAFETY: as above.
        let out = unsafe { bytes_mut(dst, dst_cap, "dst")? };
        let n = codec::compress_into(data, dtype, &shape, &cfg, out)?;
        // SAFETY: non-null and writable by contract.
        unsafe { dst_len.write(n) };
        Ok(())
    })
}

/// Reads and validates the header of the stream `src` (`src_len` bytes) without decoding it,
/// filling `*info` (dtype, mode, shape, decoded size). Use it to size the output buffer of
/// `h5z_apr_decompress`. It reads the header only: a forged header (valid or not beyond it)
/// can claim up to 4 GiB; for untrusted input use `h5z_apr_check_stream` with a `max_output`
/// limit before allocating, or `h5z_apr_decompress_limited`.
///
/// # Safety
/// - `src` must be NULL or valid for reading `src_len` bytes;
/// - `info` must be NULL or point to a writable `h5z_apr_info`.
#[no_mangle]
pub unsafe extern "C" fn h5z_apr_read_header(
    src: *const c_void,
    src_len: usize,
    info: *mut h5z_apr_info,
) -> h5z_apr_status {
    guard(|| {
        if info.is_null() {
            return Err(CErr::null("info"));
        }
        // SAFETY: by contract.
        let stream = unsafe { bytes(src, src_len, "src")? };
        let h = codec::read_header(stream)?;
        let filled = info_of(&h);
        // SAFETY: non-null and writable by contract.
        unsafe { info.write(filled) };
        Ok(())
    })
}

/// Decodes the stream `src` (`src_len` bytes) into `dst` (capacity `dst_cap`): `nbytes`
/// little-endian elements in C order, where dtype, shape and `nbytes` are those reported by
/// `h5z_apr_read_header`. Writes `nbytes` to `*dst_len` if `dst_len` is not NULL.
/// `dst_cap < nbytes` gives `H5Z_APR_ERR_BUFFER_TOO_SMALL`; bytes of `dst` past `nbytes` are
/// left untouched. On failure `dst` may have been partly written.
///
/// # Safety
/// - `src` must be NULL or valid for reading `src_len` bytes;
/// - `dst` must be NULL or valid for writing `dst_cap` bytes, and must not overlap `src`;
/// - `dst_len` must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn h5z_apr_decompress(
    src: *const c_void,
    src_len: usize,
    dst: *mut c_void,
    dst_cap: usize,
    dst_len: *mut usize,
) -> h5z_apr_status {
    guard(|| {
        if !dst_len.is_null() {
            // SAFETY: non-null and writable by contract.
            unsafe { dst_len.write(0) };
        }
        check_disjoint(src, src_len, dst, dst_cap)?;
        // SAFETY: by contract; the buffers are disjoint (checked above).
        let stream = unsafe { bytes(src, src_len, "src")? };
        // SAFETY: as above.
        let out = unsafe { bytes_mut(dst, dst_cap, "dst")? };
        let h = codec::read_header(stream)?;
        let need = h.nbytes();
        if out.len() < need {
            return Err(CErr::new(
                St::H5Z_APR_ERR_BUFFER_TOO_SMALL,
                format!("output buffer has {dst_cap} bytes, chunk needs {need}"),
            ));
        }
        codec::decompress_into(stream, &mut out[..need])?;
        if !dst_len.is_null() {
            // SAFETY: non-null and writable by contract.
            unsafe { dst_len.write(need) };
        }
        Ok(())
    })
}

/// Like `h5z_apr_read_header`, but checks the whole stream before the caller allocates
/// anything: the header, the length, the CRC-32, that the body can back the size the header
/// claims, and that the decoded size is at most `max_output` bytes (`SIZE_MAX` = no limit of
/// the caller). A stream that decodes to more gives `H5Z_APR_ERR_LIMIT_EXCEEDED`. On success
/// `*info` is filled and `info->nbytes <= max_output`: allocating that much is safe.
///
/// # Safety
/// As `h5z_apr_read_header`.
#[no_mangle]
pub unsafe extern "C" fn h5z_apr_check_stream(
    src: *const c_void,
    src_len: usize,
    max_output: usize,
    info: *mut h5z_apr_info,
) -> h5z_apr_status {
    guard(|| {
        if info.is_null() {
            return Err(CErr::null("info"));
        }
        // SAFETY: by contract.
        let stream = unsafe { bytes(src, src_len, "src")? };
        let h = codec::validate_stream(stream, &codec::DecodeLimits::max_output(max_output))?;
        // SAFETY: non-null and writable by contract.
        unsafe { info.write(info_of(&h)) };
        Ok(())
    })
}

/// Like `h5z_apr_decompress`, but refuses a stream that decodes to more than `max_output`
/// bytes (`H5Z_APR_ERR_LIMIT_EXCEEDED`), and checks length, CRC-32 and the body's backing of
/// the claimed size before anything is written to `dst`. `SIZE_MAX` = no limit of the caller.
///
/// # Safety
/// As `h5z_apr_decompress`.
#[no_mangle]
pub unsafe extern "C" fn h5z_apr_decompress_limited(
    src: *const c_void,
    src_len: usize,
    max_output: usize,
    dst: *mut c_void,
    dst_cap: usize,
    dst_len: *mut usize,
) -> h5z_apr_status {
    guard(|| {
        if !dst_len.is_null() {
            // SAFETY: non-null and writable by contract.
            unsafe { dst_len.write(0) };
        }
        check_disjoint(src, src_len, dst, dst_cap)?;
        // SAFETY: by contract; the buffers are disjoint (checked above).
        let stream = unsafe { bytes(src, src_len, "src")? };
        let h = codec::validate_stream(stream, &codec::DecodeLimits::max_output(max_output))?;
        let need = h.nbytes();
        if dst_cap < need {
            return Err(CErr::new(
                St::H5Z_APR_ERR_BUFFER_TOO_SMALL,
                format!("output buffer has {dst_cap} bytes, chunk needs {need}"),
            ));
        }
        // SAFETY: as above.
        let out = unsafe { bytes_mut(dst, dst_cap, "dst")? };
        codec::decompress_into(stream, &mut out[..need])?;
        if !dst_len.is_null() {
            // SAFETY: non-null and writable by contract.
            unsafe { dst_len.write(need) };
        }
        Ok(())
    })
}

fn info_of(h: &codec::Header) -> h5z_apr_info {
    let mut shape = [0usize; H5Z_APR_MAX_RANK];
    shape[..h.shape.len()].copy_from_slice(&h.shape);
    h5z_apr_info {
        format_version: c_int::from(h.version),
        dtype: dtype_code(h.dtype),
        mode: mode_code(h.mode),
        value: h.mode.param(),
        elem_size: h.dtype.size(),
        rank: h.shape.len(),
        shape,
        nelems: h.len(),
        nbytes: h.nbytes(),
    }
}

/// Registers filter `H5Z_FILTER_APR` with the HDF5 library this program uses (`H5Zregister`),
/// so datasets can be written and read with it without `HDF5_PLUGIN_PATH`. libhdf5 must already
/// be loaded in the process (linked or dlopen'ed); h5z-apr itself does not link it. Calling it
/// again is harmless. Returns `H5Z_APR_ERR_HDF5` when no libhdf5 is found or H5Zregister fails.
#[no_mangle]
pub extern "C" fn h5z_apr_register() -> h5z_apr_status {
    guard(|| crate::h5::register_filter().map_err(|e| CErr::new(St::H5Z_APR_ERR_HDF5, e.message())))
}

/// Builds the HDF5 `cd_values` of the filter for `*params`: `{mode, mantissa, exponent}` with
/// `value = mantissa * 10^-exponent`, plus `effort` as a 4th value when it is not 0 (see
/// FORMAT.md). Examples: abs 4 -> {1,4,0}; apr E=0.1 -> {2,1,1}; abs 0.0005 -> {1,5,4}.
/// Use them as `H5Pset_filter(dcpl, H5Z_FILTER_APR, H5Z_FLAG_MANDATORY, n, cd_values)`.
/// On entry `*cd_nelmts` is the capacity of `cd_values` (`H5Z_APR_CD_NELMTS_MAX` always
/// suffices); on return it is the number of values written, or the number needed when the
/// status is `H5Z_APR_ERR_BUFFER_TOO_SMALL`. `value` is written with the smallest exponent that
/// represents it to 1e-12 relative (0.1 + 0.2 -> {.., 3, 1}); one that needs a mantissa over
/// 32 bits or an exponent over 22 (e.g. pi) gives `H5Z_APR_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// - `params` must be NULL or point to a valid `h5z_apr_params`;
/// - `cd_nelmts` must be NULL or point to a readable and writable `size_t`;
/// - `cd_values` must be NULL or valid for writing `*cd_nelmts` `unsigned int`s.
#[no_mangle]
pub unsafe extern "C" fn h5z_apr_cd_values(
    params: *const h5z_apr_params,
    cd_values: *mut c_uint,
    cd_nelmts: *mut usize,
) -> h5z_apr_status {
    guard(|| {
        // SAFETY: NULL checked; validity by contract.
        let params = unsafe { params.as_ref() }.ok_or_else(|| CErr::null("params"))?;
        if cd_nelmts.is_null() {
            return Err(CErr::null("cd_nelmts"));
        }
        if cd_values.is_null() {
            return Err(CErr::null("cd_values"));
        }
        // SAFETY: non-null, readable by contract.
        let cap = unsafe { cd_nelmts.read() };
        let cd = cd_values_of(params)?;
        // SAFETY: non-null, writable by contract.
        unsafe { cd_nelmts.write(cd.len()) };
        if cap < cd.len() {
            return Err(CErr::new(
                St::H5Z_APR_ERR_BUFFER_TOO_SMALL,
                format!("cd_values has room for {cap} values, {} needed", cd.len()),
            ));
        }
        // SAFETY: non-null, `cd.len() <= cap` writable values by contract.
        unsafe { std::ptr::copy_nonoverlapping(cd.as_ptr(), cd_values, cd.len()) };
        Ok(())
    })
}

/// The user cd_values for `p` ([`Settings::cd_values`], shared with the plugin and the CLI).
fn cd_values_of(p: &h5z_apr_params) -> Result<Vec<c_uint>, CErr> {
    Ok(settings_of(p)?.cd_values()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cd(mode: c_int, value: f64, effort: c_int) -> Result<Vec<c_uint>, St> {
        cd_values_of(&h5z_apr_params {
            mode,
            value,
            effort,
        })
        .map_err(|e| e.status)
    }

    #[test]
    fn cd_values_examples_and_parse_back() {
        assert_eq!(cd(H5Z_APR_MODE_ABS, 4.0, 0), Ok(vec![1, 4, 0]));
        assert_eq!(cd(H5Z_APR_MODE_APR, 0.1, 0), Ok(vec![2, 1, 1]));
        assert_eq!(cd(H5Z_APR_MODE_ABS, 0.0005, 0), Ok(vec![1, 5, 4]));
        assert_eq!(cd(H5Z_APR_MODE_LOSSLESS, 7.0, 0), Ok(vec![0, 0, 0]));
        assert_eq!(cd(H5Z_APR_MODE_APR, 0.05, 9), Ok(vec![2, 5, 2, 9]));
        assert_eq!(cd(H5Z_APR_MODE_NOISE, 0.5, 0), Ok(vec![3, 5, 1]));
        assert_eq!(cd(H5Z_APR_MODE_APR_PARTICLES, 0.1, 0), Ok(vec![4, 1, 1]));
        assert_eq!(cd(H5Z_APR_MODE_APR_PARTICLES, 0.2, 5), Ok(vec![4, 2, 1, 5]));
        let bad = Err(St::H5Z_APR_ERR_INVALID_ARGUMENT);
        assert_eq!(cd(H5Z_APR_MODE_ABS, std::f64::consts::PI, 0), bad);
        assert_eq!(cd(H5Z_APR_MODE_APR, 0.0, 0), bad);
        assert_eq!(cd(H5Z_APR_MODE_ABS, 1.0, 23), bad);
        assert_eq!(cd(5, 1.0, 0), bad);
        for (mode, v, effort) in [(1, 0.25, 0), (2, 0.08, 0), (1, 1234.5, 4), (2, 1e-3, 22)] {
            let p = h5z_apr_params {
                mode,
                value: v,
                effort,
            };
            let back = settings::UserParams::parse(&cd_values_of(&p).ok().unwrap())
                .unwrap()
                .config();
            assert_eq!(back, config_of(&p).ok().unwrap(), "{p:?}");
        }
    }

    #[test]
    fn mode_codes_match_the_codec() {
        assert_eq!(mode_code(Mode::Lossless), H5Z_APR_MODE_LOSSLESS);
        assert_eq!(mode_code(Mode::Abs(1.0)), H5Z_APR_MODE_ABS);
        assert_eq!(mode_code(Mode::Apr(0.1)), H5Z_APR_MODE_APR);
        assert_eq!(mode_code(Mode::Noise(0.5)), H5Z_APR_MODE_NOISE);
    }

    #[test]
    fn status_covers_every_error_kind() {
        let kinds = [
            ErrorKind::InvalidArgument,
            ErrorKind::Truncated,
            ErrorKind::Corrupt,
            ErrorKind::Unsupported,
            ErrorKind::BufferTooSmall,
            ErrorKind::LimitExceeded,
        ];
        let mut seen: Vec<St> = kinds.iter().map(|&k| status_of(k)).collect();
        seen.sort_by_key(|s| *s as i32);
        seen.dedup();
        assert_eq!(seen.len(), kinds.len(), "two kinds share a status");
        assert!(!seen.contains(&St::H5Z_APR_OK));
    }

    fn last_error() -> String {
        // SAFETY: h5z_apr_last_error returns a valid NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(h5z_apr_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn last_error_is_per_thread() {
        guard(|| Err(CErr::invalid("failure on the first thread")));
        std::thread::spawn(|| {
            assert_eq!(last_error(), "");
            guard(|| Err(CErr::null("x")));
            assert_eq!(last_error(), "argument `x` is NULL");
        })
        .join()
        .unwrap();
        assert_eq!(last_error(), "failure on the first thread");
    }

    #[test]
    fn panics_become_internal_status() {
        let st = guard(|| panic!("boom"));
        assert_eq!(st, St::H5Z_APR_ERR_INTERNAL);
        // SAFETY: h5z_apr_last_error returns a valid NUL-terminated string.
        let msg = unsafe { std::ffi::CStr::from_ptr(h5z_apr_last_error()) };
        assert!(msg.to_str().unwrap().contains("boom"), "{msg:?}");
        assert_eq!(guard(|| Ok(())), St::H5Z_APR_OK);
        // SAFETY: as above.
        let msg = unsafe { std::ffi::CStr::from_ptr(h5z_apr_last_error()) };
        assert!(msg.to_bytes().is_empty());
    }
}
