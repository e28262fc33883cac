#!/usr/bin/env python3
"""Where noise mode stays lossless: per volume, chunks (16, 256, 256) (2-D: (256, 256))
compressed in noise mode (h5z_apr.compress, the bytes the filter stores; HDF5 pads edge chunks
with 0, so do we), then per method-7 tile the stored noise model read from the stream (a, b and,
in format version 5, the floor c: FORMAT.md §6.2, §8) and the step map (the per-block
half-widths k_j the decoder uses). Reported:
- blocks (4x16x16, FORMAT.md §6.2) with k_j = 0, i.e. coded exactly, read from the step map;
- the same k_j recomputed from the stored model as floor(k * sigma(block minimum)) with
  sigma(I)^2 = max(c, a*I + b) (version 3 streams: c = 0), clamped to the dtype's span, and how
  many blocks agree with the map (they all should: FORMAT.md §6.4 step 2, §8);
- blocks whose k_j the floor sets (c > a*I_min + b), elements with floor(k*sigma(x)) = 0;
- tiles not coded as method 7 (raw, zstd or constant: exact), the a, b, c ranges.

Usage: python benches/noise_blocks.py [--k 0.5] [volume.npy ...]
       python benches/noise_blocks.py --stream FILE.apr [...]   (existing noise streams, e.g.
       tests/golden/v3_*.apr or v5_*.apr: the model and map as stored, the element values as
       decoded, since the original values are not in the stream)
(data directory: $H5Z_APR_TEST_DATA, else ../shared/data). h5z_apr is imported if installed;
otherwise python/h5z_apr of this repo is used with target/release/libh5z_apr.so (copied with
the package into a temporary directory, nothing is written into the repo).
"""
import argparse
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("H5Z_APR_TEST_DATA", REPO.parent / "shared" / "data"))
PREF = (16, 256, 256)
# dtype code (FORMAT.md §2.1) -> (numpy dtype, lo, hi)
DTYPES = {1: ("u1", 0, 255), 2: ("i1", -128, 127), 3: ("<u2", 0, 65535),
          4: ("<i2", -32768, 32767), 5: ("<u4", 0, 2**32 - 1), 6: ("<i4", -(2**31), 2**31 - 1)}


def import_h5z_apr():
    try:
        import h5z_apr
        return h5z_apr
    except ImportError:
        pass
    so = REPO / "target" / "release" / "libh5z_apr.so"
    if not so.exists():
        sys.exit("noise_blocks.py: no h5z_apr package and no target/release/libh5z_apr.so "
                 "(cargo build --release)")
    tmp = Path(tempfile.mkdtemp(prefix="h5z-apr-pkg-"))
    atexit.register(shutil.rmtree, tmp, True)
    shutil.copytree(REPO / "python" / "h5z_apr", tmp / "h5z_apr",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(so, tmp / "h5z_apr" / so.name)
    sys.path.insert(0, str(tmp))
    import h5z_apr
    return h5z_apr


h5z_apr = import_h5z_apr()
from h5z_apr.reference import zstd_decompress_py  # noqa: E402  (step maps are a few hundred bytes)


def _varint(b, pos):
    v, shift = 0, 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, pos
        shift += 7


def view3(dims):
    """FORMAT.md §4.1: the (Z, X, Y) view of a chunk."""
    if len(dims) == 1:
        return (1, 1, dims[0])
    if len(dims) == 2:
        return (1, dims[0], dims[1])
    return (int(np.prod(dims[:-2])), dims[-2], dims[-1])


def parse(stream):
    """(version, k, dtype code, [(a, b, c, k_j array in block order, tile slices), ...],
    number of tiles that are not method 7) of a noise-mode stream of format version 3 or 5."""
    b = bytes(stream)
    assert b[:4] == b"APRZ", "not an h5z-apr stream"
    version, dt, mode, rank = b[4], b[5], b[6], b[7]
    assert mode == 3 and version in (3, 5), f"not a noise stream of version 3 or 5 ({version}, {mode})"
    k = float(np.frombuffer(b[8:16], "<f8")[0])
    dims = tuple(int(d) for d in np.frombuffer(b[16 : 16 + 4 * rank], "<u4"))
    size = np.dtype(DTYPES[dt][0]).itemsize
    pos = 16 + 4 * rank
    e, t = [], []
    for _ in range(3):
        v, pos = _varint(b, pos)
        e.append(v)
    pos += size  # fill value
    for _ in range(3):
        v, pos = _varint(b, pos)
        t.append(v)
    out, other = [], 0
    if e[0] == 0:
        return version, k, dt, dims, out, other
    g = [-(-e[i] // t[i]) for i in range(3)]
    lens = []
    for _ in range(g[0] * g[1] * g[2]):
        n, pos = _varint(b, pos)
        lens.append(n)
    model_len = 12 if version >= 5 else 8  # §8: f32 a, b, c in version 5 noise tiles
    for i, n in enumerate(lens):
        body = b[pos : pos + n]
        pos += n
        if body[0] != 7:
            other += 1
            continue
        a, bb = (float(x) for x in np.frombuffer(body[1:9], "<f4"))
        c = float(np.frombuffer(body[9:13], "<f4")[0]) if model_len == 12 else 0.0
        o = (i // (g[1] * g[2]) * t[0], (i // g[2]) % g[1] * t[1], i % g[2] * t[2])
        sl = tuple(slice(o[d], min(o[d] + t[d], e[d])) for d in range(3))
        shape = tuple(s.stop - s.start for s in sl)
        nb = -(-shape[0] // 4) * -(-shape[1] // 16) * -(-shape[2] // 16)
        m, p = _varint(body, 1 + model_len)
        raw = zstd_decompress_py(body[p : p + m], 10 * nb)
        kj, q, prev = [], 0, 0
        while q < len(raw):
            u, q = _varint(raw, q)
            prev += (u >> 1) ^ -(u & 1)  # unzigzag
            kj.append(prev)
        assert len(kj) == nb, (len(kj), nb)
        out.append((a, bb, c, np.array(kj, np.int64), sl))
    return version, k, dt, dims, out, other


class Stats:
    def __init__(self):
        self.nb = self.nz = self.agree = self.floor_set = self.nel = self.zel = 0
        self.tiles = self.other = 0
        self.a, self.b, self.c, self.versions = [], [], [], set()

    def add(self, stream, values):
        """values: the chunk's elements (original or decoded), shape = the chunk shape."""
        version, k, dt, dims, tiles, other = parse(stream)
        _, lo, hi = DTYPES[dt]
        span = hi - lo
        v3 = np.asarray(values).reshape(view3(dims)).astype(np.float64)
        self.versions.add(version)
        self.other += other
        for a, b, c, kj, sl in tiles:
            self.tiles += 1
            self.a.append(a)
            self.b.append(b)
            self.c.append(c)
            tile = v3[sl]
            lin = a * tile + b
            s = np.sqrt(np.maximum(np.maximum(lin, c), 0.0))
            self.nel += tile.size
            self.zel += int(np.sum(np.floor(k * s) == 0))
            Z, X, Y = tile.shape
            j = 0
            for bz in range(0, Z, 4):
                for bx in range(0, X, 16):
                    for by in range(0, Y, 16):
                        m = tile[bz : bz + 4, bx : bx + 16, by : by + 16].min()
                        h = np.floor(k * np.sqrt(max(a * m + b, c, 0.0)))
                        h = 0 if not h > 0 else min(int(h), span)
                        self.nb += 1
                        self.nz += int(kj[j] == 0)
                        self.agree += int(kj[j] == h)
                        self.floor_set += int(c > a * m + b)
                        j += 1

    def row(self, name, k):
        pct = lambda x, n: f"{100 * x / max(n, 1):.1f} %"  # noqa: E731
        rng = lambda xs, f: "-" if not xs else f"{min(xs):{f}} .. {max(xs):{f}}"  # noqa: E731
        return (f"| {name} | {'/'.join(str(v) for v in sorted(self.versions))} | {k} | "
                f"{self.tiles} + {self.other} | {self.nz}/{self.nb} = {pct(self.nz, self.nb)} | "
                f"{self.agree}/{self.nb} | {pct(self.floor_set, self.nb)} | {pct(self.zel, self.nel)} | "
                f"{rng(self.a, '.3g')} | {rng(self.b, '.4g')} | {rng(self.c, '.4g')} |")


HEAD = ("| volume | format | k | tiles: method 7 + exact | blocks with k_j = 0 (step map) | "
        "k_j from the model = map | blocks where c sets k_j | elements with floor(k·σ(x)) = 0 | "
        "a range | b range | c range |\n|---|---|---:|---:|---:|---:|---:|---:|---|---|---|")


def chunks_for(shape):
    return tuple(min(s, PREF[3 - (len(shape) - i)]) if len(shape) - i <= 3 else 1
                 for i, s in enumerate(shape))


def volume(p, k):
    v = np.load(p)
    ch = chunks_for(v.shape)
    st = Stats()
    for o in np.ndindex(*[-(-s // c) for s, c in zip(v.shape, ch)]):
        sl = tuple(slice(i * c, (i + 1) * c) for i, c in zip(o, ch))
        part = v[sl]
        chunk = np.zeros(ch, v.dtype)  # HDF5 pads partial edge chunks with 0
        chunk[tuple(slice(0, s) for s in part.shape)] = part
        st.add(h5z_apr.compress(chunk, mode="noise", k=k), chunk)
    return st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=float, default=0.5)
    ap.add_argument("--stream", action="store_true", help="the arguments are noise streams")
    ap.add_argument("paths", nargs="*")
    a = ap.parse_args()
    print(HEAD)
    if a.stream:
        for p in a.paths:
            s = Path(p).read_bytes()
            st = Stats()
            st.add(s, h5z_apr.decompress(s))
            k = float(np.frombuffer(s[8:16], "<f8")[0])
            print(st.row(Path(p).name + " (decoded values)", k), flush=True)
        return
    vols = [Path(v) for v in a.paths] or [
        p for p in sorted(DATA.glob("**/*.npy")) if np.load(p, mmap_mode="r").dtype.kind in "iu"
    ]
    for p in vols:
        name = p.relative_to(DATA) if p.is_relative_to(DATA) else p
        print(volume(p, a.k).row(name, a.k), flush=True)


if __name__ == "__main__":
    main()
