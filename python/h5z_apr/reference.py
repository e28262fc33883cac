"""Reference decoder for h5z-apr streams, written from FORMAT.md alone (Python + numpy).

    from h5z_apr.reference import decode
    array = decode(stream_bytes)      # numpy array, little-endian dtype, shape from the header

This is the archive's insurance: if every Rust build is lost, this file and FORMAT.md still
decode every stream ever written. It is deliberately plain and slow (the rANS loop runs in
Python); section numbers below are those of FORMAT.md. Every rejection of FORMAT.md §2.8 raises
``ValueError``.

Dependencies: numpy and the Python standard library (``zlib.crc32`` for the CRC-32 of §2.2, with
a pure-Python fallback).
zstd data (RFC 8878, methods 1 and 3) is decoded by the first of: the standard library's
``compression.zstd`` (Python >= 3.14), the ``zstandard`` package, the system ``libzstd``
through ctypes, or, when none is present (or H5Z_APR_REFERENCE_ZSTD=python), the pure-Python
RFC 8878 decoder in this file (slow, but needs nothing compiled).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import math
import struct

import numpy as np

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (0xEDB88320 ^ (_c >> 1)) if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32_py(data: bytes) -> int:
    """CRC-32 of FORMAT.md §2.2, table-driven (used when zlib is absent)."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


try:
    from zlib import crc32 as _crc32
except ImportError:  # a Python without zlib
    _crc32 = crc32_py

__all__ = ["decode", "read_hdf5", "FORMAT_VERSION", "set_zstd_backend", "zstd_decompress_py"]

FORMAT_VERSION = 6  # newest stream format version this decoder knows (§2.10)

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


def _zstd_library():
    """A fast zstd decoder if one is installed, else None."""
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
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.ZSTD_decompress.restype = ctypes.c_size_t
    lib.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
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


def set_zstd_backend(name: str):
    """'library' (compression.zstd, zstandard or libzstd; pure Python if none) or 'python'
    (the pure-Python decoder below). The environment variable H5Z_APR_REFERENCE_ZSTD sets the
    default."""
    global _ZSTD
    if name == "python":
        _ZSTD = zstd_decompress_py
    elif name == "library":
        _ZSTD = _zstd_library() or zstd_decompress_py
    else:
        raise ValueError(f"unknown zstd backend {name!r}")


def _zstd_decompress(data: bytes, cap: int) -> bytes:
    """All frames of `data`; an error (or more than `cap` bytes) is a rejection."""
    if _ZSTD is None:
        set_zstd_backend(os.environ.get("H5Z_APR_REFERENCE_ZSTD", "library"))
    try:
        out = _ZSTD(bytes(data), cap)
    except Exception as e:  # noqa: BLE001 - any zstd failure is a corrupt stream
        _reject(f"zstd data does not decode ({e})")
    if len(out) > cap:
        _reject("zstd data decodes to more bytes than allowed")
    return out


# ---- zstd frame decoder in pure Python (RFC 8878), the last-resort backend ---------------------
#
# Written from RFC 8878 so that this file needs no compiled code at all. It is slow (about a
# megabyte per second or less) and used only when no zstd library is present, or when
# H5Z_APR_REFERENCE_ZSTD=python asks for it (the tests do, to check it against libzstd).

_LL_BASE = list(range(16)) + [16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
                              8192, 16384, 32768, 65536]
_LL_BITS = [0] * 16 + [1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
_ML_BASE = [i + 3 for i in range(32)] + [35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027,
                                         2051, 4099, 8195, 16387, 32771, 65539]
_ML_BITS = [0] * 32 + [1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
_LL_DEFAULT = [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
               -1, -1, -1, -1]
_ML_DEFAULT = [1, 4, 3, 2, 2, 2, 2, 2, 2] + [1] * 37 + [-1] * 7
_OF_DEFAULT = [1, 1, 1, 1, 1, 1, 2, 2, 2] + [1] * 15 + [-1] * 5


class _ZstdError(Exception):
    pass


def _zcheck(cond, msg):
    if not cond:
        raise _ZstdError(msg)


class _FwdBits:
    """Forward little-endian bit reader (FSE table descriptions)."""

    def __init__(self, data, pos):
        self.data, self.bitpos = data, pos * 8

    def peek(self, n):
        b0 = self.bitpos >> 3
        chunk = int.from_bytes(self.data[b0 : b0 + 8], "little")
        return (chunk >> (self.bitpos & 7)) & ((1 << n) - 1)

    def skip(self, n):
        self.bitpos += n


class _BackBits:
    """Backward bit stream (RFC 8878 §4.1): starts at the highest set bit of the last byte, read
    toward the first byte; bits before the start read as 0 and make `pos` negative."""

    def __init__(self, data):
        _zcheck(len(data) > 0 and data[-1] != 0, "backward bit stream without end marker")
        self.data = bytes(8) + bytes(data)
        self.pos = 8 * (len(data) - 1) + data[-1].bit_length() - 1  # bits left

    def read(self, n):
        if n == 0:
            return 0
        self.pos -= n
        lo = self.pos + 64
        if lo < 0:
            return 0  # far past the start (corrupt data; the caller's end check rejects it)
        b0 = lo >> 3
        b1 = (lo + n - 1) >> 3
        chunk = int.from_bytes(self.data[b0 : b1 + 1], "little") if b1 >= 0 else 0
        return (chunk >> (lo & 7)) & ((1 << n) - 1)

    def peek(self, n):
        v = self.read(n)
        self.pos += n
        return v


def _fse_read_ncount(data, pos, max_log, max_sym):
    """FSE table description (RFC 8878 §4.1.1) -> (normalized counts, accuracy log, bytes used)."""
    _zcheck(pos < len(data), "FSE table description missing")
    br = _FwdBits(data, pos)
    al = br.peek(4) + 5
    br.skip(4)
    _zcheck(al <= max_log, "FSE accuracy log too large")
    remaining = (1 << al) + 1
    threshold = 1 << al
    nbits = al + 1
    counts = []
    while remaining > 1:
        _zcheck(len(counts) <= max_sym, "FSE table has too many symbols")
        mx = 2 * threshold - 1 - remaining
        low = br.peek(nbits - 1)
        if low < mx:
            v = low
            br.skip(nbits - 1)
        else:
            v = br.peek(nbits)
            if v >= threshold:
                v -= mx
            br.skip(nbits)
        c = v - 1
        remaining -= abs(c)
        counts.append(c)
        if c == 0:
            while True:
                r = br.peek(2)
                br.skip(2)
                counts.extend([0] * r)
                if r != 3:
                    break
        while remaining < threshold:
            nbits -= 1
            threshold >>= 1
    _zcheck(remaining == 1 and len(counts) <= max_sym + 1, "corrupt FSE table description")
    _zcheck((br.bitpos + 7) // 8 <= len(data), "FSE table description runs past its block")
    return counts, al, (br.bitpos + 7) // 8 - pos


def _fse_table(counts, al):
    """Decoding table: list of (symbol, nbits, baseline) per state."""
    size = 1 << al
    sym = [0] * size
    high = size - 1
    nxt = list(counts)
    for s, c in enumerate(counts):
        if c == -1:
            sym[high] = s
            high -= 1
            nxt[s] = 1
    step = (size >> 1) + (size >> 3) + 3
    mask = size - 1
    p = 0
    for s, c in enumerate(counts):
        for _ in range(max(c, 0)):
            sym[p] = s
            p = (p + step) & mask
            while p > high:
                p = (p + step) & mask
    _zcheck(p == 0, "FSE table spread does not close")
    table = []
    for u in range(size):
        s = sym[u]
        ns = nxt[s]
        nxt[s] += 1
        nb = al - (ns.bit_length() - 1)
        table.append((s, nb, (ns << nb) - size))
    return table


def _huf_weights(data, pos):
    """Huffman tree description (RFC 8878 §4.2.1) -> (weights list, bytes used)."""
    _zcheck(pos < len(data), "Huffman tree description missing")
    hb = data[pos]
    if hb >= 128:
        n = hb - 127
        nbytes = (n + 1) // 2
        _zcheck(pos + 1 + nbytes <= len(data), "Huffman weights run past the block")
        w = []
        for i in range(n):
            b = data[pos + 1 + i // 2]
            w.append(b >> 4 if i % 2 == 0 else b & 15)
        return w, 1 + nbytes
    _zcheck(hb > 0 and pos + 1 + hb <= len(data), "bad Huffman tree description")
    seg = data[pos + 1 : pos + 1 + hb]
    counts, al, used = _fse_read_ncount(seg, 0, 6, 255)
    table = _fse_table(counts, al)
    br = _BackBits(seg[used:])
    s1 = br.read(al)
    s2 = br.read(al)
    w = []
    while True:
        _zcheck(len(w) < 255, "too many Huffman weights")
        sym, nb, base = table[s1]
        w.append(sym)
        s1 = base + br.read(nb)
        if br.pos < 0:
            w.append(table[s2][0])
            break
        _zcheck(len(w) < 255, "too many Huffman weights")
        sym, nb, base = table[s2]
        w.append(sym)
        s2 = base + br.read(nb)
        if br.pos < 0:
            w.append(table[s1][0])
            break
    return w, 1 + hb


def _huf_table(weights):
    """Weights (last one implied) -> (lookup list of (symbol, nbits) indexed by max_bits bits, max_bits)."""
    _zcheck(all(x <= 11 for x in weights), "Huffman weight too large")
    total = sum(1 << (x - 1) for x in weights if x > 0)
    _zcheck(total > 0, "empty Huffman table")
    max_bits = total.bit_length()
    left = (1 << max_bits) - total
    _zcheck(left & (left - 1) == 0, "Huffman weights do not complete a tree")
    weights = list(weights) + [left.bit_length()]
    _zcheck(max_bits <= 11, "Huffman code too long")
    table = []
    for wt in range(1, max_bits + 1):
        for s, x in enumerate(weights):
            if x == wt:
                table.extend([(s, max_bits + 1 - wt)] * (1 << (wt - 1)))
    _zcheck(len(table) == 1 << max_bits, "Huffman table size mismatch")
    return table, max_bits


def _huf_stream(data, n, table, max_bits):
    br = _BackBits(data)
    out = bytearray()
    for _ in range(n):
        s, nb = table[br.peek(max_bits)]
        out.append(s)
        br.pos -= nb
    _zcheck(br.pos == 0, "Huffman stream not consumed exactly")
    return out


def _literals(blk, st):
    b0 = blk[0]
    ltype, sf = b0 & 3, (b0 >> 2) & 3
    if ltype in (0, 1):
        if sf in (0, 2):
            regen, hl = b0 >> 3, 1
        elif sf == 1:
            regen, hl = (b0 >> 4) + (blk[1] << 4), 2
        else:
            regen, hl = (b0 >> 4) + (blk[1] << 4) + (blk[2] << 12), 3
        if ltype == 0:
            _zcheck(hl + regen <= len(blk), "raw literals run past the block")
            return bytes(blk[hl : hl + regen]), hl + regen
        _zcheck(hl < len(blk), "RLE literals byte missing")
        return bytes([blk[hl]]) * regen, hl + 1
    hl = {0: 3, 1: 3, 2: 4, 3: 5}[sf]
    _zcheck(hl <= len(blk), "literals header runs past the block")
    h = int.from_bytes(blk[:hl], "little")
    bits = {0: 10, 1: 10, 2: 14, 3: 18}[sf]
    regen = (h >> 4) & ((1 << bits) - 1)
    comp = (h >> (4 + bits)) & ((1 << bits) - 1)
    streams = 1 if sf == 0 else 4
    _zcheck(hl + comp <= len(blk), "compressed literals run past the block")
    seg = blk[hl : hl + comp]
    p = 0
    if ltype == 2:
        w, used = _huf_weights(seg, 0)
        st["huf"] = _huf_table(w)
        p = used
    else:
        _zcheck(st.get("huf") is not None, "treeless literals without a previous Huffman table")
    table, max_bits = st["huf"]
    if streams == 1:
        lit = _huf_stream(seg[p:], regen, table, max_bits)
    else:
        _zcheck(p + 6 <= len(seg), "jump table missing")
        s1, s2, s3 = struct.unpack("<HHH", seg[p : p + 6])
        p += 6
        s4 = len(seg) - p - s1 - s2 - s3
        _zcheck(s4 > 0, "bad jump table")
        q = (regen + 3) // 4
        _zcheck(regen >= 3 * q, "too few literals for four streams")
        lit = bytearray()
        for size, cnt in ((s1, q), (s2, q), (s3, q), (s4, regen - 3 * q)):
            lit += _huf_stream(seg[p : p + size], cnt, table, max_bits)
            p += size
    return bytes(lit), hl + comp


def _seq_table(mode, blk, pos, st, key, default, default_al, max_log, max_sym):
    if mode == 0:
        st[key] = _fse_table(default, default_al)
        return pos
    if mode == 1:
        _zcheck(pos < len(blk), "RLE sequence symbol missing")
        _zcheck(blk[pos] <= max_sym, "RLE sequence symbol too large")
        st[key] = [(blk[pos], 0, 0)]
        return pos + 1
    if mode == 2:
        counts, al, used = _fse_read_ncount(blk, pos, max_log, max_sym)
        st[key] = _fse_table(counts, al)
        return pos + used
    _zcheck(st.get(key) is not None, "repeat mode without a previous table")
    return pos


def _table_log(t):
    return (len(t) - 1).bit_length()


def _block(blk, out, st):
    lit, p = _literals(blk, st)
    _zcheck(p < len(blk), "sequences section missing")
    b0 = blk[p]
    if b0 == 0:
        nseq, p = 0, p + 1
    elif b0 < 128:
        nseq, p = b0, p + 1
    elif b0 < 255:
        _zcheck(p + 1 < len(blk), "sequence count truncated")
        nseq, p = ((b0 - 128) << 8) + blk[p + 1], p + 2
    else:
        _zcheck(p + 2 < len(blk), "sequence count truncated")
        nseq, p = blk[p + 1] + (blk[p + 2] << 8) + 0x7F00, p + 3
    if nseq == 0:
        _zcheck(p == len(blk), "bytes after an empty sequences section")
        out += lit
        return
    _zcheck(p < len(blk), "symbol compression modes missing")
    modes = blk[p]
    p += 1
    _zcheck(modes & 3 == 0, "reserved bits of the compression modes set")
    p = _seq_table(modes >> 6, blk, p, st, "ll", _LL_DEFAULT, 6, 9, 35)
    p = _seq_table((modes >> 4) & 3, blk, p, st, "of", _OF_DEFAULT, 5, 8, 31)
    p = _seq_table((modes >> 2) & 3, blk, p, st, "ml", _ML_DEFAULT, 6, 9, 52)
    llt, oft, mlt = st["ll"], st["of"], st["ml"]
    br = _BackBits(blk[p:])
    sll = br.read(_table_log(llt))
    sof = br.read(_table_log(oft))
    sml = br.read(_table_log(mlt))
    rep = st["rep"]
    lp = 0
    for i in range(nseq):
        ofc, ofnb, ofb = oft[sof]
        mlc, mlnb, mlb = mlt[sml]
        llc, llnb, llb = llt[sll]
        _zcheck(ofc <= 31 and llc <= 35 and mlc <= 52, "sequence code out of range")
        ofv = (1 << ofc) + br.read(ofc)
        ml = _ML_BASE[mlc] + br.read(_ML_BITS[mlc])
        ll = _LL_BASE[llc] + br.read(_LL_BITS[llc])
        if ofv > 3:
            off = ofv - 3
            rep = [off, rep[0], rep[1]]
        else:
            idx = ofv - 1 + (1 if ll == 0 else 0)
            if idx == 0:
                off = rep[0]
            elif idx == 1:
                off = rep[1]
                rep = [off, rep[0], rep[2]]
            elif idx == 2:
                off = rep[2]
                rep = [off, rep[0], rep[1]]
            else:
                off = rep[0] - 1
                rep = [off, rep[0], rep[1]]
        _zcheck(lp + ll <= len(lit), "sequence takes more literals than there are")
        out += lit[lp : lp + ll]
        lp += ll
        _zcheck(0 < off <= len(out) - st["frame_start"], "match offset outside the frame")
        start = len(out) - off
        if off >= ml:
            out += out[start : start + ml]
        else:
            for k in range(ml):
                out.append(out[start + k])
        if i + 1 < nseq:
            sll = llb + br.read(llnb)
            sml = mlb + br.read(mlnb)
            sof = ofb + br.read(ofnb)
    _zcheck(br.pos == 0, "sequence bit stream not consumed exactly")
    st["rep"] = rep
    out += lit[lp:]


_P64_1, _P64_2, _P64_3, _P64_4, _P64_5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                          0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def _xxh64(data, seed=0):
    M = MASK64

    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & M

    def rnd(acc, lane):
        return (rotl((acc + lane * _P64_2) & M, 31) * _P64_1) & M

    n = len(data)
    p = 0
    if n >= 32:
        v = [(seed + _P64_1 + _P64_2) & M, (seed + _P64_2) & M, seed, (seed - _P64_1) & M]
        while p + 32 <= n:
            lanes = struct.unpack_from("<4Q", data, p)
            v = [rnd(v[i], lanes[i]) for i in range(4)]
            p += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for x in v:
            h = ((h ^ rnd(0, x)) * _P64_1 + _P64_4) & M
    else:
        h = (seed + _P64_5) & M
    h = (h + n) & M
    while p + 8 <= n:
        (k,) = struct.unpack_from("<Q", data, p)
        h = (rotl(h ^ rnd(0, k), 27) * _P64_1 + _P64_4) & M
        p += 8
    if p + 4 <= n:
        (k,) = struct.unpack_from("<I", data, p)
        h = (rotl(h ^ ((k * _P64_1) & M), 23) * _P64_2 + _P64_3) & M
        p += 4
    while p < n:
        h = (rotl(h ^ ((data[p] * _P64_5) & M), 11) * _P64_1) & M
        p += 1
    h ^= h >> 33
    h = (h * _P64_2) & M
    h ^= h >> 29
    h = (h * _P64_3) & M
    h ^= h >> 32
    return h


def zstd_decompress_py(data: bytes, cap: int) -> bytes:
    """All frames of `data` (RFC 8878; no dictionaries); raises _ZstdError on bad data."""
    data = bytes(data)
    out = bytearray()
    p = 0
    _zcheck(len(data) > 0, "empty zstd data")
    while p < len(data):
        _zcheck(p + 4 <= len(data), "truncated frame magic")
        (magic,) = struct.unpack_from("<I", data, p)
        p += 4
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame
            _zcheck(p + 4 <= len(data), "truncated skippable frame")
            (size,) = struct.unpack_from("<I", data, p)
            p += 4 + size
            _zcheck(p <= len(data), "truncated skippable frame")
            continue
        _zcheck(magic == 0xFD2FB528, "not a zstd frame")
        _zcheck(p < len(data), "truncated frame header")
        fhd = data[p]
        p += 1
        fcs_flag, single, checksum, did_flag = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1, fhd & 3
        _zcheck(fhd & 8 == 0, "reserved frame header bit set")
        if not single:
            p += 1  # window descriptor (the whole output is kept, so it is not needed)
        did_len = [0, 1, 2, 4][did_flag]
        _zcheck(p + did_len <= len(data), "truncated frame header")
        _zcheck(int.from_bytes(data[p : p + did_len], "little") == 0, "dictionaries are not supported")
        p += did_len
        fcs_len = [1 if single else 0, 2, 4, 8][fcs_flag]
        _zcheck(p + fcs_len <= len(data), "truncated frame header")
        fcs = int.from_bytes(data[p : p + fcs_len], "little") if fcs_len else None
        if fcs_len == 2:
            fcs += 256
        p += fcs_len
        st = {"rep": [1, 4, 8], "frame_start": len(out), "huf": None}
        while True:
            _zcheck(p + 3 <= len(data), "truncated block header")
            bh = int.from_bytes(data[p : p + 3], "little")
            p += 3
            last, btype, bsize = bh & 1, (bh >> 1) & 3, bh >> 3
            _zcheck(bsize <= 1 << 17 or btype == 1, "block larger than 128 KiB")
            if btype == 0:
                _zcheck(p + bsize <= len(data), "truncated raw block")
                out += data[p : p + bsize]
                p += bsize
            elif btype == 1:
                _zcheck(p < len(data) and bsize <= 1 << 17, "truncated RLE block")
                out += bytes([data[p]]) * bsize
                p += 1
            elif btype == 2:
                _zcheck(p + bsize <= len(data), "truncated compressed block")
                _block(data[p : p + bsize], out, st)
                p += bsize
            else:
                raise _ZstdError("reserved block type")
            _zcheck(len(out) <= cap, "zstd data decodes to more bytes than allowed")
            if last:
                break
        content = bytes(out[st["frame_start"] :])
        _zcheck(fcs is None or len(content) == fcs, "frame content size mismatch")
        if checksum:
            _zcheck(p + 4 <= len(data), "truncated content checksum")
            _zcheck(struct.unpack_from("<I", data, p)[0] == _xxh64(content) & 0xFFFFFFFF, "content checksum mismatch")
            p += 4
    return bytes(out)


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

    def __init__(self, k, lo, hi, palette=False):
        self.k, self.lo, self.hi, self.w = k, lo, hi, 2 * k + 1
        self.palette = palette
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
                if self.palette:
                    _reject("palette index out of range")
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
            ev = widen_f32_bits(raw.astype(np.uint32))
        else:
            ev = raw.view(np.float64)
        return np.where(esc, ev, v)


def widen_f32_bits(b: np.ndarray) -> np.ndarray:
    """f32 bit patterns -> float64, exact for NaNs too (§2.4 *Escapes*): a NaN's 23-bit
    payload moves up by 29 bits as is (a float conversion would set the quiet bit)."""
    b = b.astype(np.uint64)
    nan = ((b >> np.uint64(23)) & np.uint64(0xFF)) == np.uint64(0xFF)
    nan &= (b & np.uint64(0x7FFFFF)) != np.uint64(0)
    wide = ((b >> np.uint64(31)) << np.uint64(63)) | (np.uint64(0x7FF) << np.uint64(52)) | ((b & np.uint64(0x7FFFFF)) << np.uint64(29))
    return np.where(nan, wide.view(np.float64), b.astype(np.uint32).view(np.float32).astype(np.float64))


def narrow_f32_bits(v: np.ndarray) -> np.ndarray:
    """float64 -> f32 bit patterns (uint32), the inverse of widen_f32_bits for NaNs; other
    values are rounded to nearest by the cast. A NaN whose payload would vanish becomes quiet."""
    b = v.view(np.uint64)
    mant = (b >> np.uint64(29)) & np.uint64(0x7FFFFF)
    mant = np.where(mant == 0, np.uint64(0x400000), mant)
    nb = ((b >> np.uint64(63)) << np.uint64(31)) | np.uint64(0x7F800000) | mant
    return np.where(np.isnan(v), nb.astype(np.uint32), v.astype(np.float32).view(np.uint32))


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

    sl = list(other)
    sl[axis] = slice(h, None, 2 * h)
    if hasattr(dom, "select"):
        dom.select(tuple(sl))  # method 7: the bin widths of this pass's points (§6.3)
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
    V[tuple(sl)] = v


# ---- method 6, pyramid-fast (§5), format version 2 tiles --------------------------------------


class Rans4Decoder:
    """The 4-lane rANS section of §5.3 (12-bit probabilities, 16-bit words, L = 2^16)."""

    L = 1 << 16

    def __init__(self, cur: Cursor, nctx: int):
        c = cur.varint()
        if c != nctx:
            _reject(f"entropy section has {c} contexts, expected {nctx}")
        self.lut = []
        for _ in range(nctx):
            n = cur.varint()
            if n > 256:
                _reject("entropy table describes more than 256 symbols")
            if n == 0:
                self.lut.append(None)
                continue
            f = [0] * n
            acc = 0
            s = 0
            while s + 1 < n:
                v = cur.varint()
                if v == 0:
                    r = cur.varint()
                    if s + r + 1 > n - 1:
                        _reject("entropy table zero run too long")
                    s += r + 1
                    continue
                acc += v
                if acc >= PROB_SCALE:
                    _reject("entropy table frequencies exceed 4096")
                f[s] = v
                s += 1
            f[n - 1] = PROB_SCALE - acc
            fa = np.array(f, dtype=np.int64)
            cum = np.concatenate([[0], np.cumsum(fa)[:-1]])
            syms = np.repeat(np.arange(n, dtype=np.int64), fa)
            packed = syms | (fa[syms] << 9) | (cum[syms] << 22)
            self.lut.append(packed.tolist())
        ln = cur.varint()
        if ln > len(cur.data) - cur.pos:
            _reject("rANS payload runs past the end of the body")
        if ln < 16 or ln % 2:
            _reject("rANS payload has an invalid length")
        payload = cur.bytes(ln)
        self.x = list(struct.unpack("<4I", payload[:16]))
        self.words = list(struct.unpack(f"<{(ln - 16) // 2}H", payload[16:]))
        self.wpos = 0
        self.i = 0

    def decode_many(self, ctxs) -> list:
        x, lut, words, wpos, i = self.x, self.lut, self.words, self.wpos, self.i
        nw = len(words)
        out = []
        app = out.append
        for ctx in ctxs:
            t = lut[ctx]
            if t is None:
                _reject("symbol decoded in an empty rANS context")
            j = i & 3
            xj = x[j]
            slot = xj & 0xFFF
            e = t[slot]
            xj = ((e >> 9) & 0x1FFF) * (xj >> 12) + slot - (e >> 22)
            if xj < self.L:
                if wpos >= nw:
                    _reject("rANS payload exhausted")
                xj = ((xj << 16) | words[wpos]) & 0xFFFFFFFF
                wpos += 1
            x[j] = xj
            i += 1
            app(e & 0x1FF)
        self.wpos, self.i = wpos, i
        return out

    def finish(self):
        if any(xj != self.L for xj in self.x) or self.wpos != len(self.words):
            _reject("rANS lanes not back at 2^16 or payload words left over")


class _IntDomain6(IntDomain):
    """§5.2: the integer quantiser of §2.4, but symbols >= 88 are a rejection."""

    def reconstruct(self, p, syms, bits):
        if max(syms, default=0) >= 88:
            _reject("method 6 symbol >= 88")
        return super().reconstruct(p, syms, bits)


def decode_method6(body: bytes, dt: int, shape3) -> np.ndarray:
    """Method-6 body (§5, without the method byte) of a tile of dtype code dt and shape
    (Z, X, Y) -> flat numpy array of the dtype (C order)."""
    npdt, is_float, lo, hi = DTYPES[dt]
    if dt == 8:
        _reject("method 6 is not defined for float64")
    if dt == 7:
        lo, hi = -(1 << 31), (1 << 31) - 1
    cur = Cursor(bytes(body))
    k = cur.varint()
    if k > hi - lo:
        _reject("method 6 half bin width exceeds the value range")
    if dt == 7 and k != 0:
        _reject("method 6 float32 tile with a non-zero bin width")
    dom = _IntDomain6(k, lo, hi)
    bs = tuple(int(d) for d in shape3)
    ps = passes(bs)
    pbits = cur.bytes((len(ps) + 7) // 8)
    cubic_bits = np.unpackbits(np.frombuffer(pbits, dtype=np.uint8), bitorder="little")
    dec = Rans4Decoder(cur, 20)
    bits = BitReader(cur.data[cur.pos :])
    V = np.zeros(bs, dtype=np.int64)
    with np.errstate(all="ignore"):
        s = dec.decode_many([9])
        V[0, 0, 0] = dom.reconstruct(np.array([np.int64(0)]), s, bits)[0]
        for j, (h, axis) in enumerate(ps):
            _pass(V, dom, h, axis, bool(cubic_bits[j]), dec, bits)
    dec.finish()
    bits.finish()
    v = V.reshape(-1)
    if dt == 7:
        return ordered_to_float(v, True)
    return store_ints(v, npdt)


# ---- method 7, pyramid-noise (§6), format version 3 noise-mode tiles and (§7) version 4 apr tiles --

M7_BLOCK = (4, 16, 16)


class _IntDomain7(IntDomain):
    """§6.3: the integer quantiser with the bin width of each point's own block; always the
    clamped (k > 0) reconstruction, symbols >= 88 are a rejection."""

    def __init__(self, lo, hi, wfull):
        super().__init__(1, lo, hi)
        self.wfull = wfull  # bin width of every element of the tile, shape (Z, X, Y), int64
        self.w = None

    def select(self, sl):
        self.w = self.wfull[sl]

    def act(self, a, b):
        au, bu = a.view(np.uint64), b.view(np.uint64)
        d = np.where(a >= b, au - bu, bu - au)
        t = d // self.w.astype(np.uint64)
        return sum((t >= np.uint64(1 << j)).astype(np.int64) for j in range(9))

    def reconstruct(self, p, syms, bits):
        if max(syms, default=0) >= 88:
            _reject("method 7 symbol >= 88")
        q, _, _ = _residuals(syms, bits, None)
        return np.clip(p + q * self.w.ravel(), self.lo, self.hi)  # wrap64, then clamp


def decode_method7(body: bytes, dt: int, shape3, model_len=8) -> np.ndarray:
    """Method-7 body (§6.2, without the method byte) of an integer tile of dtype code dt and
    shape (Z, X, Y) -> flat numpy array of the dtype (C order). `model_len`: 8 (f32 a, b;
    format versions 3 and 4) or 12 (f32 a, b, c: noise tiles of format version 5, §8)."""
    npdt, is_float, lo, hi = DTYPES[dt]
    if is_float:
        _reject("method 7 is defined for integer dtypes only")
    cur = Cursor(bytes(body))
    model = cur.bytes(model_len)  # a, b (, c): information only
    if model_len == 12:
        (c,) = struct.unpack("<f", model[8:12])
        if not (math.isfinite(c) and c >= 0.0):
            _reject(f"method 7 noise floor c = {c} (must be finite and >= 0)")
    m = cur.varint()
    if m > len(cur.data) - cur.pos:
        _reject("method 7 step map runs past the body")
    zmap = cur.bytes(m)
    bs = tuple(int(d) for d in shape3)
    G = tuple(-(-bs[a] // M7_BLOCK[a]) for a in range(3))
    nb = G[0] * G[1] * G[2]
    raw = _zstd_decompress(zmap, 10 * nb)
    mc = Cursor(raw)
    ks = []
    k = 0
    for _ in range(nb):
        u = mc.varint()
        k += (u >> 1) ^ -(u & 1)
        if not 0 <= k <= hi - lo:
            _reject("method 7 block half-width outside 0..hi-lo")
        ks.append(k)
    if mc.pos != len(raw):
        _reject("method 7 step map has trailing bytes")
    wb = 2 * np.array(ks, dtype=np.int64).reshape(G) + 1
    wfull = wb
    for a in range(3):
        wfull = np.repeat(wfull, M7_BLOCK[a], axis=a)
    wfull = np.ascontiguousarray(wfull[: bs[0], : bs[1], : bs[2]])
    dom = _IntDomain7(lo, hi, wfull)
    ps = passes(bs)
    pbits = cur.bytes((len(ps) + 7) // 8)
    cubic_bits = np.unpackbits(np.frombuffer(pbits, dtype=np.uint8), bitorder="little")
    dec = Rans4Decoder(cur, 20)
    bits = BitReader(cur.data[cur.pos :])
    V = np.zeros(bs, dtype=np.int64)
    with np.errstate(all="ignore"):
        s = dec.decode_many([9])
        dom.select((slice(0, 1), slice(0, 1), slice(0, 1)))
        V[0, 0, 0] = dom.reconstruct(np.array([np.int64(0)]), s, bits)[0]
        for j, (h, axis) in enumerate(ps):
            _pass(V, dom, h, axis, bool(cubic_bits[j]), dec, bits)
    dec.finish()
    bits.finish()
    return store_ints(V.reshape(-1), npdt)


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


def read_palette_table(cur, dt):
    """The palette table of §2.5 (methods 4 and 9) -> int64 array T of K values."""
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
    return np.array(T, dtype=np.int64)


def decode_palette(cur, dt, P, mode, bs, nblocks):
    npdt, _, lo, hi = DTYPES[dt]
    T = read_palette_table(cur, dt)
    K = len(T)
    fb = min(int(np.floor(P)), hi - lo) if mode == 1 else 0
    # largest k in 0..K-1 with T[i+k] - T[i] <= fb for all i (monotone in k: binary search)
    lo_k, hi_k = 0, K - 1
    while lo_k < hi_k:
        mid = (lo_k + hi_k + 1) // 2
        if int((T[mid:] - T[:-mid]).max()) <= fb:
            lo_k = mid
        else:
            hi_k = mid - 1
    idx = decode_pyramid(cur, IntDomain(lo_k, 0, K - 1, palette=True), bs, nblocks)
    if idx.size and (idx.min() < 0 or idx.max() > K - 1):
        _reject("palette index out of range")
    return store_ints(T[idx], npdt)


def decode_palette_fast(body: bytes, dt: int, shape3) -> np.ndarray:
    """Method-9 body (§9, without the method byte): the palette table of §2.5, then the
    method-6 body (§5) of the exact indices as a u8 (K <= 256) or u16 tile of the same shape."""
    npdt, is_float, lo, hi = DTYPES[dt]
    if is_float or np.dtype(npdt).itemsize > 2:
        _reject("method 9 is defined for 1- and 2-byte integer dtypes only")
    cur = Cursor(bytes(body))
    T = read_palette_table(cur, dt)
    rest = cur.data[cur.pos :]
    if Cursor(rest).varint() != 0:
        _reject("method 9 index tile has a non-zero half-width")
    idx = decode_method6(rest, 1 if len(T) <= 256 else 3, shape3).astype(np.int64)
    if idx.size and idx.max() > len(T) - 1:
        _reject("palette index out of range")
    return store_ints(T[idx], npdt)


def decode_float_grid(body: bytes, dt: int, shape3) -> np.ndarray:
    """Method-10 body (§10, without the method byte) of a float tile: the grid step s (f64),
    the origin q0 (i64), the grid dtype code g (u8, u16 or u32), then the method-6 body (§5) of
    the exact indices u as a tile of dtype g; element = dtype(f64(q0 + u) * s)."""
    npdt, is_float, lo, hi = DTYPES[dt]
    if not is_float:
        _reject("method 10 is defined for float dtypes only")
    cur = Cursor(bytes(body))
    if len(cur.data) < 17:
        _reject("method 10 body ends inside its grid header")
    s = cur.f64()
    if not (np.isfinite(s) and s > 0.0):
        _reject(f"method 10 grid step {s} is not finite and > 0")
    q0 = struct.unpack("<q", cur.bytes(8))[0]
    if abs(q0) > (1 << 52):
        _reject(f"method 10 grid origin {q0} is outside +-2^52")
    g = cur.bytes(1)[0]
    if g not in (1, 3, 5):
        _reject(f"method 10 grid dtype code {g} is not u8, u16 or u32")
    rest = cur.data[cur.pos :]
    if Cursor(rest).varint() != 0:
        _reject("method 10 grid tile has a non-zero half-width")
    u = decode_method6(rest, g, shape3).astype(np.int64)
    with np.errstate(all="ignore"):
        v = (u + np.int64(q0)).astype(np.float64) * s
        arr = v.astype(npdt)
    if not np.all(np.isfinite(arr)):
        _reject("method 10 tile decodes to a value that is not finite")
    return arr


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
    if mode not in (0, 1, 2, 3) or (mode == 3 and version < 3):
        _reject(f"unknown mode code {mode} for format version {version}")
    finite = np.isfinite(P)
    if mode == 0 and P != 0.0:
        _reject("lossless stream with a non-zero parameter")
    if mode == 1 and not (finite and P >= 0.0):
        _reject(f"invalid abs bound {P}")
    if mode == 2 and not (finite and P > 0.0):
        _reject(f"invalid rel_error {P}")
    if mode == 3 and not (finite and P >= 0.0):
        _reject(f"invalid noise factor {P}")
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
    if _crc32(s[:-4]) != struct.unpack("<I", s[-4:])[0]:
        _reject("CRC-32 mismatch")
    if s[4] >= 2:
        return decode_v2(s[hlen:-4], dt, mode, P, dims, size, s[4]).reshape(dims)
    method = s[hlen]
    L = len(s) - 4 - hlen
    claimed = 0 if method == 0 else (n * size if method == 1 else n)
    if claimed > L * MAX_EXPANSION:
        _reject("body below the expansion limit")
    bs, nblocks = block_shape(dims)
    return decode_body(s[hlen:-4], dt, mode, P, bs, nblocks, n, size, v2=False).reshape(dims)


def decode_body(mb: bytes, dt, mode, P, bs, nblocks, n, size, v2, version=1):
    """Method byte + body (§2.3; in v2 tiles also method 5, §4.3; methods 6-9 §5-8) -> flat
    array of n elements. `version`: the stream's format version (methods 7 and 8 in apr tiles
    need 4, §7; method 9 needs 5, §9; method 10 needs 6, §10)."""
    npdt, is_float, lo, hi = DTYPES[dt]
    method = mb[0]
    cur = Cursor(mb[1:])
    if method == 0:
        arr = np.frombuffer(cur.bytes(n * size), dtype=npdt).copy()
    elif method == 1:
        raw = _zstd_decompress(cur.bytes(len(cur.data)), n * size)
        if len(raw) != n * size:
            _reject("zstd data has the wrong decoded size")
        arr = np.frombuffer(raw, dtype=np.uint8).reshape(size, n).T.copy().view(npdt).reshape(-1)
    elif method == 2 and mode != 3:
        if is_float and mode == 1 and P > 0.0:
            v = decode_pyramid(cur, FloatDomain(P, dt == 7), bs, nblocks)
            arr = narrow_f32_bits(v).view(npdt) if dt == 7 else v.astype(npdt)
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
        arr = decode_palette(cur, dt, P, mode, bs, nblocks)
    elif method == 6 and v2 and nblocks == 1 and mode in (0, 1) and dt != 8:
        if is_float and mode == 1 and P > 0.0:
            _reject("method 6 is not valid for the float quantiser")
        want = min(int(np.floor(P)), hi - lo) if (mode == 1 and not is_float) else 0
        k = Cursor(mb[1:]).varint()
        if k != want:
            _reject(f"method 6 tile has half-width {k}, the stream's is {want}")
        arr = decode_method6(mb[1:], dt, bs)
        cur.pos = len(cur.data)
    elif method == 7 and v2 and nblocks == 1 and (mode == 3 or (mode == 2 and version >= 4)) and not is_float:
        arr = decode_method7(mb[1:], dt, bs, 12 if (mode == 3 and version >= 5) else 8)
        cur.pos = len(cur.data)
    elif method == 8 and v2 and nblocks == 1 and mode == 2 and version >= 4 and is_float:
        # §7.2: a bound b, then method 2 with the float quantiser of bound b.
        b = cur.f64()
        if not (np.isfinite(b) and b > 0.0):
            _reject(f"method 8 bound {b} is not finite and > 0")
        v = decode_pyramid(cur, FloatDomain(b, dt == 7), bs, nblocks)
        arr = narrow_f32_bits(v).view(npdt) if dt == 7 else v.astype(npdt)
    elif method == 9 and v2 and nblocks == 1 and mode in (0, 1) and version >= 5:
        arr = decode_palette_fast(mb[1:], dt, bs)
        cur.pos = len(cur.data)
    elif method == 10 and v2 and nblocks == 1 and is_float and (mode == 2 or (mode == 1 and P > 0.0)):
        # §10: format version 6 on; in abs tiles the grid step is at most twice the bound.
        if version < 6:
            _reject(f"coding method 10 in a format version {version} stream (needs 6)")
        if mode == 1:
            s = Cursor(mb[1:]).f64()
            if not (s <= 2.0 * P):
                _reject(f"method 10 grid step {s} exceeds twice the stream's bound {P}")
        arr = decode_float_grid(mb[1:], dt, bs)
        cur.pos = len(cur.data)
    elif method == 5 and v2:
        arr = np.full(n, np.frombuffer(cur.bytes(size), dtype=npdt)[0], dtype=npdt)
    else:
        _reject(f"coding method {method} is not valid for mode {mode} and dtype code {dt}")
    if cur.pos != len(cur.data):
        _reject("trailing bytes after the last section")
    return arr


def view3(dims):
    """The (Z, X, Y) view of a chunk in format version 2 (§4.1)."""
    if len(dims) == 1:
        return (1, 1, dims[0])
    if len(dims) == 2:
        return (1, dims[0], dims[1])
    z = 1
    for d in dims[:-2]:
        z *= d
    return (z, dims[-2], dims[-1])


def decode_v2(body: bytes, dt, mode, P, dims, size, version=2) -> np.ndarray:
    """Format version 2 (§4): box, fill, tile shape, tile table, tile bodies (`body` = the bytes
    between the header and the CRC)."""
    npdt = DTYPES[dt][0]
    Z, X, Y = view3(dims)
    cur = Cursor(body)
    ebox = (cur.varint(), cur.varint(), cur.varint())
    if ebox[0] > Z or ebox[1] > X or ebox[2] > Y:
        _reject("coded box exceeds the chunk")
    empty = ebox == (0, 0, 0)
    if not empty and 0 in ebox:
        _reject("coded box neither empty nor non-zero")
    fill = np.frombuffer(cur.bytes(size), dtype=npdt)[0]
    tz, tx, ty = cur.varint(), cur.varint(), cur.varint()
    Ez, Ex, Ey = ebox
    if empty:
        ok = (tz, tx, ty) == (0, 0, 0)
    else:
        ok = (
            (tx == Ex and ty == Ey and 1 <= tz <= Ez)
            or (tz == 1 and ty == Ey and 1 <= tx < Ex)
            or (tz == 1 and tx == 1 and 1 <= ty < Ey)
        )
    if not ok:
        _reject(f"tile shape {(tz, tx, ty)} not allowed for box {ebox}")
    grid = (0, 0, 0) if empty else (-(-Ez // tz), -(-Ex // tx), -(-Ey // ty))
    ntiles = 0 if empty else grid[0] * grid[1] * grid[2]
    if ntiles > len(body) - cur.pos:
        _reject("more tiles than bytes")
    lens = [cur.varint() for _ in range(ntiles)]
    pos = cur.pos
    out = np.full((Z, X, Y), fill, dtype=npdt)
    for i, L in enumerate(lens):
        if L == 0 or pos + L > len(body):
            _reject(f"tile {i}: body length {L} is 0 or runs past the stream")
        mb = body[pos : pos + L]
        pos += L
        iz, ix, iy = i // (grid[1] * grid[2]), (i // grid[2]) % grid[1], i % grid[2]
        o = (iz * tz, ix * tx, iy * ty)
        sh = (min(tz, Ez - o[0]), min(tx, Ex - o[1]), min(ty, Ey - o[2]))
        ne = sh[0] * sh[1] * sh[2]
        claimed = 0 if mb[0] in (0, 5) else (ne * size if mb[0] == 1 else ne)
        if claimed > L * MAX_EXPANSION:
            _reject(f"tile {i}: body below the expansion limit")
        a = decode_body(mb, dt, mode, P, sh, 1, ne, size, v2=True, version=version)
        out[o[0] : o[0] + sh[0], o[1] : o[1] + sh[1], o[2] : o[2] + sh[2]] = a.reshape(sh)
    if pos != len(body):
        _reject("trailing bytes after the last tile")
    return out.reshape(-1)


# ---- HDF5 datasets (FORMAT.md §3), through h5py but without the filter plugin -----------------

FILTER_ID = 47815


def read_hdf5(dset) -> np.ndarray:
    """All values of an h5py Dataset written with filter 47815, read without the plugin: every
    stored chunk is fetched raw (``read_direct_chunk``) and decoded by :func:`decode`. Chunks the
    filter skipped (filter-mask bit set) are the raw elements in the file's byte order; chunks
    never written take the fill value. Only pipelines holding filter 47815 alone are handled."""
    plist = dset.id.get_create_plist()
    filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    codes = [f[0] for f in filters]
    if codes != [FILTER_ID]:
        raise NotImplementedError(f"filter pipeline {codes}: only [{FILTER_ID}] alone is handled here")
    out = np.empty(dset.shape, dtype=dset.dtype)
    out[...] = dset.fillvalue
    chunk = dset.chunks
    for i in range(dset.id.get_num_chunks()):
        info = dset.id.get_chunk_info(i)
        mask, data = dset.id.read_direct_chunk(info.chunk_offset)
        if mask & 1:
            a = np.frombuffer(data, dtype=dset.dtype)
        else:
            a = decode(data)
            if a.dtype.kind != dset.dtype.kind or a.dtype.itemsize != dset.dtype.itemsize:
                _reject(f"chunk holds {a.dtype}, the dataset is {dset.dtype}")
        if a.size != int(np.prod(chunk)):
            _reject(f"chunk holds {a.size} elements, the chunk shape {chunk} needs {int(np.prod(chunk))}")
        a = a.reshape(chunk)
        region = tuple(slice(o, min(o + c, n)) for o, c, n in zip(info.chunk_offset, chunk, dset.shape))
        out[region] = a[tuple(slice(0, r.stop - r.start) for r in region)]
    return out


def _main(argv=None):
    """python reference.py STREAM.apr [OUT.npy]: decode one stream file, save or summarise it.
    python reference.py FILE.h5:/DATASET [OUT.npy]: read a dataset without the plugin (h5py)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print("usage: python reference.py STREAM|FILE.h5:/DATASET [OUT.npy]", file=sys.stderr)
        return 2
    if ":" in args[0] and not os.path.exists(args[0]):
        import h5py

        path, name = args[0].rsplit(":", 1)
        with h5py.File(path, "r") as f:
            a = read_hdf5(f[name])
    else:
        with open(args[0], "rb") as f:
            a = decode(f.read())
    if len(args) == 2:
        np.save(args[1], a)
    else:
        print(f"{args[0]}: {a.dtype} {a.shape} min {a.min()} max {a.max()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
