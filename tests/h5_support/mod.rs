//! Helpers shared by the HDF5 end-to-end tests (`tests/h5_*.rs`).
//!
//! Missing tools: with `CI=true` the test fails; locally it is skipped with a loud message on
//! stderr. Missing test data (`../shared/data`) is always a loud skip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// `Ok` when `ok`; otherwise panics in CI, or prints a SKIP banner and returns `false`.
pub fn require(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if in_ci() {
        panic!("CI=true and {what} is missing (run scripts/setup.sh)");
    }
    eprintln!("\n!!!!! SKIPPED: {what} is missing (run scripts/setup.sh) !!!!!\n");
    false
}

/// True when `tool` runs.
pub fn have_tool(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Requires every tool in `tools`.
pub fn require_tools(tools: &[&str]) -> bool {
    tools
        .iter()
        .all(|t| require(have_tool(t), &format!("the `{t}` program")))
}

/// `../shared/data` relative to the repo root.
pub fn data_dir() -> PathBuf {
    repo_root().join("../shared/data")
}

/// A test data file, or `None` when absent. Absent data never fails a test, not even in CI
/// (the data lives outside the repository): the test is skipped with a loud message.
pub fn data_file(rel: &str) -> Option<PathBuf> {
    let p = data_dir().join(rel);
    if !p.exists() {
        eprintln!(
            "\n!!!!! SKIPPED: test data {} is absent !!!!!\n",
            p.display()
        );
        return None;
    }
    Some(p)
}

/// The cargo target profile dir holding this test binary (`target/release` or `target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// A directory holding only `libh5z_apr.so` (fresh copy of the cdylib this `cargo test` built),
/// for `HDF5_PLUGIN_PATH`. HDF5 dlopens every `lib*.so*` in the directory, so nothing else goes
/// there; the copy is written under a temporary name and renamed, so concurrent tests never
/// see a partial file.
pub fn plugin_dir() -> PathBuf {
    let prof = profile_dir();
    let src = prof.join("libh5z_apr.so");
    assert!(
        src.exists(),
        "{} missing: cargo builds the cdylib with the tests",
        src.display()
    );
    let dir = prof.join("plugin");
    std::fs::create_dir_all(&dir).unwrap();
    let dst = dir.join("libh5z_apr.so");
    let fresh = |d: &Path| -> bool {
        let (Ok(a), Ok(b)) = (std::fs::metadata(&src), std::fs::metadata(d)) else {
            return false;
        };
        a.len() == b.len() && a.modified().ok() <= b.modified().ok()
    };
    if !fresh(&dst) {
        let tmp = dir.join(format!(
            ".partial-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::copy(&src, &tmp).unwrap();
        std::fs::rename(&tmp, &dst).unwrap();
    }
    dir
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = profile_dir().join("h5-scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a command with `HDF5_PLUGIN_PATH` set to [`plugin_dir`]; returns its output.
pub fn run_with_plugin(cmd: &mut Command) -> Output {
    cmd.env("HDF5_PLUGIN_PATH", plugin_dir());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

/// Like [`run_with_plugin`] but panics with stdout/stderr unless the command succeeds.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run_with_plugin(cmd);
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{so}\n--- stderr\n{se}",
        out.status
    );
    so
}
