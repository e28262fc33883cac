//! `h5z-apr`: evaluate the APR HDF5 filter on your own data (`eval`), build its
//! cd_values (`cd-values`) and compress data into HDF5 files (`compress`). Exit codes:
//! 0 success, 1 runtime error (missing file or dataset, unsupported dtype, codec failure),
//! 2 bad arguments. Errors are one line on stderr.

mod args;
mod cdvals;
mod compress;
mod datasheet;
mod eval;
mod input;
mod metrics;
mod npy;
mod plot;
mod progress;
mod report;
mod source;

use args::{Cli, Cmd, EvalArgs};
use clap::error::ErrorKind;
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

enum Failure {
    /// Bad arguments: exit code 2.
    Usage(String),
    /// Anything else: exit code 1.
    Runtime(String),
}

/// A bug (panic) is reported as one line with its location, unless RUST_BACKTRACE asks for
/// the full trace.
fn install_panic_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "h5z-apr: internal error{at}: {} (a bug; please report it, RUST_BACKTRACE=1 for details)",
            msg.replace('\n', " ")
        );
    }));
}

fn main() -> ExitCode {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                _ => fail(Failure::Usage(clap_one_line(&e))),
            }
        }
    };
    if matches!(cli.cmd, Cmd::Compress(_)) {
        compress::tune_malloc();
    }
    let r = match &cli.cmd {
        Cmd::Eval(a) => run_eval(a),
        Cmd::CdValues(a) => cdvals::run(a)
            .map(|s| print!("{s}"))
            .map_err(|cdvals::CdError::Usage(m)| Failure::Usage(m)),
        Cmd::Compress(a) => compress::run(a).map_err(|e| match e {
            compress::Error::Usage(m) => Failure::Usage(m),
            compress::Error::Runtime(m) => Failure::Runtime(m),
        }),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(f),
    }
}

/// First line of a clap error, without clap's "error: " prefix.
fn clap_one_line(e: &clap::Error) -> String {
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        || e.kind() == ErrorKind::MissingSubcommand
    {
        return "a subcommand is required: eval, cd-values or compress (see h5z-apr --help)".into();
    }
    let text = e.render().to_string();
    // First paragraph (clap puts the offending argument on an indented second line).
    let para: Vec<&str> = text
        .trim_start()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let first = para.join(" ");
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    format!("{first} (see --help)")
}

fn fail(f: Failure) -> ExitCode {
    let (msg, code) = match f {
        Failure::Usage(m) => (m, 2),
        Failure::Runtime(m) => (m, 1),
    };
    let msg = msg.replace('\n', " ");
    let _ = writeln!(std::io::stderr(), "h5z-apr: error: {msg}");
    ExitCode::from(code)
}

fn report_of(
    a: &EvalArgs,
    input: &input::Input,
    chunks: &[usize],
    reference: &eval::Reference,
    rows: &[eval::Row],
) -> String {
    if a.json {
        report::json(input, chunks, reference, rows)
    } else {
        report::text(input, chunks, reference, rows)
    }
}

fn run_eval(a: &EvalArgs) -> Result<(), Failure> {
    let settings = args::settings(a).map_err(Failure::Usage)?;
    if let Some(p) = &a.plot {
        plot::check_path(p).map_err(Failure::Usage)?;
        // No font: fail before the (possibly long) evaluation, not after it.
        plot::load_font().map_err(Failure::Runtime)?;
    }
    let labels: Vec<String> = settings.iter().map(|s| s.label()).collect();
    let shown = plot::pick(&labels, a.plot_setting.as_deref()).map_err(Failure::Usage)?;
    let answers = match &a.describe {
        Some(p) => datasheet::Answers::load(p).map_err(Failure::Runtime)?,
        None => datasheet::Answers::default(),
    };
    let input = input::load(&a.input).map_err(Failure::Runtime)?;
    let chunks = if !a.chunks.is_empty() {
        eval::check_chunks(&a.chunks, &input.shape, input.dtype).map_err(Failure::Usage)?;
        a.chunks.clone()
    } else {
        input
            .chunks
            .clone()
            .unwrap_or_else(|| input::default_chunks(&input.shape))
    };
    let reference = eval::Reference::new(&input, !a.no_downstream, a.min_object_voxels);
    let rows =
        eval::run(&input, &chunks, &settings, &reference, a.quiet).map_err(Failure::Runtime)?;
    if let Some(p) = &a.plot {
        plot::write(p, &rows, &reference, shown).map_err(Failure::Runtime)?;
    }
    let sheet = a
        .datasheet
        .as_ref()
        .map(|_| datasheet::render(&input, &chunks, &reference, &rows, &answers));
    let out = match (&a.datasheet, sheet) {
        // `--datasheet -`: the datasheet is the output.
        (Some(p), Some(md)) if p.as_os_str() == "-" => md,
        (Some(p), Some(md)) => {
            std::fs::write(p, md)
                .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", p.display())))?;
            report_of(a, &input, &chunks, &reference, &rows)
        }
        _ => report_of(a, &input, &chunks, &reference, &rows),
    };
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out.as_bytes());
    Ok(())
}
