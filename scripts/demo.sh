#!/usr/bin/env bash
# The main demo: builds the HDF5 plugin (release), then compresses a real volume through real
# HDF5 (h5py from a pip wheel in .venv, plugin found via HDF5_PLUGIN_PATH) in each mode
# (lossless, abs 4, apr E=0.1) and prints ratio, PSNR and max error.
# Usage: scripts/demo.sh [volume.npy]   (default: central 16x256x256 crop of the GE head CT
# from ../shared/data, or a generated volume when that is absent)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
# HDF5 tries every lib*.so in a plugin directory: use one that holds only our plugin.
mkdir -p target/release/plugin
cp target/release/libh5z_apr.so target/release/plugin/.libh5z_apr.so.partial
mv -f target/release/plugin/.libh5z_apr.so.partial target/release/plugin/libh5z_apr.so
HDF5_PLUGIN_PATH="$PWD/target/release/plugin" exec .venv/bin/python scripts/demo.py "$@"
