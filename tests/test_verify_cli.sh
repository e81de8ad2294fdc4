#!/usr/bin/env bash
# neurocmp verify as a user meets it: a small study made by hand from the score fixtures (simulate-neural and
# score run for real, manifest.json written with sha256sum), then every verdict and its exit status: up to date
# (0), a changed input (4, also carried downstream), a missing input (5), a modified or missing output (6), an
# unfinished step (6), damaged manifests (1, naming the field), files checked through their own provenance
# (0/4/1), and --recompute agreeing on an unchanged step and catching an edited number (6).
set -u
bin=${1:?usage: test_verify_cli.sh path/to/neurocmp}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
fx=${NCMP_FIXTURES:-$(dirname "$0")/fixtures}/analysis
fx=$(cd "$fx" && pwd)
. "$(dirname "$0")/cli_lib.sh"
cli_tmp verify-cli
cd "$tmp" || exit 1

# ---- the study: inputs outside it (../model) and inside it (data/), three steps -----------------------------
mkdir -p model study/data study/scores loose
cp "$fx/e2e_activations.h5" model/acts.h5
cp "$fx/e2e_neural.nc" study/data/v4.nc
echo "snr 1" >study/data/sim-settings.txt
run() { (cd "$tmp/study" && "$bin" -q "$@") >"$tmp/out" 2>&1 || { bad "setup: neurocmp $*"; cat "$tmp/out" >&2; }; }
sim_argv='"neurocmp", "simulate-neural", "--activations", "../model/acts.h5", "--bins", "conv@1", "--neuroids", "12", "--out", "data/sim.nc", "--force"'
score_argv='"neurocmp", "score", "--activations", "../model/acts.h5", "--layer", "conv", "--iteration", "all", "--neural", "data/sim.nc", "--region", "SIM", "--out", "scores/sim.json", "--force"'
table_argv='"neurocmp", "score", "--activations", "../model/acts.h5", "--layer", "all", "--iteration", "all", "--neural", "data/v4.nc", "--region", "V4", "--out", "scores/table.json", "--table", "scores/table.csv", "--force"'
run simulate-neural --activations ../model/acts.h5 --bins conv@1 --neuroids 12 --out data/sim.nc --force
run score --activations ../model/acts.h5 --layer conv --iteration all --neural data/sim.nc --region SIM \
  --out scores/sim.json --force
run score --activations ../model/acts.h5 --layer all --iteration all --neural data/v4.nc --region V4 \
  --out scores/table.json --table scores/table.csv --force

h() { if [ -e "$tmp/study/$1" ]; then sha256sum "$tmp/study/$1" | cut -c1-64; else echo 0000000000000000000000000000000000000000000000000000000000000000; fi; }
f() { printf '{"role": "%s", "path": "%s", "sha256": "%s", "bytes": %s}' "$1" "$2" "$(h "$2")" "$(stat -c %s "$tmp/study/$2" 2>/dev/null || echo 0)"; }
key=$(printf 'key' | sha256sum | cut -c1-64)
# manifest [STATE_OF_SCORE_STEP]: the manifest of the files as they are now
manifest() {
  cat >"$tmp/study/manifest.json" <<EOF
{"neurocmp_manifest": 1, "study": "verify-test", "config_path": null, "config_sha256": null,
 "updated_utc": "2026-01-01T00:00:00Z",
 "steps": [
  {"name": "simulate", "kind": "simulate", "key": "$key", "state": "done", "cheap": false, "seconds": 0.5,
   "argv": [$sim_argv],
   "inputs": [$(f activations ../model/acts.h5), $(f settings data/sim-settings.txt)],
   "outputs": [$(f neural data/sim.nc)]},
  {"name": "score.sim", "kind": "score", "key": "$key", "state": "${1:-done}", "cheap": true, "seconds": 0.1,
   "argv": [$score_argv],
   "inputs": [$(f activations ../model/acts.h5), $(f neural data/sim.nc)],
   "outputs": [$(f scores scores/sim.json)]},
  {"name": "score.table", "kind": "score", "key": "$key", "state": "done", "cheap": true, "seconds": 0.1,
   "argv": [$table_argv],
   "inputs": [$(f activations ../model/acts.h5), $(f neural data/v4.nc)],
   "outputs": [$(f scores scores/table.json), $(f table scores/table.csv)]}]}
EOF
}
manifest
flip() { # change one byte of FILE at OFFSET (default: the middle)
  local at=${2:-$(($(stat -c %s "$1") / 2))} b
  b=$(dd if="$1" bs=1 skip="$at" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$at" conv=notrunc 2>/dev/null
}
save() { cp -p "$1" "$1.saved"; }
restore() { mv "$1.saved" "$1"; }

expect 0 "main help lists verify" -- "$bin" --help
contains "verify"
expect 0 "verify help" -- "$bin" verify --help
contains "--recompute"; contains "exit status"; contains "6 an output was modified"
expect 2 "no path" -- "$bin" verify
expect 2 "bad tolerance" -- "$bin" verify --tolerance -1 study
contains "--tolerance"

# ---- a study folder ---------------------------------------------------------------------------------------------
expect 0 "a fresh study is up to date" -- "$bin" verify study
contains "up to date  study/scores/sim.json"; contains "up to date  study/data/sim.nc"
contains "up to date  study/scores/table.csv"; contains "4 files: 4 up to date"
expect 0 "-q: nothing to say" -- "$bin" -q verify study
[ ! -s "$tmp/out" ] && ok || { bad "-q printed something for an up-to-date study"; cat "$tmp/out" >&2; }
expect 0 "the manifest named directly" -- "$bin" verify study/manifest.json

save study/data/v4.nc; flip study/data/v4.nc
expect 4 "a changed input makes its step stale" -- "$bin" verify study
contains "stale       study/scores/table.json  (input 'neural' (data/v4.nc) changed since the step ran)"
contains "up to date  study/scores/sim.json"
expect 4 "-q prints only the problems" -- "$bin" -q verify study
if grep -q "up to date  " "$tmp/out"; then bad "-q printed up-to-date files"; else ok; fi
contains "stale       study/scores/table.csv"
restore study/data/v4.nc

save study/data/sim-settings.txt; echo "snr 2" >study/data/sim-settings.txt
expect 4 "staleness flows downstream" -- "$bin" verify study
contains "stale       study/data/sim.nc  (input 'settings' (data/sim-settings.txt) changed since the step ran)"
contains "stale       study/scores/sim.json  (input 'neural' (data/sim.nc) comes from step 'simulate', which is stale)"
contains "up to date  study/scores/table.json"
restore study/data/sim-settings.txt

save model/acts.h5; flip model/acts.h5 4096
expect 4 "an input outside the study (../)" -- "$bin" verify study
contains "input 'activations' (../model/acts.h5) changed since the step ran"
restore model/acts.h5

save study/scores/table.csv; flip study/scores/table.csv
expect 6 "a modified output" -- "$bin" verify study
contains "modified    study/scores/table.csv  (sha256 differs from study/manifest.json)"
contains "up to date  study/scores/table.json"
expect 6 "a modified output named as a file (found through the manifest)" -- "$bin" verify study/scores/table.csv
contains "modified    study/scores/table.csv"
restore study/scores/table.csv
expect 0 "an output named as a file, up to date" -- "$bin" verify study/scores/sim.json
contains "up to date  study/scores/sim.json"; contains "1 file: 1 up to date"

mv study/scores/sim.json study/scores/sim.json.saved
expect 6 "a missing output counts as modified" -- "$bin" verify study
contains "modified    study/scores/sim.json  (missing output, listed in study/manifest.json)"
restore study/scores/sim.json

mv study/data/v4.nc study/data/v4.nc.saved
expect 5 "a missing input" -- "$bin" verify study
contains "missing input study/scores/table.json  (input 'neural' (data/v4.nc) is missing)"
flip study/scores/sim.json
expect 6 "modified outranks a missing input" -- "$bin" verify study
contains "2 missing input, 1 modified"
restore study/data/v4.nc
run score --activations ../model/acts.h5 --layer conv --iteration all --neural data/sim.nc --region SIM \
  --out scores/sim.json --force
manifest

manifest running
expect 6 "a step still running is incomplete" -- "$bin" verify study
contains "incomplete  study/scores/sim.json  (step 'score.sim' was still running"
manifest

# ---- damaged manifests: exit 1, the message names the file and the field ----------------------------------------
cp study/manifest.json manifest.good
head -c 300 manifest.good >study/manifest.json
expect 1 "a truncated manifest" -- "$bin" verify study
contains "study/manifest.json: line"; contains "not valid JSON"
sed 's/"sha256": "[0-9a-f]\{64\}"/"sha256": "abc123"/' manifest.good >study/manifest.json
expect 1 "a bad digest" -- "$bin" verify study
contains "field 'steps[0] ('simulate').inputs[0].sha256' is 'abc123', not a SHA-256"
sed 's/"score.table"/"score.sim"/' manifest.good >study/manifest.json
expect 1 "two steps with one name" -- "$bin" verify study
contains "field 'steps[2].name': 'score.sim' is also the name of steps[1]"
sed 's/"state": "done"/"state": "finished"/' manifest.good >study/manifest.json
expect 1 "an unknown state" -- "$bin" verify study
contains "'steps[0] ('simulate').state' is 'finished'"
sed 's/"bytes": [0-9]*/"bytes": -5/' manifest.good >study/manifest.json
expect 1 "a negative size" -- "$bin" verify study
contains "bytes' must be a byte count"
sed 's/"neurocmp_manifest": 1/"neurocmp_manifest": 2/' manifest.good >study/manifest.json
expect 1 "a newer format" -- "$bin" verify study
contains "field 'neurocmp_manifest' is 2"
sed 's/"argv": \[[^]]*\]/"argv": "neurocmp score"/' manifest.good >study/manifest.json
expect 1 "argv not an array" -- "$bin" verify study/scores/sim.json
contains "field 'steps[0] ('simulate').argv' must be an array, but is a string"
cp manifest.good study/manifest.json

# ---- files without a manifest: their own provenance --------------------------------------------------------------
(cd loose && "$bin" -q score --activations ../model/acts.h5 --layer conv --iteration 1 --neural ../study/data/v4.nc \
  --region V4 --out s.json && "$bin" -q simulate-neural --activations ../model/acts.h5 --bins conv@0 \
  --neuroids 6 --out sim.nc) >"$tmp/out" 2>&1 || { bad "setup: loose outputs"; cat "$tmp/out" >&2; }
expect 0 "a score JSON through its provenance" -- "$bin" verify loose/s.json
contains "up to date  loose/s.json  (no manifest: the file itself is not checked)"
expect 0 "a folder without manifest: every neurocmp output in it" -- "$bin" verify loose
contains "up to date  loose/s.json"; contains "up to date  loose/sim.nc"; contains "2 files: 2 up to date"
save model/acts.h5; flip model/acts.h5 4096
expect 4 "a score JSON after its activations changed" -- "$bin" verify loose/s.json
contains "stale       loose/s.json  (input 'activations' (../model/acts.h5) changed since the file was written)"
expect 4 "a netCDF file after its activations changed" -- "$bin" verify loose/sim.nc
contains "stale       loose/sim.nc  (input 'activations'"
restore model/acts.h5
mv study/data/v4.nc study/data/v4.nc.saved
expect 5 "a score JSON whose recordings are gone" -- "$bin" verify loose/s.json
contains "missing input loose/s.json  (input 'neural' (../study/data/v4.nc) is missing)"
restore study/data/v4.nc
echo "hello" >loose/notes.txt
expect 1 "not a neurocmp output" -- "$bin" verify loose/notes.txt
contains "not a neurocmp output"
echo '{"a": 1}' >loose/other.json
expect 1 "a JSON file without provenance" -- "$bin" verify loose/other.json
contains "no \"provenance\" object"
expect 0 "a folder scan skips files that are not neurocmp outputs" -- "$bin" verify loose
head -c 2000 loose/sim.nc >loose/broken.nc
expect 1 "a damaged netCDF file" -- "$bin" verify loose/broken.nc
contains "loose/broken.nc"; no_crash_report "damaged netCDF"
rm loose/broken.nc loose/notes.txt loose/other.json
expect 1 "a path that does not exist" -- "$bin" verify loose/nothing.json

# ---- --recompute ------------------------------------------------------------------------------------------------
before=$(sha256sum study/scores/* study/data/* | sha256sum)
expect 0 "recompute an unchanged study" -- "$bin" verify --recompute study
contains "up to date  study/scores/sim.json  (recomputed: "; contains "numbers agree (max difference"
contains "up to date  study/scores/table.csv  (recomputed: "
contains "up to date  study/data/sim.nc  (not recomputed (not a cheap step))"
after=$(sha256sum study/scores/* study/data/* | sha256sum)
[ "$before" = "$after" ] && ok || bad "--recompute changed the study's files"
[ -z "$(ls study/scores | grep -v -E '^(sim|table)\.(json|csv)$')" ] && ok || bad "--recompute left files: $(ls study/scores)"
expect 0 "recompute one file" -- "$bin" verify --recompute study/scores/sim.json
contains "agree"
# an edited number whose hash is fixed in the manifest: only recomputing can catch it
sed -i 's/"raw": \[0\.\([0-9]\)/"raw": [0.9/' study/scores/sim.json
manifest
expect 0 "an edited number with its hash fixed passes the hash check" -- "$bin" verify study
expect 6 "recompute catches the edited number" -- "$bin" verify --recompute study
contains "modified    study/scores/sim.json  (recomputed: 'raw[0]' is 0.9"
contains "up to date  study/scores/table.json  (recomputed: "
sed -i 's/,SIM,0\.\([0-9]\)/,SIM,0.9/; s/,V4,0\.\([0-9]\)/,V4,0.9/' study/scores/table.csv
manifest
expect 6 "recompute catches an edited CSV cell" -- "$bin" verify --recompute study/scores/table.csv
contains "recomputed: line 2, column 4 is 0.9"
expect 0 "a loose tolerance lets it pass" -- "$bin" verify --recompute --tolerance 0.99 study/scores/table.csv

cli_summary "verify_cli"
