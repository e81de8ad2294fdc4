#!/bin/sh
# End to end: a whole `neurocmp export` process against the Python route a
# user would take (bench/export_peer.py: PIL + torchvision transforms, the
# model, h5py writes), same images, same threads, same run.
#
#   bench/bench_export.sh [--threads N] [--images K] [--size PX] [--repeats R] [--arch A] [--out DIR]
#
# Rows: VGG-16 (T = 0) and VGG-16 CNN-F (T = 2), full width (--arch: only
# one of them), float32 arithmetic on both sides, then neurocmp double
# arithmetic against PyTorch float64. Every file stores float32. Prints wall
# seconds (median of R runs, alternating sides; including start-up, decoding
# and writing) and the ratios; results in DIR/export.tsv.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
python=${PYTHON:-/usr/bin/python3}
threads=2 images=32 size=224 repeats=1 only= out=$build/bench-export
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift ;;
    --images) images=$2; shift ;;
    --size) size=$2; shift ;;
    --repeats) repeats=$2; shift ;;
    --arch) only=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench_export.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${BUILD_DIR:-}" ] || [ ! -x "$build/neurocmp" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target neurocmp_cli -j "$threads" >/dev/null
fi
bin=$build/neurocmp
mkdir -p "$out/img"
rm -f "$out"/img/*
"$python" - "$root/datasets/cowley2023-v4-210325/images_210325.zip" "$out/img" "$images" <<'PYEOF'
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
for n in sorted(x for x in z.namelist() if not x.endswith("/"))[:int(sys.argv[3])]:
    open(os.path.join(sys.argv[2], os.path.basename(n)), "wb").write(z.read(n))
PYEOF
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
echo "threads $threads, $images images at ${size}px, $(nproc) cores, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}, load: $(cut -d' ' -f1-3 /proc/loadavg)"
secs() { # wall seconds of a command
  /usr/bin/time -f "%e %M" -o "$out/time" "$@" >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
  cut -d' ' -f1 "$out/time"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf "arch\tT\tarithmetic\tneurocmp_s\tpython_s\tratio\n" >"$out/export.tsv"
for row in "vgg16 0 float" "vgg16-cnnf 2 float" "vgg16 0 double" "vgg16-cnnf 2 double"; do
  set -- $row
  arch=$1 T=$2 prec=$3
  [ -n "$only" ] && [ "$only" != "$arch" ] && continue
  dtype=float32; [ "$prec" = double ] && dtype=float64
  cs= pys=
  r=0
  while [ $r -lt "$repeats" ]; do
    cs="$cs $(secs "$bin" export --arch "$arch" --input-size "$size" -s "$out/img" -T "$T" --precision "$prec" \
      --no-precision-check -j "$threads" -o "$out/c.h5" --force -q)"
    pys="$pys $(secs "$python" "$here/export_peer.py" --images "$out/img" --arch "$arch" -T "$T" --size "$size" \
      --threads "$threads" --dtype "$dtype" --out "$out/py.h5")"
    r=$((r + 1))
  done
  c=$(echo "$cs" | median) py=$(echo "$pys" | median)
  [ "$repeats" -gt 1 ] && echo "  runs: neurocmp$cs; python$pys"
  ratio=$(echo "$py $c" | awk '{printf "%.2f", $1 / $2}')
  printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$arch" "$T" "$prec" "$c" "$py" "$ratio" | tee -a "$out/export.tsv"
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
