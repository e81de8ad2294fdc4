#!/bin/sh
# Training throughput: `neurocmp train` against the PyTorch CPU loop of the
# CNN-F reference (bench/torch_train_peer.py) in the same run, same threads,
# cnnf-fmnist, batch B, T cycles, float32.  Prints images/s, the ratio and
# peak RSS of both.
#
#   bench/bench_train.sh [--threads N] [--batch B] [--cycles T] [--steps S] [--reference-repo DIR]
#
# neurocmp trains on Fashion-MNIST (Debian's dataset-fashion-mnist); its rate
# is that of the training loop (the progress line), after loading.  The peer
# times S steps after 2 warm-up steps on random images (the data loader is
# not what is measured).  --reference-repo also times the reference's own
# model code (github.com/yjhuangcd/CNNF, run, not copied).
# Environment: BUILD_DIR (default <repo>/build-bench), PYTHON (default /usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
python=${PYTHON:-/usr/bin/python3}
threads=2 batch=256 cycles=1 steps=12 refrepo=
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift ;;
    --batch) batch=$2; shift ;;
    --cycles) cycles=$2; shift ;;
    --steps) steps=$2; shift ;;
    --reference-repo) refrepo=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "bench_train.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$threads" --target neurocmp_cli >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
"$build/neurocmp" version 2>&1 | grep -i -E 'blas|neurocmp' | head -3

# neurocmp: the loop's rate from its final progress line; peak RSS from the kernel.
rate_rss() { # label, args...
  label=$1; shift
  "$python" - "$build/neurocmp" "$@" <<'EOF'
import resource, subprocess, sys, re
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if p.returncode:
    sys.stderr.write(p.stderr); sys.exit(1)
m = re.search(r"training: done, .*\(([0-9.]+) images/s\)", p.stderr)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{m.group(1)} {rss:.0f}")
EOF
}
for precision in float double; do
  set -- $(rate_rss neurocmp train --arch cnnf-fmnist --data fashion-mnist --cycles "$cycles" --batch "$batch" \
           --max-steps "$steps" --threads "$threads" --precision "$precision" --out "$out/w-$precision.h5")
  eval "nc_$precision=$1 nc_rss_$precision=$2"
done
peer=$("$python" "$here/torch_train_peer.py" --threads "$threads" --batch "$batch" --cycles "$cycles" --steps "$steps")
echo "$peer"
pt=$(echo "$peer" | sed -E 's/.*: ([0-9.]+) images\/s.*/\1/')
pt_rss=$(echo "$peer" | sed -E 's/.*peak RSS ([0-9]+) MB.*/\1/')
if [ -n "$refrepo" ]; then
  "$python" "$here/torch_train_peer.py" --threads "$threads" --batch "$batch" --cycles "$cycles" --steps "$steps" \
    --reference-repo "$refrepo"
fi
printf '\n%-34s %12s %10s %14s\n' "cnnf-fmnist, batch $batch, T = $cycles" "images/s" "vs torch" "peak RSS (MB)"
printf '%-34s %12.1f %10s %14s\n' "PyTorch $threads threads (float32)" "$pt" "1.00" "$pt_rss"
printf '%-34s %12.1f %10.2f %14s\n' "neurocmp float32" "$nc_float" "$(awk "BEGIN{print $nc_float / $pt}")" "$nc_rss_float"
printf '%-34s %12.1f %10.2f %14s\n' "neurocmp float64" "$nc_double" "$(awk "BEGIN{print $nc_double / $pt}")" "$nc_rss_double"
