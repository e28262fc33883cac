//! Method 9, palette-fast (format version 5, FORMAT.md §9): palette tiles round-trip exactly
//! with u8 and u16 index tiles, the stream is version 5 only when a tile is method 9, and the
//! decoder rejects method 9 where §9.2 says so (older versions, other modes, a non-zero
//! half-width, an index past the table).

mod stream_support;

use h5z_apr::codec::{
    compress, compress_with_tile_target, decompress, read_header, stats, Config, DType,
};
use stream_support::{first_tile, reseal};

/// Values on a sparse grid (`step` apart, `levels` of them): a smooth blob pattern over the
/// (Z, 40, 48) view plus noise of a few levels (so the pyramid, not zstd, is the best coder).
fn sparse(n: usize, levels: usize, step: i64, base: i64, seed: u64) -> Vec<i64> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (x, y) = (((i / 48) % 40) as f64, (i % 48) as f64);
            let smooth = 0.5 + 0.4 * (x / 6.0).sin() * (y / 8.0).cos();
            let noise = ((s >> 33) % 5) as f64 - 2.0;
            let l = (smooth * (levels - 1) as f64 + noise).clamp(0.0, (levels - 1) as f64);
            base + l as i64 * step
        })
        .collect()
}

fn bytes(dtype: DType, v: &[i64]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| x.to_le_bytes()[..dtype.size()].to_vec())
        .collect()
}

#[test]
fn palette_tiles_are_method_9_and_exact() {
    let shape = [6, 40, 48];
    let n: usize = shape.iter().product();
    // (dtype, levels, step, base): u8 indices (<= 256 values) and u16 indices (> 256).
    for (dtype, levels, step, base) in [
        (DType::U16, 40, 47, 300),
        (DType::U16, 900, 5, 7),
        (DType::I16, 60, 29, -900),
        (DType::U8, 30, 8, 3),
        (DType::I8, 20, 6, -60),
    ] {
        let v = sparse(n, levels, step, base, levels as u64);
        let data = bytes(dtype, &v);
        for cfg in [Config::lossless(), Config::abs(2.0)] {
            for target in [8192, 1 << 20] {
                let s = compress_with_tile_target(&data, dtype, &shape, &cfg, target).unwrap();
                let st = stats(&s).unwrap();
                assert_eq!(
                    st.header.version, 5,
                    "{dtype:?} {levels} {target} {}",
                    st.method
                );
                assert_eq!(
                    st.method, 9,
                    "{dtype:?} {levels} {target}: every tile method 9"
                );
                let (h, out) = decompress(&s).unwrap();
                assert_eq!(h.version, 5);
                assert!(out == data, "{dtype:?} {levels} {:?}: not exact", cfg.mode);
            }
        }
    }
    // Data without a sparse palette keeps writing version 2 (lossless, abs).
    let dense = bytes(DType::U16, &sparse(n, 3000, 1, 100, 5));
    for cfg in [Config::lossless(), Config::abs(2.0)] {
        let s = compress(&dense, DType::U16, &shape, &cfg).unwrap();
        assert_eq!(read_header(&s).unwrap().version, 2);
    }
}

#[test]
fn method_9_is_rejected_where_the_spec_says() {
    let shape = [4, 32, 32];
    let n: usize = shape.iter().product();
    // Four values 200, 210, 220, 230, all used: table K=4, zigzag(200)=400 (2 bytes), 10, 10, 10.
    let v: Vec<i64> = sparse(n, 4, 10, 200, 3);
    let data = bytes(DType::U16, &v);
    let s = compress(&data, DType::U16, &shape, &Config::lossless()).unwrap();
    assert_eq!(read_header(&s).unwrap().version, 5);
    let p = first_tile(&s, 2);
    assert_eq!(
        &s[p..p + 7],
        &[9, 4, 0x90, 0x03, 10, 10, 10],
        "tile starts as §9.1"
    );
    assert_eq!(decompress(&s).unwrap().1, data);

    let expect_err = |forged: Vec<u8>, what: &str| {
        let e = decompress(&reseal(forged)).expect_err(what);
        assert!(e.message().contains(what), "{what}: {e}");
    };
    // A version 4 stream cannot hold method 9.
    let mut f = s.clone();
    f[4] = 4;
    expect_err(f, "needs 5");
    // Not in noise mode (mode 3, P = 0 is a valid k).
    let mut f = s.clone();
    f[6] = 3;
    expect_err(f, "not valid for mode 3");
    // K = 3 with T0 in a 3-byte varint: the index tile (indices 0..3) is unchanged, index 3 >= K.
    let mut f = s.clone();
    f[p + 1..p + 7].copy_from_slice(&[3, 0x90, 0x83, 0x00, 10, 10]);
    expect_err(f, "palette index out of range");
    // K = 3, gaps 10, 10: the last gap byte becomes the index tile's half-width (10 != 0).
    let mut f = s.clone();
    f[p + 1] = 3;
    expect_err(f, "non-zero half-width");
    // A 4-byte dtype (u32 header, same bytes) is not a palette-fast dtype.
    let v32: Vec<i64> = v.clone();
    let s32 = compress(
        &bytes(DType::U32, &v32),
        DType::U32,
        &shape,
        &Config::lossless(),
    )
    .unwrap();
    assert_ne!(
        stats(&s32).unwrap().method,
        9,
        "the encoder never writes method 9 for u32"
    );
}
