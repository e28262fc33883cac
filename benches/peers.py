#!/usr/bin/env python3
"""Compare the APR filter (47815) with the filters a facility would otherwise use.

Writes the same volumes through HDF5 (h5py) with our filter and with Zstd, Blosc
(zstd + bitshuffle), gzip + shuffle, SZ3 and ZFP, at matched pointwise error bounds, and
prints ratio, PSNR, max error, write and read MB/s for every combination, as Markdown tables.

Setup (once), from the repository root:
    bash scripts/setup.sh && .venv/bin/pip install -r benches/requirements.txt
    cargo build --release
Run:
    .venv/bin/python benches/peers.py                 # all datasets found in ../shared/data
    .venv/bin/python benches/peers.py --datasets lls_bead_psf --sigmas 1 --json out.json

Our filter is loaded from HDF5_PLUGIN_PATH; when that is unset, the script points it at a
private copy of target/release/libh5z_apr.so. Peer filters come from hdf5plugin.

Error bounds: for each dataset, bound = k x (estimated noise sigma) for each k in --sigmas
(default 0.5 and 2: below and above the noise), rounded down to an integer (at least 1) for
integer data. The same bound goes to our abs mode, SZ3 (absolute) and ZFP (accuracy). ZFP
and SZ3 only handle some dtypes: when the native dtype is refused, they are run on a float32
copy (marked "(f32)") while the ratio still divides the ORIGINAL raw bytes, so the numbers
remain comparable storage costs. ZFP's accuracy mode is conservative (its errors stay well
below the bound), so compare it at equal PSNR as well as at equal bound. Our apr mode (relative error E, not a pointwise bound) gets
its own rows with --rel-errors.

Timings are single runs, wall clock, through h5py (file in a temporary directory; write
includes the flush); they measure the whole HDF5 path, not just the codec.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
FILTER_ID = 47815


def setup_plugin_path():
    if os.environ.get("HDF5_PLUGIN_PATH"):
        return os.environ["HDF5_PLUGIN_PATH"]
    so = REPO / "target" / "release" / "libh5z_apr.so"
    if not so.exists():
        sys.exit(f"peers.py: {so} not found; run `cargo build --release` or set HDF5_PLUGIN_PATH")
    d = Path(tempfile.mkdtemp(prefix="h5z-apr-plugin-"))
    shutil.copy(so, d / so.name)
    os.environ["HDF5_PLUGIN_PATH"] = str(d)
    return str(d)


PLUGIN_DIR = setup_plugin_path()  # before h5py initialises HDF5

import numpy as np  # noqa: E402

import h5py  # noqa: E402

# Only the peer rows need hdf5plugin; other benches import this module for run_one() without it.
try:
    import hdf5plugin  # noqa: E402
except ImportError as e:
    hdf5plugin = None
    HDF5PLUGIN_ERROR = f"peers.py: {e}; install with: .venv/bin/pip install -r benches/requirements.txt"


def crop_center(a, size):
    y0 = max(0, (a.shape[-2] - size) // 2)
    x0 = max(0, (a.shape[-1] - size) // 2)
    return np.ascontiguousarray(a[..., y0:y0 + size, x0:x0 + size])


def load_h5(path, name):
    with h5py.File(path, "r") as f:
        return f[name][...]


# name -> (loader, description)
DATASETS = {
    "lls_bead_psf": (lambda: np.load(DATA / "lls_bead_psf_pycudadecon/psf_uint16.npy"),
                     "light-sheet bead PSF"),
    "fluo_confocal_nuclei": (lambda: np.load(DATA / "fluo_confocal_nuclei_cells3d/nuclei_uint16.npy"),
                             "confocal nuclei"),
    "ct_head_ge": (lambda: crop_center(np.load(DATA / "ct_head_ge/ct_head_ge_uint16.npy"), 256),
                   "clinical CT head, central 256x256"),
    "cryoet_tomogram_hiv": (lambda: np.load(DATA / "cryoet_tomogram_hiv/tomo_float32.npy"),
                            "cryo-ET tomogram (float32)"),
    "fluo_2d_timelapse": (lambda: np.load(DATA / "fluo_2d_timelapse_ctc/timelapse_uint8.npy"),
                          "2-D time-lapse (uint8)"),
    "ct_headsq_vtk": (lambda: np.load(DATA / "ct_headsq_vtk/headsq_quarter_uint16.npy"),
                      "VTK head CT, quarter"),
    "fluo_nuclei_stardist_3d": (lambda: np.load(DATA / "fluo_nuclei_stardist/img3d_uint16.npy"),
                                "small 3-D nuclei"),
    "ct_tooth_projections": (lambda: load_h5(DATA / "ct_tooth_projections_tomopy/tooth.h5",
                                             "/exchange/data"),
                             "micro-CT projections (float32)"),
}


def noise_sigma(vol):
    """Immerkaer's operator over the (y, x) planes, robust median, flat 3x3 patches skipped.
    Close to, not identical with, codec::apr::estimate_noise_sigma (what `h5z-apr eval` prints);
    it only sets the bounds, which are printed."""
    v = vol.astype(np.float64).reshape((-1,) + vol.shape[-2:])
    if v.shape[1] < 3 or v.shape[2] < 3:
        line = vol.astype(np.float64).reshape(-1)
        d = line[:-2] - 2 * line[1:-1] + line[2:]
        d = d[d != 0]
        return float(np.median(np.abs(d)) / 0.6745 / np.sqrt(6)) if d.size else 0.0
    lap = v[:, :, :-2] - 2 * v[:, :, 1:-1] + v[:, :, 2:]
    L = lap[:, :-2] - 2 * lap[:, 1:-1] + lap[:, 2:]
    c = v[:, 1:-1, 1:-1]
    flat = np.ones_like(L, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            flat &= v[:, dy:dy + L.shape[1], dx:dx + L.shape[2]] == c
    vals = np.abs(L[~flat])
    return float(np.median(vals) / 0.6745 / 6.0) if vals.size else 0.0


def chunks_for(shape):
    pref = (16, 256, 256)
    n = len(shape)
    return tuple(min(s, pref[3 - (n - i)]) if n - i <= 3 else 1 for i, s in enumerate(shape))


def decimal(v):
    """v = m x 10^-e with the smallest e (our cd_values encoding of the bound)."""
    for e in range(0, 23):
        m = round(v * 10 ** e)
        if abs(m / 10 ** e - v) <= abs(v) * 1e-12 and m < 2 ** 32:
            return m, e
    raise ValueError(f"bound {v} has too many digits")


def run_one(tmp, vol, label, setting, kwargs, as_f32=False):
    """Writes vol with the given h5py create_dataset kwargs, reads it back, measures."""
    data = vol.astype(np.float32) if as_f32 else vol
    path = Path(tmp) / "bench.h5"
    if path.exists():
        path.unlink()
    ch = chunks_for(vol.shape)
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=data, chunks=ch, **kwargs)
        f.flush()
        stored = d.id.get_storage_size()
    t_w = time.perf_counter() - t0
    with h5py.File(path, "r") as f:
        # h5py marks filters optional: a chunk the filter refused is stored raw with a
        # non-zero filter mask. Such a row would show raw size and zero error: report it.
        dsid = f["x"].id
        n = dsid.get_num_chunks()
        skipped = sum(dsid.get_chunk_info(i).filter_mask != 0 for i in range(n))
        if skipped:
            raise RuntimeError(f"filter skipped on {skipped}/{n} chunks (stored unfiltered)")
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        back = f["x"][...]
    t_r = time.perf_counter() - t0
    o = vol.astype(np.float64)
    e = back.astype(np.float64) - o
    mse = float(np.mean(e * e))
    rng = float(o.max() - o.min()) or 1.0
    raw = vol.nbytes  # original dtype, even when the filter ran on a float32 copy
    return {
        "filter": label + (" (f32)" if as_f32 else ""),
        "setting": setting,
        "ratio": raw / max(stored, 1),
        "psnr_db": float("inf") if mse == 0 else 10 * np.log10(rng * rng / mse),
        "max_err": float(np.abs(e).max()),
        "write_mb_s": raw / 1e6 / t_w,
        "read_mb_s": raw / 1e6 / t_r,
    }


def attempt(tmp, vol, label, setting, kwargs, f32_fallback=False):
    try:
        return run_one(tmp, vol, label, setting, kwargs)
    except Exception as e:  # filter refused the dtype or is unavailable
        if f32_fallback and vol.dtype != np.float32:
            try:
                return run_one(tmp, vol, label, setting, kwargs, as_f32=True)
            except Exception as e2:
                e = e2
        return {"filter": label, "setting": setting, "error": str(e).splitlines()[0][:80]}


def attempt_f32(tmp, vol, label, setting, kwargs):
    try:
        return run_one(tmp, vol, label, setting, kwargs, as_f32=True)
    except Exception as e:
        return {"filter": label, "setting": setting, "error": str(e).splitlines()[0][:80]}


def bench(name, vol, sigmas, rel_errors, tmp, fixed_bounds=()):
    rows = []
    lossless = [
        ("h5z-apr", "lossless", dict(compression=FILTER_ID, compression_opts=(0,))),
        ("zstd", "level 3", dict(**hdf5plugin.Zstd(clevel=3))),
        ("blosc zstd+bitshuffle", "level 5",
         dict(**hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE))),
        ("gzip+shuffle", "level 4", dict(compression="gzip", compression_opts=4, shuffle=True)),
    ]
    for label, setting, kw in lossless:
        rows.append(attempt(tmp, vol, label, setting, kw))
    sigma = noise_sigma(vol)
    is_int = np.issubdtype(vol.dtype, np.integer)
    bounds = []
    for k in sigmas:
        b = k * sigma
        if is_int:
            b = max(1.0, float(np.floor(b)))
        else:
            b = float(f"{b:.3g}") if b > 0 else 1e-3
        if b not in bounds:
            bounds.append(b)
    for b in fixed_bounds:
        if b not in bounds:
            bounds.append(b)
    for b in bounds:
        m, e = decimal(b)
        s = f"abs {b:g}"
        rows.append(attempt(tmp, vol, "h5z-apr", s,
                            dict(compression=FILTER_ID, compression_opts=(1, m, e))))
        rows.append(attempt(tmp, vol, "sz3", s, dict(**hdf5plugin.SZ3(absolute=b)), True))
        rows.append(attempt(tmp, vol, "zfp", s, dict(**hdf5plugin.Zfp(accuracy=b)), True))
        # hdf5plugin's SPERR crashes the process on integer data instead of refusing it, so it
        # always gets the float32 copy for non-float volumes.
        if np.issubdtype(vol.dtype, np.floating):
            rows.append(attempt(tmp, vol, "sperr", s, dict(**hdf5plugin.Sperr(absolute=b))))
        else:
            rows.append(attempt_f32(tmp, vol, "sperr", s, dict(**hdf5plugin.Sperr(absolute=b))))
    for E in rel_errors:
        m, e = decimal(E)
        rows.append(attempt(tmp, vol, "h5z-apr", f"apr E={E:g}",
                            dict(compression=FILTER_ID, compression_opts=(2, m, e))))
    return sigma, bounds, rows


def fmt(v, nd=2):
    if isinstance(v, float):
        if v == float("inf"):
            return "inf"
        return f"{v:.{nd}f}" if abs(v) < 1e5 else f"{v:.3g}"
    return str(v)


def print_table(name, desc, vol, sigma, rows):
    print(f"\n### {name}: {desc}, {vol.dtype} {tuple(vol.shape)}, chunks {chunks_for(vol.shape)}, "
          f"noise sigma ~ {sigma:.3g}\n")
    print("| filter | setting | ratio | PSNR dB | max err | write MB/s | read MB/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['filter']} | {r['setting']} | n/a: {r['error']} | | | | |")
            continue
        print(f"| {r['filter']} | {r['setting']} | {fmt(r['ratio'])} | {fmt(r['psnr_db'])} | "
              f"{fmt(r['max_err'], 4) if r['max_err'] < 1 else fmt(r['max_err'])} | "
              f"{fmt(r['write_mb_s'], 1)} | {fmt(r['read_mb_s'], 1)} |")
    sys.stdout.flush()


def main():
    if hdf5plugin is None:
        sys.exit(HDF5PLUGIN_ERROR)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS),
                    help="comma-separated subset of: " + ", ".join(DATASETS))
    ap.add_argument("--sigmas", default="0.5,2",
                    help="error bounds as multiples of the estimated noise sigma (default 0.5,2)")
    ap.add_argument("--rel-errors", default="0.1",
                    help="relative errors E for our apr mode rows ('' for none; default 0.1)")
    ap.add_argument("--bounds", default="4",
                    help="fixed absolute bounds for integer data, in addition to the sigma "
                         "multiples (default 4, the bound of the project's targets; '' for none)")
    ap.add_argument("--json", help="also write all rows to this JSON file")
    a = ap.parse_args()
    fixed = [float(s) for s in a.bounds.split(",") if s]
    sigmas = [float(s) for s in a.sigmas.split(",") if s]
    rel = [float(s) for s in a.rel_errors.split(",") if s]
    print(f"# Peer comparison (h5py {h5py.version.version}, HDF5 {h5py.version.hdf5_version}, "
          f"hdf5plugin {hdf5plugin.version}; our plugin from {PLUGIN_DIR})")
    if not DATA.exists():
        sys.exit(f"peers.py: test data directory {DATA} not found")
    out = {}
    with tempfile.TemporaryDirectory(prefix="h5z-apr-peers-") as tmp:
        for name in [s for s in a.datasets.split(",") if s]:
            if name not in DATASETS:
                sys.exit(f"peers.py: unknown dataset {name}; choose from {', '.join(DATASETS)}")
            loader, desc = DATASETS[name]
            try:
                vol = loader()
            except FileNotFoundError as e:
                print(f"\n### {name}: SKIPPED, data not found ({e})")
                continue
            is_int = np.issubdtype(vol.dtype, np.integer)
            sigma, bounds, rows = bench(name, vol, sigmas, rel, tmp, fixed if is_int else ())
            print_table(name, desc, vol, sigma, rows)
            out[name] = {"dtype": str(vol.dtype), "shape": list(vol.shape),
                         "noise_sigma": sigma, "bounds": bounds, "rows": rows}
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
