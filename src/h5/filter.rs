//! The three callbacks of filter 47815: `can_apply`, `set_local` and the filter itself.
//!
//! Every `extern "C"` body runs inside `catch_unwind`. Errors go onto HDF5's error stack
//! (`H5Epush2`, major `H5E_PLINE`) and the callback returns HDF5's failure value. Chunks
//! arrive in the file datatype's byte order; big-endian chunks are swapped to little-endian
//! before the codec and back after it.

use super::cd_values::{CdValues, Layout};
use super::datatype::{space_dims, type_info};
use super::error::{fail, Error as Fail, Minor};
use super::loader::{api_for_ids, current, Api};
use super::sys::*;
use crate::codec;
use std::os::raw::{c_uint, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Largest cd_values array read back from a dcpl.
const CD_CAPACITY: usize = 256;

/// Reports a failure: onto HDF5's error stack when the library is resolved, else stderr.
fn report(api: Option<&Api>, func: &str, line: u32, f: &Fail) {
    match api {
        Some(a) => a.push_error(func, line, f.minor(), f.message()),
        None => eprintln!("h5z-apr: {func}: {}", f.message()),
    }
}

/// The error a caught panic becomes.
fn internal_panic(p: &(dyn std::any::Any + Send)) -> Fail {
    let message = if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    };
    Fail::new(
        Minor::CantFilter,
        format!("h5z-apr: internal panic: {message}"),
    )
}

const NO_API: &str = "h5z-apr cannot find the HDF5 library functions in this process \
                      (no libhdf5 visible through dlsym(RTLD_DEFAULT) or dl_iterate_phdr)";

/// The filter's cd_values in `dcpl` and its flags.
fn get_cd_values(api: &Api, dcpl: hid_t) -> Result<(c_uint, Vec<u32>), Fail> {
    let mut flags: c_uint = 0;
    let mut n: usize = CD_CAPACITY;
    let mut cd = vec![0u32; CD_CAPACITY];
    // SAFETY: cd has CD_CAPACITY slots; name buffer length 0 with null pointer is allowed.
    let r = unsafe {
        (api.get_filter_by_id2)(
            dcpl,
            crate::FILTER_ID as H5Z_filter_t,
            &mut flags,
            &mut n,
            cd.as_mut_ptr(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        return fail(
            Minor::CantFilter,
            "h5z-apr: cannot read the filter's cd_values from the dataset creation property list",
        );
    }
    if n > CD_CAPACITY {
        return fail(
            Minor::BadValue,
            format!("h5z-apr: {n} cd_values is far too many"),
        );
    }
    cd.truncate(n);
    Ok((flags, cd))
}

fn can_apply_impl(api: &Api, type_id: hid_t, space_id: hid_t) -> Result<(), Fail> {
    if type_id < 0 || space_id < 0 {
        return fail(
            Minor::BadType,
            "h5z-apr compresses dataset chunks only (not group heaps or other objects)",
        );
    }
    type_info(api, type_id)?;
    let dims = space_dims(api, space_id)?;
    if dims.is_empty() {
        return fail(
            Minor::BadType,
            "h5z-apr needs a chunked dataset of rank >= 1",
        );
    }
    Ok(())
}

fn set_local_impl(api: &Api, dcpl: hid_t, type_id: hid_t, space_id: hid_t) -> Result<(), Fail> {
    let (flags, cd) = get_cd_values(api, dcpl)?;
    // Parsing validates the settings (FORMAT.md §3.2) with the codec's own checks.
    let user = CdValues::user_part(&cd).map_err(|e| Fail::new(Minor::BadValue, e.to_string()))?;
    let layout = type_info(api, type_id).and_then(|ti| {
        let dims = space_dims(api, space_id)?;
        Layout::from_chunk(ti.dtype, ti.big_endian, &dims)
            .map_err(|e| Fail::new(Minor::BadValue, e.to_string()))
    });
    let layout = match layout {
        Ok(l) => l,
        // An optional filter that cannot apply stays in the pipeline without a layout: the
        // encoder then declines every chunk and HDF5 stores them unfiltered.
        Err(_) if flags & H5Z_FLAG_OPTIONAL != 0 => return Ok(()),
        Err(f) => return Err(f),
    };
    let stored = CdValues {
        user,
        layout: Some(layout),
    }
    .to_stored();
    // SAFETY: `stored` outlives the call; HDF5 copies the values.
    let r = unsafe {
        (api.modify_filter)(
            dcpl,
            crate::FILTER_ID as H5Z_filter_t,
            flags,
            stored.len(),
            stored.as_ptr(),
        )
    };
    if r < 0 {
        return fail(
            Minor::CantFilter,
            "h5z-apr: H5Pmodify_filter failed in set_local",
        );
    }
    Ok(())
}

/// `can_apply`: >0 accept, 0 refuse (with an error message on the stack), <0 error.
///
/// # Safety
/// Called by HDF5 with valid (or -1) ids.
pub unsafe extern "C" fn can_apply(dcpl_id: hid_t, type_id: hid_t, space_id: hid_t) -> htri_t {
    let r = catch_unwind(|| {
        let Some(api) = api_for_ids(dcpl_id, type_id, space_id) else {
            eprintln!("h5z-apr: can_apply: {NO_API}");
            return -1;
        };
        match can_apply_impl(api, type_id, space_id) {
            Ok(()) => 1,
            Err(f) => {
                // A refused OPTIONAL filter is simply skipped by HDF5: no error to report.
                let optional = dcpl_id >= 0
                    && get_cd_values(api, dcpl_id)
                        .map(|(fl, _)| fl & H5Z_FLAG_OPTIONAL != 0)
                        .unwrap_or(false);
                if !optional {
                    report(Some(api), "H5Z_apr_can_apply", line!(), &f);
                }
                0
            }
        }
    });
    r.unwrap_or_else(|p| {
        let f = internal_panic(&*p);
        report(current(), "H5Z_apr_can_apply", line!(), &f);
        -1
    })
}

/// `set_local`: normalises the user cd_values and appends the stored layout (FORMAT.md §3).
///
/// # Safety
/// Called by HDF5 with valid ids.
pub unsafe extern "C" fn set_local(dcpl_id: hid_t, type_id: hid_t, space_id: hid_t) -> herr_t {
    let r = catch_unwind(|| {
        let Some(api) = api_for_ids(dcpl_id, type_id, space_id) else {
            eprintln!("h5z-apr: set_local: {NO_API}");
            return -1;
        };
        match set_local_impl(api, dcpl_id, type_id, space_id) {
            Ok(()) => 0,
            Err(f) => {
                report(Some(api), "H5Z_apr_set_local", line!(), &f);
                -1
            }
        }
    });
    r.unwrap_or_else(|p| {
        let f = internal_panic(&*p);
        report(current(), "H5Z_apr_set_local", line!(), &f);
        -1
    })
}

/// Swaps every element of `data` between little- and big-endian.
pub fn swap_bytes(data: &mut [u8], elem: usize) {
    if elem > 1 {
        for e in data.chunks_exact_mut(elem) {
            e.reverse();
        }
    }
}

/// Output memory HDF5 can free: `H5allocate_memory` when resolved, else `malloc`.
struct Alloc<'a> {
    api: Option<&'a Api>,
}

impl Alloc<'_> {
    fn pair(&self) -> Option<(H5allocate_memory_t, H5free_memory_t)> {
        let a = self.api?;
        Some((a.allocate_memory?, a.free_memory?))
    }
    fn alloc(&self, n: usize) -> *mut u8 {
        let n = n.max(1);
        // SAFETY: plain allocation calls.
        unsafe {
            match self.pair() {
                Some((alloc, _)) => alloc(n, 0) as *mut u8,
                None => libc::malloc(n) as *mut u8,
            }
        }
    }
    /// # Safety
    /// `p` came from HDF5's chunk allocator (or from `alloc`).
    unsafe fn free(&self, p: *mut c_void) {
        match self.pair() {
            Some((_, free)) => {
                free(p);
            }
            None => libc::free(p),
        }
    }
}

/// Result of a filter pass: the output bytes, written in place or in a new buffer.
enum Output {
    InPlace(usize),
    New(*mut u8, usize),
}

/// The body of the filter callback on plain slices. `input` is `nbytes` long; `capacity`
/// is `*buf_size`.
fn filter_impl(
    alloc: &Alloc<'_>,
    reverse: bool,
    cd: &[u32],
    buf: *mut u8,
    nbytes: usize,
    capacity: usize,
) -> Result<Output, Fail> {
    if nbytes > capacity {
        return fail(
            Minor::CantFilter,
            format!("h5z-apr: nbytes {nbytes} exceeds the buffer size {capacity}"),
        );
    }
    let cdv = CdValues::parse(cd).map_err(|e| Fail::new(Minor::BadValue, e.to_string()))?;
    // SAFETY: HDF5 guarantees `buf` holds at least `nbytes` readable bytes.
    let input: &[u8] = if nbytes == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(buf, nbytes) }
    };
    if reverse {
        decode(alloc, &cdv, input)
    } else {
        let layout = cdv.layout.as_ref().ok_or_else(|| {
            Fail::new(
                Minor::BadValue,
                "h5z-apr: cd_values carry no stored layout (set_local did not run)",
            )
        })?;
        if nbytes != layout.nbytes() {
            return fail(
                Minor::CantFilter,
                format!(
                    "h5z-apr: chunk has {nbytes} bytes, chunk dims {:?} of {} need {}",
                    layout.dims,
                    layout.dtype.name(),
                    layout.nbytes()
                ),
            );
        }
        let cfg = cdv.user.config();
        let stream = if layout.big_endian && layout.dtype.size() > 1 {
            let mut le = input.to_vec();
            swap_bytes(&mut le, layout.dtype.size());
            codec::compress(&le, layout.dtype, &layout.dims, &cfg)
        } else {
            codec::compress(input, layout.dtype, &layout.dims, &cfg)
        }
        .map_err(|e| {
            Fail::new(
                Minor::CantFilter,
                format!("h5z-apr: compression failed: {e}"),
            )
        })?;
        if stream.len() <= capacity {
            // SAFETY: buf has `capacity` writable bytes; the stream is a separate Vec.
            unsafe { std::ptr::copy_nonoverlapping(stream.as_ptr(), buf, stream.len()) };
            Ok(Output::InPlace(stream.len()))
        } else {
            let p = alloc.alloc(stream.len());
            if p.is_null() {
                return fail(Minor::CantFilter, "h5z-apr: out of memory");
            }
            // SAFETY: p has stream.len() bytes.
            unsafe { std::ptr::copy_nonoverlapping(stream.as_ptr(), p, stream.len()) };
            Ok(Output::New(p, stream.len()))
        }
    }
}

fn decode(alloc: &Alloc<'_>, cdv: &CdValues, input: &[u8]) -> Result<Output, Fail> {
    let corrupt = |e: crate::Error| {
        Fail::new(
            Minor::CantFilter,
            format!("h5z-apr: cannot decode chunk: {e}"),
        )
    };
    // Everything checkable from the header, length and CRC, before the output is allocated:
    // the stream must hold exactly this dataset's chunk (dtype, shape, hence decoded size), and
    // its body must be able to back that size.
    let (limits, big_endian) = match &cdv.layout {
        Some(l) => (codec::DecodeLimits::chunk(l.dtype, &l.dims), l.big_endian),
        None => (codec::DecodeLimits::default(), false),
    };
    let header = codec::validate_stream(input, &limits).map_err(|e| {
        let expect = match &cdv.layout {
            Some(l) => format!(" (the dataset's chunk is {} {:?})", l.dtype.name(), l.dims),
            None => String::new(),
        };
        Fail::new(
            Minor::CantFilter,
            format!("h5z-apr: cannot decode chunk (refused before decoding): {e}{expect}"),
        )
    })?;
    let n = header.nbytes();
    let p = alloc.alloc(n);
    if p.is_null() {
        return fail(Minor::CantFilter, "h5z-apr: out of memory");
    }
    // SAFETY: p has n writable bytes, exclusively ours until handed to HDF5.
    let out = unsafe { std::slice::from_raw_parts_mut(p, n) };
    if let Err(e) = codec::decompress_into(input, out) {
        // SAFETY: p came from alloc.alloc.
        unsafe { alloc.free(p as *mut c_void) };
        return Err(corrupt(e));
    }
    if big_endian {
        swap_bytes(out, header.dtype.size());
    }
    Ok(Output::New(p, n))
}

/// The filter callback (`H5Z_func_t`). Returns the output size, or 0 on failure with `*buf`
/// untouched and a message on HDF5's error stack.
///
/// # Safety
/// Called by HDF5: `cd_values` has `cd_nelmts` entries, `*buf` holds `nbytes` valid bytes and
/// has `*buf_size` capacity, and was allocated by HDF5's chunk allocator.
pub unsafe extern "C" fn filter(
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
    nbytes: usize,
    buf_size: *mut usize,
    buf: *mut *mut c_void,
) -> usize {
    let reverse = flags & H5Z_FLAG_REVERSE != 0;
    let func = if reverse {
        "H5Z_apr_decode"
    } else {
        "H5Z_apr_encode"
    };
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<usize, Fail> {
        if buf.is_null() || (*buf).is_null() || buf_size.is_null() {
            return fail(Minor::CantFilter, "h5z-apr: null buffer");
        }
        let cd: &[u32] = if cd_nelmts == 0 || cd_values.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(cd_values, cd_nelmts)
        };
        let api = current();
        let alloc = Alloc { api };
        match filter_impl(&alloc, reverse, cd, *buf as *mut u8, nbytes, *buf_size)? {
            Output::InPlace(n) => Ok(n),
            Output::New(p, n) => {
                alloc.free(*buf);
                *buf = p as *mut c_void;
                *buf_size = n;
                Ok(n)
            }
        }
    }));
    let f = match r {
        Ok(Ok(n)) => return n,
        // HDF5 silently stores the chunk unfiltered when an OPTIONAL filter declines to
        // encode it; an error left on the stack would only confuse later reports.
        Ok(Err(_)) if !reverse && flags & H5Z_FLAG_OPTIONAL != 0 => return 0,
        Ok(Err(f)) => f,
        Err(p) => internal_panic(&*p),
    };
    let _ = catch_unwind(AssertUnwindSafe(|| report(current(), func, line!(), &f)));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_bytes_swaps_each_element() {
        let mut v = vec![1u8, 2, 3, 4, 5, 6, 7, 8];
        swap_bytes(&mut v, 4);
        assert_eq!(v, [4, 3, 2, 1, 8, 7, 6, 5]);
        swap_bytes(&mut v, 1);
        assert_eq!(v, [4, 3, 2, 1, 8, 7, 6, 5]);
        let x = 0x1234u16.to_be_bytes();
        let mut y = x.to_vec();
        swap_bytes(&mut y, 2);
        assert_eq!(u16::from_le_bytes([y[0], y[1]]), 0x1234);
    }
}
