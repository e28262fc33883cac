//! Format version 2 (FORMAT.md §4): a chunk as a coded box (everything outside it equals one
//! fill value) cut into independent tiles with a table of their lengths, so tiles are coded
//! and decoded on several threads and padded HDF5 edge chunks cost only their data.

use super::bits::{put_varint, Cursor};
use super::crc32::crc32;
use super::dtype::DType;
use super::header::Header;
use super::method::apr;
use super::stream::{claimed_size, decode_body, encode_body, Method, MAX_EXPANSION};
use super::threads;
use super::Config;
use crate::codec::error::{Error, Result};
use std::borrow::Cow;
use std::sync::Mutex;

/// Smallest tile size target of the encoder in raw bytes (FORMAT.md §4.5): 448 KiB, 7/8 of
/// 512 KiB, so chunks a little under 1 MiB (clipped chunks such as (16, 256, 255) u8) split too.
pub const TILE_MIN: usize = 448 << 10;

/// Boxes of at least this many raw bytes (768 KiB, 3/4 of 1 MiB) are cut into two tiles or
/// more, even where the halves are below [`TILE_MIN`]: the clipped edge chunks of 1 MiB chunks,
/// e.g. (14, 255, 255) u8 (889 KiB), still give 2 threads a tile each (FORMAT.md §4.5).
pub const TILE_PAIR_MIN: usize = 768 << 10;

/// The encoder's tile size target for a chunk of `nbytes` (not part of the format): the chunk
/// split into the largest power-of-two count of parts of at least [`TILE_MIN`], so tiles have
/// 448 KiB .. 896 KiB, a 1 MiB chunk has 2 tiles, 2 MiB 4, 4 MiB 8 (work for 2 threads, evenly
/// shared), and no tile is thin enough to cost ratio; boxes of [`TILE_PAIR_MIN`] .. 896 KiB
/// get 2 tiles of 384 .. 448 KiB, smaller ones one tile (FORMAT.md §4.5).
pub fn tile_target(nbytes: usize) -> usize {
    let mut n = 1;
    while nbytes / (2 * n) >= TILE_MIN {
        n *= 2;
    }
    if n == 1 && nbytes >= TILE_PAIR_MIN {
        n = 2;
    }
    nbytes.div_ceil(n).max(1)
}

/// The (Z, X, Y) view of a chunk of this shape (FORMAT.md §4.1).
pub fn view3(shape: &[usize]) -> [usize; 3] {
    match shape.len() {
        1 => [1, 1, shape[0]],
        2 => [1, shape[0], shape[1]],
        r => [shape[..r - 2].iter().product(), shape[r - 2], shape[r - 1]],
    }
}

fn ceil_div(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// The parsed container of a v2 stream: box, fill, tile grid and each tile's body range.
pub(crate) struct Layout<'a> {
    view: [usize; 3],
    ebox: [usize; 3],
    fill: &'a [u8],
    tile: [usize; 3],
    grid: [usize; 3],
    /// Method byte + body of each tile, in tile order.
    bodies: Vec<&'a [u8]>,
}

impl<'a> Layout<'a> {
    /// Parses and checks everything after the header (`body` excludes the CRC). Allocates
    /// at most one slice per table entry, and the table has at most one entry per byte.
    pub(crate) fn parse(h: &Header, body: &'a [u8]) -> Result<Layout<'a>> {
        let es = h.dtype.size();
        let view = view3(&h.shape);
        let mut cur = Cursor::new(body);
        // Varints (values above 2^32 are caught by the range checks below).
        let u32x3 = |cur: &mut Cursor| -> Result<[usize; 3]> {
            let mut v = [0usize; 3];
            for x in v.iter_mut() {
                *x = usize::try_from(cur.varint()?.min(u64::from(u32::MAX) + 1))
                    .unwrap_or(usize::MAX);
            }
            Ok(v)
        };
        let ebox = u32x3(&mut cur)?;
        if (0..3).any(|a| ebox[a] > view[a]) {
            return Err(Error::corrupt(format!(
                "coded box {ebox:?} exceeds the chunk's (Z, X, Y) view {view:?}"
            )));
        }
        let empty = ebox.iter().all(|&e| e == 0);
        if !empty && ebox.contains(&0) {
            return Err(Error::corrupt(format!(
                "coded box {ebox:?} is neither empty nor non-zero"
            )));
        }
        let fill = cur.bytes(es)?;
        let tile = u32x3(&mut cur)?;
        let [ez, ex, ey] = ebox;
        let ok = if empty {
            tile == [0, 0, 0]
        } else {
            let [tz, tx, ty] = tile;
            (tx == ex && ty == ey && (1..=ez).contains(&tz))
                || (tz == 1 && ty == ey && (1..ex).contains(&tx))
                || (tz == 1 && tx == 1 && (1..ey).contains(&ty))
        };
        if !ok {
            return Err(Error::corrupt(format!(
                "tile shape {tile:?} is not allowed for the coded box {ebox:?}"
            )));
        }
        let grid = if empty {
            [0, 0, 0]
        } else {
            [
                ceil_div(ez, tile[0]),
                ceil_div(ex, tile[1]),
                ceil_div(ey, tile[2]),
            ]
        };
        let ntiles = if empty {
            0
        } else {
            grid.iter().product::<usize>()
        };
        if ntiles > cur.data.len() - cur.pos {
            return Err(Error::corrupt(format!(
                "{ntiles} tiles cannot fit in {} bytes",
                cur.data.len() - cur.pos
            )));
        }
        let mut lens = Vec::with_capacity(ntiles);
        for _ in 0..ntiles {
            lens.push(cur.varint()?);
        }
        let mut rest = cur.rest();
        let mut bodies = Vec::with_capacity(ntiles);
        for (i, &len) in lens.iter().enumerate() {
            if len == 0 || len > rest.len() as u64 {
                return Err(Error::corrupt(format!(
                    "tile {i}: body length {len} is 0 or runs past the stream"
                )));
            }
            let (b, r) = rest.split_at(len as usize);
            rest = r;
            let elems = tile_shape(ebox, tile, grid, i).1.iter().product::<usize>();
            let claimed = claimed_size(b[0], elems * es, h.dtype);
            if claimed > len * MAX_EXPANSION {
                return Err(Error::corrupt(format!(
                    "tile {i}: {len} bytes cannot hold {claimed} elements/bytes"
                )));
            }
            bodies.push(b);
        }
        if !rest.is_empty() {
            return Err(Error::corrupt("trailing bytes after the last tile"));
        }
        Ok(Layout {
            view,
            ebox,
            fill,
            tile,
            grid,
            bodies,
        })
    }
}

/// Whether every tile is one contiguous run of the chunk's elements (then tiles are coded
/// from and decoded into the chunk buffer directly, without a gather/scatter copy).
fn contiguous(view: [usize; 3], ebox: [usize; 3], tile: [usize; 3]) -> bool {
    let [_, x, y] = view;
    let [_, ex, ey] = ebox;
    if tile[1] == ex && tile[2] == ey {
        // (tz, Ex, Ey): whole planes of the box.
        ey == y && (tile[0] == 1 || ex == x)
    } else if tile[2] == ey {
        // (1, tx, Ey): rows of one plane.
        ey == y
    } else {
        // (1, 1, ty): pieces of one row.
        true
    }
}

/// Origin and clipped shape of tile `i` (C order over the grid).
fn tile_shape(
    ebox: [usize; 3],
    tile: [usize; 3],
    grid: [usize; 3],
    i: usize,
) -> ([usize; 3], [usize; 3]) {
    let idx = [
        i / (grid[1] * grid[2]),
        (i / grid[2]) % grid[1],
        i % grid[2],
    ];
    let o: [usize; 3] = std::array::from_fn(|a| idx[a] * tile[a]);
    let s: [usize; 3] = std::array::from_fn(|a| tile[a].min(ebox[a] - o[a]));
    (o, s)
}

/// Byte range of the chunk that holds tile (o, s): from its first to past its last element.
/// Ranges of different tiles are disjoint and increase with the tile index.
fn envelope(view: [usize; 3], es: usize, o: [usize; 3], s: [usize; 3]) -> (usize, usize) {
    let [_, x, y] = view;
    let start = (o[0] * x + o[1]) * y + o[2];
    let len = ((s[0] - 1) * x + (s[1] - 1)) * y + s[2];
    (start * es, len * es)
}

/// The encoder's tile shape for a box (FORMAT.md §4.5): whole planes when a plane fits the
/// target, else whole rows, else pieces of a row; as many tiles as `ceil(bytes / target)`
/// along the cut axis, of near-equal sizes.
pub fn choose_tile(ebox: [usize; 3], es: usize, target: usize) -> [usize; 3] {
    let [ez, ex, ey] = ebox;
    let target = target.max(1);
    // Cut len units of `unit` bytes into ceil(len * unit / target) near-equal parts.
    let split = |len: usize, unit: usize| {
        let parts = (len * unit).div_ceil(target).clamp(1, len);
        len.div_ceil(parts)
    };
    let (row, plane) = (ey * es, ex * ey * es);
    if plane <= target {
        [split(ez, plane), ex, ey]
    } else if row <= target {
        [1, split(ex, row), ey]
    } else {
        [1, 1, split(ey, es)]
    }
}

/// The smallest box at the origin outside which every element equals the chunk's last.
fn detect_box(data: &[u8], es: usize, view: [usize; 3]) -> [usize; 3] {
    let [z, x, y] = view;
    let last = &data[data.len() - es..];
    let row = y * es;
    // The element compare at the element size known to the compiler (no memcmp call per
    // element: long constant runs at the row ends are scanned element by element).
    fn rpos<const N: usize>(r: &[u8], last: &[u8]) -> Option<usize> {
        let last: [u8; N] = last.try_into().expect("element size");
        r.chunks_exact(N).rposition(|e| e != last)
    }
    let rpos: fn(&[u8], &[u8]) -> Option<usize> = match es {
        1 => rpos::<1>,
        2 => rpos::<2>,
        4 => rpos::<4>,
        8 => rpos::<8>,
        _ => |r: &[u8], last: &[u8]| r.chunks_exact(last.len()).rposition(|e| e != last),
    };
    let mut b = [0usize; 3];
    for zi in 0..z {
        for xi in 0..x {
            let r = &data[(zi * x + xi) * row..][..row];
            if let Some(k) = rpos(r, last) {
                b[0] = zi + 1;
                b[1] = b[1].max(xi + 1);
                b[2] = b[2].max(k + 1);
            }
        }
    }
    b
}

/// Encodes a v2 stream.
/// How [`encode`] cuts a chunk: the coded box, the tile shape and the tile grid (all zero for a
/// chunk that is entirely its last element).
struct Tiling {
    es: usize,
    view: [usize; 3],
    ebox: [usize; 3],
    tile: [usize; 3],
    grid: [usize; 3],
    contiguous: bool,
}

impl Tiling {
    fn plan(data: &[u8], es: usize, shape: &[usize], target: Option<usize>) -> Tiling {
        let view = view3(shape);
        let ebox = detect_box(data, es, view);
        if ebox.contains(&0) {
            let z = [0; 3];
            return Tiling {
                es,
                view,
                ebox: z,
                tile: z,
                grid: z,
                contiguous: true,
            };
        }
        // From the box's bytes, so a padded edge chunk is tiled like its data alone.
        let box_bytes = ebox.iter().product::<usize>() * es;
        let tile = choose_tile(ebox, es, target.unwrap_or_else(|| tile_target(box_bytes)));
        let grid = std::array::from_fn(|a| ceil_div(ebox[a], tile[a]));
        let contiguous = contiguous(view, ebox, tile);
        Tiling {
            es,
            view,
            ebox,
            tile,
            grid,
            contiguous,
        }
    }

    fn ntiles(&self) -> usize {
        self.grid.iter().product()
    }

    /// Tile `i`: its origin and shape in the (Z, X, Y) view and its elements in C order
    /// (borrowed when the tile is contiguous in `data`, else gathered row by row).
    fn gather<'a>(&self, data: &'a [u8], i: usize) -> ([usize; 3], [usize; 3], Cow<'a, [u8]>) {
        let (es, view) = (self.es, self.view);
        let (o, s) = tile_shape(self.ebox, self.tile, self.grid, i);
        let (start, len) = envelope(view, es, o, s);
        if self.contiguous {
            return (o, s, Cow::Borrowed(&data[start..start + len]));
        }
        let mut g = Vec::with_capacity(s.iter().product::<usize>() * es);
        for dz in 0..s[0] {
            for dx in 0..s[1] {
                let off = start + ((dz * view[1] + dx) * view[2]) * es;
                g.extend_from_slice(&data[off..off + s[2] * es]);
            }
        }
        (o, s, Cow::Owned(g))
    }
}

/// True when every element of `tile` equals its first (coded as method 5).
fn is_constant(tile: &[u8], es: usize) -> bool {
    tile.chunks_exact(es).all(|e| e == &tile[..es])
}

pub fn encode(
    data: &[u8],
    dtype: DType,
    shape: &[usize],
    cfg: &Config,
    nthreads: usize,
    target: Option<usize>,
) -> Result<Vec<u8>> {
    let es = dtype.size();
    let t = Tiling::plan(data, es, shape, target);
    let (ebox, tile) = (t.ebox, t.tile);
    let bodies = threads::run(t.ntiles(), nthreads, |i| {
        let (_, s, src) = t.gather(data, i);
        crate::codec::probe("tile start");
        encode_tile(&src, dtype, s, cfg)
    })?;
    // Noise mode is format version 5 (method 7 tiles with the floor c, FORMAT.md §8; version
    // 3 before h5z-apr 0.4), apr mode version 4 (§7), every other mode version 2; a stream
    // with a method 9 tile (palette-fast, §9) version 5.
    // A stream with a method 10 tile (float-grid, §10) is version 6.
    let has = |m: Method| bodies.iter().any(|b| b[0] == m as u8);
    let header = Header {
        version: match cfg.mode {
            _ if has(Method::FloatGrid) => 6,
            _ if has(Method::PaletteFast) => 5,
            super::Mode::Noise(_) => 5,
            super::Mode::Apr(_) if cfg.apr_coding != super::AprCoding::Particles => 4,
            _ => 2,
        },
        dtype,
        mode: cfg.mode,
        shape: shape.to_vec(),
    };
    crate::codec::probe("all tiles");
    let total: usize = bodies.iter().map(|b| b.len() + 10).sum();
    let mut out = Vec::with_capacity(header.encoded_len() + 40 + es + total);
    header.write(&mut out);
    for v in ebox {
        put_varint(&mut out, v as u64);
    }
    out.extend_from_slice(&data[data.len() - es..]);
    for v in tile {
        put_varint(&mut out, v as u64);
    }
    for b in &bodies {
        put_varint(&mut out, b.len() as u64);
    }
    for b in &bodies {
        out.extend_from_slice(b);
    }
    crate::codec::probe("assembled");
    let c = crc32(&out);
    out.extend_from_slice(&c.to_le_bytes());
    Ok(out)
}

/// Method byte + body of one tile of shape `shape3` (C order `tile` elements): method 5 for a
/// constant tile, else the v1 choice of [`encode_body`] for a rank-3 chunk.
pub fn encode_tile(tile: &[u8], dtype: DType, shape3: [usize; 3], cfg: &Config) -> Result<Vec<u8>> {
    let es = dtype.size();
    let first = &tile[..es];
    if is_constant(tile, es) {
        let mut v = Vec::with_capacity(1 + es);
        v.push(Method::Constant as u8);
        v.extend_from_slice(first);
        return Ok(v);
    }
    let mut v = Vec::with_capacity(tile.len() / 2 + 16);
    encode_body(tile, dtype, shape3, 1, cfg, true, &mut v)?;
    // Bodies wait for the whole chunk: keep only their bytes (a shrink, no copy in practice).
    v.shrink_to_fit();
    Ok(v)
}

/// Decodes the container after the header (`body` excludes the CRC) into `out`.
pub(crate) fn decode(h: &Header, body: &[u8], out: &mut [u8], nthreads: usize) -> Result<()> {
    let l = Layout::parse(h, body)?;
    let es = h.dtype.size();
    if l.ebox != l.view {
        super::elements::fill_elements(out, l.fill);
    }
    let contiguous = contiguous(l.view, l.ebox, l.tile);
    // Each tile's envelope, split off in increasing order (disjoint by construction).
    let mut slots = Vec::with_capacity(l.bodies.len());
    let mut rest: &mut [u8] = out;
    let mut consumed = 0;
    for i in 0..l.bodies.len() {
        let (o, s) = tile_shape(l.ebox, l.tile, l.grid, i);
        let (start, len) = envelope(l.view, es, o, s);
        let (_, r) = std::mem::take(&mut rest).split_at_mut(start - consumed);
        let (env, r) = r.split_at_mut(len);
        rest = r;
        consumed = start + len;
        slots.push(Mutex::new((s, env)));
    }
    threads::run(l.bodies.len(), nthreads, |i| {
        let mut g = slots[i].lock().unwrap_or_else(|e| e.into_inner());
        let (s, env) = &mut *g;
        // One tile (method byte + body); the method's rules, version gates included, are in
        // `decode_body`.
        let tile = |dst: &mut [u8]| {
            decode_body(l.bodies[i], h.version, h.dtype, h.mode, *s, 1, dst)
                .map_err(|e| tile_error(i, e))
        };
        if contiguous {
            return tile(env);
        }
        let mut scratch = vec![0u8; s.iter().product::<usize>() * es];
        tile(&mut scratch)?;
        let row = s[2] * es;
        for (k, r) in scratch.chunks_exact(row).enumerate() {
            let (dz, dx) = (k / s[1], k % s[1]);
            let off = ((dz * l.view[1] + dx) * l.view[2]) * es;
            env[off..off + row].copy_from_slice(r);
        }
        Ok(())
    })?;
    Ok(())
}

fn tile_error(i: usize, e: Error) -> Error {
    Error::new(e.kind(), format!("tile {i}: {}", e.message()))
}

/// (method, particles, tiles) of a v2 stream: the first tile's method (5 without tiles,
/// 255 when tiles differ), APR particles summed over apr tiles.
pub(crate) fn stats(h: &Header, body: &[u8]) -> Result<(u8, Option<u64>, usize)> {
    let l = Layout::parse(h, body)?;
    let mut method = l.bodies.first().map_or(Method::Constant as u8, |b| b[0]);
    let mut particles = None;
    for (i, b) in l.bodies.iter().enumerate() {
        if b[0] != method {
            method = 255;
        }
        if b[0] == Method::Apr as u8 {
            let s = tile_shape(l.ebox, l.tile, l.grid, i).1;
            let p = apr::count_particles(&mut Cursor::new(&b[1..]), s, 1)?;
            particles = Some(particles.unwrap_or(0) + p);
        }
    }
    Ok((method, particles, l.bodies.len()))
}

/// The local intensity scale `sigma_local` of every element of a chunk, as the v2 encoder's
/// apr mode computes it (measurements only; no effect on any stream): the chunk is boxed and
/// tiled exactly as [`encode`] does, and each tile gets the scale of its own APR pipeline
/// ([`apr::local_intensity_scale`] on the tile, after the sigma floor; pixel (z, x, y) of a
/// tile takes ds cell (z/2, x/2, y/2)). Elements outside the coded box (stored exactly as the
/// fill value) and constant tiles (stored exactly) get `+inf`. C order over the chunk.
pub fn local_scale_for(data: &[u8], dtype: DType, shape: &[usize], cfg: &Config) -> Vec<f32> {
    local_scale_with_tile_target(data, dtype, shape, cfg, None)
}

/// [`local_scale_for`] for streams written with a tile size target (`compress_with_tile_target`).
#[doc(hidden)]
pub fn local_scale_with_tile_target(
    data: &[u8],
    dtype: DType,
    shape: &[usize],
    cfg: &Config,
    target: Option<usize>,
) -> Vec<f32> {
    let es = dtype.size();
    if data.is_empty() {
        return Vec::new();
    }
    let t = Tiling::plan(data, es, shape, target);
    let view = t.view;
    let mut out = vec![f32::INFINITY; view.iter().product()];
    for i in 0..t.ntiles() {
        let (o, s, g) = t.gather(data, i);
        if is_constant(&g, es) {
            continue; // constant tile: method 5, exact
        }
        let img = super::elements::to_f32s(dtype, &g);
        let v = ndarray::ArrayView3::from_shape(s, &img).expect("tile shape");
        let sig = super::apr::local_intensity_scale(v, &cfg.apr);
        for z in 0..s[0] {
            for x in 0..s[1] {
                for y in 0..s[2] {
                    out[((o[0] + z) * view[1] + o[1] + x) * view[2] + o[2] + y] =
                        sig[[z / 2, x / 2, y / 2]];
                }
            }
        }
    }
    out
}

/// Noise mode (FORMAT.md §6, §8): the bound `k * sigma(I(x))` of every element of a chunk, with
/// sigma(I)^2 = max(c, a*I + b) as the encoder fits it on each tile (the chunk boxed and tiled exactly as
/// [`encode`] does; measurements and tests only, no effect on any stream). Elements stored
/// exactly (outside the coded box, constant tiles) get `+inf`. Also returns each non-constant
/// tile's (origin, shape, a, b, c). C order over the chunk. Empty for float dtypes or other modes.
#[allow(clippy::type_complexity)]
pub fn noise_bound_for(
    data: &[u8],
    dtype: DType,
    shape: &[usize],
    cfg: &Config,
) -> (Vec<f64>, Vec<([usize; 3], [usize; 3], f32, f32, f32)>) {
    noise_bound_with_tile_target(data, dtype, shape, cfg, None)
}

/// [`noise_bound_for`] for streams written with a tile size target (`compress_with_tile_target`).
#[doc(hidden)]
#[allow(clippy::type_complexity)]
pub fn noise_bound_with_tile_target(
    data: &[u8],
    dtype: DType,
    shape: &[usize],
    cfg: &Config,
    target: Option<usize>,
) -> (Vec<f64>, Vec<([usize; 3], [usize; 3], f32, f32, f32)>) {
    let es = dtype.size();
    let super::Mode::Noise(k) = cfg.mode else {
        return (Vec::new(), Vec::new());
    };
    if data.is_empty() || dtype.is_float() {
        return (Vec::new(), Vec::new());
    }
    let t = Tiling::plan(data, es, shape, target);
    let view = t.view;
    let mut out = vec![f64::INFINITY; view.iter().product()];
    let mut models = Vec::new();
    for i in 0..t.ntiles() {
        let (o, s, g) = t.gather(data, i);
        if is_constant(&g, es) {
            continue;
        }
        let (a, b, c, _) = super::method::pyramid_fast::noise_steps(&g, dtype, s, k);
        models.push((o, s, a, b, c));
        let vals = super::elements::to_f64s(dtype, &g);
        for z in 0..s[0] {
            for x in 0..s[1] {
                for y in 0..s[2] {
                    let v = vals[(z * s[1] + x) * s[2] + y];
                    out[((o[0] + z) * view[1] + o[1] + x) * view[2] + o[2] + y] =
                        super::noise::bound(k, a, b, c, v);
                }
            }
        }
    }
    (out, models)
}

#[cfg(test)]
mod tests {
    use super::{choose_tile, tile_target};

    /// Tiles of a (z, x, y) box of `es`-byte elements under the encoder's default rule.
    fn count(b: [usize; 3], es: usize) -> usize {
        let t = choose_tile(b, es, tile_target(b.iter().product::<usize>() * es));
        (0..3).map(|a| b[a].div_ceil(t[a])).product()
    }

    #[test]
    fn tile_counts_follow_the_documented_rule() {
        // FORMAT.md §4.5: 1 MiB -> 2 tiles, 2 MiB -> 4, 4 MiB -> 8; small boxes one tile.
        assert_eq!(count([16, 256, 256], 1), 2);
        assert_eq!(count([16, 256, 256], 2), 4);
        assert_eq!(count([16, 256, 256], 4), 8);
        assert_eq!(count([16, 128, 128], 2), 1); // 512 KiB
        assert_eq!(count([16, 64, 64], 2), 1);
        // Clipped edge boxes of 1 MiB u8 chunks from 768 KiB on: two tiles, not one.
        assert_eq!(count([14, 256, 256], 1), 2); // 896 KiB
        assert_eq!(count([14, 256, 255], 1), 2); // 892.5 KiB
        assert_eq!(count([14, 255, 255], 1), 2); // 889 KiB
        assert_eq!(count([12, 256, 256], 1), 2); // 768 KiB
        assert_eq!(count([11, 256, 256], 1), 1); // 704 KiB
    }
}
