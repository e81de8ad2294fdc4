#!/usr/bin/env bash
# Install neurocmp from a build directory into a temporary prefix, then build
# a downstream project against it with CMake find_package and with pkg-config.
set -euo pipefail
build=${1:?usage: install_check.sh BUILD_DIR}
src=$(cd "$(dirname "$0")" && pwd)/install_consumer
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/neurocmp"
"$tmp/prefix/bin/neurocmp" version >/dev/null
# what an installed `neurocmp demo` reads: the bundled recordings and the two trained VGG-16s
share="$tmp/prefix/share/neurocmp"
for f in datasets/cowley2023-v4-210325/responses_raw_210325.npy datasets/cowley2023-v4-210325/images_210325.zip \
         model/weights/vgg16-cnnf-fmnist32.h5 model/weights/vgg16-cnn-fmnist32.h5; do
  test -s "$share/$f" || { echo "install check: $share/$f was not installed" >&2; exit 1; }
done
NEUROCMP_DATADIR="$share" "$tmp/prefix/bin/neurocmp" arch vgg16-cnnf --weights vgg16-cnnf-fmnist32 >/dev/null
cmake -S "$src" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:$(find "$tmp/prefix" -name 'libneurocmp.so*' -printf '%h\n' | head -1)" \
  "$tmp/consumer/consumer_shared" "$tmp/a.h5"
"$tmp/consumer/consumer_static" "$tmp/b.h5"
pcdir=$(dirname "$(find "$tmp/prefix" -name neurocmp.pc | head -1)")
# shellcheck disable=SC2046
cc -o "$tmp/pc_consumer" "$src/consumer.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs neurocmp) \
  $(pkg-config --cflags hdf5)
LD_LIBRARY_PATH="$(dirname "$(find "$tmp/prefix" -name 'libneurocmp.so' | head -1)")" "$tmp/pc_consumer" "$tmp/c.h5"
echo "install check: find_package (shared, static) and pkg-config consumers built and ran"
