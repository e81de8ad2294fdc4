#!/usr/bin/env bash
# Install the Debian 12 packages neurocmp needs. Idempotent: packages already
# present are not reinstalled, and apt is only called when something is missing.
#   bash scripts/setup.sh          build + run (compiler, CMake, HDF5, GSL, OpenBLAS, ...)
#   bash scripts/setup.sh --test   also what the test suite uses (CUnit, Python cross-checks)
#   bash scripts/setup.sh --mpi    also Open MPI and parallel HDF5, for -DNEUROCMP_MPI=ON (docs/scale-out.md)
# Everything comes from Debian's package archive; nothing else is downloaded.
set -euo pipefail

want_tests=0
want_mpi=0
for arg in "$@"; do
  case "$arg" in
    --test) want_tests=1 ;;
    --mpi) want_mpi=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (use --test, --mpi or --help)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config git
  libhdf5-dev hdf5-tools   # activations, weights, results (HDF5 + high-level dimension scales)
  libgsl-dev               # regression and statistics
  libopenblas-dev          # CBLAS for convolutions and regression
  nettle-dev               # SHA-256 for provenance
  libpng-dev libjpeg-dev libzip-dev zlib1g-dev   # stimuli: PNG, JPEG, ZIP, gzipped IDX
  libnetcdf-dev            # BrainIO neural assemblies (netCDF-4)
  libcjson-dev             # reading JSON results and splits files
  libinih-dev              # study files (INI) for 'neurocmp study'
  libcairo2-dev            # figures: PNG rendering (pulls in libfontconfig-dev)
  libcunit1-dev            # unit tests (built with the library)
)
if [ "$want_tests" -eq 1 ]; then
  packages+=(
    python3 python3-numpy python3-h5py   # independent cross-checks and fixture generators
    python3-torch python3-torchvision    # CNN-F / VGG-16 reference (full-size checks at test time)
    python3-pil                          # reference image resizing for the preprocessing fixtures
    python3-xarray python3-netcdf4 python3-scipy   # BrainIO round trips (xarray reads/writes netCDF-4)
    python3-sklearn                      # cross-validation splits, PLS and ridge references
    dataset-fashion-mnist                # Fashion-MNIST IDX files (stimulus-set and export tests)
  )
fi

if [ "$want_mpi" -eq 1 ]; then
  packages+=(
    libopenmpi-dev openmpi-bin   # MPI (mpirun; Slurm's srun launches the same binary)
    libhdf5-openmpi-dev          # parallel HDF5: one activations file written by every rank
    libnetcdf-mpi-dev            # netCDF on that same HDF5 (one HDF5 library in the process)
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup.sh: done"
