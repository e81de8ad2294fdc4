#!/usr/bin/env bash
# neurocmp compare acceptance (issue: "Across time"): a planted improvement is detected, identical models show
# no difference (p = 1), two equally good but different models are rejected at about the nominal rate over
# seeds, the result-file route gives the activations route's numbers, and bad input is refused clearly.
# The statistics themselves are checked against NumPy in tests/test_compare.c.
set -u
bin=${1:?usage: test_compare_cli.sh path/to/neurocmp}
py=${NCMP_PYTHON3:-/usr/bin/python3}
fx=${NCMP_FIXTURES:-$(dirname "$0")/fixtures}/analysis
. "$(dirname "$0")/cli_lib.sh"
cli_tmp compare-cli
json() { "$py" -c "import json,sys; print(json.load(open('$1'))$2)"; }
acts=$fx/e2e_activations.h5

expect 0 "help" -- "$bin" compare --help
contains "--iterations"; contains "permutation"
# bins 70-90 driven by iteration 1, 90-110 by iteration 0
expect 0 "simulate" -- "$bin" simulate-neural --activations "$acts" --bins fc@1,fc@0 --neuroids 16 --repetitions 4 \
  --units 16 --snr 0.5 --seed 5 --region IT -o "$tmp/sim.nc"

# planted improvement: iteration 1 drives the 70-90 ms bin
expect 0 "planted improvement" -- "$bin" compare --activations "$acts" --layer fc --iterations 1,0 \
  --neural "$tmp/sim.nc" --region IT --time-window 70:90 --out "$tmp/planted.json"
contains "A predicts the recordings better than B"
"$py" - "$tmp/planted.json" >"$tmp/out" 2>&1 <<'PYEOF' && ok || { bad "planted JSON"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["difference"] > 0.3 and r["ci_difference"][0] > 0 and r["p_permutation"] <= 0.002, r
assert r["n_a_better"] > r["n_b_better"] and len(r["per_neuroid_difference"]) == 16
assert r["provenance"]["a_sha256"] and r["provenance"]["neural_sha256"] and "compare" in r["provenance"]["command_line"]
PYEOF
# and the other way round in the other bin
expect 0 "reversed" -- "$bin" compare --activations "$acts" --layer fc --iterations 1,0 \
  --neural "$tmp/sim.nc" --region IT --time-window 90:110 --out "$tmp/reversed.json"
contains "B predicts the recordings better than A"
# identical models
expect 0 "identical" -- "$bin" compare --activations "$acts" --layer fc --iterations 1,1 \
  --neural "$tmp/sim.nc" --region IT --time-window 70:90 --out "$tmp/same.json"
contains "no reliable difference"
"$py" -c "import json,sys; r=json.load(open('$tmp/same.json')); sys.exit(0 if r['p_permutation'] == 1 and r['difference'] == 0 and r['ci_difference'][0] <= 0 <= r['ci_difference'][1] else 1)" \
  && ok || bad "identical models: $(cat "$tmp/same.json")"

# result files (score --details, and the score JSON naming it) give the same numbers
expect 0 "score with details" -- "$bin" score --activations "$acts" --layer fc --neural "$tmp/sim.nc" --region IT \
  --time-window 70:90 --details "$tmp/d.h5" --out "$tmp/s.json"
expect 0 "compare files" -- "$bin" compare "$tmp/s.json" "$tmp/d.h5" --iteration-a 1 --iteration-b 0 --out "$tmp/files.json"
"$py" - "$tmp/planted.json" "$tmp/files.json" >"$tmp/out" 2>&1 <<'PYEOF' && ok || { bad "files route differs"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for k in ("score_a", "score_b", "difference", "ci_difference", "p_permutation", "p_sign", "per_neuroid_difference"):
    assert a[k] == b[k], (k, a[k], b[k])
PYEOF

# false positives: two different but equally good models (the same units plus independent noise of equal size)
"$py" - "$acts" "$tmp/noisy_a.h5" "$tmp/noisy_b.h5" <<'PYEOF' || bad "could not write the noisy copies"
import shutil, sys
import h5py, numpy as np
rng = np.random.default_rng(11)
for out in sys.argv[2:]:
    shutil.copy(sys.argv[1], out)
    with h5py.File(out, "r+") as f:
        x = f["activations/fc"][...]
        f["activations/fc"][...] = x + rng.normal(scale=x.std(), size=x.shape).astype(x.dtype)
PYEOF
rejections=0 runs=20
for seed in $(seq 1 $runs); do
  "$bin" simulate-neural --activations "$acts" --bins fc@0 --neuroids 12 --repetitions 4 --units 16 --snr 0.5 \
    --seed "$seed" --region IT -o "$tmp/null.nc" -f -q >/dev/null 2>&1
  "$bin" compare --activations "$tmp/noisy_a.h5" --activations-b "$tmp/noisy_b.h5" --layer fc --iterations 0,0 \
    --neural "$tmp/null.nc" --region IT --time-window 70:90 --permutations 400 --bootstrap 0 --seed "$seed" \
    --out "$tmp/null.json" -f >/dev/null 2>"$tmp/err" || { bad "null run $seed failed"; cat "$tmp/err" >&2; }
  p=$(json "$tmp/null.json" "['p_permutation']")
  "$py" -c "import sys; sys.exit(0 if $p < 0.05 else 1)" && rejections=$((rejections + 1))
done
echo "equally good models: $rejections of $runs rejected at alpha = 0.05"
# Binomial(20, 0.05): P(X >= 5) = 0.003
[ "$rejections" -le 4 ] && ok || bad "false-positive rate too high: $rejections / $runs"

# bad input
expect 2 "one file" -- "$bin" compare "$tmp/d.h5"
contains "two result files"
expect 2 "several iterations, none chosen" -- "$bin" compare "$tmp/d.h5" "$tmp/d.h5"
contains "--iteration-a"
expect 1 "missing iteration" -- "$bin" compare "$tmp/d.h5" "$tmp/d.h5" --iteration-a 1 --iteration-b 9
contains "no iteration 9"
expect 0 "score without details" -- "$bin" score --activations "$acts" --layer fc --neural "$tmp/sim.nc" --region IT \
  --iteration 0 --out "$tmp/nodetails.json"
expect 1 "JSON without details" -- "$bin" compare "$tmp/nodetails.json" "$tmp/s.json"
contains "--details"
expect 0 "score on other recordings" -- "$bin" score --activations "$acts" --layer fc --neural "$tmp/null.nc" \
  --region IT --iteration 0 --time-window 70:90 --details "$tmp/other.h5"
expect 1 "different recordings" -- "$bin" compare "$tmp/other.h5" "$tmp/d.h5" --iteration-b 0
contains "different recordings"
expect 2 "rsa has no predictions" -- "$bin" compare --activations "$acts" --layer fc --iterations 1,0 \
  --neural "$tmp/sim.nc" --metric rsa
contains "no per-stimulus predictions"
expect 2 "bad iterations" -- "$bin" compare --activations "$acts" --layer fc --iterations 1 --neural "$tmp/sim.nc"
contains "two iterations"
expect 1 "unknown iteration" -- "$bin" compare --activations "$acts" --layer fc --iterations 1,8 --neural "$tmp/sim.nc" \
  --region IT --time-window 70:90
contains "8"
expect 2 "bad confidence" -- "$bin" compare --activations "$acts" --layer fc --iterations 1,0 --neural "$tmp/sim.nc" \
  --region IT --time-window 70:90 --confidence 1.5
contains "confidence"
expect 1 "refuses to overwrite" -- "$bin" compare "$tmp/s.json" "$tmp/d.h5" --iteration-a 1 --iteration-b 0 \
  --out "$tmp/files.json"
contains "--force"

cli_summary "compare cli"
