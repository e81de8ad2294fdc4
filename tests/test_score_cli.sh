#!/usr/bin/env bash
# neurocmp score as a user meets it: the synthetic end-to-end case of tests/gen_analysis_fixtures.py scored
# from the command line and checked against scikit-learn's numbers (1e-4 absolute), splits written and
# reused, and every kind of bad input (unknown layer/iteration/metric, incomplete file, NaN features).
set -u
bin=${1:?usage: test_score_cli.sh path/to/neurocmp}
py=${NCMP_PYTHON3:-/usr/bin/python3}
fx=${NCMP_FIXTURES:-$(dirname "$0")/fixtures}/analysis
. "$(dirname "$0")/cli_lib.sh"
cli_tmp score-cli
acts=$fx/e2e_activations.h5
nc=$fx/e2e_neural.nc

expect 0 "main help lists score" -- "$bin" --help
contains "score"
expect 0 "score help" -- "$bin" score --help
contains "--splits-from"; contains "--time-window"

expect 0 "score all iterations" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region V4 \
  --out "$tmp/all.json" --splits-to "$tmp/splits.json"
contains "10 x StratifiedShuffleSplit(train_size=0.9, random_state=1)"; contains "iteration"
[ ! -e "$tmp/all.json.partial" ] && ok || bad "score left a .partial file"
expect 0 "score one iteration, fc layer" -- "$bin" score --activations "$acts" --layer fc --iteration 1 \
  --neural "$nc" --region V4 --out "$tmp/fc.json"
expect 0 "score with the written splits" -- "$bin" score --activations "$acts" --layer conv --iteration 1 \
  --neural "$nc" --region V4 --splits-from "$tmp/splits.json" --out "$tmp/from.json"
expect 2 "block-mb must be positive" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --block-mb 0
contains "--block-mb must be in"
expect 0 "kernel solver, streamed Gram matrix" -- "$bin" score --activations "$acts" \
  --layer conv --neural "$nc" --region V4 --solver kernel --block-mb 1 --out "$tmp/kernel.json"
contains "kernel solver"
expect 2 "bad solver" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --solver svd
contains "expected auto, nipals or kernel"
expect 1 "refuses to overwrite" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region V4 \
  --out "$tmp/all.json"
contains "use --force"

if "$py" -c "import h5py, numpy" 2>/dev/null; then
  "$py" - "$fx/e2e_expected.json" "$tmp" <<'PYEOF' >"$tmp/out" 2>&1 && ok || { bad "JSON differs from scikit-learn"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
exp = json.load(open(sys.argv[1])); tmp = sys.argv[2]
got = json.load(open(tmp + "/all.json"))
for key in ("benchmark", "metric", "layer", "iteration", "region", "raw", "error", "ceiling", "ceiled",
            "n_stimuli", "n_neuroids", "splits", "provenance"):
    assert key in got, key
assert got["iteration"] == [0, 1, 2] and got["region"] == "V4" and got["n_stimuli"] == 120 and got["n_neuroids"] == 12
worst = 0
for k, it in enumerate(exp["iterations"]):
    worst = max(worst, abs(got["raw"][k] - it["raw"]), abs(got["error"][k] - it["error"]))
    # the default normalisation, Brain-Score's since 2026: raw^2 / ceiling
    assert got["normalization"] == "ev"
    assert abs(got["ceiled"][k] - got["raw"][k] ** 2 / got["ceiling"]) < 1e-12
fc = json.load(open(tmp + "/fc.json"))
assert fc["iteration"] == 1 and fc["layer"] == "fc"
worst = max(worst, abs(fc["raw"] - exp["fc_iteration1"]["raw"]), abs(fc["error"] - exp["fc_iteration1"]["error"]))
ker = json.load(open(tmp + "/kernel.json"))
for k, it in enumerate(exp["iterations"]):
    worst = max(worst, abs(ker["raw"][k] - it["raw"]), abs(ker["error"][k] - it["error"]))
frm = json.load(open(tmp + "/from.json"))
assert abs(frm["raw"] - exp["iterations"][1]["raw"]) < 1e-12, (frm["raw"], exp["iterations"][1]["raw"])
assert len(frm["provenance"]["splits_sha256"]) == 64
sp = json.load(open(tmp + "/splits.json"))
assert sp["n_splits"] == 10 and len(sp["train"][0]) == 108 and len(sp["test"][0]) == 12
assert sp["sample_ids"] == sorted(sp["sample_ids"])
print("largest |difference| from scikit-learn: %.2e" % worst)
assert worst < 1e-4, worst
PYEOF
  cat "$tmp/out"
  # Bad files derived from the fixture.
  "$py" - "$acts" "$tmp" <<'PYEOF'
import shutil, sys, h5py, numpy as np
src, tmp = sys.argv[1], sys.argv[2]
shutil.copy(src, tmp + "/nan.h5"); shutil.copy(src, tmp + "/incomplete.h5")
with h5py.File(tmp + "/nan.h5", "r+") as f:
    d = f["activations/conv"]; ids = [s.decode() for s in f["stimulus_id"][:]]
    d[2, ids.index("img0042"), 3, 1, 1] = np.nan
with h5py.File(tmp + "/incomplete.h5", "r+") as f:
    f.attrs["complete"] = np.int64(0)
PYEOF
  expect 1 "NaN features" -- "$bin" score --activations "$tmp/nan.h5" --layer conv --neural "$nc" --region V4
  contains "NaN feature"; contains "img0042"; contains "iteration 2"
  expect 1 "NaN features, kernel solver" -- "$bin" score --activations "$tmp/nan.h5" --layer conv --neural "$nc" \
    --region V4 --solver kernel
  contains "NaN feature"; contains "img0042"
  expect 0 "NaN only in another iteration" -- "$bin" score --activations "$tmp/nan.h5" --layer conv --iteration 1 \
    --neural "$nc" --region V4
  expect 1 "incomplete activations" -- "$bin" score --activations "$tmp/incomplete.h5" --layer conv --neural "$nc"
  contains "incomplete"
  printf '{"train": [[0, 1]], "test": [[1, 2]]}' >"$tmp/overlap.json"
  expect 1 "overlapping splits" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" \
    --splits-from "$tmp/overlap.json"
  contains "appears twice"
else
  skip "python3 with h5py/numpy not found: JSON values not compared"
fi

expect 1 "unknown layer" -- "$bin" score --activations "$acts" --layer block9 --neural "$nc"
contains "no layer 'block9'; the file has: conv, fc"
expect 1 "misspelt layer" -- "$bin" score --activations "$acts" --layer cnv --neural "$nc"
contains "no layer 'cnv' (did you mean 'conv'?)"
expect 1 "misspelt layer in a list" -- "$bin" score --activations "$acts" --layer conv,fcc --neural "$nc"
contains "did you mean 'fc'"
expect 2 "empty name in a layer list" -- "$bin" score --activations "$acts" --layer conv,,fc --neural "$nc"
contains "empty name"
expect 2 "unknown normalisation" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --normalization r2
contains "expected ev"
expect 2 "--details with a table" -- "$bin" score --activations "$acts" --layer all --neural "$nc" --details "$tmp/x.h5"
contains "--details takes one layer and one region"
expect 1 "unknown iteration" -- "$bin" score --activations "$acts" --layer conv --iteration 7 --neural "$nc"
contains "no iteration 7; the file has iterations 0..2"
expect 2 "bad iteration" -- "$bin" score --activations "$acts" --layer conv --iteration x --neural "$nc"
contains "expected 'all' or integers and ranges"
expect 2 "unknown metric" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --metric lasso
contains "expected pls, ridge, ols, rsa or cka"
expect 2 "missing --neural" -- "$bin" score --activations "$acts" --layer conv
contains "--neural"
expect 1 "unknown region" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region V1
contains "V1"
expect 1 "too few stimuli for 25 components" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" \
  --region V4 --components 200
contains "fewer than the 200 PLS components"
expect 1 "splits for other stimuli" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region V4 \
  --splits-from "$fx/pls_cases.json"
expect 2 "bad time window" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --time-window 170:70
contains "START < END"
expect 1 "window without bins inside" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" \
  --time-window 10:20

# Ridge, OLS, RSA, CKA from the command line vs scikit-learn / NumPy (linear_cases.json, 1e-4 absolute).
# Ridge and CKA also through the streamed Gram matrix (--solver kernel; auto picks the features here: 72 < 108).
for m in ridge ols rsa cka; do
  expect 0 "metric $m" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region V4 --metric $m \
    --out "$tmp/$m.json"
done
contains "linear CKA"
expect 0 "ridge, dual from the streamed Gram matrix" -- "$bin" score --activations "$acts" --layer conv \
  --neural "$nc" --region V4 --metric ridge --solver kernel --block-mb 1 --out "$tmp/ridge_gram.json"
contains "dual (streamed Gram matrix)"
if "$py" -c "import numpy" 2>/dev/null; then
  "$py" - "$fx/linear_cases.json" "$tmp" <<'PYEOF' >"$tmp/out" 2>&1 && ok || { bad "metric JSON differs"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
exp = json.load(open(sys.argv[1]))["e2e_conv"]; tmp = sys.argv[2]
worst = 0
for m, f in (("ridge", "ridge"), ("ols", "ols"), ("rsa", "rsa"), ("cka", "cka"), ("ridge", "ridge_gram")):
    got = json.load(open("%s/%s.json" % (tmp, f)))
    assert got["metric"] == m and got["iteration"] == [0, 1, 2], (got["metric"], got["iteration"])
    for k, it in enumerate(exp[m]):
        # NaN-aware: a NaN (v != v) counts as the worst
        worst = max(worst, abs(got["raw"][k] - it["raw"]), abs(got["error"][k] - it["error"]),
                    key=lambda v: float("inf") if v != v else v)
print("ridge/ols/rsa/cka: largest |difference| from scikit-learn/NumPy: %.2e" % worst)
assert worst < 1e-4, worst
PYEOF
  cat "$tmp/out"
else
  skip "python3 with numpy not found: this cross-check did not run"
fi

# --details: per-split, per-neuroid values as HDF5, read back with h5py and compared with the JSON and the splits.
expect 0 "score --details" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region V4 \
  --out "$tmp/det.json" --splits-to "$tmp/det_splits.json" --details "$tmp/det.h5"
contains "wrote $tmp/det.h5"
[ ! -e "$tmp/det.h5.partial" ] && ok || bad "--details left a .partial file"
expect 1 "--details refuses to overwrite" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" \
  --region V4 --details "$tmp/det.h5"
contains "use --force"
if "$py" -c "import h5py, numpy" 2>/dev/null; then
  "$py" - "$tmp" <<'PYEOF' >"$tmp/out" 2>&1 && ok || { bad "--details differs from the JSON"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys, h5py, numpy as np
tmp = sys.argv[1]
js = json.load(open(tmp + "/det.json")); sp = json.load(open(tmp + "/det_splits.json"))
with h5py.File(tmp + "/det.h5", "r") as f:
    assert f.attrs["complete"] == 1 and f.attrs["layer"] == "conv" and f.attrs["metric"] == "pls"
    assert f.attrs["region"] == "V4" and len(f.attrs["activations_sha256"]) == 64 and "command_line" in f.attrs
    assert list(f["iteration"][()]) == js["iteration"] == [0, 1, 2]
    assert np.array_equal(f.attrs["raw"], js["raw"]) and np.array_equal(f.attrs["error"], js["error"])
    assert np.array_equal(f.attrs["ceiled"], js["ceiled"]) and f.attrs["ceiling"] == js["ceiling"]
    ids = [s.decode() for s in f["stimulus_id"][()]]
    assert ids == sp["sample_ids"]
    assert [s.decode() for s in f["neuroid_id"][()]] == ["n%03d" % k for k in range(12)]
    train, test = f["train_mask"][()], f["test_mask"][()]
    assert train.shape == test.shape == (10, 120)
    for s in range(10):
        assert sorted(np.flatnonzero(train[s])) == sorted(sp["train"][s])
        assert sorted(np.flatnonzero(test[s])) == sorted(sp["test"][s])
    for k, t in enumerate(js["iteration"]):
        g = f["iteration_%d" % t]
        pn, sm = g["per_neuroid"][()], g["split_median"][()]
        assert pn.shape == (10, 12) and sm.shape == (10,)
        assert np.array_equal(sm, js["split_medians"][k]), (sm, js["split_medians"][k])
        assert np.allclose(np.nanmedian(pn, axis=1), sm, rtol=0, atol=1e-15)
        assert g.attrs["raw"] == js["raw"][k] and g.attrs["error"] == js["error"][k]
        assert abs(sm.mean() - js["raw"][k]) < 1e-12
print("--details: HDF5 equals the JSON")
PYEOF
  cat "$tmp/out"
else
  skip "python3 with h5py/numpy not found: this cross-check did not run"
fi

# Tables: every layer x iteration x region in one call equals the single calls, bit for bit; the three
# normalisations; CSV, TSV and the report.
expect 0 "fc at every iteration" -- "$bin" score --activations "$acts" --layer fc --iterations all --neural "$nc" \
  --region V4 --out "$tmp/fc_all.json"
expect 0 "conv, every region" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region IT \
  --out "$tmp/conv_it.json"
expect 0 "the whole table in one call" -- "$bin" score --activations "$acts" --layer all --iteration all \
  --region each --neural "$nc" --out "$tmp/table.json" --table "$tmp/table.csv" --report "$tmp/report"
contains "2 layers x 3 iterations x 2 regions"
expect 0 "a layer list, TSV" -- "$bin" score --activations "$acts" --layer fc,conv --iteration 0-2 --region V4 \
  --neural "$nc" --table "$tmp/table.tsv" -q
[ ! -s "$tmp/stdout" ] && ok || bad "-q printed to stdout"
expect 1 "a table refuses to overwrite" -- "$bin" score --activations "$acts" --layer all --neural "$nc" \
  --table "$tmp/table.csv"
contains "use --force"
for n in ev2024 ratio; do
  expect 0 "--normalization $n" -- "$bin" score --activations "$acts" --layer conv --neural "$nc" --region V4 \
    --normalization $n --out "$tmp/norm_$n.json"
done
[ -s "$tmp/report/index.html" ] && [ -s "$tmp/report/report.md" ] && [ -s "$tmp/report/heatmap_V4.png" ] &&
  [ -s "$tmp/report/heatmap_IT.svg" ] && ok || bad "the report is incomplete"
if "$py" -c "import numpy" 2>/dev/null; then
  "$py" - "$tmp" <<'PYEOF' >"$tmp/out" 2>&1 && ok || { bad "the table differs from the single calls"; sed 's/^/    /' "$tmp/out" >&2; }
import csv, json, sys
tmp = sys.argv[1]
single = {("conv", "V4"): json.load(open(tmp + "/all.json")), ("fc", "V4"): json.load(open(tmp + "/fc_all.json")),
          ("conv", "IT"): json.load(open(tmp + "/conv_it.json"))}
table = json.load(open(tmp + "/table.json"))
assert table["normalization"] == "ev" and len(table["results"]) == 12 and "provenance" in table
checked = 0
for rec in table["results"]:
    one = single.get((rec["layer"], rec["region"]))
    if one is None:
        continue
    k = one["iteration"].index(rec["iteration"])
    for key in ("raw", "error", "ceiled"):
        assert rec[key] == one[key][k], (rec["layer"], rec["region"], rec["iteration"], key, rec[key], one[key][k])
    assert rec["ceiling"] == one["ceiling"] and rec["split_medians"] == one["split_medians"][k]
    checked += 1
assert checked == 9, checked
rows = list(csv.DictReader(open(tmp + "/table.csv")))
assert len(rows) == 12 and list(rows[0]) == ["layer", "iteration", "region", "raw", "error", "ceiling", "ceiled",
                                             "n_stimuli", "n_neuroids", "normalization"]
for row, rec in zip(rows, table["results"]):
    assert row["layer"] == rec["layer"] and int(row["iteration"]) == rec["iteration"] and row["region"] == rec["region"]
    assert float(row["raw"]) == rec["raw"] and float(row["ceiled"]) == rec["ceiled"]
tsv = list(csv.DictReader(open(tmp + "/table.tsv"), delimiter="\t"))
assert [r["layer"] for r in tsv] == ["fc"] * 3 + ["conv"] * 3, [r["layer"] for r in tsv]
assert float(tsv[3]["raw"]) == single[("conv", "V4")]["raw"][0]
# the three normalisations of the same raw scores
base = single[("conv", "V4")]
for name, f in (("ev2024", lambda r, c: (r / c) ** 2), ("ratio", lambda r, c: r / c)):
    got = json.load(open("%s/norm_%s.json" % (tmp, name)))
    assert got["normalization"] == name and got["raw"] == base["raw"]
    for r, c in zip(got["raw"], got["ceiled"]):
        assert abs(c - f(r, got["ceiling"])) < 1e-14, (name, r, c)
print("table: %d cells equal to the single calls; CSV, TSV and the normalisations agree" % checked)
PYEOF
  cat "$tmp/out"
else
  skip "python3 with numpy not found: the table was not compared"
fi

cli_summary "score cli"
