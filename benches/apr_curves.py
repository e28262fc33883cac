#!/usr/bin/env python3
"""apr vs abs rate-distortion curves through h5py, chunks (16, 256, 256) (issue 9's target).

For every 3-D .npy volume in ../shared/data (or the paths given): h5z-apr abs bounds 1,4,16,64
and apr E 0.05,0.1,0.2,0.4 through h5py + the plugin (ratio = raw bytes / HDF5 storage size,
PSNR over the data range, max error), and for apr rows the pointwise condition
max |I - I'| / sigma_local and the fraction of pixels beyond E * sigma_local, from
`h5z-apr eval --json` with the same chunks (same codec, chunks padded with 0 like HDF5's fill
value; its ratio is printed next to h5py's as a check). Then, per volume: is apr's curve at or
above abs's at equal PSNR (abs's log(ratio) interpolated linearly in PSNR)?
With --pyapr PYTHON (a venv with benches/requirements-pyapr.txt), pyapr + APRCompress
(E 0.05-0.4, q 0.5/1/2, whole volume, benches/pyapr_run.py) gets rows too, apr is compared with
its Pareto front at equal PSNR, and the read speeds (through h5py for ours, read + piecewise-constant
reconstruction for pyapr, same run) are compared.

Usage: .venv/bin/python benches/apr_curves.py [--out results.md] [--pyapr .venv-pyapr/bin/python]
           [volume.npy ...]
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


def interp(rows, psnr):
    """Ratio of the curve through `rows` (its Pareto front: no point beaten on both PSNR and
    ratio) at `psnr`, log(ratio) linear in PSNR; None outside its PSNR range."""
    pts = sorted((r["psnr_db"], math.log(r["ratio"])) for r in rows
                 if math.isfinite(r["psnr_db"]))
    pts = [p for p in pts if not any(q[0] >= p[0] and q[1] > p[1] for q in pts)]
    if not pts or psnr < pts[0][0] or psnr > pts[-1][0]:
        return None
    for (p0, l0), (p1, l1) in zip(pts, pts[1:]):
        if p0 <= psnr <= p1:
            t = 0.0 if p1 == p0 else (psnr - p0) / (p1 - p0)
            return math.exp(l0 + t * (l1 - l0))
    return math.exp(pts[-1][1])


def dominance(rows, r):
    """Outside the curve's PSNR range: "yes" when r is at least as good on both axes as every
    point of the curve on its side, "no" when some point beats it on both, else "n/a"."""
    pts = [q for q in rows if math.isfinite(q["psnr_db"])]
    if not pts:
        return "n/a"
    if all(r["psnr_db"] >= q["psnr_db"] and r["ratio"] >= q["ratio"] for q in pts):
        return "yes (dominates)"
    if any(q["psnr_db"] >= r["psnr_db"] and q["ratio"] >= r["ratio"] for q in pts):
        return "no (dominated)"
    return "n/a"


def pyapr_rows(py, path):
    out = subprocess.run([py, str(REPO / "benches" / "pyapr_run.py"), str(path)], check=True,
                         capture_output=True, text=True).stdout
    # pyapr's C++ core prints notes on stdout; the rows are the JSON lines.
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def one(path, tmp, pyapr=None):
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
    if pyapr:
        rows += pyapr_rows(pyapr, path)
    return vol, rows


def verdict(vs, what):
    ok = [v for v in vs if v != "n/a"]
    summary = ("no verdict (no comparable point)" if not ok else
               f"at/above {what}" if all(v.startswith("yes") for v in ok) else f"below {what}")
    return (f"apr curve {summary} ({sum(v.startswith('yes') for v in ok)}/{len(ok)} comparable "
            f"apr points at/above {what})")


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else float("nan")


def table(name, vol, rows):
    o = [f"### {name} {vol.dtype} {vol.shape}", "",
         "| setting | ratio | PSNR dB | max err | read MB/s | eval ratio | max err/sigma_local | px > E*sigma_local % "
         "| abs ratio at same PSNR | apr >= abs | pyapr ratio at same PSNR | apr >= pyapr |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    abs_rows = [r for r in rows if r["setting"].startswith("abs")]
    py_rows = [r for r in rows if r["filter"].startswith("pyapr")]
    va, vp = [], []
    for r in rows:
        head = (f"| {r['filter'] + ' ' if r['filter'] != 'h5z-apr' else ''}{r['setting']} | "
                f"{r['ratio']:.2f} | {r['psnr_db']:.2f} | {r['max_err']:.4g} | {r['read_mb_s']:.0f} |")
        if r["filter"] == "h5z-apr" and "E" in r:
            cells = []
            for ref, vs in ((abs_rows, va), (py_rows, vp)):
                x = interp(ref, r["psnr_db"]) if ref else None
                v = "n/a" if x is None else ("yes" if r["ratio"] >= x else "no")
                if x is None and ref:
                    v = dominance(ref, r)
                vs.append(v)
                cells += ["n/a" if x is None else f"{x:.2f}", v]
            o.append(f"{head} {r['eval_ratio']:.2f} | {r['err_over_sigma']:.3f} | "
                     f"{100 * r['viol']:.3f} | " + " | ".join(cells) + " |")
        else:
            o.append(head + " | | | | | | |")
    o += ["", f"Verdict: {verdict(va, 'abs')}."]
    if py_rows:
        ours = median([r["read_mb_s"] for r in rows if r["filter"] == "h5z-apr" and "E" in r])
        ab = median([r["read_mb_s"] for r in abs_rows])
        theirs = median([r["read_mb_s"] for r in py_rows])
        o += [f"Verdict: {verdict(vp, 'pyapr')}.",
              f"Read MB/s (median): apr {ours:.0f}, abs {ab:.0f}, pyapr {theirs:.0f} "
              f"(apr/pyapr {ours / theirs:.2f}x)."]
    o.append("")
    return "\n".join(o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--pyapr", help="python of a venv with pyapr (benches/requirements-pyapr.txt)")
    ap.add_argument("vols", nargs="*")
    a = ap.parse_args()
    vols = [Path(v) for v in a.vols] or sorted(DATA.rglob("*.npy"))
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in vols:
            res = one(p, tmp, a.pyapr)
            if res is None:
                continue
            t = table(p.relative_to(DATA) if p.is_relative_to(DATA) else p, *res)
            print(t, flush=True)
            parts.append(t)
    if a.out:
        Path(a.out).write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
