//! `codec::local_scale_for` (sigma_local per pixel, tiled like the v2 encoder) and the
//! pointwise E condition that `h5z-apr eval` reports for apr rows.

mod cli_support;
use cli_support::*;

use h5z_apr::codec::{self, apr, choose_tile, local_scale_for, tile_target, Config, DType};
use ndarray::ArrayView3;

/// A smooth u8 volume with a bright blob and a little deterministic texture.
fn volume(shape: [usize; 3]) -> Vec<u8> {
    let mut v = Vec::with_capacity(shape.iter().product());
    let mut s = 12345u32;
    for z in 0..shape[0] {
        for x in 0..shape[1] {
            for y in 0..shape[2] {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                let (dz, dx, dy) = (z as f32 - 7.0, x as f32 - 90.0, y as f32 - 120.0);
                let r2 = dz * dz * 16.0 + dx * dx + dy * dy;
                let blob = 180.0 * (-r2 / 2000.0).exp();
                v.push((30.0 + blob + (s >> 29) as f32).min(255.0) as u8);
            }
        }
    }
    v
}

/// Direct: the APR pipeline's scale of the tile `z0..z0+tz`, expanded to pixels.
fn direct(data: &[u8], shape: [usize; 3], z0: usize, tz: usize, cfg: &Config) -> Vec<f32> {
    let plane = shape[1] * shape[2];
    let img: Vec<f32> = data[z0 * plane..(z0 + tz) * plane]
        .iter()
        .map(|&b| b as f32)
        .collect();
    let v = ArrayView3::from_shape([tz, shape[1], shape[2]], &img).unwrap();
    let s = apr::local_intensity_scale(v, &cfg.apr);
    let mut out = Vec::with_capacity(img.len());
    for z in 0..tz {
        for x in 0..shape[1] {
            for y in 0..shape[2] {
                out.push(s[[z / 2, x / 2, y / 2]]);
            }
        }
    }
    out
}

#[test]
fn scale_is_per_tile_like_the_encoder() {
    let shape = [16, 256, 256];
    let data = volume(shape);
    let cfg = Config::apr(0.1);
    // A 1 MiB u8 chunk is cut into two tiles of 8 planes.
    let tile = choose_tile(shape, 1, tile_target(data.len()));
    assert_eq!(tile, [8, 256, 256]);
    let got = local_scale_for(&data, DType::U8, &shape, &cfg);
    let mut want = direct(&data, shape, 0, 8, &cfg);
    want.extend(direct(&data, shape, 8, 8, &cfg));
    assert_eq!(got, want);
    // The two tiles have different estimates (one pipeline over the chunk would differ).
    let whole = direct(&data, shape, 0, 16, &cfg);
    assert_ne!(got, whole);
}

#[test]
fn padding_outside_the_box_is_exact() {
    // Planes 10.. equal the last element: outside the coded box, scale +inf.
    let shape = [16, 64, 64];
    let mut data = volume(shape);
    let plane = 64 * 64;
    let last = *data.last().unwrap();
    for b in &mut data[10 * plane..] {
        *b = last;
    }
    let cfg = Config::apr(0.1);
    let got = local_scale_for(&data, DType::U8, &shape, &cfg);
    assert!(got[10 * plane..].iter().all(|s| s.is_infinite()));
    assert_eq!(&got[..10 * plane], &direct(&data, shape, 0, 10, &cfg)[..]);
}

#[test]
fn eval_reports_the_pointwise_condition() {
    let shape = [16, 64, 64];
    let data = volume(shape);
    let d = scratch("eval_lis");
    let f = d.join("v.npy");
    std::fs::write(&f, npy_bytes("|u1", &shape, &data)).unwrap();
    let e = 0.1;
    let out = run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--mode",
        "abs,apr",
        "--bound",
        "4",
        "--rel-error",
        "0.1",
        "--chunks",
        "16,64,64",
        "--json",
        "-q",
    ]);
    let v = json(&out);
    let rows = v["results"].as_array().unwrap();
    assert!(
        rows[0]["max_abs_error_over_sigma_local"].is_null(),
        "abs row"
    );
    let a = &rows[1];
    // Direct computation: one chunk, encoded and decoded by the codec.
    let cfg = Config::apr(e);
    let stream = codec::compress(&data, DType::U8, &shape, &cfg).unwrap();
    let (_, rec) = codec::decompress(&stream).unwrap();
    let sig = local_scale_for(&data, DType::U8, &shape, &cfg);
    let (mut max, mut bad) = (0f64, 0usize);
    for i in 0..data.len() {
        let err = (data[i] as f64 - rec[i] as f64).abs();
        if err > 0.0 {
            max = max.max(err / sig[i] as f64);
        }
        if err > e * sig[i] as f64 {
            bad += 1;
        }
    }
    assert!(max > 0.0, "lossy reconstruction");
    let got = num(a, "max_abs_error_over_sigma_local");
    assert!((got - max).abs() <= 1e-9 * max, "{got} vs {max}");
    let frac = num(a, "e_condition_violation_fraction");
    assert!((frac - bad as f64 / data.len() as f64).abs() < 1e-12);
}
