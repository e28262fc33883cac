//! The C API (`h5z_apr_read_header`, `h5z_apr_decompress`) called as C would call it.
//! Input: one control byte, then the stream. Control bit 0 = 0: the stream is passed through
//! `fix_stream` (valid magic/version/CRC); bits 1..=3 pick the output buffer. Checks: no panic
//! (H5Z_APR_ERR_INTERNAL), the status agrees with the safe codec API, nothing is written past
//! `nbytes` (the canary bytes after it and, under ASan, the allocation end), `*dst_len` is
//! `nbytes` on success and 0 on failure, and the decoded bytes equal `codec::decompress`.
#![no_main]
use h5z_apr::capi::{h5z_apr_decompress, h5z_apr_info, h5z_apr_read_header, h5z_apr_status};
use h5z_apr::codec;
use h5z_apr_fuzz::{fix_stream, MAX_DECODED};
use libfuzzer_sys::fuzz_target;
use std::os::raw::c_void;

use h5z_apr_status as St;

const CANARY: u8 = 0xA5;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let s = if ctl & 1 == 0 {
        fix_stream(rest)
    } else {
        rest.to_vec()
    };
    let hdr = codec::read_header(&s);

    // h5z_apr_read_header
    let mut info = std::mem::MaybeUninit::<h5z_apr_info>::zeroed();
    // SAFETY: valid src of s.len() bytes, writable info.
    let st =
        unsafe { h5z_apr_read_header(s.as_ptr() as *const c_void, s.len(), info.as_mut_ptr()) };
    assert_ne!(st, St::H5Z_APR_ERR_INTERNAL);
    match &hdr {
        Ok(h) => {
            assert_eq!(st, St::H5Z_APR_OK);
            // SAFETY: written on success.
            let info = unsafe { info.assume_init() };
            assert_eq!(info.rank, h.shape.len());
            assert_eq!(&info.shape[..info.rank], &h.shape[..]);
            assert!(info.shape[info.rank..].iter().all(|&d| d == 0));
            assert_eq!(info.nbytes, h.nbytes());
            assert_eq!(info.nelems, h.len());
            assert_eq!(info.elem_size, h.dtype.size());
            assert_eq!(info.dtype, h.dtype as i32);
            assert_eq!(info.format_version, i32::from(h.version));
        }
        Err(_) => assert_ne!(st, St::H5Z_APR_OK),
    }

    // h5z_apr_decompress
    let need = hdr.as_ref().map(|h| h.nbytes()).unwrap_or(64);
    let policy = if need > MAX_DECODED {
        3
    } else {
        (ctl >> 1) & 7
    };
    let (cap, null_dst, null_len) = match policy {
        0 | 6 | 7 => (need, false, false),
        1 => (need.saturating_sub(1), false, false),
        2 => (need + 17, false, false),
        3 => (0, false, false),
        4 => (0, true, false),
        _ => (need, false, true),
    };
    let mut dst = vec![0u8; cap];
    let tail = need.min(cap);
    dst[tail..].fill(CANARY);
    let mut dst_len = usize::MAX;
    let dptr = if null_dst {
        std::ptr::null_mut()
    } else {
        dst.as_mut_ptr() as *mut c_void
    };
    let lptr = if null_len {
        std::ptr::null_mut()
    } else {
        &mut dst_len as *mut usize
    };
    // SAFETY: src valid for s.len() bytes; dst NULL or valid for cap bytes; disjoint.
    let st = unsafe { h5z_apr_decompress(s.as_ptr() as *const c_void, s.len(), dptr, cap, lptr) };
    assert_ne!(st, St::H5Z_APR_ERR_INTERNAL);
    if !null_len {
        assert_eq!(dst_len, if st == St::H5Z_APR_OK { need } else { 0 });
    }
    if st == St::H5Z_APR_OK {
        assert!(cap >= need);
        let (h, want) = codec::decompress(&s).expect("C API decoded what codec refuses");
        assert_eq!(h.nbytes(), need);
        assert_eq!(&dst[..need], &want[..]);
        assert!(
            dst[need..].iter().all(|&b| b == CANARY),
            "wrote past nbytes"
        );
    } else if hdr.is_ok() && cap < need && !null_dst {
        assert_eq!(st, St::H5Z_APR_ERR_BUFFER_TOO_SMALL);
        assert!(dst.iter().all(|&b| b == 0), "wrote into a too-small buffer");
    } else if hdr.is_ok() && !null_dst && cap >= need {
        // The codec must refuse it too.
        assert!(
            codec::decompress(&s).is_err(),
            "C API refused a stream the codec decodes"
        );
    }
});
