//! Byte-identity check of the encoder (and decoder) across a change: compresses every .npy
//! volume under ../shared/data in (16,256,256) chunks in lossless, abs (4 for integers,
//! 0.01 for floats), apr 0.1 and noise 0.5 (integers), decodes every stream, and prints per volume and mode the
//! stream count, total bytes, and CRC-32 digests of all streams and all decoded bytes.
//! Run it before and after a change and diff the outputs (`scripts/stream_digest.sh` does).
//! Usage: stream_digest [DATA_DIR]

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, crc32, decompress, Config};
use std::path::{Path, PathBuf};

fn npys(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut es: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    es.sort();
    for p in es {
        if p.is_dir() {
            npys(&p, out);
        } else if p.extension().is_some_and(|e| e == "npy") {
            out.push(p);
        }
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let mut files = Vec::new();
    npys(&root, &mut files);
    if files.is_empty() {
        eprintln!("SKIP: no .npy under {}", root.display());
        std::process::exit(2);
    }
    for f in files {
        let a = npy::read(&f).expect("npy");
        let s = a.dtype.size();
        let sh = &a.shape;
        let (z, y, x) = match sh.len() {
            1 => (1, 1, sh[0]),
            2 => (1, sh[0], sh[1]),
            r => (sh[..r - 2].iter().product(), sh[r - 2], sh[r - 1]),
        };
        let mut chunks = Vec::new();
        for z0 in (0..z).step_by(16) {
            for y0 in (0..y).step_by(256) {
                for x0 in (0..x).step_by(256) {
                    let (dz, dy, dx) = ((z - z0).min(16), (y - y0).min(256), (x - x0).min(256));
                    let mut buf = Vec::with_capacity(dz * dy * dx * s);
                    for k in z0..z0 + dz {
                        for j in y0..y0 + dy {
                            let off = ((k * y + j) * x + x0) * s;
                            buf.extend_from_slice(&a.data[off..off + dx * s]);
                        }
                    }
                    chunks.push(([dz, dy, dx], buf));
                }
            }
        }
        let abs = if a.dtype.is_float() { 0.01 } else { 4.0 };
        for (name, cfg) in [
            ("lossless", Config::lossless()),
            ("abs", Config::abs(abs)),
            ("apr0.1", Config::apr(0.1)),
            ("noise0.5", Config::noise(0.5)),
        ] {
            // Noise mode refuses float data.
            if a.dtype.is_float() && name.starts_with("noise") {
                continue;
            }
            let (mut all_s, mut all_d, mut total) = (Vec::new(), Vec::new(), 0usize);
            for (shape, buf) in &chunks {
                let st = compress(buf, a.dtype, shape, &cfg).expect("compress");
                let (_, dec) = decompress(&st).expect("decompress");
                total += st.len();
                // (the CRC of a whole stream is a constant residue: digest the bytes before the trailer)
                all_s.extend_from_slice(&crc32(&st[..st.len() - 4]).to_le_bytes());
                all_d.extend_from_slice(&crc32(&dec).to_le_bytes());
            }
            println!(
                "{} {name}: {} streams, {total} bytes, streams {:08x}, decoded {:08x}",
                f.strip_prefix(&root).unwrap_or(&f).display(),
                chunks.len(),
                crc32(&all_s),
                crc32(&all_d)
            );
        }
    }
}
