//! `h5z-apr eval` on a real volume (.npy from ../shared/data) and on a generated HDF5 file
//! whose compressed datasets were written independently, through h5py and the plugin.

mod cli_support;
mod stream_support;
use cli_support::*;
use stream_support::varint;

#[test]
fn real_volume_lossless_and_abs() {
    let Some(f) = data_file("ct_headsq_vtk/headsq_quarter_uint16.npy") else {
        return;
    };
    let d = scratch("eval_real");
    let sheet = d.join("sheet.md");
    let out = run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--mode",
        "lossless,abs,apr",
        "--bound",
        "8",
        "--rel-error",
        "0.1",
        "--json",
        "-q",
        "--datasheet",
        sheet.to_str().unwrap(),
    ]);
    let v = json(&out);
    let inp = &v["input"];
    assert_eq!(inp["dtype"], "uint16");
    assert_eq!(inp["shape"], serde_json::json!([93, 64, 64]));
    assert_eq!(inp["chunks"], serde_json::json!([16, 64, 64]));
    assert_eq!(num(inp, "raw_bytes"), (93 * 64 * 64 * 2) as f64);
    // Range from the data README: 0..3926.
    assert_eq!((num(inp, "min"), num(inp, "max")), (0.0, 3926.0));
    assert!(num(inp, "noise_sigma") > 0.0);
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "one row per setting");

    let l = &rows[0];
    assert_eq!(l["mode"], "lossless");
    assert_eq!(num(l, "max_abs_error"), 0.0);
    assert!(l["psnr_db"].is_null(), "exact copy: infinite PSNR -> null");
    assert_eq!((num(l, "ssim_mean"), num(l, "ssim_worst")), (1.0, 1.0));
    let ds = &l["downstream"];
    assert_eq!(num(ds, "dice"), 1.0);
    assert_eq!(num(ds, "object_change"), 0.0);
    assert_eq!(num(ds, "histogram_w1"), 0.0);
    assert_eq!(num(l, "chunk_count"), 6.0); // ceil(93/16)
    assert!(num(l, "ratio") > 1.0);

    let a = &rows[1];
    assert_eq!(a["mode"], "abs");
    assert_eq!(a["cd_values"], serde_json::json!([1, 8, 0]));
    let (maxe, meane, rmse) = (
        num(a, "max_abs_error"),
        num(a, "mean_abs_error"),
        num(a, "rmse"),
    );
    assert!(maxe > 0.0 && maxe <= 8.0, "abs bound 8: max error {maxe}");
    assert!(meane > 0.0 && meane <= maxe && rmse <= maxe);
    let want_psnr = 10.0 * (3926.0f64 * 3926.0 / (rmse * rmse)).log10();
    assert!((num(a, "psnr_db") - want_psnr).abs() < 1e-9);
    assert!(num(a, "ssim_worst") <= num(a, "ssim_mean") && num(a, "ssim_mean") < 1.0);
    assert!((num(a, "rmse_over_noise") - rmse / num(inp, "noise_sigma")).abs() < 1e-12);
    let ds = &a["downstream"];
    // W1 between the intensity distributions never exceeds the mean pointwise error.
    assert!(num(ds, "histogram_w1") <= meane + 1e-12);
    assert!(num(ds, "dice") > 0.9 && num(ds, "dice") <= 1.0);
    for r in rows {
        assert_eq!(
            num(r, "ratio"),
            num(r, "raw_bytes") / num(r, "stored_bytes"),
            "ratio is raw / stored"
        );
        assert!(num(r, "compress_mb_s") > 0.0 && num(r, "decompress_mb_s") > 0.0);
    }
    for r in &rows[..2] {
        assert!(r["particles"].is_null(), "particles exist only in apr mode");
    }
    // apr mode (format version 4): LibAPR's condition |I - I'| <= E * sigma_local holds at
    // every pixel, as eval measures it. Particles are counted from the streams (codec::stats)
    // only where every tile is particle-coded (here the encoder writes bound maps, FORMAT.md
    // §7); when they are, at most 96/93 per pixel (the last z chunk is padded 13 -> 16 planes).
    let p = &rows[2];
    assert_eq!(p["cd_values"], serde_json::json!([2, 1, 1]));
    assert!(num(p, "max_abs_error_over_sigma_local") <= 0.1 + 1e-12);
    assert_eq!(num(p, "e_condition_violation_fraction"), 0.0);
    assert!(num(p, "max_abs_error") > 0.0, "apr E=0.1 is lossy here");
    let n = (93 * 64 * 64) as f64;
    if !p["particles"].is_null() {
        assert_eq!(num(p, "particles_per_pixel"), num(p, "particles") / n);
        assert!(num(p, "particles_per_pixel") <= 96.0 / 93.0);
    }
    assert!(num(&rows[1], "stored_bytes") < num(&rows[0], "stored_bytes"));

    let md = std::fs::read_to_string(&sheet).unwrap();
    for needle in [
        "# Datasheet: `headsq_quarter_uint16.npy`",
        "(93, 64, 64)",
        "uint16",
        "0 .. 3926",
        "compression_opts=(1, 8, 0)",
        "-f UD=47815,0,3,1,8,0",
        "## Downstream observables",
        "## Summary",
        &format!("- **lossless**: {:.2}x smaller, bit-exact", num(l, "ratio")),
        &format!(
            "- **abs 8**: {:.2}x smaller, max error {}, RMS error {:.3} x the noise σ (below the noise)",
            num(a, "ratio"),
            maxe as i64, // integer data: integer errors
            num(a, "rmse_over_noise")
        ),
        &format!("| {:.2} |", num(a, "ratio")),
    ] {
        assert!(md.contains(needle), "datasheet lacks {needle:?}:\n{md}");
    }

    // The text report prints one row per setting in each table.
    let text = run_ok(&["eval", f.to_str().unwrap(), "--bound", "2,8", "-q"]);
    for s in ["abs 2 ", "abs 8 "] {
        assert_eq!(
            text.lines().filter(|l| l.starts_with(s)).count(),
            2,
            "{s}:\n{text}"
        );
    }
}

/// Writes a synthetic uint16 volume (smooth blob + noise, shape not a multiple of the chunks)
/// as /raw (no filter) and as /abs4, /lossless, /apr through h5py + plugin; prints storage sizes
/// and, for /abs4, the error statistics numpy measures on what HDF5 decodes.
const GEN: &str = r#"
import sys, h5py, numpy as np
rng = np.random.default_rng(7)
z, y, x = np.meshgrid(np.arange(37), np.arange(50), np.arange(70), indexing="ij")
blob = 3000 * np.exp(-((z - 18) ** 2 + (y - 25) ** 2 + (x - 35) ** 2) / 150.0)
vol = np.clip(1000 + blob + rng.normal(0, 30, z.shape), 0, 65535).astype("<u2")
ch = (16, 32, 32)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("raw", data=vol, chunks=ch)
    a = f.create_dataset("abs4", data=vol, chunks=ch, compression=47815, compression_opts=(1, 4, 0))
    l = f.create_dataset("lossless", data=vol, chunks=ch, compression=47815, compression_opts=(0,))
    p = f.create_dataset("apr", data=vol, chunks=ch, compression=47815, compression_opts=(2, 1, 1))
with h5py.File(sys.argv[1], "r") as f:
    back = f["abs4"][...].astype(np.float64)
    assert np.array_equal(f["lossless"][...], vol)
    e = back - vol
    rng_ = float(vol.max()) - float(vol.min())
    mse = float(np.mean(e * e))
    print(f["abs4"].id.get_storage_size(), f["lossless"].id.get_storage_size(),
          float(np.abs(e).max()), float(np.abs(e).mean()), 10 * np.log10(rng_ ** 2 / mse),
          float(vol.mean()), f["apr"].id.get_storage_size())
"#;

/// `--mode apr-particles`: apr mode coded as particle cells (cd_values mode 4). eval counts the
/// particles (at most one per original pixel plus the padded planes of the last z chunk) and
/// reports the E condition it does not guarantee; the apr row next to it holds it.
#[test]
fn apr_particles_rows() {
    let Some(f) = data_file("ct_headsq_vtk/headsq_quarter_uint16.npy") else {
        return;
    };
    let out = run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--mode",
        "apr,apr-particles",
        "--rel-error",
        "0.1",
        "--json",
        "-q",
    ]);
    let v = json(&out);
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let (a, p) = (&rows[0], &rows[1]);
    assert_eq!(
        (a["mode"].as_str(), p["mode"].as_str()),
        (Some("apr"), Some("apr-particles"))
    );
    assert_eq!(p["setting"], "apr-particles E=0.1");
    assert_eq!(p["cd_values"], serde_json::json!([4, 1, 1]));
    assert_eq!(a["cd_values"], serde_json::json!([2, 1, 1]));
    assert!(num(a, "max_abs_error_over_sigma_local") <= 0.1 + 1e-12);
    let n = (93 * 64 * 64) as f64;
    assert!(num(p, "particles") > 0.0);
    assert_eq!(num(p, "particles_per_pixel"), num(p, "particles") / n);
    assert!(num(p, "particles_per_pixel") <= 96.0 / 93.0);
    // The particle cells are piecewise constant: they do err, and eval says by how much.
    assert!(num(p, "max_abs_error_over_sigma_local") > 0.0);
    assert!(num(p, "ratio") > 1.0 && num(a, "ratio") > 1.0);
    let cd = run_ok(&[
        "cd-values",
        "--mode",
        "apr-particles",
        "--rel-error",
        "0.2",
        "--json",
    ]);
    let c = json(&cd);
    assert_eq!(c["cd_values"], serde_json::json!([4, 2, 1]));
    assert_eq!(c["mode"], "apr-particles");
}

#[test]
fn generated_hdf5_matches_independently_written_file() {
    let Some(py) = python() else { return };
    let d = scratch("eval_h5");
    let f = d.join("gen.h5");
    let fs = f.to_str().unwrap().to_string();
    let line = cli_support::py(&py, GEN, &[&fs]);
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    let (abs_storage, lossless_storage) = (v[0], v[1]);
    let (np_max, np_mean, np_psnr, np_avg) = (v[2], v[3], v[4], v[5]);
    let apr_storage = v[6];
    let raw = (37 * 50 * 70 * 2) as f64;

    // Evaluate the unfiltered copy with the same settings and chunks as the h5py writes.
    let out = run_ok(&[
        "eval",
        &format!("{fs}:/raw"),
        "--mode",
        "lossless,abs,apr",
        "--bound",
        "4",
        "--rel-error",
        "0.1",
        "--chunks",
        "16,32,32",
        "--json",
        "-q",
    ]);
    let j = json(&out);
    assert_eq!(j["input"]["dataset"], "/raw");
    // Unfiltered chunked storage: 3 x 2 x 3 full chunks (edge chunks are allocated whole).
    assert_eq!(
        num(&j["input"], "source_storage_bytes"),
        (18 * 16 * 32 * 32 * 2) as f64,
        "unfiltered"
    );
    assert!(
        (num(&j["input"], "mean") - np_avg).abs() < 1e-9,
        "read via libhdf5"
    );
    let rows = j["results"].as_array().unwrap();
    let (l, a, p) = (&rows[0], &rows[1], &rows[2]);
    // Printed ratio == raw bytes / bytes HDF5 stored for the same settings.
    assert_eq!(num(l, "stored_bytes"), lossless_storage);
    assert_eq!(num(l, "ratio"), raw / lossless_storage);
    assert_eq!(num(a, "stored_bytes"), abs_storage);
    assert_eq!(num(a, "ratio"), raw / abs_storage);
    assert_eq!(num(p, "stored_bytes"), apr_storage);
    assert_eq!(num(p, "ratio"), raw / apr_storage);
    // Quality numbers equal what numpy measures on the data HDF5 decoded.
    assert_eq!(num(a, "max_abs_error"), np_max);
    assert!((num(a, "mean_abs_error") - np_mean).abs() < 1e-9 * np_mean.max(1.0));
    assert!((num(a, "psnr_db") - np_psnr).abs() < 1e-9);

    // The filtered datasets: eval reads them through the plugin, takes their chunks, and
    // its own accounting agrees with HDF5's storage size.
    let out = run_ok(&[
        "eval",
        &format!("{fs}:/lossless"),
        "--json",
        "-q",
        "--no-downstream",
    ]);
    let j = json(&out);
    assert_eq!(j["input"]["chunks"], serde_json::json!([16, 32, 32]));
    assert_eq!(num(&j["input"], "source_storage_bytes"), lossless_storage);
    let r = &j["results"][0];
    assert_eq!(num(r, "stored_bytes"), lossless_storage);
    assert!(r["downstream"].is_null());
}

/// Deterministic generator for the synthetic volume (splitmix64 -> uniform in (0, 1)).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Poisson(lambda) by inversion (lambda here is at most a few hundred).
    fn poisson(&mut self, lambda: f64) -> u64 {
        let u = self.uniform();
        let (mut k, mut p) = (0u64, (-lambda).exp());
        let mut cdf = p;
        while u > cdf && k < 100_000 {
            k += 1;
            p *= lambda / k as f64;
            cdf += p;
        }
        k
    }
    fn gauss(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

/// sigma(x) of every element of one rank-3 chunk stream as the stream itself records it: the
/// (a, b, c) stored at the start of each method-7 tile body (FORMAT.md §4.2, §6.2, §8: format
/// version 5), sigma = sqrt(max(c, a*x + b)); +inf for the elements coded exactly (fill outside the coded box,
/// tiles of methods 0, 1, 5). Written from FORMAT.md, independent of the encoder's code.
/// Also returns (a, b, elements, c) of every method-7 tile.
#[allow(clippy::type_complexity)]
fn stream_sigma(
    stream: &[u8],
    x: &[f64],
    dims: [usize; 3],
) -> (Vec<f64>, Vec<(f64, f64, usize, f64)>) {
    assert_eq!(&stream[..4], b"APRZ");
    assert_eq!(
        (stream[4], stream[6], stream[7]),
        (5, 3, 3),
        "v5, noise, rank 3"
    );
    let mut pos = 16 + 4 * 3;
    let (ez, ex, ey) = (
        varint(stream, &mut pos),
        varint(stream, &mut pos),
        varint(stream, &mut pos),
    );
    pos += 2; // fill value, u16
    let (tz, tx, ty) = (
        varint(stream, &mut pos),
        varint(stream, &mut pos),
        varint(stream, &mut pos),
    );
    let mut sigma = vec![f64::INFINITY; x.len()];
    if ez == 0 {
        return (sigma, Vec::new());
    }
    let g = [ez.div_ceil(tz), ex.div_ceil(tx), ey.div_ceil(ty)];
    let lens: Vec<usize> = (0..g.iter().product::<usize>())
        .map(|_| varint(stream, &mut pos))
        .collect();
    let mut m7 = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        let body = &stream[pos..pos + len];
        pos += len;
        if body[0] != 7 {
            assert!([0, 1, 5].contains(&body[0]), "method {}", body[0]);
            continue;
        }
        let a = f32::from_le_bytes(body[1..5].try_into().unwrap()) as f64;
        let b = f32::from_le_bytes(body[5..9].try_into().unwrap()) as f64;
        let c = f32::from_le_bytes(body[9..13].try_into().unwrap()) as f64;
        assert!(c >= 0.0, "floor c {c}");
        let o = [
            i / (g[1] * g[2]) * tz,
            (i / g[2]) % g[1] * tx,
            i % g[2] * ty,
        ];
        let extent = |d: usize, t: usize, e: usize| (o[d] + t).min(e) - o[d];
        m7.push((
            a,
            b,
            extent(0, tz, ez) * extent(1, tx, ex) * extent(2, ty, ey),
            c,
        ));
        for z in o[0]..(o[0] + tz).min(ez) {
            for xx in o[1]..(o[1] + tx).min(ex) {
                for y in o[2]..(o[2] + ty).min(ey) {
                    let e = (z * dims[1] + xx) * dims[2] + y;
                    sigma[e] = (a * x[e] + b).max(c).sqrt();
                }
            }
        }
    }
    assert_eq!(pos + 4, stream.len(), "tiles then the crc32 trailer");
    (sigma, m7)
}

/// Noise-mode rows of `eval` on a synthetic Poisson-Gaussian uint16 volume (gain 2 ADU per
/// photon, offset 100, read noise 3 ADU; shape not a multiple of the chunks). The test compresses
/// the same chunks itself through the library, reads the noise model (a, b) out of its own
/// streams (FORMAT.md), and recomputes every reported noise number on the decoded data.
#[test]
fn noise_rows_on_synthetic_poisson_volume() {
    let shape = [20usize, 70, 90];
    let chunks = [16usize, 32, 64];
    let (gain, offset, read) = (2.0f64, 100.0f64, 3.0f64);
    let mut rng = Rng(12345);
    let n: usize = shape.iter().product();
    let vol: Vec<u16> = (0..n)
        .map(|i| {
            let (z, y, x) = (i / (70 * 90), (i / 90) % 70, i % 90);
            let r2 =
                (z as f64 - 10.0).powi(2) + (y as f64 - 35.0).powi(2) + (x as f64 - 45.0).powi(2);
            let photons = 10.0 + 300.0 * (-r2 / 200.0).exp() + 2.0 * x as f64;
            let v = offset + gain * rng.poisson(photons) as f64 + read * rng.gauss();
            v.round().clamp(0.0, 65535.0) as u16
        })
        .collect();
    let bytes: Vec<u8> = vol.iter().flat_map(|v| v.to_le_bytes()).collect();
    let d = scratch("eval_noise");
    let f = d.join("poisson.npy");
    std::fs::write(&f, npy_bytes("<u2", &shape, &bytes)).unwrap();
    let out = run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--mode",
        "abs,noise",
        "--bound",
        "3",
        "--k",
        "0.5,1",
        "--chunks",
        "16,32,64",
        "--json",
        "-q",
        "--no-downstream",
    ]);
    let j = json(&out);
    let noise_sigma = num(&j["input"], "noise_sigma");
    let rows = j["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["noise_model"].is_null() && rows[0]["k"].is_null());
    let orig: Vec<f64> = vol.iter().map(|&v| v as f64).collect();
    for (row, k) in rows[1..].iter().zip([0.5, 1.0]) {
        assert_eq!(row["mode"], "noise");
        assert_eq!(num(row, "k"), k);
        // Compress and decode the same chunks here (edge chunks zero-padded like HDF5).
        let cfg = h5z_apr::codec::Config::noise(k);
        let mut recon = vec![0f64; n];
        let mut sigma = vec![f64::INFINITY; n];
        let mut stored = 0usize;
        let mut models: Vec<(f64, f64, usize, f64)> = Vec::new();
        for cz in 0..shape[0].div_ceil(chunks[0]) {
            for cy in 0..shape[1].div_ceil(chunks[1]) {
                for cx in 0..shape[2].div_ceil(chunks[2]) {
                    let at = |z: usize, y: usize, x: usize| {
                        let (gz, gy, gx) =
                            (cz * chunks[0] + z, cy * chunks[1] + y, cx * chunks[2] + x);
                        (gz < shape[0] && gy < shape[1] && gx < shape[2])
                            .then(|| (gz * shape[1] + gy) * shape[2] + gx)
                    };
                    let cn: usize = chunks.iter().product();
                    let mut buf = vec![0u8; cn * 2];
                    let mut xs = vec![0f64; cn];
                    for e in 0..cn {
                        let (z, y, x) = (e / (32 * 64), (e / 64) % 32, e % 64);
                        if let Some(g) = at(z, y, x) {
                            buf[2 * e..2 * e + 2].copy_from_slice(&vol[g].to_le_bytes());
                            xs[e] = orig[g];
                        }
                    }
                    let s =
                        h5z_apr::codec::compress(&buf, h5z_apr::DType::U16, &chunks, &cfg).unwrap();
                    stored += s.len();
                    let (sig, m7) = stream_sigma(&s, &xs, chunks);
                    models.extend(m7);
                    let (_, dec) = h5z_apr::codec::decompress(&s).unwrap();
                    for e in 0..cn {
                        let (z, y, x) = (e / (32 * 64), (e / 64) % 32, e % 64);
                        if let Some(g) = at(z, y, x) {
                            recon[g] = u16::from_le_bytes([dec[2 * e], dec[2 * e + 1]]) as f64;
                            sigma[g] = sig[e];
                        }
                    }
                }
            }
        }
        assert_eq!(
            num(row, "stored_bytes"),
            stored as f64,
            "eval's streams are these"
        );
        assert_eq!(num(&row["noise_model"], "tiles"), models.len() as f64);
        assert!(models.len() >= 12, "every chunk codes a method-7 tile");
        let am = |f: fn(f64, f64) -> f64, init| models.iter().map(|m| m.0).fold(init, f);
        assert_eq!(
            num(&row["noise_model"], "a_min"),
            am(f64::min, f64::INFINITY)
        );
        assert_eq!(
            num(&row["noise_model"], "a_max"),
            am(f64::max, f64::NEG_INFINITY)
        );
        let cm = |f: fn(f64, f64) -> f64, init| models.iter().map(|m| m.3).fold(init, f);
        assert_eq!(
            num(&row["noise_model"], "c_min"),
            cm(f64::min, f64::INFINITY)
        );
        assert_eq!(
            num(&row["noise_model"], "c_max"),
            cm(f64::max, f64::NEG_INFINITY)
        );
        // The floor is the darkest bins' variance: here the read noise (9) plus the gain times
        // the dimmest signal, within the fit's sampling error.
        for &(_, _, _, c) in models.iter().filter(|m| m.2 == 16 * 32 * 64) {
            assert!(c > 0.0 && c < 9.0 + gain * 400.0, "floor c {c}: {models:?}");
        }
        // The model of the full-size tiles is near the generator's: var = gain*I + (read^2 -
        // gain*offset). (Small edge tiles may fit a = 0: too few samples or no spread.)
        for &(a, _, _, _) in models.iter().filter(|m| m.2 == 16 * 32 * 64) {
            assert!(
                (a - gain).abs() < 0.35 * gain,
                "a {a} vs gain {gain}: {models:?}"
            );
        }
        let err: Vec<f64> = orig
            .iter()
            .zip(&recon)
            .map(|(p, q)| (p - q).abs())
            .collect();
        let rmse = (err.iter().map(|e| e * e).sum::<f64>() / n as f64).sqrt();
        let rel = |got: f64, want: f64| (got - want).abs() <= 1e-9 * want.abs().max(1e-300);
        assert!(rel(num(row, "rmse"), rmse), "rmse");
        assert!(rel(num(row, "rmse_over_noise"), rmse / noise_sigma));
        let maxe = err.iter().cloned().fold(0.0, f64::max);
        assert_eq!(num(row, "max_abs_error"), maxe);
        let ratios: Vec<f64> = err
            .iter()
            .zip(&sigma)
            .map(|(&e, &s)| if e == 0.0 { 0.0 } else { e / s })
            .collect();
        let max_ratio = ratios.iter().cloned().fold(0.0, f64::max);
        assert!(
            rel(num(row, "max_abs_error_over_sigma_model"), max_ratio),
            "max |err|/sigma: eval {} vs stream model {max_ratio}",
            num(row, "max_abs_error_over_sigma_model")
        );
        let modelled: Vec<f64> = ratios
            .iter()
            .zip(&sigma)
            .filter(|(_, s)| s.is_finite() && **s > 0.0)
            .map(|(r, _)| *r)
            .collect();
        let rms_ratio =
            (modelled.iter().map(|r| r * r).sum::<f64>() / modelled.len() as f64).sqrt();
        assert!(rel(num(row, "rms_error_over_sigma_model"), rms_ratio));
        let smin = sigma
            .iter()
            .cloned()
            .filter(|s| s.is_finite())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(num(row, "sigma_model_min"), smin);
        let over = err.iter().zip(&sigma).filter(|(&e, &s)| e > k * s).count();
        assert_eq!(
            num(row, "noise_bound_violation_fraction"),
            over as f64 / n as f64
        );
        // The mode's promise, and a bound that is actually used (not a near-lossless stream).
        assert_eq!(over, 0, "k {k}");
        assert!(
            max_ratio <= k && max_ratio > 0.6 * k,
            "k {k}: max ratio {max_ratio}"
        );
        assert!(num(row, "ratio") > num(&rows[0], "ratio") * 0.5);
    }
    // The text report shows the pointwise columns for noise rows and explains them.
    let text = run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--k",
        "0.5",
        "--chunks",
        "16,32,64",
        "-q",
        "--no-downstream",
    ]);
    let line = text.lines().find(|l| l.starts_with("noise k=0.5")).unwrap();
    let want = format!("{:.4}", num(&rows[1], "max_abs_error_over_sigma_model"));
    assert!(line.contains(&want), "{want} in {line}");
    assert!(text.contains("sigma(I) = sqrt(max(0, a*I + b))"), "{text}");
}
