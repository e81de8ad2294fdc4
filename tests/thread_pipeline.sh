#!/bin/bash
# The threaded paths end to end on a small case, for the ThreadSanitizer
# build (.ci/run): export through the engine's thread pool, recordings with
# time bins, `temporal` (parallel bin preparation, lockstep kernel PLS) and
# `score` (parallel prediction).  Any other build runs it as a plain check.
#   thread_pipeline.sh NEUROCMP
set -u
cli=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cli_lib.sh"
cli_tmp threads
idx_images "$tmp/set-images-idx3-ubyte" 40 28
expect 0 "export (engine pool)" -- "$cli" export -q --arch cnnf-fmnist --width 0.25 --stimuli "$tmp/set-images-idx3-ubyte" \
  -T 2 --layers block1,fc1 --batch 8 -j 2 --out "$tmp/acts.h5"
expect 0 "simulate-neural" -- "$cli" simulate-neural -q --activations "$tmp/acts.h5" --bins block1@0,block1@1,block1@2 \
  --neuroids 6 --repetitions 4 --objects 4 --units 8 --out "$tmp/sim.nc"
expect 0 "temporal (parallel bins, lockstep PLS)" -- "$cli" temporal -q --activations "$tmp/acts.h5" --layer block1 \
  --neural "$tmp/sim.nc" --components 3 --out "$tmp/t" --no-figures

expect 0 "score (parallel prediction)" -- "$cli" score -q --activations "$tmp/acts.h5" --layer fc1 --neural "$tmp/sim.nc" \
  --components 3 --time-window 70:130 --out "$tmp/s.json"
[ -s "$tmp/t/temporal.json" ] && ok || bad "temporal wrote no temporal.json"
cli_summary thread_pipeline
