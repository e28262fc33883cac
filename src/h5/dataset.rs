//! A small HDF5 reading API for the `h5z-apr` tool: list the datasets of a file and read one
//! as little-endian C-order bytes. Uses the libhdf5 already loaded in the process or loads
//! one by name ([`super::loader::load_by_name`]), and registers filter 47815 with it when
//! the library does not have it yet.

use super::loader::{load_by_name, Api};
use super::sys::*;
use crate::codec::DType;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;
use std::sync::Mutex;

/// Serialises this module's HDF5 calls: a serial (non-threadsafe) libhdf5 must not be entered
/// from two threads at once.
static HDF5_LOCK: Mutex<()> = Mutex::new(());

pub(super) fn lock() -> std::sync::MutexGuard<'static, ()> {
    HDF5_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One dataset read into memory.
#[derive(Debug, Clone, PartialEq)]
pub struct H5Dataset {
    pub dtype: DType,
    /// Dataset dims (empty for a scalar dataset).
    pub shape: Vec<usize>,
    /// Chunk dims when the layout is chunked.
    pub chunks: Option<Vec<usize>>,
    /// Elements, little-endian, C order.
    pub data: Vec<u8>,
    /// Bytes the dataset occupies in the file (`H5Dget_storage_size`).
    pub storage_size: u64,
}

/// The extra functions this module needs, from the same library as the [`Api`].
pub(super) struct Io {
    pub(super) api: &'static Api,
    pub(super) fopen: H5Fopen_t,
    pub(super) fclose: H5close_id_t,
    pub(super) dopen2: H5Dopen2_t,
    pub(super) dclose: H5close_id_t,
    pub(super) dget_type: H5get_id_t,
    pub(super) dget_space: H5get_id_t,
    pub(super) dget_create_plist: H5get_id_t,
    pub(super) dget_storage_size: H5Dget_storage_size_t,
    pub(super) dread: H5Dread_t,
    pub(super) pget_layout: H5Pget_layout_t,
    pub(super) pget_chunk: H5Pget_chunk_t,
    pub(super) pclose: H5close_id_t,
    pub(super) sclose: H5close_id_t,
    pub(super) tclose: H5close_id_t,
    pub(super) lvisit: H5Lvisit_t,
    pub(super) oopen: H5Oopen_t,
    pub(super) oclose: H5close_id_t,
    pub(super) iget_type: H5Iget_type_t,
    pub(super) eget_auto2: H5Eget_auto2_t,
    pub(super) eset_auto2: H5Eset_auto2_t,
}

impl Io {
    pub(super) fn load() -> Result<Io, String> {
        let api = load_by_name()?;
        macro_rules! f {
            ($($n:literal),+) => {{
                let mut r = None;
                // SAFETY: each name is the C function whose type the field declares.
                $( if r.is_none() { r = unsafe { api.sym(CStr::from_bytes_with_nul(concat!($n, "\0").as_bytes()).unwrap()) }; } )+
                r.ok_or_else(|| format!("libhdf5 at {} lacks {}", api.origin, [$($n),+].join("/")))?
            }};
        }
        let io = Io {
            api,
            fopen: f!("H5Fopen"),
            fclose: f!("H5Fclose"),
            dopen2: f!("H5Dopen2"),
            dclose: f!("H5Dclose"),
            dget_type: f!("H5Dget_type"),
            dget_space: f!("H5Dget_space"),
            dget_create_plist: f!("H5Dget_create_plist"),
            dget_storage_size: f!("H5Dget_storage_size"),
            dread: f!("H5Dread"),
            pget_layout: f!("H5Pget_layout"),
            pget_chunk: f!("H5Pget_chunk"),
            pclose: f!("H5Pclose"),
            sclose: f!("H5Sclose"),
            tclose: f!("H5Tclose"),
            lvisit: f!("H5Lvisit2", "H5Lvisit"),
            oopen: f!("H5Oopen"),
            oclose: f!("H5Oclose"),
            iget_type: f!("H5Iget_type"),
            eget_auto2: f!("H5Eget_auto2"),
            eset_auto2: f!("H5Eset_auto2"),
        };
        // SAFETY: H5open initialises the library (idempotent).
        if unsafe { (api.open)() } < 0 {
            return Err("H5open failed".into());
        }
        // SAFETY: resolved function, plain id argument.
        if unsafe { (api.zfilter_avail)(crate::FILTER_ID as H5Z_filter_t) } <= 0 {
            super::register_with(api).map_err(|e| e.to_string())?;
        }
        Ok(io)
    }

    /// Reads an `hid_t` global such as `H5T_STD_U16LE_g` (library initialised by `load`).
    pub(super) fn global(&self, name: &str) -> Result<hid_t, String> {
        let c = CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: the symbol is an hid_t variable.
        let p: *const hid_t = unsafe { self.api.sym(&c) }
            .ok_or_else(|| format!("libhdf5 at {} lacks {name}", self.api.origin))?;
        // SAFETY: initialised global of the loaded library.
        Ok(unsafe { *p })
    }

    pub(super) fn le_type(&self, d: DType) -> Result<hid_t, String> {
        self.global(match d {
            DType::U8 => "H5T_STD_U8LE_g",
            DType::I8 => "H5T_STD_I8LE_g",
            DType::U16 => "H5T_STD_U16LE_g",
            DType::I16 => "H5T_STD_I16LE_g",
            DType::U32 => "H5T_STD_U32LE_g",
            DType::I32 => "H5T_STD_I32LE_g",
            DType::F32 => "H5T_IEEE_F32LE_g",
            DType::F64 => "H5T_IEEE_F64LE_g",
        })
    }

    /// Runs `f` with HDF5's automatic error printing off (for calls whose failure is an
    /// ordinary answer, such as "no such file or dataset").
    pub(super) fn quietly<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut func: *const c_void = std::ptr::null();
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: saves and restores the default stack's auto-print settings.
        unsafe {
            let saved = (self.eget_auto2)(H5E_DEFAULT, &mut func, &mut data) >= 0;
            (self.eset_auto2)(H5E_DEFAULT, std::ptr::null(), std::ptr::null_mut());
            let r = f();
            if saved {
                (self.eset_auto2)(H5E_DEFAULT, func, data);
            }
            r
        }
    }

    pub(super) fn open_file(&self, file: &Path) -> Result<Id<'_>, String> {
        let c = CString::new(file.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: valid C string; default file access list.
        let id = self.quietly(|| unsafe { (self.fopen)(c.as_ptr(), H5F_ACC_RDONLY, H5P_DEFAULT) });
        Id::new(id, self.fclose).ok_or_else(|| format!("{}: cannot open as HDF5", file.display()))
    }
}

/// An open HDF5 id, closed on drop.
pub(super) struct Id<'a> {
    pub(super) id: hid_t,
    close: H5close_id_t,
    _io: std::marker::PhantomData<&'a Io>,
}

impl<'a> Id<'a> {
    pub(super) fn new(id: hid_t, close: H5close_id_t) -> Option<Id<'a>> {
        (id >= 0).then(|| Id {
            id,
            close,
            _io: std::marker::PhantomData,
        })
    }
}

impl Drop for Id<'_> {
    fn drop(&mut self) {
        // SAFETY: the id is open and owned by this guard.
        unsafe { (self.close)(self.id) };
    }
}

/// Dtype, shape and chunk shape (when chunked) of a dataset.
pub(super) type Description = (DType, Vec<usize>, Option<Vec<usize>>);

/// The [`Description`] of the open dataset `d`.
pub(super) fn describe(io: &Io, d: hid_t, what: &str) -> Result<Description, String> {
    // SAFETY (all calls below): resolved HDF5 functions on ids owned by guards.
    let t = Id::new(unsafe { (io.dget_type)(d) }, io.tclose)
        .ok_or_else(|| format!("{what}: cannot get datatype"))?;
    let ti = super::datatype::type_info(io.api, t.id).map_err(|e| format!("{what}: {e}"))?;
    let s = Id::new(unsafe { (io.dget_space)(d) }, io.sclose)
        .ok_or_else(|| format!("{what}: cannot get dataspace"))?;
    let shape: Vec<usize> = super::datatype::space_dims(io.api, s.id)
        .map_err(|e| format!("{what}: {e}"))?
        .into_iter()
        .map(|x| x as usize)
        .collect();
    let p = Id::new(unsafe { (io.dget_create_plist)(d) }, io.pclose)
        .ok_or_else(|| format!("{what}: cannot get creation property list"))?;
    let chunks = if unsafe { (io.pget_layout)(p.id) } == H5D_CHUNKED {
        let mut dims = vec![0u64; shape.len().max(1)];
        let r = unsafe { (io.pget_chunk)(p.id, dims.len() as c_int, dims.as_mut_ptr()) };
        if r < 0 {
            return Err(format!("{what}: cannot read chunk dims"));
        }
        dims.truncate(r as usize);
        Some(dims.into_iter().map(|x| x as usize).collect())
    } else {
        None
    };
    Ok((ti.dtype, shape, chunks))
}

/// Reads dataset `name` of `file` (any supported dtype; big-endian data is converted).
pub fn read_dataset(file: &Path, name: &str) -> Result<H5Dataset, String> {
    let _guard = lock();
    let io = Io::load()?;
    let f = io.open_file(file)?;
    let cname = CString::new(name).map_err(|e| e.to_string())?;
    let what = format!("{}:{name}", file.display());
    // SAFETY: open file id, valid C string.
    let d = Id::new(
        io.quietly(|| unsafe { (io.dopen2)(f.id, cname.as_ptr(), H5P_DEFAULT) }),
        io.dclose,
    )
    .ok_or_else(|| format!("{what}: no such dataset"))?;
    let (dtype, shape, chunks) = describe(&io, d.id, &what)?;
    let n: usize = shape.iter().product();
    let nbytes = n
        .checked_mul(dtype.size())
        .ok_or_else(|| format!("{what}: too large"))?;
    let mut data = vec![0u8; nbytes];
    let mem_type = io.le_type(dtype)?;
    if nbytes > 0 {
        // SAFETY: open dataset; `data` holds the whole dataset in the memory type.
        let r = unsafe {
            (io.dread)(
                d.id,
                mem_type,
                H5S_ALL,
                H5S_ALL,
                H5P_DEFAULT,
                data.as_mut_ptr() as *mut c_void,
            )
        };
        if r < 0 {
            return Err(format!(
                "{what}: H5Dread failed (see the HDF5 error stack above)"
            ));
        }
    }
    // SAFETY: open dataset id.
    let storage_size = unsafe { (io.dget_storage_size)(d.id) };
    Ok(H5Dataset {
        dtype,
        shape,
        chunks,
        data,
        storage_size,
    })
}

/// Full paths (`/group/name`) of every dataset reachable through hard links, in name order.
pub fn list_datasets(file: &Path) -> Result<Vec<String>, String> {
    let _guard = lock();
    let io = Io::load()?;
    let f = io.open_file(file)?;
    struct Visit<'a> {
        io: &'a Io,
        names: Vec<String>,
    }
    unsafe extern "C" fn cb(
        group: hid_t,
        name: *const c_char,
        info: *const c_void,
        op: *mut c_void,
    ) -> herr_t {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: `op` is the Visit below; `info` starts with the link type (an int) in
            // both H5L_info1_t and H5L_info2_t; H5L_TYPE_HARD is 0.
            let v = &mut *(op as *mut Visit<'_>);
            if info.is_null() || *(info as *const c_int) != 0 {
                return 0;
            }
            let o = (v.io.oopen)(group, name, H5P_DEFAULT);
            if o < 0 {
                return 0;
            }
            if (v.io.iget_type)(o) == H5I_DATASET {
                let s = CStr::from_ptr(name).to_string_lossy();
                v.names.push(format!("/{s}"));
            }
            (v.io.oclose)(o);
            0
        }));
        r.unwrap_or(-1)
    }
    let mut v = Visit {
        io: &io,
        names: Vec::new(),
    };
    // SAFETY: open file id; callback and op data live for the call.
    let r = unsafe {
        (io.lvisit)(
            f.id,
            H5_INDEX_NAME,
            H5_ITER_NATIVE,
            Some(cb),
            &mut v as *mut Visit<'_> as *mut c_void,
        )
    };
    if r < 0 {
        return Err(format!("{}: cannot list objects", file.display()));
    }
    let mut names = v.names;
    names.sort();
    Ok(names)
}
