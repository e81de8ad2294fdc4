#!/usr/bin/env bash
# neurocmp study under MPI (study/schedule.h; docs/scale-out.md): a small
# study on the bundled V4 data (two seeded models, recordings imported and
# simulated, ceiling, scores, temporal, compare, results) run as one process
# and on 2 and 3 ranks.  Every step is the same command with the same key, so:
# results.csv is byte-identical; the JSON outputs are identical but for their
# creation time and input hashes; the small HDF5/netCDF outputs differ in no
# dataset (h5diff) and in no attribute but those; the activations have the
# same datasets and shapes.  The steps ran on more than one rank (rank 0 logs
# "running on rank R of P" for each, "on all P ranks" for an export); a second
# run, under MPI or as one process, finds every step up to date; a failing
# step (an export all ranks run, or a step one rank runs) ends every rank with
# its name, where it ran and its command, keeps the finished steps, and the
# next run resumes from them.
set -u
bin=${1:?usage: test_study.sh path/to/neurocmp (the MPI build)}
NCMP=$bin
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/cli_lib.sh"
. "$(dirname "$0")/lib.sh"
cli_tmp mpi-study
bundled=$root/datasets/cowley2023-v4-210325
# a hang would be a failure: every run is bounded
limit=240

write_study() { # write_study EXTRA_LAYER [RESPONSES]
  cat >"$tmp/study.ini" <<EOF
[study]
name = small-mpi
title = A small study under MPI
out = results

[stimuli]
path = $bundled/images_210325.zip

[recordings V4]
responses = ${2:-$bundled/responses_raw_210325.npy}
region = V4

[recordings sim]
simulate = net:block1@0,block1@1,block2@2
neuroids = 20
repetitions = 4
seed = 3

[model net]
arch = cnnf-fmnist
seed = 5
iterations = 2
layers = block1,block2,fc1$1

[model ff]
arch = cnnf-fmnist
seed = 6
iterations = 0
layers = block1,block2

[score]
recordings = V4
layers = block1,block2
metric = pls

[temporal]
model = net
layer = block1
recordings = sim

[compare]
recordings = V4
pair = net:block1@2 vs net:block1@0
bootstrap = 100
permutations = 100
EOF
}
write_study ""
study() { # study single | study ranks N
  if [ "$1" = single ]; then
    timeout "$limit" "$NCMP" study --config "$tmp/study.ini"
  else
    timeout "$limit" mpirun -np "$2" "$NCMP" study --config "$tmp/study.ini"
  fi
}

# ranks that ran a step, from rank 0's log
ranks_used() { grep -o "running on rank [0-9]* of" "$tmp/out" | sort -u | wc -l; }

# Outputs of two runs of the study agree: results.csv byte for byte; JSON and
# small HDF5/netCDF files but for their creation time and their inputs' hashes
# (which hash files that carry a creation time); activations in their layout
# (h5ls -r) -- their values are export's own test (tests/mpi/test_export.sh),
# and here every score computed from them must be identical.
same_outputs() { # same_outputs DIR_A DIR_B WHAT
  cmp -s "$1/results.csv" "$2/results.csv" && ok || bad "$3: results.csv differs"
  local n=0 f d
  while IFS= read -r f; do
    n=$((n + 1))
    case $f in
      *.json)
        diff <(grep -v -e '"created_utc"' -e 'sha256"' "$1/$f") <(grep -v -e '"created_utc"' -e 'sha256"' "$2/$f") \
          >/dev/null && ok || bad "$3: $f differs (beyond its creation time and input hashes)" ;;
      ./activations/*.h5)
        # (an export over several ranks adds the attribute mpi_ranks: datasets and shapes only)
        cmp -s <(cd "$1" && h5ls -r "$f") <(cd "$2" && h5ls -r "$f") && ok || bad "$3: $f has another layout" ;;
      *.h5 | *.nc)
        # netCDF's dimension scales are empty datasets h5diff calls "not comparable"
        d=$(h5diff "$1/$f" "$2/$f" 2>&1 | grep -v -e '^attribute: <created_utc of </>>' \
          -e '^attribute: <[a-z_]*sha256 of </>>' -e 'differences found$' -e '^-*$' -e 'not comparable' -e '^Use -c')
        [ -z "$d" ] && ok || bad "$3: $f differs: $(echo "$d" | head -3)" ;;
    esac
  done < <(cd "$1" && find . -type f \( -name '*.json' -o -name '*.h5' -o -name '*.nc' \) ! -name manifest.json | sort)
  [ "$n" -ge 10 ] && ok || bad "$3: only $n outputs compared"
}

# 1. one process: the reference
expect 0 "one process" -- study single
contains "10 steps run, 0 up to date"
mv "$tmp/results" "$tmp/single"

# 2. two ranks: the same outputs, spread over both ranks
expect 0 "2 ranks" -- study ranks 2
contains "10 steps run, 0 up to date"
[ "$(ranks_used)" -ge 2 ] && ok || bad "2 ranks: the steps all ran on one rank"
# exports are one export over every rank (model/export_dist.c), in-process
contains "export.net                               running on all 2 ranks"
contains "2 ranks, 320 to 320 stimuli each"
same_outputs "$tmp/single" "$tmp/results" "2 ranks vs one process"
# a second run finds everything up to date, under MPI and as one process (same keys)
expect 0 "2 ranks again" -- study ranks 2
contains "0 steps run, 10 up to date"
expect 0 "one process after 2 ranks" -- study single
contains "0 steps run, 10 up to date"
mv "$tmp/results" "$tmp/two"

# 3. three ranks
expect 0 "3 ranks" -- study ranks 3
contains "10 steps run, 0 up to date"
[ "$(ranks_used)" -ge 2 ] && ok || bad "3 ranks: the steps all ran on one rank"
contains "export.ff                                running on all 3 ranks"
same_outputs "$tmp/single" "$tmp/results" "3 ranks vs one process"
rm -rf "$tmp/results"

no_abort() {
  if grep -qE "MPI_ABORT|mpirun has exited due to|ending every rank|Terminated" "$tmp/out"; then
    bad "$1: the failure was not agreed: the job was aborted or hung"
    sed 's/^/    /' "$tmp/out" >&2
  else ok; fi
}
# 4. failing steps end every rank cleanly, with the step's name, where it ran and its command:
# an export (an unknown layer), which all ranks run together ...
write_study ",nosuch"
# (a failure export agrees across ranks ends them cleanly; one it does not agree, e.g. a usage error met
# by every rank before export's own agreement step, ends the job through MPI_Abort: both name the command)
expect 1 "a failing export on 2 ranks" -- study ranks 2
grep -qE "step export.net failed \(exit 1\) on all 2 ranks|the export step failed on rank [01] of 2 alone" \
  "$tmp/out" && ok || bad "the failed export is not named"
contains "export --seed 5"
contains "layer 'nosuch' is not in cnnf-fmnist"
[ ! -e "$tmp/results/results.csv" ] && ok || bad "a failed study wrote results.csv"
# ... and a step one rank runs (unreadable responses: import.V4 fails)
echo "not a NumPy file" >"$tmp/broken.npy"
write_study "" "$tmp/broken.npy"
expect 1 "a failing import on 2 ranks" -- study ranks 2
contains "step import.V4 failed (exit"
grep -qE "step import.V4 failed \(exit [0-9]+\) on rank [01] of 2" "$tmp/out" && ok || bad "the failure names no rank"
no_abort "a failing import"
[ ! -e "$tmp/results/results.csv" ] && ok || bad "a failed study wrote results.csv"
grep -A4 '"name": "export.net"' "$tmp/results/manifest.json" | grep -q '"state": "done"' && ok ||
  bad "the export finished before the failure is not recorded done"
grep -A4 '"name": "import.V4"' "$tmp/results/manifest.json" | grep -q '"state": "done"' &&
  bad "the manifest says the failed step is done" || ok
# 5. fixed, the study resumes: steps finished before the failure are not run again
write_study ""
expect 0 "resumed on 2 ranks" -- study ranks 2
grep -qE "export.net +up to date" "$tmp/out" && ok || bad "resuming ran the finished export again"
done_before=$(grep -c '"state": "done"' "$tmp/results/manifest.json")
[ "$done_before" -eq 10 ] && ok || bad "after resuming, $done_before steps are done, not 10"
# (the activations, kept from the failed run, record that run's study file: results only)
cmp -s "$tmp/single/results.csv" "$tmp/results/results.csv" && ok || bad "resumed: results.csv differs"

cli_summary mpi_study
