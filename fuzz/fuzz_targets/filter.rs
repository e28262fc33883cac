//! The HDF5 filter callback, reached like HDF5 reaches it (`H5PLget_plugin_info` ->
//! `H5Z_class2_t.filter`), decoding (`H5Z_FLAG_REVERSE`) a malloc'ed chunk buffer. No libhdf5
//! is loaded in this process, so the plugin allocates with malloc (as tests/h5_callback.rs).
//! Input: one control byte, then the stream. Control bits: 0 = no `fix_stream`; 1 = big-endian
//! file datatype; 2 = user cd_values only (no stored layout), else the stored layout that
//! matches the stream's header; 3 = buffer larger than nbytes; 4 = the stored layout claims one
//! more element in the last dim (must be refused). Checks: no panic; on failure 0 with `*buf`,
//! `*buf_size` and the bytes untouched; on success exactly `codec::decompress`'s bytes (swapped
//! for big-endian), `*buf_size >= n`.
#![no_main]
use h5z_apr::codec;
use h5z_apr_fuzz::{fix_stream, plugin_filter, stored_cd_values, H5Z_FLAG_REVERSE, MAX_DECODED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let s = if ctl & 1 == 0 {
        fix_stream(rest)
    } else {
        rest.to_vec()
    };
    let big_endian = ctl & 2 != 0;
    let hdr = codec::read_header(&s);
    if hdr.as_ref().is_ok_and(|h| h.nbytes() > MAX_DECODED) {
        return;
    }
    let user = [u32::from(ctl >> 5) % 3, 1, 1, 3];
    let wrong_layout = ctl & 16 != 0;
    let cd: Vec<u32> = match &hdr {
        _ if ctl & 4 != 0 => user[..usize::from(ctl >> 6)].to_vec(),
        Ok(h) => {
            let mut shape = h.shape.clone();
            if wrong_layout {
                *shape.last_mut().expect("rank >= 1") += 1;
            }
            stored_cd_values(user, h.dtype, big_endian, &shape)
        }
        Err(_) => stored_cd_values(user, codec::DType::U8, big_endian, &[s.len().max(1)]),
    };
    let has_layout = cd.len() > 4;

    let nbytes = s.len();
    let size0 = if ctl & 8 != 0 { nbytes + 100 } else { nbytes };
    // SAFETY: a malloc'ed chunk buffer holding the stream, as HDF5 hands it to the filter.
    let p0 = unsafe { libc::malloc(size0.max(1)) };
    assert!(!p0.is_null());
    unsafe { std::ptr::copy_nonoverlapping(s.as_ptr(), p0 as *mut u8, nbytes) };
    let mut buf = p0;
    let mut buf_size = size0;
    let filter = plugin_filter();
    // SAFETY: valid cd array, malloc'ed buffer of buf_size bytes holding nbytes bytes.
    let n = unsafe {
        filter(
            H5Z_FLAG_REVERSE,
            cd.len(),
            cd.as_ptr(),
            nbytes,
            &mut buf_size,
            &mut buf,
        )
    };

    let want = codec::decompress(&s);
    if n == 0 {
        assert_eq!(
            (buf, buf_size),
            (p0, size0),
            "*buf or *buf_size changed on failure"
        );
        // SAFETY: still our buffer of size0 >= nbytes bytes.
        let now = unsafe { std::slice::from_raw_parts(buf as *const u8, nbytes) };
        assert_eq!(now, &s[..], "buffer changed on failure");
        let rank_ok = hdr.as_ref().is_ok_and(|h| h.shape.len() <= 10);
        if want.is_ok() && (!has_layout || (rank_ok && !wrong_layout)) {
            panic!("filter refused a stream the codec decodes (cd {cd:?})");
        }
    } else {
        let (h, mut expect) = want.expect("filter decoded a stream the codec refuses");
        assert!(
            !wrong_layout || !has_layout,
            "filter ignored a wrong stored layout"
        );
        assert_eq!(n, h.nbytes());
        assert!(buf_size >= n);
        if big_endian && has_layout {
            for e in expect.chunks_exact_mut(h.dtype.size()) {
                e.reverse();
            }
        }
        // SAFETY: on success *buf holds n valid bytes.
        let got = unsafe { std::slice::from_raw_parts(buf as *const u8, n) };
        assert_eq!(got, &expect[..]);
    }
    // SAFETY: *buf is malloc'ed (ours, or the plugin's replacement; the plugin freed ours).
    unsafe { libc::free(buf) };
});
