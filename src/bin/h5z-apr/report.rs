//! Output of `eval`: text tables and JSON (the Markdown datasheet is in datasheet.rs).

use crate::cdvals;
use crate::eval::{Reference, Row};
use crate::input::Input;
use h5z_apr::Mode;
use std::fmt::Write as _;

/// About four significant digits; scientific notation for very large or small magnitudes.
pub fn g4(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if x.fract() == 0.0 && a < 1e6 {
        return format!("{x:.0}");
    }
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

pub(crate) fn mb(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e6 {
        format!("{} MB", g4(b / 1e6))
    } else if b >= 1e3 {
        format!("{} kB", g4(b / 1e3))
    } else {
        format!("{bytes} B")
    }
}

/// Python-style shape tuple: `(60, 256, 256)`, `(7,)`.
pub(crate) fn tuple(v: &[usize]) -> String {
    let s: Vec<String> = v.iter().map(|d| d.to_string()).collect();
    if v.len() == 1 {
        format!("({},)", s[0])
    } else {
        format!("({})", s.join(", "))
    }
}

/// Renders rows with a left-aligned first column and right-aligned others.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i == 0 {
                s += c;
                s += &" ".repeat(pad);
            } else {
                s += "  ";
                s += &" ".repeat(pad);
                s += c;
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

/// Markdown table; `numeric` right-aligns every column but the first.
pub(crate) fn md_table(headers: &[&str], rows: &[Vec<String>], numeric: bool) -> String {
    let mut out = format!("| {} |\n|", headers.join(" | "));
    for (i, _) in headers.iter().enumerate() {
        out += if i == 0 || !numeric { "---|" } else { "---:|" };
    }
    out += "\n";
    for r in rows {
        out += &format!("| {} |\n", r.join(" | "));
    }
    out
}

pub(crate) const QUALITY_HEADERS: [&str; 13] = [
    "setting",
    "ratio",
    "PSNR dB",
    "SSIM mean",
    "SSIM worst",
    "max err",
    "mean err",
    "RMSE/noise",
    "max err/sigma",
    "px > bound %",
    "particles/px",
    "comp MB/s",
    "dec MB/s",
];

pub(crate) fn quality_rows(rows: &[Row], r: &Reference) -> Vec<Vec<String>> {
    let n = r.values.len();
    rows.iter()
        .map(|row| {
            vec![
                row.setting.label(),
                format!("{:.2}", row.ratio()),
                if row.psnr.is_finite() {
                    format!("{:.2}", row.psnr)
                } else {
                    "inf".into()
                },
                format!("{:.4}", row.ssim.mean),
                format!("{:.4}", row.ssim.worst),
                g4(row.err.max_abs),
                g4(row.err.mean_abs),
                ratio_to_noise(row.err.rmse(), r.noise_sigma),
                pointwise(row)
                    .map(|(m, _)| format!("{m:.4}"))
                    .unwrap_or_else(|| "n/a".into()),
                pointwise(row)
                    .map(|(_, f)| format!("{:.4}", 100.0 * f))
                    .unwrap_or_else(|| "n/a".into()),
                row.particles_per_pixel(n)
                    .map(|p| format!("{p:.4}"))
                    .unwrap_or_else(|| "n/a".into()),
                format!("{:.1}", row.compress_mbs()),
                format!("{:.1}", row.decompress_mbs()),
            ]
        })
        .collect()
}

/// The pointwise columns: (max |err| / sigma, fraction of elements over the bound), with sigma
/// = sigma_local for apr rows (bound E * sigma_local) and the fitted sigma(I) for noise rows
/// (bound k * sigma(I)); `None` for the other modes.
fn pointwise(row: &Row) -> Option<(f64, f64)> {
    if let Some(l) = row.lis {
        return Some((l.max_err_over_sigma, l.violation_fraction()));
    }
    row.noise
        .map(|n| (n.max_err_over_sigma, n.violation_fraction()))
}

/// Explains the two pointwise columns (text report and datasheet).
pub(crate) const POINTWISE_NOTE: &str =
    "max err/sigma, px > bound: apr rows against the encoder's \
     local intensity scale sigma_local (bound E*sigma_local); noise rows against the model \
     sigma(I) = sqrt(max(0, a*I + b)) with (a, b) fitted per tile exactly as the encoder does \
     (the values its method-7 tiles store; bound k*sigma(I)).";

fn ratio_to_noise(x: f64, sigma: f64) -> String {
    if sigma > 0.0 {
        format!("{:.3}", x / sigma)
    } else {
        "n/a".into()
    }
}

pub(crate) const DOWNSTREAM_HEADERS: [&str; 6] = [
    "setting",
    "Dice",
    "objects orig -> new",
    "foreground change",
    "Otsu threshold orig -> new",
    "histogram W1",
];

pub(crate) fn downstream_rows(rows: &[Row]) -> Vec<Vec<String>> {
    rows.iter()
        .filter_map(|row| {
            let d = row.downstream.as_ref()?;
            Some(vec![
                row.setting.label(),
                format!("{:.4}", d.dice),
                format!(
                    "{} -> {} ({:+})",
                    d.objects_orig,
                    d.objects_recon,
                    d.object_change()
                ),
                format!("{:+.3} %", d.foreground_change_pct()),
                format!("{} -> {}", g4(d.threshold_orig), g4(d.threshold_recon)),
                g4(d.hist_w1),
            ])
        })
        .collect()
}

pub(crate) fn describe(input: &Input, r: &Reference) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("input", input.label()),
        ("dtype", input.dtype.name().to_string()),
        ("shape", tuple(&input.shape)),
        ("raw size", mb(input.raw_bytes())),
        (
            "value range",
            format!(
                "{} .. {} (mean {}, std {})",
                g4(r.summary.min),
                g4(r.summary.max),
                g4(r.summary.mean),
                g4(r.summary.std)
            ),
        ),
        (
            "noise sigma (est.)",
            if r.noise_sigma > 0.0 {
                g4(r.noise_sigma)
            } else {
                "n/a (nothing to measure)".into()
            },
        ),
    ];
    if let Some(s) = input.storage_size {
        v.push((
            "stored in source file",
            format!(
                "{} (ratio {:.2} as stored)",
                mb(s),
                input.raw_bytes() as f64 / s.max(1) as f64
            ),
        ));
    }
    v
}

/// The human-readable report.
pub fn text(input: &Input, chunks: &[usize], r: &Reference, rows: &[Row]) -> String {
    let mut out = String::new();
    for (k, v) in describe(input, r) {
        let _ = writeln!(out, "{k:<22}{v}");
    }
    let n_chunks = rows.first().map(|x| x.chunk_count).unwrap_or(0);
    let _ = writeln!(
        out,
        "{:<22}{} -> {n_chunks} chunks (edge chunks zero-padded, as HDF5 stores them)\n",
        "chunks",
        tuple(chunks)
    );
    out += &table(&QUALITY_HEADERS, &quality_rows(rows, r));
    let d = downstream_rows(rows);
    if !d.is_empty() {
        let _ = writeln!(
            out,
            "\ndownstream: Otsu threshold + 6-connected components (objects >= {} voxels), \
             same pipeline on original and decompressed data",
            r.min_object_voxels
        );
        out += &table(&DOWNSTREAM_HEADERS, &d);
    }
    out += "\nratio = raw bytes / compressed chunk bytes; SSIM per 2-D slice (7x7 window); \
            RMSE/noise < 1: loss below the estimated noise; speeds single-thread, per raw chunk byte.\n";
    if rows.iter().any(|r| r.lis.is_some() || r.noise.is_some()) {
        out += POINTWISE_NOTE;
        out += "\n";
    }
    out
}

// ---- JSON ----

pub(crate) fn jnum(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

pub fn jstr(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o += "\\\"",
            '\\' => o += "\\\\",
            '\n' => o += "\\n",
            '\r' => o += "\\r",
            '\t' => o += "\\t",
            c if (c as u32) < 0x20 => o += &format!("\\u{:04x}", c as u32),
            c => o.push(c),
        }
    }
    o + "\""
}

fn jarr<T: ToString>(v: &[T]) -> String {
    let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", s.join(","))
}

fn jopt(x: Option<f64>) -> String {
    x.map(jnum).unwrap_or_else(|| "null".into())
}

/// Machine-readable report (non-finite numbers, e.g. the PSNR of an exact copy, are `null`).
pub fn json(input: &Input, chunks: &[usize], r: &Reference, rows: &[Row]) -> String {
    let mut o = String::from("{\"input\":{");
    let _ = write!(
        o,
        "\"file\":{},\"dataset\":{},\"dtype\":{},\"shape\":{},\"chunks\":{},\"raw_bytes\":{},\
         \"source_storage_bytes\":{},\"min\":{},\"max\":{},\"mean\":{},\"std\":{},\
         \"noise_sigma\":{},\"noise_estimator\":{},\"min_object_voxels\":{}}},\"results\":[",
        jstr(&input.file.display().to_string()),
        input
            .dataset
            .as_deref()
            .map(jstr)
            .unwrap_or_else(|| "null".into()),
        jstr(input.dtype.name()),
        jarr(&input.shape),
        jarr(chunks),
        input.raw_bytes(),
        input
            .storage_size
            .map(|s| s.to_string())
            .unwrap_or_else(|| "null".into()),
        jnum(r.summary.min),
        jnum(r.summary.max),
        jnum(r.summary.mean),
        jnum(r.summary.std),
        jnum(r.noise_sigma),
        jstr(r.noise_estimator),
        r.min_object_voxels,
    );
    let n = r.values.len();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            o += ",";
        }
        let mode = row.setting.mode_name();
        let (bound, rel, k) = match row.setting.mode {
            Mode::Lossless => (None, None, None),
            Mode::Abs(b) => (Some(b), None, None),
            Mode::Apr(e) => (None, Some(e), None),
            Mode::Noise(k) => (None, None, Some(k)),
        };
        let sigma_ratio = |x: f64| (r.noise_sigma > 0.0).then(|| x / r.noise_sigma);
        let cd = cdvals::for_setting(&row.setting)
            .map(|c| jarr(&c))
            .unwrap_or_else(|_| "null".into());
        let _ = write!(
            o,
            "{{\"setting\":{},\"mode\":{},\"bound\":{},\"rel_error\":{},\"k\":{},\"effort\":{},\"cd_values\":{cd},\
             \"raw_bytes\":{},\"stored_bytes\":{},\"chunk_count\":{},\"ratio\":{},\"psnr_db\":{},\
             \"ssim_mean\":{},\"ssim_worst\":{},\"ssim_worst_slice\":{},\"max_abs_error\":{},\
             \"mean_abs_error\":{},\"rmse\":{},\"rmse_over_noise\":{},\"max_abs_error_over_noise\":{},\
             \"max_abs_error_over_sigma_local\":{},\"e_condition_violation_fraction\":{},\
             \"max_abs_error_over_sigma_model\":{},\"rms_error_over_sigma_model\":{},\
             \"noise_bound_violation_fraction\":{},\"sigma_model_min\":{},\"noise_model\":{},\
             \"particles\":{},\"particles_per_pixel\":{},\"compress_mb_s\":{},\"decompress_mb_s\":{},\
             \"downstream\":",
            jstr(&row.setting.label()),
            jstr(mode),
            jopt(bound),
            jopt(rel),
            jopt(k),
            row.setting.effort,
            row.raw_bytes,
            row.stored_bytes,
            row.chunk_count,
            jnum(row.ratio()),
            jnum(row.psnr),
            jnum(row.ssim.mean),
            jnum(row.ssim.worst),
            row.ssim.worst_slice,
            jnum(row.err.max_abs),
            jnum(row.err.mean_abs),
            jnum(row.err.rmse()),
            jopt(sigma_ratio(row.err.rmse())),
            jopt(sigma_ratio(row.err.max_abs)),
            jopt(row.lis.map(|l| l.max_err_over_sigma)),
            jopt(row.lis.map(|l| l.violation_fraction())),
            // +inf (sigma 0 with an error) has no JSON number: a string, not a silent null.
            row.noise
                .map(|n| if n.max_err_over_sigma.is_infinite() {
                    "\"inf\"".to_string()
                } else {
                    jnum(n.max_err_over_sigma)
                })
                .unwrap_or_else(|| "null".into()),
            jopt(row.noise.and_then(|n| n.rms_err_over_sigma())),
            jopt(row.noise.map(|n| n.violation_fraction())),
            jopt(row.noise.map(|n| n.sigma_min)),
            row.noise
                .map(|n| if n.tiles == 0 {
                    "{\"tiles\":0}".to_string()
                } else {
                    format!(
                        "{{\"tiles\":{},\"a_min\":{},\"a_max\":{},\"b_min\":{},\"b_max\":{},\"c_min\":{},\"c_max\":{}}}",
                        n.tiles,
                        jnum(n.a_min),
                        jnum(n.a_max),
                        jnum(n.b_min),
                        jnum(n.b_max),
                        jnum(n.c_min),
                        jnum(n.c_max)
                    )
                })
                .unwrap_or_else(|| "null".into()),
            row.particles.map(|p| p.to_string()).unwrap_or_else(|| "null".into()),
            jopt(row.particles_per_pixel(n)),
            jnum(row.compress_mbs()),
            jnum(row.decompress_mbs()),
        );
        match &row.downstream {
            None => o += "null",
            Some(d) => {
                let _ = write!(
                    o,
                    "{{\"dice\":{},\"objects_orig\":{},\"objects_new\":{},\"object_change\":{},\
                     \"foreground_orig\":{},\"foreground_new\":{},\"foreground_change_pct\":{},\
                     \"otsu_threshold_orig\":{},\"otsu_threshold_new\":{},\"histogram_w1\":{}}}",
                    jnum(d.dice),
                    d.objects_orig,
                    d.objects_recon,
                    d.object_change(),
                    d.foreground_orig,
                    d.foreground_recon,
                    jnum(d.foreground_change_pct()),
                    jnum(d.threshold_orig),
                    jnum(d.threshold_recon),
                    jnum(d.hist_w1),
                );
            }
        }
        o += "}";
    }
    o + "]}\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g4_formats() {
        assert_eq!(g4(0.0), "0");
        assert_eq!(g4(1234.5678), "1235");
        assert_eq!(g4(104.0), "104");
        assert_eq!(g4(-2.0), "-2");
        assert_eq!(g4(12.345678), "12.35");
        assert_eq!(g4(0.5), "0.5000");
        assert_eq!(g4(1e-5), "1.000e-5");
        assert_eq!(g4(f64::INFINITY), "inf");
    }

    #[test]
    fn sizes_and_shapes() {
        assert_eq!(mb(7_864_320), "7.864 MB");
        assert_eq!(mb(2_000), "2 kB");
        assert_eq!(mb(240), "240 B");
        assert_eq!(tuple(&[7]), "(7,)");
        assert_eq!(tuple(&[2, 3]), "(2, 3)");
    }

    #[test]
    fn json_strings_escape() {
        assert_eq!(jstr("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(jnum(f64::INFINITY), "null");
        assert_eq!(jnum(2.5), "2.5");
    }

    #[test]
    fn table_aligns() {
        let t = table(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "a    bb\nxyz   1\n");
    }
}
