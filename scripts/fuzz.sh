#!/usr/bin/env bash
# Fuzz every parser with libFuzzer (docs/hardening.md "Fuzzing").
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
#
# Builds build-fuzz/ with clang (-DNEUROCMP_FUZZ=ON: ASan + UBSan + libFuzzer)
# if needed, then runs each harness (default: all) for SECONDS (default 600),
# FUZZ_JOBS of them at a time (default 2).  Each starts from the committed
# corpus (tests/fuzz/corpus/NAME) plus what earlier runs found
# (build-fuzz/fuzz-corpus/NAME); a crash is written to
# build-fuzz/fuzz-artifacts/NAME/ and fails the script.  Copy it into
# tests/fuzz/corpus/NAME/ as crash-<what> once fixed, so the normal test
# suite replays it forever.  Prints one line per harness: executions,
# coverage (edges), features, corpus size, findings.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
shift || true
all="spec npy idx csv json netcdf activations weights details image zip"
harnesses=${*:-$all}
jobs=${FUZZ_JOBS:-2}
build=$root/build-fuzz

if ! command -v clang >/dev/null; then
  echo "fuzz: clang is needed (apt-get install clang)" >&2
  exit 1
fi
CC=clang cmake -S "$root" -B "$build" -DNEUROCMP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
targets=()
for h in $harnesses; do targets+=("fuzz_$h"); done
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null || { echo "fuzz: build failed" >&2; exit 1; }

run_one() {
  local h=$1 work=$build/fuzz-corpus/$1 art=$build/fuzz-artifacts/$1 log=$build/fuzz-logs/$1.log
  mkdir -p "$work" "$art" "$(dirname "$log")"
  # Allocations beyond 8 GiB are findings.  The harnesses cap declared
  # sizes at 64 MiB (core/sizes.h); HDF5 itself allocates whatever a forged
  # variable-length string declares (up to 4 GiB, 32-bit lengths) before it
  # notices the data is missing, and a lower limit would also fire in the
  # probe's forked child (core/probe.h), where libFuzzer cannot tell it apart.
  LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=8192 -malloc_limit_mb=8192 \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" "$root/tests/fuzz/corpus/$h" >"$log" 2>&1
  echo $? >"$log.rc"
}

pids=()
for h in $harnesses; do
  run_one "$h" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
done
wait

status=0
printf '%-12s %12s %8s %8s %7s %s\n' harness executions cov ft corpus findings
for h in $harnesses; do
  log=$build/fuzz-logs/$h.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
  found=$(find "$build/fuzz-artifacts/$h" -type f | wc -l)
  rc=$(cat "$log.rc")
  [ "$rc" -eq 0 ] && [ "$found" -eq 0 ] || status=1
  printf '%-12s %12s %8s %8s %7s %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$([ "$found" -eq 0 ] && echo none || echo "$found in build-fuzz/fuzz-artifacts/$h (log: $log)")"
done
exit $status
