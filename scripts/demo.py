#!/usr/bin/env python3
"""Demo of HDF5 filter 47815 through real HDF5 (h5py from a pip wheel; the plugin is found only
through HDF5_PLUGIN_PATH, nothing of ours is imported).

Writes a volume with the filter in each mode (lossless, abs 4, apr E=0.1), reads it back and
prints the compression ratio, PSNR and max error. Usage: demo.py [volume.npy]
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

FILTER_ID = 47815
REPO = Path(__file__).resolve().parents[1]
DEFAULT_NPY = REPO.parent / "shared" / "data" / "ct_head_ge" / "ct_head_ge_uint16.npy"
MODES = [
    ("lossless", (0,)),
    ("abs 4", (1, 4, 0)),
    ("apr E=0.1", (2, 1, 1)),
]


def load_volume(argv):
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_NPY
    if path.exists():
        a = np.load(path, mmap_mode="r")
        if a.ndim == 3 and a.shape[1] >= 256 and a.shape[2] >= 256 and a.shape[0] >= 16:
            z, y, x = (a.shape[0] - 16) // 2, (a.shape[1] - 256) // 2, (a.shape[2] - 256) // 2
            a = a[z : z + 16, y : y + 256, x : x + 256]
            what = f"{path.name}, central 16x256x256 crop"
        else:
            what = path.name
        return np.ascontiguousarray(a), what
    # Fallback: a generated volume (smooth blobs + noise), clearly labelled as synthetic.
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[0:16, 0:256, 0:256].astype(np.float64)
    v = 200 + 60 * rng.standard_normal((16, 256, 256))
    for _ in range(12):
        cz, cy, cx = rng.uniform(0, 16), rng.uniform(0, 256), rng.uniform(0, 256)
        v += 2500 * np.exp(-((z - cz) ** 2 * 16 + (y - cy) ** 2 + (x - cx) ** 2) / 400.0)
    return v.clip(0, 65535).astype(np.uint16), "SYNTHETIC generated volume (no real data found)"


def psnr(a, b):
    a = a.astype(np.float64)
    mse = np.mean((a - b.astype(np.float64)) ** 2)
    peak = float(a.max() - a.min()) or 1.0
    return float("inf") if mse == 0 else 10 * np.log10(peak * peak / mse)


def main(argv):
    plugin_path = os.environ.get("HDF5_PLUGIN_PATH")
    if not plugin_path:
        sys.exit("demo.py: set HDF5_PLUGIN_PATH to the directory holding libh5z_apr.so (scripts/demo.sh does)")
    vol, what = load_volume(argv)
    chunks = tuple(min(s, c) for s, c in zip(vol.shape, (16, 128, 128)))[-vol.ndim :]
    print(f"volume: {what}: shape {vol.shape} {vol.dtype}, {vol.nbytes / 1e6:.1f} MB, chunks {chunks}")
    print(f"h5py {h5py.__version__} with HDF5 {h5py.version.hdf5_version}; HDF5_PLUGIN_PATH={plugin_path}\n")
    print(f"{'mode':<11} {'cd_values':<12} {'ratio':>7} {'PSNR dB':>8} {'max err':>8} {'write s':>8} {'read s':>7}  note")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, opts in MODES:
            path = Path(tmp) / f"demo_{opts[0]}.h5"
            t0 = time.perf_counter()
            with h5py.File(path, "w") as f:
                f.create_dataset("volume", data=vol, chunks=chunks, compression=FILTER_ID, compression_opts=opts)
            t1 = time.perf_counter()
            with h5py.File(path, "r") as f:
                d = f["volume"]
                back = d[...]
                t2 = time.perf_counter()
                stored = d.id.get_storage_size()
                masks = [d.id.get_chunk_info(i).filter_mask for i in range(d.id.get_num_chunks())]
            raw_chunks = sum(1 for m in masks if m)
            note = "" if raw_chunks == 0 else f"{raw_chunks}/{len(masks)} chunks stored UNCOMPRESSED (encoder declined)"
            err = float(np.abs(back.astype(np.float64) - vol.astype(np.float64)).max())
            if (name == "lossless" and err != 0) or (name == "abs 4" and err > 4):
                note += " BOUND VIOLATED"
                failures += 1
            print(
                f"{name:<11} {','.join(map(str, opts)):<12} {vol.nbytes / stored:>7.2f} {psnr(vol, back):>8.2f} "
                f"{err:>8.3g} {t1 - t0:>8.3f} {t2 - t1:>7.3f}  {note}"
            )
    print("\nSame with the HDF5 tools:  HDF5_PLUGIN_PATH=target/release/plugin h5repack -f UD=47815,0,3,1,4,0 in.h5 out.h5")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
