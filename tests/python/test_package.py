"""The h5z-apr wheel, installed in a fresh venv (.venv-wheel): h5py without HDF5_PLUGIN_PATH,
hdf5plugin-style settings, compress/decompress without HDF5, numcodecs/Zarr codecs, dask.

Run by scripts/test.sh as `.venv-wheel/bin/python -m pytest --noconftest tests/python/test_package.py`
(--noconftest: conftest.py sets HDF5_PLUGIN_PATH for the plugin tests, which is exactly what
this file must do without). Elsewhere (the plugin-test .venv, no h5z_apr installed) it skips.
Test data: ../shared/data (or $H5Z_APR_TEST_DATA); absent files fall back to generated
volumes with a loud warning.
"""
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("H5Z_APR_TEST_DATA", REPO.parent / "shared" / "data"))
CLI = REPO / "target" / "release" / "h5z-apr"
FILTER_ID = 47815

if "HDF5_PLUGIN_PATH" in os.environ:
    pytest.skip(
        "!!!!! SKIPPED: HDF5_PLUGIN_PATH is set; the wheel tests run without it "
        "(scripts/test.sh runs them in .venv-wheel with --noconftest) !!!!!",
        allow_module_level=True,
    )
try:
    import h5z_apr
except ImportError:
    if os.environ.get("CI") == "true" and os.environ.get("H5Z_APR_WHEEL_VENV") == "1":
        raise
    pytest.skip("!!!!! SKIPPED: h5z_apr is not installed (the wheel venv is .venv-wheel) !!!!!", allow_module_level=True)

import h5py  # noqa: E402
from h5z_apr import APR, APRError  # noqa: E402

# The adapter warns that numcodecs codecs are outside the Zarr v3 spec; that is known.
pytestmark = pytest.mark.filterwarnings("ignore:Numcodecs codecs are not in the Zarr version 3")


def clean_env():
    env = dict(os.environ)
    env.pop("HDF5_PLUGIN_PATH", None)
    return env


def run_py(code, check=True):
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=clean_env(), cwd="/"
    )
    if check and r.returncode != 0:
        raise AssertionError(f"exit {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
    return r


def synthetic(shape, dtype="u2", seed=0):
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    r2 = sum(g * g for g in grids)
    v = 1000 + 800 * np.exp(-r2 * 3) + 300 * np.sin(grids[-1] * 9) * np.cos(grids[-2] * 5)
    v = v + rng.normal(0, 25, shape)
    return v.clip(0, 4000).astype(dtype)


def real(rel, crop, dtype="u2"):
    """A central crop of a shared data volume, or a generated one (with a loud warning)."""
    p = DATA / rel
    if not p.exists():
        warnings.warn(f"!!!!! test data {p} is absent: using a GENERATED volume {crop} instead !!!!!")
        return synthetic(crop, dtype)
    a = np.load(p, mmap_mode="r")
    a = a.reshape((1,) * (len(crop) - a.ndim) + a.shape) if a.ndim < len(crop) else a
    sl = tuple(slice(max(0, (n - c) // 2), max(0, (n - c) // 2) + c) for n, c in zip(a.shape[-len(crop):], crop))
    lead = (0,) * (a.ndim - len(crop))
    return np.ascontiguousarray(a[lead + sl])


def ct():
    return real("ct_head_ge/ct_head_ge_uint16.npy", (16, 200, 180))


def err(a, b):
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


# ---------------------------------------------------------------- the installed package


def test_imported_from_the_installed_wheel_without_plugin_path():
    pkg = Path(h5z_apr.__file__).resolve()
    assert REPO / "python" not in pkg.parents, f"h5z_apr imported from the source tree: {pkg}"
    assert Path(sys.prefix).resolve() in pkg.parents, pkg
    assert Path(h5z_apr.LIB_PATH).parent == pkg.parent and Path(h5z_apr.LIB_PATH).is_file()
    assert "HDF5_PLUGIN_PATH" not in os.environ
    assert h5z_apr.registered
    assert h5py.h5z.filter_avail(FILTER_ID)
    assert h5z_apr.__version__ == h5z_apr.version() and h5z_apr.format_version() >= 1


def test_fresh_process_reads_only_after_import(tmp_path):
    path = tmp_path / "ct.h5"
    a = ct()
    np.save(tmp_path / "a.npy", a)
    run_py(
        f"""
        import numpy as np, h5py, h5z_apr
        a = np.load({str(tmp_path / 'a.npy')!r})
        with h5py.File({str(path)!r}, "w") as f:
            f.create_dataset("d", data=a, chunks=(8, 64, 64), **h5z_apr.APR(mode="abs", bound=4))
        """
    )
    # Without `import h5z_apr` the filter is unknown to h5py's HDF5: reading fails cleanly.
    r = run_py(f"import h5py; h5py.File({str(path)!r})['d'][...]", check=False)
    assert r.returncode != 0 and "OSError" in r.stderr, r.stderr
    r = run_py(
        f"""
        import h5py, numpy as np
        import h5z_apr
        b = h5py.File({str(path)!r})["d"][...]
        a = np.load({str(tmp_path / 'a.npy')!r})
        print(float(np.abs(a.astype(float) - b).max()))
        """
    )
    assert 0 < float(r.stdout) <= 4


def test_packaged_library_is_an_hdf5_plugin_for_the_system_tools(tmp_path):
    import shutil

    h5dump = shutil.which("h5dump")
    if h5dump is None:
        if os.environ.get("CI") == "true":
            pytest.fail("h5dump is missing (Debian hdf5-tools, scripts/setup.sh)")
        pytest.skip("!!!!! SKIPPED: h5dump is missing (Debian hdf5-tools) !!!!!")
    a = ct()[:8, :64, :80]
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.create_dataset("d", data=a, chunks=(8, 32, 32), **APR(mode="abs", bound=4))
        b = f["d"][...]
    # The system HDF5 (a different library than h5py's) loads the wheel's copy as a plugin.
    env = dict(clean_env(), HDF5_PLUGIN_PATH=h5z_apr.PLUGIN_PATH)
    out = tmp_path / "d.bin"
    subprocess.run([h5dump, "-d", "/d", "-b", "LE", "-o", out, tmp_path / "t.h5"], check=True, env=env, capture_output=True)
    assert np.array_equal(np.fromfile(out, dtype="<u2").reshape(a.shape), b)


def test_without_h5py_the_codec_still_works():
    r = run_py(
        """
        import json, sys
        sys.modules["h5py"] = None  # as if h5py were not installed
        import numpy as np, h5z_apr
        s = h5z_apr.APR(mode="abs", bound=4)
        a = (np.arange(5000) % 333).astype("i2").reshape(50, 100)
        b = h5z_apr.decompress(h5z_apr.compress(a, settings=s))
        try:
            h5z_apr.register()
            msg = None
        except h5z_apr.APRError as e:
            msg = str(e)
        print(json.dumps([h5z_apr.registered, dict(s)["compression_opts"], int(np.abs(b - a).max()), msg]))
        """
    )
    registered, opts, e, msg = json.loads(r.stdout)
    assert registered is False and opts == [1, 4, 0] and 0 < e <= 4
    assert msg.startswith("h5py is not installed"), msg
    assert "Warning" not in r.stderr, r.stderr


# ---------------------------------------------------------------- h5py settings objects

MODES = [
    dict(mode="lossless"),
    dict(mode="abs", bound=4),
    dict(mode="abs", bound=0.5, effort=9),
    dict(mode="apr", rel_error=0.1),
    dict(mode="apr", rel_error=0.05, effort=1),
    dict(mode="noise", k=0.5),
    dict(mode="noise", k=1, effort=9),
    dict(mode="apr-particles", rel_error=0.1),
]


@pytest.mark.parametrize("kw", MODES, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_h5py_every_mode(tmp_path, kw):
    a = ct()
    s = APR(**kw)
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        # 8x64x64 chunks leave partial edge chunks along y and x.
        f.create_dataset("d", data=a, chunks=(8, 64, 64), **s)
    with h5py.File(path, "r") as f:
        d = f["d"]
        b = d[...]
        values = d.id.get_create_plist().get_filter_by_id(FILTER_ID)[1]
        assert values[: len(s.filter_options)] == s.filter_options
        mask, chunk = d.id.read_direct_chunk((8, 64, 64))
        assert mask == 0 and chunk[:4] == b"APRZ"
        # The standalone decoder reads the stream the filter stored.
        assert np.array_equal(h5z_apr.decompress(chunk), b[8:16, 64:128, 64:128])
        assert d.id.get_storage_size() < a.nbytes
    assert b.dtype == a.dtype and b.shape == a.shape
    if kw["mode"] == "lossless":
        assert np.array_equal(a, b)
    elif kw["mode"] == "abs":
        # Integer data with a bound below 1 comes back exact.
        assert err(a, b) <= kw["bound"] and (err(a, b) > 0) == (kw["bound"] >= 1)
    elif kw["mode"] == "noise":
        # |x - x'| <= k * sigma(x) at every element, sigma from the model each stored chunk
        # carries (noise_model.py reads it from the chunk bytes).
        from noise_model import check_noise_dataset

        h = h5z_apr.header(chunk)
        assert (h["mode"], h["value"], h["format_version"]) == ("noise", kw["k"], 5)
        with h5py.File(path, "r") as f:
            worst, tiles = check_noise_dataset(f["d"], a, kw["k"])
        assert tiles > 0 and 0 < worst <= kw["k"], worst
    else:
        assert err(a, b) > 0
        assert h5z_apr.header(chunk)["mode"] == "apr"
        assert h5z_apr.header(chunk)["value"] == pytest.approx(kw["rel_error"])
        # apr writes format version 4 (condition at every pixel); apr-particles (cd_values
        # mode 4) the particle cells of format version 2.
        want = 2 if kw["mode"] == "apr-particles" else 4
        assert h5z_apr.header(chunk)["format_version"] == want
        assert s.filter_options[0] == (4 if kw["mode"] == "apr-particles" else 2)


def test_compression_keyword_takes_the_settings_object(tmp_path):
    a = ct()[:8]
    with h5py.File(tmp_path / "k.h5", "w") as f:
        f.create_dataset("d", data=a, chunks=(8, 50, 60), compression=APR(mode="abs", bound=2))
    with h5py.File(tmp_path / "k.h5", "r") as f:
        assert 0 < err(a, f["d"][...]) <= 2


CLI_CASES = [
    dict(mode="lossless"),
    dict(mode="abs", bound=4),
    dict(mode="abs", bound=0),
    dict(mode="abs", bound=0.0005),
    dict(mode="abs", bound=4294967295),
    dict(mode="abs", bound=1e-22),
    dict(mode="abs", bound=0.1, effort=22),
    dict(mode="apr", rel_error=0.1, effort=9),
    dict(mode="apr", rel_error=5),
    dict(mode="abs", bound=-1),
    dict(mode="abs", bound=float("nan")),
    dict(mode="abs", bound=float("inf")),
    dict(mode="abs", bound=1e-23),
    dict(mode="abs", bound=4294967296),
    dict(mode="abs", bound=1e300),
    dict(mode="apr", rel_error=0),
    dict(mode="apr", rel_error=-0.1),
    dict(mode="apr", rel_error=1e-30),
    dict(mode="noise", k=0.5),
    dict(mode="noise", k=0),
    dict(mode="noise", k=2.5, effort=9),
    dict(mode="noise", k=-1),
    dict(mode="noise", k=float("nan")),
    dict(mode="noise", k=float("inf")),
]


@pytest.mark.parametrize("kw", CLI_CASES, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_settings_accepted_and_encoded_like_the_cli(kw):
    """The CLI (`h5z-apr cd-values`) and APR(...) accept the same settings and give the same
    cd_values."""
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing (cargo build --release)")
    flag = {"bound": "--bound", "rel_error": "--rel-error", "k": "--k", "effort": "--effort"}
    args = ["--mode", kw["mode"]] + [f"{flag[k]}={v}" for k, v in kw.items() if k != "mode"]
    r = subprocess.run([CLI, "cd-values", "--json", *args], capture_output=True, text=True)
    try:
        opts = list(APR(**kw).filter_options)
    except APRError as e:
        assert r.returncode == 2 and "error" in r.stderr, (kw, str(e), r.stdout)
        return
    assert r.returncode == 0, (kw, opts, r.stderr)
    cd = json.loads(r.stdout)["cd_values"]
    # The CLI writes lossless as [0], the library as [0, 0, 0]: the filter reads both alike.
    pad = max(len(opts), len(cd))
    assert opts + [0] * (pad - len(opts)) == cd + [0] * (pad - len(cd)), (kw, opts, cd)


BAD = [
    (dict(mode="abs", bound=-1), "abs bound must be finite and >= 0, got -1"),
    (dict(mode="abs", bound=float("nan")), "got NaN"),
    (dict(mode="abs", bound=float("inf")), "abs bound must be finite"),
    (dict(mode="apr", rel_error=0), "apr mode needs a finite relative error E > 0, got 0"),
    (dict(mode="apr", rel_error=-0.1), "apr mode needs a finite relative error E > 0, got -0.1"),
    (dict(mode="abs", bound=3.14159265358979), "cannot be written as m x 10^-e"),
    (dict(mode="abs", bound=1, effort=23), "effort must be in 1..=22, got 23"),
    (dict(mode="abs", bound=1, effort=-4), "effort must be in 1..=22, got -4"),
    (dict(mode="abs", bound=1, effort=0), "effort must be 1..22"),
    (dict(mode="zstd"), "unknown mode 'zstd'"),
    (dict(mode="abs"), "mode 'abs' needs bound=B"),
    (dict(mode="apr", bound=1), "mode 'apr' needs rel_error=E"),
    (dict(mode="lossless", bound=1), "mode 'lossless' takes no bound"),
    (dict(mode="abs", bound=1, rel_error=0.1), "rel_error is only used with mode 'apr'"),
    (dict(mode="noise", k=-1), "noise mode needs a finite factor k >= 0, got -1"),
    (dict(mode="noise", k=float("nan")), "noise mode needs a finite factor k >= 0, got NaN"),
    (dict(mode="noise"), "mode 'noise' needs k=K"),
    (dict(mode="noise", k=0.5, bound=1), "mode 'noise' takes k, not bound/rel_error"),
    (dict(mode="abs", bound=1, k=0.5), "k is only used with mode 'noise'"),
    (dict(mode="noise", k=0.5, effort=23), "effort must be in 1..=22, got 23"),
]


@pytest.mark.parametrize("kw,msg", BAD, ids=[m for _, m in BAD])
def test_bad_settings_raise_the_library_message(kw, msg):
    for make in (APR, lambda **k: h5z_apr.compress(np.zeros((4, 4), "u2"), **k)):
        with pytest.raises(APRError) as e:
            make(**kw)
        assert msg in str(e.value), str(e.value)
        assert isinstance(e.value, ValueError)


def test_bad_settings_types():
    with pytest.raises(TypeError, match="bound must be a number"):
        APR(mode="abs", bound="four")
    with pytest.raises(TypeError, match="effort must be an integer"):
        APR(mode="abs", bound=1, effort=2.5)
    with pytest.raises(TypeError, match="k must be a number"):
        APR(mode="noise", k=[0.5])


def test_mode_codes_are_the_c_api_constants():
    """_capi.MODES is what include/h5z_apr.h (cbindgen, from src/capi.rs) defines."""
    import re

    from h5z_apr import _capi

    header = (REPO / "include" / "h5z_apr.h").read_text()
    defined = {m.group(1).lower().replace("_", "-"): int(m.group(2)) for m in re.finditer(r"#define H5Z_APR_MODE_(\w+) (\d+)", header)}
    assert defined == _capi.MODES, (defined, _capi.MODES)
    assert defined["noise"] == 3


def test_noise_settings_and_float_refusal():
    s = APR(mode="noise", k=0.5)
    assert s.filter_options == (3, 5, 1) and s.k == 0.5 and repr(s) == "APR(mode='noise', k=0.5)"
    assert dict(s) == {"compression": FILTER_ID, "compression_opts": (3, 5, 1)}
    # Noise mode is for integer data: float arrays get the library's message.
    for dt, name in (("f4", "float32"), ("f8", "float64")):
        with pytest.raises(APRError, match=f"noise mode needs an integer dtype, got {name}"):
            h5z_apr.compress(np.ones((4, 8, 8), dt), mode="noise", k=0.5)
    a = ct()[:8, :64, :64]
    blob = h5z_apr.compress(a, mode="noise", k=1)
    assert blob == h5z_apr.compress(a, settings=APR(mode="noise", k=1))
    h = h5z_apr.header(blob)
    assert (h["mode"], h["value"], h["format_version"]) == ("noise", 1.0, 5)
    b = h5z_apr.decompress(blob)
    from noise_model import stream_sigma

    sigma, models = stream_sigma(blob, a)
    e = np.abs(a.astype(np.float64) - b)
    assert models and np.all(e <= sigma) and e.max() > 0


# ---------------------------------------------------------------- compress / decompress

DTYPES = ["u1", "i1", "u2", "i2", "u4", "i4", "f4", "f8"]


@pytest.mark.parametrize("dt", DTYPES + [">u2", ">i4", ">f8"])
def test_compress_lossless_every_dtype(dt):
    base = ct()[:6, :37, :41].astype(np.float64)
    dtype = np.dtype(dt)
    if dtype.kind == "f":
        a = (base / 7.0).astype(dtype)
        a.flat[::97] = -a.flat[::97]
    else:
        info = np.iinfo(dtype)
        a = np.clip(base * (float(info.max) - float(info.min)) / 4000 + float(info.min), info.min, info.max)
        a = a.astype(dtype)
    blob = h5z_apr.compress(a)
    assert isinstance(blob, bytes) and blob[:4] == b"APRZ"
    b = h5z_apr.decompress(blob)
    assert b.dtype == dtype.newbyteorder("<") and b.shape == a.shape
    assert np.array_equal(a, b)
    h = h5z_apr.header(blob)
    assert h["shape"] == a.shape and h["dtype"] == b.dtype and h["mode"] == "lossless"


def test_compress_abs_bound_on_float_tomogram():
    a = real("cryoet_tomogram_hiv/tomo_float32.npy", (12, 128, 128), dtype="f4")
    bound = float(np.std(a)) / 8
    bound = float(f"{bound:.3g}")
    b = h5z_apr.decompress(h5z_apr.compress(a, mode="abs", bound=bound))
    assert 0 < err(a, b) <= bound
    # A non-contiguous view compresses the values it shows.
    v = a[:, ::2, 1::3]
    assert np.array_equal(h5z_apr.decompress(h5z_apr.compress(v)), v)
    out = np.empty_like(a)
    assert h5z_apr.decompress(h5z_apr.compress(a), out=out) is out and np.array_equal(out, a)


def test_standalone_stream_equals_the_hdf5_chunk(tmp_path):
    a = ct()[:8, :64, :64]
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("d", data=a, chunks=a.shape, **APR(mode="abs", bound=4))
    with h5py.File(tmp_path / "c.h5", "r") as f:
        _, chunk = f["d"].id.read_direct_chunk((0, 0, 0))
    assert h5z_apr.compress(a, mode="abs", bound=4) == chunk


def test_bad_input_and_streams_raise_never_crash():
    with pytest.raises(TypeError, match="dtype int64 is not supported"):
        h5z_apr.compress(np.zeros(10, np.int64))
    with pytest.raises(TypeError, match="dtype bool is not supported"):
        h5z_apr.compress(np.zeros(10, bool))
    with pytest.raises(APRError, match="every dimension must be >= 1"):
        h5z_apr.compress(np.zeros((0, 4), "u2"))
    # A 0-d array is one element (the C API stores rank 0 as shape (1,)).
    assert h5z_apr.decompress(h5z_apr.compress(np.array(7, "u2"))).tolist() == [7]
    blob = h5z_apr.compress(ct()[:4, :40, :40], mode="abs", bound=2)
    for bad in [b"", b"junk", blob[:20], blob[: len(blob) // 2]]:
        with pytest.raises(APRError) as e:
            h5z_apr.decompress(bad)
        assert e.value.status_name.startswith("H5Z_APR_ERR_") and str(e.value)
    flipped = bytearray(blob)
    flipped[len(flipped) // 2] ^= 0x40
    with pytest.raises(APRError) as e:
        h5z_apr.decompress(bytes(flipped))
    assert e.value.status_name in ("H5Z_APR_ERR_CORRUPT", "H5Z_APR_ERR_TRUNCATED"), e.value.status_name
    with pytest.raises(ValueError, match="out has"):
        h5z_apr.decompress(blob, out=np.empty(3, "u2"))


def test_corrupt_chunk_in_hdf5_is_an_oserror(tmp_path):
    a = ct()[:8, :64, :64]
    with h5py.File(tmp_path / "x.h5", "w") as f:
        d = f.create_dataset("d", shape=a.shape, dtype=a.dtype, chunks=a.shape, **APR(mode="abs", bound=4))
        blob = bytearray(h5z_apr.compress(a, mode="abs", bound=4))
        blob[len(blob) // 2] ^= 0x40
        d.id.write_direct_chunk((0, 0, 0), bytes(blob))
    with h5py.File(tmp_path / "x.h5", "r") as f:
        with pytest.raises(OSError):
            f["d"][...]


# ---------------------------------------------------------------- numcodecs / Zarr / dask


def test_numcodecs_codec_from_the_entry_point():
    # A fresh process that never imports h5z_apr finds the codec by its id.
    r = run_py(
        """
        import json, numpy as np, numcodecs
        c = numcodecs.get_codec({"id": "h5z_apr", "mode": "abs", "bound": 4})
        a = (np.arange(6000) % 700).astype("u2").reshape(20, 300)
        b = c.decode(c.encode(a))
        print(json.dumps([type(c).__module__, c.get_config(), int(np.abs(b.astype(int) - a).max()), b.shape]))
        """
    )
    mod, cfg, e, shape = json.loads(r.stdout)
    assert mod == "h5z_apr.numcodecs" and cfg["mode"] == "abs" and cfg["bound"] == 4
    assert 0 < e <= 4 and shape == [20, 300]


def test_numcodecs_decode_of_garbage_raises():
    from h5z_apr.numcodecs import APR as Codec

    c = Codec(mode="abs", bound=1)
    good = c.encode(ct()[:2, :30, :30])
    for bad in [b"", b"\x00" * 64, good[:-3]]:
        with pytest.raises(APRError):
            c.decode(bad)


def test_numcodecs_config_round_trip_and_validation():
    import numcodecs

    from h5z_apr.numcodecs import APR as Codec

    c = Codec(mode="apr", rel_error=0.1, effort=5)
    cfg = c.get_config()
    assert cfg == {"id": "h5z_apr", "mode": "apr", "bound": None, "rel_error": 0.1, "effort": 5}
    assert json.loads(json.dumps(cfg)) == cfg
    assert numcodecs.get_codec(dict(cfg)) == c
    # dask's process/distributed schedulers pickle the codec.
    assert pickle.loads(pickle.dumps(c)) == c and pickle.loads(pickle.dumps(APR(mode="abs", bound=2))) == APR(
        mode="abs", bound=2
    )
    with pytest.raises(APRError, match="apr mode needs a finite relative error E > 0"):
        Codec(mode="apr", rel_error=-1)
    with pytest.raises(APRError, match="apr mode needs a finite relative error E > 0"):
        numcodecs.get_codec({"id": "h5z_apr", "mode": "apr", "rel_error": 0})
    # Noise mode: k in the config (only there), same validation.
    n = Codec(mode="noise", k=0.5)
    ncfg = n.get_config()
    assert ncfg == {"id": "h5z_apr", "mode": "noise", "bound": None, "rel_error": None, "k": 0.5, "effort": None}
    assert numcodecs.get_codec(dict(ncfg)) == n and pickle.loads(pickle.dumps(n)) == n
    a = ct()[:4, :40, :40]
    assert n.decode(n.encode(a)).shape == a.shape
    with pytest.raises(APRError, match="noise mode needs a finite factor k >= 0"):
        numcodecs.get_codec({"id": "h5z_apr", "mode": "noise", "k": -0.5})


def zarr_major():
    import zarr

    return int(zarr.__version__.split(".")[0])


def zarr_store(tmp_path, a, fmt, bound):
    """A Zarr store of `a` in 8x64x64 chunks with abs `bound`: format 2 through the numcodecs
    codec as compressor (zarr-python 2 or 3), format 3 through h5z_apr.zarr3 as serializer."""
    import zarr

    import h5z_apr.numcodecs

    path = str(tmp_path / f"v{fmt}.zarr")
    codec = h5z_apr.numcodecs.APR(mode="abs", bound=bound)
    if zarr_major() == 2:
        if fmt != 2:
            pytest.skip(f"zarr-python {zarr.__version__} writes only Zarr format 2")
        z = zarr.open_array(path, mode="w", shape=a.shape, chunks=(8, 64, 64), dtype=a.dtype, compressor=codec)
    elif fmt == 2:
        z = zarr.create_array(
            path, shape=a.shape, chunks=(8, 64, 64), dtype=a.dtype, zarr_format=2, compressors=codec, filters=None
        )
    else:
        import h5z_apr.zarr3

        z = zarr.create_array(
            path, shape=a.shape, chunks=(8, 64, 64), dtype=a.dtype, zarr_format=3,
            serializer=h5z_apr.zarr3.APR(mode="abs", bound=bound), compressors=None,
        )
    z[...] = a
    return path


@pytest.mark.parametrize("fmt,rel,dtype", [(2, "ct_head_ge_int16.npy", "i2"), (3, "ct_head_ge_uint16.npy", "u2")])
def test_zarr_round_trip_with_bound(tmp_path, fmt, rel, dtype):
    a = real(f"ct_head_ge/{rel}", (20, 150, 170), dtype)
    assert a.dtype == np.dtype(dtype)
    path = zarr_store(tmp_path, a, fmt, bound=4)
    meta = json.loads((Path(path) / (".zarray" if fmt == 2 else "zarr.json")).read_text())
    if fmt == 2:
        assert meta["compressor"] == {"id": "h5z_apr", "mode": "abs", "bound": 4.0, "rel_error": None, "effort": None}
    else:
        assert meta["codecs"] == [
            {"name": "numcodecs.h5z_apr", "configuration": {"mode": "abs", "bound": 4.0, "rel_error": None, "effort": None}}
        ]
    raw = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file() and not f.name.startswith((".z", "zarr")))
    assert raw < a.nbytes
    np.save(tmp_path / "a.npy", a)
    # Read back in a fresh process that does not import h5z_apr: the entry points resolve it.
    r = run_py(
        f"""
        import warnings, numpy as np, zarr
        warnings.simplefilter("ignore")
        b = zarr.open_array({path!r}, mode="r")[...]
        a = np.load({str(tmp_path / 'a.npy')!r})
        assert b.shape == a.shape and b.dtype == a.dtype, (b.shape, b.dtype)
        print(float(np.abs(a.astype(float) - b).max()))
        """
    )
    assert 0 < float(r.stdout) <= 4


def test_zarr3_codec_validates_settings():
    if zarr_major() < 3:
        pytest.skip("zarr-python 2 has no zarr.codecs.numcodecs adapter")
    import h5z_apr.zarr3

    with pytest.raises(APRError, match="abs bound must be finite and >= 0"):
        h5z_apr.zarr3.APR(mode="abs", bound=-3)


def test_dask_reads_zarr_and_hdf5_in_parallel_with_the_same_pixels(tmp_path):
    import dask
    import dask.array as da

    a = real("ct_head_ge/ct_head_ge_uint16.npy", (32, 256, 200))
    zpath = zarr_store(tmp_path, a, 3 if zarr_major() >= 3 else 2, bound=8)
    hpath = tmp_path / "d.h5"
    with h5py.File(hpath, "w") as f:
        f.create_dataset("d", data=a, chunks=(8, 64, 64), **APR(mode="abs", bound=8))
    with h5py.File(hpath, "r") as f:
        dz = da.from_zarr(zpath)
        dh = da.from_array(f["d"], chunks=(8, 64, 64))
        assert dz.numblocks == dh.numblocks and np.prod(dz.numblocks) > 2
        with dask.config.set(scheduler="threads", num_workers=2):
            bz, bh = dask.compute(dz, dh)
    assert np.array_equal(bz, bh)
    assert 0 < err(a, bz) <= 8
