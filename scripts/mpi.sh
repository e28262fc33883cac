#!/usr/bin/env bash
# Runs only the parallel HDF5 (MPI) test of filter 47815 (tests/mpi/run.sh, ~15 s on 2 cores),
# after installing what it needs (scripts/setup.sh: Debian libhdf5-openmpi-dev, openmpi-bin,
# python3-h5py-mpi, python3-mpi4py, and the .venv with the pip h5py) and building the plugin.
# scripts/test.sh runs the same test as part of the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
bash tests/mpi/run.sh
