//! Command-line arguments (clap derive) and their checks beyond what clap validates.

use clap::{Args, Parser, Subcommand, ValueEnum};
use h5z_apr::codec::AprCoding;
use h5z_apr::settings::{Settings, DEFAULT_EFFORT};
use h5z_apr::Mode;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "h5z-apr",
    version,
    about = "Evaluate the APR HDF5 compression filter (ID 47815) on your own data, build its cd_values, and compress files with it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Compress a dataset chunk by chunk and report size, quality, speed and downstream effects.
    #[command(
        after_help = "Examples:\n  h5z-apr eval nuclei.npy --mode abs --bound 1,10,100\n  \
                      h5z-apr eval scan.h5:/entry/data --mode lossless,abs,apr --bound 4 --rel-error 0.1 --json\n  \
                      h5z-apr eval psf.npy --rel-error 0.05,0.1,0.2 --datasheet psf.md --describe psf.toml\n  \
                      h5z-apr eval nuclei.npy --mode abs,noise --bound 4,16 --k 0.25,0.5,1\n  \
                      h5z-apr eval nuclei.npy --mode lossless,abs,apr --bound 1,4,16 --rel-error 0.05,0.2 --plot nuclei.png"
    )]
    Eval(EvalArgs),
    /// Print the h5py compression_opts and h5repack -f arguments for some settings (or decode them).
    #[command(
        after_help = "cd_values layout: cd[0] mode (0 lossless, 1 abs, 2 apr, 3 noise); value = cd[1] x 10^-cd[2];\n\
                      optional cd[3] entropy effort 1..22 (default 3).\n\
                      Examples:\n  h5z-apr cd-values --mode abs --bound 0.5\n  \
                      h5z-apr cd-values --mode apr --rel-error 0.1 --effort 9\n  \
                      h5z-apr cd-values --mode noise --k 0.5\n  \
                      h5z-apr cd-values --decode 1,5,4"
    )]
    CdValues(CdArgs),
    /// Compress a .npy, a multi-page TIFF stack or an HDF5 dataset into an HDF5 file (filter 47815).
    #[command(
        after_help = "The output is an ordinary chunked HDF5 dataset with filter 47815 (h5py, h5dump and\n\
                      h5repack read it with HDF5_PLUGIN_PATH pointing at the plugin). Chunks are compressed\n\
                      on --threads workers and written in order with H5Dwrite_chunk; memory stays a few\n\
                      chunks per thread. The file appears only when complete.\n\
                      Examples:\n  h5z-apr compress stack.tif stack.h5 --mode abs --bound 4\n  \
                      h5z-apr compress scan.npy out.h5:/entry/data --mode lossless --chunks 16,256,256 --threads 8\n  \
                      h5z-apr compress raw.h5:/data apr.h5 --mode apr --rel-error 0.1"
    )]
    Compress(CompressArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeArg {
    /// bit-exact
    Lossless,
    /// pointwise absolute error bound (--bound)
    Abs,
    /// LibAPR relative error E (--rel-error)
    Apr,
    /// |err| <= k * sigma(I), sigma^2 = a*I + b fitted per tile (--k; integer dtypes)
    Noise,
    /// apr coded as LibAPR's particle cells (--rel-error; cd_values mode 4): smaller on sparse
    /// data, E*sigma_local a target, not a guarantee
    AprParticles,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// FILE.npy, or an HDF5 FILE[:/path/to/dataset] (the dataset may be omitted when the file holds only one)
    #[arg(value_name = "FILE[:/dataset]")]
    pub input: String,
    /// Modes to evaluate, comma-separated or repeated [default: abs if --bound is given, apr if
    /// --rel-error is given, noise if --k is given, else lossless]
    #[arg(long, value_enum, value_delimiter = ',')]
    pub mode: Vec<ModeArg>,
    /// Absolute error bound(s) for --mode abs, comma-separated (one row each)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "B[,B..]",
        allow_negative_numbers = true
    )]
    pub bound: Vec<f64>,
    /// Relative error(s) E for --mode apr, comma-separated (one row each)
    #[arg(
        long = "rel-error",
        value_delimiter = ',',
        value_name = "E[,E..]",
        allow_negative_numbers = true
    )]
    pub rel_error: Vec<f64>,
    /// Noise factor(s) k for --mode noise, comma-separated (one row each): |err| <= k*sigma(I)
    #[arg(
        long = "k",
        value_delimiter = ',',
        value_name = "K[,K..]",
        allow_negative_numbers = true
    )]
    pub k: Vec<f64>,
    /// Entropy-coder effort 1..22
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=22))]
    pub effort: i32,
    /// Chunk shape, comma-separated, one entry per axis [default: the dataset's HDF5 chunks, else
    /// 16,256,256 on the last three axes clipped to the shape, 1 on leading axes]
    #[arg(long, value_delimiter = ',', value_name = "N,N,..")]
    pub chunks: Vec<usize>,
    /// Print JSON instead of tables
    #[arg(long)]
    pub json: bool,
    /// Also write a Markdown datasheet (Mini Data-Sheet layout: Motivation, Composition,
    /// Collection Process, Preprocessing and Postprocessing) to this file; `-` prints it to
    /// stdout instead of the report
    #[arg(long, value_name = "OUT.md|-")]
    pub datasheet: Option<PathBuf>,
    /// TOML file answering the datasheet questions the tool cannot measure, e.g.
    /// `[motivation] purpose = "..."`; each unanswered prompt in the datasheet names its key
    #[arg(long, value_name = "FILE.toml", requires = "datasheet")]
    pub describe: Option<PathBuf>,
    /// Draw compression ratio against PSNR and against RMSE/noise (one curve per mode) and the
    /// central slice (original, decompressed, |error|) to this .png or .svg; the plotted values
    /// also go to OUT.json next to it (OUT.png.json)
    #[arg(long, value_name = "OUT.png|OUT.svg")]
    pub plot: Option<PathBuf>,
    /// Setting whose central slice --plot shows: 1-based number in the order evaluated, or its
    /// label as printed (e.g. "abs 8", "apr E=0.1") [default: the last]
    #[arg(long, value_name = "N|LABEL", requires = "plot")]
    pub plot_setting: Option<String>,
    /// Skip the segmentation-based (downstream) observables
    #[arg(long)]
    pub no_downstream: bool,
    /// Count only objects of at least this many voxels in the downstream segmentation (default:
    /// a 3x3x3 cube; smaller specks are mostly noise). Foreground and Dice use every voxel.
    #[arg(long, default_value_t = 27, value_name = "N")]
    pub min_object_voxels: usize,
    /// No progress bar on stderr
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct CdArgs {
    /// Compression mode
    #[arg(long, value_enum, required_unless_present = "decode")]
    pub mode: Option<ModeArg>,
    /// Absolute error bound (abs mode), as a decimal number, e.g. 0.5
    #[arg(long, value_name = "B")]
    pub bound: Option<String>,
    /// Relative error E (apr mode), as a decimal number, e.g. 0.1
    #[arg(long = "rel-error", value_name = "E")]
    pub rel_error: Option<String>,
    /// Noise factor k (noise mode), as a decimal number, e.g. 0.5
    #[arg(long = "k", value_name = "K")]
    pub k: Option<String>,
    /// Entropy-coder effort 1..22 (written to cd[3]; omitted means 3)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=22))]
    pub effort: Option<u32>,
    /// Decode cd_values instead, e.g. "1,5,4", "(1, 5, 4)" or "UD=47815,0,3,1,5,4"
    #[arg(long, value_name = "CD", allow_hyphen_values = true, conflicts_with_all = ["mode", "bound", "rel_error", "k", "effort"])]
    pub decode: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// The mode's name as the CLI spells it (`--mode`); apr coded as particle cells is
/// apr-particles (cd_values mode 4).
pub fn mode_name(mode: Mode, coding: AprCoding) -> &'static str {
    match mode {
        Mode::Lossless => "lossless",
        Mode::Abs(_) => "abs",
        Mode::Apr(_) if coding == AprCoding::Particles => "apr-particles",
        Mode::Apr(_) => "apr",
        Mode::Noise(_) => "noise",
    }
}

/// Row label of a setting: "lossless", "abs 4", "apr E=0.1", "apr-particles E=0.1", "noise k=0.5".
pub fn setting_label(s: &Settings) -> String {
    let name = mode_name(s.mode, s.apr_coding);
    match s.mode {
        Mode::Lossless => name.into(),
        Mode::Abs(b) => format!("{name} {b}"),
        Mode::Apr(e) => format!("{name} E={e}"),
        Mode::Noise(k) => format!("{name} k={k}"),
    }
}

/// One evaluated setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub mode: Mode,
    pub effort: i32,
    /// How apr mode codes its tiles (particle cells: apr-particles, cd_values mode 4).
    pub apr_coding: AprCoding,
}

impl Setting {
    #[cfg(test)]
    pub fn new(mode: Mode, effort: i32) -> Self {
        Setting {
            mode,
            effort,
            apr_coding: AprCoding::Pointwise,
        }
    }
    /// As library settings; the effort counts as chosen when it is not the default.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::new(
            self.mode,
            (self.effort != DEFAULT_EFFORT as i32).then_some(self.effort),
        );
        s.apr_coding = self.apr_coding;
        s
    }
    /// The mode's name as the CLI spells it (`--mode`).
    pub fn mode_name(&self) -> &'static str {
        mode_name(self.mode, self.apr_coding)
    }
    pub fn label(&self) -> String {
        setting_label(&self.settings())
    }
}

/// Expands modes x values into the list of settings; errors are usage errors (exit code 2).
pub fn settings(a: &EvalArgs) -> Result<Vec<Setting>, String> {
    let mut modes = a.mode.clone();
    if modes.is_empty() {
        if !a.bound.is_empty() {
            modes.push(ModeArg::Abs);
        }
        if !a.rel_error.is_empty() {
            modes.push(ModeArg::Apr);
        }
        if !a.k.is_empty() {
            modes.push(ModeArg::Noise);
        }
        if modes.is_empty() {
            modes.push(ModeArg::Lossless);
        }
    }
    let has = |m| modes.contains(&m);
    if has(ModeArg::Abs) && a.bound.is_empty() {
        return Err("--mode abs needs --bound B[,B..]".into());
    }
    if has(ModeArg::Apr) && a.rel_error.is_empty() {
        return Err("--mode apr needs --rel-error E[,E..]".into());
    }
    if has(ModeArg::AprParticles) && a.rel_error.is_empty() {
        return Err("--mode apr-particles needs --rel-error E[,E..]".into());
    }
    if has(ModeArg::Noise) && a.k.is_empty() {
        return Err("--mode noise needs --k K[,K..]".into());
    }
    if !has(ModeArg::Noise) && !a.k.is_empty() {
        return Err("--k is only used with --mode noise".into());
    }
    if !has(ModeArg::Abs) && !a.bound.is_empty() {
        return Err("--bound is only used with --mode abs".into());
    }
    if !has(ModeArg::Apr) && !has(ModeArg::AprParticles) && !a.rel_error.is_empty() {
        return Err("--rel-error is only used with --mode apr or apr-particles".into());
    }
    let check = |flag: &str, mode: Mode| {
        let s = Settings::new(mode, None);
        s.config()
            .map(drop)
            .map_err(|e| format!("{flag}: {}", e.message()))
    };
    for &b in &a.bound {
        check("--bound", Mode::Abs(b))?;
    }
    for &e in &a.rel_error {
        check("--rel-error", Mode::Apr(e))?;
    }
    for &k in &a.k {
        check("--k", Mode::Noise(k))?;
    }
    if a.chunks.contains(&0) {
        return Err("--chunks entries must be >= 1".into());
    }
    let mut out: Vec<Setting> = Vec::new();
    let mut push_with = |mode, apr_coding| {
        let s = Setting {
            mode,
            effort: a.effort,
            apr_coding,
        };
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for m in &modes {
        let pointwise = AprCoding::Pointwise;
        match m {
            ModeArg::Lossless => push_with(Mode::Lossless, pointwise),
            ModeArg::Abs => a
                .bound
                .iter()
                .for_each(|&b| push_with(Mode::Abs(b), pointwise)),
            ModeArg::Apr => a
                .rel_error
                .iter()
                .for_each(|&e| push_with(Mode::Apr(e), pointwise)),
            ModeArg::Noise => {
                a.k.iter()
                    .for_each(|&k| push_with(Mode::Noise(k), pointwise))
            }
            ModeArg::AprParticles => a
                .rel_error
                .iter()
                .for_each(|&e| push_with(Mode::Apr(e), AprCoding::Particles)),
        }
    }
    Ok(out)
}

#[derive(Args, Debug)]
pub struct CompressArgs {
    /// FILE.npy, a multi-page TIFF, or an HDF5 FILE[:/path/to/dataset]
    #[arg(value_name = "INPUT[:/dataset]")]
    pub input: String,
    /// Output HDF5 file, optionally with the dataset path [default dataset: /data]
    #[arg(value_name = "OUTPUT.h5[:/path]")]
    pub output: String,
    /// Compression mode [default: abs if --bound is given, apr if --rel-error is given, noise if
    /// --k is given, else lossless]
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Absolute error bound for --mode abs
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    pub bound: Option<f64>,
    /// Relative error E for --mode apr
    #[arg(long = "rel-error", value_name = "E", allow_negative_numbers = true)]
    pub rel_error: Option<f64>,
    /// Noise factor k for --mode noise (|err| <= k*sigma(I); integer dtypes)
    #[arg(long = "k", value_name = "K", allow_negative_numbers = true)]
    pub k: Option<f64>,
    /// Entropy-coder effort 1..22 [default: 3]
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=22))]
    pub effort: Option<i32>,
    /// Chunk shape, comma-separated, one entry per axis [default: the input's HDF5 chunks, else
    /// 16,256,256 on the last three axes clipped to the shape, 1 on leading axes]
    #[arg(long, value_delimiter = ',', value_name = "N,N,..")]
    pub chunks: Vec<usize>,
    /// Worker threads compressing chunks [default: available cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096), value_name = "N")]
    pub threads: Option<u64>,
    /// Replace OUTPUT if it exists
    #[arg(long)]
    pub overwrite: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
    /// No progress bar on stderr
    #[arg(long, short)]
    pub quiet: bool,
}
