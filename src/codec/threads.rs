//! How many threads one compress/decompress call may use, and the scoped worker loop that
//! runs a chunk's tiles (FORMAT.md §4) on them.
//!
//! The count is, in this order: [`Config::threads`](super::Config) when non-zero (compress
//! only); the process-wide value of [`set_threads`] (C API `h5z_apr_set_nthreads`) when
//! non-zero; the environment variable `H5Z_APR_NTHREADS` (read on every call, so a host may
//! change it at run time; an integer >= 1, anything else is ignored); otherwise **1**.
//!
//! Default 1, like `BLOSC_NTHREADS`: hosts that already run one filter call per core (dask,
//! multiprocessing, MPI ranks, h5py in a thread pool) would otherwise start cores x cores
//! threads. Threads are started per call with `std::thread::scope` and all have ended when
//! the call returns: there is no pool, nothing survives a call or a `fork`.
//! The bytes written never depend on the thread count.

use super::error::Result;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Upper limit of the thread count (larger requests are clamped).
pub const MAX_THREADS: usize = 256;

/// Name of the environment variable read when no count was set.
pub const ENV_VAR: &str = "H5Z_APR_NTHREADS";

static SET: AtomicUsize = AtomicUsize::new(0);

/// Sets the process-wide thread count (0 = unset: use `H5Z_APR_NTHREADS`, else 1).
pub fn set_threads(n: usize) {
    SET.store(n.min(MAX_THREADS), Ordering::Relaxed);
}

/// The thread count a call without its own setting uses now (>= 1).
pub fn threads() -> usize {
    match SET.load(Ordering::Relaxed) {
        0 => std::env::var(ENV_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n >= 1)
            .map_or(1, |n| n.min(MAX_THREADS)),
        n => n,
    }
}

/// Runs `f(0) .. f(ntasks - 1)` on up to `nthreads` threads (the caller's thread is one of
/// them; tasks are handed out by an atomic counter) and returns the results in task order.
/// On failure the error of the lowest failing task is returned, as a sequential run would
/// (tasks after a known failure are skipped). A panic in a worker is resumed on the calling
/// thread after every worker has stopped, so the FFI boundary's `catch_unwind` reports it.
pub(crate) fn run<T: Send>(
    ntasks: usize,
    nthreads: usize,
    f: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let nthreads = nthreads.clamp(1, ntasks.max(1));
    if nthreads == 1 {
        return (0..ntasks).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let first_fail = AtomicUsize::new(usize::MAX);
    let slots: Vec<Mutex<Option<Result<T>>>> = (0..ntasks).map(|_| Mutex::new(None)).collect();
    let worker = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= ntasks || i > first_fail.load(Ordering::Relaxed) {
            break;
        }
        let r = f(i);
        if r.is_err() {
            first_fail.fetch_min(i, Ordering::Relaxed);
        }
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    };
    let panic = std::thread::scope(|s| {
        let handles: Vec<_> = (1..nthreads).map(|_| s.spawn(worker)).collect();
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(worker));
        let mut panic = mine.err();
        for h in handles {
            if let Err(p) = h.join() {
                panic.get_or_insert(p);
            }
        }
        panic
    });
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
    let mut out = Vec::with_capacity(ntasks);
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(t)) => out.push(t),
            Some(Err(e)) => return Err(e),
            // Skipped after an earlier task failed: that error comes first in task order.
            None => unreachable!("task skipped without an earlier failure"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Error;

    #[test]
    fn results_come_in_task_order_for_any_thread_count() {
        for t in [1, 2, 3, 8] {
            let r = run(50, t, |i| Ok(i * i)).unwrap();
            assert_eq!(r, (0..50).map(|i| i * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_lowest_failing_task_is_reported() {
        for t in [1, 2, 3, 8] {
            let e = run(40, t, |i| {
                if i % 7 == 5 {
                    Err(Error::corrupt(format!("task {i}")))
                } else {
                    Ok(i)
                }
            })
            .unwrap_err();
            assert_eq!(e.message(), "task 5", "{t} threads");
        }
    }

    #[test]
    fn a_worker_panic_reaches_the_caller_as_a_panic_not_an_abort() {
        let r = std::panic::catch_unwind(|| {
            run(16, 4, |i| {
                if i == 9 {
                    panic!("boom in task 9");
                }
                Ok(i)
            })
        });
        let p = r.unwrap_err();
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap();
        assert!(msg.contains("boom in task 9"), "{msg}");
    }
}
