//! Reading stream bytes in tests, written from FORMAT.md (independent of the codec's code).

/// The LEB128 varint at `*pos` (FORMAT.md §2.3), advancing `pos`; panics past the end.
pub fn varint(b: &[u8], pos: &mut usize) -> usize {
    let (mut v, mut shift) = (0usize, 0);
    loop {
        let c = b[*pos];
        *pos += 1;
        v |= ((c & 0x7f) as usize) << shift;
        if c & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}
