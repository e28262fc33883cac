//! Format version 2 (FORMAT.md §4): the bytes do not depend on the thread count, tiles are
//! independent, padded edge chunks cost only their data, and the thread setting is read from
//! `codec::set_threads` / `H5Z_APR_NTHREADS`.

mod stream_support;
use stream_support::fix_crc;

use h5z_apr::codec::{
    compress, compress_v1, decompress, decompress_into_threads, set_threads, threads, Config, DType,
};

/// A (z, x, y) u16 volume: smooth blobs plus LCG noise.
fn volume(z: usize, x: usize, y: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::with_capacity(z * x * y * 2);
    for k in 0..z {
        for i in 0..x {
            for j in 0..y {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((s >> 33) % 9) as f64 - 4.0;
                let blob = 3000.0
                    * (-(((i as f64 - 90.0).powi(2) + (j as f64 - 60.0).powi(2)) / 800.0)
                        - (k as f64 - 6.0).powi(2) / 20.0)
                        .exp();
                let v = 200.0 + blob + noise + (i + j) as f64 * 0.5;
                out.extend_from_slice(&(v as u16).to_le_bytes());
            }
        }
    }
    out
}

fn configs() -> Vec<Config> {
    vec![Config::lossless(), Config::abs(4.0), Config::apr(0.1)]
}

/// (offsets, lengths) of the tile bodies of a v2 stream (parsed by hand from FORMAT.md §4.2).
fn tiles(s: &[u8]) -> Vec<(usize, usize)> {
    let r = s[7] as usize;
    let es = 2; // u16 in these tests
    let hl = 16 + 4 * r;
    let mut pos = hl;
    let varint = |pos: &mut usize| {
        let (mut v, mut sh) = (0usize, 0);
        loop {
            let b = s[*pos];
            *pos += 1;
            v |= ((b & 0x7f) as usize) << sh;
            sh += 7;
            if b < 0x80 {
                return v;
            }
        }
    };
    let ebox = [varint(&mut pos), varint(&mut pos), varint(&mut pos)];
    pos += es;
    let t = [varint(&mut pos), varint(&mut pos), varint(&mut pos)];
    let n: usize = (0..3).map(|a| ebox[a].div_ceil(t[a])).product();
    let lens: Vec<usize> = (0..n).map(|_| varint(&mut pos)).collect();
    lens.into_iter()
        .map(|l| {
            let o = pos;
            pos += l;
            (o, l)
        })
        .collect()
}

#[test]
fn bytes_do_not_depend_on_the_thread_count() {
    // 2 MiB (4 tiles), an odd 1.3 MiB chunk (unequal tiles), a plane cut into rows.
    let cases: Vec<(Vec<usize>, Vec<u8>)> = vec![
        (vec![16, 256, 256], volume(16, 256, 256, 1)),
        (vec![11, 201, 301], volume(11, 201, 301, 2)),
        (vec![1, 1100, 500], volume(1, 1100, 500, 3)),
    ];
    for (shape, data) in &cases {
        for cfg in configs() {
            let one = compress(data, DType::U16, shape, &cfg.clone().with_threads(1)).unwrap();
            assert!(tiles(&one).len() >= 2, "{shape:?}: expected several tiles");
            for t in [2, 3, 8] {
                let s = compress(data, DType::U16, shape, &cfg.clone().with_threads(t)).unwrap();
                assert!(
                    s == one,
                    "{shape:?} {:?}: {t} threads changed the bytes",
                    cfg.mode
                );
            }
            let (_, want) = decompress(&one).unwrap();
            for t in [1, 2, 3, 8] {
                let mut out = vec![0u8; want.len()];
                decompress_into_threads(&one, &mut out, t).unwrap();
                assert!(out == want, "{shape:?}: decode on {t} threads differs");
            }
            if cfg == Config::lossless() {
                assert!(&want == data);
            }
        }
    }
}

#[test]
fn tiles_are_independent() {
    let shape = [16, 256, 256];
    let data = volume(16, 256, 256, 4);
    let s = compress(&data, DType::U16, &shape, &Config::lossless()).unwrap();
    let t = tiles(&s);
    assert_eq!(t.len(), 4, "(4, 256, 256) tiles of 512 KiB");
    let tile_bytes = data.len() / 4;
    // A damaged tile is reported as that tile, by any thread count.
    for (k, &(o, l)) in t.iter().enumerate() {
        let mut bad = s.clone();
        bad[o + l / 2] ^= 0x5a;
        fix_crc(&mut bad);
        for th in [1, 2, 8] {
            let mut out = vec![0u8; data.len()];
            let e = decompress_into_threads(&bad, &mut out, th).unwrap_err();
            assert!(
                e.message().starts_with(&format!("tile {k}:")),
                "{th} threads: {e}"
            );
        }
    }
    // Swapping the bodies (and table entries) of tiles 1 and 3 swaps their decoded regions:
    // each tile decodes from its own bytes alone.
    let mut sw = s[..t[0].0].to_vec();
    // rebuild: header + container fields up to the table, then the table, then the bodies
    let table_start = t[0].0 - t.iter().map(|&(_, l)| varint_len(l)).sum::<usize>();
    sw.truncate(table_start);
    let order: Vec<usize> = vec![0, 3, 2, 1];
    for &i in &order {
        put_varint(&mut sw, t[i].1);
    }
    for &i in &order {
        let (o, l) = t[i];
        sw.extend_from_slice(&s[o..o + l]);
    }
    sw.extend_from_slice(&[0; 4]);
    fix_crc(&mut sw);
    assert_eq!(sw.len(), s.len());
    let (_, out) = decompress(&sw).unwrap();
    let mut want = data.clone();
    want[tile_bytes..2 * tile_bytes].copy_from_slice(&data[3 * tile_bytes..4 * tile_bytes]);
    want[3 * tile_bytes..4 * tile_bytes].copy_from_slice(&data[tile_bytes..2 * tile_bytes]);
    assert!(out == want, "swapped tiles decode to swapped regions");
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[test]
fn padded_edge_chunks_cost_only_their_data() {
    // A 13-slice chunk padded to 16 slices, and one padded in x and y too, with zeros (HDF5's
    // default fill value), against the same data coded alone.
    let data = volume(16, 256, 256, 5);
    for (dz, dx, dy) in [(13, 256, 256), (13, 200, 170), (16, 250, 256)] {
        let mut real = Vec::new();
        let mut padded = vec![0u8; data.len()];
        for k in 0..dz {
            for i in 0..dx {
                let o = (k * 256 + i) * 256 * 2;
                real.extend_from_slice(&data[o..o + dy * 2]);
                padded[o..o + dy * 2].copy_from_slice(&data[o..o + dy * 2]);
            }
        }
        for cfg in configs() {
            let alone = compress(&real, DType::U16, &[dz, dx, dy], &cfg)
                .unwrap()
                .len();
            let pad = compress(&padded, DType::U16, &[16, 256, 256], &cfg).unwrap();
            let v1 = compress_v1(&padded, DType::U16, &[16, 256, 256], &cfg)
                .unwrap()
                .len();
            let cost = pad.len() as f64 / alone as f64 - 1.0;
            eprintln!(
                "{dz}x{dx}x{dy} {:?}: alone {alone} B, padded v2 {} B ({:+.2}%), padded v1 {v1} B",
                cfg.mode,
                pad.len(),
                100.0 * cost
            );
            assert!(
                cost < 0.05,
                "{:?}: padding costs {:.1}%",
                cfg.mode,
                100.0 * cost
            );
            // and the padding decodes exactly
            let (_, out) = decompress(&pad).unwrap();
            for k in 0..16 {
                for i in 0..256 {
                    for j in 0..256 {
                        if k >= dz || i >= dx || j >= dy {
                            let o = ((k * 256 + i) * 256 + j) * 2;
                            assert_eq!(&out[o..o + 2], &[0, 0]);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn thread_setting_comes_from_the_setter_then_the_environment() {
    // The only test in this binary that touches the process-wide setting or the variable.
    set_threads(0);
    std::env::remove_var("H5Z_APR_NTHREADS");
    assert_eq!(threads(), 1, "default");
    std::env::set_var("H5Z_APR_NTHREADS", "3");
    assert_eq!(threads(), 3, "read on every call");
    std::env::set_var("H5Z_APR_NTHREADS", "zero");
    assert_eq!(threads(), 1, "unparsable values are ignored");
    std::env::set_var("H5Z_APR_NTHREADS", "2");
    set_threads(5);
    assert_eq!(threads(), 5, "the setter wins over the variable");
    set_threads(100_000);
    assert_eq!(threads(), 256, "clamped");
    set_threads(0);
    assert_eq!(threads(), 2, "unset again: the variable");
    std::env::remove_var("H5Z_APR_NTHREADS");
}
