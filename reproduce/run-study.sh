#!/bin/sh
# Run one reproduction study and check its numbers (used by reproduce/*/run.sh).
#
#   sh reproduce/run-study.sh DIR [--reduced | --shipped | --paper] [--dry-run]
#
# DIR holds study.ini + expected.json (the full study), study-reduced.ini +
# expected-reduced.json (what CI runs, minutes) and, where there is one,
# study-paper.ini (a paper's full schedule) and study-shipped.ini (the full
# study's evaluations of the shipped weights it would train, checked against
# expected.json).  The study's outputs go where
# the study file's `out` says (inside DIR); a second run redoes only what
# changed.  Exit status: that of `neurocmp study --check` (0 = every expected
# value reproduced).
set -eu
dir=${1:?usage: run-study.sh DIR [--reduced|--paper] [--dry-run]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
neurocmp=${NEUROCMP:-$root/build/neurocmp}
mode=full dry=
for arg in "$@"; do
  case $arg in
    --reduced) mode=reduced ;;
    --paper) mode=paper ;;
    --shipped) mode=shipped ;;
    --dry-run) dry=--dry-run ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run-study.sh: unknown option '$arg' (--reduced, --shipped, --paper, --dry-run)" >&2; exit 2 ;;
  esac
done
[ -x "$neurocmp" ] || { echo "run-study.sh: build neurocmp first (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
case $mode in
  full) config=$dir/study.ini expected=$dir/expected.json ;;
  # the shipped weights are what the full study trains: the same expected values
  shipped) config=$dir/study-shipped.ini expected=$dir/expected.json ;;
  *) config=$dir/study-$mode.ini expected=$dir/expected-$mode.json ;;
esac
if [ "$mode" = reduced ] && [ ! -f "$config" ]; then
  # a study that is already small has one mode
  echo "run-study.sh: $(basename "$dir") runs in minutes; its reduced mode is the full study"
  config=$dir/study.ini expected=$dir/expected.json
fi
[ -f "$config" ] || { echo "run-study.sh: $(basename "$dir") has no $mode mode ($config)" >&2; exit 2; }
if [ -n "$dry" ]; then
  exec "$neurocmp" study --config "$config" --dry-run
fi
check=
[ -f "$expected" ] && check="--check $expected"
start=$(date +%s)
status=0
# shellcheck disable=SC2086
"$neurocmp" study --config "$config" $check || status=$?
echo "$(basename "$dir") ($mode): $(($(date +%s) - start)) s, exit $status"
exit $status
