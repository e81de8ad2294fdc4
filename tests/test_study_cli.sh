#!/usr/bin/env bash
# neurocmp study as an author and a reviewer meet it: a small study on the
# bundled V4 data (a seeded Fashion-MNIST CNN-F, recordings imported and
# simulated, ceiling, score table, temporal, compare, report), run twice (the
# second run does nothing), with one setting changed (only what depends on it
# reruns), interrupted and resumed, every output carrying the study file, and
# bad study files refused with the line at fault.
set -u
bin=${1:?usage: test_study_cli.sh path/to/neurocmp}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/cli_lib.sh"
cli_tmp study-cli
bundled=$root/datasets/cowley2023-v4-210325
# the study reads copies, so the verify checks below can change and delete its inputs
data=$tmp/data
mkdir -p "$data" && cp "$bundled/images_210325.zip" "$bundled/responses_raw_210325.npy" "$data/"

write_study() { # write_study FILE METRIC
  cat >"$1" <<EOF
; a test study
[study]
name = small
title = A small study
out = results

[stimuli]
path = $data/images_210325.zip

[recordings V4]
responses = $data/responses_raw_210325.npy
region = V4

[recordings sim]
simulate = net:block1@0,block1@1,block2@2
neuroids = 20
repetitions = 4
seed = 3

[model net]
arch = cnnf-fmnist
seed = 5
iterations = 2
layers = block1,block2,fc1

[score]
recordings = V4
layers = block1,block2
metric = $2

[temporal]
model = net
layer = block1
recordings = sim

[compare]
recordings = V4
pair = net:block1@2 vs net:block1@0
bootstrap = 100
permutations = 100
EOF
}
write_study "$tmp/study.ini" pls

expect 0 "study help" -- "$bin" study --help
contains "--dry-run"; contains "--check"
expect 0 "main help lists study" -- "$bin" --help
contains "study"

expect 0 "dry run" -- "$bin" study --config "$tmp/study.ini" --dry-run
contains "export.net"; contains "score.net.V4"; contains "temporal.net.sim"; contains "to run: about"
[ ! -e "$tmp/results/manifest.json" ] && ok || bad "a dry run wrote a manifest"

expect 0 "study runs" -- "$bin" study --config "$tmp/study.ini"
contains "8 steps run, 0 up to date"
for f in results.csv report/index.html report/report.md manifest.json activations/net.h5 recordings/V4.nc \
  recordings/sim.nc ceiling/V4.json scores/net-V4.json temporal/net-sim/temporal.json; do
  [ -s "$tmp/results/$f" ] && ok || bad "study did not write $f"
done
grep -q "^score,net,block2,2,V4,V4,,pls,ceiled," "$tmp/results/results.csv" && ok || bad "results.csv lacks block2 t2"
grep -q "^compare,net:block1@2 vs net:block1@0,.*p_permutation" "$tmp/results/results.csv" && ok ||
  bad "results.csv lacks the comparison"
grep -q "Predictivity of every layer" "$tmp/results/report/index.html" && ok || bad "report lacks the score section"

# every output names the study file and its hash
sha=$(sha256sum "$tmp/study.ini" | cut -d' ' -f1)
h5dump -a /study_config_sha256 "$tmp/results/activations/net.h5" 2>/dev/null | grep -q "$sha" && ok ||
  bad "activations lack study_config_sha256"
grep -q "\"study_config_sha256\": \"$sha\"" "$tmp/results/scores/net-V4.json" && ok || bad "score JSON lacks the study"
h5dump -a /study_config_sha256 "$tmp/results/recordings/V4.nc" 2>/dev/null | grep -q "$sha" && ok ||
  bad "netCDF lacks the study"

# the score table equals the single call
"$bin" -q score --activations "$tmp/results/activations/net.h5" --neural "$tmp/results/recordings/V4.nc" --region V4 \
  --layer block2 --iteration 2 --out "$tmp/single.json" && ok || bad "single score call failed"
single=$(grep -o '"ceiled": [-0-9.e]*' "$tmp/single.json" | head -1 | awk '{print $2}')
table=$(grep "^score,net,block2,2,V4,V4,,pls,ceiled," "$tmp/results/results.csv" | cut -d, -f10)
awk -v a="$single" -v b="$table" 'BEGIN { exit !(a != "" && a + 0 == b + 0) }' && ok ||
  bad "study cell $table differs from the single call $single"

# a second run does nothing
cp "$tmp/results/results.csv" "$tmp/results1.csv"
before=$(stat -c %Y.%y "$tmp/results/activations/net.h5" "$tmp/results/results.csv")
expect 0 "second run" -- "$bin" study --config "$tmp/study.ini"
contains "0 steps run, 8 up to date"
[ "$before" = "$(stat -c %Y.%y "$tmp/results/activations/net.h5" "$tmp/results/results.csv")" ] && ok ||
  bad "the second run rewrote files"
expect 0 "dry run after" -- "$bin" study --config "$tmp/study.ini" --dry-run
contains "to run: about -"

# changing only the metric reruns scoring and what follows, nothing else
write_study "$tmp/study.ini" ridge
expect 0 "metric changed" -- "$bin" study --config "$tmp/study.ini"
ran=$(grep -o "study: [a-z.A-Z0-9_@-]* *running" "$tmp/out" | awk '{print $2}' | tr '\n' ' ')
[ "$ran" = "score.net.V4 compare.net-block1-2_vs_net-block1-0 results " ] && ok ||
  bad "after changing the metric these steps ran: '$ran'"
grep -q "^score,net,block2,2,V4,V4,,ridge,ceiled," "$tmp/results/results.csv" && ok || bad "ridge results missing"

# a modified output is rebuilt
printf 'x' >>"$tmp/results/ceiling/V4.json"
expect 0 "modified output" -- "$bin" study --config "$tmp/study.ini"
contains "ceiling.V4"; contains "2 steps run"

# one study process per output folder
if command -v flock >/dev/null; then
  flock "$tmp/results/.study.lock" sleep 5 &
  holder=$!
  sleep 0.5
  expect 1 "a second study on the same folder" -- "$bin" study --config "$tmp/study.ini"
  contains "another 'neurocmp study' is running on"
  wait "$holder"
else
  skip "flock(1) is not installed"
fi

# --check: expected values reproduced or not
cat >"$tmp/expected.json" <<EOF
{"expect": [
  {"kind": "ceiling", "recordings": "V4", "quantity": "ceiling", "value": $(grep "^ceiling," "$tmp/results/results.csv" | cut -d, -f10), "tolerance": 1e-9},
  {"kind": "temporal", "model": "net", "bin": "110-130", "quantity": "best_iteration", "min": 2, "max": 2}
]}
EOF
expect 0 "check passes" -- "$bin" study --config "$tmp/study.ini" --check "$tmp/expected.json"
contains "2 of 2 expected values reproduced"
sed -i 's/"min": 2, "max": 2/"min": 0, "max": 1/' "$tmp/expected.json"
expect 1 "check fails" -- "$bin" study --config "$tmp/study.ini" --check "$tmp/expected.json"
contains "FAIL"; contains "1 of 2 expected values reproduced"
echo '{"expect": [{"kind": "score", "value": 1}]}' >"$tmp/bad.json"
expect 1 "check needs a tolerance" -- "$bin" study --config "$tmp/study.ini" --check "$tmp/bad.json"
contains "needs \"value\" and \"tolerance\""

# neurocmp verify on the study's outputs: up to date, stale (naming the input), modified, missing input
expect 0 "verify: up to date" -- "$bin" verify "$tmp/results"
contains "up to date"
cp "$data/responses_raw_210325.npy" "$tmp/responses.keep"
printf '\001' | dd of="$data/responses_raw_210325.npy" bs=1 seek=200 conv=notrunc 2>/dev/null
expect 4 "verify: an input changed" -- "$bin" verify "$tmp/results"
contains "responses"; contains "stale"
cp "$tmp/responses.keep" "$data/responses_raw_210325.npy"
expect 0 "verify: input restored" -- "$bin" verify "$tmp/results"
cp "$tmp/results/scores/net-V4.json" "$tmp/score.keep"
sed -i '0,/"raw": 0/s//"raw": 1/' "$tmp/results/scores/net-V4.json"
expect 6 "verify: an output changed" -- "$bin" verify "$tmp/results"
contains "modified"; contains "net-V4.json"
cp "$tmp/score.keep" "$tmp/results/scores/net-V4.json"
mv "$data/responses_raw_210325.npy" "$tmp/responses.keep"
expect 5 "verify: an input deleted" -- "$bin" verify "$tmp/results"
contains "missing input"
mv "$tmp/responses.keep" "$data/responses_raw_210325.npy"
expect 0 "verify: all restored" -- "$bin" verify "$tmp/results"

# several metrics: one score step each, comparisons with the first
write_study "$tmp/study.ini" "ridge, pls"
expect 0 "two metrics" -- "$bin" study --config "$tmp/study.ini"
ran=$(grep -o "study: [a-z.A-Z0-9_@-]* *running" "$tmp/out" | awk '{print $2}' | tr '\n' ' ')
[ "$ran" = "score.net.V4.ridge score.net.V4.pls results " ] && ok || bad "with two metrics these steps ran: '$ran'"
for m in pls ridge; do
  grep -q "^score,net,block1,0,V4,V4,,$m,raw," "$tmp/results/results.csv" && ok || bad "results.csv lacks $m"
  [ -s "$tmp/results/scores/net-V4-$m.json" ] && ok || bad "no scores/net-V4-$m.json"
done
grep -q "net on V4 (ridge)" "$tmp/results/report/report.md" && ok || bad "report lacks the ridge table"
printf '[study]\nname = x\n[score]\nmetric = pls, pls\n' >"$tmp/b8.ini"
expect 2 "a metric twice" -- "$bin" study --config "$tmp/b8.ini" --dry-run
contains "'metric' lists 'pls' twice"

# interrupted during the export, then resumed: the same results as a run that was not interrupted
cat >"$tmp/slow.ini" <<EOF
[study]
name = slow
out = slow
[stimuli]
path = $bundled/images_210325.zip
[model vgg]
weights = $root/model/weights/vgg16-cnnf-fmnist32.h5
iterations = 3
batch = 8
EOF
setsid "$bin" study --config "$tmp/slow.ini" >"$tmp/slow.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -e "$tmp/slow/activations/vgg.h5.partial" ] && break; sleep 0.05; done
sleep 1.5
kill -TERM -- -"$pid" 2>/dev/null # (background jobs of a script ignore SIGINT)
wait "$pid"
code=$?
if [ "$code" -eq 3 ] && grep -q "interrupted; run the study again to resume" "$tmp/slow.log"; then
  ok
  expect 0 "resumed" -- "$bin" study --config "$tmp/slow.ini"
  contains "resuming"
  "$bin" -q export --weights "$root/model/weights/vgg16-cnnf-fmnist32.h5" --stimuli "$bundled/images_210325.zip" \
    --iterations 3 --out "$tmp/whole.h5" && ok || bad "uninterrupted export failed"
  h5diff "$tmp/whole.h5" "$tmp/slow/activations/vgg.h5" /activations/block5 >/dev/null && ok ||
    bad "resumed export differs from an uninterrupted one"
else
  bad "interrupting the study: exit $code"
  sed 's/^/    /' "$tmp/slow.log" >&2
fi

# bad study files
printf '[study]\nname = x\n[modle a]\nseed = 1\n' >"$tmp/b1.ini"
expect 2 "unknown section" -- "$bin" study --config "$tmp/b1.ini" --dry-run
contains "b1.ini: line 4: unknown section [modle a] (did you mean [model NAME]?)"
printf '[study]\nname = x\n[model a]\nitertions = 2\n' >"$tmp/b2.ini"
expect 2 "unknown key" -- "$bin" study --config "$tmp/b2.ini" --dry-run
contains "b2.ini: line 4: unknown key 'itertions' in [model a] (did you mean 'iterations'?)"
printf '[study]\nname = x\nthis is not ini\n' >"$tmp/b3.ini"
expect 2 "not INI" -- "$bin" study --config "$tmp/b3.ini" --dry-run
contains "b3.ini: line 3 is not 'key = value' or '[section]'"
printf '[study]\nname = x\n[model a]\niterations = -1\n' >"$tmp/b4.ini"
expect 2 "bad number" -- "$bin" study --config "$tmp/b4.ini" --dry-run
contains "'iterations' must be an integer in 0..100"
printf '[study]\nname = x\n[recordings r]\nregion = V4\n' >"$tmp/b5.ini"
expect 2 "recordings without a source" -- "$bin" study --config "$tmp/b5.ini" --dry-run
contains "needs exactly one of responses"
{ printf '[study]\nname = x\ndescription = '; printf 'word %.0s' $(seq 1 60); printf '\n'; } >"$tmp/b6.ini"
expect 2 "a line too long for libinih" -- "$bin" study --config "$tmp/b6.ini" --dry-run
contains "b6.ini: line 3 is longer than 198 characters; continue a long value on indented lines"
{ printf '[study]\nname = x\ndescription = '; printf 'word %.0s' $(seq 1 30); printf '\n    '
  printf 'more %.0s' $(seq 1 30); printf '\n'; } >"$tmp/b7.ini"
expect 0 "a long value on indented lines" -- "$bin" study --config "$tmp/b7.ini" --dry-run
expect 1 "missing study file" -- "$bin" study --config "$tmp/none.ini"
contains "cannot open the study file"
no_crash_report "bad study files"

cli_summary study_cli
