#!/bin/sh
# Scoring benchmark: neurocmp score --metric pls (10 splits, PLS-25) against scikit-learn's
# PLSRegression(25, scale=False) on the same synthetic data and the same splits, same thread count.
#
#   bench/bench_score.sh [--threads N] [--sklearn-splits K] [--no-block4] [--out DIR]
#
# block5 case: 3200 stimuli x 25,088 features (VGG-16 block5), 168 simulated neuroids (2 repetitions,
# so a ceiling), 10 x StratifiedShuffleSplit by 8 object labels.  scikit-learn runs only the first K
# splits (default 1; minutes each) and its 10-split time is EXTRAPOLATED (K-split mean x 10).
# block4 case: 3200 x 401,408 features (a 5.1 GB float32 file; skipped with less than 20 GB free or
# with --no-block4), neurocmp only.  Wall time and peak RSS from /usr/bin/time -f '%e %M'.
# Environment: BUILD_DIR (default <repo>/build-bench), PYTHON (default /usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
python=${PYTHON:-/usr/bin/python3}
threads=2 ksplits=1 block4=1
out=$build/score-bench
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift ;;
    --sklearn-splits) ksplits=$2; shift ;;
    --no-block4) block4= ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench_score.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${BUILD_DIR:-}" ] || [ ! -x "$build/neurocmp" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target neurocmp -j "$threads" >/dev/null
fi
bin=$build/neurocmp
mkdir -p "$out"
cd "$out"
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
echo "threads $threads, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" version 2>/dev/null | head -5 || true

t() { /usr/bin/time -f "TIME %e s, peak RSS %M KB" "$@"; }

# ---- block5: 3200 x 25,088 -------------------------------------------------------------------
[ -f b5.h5 ] || "$python" "$here/gen_score_data.py" b5.h5 --stimuli 3200 --features 25088 --layer block5
[ -f b5.nc ] || "$bin" simulate-neural --activations b5.h5 --bins block5@0 --neuroids 168 --repetitions 2 \
  --objects 8 --region IT --seed 1 -o b5.nc -q
echo "== neurocmp, block5 (3200 x 25088 x 168), PLS-25, 10 splits"
t "$bin" score --activations b5.h5 --layer block5 --neural b5.nc --metric pls --force \
  --splits-to b5_splits.json --details b5_details.h5 --out b5.json 2>&1 | tee neurocmp_b5.log
echo "== scikit-learn, same data and splits, first $ksplits split(s)"
t "$python" "$here/sklearn_score_peer.py" b5.h5 block5 b5.nc b5_splits.json --n-splits "$ksplits" \
  --details b5_details.h5 2>&1 | tee sklearn_b5.log

# ---- block4: 3200 x 401,408 (neurocmp only) -------------------------------------------------------
if [ -n "$block4" ]; then
  free_gb=$(df -BG --output=avail . | tail -1 | tr -dc 0-9)
  if [ "$free_gb" -lt 20 ]; then
    echo "== block4 skipped: ${free_gb} GB free (< 20 GB)"
  else
    [ -f b4.h5 ] || "$python" "$here/gen_score_data.py" b4.h5 --stimuli 3200 --features 401408 --layer block4
    [ -f b4.nc ] || "$bin" simulate-neural --activations b4.h5 --bins block4@0 --neuroids 168 --repetitions 2 \
      --objects 8 --region IT --seed 1 -o b4.nc -q
    echo "== neurocmp, block4 (3200 x 401408 x 168), PLS-25, 10 splits"
    t "$bin" score --activations b4.h5 --layer block4 --neural b4.nc --metric pls --force --out b4.json \
      2>&1 | tee neurocmp_b4.log
  fi
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
