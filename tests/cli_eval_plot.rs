//! `h5z-apr eval --plot` and `--datasheet`/`--describe`, through the real binary: the PNG
//! decodes (png crate) and shows exactly the evaluated modes' colours, the SVG parses
//! (Python's xml.etree) with one line per multi-setting mode per chart, the JSON sidecar holds
//! the values eval printed, and the Mini Data-Sheet carries the measured facts and the
//! prompts a --describe file answers.

mod cli_support;
use cli_support::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const LOSSLESS: [u8; 3] = [0x2c, 0xa0, 0x2c];
const ABS: [u8; 3] = [0x1f, 0x77, 0xb4];
const APR: [u8; 3] = [0xd6, 0x27, 0x28];
const NOISE: [u8; 3] = [0x94, 0x67, 0xbd];

/// Decodes an RGB(A) PNG: (width, height, RGB bytes).
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = dec.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let ch = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        c => panic!("unexpected PNG colour type {c:?}"),
    };
    let rgb = buf[..info.buffer_size()]
        .chunks(ch)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

/// Pixels of exactly `color` in rows `y0..y1`.
fn count_color(rgb: &[u8], width: u32, y0: u32, y1: u32, color: [u8; 3]) -> usize {
    let (a, b) = ((y0 * width * 3) as usize, (y1 * width * 3) as usize);
    rgb[a..b].chunks(3).filter(|p| *p == color).count()
}

fn sidecar(plot: &Path) -> Value {
    let mut p = plot.as_os_str().to_owned();
    p.push(".json");
    json(&std::fs::read_to_string(&p).expect("plot sidecar OUT.json"))
}

/// The eval JSON row of a setting.
fn row<'a>(v: &'a Value, label: &str) -> &'a Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["setting"] == label)
        .unwrap_or_else(|| panic!("no row {label}"))
}

/// Checks that every sidecar point carries the numbers eval printed for its setting.
fn sidecar_matches_eval(side: &Value, v: &Value) {
    let sigma = num(&v["input"], "noise_sigma");
    assert_eq!(num(side, "noise_sigma"), sigma);
    for s in side["series"].as_array().unwrap() {
        for p in s["points"].as_array().unwrap() {
            let r = row(v, p["setting"].as_str().unwrap());
            assert_eq!(r["mode"], s["mode"]);
            assert_eq!(num(p, "ratio"), num(r, "ratio"));
            assert_eq!(
                p["psnr_db"], r["psnr_db"],
                "null = infinite for exact copies"
            );
            assert!((num(p, "x_noise") - num(r, "rmse") / sigma).abs() < 1e-12);
        }
    }
}

/// (polylines, circles) per colour, and the number of embedded images, from the parsed SVG.
fn svg_counts(path: &Path) -> Option<Value> {
    let code = r#"
import sys, json, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
lines, circles, images = {}, {}, 0
for el in root.iter():
    tag = el.tag.split('}')[-1]
    if tag == 'polyline':
        c = el.get('stroke', '').lower(); lines[c] = lines.get(c, 0) + 1
    elif tag == 'circle':
        c = el.get('fill', '').lower(); circles[c] = circles.get(c, 0) + 1
    elif tag == 'image':
        images += 1
print(json.dumps({'lines': lines, 'circles': circles, 'images': images,
                  'width': root.get('width'), 'height': root.get('height')}))
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(code)
        .arg(path)
        .output();
    let ok = matches!(&o, Ok(o) if o.status.success());
    if !require(ok, "python3 (to parse the SVG with xml.etree)") {
        return None;
    }
    Some(json(&String::from_utf8_lossy(&o.unwrap().stdout)))
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn count(v: &Value, kind: &str, c: [u8; 3]) -> u64 {
    v[kind][hex(c)].as_u64().unwrap_or(0)
}

#[test]
fn png_and_svg_of_a_real_volume() {
    let Some(f) = data_file("ct_headsq_vtk/headsq_quarter_uint16.npy") else {
        return;
    };
    let d = scratch("eval_plot_real");
    let png_path = d.join("curves.png");
    let args = [
        "eval",
        f.to_str().unwrap(),
        "--mode",
        "lossless,abs,apr",
        "--bound",
        "2,8,32",
        "--rel-error",
        "0.05,0.2",
        "--json",
        "-q",
    ];
    let mut a = args.to_vec();
    a.extend([
        "--plot",
        png_path.to_str().unwrap(),
        "--plot-setting",
        "abs 8",
    ]);
    let v = json(&run_ok(&a));

    let (w, h, rgb) = decode_png(&png_path);
    assert_eq!((w, h), (1500, 1000));
    let side = sidecar(&png_path);
    let modes: Vec<&str> = side["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["lossless", "abs", "apr"], "one curve per mode");
    let npts: Vec<usize> = side["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["points"].as_array().unwrap().len())
        .collect();
    assert_eq!(npts, [1, 3, 2]);
    sidecar_matches_eval(&side, &v);
    // Each evaluated mode's colour is drawn in the charts (top half), lines and markers.
    for c in [LOSSLESS, ABS, APR] {
        let n = count_color(&rgb, w, 0, h / 2, c);
        assert!(n > 100, "colour {} drawn on {n} pixels only", hex(c));
    }
    // The slice shown is the chosen setting; its error respects the abs bound.
    let sl = &side["slice"];
    assert_eq!(sl["setting"], "abs 8");
    assert_eq!(sl["shape"], serde_json::json!([64, 64]));
    assert_eq!(num(sl, "z"), 46.0); // 93 / 2
    let emax = num(sl, "error_max");
    assert!(emax > 0.0 && emax <= num(row(&v, "abs 8"), "max_abs_error"));
    let (glo, ghi) = (
        sl["gray_range"][0].as_f64().unwrap(),
        sl["gray_range"][1].as_f64().unwrap(),
    );
    assert!(num(&v["input"], "min") <= glo && glo < ghi && ghi <= num(&v["input"], "max"));
    // The image row is grayscale: most pixels of the bottom part have r == g == b.
    let bottom: Vec<&[u8]> = rgb[(h as usize / 2 + 60) * w as usize * 3..]
        .chunks(3)
        .collect();
    let gray = bottom
        .iter()
        .filter(|p| p[0] == p[1] && p[1] == p[2])
        .count();
    assert_eq!(gray, bottom.len(), "image row has colour pixels");
    let nonwhite = bottom.iter().filter(|p| p[0] < 250).count();
    assert!(
        nonwhite > 3 * 40 * 40,
        "three slice images drawn ({nonwhite} dark pixels)"
    );

    // The same as SVG (default slice: the last setting).
    let svg_path = d.join("curves.svg");
    let mut a = args.to_vec();
    a.extend(["--plot", svg_path.to_str().unwrap()]);
    run_ok(&a);
    let side = sidecar(&svg_path);
    assert_eq!(
        side["slice"]["setting"], "apr E=0.2",
        "default: the last setting"
    );
    let Some(c) = svg_counts(&svg_path) else {
        return;
    };
    assert_eq!(
        (c["width"].as_str(), c["height"].as_str()),
        (Some("1500"), Some("1000"))
    );
    // abs and apr: a line in each of the 2 charts + 2 legend entries; markers: one per
    // setting per chart. lossless: no line, a marker per chart + 2 legend markers.
    assert_eq!(count(&c, "lines", ABS), 4);
    assert_eq!(count(&c, "lines", APR), 4);
    assert_eq!(count(&c, "lines", LOSSLESS), 0);
    assert_eq!(count(&c, "circles", ABS), 2 * 3);
    assert_eq!(count(&c, "circles", APR), 2 * 2);
    assert_eq!(count(&c, "circles", LOSSLESS), 2 + 2);
    assert_eq!(c["images"], 3, "original, decompressed, error map");
}

/// Writes a little-endian float32 .npy.
fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) {
    let b: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, npy_bytes("<f4", shape, &b)).unwrap();
}

#[test]
fn generated_volume_one_mode_only() {
    // (6, 40, 50) float32: a smooth blob plus deterministic pseudo-noise.
    let d = scratch("eval_plot_gen");
    let f = d.join("blob.npy");
    let shape = [6usize, 40, 50];
    let mut seed = 12345u32;
    let data: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|i| {
            let (z, y, x) = (i / 2000, (i / 50) % 40, i % 50);
            let r2 = ((y as f32 - 20.0).powi(2) + (x as f32 - 25.0).powi(2)) / 100.0;
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            100.0 * (-r2).exp() + z as f32 + 2.0 * noise
        })
        .collect();
    write_npy_f32(&f, &shape, &data);
    let png_path = d.join("abs.png");
    let v = json(&run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--bound",
        "0.5,2",
        "--json",
        "-q",
        "--plot",
        png_path.to_str().unwrap(),
        "--plot-setting",
        "1",
    ]));
    let (w, h, rgb) = decode_png(&png_path);
    let side = sidecar(&png_path);
    assert_eq!(side["series"].as_array().unwrap().len(), 1, "abs only");
    sidecar_matches_eval(&side, &v);
    assert!(count_color(&rgb, w, 0, h / 2, ABS) > 100);
    // Modes not evaluated have no pixels: the colour count can fail.
    assert_eq!(count_color(&rgb, w, 0, h, LOSSLESS), 0);
    assert_eq!(count_color(&rgb, w, 0, h, APR), 0);
    let sl = &side["slice"];
    assert_eq!(sl["setting"], "abs 0.5");
    assert_eq!(sl["shape"], serde_json::json!([40, 50]));
    assert_eq!(num(sl, "z"), 3.0);
    let e = num(sl, "error_max");
    assert!(
        e > 0.0 && e <= 0.5 * (1.0 + 1e-6),
        "abs 0.5: slice error {e}"
    );
}

#[test]
fn plot_arguments_are_checked_before_evaluating() {
    let d = scratch("eval_plot_args");
    let missing = d.join("does-not-exist.npy");
    let m = missing.to_str().unwrap();
    // Usage errors (exit 2) even though the input does not exist: nothing is evaluated.
    let jpg = d.join("x.jpg");
    for (args, needle) in [
        (
            vec!["eval", m, "--plot", jpg.to_str().unwrap()],
            "must end in .png or .svg",
        ),
        (
            vec![
                "eval",
                m,
                "--bound",
                "1,2",
                "--plot",
                "x.png",
                "--plot-setting",
                "abs 3",
            ],
            "abs 1, abs 2",
        ),
        (
            vec![
                "eval",
                m,
                "--bound",
                "1",
                "--plot",
                "x.png",
                "--plot-setting",
                "2",
            ],
            "no such setting",
        ),
        (vec!["eval", m, "--plot-setting", "1"], "--plot"),
        (vec!["eval", m, "--describe", "d.toml"], "--datasheet"),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    assert!(!jpg.exists());

    // No usable font: a clear runtime error (exit 1) naming the fix, before evaluating.
    let png = d.join("x.png");
    let o = Command::new(bin())
        .args(["eval", m, "--plot", png.to_str().unwrap()])
        .env("H5Z_APR_FONT", d.join("no-such-font.ttf"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("fonts-dejavu-core") && e.contains("no-such-font.ttf"),
        "{e}"
    );
    assert!(!png.exists());
}

const PROMPTS: [&str; 9] = [
    "For what purpose was the dataset created?",
    "Who created the dataset?",
    "Who funded the creation of the dataset?",
    "What do the instances (volumes, slices, voxels) represent?",
    "What physical quantity and units do the values carry, and what is the voxel size?",
    "What mechanisms or procedures were used to collect the data?",
    "Over what timeframe was the data collected?",
    "Was any preprocessing/cleaning/labeling done?",
    "Are there any post-processing steps, i.e. signal reconstruction algorithms, applied?",
];

const SECTIONS: [&str; 4] = [
    "\n## Motivation\n",
    "\n## Composition\n",
    "\n## Collection Process\n",
    "\n## Preprocessing and Postprocessing\n",
];

#[test]
fn datasheet_sections_prompts_and_measured_facts() {
    let Some(f) = data_file("ct_headsq_vtk/headsq_quarter_uint16.npy") else {
        return;
    };
    let d = scratch("eval_datasheet");
    let sheet = d.join("sheet.md");
    let v = json(&run_ok(&[
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
    ]));
    let md = std::fs::read_to_string(&sheet).unwrap();
    // The four sections, in order.
    let pos: Vec<usize> = SECTIONS
        .iter()
        .map(|s| {
            md.find(s)
                .unwrap_or_else(|| panic!("no section {s:?}:\n{md}"))
        })
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "sections out of order");
    // Every question present and unanswered.
    for q in PROMPTS {
        assert!(
            md.contains(&format!("**{q}**\n\n_Not answered yet:")),
            "{q}:\n{md}"
        );
    }
    // Measured facts, as eval printed them in JSON.
    let inp = &v["input"];
    let sigma = num(inp, "noise_sigma");
    assert!(
        (10.0..100.0).contains(&sigma),
        "format below assumes 2 decimals"
    );
    let l = row(&v, "lossless");
    let range = num(inp, "max") - num(inp, "min");
    for needle in [
        "| format | NumPy .npy array |".to_string(),
        format!("| dtype | {} |", inp["dtype"].as_str().unwrap()),
        "| shape | (93, 64, 64) |".into(),
        format!(
            "| value range | {} .. {} ",
            num(inp, "min"),
            num(inp, "max")
        ),
        format!("| noise sigma (est.) | {sigma:.2} |"),
        format!(
            "≈ {:.1} bits of signal above the noise",
            (range / sigma).log2()
        ),
        format!("| redundancy (lossless ratio) | {:.2}x", num(l, "ratio")),
        format!("- **lossless**: {:.2}x smaller, bit-exact", num(l, "ratio")),
    ] {
        assert!(md.contains(&needle), "datasheet lacks {needle:?}:\n{md}");
    }
    assert_eq!(inp["shape"], serde_json::json!([93, 64, 64]));
    for r in v["results"].as_array().unwrap() {
        let label = r["setting"].as_str().unwrap();
        let line = format!("| {label} | {:.2} |", num(r, "ratio"));
        assert!(md.contains(&line), "quality table lacks {line:?}");
    }
    // The measured part sits in its section: facts under Composition, compression under
    // Preprocessing and Postprocessing.
    let facts = md.find("| noise sigma (est.) |").unwrap();
    assert!(pos[1] < facts && facts < pos[2]);
    assert!(md.find("#### Measured quality").unwrap() > pos[3]);

    // A describe file answers some questions; the rest stay prompts. `--datasheet -` prints
    // the datasheet to stdout.
    let toml = d.join("describe.toml");
    std::fs::write(
        &toml,
        "[motivation]\npurpose = \"Sample volume for teaching CT visualisation.\"\n\
         creators = '''VTK project\n(headsq sample)'''\n\
         [processing]\npostprocessing = \"Filtered back-projection on the scanner.\"\n",
    )
    .unwrap();
    let md2 = run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--bound",
        "8",
        "-q",
        "--no-downstream",
        "--datasheet",
        "-",
        "--describe",
        toml.to_str().unwrap(),
    ]);
    assert!(
        md2.starts_with("# Datasheet: `headsq_quarter_uint16.npy`"),
        "{md2}"
    );
    for (q, a) in [
        (PROMPTS[0], "Sample volume for teaching CT visualisation."),
        (PROMPTS[1], "VTK project\n(headsq sample)"),
        (PROMPTS[8], "Filtered back-projection on the scanner."),
    ] {
        assert!(
            md2.contains(&format!("**{q}**\n\n{a}\n")),
            "{q} -> {a}:\n{md2}"
        );
    }
    for q in &PROMPTS[2..8] {
        assert!(
            md2.contains(&format!("**{q}**\n\n_Not answered yet:")),
            "{q}"
        );
    }
    assert_eq!(md2.matches("_Not answered yet:").count(), 6);
    assert!(md2.contains("describe.toml"), "names the answers' source");

    // A typo in a key is an error, not a silently unanswered question.
    std::fs::write(&toml, "[motivation]\npurpse = \"x\"\n").unwrap();
    let o = run(&[
        "eval",
        f.to_str().unwrap(),
        "-q",
        "--datasheet",
        "-",
        "--describe",
        toml.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown key motivation.purpse"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

/// Noise-mode rows get their own curve (purple) next to abs, on a generated u16 volume.
#[test]
fn noise_rows_are_a_curve_of_their_own() {
    let d = scratch("eval_plot_noise");
    let f = d.join("u16.npy");
    let shape = [8usize, 48, 64];
    let mut seed = 99u32;
    let data: Vec<u8> = (0..shape.iter().product::<usize>())
        .flat_map(|i| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let g = (seed >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
            let mean = 200.0 + 20.0 * (i % 64) as f64;
            ((mean + 2.0 * mean.sqrt() * g) as u16).to_le_bytes()
        })
        .collect();
    std::fs::write(&f, npy_bytes("<u2", &shape, &data)).unwrap();
    let png_path = d.join("noise.png");
    let v = json(&run_ok(&[
        "eval",
        f.to_str().unwrap(),
        "--mode",
        "abs,noise",
        "--bound",
        "4",
        "--k",
        "0.5,1",
        "--json",
        "-q",
        "--no-downstream",
        "--plot",
        png_path.to_str().unwrap(),
    ]));
    let (w, h, rgb) = decode_png(&png_path);
    let side = sidecar(&png_path);
    let modes: Vec<&str> = side["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["abs", "noise"]);
    assert_eq!(side["series"][1]["points"].as_array().unwrap().len(), 2);
    sidecar_matches_eval(&side, &v);
    assert!(count_color(&rgb, w, 0, h / 2, NOISE) > 100);
    assert_eq!(count_color(&rgb, w, 0, h, APR), 0);
    assert_eq!(side["slice"]["setting"], "noise k=1");
}
