#!/usr/bin/env bash
# Parallel HDF5 (MPI-IO) test of filter 47815: see tests/mpi/README.md.
#  1. mpi_filter.c (built with Debian's h5pcc -shlib, parallel HDF5 1.10.x) on 2 and 4 ranks:
#     collective filtered writes, pipeline/chunk checks, collective parallel read with bounds.
#  2. h5py_mpi_write.py with Debian's python3-h5py-mpi + mpi4py (/usr/bin/python3) on 3 ranks.
#  3. check_serial.py: the files read serially by the pip h5py in .venv (bounds, bit-exactness,
#     chunks byte-identical to a serial write).
#  4. h5dump -p -H (Debian hdf5-tools) shows FILTER_ID 47815 on every filtered dataset.
# Needs: scripts/setup.sh (packages, .venv) and cargo build --release (the plugin) done first.
# Prints PASS/FAIL lines; exits non-zero on any failure. Missing tools fail under CI=true and
# skip loudly otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
DATA=${H5Z_APR_TEST_DATA:-$REPO/../shared/data}

skip_or_fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL mpi: CI=true and $1 is missing (run scripts/setup.sh and cargo build --release)"
    exit 1
  fi
  echo "!!!!! SKIPPED mpi tests: $1 is missing (run scripts/setup.sh and cargo build --release) !!!!!"
  exit 0
}
for tool in h5pcc mpirun h5dump; do
  command -v "$tool" >/dev/null || skip_or_fail "the \`$tool\` program"
done
[ -f target/release/libh5z_apr.so ] || skip_or_fail "target/release/libh5z_apr.so"
[ -x .venv/bin/python ] || skip_or_fail ".venv (pip h5py)"

# The plugin directory holds only a fresh copy of the plugin (as tests/python/conftest.py does:
# HDF5 dlopens every lib*.so in it).
if [ -z "${HDF5_PLUGIN_PATH:-}" ]; then
  export HDF5_PLUGIN_PATH=$REPO/target/release/plugin
  mkdir -p "$HDF5_PLUGIN_PATH"
  if [ ! -f "$HDF5_PLUGIN_PATH/libh5z_apr.so" ] ||
     ! cmp -s target/release/libh5z_apr.so "$HDF5_PLUGIN_PATH/libh5z_apr.so"; then
    cp target/release/libh5z_apr.so "$HDF5_PLUGIN_PATH/.partial-$$"
    mv "$HDF5_PLUGIN_PATH/.partial-$$" "$HDF5_PLUGIN_PATH/libh5z_apr.so"
  fi
fi
echo "mpi: HDF5_PLUGIN_PATH=$HDF5_PLUGIN_PATH"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/h5z-apr-mpi.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
pass=0; fail=0
result() { # result NAME STATUS
  if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "PASS mpi step: $1"
  else fail=$((fail + 1)); echo "FAIL mpi step: $1 (exit status $2)"; fi
}

# Real data when present (uint16 CT head, float32 cryo-ET tomogram), else synthetic (loudly).
U16=$DATA/ct_headsq_vtk/headsq_quarter_uint16.npy
F32=$DATA/cryoet_tomogram_hiv/tomo_float32.npy
[ -f "$U16" ] || { echo "!!!!! WARNING: $U16 absent: synthetic uint16 data !!!!!"; U16=-; }
[ -f "$F32" ] || { echo "!!!!! WARNING: $F32 absent: synthetic float32 data !!!!!"; F32=-; }

# mpirun: oversubscribe (more ranks than the 2 cores), root allowed (CI runs as root), the
# plugin path exported to every rank, no stdin forwarding, a time limit against hangs.
MPIRUN=(timeout 300 mpirun --oversubscribe -x HDF5_PLUGIN_PATH)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)

# -shlib: link libhdf5_openmpi.so. h5pcc links libhdf5.a by default, and a statically linked
# HDF5 exports no symbols the plugin could resolve at run time.
echo "== mpi: h5pcc -shlib tests/mpi/mpi_filter.c"
# Run in $WORK: h5pcc leaves its object file (mpi_filter.o) in the current directory.
(cd "$WORK" && h5pcc -shlib -std=c99 -O2 -Wall -Wextra -Werror -o "$WORK/mpi_filter" \
  "$OLDPWD/tests/mpi/mpi_filter.c" -lm)
result "h5pcc -shlib mpi_filter.c" $?

files=(); expect=() # files written and how many filtered datasets each must hold
if [ -x "$WORK/mpi_filter" ]; then
  for np in 2 4; do
    echo "== mpi: mpirun -np $np mpi_filter (collective filtered write + parallel read)"
    "${MPIRUN[@]}" -np "$np" "$WORK/mpi_filter" "$WORK/c_np$np.h5" "$U16" "$F32" </dev/null
    result "mpirun -np $np mpi_filter" $?
    [ -f "$WORK/c_np$np.h5" ] && files+=("$WORK/c_np$np.h5") && expect+=(4)
  done
fi

echo "== mpi: mpirun -np 3 /usr/bin/python3 h5py_mpi_write.py (Debian python3-h5py-mpi)"
if /usr/bin/python3 -c "import mpi4py, h5py._debian_h5py_mpi" 2>/dev/null; then
  "${MPIRUN[@]}" -np 3 /usr/bin/python3 tests/mpi/h5py_mpi_write.py "$WORK/h5py_np3.h5" "$U16" "$F32" </dev/null
  result "mpirun -np 3 h5py_mpi_write.py" $?
  [ -f "$WORK/h5py_np3.h5" ] && files+=("$WORK/h5py_np3.h5") && expect+=(3)
elif [ "${CI:-}" = "true" ]; then
  result "import h5py._debian_h5py_mpi, mpi4py with /usr/bin/python3" 1
else
  echo "!!!!! SKIPPED h5py-mpi write: python3-h5py-mpi / python3-mpi4py not importable by /usr/bin/python3 !!!!!"
fi

if [ ${#files[@]} -gt 0 ]; then
  echo "== mpi: serial read with the pip h5py (.venv)"
  .venv/bin/python tests/mpi/check_serial.py "${files[@]}"
  result "check_serial.py" $?

  echo "== mpi: h5dump -p -H (Debian hdf5-tools)"
  for i in "${!files[@]}"; do
    f=${files[$i]}; base=$(basename "$f")
    n_dump=$(h5dump -p -H "$f" | grep -c "FILTER_ID 47815")
    echo "$base: h5dump shows FILTER_ID 47815 on $n_dump datasets, ${expect[$i]} expected"
    [ "$n_dump" -eq "${expect[$i]}" ]
    st=$?
    result "h5dump -p -H $base" $st
  done
else
  result "files to check (none was written)" 1
fi

echo "mpi: $pass steps passed, $fail failed"
[ "$fail" -eq 0 ]
