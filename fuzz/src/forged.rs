//! Generator of the forged stream of issue 12 (a fuzz seed and a regression test input).
//!
//! Shared by the fuzz crate (`fuzz/src/lib.rs`) and `tests/fuzz_regressions.rs` (via `#[path]`),
//! so the committed seed `tests/fuzz_corpus/forged_apr_i32_402MB.apr` can be checked against it.
//! Built from FORMAT.md alone: header §2.1, method 3 body §2.6, CRC-32 trailer §2.2.

/// Shape the forged header claims: i32 (4, 1048600, 24) = 100,665,600 elements.
pub const FORGED_SHAPE: [u32; 3] = [4, 1_048_600, 24];
/// Total length of the forged stream.
pub const FORGED_LEN: usize = 5_466;
/// Decoded size the header claims (the output buffer a caller must provide).
pub const FORGED_NBYTES: usize = 4 * 1_048_600 * 24 * 4;

/// A zstd frame holding `content` in one raw (uncompressed) block (RFC 8878 §3.1.1):
/// single-segment, 2-byte frame content size (256..=65791), no checksum.
pub fn zstd_raw_frame(content: &[u8]) -> Vec<u8> {
    assert!((256..=65791).contains(&content.len()) && content.len() < 1 << 21);
    let mut f = Vec::with_capacity(content.len() + 10);
    f.extend_from_slice(&0xFD2F_B528u32.to_le_bytes());
    f.push(0x60); // FCS flag 1 (2 bytes), single segment, no checksum, no dictionary
    f.extend_from_slice(&((content.len() - 256) as u16).to_le_bytes());
    let bh = ((content.len() as u32) << 3) | 1; // last block, raw
    f.extend_from_slice(&bh.to_le_bytes()[..3]);
    f.extend_from_slice(content);
    f
}

/// The forged stream: valid header (i32, apr mode E = 0.1, shape (4, 1048600, 24)), method 3,
/// value step 0, then a tree section whose zstd frame decodes to 5,411 bytes although the tree
/// it describes (root cell = one particle) needs 1 byte; the rest of the body is absent. The
/// body is big enough for the expansion limit (§2.3), the CRC is valid, so a decoder gets past
/// every cheap check and fails only in the tree section ("tree section has trailing bytes").
pub fn forged_apr_stream(crc32: impl Fn(&[u8]) -> u32) -> Vec<u8> {
    let mut s = Vec::with_capacity(FORGED_LEN);
    s.extend_from_slice(b"APRZ");
    s.extend_from_slice(&[1, 6, 2, 3]); // version 1, dtype i32, mode apr, rank 3
    s.extend_from_slice(&0.1f64.to_le_bytes());
    for d in FORGED_SHAPE {
        s.extend_from_slice(&d.to_le_bytes());
    }
    s.push(3); // method apr
    s.extend_from_slice(&0f64.to_le_bytes()); // value half-step d = 0 (rounded means)
                                              // Header 28 + method 1 + d 8 + section length 4 + frame (10 + n) + CRC 4 = FORGED_LEN.
    let n = FORGED_LEN - 55;
    let mut tree = vec![0u8; n];
    tree[0] = 1; // root is a particle: the whole tree is this one bit
    let frame = zstd_raw_frame(&tree);
    s.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    s.extend_from_slice(&frame);
    let c = crc32(&s);
    s.extend_from_slice(&c.to_le_bytes());
    assert_eq!(s.len(), FORGED_LEN);
    s
}
