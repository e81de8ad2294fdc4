#!/usr/bin/env bash
# neurocmp temporal acceptance (issue: "Across time"):
#  1. simulated recordings whose time bins are each driven by a known iteration: the matrix's argmax per
#     bin recovers it (PLS per-bin, PLS shared, ridge);
#  2. every cell equals a separate `neurocmp score --time-window START:END --iteration t` with the same
#     splits (NIPALS and the lockstep kernel path; tolerance 1e-12 absolute: the lockstep fits share one
#     matrix product across bins, so only its rounding can differ);
#  3. outputs: JSON keys, HDF5 per-neuroid values consistent with the split medians (h5py), figures (PNG
#     size, SVG axis text and provenance), the HTML/Markdown report;
#  4. bad input: no time bins, an empty window, unknown layer, shared ridge, existing output, bad options.
set -u
bin=${1:?usage: test_temporal_cli.sh path/to/neurocmp}
py=${NCMP_PYTHON3:-/usr/bin/python3}
fx=${NCMP_FIXTURES:-$(dirname "$0")/fixtures}/analysis
. "$(dirname "$0")/cli_lib.sh"
cli_tmp temporal-cli
acts=$fx/e2e_activations.h5
truth=fc@0,fc@0,fc@1,fc@2,fc@2,fc@1
expected_best="[0, 0, 1, 2, 2, 1]"

expect 0 "help" -- "$bin" temporal --help
contains "--bins"; contains "--report"; contains "--mode"
expect 0 "simulate" -- "$bin" simulate-neural --activations "$acts" --bins $truth --neuroids 20 --repetitions 6 \
  --units 16 --snr 1 --seed 3 --region IT -o "$tmp/sim.nc"

# 1. recovery, with outputs and a report
expect 0 "temporal pls per-bin" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" \
  --region IT --out "$tmp/pls" --report "$tmp/report" --splits-to "$tmp/splits.json"
contains "best iteration of the bin"; contains "peak latency"
expect 0 "temporal pls kernel" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" \
  --region IT --solver kernel --splits-from "$tmp/splits.json" --out "$tmp/kernel" --no-figures
expect 0 "temporal pls shared" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" \
  --region IT --mode shared --out "$tmp/shared" --no-figures
expect 0 "temporal ridge" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" \
  --region IT --metric ridge --out "$tmp/ridge" --no-figures
expect 0 "temporal windows A:B:STEP, two iterations" -- "$bin" temporal --activations "$acts" --layer fc \
  --neural "$tmp/sim.nc" --region IT --bins 70:190:40 --iterations 0,2 --time-window none --out "$tmp/win" \
  --no-figures
[ -e "$tmp/pls/temporal.json.partial" ] && bad "partial JSON left" || ok

for d in pls kernel shared ridge; do
  "$py" - "$tmp/$d/temporal.json" "$expected_best" >"$tmp/out" 2>&1 <<'PYEOF' && ok || { bad "$d: argmax per bin"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
r = json.load(open(sys.argv[1]))
best = r["best_iteration_per_bin"]
assert best == json.loads(sys.argv[2]), (best, sys.argv[2])
# the true cell is far above the others in every bin
for b, t in enumerate(best):
    col = [row[b] for row in r["ceiled"]]
    others = [v for i, v in enumerate(col) if i != t]
    assert col[t] > 0.8 and max(others) < 0.4, col
print("ok", best)
PYEOF
done
"$py" - "$tmp/win/temporal.json" >"$tmp/out" 2>&1 <<'PYEOF' && ok || { bad "windows of 40 ms"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["iteration"] == [0, 2] and r["time_bin_start_ms"] == [70, 110, 150] and r["time_bin_end_ms"] == [110, 150, 190]
assert r["window"] is None and len(r["raw"]) == 2 and len(r["raw"][0]) == 3
PYEOF

# 2. every cell equals `neurocmp score` with the same splits (NIPALS: fc has 30 features; kernel forced)
"$py" - "$tmp/pls/temporal.json" "$tmp/kernel/temporal.json" "$tmp/ridge/temporal.json" >"$tmp/cells" <<'PYEOF'
import json, sys
for path, tag in zip(sys.argv[1:], ("nipals", "kernel", "ridge")):
    r = json.load(open(path))
    for i, t in enumerate(r["iteration"]):
        for b, (s, e) in enumerate(zip(r["time_bin_start_ms"], r["time_bin_end_ms"])):
            print(tag, t, "%g:%g" % (s, e), repr(r["raw"][i][b]), repr(r["error"][i][b]), repr(r["ceiling"][b]))
PYEOF
worst=0 ncells=0
while read -r tag t win raw err ceil; do
  extra=""
  [ "$tag" = kernel ] && extra="--solver kernel"
  [ "$tag" = ridge ] && extra="--metric ridge"
  # shellcheck disable=SC2086
  if "$bin" score --activations "$acts" --layer fc --neural "$tmp/sim.nc" --region IT --iteration "$t" \
      --time-window "$win" --splits-from "$tmp/splits.json" $extra --out "$tmp/cell.json" --force -q >/dev/null 2>"$tmp/err"; then
    d=$("$py" -c "
import json,sys; c=json.load(open('$tmp/cell.json'))
print(max(abs(c['raw']-$raw), abs(c['error']-$err), abs(c['ceiling']-$ceil)))")
    ncells=$((ncells + 1))
    worst=$("$py" -c "print(max($worst, $d))")
  else
    bad "score $tag t=$t window $win failed"; sed 's/^/    /' "$tmp/err" >&2
  fi
done <"$tmp/cells"
echo "cells compared with neurocmp score: $ncells, largest |difference| $worst"
if [ "$ncells" -eq 54 ] && "$py" -c "import sys; sys.exit(0 if $worst <= 1e-12 else 1)"; then ok; else
  bad "cells differ from neurocmp score (n $ncells, worst $worst)"; fi

# 2b. Brain-Score's temporal protocols against a reference written from Brain-Score's code
# (tests/brainscore_reference.py: SpanTimeRegression / PerTimeRegression with PLSRegression(25), time_align),
# same splits, 1e-6 absolute per bin: the span matrix, a committed map mixing iterations (span and per-bin).
map="0@70:100,1@100:130,2@130:190"
expect 0 "temporal span with a map" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" \
  --region IT --mode span --map "$map" --splits-from "$tmp/splits.json" --out "$tmp/span" --no-figures
contains "committed map"; contains "best monotone path"
expect 0 "temporal per-bin with a map" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" \
  --region IT --map "$map" --splits-from "$tmp/splits.json" --out "$tmp/permap" --no-figures
expect 2 "span with ridge" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" --region IT \
  --mode span --metric ridge
contains "spantime_pls"
expect 1 "a map that leaves bins uncovered" -- "$bin" temporal --activations "$acts" --layer fc \
  --neural "$tmp/sim.nc" --region IT --map "0@70:100,1@100:150"
contains "does not cover the time bin 150-170 ms"
expect 2 "overlapping map steps" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" \
  --region IT --map "0@70:120,1@100:190"
contains "overlap"
if "$py" -c "import sklearn, scipy, xarray, h5py" 2>/dev/null; then
  ref="$(dirname "$0")/brainscore_reference.py"
  "$py" "$ref" "$acts" fc "$tmp/sim.nc" IT "$tmp/splits.json" span >"$tmp/ref_span.json" 2>/dev/null &&
  "$py" "$ref" "$acts" fc "$tmp/sim.nc" IT "$tmp/splits.json" span "$map" >"$tmp/ref_span_map.json" 2>/dev/null &&
  "$py" "$ref" "$acts" fc "$tmp/sim.nc" IT "$tmp/splits.json" per-bin "$map" >"$tmp/ref_bin_map.json" 2>/dev/null &&
  "$py" "$ref" "$acts" fc "$tmp/sim.nc" IT "$tmp/splits.json" rsa >"$tmp/ref_rsa.json" 2>/dev/null &&
  "$bin" score --activations "$acts" --layer fc --neural "$tmp/sim.nc" --region IT --metric rsa \
    --time-window 70:190 --splits-from "$tmp/splits.json" --out "$tmp/rsa.json" -q ||
    bad "the Brain-Score reference did not run"
  "$py" - "$tmp" >"$tmp/out" 2>&1 <<'PYEOF' && ok || { bad "span / map differ from Brain-Score's protocol"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
import numpy as np
tmp = sys.argv[1]
def worst(a, b):
    d = np.abs(np.asarray(a, float) - np.asarray(b, float))
    return float("inf") if np.isnan(d).any() else float(d.max())
span, permap = json.load(open(tmp + "/span/temporal.json")), json.load(open(tmp + "/permap/temporal.json"))
r_span, r_smap, r_bmap = (json.load(open(tmp + "/ref_%s.json" % k)) for k in ("span", "span_map", "bin_map"))
w = max(worst(span["raw"], r_span["raw"]), worst(span["error"], r_span["error"]),
        worst(span["map"]["raw"], r_smap["map_raw"]), worst(span["map"]["error"], r_smap["map_error"]),
        worst(span["map"]["weights"], r_smap["weights"]),
        worst(permap["map"]["raw"], r_bmap["map_raw"]), worst(permap["map"]["error"], r_bmap["map_error"]))
print("span matrix, span map, per-bin map vs Brain-Score's protocol: largest |difference| %.2e" % w)
assert w < 1e-6, w
# the map's one-iteration bins are the matrix's cells (per-bin: same regression, same splits)
W = np.array(permap["map"]["weights"])
for b in range(W.shape[0]):
    if W[b].max() == 1.0:
        t = permap["map"]["iteration"][int(W[b].argmax())]
        assert abs(permap["map"]["raw"][b] - permap["raw"][permap["iteration"].index(t)][b]) < 1e-12, b
m = span["map"]
assert abs(m["mean"] - np.mean(m["ceiled"])) < 1e-12 and m["text"] == "0@70:100,1@100:130,2@130:190"
# RSA: every split's value equals Brain-Score's RDMMetric (1 - corrcoef rows, Spearman of the upper triangles)
rsa, r_rsa = json.load(open(tmp + "/rsa.json")), json.load(open(tmp + "/ref_rsa.json"))
w_rsa = worst(rsa["split_medians"], r_rsa["rsa_split_values"])
print("RSA split values vs Brain-Score's RDM metric: largest |difference| %.2e" % w_rsa)
assert w_rsa < 1e-10, w_rsa
path = span["best_monotone_path"]
assert all(a <= b for a, b in zip(path, path[1:])), path
PYEOF
  cat "$tmp/out"
else
  skip "python3 with scikit-learn, scipy, xarray and h5py not found: the Brain-Score reference did not run"
fi

# 3. outputs
"$py" - "$tmp/pls" "$tmp/report" >"$tmp/out" 2>&1 <<'PYEOF' && ok || { bad "outputs"; sed 's/^/    /' "$tmp/out" >&2; }
import json, struct, sys
import h5py, numpy as np
d, rep = sys.argv[1], sys.argv[2]
r = json.load(open(d + "/temporal.json"))
for k in ("benchmark", "metric", "mode", "layer", "region", "iteration", "time_bin_start_ms", "ceiling", "raw", "error",
          "ceiled", "best_iteration_per_bin", "peak_latency_ms", "window", "n_stimuli", "n_neuroids", "splits", "provenance"):
    assert k in r, k
assert r["provenance"]["neural_sha256"] and "temporal" in r["provenance"]["command_line"]
assert r["peak_latency_ms"] == [90.0, 120.0, 150.0] or len(r["peak_latency_ms"]) == 3
# ceiled per bin: raw^2 / ceiling of the bin (Brain-Score since 2026, the default)
assert r["normalization"] == "ev", r["normalization"]
for row_raw, row_ceiled in zip(r["raw"], r["ceiled"]):
    for b, (x, c) in enumerate(zip(row_raw, row_ceiled)):
        assert abs(c - x * x / r["ceiling"][b]) < 1e-14, (b, x, c)
with h5py.File(d + "/temporal.h5", "r") as f:
    assert f.attrs["complete"] == 1
    pn, sm = f["per_neuroid"][...], f["split_median"][...]
    assert pn.shape == (3, 6, 10, 20), pn.shape
    assert np.allclose(np.median(pn, axis=3), sm, atol=1e-15, rtol=0)
    assert np.allclose(sm.mean(axis=2), np.array(r["raw"]), atol=1e-15, rtol=0)
    n = r["n_stimuli"]
    assert f["train_mask"].shape == (10, n) and int(f["test_mask"][0].sum()) + int(f["train_mask"][0].sum()) == n
    assert [x.decode() if isinstance(x, bytes) else x for x in f["neuroid_id"][:2]] == ["sim000", "sim001"]
for name in ("heatmap", "score_vs_time", "score_vs_iteration"):
    png = open(d + "/" + name + ".png", "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    w, h = struct.unpack(">II", png[16:24])
    assert w == 900 and h > 300, (w, h)
    assert b"neurocmp:provenance" in png
    svg = open(d + "/" + name + ".svg", encoding="utf-8").read()
    assert svg.rstrip().endswith("</svg>") and "<metadata" in svg and "temporal --activations" in svg
    assert "<text" in svg
heat = open(d + "/heatmap.svg", encoding="utf-8").read()
for text in ("time bin (ms)", "model iteration", "ceiled predictivity", ">70<", ">190<"):
    assert text in heat, text
lines = open(d + "/score_vs_iteration.svg", encoding="utf-8").read()
assert "70-170 ms window" in lines and "best time bin" in lines
html = open(rep + "/index.html", encoding="utf-8").read()
md = open(rep + "/report.md", encoding="utf-8").read()
for doc in (html, md):
    assert "heatmap" in doc and "peak latency" in doc and "sha256" in doc and "temporal" in doc
assert "<table>" in html and "<img src=\"heatmap.svg\"" in html and "http" not in html.replace("http-equiv", "")
assert "| bin (ms) |" in md
print("outputs ok")
PYEOF

# several regions: a matrix and figures each, one score-vs-iteration figure with a line per region
"$py" - "$tmp/sim.nc" "$tmp/two.nc" <<'PYEOF' || bad "could not write a two-region recording"
import sys
import xarray as xr
a = xr.open_dataarray(sys.argv[1])
b = a.assign_coords(neuroid_id=("neuroid", [s + "_b" for s in a.neuroid_id.values]),
                    region=("neuroid", ["V4"] * a.sizes["neuroid"]))
c = xr.concat([a, b], dim="neuroid")
c.name = a.name
c.to_netcdf(sys.argv[2])
PYEOF
expect 0 "two regions" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/two.nc" --region IT,V4 \
  --report "$tmp/two"
for f in temporal_IT.json temporal_V4.h5 heatmap_IT.png heatmap_V4.svg score_vs_time_V4.png score_vs_iteration.svg \
  index.html; do
  [ -s "$tmp/two/$f" ] && ok || bad "two regions: $f missing"
done
grep -q "IT, 70-170 ms window" "$tmp/two/score_vs_iteration.svg" && grep -q "V4, 70-170 ms window" \
  "$tmp/two/score_vs_iteration.svg" && ok || bad "score_vs_iteration lacks a line per region"
grep -q "Region V4" "$tmp/two/report.md" && ok || bad "report lacks the V4 section"
"$py" - "$tmp/two/temporal_IT.json" "$tmp/pls/temporal.json" >"$tmp/out" 2>&1 <<'PYEOF' && ok || { bad "region IT differs from the one-region run"; sed 's/^/    /' "$tmp/out" >&2; }
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["raw"] == b["raw"] and a["ceiling"] == b["ceiling"], (a["raw"], b["raw"])
PYEOF

# 4. bad input
"$py" - "$tmp/nobins.nc" <<'PYEOF' || bad "could not write a recording without time bins"
import sys
import numpy as np, xarray as xr
ids = ["img%04d" % i for i in range(1, 41)]
da = xr.DataArray(np.random.default_rng(0).normal(size=(40, 3)), dims=("presentation", "neuroid"),
                  coords={"stimulus_id": ("presentation", ids), "neuroid_id": ("neuroid", ["a", "b", "c"]),
                          "region": ("neuroid", ["IT"] * 3)}, name="responses")
da.to_netcdf(sys.argv[1])
PYEOF
expect 1 "recordings without time bins" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/nobins.nc"
contains "no time_bin dimension"
expect 1 "a bin where every repetition is missing" -- "$bin" temporal --activations "$acts" --layer fc \
  --neural "$fx/e2e_neural.nc"
contains "time bin 120-170 ms"; contains "is nan"
expect 1 "window with no bins" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" --bins 0:40:20
contains "holds no recorded time bin"
expect 2 "bad --bins" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" --bins 70:90
contains "START:END:STEP"
expect 1 "unknown layer" -- "$bin" temporal --activations "$acts" --layer nope --neural "$tmp/sim.nc"
contains "nope"
expect 1 "unknown iteration" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" --iterations 0,7
contains "7"
expect 2 "shared ridge" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" --metric ridge --mode shared
contains "per-bin"
expect 2 "bad mode" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" --mode both
contains "expected per-bin, span or shared"
expect 1 "refuses to overwrite" -- "$bin" temporal --activations "$acts" --layer fc --neural "$tmp/sim.nc" --region IT --out "$tmp/pls"
contains "--force"
expect 2 "missing --neural" -- "$bin" temporal --activations "$acts" --layer fc
contains "--neural"

cli_summary "temporal cli"
