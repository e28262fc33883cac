//! Reading and resealing stream bytes in tests. The varint reader is written from FORMAT.md
//! (independent of the codec's code); the trailer is the codec's `crc32` (checked against the
//! standard check value in its unit test). Test crates use part of this module: hence the allow.
#![allow(dead_code)]

use h5z_apr::codec::crc32;

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

/// Offset of the first tile's method byte in a stream of format version >= 2 with `es`-byte
/// elements (FORMAT.md §4.2: header, box, fill, tile shape, tile table).
pub fn first_tile(s: &[u8], es: usize) -> usize {
    let rank = s[7] as usize;
    let mut p = 16 + 4 * rank;
    let ebox = [varint(s, &mut p), varint(s, &mut p), varint(s, &mut p)];
    p += es;
    let t = [varint(s, &mut p), varint(s, &mut p), varint(s, &mut p)];
    let ntiles: usize = (0..3).map(|i| ebox[i].div_ceil(t[i])).product();
    for _ in 0..ntiles {
        varint(s, &mut p);
    }
    p
}

/// Re-seals an edited stream in place: its last 4 bytes become the CRC-32 trailer (FORMAT.md
/// §2.2) of everything before them, so the edit reaches the parsers behind the checksum.
pub fn fix_crc(s: &mut [u8]) {
    let n = s.len() - 4;
    let c = crc32(&s[..n]);
    s[n..].copy_from_slice(&c.to_le_bytes());
}

/// [`fix_crc`] on an owned stream, returned (`decompress(&reseal(edited))`).
pub fn reseal(mut s: Vec<u8>) -> Vec<u8> {
    fix_crc(&mut s);
    s
}

/// `body` (a stream without its trailer) with its CRC-32 trailer appended.
pub fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&[0; 4]);
    reseal(body)
}
