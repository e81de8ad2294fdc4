#!/bin/sh
# Score-table benchmark: one `neurocmp score --layer all --iteration all` against the single calls it
# replaces (one `score --layer L --iteration all` per layer), on the same data, the same splits and the
# same threads, run back to back; then checks that every cell of the table equals its single call.
#
#   bench/bench_table.sh [--threads N] [--size PX] [--width W] [--out DIR]
#
# Data: the bundled Cowley et al. V4 recordings (640 stimuli, 50 neuroids) and a seeded VGG-16 CNN-F
# (width W, default 0.25, input PX, default 64; T = 2: 8 layers x 3 iterations) exported by neurocmp.
# Wall time and peak RSS from /usr/bin/time -f '%e %M'.
# Environment: BUILD_DIR (default <repo>/build-bench), PYTHON (default /usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
python=${PYTHON:-/usr/bin/python3}
threads=2 size=64 width=0.25
out=$build/table-bench
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift ;;
    --size) size=$2; shift ;;
    --width) width=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench_table.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${BUILD_DIR:-}" ] || [ ! -x "$build/neurocmp" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target neurocmp_cli -j "$threads" >/dev/null
fi
bin=$build/neurocmp
data=$root/datasets/cowley2023-v4-210325
mkdir -p "$out"
cd "$out"
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
echo "threads $threads, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f v4.nc ] || "$bin" neural import --npy "$data/responses_raw_210325.npy" --stimuli "$data/images_210325.zip" \
  --region V4 -o v4.nc -q
[ -f acts.h5 ] || "$bin" export --arch vgg16-cnnf --width "$width" --input-size "$size" \
  -s "$data/images_210325.zip" -T 2 -o acts.h5 -q
"$bin" score --activations acts.h5 --layer block1 --neural v4.nc --splits-to splits.json --force -q

layers=$("$python" -c "
import h5py
f = h5py.File('acts.h5', 'r')
print(' '.join(k for k in sorted(f['activations']) if f['activations'][k].ndim >= 3))")
echo "== one call: score --layer all --iteration all"
/usr/bin/time -f "%e %M" -o table.time "$bin" score --activations acts.h5 --layer all --iteration all \
  --neural v4.nc --splits-from splits.json --out table.json --force -q
echo "== the single calls, one per layer"
: >singles.time
for l in $layers; do
  /usr/bin/time -f "%e %M" -o one.time "$bin" score --activations acts.h5 --layer "$l" --iteration all \
    --neural v4.nc --splits-from splits.json --out "single_$l.json" --force -q
  cat one.time >>singles.time
done
"$python" - $layers <<'PYEOF'
import json, sys
layers = sys.argv[1:]
t_table, m_table = (float(v) for v in open("table.time").read().split())
singles = [tuple(float(v) for v in line.split()) for line in open("singles.time") if line.strip()]
t_single = sum(s[0] for s in singles)
m_single = max(s[1] for s in singles)
table = json.load(open("table.json"))["results"]
checked = 0
for rec in table:
    one = json.load(open("single_%s.json" % rec["layer"]))
    k = one["iteration"].index(rec["iteration"])
    assert rec["raw"] == one["raw"][k] and rec["ceiled"] == one["ceiled"][k], rec
    checked += 1
print("cells: %d, every one equal to its single call" % checked)
print("| %d layers x %d iterations | table %.2f s, %.0f MB | %d single calls %.2f s (largest %.0f MB) | %.2fx |"
      % (len(layers), len(table) // len(layers), t_table, m_table / 1024, len(layers), t_single, m_single / 1024,
         t_single / t_table))
PYEOF
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
