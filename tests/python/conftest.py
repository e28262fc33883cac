"""Shared setup for the h5py end-to-end tests of filter 47815.

The plugin reaches h5py only through HDF5_PLUGIN_PATH: nothing of ours is imported. When the
variable is unset it is set here (before any test module imports h5py) to
target/release/plugin, a directory holding only a fresh copy of target/release/libh5z_apr.so
(HDF5 dlopens every lib*.so in the directory, so nothing else goes there).

Missing tools, plugin or venv: with CI=true the test fails; locally it is skipped with a loud
reason. Missing test data (../shared/data) never fails: volumes fall back to a generated one
with a loud warning, and tests that need a specific file skip loudly.
"""
import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("H5Z_APR_TEST_DATA", REPO.parent / "shared" / "data"))
FILTER_ID = 47815
LAYOUT_MARKER = 0x41505201
IN_CI = os.environ.get("CI") == "true"


def _prepare_plugin_dir() -> Path:
    built = REPO / "target" / "release" / "libh5z_apr.so"
    default = REPO / "target" / "release" / "plugin"
    plugin_dir = Path(os.environ.setdefault("HDF5_PLUGIN_PATH", str(default)))
    if plugin_dir.resolve() == default.resolve() and built.exists():
        plugin_dir.mkdir(parents=True, exist_ok=True)
        dst = plugin_dir / "libh5z_apr.so"
        st = built.stat()
        if not dst.exists() or dst.stat().st_size != st.st_size or dst.stat().st_mtime < st.st_mtime:
            tmp = plugin_dir / f".partial-{os.getpid()}"
            shutil.copy2(built, tmp)
            os.replace(tmp, dst)
    return plugin_dir


PLUGIN_DIR = _prepare_plugin_dir()


def missing(what: str):
    """Fails under CI=true, else skips loudly."""
    msg = f"{what} is missing (run scripts/setup.sh and cargo build --release)"
    if IN_CI:
        pytest.fail(f"CI=true and {msg}")
    pytest.skip(f"!!!!! SKIPPED: {msg} !!!!!")


@pytest.fixture(scope="session", autouse=True)
def plugin_present():
    if not (PLUGIN_DIR / "libh5z_apr.so").exists():
        missing(f"{PLUGIN_DIR}/libh5z_apr.so")
    return PLUGIN_DIR


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"the `{name}` program (Debian hdf5-tools)")
    return path


def need_data(rel: str) -> Path:
    p = DATA / rel
    if not p.exists():
        pytest.skip(f"!!!!! SKIPPED: test data {p} is absent !!!!!")
    return p


def synthetic_volume(shape, seed=0):
    """CT-like uint16 volume (smooth structures, noise, a zero padding band), used only when
    the real data is absent."""
    import numpy as np

    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    r2 = sum(g * g for g in grids)
    v = 1000 + 800 * np.exp(-r2 * 3) + 300 * np.sin(grids[-1] * 9) * np.cos(grids[-2] * 5)
    v += rng.normal(0, 25, shape)
    v[..., : max(1, shape[-1] // 10)] = 0
    return v.clip(0, 4000).astype(np.uint16)


def real_or_synthetic(rel: str, shape):
    import warnings

    import numpy as np

    p = DATA / rel
    if p.exists():
        return np.load(p, mmap_mode="r")
    warnings.warn(f"!!!!! test data {p} is absent: using a GENERATED volume {shape} instead !!!!!")
    return synthetic_volume(shape)


@functools.lru_cache(maxsize=1)
def _ct_head_crop():
    import numpy as np

    rel = "ct_head_ge/ct_head_ge_uint16.npy"
    if not (DATA / rel).exists():
        return real_or_synthetic(rel, (16, 256, 256))
    a = np.load(DATA / rel, mmap_mode="r")
    z0, y0, x0 = (a.shape[0] - 16) // 2, (a.shape[1] - 256) // 2, (a.shape[2] - 256) // 2
    return np.ascontiguousarray(a[z0 : z0 + 16, y0 : y0 + 256, x0 : x0 + 256])


def ct_head_crop():
    """Central 16x256x256 crop of the GE head CT (uint16); a generated volume if absent."""
    return _ct_head_crop().copy()


def run(cmd, check=True, **kw):
    env = dict(os.environ, HDF5_PLUGIN_PATH=str(PLUGIN_DIR))
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} exited {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
    return r
