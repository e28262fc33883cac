//! `h5z-apr compress`: real inputs (.npy written here, a multi-page TIFF made with the `tiff`
//! crate's encoder, an HDF5 dataset written by h5py) compressed into HDF5 files that h5py and
//! h5dump read back through the plugin (HDF5_PLUGIN_PATH); the bound is checked against the
//! input, lossless output bit for bit, and the chunk streams against what the filter itself
//! writes when h5py compresses the same data. Bad inputs exit non-zero with one line and leave
//! no file behind.

mod cli_support;
use cli_support::*;
use std::path::{Path, PathBuf};

/// Deterministic smooth-plus-noise u16 volume (values ~ 200..3000).
fn volume_u16(shape: &[usize]) -> Vec<u16> {
    let n: usize = shape.iter().product();
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = (i % shape[shape.len() - 1]) as f64;
            let y = (i / shape[shape.len() - 1]) as f64;
            (1500.0 + 900.0 * (x / 9.0).sin() * (y / 23.0).cos() + (s % 41) as f64) as u16
        })
        .collect()
}

fn le_bytes_u16(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Files in `dir` (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Python that loads `npy` and dataset `path` of `h5` and prints the max abs error, whether the
/// shapes match, the chunks and the stored cd_values, as JSON.
const READ_BACK: &str = r#"
import sys, json, h5py, numpy as np
ref = np.load(sys.argv[1]) if sys.argv[1].endswith('.npy') else None
with h5py.File(sys.argv[2], 'r') as f:
    d = f[sys.argv[3]]
    back = d[...]
    masks = [d.id.get_chunk_info(i).filter_mask for i in range(d.id.get_num_chunks())]
    out = dict(shape=list(back.shape), dtype=str(back.dtype), chunks=list(d.chunks),
               cd=list(d._filters['47815']), masks=sorted(set(masks)), n_chunks=len(masks),
               byteorder=d.dtype.str[0])
if ref is not None:
    out['ref_shape'] = list(ref.shape)
    out['max_err'] = float(np.abs(back.astype(np.float64) - ref.astype(np.float64)).max())
    out['equal'] = bool(np.array_equal(back, ref))
print(json.dumps(out))
"#;

fn read_back(py: &Path, reference: &Path, h5: &Path, dataset: &str) -> serde_json::Value {
    json(&cli_support::py(
        py,
        READ_BACK,
        &[reference.to_str().unwrap(), h5.to_str().unwrap(), dataset],
    ))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn npy_abs_and_lossless_read_back_by_h5py() {
    let Some(py) = python() else { return };
    let d = scratch("compress_npy");
    let shape = [37usize, 70, 90];
    let vol = volume_u16(&shape);
    let npy = d.join("vol.npy");
    std::fs::write(&npy, npy_bytes("<u2", &shape, &le_bytes_u16(&vol))).unwrap();

    // abs 4, edge chunks on every axis, 3 workers, dataset in a new group.
    let out = d.join("abs.h5");
    let spec = format!("{}:/entry/data", out.display());
    let j = json(&run_ok(&[
        "compress",
        s(&npy),
        &spec,
        "--mode",
        "abs",
        "--bound",
        "4",
        "--chunks",
        "16,32,64",
        "--threads",
        "3",
        "--json",
    ]));
    assert_eq!(j["cd_values"], serde_json::json!([1, 4, 0]));
    assert_eq!(num(&j, "n_chunks"), (3 * 3 * 2) as f64);
    assert_eq!(num(&j, "raw_bytes"), (vol.len() * 2) as f64);
    assert!(num(&j, "ratio") > 1.5, "{j}");
    let r = read_back(&py, &npy, &out, "/entry/data");
    assert_eq!(r["shape"], serde_json::json!(shape));
    assert_eq!(r["dtype"], "uint16");
    assert_eq!(r["chunks"], serde_json::json!([16, 32, 64]));
    assert_eq!(
        r["masks"],
        serde_json::json!([0]),
        "every chunk stored filtered"
    );
    assert_eq!(num(&r, "n_chunks"), 18.0);
    assert_eq!(
        r["cd"], j["stored_cd_values"],
        "h5py sees the cd_values set_local stored"
    );
    assert_eq!(
        r["cd"],
        serde_json::json!([1, 4, 0, 3, 0x41505201u32, 0, 2, 0, 0, 3, 16, 32, 64])
    );
    let e = num(&r, "max_err");
    assert!(e > 0.0 && e <= 4.0, "abs bound 4, max error {e}");

    // Lossless, default chunks (16,70,90 clipped), default threads: bit-exact.
    let out2 = d.join("exact.h5");
    let text = run_ok(&["compress", s(&npy), s(&out2), "--mode", "lossless"]);
    assert!(text.contains("ratio") && text.contains("MB/s"), "{text}");
    let r = read_back(&py, &npy, &out2, "/data");
    assert_eq!(r["equal"], true);
    assert_eq!(r["chunks"], serde_json::json!([16, 70, 90]));
    assert_eq!(
        listing(&d),
        ["abs.h5", "exact.h5", "vol.npy"],
        "no temp file left"
    );
}

#[test]
fn chunk_streams_equal_what_the_filter_writes_through_h5py() {
    // The same data compressed by h5py through the plugin (HDF5 pads edge chunks with the
    // fill value 0) and by `compress` (direct chunk writes) must give identical chunks.
    let Some(py) = python() else { return };
    let d = scratch("compress_same_bytes");
    let shape = [21usize, 33, 40];
    let vol = volume_u16(&shape);
    let npy = d.join("v.npy");
    std::fs::write(&npy, npy_bytes("<u2", &shape, &le_bytes_u16(&vol))).unwrap();
    for (mode, extra, opts) in [
        ("abs", vec!["--bound", "2"], "(1, 2, 0)"),
        ("apr", vec!["--rel-error", "0.1"], "(2, 1, 1)"),
        ("lossless", vec![], "(0, 0, 0)"),
        ("noise", vec!["--k", "0.5"], "(3, 5, 1)"),
    ] {
        let ours = d.join(format!("{mode}.h5"));
        let mut args = vec![
            "compress",
            s(&npy),
            s(&ours),
            "--mode",
            mode,
            "--chunks",
            "8,16,16",
            "-q",
        ];
        args.extend(extra);
        run_ok(&args);
        let code = format!(
            r#"
import sys, h5py, numpy as np
a = np.load(sys.argv[1])
with h5py.File(sys.argv[3], 'w') as f:
    f.create_dataset('data', data=a, chunks=(8, 16, 16), compression=47815, compression_opts={opts})
diff = []
with h5py.File(sys.argv[2], 'r') as x, h5py.File(sys.argv[3], 'r') as y:
    dx, dy = x['data'], y['data']
    assert dx._filters == dy._filters, (dx._filters, dy._filters)
    n = dx.id.get_num_chunks()
    assert n == dy.id.get_num_chunks() == 3 * 3 * 3, n
    for i in range(n):
        off = dx.id.get_chunk_info(i).chunk_offset
        mx, bx = dx.id.read_direct_chunk(off)
        my, by = dy.id.read_direct_chunk(off)
        if bx != by or mx != my:
            diff.append(off)
print(len(diff), diff)
"#
        );
        let outp = cli_support::py(
            &py,
            &code,
            &[s(&npy), s(&ours), s(&d.join(format!("{mode}-h5py.h5")))],
        );
        assert_eq!(outp.trim(), "0 []", "{mode}: chunks that differ: {outp}");
    }
}

#[test]
fn float_and_big_endian_npy() {
    let Some(py) = python() else { return };
    let d = scratch("compress_types");
    // 2-D f32 with abs bound 0.01.
    let (h, w) = (50usize, 300usize);
    let f: Vec<f32> = (0..h * w)
        .map(|i| ((i % w) as f32 * 0.05).sin() * 3.0 + (i / w) as f32 * 0.01)
        .collect();
    let npy = d.join("f.npy");
    let bytes: Vec<u8> = f.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&npy, npy_bytes("<f4", &[h, w], &bytes)).unwrap();
    let out = d.join("f.h5");
    run_ok(&[
        "compress",
        s(&npy),
        s(&out),
        "--bound",
        "0.01",
        "--chunks",
        "32,128",
        "--threads",
        "2",
        "-q",
    ]);
    let r = read_back(&py, &npy, &out, "/data");
    assert_eq!(r["dtype"], "float32");
    let e = num(&r, "max_err");
    assert!(e > 0.0 && e <= 0.01 * (1.0 + 1e-6), "bound 0.01: {e}");

    // Big-endian i16 .npy: values kept, output little-endian, lossless.
    let v: Vec<i16> = (0..4 * 9 * 11)
        .map(|i| (i * 37 % 1000) as i16 - 500)
        .collect();
    let npy = d.join("be.npy");
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
    std::fs::write(&npy, npy_bytes(">i2", &[4, 9, 11], &bytes)).unwrap();
    let out = d.join("be.h5");
    run_ok(&["compress", s(&npy), s(&out), "--mode", "lossless", "-q"]);
    let r = read_back(&py, &npy, &out, "/data");
    assert_eq!(r["equal"], true);
    assert_eq!(r["byteorder"], "<");
}

/// Writes a multi-page grayscale TIFF with the `tiff` crate.
fn write_tiff_u16(path: &Path, pages: &[Vec<u16>], w: u32, h: u32, deflate: bool) {
    use tiff::encoder::{colortype, compression, TiffEncoder};
    let f = std::fs::File::create(path).unwrap();
    let mut enc = TiffEncoder::new(std::io::BufWriter::new(f)).unwrap();
    for p in pages {
        if deflate {
            enc.write_image_with_compression::<colortype::Gray16, _>(
                w,
                h,
                compression::Deflate::default(),
                p,
            )
            .unwrap();
        } else {
            enc.write_image::<colortype::Gray16>(w, h, p).unwrap();
        }
    }
}

#[test]
fn multipage_tiff_stack() {
    let Some(py) = python() else { return };
    let d = scratch("compress_tiff");
    let (w, h, n) = (45usize, 30usize, 7usize);
    let vol = volume_u16(&[n, h, w]);
    let pages: Vec<Vec<u16>> = vol.chunks(w * h).map(|p| p.to_vec()).collect();
    let tif = d.join("stack.tif");
    write_tiff_u16(&tif, &pages, w as u32, h as u32, true);
    // The reference as .npy (same values) for the read-back check.
    let npy = d.join("ref.npy");
    std::fs::write(&npy, npy_bytes("<u2", &[n, h, w], &le_bytes_u16(&vol))).unwrap();

    let out = d.join("lossless.h5");
    let j = json(&run_ok(&[
        "compress",
        s(&tif),
        s(&out),
        "--chunks",
        "3,16,45",
        "--json",
        "--threads",
        "2",
    ]));
    assert_eq!(j["shape"], serde_json::json!([n, h, w]));
    assert_eq!(j["mode"], "lossless");
    let r = read_back(&py, &npy, &out, "/data");
    assert_eq!(r["equal"], true, "{r}");

    let out = d.join("abs.h5");
    run_ok(&[
        "compress",
        s(&tif),
        s(&out),
        "--mode",
        "abs",
        "--bound",
        "3",
        "-q",
    ]);
    let r = read_back(&py, &npy, &out, "/data");
    let e = num(&r, "max_err");
    assert!(e > 0.0 && e <= 3.0, "{e}");
    assert_eq!(r["chunks"], serde_json::json!([7, 30, 45]));

    // 8-bit pages.
    use tiff::encoder::{colortype, TiffEncoder};
    let tif8 = d.join("u8.tif");
    {
        let f = std::fs::File::create(&tif8).unwrap();
        let mut enc = TiffEncoder::new(f).unwrap();
        for k in 0..3u8 {
            let p: Vec<u8> = (0..20 * 10)
                .map(|i| (i as u8).wrapping_mul(k + 1))
                .collect();
            enc.write_image::<colortype::Gray8>(20, 10, &p).unwrap();
        }
    }
    let out = d.join("u8.h5");
    run_ok(&["compress", s(&tif8), s(&out), "-q"]);
    let code = r#"
import sys, h5py, numpy as np
b = h5py.File(sys.argv[1], 'r')['data'][...]
want = np.stack([(np.arange(200, dtype=np.uint16) * (k + 1) % 256).astype(np.uint8).reshape(10, 20) for k in range(3)])
print(b.dtype, b.shape, np.array_equal(b, want))
"#;
    assert_eq!(
        cli_support::py(&py, code, &[s(&out)]).trim(),
        "uint8 (3, 10, 20) True"
    );
}

#[test]
fn hdf5_input_by_hyperslab_and_h5dump_reads_the_output() {
    let Some(py) = python() else { return };
    let d = scratch("compress_hdf5");
    let src = d.join("src.h5");
    let npy = d.join("ref.npy");
    // Big-endian, chunked source dataset in a group, next to another dataset.
    cli_support::py(
        &py,
        r#"
import sys, numpy as np, h5py
rng = np.random.default_rng(5)
a = (rng.normal(500, 40, (19, 40, 24))).astype('>i4')
np.save(sys.argv[2], a.astype('<i4'))
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('g/vol', data=a, chunks=(5, 20, 24))
    f.create_dataset('other', data=np.arange(3))
    # Extendible, with chunks larger than the current extent on axis 0.
    f.create_dataset('ext', data=a[:3].astype('<i4'), maxshape=(None, 40, 24), chunks=(8, 40, 24))
"#,
        &[s(&src), s(&npy)],
    );
    let out = d.join("out.h5");
    let spec = format!("{}:/g/vol", src.display());
    let j = json(&run_ok(&[
        "compress",
        &spec,
        s(&out),
        "--bound",
        "1",
        "--json",
        "-q",
    ]));
    assert_eq!(
        j["chunks"],
        serde_json::json!([5, 20, 24]),
        "the source's chunks"
    );
    assert_eq!(j["dtype"], "int32");
    let r = read_back(&py, &npy, &out, "/data");
    let e = num(&r, "max_err");
    assert!(e > 0.0 && e <= 1.0, "{e}");
    assert_eq!(r["byteorder"], "<");

    // Source chunks larger than the extent are clipped to it.
    let spec = format!("{}:/ext", src.display());
    let j = json(&run_ok(&[
        "compress",
        &spec,
        s(&d.join("ext.h5")),
        "--json",
        "-q",
    ]));
    assert_eq!(j["chunks"], serde_json::json!([3, 40, 24]));

    // A file with several datasets needs FILE:/path.
    let o = run(&["compress", s(&src), s(&d.join("x.h5"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("choose one"), "{}", stderr(&o));

    // h5dump (Debian's HDF5, plugin from HDF5_PLUGIN_PATH) decodes the whole output.
    if !require_tools(&["h5dump"]) {
        return;
    }
    let small = d.join("small.h5");
    let snpy = d.join("small.npy");
    let vals: Vec<u16> = (0..3 * 5 * 7).map(|i| (i * 31 % 997) as u16).collect();
    std::fs::write(&snpy, npy_bytes("<u2", &[3, 5, 7], &le_bytes_u16(&vals))).unwrap();
    run_ok(&["compress", s(&snpy), s(&small), "--chunks", "2,4,4", "-q"]);
    let o = std::process::Command::new("h5dump")
        .args(["-p", "-w", "0", "-d", "/data"])
        .arg(&small)
        .env("HDF5_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("run h5dump");
    assert!(o.status.success(), "h5dump failed: {}", stderr(&o));
    let dump = stdout(&o);
    assert!(dump.contains("FILTER_ID 47815"), "{dump}");
    assert!(
        dump.contains("PARAMS { 0 0 0 3 1095782913 0 2 0 0 3 2 4 4 }"),
        "{dump}"
    );
    let data = &dump[dump.find("DATA {").expect("DATA block")..];
    let got: Vec<u16> = data
        .lines()
        .filter_map(|l| l.split_once("):").map(|(_, v)| v))
        .flat_map(|v| v.split(',').filter_map(|x| x.trim().parse::<u16>().ok()))
        .collect();
    assert_eq!(got, vals, "h5dump values");
}

fn assert_fails(args: &[&str], code: i32, needle: &str, dir: &Path, before: &[String]) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("h5z-apr: error: "), "{err}");
    assert!(err.contains(needle), "{args:?}: want '{needle}' in {err}");
    assert_eq!(listing(dir), before, "{args:?} left a file behind");
}

#[test]
fn bad_inputs_exit_nonzero_and_leave_no_file() {
    let d = scratch("compress_bad");
    let npy = d.join("v.npy");
    std::fs::write(
        &npy,
        npy_bytes("<u2", &[4, 6, 8], &vec![7u8; 4 * 6 * 8 * 2]),
    )
    .unwrap();
    let i64npy = d.join("i64.npy");
    std::fs::write(&i64npy, npy_bytes("<i8", &[4, 4], &[0u8; 128])).unwrap();
    let trunc = d.join("trunc.npy");
    std::fs::write(&trunc, npy_bytes("<u2", &[40, 40], &[0u8; 100])).unwrap();
    let text = d.join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let before = listing(&d);
    let out = d.join("out.h5");
    let o = s(&out);
    let missing = d.join("missing.npy");
    assert_fails(
        &["compress", s(&missing), o],
        1,
        "no such file",
        &d,
        &before,
    );
    assert_fails(
        &["compress", s(&i64npy), o],
        1,
        "unsupported npy dtype '<i8'",
        &d,
        &before,
    );
    assert_fails(&["compress", s(&trunc), o], 1, "truncated", &d, &before);
    assert_fails(&["compress", s(&text), o], 1, "neither", &d, &before);
    assert_fails(
        &["compress", s(&npy), o, "--chunks", "2,2"],
        2,
        "2 entries",
        &d,
        &before,
    );
    assert_fails(
        &["compress", s(&npy), o, "--chunks", "2,0,2"],
        2,
        ">= 1",
        &d,
        &before,
    );
    assert_fails(
        &["compress", s(&npy), o, "--chunks", "2,7,2"],
        2,
        "axis 1",
        &d,
        &before,
    );
    assert_fails(
        &["compress", s(&npy), o, "--bound", "-1"],
        2,
        "--bound",
        &d,
        &before,
    );
    assert_fails(
        &["compress", s(&npy), o, "--mode", "apr"],
        2,
        "--rel-error",
        &d,
        &before,
    );
    assert_fails(
        &["compress", s(&npy), o, "--threads", "0"],
        2,
        "threads",
        &d,
        &before,
    );
    let nodir = d.join("no/such/dir/out.h5");
    assert_fails(
        &["compress", s(&npy), s(&nodir)],
        1,
        "does not exist",
        &d,
        &before,
    );
    // Unwritable directory (skipped as root, who may write anywhere).
    let ro = d.join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mut before_ro = before.clone();
    before_ro.push("ro".into());
    before_ro.sort();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let probe = ro.join(".probe");
        if std::fs::write(&probe, b"x").is_err() {
            let o2 = run(&["compress", s(&npy), s(&ro.join("out.h5"))]);
            assert_eq!(o2.status.code(), Some(1), "{}", stderr(&o2));
            assert!(stderr(&o2).contains("writable"), "{}", stderr(&o2));
            assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
        } else {
            let _ = std::fs::remove_file(&probe);
            eprintln!("(running as root: the read-only directory case is not observable)");
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // An existing output is kept unless --overwrite.
    std::fs::write(&out, b"precious").unwrap();
    let mut with_out = before_ro.clone();
    with_out.push("out.h5".into());
    with_out.sort();
    assert_fails(&["compress", s(&npy), o], 1, "--overwrite", &d, &with_out);
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    // A failure after the output was started (a corrupt page in the middle of a TIFF stack)
    // removes the partial file and keeps the old one.
    let pages: Vec<Vec<u16>> = (0..6)
        .map(|k| volume_u16(&[1, 40, 50]).iter().map(|v| v + k).collect())
        .collect();
    let tif3 = d.join("three.tif");
    write_tiff_u16(&tif3, &pages[..3], 50, 40, true);
    let tif = d.join("bad.tif");
    write_tiff_u16(&tif, &pages, 50, 40, true);
    // Page 3's compressed strip starts right after what the 3-page file holds.
    let at = std::fs::metadata(&tif3).unwrap().len() as usize;
    let mut b = std::fs::read(&tif).unwrap();
    b[at..at + 64].fill(0xff);
    std::fs::write(&tif, b).unwrap();
    std::fs::remove_file(&tif3).unwrap();
    let mut with_tif = with_out.clone();
    with_tif.push("bad.tif".into());
    with_tif.sort();
    assert_fails(
        &[
            "compress",
            s(&tif),
            o,
            "--overwrite",
            "--chunks",
            "1,40,50",
            "--threads",
            "2",
        ],
        1,
        "page 3",
        &d,
        &with_tif,
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
}

#[test]
fn overwrite_replaces_the_output() {
    let Some(py) = python() else { return };
    let d = scratch("compress_overwrite");
    let npy = d.join("v.npy");
    let vol = volume_u16(&[3, 20, 20]);
    std::fs::write(&npy, npy_bytes("<u2", &[3, 20, 20], &le_bytes_u16(&vol))).unwrap();
    let out: PathBuf = d.join("out.h5");
    std::fs::write(&out, b"old").unwrap();
    run_ok(&["compress", s(&npy), s(&out), "--overwrite", "-q"]);
    assert_eq!(read_back(&py, &npy, &out, "/data")["equal"], true);
}

/// A sparse .npy of `n` zero slices of 256x256 u16 (no disk blocks for the data).
fn sparse_npy(path: &Path, n: usize) {
    let header = npy_bytes("<u2", &[n, 256, 256], &[]);
    std::fs::write(path, &header).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(header.len() as u64 + (n * 256 * 256 * 2) as u64)
        .unwrap();
}

#[test]
fn memory_does_not_grow_with_the_input() {
    // Peak RSS for 4 MB and 128 MB inputs (2 MB chunks, 2 workers): streaming keeps the
    // difference far below the 124 MB the larger input would add if it were loaded.
    let d = scratch("compress_memory");
    let rss = |n: usize| {
        let src = d.join(format!("z{n}.npy"));
        sparse_npy(&src, n);
        let out = d.join(format!("z{n}.h5"));
        let j = json(&run_ok(&[
            "compress",
            s(&src),
            s(&out),
            "--mode",
            "lossless",
            "--threads",
            "2",
            "--json",
        ]));
        assert_eq!(num(&j, "raw_bytes"), (n * 256 * 256 * 2) as f64);
        num(&j, "peak_rss_bytes") / 1e6
    };
    let (small, big) = (rss(32), rss(1024));
    assert!(small > 0.0, "no /proc/self/status VmHWM");
    assert!(
        big < small + 40.0,
        "peak RSS {big:.0} MB for 134 MB of input vs {small:.0} MB for 4 MB"
    );
}
