//! Streaming HDF5 I/O for the `h5z-apr compress` command (not a public API): read a dataset
//! box by box (hyperslabs), and create a filter-47815 dataset whose chunks are written already
//! compressed (`H5Dwrite_chunk`, HDF5 >= 1.10.2).
//!
//! The dataset is created through the ordinary filter pipeline (`H5Pset_filter` with the user
//! cd_values), so HDF5 calls this crate's `can_apply`/`set_local` and stores exactly the
//! cd_values they compute; [`ChunkWriter`] reads them back and hands the caller the codec
//! shape and configuration the filter itself would use. Every call is serialised with the
//! module lock of [`super::dataset`] (a serial libhdf5 must not be entered concurrently).

use super::cd_values::{CdValues, Layout};
use super::dataset::{describe, lock, Id, Io};
use super::sys::*;
use crate::codec::{Config, DType};
use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_uint, c_void};
use std::path::Path;

fn to_hsize(v: &[usize]) -> Vec<hsize_t> {
    v.iter().map(|&x| x as hsize_t).collect()
}

/// The writing and hyperslab functions, from the same library as [`Io`].
struct WriteFns {
    fcreate: H5Fcreate_t,
    screate_simple: H5Screate_simple_t,
    sselect_hyperslab: H5Sselect_hyperslab_t,
    pcreate: H5Pcreate_t,
    pset_chunk: H5Pset_chunk_t,
    pset_filter: H5Pset_filter_t,
    pset_create_intermediate_group: H5Pset_create_intermediate_group_t,
    dcreate2: H5Dcreate2_t,
    dwrite_chunk: Option<H5Dwrite_chunk_t>,
}

impl WriteFns {
    fn load(io: &Io) -> Result<WriteFns, String> {
        macro_rules! f {
            ($n:literal) => {{
                // SAFETY: the name is the C function whose type the field declares.
                let r = unsafe {
                    io.api
                        .sym(CStr::from_bytes_with_nul(concat!($n, "\0").as_bytes()).unwrap())
                };
                r
            }};
        }
        macro_rules! req {
            ($n:literal) => {
                f!($n).ok_or_else(|| format!("libhdf5 at {} lacks {}", io.api.origin, $n))?
            };
        }
        Ok(WriteFns {
            fcreate: req!("H5Fcreate"),
            screate_simple: req!("H5Screate_simple"),
            sselect_hyperslab: req!("H5Sselect_hyperslab"),
            pcreate: req!("H5Pcreate"),
            pset_chunk: req!("H5Pset_chunk"),
            pset_filter: req!("H5Pset_filter"),
            pset_create_intermediate_group: req!("H5Pset_create_intermediate_group"),
            dcreate2: req!("H5Dcreate2"),
            dwrite_chunk: f!("H5Dwrite_chunk"),
        })
    }
}

/// An open dataset read box by box.
pub struct SlabReader {
    io: Io,
    fns: WriteFns,
    file: hid_t,
    dset: hid_t,
    mem_type: hid_t,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Chunk dims when the layout is chunked.
    pub chunks: Option<Vec<usize>>,
    what: String,
}

impl SlabReader {
    /// Opens dataset `name` of `file` for reading.
    pub fn open(file: &Path, name: &str) -> Result<SlabReader, String> {
        let _guard = lock();
        let io = Io::load()?;
        let fns = WriteFns::load(&io)?;
        let what = format!("{}:{name}", file.display());
        let f = io.open_file(file)?;
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: open file id, valid C string.
        let d = Id::new(
            io.quietly(|| unsafe { (io.dopen2)(f.id, cname.as_ptr(), H5P_DEFAULT) }),
            io.dclose,
        )
        .ok_or_else(|| format!("{what}: no such dataset"))?;
        let (dtype, shape, chunks) = describe(&io, d.id, &what)?;
        let mem_type = io.le_type(dtype)?;
        let (file, dset) = (f.id, d.id);
        std::mem::forget(d);
        std::mem::forget(f);
        Ok(SlabReader {
            io,
            fns,
            file,
            dset,
            mem_type,
            dtype,
            shape,
            chunks,
            what,
        })
    }

    /// Reads the box `start..start+count` into `out` (C order, little-endian).
    pub fn read_box(&self, start: &[usize], count: &[usize], out: &mut [u8]) -> Result<(), String> {
        let n: usize = count.iter().product();
        if start.len() != self.shape.len() || count.len() != self.shape.len() {
            return Err(format!("{}: box rank does not match", self.what));
        }
        if out.len() != n * self.dtype.size() {
            return Err(format!("{}: box buffer has the wrong size", self.what));
        }
        if n == 0 {
            return Ok(());
        }
        let _guard = lock();
        let io = &self.io;
        let (st, ct) = (to_hsize(start), to_hsize(count));
        // SAFETY: resolved functions on ids owned here; the arrays have `rank` entries and
        // `out` holds the `n` elements of the memory space.
        unsafe {
            let fs = Id::new((io.dget_space)(self.dset), io.sclose)
                .ok_or_else(|| format!("{}: cannot get dataspace", self.what))?;
            let rank = ct.len() as c_int;
            let ms = Id::new(
                (self.fns.screate_simple)(rank, ct.as_ptr(), std::ptr::null()),
                io.sclose,
            )
            .ok_or_else(|| format!("{}: cannot create a memory dataspace", self.what))?;
            if (self.fns.sselect_hyperslab)(
                fs.id,
                H5S_SELECT_SET,
                st.as_ptr(),
                std::ptr::null(),
                ct.as_ptr(),
                std::ptr::null(),
            ) < 0
            {
                return Err(format!("{}: cannot select {start:?}+{count:?}", self.what));
            }
            if (io.dread)(
                self.dset,
                self.mem_type,
                ms.id,
                fs.id,
                H5P_DEFAULT,
                out.as_mut_ptr() as *mut c_void,
            ) < 0
            {
                return Err(format!(
                    "{}: H5Dread of {start:?}+{count:?} failed (see the HDF5 error stack above)",
                    self.what
                ));
            }
        }
        Ok(())
    }
}

impl Drop for SlabReader {
    fn drop(&mut self) {
        let _guard = lock();
        // SAFETY: ids owned by this reader.
        unsafe {
            (self.io.dclose)(self.dset);
            (self.io.fclose)(self.file);
        }
    }
}

/// A new HDF5 file holding one chunked dataset with filter 47815, written chunk by chunk.
pub struct ChunkWriter {
    io: Io,
    fns: WriteFns,
    file: hid_t,
    dset: hid_t,
    /// The layout `set_local` stored: the codec sees chunks of `layout.dims`.
    pub layout: Layout,
    /// The codec configuration the stored cd_values select.
    pub config: Config,
    /// The cd_values HDF5 stored for the filter.
    pub stored_cd_values: Vec<u32>,
    what: String,
    closed: bool,
}

impl ChunkWriter {
    /// Creates `file` (which must not exist) with dataset `name` (intermediate groups are
    /// created) of little-endian `dtype`, `shape`, chunk dims `chunks` and filter 47815 with
    /// the user cd_values `cd`.
    pub fn create(
        file: &Path,
        name: &str,
        dtype: DType,
        shape: &[usize],
        chunks: &[usize],
        cd: &[u32],
    ) -> Result<ChunkWriter, String> {
        let _guard = lock();
        let io = Io::load()?;
        let fns = WriteFns::load(&io)?;
        if fns.dwrite_chunk.is_none() {
            let (a, b, c) = io.api.version();
            return Err(format!(
                "libhdf5 {a}.{b}.{c} at {} lacks H5Dwrite_chunk (HDF5 >= 1.10.2 needed)",
                io.api.origin
            ));
        }
        // Always this build's filter class, even when HDF5_PLUGIN_PATH offers another copy.
        super::register_with(io.api).map_err(|e| e.to_string())?;
        let what = format!("{}:{name}", file.display());
        let rank = shape.len();
        if rank == 0 || chunks.len() != rank {
            return Err(format!("{what}: chunk rank must equal the dataset rank"));
        }
        let cfile = CString::new(file.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        let ftype = io.le_type(dtype)?;
        let dcpl_cls = io.global("H5P_CLS_DATASET_CREATE_ID_g")?;
        let lcpl_cls = io.global("H5P_CLS_LINK_CREATE_ID_g")?;
        let (dims, cdims) = (to_hsize(shape), to_hsize(chunks));
        // SAFETY: resolved functions; ids are owned by guards; arrays have `rank` entries.
        unsafe {
            let f = Id::new(
                io.quietly(|| {
                    (fns.fcreate)(cfile.as_ptr(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT)
                }),
                io.fclose,
            )
            .ok_or_else(|| format!("cannot create HDF5 file {}", file.display()))?;
            let space = Id::new(
                (fns.screate_simple)(rank as c_int, dims.as_ptr(), std::ptr::null()),
                io.sclose,
            )
            .ok_or_else(|| format!("{what}: cannot create the dataspace {shape:?}"))?;
            let dcpl = Id::new((fns.pcreate)(dcpl_cls), io.pclose)
                .ok_or_else(|| format!("{what}: cannot create a dataset creation list"))?;
            if (fns.pset_chunk)(dcpl.id, rank as c_int, cdims.as_ptr()) < 0 {
                return Err(format!("{what}: HDF5 refuses chunk dims {chunks:?}"));
            }
            if (fns.pset_filter)(
                dcpl.id,
                crate::FILTER_ID as H5Z_filter_t,
                H5Z_FLAG_MANDATORY,
                cd.len(),
                cd.as_ptr() as *const c_uint,
            ) < 0
            {
                return Err(format!("{what}: H5Pset_filter(47815, {cd:?}) failed"));
            }
            let lcpl = Id::new((fns.pcreate)(lcpl_cls), io.pclose)
                .ok_or_else(|| format!("{what}: cannot create a link creation list"))?;
            (fns.pset_create_intermediate_group)(lcpl.id, 1);
            let d = Id::new(
                io.quietly(|| {
                    (fns.dcreate2)(
                        f.id,
                        cname.as_ptr(),
                        ftype,
                        space.id,
                        lcpl.id,
                        dcpl.id,
                        H5P_DEFAULT,
                    )
                }),
                io.dclose,
            )
            .ok_or_else(|| {
                format!("{what}: cannot create the dataset (bad name, or the filter refused it)")
            })?;
            // What set_local stored.
            let p = Id::new((io.dget_create_plist)(d.id), io.pclose)
                .ok_or_else(|| format!("{what}: cannot get creation property list"))?;
            let mut flags: c_uint = 0;
            let mut n: usize = 64;
            let mut stored = vec![0u32; 64];
            if (io.api.get_filter_by_id2)(
                p.id,
                crate::FILTER_ID as H5Z_filter_t,
                &mut flags,
                &mut n,
                stored.as_mut_ptr(),
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ) < 0
                || n > stored.len()
            {
                return Err(format!("{what}: cannot read the stored cd_values back"));
            }
            stored.truncate(n);
            let cdv = CdValues::parse(&stored).map_err(|e| format!("{what}: {e}"))?;
            let layout = cdv
                .layout
                .clone()
                .ok_or_else(|| format!("{what}: set_local stored no layout"))?;
            if layout.dtype != dtype || layout.big_endian {
                return Err(format!("{what}: unexpected stored layout {layout:?}"));
            }
            let (file_id, dset_id) = (f.id, d.id);
            std::mem::forget(d);
            std::mem::forget(f);
            Ok(ChunkWriter {
                io,
                fns,
                file: file_id,
                dset: dset_id,
                layout,
                config: cdv.user.config(),
                stored_cd_values: stored,
                what,
                closed: false,
            })
        }
    }

    /// Writes one compressed chunk (a stream of `layout.dims`) at element offset `offset`
    /// (a multiple of the chunk dims), filter mask 0 (the filter was applied).
    pub fn write_chunk(&self, offset: &[usize], stream: &[u8]) -> Result<(), String> {
        let _guard = lock();
        let off = to_hsize(offset);
        let write = self.fns.dwrite_chunk.expect("checked in create");
        // SAFETY: open dataset; `off` has the dataset's rank; `stream` is readable.
        let r = unsafe {
            self.io.quietly(|| {
                write(
                    self.dset,
                    H5P_DEFAULT,
                    0,
                    off.as_ptr(),
                    stream.len(),
                    stream.as_ptr() as *const c_void,
                )
            })
        };
        if r < 0 {
            return Err(format!(
                "{}: H5Dwrite_chunk at {offset:?} failed (disk full?)",
                self.what
            ));
        }
        Ok(())
    }

    /// Closes the dataset and the file, reporting a failed flush.
    pub fn finish(mut self) -> Result<(), String> {
        let _guard = lock();
        self.closed = true;
        // SAFETY: ids owned by this writer, closed once.
        let (a, b) = unsafe { ((self.io.dclose)(self.dset), (self.io.fclose)(self.file)) };
        if a < 0 || b < 0 {
            return Err(format!("{}: closing the file failed", self.what));
        }
        Ok(())
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        if !self.closed {
            let _guard = lock();
            // SAFETY: ids owned by this writer.
            unsafe {
                self.io.quietly(|| {
                    (self.io.dclose)(self.dset);
                    (self.io.fclose)(self.file);
                });
            }
        }
    }
}
