//! Shared helpers of the `h5z-apr` command tests (tests/cli_*.rs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_h5z-apr")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A file of the shared test data (../shared/data), or `None` with a loud message.
pub fn data_file(rel: &str) -> Option<PathBuf> {
    let p = repo_root().join("../shared/data").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "\n*** SKIPPED: test data {} is absent (tests read ../shared/data) ***\n",
            p.display()
        );
        None
    }
}

/// Handles a missing tool: a failure under CI=true, a loud skip otherwise.
pub fn missing_tool(what: &str) {
    if in_ci() {
        panic!("{what} is required with CI=true (run scripts/setup.sh)");
    }
    eprintln!("\n*** SKIPPED: {what} not available (run scripts/setup.sh) ***\n");
}

/// The project's .venv Python when it has h5py and numpy.
pub fn python() -> Option<PathBuf> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    let p = PY.get_or_init(|| {
        let py = repo_root().join(".venv/bin/python");
        let ok = Command::new(&py)
            .args(["-c", "import h5py, numpy"])
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(py)
    });
    if p.is_none() {
        missing_tool(".venv python with h5py and numpy");
    }
    p.clone()
}

pub fn have_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty());
    if !ok {
        missing_tool(tool);
    }
    ok
}

/// Build directory of this test run (target/<profile>), found from the binary under test.
pub fn profile_dir() -> PathBuf {
    Path::new(bin()).parent().expect("bin dir").to_path_buf()
}

/// A directory holding only a fresh copy of `libh5z_apr.so`, for `HDF5_PLUGIN_PATH`.
pub fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let src = profile_dir().join("libh5z_apr.so");
        assert!(
            src.exists(),
            "{} missing: the cdylib should be built with the tests",
            src.display()
        );
        let dir = profile_dir().join("cli-test-plugin");
        std::fs::create_dir_all(&dir).unwrap();
        let tmp = dir.join(format!(".libh5z_apr.so.{}", std::process::id()));
        std::fs::copy(&src, &tmp).unwrap();
        std::fs::rename(&tmp, dir.join("libh5z_apr.so")).unwrap();
        dir
    })
    .clone()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = profile_dir().join("cli-test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `h5z-apr` with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("HDF5_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("run h5z-apr")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `h5z-apr` and requires success; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "h5z-apr {args:?} failed: {}\n{}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// Runs a Python snippet with the .venv interpreter (plugin on HDF5_PLUGIN_PATH); returns stdout.
pub fn py(py: &Path, code: &str, args: &[&str]) -> String {
    let o = Command::new(py)
        .arg("-c")
        .arg(code)
        .args(args)
        .env("HDF5_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("run python");
    assert!(
        o.status.success(),
        "python failed: {}\n{}\n--- code ---\n{code}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// Parses the output of `--json`.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

/// `v[key]` as f64 (panics with the key when missing or not a number).
pub fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}
