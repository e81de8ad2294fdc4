#!/bin/sh
# Build bench_engine (Release) and run neurocmp and PyTorch on the same
# weights, inputs and thread count; print one combined table.
#
#   bench/run.sh [--quick] [--threads N] [--repeats R] [--batch 1,8] [--out DIR]
#
# Environment: BUILD_DIR (default <repo>/build-bench), PYTHON (default
# /usr/bin/python3, Debian's python3-torch).  OPENBLAS_CORETYPE is reported,
# never changed.  Results: DIR/c_results.tsv, DIR/torch_results.tsv,
# DIR/*memory.tsv, and the logs DIR/c.log, DIR/torch.log.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
python=${PYTHON:-/usr/bin/python3}
threads=2
repeats=
batch=
quick=
out=$build/bench-out
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=--quick ;;
    --threads) threads=$2; shift ;;
    --repeats) repeats=$2; shift ;;
    --batch) batch=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$batch" ]; then
  if [ -n "$quick" ]; then batch=1,2; else batch=1,8; fi
fi
if [ -z "$repeats" ]; then
  if [ -n "$quick" ]; then repeats=2; else repeats=3; fi
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target bench_engine -j "$threads" >/dev/null
mkdir -p "$out"

export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export NEUROCMP_DATADIR=$root
echo "threads $threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}, load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Peak memory first, each in a fresh process (vgg16-cnnf, largest batch, T = 1).
"$build/bench/bench_engine" --memory-only --batch "$batch" $quick --out "$out" | tee "$out/c_memory.log"
"$build/bench/bench_engine" $quick --threads "$threads" --repeats "$repeats" --batch "$batch" --out "$out" \
  | tee "$out/c.log"
"$python" "$here/torch_peer.py" --memory-only --out "$out" --threads "$threads" --batch "$batch" \
  | tee "$out/torch_memory.log"
status=0
"$python" "$here/torch_peer.py" --out "$out" --threads "$threads" --repeats "$repeats" --batch "$batch" \
  | tee "$out/torch.log" || status=$?
"$python" "$here/torch_peer.py" --combine --out "$out" --batch "$batch" | tee "$out/combined.txt"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
