#!/usr/bin/env python3
"""pyapr (LibAPR's Python binding) + APRCompress on one volume: the peer of our apr mode.

Runs in its own venv (pyapr bundles its own HDF5; keep it out of the h5py process):
    python3 -m venv .venv-pyapr && .venv-pyapr/bin/pip install -r benches/requirements-pyapr.txt
    .venv-pyapr/bin/python benches/pyapr_run.py VOLUME.npy [--rel 0.05,0.1] [--q 0.5,1,2]
Prints one JSON object per line: setting, ratio (raw bytes / .apr file bytes, tree particles not
written), PSNR over the data range, max error, write MB/s (conversion + compression + write)
and read MB/s (read + piecewise-constant reconstruction), best of 3 for the read.
benches/apr_curves.py --pyapr .venv-pyapr/bin/python calls this and merges the rows.
pyapr converts the whole volume at once (no chunks), with its automatic parameters.
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
import pyapr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("volume")
    ap.add_argument("--rel", default="0.05,0.1,0.2,0.4")
    ap.add_argument("--q", default="0.5,1,2")
    a = ap.parse_args()
    vol = np.load(a.volume)
    if vol.dtype not in (np.uint8, np.uint16, np.float32):
        vol = vol.astype(np.float32)
    o = vol.astype(np.float64)
    rng = float(o.max() - o.min()) or 1.0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "v.apr")
        for E in [float(v) for v in a.rel.split(",")]:
            for q in [float(v) for v in a.q.split(",")]:
                t0 = time.perf_counter()
                par = pyapr.APRParameters()
                par.auto_parameters = True
                par.rel_error = E
                apr, parts = pyapr.converter.get_apr(np.ascontiguousarray(vol), params=par)
                parts.set_compression_type(1)
                parts.set_quantization_factor(q)
                pyapr.io.write(path, apr, parts, write_tree=False)
                t_w = time.perf_counter() - t0
                size = os.path.getsize(path)
                t_r = float("inf")
                for _ in range(3):
                    t0 = time.perf_counter()
                    apr2, parts2 = pyapr.io.read(path)
                    back = pyapr.reconstruction.reconstruct_constant(apr2, parts2)
                    t_r = min(t_r, time.perf_counter() - t0)
                e = np.asarray(back, dtype=np.float64).reshape(o.shape) - o
                mse = float(np.mean(e * e))
                print(json.dumps({
                    "filter": "pyapr+APRCompress", "setting": f"E={E:g} q={q:g}", "E": E, "q": q,
                    "ratio": vol.nbytes / size,
                    "psnr_db": float("inf") if mse == 0 else 10 * np.log10(rng * rng / mse),
                    "max_err": float(np.abs(e).max()),
                    "write_mb_s": vol.nbytes / 1e6 / t_w, "read_mb_s": vol.nbytes / 1e6 / t_r,
                }), flush=True)


if __name__ == "__main__":
    main()
