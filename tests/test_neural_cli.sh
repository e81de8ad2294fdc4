#!/usr/bin/env bash
# neurocmp neural import / info and neurocmp ceiling as a user meets them: the bundled V4 data end to end,
# the output read back by xarray, JSON checked against NumPy, and every kind of bad input.
set -u
bin=${1:?usage: test_neural_cli.sh path/to/neurocmp}
py=${NCMP_PYTHON3:-/usr/bin/python3}
fx=${NCMP_FIXTURES:-$(dirname "$0")/fixtures}/neural
data=${NEUROCMP_DATADIR:-$(dirname "$0")/..}/datasets/cowley2023-v4-210325
. "$(dirname "$0")/cli_lib.sh"
cli_tmp neural-cli

expect 0 "main help lists the commands" -- "$bin" --help
contains "ceiling"; contains "neural"
expect 0 "ceiling help" -- "$bin" ceiling --help
contains "--time-window"; contains "[default: 70:170]"; contains "--per-bin"
expect 0 "neural help" -- "$bin" neural --help
contains "import"
expect 0 "neural import help" -- "$bin" neural import --help
contains "--stimuli"

# Story 3: the bundled V4 recordings, imported and ceiled.
expect 0 "import bundled V4" -- "$bin" neural import --npy "$data/responses_raw_210325.npy" \
  --stimuli "$data/images_210325.zip" --region V4 --animal PE --out "$tmp/v4.nc"
contains "4840 presentations (640 stimuli, 1560 empty repeats dropped) x 50 neuroids"
[ ! -e "$tmp/v4.nc.partial" ] && ok || bad "import left a .partial file"
expect 1 "import refuses to overwrite" -- "$bin" neural import --npy "$data/responses_raw_210325.npy" \
  --stimuli "$data/images_210325.zip" --region V4 --out "$tmp/v4.nc"
contains "use --force"
expect 0 "neural info" -- "$bin" neural info "$tmp/v4.nc"
contains "4840 presentations x 50 neuroids"; contains "repetition"
expect 0 "ceiling of V4" -- "$bin" ceiling --neural "$tmp/v4.nc" --out "$tmp/v4.json"
contains "0.7595"; contains "640 stimuli"
[ ! -e "$tmp/v4.json.partial" ] && ok || bad "ceiling left a .partial file"
expect 1 "ceiling refuses to overwrite" -- "$bin" ceiling --neural "$tmp/v4.nc" --out "$tmp/v4.json"
expect 0 "ceiling --force" -- "$bin" -q ceiling --neural "$tmp/v4.nc" --out "$tmp/v4.json" --force

# xarray reads the import as the NumPy array; the JSON has the keys of docs/formats.md (Score results) and matches NumPy (other halvings) within 0.02.
expect 0 "xarray reads the import; JSON matches NumPy" -- "$py" - "$tmp/v4.nc" "$data/responses_raw_210325.npy" \
  "$tmp/v4.json" "$fx/v4_ceiling_expected.json" <<'PY'
import json, sys, hashlib
import numpy as np, xarray as xr
nc, npy, js, ex = sys.argv[1:]
a = xr.open_dataarray(nc)
raw = np.load(npy)
assert a.dims == ("presentation", "neuroid"), a.dims
assert list(a.neuroid_id.values[:2]) == ["neuron000", "neuron001"] and set(a.region.values) == {"V4"}
assert set(a.animal.values) == {"PE"}
for k in (0, 1234, 4839):
    s = int(str(a.stimulus_id.values[k])[5:]) - 1
    r = int(a.repetition.values[k])
    np.testing.assert_array_equal(a.values[k], raw[:, s, r])
assert np.isfinite(raw).sum() == np.isfinite(a.values).sum()
d, e = json.load(open(js)), json.load(open(ex))
for key in ("ceiling", "error", "n_stimuli", "n_neuroids", "n_repetitions"):
    assert key in d, key
assert d["provenance"]["input_sha256"] == hashlib.sha256(open(nc, "rb").read()).hexdigest()
assert "ceiling --neural" in d["provenance"]["command_line"]
assert abs(d["ceiling"] - e["ceiling_other_halves_seed2024"]) < 0.02, (d["ceiling"], e)
assert abs(d["ceiling"] - e["ceiling_same_halves"]) < 1e-12
print("ceiling C %.6f, NumPy (other halvings) %.6f" % (d["ceiling"], e["ceiling_other_halves_seed2024"]))
PY

# Time bins and regions on an xarray-written BrainIO file.
expect 0 "per-bin ceiling" -- "$bin" ceiling --neural "$fx/assembly_bins.nc" --region IT --per-bin --out "$tmp/bins.json"
contains "0-20"; contains "170-220"; contains "region IT"
expect 0 "per-bin JSON" -- "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['ceiling'])==5 and d['time_bin_start'][4]==170" "$tmp/bins.json"
expect 0 "window ceiling" -- "$bin" ceiling --neural "$fx/assembly_bins.nc" --time-window 70:170
contains "70-170"
expect 0 "older image_id file" -- "$bin" ceiling --neural "$fx/assembly_old.nc"

# Bad input: clear message, non-zero exit, never a crash.
expect 2 "ceiling without --neural" -- "$bin" ceiling
contains "needs --neural"
expect 2 "bad window" -- "$bin" ceiling --neural "$fx/assembly_bins.nc" --time-window 70-170
contains "START:END"
expect 1 "no such region" -- "$bin" ceiling --neural "$fx/assembly_bins.nc" --region V1
contains "no neuroid in region 'V1' (regions: IT, V4)"
expect 1 "window without bins" -- "$bin" ceiling --neural "$fx/assembly_bins.nc" --time-window 300:400
contains "no time bin lies inside 300-400 ms"
expect 1 "missing file" -- "$bin" ceiling --neural "$tmp/none.nc"
contains "$tmp/none.nc"
expect 1 "not netCDF" -- "$bin" ceiling --neural "$fx/small_ids.txt"
contains "not a netCDF"
head -c 9000 "$fx/assembly_bins.nc" >"$tmp/truncated.nc"
expect 1 "truncated netCDF" -- "$bin" ceiling --neural "$tmp/truncated.nc"
contains "truncated.nc"
expect 1 "wrong dims" -- "$bin" ceiling --neural "$fx/bad_dims.nc"
contains "has dims (stimulus, cell, time_bin)"
expect 1 "no stimulus_id" -- "$bin" ceiling --neural "$fx/bad_no_stimulus_id.nc"
contains "no 'stimulus_id' (or older 'image_id')"
expect 1 "duplicate neuroid ids" -- "$bin" ceiling --neural "$fx/bad_duplicate_neuroid.nc"
contains "duplicate neuroid_id 'n1'"
expect 1 "all-NaN neuroid" -- "$bin" ceiling --neural "$fx/bad_all_nan_neuroid.nc"
contains "every entry is NaN"
expect 1 "two data variables" -- "$bin" neural info "$fx/bad_two_variables.nc"
contains "2 data variables"
expect 1 "already averaged" -- "$bin" ceiling --neural "$fx/averaged_no_repetition.nc"
contains "no 'repetition' coordinate"
expect 1 "one repetition" -- "$bin" ceiling --neural "$fx/one_repetition.nc"
contains "at least 2 distinct repetitions"
expect 2 "import without arguments" -- "$bin" neural import
contains "needs --npy FILE.npy, --stimuli DIR|ZIP|CSV|TXT, --region R, --out FILE.nc"
expect 1 "import: wrong number of ids" -- "$bin" neural import --npy "$data/responses_raw_210325.npy" \
  --stimuli "$fx/small_ids.txt" --region V4 --out "$tmp/x.nc"
contains "640 stimuli along axis 1 but 4 stimulus ids"
expect 1 "import: Fortran order" -- "$bin" neural import --npy "$fx/bad_fortran.npy" --stimuli "$fx/small_ids.txt" \
  --region V4 --out "$tmp/x.nc"
contains "Fortran order"
expect 1 "import: complex dtype" -- "$bin" neural import --npy "$fx/bad_complex.npy" --stimuli "$fx/small_ids.txt" \
  --region V4 --out "$tmp/x.nc"
contains "dtype '<c8' is not supported"
[ ! -e "$tmp/x.nc" ] && ok || bad "a failed import left an output"
expect 0 "import from a text id list" -- "$bin" neural import --npy "$fx/small_f8_v1.npy" --stimuli "$fx/small_ids.csv" \
  --region IT --out "$tmp/small.nc"
contains "18 presentations"
# Spike counts, object_name kept, time bins (4-D), and messages that name the place at fault.
printf 'stimulus_id,object_name\na,car\nb,car\nc,face\nd,face\n' >"$tmp/labelled.csv"
expect 0 "import: integer counts and object_name" -- "$bin" neural import --npy "$fx/counts_i4.npy" \
  --stimuli "$tmp/labelled.csv" --region IT --out "$tmp/counts.nc"
contains "object_name kept"
"$py" - "$tmp" <<'PYEOF' && ok || bad "4-D import: could not write the array"
import sys, numpy as np
r = np.arange(3 * 4 * 2 * 5, dtype=float).reshape(3, 4, 2, 5)
r[1, 2, 1, :] = np.nan
np.save(sys.argv[1] + "/binned.npy", r)
r[2, 3, 0, 4] = np.inf
np.save(sys.argv[1] + "/binned_inf.npy", r)
PYEOF
expect 0 "import: time bins" -- "$bin" neural import --npy "$tmp/binned.npy" --stimuli "$tmp/labelled.csv" \
  --region IT --bin-starts 0:10 --bin-size 10 --out "$tmp/binned.nc"
contains "x 5 time bins of 10 ms"
expect 0 "xarray reads the binned import" -- "$py" -c "
import sys, numpy as np, xarray as xr
a = xr.open_dataarray(sys.argv[1])
assert a.dims == ('presentation', 'neuroid', 'time_bin') and a.shape == (8, 3, 5), a.shape
assert list(a.time_bin_start.values) == [0, 10, 20, 30, 40] and list(a.time_bin_end.values) == [10, 20, 30, 40, 50]
assert list(a.object_name.values[:2]) == ['car', 'car'] and int(a.repetition.values[1]) == 1
r = np.load(sys.argv[2]); p = list(zip(a.stimulus_id.values, a.repetition.values)).index(('b', 1))
assert np.array_equal(a.values[p, 0, :], r[0, 1, 1, :])
" "$tmp/binned.nc" "$tmp/binned.npy"
expect 2 "import: 4-D without bins" -- "$bin" neural import --npy "$tmp/binned.npy" --stimuli "$tmp/labelled.csv" \
  --region IT --out "$tmp/x.nc"
contains "give their starts (--bin-starts"
expect 1 "import: an infinite value named by its place" -- "$bin" neural import --npy "$tmp/binned_inf.npy" \
  --stimuli "$tmp/labelled.csv" --region IT --bin-starts 0,10,20,30,40 --bin-size 10 --out "$tmp/x.nc"
contains "neuron 2, stimulus 3 ('d'), repeat 0, time bin 4"
expect 1 "import into a missing folder" -- "$bin" neural import --npy "$fx/counts_i4.npy" \
  --stimuli "$tmp/labelled.csv" --region IT --out "$tmp/no/such/dir/x.nc"
contains "the directory '$tmp/no/such/dir' does not exist"
expect 2 "unknown neural subcommand" -- "$bin" neural imprt
contains "did you mean 'import'"

# The simulator: a file with a known answer that the ceiling command and xarray read.
expect 0 "simulate-neural" -- "$bin" simulate-neural --activations "$fx/activations_small.h5" \
  --bins block2@0,block2@1,block1@2 --snr 0.3 --neuroids 20 --repetitions 3 --out "$tmp/sim.nc"
contains "450 presentations (150 stimuli x 3 repetitions) x 20 neuroids x 3 time bins of 20 ms"
contains "expected ceiling 0.4737"
expect 0 "simulated ceiling" -- "$bin" ceiling --neural "$tmp/sim.nc" --per-bin
contains "70-90"; contains "110-130"
expect 0 "neural info shows the ground truth" -- "$bin" neural info "$tmp/sim.nc"
contains "simulation_bins = block2@0,block2@1,block1@2"
expect 0 "xarray reads the simulation" -- "$py" -c "
import sys, xarray as xr
a = xr.open_dataarray(sys.argv[1]); ds = xr.open_dataset(sys.argv[1])
assert a.dims == ('presentation', 'neuroid', 'time_bin') and a.shape == (450, 20, 3)
assert list(a.time_bin_start.values) == [70, 90, 110] and len(set(a.object_name.values)) == 8
assert ds.attrs['simulation_bins'] == 'block2@0,block2@1,block1@2' and len(ds.attrs['activations_sha256']) == 64
" "$tmp/sim.nc"
expect 1 "simulate: unknown layer" -- "$bin" simulate-neural --activations "$fx/activations_small.h5" \
  --bins block7@0 --out "$tmp/sim2.nc"
contains "activations/block7"
expect 2 "simulate: bad --bins" -- "$bin" simulate-neural --activations "$fx/activations_small.h5" \
  --bins block2 --out "$tmp/sim2.nc"
contains "LAYER@ITERATION"
expect 2 "simulate: bad --noise" -- "$bin" simulate-neural --activations "$fx/activations_small.h5" \
  --bins block2@0 --noise pink --out "$tmp/sim2.nc"
expect 1 "simulate: not an activations file" -- "$bin" simulate-neural --activations "$fx/small_ids.txt" \
  --bins block2@0 --out "$tmp/sim2.nc"
contains "small_ids.txt"

cli_summary "neural cli"
