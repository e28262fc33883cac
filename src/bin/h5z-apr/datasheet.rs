//! `eval --datasheet`: a Markdown datasheet in the facility's Mini Data-Sheet layout
//! (Motivation, Composition, Collection Process, Preprocessing and Postprocessing). What the
//! tool measures is filled in; what it cannot know is left as a prompt, unless a
//! `--describe FILE.toml` answers it.

use crate::cdvals;
use crate::eval::{Reference, Row};
use crate::input::Input;
use crate::report::{
    describe, downstream_rows, g4, md_table, quality_rows, tuple, DOWNSTREAM_HEADERS,
    QUALITY_HEADERS,
};
use h5z_apr::Mode;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The questions only a person can answer: (TOML table, key, question).
pub const QUESTIONS: [(&str, &str, &str); 9] = [
    (
        "motivation",
        "purpose",
        "For what purpose was the dataset created?",
    ),
    ("motivation", "creators", "Who created the dataset?"),
    (
        "motivation",
        "funding",
        "Who funded the creation of the dataset?",
    ),
    (
        "composition",
        "instances",
        "What do the instances (volumes, slices, voxels) represent?",
    ),
    (
        "composition",
        "units",
        "What physical quantity and units do the values carry, and what is the voxel size?",
    ),
    (
        "collection",
        "mechanisms",
        "What mechanisms or procedures were used to collect the data?",
    ),
    (
        "collection",
        "timeframe",
        "Over what timeframe was the data collected?",
    ),
    (
        "processing",
        "preprocessing",
        "Was any preprocessing/cleaning/labeling done?",
    ),
    (
        "processing",
        "postprocessing",
        "Are there any post-processing steps, i.e. signal reconstruction algorithms, applied?",
    ),
];

/// Answers from a `--describe` file, keyed by "table.key".
#[derive(Default)]
pub struct Answers {
    map: BTreeMap<String, String>,
    source: Option<String>,
}

fn valid_keys() -> String {
    QUESTIONS
        .iter()
        .map(|(t, k, _)| format!("{t}.{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Answers {
    /// Parses a describe file: tables `[motivation]`, `[composition]`, `[collection]`,
    /// `[processing]` with string values; any other key is an error (a typo would otherwise
    /// silently leave its question unanswered).
    pub fn parse(text: &str, name: &str) -> Result<Answers, String> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("{name}: {}", e.message()))?;
        let mut map = BTreeMap::new();
        for (table, v) in &doc {
            let Some(t) = v.as_table() else {
                return Err(format!(
                    "{name}: `{table}` must be a table such as [motivation]; keys: {}",
                    valid_keys()
                ));
            };
            for (key, val) in t {
                if !QUESTIONS.iter().any(|(a, b, _)| a == table && b == key) {
                    return Err(format!(
                        "{name}: unknown key {table}.{key}; keys: {}",
                        valid_keys()
                    ));
                }
                let Some(s) = val.as_str() else {
                    return Err(format!("{name}: {table}.{key} must be a string"));
                };
                if !s.trim().is_empty() {
                    map.insert(format!("{table}.{key}"), s.trim().to_string());
                }
            }
        }
        Ok(Answers {
            map,
            source: Some(name.to_string()),
        })
    }

    pub fn load(path: &Path) -> Result<Answers, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--describe {}: {e}", path.display()))?;
        Answers::parse(&text, &path.display().to_string())
    }
}

/// The prompt left for an unanswered question (tests look for this marker).
pub const UNANSWERED: &str = "_Not answered yet:";

fn questions(o: &mut String, table: &str, a: &Answers) {
    for (t, k, q) in QUESTIONS.iter().filter(|(t, _, _)| *t == table) {
        let _ = write!(o, "**{q}**\n\n");
        match a.map.get(&format!("{t}.{k}")) {
            Some(ans) => {
                *o += ans;
                *o += "\n\n";
            }
            None => {
                let _ = write!(
                    o,
                    "{UNANSWERED} set `{k} = \"...\"` under `[{t}]` in a `--describe FILE.toml`._\n\n"
                );
            }
        }
    }
}

fn format_of(input: &Input) -> String {
    match &input.dataset {
        None => "NumPy .npy array".into(),
        Some(d) => {
            let mut s = format!("HDF5 dataset `{d}`");
            match &input.chunks {
                Some(c) => s += &format!(", chunked {}", tuple(c)),
                None => s += ", contiguous",
            }
            s
        }
    }
}

/// Measured facts about the data itself.
fn composition_facts(input: &Input, r: &Reference, rows: &[Row]) -> Vec<Vec<String>> {
    let mut facts: Vec<Vec<String>> = vec![vec!["format".into(), format_of(input)]];
    facts.extend(
        describe(input, r)
            .into_iter()
            .map(|(k, v)| vec![k.to_string(), v]),
    );
    facts[1][1] = format!("`{}`", facts[1][1]);
    facts.push(vec![
        "noise estimator".into(),
        r.noise_estimator.to_string(),
    ]);
    let range = r.summary.max - r.summary.min;
    if r.noise_sigma > 0.0 && range > 0.0 {
        facts.push(vec![
            "signal above the noise".into(),
            format!(
                "range / σ = {} ≈ {:.1} bits of signal above the noise per value ({} bits stored)",
                g4(range / r.noise_sigma),
                (range / r.noise_sigma).log2(),
                8 * input.dtype.size()
            ),
        ]);
    }
    let lossless = rows.iter().find(|x| x.setting.mode == Mode::Lossless);
    facts.push(vec![
        "redundancy (lossless ratio)".into(),
        match lossless {
            Some(l) => format!(
                "{:.2}x: bit-exact storage needs {:.1} % of the raw size",
                l.ratio(),
                100.0 / l.ratio()
            ),
            None => "not measured (add `--mode lossless`)".into(),
        },
    ]);
    facts
}

/// The datasheet. `answers` fill the prompts; without them every prompt is left open.
pub fn render(
    input: &Input,
    chunks: &[usize],
    r: &Reference,
    rows: &[Row],
    answers: &Answers,
) -> String {
    let name = input
        .file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = match &input.dataset {
        Some(d) => format!("{name}:{d}"),
        None => name,
    };
    let mut o = format!(
        "# Datasheet: `{name}`\n\nMini Data-Sheet. Measured values are filled in by `h5z-apr eval` {} \
         (HDF5 filter 47815, APR codec); the questions only the data's owners can answer are {}.\n\n",
        h5z_apr::VERSION,
        match &answers.source {
            Some(s) => format!("answered from `{s}` where it has an answer"),
            None => "left as prompts (answer them once with `--describe FILE.toml`)".into(),
        }
    );
    o += "## Motivation\n\n";
    questions(&mut o, "motivation", answers);

    o += "## Composition\n\n";
    questions(&mut o, "composition", answers);
    o += "### Measured by h5z-apr eval\n\n";
    o += &md_table(
        &["property", "value"],
        &composition_facts(input, r, rows),
        false,
    );
    o += "\n## Collection Process\n\n";
    questions(&mut o, "collection", answers);

    o += "## Preprocessing and Postprocessing\n\n";
    questions(&mut o, "processing", answers);
    let _ = write!(
        o,
        "### What compression does to it (measured)\n\nEach setting compressed and decompressed \
         chunk by chunk as the HDF5 filter does, chunks {}, {} chunks.\n\n#### Summary\n\n",
        tuple(chunks),
        rows.first().map(|x| x.chunk_count).unwrap_or(0)
    );
    for row in rows {
        o += &format!("- {}\n", summary_line(row, r));
    }
    o += "\n#### Settings\n\n";
    let settings: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let (py, rp) = match cdvals::for_setting(&row.setting) {
                Ok(cd) => (
                    format!(
                        "`compression=47815, compression_opts={}`",
                        cdvals::py_tuple(&cd)
                    ),
                    format!("`-f {}`", cdvals::h5repack_arg(&cd)),
                ),
                Err(e) => (e.clone(), e),
            };
            vec![row.setting.label(), py, rp]
        })
        .collect();
    o += &md_table(&["setting", "h5py", "h5repack"], &settings, false);
    o += "\n#### Measured quality\n\n";
    o += &md_table(&QUALITY_HEADERS, &quality_rows(rows, r), true);
    if rows.iter().any(|x| x.lis.is_some() || x.noise.is_some()) {
        o += "\n";
        o += crate::report::POINTWISE_NOTE;
        o += "\n";
    }
    let d = downstream_rows(rows);
    if !d.is_empty() {
        let _ = write!(
            o,
            "\n#### Downstream observables\n\nOtsu threshold, then 6-connected components (objects of at \
             least {} voxels), applied the same way to the original and to the decompressed volume.\n\n",
            r.min_object_voxels
        );
        o += &md_table(&DOWNSTREAM_HEADERS, &d, true);
    }
    o += "\n#### How to read this\n\n\
- **ratio**: raw bytes / bytes of the compressed chunks, as HDF5 stores them with these chunks.\n\
- **PSNR**: 10 log10(range² / MSE), range = max - min of the original. **SSIM**: per 2-D slice \
  (7x7 window), mean and worst slice; 1 = identical.\n\
- **RMSE/noise**: RMS error divided by the estimated noise σ of the data. Below 1, the loss is \
  smaller than the noise already in the measurement.\n\
- **Dice**: overlap of the foreground masks (1 = same voxels). **objects**: connected components \
  before -> after. **foreground change**: relative change of segmented volume. **histogram W1**: \
  earth mover's distance between the intensity distributions, in intensity units (≤ mean error).\n\
- **MB/s**: single thread, raw chunk bytes per second; on another machine these differ.\n";
    o
}

/// One sentence per setting: size, loss against the noise, effect on the segmentation.
fn summary_line(row: &Row, r: &Reference) -> String {
    let mut s = format!("**{}**: {:.2}x smaller", row.setting.label(), row.ratio());
    if row.err.max_abs == 0.0 {
        s += ", bit-exact";
    } else {
        s += &format!(", max error {}", g4(row.err.max_abs));
        if let Some(l) = row.lis {
            s += &format!(
                ", max |I - I'|/sigma_local {:.4} for E = {} ({:.4}% of pixels beyond E·sigma_local)",
                l.max_err_over_sigma,
                l.rel_error,
                100.0 * l.violation_fraction()
            );
        }
        if let Some(n) = row.noise {
            s += &format!(
                ", max |I - I'|/sigma(I) {:.4} for k = {} ({:.4}% of elements beyond k·sigma(I), \
                 sigma(I)² = a·I + b fitted per tile)",
                n.max_err_over_sigma,
                n.k,
                100.0 * n.violation_fraction()
            );
        }
        if r.noise_sigma > 0.0 {
            let k = row.err.rmse() / r.noise_sigma;
            s += &format!(
                ", RMS error {:.3} x the noise σ ({})",
                k,
                if k < 1.0 {
                    "below the noise"
                } else {
                    "above the noise"
                }
            );
        }
    }
    if let Some(d) = &row.downstream {
        s += &format!(
            "; segmentation Dice {:.4}, objects {} -> {}, foreground {:+.2} %",
            d.dice,
            d.objects_orig,
            d.objects_recon,
            d.foreground_change_pct()
        );
    }
    s + "."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_file_is_checked() {
        let a = Answers::parse(
            "[motivation]\npurpose = \"teaching\"\n[processing]\npostprocessing = \"FBP\"\n",
            "d.toml",
        )
        .unwrap();
        assert_eq!(a.map["motivation.purpose"], "teaching");
        assert_eq!(a.map["processing.postprocessing"], "FBP");
        let e = Answers::parse("[motivation]\npurpos = \"x\"\n", "d.toml")
            .err()
            .unwrap();
        assert!(e.contains("unknown key motivation.purpos"), "{e}");
        let e = Answers::parse("purpose = \"x\"\n", "d.toml").err().unwrap();
        assert!(e.contains("must be a table"), "{e}");
        let e = Answers::parse("[motivation]\npurpose = 3\n", "d.toml")
            .err()
            .unwrap();
        assert!(e.contains("must be a string"), "{e}");
        assert!(Answers::parse("[motivation\n", "d.toml").is_err());
    }
}
