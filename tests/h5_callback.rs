//! The filter callback's buffer contract, exercised directly (no HDF5 in this process, so the
//! plugin uses malloc/free): input length is `nbytes`, output in a malloc-compatible buffer,
//! failure returns 0 and leaves `*buf` untouched, big-endian chunks, determinism across threads.

use h5z_apr::h5::cd_values::{CdValues, Layout};
use h5z_apr::h5::filter::filter;
use h5z_apr::settings::UserParams;
use h5z_apr::DType;
use hdf5_sys::h5z::{H5Z_FLAG_OPTIONAL, H5Z_FLAG_REVERSE};
use std::os::raw::c_void;

/// A chunk buffer owned like HDF5 owns one (malloc).
struct CBuf {
    ptr: *mut c_void,
    size: usize,
}

impl CBuf {
    fn from(bytes: &[u8], capacity: usize) -> CBuf {
        assert!(capacity >= bytes.len());
        // SAFETY: plain malloc, then a copy into it.
        let ptr = unsafe { libc::malloc(capacity.max(1)) };
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr as *mut u8, bytes.len()) };
        CBuf {
            ptr,
            size: capacity,
        }
    }
    fn bytes(&self, n: usize) -> Vec<u8> {
        // SAFETY: the filter contract guarantees n <= size valid bytes.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, n) }.to_vec()
    }
    /// Runs the filter on this buffer; returns its result.
    fn run(&mut self, flags: u32, cd: &[u32], nbytes: usize) -> usize {
        // SAFETY: valid cd array, malloc'd buffer of `size` bytes holding `nbytes` bytes.
        unsafe {
            filter(
                flags,
                cd.len(),
                cd.as_ptr(),
                nbytes,
                &mut self.size,
                &mut self.ptr,
            )
        }
    }
}

impl Drop for CBuf {
    fn drop(&mut self) {
        // SAFETY: the buffer is malloc'd (by us or by the filter's fallback allocator).
        unsafe { libc::free(self.ptr) };
    }
}

fn stored(user: &[u32], dtype: DType, big_endian: bool, chunk: &[u64]) -> Vec<u32> {
    CdValues {
        user: UserParams::parse(user).unwrap(),
        layout: Some(Layout::from_chunk(dtype, big_endian, chunk).unwrap()),
    }
    .to_stored()
}

fn image_u16(n: usize) -> Vec<u16> {
    (0..n)
        .map(|i| (1000.0 + 800.0 * ((i % 61) as f64 / 9.0).sin() + (i / 61) as f64) as u16)
        .collect()
}

fn le_bytes(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn encode_then_decode_round_trips_with_nbytes_smaller_than_buf_size() {
    let data = le_bytes(&image_u16(24 * 61));
    let cd = stored(&[0], DType::U16, false, &[24, 61]);
    let mut b = CBuf::from(&data, data.len());
    let n = b.run(0, &cd, data.len());
    assert!(n > 0 && n < data.len(), "compressed to {n}");
    assert!(b.size >= n);
    let stream = b.bytes(n);
    // Decode from a buffer that is larger than the stream and full of trailing garbage:
    // only `nbytes` may be read.
    let mut padded = stream.clone();
    padded.extend(std::iter::repeat(0xAB).take(1000));
    let mut d = CBuf::from(&padded, padded.len() + 17);
    let m = d.run(H5Z_FLAG_REVERSE, &cd, stream.len());
    assert_eq!(m, data.len());
    assert!(d.size >= m);
    assert_eq!(d.bytes(m), data);
}

#[test]
fn failure_returns_zero_and_leaves_the_buffer_untouched() {
    let data = le_bytes(&image_u16(32 * 32));
    let cd = stored(&[1, 4, 0], DType::U16, false, &[32, 32]);
    let mut b = CBuf::from(&data, data.len());
    let n = b.run(0, &cd, data.len());
    let mut stream = b.bytes(n);
    let mid = stream.len() / 2;
    stream[mid] ^= 0x10;
    let mut c = CBuf::from(&stream, stream.len());
    let (ptr, size) = (c.ptr, c.size);
    assert_eq!(c.run(H5Z_FLAG_REVERSE, &cd, stream.len()), 0);
    assert_eq!(
        (c.ptr, c.size),
        (ptr, size),
        "*buf / *buf_size changed on failure"
    );
    assert_eq!(
        c.bytes(stream.len()),
        stream,
        "buffer contents changed on failure"
    );

    // Encoder: wrong chunk size for the stored layout.
    let mut e = CBuf::from(&data, data.len());
    let ptr = e.ptr;
    assert_eq!(e.run(0, &cd, data.len() - 2), 0);
    assert_eq!(e.ptr, ptr);
    // Encoder without a stored layout (set_local never ran): refused, mandatory or optional.
    assert_eq!(e.run(0, &[1, 4, 0], data.len()), 0);
    assert_eq!(e.run(H5Z_FLAG_OPTIONAL, &[1, 4, 0], data.len()), 0);
    assert_eq!(e.bytes(data.len()), data);
    // Decoder: the stream's dtype/shape must match the stored layout.
    let other = stored(&[1, 4, 0], DType::U16, false, &[16, 64]);
    let mut f = CBuf::from(&b.bytes(n), n);
    assert_eq!(f.run(H5Z_FLAG_REVERSE, &other, n), 0);
    let other = stored(&[1, 4, 0], DType::I16, false, &[32, 32]);
    assert_eq!(f.run(H5Z_FLAG_REVERSE, &other, n), 0);
    // Bad cd_values and nbytes > buf_size.
    assert_eq!(f.run(H5Z_FLAG_REVERSE, &[7], n), 0);
    assert_eq!(f.run(H5Z_FLAG_REVERSE, &cd, n + 1), 0);
    assert_eq!(f.bytes(n), b.bytes(n));
}

#[test]
fn big_endian_chunks_are_swapped_around_the_codec() {
    let v = image_u16(10 * 33);
    let le = le_bytes(&v);
    let be: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
    let cd_le = stored(&[1, 4, 0], DType::U16, false, &[10, 33]);
    let cd_be = stored(&[1, 4, 0], DType::U16, true, &[10, 33]);
    let mut a = CBuf::from(&le, le.len());
    let na = a.run(0, &cd_le, le.len());
    let mut b = CBuf::from(&be, be.len());
    let nb = b.run(0, &cd_be, be.len());
    assert_eq!(
        a.bytes(na),
        b.bytes(nb),
        "the stream is little-endian in both cases"
    );
    let mut d = CBuf::from(&b.bytes(nb), nb);
    let m = d.run(H5Z_FLAG_REVERSE, &cd_be, nb);
    let back: Vec<u16> = d
        .bytes(m)
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let err = v
        .iter()
        .zip(&back)
        .map(|(x, y)| (*x as i32 - *y as i32).abs())
        .max()
        .unwrap();
    assert!(err <= 4, "{err}");
}

#[test]
fn every_dtype_round_trips_losslessly() {
    for dt in DType::ALL {
        let n = 7 * 13;
        let data: Vec<u8> = (0..n * dt.size()).map(|i| (i * 37 % 251) as u8).collect();
        // Floats: keep exponents sane by using small integers as values.
        let data = if dt.is_float() {
            (0..n)
                .flat_map(|i| match dt {
                    DType::F32 => ((i % 17) as f32 * 0.5).to_le_bytes().to_vec(),
                    _ => ((i % 17) as f64 * 0.25).to_le_bytes().to_vec(),
                })
                .collect()
        } else {
            data
        };
        for be in [false, true] {
            let cd = stored(&[0], dt, be, &[7, 13]);
            let mut b = CBuf::from(&data, data.len());
            let k = b.run(0, &cd, data.len());
            assert!(k > 0, "{dt:?}");
            let mut d = CBuf::from(&b.bytes(k), k);
            assert_eq!(d.run(H5Z_FLAG_REVERSE, &cd, k), data.len(), "{dt:?}");
            assert_eq!(d.bytes(data.len()), data, "{dt:?} be={be}");
        }
    }
}

#[test]
fn concurrent_calls_are_deterministic() {
    let data = le_bytes(&image_u16(40 * 64));
    let cd = stored(&[2, 1, 1], DType::U16, false, &[40, 64]);
    let reference = {
        let mut b = CBuf::from(&data, data.len());
        let n = b.run(0, &cd, data.len());
        assert!(n > 0);
        b.bytes(n)
    };
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    let mut b = CBuf::from(&data, data.len());
                    let n = b.run(0, &cd, data.len());
                    assert_eq!(b.bytes(n), reference);
                    let mut d = CBuf::from(&reference, reference.len());
                    assert_eq!(d.run(H5Z_FLAG_REVERSE, &cd, reference.len()), data.len());
                }
            });
        }
    });
}

#[test]
fn incompressible_chunk_gets_a_new_larger_buffer() {
    let mut x = 0x1234_5678_9abc_def0u64;
    let data: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let cd = stored(&[0], DType::U8, false, &[64, 64]);
    let mut b = CBuf::from(&data, data.len());
    let n = b.run(0, &cd, data.len());
    assert!(n > data.len(), "random bytes should not shrink ({n})");
    assert!(b.size >= n, "*buf_size {} < returned {n}", b.size);
    let mut d = CBuf::from(&b.bytes(n), n);
    assert_eq!(d.run(H5Z_FLAG_REVERSE, &cd, n), data.len());
    assert_eq!(d.bytes(data.len()), data);
}
