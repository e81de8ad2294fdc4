#!/usr/bin/env bash
# Compile every C file that uses HDF5 against HDF5 1.14's headers
# (Debian 13's libhdf5-dev), so the code paths for HDF5 >= 1.12
# (H5Fis_accessible, H5Ovisit3, H5L_info2_t, H5Treclaim...) are compiled
# although Debian 12 ships 1.10.  A syntax and type check, nothing is run.
#
#   scripts/check_hdf5_api.sh [WORK_DIR]
#
# Fetches the one package with apt from Debian's trixie suite into
# WORK_DIR (default build-hdf5-api/), without touching the system's apt
# state, then runs the compiler with -fsyntax-only on each file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "${1:-$root/build-hdf5-api}"
work=$(cd "${1:-$root/build-hdf5-api}" && pwd) # apt takes relative paths as relative to /etc/apt
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/sources.list.d"
apt_opts=(-o Dir::Etc::sourcelist="$work/apt/sources.list" -o Dir::Etc::sourceparts="$work/apt/sources.list.d" \
          -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache" -o Debug::NoLocking=1)
headers=$work/include
if [ ! -f "$headers/H5version.h" ]; then
  echo "deb http://deb.debian.org/debian trixie main" >"$work/apt/sources.list"
  apt-get "${apt_opts[@]}" update -qq >/dev/null
  (cd "$work" && apt-get "${apt_opts[@]}" download libhdf5-dev >/dev/null 2>&1)
  deb=$(ls "$work"/libhdf5-dev_1.14*_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || { echo "check_hdf5_api: could not fetch libhdf5-dev 1.14 from trixie" >&2; exit 1; }
  rm -rf "$work/x" && dpkg-deb -x "$deb" "$work/x"
  rm -rf "$headers" && cp -r "$work/x/usr/include/hdf5/serial" "$headers"
fi
version=$(sed -n 's/^#define H5_VERS_INFO *"\(.*\)"/\1/p' "$headers/H5public.h")
echo "check_hdf5_api: compiling against ${version:-HDF5 1.14}"
mkdir -p "$work/generated/core"
sed -e 's/@[A-Za-z_]*@/0/g' "$root/core/version.h.in" >"$work/generated/core/version.h"
flags=(-std=c11 -fsyntax-only -Wall -Wextra -Wno-missing-field-initializers -Werror -Wno-deprecated-declarations -D_POSIX_C_SOURCE=200809L
       -I"$headers" -I"$root" -I"$work/generated" $(pkg-config --cflags gsl netcdf libpng libzip cairo 2>/dev/null))
failed=0 n=0
for f in $(cd "$root" && git ls-files 'core/*.c' 'model/*.c' 'model/train/*.c' 'neural/*.c' 'analysis/*.c' 'results/*.c' \
             'datasets/*.c' 'cli/*.c' 'tests/fuzz/*.c' 'tests/crafted/*.c'); do
  grep -qE 'hdf5\.h|core/h5\.h|analysis/activations\.h|H5[A-Z][a-z]*\(' "$root/$f" || continue
  n=$((n + 1))
  gcc "${flags[@]}" "$root/$f" || { echo "check_hdf5_api: $f does not compile against HDF5 1.14" >&2; failed=1; }
done
[ "$n" -gt 10 ] || { echo "check_hdf5_api: only $n files checked" >&2; exit 1; }
echo "check_hdf5_api: $n files, $([ $failed -eq 0 ] && echo all compile || echo FAILURES)"
exit $failed
