"""The reference decoder (python/h5z_apr/reference.py, written from FORMAT.md) against the Rust
decoder: every golden stream, streams the Rust encoder makes from every volume of ../shared/data
in every mode, hand-built streams, and forged streams that both must reject.

The Rust side is reached through its C API (target/release/libh5z_apr.so, include/h5z_apr.h)
with ctypes. Shared-data volumes are decoded whole, cut into the benchmarks' (16, 256, 256)
chunks (about 30 M elements per mode; the reference decoder does about 1-3 M elements/s), plus
one odd-shaped corner crop each with non-power-of-two edges.
"""
import ctypes
import importlib.util
import mmap
import re
import struct
import sys
import zlib

import numpy as np
import pytest
from conftest import DATA, REPO, missing

# loaded by path: the reference decoder is one self-contained file and must not depend on the
# rest of the h5z_apr Python package
_spec = importlib.util.spec_from_file_location("h5z_apr_reference", REPO / "python" / "h5z_apr" / "reference.py")
reference = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = reference
_spec.loader.exec_module(reference)

GOLDEN = REPO / "tests" / "golden"
LIB = REPO / "target" / "release" / "libh5z_apr.so"
DTYPE_CODE = {"u1": 1, "i1": 2, "u2": 3, "i2": 4, "u4": 5, "i4": 6, "f4": 7, "f8": 8}


class Params(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("value", ctypes.c_double), ("effort", ctypes.c_int)]


class Info(ctypes.Structure):
    _fields_ = [
        ("format_version", ctypes.c_int),
        ("dtype", ctypes.c_int),
        ("mode", ctypes.c_int),
        ("value", ctypes.c_double),
        ("elem_size", ctypes.c_size_t),
        ("rank", ctypes.c_size_t),
        ("shape", ctypes.c_size_t * 32),
        ("nelems", ctypes.c_size_t),
        ("nbytes", ctypes.c_size_t),
    ]


@pytest.fixture(scope="module")
def lib():
    if not LIB.exists():
        missing(str(LIB))
    L = ctypes.CDLL(str(LIB))
    L.h5z_apr_compress.restype = ctypes.c_int32
    L.h5z_apr_decompress.restype = ctypes.c_int32
    L.h5z_apr_read_header.restype = ctypes.c_int32
    L.h5z_apr_max_compressed_size.restype = ctypes.c_size_t
    L.h5z_apr_last_error.restype = ctypes.c_char_p
    vp, sz, psz = ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)
    L.h5z_apr_compress.argtypes = [ctypes.POINTER(Params), ctypes.c_int, psz, sz, ctypes.c_char_p, sz, vp, sz, psz]
    L.h5z_apr_decompress.argtypes = [ctypes.c_char_p, sz, vp, sz, psz]
    L.h5z_apr_read_header.argtypes = [ctypes.c_char_p, sz, ctypes.POINTER(Info)]
    L.h5z_apr_max_compressed_size.argtypes = [ctypes.c_int, psz, sz]
    return L


def rust_compress(L, a, mode, value=0.0):
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    code = DTYPE_CODE[a.dtype.str[1:]]
    shape = (ctypes.c_size_t * a.ndim)(*a.shape)
    cap = L.h5z_apr_max_compressed_size(code, shape, a.ndim)
    dst = ctypes.create_string_buffer(cap)
    n = ctypes.c_size_t(0)
    src = a.tobytes()
    p = Params(mode, value, 0)
    st = L.h5z_apr_compress(ctypes.byref(p), code, shape, a.ndim, src, len(src), dst, cap, ctypes.byref(n))
    assert st == 0, L.h5z_apr_last_error().decode()
    return dst.raw[: n.value]


def rust_decompress(L, s):
    """Decoded bytes, or None when the Rust decoder rejects the stream."""
    info = Info()
    if L.h5z_apr_read_header(s, len(s), ctypes.byref(info)) != 0:
        return None
    n = ctypes.c_size_t(0)
    if info.nbytes > 1 << 27:
        # forged sizes (up to 4 GiB): lazily mapped memory, only touched if the decoder writes
        mm = mmap.mmap(-1, info.nbytes)
        ptr = ctypes.addressof(ctypes.c_char.from_buffer(mm))
        try:
            st = L.h5z_apr_decompress(s, len(s), ptr, info.nbytes, ctypes.byref(n))
            return None if st != 0 else bytes(mm[: n.value])
        finally:
            mm.close()
    dst = ctypes.create_string_buffer(max(info.nbytes, 1))
    if L.h5z_apr_decompress(s, len(s), dst, info.nbytes, ctypes.byref(n)) != 0:
        return None
    assert n.value == info.nbytes
    return dst.raw[: n.value]


ELEM_SIZE = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 8: 8}


def v2_tiles(s):
    """(box, tile shape, [tile bodies]) of a format version 2 stream (FORMAT.md §4)."""
    hl = 16 + 4 * s[7]
    es = ELEM_SIZE[s[5]]
    cur = reference.Cursor(s[hl:-4])
    ebox = (cur.varint(), cur.varint(), cur.varint())
    cur.bytes(es)
    tile = (cur.varint(), cur.varint(), cur.varint())
    if ebox == (0, 0, 0):
        return ebox, tile, []
    n = 1
    for e, t in zip(ebox, tile):
        n *= -(-e // t)
    lens = [cur.varint() for _ in range(n)]
    pos, bodies = cur.pos, []
    for L in lens:
        bodies.append(cur.data[pos : pos + L])
        pos += L
    return ebox, tile, bodies


def method_of(s):
    """Method byte of a v1 stream; of a v2 stream the first tile's (5 without tiles)."""
    if s[4] == 1:
        return s[16 + 4 * s[7]]
    bodies = v2_tiles(s)[2]
    return bodies[0][0] if bodies else 5


def as_v1(s):
    """The v1 stream (FORMAT.md §2) holding the same body as a v2 stream of rank <= 3 with
    one tile covering the whole chunk: a v2 tile body is a v1 body of a rank-3 chunk."""
    assert s[4] == 2 and s[7] <= 3
    ebox, tile, bodies = v2_tiles(s)
    dims = struct.unpack(f"<{s[7]}I", s[16 : 16 + 4 * s[7]])
    assert len(bodies) == 1 and ebox == tile == reference.view3(list(dims)), (ebox, tile, dims)
    return crc_fix(s[:4] + b"\x01" + s[5 : 16 + 4 * s[7]] + bodies[0])


def assert_same(L, s, what):
    want = rust_decompress(L, s)
    assert want is not None, f"{what}: Rust rejects its own stream: {L.h5z_apr_last_error().decode()}"
    got = reference.decode(s)
    hdr_rank = s[7]
    dims = struct.unpack(f"<{hdr_rank}I", s[16 : 16 + 4 * hdr_rank])
    assert got.shape == tuple(dims), what
    assert got.dtype.byteorder in "<|=" and got.dtype.itemsize * got.size == len(want), what
    assert got.tobytes() == want, f"{what}: reference decoder differs from the Rust decoder (method {method_of(s)})"


# ---- (a) golden streams -------------------------------------------------------------------


def golden_files():
    # v2_m6_*.apr are bare method-6 tile bodies (no stream header), checked by
    # test_reference_m6.py against v2_m6.manifest
    return sorted(p for p in GOLDEN.glob("*.apr") if not p.name.startswith("v2_m6_"))


def test_crc32_fallback_equals_zlib():
    rng = np.random.default_rng(9)
    for b in (b"", b"123456789", rng.bytes(1000), (GOLDEN / "v1_apr_u8_1d.apr").read_bytes()):
        assert reference.crc32_py(b) == zlib.crc32(b)
    assert reference.crc32_py(b"123456789") == 0xCBF43926


def test_golden_set_is_present():
    names = [p.name for p in golden_files()]
    assert len(names) >= 11, names


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_golden_stream_decodes_like_rust(lib, path):
    s = path.read_bytes()
    assert_same(lib, s, path.name)
    # and equals the decoded CRC recorded when the golden was written
    version, case = path.stem.split("_", 1)
    manifest = dict(line.split() for line in (GOLDEN / f"{version}.manifest").read_text().splitlines() if line.strip())
    assert "%08x" % zlib.crc32(reference.decode(s).tobytes()) == manifest[case]


# ---- (b) streams the Rust encoder makes from the shared data --------------------------------


def shared_volumes():
    """(label, array) for every volume in ../shared/data: the .npy files and the float32
    projections of the tomopy HDF5 file."""
    if not DATA.is_dir():
        return []
    out = [(str(p.relative_to(DATA)), p) for p in sorted(DATA.rglob("*.npy"))]
    h5 = DATA / "ct_tooth_projections_tomopy" / "tooth.h5"
    if h5.exists():
        out.append(("ct_tooth_projections_tomopy/tooth.h5:/exchange/data", h5))
    return out


def load_volume(path):
    if path.suffix == ".h5":
        h5py = pytest.importorskip("h5py")
        with h5py.File(path, "r") as f:
            a = f["/exchange/data"][...]
    else:
        a = np.load(path, mmap_mode="r")
    return a if a.ndim == 3 else a[None]


def volume_chunks(a):
    """Every (16, 256, 256) chunk of the volume (as tests/shared_data.rs and the benchmarks cut
    it, edge chunks clipped), then an odd-shaped corner crop (9, 100, 77) (2-D: 100x77)."""
    for z0 in range(0, a.shape[0], 16):
        for y0 in range(0, a.shape[1], 256):
            for x0 in range(0, a.shape[2], 256):
                yield (z0, y0, x0), np.ascontiguousarray(a[z0 : z0 + 16, y0 : y0 + 256, x0 : x0 + 256])
    odd = a[:9, :100, :77]
    yield "corner", np.ascontiguousarray(odd if a.shape[0] > 1 else odd[0])


def modes_for(a):
    """(name, C-API mode, value): lossless, abs with two bounds, apr E=0.1; integers also
    noise k=0.5 (format version 5, method 7 tiles)."""
    if a.dtype.kind == "f":
        span = float(a.max() - a.min()) or 1.0
        return [("lossless", 0, 0.0), ("abs_1e-3span", 1, 1e-3 * span), ("abs_2e-2span", 1, 2e-2 * span), ("apr_0.1", 2, 0.1)]
    return [("lossless", 0, 0.0), ("abs_1", 1, 1.0), ("abs_4", 1, 4.0), ("apr_0.1", 2, 0.1), ("noise_0.5", 3, 0.5)]


VOLUMES = shared_volumes()


def test_shared_data_present():
    if not VOLUMES:
        pytest.skip(f"!!!!! SKIPPED: shared test data {DATA} is absent: the reference decoder is checked on goldens only !!!!!")
    assert len(VOLUMES) >= 9


@pytest.mark.parametrize("label,path", VOLUMES, ids=[v[0] for v in VOLUMES])
def test_shared_volume_streams_decode_like_rust(lib, label, path):
    a = load_volume(path)
    seen = set()
    modes = modes_for(np.asarray(a))
    for where, c in volume_chunks(a):
        for name, mode, value in modes:
            s = rust_compress(lib, c, mode, value)
            seen.add(method_of(s))
            assert_same(lib, s, f"{label} chunk {where} {c.shape} {name}")
    # the crops exercise the entropy-coded methods, not only the raw/zstd fallbacks (apr is
    # method 7 or 8 since format version 4 wherever the particles miss the condition, §7)
    # (float abs and apr tiles are method 10 since format version 6, §10)
    assert seen & ({2, 3, 4, 8, 10} if a.dtype.kind == "f" else {2, 3, 4, 6, 9}), (label, seen)
    if a.dtype.kind == "f":
        assert 10 in seen, (label, seen)
    if a.dtype.kind != "f":
        assert 7 in seen, (label, seen)


def test_multi_block_and_rank1_streams_decode_like_rust(lib):
    """Rank 4 (several 3-D blocks: origin chaining, block-major predictor bits) and rank 1."""
    rel = "ct_head_ge/ct_head_ge_int16.npy"
    if (DATA / rel).exists():
        a = np.load(DATA / rel, mmap_mode="r")
        a = np.ascontiguousarray(a[6:12, 200:240, 200:248]).reshape(3, 2, 40, 48)
    else:
        rng = np.random.default_rng(1)
        a = (np.cumsum(rng.normal(0, 30, (3, 2, 40, 48)), axis=-1)).astype(np.int16)
    for mode, value in [(0, 0.0), (1, 3.0), (2, 0.1)]:
        assert_same(lib, rust_compress(lib, a, mode, value), f"rank-4 mode {mode}")
        assert_same(lib, rust_compress(lib, a.reshape(-1)[:3000].copy(), mode, value), f"rank-1 mode {mode}")
    f = a.astype(np.float32) * np.float32(0.37)
    f.reshape(-1)[::97] = -0.0
    for mode, value in [(0, 0.0), (1, 0.0), (1, 0.5), (2, 0.1)]:
        assert_same(lib, rust_compress(lib, f, mode, value), f"rank-4 f32 mode {mode} {value}")
    d = f.astype(np.float64) / 3.0
    for mode, value in [(0, 0.0), (1, 1e-4), (2, 0.1)]:
        assert_same(lib, rust_compress(lib, d, mode, value), f"rank-4 f64 mode {mode} {value}")
    # every dtype; the integer ones from the same data, the float ones with NaN/inf (escapes,
    # non-finite predictions and activities)
    base = a.astype(np.int64)
    ints = {
        "u1": np.clip(base // 8 + 100, 0, 255), "i1": np.clip(base // 8, -128, 127),
        "u2": np.clip(base + 1500, 0, 65535), "i2": base,
        "u4": (base + 1500) * 70001, "i4": base * 100003,
    }
    for dt, v in ints.items():
        for mode, value in [(0, 0.0), (1, 0.7), (1, 5.0), (1, 1e12), (2, 0.1), (2, 0.5)]:
            assert_same(lib, rust_compress(lib, v.astype(dt), mode, value), f"{dt} mode {mode} {value}")
    for dt in ("f4", "f8"):
        v = f.astype(dt)
        v.reshape(-1)[5::211] = np.nan
        v.reshape(-1)[7::307] = np.inf
        v.reshape(-1)[9::401] = -np.inf
        v.reshape(-1)[11::503] = 1e30
        for mode, value in [(0, 0.0), (1, 0.0), (1, 0.05), (1, 3.0), (2, 0.1)]:
            assert_same(lib, rust_compress(lib, v, mode, value), f"non-finite {dt} mode {mode} {value}")
    # signalling NaNs and NaN payloads come back bit-exactly from the float quantiser's escapes
    v = f.astype("f4").reshape(-1).copy()
    bits = v.view(np.uint32)
    bits[13::211] = np.uint32(0x7F800001)
    bits[17::307] = np.uint32(0xFFBFFFFF)
    bits[19::401] = np.uint32(0x7FC12345)
    v = bits.view(np.float32).reshape(f.shape)
    for mode, value in [(0, 0.0), (1, 0.05), (1, 3.0)]:
        s = rust_compress(lib, v, mode, value)
        assert_same(lib, s, f"signalling NaN f4 mode {mode} {value}")
        nan = np.isnan(v.reshape(-1))
        got = reference.decode(s).view(np.uint32).reshape(-1)
        assert nan.sum() > 30 and np.array_equal(got[nan], bits[nan]), f"NaN bits, mode {mode} {value}"


# ---- (c) hand-built and forged streams --------------------------------------------------------


def crc_fix(body):
    """body = every byte before the CRC; returns the full stream."""
    return body + struct.pack("<I", zlib.crc32(body))


def header(dtype, mode, param, dims, version=1):
    return b"APRZ" + bytes([version, dtype, mode, len(dims)]) + struct.pack("<d", param) + struct.pack(f"<{len(dims)}I", *dims)


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def varints(*vs):
    return b"".join(varint(v) for v in vs)


def section(b):
    return struct.pack("<I", len(b)) + b


def rans_one_symbol(nctx, ctx, sym):
    """A rANS section whose context `ctx` holds only `sym` (frequency 4096): decoding one
    symbol there leaves the state at 2^23 (FORMAT.md §2.7)."""
    return rans_symbols(nctx, {ctx: sym})


def rans_symbols(nctx, sym_of_ctx):
    """Each listed context holds a single symbol of frequency 4096 (the state never moves)."""
    out = bytes([nctx])
    for c in range(nctx):
        if c in sym_of_ctx:
            sym = sym_of_ctx[c]
            out += varint(sym + 1) + b"".join(varint(4096 if s == sym else 0) for s in range(sym + 1))
        else:
            out += varint(0)
    return out + section(struct.pack(">I", 1 << 23))


# one zstd frame, single segment, content size 1, one raw block holding byte 0x01 (RFC 8878)
ZSTD_ONE_BYTE_01 = bytes([0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x01, 0x09, 0x00, 0x00, 0x01])


def apr_one_pixel(sym):
    """u8 chunk of one pixel: tree bit 1 (root is a particle), one value symbol in context
    4·min(7, Lmax - 0) + 0 = 4 (Lmax = 1)."""
    body = struct.pack("<d", 0.0) + section(ZSTD_ONE_BYTE_01) + rans_one_symbol(32, 4, sym) + section(b"")
    return crc_fix(header(1, 2, 0.1, [1]) + bytes([3]) + body)


def pyramid_one_element(dtype, mode, param, sym, extra=b""):
    """One-element chunk coded with method 2: no passes, the origin in context 9."""
    body = section(b"") + rans_one_symbol(20, 9, sym) + section(extra)
    return crc_fix(header(dtype, mode, param, [1]) + bytes([2]) + body)


def test_hand_built_streams_decode_as_the_spec_says(lib):
    # symbol 10 -> u = 10 -> q = unzigzag(10) = 5
    s = apr_one_pixel(10)
    assert reference.decode(s).tolist() == [5]
    assert rust_decompress(lib, s) == bytes([5])
    s = pyramid_one_element(4, 1, 2.0, 3)  # i16, abs k = 2, w = 5: q = -2 -> clamp(0 - 10)
    assert reference.decode(s).tolist() == [-10]
    assert rust_decompress(lib, s) == struct.pack("<h", -10)
    # f32 abs mode: symbol 150 escapes to 32 raw bits of the value
    raw = struct.pack("<f", -1.25e-7)
    s = pyramid_one_element(7, 1, 0.5, 150, raw)
    assert reference.decode(s).tobytes() == raw
    assert rust_decompress(lib, s) == raw
    # f32 lossless: ordered integer -1 is -0.0 (FORMAT.md §2.4): symbol 1 -> q = -1
    s = pyramid_one_element(7, 0, 0.0, 1)
    assert reference.decode(s).tobytes() == struct.pack("<f", -0.0)
    assert rust_decompress(lib, s) == struct.pack("<f", -0.0)
    # palette [5, 9]: symbol 2 -> index 1 -> 9
    s = crc_fix(header(3, 0, 0.0, [1]) + bytes([4]) + varint(2) + varint(10) + varint(4) + section(b"")
                + rans_one_symbol(20, 9, 2) + section(b""))
    assert reference.decode(s).tolist() == [9]
    assert rust_decompress(lib, s) == struct.pack("<H", 9)
    # palette 0, 10, .., 60 in abs mode: half-width k = floor(P) / 10 (FORMAT.md §2.5), w = 2k+1;
    # two elements: origin (context 9) symbol 2 -> q = 1 -> index min(w, 6); then one pass
    # (h = 1, y axis, no right neighbour: p = index of the origin, context 0 + 10) symbol 1 -> q = -1
    table = varint(7) + varint(0) + varint(10) * 6
    for P, want in ((0.0, [10, 0]), (10.0, [30, 0]), (25.0, [50, 0]), (30.0, [60, 0]), (1e9, [60, 0])):
        s = crc_fix(header(3, 1, P, [2]) + bytes([4]) + table + section(b"\x00")
                    + rans_symbols(20, {9: 2, 10: 1}) + section(b""))
        assert reference.decode(s).tolist() == want, P
        assert rust_decompress(lib, s) == struct.pack("<2H", *want), P
    # extended symbol: 33 -> e = 5, top = 3, 4 extra bits 0b0101 -> u = 53 -> q = -27 (i8)
    s = pyramid_one_element(2, 0, 0.0, 33, bytes([0b0101]))
    assert reference.decode(s).tolist() == [-27]
    assert rust_decompress(lib, s) == struct.pack("<b", -27)


def forged_streams(lib):
    rng = np.random.default_rng(5)
    z, y, x = np.meshgrid(np.arange(4), np.arange(20), np.arange(24), indexing="ij")
    smooth = 2000 + 900 * np.sin(x / 5.0 + z) * np.cos(y / 7.0) + rng.normal(0, 3, (4, 20, 24))
    # v1 forgeries need a body valid in version 1: v2 tiles code the integer pyramid as method 6
    # and (format version 5, §9) palettes as method 9, so the base is the v1 palette golden
    # (method 4, u16 (6, 33, 40)) and the v2 base holds its body as the one tile (§4.3).
    base = (GOLDEN / "v1_lossless_u16_3d.apr").read_bytes()
    assert method_of(base) == 4
    fill = reference.decode(base).reshape(-1)[-1:].astype("<u2").tobytes()
    base2 = crc_fix(base[:4] + b"\x02" + base[5:28] + varints(6, 33, 40) + fill + varints(6, 33, 40)
                    + varint(len(base) - 4 - 28) + base[28:-4])
    assert reference.decode(base2).tobytes() == reference.decode(base).tobytes()
    hl = 16 + 4 * 3
    body = base[:-4]
    # (a particle body: the apr encoder writes version 4 bound maps where the particles miss
    # the condition at a pixel, §7, so the base is a version 2 golden stream)
    apr = (GOLDEN / "v1_apr_f32_2d.apr").read_bytes()
    assert method_of(apr) == 3
    # version 2 containers (§4): u16 (6, 33, 40), one tile (6, 33, 40)
    b2 = base2[:-4]
    tbody = v2_tiles(base2)[2][0]
    assert v2_tiles(base2)[:2] == ((6, 33, 40), (6, 33, 40))

    def v2(box=(6, 33, 40), tile=(6, 33, 40), table=None, bodies=None):
        table = varint(len(tbody)) if table is None else table
        bodies = tbody if bodies is None else bodies
        return crc_fix(b2[:hl] + varints(*box) + base2[hl + 3 : hl + 5] + varints(*tile) + table + bodies)

    pyr = pyramid_one_element(3, 0, 0.0, 6)  # u16 value unzigzag(6) = 3
    assert 1024 * 1024 * 64 > (len(pyr) - 4 - 20) * 32768  # the forged size is over the limit
    out = {
        "truncated": (base[:-1], "CRC-32 mismatch"),
        "crc mismatch": (base[:-4] + bytes([base[-4] ^ 1]) + base[-3:], "CRC-32 mismatch"),
        "bad magic": (crc_fix(b"APRX" + body[4:]), "bad magic"),
        "version 0": (crc_fix(body[:4] + b"\x00" + body[5:]), "unsupported"),
        "version 7 (unsupported)": (crc_fix(body[:4] + b"\x07" + body[5:]), "unsupported"),
        "v2 box larger than the chunk": (v2(box=(7, 33, 40)), "coded box exceeds"),
        "v2 box partly empty": (v2(box=(6, 0, 40)), "neither empty nor non-zero"),
        "v2 tile shape not allowed": (v2(tile=(2, 10, 40)), "not allowed"),
        "v2 tile shape zero": (v2(tile=(0, 33, 40)), "not allowed"),
        "v2 empty box with a tile shape": (v2(box=(0, 0, 0)), "not allowed"),
        "v2 tile length 0": (v2(table=varint(0)), "body length 0"),
        "v2 tile length past the end": (v2(table=varint(len(tbody) + 1)), "runs past"),
        "v2 trailing byte after the last tile": (v2(bodies=tbody + b"\x00"), "trailing bytes after the last tile"),
        "v2 more tiles than bytes": (v2(tile=(1, 1, 1), table=b"\x01" * 10, bodies=b""), "more tiles than bytes"),
        "v2 tile count over the bytes left": (v2(tile=(1, 33, 40), table=b"\x01", bodies=b"\x05"), "more tiles than bytes"),
        "v2 box field cut short": (crc_fix(b2[:hl] + b"\x84"), "ends inside a field"),
        "v2 constant tile of the wrong length": (v2(table=varint(4), bodies=b"\x05\x07\x00\x00"), "trailing bytes"),
        "v2 constant tile cut short": (v2(table=varint(2), bodies=b"\x05\x07"), "runs past the end"),
        "v2 unknown tile method 7": (v2(bodies=b"\x07" + tbody[1:]), "coding method 7"),
        "v2 tile below the expansion limit": (crc_fix(
            header(3, 0, 0.0, [1024, 1024, 64], version=2) + varints(1024, 1024, 64) + b"\x00\x00"
            + varints(1024, 1024, 64) + varint(len(pyr) - 4 - 20) + pyr[20:-4]
        ), "expansion limit"),
        "unknown dtype": (crc_fix(body[:5] + b"\x09" + body[6:]), "unknown dtype"),
        "unknown mode": (crc_fix(body[:6] + b"\x03" + body[7:]), "unknown mode"),
        "rank 0": (crc_fix(body[:7] + b"\x00" + body[8:]), "rank 0"),
        "lossless with non-zero parameter": (crc_fix(body[:8] + struct.pack("<d", 1.0) + body[16:]), "non-zero parameter"),
        "abs with NaN bound": (crc_fix(body[:6] + b"\x01" + body[7:8] + struct.pack("<d", float("nan")) + body[16:]), "invalid abs bound"),
        "apr with E = 0": (crc_fix(apr[:8] + struct.pack("<d", 0.0) + apr[16:-4]), "invalid rel_error"),
        "zero dimension": (crc_fix(body[:16] + struct.pack("<I", 0) + body[20:]), "zero dimension"),
        "over 4 GiB": (crc_fix(body[:16] + struct.pack("<III", 65536, 65536, 2) + body[28:]), "4 GiB"),
        "expansion limit": (crc_fix(header(1, 0, 0.0, [1024, 1024, 64]) + pyr[20:-4]), "expansion limit"),
        "unknown method 5": (crc_fix(body[:hl] + b"\x05" + body[hl + 1 :]), "coding method 5"),
        "apr method in lossless mode": (crc_fix(apr[:6] + b"\x00" + apr[7:8] + struct.pack("<d", 0.0) + apr[16:-4]), "coding method 3"),
        "palette for a float dtype": (crc_fix(header(7, 0, 0.0, [6, 33, 40]) + bytes([4]) + body[hl + 1 :]), "coding method 4"),
        "raw body too short": (crc_fix(body[:hl] + b"\x00" + body[hl + 1 : hl + 100]), "runs past the end"),
        "trailing byte": (crc_fix(body + b"\x00"), "trailing bytes"),
        "unread extra-bits byte": (crc_fix(pyr[:-4 - 4] + section(b"\x00")), "unread bytes"),
        "symbol 150 in an integer pyramid": (pyramid_one_element(3, 0, 0.0, 150), "symbol 150"),
        "symbol 151 in a float pyramid": (pyramid_one_element(7, 1, 0.5, 151), "symbol above 150"),
        "symbol 150 in an apr body": (apr_one_pixel(150), "symbol 150"),
        "extended symbol without its extra bits": (pyramid_one_element(2, 0, 0.0, 33), "extra bits run past"),
        "rANS context count": (crc_fix(pyr[: 16 + 4 + 1 + 4] + b"\x13" + pyr[16 + 4 + 1 + 4 + 1 : -4]), "contexts, expected 20"),
        "predictor bits of wrong length": (crc_fix(
            header(3, 0, 0.0, [1]) + bytes([2]) + section(b"\x00") + rans_one_symbol(20, 9, 5) + section(b"")
        ), "predictor-bits"),
        "frequencies not summing to 4096": (crc_fix(
            header(3, 0, 0.0, [1]) + bytes([2]) + section(b"") + bytes([20]) + varint(0) * 9 + varint(1) + varint(4095)
            + varint(0) * 10 + section(struct.pack(">I", 1 << 23)) + section(b"")
        ), "do not sum"),
        "rANS state not back at 2^23": (crc_fix(pyr[:-12] + struct.pack(">I", (1 << 23) + 1) + section(b"")), "state not back"),
        "value outside the k=0 domain": (crc_fix(
            header(1, 0, 0.0, [1]) + bytes([2]) + section(b"") + rans_one_symbol(20, 9, 32 + 2 * (9 - 5)) + section(b"\x00")
        ), "non-conforming"),
        "apr tree with a trailing byte": (crc_fix(
            header(1, 2, 0.1, [1]) + bytes([3]) + struct.pack("<d", 0.0)
            + section(bytes([0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x02, 0x11, 0x00, 0x00, 0x01, 0x00]))
            + rans_one_symbol(32, 4, 10) + section(b"")
        ), "tree section has trailing"),
        "apr half-step NaN": (crc_fix(apr[: 16 + 8 + 1] + struct.pack("<d", float("nan")) + apr[16 + 8 + 1 + 8 : -4]), "half-step"),
        "palette index out of range": (
            crc_fix(header(3, 0, 0.0, [1]) + bytes([4]) + varint(2) + varint(10) + varint(4) + section(b"")
                    + rans_one_symbol(20, 9, 4) + section(b"")),
            "palette index out of range",
        ),
        "palette not increasing": (
            crc_fix(header(3, 0, 0.0, [1]) + bytes([4]) + varint(2) + varint(10) + varint(0) + section(b"")
                    + rans_one_symbol(20, 9, 0) + section(b"")),
            "palette not strictly increasing",
        ),
        "palette size 0": (crc_fix(header(3, 0, 0.0, [64]) + bytes([4]) + varint(0) + body[hl + 1 :]), "palette size"),
    }
    # format version 5 (§6, §8; noise mode wrote version 3 before): a noise stream with one
    # method-7 tile (4, 20, 24) whose body starts with f32 a, b, c
    n3 = rust_compress(lib, smooth.astype(np.uint16), 3, 0.5)
    assert n3[4] == 5 and n3[6] == 3 and method_of(n3) == 7
    t3 = v2_tiles(n3)[2][0]
    pre3 = n3[: len(n3) - 4 - len(t3)]  # header + container fields, up to the tile body
    mlen = t3[13]  # the step map's zstd length (one-byte varint for a (4, 20, 24) tile)
    assert mlen < 0x80
    out.update({
        "v5 mode 3 in a version 2 stream": (crc_fix(n3[:4] + b"\x02" + n3[5:-4]), "unknown mode"),
        "v5 method 7 in an abs stream": (crc_fix(n3[:6] + b"\x01" + n3[7:-4]), "not valid for mode"),
        "v5 method 2 in a noise stream": (crc_fix(pre3 + b"\x02" + t3[1:]), "not valid for mode"),
        "v5 noise factor NaN": (crc_fix(n3[:8] + struct.pack("<d", float("nan")) + n3[16:-4]), "noise factor"),
        "v5 step map not zstd": (crc_fix(pre3 + t3[:14] + bytes(mlen) + t3[14 + mlen :]), "zstd"),
        "v5 noise floor c negative": (crc_fix(pre3 + t3[:9] + struct.pack("<f", -1.0) + t3[13:]), "noise floor"),
        "v5 noise floor c NaN": (crc_fix(pre3 + t3[:9] + struct.pack("<f", float("nan")) + t3[13:]), "noise floor"),
    })
    # format version 4 (§7): apr streams with a method-7 tile (integer) and a method-8 tile (float)
    a4 = rust_compress(lib, smooth.astype(np.uint16), 2, 0.1)
    assert a4[4] == 4 and a4[6] == 2 and method_of(a4) == 7
    # (the encoder writes float apr tiles as method 10 since version 6: the method-8 tile is
    # a version 4 golden's)
    f4 = (GOLDEN / "v4_apr_f32_2d.apr").read_bytes()
    assert f4[4] == 4 and method_of(f4) == 8
    t8 = v2_tiles(f4)[2][0]
    pre8 = f4[: len(f4) - 4 - len(t8)]
    out.update({
        "v4 method 7 in an apr tile of a version 2 stream": (crc_fix(a4[:4] + b"\x02" + a4[5:-4]), "not valid for mode"),
        "v4 method 7 in an apr tile of a version 3 stream": (crc_fix(a4[:4] + b"\x03" + a4[5:-4]), "not valid for mode"),
        "v4 method 8 in an apr tile of a version 3 stream": (crc_fix(f4[:4] + b"\x03" + f4[5:-4]), "not valid for mode"),
        "v4 method 8 in an abs stream": (crc_fix(f4[:6] + b"\x01" + f4[7:-4]), "not valid for mode"),
        "v4 method 8 bound NaN": (crc_fix(pre8 + t8[:1] + struct.pack("<d", float("nan")) + t8[9:]), "method 8 bound"),
        "v4 method 8 bound 0": (crc_fix(pre8 + t8[:1] + struct.pack("<d", 0.0) + t8[9:]), "method 8 bound"),
        "v4 method 8 for an integer dtype": (crc_fix(f4[:5] + b"\x05" + f4[6:-4]), "not valid for mode"),
    })
    # format version 6 (§10): float abs and apr streams with one method-10 tile
    fa = rust_compress(lib, (smooth / 7.0).astype(np.float32), 1, 0.05)
    fr = rust_compress(lib, (smooth / 7.0).astype(np.float32), 2, 0.1)
    for g in (fa, fr):
        assert g[4] == 6 and method_of(g) == 10 and len(v2_tiles(g)[2]) == 1
    t10 = v2_tiles(fa)[2][0]
    pre10 = fa[: len(fa) - 4 - len(t10)]

    def m10(head, at=1):
        return crc_fix(pre10 + t10[:at] + head + t10[at + len(head) :])

    out.update({
        "v6 method 10 in a version 5 stream": (crc_fix(fa[:4] + b"\x05" + fa[5:-4]), "needs 6"),
        "v6 method 10 in an apr tile of a version 4 stream": (crc_fix(fr[:4] + b"\x04" + fr[5:-4]), "needs 6"),
        "v6 method 10 in a lossless stream": (crc_fix(fa[:6] + b"\x00" + fa[7:8] + struct.pack("<d", 0.0) + fa[16:-4]), "not valid for mode"),
        "v6 method 10 for an integer dtype": (crc_fix(fa[:5] + b"\x05" + fa[6:-4]), "not valid for mode"),
        "v6 method 10 step over twice the bound": (m10(struct.pack("<d", 0.1000001)), "exceeds twice"),
        "v6 method 10 step NaN": (m10(struct.pack("<d", float("nan"))), "exceeds twice"),
        "v6 method 10 step 0": (m10(struct.pack("<d", 0.0)), "grid step"),
        "v6 method 10 step negative": (m10(struct.pack("<d", -0.05)), "grid step"),
        "v6 method 10 origin past 2^52": (m10(struct.pack("<q", (1 << 52) + 1), at=9), "grid origin"),
        "v6 method 10 grid dtype i16": (m10(b"\x04", at=17), "grid dtype"),
        "v6 method 10 grid dtype f32": (m10(b"\x07", at=17), "grid dtype"),
        "v6 method 10 non-zero half-width": (m10(b"\x01", at=18), "half-width"),
    })
    # a step that overflows the values: an apr tile (its step is not bounded by the parameter)
    tr = v2_tiles(fr)[2][0]
    out["v6 method 10 value overflows"] = (
        crc_fix(fr[: len(fr) - 4 - len(tr)] + tr[:1] + struct.pack("<d", 1e300) + tr[9:]), "not finite")
    return out


def test_forged_streams_are_rejected_by_both_decoders(lib):
    for what, (s, reason) in forged_streams(lib).items():
        with pytest.raises(ValueError, match=re.escape(reason)):
            reference.decode(s)
            pytest.fail(f"reference decoder accepted: {what}")
        if what == "value outside the k=0 domain":
            continue  # non-conforming but not detected by the Rust v1 decoder (FORMAT.md §2.8)
        assert rust_decompress(lib, s) is None, f"Rust decoder accepted: {what}"


def test_every_truncation_of_a_stream_is_rejected(lib):
    a = np.arange(300, dtype=np.uint8).reshape(10, 30) // 3
    for mode in (0, 1, 2):
        s = rust_compress(lib, a, mode, 2.0 if mode == 1 else 0.1 if mode == 2 else 0.0)
        for cut in range(0, len(s), max(1, len(s) // 40)):
            with pytest.raises(ValueError):
                reference.decode(s[:cut])


def mutation_sources(lib):
    """Small streams of every method and domain (rank 3 and 4, integer and float, apr)."""
    rng = np.random.default_rng(11)
    z, y, x = np.meshgrid(np.arange(3), np.arange(14), np.arange(19), indexing="ij")
    smooth = 900 + 400 * np.sin(x / 4.0 + z) * np.cos(y / 5.0) + rng.normal(0, 4, z.shape)
    sparse = (np.round(smooth / 37) * 37).astype(np.uint16)  # palette-friendly
    f = (smooth / 7.0).astype(np.float32)
    f.reshape(-1)[3::97] = np.nan
    out = [
        rust_compress(lib, smooth.astype(np.uint16), 0),
        rust_compress(lib, sparse, 0),
        rust_compress(lib, sparse, 1, 2.0),
        rust_compress(lib, smooth.astype(np.int16).reshape(3, 1, 14, 19), 1, 3.0),
        rust_compress(lib, smooth.astype(np.int32), 2, 0.1),
        rust_compress(lib, f, 0),
        rust_compress(lib, f.astype(np.float64), 1, 0.01),
        rust_compress(lib, f, 1, 0.5),
        rust_compress(lib, f, 2, 0.1),
        rust_compress(lib, np.full((40, 50), 7, np.uint8), 0),
        rust_compress(lib, smooth.astype(np.uint16), 3, 0.5),  # v3, method 7 (§6)
    ]
    # the same bodies as v1 streams where a v2 stream is one whole-chunk tile (rank <= 3)
    out += [as_v1(s) for s in out if s[4] == 2 and s[7] <= 3 and len(v2_tiles(s)[2]) == 1 and v2_tiles(s)[0] == v2_tiles(s)[1]]
    # a padded edge chunk (partial box) and a chunk of several tiles (1 MiB, 4 tiles)
    edge = np.zeros((4, 20, 24), np.uint16)
    edge[:3, :14, :19] = smooth.astype(np.uint16)
    out.append(rust_compress(lib, edge, 1, 2.0))
    # streams of several tiles of every allowed shape, partial boxes, a constant tile
    # (no zstd-coded tiles: libzstd versions disagree on some corrupted frames, see the report)
    for name in ("apr_u8_1d", "abs_f64_1d", "apr_f32_2d", "edge_abs4_u16_3d", "consttile_u16_3d", "lossless_u8_const"):
        out.append((GOLDEN / f"v2_{name}.apr").read_bytes())
    for name in ("noisy_k05_i32_2d", "noisy_k2_u8_1d"):
        out.append((GOLDEN / f"v3_{name}.apr").read_bytes())
    # format version 4 (§7), last (the random positions of the streams above stay the same):
    # apr tiles of method 7 and method 8
    out.append(rust_compress(lib, (smooth / 7.0).astype(np.float32), 2, 0.2))
    for name in ("smooth_apr_f32_3d", "apr_u8_1d", "edge_apr_i16_3d"):
        out.append((GOLDEN / f"v4_{name}.apr").read_bytes())
    # format version 5 (§9): palette-fast tiles, u8 and u16 index tiles, several tiles
    for name in ("palette_u8_2d", "palettewide_u16_3d", "palette_u16_3d"):
        out.append((GOLDEN / f"v5_{name}.apr").read_bytes())
    out.append((GOLDEN / "v2_palette_u16_3d.apr").read_bytes())  # method 4 tiles (v2)
    # format version 6 (§10): method 10 tiles of finite floats in abs and apr mode (u8, u16
    # and u32 grids), several tiles, an edge box
    ff = (smooth / 7.0).astype(np.float32)
    out += [rust_compress(lib, ff, 1, 0.5), rust_compress(lib, ff, 1, 0.02), rust_compress(lib, smooth / 13.0, 1, 1e-4),
            rust_compress(lib, ff, 2, 0.1)]
    for name in ("abs_f32_3d", "edgez_abs_f32_3d", "smooth_apr_f32_3d"):
        out.append((GOLDEN / f"v6_{name}.apr").read_bytes())
    assert {method_of(s) for s in out} >= {1, 2, 3, 4, 7, 8, 9, 10}
    return out


@pytest.fixture(params=["library", "python"])
def zstd_backend(request):
    """The reference decoder with a zstd library, and with its own pure-Python RFC 8878 decoder."""
    reference.set_zstd_backend(request.param)
    yield request.param
    reference.set_zstd_backend("library")


def test_mutated_streams_are_decoded_alike_or_rejected_by_both(lib, zstd_backend):
    """Differential check of the rejection list (FORMAT.md §2.8) and of every decoding rule:
    single-byte corruptions (CRC recomputed) of streams of every method must be rejected by both
    decoders or decoded by both to the same bytes."""
    rng = np.random.default_rng(2024)
    agreed_reject = agreed_decode = 0
    for src in mutation_sources(lib):
        body = bytearray(src[:-4])
        hl = 16 + 4 * body[7]
        positions = list(range(4, hl + 1)) + list(rng.integers(hl + 1, len(body), 120))
        if body[4] >= 2:
            # v2/v3: not the dims (a v2 chunk outside its box is fill, so a bigger dim is a valid
            # stream of up to 4 GiB that both decoders fill: slow, and covered by the forged
            # streams); all of the container: box, fill, tile shape, table
            positions = [p for p in positions if not 16 <= p < hl] + list(range(hl, min(len(body), hl + 40)))
        for pos in positions:
            m = bytearray(body)
            m[pos] ^= int(rng.integers(1, 256))
            s = crc_fix(bytes(m))
            want = rust_decompress(lib, s)
            try:
                got = reference.decode(s)
            except ValueError as e:
                if "non-conforming" in str(e):
                    continue  # detected by the reference decoder only (FORMAT.md §2.8)
                assert want is None, f"only the reference decoder rejects (byte {pos}): {e}"
                agreed_reject += 1
                continue
            assert want is not None, f"only the Rust decoder rejects (byte {pos}): {lib.h5z_apr_last_error().decode()}"
            assert got.tobytes() == want, f"decoders differ on a mutated stream (byte {pos}, method {method_of(s)})"
            agreed_decode += 1
    # both outcomes occur, so the check has teeth either way
    print(f"mutations: {agreed_reject} rejected by both, {agreed_decode} decoded alike")
    assert agreed_reject > 100 and agreed_decode > 20, (agreed_reject, agreed_decode)


# ---- the pure-Python zstd decoder (no compiled code needed at all) ---------------------------


@pytest.fixture(scope="module")
def libzstd():
    import ctypes.util

    name = ctypes.util.find_library("zstd") or "libzstd.so.1"
    try:
        z = ctypes.CDLL(name)
    except OSError:
        missing("the system libzstd (Debian libzstd1), needed to make zstd test frames")
    z.ZSTD_compressBound.restype = ctypes.c_size_t
    z.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
    z.ZSTD_createCCtx.restype = ctypes.c_void_p
    z.ZSTD_freeCCtx.argtypes = [ctypes.c_void_p]
    z.ZSTD_CCtx_setParameter.restype = ctypes.c_size_t
    z.ZSTD_CCtx_setParameter.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    z.ZSTD_compress2.restype = ctypes.c_size_t
    z.ZSTD_compress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    z.ZSTD_isError.restype = ctypes.c_uint
    z.ZSTD_isError.argtypes = [ctypes.c_size_t]

    def compress(b, level, checksum=False, content_size=True):
        cc = z.ZSTD_createCCtx()
        try:
            for param, v in ((100, level), (201, int(checksum)), (200, int(content_size))):
                assert not z.ZSTD_isError(z.ZSTD_CCtx_setParameter(cc, param, v))
            cap = z.ZSTD_compressBound(len(b))
            dst = ctypes.create_string_buffer(cap)
            r = z.ZSTD_compress2(cc, dst, cap, b, len(b))
            assert not z.ZSTD_isError(r)
            return dst.raw[:r]
        finally:
            z.ZSTD_freeCCtx(cc)

    return compress


def test_pure_python_zstd_decodes_what_libzstd_writes(libzstd):
    rng = np.random.default_rng(0)
    words = [bytes(rng.integers(97, 123, rng.integers(2, 9)).astype(np.uint8)) for _ in range(300)]
    text = b" ".join(words[i] for i in rng.integers(0, 300, 40000))  # > 128 KiB: several blocks
    smooth = (1000 + 50 * np.sin(np.arange(150000) / 300.0) + rng.normal(0, 3, 150000)).astype("<u2").tobytes()
    cases = {
        "text": text, "random": rng.bytes(30000), "zeros": bytes(300000), "repeats": b"abcabd" * 40000,
        "smooth u16": smooth, "one byte": b"x", "empty": b"", "mixed": rng.bytes(1000) + bytes(5000) + text[:20000],
    }
    for name, b in cases.items():
        for level in (-5, 1, 3, 9, 19):
            for checksum, content_size in ((False, True), (True, False)):
                c = libzstd(b, level, checksum, content_size)
                assert reference.zstd_decompress_py(c, len(b)) == b, (name, level, checksum)
    c = libzstd(text[:5000], 3, checksum=True)
    with pytest.raises(reference._ZstdError, match="checksum"):
        reference.zstd_decompress_py(c[:-1] + bytes([c[-1] ^ 1]), 10**6)
    skippable = bytes.fromhex("502a4d18") + struct.pack("<I", 3) + b"abc"
    two = libzstd(text[:1000], 3) + skippable + libzstd(b"tail", 1)
    assert reference.zstd_decompress_py(two, 10**6) == text[:1000] + b"tail"
    with pytest.raises(reference._ZstdError):
        reference.zstd_decompress_py(libzstd(text, 3), 1000)  # more than the allowed size


def test_reference_decoder_without_any_zstd_library(lib):
    """Goldens (method 3 among them) and Rust streams of methods 1 and 7 (apr, format version 4:
    a zstd step map) decode with the pure-Python zstd decoder."""
    reference.set_zstd_backend("python")
    try:
        for path in golden_files():
            assert_same(lib, path.read_bytes(), f"{path.name} (pure-Python zstd)")
        rng = np.random.default_rng(3)
        # repeated rows of noise: zstd wins the lossless coding
        a = np.tile(rng.integers(0, 65535, (1, 10, 90)), (16, 10, 1)).astype(np.uint16)
        methods = set()
        for mode, value in ((0, 0.0), (1, 0.0), (2, 0.1), (2, 0.5)):
            s = rust_compress(lib, a, mode, value)
            methods.add(method_of(s))
            assert_same(lib, s, f"mode {mode} (pure-Python zstd)")
        assert {1, 7} <= methods, methods
    finally:
        reference.set_zstd_backend("library")


def test_reference_decoder_command_line(lib, tmp_path):
    import subprocess

    src = GOLDEN / "v1_apr_u16_3d.apr"
    out = tmp_path / "a.npy"
    r = subprocess.run([sys.executable, str(REPO / "python" / "h5z_apr" / "reference.py"), str(src), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert np.load(out).tobytes() == rust_decompress(lib, src.read_bytes())
    bad = tmp_path / "bad.apr"
    bad.write_bytes(src.read_bytes()[:-1])
    r = subprocess.run([sys.executable, str(REPO / "python" / "h5z_apr" / "reference.py"), str(bad)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "rejected" in r.stderr


def test_hdf5_file_read_without_the_plugin(tmp_path):
    """Datasets written through h5py + the plugin (Rust encoder), read back by the reference
    decoder in a process whose HDF5_PLUGIN_PATH is empty, equal h5py's own read (Rust decoder).
    Covers edge chunks, a big-endian dataset, floats, every mode, and a never-written chunk."""
    import subprocess

    h5py = pytest.importorskip("h5py")
    from conftest import FILTER_ID, ct_head_crop

    a = ct_head_crop()[:10, :150, :130]
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        for name, dt, opts in [
            ("lossless", "<u2", (0,)), ("abs4", "<u2", (1, 4, 0)), ("apr", "<u2", (2, 1, 1)),
            ("big_endian", ">u2", (0,)), ("float_abs", "<f4", (1, 5, 1)), ("float_apr", "<f8", (2, 1, 1)),
        ]:
            f.create_dataset(name, data=a.astype(dt), chunks=(4, 64, 64), compression=FILTER_ID, compression_opts=opts)
        d = f.create_dataset("sparse", shape=(8, 100, 100), dtype="<i2", chunks=(4, 64, 64),
                             compression=FILTER_ID, compression_opts=(0,), fillvalue=-7)
        d[0:4, 0:64, 0:64] = a[:4, :64, :64].astype("<i2")
        names = list(f.keys())
        want = {n: f[n][...] for n in names}  # through the plugin: the Rust decoder
    empty = tmp_path / "no_plugins"
    empty.mkdir()
    code = (
        "import sys, importlib.util, h5py, numpy as np\n"
        f"spec = importlib.util.spec_from_file_location('ref', {str(REPO / 'python' / 'h5z_apr' / 'reference.py')!r})\n"
        "ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)\n"
        f"f = h5py.File({str(path)!r}, 'r')\n"
        "try:\n    f['lossless'][0, 0, 0]\n    sys.exit('the plugin was found')\nexcept OSError:\n    pass\n"
        f"np.savez({str(tmp_path / 'got.npz')!r}, **{{n: ref.read_hdf5(f[n]) for n in f}})\n"
    )
    env = dict(__import__("os").environ, HDF5_PLUGIN_PATH=str(empty))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    got = np.load(tmp_path / "got.npz")
    for n in names:
        assert got[n].dtype == want[n].dtype and got[n].shape == want[n].shape, n
        assert got[n].tobytes() == want[n].tobytes(), n


def test_forged_parameters_change_the_quantiser_alike(lib):
    """Rewriting the header parameter changes k (integer pyramid) and the palette half-width
    (FORMAT.md §2.5, k > 0 never written by the encoder): both decoders must still agree."""
    rng = np.random.default_rng(4)
    z, y, x = np.meshgrid(np.arange(3), np.arange(14), np.arange(19), indexing="ij")
    smooth = 900 + 400 * np.sin(x / 4.0 + z) * np.cos(y / 5.0) + rng.normal(0, 4, z.shape)
    pal9 = rust_compress(lib, (np.round(smooth / 37) * 37).astype(np.uint16), 0)
    pal = (GOLDEN / "v2_palette_u16_3d.apr").read_bytes()
    pyr = rust_compress(lib, smooth.astype(np.int16), 1, 2.0)
    # pyr: v2 tiles code it as method 6, whose k must equal the header's half-width (§5.4),
    # so most rewritten parameters are rejected by both decoders; pal9 (method 9, §9) is
    # exact whatever the parameter; pal (method 4, v2 golden) changes its index half-width
    assert method_of(pal) == 4 and method_of(pyr) == 6 and method_of(pal9) == 9
    outcomes = {"decoded": 0, "rejected": 0}
    for src in (pal, pyr, pal9):
        for P in (0.0, 0.5, 1.0, 2.0, 3.99, 36.0, 37.0, 74.0, 111.0, 500.0, 1e4, 1e9, 1e300):
            s = crc_fix(src[:6] + b"\x01" + src[7:8] + struct.pack("<d", P) + src[16:-4])
            want = rust_decompress(lib, s)
            try:
                got = reference.decode(s)
            except ValueError as e:
                if "non-conforming" in str(e):
                    continue
                assert want is None, (P, str(e))
                outcomes["rejected"] += 1
                continue
            assert want is not None and got.tobytes() == want, P
            outcomes["decoded"] += 1
    assert outcomes["decoded"] >= 4, outcomes

