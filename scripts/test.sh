#!/usr/bin/env bash
# Runs every test: style checks, Rust unit/integration tests (codec, C API, HDF5 hosts), the
# parallel HDF5 (MPI) test, Python (h5py) tests.
# Test data is read from ../shared/data; tests that need it skip loudly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets -- -D warnings
echo "== cargo build --release"
cargo build --release
echo "== cargo test --release"
cargo test --release
echo "== parallel HDF5 (MPI) test: tests/mpi/run.sh"
bash tests/mpi/run.sh
FUZZ_RUNS=3000 bash scripts/fuzz.sh  # short, deterministic fuzz pass (long run: scripts/fuzz.sh)
if [ -d tests/python ] && ls tests/python/test_*.py >/dev/null 2>&1; then
  echo "== pytest (h5py from a pip wheel, plugin via HDF5_PLUGIN_PATH)"
  HDF5_PLUGIN_PATH="$PWD/target/release/plugin" .venv/bin/python -m pytest -q tests/python \
    --ignore=tests/python/test_package.py
fi

# The Python package: build the wheel from the release cdylib (cargo build --lib is a no-op
# here), install it in fresh venvs and test it with h5py/numcodecs/zarr/dask from PyPI and no
# HDF5_PLUGIN_PATH (--noconftest: conftest.py sets it for the plugin tests above).
echo "== python wheel: build"
rm -rf target/wheels python/build
.venv/bin/pip wheel -q --disable-pip-version-check --no-deps -w target/wheels ./python
WHEEL=$(ls target/wheels/h5z_apr-*.whl)
for v in wheel:requirements-wheel.txt wheel-zarr2:requirements-wheel-zarr2.txt; do
  venv=".venv-${v%%:*}"
  echo "== python wheel: fresh $venv (${v#*:} + $(basename "$WHEEL"))"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "tests/python/${v#*:}" "$WHEEL"
done
echo "== pytest tests/python/test_package.py (.venv-wheel: zarr-python 3, no HDF5_PLUGIN_PATH)"
env -u HDF5_PLUGIN_PATH H5Z_APR_WHEEL_VENV=1 .venv-wheel/bin/python -m pytest -q --noconftest \
  tests/python/test_package.py
echo "== pytest tests/python/test_package.py -k zarr/dask/numcodecs (.venv-wheel-zarr2: zarr-python 2)"
env -u HDF5_PLUGIN_PATH H5Z_APR_WHEEL_VENV=1 .venv-wheel-zarr2/bin/python -m pytest -q --noconftest \
  tests/python/test_package.py -k "zarr or dask or numcodecs"
