"""Reference decoder for h5z-apr streams, written from FORMAT.md alone (Python + numpy).

    from h5z_apr.reference import decode
    array = decode(stream_bytes)      # numpy array, little-endian dtype, shape from the header

This is the archive's insurance: if every Rust build is lost, this file and FORMAT.md still
decode every stream ever written. It is deliberately plain and slow (the rANS loop runs in
Python); section numbers below are those of FORMAT.md. Every rejection of FORMAT.md §2.8 raises
``ValueError``.

Dependencies: numpy and the Python standard library (``zlib.crc32`` for the CRC-32 of §2.2).
zstd data (RFC 8878, methods 1 and 3) is decoded by the first of: the standard library's
``compression.zstd`` (Python >= 3.14), the ``zstandard`` package, or the system ``libzstd``
through ctypes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import struct
import zlib

import numpy as np

__all__ = ["decode", "FORMAT_VERSION"]

FORMAT_VERSION = 1  # newest stream format version this decoder knows (§2.10)

MAGIC = b"APRZ"
MAX_RANK = 32
MAX_CHUNK_BYTES = 1 << 32
MAX_EXPANSION = 1 << 15
ESC = 150
PROB_BITS = 12
PROB_SCALE = 1 << PROB_BITS
RANS_L = 1 << 23
MASK64 = (1 << 64) - 1

# §2.1 dtype codes -> (numpy little-endian dtype, is_float, lo, hi)
DTYPES = {
    1: ("<u1", False, 0, 0xFF),
    2: ("<i1", False, -(1 << 7), (1 << 7) - 1),
    3: ("<u2", False, 0, 0xFFFF),
    4: ("<i2", False, -(1 << 15), (1 << 15) - 1),
    5: ("<u4", False, 0, 0xFFFFFFFF),
    6: ("<i4", False, -(1 << 31), (1 << 31) - 1),
    7: ("<f4", True, None, None),
    8: ("<f8", True, None, None),
}


def _reject(msg: str):
    raise ValueError(f"h5z-apr stream rejected: {msg}")


# ---- zstd (RFC 8878) -----------------------------------------------------------------------


def _zstd_backend():
    try:  # Python >= 3.14
        from compression import zstd as _z  # type: ignore

        return lambda data, cap: _z.decompress(data)
    except ImportError:
        pass
    try:
        import zstandard as _zs  # type: ignore

        def dec(data, cap):
            out = bytearray()
            d = _zs.ZstdDecompressor()
            while data:
                obj = d.decompressobj()
                out += obj.decompress(data)
                data = obj.unused_data
                if len(out) > cap:
                    break
            return bytes(out)

        return dec
    except ImportError:
        pass
    name = ctypes.util.find_library("zstd") or "libzstd.so.1"
    lib = ctypes.CDLL(name)
    lib.ZSTD_decompress.restype = ctypes.c_size_t
    lib.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    lib.ZSTD_isError.restype = ctypes.c_uint
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    lib.ZSTD_getErrorName.restype = ctypes.c_char_p
    lib.ZSTD_getErrorName.argtypes = [ctypes.c_size_t]

    def dec(data, cap):
        dst = ctypes.create_string_buffer(max(cap, 1))
        r = lib.ZSTD_decompress(dst, cap, data, len(data))
        if lib.ZSTD_isError(r):
            raise ValueError(lib.ZSTD_getErrorName(r).decode())
        return dst.raw[:r]

    return dec


_ZSTD = None


def _zstd_decompress(data: bytes, cap: int) -> bytes:
    """All frames of `data`; an error (or more than `cap` bytes) is a rejection."""
    global _ZSTD
    if _ZSTD is None:
        _ZSTD = _zstd_backend()
    try:
        out = _ZSTD(bytes(data), cap)
    except Exception as e:  # noqa: BLE001 - any zstd failure is a corrupt stream
        _reject(f"zstd data does not decode ({e})")
    if len(out) > cap:
        _reject("zstd data decodes to more bytes than allowed")
    return out


# ---- primitives (§2.3) -------------------------------------------------------------------


class Cursor:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def u8(self) -> int:
        if self.pos >= len(self.data):
            _reject("body ends inside a field")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            _reject(f"section of {n} bytes runs past the end of the body")
        s = self.data[self.pos : self.pos + n]
        self.pos += n
        return s

    def u32(self) -> int:
        return struct.unpack("<I", self.bytes(4))[0]

    def f64(self) -> float:
        return struct.unpack("<d", self.bytes(8))[0]

    def section(self) -> bytes:
        return self.bytes(self.u32())

    def varint(self) -> int:
        v = 0
        for k in range(10):
            b = self.u8()
            v |= (b & 0x7F) << (7 * k)
            if b < 0x80:
                return v & MASK64
        _reject("varint longer than 10 bytes")


class BitReader:
    """LSB-first bit stream (§1); fields up to 64 bits, read many at once."""

    def __init__(self, data: bytes):
        self.nbytes = len(data)
        self.buf = np.frombuffer(bytes(data) + bytes(16), dtype=np.uint8)
        self.pos = 0  # bits read

    def read_many(self, nbits: np.ndarray) -> np.ndarray:
        nbits = np.asarray(nbits, dtype=np.int64)
        if nbits.size == 0:
            return np.zeros(0, dtype=np.uint64)
        ends = self.pos + np.cumsum(nbits)
        total = int(ends[-1])
        if total > 8 * self.nbytes:
            _reject("extra bits run past the end of their section")
        starts = ends - nbits
        out = np.zeros(nbits.size, dtype=np.uint64)
        sel = np.nonzero(nbits)[0]
        if sel.size:
            st = starts[sel]
            byte = st >> 3
            sh = (st & 7).astype(np.uint64)
            lo = np.zeros(sel.size, dtype=np.uint64)
            for j in range(8):
                lo |= self.buf[byte + j].astype(np.uint64) << np.uint64(8 * j)
            hi = self.buf[byte + 8].astype(np.uint64)
            v = lo >> sh
            # bits 64-sh.. come from the 9th byte (only when sh > 0)
            has = sh > 0
            v[has] |= hi[has] << (np.uint64(64) - sh[has])
            nb = nbits[sel].astype(np.uint64)
            full = nb >= 64
            mask = np.where(full, np.uint64(MASK64), (np.uint64(1) << np.where(full, 0, nb).astype(np.uint64)) - np.uint64(1))
            out[sel] = v & mask
        self.pos = total
        return out

    def finish(self):
        if self.nbytes != (self.pos + 7) // 8:
            _reject("extra-bits section has unread bytes")


# ---- rANS (§2.7) ------------------------------------------------------------------------


class RansDecoder:
    def __init__(self, cur: Cursor, nctx: int):
        c = cur.u8()
        if c != nctx:
            _reject(f"entropy section has {c} contexts, expected {nctx}")
        self.lut = []
        for _ in range(nctx):
            m = cur.varint()
            if m > 256:
                _reject("entropy table describes more than 256 symbols")
            if m == 0:
                self.lut.append(None)
                continue
            freqs = []
            acc = 0
            for _s in range(m):
                f = cur.varint()
                if f > PROB_SCALE or acc + f > PROB_SCALE:
                    _reject("entropy table frequencies exceed 4096")
                freqs.append(f)
                acc += f
            if acc != PROB_SCALE:
                _reject("entropy table frequencies do not sum to 4096")
            # slot -> packed (s | f << 9 | c << 22), s the symbol with c_s <= slot < c_s + f_s
            f = np.array(freqs, dtype=np.int64)
            cum = np.concatenate([[0], np.cumsum(f)[:-1]])
            syms = np.repeat(np.arange(m, dtype=np.int64), f)
            packed = syms | (f[syms] << 9) | (cum[syms] << 22)
            self.lut.append(packed.tolist())
        payload = cur.section()
        if len(payload) < 4:
            _reject("rANS payload shorter than its 4-byte state")
        self.data = payload
        self.x = int.from_bytes(payload[:4], "big")
        self.pos = 4

    def decode_many(self, ctxs) -> list:
        x, pos, data, lut = self.x, self.pos, self.data, self.lut
        n = len(data)
        out = []
        app = out.append
        for ctx in ctxs:
            t = lut[ctx]
            if t is None:
                _reject("symbol decoded in an empty rANS context")
            slot = x & 0xFFF
            e = t[slot]
            x = ((e >> 9) & 0x1FFF) * (x >> 12) + slot - (e >> 22)
            while x < RANS_L:
                if pos >= n:
                    _reject("rANS payload exhausted")
                x = (x << 8) | data[pos]
                pos += 1
            app(e & 0x1FF)
        self.x, self.pos = x, pos
        return out

    def decode_apr(self, counts, lmax) -> list:
        """Particle symbols of one block (§2.6): the context depends on the previous symbol."""
        rb = [0, 1, 1, 2, 2, 2, 2, 2, 2] + [3] * 247  # prev_sym 0 / 1..2 / 3..8 / else
        x, pos, data, lut = self.x, self.pos, self.data, self.lut
        n = len(data)
        out = []
        app = out.append
        prev = 0
        for l in range(lmax + 1):
            lb4 = 4 * min(7, lmax - l)
            for _ in range(counts[l]):
                t = lut[lb4 + rb[prev]]
                if t is None:
                    _reject("symbol decoded in an empty rANS context")
                slot = x & 0xFFF
                e = t[slot]
                x = ((e >> 9) & 0x1FFF) * (x >> 12) + slot - (e >> 22)
                while x < RANS_L:
                    if pos >= n:
                        _reject("rANS payload exhausted")
                    x = (x << 8) | data[pos]
                    pos += 1
                prev = e & 0x1FF
                app(prev)
        self.x, self.pos = x, pos
        return out

    def finish(self):
        if self.x != RANS_L or self.pos != len(self.data):
            _reject("rANS state not back at 2^23 or payload bytes left over")


def _residuals(syms: np.ndarray, bits: BitReader, escape_bits: int | None):
    """Symbols -> (q as int64, escape mask, escape raw bits) (§2.4 Symbols)."""
    s = np.asarray(syms, dtype=np.int64)
    esc = s == ESC
    if escape_bits is None and esc.any():
        _reject("symbol 150 outside the float quantiser")
    if (s > ESC).any():
        _reject("symbol above 150")
    big = (s >= 32) & ~esc
    e = np.where(big, (s - 32) // 2 + 5, 0)
    nb = np.where(big, e - 1, 0)
    if escape_bits is not None:
        nb = np.where(esc, escape_bits, nb)
    raw = bits.read_many(nb)
    top = (2 + (s - 32) % 2).astype(np.uint64)
    u = np.where(big, (top << np.where(big, e - 1, 0).astype(np.uint64)) | raw, s.astype(np.uint64))
    u = np.where(esc, np.uint64(0), u).astype(np.uint64)
    q = ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)
    return q, esc, raw


# ---- pyramid (§2.4) ---------------------------------------------------------------------


def block_shape(dims):
    r = len(dims)
    if r == 1:
        return (1, 1, dims[0]), 1
    if r == 2:
        return (1, dims[0], dims[1]), 1
    nblocks = 1
    for d in dims[: r - 3]:
        nblocks *= d
    return tuple(dims[r - 3 :]), nblocks


def passes(shape):
    m = max(shape)
    p2 = 1
    while p2 < m:
        p2 *= 2
    h = p2 // 2
    out = []
    while h >= 1:
        for axis in range(3):
            if shape[axis] > h:
                out.append((h, axis))
        h //= 2
    return out


class IntDomain:
    """Integer quantiser, half-width k, values in [lo, hi] (§2.4)."""

    is_float = False

    def __init__(self, k, lo, hi):
        self.k, self.lo, self.hi, self.w = k, lo, hi, 2 * k + 1
        self.big = lo < -(1 << 40) or hi > (1 << 40)  # ordered f64: exact arithmetic via Python ints

    def zero(self):
        return np.int64(0)

    def linear(self, a, b):
        return (a >> 1) + (b >> 1) + (a & b & 1)  # floor_div(a + b, 2), no overflow

    def cubic(self, a1, a0, b0, b1):
        if self.big:
            o = [x.astype(object) for x in (a1, a0, b0, b1)]
            s = (9 * (o[1] + o[2]) - o[0] - o[3] + 8) // 16
            return np.clip(s, self.lo, self.hi).astype(np.int64)
        return np.clip((9 * (a0 + b0) - a1 - b1 + 8) >> 4, self.lo, self.hi)

    def act(self, a, b):
        au, bu = a.view(np.uint64), b.view(np.uint64)
        d = np.where(a >= b, au - bu, bu - au)  # exact |a - b| (mod 2^64 wrap is exact here)
        t = d // np.uint64(self.w)
        return sum((t >= np.uint64(1 << j)).astype(np.int64) for j in range(9))

    def reconstruct(self, p, syms, bits):
        q, _, _ = _residuals(syms, bits, None)
        if self.k == 0:
            v = p + q  # wrap64
            if not self.big and ((v < self.lo) | (v > self.hi)).any():
                _reject("non-conforming stream: a k = 0 value leaves the value domain")
            return v
        return np.clip(p + q * np.int64(self.w), self.lo, self.hi)  # wrap64, then clamp


class FloatDomain:
    is_float = True

    def __init__(self, P, is_f32):
        self.w = 2.0 * P
        self.is_f32 = is_f32

    def zero(self):
        return np.float64(0.0)

    def linear(self, a, b):
        return 0.5 * (a + b)

    def cubic(self, a1, a0, b0, b1):
        return (((9.0 * (a0 + b0)) - a1) - b1) * 0.0625

    def act(self, a, b):
        d = np.abs(a - b) / self.w
        t = sum((d >= float(1 << j)).astype(np.int64) for j in range(9))
        return np.where(np.isnan(d), 9, t)

    def reconstruct(self, p, syms, bits):
        q, esc, raw = _residuals(syms, bits, 32 if self.is_f32 else 64)
        ps = np.where(np.isfinite(p), p, 0.0)
        v = ps + q.astype(np.float64) * self.w
        if self.is_f32:
            v = v.astype(np.float32).astype(np.float64)
            ev = raw.astype(np.uint32).view(np.float32).astype(np.float64)
        else:
            ev = raw.view(np.float64)
        return np.where(esc, ev, v)


def decode_pyramid(cur: Cursor, dom, bs, nblocks) -> np.ndarray:
    """Domain values of all blocks (int64 or float64), blocks concatenated, C order."""
    ps = passes(bs)
    pbits = cur.section()
    if len(pbits) != (len(ps) * nblocks + 7) // 8:
        _reject("predictor-bits section has the wrong length")
    cubic_bits = np.unpackbits(np.frombuffer(pbits, dtype=np.uint8), bitorder="little")
    dec = RansDecoder(cur, 20)
    bits = BitReader(cur.section())
    vt = np.float64 if dom.is_float else np.int64
    out = np.zeros((nblocks,) + tuple(bs), dtype=vt)
    prev_origin = np.array([dom.zero()], dtype=vt)
    with np.errstate(all="ignore"):
        for b in range(nblocks):
            V = out[b]
            s = dec.decode_many([9])
            V[0, 0, 0] = dom.reconstruct(prev_origin, s, bits)[0]
            prev_origin = np.array([V[0, 0, 0]], dtype=vt)
            for j, (h, axis) in enumerate(ps):
                cubic = bool(cubic_bits[b * len(ps) + j])
                _pass(V, dom, h, axis, cubic, dec, bits)
    dec.finish()
    bits.finish()
    return out.reshape(-1)


def _pass(V, dom, h, axis, cubic, dec, bits):
    n = V.shape[axis]
    other = []
    for a in range(3):
        if a == axis:
            other.append(slice(None))
        elif a < axis:
            other.append(slice(0, None, h))
        else:
            other.append(slice(0, None, 2 * h))
    W = V[tuple(other)]  # every line of the pass, full length along the axis
    c = np.arange(h, n, 2 * h)

    def take(off):
        idx = c + off
        ok = (idx >= 0) & (idx < n)
        vals = np.take(W, np.clip(idx, 0, n - 1), axis=axis)
        shape = [1, 1, 1]
        shape[axis] = len(c)
        return vals, ok.reshape(shape)

    A0, _ = take(-h)
    B0, hasB0 = take(h)
    A1, hasA1 = take(-3 * h)
    B1, hasB1 = take(3 * h)
    lin = dom.linear(A0, B0)
    p = np.where(hasB0, np.where(cubic & hasA1 & hasB1, dom.cubic(A1, A0, B0, B1), lin) if cubic else lin, A0)
    t = np.where(hasB0, dom.act(A0, B0), np.where(hasA1, dom.act(A0, A1), 0))
    ctx = (t + (10 if h == 1 else 0)).astype(np.int64)
    syms = dec.decode_many(ctx.ravel().tolist())
    v = dom.reconstruct(p.ravel(), syms, bits).reshape(p.shape)
    sl = list(other)
    sl[axis] = slice(h, None, 2 * h)
    V[tuple(sl)] = v


# ---- ordered float integers (§2.4) ---------------------------------------------------------


def ordered_to_float(v: np.ndarray, is_f32: bool) -> np.ndarray:
    if is_f32:
        s = v.astype(np.int64).astype(np.uint64).astype(np.uint32).view(np.int32)  # v mod 2^32
        u = np.where(s < 0, s ^ np.int32(0x7FFFFFFF), s).view(np.uint32)
        return u.view("<f4")
    s = v.astype(np.int64)
    u = np.where(s < 0, s ^ np.int64(0x7FFFFFFFFFFFFFFF), s).view(np.uint64)
    return u.view("<f8")


def store_ints(v: np.ndarray, npdt: str) -> np.ndarray:
    """Low 8·size bits of each value, two's complement (§2.4 Output)."""
    return v.astype(np.int64).astype(npdt.replace("<i", "<u")).view(npdt)


# ---- palette (§2.5) -----------------------------------------------------------------------


def decode_palette(cur, dt, P, mode, bs, nblocks, n):
    npdt, _, lo, hi = DTYPES[dt]
    K = cur.varint()
    if K == 0 or K > 65536:
        _reject("palette size out of range")
    T = []
    prev = 0
    for i in range(K):
        d = cur.varint()
        if i == 0:
            p = (d >> 1) ^ -(d & 1)
        else:
            if d == 0 or d > hi - lo:
                _reject("palette not strictly increasing (gap 0 or too large)")
            p = prev + d
        if p < lo or p > hi:
            _reject("palette value outside the dtype range")
        T.append(p)
        prev = p
    T = np.array(T, dtype=np.int64)
    fb = min(int(np.floor(P)), hi - lo) if mode == 1 else 0
    # largest k in 0..K-1 with T[i+k] - T[i] <= fb for all i (monotone in k: binary search)
    lo_k, hi_k = 0, K - 1
    while lo_k < hi_k:
        mid = (lo_k + hi_k + 1) // 2
        if int((T[mid:] - T[:-mid]).max()) <= fb:
            lo_k = mid
        else:
            hi_k = mid - 1
    idx = decode_pyramid(cur, IntDomain(lo_k, 0, K - 1), bs, nblocks)
    if idx.size and (idx.min() < 0 or idx.max() > K - 1):
        _reject("palette index out of range")
    return store_ints(T[idx], npdt)


# ---- apr (§2.6) ---------------------------------------------------------------------------


def level_max(bs):
    m = max(bs)
    return 1 if m <= 2 else (m - 1).bit_length()


def level_shapes(bs, lmax):
    return [tuple(-(-d // (1 << (lmax - l))) for d in bs) for l in range(lmax + 1)]


def read_trees(cur, bs, nblocks):
    z = cur.section()
    lmax = level_max(bs)
    shapes = level_shapes(bs, lmax)
    max_bits = sum(int(np.prod(shapes[l])) for l in range(lmax))
    raw = _zstd_decompress(z, (max_bits * nblocks + 7) // 8 + 8)
    tbits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little").astype(bool)
    pos = 0
    trees = []
    for _ in range(nblocks):
        leaves = []  # per level: bool array of S_l, True = particle
        open_ = np.ones((1, 1, 1), dtype=bool)
        for l in range(lmax + 1):
            S = shapes[l]
            nopen = int(open_.sum())
            if l == lmax:
                leaf = open_.copy()
            else:
                if pos + nopen > tbits.size:
                    _reject("tree section ends early")
                leaf = np.zeros(S, dtype=bool)
                leaf[open_] = tbits[pos : pos + nopen]  # C order over open cells
                pos += nopen
            leaves.append(leaf)
            if l < lmax:
                split = open_ & ~leaf
                S1 = shapes[l + 1]
                child = split.repeat(2, 0).repeat(2, 1).repeat(2, 2)
                nxt = np.zeros(S1, dtype=bool)
                cz, cx, cy = (min(S1[i], child.shape[i]) for i in range(3))
                nxt[:cz, :cx, :cy] = child[:cz, :cx, :cy]
                open_ = nxt
        trees.append(leaves)
    if len(raw) != (pos + 7) // 8:
        _reject("tree section has trailing bytes")
    return trees, lmax


def decode_apr(cur, dt, bs, nblocks):
    npdt, is_float, lo, hi = DTYPES[dt]
    d = cur.f64()
    if d == 0.0 and not is_float:
        step = None
    elif np.isfinite(d) and d > 0.0:
        step = d
    else:
        _reject("invalid particle value half-step")
    trees, lmax = read_trees(cur, bs, nblocks)
    dec = RansDecoder(cur, 32)
    bits = BitReader(cur.section())
    Z, X, Y = bs
    out = np.zeros((nblocks, Z, X, Y), dtype=np.float32)
    for b, leaves in enumerate(trees):
        counts = [int(lv.sum()) for lv in leaves]
        syms = dec.decode_apr(counts, lmax)
        q, _, _ = _residuals(np.array(syms, dtype=np.int64), bits, None)
        qs = np.cumsum(q, dtype=np.int64)  # wrap64
        with np.errstate(all="ignore"):
            if step is None:
                val = qs.astype(np.float64).astype(np.float32)
            else:
                val = ((qs.astype(np.float64) * 2.0) * step).astype(np.float32)
        # piecewise-constant reconstruction, level by level, particles in C order of their cell
        blk = out[b]
        k = 0
        for l in range(lmax + 1):
            if counts[l] == 0:
                continue
            S = leaves[l].shape
            lvl = np.zeros(S, dtype=np.float32)
            lvl[leaves[l]] = val[k : k + counts[l]]
            k += counts[l]
            f = 1 << (lmax - l)
            up_v = lvl.repeat(f, 0).repeat(f, 1).repeat(f, 2)[:Z, :X, :Y]
            up_m = leaves[l].repeat(f, 0).repeat(f, 1).repeat(f, 2)[:Z, :X, :Y]
            blk[up_m] = up_v[up_m]
    dec.finish()
    bits.finish()
    v = out.reshape(-1)
    if dt == 7:
        return v.astype("<f4")
    if dt == 8:
        return v.astype("<f8")
    x = v.astype(np.float64)
    a = np.abs(x)
    t = np.floor(a)
    t = t + (a - t >= 0.5)  # round half away from zero
    r = np.copysign(t, x)
    r = np.clip(r, lo, hi)  # sat_i64 then clamp: same for finite and +-inf (NaN cannot occur)
    return r.astype(np.int64).astype(npdt)


# ---- stream (§2.1-2.3) --------------------------------------------------------------------


def parse_header(s: bytes):
    if len(s) < 16:
        if len(s) >= 4 and s[:4] != MAGIC:
            _reject("bad magic")
        _reject("stream shorter than the 16-byte header")
    if s[:4] != MAGIC:
        _reject("bad magic")
    version = s[4]
    if version == 0 or version > FORMAT_VERSION:
        _reject(f"unsupported stream format version {version} (this decoder knows 1..{FORMAT_VERSION})")
    dt = s[5]
    if dt not in DTYPES:
        _reject(f"unknown dtype code {dt}")
    rank = s[7]
    if rank == 0 or rank > MAX_RANK:
        _reject(f"rank {rank} outside 1..32")
    (P,) = struct.unpack("<d", s[8:16])
    mode = s[6]
    if mode not in (0, 1, 2):
        _reject(f"unknown mode code {mode}")
    finite = np.isfinite(P)
    if mode == 0 and P != 0.0:
        _reject("lossless stream with a non-zero parameter")
    if mode == 1 and not (finite and P >= 0.0):
        _reject(f"invalid abs bound {P}")
    if mode == 2 and not (finite and P > 0.0):
        _reject(f"invalid rel_error {P}")
    hlen = 16 + 4 * rank
    if len(s) < hlen:
        _reject("stream ends inside the dims")
    dims = list(struct.unpack(f"<{rank}I", s[16:hlen]))
    if 0 in dims:
        _reject("zero dimension")
    n = 1
    for d in dims:
        n *= d
    size = np.dtype(DTYPES[dt][0]).itemsize
    if n * size > MAX_CHUNK_BYTES:
        _reject("chunk larger than 4 GiB")
    return dt, mode, P, dims, n, size, hlen


def decode(stream: bytes) -> np.ndarray:
    """Decodes one h5z-apr stream (any known format version) into a numpy array."""
    s = bytes(stream)
    dt, mode, P, dims, n, size, hlen = parse_header(s)
    if len(s) < hlen + 1 + 4:
        _reject("stream ends before its body")
    if zlib.crc32(s[:-4]) != struct.unpack("<I", s[-4:])[0]:
        _reject("CRC-32 mismatch")
    method = s[hlen]
    L = len(s) - 4 - hlen
    claimed = 0 if method == 0 else (n * size if method == 1 else n)
    if claimed > L * MAX_EXPANSION:
        _reject("body below the expansion limit")
    npdt, is_float, lo, hi = DTYPES[dt]
    cur = Cursor(s[hlen + 1 : -4])
    bs, nblocks = block_shape(dims)
    if method == 0:
        arr = np.frombuffer(cur.bytes(n * size), dtype=npdt).copy()
    elif method == 1:
        raw = _zstd_decompress(cur.bytes(len(cur.data)), n * size)
        if len(raw) != n * size:
            _reject("zstd data has the wrong decoded size")
        arr = np.frombuffer(raw, dtype=np.uint8).reshape(size, n).T.copy().view(npdt).reshape(-1)
    elif method == 2:
        if is_float and mode == 1 and P > 0.0:
            v = decode_pyramid(cur, FloatDomain(P, dt == 7), bs, nblocks)
            arr = v.astype(npdt)
        elif is_float:
            dom = IntDomain(0, -(1 << 31), (1 << 31) - 1) if dt == 7 else IntDomain(0, -(1 << 63), (1 << 63) - 1)
            v = decode_pyramid(cur, dom, bs, nblocks)
            arr = ordered_to_float(v, dt == 7)
        else:
            k = min(int(np.floor(P)), hi - lo) if mode == 1 else 0
            v = decode_pyramid(cur, IntDomain(k, lo, hi), bs, nblocks)
            arr = store_ints(v, npdt)
    elif method == 3 and mode == 2:
        arr = decode_apr(cur, dt, bs, nblocks)
    elif method == 4 and mode in (0, 1) and not is_float:
        arr = decode_palette(cur, dt, P, mode, bs, nblocks, n)
    else:
        _reject(f"coding method {method} is not valid for mode {mode} and dtype code {dt}")
    if cur.pos != len(cur.data):
        _reject("trailing bytes after the last section")
    return arr.reshape(dims)
