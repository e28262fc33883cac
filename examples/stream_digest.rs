//! Byte-identity check of the encoder (and decoder) across a change: compresses every .npy
//! volume under ../shared/data in (16,256,256) chunks in lossless, abs (4 for integers,
//! 0.01 for floats), apr 0.1 and noise 0.5 (integers), decodes every stream, and prints per volume and mode the
//! stream count, total bytes, and CRC-32 digests of all streams and all decoded bytes.
//! Run it before and after a change and diff the outputs (`scripts/stream_digest.sh` does).
//! Usage: stream_digest [DATA_DIR]

#[path = "../tests/data_support/mod.rs"]
mod data_support;
#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, crc32, decompress, Config};

fn main() {
    let (root, files) = data_support::npy_files_from_args();
    for f in files {
        let a = npy::read(&f).expect("npy");
        let chunks = data_support::chunks(&a.shape, &a.data, a.dtype.size());
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
