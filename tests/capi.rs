//! Compiles the C programs in `tests/c/` with the system C compiler against `include/h5z_apr.h`,
//! links them to the cdylib `libh5z_apr.so` of this build and runs them:
//! - `capi_roundtrip.c` and `capi_errors.c` under valgrind memcheck (no errors, no leaks);
//! - `capi_hdf5.c` linked to the system libhdf5, registering the filter with `h5z_apr_register`;
//! - `capi_cpp.cpp`, the header used from C++ (g++);
//! - the C example of README.md, exactly as shown there.
//!
//! A missing gcc, g++, valgrind or libhdf5 (pkg-config hdf5) fails the test when `CI=true` and skips
//! it with a loud message otherwise. `scripts/test.sh` installs all of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Writes straight to the process's stderr, which the test harness does not capture, so the
/// message shows even when the test passes.
fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!! {msg} !!!\n");
}

/// Reports a missing tool: a failure in CI, a loud skip locally. Returns `false` to skip.
fn missing(what: &str) -> bool {
    if in_ci() {
        panic!("{what} is required (CI=true); install it with scripts/setup.sh");
    }
    loud(&format!(
        "SKIPPED: {what} not available; install it with scripts/setup.sh"
    ));
    false
}

fn runs(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn have_gcc() -> bool {
    runs("gcc", &["--version"]) || missing("the C compiler gcc")
}

fn have_gxx() -> bool {
    runs("g++", &["--version"]) || missing("the C++ compiler g++")
}

fn have_valgrind() -> bool {
    runs("valgrind", &["--version"]) || missing("valgrind")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory holding the cdylib `libh5z_apr.so` of this build. The test executable lives in
/// `<target>/<profile>/deps/` (this honours CARGO_TARGET_DIR and `--target`); `cargo build`
/// puts the library in `<profile>/`, `cargo test` leaves its own copy in `<profile>/deps/`.
/// The newer of the two is the one matching these sources.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test executable directory");
    let profile = deps
        .parent()
        .expect("test executable lives in <target>/<profile>/deps");
    let newest = [profile, deps]
        .iter()
        .map(|d| d.join("libh5z_apr.so"))
        .filter_map(|so| Some((std::fs::metadata(&so).ok()?.modified().ok()?, so)))
        .max();
    let Some((_, so)) = newest else {
        panic!(
            "{} is missing: build the cdylib first with `cargo build --release` \
             (scripts/test.sh does this before `cargo test --release`)",
            profile.join("libh5z_apr.so").display()
        );
    };
    eprintln!("linking C programs to {}", so.display());
    so.parent().expect("library directory").to_path_buf()
}

/// Scratch directory for the compiled programs and their files.
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("capi")
        .join(name);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

fn show(o: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Compiles `src` into `<scratch>/<name>` with strict warnings, linked to libh5z_apr.so.
fn compile(src: &Path, name: &str, extra: &[String]) -> PathBuf {
    compile_with("gcc", "-std=c99", src, name, extra)
}

fn compile_with(compiler: &str, std: &str, src: &Path, name: &str, extra: &[String]) -> PathBuf {
    let lib = lib_dir();
    let exe = scratch(name).join(name);
    let mut cmd = Command::new(compiler);
    cmd.args([std, "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!(
            "-DEXPECTED_VERSION=\"{}\"",
            env!("CARGO_PKG_VERSION")
        ))
        .arg("-I")
        .arg(repo().join("include"))
        .arg(src)
        .arg("-o")
        .arg(&exe)
        .args(extra)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lh5z_apr", "-lm"]);
    let o = cmd.output().expect("run gcc");
    assert!(
        o.status.success(),
        "compiling {} failed:\n{}",
        src.display(),
        show(&o)
    );
    exe
}

fn check_run(what: &str, o: Output) -> String {
    let out = show(&o);
    assert!(o.status.success(), "{what} failed:\n{out}");
    eprintln!("{what}:\n{out}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run(exe: &Path, args: &[&Path]) -> String {
    let o = Command::new(exe)
        .args(args)
        .env_remove("HDF5_PLUGIN_PATH")
        // The rpath finds libh5z_apr.so; cargo's LD_LIBRARY_PATH may point at an older copy.
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run program");
    check_run(&exe.display().to_string(), o)
}

fn run_valgrind(exe: &Path) -> String {
    let o = Command::new("valgrind")
        .env_remove("LD_LIBRARY_PATH") // as in `run`
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(exe)
        .output()
        .expect("run valgrind");
    let out = check_run(&format!("valgrind {}", exe.display()), o);
    out
}

fn c_source(name: &str) -> PathBuf {
    repo().join("tests").join("c").join(name)
}

/// The program prints `ALL OK <n>` after its last check; a run that stops early cannot pass.
fn assert_completed(stdout: &str) {
    let n: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ALL OK "))
        .unwrap_or_else(|| panic!("program did not report completion:\n{stdout}"))
        .trim()
        .parse()
        .expect("check count");
    assert!(n > 0, "no checks ran");
}

#[test]
fn c_roundtrip_every_mode_under_valgrind() {
    if !(have_gcc() && have_valgrind()) {
        return;
    }
    let exe = compile(&c_source("capi_roundtrip.c"), "capi_roundtrip", &[]);
    assert_completed(&run_valgrind(&exe));
}

#[test]
fn c_error_statuses_under_valgrind() {
    if !(have_gcc() && have_valgrind()) {
        return;
    }
    let exe = compile(&c_source("capi_errors.c"), "capi_errors", &[]);
    assert_completed(&run_valgrind(&exe));
}

/// Compiler and linker flags of the system HDF5 (Debian: pkg-config hdf5 -> hdf5/serial).
fn hdf5_flags() -> Option<Vec<String>> {
    let o = Command::new("pkg-config")
        .args(["--cflags", "--libs", "hdf5"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let mut flags: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    // The program finds libhdf5 at run time without LD_LIBRARY_PATH.
    let rpaths: Vec<String> = flags
        .iter()
        .filter_map(|f| f.strip_prefix("-L"))
        .map(|d| format!("-Wl,-rpath,{d}"))
        .collect();
    flags.extend(rpaths);
    // The header must exist too (libhdf5-dev).
    let cflags_ok = Command::new("gcc")
        .args(["-E", "-x", "c", "-"])
        .args(flags.iter().filter(|f| f.starts_with("-I")))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(b"#include <hdf5.h>\n")?;
            c.wait()
        })
        .is_ok_and(|s| s.success());
    cflags_ok.then_some(flags)
}

#[test]
fn c_hdf5_program_registers_filter_and_round_trips_dataset() {
    if !have_gcc() {
        return;
    }
    let Some(flags) = hdf5_flags() else {
        missing("libhdf5-dev (pkg-config hdf5 and hdf5.h)");
        return;
    };
    let exe = compile(&c_source("capi_hdf5.c"), "capi_hdf5", &flags);
    let file = scratch("capi_hdf5").join("capi_hdf5.h5");
    let _ = std::fs::remove_file(&file);
    assert_completed(&run(&exe, &[&file]));
    assert!(
        file.is_file(),
        "the program did not write {}",
        file.display()
    );
}

/// The ```c block of README.md's "C API" section, exactly as shown.
fn readme_c_example() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("C API"))
        .expect("README.md has a `## C API` section");
    let start = section
        .find("```c\n")
        .expect("the C API section has a ```c block")
        + "```c\n".len();
    let len = section[start..].find("```").expect("closing ```");
    section[start..start + len].to_string()
}

#[test]
fn readme_c_example_compiles_and_runs() {
    if !have_gcc() {
        return;
    }
    let dir = scratch("readme");
    let src = dir.join("readme_example.c");
    std::fs::write(&src, readme_c_example()).expect("write example");
    let exe = compile(&src, "readme_example", &[]);
    let out = run(&exe, &[]);
    assert!(!out.trim().is_empty(), "the README example printed nothing");
}

#[test]
fn cpp_program_uses_the_header() {
    if !have_gxx() {
        return;
    }
    let exe = compile_with(
        "g++",
        "-std=c++11",
        &c_source("capi_cpp.cpp"),
        "capi_cpp",
        &[],
    );
    assert_completed(&run(&exe, &[]));
}
