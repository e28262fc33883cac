//! `h5z-apr eval` on a real volume (.npy from ../shared/data) and on a generated HDF5 file
//! whose compressed datasets were written independently, through h5py and the plugin.

mod cli_support;
use cli_support::*;

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
    // apr mode: particles counted from the streams (codec::stats), per original pixel; the
    // last z chunk is padded from 13 to 16 planes, so at most 96/93 per pixel.
    let p = &rows[2];
    assert_eq!(p["cd_values"], serde_json::json!([2, 1, 1]));
    let n = (93 * 64 * 64) as f64;
    assert!(num(p, "particles") > 0.0);
    assert_eq!(num(p, "particles_per_pixel"), num(p, "particles") / n);
    assert!(num(p, "particles_per_pixel") <= 96.0 / 93.0);
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
