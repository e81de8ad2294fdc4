#!/bin/sh
# Temporal benchmark: `neurocmp temporal` (6 iterations x 20 time bins, PLS-25, 10 splits) against the
# cost of scoring the same 6 iterations on one time window (`neurocmp score --iteration all`), in the same
# run, and against the naive route (one `score --iteration all` per time bin), which is measured for
# --naive-bins K bins (default 2) and extrapolated to 20 (K-bin mean x 20).  Goal: temporal <= 1.5 x score.
#
#   bench/bench_temporal.sh [--stimuli N] [--features F] [--neuroids Q] [--threads T] [--naive-bins K] [--out DIR]
#
# Data: bench/gen_score_data.py with 6 iterations (N x F float32 each), neurocmp simulate-neural with 20 bins
# of 20 ms, bins 0-3 driven by iteration 0, 4-7 by 1, ... (2 repetitions, so ceilings).  Wall time and peak
# RSS from /usr/bin/time.  Environment: BUILD_DIR (default <repo>/build-bench), PYTHON (/usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
python=${PYTHON:-/usr/bin/python3}
stimuli=1600 features=25088 neuroids=100 threads=2 naive=2
out=$build/temporal-bench
while [ $# -gt 0 ]; do
  case $1 in
    --stimuli) stimuli=$2; shift ;;
    --features) features=$2; shift ;;
    --neuroids) neuroids=$2; shift ;;
    --threads) threads=$2; shift ;;
    --naive-bins) naive=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench_temporal.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${BUILD_DIR:-}" ] || [ ! -x "$build/neurocmp" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target neurocmp_cli -j "$threads" >/dev/null
fi
bin=$build/neurocmp
mkdir -p "$out"
cd "$out"
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
echo "threads $threads, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" version 2>/dev/null | head -5 || true
data=acts_${stimuli}x${features}.h5
[ -f "$data" ] || "$python" "$here/gen_score_data.py" "$data" --stimuli "$stimuli" --features "$features" \
  --layer block5 --iterations 6
bins=""
for b in $(seq 0 19); do bins="$bins${bins:+,}block5@$((b / 4 < 5 ? b / 4 : 5))"; done
[ -f rec.nc ] || "$bin" simulate-neural --activations "$data" --bins "$bins" --neuroids "$neuroids" --repetitions 2 \
  --objects 8 --region IT --seed 1 -o rec.nc -q
# prints "seconds peak_kB"; a failed run prints its log to stderr and stops the benchmark
secs() {
  if ! /usr/bin/time -f "%e %M" -o time.txt "$@" >run.log 2>&1; then
    cat run.log time.txt >&2
    kill -TERM $$
  fi
  cat time.txt
}

echo "== score: 6 iterations on one window (70-470 ms = every bin averaged)"
set -- $(secs "$bin" score --activations "$data" --layer block5 --neural rec.nc --region IT --time-window 70:470 \
  --splits-to splits.json --force)
score_s=$1 score_kb=$2
echo "   ${score_s} s, peak RSS $((score_kb / 1024)) MB"
echo "== temporal: 6 iterations x 20 bins (no extra window row: --time-window none)"
set -- $(secs "$bin" temporal --activations "$data" --layer block5 --neural rec.nc --region IT \
  --splits-from splits.json --time-window none --out temporal --no-figures --force)
temporal_s=$1 temporal_kb=$2
echo "   ${temporal_s} s, peak RSS $((temporal_kb / 1024)) MB"
grep -A24 "best iteration of the bin" run.log | head -24
echo "== naive: one 'score --iteration all' per bin, $naive bins measured"
naive_total=0
for b in $(seq 0 $((naive - 1))); do
  s=$((70 + 20 * b)); e=$((s + 20))
  set -- $(secs "$bin" score --activations "$data" --layer block5 --neural rec.nc --region IT --time-window "$s:$e" \
    --splits-from splits.json --force)
  naive_total=$("$python" -c "print($naive_total + $1)")
done
"$python" - "$score_s" "$temporal_s" "$naive_total" "$naive" <<'EOF'
import sys
score, temporal, naive, k = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
naive20 = naive / k * 20
print("\nresult: temporal / score(6 iterations, one window) = %.2f (goal <= 1.5)" % (temporal / score))
print("        naive 20 bins (extrapolated from %d) = %.1f s; temporal is %.1fx faster" % (k, naive20, naive20 / temporal))
EOF
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
