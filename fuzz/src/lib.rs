//! Helpers shared by the fuzz targets in `fuzz_targets/`. Everything here is built from the
//! public API of `h5z_apr` and from FORMAT.md, so the targets survive internal refactors.

pub mod forged;

use h5z_apr::codec::{self, crc32, DType, Header, FORMAT_VERSION, MAGIC};
use std::os::raw::{c_char, c_int, c_uint, c_void};

/// Largest decoded size the `decompress_crc`, `capi` and `filter` targets decode. A stream
/// claiming more is skipped there (capi: only the too-small-buffer path), because decoding big
/// claims costs up to seconds per input under ASan and debug assertions (the forged 402 MB seed of
/// issue 12 takes ~5 s to be refused) and the fuzzer would mutate them forever. The
/// `decompress` target has no such cap and decodes every claim up to the 4 GiB format limit.
pub const MAX_DECODED: usize = 1 << 20;

/// Makes `data` look like a stream of a version this build decodes, so the fuzzer spends its
/// time past the cheap checks: magic set, version byte mapped into 1..=FORMAT_VERSION (every
/// format version is covered as soon as FORMAT_VERSION grows), CRC-32 trailer recomputed.
#[allow(clippy::modulo_one)] // FORMAT_VERSION is 1 today; the mapping is for later versions
pub fn fix_stream(data: &[u8]) -> Vec<u8> {
    let mut s = data.to_vec();
    if s.len() >= 4 {
        s[..4].copy_from_slice(&MAGIC);
    }
    if s.len() >= 5 {
        s[4] = 1 + s[4] % FORMAT_VERSION;
    }
    if s.len() >= 8 {
        let n = s.len() - 4;
        let c = crc32(&s[..n]);
        s[n..].copy_from_slice(&c.to_le_bytes());
    }
    s
}

/// Checks that a decode result is self-consistent with `read_header`.
pub fn check_decoded(stream: &[u8], r: &h5z_apr::Result<(Header, Vec<u8>)>) {
    let hdr = codec::read_header(stream);
    if let Ok((h, out)) = r {
        let h2 = hdr.expect("decompress succeeded but read_header failed");
        assert_eq!(h, &h2, "decompress and read_header disagree");
        assert_eq!(out.len(), h.nbytes());
        assert!((1..=FORMAT_VERSION).contains(&h.version));
        check_header(h);
    }
}

/// Invariants of every header `read_header` accepts (FORMAT.md §2.1, §2.8).
pub fn check_header(h: &Header) {
    assert!((1..=codec::MAX_RANK).contains(&h.shape.len()));
    assert!(h.shape.iter().all(|&d| d >= 1 && d <= u32::MAX as usize));
    let n: u128 = h.shape.iter().map(|&d| d as u128).product();
    assert!(n * h.dtype.size() as u128 <= codec::MAX_CHUNK_BYTES as u128);
    assert_eq!(h.nbytes() as u128, n * h.dtype.size() as u128);
    let p = h.mode.param();
    assert!(p.is_finite() && p >= 0.0);
}

/// The stored cd_values (FORMAT.md §3.3) of a dataset whose chunks are `h.shape` of `h.dtype`
/// (leading dims merged when the rank exceeds 10), with user values `user` (4 slots).
pub fn stored_cd_values(
    user: [u32; 4],
    dtype: DType,
    big_endian: bool,
    shape: &[usize],
) -> Vec<u32> {
    let mut dims: Vec<usize> = shape.to_vec();
    if dims.len() > 10 {
        let lead: usize = dims[..dims.len() - 9].iter().product();
        dims = std::iter::once(lead)
            .chain(shape[shape.len() - 9..].iter().copied())
            .collect();
    }
    let mut cd = user.to_vec();
    cd.push(0x4150_5201);
    cd.push(u32::from(dtype.is_float()));
    cd.push(dtype.size() as u32);
    cd.push(u32::from(dtype.is_signed() || dtype.is_float()));
    cd.push(u32::from(big_endian));
    cd.push(dims.len() as u32);
    cd.extend(dims.iter().map(|&d| d as u32));
    cd
}

/// `H5Z_func_t`.
pub type FilterFn = unsafe extern "C" fn(
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
    nbytes: usize,
    buf_size: *mut usize,
    buf: *mut *mut c_void,
) -> usize;

/// `H5Z_class2_t` as HDF5 declares it (H5Zdevelop.h), mirrored here so the target reaches the
/// filter exactly as HDF5 does: through `H5PLget_plugin_info`.
#[repr(C)]
pub struct H5ZClass2 {
    pub version: c_int,
    pub id: c_int,
    pub encoder_present: c_uint,
    pub decoder_present: c_uint,
    pub name: *const c_char,
    pub can_apply: Option<unsafe extern "C" fn(i64, i64, i64) -> c_int>,
    pub set_local: Option<unsafe extern "C" fn(i64, i64, i64) -> c_int>,
    pub filter: Option<FilterFn>,
}

/// `H5Z_FLAG_REVERSE`: the filter decodes.
pub const H5Z_FLAG_REVERSE: c_uint = 0x0100;

extern "C" {
    /// The plugin entry point HDF5 calls (`#[no_mangle]` in h5z_apr's h5 layer).
    fn H5PLget_plugin_info() -> *const c_void;
}

/// The plugin's filter callback, found the way HDF5 finds it.
pub fn plugin_filter() -> FilterFn {
    // SAFETY: a plain call of the plugin entry point (no arguments, returns a static pointer).
    let p = unsafe { H5PLget_plugin_info() } as *const H5ZClass2;
    // SAFETY: H5PLget_plugin_info returns a pointer to a static H5Z_class2_t.
    let class = unsafe { &*p };
    assert_eq!((class.version, class.id), (1, h5z_apr::FILTER_ID as c_int));
    class.filter.expect("filter callback")
}
