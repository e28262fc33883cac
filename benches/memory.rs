//! Encoder (and decoder) peak memory per chunk size and mode (issue 12).
//!
//! For u16 chunks of 1, 16 and 128 MiB in lossless, abs 4 and apr 0.1, each case runs in its
//! own child process (so peak RSS is per case) and prints: peak heap growth during
//! `compress` (a counting global allocator: live bytes above what was live before the call,
//! the input chunk excluded, the output stream included), the same for `decompress`, and the
//! process's peak RSS (getrusage; includes the input chunk, the binary and the allocator's
//! slack). Sizes are given as multiples of the raw chunk size.
//!
//! Data: a mosaic of the z-slices of a volume of ../shared/data chosen by `MEMORY_BENCH_DATA`:
//! `nuclei` (default; u16 confocal nuclei, whose sparse values are palette-coded, method 4),
//! `ct` (u16 GE head CT, method 6), `u8` (2-D time lapse), `f32` (cryo-ET tomogram); or a
//! synthetic u16 image when the data is absent (said in the output).
//!
//! Run: `cargo bench --bench memory` (args: `--sizes 1,16`, `--modes apr0.1`, `--no-decode`,
//! `--stages MIB`); chunks are (1, x, y) planes, or 3-D blocks with `MEMORY_BENCH_3D=1`.
//! `MEMORY_PROBE=1` prints (stderr) the live heap and the peak since the previous stage at
//! each of the encoder's probe points (`h5z_apr::codec::PROBE`): the attribution table of
//! benches/results/memory-v3-2026-12-03.md.

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{compress, decompress, Config, DType};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static BASE: AtomicUsize = AtomicUsize::new(0);
fn probe_print(stage: &'static str) {
    let b = BASE.load(Relaxed);
    let mib = |x: usize| x.saturating_sub(b) as f64 / (1 << 20) as f64;
    eprintln!(
        "PROBE {stage:<28} live {:8.3} MiB  peak since last {:8.3} MiB",
        mib(LIVE.load(Relaxed)),
        mib(PEAK.load(Relaxed))
    );
    OVERALL.fetch_max(PEAK.load(Relaxed), Relaxed);
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}
static OVERALL: AtomicUsize = AtomicUsize::new(0);

fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Relaxed);
    BASE.store(base, Relaxed);
    PEAK.store(base, Relaxed);
    let r = f();
    let peak = PEAK.load(Relaxed).max(OVERALL.swap(0, Relaxed));
    (r, peak.saturating_sub(base))
}

fn peak_rss_bytes() -> usize {
    // SAFETY: plain getrusage into a zeroed struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_maxrss as usize * 1024
}

/// The data set (`MEMORY_BENCH_DATA`): `nuclei` (default: u16 confocal nuclei, palette-coded,
/// method 4), `ct` (u16 GE head CT, method 6), `u8` (2-D time lapse), `f32` (cryo-ET tomogram).
fn data_set() -> (&'static str, &'static str, DType) {
    match std::env::var("MEMORY_BENCH_DATA").as_deref() {
        Ok("ct") => (
            "ct_head_ge/ct_head_ge_uint16.npy",
            "GE head CT u16 mosaic",
            DType::U16,
        ),
        Ok("u8") => (
            "fluo_2d_timelapse_ctc/timelapse_uint8.npy",
            "time-lapse u8 mosaic",
            DType::U8,
        ),
        Ok("f32") => (
            "cryoet_tomogram_hiv/tomo_float32.npy",
            "cryo-ET f32 mosaic",
            DType::F32,
        ),
        _ => (
            "fluo_confocal_nuclei_cells3d/nuclei_uint16.npy",
            "nuclei mosaic",
            DType::U16,
        ),
    }
}

fn shape_for(mib: usize) -> [usize; 3] {
    let es = data_set().2.size();
    let s = shape_u16(mib);
    // Same row length as the u16 shapes, as many rows as the byte size needs.
    let n = (mib << 20) / es;
    if s[0] == 1 {
        [1, n / s[2], s[2]]
    } else {
        [n / (s[1] * s[2]), s[1], s[2]]
    }
}

fn shape_u16(mib: usize) -> [usize; 3] {
    if std::env::var_os("MEMORY_BENCH_3D").is_some() {
        return match mib {
            1 => [8, 256, 256],
            16 => [32, 512, 512],
            128 => [128, 512, 1024],
            n => [n * 8, 256, 256],
        };
    }
    match mib {
        1 => [1, 512, 1024],
        16 => [1, 2048, 4096],
        128 => [1, 8192, 8192],
        n => [1, 1024 * n / 2, 1024],
    }
}

/// The chunk: z-slices of the data set tiled over the (x, y) plane, or a synthetic u16 image
/// when the data is absent.
fn chunk(shape: [usize; 3]) -> (Vec<u8>, &'static str, DType) {
    let [nz, nx, ny] = shape;
    let (file, name, dtype) = data_set();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(file);
    let es = dtype.size();
    let mut out = Vec::with_capacity(nz * nx * ny * es);
    match npy::read(&path) {
        Ok(a) if a.shape.len() == 3 && a.dtype.size() == es => {
            let (vz, vx, vy) = (a.shape[0], a.shape[1], a.shape[2]);
            let per_row = ny.div_ceil(vy);
            for (z, x) in (0..nz).flat_map(|z| (0..nx).map(move |x| (z, x))) {
                for y in 0..ny {
                    // 3-D chunks: consecutive planes are consecutive slices (z-correlated).
                    let k = (z + (x / vx) * per_row + y / vy) % vz;
                    let o = ((k * vx + x % vx) * vy + y % vy) * es;
                    out.extend_from_slice(&a.data[o..o + es]);
                }
            }
            (out, name, dtype)
        }
        _ => {
            let shape = shape_u16((nz * nx * ny * es) >> 20);
            let [nz, nx, ny] = shape;
            for (z, x) in (0..nz).flat_map(|z| (0..nx).map(move |x| (z, x))) {
                for y in 0..ny {
                    let v = 400.0
                        + z as f64
                        + 300.0 * ((x as f64 / 37.0).sin() * (y as f64 / 53.0).cos())
                        + ((x * 7 + y * 13) % 17) as f64;
                    out.extend_from_slice(&(v as u16).to_le_bytes());
                }
            }
            (out, "synthetic (shared data absent)", DType::U16)
        }
    }
}

fn config(mode: &str) -> Config {
    match mode {
        "lossless" => Config::lossless(),
        "abs4" => Config::abs(4.0),
        "apr0.1" => Config::apr(0.1),
        m => panic!("unknown mode {m}"),
    }
}

/// Child: one case; prints one machine-readable line.
fn run_case(mib: usize, mode: &str, decode: bool) {
    let (data, source, dtype) = chunk(shape_for(mib));
    let shape = if dtype == data_set().2 {
        shape_for(mib)
    } else {
        shape_u16(mib)
    };
    let raw = data.len();
    let cfg = config(mode);
    if std::env::var_os("MEMORY_PROBE").is_some() {
        let _ = h5z_apr::codec::PROBE.set(probe_print);
    }
    let t = Instant::now();
    let (s, enc_peak) = peak_growth(|| compress(&data, dtype, &shape, &cfg).unwrap());
    let enc_s = t.elapsed().as_secs_f64();
    let enc_rss = peak_rss_bytes();
    let dec_peak = if decode {
        let (r, p) = peak_growth(|| decompress(&s).unwrap());
        if mode != "apr0.1" {
            assert_eq!(r.1.len(), raw);
        }
        p
    } else {
        0
    };
    println!(
        "CASE {mib} {mode} {raw} {} {enc_peak} {dec_peak} {enc_rss} {} {enc_s:.2} {source}",
        s.len(),
        peak_rss_bytes()
    );
}

/// `--stages MIB`: peak heap of the APR pipeline's stages on their own (u16 -> f32 block,
/// particle cells, particle means), to see which one sets the apr encoder's peak.
fn stages(mib: usize) {
    use h5z_apr::codec::apr;
    let shape = shape_u16(mib);
    let (data, _, _) = chunk(shape);
    let raw = data.len() as f64;
    let to_f32 = || -> Vec<f32> {
        data.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as f32)
            .collect()
    };
    let p = Config::apr(0.1).apr;
    let ((cells, _), pc) =
        peak_growth(|| apr::compute_particle_cells_owned(to_f32(), shape, 0.1, &p));
    let v: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let (_, pm) = peak_growth(|| apr::sample_means_of(&v, &cells));
    println!(
        "stages {mib} MiB: particle cells {:.2} x raw (f32 block included), means {:.2} x raw (u16 copy excluded: +1.00)",
        pc as f64 / raw,
        pm as f64 / raw
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--stages") {
        stages(args[i + 1].parse().unwrap());
        return;
    }
    let decode = !args.iter().any(|a| a == "--no-decode");
    if let Some(i) = args.iter().position(|a| a == "--case") {
        run_case(args[i + 1].parse().unwrap(), &args[i + 2], decode);
        return;
    }
    let list = |flag: &str, default: &str| -> Vec<String> {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
            .unwrap_or_else(|| default.into())
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let sizes = list("--sizes", "1,16,128");
    let modes = list("--modes", "lossless,abs4,apr0.1");
    let exe = std::env::current_exe().unwrap();
    println!(
        "| chunk | shape | mode | ratio | encode peak heap | x raw | decode peak heap | x raw | peak RSS after encode | x raw | encode s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut source = String::new();
    for mib in &sizes {
        for mode in &modes {
            let mut cmd = Command::new(&exe);
            cmd.args(["--case", mib, mode]);
            if !decode {
                cmd.arg("--no-decode");
            }
            let o = cmd.output().unwrap();
            let out = String::from_utf8_lossy(&o.stdout);
            let Some(line) = out.lines().find(|l| l.starts_with("CASE ")) else {
                println!(
                    "| {mib} MiB | | {mode} | failed: {} |",
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                );
                continue;
            };
            let f: Vec<&str> = line.split_whitespace().collect();
            let n = |i: usize| f[i].parse::<f64>().unwrap();
            let raw = n(3);
            let mb = |b: f64| b / (1 << 20) as f64;
            source = f[10..].join(" ");
            println!(
                "| {mib} MiB | {:?} | {mode} | {:.2} | {:.1} MiB | {:.2} | {:.1} MiB | {:.2} | {:.1} MiB | {:.2} | {} |",
                shape_for(mib.parse().unwrap()),
                raw / n(4),
                mb(n(5)),
                n(5) / raw,
                mb(n(6)),
                n(6) / raw,
                mb(n(7)),
                n(7) / raw,
                f[9]
            );
        }
    }
    println!("\ndata: {source}; heap = counting allocator, growth during the call (input excluded, output included); RSS includes the input chunk");
}
