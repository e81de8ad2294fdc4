#!/bin/sh
# Strong scaling under MPI (docs/scale-out.md): the same `neurocmp export` and
# `neurocmp score --layer all --iteration all` on 1, 2 and 4 ranks of this
# machine (mpirun --oversubscribe, one BLAS thread per rank), beside what the
# cost model of docs/scale-out.md predicts from the 1-rank run.
#
#   bench/bench_mpi.sh [--ranks 1,2,4] [--size PX] [--width W] [--iterations T] [--out DIR]
#
# Data: the bundled Cowley et al. V4 recordings (640 stimuli, 50 neuroids) and
# a seeded VGG-16 CNN-F (width W, default 0.25; input PX, default 64; T = 2).
# Every export is checked bit-identical to the 1-rank file and every table
# number within 1e-10 of the 1-rank table (tests/mpi/h5_identical.py,
# tests/mpi/numbers_close.py).  Results: DIR/scaling.tsv.
# Environment: BUILD_DIR (default <repo>/build-bench-mpi, configured with
# -DNEUROCMP_MPI=ON), PYTHON (default /usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench-mpi}
python=${PYTHON:-/usr/bin/python3}
rank_list=1,2,4 size=64 width=0.25 T=2
out=$build/mpi-bench
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) rank_list=$2; shift ;;
    --size) size=$2; shift ;;
    --width) width=$2; shift ;;
    --iterations) T=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench_mpi.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${BUILD_DIR:-}" ] || [ ! -x "$build/neurocmp" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNEUROCMP_MPI=ON -DNEUROCMP_TESTS=OFF >/dev/null
  cmake --build "$build" --target neurocmp_cli -j 2 >/dev/null
fi
bin=$build/neurocmp
data=$root/datasets/cowley2023-v4-210325
mkdir -p "$out"
cd "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_io=romio321
# One core's worth of BLAS per rank: the ranks are what scales here.
cores=$(nproc --all)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
echo "ranks $rank_list, $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f v4.nc ] || "$bin" neural import --npy "$data/responses_raw_210325.npy" --stimuli "$data/images_210325.zip" \
  --region V4 -o v4.nc -q
secs() { # wall seconds and peak RSS (kB, largest rank) of a command
  /usr/bin/time -f "%e %M" -o time.txt "$@" >log.txt 2>&1 || { cat log.txt >&2; exit 1; }
  cat time.txt
}
# mpirun's own start-up and shut-down: part of every measured run.
launch=
for p in $(echo "$rank_list" | tr ',' ' '); do
  launch="$launch $p:$(secs mpirun -np "$p" "$bin" version | cut -d' ' -f1)"
done
printf "step\tranks\tseconds\tpeak_rss_kB\n" >scaling.tsv
for p in $(echo "$rank_list" | tr ',' ' '); do
  r=$(secs mpirun -np "$p" "$bin" export --arch vgg16-cnnf --width "$width" --input-size "$size" \
    -s "$data/images_210325.zip" -T "$T" --batch 8 --no-precision-check -j 1 -o "acts_$p.h5" --force -q)
  printf "export\t%s\t%s\n" "$p" "$(echo "$r" | tr ' ' '\t')" >>scaling.tsv
  echo "export   $p rank(s): $r"
done
[ -f splits.json ] || "$bin" score --activations acts_1.h5 --layer block1 --neural v4.nc --splits-to splits.json \
  --out splits_probe.json --force -q
for p in $(echo "$rank_list" | tr ',' ' '); do
  r=$(secs mpirun -np "$p" "$bin" score --activations acts_1.h5 --layer all --iteration all --neural v4.nc \
    --splits-from splits.json --out "table_$p.json" --force -q)
  printf "score_table\t%s\t%s\n" "$p" "$(echo "$r" | tr ' ' '\t')" >>scaling.tsv
  echo "score    $p rank(s): $r"
done
for p in $(echo "$rank_list" | tr ',' ' '); do
  [ "$p" = 1 ] && continue
  "$python" "$root/tests/mpi/h5_identical.py" acts_1.h5 "acts_$p.h5" --ignore-attr command_line --ignore-attr created_utc --ignore-attr mpi_ranks >/dev/null ||
    { echo "bench_mpi.sh: export on $p ranks differs from 1 rank" >&2; exit 1; }
  "$python" "$root/tests/mpi/numbers_close.py" --tol 1e-10 table_1.json "table_$p.json" >/dev/null ||
    { echo "bench_mpi.sh: table on $p ranks differs from 1 rank by more than 1e-10" >&2; exit 1; }
done
echo "exports bit-identical and tables within 1e-10 of 1 rank"
"$python" "$here/mpi_cost_model.py" --scaling scaling.tsv --cores "$cores" --launch "$launch" \
  --activations acts_1.h5 --stimuli 640 --batch 8
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
