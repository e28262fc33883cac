"""`h5z-apr compress` seen from Python: files the command writes from real data (the GE head
CT crop) and from an h5py-written dataset are read by h5py (pip wheel, HDF5 2.x) and by
Debian's h5repack/h5diff (HDF5 1.10) through HDF5_PLUGIN_PATH; the abs bound is checked
against the input and lossless output bit for bit."""
import json

import h5py
import numpy as np
import pytest
from conftest import FILTER_ID, LAYOUT_MARKER, REPO, ct_head_crop, missing, need_tool, run

CLI = REPO / "target" / "release" / "h5z-apr"


@pytest.fixture(scope="module")
def cli():
    if not CLI.exists():
        missing(str(CLI))
    return CLI


def compress(cli, *args):
    r = run([cli, "compress", *args, "--json", "-q"])
    return json.loads(r.stdout)


def test_npy_abs_bound_and_chunks(cli, tmp_path):
    a = ct_head_crop()  # (16, 256, 256) uint16
    src = tmp_path / "ct.npy"
    np.save(src, a)
    out = tmp_path / "ct.h5"
    j = compress(cli, src, f"{out}:/scan/ct", "--mode", "abs", "--bound", "4", "--chunks", "5,100,256", "--threads", "2")
    assert j["n_chunks"] == 4 * 3
    with h5py.File(out, "r") as f:
        d = f["/scan/ct"]
        assert d.chunks == (5, 100, 256)
        cd = d._filters[str(FILTER_ID)]
        assert tuple(cd) == (1, 4, 0, 3, LAYOUT_MARKER, 0, 2, 0, 0, 3, 5, 100, 256)
        assert list(cd) == j["stored_cd_values"]
        back = d[...]
        assert d.id.get_storage_size() == j["stored_bytes"]
    err = np.abs(back.astype(np.int64) - a.astype(np.int64))
    assert 0 < err.max() <= 4
    assert j["ratio"] > 2


def test_hdf5_input_lossless_then_h5repack_and_h5diff(cli, tmp_path):
    h5repack, h5diff = need_tool("h5repack"), need_tool("h5diff")
    a = ct_head_crop()[:9]
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("raw/frames", data=a, chunks=(3, 128, 128), compression="gzip")
    out = tmp_path / "apr.h5"
    j = compress(cli, f"{src}:/raw/frames", out, "--mode", "lossless")
    assert j["chunks"] == [3, 128, 128]
    with h5py.File(out, "r") as f:
        assert np.array_equal(f["data"][...], a)
    # Debian's tools decode it through the plugin: unpack to no filter and compare.
    plain = tmp_path / "plain.h5"
    run([h5repack, "-f", "NONE", out, plain])
    with h5py.File(plain, "r") as f:
        assert f["data"].compression is None and np.array_equal(f["data"][...], a)
    assert run([h5diff, out, src, "/data", "/raw/frames"], check=False).returncode == 0


def test_bad_input_one_line_no_file(cli, tmp_path):
    np.save(tmp_path / "c.npy", np.zeros((4, 4), dtype=np.complex64))
    r = run([cli, "compress", tmp_path / "c.npy", tmp_path / "o.h5"], check=False)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "unsupported npy dtype" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npy"]
