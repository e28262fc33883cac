"""Collective write of filter-47815 datasets with Debian's h5py built against parallel HDF5
(python3-h5py-mpi + python3-mpi4py, run with the system /usr/bin/python3 under mpirun), then a
collective parallel read-back with bounds checks. The plugin comes from HDF5_PLUGIN_PATH.

Usage: mpirun -np N /usr/bin/python3 h5py_mpi_write.py OUT.h5 [U16.npy] [F32.npy]
Prints PASS/FAIL lines on rank 0; exit status 1 on any failure on any rank.
"""
import os
import sys

import numpy as np
from mpi4py import MPI

import h5py

FILTER_ID = 47815
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print(f"FAIL rank {rank}: {msg}", file=sys.stderr, flush=True)


def synthetic(shape, seed):
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(-0.5, 0.5, n) for n in shape], indexing="ij")
    r2 = x * x + y * y + z * z
    return 1500 * np.exp(-r2 / 0.05) + 300 * np.sin(9 * x) * np.cos(7 * y) + 400 + rng.normal(0, 10, shape)


def load(path, dtype, seed):
    if path and os.path.exists(path):
        a = np.load(path)
        assert a.dtype == dtype and a.ndim == 3, (path, a.dtype, a.shape)
        return a, path
    return synthetic((93, 64, 64), seed).astype(dtype), "!!!!! SYNTHETIC (real data absent) !!!!!"


def slab(n0, r):
    return n0 * r // size, n0 * (r + 1) // size


def main():
    out = sys.argv[1]
    u16, src_u16 = load(sys.argv[2] if len(sys.argv) > 2 else None, np.uint16, 1)
    f32, src_f32 = load(sys.argv[3] if len(sys.argv) > 3 else None, np.float32, 2)
    if f32.dtype == np.float32 and src_f32.startswith("!!!!!"):
        f32 = (f32 / 1e4).astype(np.float32)
    cfg = h5py.get_config()
    if rank == 0:
        print(f"h5py {h5py.__version__} (mpi={cfg.mpi}), HDF5 {h5py.version.hdf5_version}, "
              f"mpi4py {__import__('mpi4py').__version__}, {size} ranks", flush=True)
        print(f"uint16 input: {src_u16} {u16.shape}; float32 input: {src_f32} {f32.shape}", flush=True)
    # Debian's h5py silently falls back to the serial build when the MPI one fails to import.
    check(cfg.mpi, "h5py is not the MPI build (h5py.get_config().mpi is False)")
    if not cfg.mpi:
        return
    check(h5py.h5z.filter_avail(FILTER_ID), f"filter {FILTER_ID} not available")

    specs = [  # name, data, chunks, cd_values, bound (0 = bit-exact)
        ("u16_abs4", u16, (16, 32, 32), (1, 4, 0), 4.0),
        ("f32_lossless", f32, (8, 64, 64), (0,), 0.0),
        ("f32_abs", f32, (8, 64, 64), (1, 5, 3), 0.005),
    ]
    with h5py.File(out, "w", driver="mpio", comm=comm) as f:
        for name, data, chunks, cd, _ in specs:
            d = f.create_dataset(name, shape=data.shape, dtype=data.dtype, chunks=chunks,
                                 compression=FILTER_ID, compression_opts=cd)
            a, b = slab(data.shape[0], rank)
            with d.collective:
                d[a:b] = data[a:b]
        for tag, data in (("u16", u16), ("f32", f32)):
            d = f.create_dataset(f"orig_{tag}", data=None, shape=data.shape, dtype=data.dtype)
            a, b = slab(data.shape[0], rank)
            with d.collective:
                d[a:b] = data[a:b]

    with h5py.File(out, "r", driver="mpio", comm=comm) as f:
        for name, data, chunks, cd, bound in specs:
            d = f[name]
            plist = d.id.get_create_plist()
            fid, _, stored_cd, fname = plist.get_filter(0)
            check(fid == FILTER_ID and tuple(stored_cd[: len(cd)]) == cd,
                  f"{name}: filter {fid} cd {stored_cd}")
            nbytes = sum(d.id.get_chunk_info(i).size for i in range(d.id.get_num_chunks()))
            check(0 < nbytes < data.nbytes, f"{name}: chunks {nbytes} bytes vs raw {data.nbytes}")
            a, b = slab(data.shape[0], (rank + 1) % size)  # the slab another rank wrote
            with d.collective:
                back = d[a:b]
            want = data[a:b]
            if bound == 0:
                nbad = int(np.count_nonzero(back.view(np.uint8) != want.view(np.uint8)))
                err = 0.0 if nbad == 0 else float(np.max(np.abs(back.astype(np.float64) - want)))
            else:
                e = np.abs(back.astype(np.float64) - want.astype(np.float64))
                nbad, err = int(np.count_nonzero(~(e <= bound))), float(e.max())
            check(nbad == 0, f"{name}: {nbad} elements of slab {a}:{b} out of bound {bound}")
            nbad = comm.allreduce(nbad, op=MPI.SUM)
            err = comm.allreduce(err, op=MPI.MAX)
            if rank == 0:
                print(f"{'PASS' if nbad == 0 else 'FAIL'} h5py-mpi {name:13s} chunks {nbytes} bytes "
                      f"(ratio {data.nbytes / max(nbytes, 1):.2f}), parallel read max |x-x'| = {err:g} "
                      f"(bound {bound:g})", flush=True)


try:
    main()
except Exception as e:  # report, then make the exit status say so
    check(False, f"exception {type(e).__name__}: {e}")
total = comm.allreduce(len(failures), op=MPI.SUM)
if rank == 0:
    print(f"h5py_mpi_write: {'OK' if total == 0 else 'FAILED'} ({size} ranks, {total} failures)", flush=True)
sys.exit(0 if total == 0 else 1)
