//! Noise mode (format version 3, method 7, FORMAT.md §6): |I - I'| <= k * sigma_fit(I) at every
//! element (synthetic Poisson-Gaussian data and every integer volume in ../shared/data, chunked
//! (16,256,256)), bytes independent of the thread count, v2 streams cannot carry method 7,
//! corrupt or truncated method-7 bodies are errors, float data is refused with a message.

mod data_support;
mod stream_support;
use data_support::{chunks, data_dir, npy_files};
use stream_support::reseal;

#[path = "../src/bin/h5z-apr/npy.rs"]
#[allow(dead_code, unused_imports)]
mod npy;
use h5z_apr::codec::{
    compress, decompress, m7, noise_bound_for, read_header, values_f64, Config, DType, Mode,
};

fn lcg(s: &mut u64) -> f64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// Poisson(lambda) by inversion (lambda <= ~700) or its normal limit.
fn poisson(s: &mut u64, lambda: f64) -> f64 {
    if lambda > 500.0 {
        let g = (-2.0 * lcg(s).ln()).sqrt() * (2.0 * std::f64::consts::PI * lcg(s)).cos();
        return (lambda + lambda.sqrt() * g).round().max(0.0);
    }
    let (mut k, mut p, mut c) = (0.0, (-lambda).exp(), 0.0);
    let u = lcg(s);
    c += p;
    while u > c && k < 10_000.0 {
        k += 1.0;
        p *= lambda / k;
        c += p;
    }
    k
}

/// u16 volume of gain * Poisson(signal / gain) + offset + read noise: sigma^2 = gain*(I - offset)
/// + read^2, i.e. a = gain, b = read^2 - gain*offset.
fn synthetic(shape: [usize; 3], gain: f64, offset: f64, read: f64, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let [nz, nx, ny] = shape;
    let mut out = Vec::with_capacity(nz * nx * ny * 2);
    for z in 0..nz {
        for x in 0..nx {
            for y in 0..ny {
                // Smooth blobs on a background.
                let (fx, fy) = (x as f64 / nx as f64, y as f64 / ny as f64);
                let sig = 40.0
                    + 900.0 * (-((fx - 0.3).powi(2) + (fy - 0.6).powi(2)) * 30.0).exp()
                    + 300.0 * (0.5 + 0.5 * (fx * 9.0 + z as f64 * 0.2).sin()) * fy;
                let g = (-2.0 * lcg(&mut s).ln()).sqrt()
                    * (2.0 * std::f64::consts::PI * lcg(&mut s)).cos();
                let v = gain * poisson(&mut s, sig / gain) + offset + read * g;
                out.extend_from_slice(&(v.round().clamp(0.0, 65535.0) as u16).to_le_bytes());
            }
        }
    }
    out
}

/// Checks |I - I'| <= k*sigma_fit(I) at every element; returns (max err/bound over elements
/// with a positive bound, RMSE).
fn check_bound(data: &[u8], dtype: DType, shape: &[usize], cfg: &Config, what: &str) -> (f64, f64) {
    let s = compress(data, dtype, shape, cfg).unwrap();
    let h = read_header(&s).unwrap();
    assert_eq!(h.version, 5, "{what}: noise mode writes format version 5");
    assert_eq!(h.mode, cfg.mode);
    let back = decompress(&s).unwrap().1;
    let (bound, _) = noise_bound_for(data, dtype, shape, cfg);
    let (x, y) = (values_f64(dtype, data), values_f64(dtype, &back));
    let (mut worst, mut se) = (0.0f64, 0.0);
    for i in 0..x.len() {
        let e = (x[i] - y[i]).abs();
        assert!(
            e <= bound[i],
            "{what}: element {i}: |{} - {}| = {e} > k*sigma = {}",
            x[i],
            y[i],
            bound[i]
        );
        if bound[i] > 0.0 && bound[i].is_finite() {
            worst = worst.max(e / bound[i]);
        }
        se += e * e;
    }
    (worst, (se / x.len() as f64).sqrt())
}

#[test]
fn synthetic_poisson_bound_holds_and_fit_recovers_the_model() {
    let shape = [16, 128, 192];
    let (gain, offset, read) = (3.0, 100.0, 4.0);
    let data = synthetic(shape, gain, offset, read, 11);
    let cfg = Config::noise(0.5);
    let (worst, rmse) = check_bound(&data, DType::U16, &shape, &cfg, "synthetic");
    assert!(worst > 0.5, "the bound is used (max err/bound {worst})");
    let (_, models) = noise_bound_for(&data, DType::U16, &shape, &cfg);
    assert!(!models.is_empty());
    // sigma^2 = gain*(I - offset) + read^2 = gain*I + (read^2 - gain*offset).
    let (wa, wb) = (gain, read * read - gain * offset);
    for &(o, s, a, b, c) in &models {
        assert!(c >= 0.0, "tile {o:?}: floor c = {c}");
        assert!(
            (a as f64 - wa).abs() < 0.15 * wa,
            "tile {o:?} {s:?}: a = {a}, want {wa}"
        );
        // b is negative here, the fit clamps to >= 0: compare sigma at mid intensity.
        let i = 500.0;
        let (fit, want) = ((a as f64 * i + b as f64).sqrt(), (wa * i + wb).sqrt());
        assert!(
            (fit - want).abs() < 0.1 * want,
            "tile {o:?}: sigma(500) {fit} vs {want} (a {a}, b {b})"
        );
    }
    eprintln!("synthetic: rmse {rmse:.3}, max err/bound {worst:.3}");
    // k = 0: lossless.
    let s = compress(&data, DType::U16, &shape, &Config::noise(0.0)).unwrap();
    assert_eq!(decompress(&s).unwrap().1, data);
}

#[test]
fn bytes_do_not_depend_on_threads() {
    let shape = [16, 256, 256];
    let data = synthetic(shape, 2.0, 0.0, 2.0, 5);
    let one = compress(
        &data,
        DType::U16,
        &shape,
        &Config::noise(0.5).with_threads(1),
    )
    .unwrap();
    for t in [2, 3, 4] {
        let s = compress(
            &data,
            DType::U16,
            &shape,
            &Config::noise(0.5).with_threads(t),
        )
        .unwrap();
        assert_eq!(s, one, "threads {t}");
    }
}

#[test]
fn other_modes_still_write_v2_and_floats_are_refused() {
    let shape = [4, 32, 32];
    let data = synthetic(shape, 2.0, 0.0, 2.0, 3);
    for cfg in [Config::lossless(), Config::abs(2.0), Config::apr(0.1)] {
        let s = compress(&data, DType::U16, &shape, &cfg).unwrap();
        // apr mode writes format version 4 (FORMAT.md §7), lossless and abs version 2.
        let want = if matches!(cfg.mode, Mode::Apr(_)) {
            4
        } else {
            2
        };
        assert_eq!(read_header(&s).unwrap().version, want, "{:?}", cfg.mode);
    }
    let f: Vec<u8> = (0..4 * 32 * 32)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    let e = compress(&f, DType::F32, &shape, &Config::noise(0.5)).unwrap_err();
    assert!(e.message().contains("integer dtype"), "{e}");
    let e = compress(&data, DType::U16, &shape, &Config::noise(-1.0)).unwrap_err();
    assert!(e.message().contains("k >= 0"), "{e}");
}

#[test]
fn method7_needs_version3_and_noise_mode() {
    let shape = [4, 32, 32];
    let data = synthetic(shape, 2.0, 0.0, 2.0, 9);
    let s = compress(&data, DType::U16, &shape, &Config::noise(0.5)).unwrap();
    // The same stream claiming version 2: mode 3 is refused there.
    let mut v2 = s.clone();
    v2[4] = 2;
    let e = decompress(&reseal(v2)).unwrap_err();
    assert!(e.message().contains("version 2"), "{e}");
    // Version 3 but mode abs: method 7 tiles are not valid for it.
    let mut abs = s.clone();
    abs[6] = 1;
    let e = decompress(&reseal(abs)).unwrap_err();
    assert!(e.message().contains("method 7"), "{e}");
    // The version-5 stream claiming version 3 or 4 (bodies without c): refused, not garbage.
    for v in [3u8, 4] {
        let mut old = s.clone();
        old[4] = v;
        assert!(decompress(&reseal(old)).is_err(), "claimed version {v}");
    }
    // A v2 abs stream whose tile is replaced by a method-7 body is refused too.
    let body = m7::encode(&data, DType::U16, shape, 0.5, 3)
        .unwrap()
        .unwrap();
    let mut out = vec![0u8; data.len()];
    m7::decode(&body, 12, DType::U16, shape, &mut out).unwrap();
    assert_eq!(out, decompress(&s).unwrap().1);
}

#[test]
fn corrupt_and_truncated_method7_bodies_are_errors() {
    let shape = [8, 40, 48];
    let data = synthetic(shape, 2.0, 0.0, 3.0, 21);
    let body = m7::encode(&data, DType::U16, shape, 0.5, 3)
        .unwrap()
        .unwrap();
    let mut out = vec![0u8; data.len()];
    m7::decode(&body, 12, DType::U16, shape, &mut out).unwrap();
    for cut in (0..body.len()).step_by(7) {
        assert!(
            m7::decode(&body[..cut], 12, DType::U16, shape, &mut out).is_err(),
            "cut at {cut}"
        );
    }
    let mut seed = 1u64;
    let mut errors = 0;
    for _ in 0..400 {
        let mut b = body.clone();
        let i = (lcg(&mut seed) * b.len() as f64) as usize;
        b[i] ^= 1 << ((lcg(&mut seed) * 8.0) as u32);
        // Must not panic; most flips are detected.
        errors += m7::decode(&b, 12, DType::U16, shape, &mut out).is_err() as usize;
    }
    assert!(errors > 100, "{errors} of 400 flips detected");
    // Format version 5: the floor c (bytes 8..12) must be a finite variance >= 0.
    for bad in [-1.0f32, f32::NAN, f32::INFINITY, -f32::MIN_POSITIVE] {
        let mut b = body.clone();
        b[8..12].copy_from_slice(&bad.to_le_bytes());
        let e = m7::decode(&b, 12, DType::U16, shape, &mut out).unwrap_err();
        assert!(e.message().contains("noise floor"), "{bad}: {e}");
    }
    // A version-5 body read with the version 3/4 layout (8 model bytes) is an error too.
    assert!(m7::decode(&body, 8, DType::U16, shape, &mut out).is_err());
    assert_eq!(m7::model_len(5, true), 12);
    assert_eq!(m7::model_len(5, false), 8);
    assert_eq!(m7::model_len(3, true), 8);
    assert!(m7::decode(&body, 12, DType::F32, [8, 40, 24], &mut out).is_err());
    assert!(m7::decode(
        &body,
        12,
        DType::U16,
        [8, 40, 40],
        &mut out[..8 * 40 * 40 * 2]
    )
    .is_err());
}

#[test]
fn pointwise_bound_on_every_shared_volume() {
    let Some(dir) = data_dir() else { return };
    let files = npy_files(&dir);
    assert!(files.len() >= 8, "expected the shared .npy volumes");
    let cfg = Config::noise(0.5);
    for f in files {
        let a = npy::read(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if a.dtype.is_float() {
            eprintln!("{name}: float data, noise mode refuses it (abs mode instead)");
            assert!(compress(&a.data, a.dtype, &a.shape, &cfg).is_err());
            continue;
        }
        let (mut raw, mut stored, mut worst, mut se, mut n) = (0usize, 0usize, 0f64, 0f64, 0usize);
        for (shape, c) in chunks(&a.shape, &a.data, a.dtype.size()) {
            let (w, rmse) = check_bound(&c, a.dtype, &shape, &cfg, &name);
            worst = worst.max(w);
            let m = c.len() / a.dtype.size();
            se += rmse * rmse * m as f64;
            n += m;
            raw += c.len();
            stored += compress(&c, a.dtype, &shape, &cfg).unwrap().len();
        }
        eprintln!(
            "{name}: noise k=0.5 {:.2}x, rmse {:.3}, max err/(k sigma) {worst:.3}",
            raw as f64 / stored as f64,
            (se / n as f64).sqrt()
        );
    }
    let _ = Mode::Noise(0.5);
}
