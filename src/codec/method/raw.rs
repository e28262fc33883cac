//! Method 0, raw (FORMAT.md §2.3): the element bytes verbatim, little-endian. The encoder
//! stores a chunk raw whenever every other body would be longer.

use crate::codec::bits::Cursor;
use crate::codec::error::Result;

/// Appends the method 0 body.
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(data);
}

/// Decodes a method 0 body into `out` (exactly the chunk's size).
pub fn decode(cur: &mut Cursor, out: &mut [u8]) -> Result<()> {
    out.copy_from_slice(cur.bytes(out.len())?);
    Ok(())
}
