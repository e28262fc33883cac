#!/usr/bin/env python3
"""Noise mode against abs mode at the same RMSE (issue 9), chunks (16, 256, 256).

For every integer .npy volume in ../shared/data (or the paths given):
- noise mode k = 0.25, 0.5, 1 with `h5z-apr eval --json` (the codec chunk by chunk exactly as
  the HDF5 filter stores it, edge chunks zero-padded): ratio, RMSE, RMSE / noise sigma (eval's
  Immerkaer estimate), max |err| / sigma(I) against the per-tile model, elements over k*sigma(I);
- the same noise settings written through h5py + the plugin (compression=47815,
  compression_opts=(3, m, e)): HDF5's storage ratio and numpy's RMSE on what HDF5 decodes, as a
  check of eval's numbers;
- abs mode at the same RMSE: abs bounds 1, 2, 4, 8, ... until the RMSE passes the noise row's
  RMSE, then bisection over the integer bounds to the two adjacent bounds b, b+1 whose RMSEs
  bracket the noise row's RMSE; the abs ratio there is log(ratio) interpolated linearly in RMSE
  between b and b+1 (bound 0 = lossless when the noise RMSE is below abs 1's). Also the
  time-sharing point (a fraction of the data at b+1, the rest at b, bytes and MSE linear in the
  fraction, at the noise row's MSE: reachable by abs mode chunk by chunk, and never above the
  log-linear number), and the ratio of abs b itself, a real setting with RMSE <= the noise row's;
- abs mode with noise mode's pointwise promise: the bound floor(k * min sigma(I)) (min over the
  volume of the per-tile model, eval's `sigma_model_min`) is the largest abs bound that keeps
  |err| <= k * sigma(I) at every element; its ratio (lossless when the bound is 0).
Prints a Markdown report (--out FILE to write it).

Usage: .venv/bin/python benches/noise_vs_abs.py [--out FILE] [--no-h5py] [volume.npy ...]
(data directory: $H5Z_APR_TEST_DATA, else ../shared/data)
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import DATA, FILTER_ID, REPO, chunks_for, decimal  # noqa: E402
import numpy as np  # noqa: E402

# The data directory: $H5Z_APR_TEST_DATA (as tests/python), else ../shared/data.
DATA = Path(os.environ.get("H5Z_APR_TEST_DATA", DATA))

KS = [0.25, 0.5, 1.0]
BIN = REPO / "target" / "release" / "h5z-apr"


def integer_volumes():
    out = []
    for p in sorted(DATA.glob("**/*.npy")):
        a = np.load(p, mmap_mode="r")
        if a.dtype.kind in "iu":
            out.append(p)
    return out


class Evaluator:
    """`h5z-apr eval` rows of one volume, cached by setting."""

    def __init__(self, path, shape):
        self.path = path
        self.chunks = ",".join(str(c) for c in chunks_for(shape))
        self.cache = {}
        self.input = None

    def run(self, mode, values):
        flag = {"abs": "--bound", "noise": "--k"}[mode]
        todo = [v for v in values if (mode, v) not in self.cache]
        if todo:
            out = subprocess.run(
                [str(BIN), "eval", str(self.path), "--mode", mode, flag,
                 ",".join(str(v) for v in todo), "--chunks", self.chunks, "--json", "-q",
                 "--no-downstream"], check=True, capture_output=True, text=True).stdout
            j = json.loads(out)
            self.input = j["input"]
            for v, r in zip(todo, j["results"]):
                self.cache[(mode, v)] = r
        return [self.cache[(mode, v)] for v in values]

    def abs_row(self, b):
        if b == 0:
            return {"rmse": 0.0, "ratio": self.lossless_ratio()}
        return self.run("abs", [b])[0]

    def lossless_ratio(self):
        if ("lossless", 0) not in self.cache:
            out = subprocess.run(
                [str(BIN), "eval", str(self.path), "--mode", "lossless", "--chunks",
                 self.chunks, "--json", "-q", "--no-downstream"], check=True,
                capture_output=True, text=True).stdout
            self.cache[("lossless", 0)] = json.loads(out)["results"][0]
        return self.cache[("lossless", 0)]["ratio"]


def abs_at_rmse(ev, target):
    """(b, b+1, interpolated bound, interpolated ratio) with rmse(b) <= target <= rmse(b+1)."""
    hi = 1
    while ev.abs_row(hi)["rmse"] < target:
        hi *= 2
        if hi > 1 << 20:
            raise RuntimeError(f"abs RMSE never reaches {target}")
    lo = hi // 2 if hi > 1 else 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ev.abs_row(mid)["rmse"] < target:
            lo = mid
        else:
            hi = mid
    r0, r1 = ev.abs_row(lo), ev.abs_row(hi)
    e0, e1 = r0["rmse"], r1["rmse"]
    if not e0 <= target <= e1:
        raise RuntimeError(f"abs RMSE not monotone around {target}: {lo}:{e0} {hi}:{e1}")
    t = 0.0 if e1 == e0 else (target - e0) / (e1 - e0)
    ratio = math.exp(math.log(r0["ratio"]) + t * (math.log(r1["ratio"]) - math.log(r0["ratio"])))
    # Time-sharing: a fraction u of the data at bound hi, the rest at lo, has MSE and bytes
    # linear in u, so it is a point abs mode can really reach (by chunks); log-linear in RMSE
    # lies above it (geometric >= harmonic mean of the ratios).
    m0, m1 = e0 * e0, e1 * e1
    u = 0.0 if m1 == m0 else (target * target - m0) / (m1 - m0)
    shared = 1.0 / ((1.0 - u) / r0["ratio"] + u / r1["ratio"])
    return lo, hi, lo + t, ratio, r0["ratio"], shared


def h5py_noise(path, k):
    from peers import run_one  # imports h5py with the plugin path set
    vol = np.load(path)
    m, e = decimal(k)
    with tempfile.TemporaryDirectory() as tmp:
        r = run_one(tmp, vol, "h5z-apr", f"noise {k}",
                    {"compression": FILTER_ID, "compression_opts": (3, m, e)})
        # RMSE of what HDF5 decoded (run_one gives PSNR over the data range).
        o = vol.astype(np.float64)
        rng = float(o.max() - o.min()) or 1.0
        r["rmse"] = rng / 10 ** (r["psnr_db"] / 20) if math.isfinite(r["psnr_db"]) else 0.0
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--no-h5py", action="store_true")
    ap.add_argument("volumes", nargs="*")
    a = ap.parse_args()
    vols = [Path(v) for v in a.volumes] or integer_volumes()
    if not vols:
        sys.exit(f"noise_vs_abs.py: no integer .npy volumes under {DATA} (set H5Z_APR_TEST_DATA)")
    lines = ["| volume | dtype, shape | noise σ (eval) | k | noise ratio | RMSE | RMSE/σ | "
             "max err/σ(I) | > k·σ(I) (fraction) | h5py ratio, RMSE | abs bound (b..b+1) | abs ratio at same RMSE "
             "| noise/abs | abs time-sharing b, b+1 at same MSE | noise/that | abs b ratio (RMSE <= noise's) | abs with the same promise: bound, ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    summary = []
    checks = []
    for p in vols:
        shape = np.load(p, mmap_mode="r").shape
        dtype = np.load(p, mmap_mode="r").dtype
        ev = Evaluator(p, shape)
        rows = ev.run("noise", KS)
        sigma = ev.input["noise_sigma"]
        name = p.relative_to(DATA) if p.is_relative_to(DATA) else p
        for k, r in zip(KS, rows):
            lo, hi, beq, aratio, lo_ratio, shared = abs_at_rmse(ev, r["rmse"])
            h = None if a.no_h5py else h5py_noise(p, k)
            if h is not None:
                # Recorded, not raised: a mismatch is a finding to report, the other rows still count.
                dr = abs(h["ratio"] - r["ratio"]) / r["ratio"]
                de = abs(h["rmse"] - r["rmse"]) / max(r["rmse"], 1e-9)
                checks.append((str(name), k, h["ratio"], r["ratio"], h["rmse"], r["rmse"],
                               dr <= 1e-9 and de <= 1e-6))
            mos = r["max_abs_error_over_sigma_model"]
            smin = r["sigma_model_min"]
            bg = 0 if smin is None else int(math.floor(k * smin))
            gratio = ev.abs_row(bg)["ratio"]
            lines.append(
                f"| {name} | {dtype}, {tuple(shape)} | {sigma:.4g} | {k} | {r['ratio']:.3f} | "
                f"{r['rmse']:.4g} | {r['rmse_over_noise']:.3f} | "
                f"{mos if isinstance(mos, str) else format(mos, '.3f')} | "
                f"{r['noise_bound_violation_fraction']:.3g} | "
                f"{'-' if h is None else format(h['ratio'], '.3f') + ', ' + format(h['rmse'], '.4g')}"
                f"{'' if h is None or checks[-1][-1] else ' MISMATCH'} | {beq:.2f} ({lo}..{hi}) | "
                f"{aratio:.3f} | {r['ratio'] / aratio:.3f} | {shared:.3f} | {r['ratio'] / shared:.3f} | "
                f"{'lossless' if lo == 0 else 'abs ' + str(lo)} {lo_ratio:.3f} | "
                f"{'lossless' if bg == 0 else 'abs ' + str(bg)}, {gratio:.3f} |")
            summary.append((str(name), k, r["ratio"], aratio, r["rmse_over_noise"], gratio, shared))
            print(lines[-1], file=sys.stderr, flush=True)
    text = "\n".join(lines) + "\n"
    text += "\nnoise ratio > abs ratio at the same RMSE:\n\n"
    for name, k, nr, ar, ro, gr, sr in summary:
        text += (f"- {name} k={k}: {'yes' if nr > ar else 'no'} ({nr:.3f} vs {ar:.3f}; time-sharing "
                 f"{sr:.3f}: {'yes' if nr > sr else 'no'}); RMSE/σ {ro:.3f}; "
                 f"vs abs with the same pointwise promise {nr / gr:.2f}x\n")
    if checks:
        bad = [c for c in checks if not c[-1]]
        text += (f"\nh5py cross-check (HDF5 storage ratio and numpy RMSE of what HDF5 decodes, against "
                 f"eval; ratio to 1e-9, RMSE to 1e-6 relative): {len(checks) - len(bad)}/{len(checks)} "
                 f"rows agree.\n")
        for name, k, hr, er, he, ee, _ in bad:
            text += (f"- MISMATCH {name} k={k}: h5py ratio {hr:.6f} vs eval {er:.6f}, "
                     f"h5py RMSE {he:.6g} vs eval {ee:.6g}\n")
    if a.out:
        Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
