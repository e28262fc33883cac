//! apr mode in format version 4 (FORMAT.md §7): a tile holds LibAPR's reconstruction
//! condition `|I - I'| <= E * sigma_local(x)` at every pixel. The encoder keeps the particle
//! body (method 3) only when it decoded it and checked the condition at every pixel, and only
//! when it is smaller than the bound map; the bound map is method 7 with one half-width
//! `floor(E * min sigma_local)` per 4x16x16 block (integer dtypes) or method 8, the float
//! quantiser of method 2 with one bound `E * min sigma_local` over the tile (float dtypes).

use super::{apr, pyramid, pyramid_fast};
use crate::codec::apr as pipeline;
use crate::codec::bits::Cursor;
use crate::codec::config::AprCoding;
use crate::codec::dtype::DType;
use crate::codec::elements::{to_f32s, to_f64s, to_ints};
use crate::codec::error::Result;
use crate::codec::stream::Method;
use crate::codec::{Config, Mode};
use ndarray::{Array3, ArrayView3};

/// Whether `dec` (decoded tile, C order) holds `|I - I'| <= E * sigma` at every pixel of the
/// tile `orig` of shape `shape`, pixel (z, x, y) taking ds cell (z/2, x/2, y/2) of `sig`. The
/// comparison is in f64 on the element values (NaN anywhere fails).
pub fn holds(
    dtype: DType,
    orig: &[u8],
    dec: &[u8],
    shape: [usize; 3],
    sig: ArrayView3<f32>,
    e: f64,
) -> bool {
    let (a, b) = (to_f64s(dtype, orig), to_f64s(dtype, dec));
    let [_, nx, ny] = shape;
    a.iter().zip(&b).enumerate().all(|(i, (&x, &y))| {
        let (z, r) = (i / (nx * ny), i % (nx * ny));
        let s = sig[[z / 2, r / ny / 2, r % ny / 2]] as f64;
        (x - y).abs() <= e * s
    })
}

/// Method byte + body of one apr tile of a version-4 stream (tile of shape `bs`, not
/// constant: the container codes constant tiles as method 5), appended to `out`.
pub fn encode(
    data: &[u8],
    dtype: DType,
    bs: [usize; 3],
    e: f64,
    cfg: &Config,
    out: &mut Vec<u8>,
) -> Result<()> {
    let img = to_f32s(dtype, data);
    let sig: Array3<f32> = pipeline::local_intensity_scale(
        ArrayView3::from_shape(bs, &img).expect("tile shape"),
        &cfg.apr,
    );
    drop(img);
    let bound_map = bound_map(data, dtype, bs, e, sig.view(), cfg)?;
    if cfg.apr_coding == AprCoding::BoundMap {
        out.extend_from_slice(&bound_map);
        return Ok(());
    }
    let mut m3 = vec![Method::Apr as u8];
    apr::encode(data, dtype, bs, 1, e, cfg, &mut m3)?;
    if m3.len() < bound_map.len() {
        let mut dec = vec![0u8; data.len()];
        let ok = apr::decode(&mut Cursor::new(&m3[1..]), dtype, bs, 1, &mut dec).is_ok()
            && holds(dtype, data, &dec, bs, sig.view(), e);
        if ok {
            out.extend_from_slice(&m3);
            return Ok(());
        }
    }
    out.extend_from_slice(&bound_map);
    Ok(())
}

/// Method byte + body that meets the bound by construction: method 7 with the block map of
/// [`pipeline::block_half_widths_from_scale`] for integers, method 8 with
/// `b = E * min sigma * (1 - 1e-12)` for floats, exact coding where neither applies (a body
/// below the expansion limit, or a float tile whose bound is not a positive finite number).
fn bound_map(
    data: &[u8],
    dtype: DType,
    bs: [usize; 3],
    e: f64,
    sig: ArrayView3<f32>,
    cfg: &Config,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    if dtype.is_float() {
        let m = sig.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let b = e * m * (1.0 - 1e-12);
        if b.is_finite() && b > 0.0 {
            out.push(Method::PyramidBounded as u8);
            out.extend_from_slice(&b.to_le_bytes());
            pyramid::encode_floats(data, dtype, b, bs, 1, &mut out);
        } else {
            // Exact: method 2 on the ordered integers (an apr tile's method 2 is lossless).
            out.push(Method::Pyramid as u8);
            pyramid::encode_ints(dtype, &to_ints(dtype, data), 0, bs, 1, &mut out);
        }
        return Ok(out);
    }
    let (lo, hi) = dtype.int_range();
    let ks = pipeline::block_half_widths_from_scale(sig, bs, e, pyramid_fast::BLOCK, hi - lo);
    match pyramid_fast::encode7_with_steps(data, dtype, bs, (0.0, 0.0), &ks, cfg.effort)? {
        Some(body) => {
            out.push(Method::PyramidNoise as u8);
            out.extend_from_slice(&body);
        }
        None => {
            out.push(Method::ZstdShuffle as u8);
            out.extend_from_slice(&super::zstd_shuffle::encode(data, dtype, cfg.effort)?);
        }
    }
    Ok(out)
}

/// Decodes a method-8 body (after the method byte): f64 b, then a method-2 body of one block
/// with the float quantiser of bound b (FORMAT.md §7.2).
pub fn decode8(cur: &mut Cursor, dtype: DType, bs: [usize; 3], out: &mut [u8]) -> Result<()> {
    use crate::codec::error::Error;
    if !dtype.is_float() {
        return Err(Error::corrupt("method 8 is defined for float dtypes only"));
    }
    let b = f64::from_le_bytes(cur.bytes(8)?.try_into().expect("8 bytes"));
    if !(b.is_finite() && b > 0.0) {
        return Err(Error::corrupt(format!(
            "method 8 bound {b} is not finite and > 0"
        )));
    }
    pyramid::decode_chunk(cur, dtype, Mode::Abs(b), bs, 1, out)
}
