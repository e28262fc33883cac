"""The noise model a noise-mode chunk stream records, read from its bytes (FORMAT.md §4.2, §6.2),
for the h5py/package tests of noise mode. Independent of the encoder's code and of reference.py.
"""
import numpy as np


def _varint(b, pos):
    v, shift = 0, 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, pos
        shift += 7


def stream_sigma(stream: bytes, values: np.ndarray):
    """sigma(x) = sqrt(max(c, a*x + b)) of every element of a rank-3 noise-mode chunk stream,
    with the (a, b, c) stored (format version 5, FORMAT.md §8; version 3 streams: c = 0) at the start of each method-7 tile body; +inf where the stream codes
    elements exactly (outside the coded box, tiles of methods 0, 1, 5). `values` = the chunk's
    original elements, shape = the chunk shape. Returns (sigma, list of (a, b) per method-7 tile).
    (c is checked >= 0 and used in sigma.)
    """
    b = bytes(stream)
    assert b[:4] == b"APRZ" and b[4] in (3, 5) and b[6] == 3, "format version 3 or 5, mode 3 (noise)"
    mlen = 12 if b[4] >= 5 else 8
    rank = b[7]
    assert rank == 3
    dims = tuple(int(d) for d in np.frombuffer(b[16 : 16 + 4 * rank], "<u4"))
    assert dims == values.shape, (dims, values.shape)
    pos = 16 + 4 * rank
    ez, pos = _varint(b, pos)
    ex, pos = _varint(b, pos)
    ey, pos = _varint(b, pos)
    pos += values.dtype.itemsize  # fill value
    tz, pos = _varint(b, pos)
    tx, pos = _varint(b, pos)
    ty, pos = _varint(b, pos)
    sigma = np.full(values.shape, np.inf)
    models = []
    if ez == 0:
        return sigma, models
    g = (-(-ez // tz), -(-ex // tx), -(-ey // ty))
    lens = []
    for _ in range(g[0] * g[1] * g[2]):
        n, pos = _varint(b, pos)
        lens.append(n)
    v = values.astype(np.float64)
    for i, n in enumerate(lens):
        body = b[pos : pos + n]
        pos += n
        if body[0] != 7:
            assert body[0] in (0, 1, 5), body[0]
            continue
        a, bb = (float(x) for x in np.frombuffer(body[1:9], "<f4"))
        c = float(np.frombuffer(body[9:13], "<f4")[0]) if mlen == 12 else 0.0
        assert c >= 0.0, c
        models.append((a, bb))
        oz, ox, oy = i // (g[1] * g[2]) * tz, (i // g[2]) % g[1] * tx, i % g[2] * ty
        sl = (slice(oz, min(oz + tz, ez)), slice(ox, min(ox + tx, ex)), slice(oy, min(oy + ty, ey)))
        sigma[sl] = np.sqrt(np.maximum(c, a * v[sl] + bb))
    assert pos + 4 == len(b), "tiles, then the crc32 trailer"
    return sigma, models


def check_noise_dataset(dset, original, k):
    """Reads every chunk of an h5py noise-mode dataset raw, recovers the model each chunk's
    stream used, and checks |x - x'| <= k * sigma(x) on the decoded data at every element.
    Returns (max |err| / sigma over elements with an error, number of method-7 tiles)."""
    back = dset[...]
    chunk = dset.chunks
    worst, tiles = 0.0, 0
    for i in range(dset.id.get_num_chunks()):
        info = dset.id.get_chunk_info(i)
        assert info.filter_mask == 0
        _, data = dset.id.read_direct_chunk(info.chunk_offset)
        o = info.chunk_offset
        sl = tuple(slice(s, min(s + c, n)) for s, c, n in zip(o, chunk, dset.shape))
        full = np.zeros(chunk, dtype=original.dtype)  # HDF5 pads edge chunks with the fill value 0
        part = tuple(slice(0, s.stop - s.start) for s in sl)
        full[part] = original[sl]
        sigma, models = stream_sigma(data, full)
        tiles += len(models)
        e = np.abs(back[sl].astype(np.float64) - original[sl].astype(np.float64))
        s = sigma[part]
        assert np.all(e <= k * s), f"chunk {o}: bound k*sigma broken at {int(np.sum(e > k * s))} elements"
        nz = e > 0
        if nz.any():
            worst = max(worst, float(np.max(e[nz] / s[nz])))
    return worst, tiles
