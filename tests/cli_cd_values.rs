//! `h5z-apr cd-values`: the cd_values contract, decoding, and h5repack with the printed argument.

mod cli_support;
use cli_support::*;

fn field<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{out}"))
        .trim()
}

#[test]
fn contract_examples() {
    for (args, cd) in [
        (vec!["--mode", "abs", "--bound", "4"], "1,4,0"),
        (vec!["--mode", "apr", "--rel-error", "0.1"], "2,1,1"),
        (vec!["--mode", "abs", "--bound", "0.0005"], "1,5,4"),
        (vec!["--mode", "abs", "--bound", "0.5"], "1,5,1"),
        (
            vec!["--mode", "abs", "--bound", "0.5", "--effort", "9"],
            "1,5,1,9",
        ),
        (vec!["--mode", "lossless"], "0"),
        (vec!["--mode", "noise", "--k", "0.5"], "3,5,1"),
        (
            vec!["--mode", "noise", "--k", "1", "--effort", "9"],
            "3,1,0,9",
        ),
    ] {
        let mut a = vec!["cd-values"];
        a.extend(&args);
        let out = run_ok(&a);
        assert_eq!(field(&out, "cd_values:"), cd, "{args:?}");
        let n = cd.split(',').count();
        assert_eq!(
            field(&out, "h5repack:"),
            format!("-f UD=47815,0,{n},{cd}"),
            "{args:?}"
        );
        let tuple = if n == 1 {
            format!("({cd},)")
        } else {
            format!("({})", cd.replace(',', ", "))
        };
        assert_eq!(
            field(&out, "h5py:"),
            format!("compression=47815, compression_opts={tuple}")
        );
        // And back.
        let back = run_ok(&["cd-values", "--decode", cd]);
        assert_eq!(field(&back, "cd_values:"), cd);
    }
    let out = run_ok(&["cd-values", "--decode", "1,5,4"]);
    assert!(out.starts_with("# abs, bound 0.0005, effort 3"), "{out}");
    let out = run_ok(&["cd-values", "--decode", "-f UD=47815,0,4,2,1,1,9", "--json"]);
    let v = json(&out);
    assert_eq!(v["mode"], "apr");
    assert_eq!(num(&v, "value"), 0.1);
    assert_eq!(num(&v, "effort"), 9.0);
}

const GEN: &str = r#"
import sys, h5py, numpy as np
rng = np.random.default_rng(3)
vol = (100 * np.sin(np.arange(20 * 40 * 50).reshape(20, 40, 50) / 300.0)
       + rng.normal(0, 2, (20, 40, 50))).astype("<f4")
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("x", data=vol, chunks=(8, 32, 32))
np.save(sys.argv[2], vol)
"#;

const CHECK: &str = r#"
import sys, h5py, numpy as np
vol = np.load(sys.argv[2])
with h5py.File(sys.argv[1], "r") as f:
    d = f["x"]
    filters = d.id.get_create_plist().get_nfilters()
    ids = [d.id.get_create_plist().get_filter(i)[0] for i in range(filters)]
    back = d[...]
    print(ids, d.id.get_storage_size(), vol.nbytes, float(np.abs(back.astype(np.float64) - vol).max()))
"#;

#[test]
fn h5repack_with_printed_argument_decodes_within_bound() {
    if !require_tools(&["h5repack"]) {
        return;
    }
    let Some(py) = python() else { return };
    let d = scratch("cd_h5repack");
    let (inp, out, npy) = (d.join("in.h5"), d.join("out.h5"), d.join("vol.npy"));
    cli_support::py(&py, GEN, &[inp.to_str().unwrap(), npy.to_str().unwrap()]);
    let printed = run_ok(&["cd-values", "--mode", "abs", "--bound", "0.5"]);
    let arg = field(&printed, "h5repack:");
    let mut cmd: Vec<&str> = arg.split_whitespace().collect();
    assert_eq!(cmd[0], "-f");
    cmd.push(inp.to_str().unwrap());
    cmd.push(out.to_str().unwrap());
    let o = std::process::Command::new("h5repack")
        .args(&cmd)
        .env("HDF5_PLUGIN_PATH", plugin_dir())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "h5repack {cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = cli_support::py(&py, CHECK, &[out.to_str().unwrap(), npy.to_str().unwrap()]);
    let (ids, rest) = line.trim().split_once("] ").unwrap();
    assert_eq!(ids, "[47815", "filter pipeline of the repacked dataset");
    let v: Vec<f64> = rest
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    let (stored, raw, max_err) = (v[0], v[1], v[2]);
    assert!(stored < raw, "compressed: {stored} < {raw}");
    assert!(max_err <= 0.5, "max error {max_err} > bound 0.5");
    assert!(max_err > 0.0, "lossy setting should not be exact");

    // eval reads the repacked file through the system libhdf5 and the plugin.
    let j = json(&run_ok(&[
        "eval",
        &format!("{}:/x", out.display()),
        "--json",
        "-q",
        "--no-downstream",
    ]));
    assert_eq!(num(&j["input"], "source_storage_bytes"), stored);
}
