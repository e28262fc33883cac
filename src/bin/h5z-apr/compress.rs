//! `h5z-apr compress INPUT OUTPUT.h5[:/path]`: streams an array (`.npy`, TIFF stack or HDF5
//! dataset) into a new HDF5 file as a chunked dataset with filter 47815, compressing chunks
//! on N worker threads and writing the streams with `H5Dwrite_chunk`.
//!
//! Pipeline: a reader thread reads a slab (a chunk-aligned box of whole chunks) and cuts it
//! into full-size chunks (edge chunks zero-padded, as HDF5's default fill value pads them);
//! workers run `h5z_apr::codec::compress` on one chunk each; this thread writes the streams in
//! chunk order. At most `4 x threads` chunks are in flight, so memory stays a few chunks per
//! thread plus one slab. The output is written to a temporary file in the target directory
//! and renamed at the end; any error removes it.

use crate::args::{CompressArgs, ModeArg};
use crate::progress::Progress;
use crate::source::{self, Source};
use h5z_apr::h5::slab::ChunkWriter;
use h5z_apr::settings::Settings;
use h5z_apr::{codec, Config, DType, Mode};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

pub enum Error {
    /// Bad arguments (exit code 2).
    Usage(String),
    /// Anything else (exit code 1).
    Runtime(String),
}

/// Default dataset path in the output file.
pub const DEFAULT_DATASET: &str = "/data";

/// Slabs larger than this are split along more axes (unless the input reads whole planes).
const SLAB_BUDGET: usize = 64 << 20;

/// The settings the arguments select, through the library's one validation.
fn settings(a: &CompressArgs) -> Result<Settings, Error> {
    let mode = a.mode.unwrap_or(match (a.bound, a.rel_error, a.k) {
        (Some(_), _, _) => ModeArg::Abs,
        (None, Some(_), _) => ModeArg::Apr,
        (None, None, Some(_)) => ModeArg::Noise,
        (None, None, None) => ModeArg::Lossless,
    });
    let u = |m: &str| Err(Error::Usage(m.to_string()));
    if a.k.is_some() && mode != ModeArg::Noise {
        return u("--k is only used with --mode noise");
    }
    let (mode, flag) = match mode {
        ModeArg::Lossless => {
            if a.bound.is_some() || a.rel_error.is_some() {
                return u("--mode lossless takes no --bound/--rel-error");
            }
            (Mode::Lossless, "--mode")
        }
        ModeArg::Noise => match (a.k, a.bound, a.rel_error) {
            (Some(k), None, None) => (Mode::Noise(k), "--k"),
            (None, _, _) => return u("--mode noise needs --k K"),
            _ => return u("--mode noise takes --k, not --bound/--rel-error"),
        },
        ModeArg::Abs => match (a.bound, a.rel_error) {
            (Some(b), None) => (Mode::Abs(b), "--bound"),
            (None, _) => return u("--mode abs needs --bound B"),
            (Some(_), Some(_)) => return u("--rel-error is only used with --mode apr"),
        },
        ModeArg::Apr | ModeArg::AprParticles => match (a.rel_error, a.bound) {
            (Some(e), None) => (Mode::Apr(e), "--rel-error"),
            (None, _) if mode == ModeArg::Apr => return u("--mode apr needs --rel-error E"),
            (None, _) => return u("--mode apr-particles needs --rel-error E"),
            (Some(_), Some(_)) => return u("--bound is only used with --mode abs"),
        },
    };
    let mut s = Settings::new(mode, a.effort);
    if a.mode == Some(ModeArg::AprParticles) {
        s.apr_coding = h5z_apr::codec::AprCoding::Particles;
    }
    s.cd_values()
        .map_err(|e| Error::Usage(format!("{flag}: {}", e.message())))?;
    Ok(s)
}

/// Splits `FILE.h5[:/path]`; the dataset defaults to [`DEFAULT_DATASET`].
pub fn split_output(spec: &str) -> (PathBuf, String) {
    match spec.rfind(":/") {
        Some(i) if i > 0 && spec.len() > i + 2 => {
            (PathBuf::from(&spec[..i]), spec[i + 1..].to_string())
        }
        _ => (
            PathBuf::from(spec.strip_suffix(":/").unwrap_or(spec)),
            DEFAULT_DATASET.to_string(),
        ),
    }
}

/// Checks a user chunk shape against the data.
fn check_chunks(chunks: &[usize], shape: &[usize], dtype: DType) -> Result<(), String> {
    crate::eval::check_chunks(chunks, shape, dtype)?;
    if chunks.contains(&0) {
        return Err(format!("--chunks {chunks:?}: entries must be >= 1"));
    }
    if let Some(i) = (0..shape.len()).find(|&i| chunks[i] > shape[i]) {
        return Err(format!(
            "--chunks {chunks:?}: axis {i} has {} > the dataset's {} (shape {shape:?})",
            chunks[i], shape[i]
        ));
    }
    Ok(())
}

/// Removes the temporary output unless kept.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A counting limit on chunks in flight, with cancellation.
struct Gate {
    free: Mutex<usize>,
    cv: Condvar,
    stop: AtomicBool,
}

impl Gate {
    /// Waits for a free slot; false when the pipeline stops.
    fn acquire(&self) -> bool {
        let mut f = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *f == 0 && !self.stop.load(Ordering::Relaxed) {
            f = self.cv.wait(f).unwrap_or_else(|e| e.into_inner());
        }
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        *f -= 1;
        true
    }
    fn release(&self) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.cv.notify_one();
    }
    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _g = self.free.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }
}

struct Job {
    seq: usize,
    offset: Vec<usize>,
    data: Vec<u8>,
}

struct Done {
    seq: usize,
    offset: Vec<usize>,
    stream: Result<Vec<u8>, String>,
    /// Wall time of the codec call.
    compress_s: f64,
}

/// Peak resident memory of the process, bytes (`VmHWM` of /proc/self/status; 0 if absent).
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            let l = t.lines().find(|l| l.starts_with("VmHWM:"))?;
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU time (user + system) of the whole process, seconds (`/proc/self/stat`, in USER_HZ =
/// 100 ticks; 0 where /proc is absent).
fn process_cpu_s() -> f64 {
    let Ok(t) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start at field 3; utime and
    // stime are fields 14 and 15.
    let rest = t.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// How the array is cut: slabs cover chunk extents on axes `0..=depth` and whole axes after.
struct Plan {
    shape: Vec<usize>,
    chunks: Vec<usize>,
    grid: Vec<usize>,
    depth: usize,
}

impl Plan {
    fn new(shape: &[usize], chunks: &[usize], es: usize, planes_only: bool) -> Plan {
        let grid: Vec<usize> = shape
            .iter()
            .zip(chunks)
            .map(|(&s, &c)| s.div_ceil(c))
            .collect();
        let n = shape.len();
        let slab_bytes = |d: usize| -> usize {
            chunks[..=d].iter().product::<usize>() * shape[d + 1..].iter().product::<usize>() * es
        };
        let mut depth = 0;
        if !planes_only {
            while depth + 1 < n && slab_bytes(depth) > SLAB_BUDGET {
                depth += 1;
            }
        }
        Plan {
            shape: shape.to_vec(),
            chunks: chunks.to_vec(),
            grid,
            depth,
        }
    }
    fn n_chunks(&self) -> usize {
        self.grid.iter().product()
    }
}

/// Odometer increment of `idx` over `lim` (C order); false after the last index.
fn next_index(idx: &mut [usize], lim: &[usize]) -> bool {
    for d in (0..idx.len()).rev() {
        idx[d] += 1;
        if idx[d] < lim[d] {
            return true;
        }
        idx[d] = 0;
    }
    false
}

/// Copies the block `origin..origin+extent` of `slab` (shape `sshape`) to the start of the
/// zeroed chunk buffer `chunk` (shape `cshape`).
fn gather(
    slab: &[u8],
    sshape: &[usize],
    chunk: &mut [u8],
    cshape: &[usize],
    origin: &[usize],
    extent: &[usize],
    es: usize,
) {
    let n = sshape.len();
    let strides = |s: &[usize]| {
        let mut st = vec![1usize; n];
        for i in (0..n - 1).rev() {
            st[i] = st[i + 1] * s[i + 1];
        }
        st
    };
    let (ss, cs) = (strides(sshape), strides(cshape));
    let row = extent[n - 1] * es;
    let mut idx = vec![0usize; n - 1];
    loop {
        let a: usize = (0..n - 1)
            .map(|d| (origin[d] + idx[d]) * ss[d])
            .sum::<usize>()
            + origin[n - 1];
        let c: usize = (0..n - 1).map(|d| idx[d] * cs[d]).sum();
        chunk[c * es..c * es + row].copy_from_slice(&slab[a * es..a * es + row]);
        if !next_index(&mut idx, &extent[..n - 1]) {
            return;
        }
    }
}

/// Reads slabs in order and sends every chunk of them (C order over the chunk grid).
fn read_all(
    src: &mut dyn Source,
    plan: &Plan,
    gate: &Gate,
    jobs: mpsc::SyncSender<Job>,
    recycled: mpsc::Receiver<Vec<u8>>,
) -> Result<(), String> {
    let n = plan.shape.len();
    let es = src.dtype().size();
    let d = plan.depth;
    let chunk_len = plan.chunks.iter().product::<usize>() * es;
    let mut slab = Vec::new();
    let mut sidx = vec![0usize; d + 1];
    let mut seq = 0usize;
    loop {
        let mut start = vec![0usize; n];
        let mut count = plan.shape.clone();
        for a in 0..=d {
            start[a] = sidx[a] * plan.chunks[a];
            count[a] = plan.chunks[a].min(plan.shape[a] - start[a]);
        }
        slab.resize(count.iter().product::<usize>() * es, 0);
        src.read_box(&start, &count, &mut slab)?;
        // Chunks of this slab: one along axes 0..=d, all along axes d+1..
        let inner: Vec<usize> = plan.grid[d + 1..].to_vec();
        let mut cidx = vec![0usize; n - d - 1];
        loop {
            let mut origin = vec![0usize; n];
            let mut extent = vec![0usize; n];
            let mut offset = vec![0usize; n];
            for a in 0..n {
                let (o, abs) = if a <= d {
                    (0, start[a])
                } else {
                    let o = cidx[a - d - 1] * plan.chunks[a];
                    (o, o)
                };
                origin[a] = o;
                offset[a] = abs;
                extent[a] = plan.chunks[a].min(plan.shape[a] - abs);
            }
            if !gate.acquire() {
                return Ok(());
            }
            // Chunk buffers come back from the workers: allocating a fresh one per chunk costs
            // page faults and madvise calls in glibc's per-thread arenas (a third of the CPU
            // time with 128 KB chunks).
            let mut data = match recycled.try_recv() {
                Ok(mut b) if b.len() == chunk_len => {
                    if extent != plan.chunks {
                        b.fill(0);
                    }
                    b
                }
                _ => vec![0u8; chunk_len],
            };
            gather(&slab, &count, &mut data, &plan.chunks, &origin, &extent, es);
            if jobs.send(Job { seq, offset, data }).is_err() {
                return Ok(());
            }
            seq += 1;
            if inner.is_empty() || !next_index(&mut cidx, &inner) {
                break;
            }
        }
        if !next_index(&mut sidx, &plan.grid[..=d]) {
            return Ok(());
        }
    }
}

/// What a run measured.
struct Summary {
    raw_bytes: u64,
    stored_bytes: u64,
    chunks: usize,
    wall_s: f64,
    /// Sum over chunks of the codec calls' wall time.
    compress_s: f64,
    /// CPU time of the whole process (reading, compressing, writing).
    process_cpu_s: f64,
}

/// Runs the pipeline into `w`.
fn pipeline(
    mut src: Box<dyn Source>,
    plan: &Plan,
    w: &ChunkWriter,
    threads: usize,
    quiet: bool,
) -> Result<Summary, String> {
    let (t0, cpu0) = (Instant::now(), process_cpu_s());
    let dtype = src.dtype();
    let total = plan.n_chunks();
    let in_flight = 4 * threads;
    let gate = Arc::new(Gate {
        free: Mutex::new(in_flight),
        cv: Condvar::new(),
        stop: AtomicBool::new(false),
    });
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(in_flight);
    let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<u8>>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let dims = w.layout.dims.clone();
    // One codec thread per worker: the workers already use every core, and codec threads
    // from H5Z_APR_NTHREADS would oversubscribe them (the bytes do not depend on the count).
    let mut cfg_one = w.config.clone();
    cfg_one.threads = 1;
    let cfg: &Config = &cfg_one;
    let mut progress = Progress::new(total as u64, quiet);
    let result = std::thread::scope(|s| -> Result<Summary, String> {
        let g = gate.clone();
        let reader = s.spawn(move || {
            let r = read_all(&mut *src, plan, &g, job_tx, recycle_rx);
            if r.is_err() {
                g.stop();
            }
            r
        });
        for _ in 0..threads {
            let rx = job_rx.clone();
            let tx = done_tx.clone();
            let recycle = recycle_tx.clone();
            let dims = &dims;
            s.spawn(move || loop {
                let job = {
                    let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
                    guard.recv()
                };
                let Ok(job) = job else { return };
                let t = Instant::now();
                let stream = codec::compress(&job.data, dtype, dims, cfg)
                    .map_err(|e| format!("compressing the chunk at {:?}: {e}", job.offset));
                let compress_s = t.elapsed().as_secs_f64();
                let _ = recycle.send(job.data);
                if tx
                    .send(Done {
                        seq: job.seq,
                        offset: job.offset,
                        stream,
                        compress_s,
                    })
                    .is_err()
                {
                    return;
                }
            });
        }
        drop(done_tx);
        let mut pending: BTreeMap<usize, Done> = BTreeMap::new();
        let (mut next, mut stored) = (0usize, 0u64);
        let mut compress_s = 0.0f64;
        let write_result = (|| -> Result<(), String> {
            while next < total {
                let Ok(d) = done_rx.recv() else {
                    return Err("the pipeline stopped early".into());
                };
                pending.insert(d.seq, d);
                while let Some(d) = pending.remove(&next) {
                    let stream = d.stream?;
                    w.write_chunk(&d.offset, &stream)?;
                    stored += stream.len() as u64;
                    compress_s += d.compress_s;
                    gate.release();
                    next += 1;
                    progress.inc(1, &format!("chunk {next}/{total}"));
                }
            }
            Ok(())
        })();
        if write_result.is_err() {
            gate.stop();
        }
        drop(done_rx);
        // Lets the reader and the workers finish (the job queue closes when the reader ends).
        let read_result = reader
            .join()
            .unwrap_or_else(|_| Err("the reader thread panicked".into()));
        read_result?;
        write_result?;
        Ok(Summary {
            raw_bytes: 0,
            stored_bytes: stored,
            chunks: total,
            wall_s: 0.0,
            compress_s,
            process_cpu_s: 0.0,
        })
    });
    progress.finish();
    let mut sum = result?;
    sum.raw_bytes = (plan.shape.iter().product::<usize>() * dtype.size()) as u64;
    sum.wall_s = t0.elapsed().as_secs_f64();
    sum.process_cpu_s = process_cpu_s() - cpu0;
    Ok(sum)
}

/// glibc malloc settings for this command: keep freed memory instead of returning it to the
/// kernel after every chunk. With the defaults, the codec's per-chunk buffers are unmapped or
/// `madvise`d away when freed in the worker threads' arenas and page-faulted back (zeroed) for
/// the next chunk: measured on the ROFEX stream, 0.5 s of system time per 0.1 GB and 25-30 %
/// of the process CPU time.
pub const MALLOC_TUNABLES: &str = "glibc.malloc.mmap_threshold=67108864:\
                                   glibc.malloc.trim_threshold=268435456:\
                                   glibc.malloc.top_pad=67108864";

/// Re-executes the program with [`MALLOC_TUNABLES`] (glibc reads them only at start-up), unless
/// the user set `GLIBC_TUNABLES` or `H5Z_APR_MALLOC=default`. Returns only if it does not
/// re-execute (or the exec failed; the run then goes on with the defaults).
pub fn tune_malloc() {
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || std::env::var_os("GLIBC_TUNABLES").is_some()
        || std::env::var_os("H5Z_APR_MALLOC").is_some()
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let _err = std::process::Command::new(&exe)
        .arg0(argv0)
        .args(args)
        .env("GLIBC_TUNABLES", MALLOC_TUNABLES)
        .env("H5Z_APR_MALLOC", "tuned")
        .exec();
}

/// Runs the subcommand.
pub fn run(a: &CompressArgs) -> Result<(), Error> {
    let settings = settings(a)?;
    let cd = settings
        .cd_values()
        .map_err(|e| Error::Usage(e.message().to_string()))?;
    if a.chunks.contains(&0) {
        return Err(Error::Usage("--chunks entries must be >= 1".into()));
    }
    let threads = match a.threads {
        Some(t) => t as usize,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let (out, dataset) = split_output(&a.output);
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{}: not a file name", out.display())))?
        .to_string_lossy()
        .into_owned();
    if !dir.is_dir() {
        return Err(Error::Runtime(format!(
            "cannot write {}: directory {} does not exist",
            out.display(),
            dir.display()
        )));
    }
    if out.exists() && !a.overwrite {
        return Err(Error::Runtime(format!(
            "{} exists (use --overwrite to replace it)",
            out.display()
        )));
    }
    let src = source::open(&a.input).map_err(Error::Runtime)?;
    let (dtype, shape) = (src.dtype(), src.shape().to_vec());
    let chunks = if a.chunks.is_empty() {
        // The input's chunks (clipped: an extendible dataset may have chunks larger than its
        // current extent), else the default.
        let c = src
            .native_chunks()
            .filter(|c| c.len() == shape.len())
            .map(|c| c.iter().zip(&shape).map(|(&c, &s)| c.min(s)).collect())
            .unwrap_or_else(|| crate::input::default_chunks(&shape));
        check_chunks(&c, &shape, dtype).map_err(Error::Runtime)?;
        c
    } else {
        check_chunks(&a.chunks, &shape, dtype).map_err(Error::Usage)?;
        a.chunks.clone()
    };
    let label = src.label();
    let plan = Plan::new(&shape, &chunks, dtype.size(), src.planes_only());
    let tmp = TempFile {
        path: dir.join(format!(".{name}.h5z-apr-{}.tmp", std::process::id())),
        keep: false,
    };
    let _ = std::fs::remove_file(&tmp.path);
    let writer =
        ChunkWriter::create(&tmp.path, &dataset, dtype, &shape, &chunks, &cd).map_err(|e| {
            Error::Runtime(if e.starts_with("cannot create HDF5 file") {
                format!(
                    "cannot create {} (is {} writable?)",
                    out.display(),
                    dir.display()
                )
            } else {
                e
            })
        })?;
    let sum = pipeline(src, &plan, &writer, threads.max(1), a.quiet).map_err(Error::Runtime)?;
    let stored_cd = writer.stored_cd_values.clone();
    writer.finish().map_err(Error::Runtime)?;
    std::fs::rename(&tmp.path, &out).map_err(|e| {
        Error::Runtime(format!(
            "cannot rename the output to {}: {e}",
            out.display()
        ))
    })?;
    let mut tmp = tmp;
    tmp.keep = true;
    let file_bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let ratio = sum.raw_bytes as f64 / sum.stored_bytes.max(1) as f64;
    let mbs = sum.raw_bytes as f64 / 1e6 / sum.wall_s.max(1e-9);
    let cd_list: Vec<String> = cd.iter().map(|c| c.to_string()).collect();
    if a.json {
        let stored_list: Vec<String> = stored_cd.iter().map(|c| c.to_string()).collect();
        println!(
            "{{\"input\":{},\"output\":{},\"dataset\":{},\"dtype\":\"{}\",\"shape\":{:?},\
             \"chunks\":{:?},\"n_chunks\":{},\"mode\":{},\"cd_values\":[{}],\
             \"stored_cd_values\":[{}],\"threads\":{threads},\"raw_bytes\":{},\
             \"stored_bytes\":{},\"file_bytes\":{file_bytes},\"ratio\":{ratio},\
             \"wall_s\":{},\"compress_wall_s\":{},\
             \"process_cpu_s\":{},\"peak_rss_bytes\":{},\"mb_per_s\":{mbs}}}",
            crate::report::jstr(&label),
            crate::report::jstr(&out.display().to_string()),
            crate::report::jstr(&dataset),
            dtype.name(),
            shape,
            chunks,
            sum.chunks,
            crate::report::jstr(&crate::args::setting_label(&settings)),
            cd_list.join(","),
            stored_list.join(","),
            sum.raw_bytes,
            sum.stored_bytes,
            sum.wall_s,
            sum.compress_s,
            sum.process_cpu_s,
            peak_rss_bytes(),
        );
    } else {
        println!(
            "{label} -> {}:{dataset}: {} {shape:?}, chunks {chunks:?} ({} chunks), {}, \
             cd_values ({})\n{:.1} MB -> {:.1} MB, ratio {ratio:.2}, {:.2} s, {mbs:.1} MB/s \
             on {threads} thread{}",
            out.display(),
            dtype.name(),
            sum.chunks,
            crate::args::setting_label(&settings),
            cd_list.join(", "),
            sum.raw_bytes as f64 / 1e6,
            sum.stored_bytes as f64 / 1e6,
            sum.wall_s,
            if threads == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_spec() {
        assert_eq!(
            split_output("a.h5"),
            (PathBuf::from("a.h5"), "/data".into())
        );
        assert_eq!(
            split_output("d/a.h5:/g/x"),
            (PathBuf::from("d/a.h5"), "/g/x".into())
        );
        assert_eq!(
            split_output("a.h5:/"),
            (PathBuf::from("a.h5"), "/data".into())
        );
    }

    #[test]
    fn slabs_split_when_large() {
        let p = Plan::new(&[100, 256, 256], &[16, 256, 256], 2, false);
        assert_eq!((p.depth, p.n_chunks()), (0, 7));
        let p = Plan::new(&[64, 8192, 8192], &[16, 256, 256], 2, false);
        assert!(p.depth >= 1, "{}", p.depth);
        let p = Plan::new(&[64, 8192, 8192], &[16, 256, 256], 2, true);
        assert_eq!(p.depth, 0);
    }

    #[test]
    fn gather_pads_edges_with_zeros() {
        // 3x3 slab, 2x2 chunk at origin (2, 2): one value, the rest zero.
        let slab: Vec<u8> = (1..=9).collect();
        let mut c = vec![0u8; 4];
        gather(&slab, &[3, 3], &mut c, &[2, 2], &[2, 2], &[1, 1], 1);
        assert_eq!(c, [9, 0, 0, 0]);
        let mut c = vec![0u8; 4];
        gather(&slab, &[3, 3], &mut c, &[2, 2], &[0, 1], &[2, 2], 1);
        assert_eq!(c, [2, 3, 5, 6]);
    }
}
