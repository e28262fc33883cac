//! Scaling probe: compresses / decompresses every (16,256,256) chunk of one shared-data volume
//! (edge chunks clipped, as `data_support::chunks` cuts them) with 1 and 2 threads, and prints
//! wall time, user / system CPU and minor page faults (getrusage) per pass, to see where a
//! 2-thread run loses its speed-up.
//! Usage: thread_probe <npy> <lossless|absB|noise|apr> [reps]
#[path = "../tests/data_support/mod.rs"]
mod data_support;
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
    let chunks = data_support::chunks(&arr.shape, &arr.data, arr.dtype.size());
    let mb = chunks.iter().map(|(_, b)| b.len()).sum::<usize>() as f64 / 1e6;
    println!("{} chunks, {mb:.1} MB", chunks.len());
    let mut streams = Vec::new();
    for th in [1usize, 2, 1, 2] {
        let c = cfg.clone().with_threads(th);
        pass("compress  ", th, mb * reps as f64, || {
            for _ in 0..reps {
                streams = chunks
                    .iter()
                    .map(|(shape, b)| compress(b, arr.dtype, shape, &c).unwrap())
                    .collect();
            }
        });
    }
    let mut outs: Vec<Vec<u8>> = chunks.iter().map(|(_, b)| vec![0u8; b.len()]).collect();
    for th in [1usize, 2, 1, 2] {
        pass("decompress", th, mb * reps as f64, || {
            for _ in 0..reps {
                for (st, out) in streams.iter().zip(&mut outs) {
                    decompress_into_threads(st, out, th).unwrap();
                }
            }
        });
    }
}

/// Runs `f` once and prints its wall time, MB/s of `mb`, and the process's user / system CPU
/// and minor page faults over the run.
fn pass(label: &str, th: usize, mb: f64, f: impl FnOnce()) {
    let (u0, s0, f0) = usage();
    let t = Instant::now();
    f();
    let w = t.elapsed().as_secs_f64();
    let (u1, s1, f1) = usage();
    println!(
        "{label} {th} thr: wall {w:.3} s ({:.0} MB/s) user {:.3} sys {:.3} minflt {}",
        mb / w,
        u1 - u0,
        s1 - s0,
        f1 - f0
    );
}
