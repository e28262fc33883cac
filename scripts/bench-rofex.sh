#!/usr/bin/env bash
# ROFEX benchmark of `h5z-apr compress` (benches/rofex.rs): a stream of 256x256 uint16 CT
# slices from ../shared/data/ct_head_ge written to HDF5 with 1 and 2 worker threads (abs 4
# and lossless), zstd-3 as the baseline. The stream .npy is built once under target/rofex/.
# Usage: scripts/bench-rofex.sh [--gb 1.0] [--reps 1] [--chunk-slices 16]
# The table is printed and saved as benches/results/rofex-<date>.md (or $ROFEX_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${ROFEX_OUT:-benches/results/rofex-$(date -u +%F).md}"
mkdir -p benches/results
{
  echo "# ROFEX stream benchmark, $(date -u '+%F %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores online, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), commit $(git rev-parse --short HEAD)"
  echo 'Command: `scripts/bench-rofex.sh '"$*"'`'
  echo
  echo '```'
  cargo bench --quiet --bench rofex -- "$@" 2>&1 | sed -n '/^free disk/,$p'
  echo '```'
} | tee "$out"
echo "saved $out"
