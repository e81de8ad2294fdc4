#!/usr/bin/env bash
# Valgrind memcheck over a small end-to-end run (docs/hardening.md):
# export -> simulate-neural -> score -> temporal, 40 images, cnnf-fmnist at
# width 1/4, T = 2.  Fails on any memcheck error or definite/indirect leak
# (in the probe's forked children too).  ~10 minutes.
#   scripts/valgrind_pipeline.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-$root/build}/neurocmp
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
. "$root/tests/cli_lib.sh"
idx_images set-images-idx3-ubyte 40 28
vg=(valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
    --error-exitcode=99)
export OPENBLAS_NUM_THREADS=1
status=0
run() {
  local step=$1; shift
  "${vg[@]}" "$@" >"$step.log" 2>&1
  local rc=$?
  local errors lost
  errors=$(grep -h "ERROR SUMMARY" "$step.log" | awk '{s += $4} END {print s + 0}')
  lost=$(grep -hE "definitely lost|indirectly lost" "$step.log" | awk '{s += $4} END {print s + 0}')
  echo "$step: exit $rc, $(grep -c "ERROR SUMMARY" "$step.log") processes, $errors errors, $lost bytes definitely/indirectly lost"
  [ "$rc" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$lost" -eq 0 ] || { status=1; tail -30 "$step.log"; }
}
run export "$n" export -q --arch cnnf-fmnist --width 0.25 --stimuli set-images-idx3-ubyte -T 2 --layers block1,fc1 --out acts.h5
run simulate-neural "$n" simulate-neural -q --activations acts.h5 --bins block1@0,block1@1,block1@2 --neuroids 6 \
  --repetitions 4 --objects 4 --units 8 --out sim.nc
run score "$n" score -q --activations acts.h5 --layer fc1 --neural sim.nc --components 3 --time-window 70:130 --out s.json
run temporal "$n" temporal -q --activations acts.h5 --layer block1 --neural sim.nc --components 3 --out t
exit $status
