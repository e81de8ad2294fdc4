#!/usr/bin/env bash
# Full-size VGG-16 check (CTest: model_full_vgg16).
#
#   run_full_vgg16.sh TEST_MODEL DIR [NEUROCMP_CLI]
#
# 1. Generates the full-size reference cases into DIR (a directory in the
#    build tree, never in the sources) with
#       $NCMP_PYTHON3 tests/gen_model_fixtures.py --full-vgg16 DIR
#    vgg16.{weights,ref}.h5 (torchvision VGG-16, 224x224, N=2, T=0) and
#    vgg16-cnnf.{weights,ref}.h5 (N=1, T=2): ~1.2 GB, ~1 min.  They are reused
#    while DIR/.generated holds the SHA-256 of the current generator; any
#    change to the generator (or an interrupted run) makes them be rebuilt.
# 2. Runs TEST_MODEL --full DIR: the C engine against them, float64 within
#    1e-9 at every iteration, float32 within 1e-4 at t = 0.
# 3. Checks scripts/torch_to_h5.py at full size on the same tensors (~530 MB
#    .pth each, deleted afterwards) and, given NEUROCMP_CLI, that neurocmp
#    accepts the result.
#
# Exit 77 (CTest: skipped) when the python lacks torch, torchvision or h5py.
# NCMP_FULL_VGG16_CLEAN=1 deletes DIR afterwards (frees the 1.2 GB).
set -u
test_model=${1:?usage: run_full_vgg16.sh TEST_MODEL DIR [NEUROCMP_CLI]}
dir=${2:?usage: run_full_vgg16.sh TEST_MODEL DIR [NEUROCMP_CLI]}
cli=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
gen=$here/gen_model_fixtures.py
py=${NCMP_PYTHON3:-/usr/bin/python3}

if ! "$py" -c 'import torch, torchvision, h5py, numpy' 2>/dev/null; then
  echo "SKIP: $py lacks torch, torchvision or h5py (Debian: python3-torch python3-torchvision python3-h5py)"
  exit 77
fi

files="vgg16.weights.h5 vgg16.ref.h5 vgg16-cnnf.weights.h5 vgg16-cnnf.ref.h5"
want=$(sha256sum "$gen" | cut -d' ' -f1)
fresh=1
[ "$(cat "$dir/.generated" 2>/dev/null)" = "$want" ] || fresh=0
for f in $files; do [ -s "$dir/$f" ] || fresh=0; done

t0=$(date +%s)
if [ $fresh = 0 ]; then
  mkdir -p "$dir" || exit 1
  rm -f "$dir/.generated"
  for f in $files; do rm -f "$dir/$f"; done
  avail_kb=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
  if [ "${avail_kb:-0}" -lt 1500000 ]; then
    echo "FAIL: the full VGG-16 fixtures need ~1.3 GB, but $dir has only $((avail_kb / 1024)) MB free" >&2
    exit 1
  fi
  echo "generating the full-size fixtures into $dir ..."
  if ! "$py" "$gen" --full-vgg16 "$dir" >"$dir/generate.log" 2>&1; then
    echo "FAIL: $gen --full-vgg16 failed:" >&2
    tail -n 30 "$dir/generate.log" >&2
    exit 1
  fi
  grep -E "self-check|full:|done in" "$dir/generate.log"
  echo "$want" >"$dir/.generated"
else
  echo "reusing the full-size fixtures in $dir (generator unchanged)"
fi
t1=$(date +%s)

"$test_model" --full "$dir"
rc=$?
t2=$(date +%s)

# 3. scripts/torch_to_h5.py at full size: the same tensors saved as PyTorch
#    state_dicts (vgg16's is torchvision's own) convert to bit-identical
#    files, which neurocmp accepts.  The .pth and converted files are deleted.
conv=$here/../scripts/torch_to_h5.py
work=$dir/converter
rm -rf "$work" && mkdir -p "$work" || exit 1
for case in vgg16 vgg16-cnnf; do
  "$py" -c 'import sys, h5py, torch
with h5py.File(sys.argv[1], "r") as f:
    torch.save({k: torch.from_numpy(f[k][()]) for k in f}, sys.argv[2])' "$dir/$case.weights.h5" "$work/$case.pth"
  c0=$(date +%s%N)
  if ! "$py" "$conv" --arch "$case" "$work/$case.pth" "$work/$case.h5"; then
    echo "FAIL: torch_to_h5.py could not convert $case.pth" >&2
    rc=1
    continue
  fi
  c1=$(date +%s%N)
  if ! "$py" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "r") as b:
    assert set(a) == set(b), set(a) ^ set(b)
    for k in a:
        assert a[k].shape == b[k].shape and b[k].dtype == np.float32, k
        assert np.array_equal(a[k][()].view(np.uint32), b[k][()].view(np.uint32)), k
    print(f"  {len(a)} tensors, {sum(a[k].size for k in a)} values bit-identical to the generator file")' \
      "$dir/$case.weights.h5" "$work/$case.h5"; then
    echo "FAIL: converted $case weights differ from the generator's" >&2
    rc=1
  fi
  if [ -n "$cli" ] && ! "$cli" -q arch "$case" --weights "$work/$case.h5" >"$work/arch.log" 2>&1; then
    echo "FAIL: neurocmp arch $case rejects the converted weights:" >&2
    cat "$work/arch.log" >&2
    rc=1
  fi
  echo "  torch_to_h5 $case: $(du -m "$work/$case.pth" | cut -f1) MB converted in $(((c1 - c0) / 1000000)) ms"
  rm -f "$work/$case.pth" "$work/$case.h5"
done
rm -rf "$work"
t3=$(date +%s)
echo "model_full_vgg16: generation $((t1 - t0)) s, C comparison $((t2 - t1)) s, converter check $((t3 - t2)) s"

if [ "${NCMP_FULL_VGG16_CLEAN:-0}" = 1 ]; then
  rm -rf "$dir"
fi
exit $rc
