//! Shared helpers of the `h5z-apr` command tests (tests/cli_*.rs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

// Generic helpers (CI policy, plugin directory, scratch dirs) come from the HDF5 tests.
#[path = "../h5_support/mod.rs"]
mod h5_support;
#[allow(unused_imports)]
pub use h5_support::{in_ci, plugin_dir, repo_root, require, require_tools, scratch};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_h5z-apr")
}

/// A file of the shared test data (../shared/data), or `None` with a loud message. Absent data
/// is a skip, also in CI (the data is not part of the repository).
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

/// The project's .venv Python when it has h5py and numpy (a failure with CI=true, else a
/// loud skip).
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
    require(p.is_some(), ".venv python with h5py and numpy").then(|| p.clone().unwrap())
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

/// A .npy image (version 1.0) of `shape` with raw element bytes `data`.
pub fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}
