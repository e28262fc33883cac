//! Filter 47815 in real HDF5 hosts other than h5py (those are in tests/python):
//! Debian's h5repack / h5dump / h5diff (1.10.x), a C program compiled against Debian's
//! libhdf5, and the `h5z::h5::dataset` reading API (libhdf5 loaded by name in this process).
//! Every host finds the plugin through `HDF5_PLUGIN_PATH` (a directory holding only the
//! freshly built `libh5z_apr.so`).

mod h5_support;

use h5_support::*;
use h5z_apr::h5::{list_datasets, read_dataset};
use h5z_apr::DType;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOOTH: &str = "ct_tooth_projections_tomopy/tooth.h5";

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
}

/// h5repack of the tooth projections with UD=47815 (abs 4), returns the repacked file.
fn repack_tooth(dir: &Path, tooth: &Path) -> PathBuf {
    let out = dir.join("tooth_apr.h5");
    run_ok(
        Command::new("h5repack")
            .args([
                "-f",
                "UD=47815,0,3,1,4,0",
                "-l",
                "/exchange/data:CHUNK=16x2x640",
            ])
            .arg(tooth)
            .arg(&out),
    );
    out
}

#[test]
fn h5repack_h5dump_h5diff_on_real_projections() {
    if !require_tools(&["h5repack", "h5dump", "h5diff"]) {
        return;
    }
    let Some(tooth) = data_file(TOOTH) else {
        return;
    };
    let dir = scratch("h5repack_tooth");
    let out = repack_tooth(&dir, &tooth);

    // h5dump shows the filter, its name and the stored cd_values (user values normalised to
    // 4 slots, then marker, float class 1, size 4, signed, little-endian, rank 3, chunk dims).
    let dump = run_ok(
        Command::new("h5dump")
            .args(["-p", "-H", "-d", "/exchange/data"])
            .arg(&out),
    );
    assert!(dump.contains("FILTER_ID 47815"), "{dump}");
    assert!(dump.contains("COMMENT apr (h5z-apr "), "{dump}");
    assert!(
        dump.contains("PARAMS { 1 4 0 3 1095782913 1 4 1 0 3 16 2 640 }"),
        "{dump}"
    );
    assert!(dump.contains("CHUNKED ( 16, 2, 640 )"), "{dump}");

    // The bound holds (h5diff -d 4 exits 0) and the data really went through the lossy
    // encoder (h5diff -d 0.5 finds differences, exit status 1).
    let d4 = run_with_plugin(
        Command::new("h5diff")
            .args(["-d", "4"])
            .arg(&tooth)
            .arg(&out),
    );
    assert_eq!(
        d4.status.code(),
        Some(0),
        "h5diff -d 4: {}",
        String::from_utf8_lossy(&d4.stdout)
    );
    let d05 = run_with_plugin(
        Command::new("h5diff")
            .args(["-d", "0.5"])
            .arg(&tooth)
            .arg(&out)
            .args(["/exchange/data", "/exchange/data"]),
    );
    assert_eq!(d05.status.code(), Some(1), "expected differences above 0.5");

    let a = std::fs::metadata(&tooth).unwrap().len();
    let b = std::fs::metadata(&out).unwrap().len();
    assert!(b * 2 < a, "repacked file {b} bytes vs original {a}");
}

#[test]
fn h5repack_lossless_round_trip_is_exact() {
    if !require_tools(&["h5repack", "h5diff"]) {
        return;
    }
    let Some(tooth) = data_file(TOOTH) else {
        return;
    };
    let dir = scratch("h5repack_lossless");
    let out = dir.join("tooth_lossless.h5");
    run_ok(
        Command::new("h5repack")
            .args(["-f", "UD=47815,0,1,0", "-l", "/exchange/data:CHUNK=7x2x100"])
            .arg(&tooth)
            .arg(&out),
    );
    // Exact equality (h5diff with no tolerance), including partial edge chunks.
    run_ok(Command::new("h5diff").arg(&tooth).arg(&out));
    // Repacking the repacked file again keeps the stored layout well-formed (set_local is
    // idempotent on its own output) and still exact.
    let again = dir.join("tooth_lossless2.h5");
    run_ok(Command::new("h5repack").arg(&out).arg(&again));
    run_ok(Command::new("h5diff").arg(&tooth).arg(&again));
    let dump = run_ok(
        Command::new("h5dump")
            .args(["-p", "-H", "-d", "/exchange/data"])
            .arg(&again),
    );
    assert!(
        dump.contains("PARAMS { 0 0 0 3 1095782913 1 4 1 0 3 7 2 100 }"),
        "{dump}"
    );
}

/// Invalid user cd_values make `set_local` fail. h5repack swallows the HDF5 error stack and
/// copies the dataset with its original settings (saying so with -v); the output must then
/// carry no filter 47815 for that dataset.
#[test]
fn h5repack_refuses_bad_cd_values() {
    if !require_tools(&["h5repack", "h5dump"]) {
        return;
    }
    let Some(tooth) = data_file(TOOTH) else {
        return;
    };
    let dir = scratch("h5repack_bad");
    let out = dir.join("bad.h5");
    let log = run_ok(
        Command::new("h5repack")
            .args(["-v", "-f", "/exchange/data:UD=47815,0,1,9"])
            .args(["-l", "/exchange/data:CHUNK=16x2x640"])
            .arg(&tooth)
            .arg(&out),
    );
    assert!(
        log.contains("could not create dataset </exchange/data>"),
        "{log}"
    );
    let dump = run_ok(
        Command::new("h5dump")
            .args(["-p", "-H", "-d", "/exchange/data"])
            .arg(&out),
    );
    assert!(!dump.contains("47815"), "{dump}");
}

#[test]
fn dataset_api_reads_what_h5repack_wrote() {
    if !require_tools(&["h5repack"]) {
        return;
    }
    let Some(tooth) = data_file(TOOTH) else {
        return;
    };
    let dir = scratch("dataset_api");
    let out = repack_tooth(&dir, &tooth);
    let names = list_datasets(&tooth).expect("list_datasets");
    for n in [
        "/exchange/data",
        "/exchange/data_dark",
        "/exchange/data_white",
        "/exchange/theta",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let orig = read_dataset(&tooth, "/exchange/data").expect("read original");
    let rep = read_dataset(&out, "/exchange/data").expect("read repacked");
    assert_eq!(orig.dtype, DType::F32);
    assert_eq!(orig.shape, vec![181, 2, 640]);
    assert_eq!(orig.chunks, None);
    assert_eq!(rep.chunks, Some(vec![16, 2, 640]));
    assert_eq!(rep.shape, orig.shape);
    let err = max_abs_diff(&f32s(&orig.data), &f32s(&rep.data));
    assert!(err <= 4.0 && err > 0.0, "max error {err}");
    assert!(rep.storage_size * 3 < orig.data.len() as u64);
    let theta = read_dataset(&out, "/exchange/theta").unwrap();
    assert_eq!((theta.dtype, theta.shape.clone()), (DType::F64, vec![181]));
    assert!(read_dataset(&out, "/nope")
        .unwrap_err()
        .contains("no such dataset"));
}

fn build_c_host(dir: &Path) -> Option<PathBuf> {
    if !require_tools(&["gcc", "pkg-config"]) {
        return None;
    }
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "hdf5"])
        .output()
        .unwrap();
    if !require(flags.status.success(), "pkg-config hdf5 (libhdf5-dev)") {
        return None;
    }
    let flags = String::from_utf8(flags.stdout).unwrap();
    let exe = dir.join("plugin_host");
    let o = Command::new("gcc")
        .args(["-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(repo_root().join("tests/c/plugin_host.c"))
        .args(flags.split_whitespace())
        .args(["-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(exe)
}

#[test]
fn c_host_program_writes_and_reads_through_the_plugin() {
    let dir = scratch("c_host");
    let Some(exe) = build_c_host(&dir) else {
        return;
    };
    let out = run_ok(Command::new(&exe).arg(dir.join("c_host.h5")));
    assert!(out.contains("plugin_host: OK"), "{out}");
    // The file the C program wrote goes through the Debian tools too (no test data needed):
    // decode everything (-f NONE), re-encode losslessly, compare exactly.
    if !require_tools(&["h5dump", "h5repack", "h5diff"]) {
        return;
    }
    let written = dir.join("c_host.h5");
    let dump = run_ok(Command::new("h5dump").args(["-p", "-H"]).arg(&written));
    assert_eq!(dump.matches("FILTER_ID 47815").count(), 3, "{dump}");
    let plain = dir.join("plain.h5");
    run_ok(
        Command::new("h5repack")
            .args(["-f", "NONE"])
            .arg(&written)
            .arg(&plain),
    );
    let dump = run_ok(Command::new("h5dump").args(["-p", "-H"]).arg(&plain));
    assert!(!dump.contains("47815"), "{dump}");
    let again = dir.join("again.h5");
    run_ok(
        Command::new("h5repack")
            .args(["-f", "UD=47815,0,1,0"])
            .arg(&plain)
            .arg(&again),
    );
    let dump = run_ok(Command::new("h5dump").args(["-p", "-H"]).arg(&again));
    assert_eq!(dump.matches("FILTER_ID 47815").count(), 3, "{dump}");
    run_ok(Command::new("h5diff").arg(&plain).arg(&again));
    run_ok(Command::new("h5diff").arg(&written).arg(&again));
}

#[test]
fn c_host_program_is_clean_under_valgrind() {
    if !require_tools(&["valgrind"]) {
        return;
    }
    let dir = scratch("c_host_valgrind");
    let Some(exe) = build_c_host(&dir) else {
        return;
    };
    let o = run_with_plugin(
        Command::new("valgrind")
            .args(["-q", "--error-exitcode=99"])
            .arg(&exe)
            .arg(dir.join("vg.h5")),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "valgrind:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
