#!/usr/bin/env bash
# score, score --layer all --iteration all (tables) and temporal under MPI (docs/scale-out.md): on 2, 3 and 4
# ranks every number of every output (JSON, CSV, HDF5 details) is within 1e-10 of one process
# (tests/mpi/numbers_close.py: |a - b| <= 1e-10 max(1, |a|, |b|), absolute for scores and correlations, relative
# beyond; NaN is a mismatch).  Two ways of sharing the Gram-matrix path (results/score_ranks.h), each checked
# (EXPECT below greps the -v line that names it): with at least as many (layer, iteration) groups (temporal:
# iterations) as ranks, each goes whole to one rank, which computes it exactly as one process (difference 0);
# with fewer, each rank sums its own feature columns and the parts are added in rank order, so only the rounding
# of that sum differs.  A split's fit and a features task are the same computation on any rank.  3 ranks split
# the conv layer's channels mid-way (a feature range of partial hyperslabs).  Bad input: an incomplete
# activations file (every rank), a NaN feature only one rank reads (its cell, or its columns), a misspelt layer:
# every rank ends, exit 1, one clear message, no results.
set -u
NCMP=${1:?usage: test_score.sh path/to/neurocmp}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../cli_lib.sh"
py=${NCMP_PYTHON3:-/usr/bin/python3}
fx=${NCMP_FIXTURES:-$here/../fixtures}/analysis
cli_tmp mpi-score
acts=$fx/e2e_activations.h5 # 125 stimuli; conv [8, 3, 3] and fc [30] at iterations 0..2
nc=$fx/e2e_neural.nc         # V4 (12 neuroids) and IT (4), repetitions, no time bins

expect 0 "simulated recordings with time bins" -- "$NCMP" simulate-neural --activations "$acts" \
  --bins fc@0,fc@0,fc@1,fc@2,fc@2,fc@1 --neuroids 20 --repetitions 6 --units 16 --snr 1 --seed 3 --region IT \
  -o "$tmp/sim.nc"

# One case: the same command in run/1 (one process) and run/N (N ranks), same relative output names so that
# the paths written into the results agree too; then every output file compared.
case_no=0
same() {
  local what=$1 outs=$2
  shift 2
  case_no=$((case_no + 1))
  local dir=$tmp/case$case_no
  mkdir -p "$dir/1"
  (cd "$dir/1" && single "$@") >"$tmp/out" 2>&1 || { bad "$what: one process failed"; sed 's/^/    /' "$tmp/out" >&2; return; }
  for n in ${RANKS:-2 4}; do
    mkdir -p "$dir/$n"
    if ! (cd "$dir/$n" && ranks "$n" -v "$@") >"$tmp/out" 2>&1; then
      bad "$what: $n ranks failed"
      sed 's/^/    /' "$tmp/out" >&2
      continue
    fi
    # EXPECT="2:whole 4:shared": how the Gram matrices were shared on that many ranks (the -v line of rank 0)
    for e in ${EXPECT:-}; do
      [ "${e%%:*}" = "$n" ] || continue
      case ${e#*:} in
        whole) pattern="each whole on one rank" ;;
        *) pattern="summed from every rank's feature columns" ;;
      esac
      grep -q "$pattern" "$tmp/out" && ok || bad "$what: on $n ranks the Gram matrices were not shared as '${e#*:}'"
    done
    for f in $outs; do
      if "$py" "$here/numbers_close.py" "$dir/1/$f" "$dir/$n/$f" >"$tmp/cmp" 2>&1; then
        ok
        echo "  $what, $n ranks: $(cat "$tmp/cmp")"
      else
        bad "$what: $f on $n ranks differs from one process"
        sed 's/^/    /' "$tmp/cmp" >&2
      fi
    done
  done
}

# score: one layer, every iteration (3 cells: whole on 2 ranks; on 4, Gram matrix by feature columns and splits
# over ranks), with the details
EXPECT="2:whole 4:shared" same "score conv (kernel)" "s.json d.h5" score --activations "$acts" --layer conv --neural "$nc" --region V4 \
  --solver kernel --out s.json --details d.h5
# tables: every layer x iteration x region
RANKS="2 3 4" EXPECT="2:whole 3:whole 4:whole" same "table pls (kernel): 6 cells, whole to ranks" "t.json t.csv" score --activations "$acts" --layer all --iteration all \
  --neural "$nc" --region each --solver kernel --out t.json --table t.csv
# one iteration: 2 cells, whole on 2 ranks and shared (feature columns) on 3
RANKS="2 3" EXPECT="2:whole 3:shared" same "table pls (kernel): 2 cells" "t.json t.csv" score --activations \
  "$acts" --layer all --iteration 1 --neural "$nc" --region each --solver kernel --out t.json --table t.csv
same "table pls (features path: whole tasks)" "t.json t.csv" score --activations "$acts" --layer all \
  --iteration all --neural "$nc" --region each --solver nipals --out t.json --table t.csv
same "table ridge (dual, per-neuroid alphas)" "t.json t.tsv" score --activations "$acts" --layer all \
  --iteration all --neural "$nc" --region V4,IT --metric ridge --solver kernel --out t.json --table t.tsv
same "table cka" "t.csv" score --activations "$acts" --layer all --neural "$nc" --region each --metric cka \
  --table t.csv
# temporal: iterations x time bins
# temporal: 3 iterations, whole on 2 ranks, shared on 4
EXPECT="2:whole 4:shared" same "temporal per-bin (kernel), a committed map" "tp/temporal.json tp/temporal.h5" temporal \
  --activations "$acts" --layer fc --neural "$tmp/sim.nc" --region IT --solver kernel --map linear:70:40 --out tp \
  --no-figures
same "temporal span (kernel)" "tp/temporal.json" temporal --activations "$acts" --layer fc \
  --neural "$tmp/sim.nc" --region IT --mode span --solver kernel --out tp --no-figures
same "temporal per-bin (features path: whole iterations)" "tp/temporal.json" temporal --activations "$acts" \
  --layer fc --neural "$tmp/sim.nc" --region IT --solver nipals --out tp --no-figures
same "temporal ridge (kernel)" "tp/temporal.json" temporal --activations "$acts" --layer fc \
  --neural "$tmp/sim.nc" --region IT --metric ridge --solver kernel --out tp --no-figures

# Bad input: every rank ends with one clear message, exit 1, and no results file.
bad_case() {
  local what=$1 text=$2
  shift 2
  expect 1 "$what" -- ranks "${BAD_RANKS:-2}" "$@" --out "$tmp/bad.json"
  contains "$text"
  if grep -q "MPI_ABORT\|ending every rank" "$tmp/out"; then bad "$what: ended by an abort, not an agreed failure"; else ok; fi
  [ "$(grep -c ": error:" "$tmp/out")" -eq 1 ] && ok || { bad "$what: not exactly one error line"; sed 's/^/    /' "$tmp/out" >&2; }
  [ ! -e "$tmp/bad.json" ] && ! ls "$tmp"/bad.json.* >/dev/null 2>&1 && ok || bad "$what: a results file was left"
}
head -c 20000 "$acts" >"$tmp/truncated.h5"
bad_case "truncated activations file (every rank)" "truncated.h5" score --activations "$tmp/truncated.h5" \
  --layer conv --neural "$nc" --region V4
bad_case "misspelt layer (every rank)" "no layer 'cnov'" score --activations "$acts" --layer cnov \
  --neural "$nc" --region V4
if "$py" -c "import h5py, numpy" 2>/dev/null; then
  # conv's last channel is in rank 1's columns on 2 ranks: only rank 1 reads the NaN.
  "$py" - "$acts" "$tmp/nan.h5" <<'PYEOF'
import shutil, sys, h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    d = f["activations/conv"]; ids = [s.decode() for s in f["stimulus_id"][:]]
    d[1, ids.index("img0042"), 7, 2, 2] = np.nan
    f["activations/fc"][1, ids.index("img0042"), 20] = np.nan
PYEOF
  # conv at iterations 0..2 on 2 ranks: iteration 1 goes whole to rank 1; on 4 ranks (fewer cells than ranks)
  # the NaN is in rank 3's columns
  bad_case "NaN feature only rank 1 reads (score, its whole cell)" \
    "rank 1 of 2: $tmp/nan.h5: layer 'conv' iteration 1 has a NaN feature (index 71" \
    score --activations "$tmp/nan.h5" --layer conv --neural "$nc" --region V4 --solver kernel
  BAD_RANKS=4 bad_case "NaN feature only rank 3 reads (score, its columns)" \
    "rank 3 of 4: $tmp/nan.h5: layer 'conv' iteration 1 has a NaN feature (index 71" \
    score --activations "$tmp/nan.h5" --layer conv --neural "$nc" --region V4 --solver kernel
  bad_case "NaN feature only rank 1 reads (table)" "rank 1 of 2:" score --activations "$tmp/nan.h5" \
    --layer all --neural "$nc" --region each --solver kernel --table "$tmp/bad.csv"
  [ ! -e "$tmp/bad.csv" ] && ok || bad "table: a CSV was left after the failure"
  # temporal: iteration 1 is rank 1's on 2 ranks (whole iterations, either path); on 4 ranks (fewer iterations
  # than ranks) fc feature 20 is in rank 2's columns of the shared Gram matrix
  bad_case "NaN in the iteration only rank 1 scores (temporal, kernel)" \
    "rank 1 of 2: iteration 1: $tmp/nan.h5: layer 'fc' iteration 1" \
    temporal --activations "$tmp/nan.h5" --layer fc --neural "$tmp/sim.nc" --region IT --solver kernel --no-figures
  BAD_RANKS=4 bad_case "NaN feature only rank 2 reads (temporal, kernel, its columns)" \
    "rank 2 of 4: $tmp/nan.h5: layer 'fc' iteration 1" \
    temporal --activations "$tmp/nan.h5" --layer fc --neural "$tmp/sim.nc" --region IT --solver kernel --no-figures
  bad_case "NaN in the iteration only rank 1 scores (temporal, features)" "rank 1 of 2: iteration 1: $tmp/nan.h5: layer 'fc'" \
    temporal --activations "$tmp/nan.h5" --layer fc --neural "$tmp/sim.nc" --region IT --solver nipals --no-figures
else
  skip "h5py/numpy missing: the rank-specific NaN case"
fi
cli_summary mpi_score
