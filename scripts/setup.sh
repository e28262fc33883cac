#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian machine. Idempotent.
# - Debian packages: HDF5 tools and library (system HDF5, 1.10.x on Debian 12), a C compiler,
#   pkg-config, valgrind, python venv support; g++ for the C++ use of the C header.
# - Parallel HDF5 for tests/mpi: Debian's openmpi flavour of libhdf5 (h5pcc), Open MPI, and
#   h5py/mpi4py for the system /usr/bin/python3. The openmpi flavour takes over the hdf5.pc
#   alternative (pkg-config hdf5) when installed; it is set back to the serial one below, which
#   the other tests and hdf5-sys build against.
# - A Python virtualenv in .venv with h5py/numpy (pip wheels bundle their own libhdf5).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(hdf5-tools libhdf5-dev pkg-config gcc g++ binutils valgrind python3-venv
  libhdf5-openmpi-dev openmpi-bin python3-h5py-mpi python3-mpi4py
  fonts-dejavu-core)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
SERIAL_PC=/usr/lib/x86_64-linux-gnu/pkgconfig/hdf5-serial.pc
if [ -f "$SERIAL_PC" ] && update-alternatives --query hdf5.pc >/dev/null 2>&1 &&
   ! update-alternatives --query hdf5.pc | grep -qx "Value: $SERIAL_PC"; then
  echo "setup: pkg-config hdf5 -> serial HDF5 (update-alternatives --set hdf5.pc)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO update-alternatives --set hdf5.pc "$SERIAL_PC" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import h5py, numpy, pytest" 2>/dev/null; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
fi
