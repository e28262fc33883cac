//! Method 1, zstd-shuffle (FORMAT.md §2.3): one zstd frame of the byte-plane shuffled
//! elements (all first bytes, then all second bytes, ...). Exact in every mode.

use crate::codec::bits::Cursor;
use crate::codec::error::{Error, ErrorKind, Result};
use crate::codec::DType;

fn shuffle(data: &[u8], size: usize) -> Vec<u8> {
    let n = data.len() / size;
    let mut out = vec![0u8; data.len()];
    for (i, e) in data.chunks_exact(size).enumerate() {
        for (k, &b) in e.iter().enumerate() {
            out[k * n + i] = b;
        }
    }
    out
}

/// Method 1 body: one zstd frame of the byte-shuffled elements.
pub fn encode(data: &[u8], dtype: DType, effort: i32) -> Result<Vec<u8>> {
    zstd::bulk::compress(&shuffle(data, dtype.size()), effort)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("zstd: {e}")))
}

fn unshuffle(data: &[u8], size: usize, out: &mut [u8]) {
    let n = out.len() / size;
    for (i, e) in out.chunks_exact_mut(size).enumerate() {
        for (k, b) in e.iter_mut().enumerate() {
            *b = data[k * n + i];
        }
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
