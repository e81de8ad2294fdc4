#!/bin/bash
# Crafted files that declare huge sizes in a few bytes (docs/hardening.md):
# each must give a clear error naming the problem and a non-zero exit below
# 128 (never a crash), under the sanitizers as in the release build.
#   test_crafted.sh NEUROCMP MAKE_CRAFTED
set -u
cli=$1
make_crafted=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli_lib.sh"
cli_tmp crafted
"$make_crafted" "$tmp" || { echo "FAIL: make_crafted"; exit 1; }

# expect_error WHAT NEEDLE -- CMD...: exit 1 (a data error, not a crash) and NEEDLE in the message
expect_error() {
  local what=$1 needle=$2; shift 3
  expect 1 "$what" -- "$@"
  contains "$needle"
  no_crash_report "$what"
}

expect_error "netCDF with 2^61+1 presentations (ceiling)" "2305843009213693953 x 1 x 1 values of 8 bytes" -- \
  "$cli" ceiling --neural "$tmp/huge-presentations.nc"
expect_error "netCDF with 2^61+1 presentations (neural info)" "2305843009213693953" -- \
  "$cli" neural info "$tmp/huge-presentations.nc"
expect_error "netCDF char stimulus ids of 2^40 characters (neural info)" "strings of 1099511627776 characters" -- \
  "$cli" neural info "$tmp/long-strings.nc"
expect_error "NumPy array declaring 2^40 x 2^40 x 2 (neural import)" "declares 1099511627776 x 1099511627776 x 2 values" -- \
  "$cli" neural import --npy "$tmp/huge.npy" --stimuli "$tmp/small-images-idx3-ubyte" --region V4 --out "$tmp/n.nc"
[ ! -e "$tmp/n.nc" ] && ok || bad "neural import left an output behind"
expect_error "activations with a /iteration of 2^61+1 entries (score)" "/iteration declares 2305843009213693953" -- \
  "$cli" score --activations "$tmp/huge-iterations.h5" --neural "$tmp/small.nc" --layer block1
expect_error "activations with a layer of 2^31 x 2^31 x 4 features (score)" "/activations/block1 (features per stimulus) declares 2147483648 x 2147483648 x 4" -- \
  "$cli" score --activations "$tmp/huge-features.h5" --neural "$tmp/small.nc" --layer block1
expect_error "activations with a /iteration of 2^61+1 entries (temporal)" "/iteration declares" -- \
  "$cli" temporal --activations "$tmp/huge-iterations.h5" --neural "$tmp/small.nc" --layer block1 --out "$tmp/t"
expect_error "IDX images of 65536 x 65536 (export)" "65536x65536 pixels" -- \
  "$cli" export --arch vgg16 --stimuli "$tmp/huge-images-idx3-ubyte" --out "$tmp/x.h5"
[ ! -e "$tmp/x.h5" ] && ok || bad "export left an output behind"

# a .partial export whose n_done says more stimuli are done than there are
expect 0 "small export" -- "$cli" export --arch cnnf-fmnist --stimuli "$tmp/small-images-idx3-ubyte" --out "$tmp/e.h5" -q
mv "$tmp/e.h5" "$tmp/e.h5.partial"
"$make_crafted" --set-int64 "$tmp/e.h5.partial" n_done 4611686018427387904
"$make_crafted" --set-int64 "$tmp/e.h5.partial" complete 0
expect_error "export --resume of a .partial with n_done 2^62" "says 4611686018427387904 stimuli are done, but there are 2" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/small-images-idx3-ubyte" --out "$tmp/e.h5" --resume
[ ! -e "$tmp/e.h5" ] && ok || bad "the damaged resume left a complete-looking output"

cli_summary crafted
