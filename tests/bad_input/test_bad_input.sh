#!/bin/bash
# The bad-input table (docs/hardening.md): what a careless or hostile user
# can hand each command.  Every case must exit non-zero below 128 (not a
# crash, not death by a signal), print a message naming the problem, give no
# sanitizer or crash report, and leave no output at the final path (nothing
# that could be mistaken for a finished result).
#   test_bad_input.sh NEUROCMP MAKE_CRAFTED FUZZ_CORPUS_DIR
set -u
cli=$1
make_crafted=$2
corpus=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli_lib.sh"
cli_tmp bad-input
export NEUROCMP_LOG_COLOR=0
cases=0

# case_ NAME REGEX [OUTPUT...] -- CMD...
#   REGEX (grep -E, case-insensitive) must match the message; every OUTPUT
#   named must be absent afterwards.
case_() {
  local name=$1 needle=$2; shift 2
  local outs=()
  while [ "$1" != "--" ]; do outs+=("$1"); shift; done
  shift
  cases=$((cases + 1))
  timeout 300 "$@" >"$tmp/out" 2>&1
  check_result "$name" "$needle" $? "${outs[@]}"
}

check_result() {
  local name=$1 needle=$2 code=$3; shift 3
  if [ "$code" -ge 1 ] && [ "$code" -lt 124 ]; then ok; else bad "$name: exit $code (want 1..123)"; sed 's/^/    /' "$tmp/out" | head -20 >&2; fi
  if grep -qiE -- "$needle" "$tmp/out"; then ok; else bad "$name: message lacks /$needle/"; sed 's/^/    /' "$tmp/out" | head -20 >&2; fi
  no_crash_report "$name"
  local o
  for o in "$@"; do
    [ -n "$o" ] || continue
    if [ -e "$o" ]; then bad "$name: left '$o' behind"; rm -rf "$o"; else ok; fi
  done
}

# case_signal NAME SIGNAL WAIT_FOR OUTPUT -- CMD...: a long run stopped by SIGNAL once the file
# WAIT_FOR exists (it has started writing), or after 60 s.
case_signal() {
  local name=$1 sig=$2 wait_for=$3 out=$4; shift 5
  cases=$((cases + 1))
  "$@" >"$tmp/out" 2>&1 &
  local pid=$! waited=0
  while [ ! -e "$wait_for" ] && [ "$waited" -lt 600 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.1; waited=$((waited + 1))
  done
  sleep 0.5
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid"
  check_result "$name" "interrupted|stopped" $? "$out"
}

# ---- inputs ------------------------------------------------------------------
"$make_crafted" "$tmp" || { echo "FAIL: make_crafted"; exit 1; }
# 24 Fashion-MNIST-sized images (deterministic bytes, tests/cli_lib.sh) and their labels, as IDX
idx_images "$tmp/set-images-idx3-ubyte" 24 28
{ printf '\x00\x00\x08\x01'; be32 24; for i in $(seq 0 23); do printf "\\x0$((i % 10))"; done; } \
  >"$tmp/set-labels-idx1-ubyte"
imgs=$tmp/set-images-idx3-ubyte labels=$tmp/set-labels-idx1-ubyte
"$cli" export -q --arch cnnf-fmnist --width 0.25 --stimuli "$imgs" -T 1 --layers block1,fc1 --out "$tmp/acts.h5" ||
  { echo "FAIL: cannot make the activations"; exit 1; }
"$cli" simulate-neural -q --activations "$tmp/acts.h5" --bins block1@0,block1@1 --neuroids 4 --repetitions 4 \
  --objects 2 --units 8 --out "$tmp/sim.nc" >/dev/null || { echo "FAIL: cannot simulate"; exit 1; }
"$cli" train -q --arch cnnf-fmnist --width 0.25 --images "$imgs" --labels "$labels" --epochs 1 --batch 8 \
  --out "$tmp/w.h5" >/dev/null || { echo "FAIL: cannot train"; exit 1; }
acts=$tmp/acts.h5 sim=$tmp/sim.nc weights=$tmp/w.h5
o=$tmp/o   # every case's outputs go under here
mkdir -p "$o"
: >"$tmp/empty"
printf 'stimulus_id,filename\nx,a.png\n' >"$tmp/text.h5"
head -c 3000 "$acts" >"$tmp/truncated.h5"
head -c 3000 "$sim" >"$tmp/truncated.nc"
head -c 1000 "$imgs" >"$tmp/trunc-images-idx3-ubyte"
cp "$acts" "$tmp/nan-acts.h5" && "$make_crafted" --set-nan "$tmp/nan-acts.h5" activations/block1
cp "$weights" "$tmp/nan-w.h5" && "$make_crafted" --set-nan "$tmp/nan-w.h5" conv1.conv.weight
cp "$acts" "$tmp/incomplete.h5" && "$make_crafted" --set-int64 "$tmp/incomplete.h5" complete 0
mkdir -p "$tmp/noimages" "$tmp/badpng"
printf 'not a png' >"$tmp/badpng/a.png"
head -c 100 "$here/../fuzz/corpus/image/seed-rgb.png" >"$tmp/badpng/b.png"
printf 'arch x\ninput 1 28 28\nconv c1 out=4 k=3 weight=w\nflatten f\nlinear l out=10 weight=lw\nbogus layer\n' >"$tmp/bad.spec"
printf '{"train": [[0, 1, 2]], "test": [[3, 99]]}' >"$tmp/splits-out-of-range.json"
printf '{"train": [[0, 1' >"$tmp/splits-truncated.json"
printf '{"train": [[0, 1, 2]], "test": [[3, 4]], "seed": -1}' >"$tmp/splits-bad-seed.json"
printf 'stimulus_id,filename\na,x.png\na,y.png\n' >"$tmp/dup.csv"
cp "$here/../fuzz/corpus/image/seed-grey.png" "$tmp/x.png" && cp "$tmp/x.png" "$tmp/y.png"
"$cli" neural info "$here/../fixtures/neural/bad_duplicate_neuroid.nc" >/dev/null 2>&1

# ---- export ---------------------------------------------------------------------
case_ "export: missing stimuli" "no such file|cannot open|does not exist" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/nothing-here" --out "$o/e.h5"
case_ "export: empty stimuli file" "empty|not a|unknown|cannot" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/empty" --out "$o/e.h5"
case_ "export: truncated IDX" "truncated|short|bytes" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/trunc-images-idx3-ubyte" --out "$o/e.h5"
case_ "export: folder without images" "no images|empty|no stimuli" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/noimages" --out "$o/e.h5"
case_ "export: corrupt PNGs" "png|not a png or jpeg|corrupt" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/badpng" --out "$o/e.h5"
case_ "export: duplicate stimulus ids (CSV)" "duplicate|twice|more than once" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/dup.csv" --out "$o/e.h5"
case_ "export: unknown architecture" "unknown|no architecture|not found" "$o/e.h5" -- \
  "$cli" export --arch resnet-9000 --stimuli "$imgs" --out "$o/e.h5"
case_ "export: spec file with an unknown layer type" "bad.spec:6" "$o/e.h5" -- \
  "$cli" export --arch "$tmp/bad.spec" --stimuli "$imgs" --out "$o/e.h5"
case_ "export: unknown layer" "nosuch" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --layers nosuch --out "$o/e.h5"
case_ "export: missing weights" "w-missing.h5" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --weights "$tmp/w-missing.h5" --stimuli "$imgs" --out "$o/e.h5"
case_ "export: weights not HDF5" "not an HDF5 file" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --weights "$tmp/text.h5" --stimuli "$imgs" --out "$o/e.h5"
case_ "export: weights of another width" "shape|another" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --weights "$weights" --width 0.5 --stimuli "$imgs" --out "$o/e.h5"
case_ "export: weights with NaN" "NaN" "$o/e.h5" -- \
  "$cli" export --weights "$tmp/nan-w.h5" --stimuli "$imgs" --out "$o/e.h5"
case_ "export: weights file truncated" "HDF5|truncated|corrupt" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --weights "$tmp/truncated.h5" --stimuli "$imgs" --out "$o/e.h5"
case_ "export: output folder missing" "$tmp/no/such/dir" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --out "$tmp/no/such/dir/e.h5"
case_ "export: output on a read-only file system" "/proc|read-only|cannot|permission" /proc/e.h5 -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --out /proc/e.h5
case_ "export: output is a folder" "directory|folder|exists" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --out "$o"
case_ "export: --batch 0" "batch" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --batch 0 --out "$o/e.h5"
case_ "export: -T -1" "iterations|-T|cycles" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" -T -1 --out "$o/e.h5"
case_ "export: --precision quad" "precision|quad" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --precision quad --out "$o/e.h5"
case_ "export: --reduce project:0" "project" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --reduce project:0 --out "$o/e.h5"
case_ "export: IDX of 65536 x 65536 images" "65536x65536" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$tmp/huge-images-idx3-ubyte" --out "$o/e.h5"
cp "$weights" "$o/e.h5.partial"
case_ "export --resume: a .partial written by train" "another|not an export|different|resume" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --width 0.25 --stimuli "$imgs" --out "$o/e.h5" --resume
rm -f "$o/e.h5.partial"
cp "$acts" "$o/e.h5.partial" && "$make_crafted" --set-int64 "$o/e.h5.partial" complete 0
case_ "export --resume: a .partial of another command line" "different|another|same command|resume" "$o/e.h5" -- \
  "$cli" export --arch cnnf-fmnist --width 0.25 --stimuli "$imgs" -T 2 --out "$o/e.h5" --resume
rm -f "$o/e.h5.partial"
case_ "export: disk full (file size limit)" "write|space|large|cannot" "$o/e.h5" -- \
  bash -c "trap '' XFSZ; ulimit -f 64; exec '$cli' export --arch cnnf-fmnist --stimuli '$imgs' -T 2 --out '$o/e.h5'"
rm -f "$o/e.h5.partial"
case_signal "export: SIGINT mid-run" INT "$o/s.h5.partial" "$o/s.h5" -- \
  "$cli" export --arch vgg16-cnnf --width 0.5 --input-size 128 --stimuli "$imgs" -T 5 --batch 1 --out "$o/s.h5"
[ -e "$o/s.h5.partial" ] && ok || bad "export: SIGINT left no .partial to resume"
rm -f "$o/s.h5.partial"
case_signal "export: SIGTERM mid-run" TERM "$o/s.h5.partial" "$o/s.h5" -- \
  "$cli" export --arch vgg16-cnnf --width 0.5 --input-size 128 --stimuli "$imgs" -T 5 --batch 1 --out "$o/s.h5"
rm -f "$o/s.h5.partial"
cp "$acts" "$o/exists.h5"
before=$(sha256sum <"$o/exists.h5")
case_ "export: output exists (no --force)" "exists|--force" -- \
  "$cli" export --arch cnnf-fmnist --stimuli "$imgs" --out "$o/exists.h5"
[ "$(sha256sum <"$o/exists.h5")" = "$before" ] && ok || bad "export: an existing output was changed"
rm -f "$o/exists.h5"

# ---- score ----------------------------------------------------------------------
case_ "score: missing activations" "acts-missing.h5" "$o/s.json" -- \
  "$cli" score --activations "$tmp/acts-missing.h5" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: activations not HDF5" "not an HDF5 file" "$o/s.json" -- \
  "$cli" score --activations "$tmp/text.h5" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: activations empty file" "not an HDF5 file|empty" "$o/s.json" -- \
  "$cli" score --activations "$tmp/empty" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: activations truncated" "HDF5|truncated|corrupt" "$o/s.json" -- \
  "$cli" score --activations "$tmp/truncated.h5" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: activations incomplete" "incomplete" "$o/s.json" -- \
  "$cli" score --activations "$tmp/incomplete.h5" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: activations with NaN" "NaN|non-finite|not finite" "$o/s.json" -- \
  "$cli" score --activations "$tmp/nan-acts.h5" --neural "$sim" --layer block1 --components 2 --out "$o/s.json"
case_ "score: unknown layer" "no layer 'block9'" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block9 --out "$o/s.json"
case_ "score: iteration not in the file" "iteration" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --iteration 7 --out "$o/s.json"
case_ "score: recordings missing" "sim-missing.nc" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$tmp/sim-missing.nc" --layer block1 --out "$o/s.json"
case_ "score: recordings not netCDF" "netCDF|HDF" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$tmp/text.h5" --layer block1 --out "$o/s.json"
case_ "score: recordings truncated" "netCDF|HDF|truncated" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$tmp/truncated.nc" --layer block1 --out "$o/s.json"
case_ "score: recordings of other stimuli" "stimul" "$o/s.json" -- \
  "$cli" score --activations "$here/../fixtures/neural/activations_small.h5" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: duplicate neuroids" "duplicate" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$here/../fixtures/neural/bad_duplicate_neuroid.nc" --layer block1 --out "$o/s.json"
case_ "score: 2^61+1 presentations" "2305843009213693953" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$tmp/huge-presentations.nc" --layer block1 --out "$o/s.json"
case_ "score: /iteration of 2^61+1 entries" "2305843009213693953" "$o/s.json" -- \
  "$cli" score --activations "$tmp/huge-iterations.h5" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: unknown region" "region" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --region IT9 --out "$o/s.json"
case_ "score: unknown metric" "metric|svm" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --metric svm --out "$o/s.json"
case_ "score: 0 components" "components" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --components 0 --out "$o/s.json"
case_ "score: time window with no bins" "time|window|bin" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --time-window 900:1000 --out "$o/s.json"
case_ "score: splits with an index out of range" "99" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --splits-from "$tmp/splits-out-of-range.json" --out "$o/s.json"
case_ "score: splits JSON truncated" "splits-truncated.json" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --splits-from "$tmp/splits-truncated.json" --out "$o/s.json"
case_ "score: splits with a negative seed" "seed" "$o/s.json" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --splits-from "$tmp/splits-bad-seed.json" --out "$o/s.json"
case_ "score: output folder missing" "$tmp/no/dir" -- \
  "$cli" score --activations "$acts" --neural "$sim" --layer block1 --components 2 --out "$tmp/no/dir/s.json"
case_ "score: damaged HDF5 (HDF5 1.10 crashes on it)" "damaged|HDF5" "$o/s.json" -- \
  "$cli" score --activations "$corpus/weights/crash-hdf5-wild-free-in-link-table" --neural "$sim" --layer block1 --out "$o/s.json"
case_ "score: damaged global heap (HDF5 copies a negative size)" "damaged|HDF5|cannot" "$o/s.json" -- \
  "$cli" score --activations "$corpus/activations/crash-hdf5-negative-memcpy-global-heap" --neural "$sim" --layer block1 --out "$o/s.json"

# ---- temporal, ceiling, compare ---------------------------------------------------
case_ "temporal: no time bins in the recordings" "time_bin|time bin" "$o/t" -- \
  "$cli" temporal --activations "$acts" --neural "$here/../fixtures/neural/averaged_no_repetition.nc" --layer block1 --out "$o/t"
case_ "temporal: unknown layer" "no layer 'fc9'" "$o/t" -- \
  "$cli" temporal --activations "$acts" --neural "$sim" --layer fc9 --out "$o/t"
case_ "temporal: damaged netCDF (HDF5 1.10 crashes on it)" "damaged|netCDF|HDF" "$o/t" -- \
  "$cli" temporal --activations "$acts" --neural "$corpus/netcdf/crash-hdf5-wild-free-in-link-table" --layer block1 --out "$o/t"
case_ "ceiling: recordings missing" "nope.nc" "$o/c.json" -- \
  "$cli" ceiling --neural "$tmp/nope.nc" --out "$o/c.json"
case_ "ceiling: one repetition" "repetition" "$o/c.json" -- \
  "$cli" ceiling --neural "$here/../fixtures/neural/one_repetition.nc" --out "$o/c.json"
case_ "ceiling: all-NaN neuroid" "NaN" "$o/c.json" -- \
  "$cli" ceiling --neural "$here/../fixtures/neural/bad_all_nan_neuroid.nc" --out "$o/c.json"
case_ "ceiling: wrong dimensions" "dimension|presentation|neuroid" "$o/c.json" -- \
  "$cli" ceiling --neural "$here/../fixtures/neural/bad_dims.nc" --out "$o/c.json"
case_ "ceiling: two data variables" "variable" "$o/c.json" -- \
  "$cli" ceiling --neural "$here/../fixtures/neural/bad_two_variables.nc" --out "$o/c.json"
case_ "compare: details file not HDF5" "not an HDF5 file" "$o/k.json" -- \
  "$cli" compare "$tmp/text.h5" "$tmp/text.h5" --out "$o/k.json"
case_ "compare: --bootstrap -1" "bootstrap" "$o/k.json" -- \
  "$cli" compare --activations "$acts" --layer block1 --iterations 0,1 --neural "$sim" --bootstrap -1 --out "$o/k.json"
case_ "compare: confidence 1.5" "confidence" "$o/k.json" -- \
  "$cli" compare --activations "$acts" --layer block1 --iterations 0,1 --neural "$sim" --confidence 1.5 --out "$o/k.json"

# ---- neural import / info, simulate-neural ----------------------------------------
case_ "neural import: NumPy truncated" "truncated|bytes|short" "$o/n.nc" -- \
  "$cli" neural import --npy "$here/../fixtures/neural/bad_truncated.npy" --stimuli "$imgs" --region V4 --out "$o/n.nc"
case_ "neural import: NumPy of integers" "float|dtype|int" "$o/n.nc" -- \
  "$cli" neural import --npy "$here/../fixtures/neural/bad_int.npy" --stimuli "$imgs" --region V4 --out "$o/n.nc"
case_ "neural import: NumPy declaring 2^40 x 2^40 x 2" "1099511627776 x 1099511627776 x 2" "$o/n.nc" -- \
  "$cli" neural import --npy "$tmp/huge.npy" --stimuli "$imgs" --region V4 --out "$o/n.nc"
case_ "neural import: ids do not match the array" "stimul|ids|rows|match" "$o/n.nc" -- \
  "$cli" neural import --npy "$here/../fixtures/neural/small_f8_v1.npy" --stimuli "$imgs" --region V4 --out "$o/n.nc"
case_ "neural import: no --region" "region" "$o/n.nc" -- \
  "$cli" neural import --npy "$here/../fixtures/neural/small_f8_v1.npy" --stimuli "$imgs" --out "$o/n.nc"
case_ "neural info: char ids of 2^40 characters" "1099511627776 characters" -- \
  "$cli" neural info "$tmp/long-strings.nc"
case_ "neural info: a PNG" "netCDF|HDF" -- \
  "$cli" neural info "$here/../fuzz/corpus/image/seed-rgb.png"
case_ "simulate-neural: unknown layer in --bins" "nosuch" "$o/sim.nc" -- \
  "$cli" simulate-neural --activations "$acts" --bins nosuch@0 --out "$o/sim.nc"
case_ "simulate-neural: malformed --bins" "bins|@" "$o/sim.nc" -- \
  "$cli" simulate-neural --activations "$acts" --bins block1 --out "$o/sim.nc"

# ---- train, eval ---------------------------------------------------------------------
case_ "train: labels of another length" "label" "$o/w.h5" -- \
  "$cli" train --arch cnnf-fmnist --width 0.25 --images "$imgs" --labels "$tmp/small-images-idx3-ubyte" --epochs 1 --out "$o/w.h5"
case_ "train: images without labels" "labels" "$o/w.h5" -- \
  "$cli" train --arch cnnf-fmnist --width 0.25 --images "$imgs" --epochs 1 --out "$o/w.h5"
case_ "train: --lr -1" "lr|learning" "$o/w.h5" -- \
  "$cli" train --arch cnnf-fmnist --width 0.25 --images "$imgs" --labels "$labels" --lr -1 --out "$o/w.h5"
case_ "train: --batch larger than the data" "batch" "$o/w.h5" -- \
  "$cli" train --arch cnnf-fmnist --width 0.25 --images "$imgs" --labels "$labels" --batch 100 --out "$o/w.h5"
case_ "train --resume: settings changed" "resume|setting|differ" -- \
  "$cli" train --arch cnnf-fmnist --width 0.25 --images "$imgs" --labels "$labels" --epochs 1 --batch 8 --lr 0.5 --out "$weights" --resume
# train keeps its checkpoint at --out (that is what --resume reads), never marked complete
case_signal "train: SIGINT mid-run" INT "$o/w.h5" "" -- \
  "$cli" train --arch cnnf-fmnist --images "$imgs" --labels "$labels" --epochs 50 --batch 4 --out "$o/w.h5"
if [ -e "$o/w.h5" ] && "$cli" inspect "$o/w.h5" | grep -q "^status: complete"; then
  bad "train: an interrupted run left a file marked complete"
else ok; fi
rm -f "$o/w.h5" "$o/w.h5.partial"
case_ "eval: weights with NaN" "NaN" "$o/ev.json" -- \
  "$cli" eval --weights "$tmp/nan-w.h5" --images "$imgs" --labels "$labels" --out "$o/ev.json"
case_ "eval: unknown attack" "attack|nosuch" "$o/ev.json" -- \
  "$cli" eval --weights "$weights" --images "$imgs" --labels "$labels" --attack nosuch --out "$o/ev.json"

echo "bad-input table: $cases cases"
[ "$cases" -ge 60 ] && ok || bad "the table has $cases cases; at least 60 expected"
cli_summary bad_input
