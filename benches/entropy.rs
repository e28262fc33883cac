//! Entropy-coder benchmark: the interleaved rANS candidate (`codec::rans4`) against zstd-3 on
//! the same symbol bytes, for realistic symbol streams (previous-pixel residuals of shared-data
//! volumes, bucketised like the pyramid's symbols, 20 activity contexts).
//!
//! `cargo bench --bench entropy` prints one table per data set. Speeds are best-of-N wall
//! times on one core; compare rows only within one run (ratios vs zstd-3 are the portable
//! numbers). The old coder (`codec::rans`, crate-private) is compared in the ignored unit test
//! `cargo test --release --lib rans4::tests::bench_compare -- --ignored --nocapture`.

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::rans4::{residual_symbols, Decoder, Encoder, RES_NCTX};
use std::path::Path;
use std::time::Instant;

fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut t = f64::INFINITY;
    let mut r = None;
    for _ in 0..reps {
        let s = Instant::now();
        let v = f();
        t = t.min(s.elapsed().as_secs_f64());
        r = Some(v);
    }
    (t, r.expect("reps > 0"))
}

struct Row {
    name: &'static str,
    enc: f64,
    dec: f64,
    bytes: usize,
}

/// Row length of the `decode_many` calls (a pyramid decoder would pass one row at a time).
const PIECE: usize = 4096;

/// Encoder + per-symbol `decode(ctx)` (first row) and `decode_many` (second row).
fn rans<const N: usize, const PB: u32>(
    name: &'static str,
    name_many: &'static str,
    ctx: &[u8],
    sym: &[u8],
) -> [Row; 2] {
    let (enc, out) = best(5, || {
        let mut e = Encoder::<N, PB>::with_capacity(RES_NCTX, sym.len());
        for (&c, &s) in ctx.iter().zip(sym) {
            e.push(c as usize, s);
        }
        let mut out = Vec::new();
        e.finish(&mut out);
        out
    });
    let (dec, back) = best(7, || {
        let (mut d, _) = Decoder::<N, PB>::new(&out, RES_NCTX).expect("tables");
        let v: Vec<u8> = ctx.iter().map(|&c| d.decode(c as usize)).collect();
        d.finish().expect("finish");
        v
    });
    assert!(back == sym, "{name}: round trip failed");
    let (dec_many, back) = best(7, || {
        let (mut d, _) = Decoder::<N, PB>::new(&out, RES_NCTX).expect("tables");
        let mut v = vec![0u8; sym.len()];
        for (o, c) in v.chunks_mut(PIECE).zip(ctx.chunks(PIECE)) {
            d.decode_many(c, o);
        }
        d.finish().expect("finish");
        v
    });
    assert!(back == sym, "{name_many}: round trip failed");
    [
        Row {
            name,
            enc,
            dec,
            bytes: out.len(),
        },
        Row {
            name: name_many,
            enc,
            dec: dec_many,
            bytes: out.len(),
        },
    ]
}

fn zstd3(sym: &[u8]) -> Row {
    let (enc, out) = best(5, || zstd::bulk::compress(sym, 3).expect("zstd"));
    let (dec, back) = best(7, || {
        zstd::bulk::decompress(&out, sym.len()).expect("zstd decompress")
    });
    assert!(back == sym, "zstd round trip failed");
    Row {
        name: "zstd-3",
        enc,
        dec,
        bytes: out.len(),
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let sets = [
        ("ct_head_ge", "ct_head_ge/ct_head_ge_uint16.npy"),
        (
            "fluo_confocal_nuclei",
            "fluo_confocal_nuclei_cells3d/nuclei_uint16.npy",
        ),
    ];
    for (name, rel) in sets {
        let p = root.join(rel);
        if !p.exists() {
            println!("SKIP {name}: {} missing", p.display());
            continue;
        }
        let arr = npy::read(&p).expect("npy");
        let row = *arr.shape.last().expect("rank >= 1");
        let (ctx, sym) = residual_symbols(&arr.data, row);
        let n = sym.len() as f64;
        let z = zstd3(&sym);
        let mut rows = Vec::new();
        rows.extend(rans::<4, 12>("4x12 decode", "4x12 many", &ctx, &sym));
        rows.extend(rans::<8, 12>("8x12 decode", "8x12 many", &ctx, &sym));
        rows.extend(rans::<4, 11>("4x11 decode", "4x11 many", &ctx, &sym));
        rows.extend(rans::<8, 11>("8x11 decode", "8x11 many", &ctx, &sym));
        rows.push(z);
        let zr = &rows[rows.len() - 1];
        let (ze, zd) = (zr.enc, zr.dec);
        println!(
            "\n{name}: {} symbols (1 byte each), {RES_NCTX} contexts",
            sym.len()
        );
        println!(
            "{:<12} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>10} {:>9}",
            "coder",
            "enc Ms/s",
            "dec Ms/s",
            "enc MB/s",
            "dec MB/s",
            "enc/zstd",
            "dec/zstd",
            "bytes",
            "bits/sym"
        );
        for r in &rows {
            println!(
                "{:<12} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>9.2} {:>9.2} {:>10} {:>9.4}",
                r.name,
                n / r.enc / 1e6,
                n / r.dec / 1e6,
                n / r.enc / 1e6,
                n / r.dec / 1e6,
                ze / r.enc,
                zd / r.dec,
                r.bytes,
                r.bytes as f64 * 8.0 / n
            );
        }
        println!(
            "(rANS rows: lanes x probability bits; 'decode' = per-symbol decode(ctx), 'many' = \
             decode_many over {PIECE}-symbol rows. MB/s counts symbol bytes; one u16 element = \
             one symbol, so element MB/s = 2x)"
        );
    }
}
