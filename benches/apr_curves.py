#!/usr/bin/env python3
"""apr vs abs rate-distortion curves through h5py, chunks (16, 256, 256) (issue 9's target).

For every 3-D .npy volume in ../shared/data (or the paths given): h5z-apr abs bounds 1,4,16,64
and apr E 0.05,0.1,0.2,0.4 through h5py + the plugin (ratio = raw bytes / HDF5 storage size,
PSNR over the data range, max error), and for apr rows the pointwise condition
max |I - I'| / sigma_local and the fraction of pixels beyond E * sigma_local, from
`h5z-apr eval --json` with the same chunks (same codec, chunks padded with 0 like HDF5's fill
value; its ratio is printed next to h5py's as a check). Then, per volume: is apr's curve at or
above abs's at equal PSNR (abs's log(ratio) interpolated linearly in PSNR)?
pyapr + APRCompress is not run here (see the results file).

Usage: .venv/bin/python benches/apr_curves.py [--out results.md] [volume.npy ...]
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# peers sets HDF5_PLUGIN_PATH (before h5py starts HDF5) and measures one h5py write/read.
from peers import DATA, FILTER_ID, REPO, chunks_for, decimal, run_one  # noqa: E402
import numpy as np  # noqa: E402

BOUNDS = [1, 4, 16, 64]
RELS = [0.05, 0.1, 0.2, 0.4]
BIN = REPO / "target" / "release" / "h5z-apr"


def eval_apr(path, shape, E):
    ch = ",".join(str(c) for c in chunks_for(shape))
    out = subprocess.run([str(BIN), "eval", str(path), "--mode", "apr", "--rel-error", str(E),
                          "--chunks", ch, "--json", "-q"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)["results"][0]


def interp_abs(abs_rows, psnr):
    pts = sorted((r["psnr_db"], math.log(r["ratio"])) for r in abs_rows
                 if math.isfinite(r["psnr_db"]))
    if not pts or psnr < pts[0][0] or psnr > pts[-1][0]:
        return None
    for (p0, l0), (p1, l1) in zip(pts, pts[1:]):
        if p0 <= psnr <= p1:
            t = 0.0 if p1 == p0 else (psnr - p0) / (p1 - p0)
            return math.exp(l0 + t * (l1 - l0))
    return math.exp(pts[-1][1])


def one(path, tmp):
    vol = np.load(path)
    if vol.ndim != 3:
        return None
    rows = []
    for b in BOUNDS:
        m, e = decimal(b)
        r = run_one(tmp, vol, "h5z-apr", f"abs {b}", dict(compression=FILTER_ID,
                                                          compression_opts=(1, m, e)))
        rows.append(r)
    for E in RELS:
        m, e = decimal(E)
        r = run_one(tmp, vol, "h5z-apr", f"apr E={E:g}", dict(compression=FILTER_ID,
                                                              compression_opts=(2, m, e)))
        j = eval_apr(path, vol.shape, E)
        r["eval_ratio"] = j["ratio"]
        r["err_over_sigma"] = j["max_abs_error_over_sigma_local"]
        r["viol"] = j["e_condition_violation_fraction"]
        r["E"] = E
        rows.append(r)
    return vol, rows


def table(name, vol, rows):
    o = [f"### {name} {vol.dtype} {vol.shape}", "",
         "| setting | ratio | PSNR dB | max err | eval ratio | max err/sigma_local | px > E*sigma_local % | abs ratio at same PSNR | apr >= abs |",
         "|---|---|---|---|---|---|---|---|---|"]
    abs_rows = [r for r in rows if r["setting"].startswith("abs")]
    verdicts = []
    for r in rows:
        if "E" in r:
            a = interp_abs(abs_rows, r["psnr_db"])
            v = "n/a (outside abs PSNR range)" if a is None else ("yes" if r["ratio"] >= a else "no")
            verdicts.append(v)
            o.append(f"| {r['setting']} | {r['ratio']:.2f} | {r['psnr_db']:.2f} | {r['max_err']:.4g} | "
                     f"{r['eval_ratio']:.2f} | {r['err_over_sigma']:.3f} | {100 * r['viol']:.3f} | "
                     f"{'n/a' if a is None else f'{a:.2f}'} | {v} |")
        else:
            o.append(f"| {r['setting']} | {r['ratio']:.2f} | {r['psnr_db']:.2f} | {r['max_err']:.4g} | | | | | |")
    ok = [v for v in verdicts if v != "n/a (outside abs PSNR range)"]
    summary = ("no verdict (no comparable point)" if not ok else
               "at/above abs" if all(v == "yes" for v in ok) else "below abs")
    o += ["", f"Verdict: apr curve {summary} ({sum(v == 'yes' for v in ok)}/{len(ok)} comparable "
          f"apr points at/above abs).", ""]
    return "\n".join(o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("vols", nargs="*")
    a = ap.parse_args()
    vols = [Path(v) for v in a.vols] or sorted(DATA.rglob("*.npy"))
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in vols:
            res = one(p, tmp)
            if res is None:
                continue
            t = table(p.relative_to(DATA) if p.is_relative_to(DATA) else p, *res)
            print(t, flush=True)
            parts.append(t)
    if a.out:
        Path(a.out).write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
