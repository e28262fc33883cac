//! Method 1, zstd-shuffle (FORMAT.md §2.3): one zstd frame of the byte-plane shuffled
//! elements (all first bytes, then all second bytes, ...). Exact in every mode.

use crate::codec::bits::Cursor;
use crate::codec::error::{Error, ErrorKind, Result};
use crate::codec::DType;

fn shuffle(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = vec![0u8; data.len()];
    shuffle_into(data, size, &mut out);
    out
}

/// Byte planes of `data` into `out` (same length): plane k = byte k of every element.
fn shuffle_into(data: &[u8], size: usize, out: &mut [u8]) {
    // One plane at a time, written in order.
    #[inline(always)]
    fn planes(data: &[u8], size: usize, out: &mut [u8]) {
        let n = data.len() / size;
        for (k, plane) in out.chunks_exact_mut(n.max(1)).take(size).enumerate() {
            for (o, e) in plane.iter_mut().zip(data.chunks_exact(size)) {
                *o = e[k];
            }
        }
    }
    // The dtypes' element sizes as constants, so each arm's loops index a fixed-size element.
    match size {
        1 => out.copy_from_slice(data),
        2 => planes(data, 2, out),
        4 => planes(data, 4, out),
        8 => planes(data, 8, out),
        _ => planes(data, size, out),
    }
}

/// The error of a failed zstd compression (an argument the library refused).
fn zstd_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::InvalidArgument, format!("zstd: {e}"))
}

/// Method 1 body: one zstd frame of the byte-shuffled elements.
pub fn encode(data: &[u8], dtype: DType, effort: i32) -> Result<Vec<u8>> {
    zstd::bulk::compress(&shuffle(data, dtype.size()), effort).map_err(zstd_error)
}

/// Elements of `out` from the byte planes in `data` (same length): the inverse of
/// [`shuffle_into`].
fn unshuffle(data: &[u8], size: usize, out: &mut [u8]) {
    // One plane at a time, read in order.
    #[inline(always)]
    fn planes(data: &[u8], size: usize, out: &mut [u8]) {
        let n = out.len() / size;
        for (k, plane) in data.chunks_exact(n.max(1)).take(size).enumerate() {
            for (e, &b) in out.chunks_exact_mut(size).zip(plane) {
                e[k] = b;
            }
        }
    }
    match size {
        1 => out.copy_from_slice(data),
        2 => planes(data, 2, out),
        4 => planes(data, 4, out),
        8 => planes(data, 8, out),
        _ => planes(data, size, out),
    }
}

/// Decodes a method 1 body (the rest of `cur`) into `out`, which has the chunk's size.
pub fn decode(cur: &mut Cursor, dtype: DType, out: &mut [u8]) -> Result<()> {
    let mut buf = vec![0u8; out.len()];
    let got = zstd::bulk::decompress_to_buffer(cur.rest(), &mut buf)
        .map_err(|e| Error::corrupt(format!("zstd section: {e}")))?;
    if got != out.len() {
        return Err(Error::corrupt("zstd section has the wrong decoded size"));
    }
    cur.pos = cur.data.len();
    unshuffle(&buf, dtype.size(), out);
    Ok(())
}

/// Estimated method 1 body size of `data` from `parts` evenly spread samples of
/// 1/`denom` of its elements each (shuffled and compressed one by one), scaled up.
/// zstd compresses a sample no better than the whole (less history), so this errs high.
/// One compression context and one pair of buffers serve all samples: each sample is the
/// same zstd frame [`encode`] would write (same level, same parameters), without a
/// context's allocation and set-up per sample, which dominate on small tiles.
pub fn estimate(
    data: &[u8],
    dtype: DType,
    effort: i32,
    parts: usize,
    denom: usize,
) -> Result<usize> {
    let size = dtype.size();
    let n = data.len() / size;
    let piece = (n / denom).max(1);
    let mut z = zstd::bulk::Compressor::new(effort).map_err(zstd_error)?;
    let mut shuffled = vec![0u8; piece * size];
    let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(piece * size));
    let mut total = 0usize;
    for p in 0..parts {
        let start = (n - piece) * p / (parts - 1).max(1);
        let s = &data[start * size..(start + piece) * size];
        shuffle_into(s, size, &mut shuffled);
        frame.clear();
        total += z
            .compress_to_buffer(&shuffled, &mut frame)
            .map_err(zstd_error)?;
    }
    Ok(total * n / (piece * parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy_ramp(n: usize) -> Vec<u8> {
        let mut s = 12345u32;
        (0..n)
            .flat_map(|i| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((i / 7) as u16 % 3000 + (s >> 28) as u16).to_le_bytes()
            })
            .collect()
    }

    /// The sample estimate lands near the real method 1 size (the encoder's skip rule relies
    /// on it being within 25 %).
    #[test]
    fn estimate_is_close_to_the_full_size() {
        let data = noisy_ramp(1 << 17);
        let full = encode(&data, DType::U16, 3).unwrap().len() as f64;
        let est = estimate(&data, DType::U16, 3, 8, 64).unwrap() as f64;
        assert!(
            (0.8..1.25).contains(&(est / full)),
            "est {est}, full {full}"
        );
        // A small tile's sample: 2 pieces of 1/16 (the encoder's choice below 1 MiB).
        let data = noisy_ramp(1 << 15);
        let full = encode(&data, DType::U16, 3).unwrap().len() as f64;
        let est = estimate(&data, DType::U16, 3, 2, 16).unwrap() as f64;
        assert!(
            (0.8..1.25).contains(&(est / full)),
            "est {est}, full {full}"
        );
    }

    /// The planes as FORMAT.md §2.3 defines them, and back, for every element size.
    #[test]
    fn shuffle_is_byte_planes_and_unshuffle_inverts_it() {
        for size in [1usize, 2, 3, 4, 8] {
            for n in [0usize, 1, 7, 64, 1001] {
                let data: Vec<u8> = (0..n * size).map(|i| (i * 37 % 251) as u8).collect();
                let s = shuffle(&data, size);
                for i in 0..n {
                    for k in 0..size {
                        assert_eq!(s[k * n + i], data[i * size + k], "size {size} n {n}");
                    }
                }
                let mut back = vec![0u8; data.len()];
                unshuffle(&s, size, &mut back);
                assert_eq!(back, data, "size {size} n {n}");
            }
        }
    }

    /// The context-reusing estimate compresses each piece to the frame `encode` writes.
    #[test]
    fn estimate_sums_the_frames_encode_writes() {
        let data = noisy_ramp(1 << 12);
        let (size, parts, denom) = (2, 4, 32);
        let n = data.len() / size;
        let piece = n / denom;
        let mut total = 0;
        for p in 0..parts {
            let start = (n - piece) * p / (parts - 1);
            total += encode(&data[start * size..(start + piece) * size], DType::U16, 3)
                .unwrap()
                .len();
        }
        let est = estimate(&data, DType::U16, 3, parts, denom).unwrap();
        assert_eq!(est, total * n / (piece * parts));
    }
}
