//! The committed C header `include/h5z_apr.h` must equal the one build.rs generates from
//! `src/capi.rs` with cbindgen (into OUT_DIR) in this very build.

use std::path::Path;

#[test]
fn committed_header_matches_generated() {
    let generated_path = Path::new(env!("OUT_DIR")).join("h5z_apr.h");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("include")
        .join("h5z_apr.h");
    let generated = std::fs::read_to_string(&generated_path)
        .unwrap_or_else(|e| panic!("read {}: {e}", generated_path.display()));
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        generated.contains("h5z_apr_compress") && generated.contains("H5Z_FILTER_APR"),
        "the generated header lacks the C API; is build.rs generating from src/capi.rs?"
    );
    if generated != committed {
        let first_diff = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| generated.lines().count().min(committed.lines().count()));
        panic!(
            "include/h5z_apr.h is stale (first difference at line {}).\n\
             Refresh it with:\n    APR_WRITE_HEADER=1 cargo build\n\
             or:\n    cp {} {}\n",
            first_diff + 1,
            generated_path.display(),
            committed_path.display()
        );
    }
}
