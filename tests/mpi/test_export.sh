#!/bin/bash
# neurocmp export on 2 and 4 MPI ranks (ctest mpi_export; model/export_dist.c, docs/formats.md Activations):
# bit-identical to one process in every dataset and every attribute but the provenance that legitimately
# differs (created_utc: the time; mpi_ranks: only in files written by ranks), for float32 and float64 stores,
# --reduce avgpool with float arithmetic (rank 0's precision check) and more ranks than stimuli; interrupted
# and resumed per rank; a corrupt image in the last rank's share and a killed rank end every rank with no
# final output.  13 stimuli: 7+6 on 2 ranks, 4+3+3+3 on 4, so with --batch 2 or 3 some ranks make several
# batches and some rounds have a rank with nothing left.
#   bash tests/mpi/test_export.sh path/to/neurocmp      (the MPI build)
set -u
NCMP=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
bundled=$here/../../datasets/cowley2023-v4-210325/images_210325.zip

py=""
for c in ${NCMP_PYTHON3:-} /usr/bin/python3 python3; do
  if "$c" -c "import h5py" 2>/dev/null; then
    py=$c
    break
  fi
done
[ -n "$py" ] || { echo "no python3 with h5py (python3-h5py)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
failures=0
ok() { pass=$((pass + 1)); }
bad() {
  failures=$((failures + 1))
  echo "FAIL: $*" >&2
}
section() { echo "mpi_export: ${SECONDS}s: $*"; }
# Same file content: only the creation time and the rank count may differ.
identical() {
  "$py" "$here/h5_identical.py" "$1" "$2" --ignore-attr created_utc --ignore-attr mpi_ranks >"$tmp/cmp.log" 2>&1 && ok ||
    { bad "$3"; sed 's/^/    /' "$tmp/cmp.log" >&2; }
}

# Stimuli: a BrainIO CSV (its object_name column becomes /stimulus_metadata, strings rank 0 writes).
"$py" - "$bundled" "$tmp" <<'EOF'
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = sorted(n for n in z.namelist() if n.endswith(".jpg"))[:512]
os.makedirs(os.path.join(sys.argv[2], "imgs"))
for n in names:
    open(os.path.join(sys.argv[2], "imgs", n), "wb").write(z.read(n))
def table(path, rows, bad=None):
    with open(path, "w") as f:
        f.write("stimulus_id,filename,object_name\n")
        for i, n in enumerate(names[:rows]):
            f.write(f"s{i:02d},imgs/{'bad.jpg' if i == bad else n},obj{i % 3}\n")
table(os.path.join(sys.argv[2], "s13.csv"), 13)
table(os.path.join(sys.argv[2], "s3.csv"), 3)
table(os.path.join(sys.argv[2], "s512.csv"), 512)
table(os.path.join(sys.argv[2], "bad13.csv"), 13, bad=12)
open(os.path.join(sys.argv[2], "imgs", "bad.jpg"), "wb").write(z.read(names[12])[:300])
EOF

net="--arch vgg16-cnnf --width 0.125 --input-size 32 --classes 10 --threads 1 -q"

# Each run in its own folder with the same --out, so that the recorded command lines are the same.
run_in() {
  local dir=$1 how=$2
  shift 2
  mkdir -p "$tmp/$dir"
  (cd "$tmp/$dir" && if [ "$how" = 1 ]; then single export "$@"; else ranks "$how" export "$@"; fi) \
    </dev/null >"$tmp/$dir.log" 2>&1
}

# --- bit-identical to one process ----------------------------------------------------------
case_no=0
while IFS='|' read -r what args; do
  case_no=$((case_no + 1))
  section "$what"
  for p in 1 2 4; do
    run_in "c$case_no-$p" "$p" $net $args --out out.h5 && [ -e "$tmp/c$case_no-$p/out.h5" ] && ok ||
      { bad "$what on $p rank(s) failed"; sed 's/^/    /' "$tmp/c$case_no-$p.log" >&2; }
  done
  for p in 2 4; do
    identical "$tmp/c$case_no-1/out.h5" "$tmp/c$case_no-$p/out.h5" "$what: $p ranks differ from one process"
  done
done <<EOF
float32 store, double arithmetic|--stimuli $tmp/s13.csv -T 2 --layers block1,block2,block4,logits --batch 2
float64 store|--stimuli $tmp/s13.csv -T 2 --layers block2,block5,logits --batch 3 --store float64
avgpool, float arithmetic (precision check on rank 0)|--stimuli $tmp/s13.csv -T 2 --layers all --reduce avgpool --precision float --batch 2
more ranks than stimuli|--stimuli $tmp/s3.csv -T 2 --layers block2,logits --batch 1
EOF

# --- interrupted, resumed per rank ---------------------------------------------------------
section "interrupt and resume"
long="--stimuli $tmp/s512.csv -T 2 --layers block2,block4,logits --batch 1 --out out.h5"
run_in whole 1 $net $long || bad "uninterrupted export failed"
# Start a 2-rank export, wait until it writes, then signal: mpirun (Open MPI 4.1 sends SIGTERM to every rank
# odls_base_sigkill_timeout = 1 s later, and SIGKILL 1 s after that: rounds here take about 0.1 s), or one rank
# alone (as a batch system may).
interrupt() {
  local dir=$1 target=$2
  mkdir -p "$tmp/$dir"
  cd "$tmp/$dir" || return
  mpirun -np 2 "$NCMP" export $net $long </dev/null >"$tmp/$dir.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 400); do [ -e out.h5.partial ] && break; sleep 0.02; done
  sleep 0.5
  if [ "$target" = mpirun ]; then
    kill -TERM "$pid"
  else
    kill -TERM "$(pgrep -P "$pid" | tail -1)"
  fi
  wait "$pid"
  code=$?
  cd - >/dev/null || return
}
interrupt int-mpirun mpirun
# Open MPI's mpirun exits 1 when it was signalled, whatever the ranks return (each rank exits 3).
if [ "$code" -ne 0 ] && grep -q "interrupted after .* of 512 stimuli" "$tmp/int-mpirun.log" &&
  [ -e "$tmp/int-mpirun/out.h5.partial" ] && [ ! -e "$tmp/int-mpirun/out.h5" ]; then
  ok
else
  bad "SIGTERM to mpirun: exit $code, files: $(ls "$tmp/int-mpirun")"
  sed 's/^/    /' "$tmp/int-mpirun.log" >&2
fi
interrupt int-rank rank
# A signal that reaches one rank alone (as from the batch system) stops every rank after the round.
# (every rank learns of it from the round's reduction, so the message is rank 0's own, not "rank 1 of 2: ...")
if [ "$code" -eq 3 ] && grep -q "rank 0/2\]: error: interrupted after .* of 512 stimuli" "$tmp/int-rank.log" &&
  [ -e "$tmp/int-rank/out.h5.partial" ] && [ ! -e "$tmp/int-rank/out.h5" ]; then
  ok
else
  bad "SIGTERM to rank 1: exit $code (3 expected), files: $(ls "$tmp/int-rank")"
  sed 's/^/    /' "$tmp/int-rank.log" >&2
fi
# Per-rank progress: both ranks stopped after the same round.
"$py" -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
d = [int(v) for v in f.attrs['n_done_by_rank']]
assert f.attrs['mpi_ranks'] == 2 and d[0] == d[1] and 0 < d[0] < 64 and f.attrs['n_done'] == sum(d), d
" "$tmp/int-rank/out.h5.partial" && ok || bad "per-rank progress of the interrupted file"
(cd "$tmp/int-rank" && ranks 4 export $net $long --resume) </dev/null >"$tmp/resume4.log" 2>&1
code=$?
[ "$code" -eq 2 ] && grep -q "started on 2 MPI ranks and this run has 4" "$tmp/resume4.log" && ok ||
  { bad "resume on 4 ranks: exit $code"; sed 's/^/    /' "$tmp/resume4.log" >&2; }
(cd "$tmp/int-rank" && single export $net $long --resume) >"$tmp/resume1.log" 2>&1
code=$?
[ "$code" -eq 2 ] && grep -q "started on 2 MPI ranks and this run has 1" "$tmp/resume1.log" && ok ||
  { bad "resume by one process: exit $code"; sed 's/^/    /' "$tmp/resume1.log" >&2; }
for dir in int-mpirun int-rank; do
  (cd "$tmp/$dir" && ranks 2 export $net $long --resume) </dev/null >"$tmp/$dir-resume.log" 2>&1 && ok ||
    { bad "$dir: resume failed"; sed 's/^/    /' "$tmp/$dir-resume.log" >&2; }
  identical "$tmp/whole/out.h5" "$tmp/$dir/out.h5" "$dir: interrupted and resumed differs from one process"
done

# --- bad input: every rank ends, no output --------------------------------------------------
section "bad input"
mkdir -p "$tmp/bad"
(cd "$tmp/bad" && ranks 4 export $net --stimuli "$tmp/bad13.csv" -T 1 --layers block2 --batch 2 --out out.h5) \
  </dev/null >"$tmp/bad.log" 2>&1
code=$?
if [ "$code" -ne 0 ] && grep -q "rank 3 of 4: stimulus 's12'.*bad.jpg" "$tmp/bad.log" && [ -z "$(ls "$tmp/bad")" ] &&
  [ "$(grep -c "bad.jpg" "$tmp/bad.log")" -eq 1 ]; then
  ok
else
  bad "corrupt image in rank 3's share: exit $code, files: $(ls "$tmp/bad")"
  sed 's/^/    /' "$tmp/bad.log" >&2
fi

mkdir -p "$tmp/kill"
cd "$tmp/kill" || exit 1
mpirun -np 2 "$NCMP" export $net $long </dev/null >"$tmp/kill.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do [ -e out.h5.partial ] && break; sleep 0.02; done
sleep 0.3
kill -9 "$(pgrep -P "$pid" | tail -1)"
wait "$pid"
code=$?
cd - >/dev/null || exit 1
[ "$code" -ne 0 ] && [ ! -e "$tmp/kill/out.h5" ] && [ -z "$(pgrep -f "$tmp/s512.csv")" ] && ok ||
  { bad "rank killed: exit $code, files: $(ls "$tmp/kill")"; sed 's/^/    /' "$tmp/kill.log" >&2; }

echo "mpi_export: $pass passed, $failures failed"
[ "$failures" -eq 0 ]
