"""Filter 47815 through h5py: write and read MB/s of a (16, 256, 256)-chunked dataset with
H5Z_APR_NTHREADS=1 and =2 (each in a fresh process, the plugin found via HDF5_PLUGIN_PATH),
and the speed-up, next to h5py's own gzip-1 in the same run. Also checks that the files'
chunks are byte-identical for both thread counts.

Run: HDF5_PLUGIN_PATH=target/release/plugin .venv/bin/python benches/h5py_speed.py [names...]
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
VOLUMES = {
    "fluo_confocal_nuclei": "fluo_confocal_nuclei_cells3d/nuclei_uint16.npy",
    "ct_headsq_vtk": "ct_headsq_vtk/headsq_quarter_uint16.npy",
    "cryoet_tomogram_f32": "cryoet_tomogram_hiv/tomo_float32.npy",
    "stardist_3d": "fluo_nuclei_stardist/img3d_uint16.npy",
}
SETTINGS = {"lossless": (0,), "abs 4": (1, 4, 0), "apr E=0.1": (2, 1, 1)}


def child(path, name, opts, out):
    """One measurement in this process (H5Z_APR_NTHREADS is already set)."""
    import h5py
    import numpy as np

    a = np.load(DATA / VOLUMES[name])
    a = a if a.ndim == 3 else a[None]
    a = np.ascontiguousarray(a[:, :512, :512])
    chunks = (min(16, a.shape[0]), min(256, a.shape[1]), min(256, a.shape[2]))
    kw = dict(compression="gzip", compression_opts=1) if opts is None else dict(compression=47815, compression_opts=tuple(opts))
    best_w = best_r = float("inf")
    for _ in range(3):
        with h5py.File(path, "w") as f:
            t = time.perf_counter()
            f.create_dataset("x", data=a, chunks=chunks, **kw)
            f.flush()
            best_w = min(best_w, time.perf_counter() - t)
        with h5py.File(path, "r") as f:
            t = time.perf_counter()
            b = f["x"][...]
            best_r = min(best_r, time.perf_counter() - t)
            size = f["x"].id.get_storage_size()
            chunks_raw = [f["x"].id.read_direct_chunk(f["x"].id.get_chunk_info(i).chunk_offset)[1] for i in range(f["x"].id.get_num_chunks())]
    if opts is not None and opts[0] == 0:
        assert (a == b).all()
    import hashlib

    digest = hashlib.sha256(b"".join(chunks_raw)).hexdigest()
    json.dump({"mb": a.nbytes / 1e6, "w": best_w, "r": best_r, "ratio": a.nbytes / size, "digest": digest}, open(out, "w"))


def run(name, opts, threads):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "r.json"
        env = dict(os.environ, H5Z_APR_NTHREADS=str(threads))
        subprocess.run([sys.executable, __file__, "--child", str(Path(d) / "f.h5"), name, json.dumps(opts), str(out)], env=env, check=True)
        return json.loads(out.read_text())


def main(args):
    if not DATA.is_dir():
        print(f"SKIP: {DATA} not found")
        return
    names = [n for n in VOLUMES if not args or any(a in n for a in args)]
    print("| dataset | setting | ratio | write MB/s 1 thr | write MB/s 2 thr | write speed-up | read MB/s 1 thr | read MB/s 2 thr | read speed-up | gzip-1 write / read MB/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        g = run(name, None, 1)
        for label, opts in SETTINGS.items():
            r1 = run(name, opts, 1)
            r2 = run(name, opts, 2)
            assert r1["digest"] == r2["digest"], f"{name} {label}: chunks differ between 1 and 2 threads"
            mb = r1["mb"]
            print(
                f"| {name} | {label} | {r1['ratio']:.2f} | {mb / r1['w']:.0f} | {mb / r2['w']:.0f} | {r1['w'] / r2['w']:.2f} | "
                f"{mb / r1['r']:.0f} | {mb / r2['r']:.0f} | {r1['r'] / r2['r']:.2f} | {mb / g['w']:.0f} / {mb / g['r']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        p, name, opts, out = sys.argv[2:6]
        child(p, name, json.loads(opts), out)
    else:
        main(sys.argv[1:])
