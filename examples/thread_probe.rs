//! Scaling probe: compresses / decompresses every (16,256,256) chunk of one shared-data volume
//! with 1 and 2 threads, and prints wall time, user / system CPU and minor page faults
//! (getrusage) per pass, to see where a 2-thread run loses its speed-up.
//! Usage: thread_probe <npy> <lossless|absB|noise|apr> [reps]
#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, decompress_into_threads, Config};
use std::time::Instant;

fn usage() -> (f64, f64, i64) {
    // SAFETY: getrusage writes one rusage through a valid pointer.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    (t(r.ru_utime), t(r.ru_stime), r.ru_minflt)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arr = npy::read(std::path::Path::new(&a[1])).expect("npy");
    let m = a[2].as_str();
    let reps: usize = a.get(3).map(|r| r.parse().unwrap()).unwrap_or(5);
    let cfg = match m {
        "lossless" => Config::lossless(),
        "noise" => Config::noise(0.5),
        "apr" => Config::apr(0.1),
        _ => Config::abs(m.strip_prefix("abs").unwrap().parse().unwrap()),
    };
    let (z, y, x) = (arr.shape[0], arr.shape[1], arr.shape[2]);
    let (cz, cy, cx) = (16.min(z), 256.min(y), 256.min(x));
    let s = arr.dtype.size();
    let mut chunks = Vec::new();
    for z0 in (0..z - z % cz).step_by(cz) {
        for y0 in (0..y - y % cy).step_by(cy) {
            for x0 in (0..x - x % cx).step_by(cx) {
                let mut b = Vec::new();
                for k in z0..z0 + cz {
                    for j in y0..y0 + cy {
                        let off = ((k * y + j) * x + x0) * s;
                        b.extend_from_slice(&arr.data[off..off + cx * s]);
                    }
                }
                chunks.push(b);
            }
        }
    }
    let shape = [cz, cy, cx];
    let mb = chunks.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
    println!("{} full chunks, {mb:.1} MB", chunks.len());
    let mut streams = Vec::new();
    for th in [1usize, 2, 1, 2] {
        let c = cfg.clone().with_threads(th);
        let (u0, s0, f0) = usage();
        let t = Instant::now();
        for _ in 0..reps {
            streams = chunks
                .iter()
                .map(|b| compress(b, arr.dtype, &shape, &c).unwrap())
                .collect();
        }
        let w = t.elapsed().as_secs_f64();
        let (u1, s1, f1) = usage();
        println!(
            "compress   {th} thr: wall {w:.3} s ({:.0} MB/s) user {:.3} sys {:.3} minflt {}",
            mb * reps as f64 / w,
            u1 - u0,
            s1 - s0,
            f1 - f0
        );
    }
    let mut out = vec![0u8; chunks[0].len()];
    for th in [1usize, 2, 1, 2] {
        let (u0, s0, f0) = usage();
        let t = Instant::now();
        for _ in 0..reps {
            for st in &streams {
                decompress_into_threads(st, &mut out, th).unwrap();
            }
        }
        let w = t.elapsed().as_secs_f64();
        let (u1, s1, f1) = usage();
        println!(
            "decompress {th} thr: wall {w:.3} s ({:.0} MB/s) user {:.3} sys {:.3} minflt {}",
            mb * reps as f64 / w,
            u1 - u0,
            s1 - s0,
            f1 - f0
        );
    }
}
