//! `eval --plot`: compression ratio against PSNR and against RMSE/noise, one curve per mode
//! (lossless is a single point), and the central slice of one setting: original,
//! decompressed and |error|. PNG or SVG through `plotters`; the plotted values also go to a
//! JSON sidecar (`OUT.png.json`) so that scripts and tests can read what was drawn.
//!
//! Text is rendered with `ab_glyph` from a TrueType font read at run time (no system font
//! libraries): `$H5Z_APR_FONT`, else DejaVu Sans or Liberation Sans from the usual Debian
//! paths (package fonts-dejavu-core).

use crate::eval::{Reference, Row};
use crate::report::{g4, jnum, jstr};
use h5z_apr::Mode;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const WIDTH: u32 = 1500;
const HEIGHT: u32 = 1000;

/// Fonts tried when `$H5Z_APR_FONT` is unset.
const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// One curve: a mode, its colour and its points in the order of increasing loss.
pub struct Series {
    pub mode: &'static str,
    pub color: RGBColor,
    /// (setting label, short value label, ratio, PSNR dB (inf for exact), RMSE/noise or RMSE)
    pub points: Vec<(String, String, f64, f64, f64)>,
}

fn mode_color(mode: &str) -> RGBColor {
    match mode {
        "lossless" => RGBColor(44, 160, 44),
        "abs" => RGBColor(31, 119, 180),
        "noise" => RGBColor(148, 103, 189),
        "apr-particles" => RGBColor(255, 127, 14),
        _ => RGBColor(214, 39, 40),
    }
}

/// The curves, one per mode present, in the order lossless, abs, apr, noise, apr-particles;
/// points sorted by decreasing PSNR (increasing loss).
pub fn series(rows: &[Row], r: &Reference) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for mode in ["lossless", "abs", "apr", "noise", "apr-particles"] {
        let mut points: Vec<_> = rows
            .iter()
            .filter(|row| row.setting.mode_name() == mode)
            .map(|row| {
                let short = match row.setting.mode {
                    Mode::Lossless => "exact".to_string(),
                    Mode::Abs(b) => format!("{b}"),
                    Mode::Apr(e) => format!("E={e}"),
                    Mode::Noise(k) => format!("k={k}"),
                };
                (
                    row.setting.label(),
                    short,
                    row.ratio(),
                    row.psnr,
                    noise_x(row, r),
                )
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        points.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.4.total_cmp(&b.4)));
        out.push(Series {
            mode,
            color: mode_color(mode),
            points,
        });
    }
    out
}

/// RMSE in units of the noise sigma, or plain RMSE when no noise could be estimated.
fn noise_x(row: &Row, r: &Reference) -> f64 {
    if r.noise_sigma > 0.0 {
        row.err.rmse() / r.noise_sigma
    } else {
        row.err.rmse()
    }
}

/// The row whose slice is shown: `--plot-setting` (1-based number or label), else the last.
pub fn pick(labels: &[String], choice: Option<&str>) -> Result<usize, String> {
    let Some(c) = choice else {
        return Ok(labels.len().saturating_sub(1));
    };
    let c = c.trim();
    if let Ok(n) = c.parse::<usize>() {
        if n >= 1 && n <= labels.len() {
            return Ok(n - 1);
        }
    }
    labels.iter().position(|l| l == c).ok_or_else(|| {
        format!(
            "--plot-setting {c:?}: no such setting; use 1..{} or one of: {}",
            labels.len(),
            labels.join(", ")
        )
    })
}

/// Checks the --plot file name before anything is evaluated.
pub fn check_path(path: &Path) -> Result<(), String> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "png" || ext == "svg" {
        Ok(())
    } else {
        Err(format!(
            "--plot {}: the file name must end in .png or .svg",
            path.display()
        ))
    }
}

/// Loads the labels' font (once per process; later calls are no-ops).
pub fn load_font() -> Result<(), String> {
    static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    LOADED.get_or_init(load_font_now).clone()
}

fn load_font_now() -> Result<(), String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("H5Z_APR_FONT") {
        Some(p) => vec![PathBuf::from(p)],
        None => FONT_PATHS.iter().map(PathBuf::from).collect(),
    };
    for p in &candidates {
        if let Ok(bytes) = std::fs::read(p) {
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("--plot: {} is not a TrueType/OpenType font", p.display()));
        }
    }
    Err(format!(
        "--plot needs a TrueType font for its labels: install fonts-dejavu-core or set \
         H5Z_APR_FONT=/path/to/font.ttf (tried {})",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Draws the figure to `path` (.png or .svg) and its values to `path` + ".json".
pub fn write(path: &Path, rows: &[Row], r: &Reference, shown: usize) -> Result<(), String> {
    check_path(path)?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if rows.is_empty() {
        return Err("--plot: nothing was evaluated".into());
    }
    load_font()?;
    let s = series(rows, r);
    let err = |e: String| format!("--plot {}: {e}", path.display());
    if ext == "png" {
        let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, &s, rows, r, shown).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    } else {
        let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, &s, rows, r, shown).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let mut side = path.as_os_str().to_owned();
    side.push(".json");
    std::fs::write(&side, sidecar(&s, rows, r, shown))
        .map_err(|e| format!("cannot write {}: {e}", Path::new(&side).display()))
}

/// The plotted values: every series with its points, and which slice the images show.
fn sidecar(s: &[Series], rows: &[Row], r: &Reference, shown: usize) -> String {
    let mut o = format!(
        "{{\"width\":{WIDTH},\"height\":{HEIGHT},\"noise_sigma\":{},\"x_noise\":{},\"series\":[",
        jnum(r.noise_sigma),
        jstr(if r.noise_sigma > 0.0 {
            "rmse_over_noise"
        } else {
            "rmse"
        })
    );
    for (i, c) in s.iter().enumerate() {
        if i > 0 {
            o += ",";
        }
        let pts: Vec<String> = c
            .points
            .iter()
            .map(|p| {
                format!(
                    "{{\"setting\":{},\"ratio\":{},\"psnr_db\":{},\"x_noise\":{}}}",
                    jstr(&p.0),
                    jnum(p.2),
                    jnum(p.3),
                    jnum(p.4)
                )
            })
            .collect();
        o += &format!(
            "{{\"mode\":{},\"color\":\"#{:02x}{:02x}{:02x}\",\"points\":[{}]}}",
            jstr(c.mode),
            c.color.0,
            c.color.1,
            c.color.2,
            pts.join(",")
        );
    }
    let row = &rows[shown];
    let (lo, hi) = minmax(r.central_slice());
    let emax = max_abs_diff(r.central_slice(), &row.slice);
    o += &format!(
        "],\"slice\":{{\"setting\":{},\"z\":{},\"shape\":[{},{}],\"gray_range\":[{},{}],\"error_max\":{}}}}}\n",
        jstr(&row.setting.label()),
        r.central_z(),
        r.shape3[1],
        r.shape3[2],
        jnum(lo),
        jnum(hi),
        jnum(emax)
    );
    o
}

fn minmax(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

type DErr = String;

fn e2s<E: std::fmt::Debug>(e: E) -> DErr {
    format!("{e:?}")
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &[Series],
    rows: &[Row],
    r: &Reference,
    shown: usize,
) -> Result<(), DErr> {
    root.fill(&WHITE).map_err(e2s)?;
    let (top, bottom) = root.split_vertically(HEIGHT * 11 / 20);
    let charts = top.split_evenly((1, 2));
    // x position of the exact (lossless) point on the PSNR axis, which has no finite PSNR.
    let finite: Vec<f64> = s
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.3))
        .filter(|x| x.is_finite())
        .collect();
    let (plo, phi) = if finite.is_empty() {
        (0.0, 60.0)
    } else {
        let (a, b) = minmax(&finite);
        (a, b)
    };
    let has_exact = s.iter().any(|c| c.points.iter().any(|p| !p.3.is_finite()));
    let span = (phi - plo).max(1.0);
    let exact_x = if has_exact { phi + 0.15 * span } else { phi };
    let psnr_range = (plo - 0.08 * span)..(exact_x + 0.08 * span);
    let x_name = if r.noise_sigma > 0.0 {
        "RMSE / noise sigma"
    } else {
        "RMSE (no noise estimate)"
    };
    let ratio_max = s
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.2))
        .fold(1.0, f64::max);
    let nmax = s
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.4))
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    let nmax = if nmax > 0.0 { nmax * 1.12 } else { 1.0 };
    let psnr_of = |p: f64| if p.is_finite() { p } else { exact_x };
    let y_max = ratio_max * 1.12;
    chart(
        &charts[0],
        &Axes {
            title: "compression ratio vs PSNR".into(),
            x_desc: if has_exact {
                "PSNR (dB); exact copy (infinite PSNR) drawn at the right edge"
            } else {
                "PSNR (dB)"
            },
            x: psnr_range,
            y_max,
            legend_at: SeriesLabelPosition::UpperRight,
        },
        s,
        |p| psnr_of(p.3),
    )?;
    chart(
        &charts[1],
        &Axes {
            title: format!("compression ratio vs {x_name}"),
            x_desc: x_name,
            x: (-0.04 * nmax)..nmax,
            y_max,
            legend_at: SeriesLabelPosition::LowerRight,
        },
        s,
        |p| p.4,
    )?;
    images(&bottom, rows, r, shown)
}

type Point = (String, String, f64, f64, f64);

/// Title, x axis, y extent and legend corner of one chart.
struct Axes {
    title: String,
    x_desc: &'static str,
    x: std::ops::Range<f64>,
    y_max: f64,
    legend_at: SeriesLabelPosition,
}

fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ax: &Axes,
    s: &[Series],
    x_of: impl Fn(&Point) -> f64,
) -> Result<(), DErr> {
    let mut c = ChartBuilder::on(area)
        .caption(&ax.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(ax.x.clone(), 0.0..ax.y_max)
        .map_err(e2s)?;
    c.configure_mesh()
        .x_desc(ax.x_desc)
        .y_desc("compression ratio (raw / stored)")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()
        .map_err(e2s)?;
    for ser in s {
        let color = ser.color;
        let pts: Vec<(f64, f64)> = ser.points.iter().map(|p| (x_of(p), p.2)).collect();
        let label = format!("{} ({} setting{})", ser.mode, pts.len(), plural(pts.len()));
        if pts.len() > 1 {
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(e2s)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        } else {
            c.draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                .map_err(e2s)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
        }
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 5, color.filled())))
            .map_err(e2s)?;
        // Value labels beside their points.
        c.draw_series(pts.iter().zip(&ser.points).map(|(&p, q)| {
            EmptyElement::at(p)
                + Text::new(
                    q.1.clone(),
                    (7, -16),
                    ("sans-serif", 13).into_font().color(&RGBColor(60, 60, 60)),
                )
        }))
        .map_err(e2s)?;
    }
    c.configure_series_labels()
        .position(ax.legend_at.clone())
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(150, 150, 150))
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(e2s)?;
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Resamples an `h x w` image to `oh x ow` (nearest, or the block maximum for `max_pool`,
/// so that a single wrong pixel stays visible when the slice is shrunk).
fn resample(v: &[f64], h: usize, w: usize, oh: usize, ow: usize, max_pool: bool) -> Vec<f64> {
    let mut out = Vec::with_capacity(oh * ow);
    for i in 0..oh {
        let (y0, y1) = (i * h / oh, ((i + 1) * h / oh).max(i * h / oh + 1).min(h));
        for j in 0..ow {
            let (x0, x1) = (j * w / ow, ((j + 1) * w / ow).max(j * w / ow + 1).min(w));
            if max_pool {
                let mut m = 0.0f64;
                for y in y0..y1 {
                    for x in x0..x1 {
                        m = m.max(v[y * w + x]);
                    }
                }
                out.push(m);
            } else {
                out.push(v[((y0 + y1) / 2) * w + (x0 + x1) / 2]);
            }
        }
    }
    out
}

/// Grayscale RGB bytes: `lo` black, `hi` white.
fn gray(v: &[f64], lo: f64, hi: f64) -> Vec<u8> {
    let span = if hi > lo { hi - lo } else { 1.0 };
    v.iter()
        .flat_map(|&x| {
            let g = if x.is_finite() {
                (((x - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8
            } else {
                0
            };
            [g, g, g]
        })
        .collect()
}

fn images<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[Row],
    r: &Reference,
    shown: usize,
) -> Result<(), DErr> {
    let row = &rows[shown];
    let (h, w) = (r.shape3[1], r.shape3[2]);
    let orig = r.central_slice();
    if h == 0 || w == 0 || orig.len() != h * w || row.slice.len() != h * w {
        return Ok(());
    }
    let err: Vec<f64> = orig
        .iter()
        .zip(&row.slice)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let (lo, hi) = minmax(orig);
    let emax = err.iter().copied().fold(0.0, f64::max);
    let z = r.central_z();
    let panels = area.split_evenly((1, 3));
    let titles = [
        format!("original, slice z={z} ({h}x{w})"),
        format!("decompressed: {}", row.setting.label()),
        format!("|error|: {}", row.setting.label()),
    ];
    let scales = [
        format!("black {} .. white {}", g4(lo), g4(hi)),
        format!("same gray scale: {} .. {}", g4(lo), g4(hi)),
        if emax > 0.0 {
            format!("own scale: black 0 .. white {}", g4(emax))
        } else {
            "zero everywhere (bit-exact)".to_string()
        },
    ];
    let data: [(&[f64], f64, f64, bool); 3] = [
        (orig, lo, hi, false),
        (&row.slice, lo, hi, false),
        (&err, 0.0, emax, true),
    ];
    for (k, p) in panels.iter().enumerate() {
        let (pw, ph) = p.dim_in_pixel();
        let p = p.margin(8, 8, 8, 8);
        p.draw(&Text::new(
            titles[k].clone(),
            (0, 0),
            ("sans-serif", 18).into_font(),
        ))
        .map_err(e2s)?;
        let (aw, ah) = (pw.saturating_sub(16) as f64, ph.saturating_sub(70) as f64);
        let scale = (aw / w as f64).min(ah / h as f64);
        let (ow, oh) = (
            ((w as f64 * scale).floor() as usize).max(1),
            ((h as f64 * scale).floor() as usize).max(1),
        );
        let (src, a, b, pool) = data[k];
        let img = gray(&resample(src, h, w, oh, ow, pool), a, b);
        let x0 = ((aw as usize).saturating_sub(ow) / 2) as i32;
        let bmp = BitMapElement::with_owned_buffer((x0, 26), (ow as u32, oh as u32), img)
            .ok_or("image buffer size")?;
        p.draw(&bmp).map_err(e2s)?;
        p.draw(&Text::new(
            scales[k].clone(),
            (x0, 32 + oh as i32),
            ("sans-serif", 14).into_font(),
        ))
        .map_err(e2s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_keeps_a_single_hot_pixel_when_max_pooling() {
        let mut v = vec![0.0; 100];
        v[37] = 5.0;
        let m = resample(&v, 10, 10, 3, 3, true);
        assert_eq!(m.iter().filter(|&&x| x == 5.0).count(), 1);
        let same = resample(&v, 10, 10, 10, 10, false);
        assert_eq!(same, v);
    }

    #[test]
    fn gray_maps_the_range_to_black_and_white() {
        assert_eq!(
            gray(&[0.0, 10.0, 5.0], 0.0, 10.0),
            vec![0, 0, 0, 255, 255, 255, 128, 128, 128]
        );
    }
}
