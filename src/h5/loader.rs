//! Run-time resolution of the HDF5 functions the plugin calls, from the libhdf5 the host has
//! already loaded (the plugin has no DT_NEEDED on libhdf5).
//!
//! Order: (1) the global scope (`dlsym(RTLD_DEFAULT)`: h5dump, h5repack, C programs linked to
//! libhdf5); (2) every loaded object whose file name starts with `libhdf5` and is not a
//! high-level/C++/Fortran wrapper, found with `dl_iterate_phdr` and reopened with
//! `RTLD_NOLOAD` (h5py wheels load their bundled libhdf5 `RTLD_LOCAL`). When several copies
//! are loaded (h5py next to another package bundling HDF5), [`api_for_ids`] picks the copy the
//! ids of a `can_apply`/`set_local` call belong to, and the filter callback uses the copy
//! picked last ([`current`]).
//! [`load_by_name`] is the last resort for programs that load no HDF5 themselves (the
//! `h5z-apr` binary): it dlopens the library by name.

use super::error::Minor;
use super::sys::*;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// A resolved libhdf5: the handle and the functions the filter needs.
pub struct Api {
    handle: *mut c_void,
    /// Where the symbols come from: `"<global scope>"` or the library path.
    pub origin: String,
    pub open: H5open_t,
    pub get_libversion: H5get_libversion_t,
    pub push2: H5Epush2_t,
    pub get_filter_by_id2: H5Pget_filter_by_id2_t,
    pub modify_filter: H5Pmodify_filter_t,
    pub t_get_class: H5Tget_class_t,
    pub t_get_size: H5Tget_size_t,
    pub t_get_sign: H5Tget_sign_t,
    pub t_get_order: H5Tget_order_t,
    pub t_get_precision: H5Tget_precision_t,
    pub t_get_offset: H5Tget_offset_t,
    pub s_get_ndims: H5Sget_simple_extent_ndims_t,
    pub s_get_dims: H5Sget_simple_extent_dims_t,
    pub zregister: H5Zregister_t,
    pub zfilter_avail: H5Zfilter_avail_t,
    pub allocate_memory: Option<H5allocate_memory_t>,
    pub free_memory: Option<H5free_memory_t>,
    pub iget_type: Option<H5Iget_type_t>,
    pub eget_auto2: Option<H5Eget_auto2_t>,
    pub eset_auto2: Option<H5Eset_auto2_t>,
    err_cls: *const hid_t,
    maj_pline: *const hid_t,
    min_cantfilter: *const hid_t,
    min_badtype: *const hid_t,
    min_badvalue: *const hid_t,
}

// SAFETY: the pointers are addresses of functions and global variables inside a library that
// stays loaded for the life of the process (we never dlclose); HDF5 serialises its own API.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

impl Api {
    /// Looks a symbol up in this library. `T` must be a function pointer type or a raw pointer.
    ///
    /// # Safety
    /// `T` must describe the symbol's real type.
    pub unsafe fn sym<T: Copy>(&self, name: &CStr) -> Option<T> {
        sym_in(self.handle, name)
    }

    /// Resolves every required symbol from `handle`; `None` if one is missing.
    unsafe fn resolve(handle: *mut c_void, origin: String) -> Option<Api> {
        macro_rules! f {
            ($n:literal) => {
                sym_in(
                    handle,
                    CStr::from_bytes_with_nul(concat!($n, "\0").as_bytes()).ok()?,
                )
            };
        }
        Some(Api {
            handle,
            origin,
            open: f!("H5open")?,
            get_libversion: f!("H5get_libversion")?,
            push2: f!("H5Epush2")?,
            get_filter_by_id2: f!("H5Pget_filter_by_id2")?,
            modify_filter: f!("H5Pmodify_filter")?,
            t_get_class: f!("H5Tget_class")?,
            t_get_size: f!("H5Tget_size")?,
            t_get_sign: f!("H5Tget_sign")?,
            t_get_order: f!("H5Tget_order")?,
            t_get_precision: f!("H5Tget_precision")?,
            t_get_offset: f!("H5Tget_offset")?,
            s_get_ndims: f!("H5Sget_simple_extent_ndims")?,
            s_get_dims: f!("H5Sget_simple_extent_dims")?,
            zregister: f!("H5Zregister")?,
            zfilter_avail: f!("H5Zfilter_avail")?,
            allocate_memory: f!("H5allocate_memory"),
            free_memory: f!("H5free_memory"),
            iget_type: f!("H5Iget_type"),
            eget_auto2: f!("H5Eget_auto2"),
            eset_auto2: f!("H5Eset_auto2"),
            err_cls: f!("H5E_ERR_CLS_g")?,
            maj_pline: f!("H5E_PLINE_g")?,
            min_cantfilter: f!("H5E_CANTFILTER_g")?,
            min_badtype: f!("H5E_BADTYPE_g").unwrap_or(std::ptr::null()),
            min_badvalue: f!("H5E_BADVALUE_g").unwrap_or(std::ptr::null()),
        })
    }

    /// Library version `(major, minor, release)`.
    pub fn version(&self) -> (u32, u32, u32) {
        let (mut a, mut b, mut c) = (0, 0, 0);
        // SAFETY: resolved H5get_libversion; out-pointers are valid.
        unsafe { (self.get_libversion)(&mut a, &mut b, &mut c) };
        (a, b, c)
    }

    /// Whether the ids of a `can_apply`/`set_local` call belong to this copy: `dcpl` holds
    /// filter 47815 and `type_id`/`space_id` (when >= 0) are a datatype and a dataspace.
    /// Id values alone are ambiguous (two copies hand out the same numbers) and `H5Iis_valid`
    /// is false for the library-internal dcpl copy these callbacks get, hence the content
    /// checks; they run with this copy's automatic error printing off.
    pub fn owns(&self, dcpl: hid_t, type_id: hid_t, space_id: hid_t) -> bool {
        const H5I_DATATYPE: H5I_type_t = 3;
        const H5I_DATASPACE: H5I_type_t = 4;
        let (Some(get_type), Some(get_auto), Some(set_auto)) =
            (self.iget_type, self.eget_auto2, self.eset_auto2)
        else {
            return false;
        };
        let mut func: *const c_void = std::ptr::null();
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: resolved functions; auto-print settings saved and restored; the filter
        // query writes at most `n` = 0 values and no name.
        unsafe {
            let saved = get_auto(H5E_DEFAULT, &mut func, &mut data) >= 0;
            set_auto(H5E_DEFAULT, std::ptr::null(), std::ptr::null_mut());
            let mut ok = (type_id < 0 || get_type(type_id) == H5I_DATATYPE)
                && (space_id < 0 || get_type(space_id) == H5I_DATASPACE);
            if ok {
                let (mut flags, mut n) = (0u32, 0usize);
                ok = (self.get_filter_by_id2)(
                    dcpl,
                    crate::FILTER_ID as H5Z_filter_t,
                    &mut flags,
                    &mut n,
                    std::ptr::null_mut(),
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                ) >= 0;
            }
            if saved {
                set_auto(H5E_DEFAULT, func, data);
            }
            ok
        }
    }

    /// Pushes `msg` onto HDF5's default error stack (major H5E_PLINE).
    pub fn push_error(&self, func: &str, line: u32, minor: Minor, msg: &str) {
        let min_ptr = match minor {
            Minor::BadType if !self.min_badtype.is_null() => self.min_badtype,
            Minor::BadValue if !self.min_badvalue.is_null() => self.min_badvalue,
            _ => self.min_cantfilter,
        };
        let file = b"h5z-apr\0";
        let func = CString::new(func.replace('\0', " ")).unwrap_or_default();
        let msg = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the globals are hid_t variables initialised by the library (the host
        // called into HDF5, which runs H5open); "%s" consumes exactly one C string.
        unsafe {
            (self.push2)(
                H5E_DEFAULT,
                file.as_ptr() as *const c_char,
                func.as_ptr(),
                line,
                *self.err_cls,
                *self.maj_pline,
                *min_ptr,
                b"%s\0".as_ptr() as *const c_char,
                msg.as_ptr(),
            );
        }
    }
}

/// # Safety
/// `T` must be the symbol's type (a function pointer or a raw data pointer).
unsafe fn sym_in<T: Copy>(handle: *mut c_void, name: &CStr) -> Option<T> {
    assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<*mut c_void>());
    let p = libc::dlsym(handle, name.as_ptr());
    if p.is_null() {
        None
    } else {
        Some(std::mem::transmute_copy::<*mut c_void, T>(&p))
    }
}

/// True for file names of the core library: `libhdf5.so.103`, `libhdf5_serial.so.103`,
/// `libhdf5-1a2b3c.so.320.0.0`; false for `_hl`, C++ and Fortran wrappers.
pub fn is_core_libhdf5(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with("libhdf5")
        && base.contains(".so")
        && !base.contains("_hl")
        && !base.contains("hl_")
        && !base.contains("cpp")
        && !base.contains("fortran")
}

/// Paths of the loaded objects that look like the core libhdf5.
fn loaded_libhdf5_paths() -> Vec<String> {
    unsafe extern "C" fn cb(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: glibc passes a valid dl_phdr_info; data is the Vec below.
            let out = &mut *(data as *mut Vec<String>);
            let name = (*info).dlpi_name;
            if !name.is_null() {
                if let Ok(s) = CStr::from_ptr(name).to_str() {
                    if is_core_libhdf5(s) {
                        out.push(s.to_owned());
                    }
                }
            }
        }));
        // Non-zero stops the iteration.
        r.map(|_| 0).unwrap_or(1)
    }
    let mut out: Vec<String> = Vec::new();
    // SAFETY: the callback only reads the info and pushes to `out`.
    unsafe { libc::dl_iterate_phdr(Some(cb), &mut out as *mut Vec<String> as *mut c_void) };
    out
}

/// Finds every libhdf5 copy currently loaded in the process.
fn discover() -> Vec<Api> {
    let mut apis: Vec<Api> = Vec::new();
    // SAFETY: RTLD_DEFAULT lookups only read the symbol tables.
    if let Some(a) = unsafe { Api::resolve(libc::RTLD_DEFAULT, "<global scope>".into()) } {
        apis.push(a);
    }
    for path in loaded_libhdf5_paths() {
        let Ok(c) = CString::new(path.clone()) else {
            continue;
        };
        // SAFETY: RTLD_NOLOAD only returns a handle of an already-loaded object.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
        if h.is_null() {
            continue;
        }
        // SAFETY: as above.
        if let Some(a) = unsafe { Api::resolve(h, path) } {
            if apis.iter().all(|b| b.open as usize != a.open as usize) {
                apis.push(a);
            }
        }
    }
    apis
}

static APIS: OnceLock<Vec<Api>> = OnceLock::new();
static DISCOVERY: Mutex<()> = Mutex::new(());

/// All loaded libhdf5 copies (empty if none is loaded yet). Cached once something is found.
pub fn apis() -> &'static [Api] {
    if let Some(v) = APIS.get() {
        return v;
    }
    let _g = DISCOVERY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = APIS.get() {
        return v;
    }
    let found = discover();
    if found.is_empty() {
        return &[];
    }
    APIS.get_or_init(|| found)
}

/// Index of the copy [`api_for_ids`] picked last.
static LAST_PICKED: AtomicUsize = AtomicUsize::new(0);

/// The library copy to use when no id tells (the filter callback, the reading API): the one
/// [`api_for_ids`] picked last, else the first found.
pub fn current() -> Option<&'static Api> {
    let all = apis();
    all.get(LAST_PICKED.load(Ordering::Relaxed)).or(all.first())
}

/// The copy that owns the ids of a `can_apply`/`set_local` call (see [`Api::owns`]).
pub fn api_for_ids(dcpl: hid_t, type_id: hid_t, space_id: hid_t) -> Option<&'static Api> {
    let all = apis();
    if all.len() <= 1 {
        return all.first();
    }
    let i = all
        .iter()
        .position(|a| a.owns(dcpl, type_id, space_id))
        .unwrap_or(0);
    LAST_PICKED.store(i, Ordering::Relaxed);
    all.get(i)
}

/// Library names tried by [`load_by_name`] after `$H5Z_APR_LIBHDF5`.
pub const LIBHDF5_NAMES: &[&str] = &[
    "libhdf5.so",
    "libhdf5_serial.so",
    "libhdf5_serial.so.103",
    "libhdf5.so.103",
    "libhdf5.so.200",
    "libhdf5.so.310",
    "libhdf5.so.320",
    "/usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5.so",
    "/usr/lib/aarch64-linux-gnu/hdf5/serial/libhdf5.so",
];

/// Returns the loaded libhdf5, loading one by name when the process has none
/// (`$H5Z_APR_LIBHDF5` first, then [`LIBHDF5_NAMES`]).
pub fn load_by_name() -> Result<&'static Api, String> {
    if let Some(a) = current() {
        return Ok(a);
    }
    let mut names: Vec<String> = Vec::new();
    if let Ok(v) = std::env::var("H5Z_APR_LIBHDF5") {
        if !v.is_empty() {
            names.push(v);
        }
    }
    names.extend(LIBHDF5_NAMES.iter().map(|s| s.to_string()));
    let mut errors = Vec::new();
    for n in &names {
        let Ok(c) = CString::new(n.as_str()) else {
            continue;
        };
        // SAFETY: loading a shared library runs its constructors; libhdf5 is designed for it.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if h.is_null() {
            // SAFETY: dlerror returns a thread-local C string or null.
            let e = unsafe { libc::dlerror() };
            if !e.is_null() {
                // SAFETY: non-null dlerror string.
                errors.push(
                    unsafe { CStr::from_ptr(e as *const c_char) }
                        .to_string_lossy()
                        .into_owned(),
                );
            }
            continue;
        }
        if let Some(a) = current() {
            return Ok(a);
        }
        errors.push(format!("{n}: loaded but HDF5 symbols are missing"));
    }
    Err(format!(
        "no libhdf5 found (set H5Z_APR_LIBHDF5 to its path); tried {}: {}",
        names.join(", "),
        errors.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_core_library_names() {
        for ok in [
            "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103",
            "/x/h5py.libs/libhdf5-0e4d3f8a.so.320.0.0",
            "libhdf5.so",
            "/opt/hdf5/lib/libhdf5.so.310",
        ] {
            assert!(is_core_libhdf5(ok), "{ok}");
        }
        for no in [
            "/usr/lib/x86_64-linux-gnu/libhdf5_serial_hl.so.100",
            "/x/h5py.libs/libhdf5_hl-6a1b.so.320.0.0",
            "/usr/lib/libhdf5_serial_cpp.so.103",
            "/usr/lib/libhdf5_serial_fortran.so.102",
            "/usr/lib/libhdf5_serialhl_fortran.so.100",
            "/usr/lib/libz.so.1",
            "/usr/lib/libhdf5.a",
        ] {
            assert!(!is_core_libhdf5(no), "{no}");
        }
    }
}
