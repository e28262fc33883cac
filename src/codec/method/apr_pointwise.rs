//! apr mode in format version 4 (FORMAT.md §7): a tile holds LibAPR's reconstruction
//! condition `|I - I'| <= E * sigma_local(x)` at every pixel. The encoder keeps the particle
//! body (method 3) only when it decoded it and checked the condition at every pixel, and only
//! when it is smaller than the bound map; the bound map is method 7 with one half-width
//! `floor(E * min sigma_local)` per 4x16x16 block (integer dtypes) or method 8, the float
//! quantiser of method 2 with one bound `E * min sigma_local` over the tile (float dtypes).

use super::{apr, float_grid, pyramid, pyramid_fast};
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
    if cfg.apr_coding == AprCoding::BoundMap {
        let img = to_f32s(dtype, data);
        let sig: Array3<f32> = pipeline::local_intensity_scale(
            ArrayView3::from_shape(bs, &img).expect("tile shape"),
            &cfg.apr,
        );
        drop(img);
        out.extend_from_slice(&bound_map(data, dtype, bs, e, sig.view(), cfg)?);
        return Ok(());
    }
    // The particle body; the pipeline hands back the tile's sigma_local (computed once).
    let mut m3 = vec![Method::Apr as u8];
    let sig = apr::encode_with_scale(data, dtype, bs, e, cfg, &mut m3)?;
    let bound_map = bound_map(data, dtype, bs, e, sig.view(), cfg)?;
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
            // Format version 6: the grid of method 10 where it holds b (FORMAT.md §10).
            out.push(Method::FloatGrid as u8);
            if float_grid::encode_into(data, dtype, bs, b, &mut out) {
                return Ok(out);
            }
            out.clear();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{compress, crc32, decompress};

    fn blob_u16(shape: [usize; 3], noise: u64) -> Vec<u8> {
        let mut s = 99u64;
        let mut out = Vec::new();
        for z in 0..shape[0] {
            for x in 0..shape[1] {
                for y in 0..shape[2] {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let r2 = ((x as f64 - 20.0).powi(2) + (y as f64 - 25.0).powi(2)) / 40.0;
                    let v = 200.0 + 3000.0 * (-r2).exp() + (z * 3) as f64;
                    let n = if noise > 0 {
                        ((s >> 33) % noise) as f64
                    } else {
                        0.0
                    };
                    out.extend_from_slice(&((v + n) as u16).to_le_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn holds_sees_a_single_pixel_beyond_the_bound() {
        let shape = [2, 3, 4];
        let orig: Vec<u8> = (0..24u16).flat_map(|v| (100 + v).to_le_bytes()).collect();
        let sig = Array3::from_elem((1, 2, 2), 10.0f32);
        assert!(holds(DType::U16, &orig, &orig, shape, sig.view(), 0.1));
        let mut dec = orig.clone();
        dec[2 * 13] += 1; // error 1 = E * sigma: allowed
        assert!(holds(DType::U16, &orig, &dec, shape, sig.view(), 0.1));
        dec[2 * 13] += 1; // error 2 > 1
        assert!(!holds(DType::U16, &orig, &dec, shape, sig.view(), 0.1));
    }

    /// Integer tiles: method 7 (or 3 where it verifies); float tiles: method 8; every pixel
    /// within E * sigma_local.
    #[test]
    fn tiles_hold_the_condition() {
        let shape = [6, 40, 50];
        let cfg = Config::apr(0.2);
        for (dtype, data) in [
            (DType::U16, blob_u16(shape, 40)),
            (
                DType::F32,
                crate::codec::elements::to_f64s(DType::U16, &blob_u16(shape, 40))
                    .iter()
                    .flat_map(|&v| ((v / 100.0) as f32).to_le_bytes())
                    .collect(),
            ),
        ] {
            let mut out = Vec::new();
            encode(&data, dtype, shape, 0.2, &cfg, &mut out).unwrap();
            // Floats: method 10 (the grid, format version 6) where it holds the bound.
            let want = if dtype.is_float() { 10 } else { 7 };
            assert!(
                out[0] == want || out[0] == 3,
                "{dtype:?}: method {}",
                out[0]
            );
            let s = compress(&data, dtype, &shape, &cfg).unwrap();
            let (_, back) = decompress(&s).unwrap();
            let img = to_f32s(dtype, &data);
            let sig = pipeline::local_intensity_scale(
                ArrayView3::from_shape(shape, &img).unwrap(),
                &cfg.apr,
            );
            assert!(
                holds(dtype, &data, &back, shape, sig.view(), 0.2),
                "{dtype:?}"
            );
        }
    }

    fn with_version(s: &[u8], v: u8) -> Vec<u8> {
        let mut t = s[..s.len() - 4].to_vec();
        t[4] = v;
        let c = crc32(&t);
        t.extend_from_slice(&c.to_le_bytes());
        t
    }

    /// Methods 7 and 8 in apr tiles exist from format version 4 on (FORMAT.md §7.3); method 8
    /// needs a finite bound > 0.
    #[test]
    fn version_and_bound_rejections() {
        let shape = [4, 20, 24];
        let u = compress(&blob_u16(shape, 40), DType::U16, &shape, &Config::apr(0.1)).unwrap();
        let f: Vec<u8> = crate::codec::elements::to_f64s(DType::U16, &blob_u16(shape, 40))
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect();
        let g = compress(&f, DType::F32, &shape, &Config::apr(0.1)).unwrap();
        // Without method 10 (the test switch), method 8 codes the float tile, version 4.
        float_grid::DISABLED.with(|d| d.set(true));
        let f = compress(&f, DType::F32, &shape, &Config::apr(0.1).with_threads(1)).unwrap();
        float_grid::DISABLED.with(|d| d.set(false));
        assert_eq!(g[4], 6);
        decompress(&g).unwrap();
        for s in [&u, &f] {
            assert_eq!(s[4], 4);
            decompress(s).unwrap();
            for v in [2, 3] {
                let e = decompress(&with_version(s, v)).map(|_| ()).unwrap_err();
                assert!(e.message().contains("needs 4"), "{e}");
            }
        }
        // Method 10 exists from version 6 on.
        for v in [2, 3, 4, 5] {
            let e = decompress(&with_version(&g, v)).map(|_| ()).unwrap_err();
            assert!(e.message().contains("needs 6"), "{e}");
        }
        // the method-8 bound: the f64 after the tile's method byte (one tile, last bytes)
        let hl = 16 + 12;
        let pos = (hl..f.len()).find(|&i| f[i] == 8).unwrap();
        for bad in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
            let mut t = f[..f.len() - 4].to_vec();
            t[pos + 1..pos + 9].copy_from_slice(&bad.to_le_bytes());
            let c = crc32(&t);
            t.extend_from_slice(&c.to_le_bytes());
            let e = decompress(&t).unwrap_err();
            assert!(e.message().contains("method 8 bound"), "{bad}: {e}");
        }
        // method 8 for an integer dtype (f32 -> u32, same size)
        let mut t = f[..f.len() - 4].to_vec();
        t[5] = DType::U32.code();
        let c = crc32(&t);
        t.extend_from_slice(&c.to_le_bytes());
        assert!(decompress(&t).is_err());
    }
}

#[cfg(test)]
mod nonfinite_tests {
    use crate::codec::{compress, decompress, Config, DType};

    /// Float tiles with NaN and infinities: no panic, the stream decodes, non-finite values
    /// come back exactly.
    #[test]
    fn nonfinite_floats_do_not_panic() {
        let shape = [4, 20, 24];
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let v: Vec<f32> = (0..4 * 20 * 24)
                .map(|i| {
                    if i % 97 == 5 {
                        bad
                    } else {
                        (i % 37) as f32 * 0.5
                    }
                })
                .collect();
            let data: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            for dtype in [DType::F32] {
                // (today's encoder writes a stream: method 8 keeps non-finite values exactly)
                let s = compress(&data, dtype, &shape, &Config::apr(0.1)).unwrap();
                let (_, back) = decompress(&s).unwrap();
                for (a, b) in data.chunks_exact(4).zip(back.chunks_exact(4)) {
                    let (a, b) = (
                        f32::from_le_bytes(a.try_into().unwrap()),
                        f32::from_le_bytes(b.try_into().unwrap()),
                    );
                    assert!(
                        a == b || (a.is_nan() && b.is_nan()) || a.is_finite(),
                        "{a} -> {b}"
                    );
                }
            }
        }
    }
}
