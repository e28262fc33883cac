//! Generates the C header `h5z_apr.h` from `src/capi.rs` with cbindgen into `OUT_DIR`.
//!
//! The committed copy lives in `include/h5z_apr.h`; `tests/header_fresh.rs` fails when the two
//! differ. This script writes outside `OUT_DIR` only when `APR_WRITE_HEADER=1` is set, and then
//! only `include/h5z_apr.h` (refresh with `APR_WRITE_HEADER=1 cargo build`).
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/capi.rs");
    println!("cargo:rerun-if-env-changed=APR_WRITE_HEADER");

    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let header = out_dir.join("h5z_apr.h");

    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    // Only src/capi.rs is parsed: the header holds the C API and nothing else.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src").join("capi.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed on src/capi.rs: {e}"));
    bindings.write_to_file(&header);

    if env::var_os("APR_WRITE_HEADER").is_some_and(|v| v == "1") {
        let dest = root.join("include").join("h5z_apr.h");
        std::fs::create_dir_all(root.join("include")).expect("create include/");
        std::fs::copy(&header, &dest)
            .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", header.display(), dest.display()));
        println!(
            "cargo:warning=APR_WRITE_HEADER=1: refreshed {}",
            dest.display()
        );
    }
}
