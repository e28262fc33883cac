#!/usr/bin/env bash
# Runs every test: style checks, Rust unit/integration tests (codec, C API, HDF5 hosts), Python (h5py) tests.
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
bash scripts/fuzz.sh 10  # short fuzz pass: build + 10 s per target (long run: scripts/fuzz.sh)
if [ -d tests/python ] && ls tests/python/test_*.py >/dev/null 2>&1; then
  echo "== pytest (h5py from a pip wheel, plugin via HDF5_PLUGIN_PATH)"
  HDF5_PLUGIN_PATH="$PWD/target/release/plugin" .venv/bin/python -m pytest -q tests/python
fi
