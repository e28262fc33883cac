//! Profiling aid: compresses and decompresses one (16,256,256) chunk of a shared-data volume,
//! for `valgrind --tool=callgrind` instruction counts (repeatable on a shared machine).
//! Usage: profile_chunk <npy> <lossless|abs4|apr> [enc|dec]

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, decompress, Config};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arr = npy::read(std::path::Path::new(&a[1])).expect("npy");
    let (z, y, x) = (arr.shape[0], arr.shape[1], arr.shape[2]);
    let (cz, cy, cx) = (16.min(z), 256.min(y), 256.min(x));
    let (y0, x0) = ((y - cy) / 2, (x - cx) / 2);
    let s = arr.dtype.size();
    let mut chunk = Vec::new();
    for k in 0..cz {
        for j in y0..y0 + cy {
            let off = ((k * y + j) * x + x0) * s;
            chunk.extend_from_slice(&arr.data[off..off + cx * s]);
        }
    }
    let cfg = match a[2].as_str() {
        "lossless" => Config::lossless(),
        "abs4" => Config::abs(4.0),
        _ => Config::apr(0.1),
    };
    let shape = [cz, cy, cx];
    let st = compress(&chunk, arr.dtype, &shape, &cfg).expect("compress");
    if a.get(3).map(String::as_str) == Some("dec") {
        let (_, back) = decompress(&st).expect("decompress");
        assert_eq!(back.len(), chunk.len());
    }
    println!("{} -> {} bytes", chunk.len(), st.len());
}
