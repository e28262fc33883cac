#!/usr/bin/env python3
"""Where noise mode stays lossless: per volume, chunks (16, 256, 256) compressed in noise mode
(h5z_apr.compress, the bytes the filter stores), the (a, b) of every method-7 tile read from the
stream, then the fraction of 4x16x16 blocks whose half-width floor(k*sigma(block minimum)) is 0
(FORMAT.md §6.4: those blocks are coded exactly) and of elements with floor(k*sigma(x)) = 0.

Usage (needs the h5z_apr package: the wheel, or python/h5z_apr with libh5z_apr.so copied in,
on PYTHONPATH): python benches/noise_blocks.py [--k 0.5] [volume.npy ...]
(data directory: $H5Z_APR_TEST_DATA, else ../shared/data)
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

import h5z_apr

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "python"))
from noise_model import _varint  # noqa: E402

DATA = Path(os.environ.get("H5Z_APR_TEST_DATA", REPO.parent / "shared" / "data"))
CH = (16, 256, 256)


def tiles(stream, chunk):
    """(a, b, tile values) of every method-7 tile of a rank-3 noise stream (FORMAT.md §4.2)."""
    b = stream
    pos = 16 + 12
    e, t = [], []
    for _ in range(3):
        v, pos = _varint(b, pos)
        e.append(v)
    pos += chunk.dtype.itemsize
    for _ in range(3):
        v, pos = _varint(b, pos)
        t.append(v)
    if e[0] == 0:
        return
    g = [-(-e[i] // t[i]) for i in range(3)]
    lens = []
    for _ in range(g[0] * g[1] * g[2]):
        n, pos = _varint(b, pos)
        lens.append(n)
    for i, n in enumerate(lens):
        body = b[pos : pos + n]
        pos += n
        if body[0] != 7:
            continue
        a, bb = (float(x) for x in np.frombuffer(body[1:9], "<f4"))
        o = (i // (g[1] * g[2]) * t[0], (i // g[2]) % g[1] * t[1], i % g[2] * t[2])
        sl = tuple(slice(o[d], min(o[d] + t[d], e[d])) for d in range(3))
        yield a, bb, chunk[sl].astype(np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=float, default=0.5)
    ap.add_argument("volumes", nargs="*")
    a = ap.parse_args()
    k = a.k
    vols = [Path(v) for v in a.volumes] or [
        p for p in sorted(DATA.glob("**/*.npy")) if np.load(p, mmap_mode="r").dtype.kind in "iu"
        and np.load(p, mmap_mode="r").ndim == 3
    ]
    print(f"| volume | k | blocks with k_j = 0 | elements with floor(k·σ(x)) = 0 | a range | b range |")
    print("|---|---:|---:|---:|---|---|")
    for p in vols:
        v = np.load(p)
        nb = nz = nel = zel = 0
        am, bm = [], []
        for z0 in range(0, v.shape[0], CH[0]):
            for y0 in range(0, v.shape[1], CH[1]):
                for x0 in range(0, v.shape[2], CH[2]):
                    c = np.zeros(tuple(min(c, s) for c, s in zip(CH, v.shape)), v.dtype)
                    part = v[z0 : z0 + CH[0], y0 : y0 + CH[1], x0 : x0 + CH[2]]
                    c[: part.shape[0], : part.shape[1], : part.shape[2]] = part  # HDF5 pads with 0
                    for A, B, tile in tiles(h5z_apr.compress(c, mode="noise", k=k), c):
                        am.append(A)
                        bm.append(B)
                        s = np.sqrt(np.maximum(0.0, A * tile + B))
                        nel += tile.size
                        zel += int(np.sum(np.floor(k * s) == 0))
                        Z, X, Y = tile.shape
                        for bz in range(0, Z, 4):
                            for bx in range(0, X, 16):
                                for by in range(0, Y, 16):
                                    m = tile[bz : bz + 4, bx : bx + 16, by : by + 16].min()
                                    nb += 1
                                    nz += int(np.floor(k * np.sqrt(max(0.0, A * m + B))) == 0)
        name = p.relative_to(DATA) if p.is_relative_to(DATA) else p
        print(f"| {name} | {k} | {nz}/{nb} = {100 * nz / max(nb, 1):.1f} % | {100 * zel / max(nel, 1):.1f} % | "
              f"{min(am):.3g} .. {max(am):.3g} | {min(bm):.4g} .. {max(bm):.4g} |", flush=True)


if __name__ == "__main__":
    main()
