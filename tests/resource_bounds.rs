//! Resource bounds on hostile streams (issue 12): a caller's decoded-size limit and the
//! plugin's expected chunk are checked from the header before anything is allocated, and the
//! apr tree walk does work proportional to what the tree section holds, not to the geometry
//! the header claims. Allocation is measured with a counting global allocator and work with
//! the decoder's own counter (`codec::apr_work_units`), never with a clock.

mod stream_support;
use stream_support::with_crc;

use h5z_apr::codec::{
    self, apr_work_units, compress, decompress, decompress_with_limit, read_header,
    validate_stream, Config, DType, DecodeLimits,
};
use h5z_apr::h5::cd_values::{CdValues, Layout};
use h5z_apr::h5::filter::filter;
use h5z_apr::settings::UserParams;
use h5z_apr::ErrorKind;
use hdf5_sys::h5z::H5Z_FLAG_REVERSE;
use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::os::raw::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// Counts live heap bytes and their peak (all threads; tests here hold `SERIAL`).
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: AllocLayout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), SeqCst) + l.size();
            PEAK.fetch_max(now, SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: AllocLayout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), SeqCst);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result and the peak heap growth during it, in bytes.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(SeqCst);
    PEAK.store(base, SeqCst);
    let r = f();
    (r, PEAK.load(SeqCst) - base)
}

/// A stream header (FORMAT.md §2.1): apr mode, rel_error 0.1.
fn apr_header(dtype: DType, shape: &[u32]) -> Vec<u8> {
    let mut h = b"APRZ".to_vec();
    h.push(1); // version
    h.push(dtype_code(dtype));
    h.push(2); // apr mode
    h.push(shape.len() as u8);
    h.extend_from_slice(&0.1f64.to_le_bytes());
    for d in shape {
        h.extend_from_slice(&d.to_le_bytes());
    }
    h
}

fn dtype_code(d: DType) -> u8 {
    // The codes of FORMAT.md §2.1, read back through the parser to stay honest.
    (0u8..16)
        .find(|&c| {
            let mut s = b"APRZ".to_vec();
            s.extend_from_slice(&[1, c, 0, 1]);
            s.extend_from_slice(&[0; 8]);
            s.extend_from_slice(&1u32.to_le_bytes());
            read_header(&s).map(|h| h.dtype == d).unwrap_or(false)
        })
        .expect("dtype code")
}

/// The stream of the issue: 5,466 bytes, valid CRC, header claiming an i32 apr chunk of shape
/// (4, 1048600, 24) = 402,662,400 bytes, body of junk the size the expansion limit needs.
fn issue_stream() -> Vec<u8> {
    let mut s = apr_header(DType::I32, &[4, 1_048_600, 24]);
    s.push(3); // method apr
    while s.len() < 5466 - 4 {
        s.push((s.len() * 131 % 251) as u8);
    }
    with_crc(s)
}

#[test]
fn forged_issue_stream_is_refused_by_a_limit_before_allocating() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = issue_stream();
    assert_eq!(s.len(), 5466);
    let h = read_header(&s).unwrap();
    assert_eq!(h.nbytes(), 402_662_400, "the header alone claims 400 MB");
    // The whole-stream check (CRC, expansion limit) accepts it: only a limit can refuse it.
    assert!(validate_stream(&s, &DecodeLimits::default()).is_ok());

    let (r, peak) = peak_during(|| decompress_with_limit(&s, 64 << 20));
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    assert!(e.message().contains("402662400"), "{e}");
    assert!(peak < 64 * 1024, "{peak} bytes allocated before refusing");

    // The expected chunk (what the HDF5 plugin knows): shape and dtype mismatches.
    let (r, peak) = peak_during(|| {
        codec::decompress_with_limits(&s, &DecodeLimits::chunk(DType::I32, &[4, 32, 24]))
    });
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(
        e.message().contains("[4, 1048600, 24]") && e.message().contains("[4, 32, 24]"),
        "{e}"
    );
    assert!(peak < 64 * 1024, "{peak} bytes allocated before refusing");
    let e = validate_stream(&s, &DecodeLimits::chunk(DType::U16, &[4, 1_048_600, 24])).unwrap_err();
    assert!(
        e.message().contains("int32") && e.message().contains("uint16"),
        "{e}"
    );
}

fn sample_u16(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            ((((i as f64) * 0.07).sin() * 700.0 + 900.0) as u16 + (i % 3) as u16).to_le_bytes()
        })
        .collect()
}

#[test]
fn a_limit_at_the_decoded_size_passes_one_below_refuses() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let shape = [3, 40, 33];
    let data = sample_u16(3 * 40 * 33);
    for cfg in [Config::lossless(), Config::abs(4.0), Config::apr(0.1)] {
        let s = compress(&data, DType::U16, &shape, &cfg).unwrap();
        let (h, full) = decompress(&s).unwrap();
        let (h2, lim) = decompress_with_limit(&s, data.len()).unwrap();
        assert_eq!((h, full), (h2, lim));
        let e = decompress_with_limit(&s, data.len() - 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
        assert!(validate_stream(&s, &DecodeLimits::chunk(DType::U16, &shape)).is_ok());
        let e = validate_stream(&s, &DecodeLimits::chunk(DType::I16, &shape)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        // A damaged CRC is found before allocation too (read_header alone does not see it).
        let mut bad = s.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(read_header(&bad).is_ok());
        assert!(validate_stream(&bad, &DecodeLimits::default()).is_err());
    }
}

/// Runs the plugin's filter callback in reverse (decode) on `stream` with the cd_values
/// `set_local` stores for a chunk `chunk` of `dtype`. Returns the callback's result and
/// whether the input buffer was left untouched.
fn plugin_decode(stream: &[u8], dtype: DType, chunk: &[u64]) -> (usize, Vec<u8>) {
    let cd = CdValues {
        user: UserParams::parse(&[]).unwrap(),
        layout: Some(Layout::from_chunk(dtype, false, chunk).unwrap()),
    }
    .to_stored();
    // SAFETY: malloc'd buffer holding the stream, as HDF5 hands one to the filter.
    unsafe {
        let mut size = stream.len();
        let mut p = libc::malloc(size);
        std::ptr::copy_nonoverlapping(stream.as_ptr(), p as *mut u8, size);
        let n = filter(
            H5Z_FLAG_REVERSE,
            cd.len(),
            cd.as_ptr(),
            stream.len(),
            &mut size,
            &mut p,
        );
        let out = std::slice::from_raw_parts(p as *const u8, if n > 0 { n } else { stream.len() })
            .to_vec();
        libc::free(p as *mut c_void);
        (n, out)
    }
}

#[test]
fn plugin_refuses_a_stream_that_is_not_the_datasets_chunk() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The issue's stream stored in a dataset of i32 chunks (4, 32, 24): refused (return 0,
    // buffer untouched), where decoding it would need a 400 MB output buffer.
    let s = issue_stream();
    let (n, buf) = plugin_decode(&s, DType::I32, &[4, 32, 24]);
    assert_eq!(n, 0);
    assert_eq!(buf, s, "input buffer changed on failure");
    // Same shape, other dtype; and a stream of the right chunk with a damaged CRC.
    let shape = [3usize, 40, 33];
    let data = sample_u16(3 * 40 * 33);
    let good = compress(&data, DType::U16, &shape, &Config::apr(0.1)).unwrap();
    assert_eq!(plugin_decode(&good, DType::I16, &[3, 40, 33]).0, 0);
    assert_eq!(plugin_decode(&good, DType::U16, &[3, 40, 34]).0, 0);
    let mut bad = good.clone();
    bad[good.len() - 2] ^= 4;
    assert_eq!(plugin_decode(&bad, DType::U16, &[3, 40, 33]).0, 0);
    // The genuine chunk decodes.
    let (n, out) = plugin_decode(&good, DType::U16, &[3, 40, 33]);
    assert_eq!(n, data.len());
    assert_eq!(out, decompress(&good).unwrap().1);
}

/// An apr body (FORMAT.md §2.6): value step, zstd tree section, then `rest` (entropy
/// sections, possibly junk) padded to `body_len`.
fn apr_stream(dtype: DType, shape: &[u32], tree: &[u8], rest: &[u8], body_len: usize) -> Vec<u8> {
    let mut s = apr_header(dtype, shape);
    let body_start = s.len();
    s.push(3);
    s.extend_from_slice(&0f64.to_le_bytes());
    let z = zstd::bulk::compress(tree, 3).unwrap();
    s.extend_from_slice(&(z.len() as u32).to_le_bytes());
    s.extend_from_slice(&z);
    s.extend_from_slice(rest);
    while s.len() - body_start < body_len {
        s.push(0x5A);
    }
    with_crc(s)
}

#[test]
fn apr_tree_walk_work_is_bounded_by_the_tree_not_the_claimed_geometry() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Header: u8 chunk (1, 4096, 4096) = 16.7 M pixels, lmax 12; body of 600 bytes (the
    // expansion limit needs >= 512). The tree says: root split, its 4 children are leaves.
    // The walk then has nothing open below level 1. The previous walk looped over every cell
    // of every level (~22 M) before the entropy section was even read.
    let s = apr_stream(DType::U8, &[1, 4096, 4096], &[0b1_1110], &[0], 600);
    assert!(validate_stream(&s, &DecodeLimits::default()).is_ok());
    let w0 = apr_work_units();
    let e = decompress(&s).unwrap_err();
    let work = apr_work_units() - w0;
    assert!(e.message().contains("contexts"), "{e}"); // fails at the entropy section
    assert_eq!(work, 1 + 4, "cells visited: root + its 4 children");

    // A tree of 128 split bits for the same geometry: levels 0..=3 take 1+4+16+64 = 85 bits,
    // level 4 has 256 open cells and 43 bits left, so it is refused before it is walked.
    let s = apr_stream(DType::U8, &[1, 4096, 4096], &[0; 16], &[], 600);
    let w0 = apr_work_units();
    let e = decompress(&s).unwrap_err();
    let work = apr_work_units() - w0;
    assert_eq!(e.kind(), ErrorKind::Truncated, "{e}");
    assert!(
        e.message()
            .contains("level 4 has 256 open cells, 43 bits left"),
        "{e}"
    );
    assert_eq!(work, 85);

    // The issue's geometry with an all-split tree that zstd packs into a few bytes: the walk
    // stops at the first level the tree cannot cover, after at most 8 cells per tree bit.
    let tree = vec![0u8; 4096];
    let s = apr_stream(DType::I32, &[4, 1_048_600, 24], &tree, &[], 5466 - 4);
    let w0 = apr_work_units();
    let e = decompress(&s).unwrap_err();
    let work = apr_work_units() - w0;
    assert!(e.message().contains("tree section ends early"), "{e}");
    assert!(
        work <= 8 * 8 * 4096 + 1,
        "{work} cells visited for {} tree bits",
        8 * 4096
    );

    // Work on a genuine stream is counted too (the counter is live, not a constant).
    let data = sample_u16(3 * 40 * 33);
    // (format version 1: always the particle body; version 4 writes the bound map where the
    // particles miss LibAPR's condition at a pixel, FORMAT.md §7)
    let g = codec::compress_v1(&data, DType::U16, &[3, 40, 33], &Config::apr(0.1)).unwrap();
    let w0 = apr_work_units();
    decompress(&g).unwrap();
    let work = apr_work_units() - w0;
    assert!(work > 0 && work <= 2 * (3 * 40 * 33) as u64, "{work}");
}
