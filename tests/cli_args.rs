//! `h5z-apr`: help, bad arguments (exit code 2, one line) and runtime errors (exit code 1,
//! one line, no panic trace).

mod cli_support;
use cli_support::*;

fn assert_one_line_error(o: &std::process::Output, code: i32, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{what}: status; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: want one line, got:\n{err}");
    assert!(err.starts_with("h5z-apr: error: "), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(stdout(o).is_empty(), "{what}: stdout should be empty");
}

#[test]
fn help_for_each_subcommand() {
    for (args, needle) in [
        (vec!["--help"], "cd-values"),
        (vec!["eval", "--help"], "--rel-error"),
        (vec!["cd-values", "--help"], "--decode"),
        (vec!["help", "eval"], "--datasheet"),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(stdout(&o).contains(needle), "{args:?}: {}", stdout(&o));
    }
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let real = data_file("ct_headsq_vtk/headsq_quarter_uint16.npy");
    let f = real
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "x.npy".into());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "subcommand is required"),
        (vec!["frobnicate"], "frobnicate"),
        (vec!["eval"], "FILE"),
        (vec!["eval", &f, "--bogus"], "--bogus"),
        (vec!["eval", &f, "--mode", "abs"], "--bound"),
        (vec!["eval", &f, "--mode", "apr"], "--rel-error"),
        (vec!["eval", &f, "--mode", "fast"], "fast"),
        (vec!["eval", &f, "--bound", "-1"], "-1"),
        (vec!["eval", &f, "--bound", "x"], "x"),
        (vec!["eval", &f, "--rel-error", "0"], "--rel-error"),
        (
            vec!["eval", &f, "--mode", "lossless", "--bound", "1"],
            "--bound",
        ),
        (vec!["eval", &f, "--effort", "99"], "99"),
        (vec!["eval", &f, "--chunks", "0,4,4"], "--chunks"),
        (
            vec!["eval", &f, "--mode", "noise"],
            "--mode noise needs --k",
        ),
        (
            vec!["eval", &f, "--k", "-0.5"],
            "noise mode needs a finite factor k >= 0",
        ),
        (
            vec!["eval", &f, "--mode", "abs", "--bound", "1", "--k", "0.5"],
            "--k is only used with --mode noise",
        ),
        (
            vec!["cd-values", "--mode", "noise"],
            "--mode noise needs --k",
        ),
        (
            vec!["cd-values", "--mode", "abs", "--bound", "1", "--k", "0.5"],
            "--k is only used with --mode noise",
        ),
        (vec!["cd-values"], "--mode"),
        (vec!["cd-values", "--mode", "abs"], "--bound"),
        (
            vec!["cd-values", "--mode", "abs", "--bound", "0.3333333333333"],
            "0.3333",
        ),
        (
            vec![
                "cd-values",
                "--mode",
                "abs",
                "--bound",
                "1",
                "--decode",
                "1",
            ],
            "--decode",
        ),
        (vec!["cd-values", "--decode", "7,1,0"], "mode 7"),
        (vec!["cd-values", "--decode", "1,5,40"], "exponent"),
        (vec!["cd-values", "--decode", "UD=32001,0,1,4"], "32001"),
    ];
    for (args, needle) in cases {
        let o = run(&args);
        assert_one_line_error(&o, 2, &format!("{args:?}"));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    if real.is_some() {
        // Rank mismatch is only known after reading the file: still a usage error.
        let o = run(&["eval", &f, "--chunks", "16,64"]);
        assert_one_line_error(&o, 2, "--chunks rank");
        assert!(stderr(&o).contains("3 axes"), "{}", stderr(&o));
    }
}

#[test]
fn missing_file_and_unknown_format_exit_1() {
    let d = scratch("args_missing");
    let missing = d.join("nope.npy");
    let o = run(&["eval", missing.to_str().unwrap()]);
    assert_one_line_error(&o, 1, "missing file");
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));

    let txt = d.join("notes.txt");
    std::fs::write(&txt, "hello, not an array\n").unwrap();
    let o = run(&["eval", txt.to_str().unwrap()]);
    assert_one_line_error(&o, 1, "text file");
    assert!(
        stderr(&o).contains("neither a .npy nor an HDF5"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unsupported_npy_dtype_exit_1() {
    // A valid .npy of complex64 (2 elements), written by hand.
    let d = scratch("args_npy_dtype");
    let f = d.join("complex.npy");
    std::fs::write(&f, npy_bytes("<c8", &[2], &[0u8; 16])).unwrap();
    let o = run(&["eval", f.to_str().unwrap()]);
    assert_one_line_error(&o, 1, "complex npy");
    assert!(stderr(&o).contains("<c8"), "{}", stderr(&o));
}

#[test]
fn hdf5_missing_dataset_and_unsupported_dtype_exit_1() {
    let Some(py) = python() else { return };
    let d = scratch("args_h5");
    let f = d.join("two.h5");
    let fs = f.to_str().unwrap();
    cli_support::py(
        &py,
        "import sys, h5py, numpy as np\n\
         with h5py.File(sys.argv[1], 'w') as f:\n\
         \x20   f['g/ok'] = np.arange(24, dtype='<u2').reshape(2, 3, 4)\n\
         \x20   f['wide'] = np.arange(24, dtype='<i8').reshape(2, 3, 4)\n",
        &[fs],
    );
    let o = run(&["eval", &format!("{fs}:/g/missing")]);
    assert_one_line_error(&o, 1, "missing dataset");
    assert!(
        stderr(&o).contains("no dataset /g/missing"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("/g/ok"),
        "lists the datasets: {}",
        stderr(&o)
    );

    let o = run(&["eval", fs]);
    assert_one_line_error(&o, 1, "ambiguous file");
    assert!(stderr(&o).contains("2 datasets"), "{}", stderr(&o));

    let o = run(&["eval", &format!("{fs}:/wide")]);
    assert_one_line_error(&o, 1, "int64");
    // The dataset path is named; the dtype is rejected by the HDF5 reader.
    assert!(stderr(&o).contains("/wide"), "{}", stderr(&o));

    // The good dataset works, also without the leading slash.
    let out = run_ok(&["eval", &format!("{fs}:g/ok"), "--json", "-q"]);
    let v = json(&out);
    assert_eq!(v["input"]["dataset"], "/g/ok");
    assert_eq!(num(&v["input"], "max"), 23.0);
}
