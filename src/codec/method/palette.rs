//! Method 4, palette-pyramid (FORMAT.md §2.5): the sorted table of the distinct values of a
//! small-integer chunk, then pyramid coding (§2.4) of the indices into that table; and
//! method 9, palette-fast (format version 5 tiles, FORMAT.md §9): the same table, then the
//! exact indices coded by method 6 (§5) as a u8 or u16 tile.

use super::pyramid::{self, IndexDomain, IntDomain};
use crate::codec::bits::{put_varint, Cursor};
use crate::codec::error::{Error, Result};
use crate::codec::scratch;
use crate::codec::symbols::{unzigzag, zigzag};
use crate::codec::DType;

/// Calls `f(x - lo)` for every element `x` of a 1- or 2-byte integer chunk (`lo` = the dtype's
/// minimum), so values index a table of `1 << 16` entries without an i64 copy of the chunk.
fn for_each_offset(dtype: DType, data: &[u8], mut f: impl FnMut(usize)) {
    match dtype {
        DType::U8 => data.iter().for_each(|&b| f(b as usize)),
        DType::I8 => data.iter().for_each(|&b| f((b ^ 0x80) as usize)),
        DType::U16 => data
            .chunks_exact(2)
            .for_each(|c| f(u16::from_le_bytes([c[0], c[1]]) as usize)),
        DType::I16 => data
            .chunks_exact(2)
            .for_each(|c| f((u16::from_le_bytes([c[0], c[1]]) ^ 0x8000) as usize)),
        _ => unreachable!("palette needs a 1- or 2-byte integer dtype"),
    }
}

/// Distinct values of a small-integer chunk (little-endian elements of `dtype`) when they are
/// sparse in their range (e.g. 12-bit data rescaled to 16 bits): coding indices into this
/// table saves bits.
pub fn sparse_palette(dtype: DType, data: &[u8]) -> Option<Vec<i64>> {
    if dtype.is_float() || dtype.size() > 2 || data.len() / dtype.size() < 64 {
        return None;
    }
    let (lo, _) = dtype.int_range();
    // Kept iff (distinct values) * 2 <= span of the values, so a prefix with more than half
    // the span's distinct values decides "no" (most tiles: a CT or fluorescence tile has
    // that within its first few % of elements). The distinct values are counted over the
    // first quarter, checked every `STEP` elements; the rest is only marked.
    const STEP: usize = 4096;
    let span = {
        let (mn, mx) = offset_range(dtype, data);
        mx - mn + 1
    };
    let mut seen = vec![0u8; 1 << 16];
    {
        // Fixed size: the u16 offsets index it without bounds checks.
        let marks: &mut [u8; 1 << 16] = (&mut seen[..]).try_into().expect("2^16");
        let step = STEP * dtype.size();
        let head = (data.len() / 4).next_multiple_of(step).min(data.len());
        let mut distinct = 0usize;
        for piece in data[..head].chunks(step) {
            for_each_offset(dtype, piece, |o| {
                let m = &mut marks[o & 0xffff];
                distinct += (*m == 0) as usize;
                *m = 1;
            });
            if distinct * 2 > span {
                return None;
            }
        }
        for_each_offset(dtype, &data[head..], |o| marks[o & 0xffff] = 1);
    }
    // The offsets of the dtype's range only (256 for 1-byte dtypes), 8 at a time: empty
    // stretches of the range cost one test per 8 offsets.
    let mut pal = Vec::new();
    for (j, c) in seen[..1 << (8 * dtype.size())].chunks_exact(8).enumerate() {
        if u64::from_ne_bytes(c.try_into().expect("8")) != 0 {
            for (t, &m) in c.iter().enumerate() {
                if m != 0 {
                    pal.push((8 * j + t) as i64 + lo);
                }
            }
        }
    }
    (pal.len() * 2 <= span).then_some(pal)
}

/// (smallest, largest) offset `x - lo` of a 1- or 2-byte integer chunk (see
/// [`for_each_offset`]), folded in the element width; 2-byte elements as i16 (`u ^ 0x8000`
/// for u16: order-preserving; measured: fewer instructions than a u16 or usize fold).
fn offset_range(dtype: DType, data: &[u8]) -> (usize, usize) {
    match dtype {
        DType::U8 | DType::I8 => {
            let flip = if dtype == DType::I8 { 0x80 } else { 0 };
            let (mut mn, mut mx) = (u8::MAX, 0u8);
            for &b in data {
                mn = mn.min(b ^ flip);
                mx = mx.max(b ^ flip);
            }
            (mn as usize, mx as usize)
        }
        DType::U16 | DType::I16 => {
            // v: the element as an order-preserving i16; its offset is (v as u16) ^ 0x8000.
            let flip = if dtype == DType::U16 { 0x8000 } else { 0 };
            let (mut mn, mut mx) = (i16::MAX, i16::MIN);
            for c in data.chunks_exact(2) {
                let v = (u16::from_le_bytes([c[0], c[1]]) ^ flip) as i16;
                mn = mn.min(v);
                mx = mx.max(v);
            }
            let off = |v: i16| ((v as u16) ^ 0x8000) as usize;
            (off(mn), off(mx))
        }
        _ => unreachable!("palette needs a 1- or 2-byte integer dtype"),
    }
}

/// Largest index half-width k such that indices within k of each other map to values within
/// `bound`.
fn palette_bound(pal: &[i64], bound: i64) -> i64 {
    let mut k = 0usize;
    while k + 1 < pal.len() && pal.windows(k + 2).all(|w| w[k + 1] - w[0] <= bound) {
        k += 1;
    }
    k as i64
}

/// Appends the method 4 body of `data` (little-endian elements of `dtype`, every value in
/// `pal`) with integer abs bound `bound` (0: exact).
pub fn encode(
    pal: &[i64],
    data: &[u8],
    dtype: DType,
    bound: i64,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut Vec<u8>,
) {
    put_table(pal, out);
    // Indices < 2^16 (the palette of a 1- or 2-byte dtype): u16 values, coded by the same
    // integer quantiser as i64 would be (IndexDomain), 1/4 of the memory.
    let index = index_of(pal, dtype);
    let mut idx: Vec<u16> = Vec::with_capacity(data.len() / dtype.size());
    for_each_offset(dtype, data, |o| idx.push(index[o]));
    drop(index);
    crate::codec::probe("m4: u16 indices");
    let d = IndexDomain::new(IntDomain {
        b: palette_bound(pal, bound),
        lo: 0,
        hi: pal.len() as i64 - 1,
    });
    if d.d.b == 0 {
        // Exact: the reconstructed values are the indices, coded in place.
        pyramid::encode_exact_in_place(&d, &mut idx, bs, nblocks, out);
    } else {
        pyramid::encode(&d, &idx, bs, nblocks, out);
    }
}

/// Decodes a method 4 body of a chunk of `dtype` with integer abs bound `bound` into `out`.
pub fn decode(
    cur: &mut Cursor,
    dtype: DType,
    bound: i64,
    bs: [usize; 3],
    nblocks: usize,
    out: &mut [u8],
) -> Result<()> {
    let pal = read_table(cur, dtype)?;
    let d = IndexDomain::new(IntDomain {
        b: palette_bound(&pal, bound),
        lo: 0,
        hi: pal.len() as i64 - 1,
    });
    // u16 indices (the palette has <= 2^16 entries), looked up straight into `out`.
    let mut idx = scratch::zeroed::<u16>(out.len() / dtype.size())?;
    pyramid::decode(&d, cur, bs, nblocks, &mut idx)?;
    if d.bad.get() {
        return Err(Error::corrupt("palette index out of range"));
    }
    store(&pal, dtype, idx.iter().map(|&i| i as usize), out);
    Ok(())
}

/// The palette index of every value offset `x - lo` (as `for_each_offset` hands them out),
/// a table of 2^16 entries (0 where the value is not in `pal`).
fn index_of(pal: &[i64], dtype: DType) -> Vec<u16> {
    let (lo, _) = dtype.int_range();
    let mut index = vec![0u16; 1 << 16];
    for (i, &p) in pal.iter().enumerate() {
        index[(p - lo) as usize] = i as u16;
    }
    index
}

/// Writes the palette table of §2.5: K, zigzag(T[0]), then the K - 1 gaps.
fn put_table(pal: &[i64], out: &mut Vec<u8>) {
    put_varint(out, pal.len() as u64);
    let mut prev = 0i64;
    for (i, &p) in pal.iter().enumerate() {
        let d = if i == 0 { zigzag(p) } else { (p - prev) as u64 };
        put_varint(out, d);
        prev = p;
    }
}

/// Reads and checks the palette table of §2.5 (1 <= K <= 2^16, strictly increasing, every
/// value in the dtype's range).
fn read_table(cur: &mut Cursor, dtype: DType) -> Result<Vec<i64>> {
    let k = cur.varint()?;
    if k == 0 || k > 1 << 16 {
        return Err(Error::corrupt("palette size out of range"));
    }
    let (lo, hi) = dtype.int_range();
    let mut pal = Vec::with_capacity(k as usize);
    let mut prev = 0i64;
    for i in 0..k {
        let d = cur.varint()?;
        let p = if i == 0 {
            unzigzag(d)
        } else {
            if d == 0 || d > (hi - lo) as u64 {
                return Err(Error::corrupt("palette not strictly increasing"));
            }
            prev + d as i64
        };
        if p < lo || p > hi {
            return Err(Error::corrupt("palette value outside the dtype range"));
        }
        pal.push(p);
        prev = p;
    }
    Ok(pal)
}

/// Stores `pal[i]` for every index `i` (all checked < pal.len()) as little-endian elements of
/// `dtype` into `out`.
fn store(pal: &[i64], dtype: DType, idx: impl Iterator<Item = usize>, out: &mut [u8]) {
    match dtype.size() {
        1 => {
            for (o, i) in out.iter_mut().zip(idx) {
                *o = pal[i] as u8;
            }
        }
        2 => {
            for (o, i) in out.chunks_exact_mut(2).zip(idx) {
                o.copy_from_slice(&(pal[i] as u16).to_le_bytes());
            }
        }
        // 4-byte integers (the encoder writes methods 4 and 9 only for 1- and 2-byte dtypes).
        _ => {
            for (o, i) in out.chunks_exact_mut(4).zip(idx) {
                o.copy_from_slice(&(pal[i] as u32).to_le_bytes());
            }
        }
    }
}

/// The dtype of method 9's index tile: u8 for palettes of at most 256 values, else u16.
fn index_dtype(k: usize) -> DType {
    if k <= 256 {
        DType::U8
    } else {
        DType::U16
    }
}

/// Appends the method 9 body (FORMAT.md §9) of a tile of shape `shape3` (every value in
/// `pal`, a palette of a 1- or 2-byte integer dtype): the table, then the method-6 body of
/// the exact indices. False (and `out` unchanged) when method 6 declines the index tile.
pub fn encode_fast(
    pal: &[i64],
    data: &[u8],
    dtype: DType,
    shape3: [usize; 3],
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    put_table(pal, out);
    let index = index_of(pal, dtype);
    let it = index_dtype(pal.len());
    let mut idx: Vec<u8> = Vec::with_capacity(data.len() / dtype.size() * it.size());
    if it == DType::U8 {
        for_each_offset(dtype, data, |o| idx.push(index[o] as u8));
    } else {
        for_each_offset(dtype, data, |o| {
            idx.extend_from_slice(&index[o].to_le_bytes())
        });
    }
    drop(index);
    crate::codec::probe("m9: indices");
    let cfg = crate::codec::Config::lossless();
    if !super::pyramid_fast::encode_into(&idx, it, shape3, &cfg, out) {
        out.truncate(start);
        return false;
    }
    true
}

/// Decodes a method 9 body (FORMAT.md §9, the bytes after the method byte) of a tile of
/// `dtype` (a 1- or 2-byte integer dtype) and shape `shape3` into `out`.
pub fn decode_fast(body: &[u8], dtype: DType, shape3: [usize; 3], out: &mut [u8]) -> Result<()> {
    if dtype.is_float() || dtype.size() > 2 {
        return Err(Error::corrupt(
            "method 9 is defined for 1- and 2-byte integer dtypes only",
        ));
    }
    let mut cur = Cursor::new(body);
    let pal = read_table(&mut cur, dtype)?;
    let rest = &body[cur.pos..];
    // The index tile is exact: its method-6 half-width must be 0.
    if Cursor::new(rest).varint()? != 0 {
        return Err(Error::corrupt(
            "method 9 index tile has a non-zero half-width",
        ));
    }
    let it = index_dtype(pal.len());
    let n = out.len() / dtype.size();
    let mut idx = scratch::zeroed::<u8>(n * it.size())?;
    super::pyramid_fast::decode(rest, it, shape3, &mut idx)?;
    let k = pal.len();
    if it == DType::U8 {
        if idx.iter().any(|&i| i as usize >= k) {
            return Err(Error::corrupt("palette index out of range"));
        }
        store(&pal, dtype, idx.iter().map(|&i| i as usize), out);
    } else {
        let wide = idx
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize);
        if wide.clone().any(|i| i >= k) {
            return Err(Error::corrupt("palette index out of range"));
        }
        store(&pal, dtype, wide, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sparse_palette equals the definition (sorted distinct values, kept iff at most half
    /// of their span) for sparse, dense, extreme and single-value data of every dtype.
    #[test]
    fn sparse_palette_matches_its_definition() {
        let mut s = 99u64;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as i64
        };
        for dtype in [DType::U8, DType::I8, DType::U16, DType::I16] {
            let (lo, hi) = dtype.int_range();
            for (case, n) in (0..8).flat_map(|c| [(c, 3000), (c, 40_000)]) {
                let vals: Vec<i64> = (0..n)
                    .map(|i| match case {
                        // Sparse for the first third (the counted prefix), dense after.
                        6 if i < n / 3 => lo + 16 * (next() % ((hi - lo) / 16)),
                        6 => lo + (next() % (hi - lo + 1)),
                        // Dense for the first third, then a sparse stretch.
                        7 if i < n / 3 => lo + (next() % (hi - lo + 1)),
                        7 => hi - 3 * (next() % 5),
                        0 => lo + (next() % (hi - lo + 1)), // dense
                        1 => lo + 16 * (next() % ((hi - lo) / 16)), // sparse, stride 16
                        2 => [lo, hi][(next() & 1) as usize], // the two extremes
                        3 => 7,                             // one value
                        4 => hi - 3 * (next() % 5),         // sparse near the top
                        _ => lo + (next() % 3),             // dense, tiny range
                    })
                    .collect();
                let data: Vec<u8> = vals
                    .iter()
                    .flat_map(|&v| v.to_le_bytes()[..dtype.size()].to_vec())
                    .collect();
                let set: std::collections::BTreeSet<i64> = vals.iter().copied().collect();
                let pal: Vec<i64> = set.into_iter().collect();
                let span = pal[pal.len() - 1] - pal[0] + 1;
                let want = (pal.len() as i64 * 2 <= span).then_some(pal);
                assert_eq!(sparse_palette(dtype, &data), want, "{dtype:?} case {case}");
            }
        }
    }
}
