#!/usr/bin/env bash
# Command-line behaviour of neurocmp: help, versions, unknown options, inspect, demo, bad input.
set -u
bin=${1:?usage: test_cli.sh path/to/neurocmp}
. "$(dirname "$0")/cli_lib.sh"
cli_tmp cli

expect 0 "main help" -- "$bin" --help
contains "usage: neurocmp"; contains "inspect"; contains "version"; contains "demo"
expect 2 "no command" -- "$bin"
expect 2 "unknown command" -- "$bin" inpsect x.h5
contains "did you mean 'inspect'"
expect 0 "version" -- "$bin" version
contains "HDF5     1."; contains "GSL      2."; contains "OpenBLAS"; contains "core type"
expect 0 "inspect help" -- "$bin" inspect --help
contains "usage: neurocmp inspect"; contains "--quiet"
expect 0 "demo help lists defaults" -- "$bin" demo --help
contains "[default: neurocmp-demo]"
expect 2 "unknown option suggests" -- "$bin" demo --outt x
contains "unknown option '--outt'"; contains "did you mean '--out'"
expect 2 "missing value" -- "$bin" demo --out
contains "needs a value"
expect 2 "inspect needs a file" -- "$bin" inspect
expect 2 "extra argument" -- "$bin" version extra
expect 1 "inspect missing file" -- "$bin" inspect "$tmp/none.h5"
contains "$tmp/none.h5"
echo "not hdf5" >"$tmp/text.h5"
expect 1 "inspect non-HDF5" -- "$bin" inspect "$tmp/text.h5"
contains "not an HDF5 file"

# The demo runs end to end on the shipped trained networks, says what it did, and can be run again.
expect 0 "demo" -- "$bin" demo --out "$tmp/demo" --iterations 2
cp "$tmp/out" "$tmp/demo.out"
contains "sha256"; contains "vgg16-cnnf-fmnist32.h5"; contains "vgg16-cnn-fmnist32.h5"
contains "export: done, 640 images"; contains "top-1 prob."
contains "50 V4 neuroids x 640 stimuli, 4840 presentations"; contains "Split-half noise ceiling"
contains "Neural predictivity on the real V4 recordings"; contains "permutation p ="; contains "bins recovered"
d=$tmp/demo
for f in v4.nc activations-cnnf.h5 activations-cnn.h5 simulated_bins.nc report/index.html report/report.md \
         report/cnnf_heatmap_all.png report/cnn_heatmap_all.svg report/heatmap.png; do
  [ -s "$d/$f" ] && ok || bad "demo wrote no $f"
done
[ -z "$(find "$d" -name '*.partial')" ] && ok || bad "demo left a .partial file"
# The console's score tables: both models, raw and ceiled, a row per iteration (CNN-F 0..2, CNN 0).
for head in "CNN-F (cnnf), raw:" "CNN-F (cnnf), ceiled = raw^2 / ceiling:" "CNN (cnn), raw:" "CNN (cnn), ceiled = raw^2 / ceiling:"; do
  rows=$(awk -v h="   $head" '$0 == h {f = 1; next} f && $1 == "iteration" {next} f && $1 ~ /^[0-9]+$/ && NF == 6 {n++; next} f {exit} END {print n + 0}' "$tmp/demo.out")
  want=3; case $head in CNN\ *) want=1 ;; esac
  [ "$rows" = "$want" ] && ok || bad "demo console table '$head': $rows rows of 5 blocks, expected $want"
done
# The demo's block3 cell at iteration 0 is what a single `neurocmp score` call prints, to the last digit.
cell() { # HEAD ITERATION LAYER: the number the demo's console table prints
  awk -v h="   $1" -v t="$2" -v l="$3" '$0 == h {f = 1; next} f && $1 == "iteration" {for (i = 2; i <= NF; i++) if ($i == l) c = i; next}
    f && $1 == t {print $c; exit}' "$tmp/demo.out"
}
expect 0 "single score of a demo cell" -- "$bin" score --activations "$d/activations-cnnf.h5" --layer block3 --iteration 0 --neural "$d/v4.nc" --out "$tmp/cell.json"
single=$(awk '$1 == "0" && NF == 5 {print $2, $4}' "$tmp/out")
demo_cell="$(cell "CNN-F (cnnf), raw:" 0 block3) $(cell "CNN-F (cnnf), ceiled = raw^2 / ceiling:" 0 block3)"
[ -n "$single" ] && [ "$single" = "$demo_cell" ] && ok || bad "demo's CNN-F block3 t=0 (raw ceiled) '$demo_cell' != score's '$single'"
# The report: a real-V4 section before the simulated one, with the data, the ceiling, both tables and the comparisons.
md=$d/report/report.md
ceiling=$(sed -n 's/^   \([0-9.]* +- [0-9.]*\): how well the neurons predict themselves.*/\1/p' "$tmp/demo.out")
real=$(grep -n '^## Real V4 recordings' "$md" | cut -d: -f1); sim=$(grep -n '^## Simulated recordings across time' "$md" | cut -d: -f1)
[ -n "$real" ] && [ -n "$sim" ] && [ "$real" -lt "$sim" ] && ok || bad "report: no real-V4 section before the simulated one ($real, $sim)"
for text in "Cowley, Stan, Pillow & Smith (2023)" "GPL-3.0" "50 V4 neuroids x 640 natural images, 4840 presentations" \
            "$(sed -n 's/^     sha256 //p' "$tmp/demo.out" | head -1)" "Noise ceiling: $ceiling (split-half" \
            "### CNN-F (vgg16-cnnf-fmnist32.h5)" "### CNN (vgg16-cnn-fmnist32.h5)" "(cnnf_heatmap_all.png)" \
            "(cnn_heatmap_all.png)" "### Comparisons" "What a null result would mean" "recordings are simulated"; do
  grep -qF -- "$text" "$md" && ok || bad "report.md lacks '$text'"
done
[ "$(grep -cE '^\| block[1-5] \| [0-9]+ \| all \|' "$md")" = 20 ] && ok || bad "report.md: not 15 CNN-F + 5 CNN table rows"
p=$(sed -n 's/.*permutation p = \([0-9.e-]*\)$/\1/p' "$tmp/demo.out" | head -1)
grep -qE "^\| CNN-F block[1-5] t=2 \| CNN-F block[1-5] t=0 \|.*\| $p \|" "$md" && ok || bad "report.md lacks the t=2 vs t=0 comparison with p = $p"
grep -qE '^\| CNN-F block[1-5] t=0 \| CNN block[1-5] t=0 \|' "$md" && ok || bad "report.md lacks the CNN-F vs CNN comparison"
grep -qF "<h2>Real V4 recordings</h2>" "$d/report/index.html" && grep -qF 'src="cnn_heatmap_all.svg"' "$d/report/index.html" && ok ||
  bad "index.html lacks the real-V4 section or its heatmap"
expect 0 "inspect the demo's CNN" -- "$bin" inspect "$d/activations-cnn.h5"
contains "status: complete"; contains "/activations/block3           float32 [1, 640, 64, 4, 4]"; contains "weights_sha256"
expect 0 "demo runs again, replacing its own files" -- "$bin" -q demo --out "$tmp/demo" --iterations 1
expect 0 "inspect demo output" -- "$bin" inspect "$tmp/demo/activations-cnnf.h5"
contains "status: complete"; contains "neurocmp_version"; contains "command_line"; contains "stimuli_sha256"
contains "/activations/block3           float32 [2, 640, 64, 4, 4]"
expect 1 "demo into unwritable place" -- "$bin" demo --out /proc/self/nope
contains "/proc/self/nope"
expect 2 "demo needs an iteration to compare" -- "$bin" demo --out "$tmp/demo0" --iterations 0
contains "--iterations must be in 1..20"

# Architectures: built-in, from a file, errors with line numbers, weights checks.
fx=${NCMP_FIXTURES:-$(dirname "$0")/fixtures}/model
expect 0 "arch vgg16" -- "$bin" arch vgg16
contains "15.470 GMAC per image forward"; contains "block5"; contains "138357544 parameters"
expect 0 "arch with weights" -- "$bin" arch vgg16-cnnf --width 0.125 --input-size 32 --classes 10 --weights "$fx/vgg16-cnnf-w0125.weights.h5"
contains "fits"; contains "feedback: fc8_linear' ->"
expect 1 "weights of another width" -- "$bin" arch vgg16-cnnf --width 0.25 --input-size 32 --classes 10 --weights "$fx/vgg16-cnnf-w0125.weights.h5"
contains "'features.0.weight' has shape [8, 3, 3, 3]"
expect 1 "weights of another network" -- "$bin" arch cnnf-fmnist --weights "$fx/vgg16-w0125.weights.h5"
contains "another architecture"
printf 'arch mine\ninput 1 8 8\nconv c out=4 weight=w\nrelu r\nflaten f\n' >"$tmp/bad.spec"
expect 1 "spec syntax error" -- "$bin" arch "$tmp/bad.spec"
contains "bad.spec:5: unknown layer type or directive 'flaten'; did you mean 'flatten'?"
printf 'arch mine\ninput 1 8 8\nconv c out=4 weight=w pad=1\nrelu r\nmaxpool p as=block1\nflatten f\nlinear l out=3 weight=v\n' >"$tmp/ok.spec"
expect 0 "user spec file" -- "$bin" arch "$tmp/ok.spec"
contains "block1"; contains "4x4x4"
expect 1 "unknown architecture" -- "$bin" arch resnet50
contains "built in: cnnf-fmnist, vgg16, vgg16-cnnf"
expect 0 "stability check" -- "$bin" arch cnnf-fmnist --weights "$fx/cnnf-fmnist.weights.h5" --check-stability -T 2 --inputs 2
contains "routing stability"; contains "t=2"
expect 2 "stability needs CNN-F" -- "$bin" arch vgg16 --input-size 32 --check-stability
contains "needs a CNN-F"

# Export: a small CNN-F over a few bundled images, end to end.
mkdir -p "$tmp/imgs"
( cd "$tmp/imgs" && "${NCMP_PYTHON3:-python3}" -c "
import zipfile, sys
z = zipfile.ZipFile(sys.argv[1])
for n in sorted(z.namelist())[:5]:
    open(n, 'wb').write(z.read(n))" "$(dirname "$0")/../datasets/cowley2023-v4-210325/images_210325.zip" )
expect 0 "export" -- "$bin" export --arch vgg16-cnnf --width 0.125 --input-size 32 --classes 10 --stimuli "$tmp/imgs" -T 2 --layers block2,logits --out "$tmp/acts.h5" --batch 2
contains "export: done, 5 images"
expect 0 "inspect export" -- "$bin" inspect "$tmp/acts.h5"
contains "status: complete"; contains "/activations/block2           float32 [3, 5, 16, 8, 8]"; contains "stimuli_sha256"
expect 1 "export refuses to overwrite" -- "$bin" export --arch vgg16-cnnf --width 0.125 --input-size 32 --classes 10 --stimuli "$tmp/imgs" -T 2 --layers block2 --out "$tmp/acts.h5"
contains "--force"
expect 1 "export unknown layer" -- "$bin" export --arch vgg16-cnnf --width 0.125 --input-size 32 --classes 10 --stimuli "$tmp/imgs" --layers block9 --out "$tmp/x.h5"
contains "layer 'block9' is not in vgg16-cnnf"
[ ! -e "$tmp/x.h5" ] && [ ! -e "$tmp/x.h5.partial" ] && ok || bad "failed export left a file"
expect 2 "export iterations on a CNN" -- "$bin" export --arch vgg16 --input-size 32 --stimuli "$tmp/imgs" -T 1 --out "$tmp/x.h5"
contains "feed-forward"

mkdir -p "$tmp/dangling" && cp "$tmp/imgs/image0001.jpg" "$tmp/dangling/" && ln -s "$tmp/nowhere.png" "$tmp/dangling/zz.png"
expect 1 "dangling image link" -- "$bin" export --arch vgg16 --width 0.125 --input-size 32 --classes 10 --stimuli "$tmp/dangling" --out "$tmp/y.h5"
contains "zz.png' cannot be read"
[ ! -e "$tmp/y.h5" ] && ok || bad "failed export left a file"

# Independent reader: h5py sees the strings, the dimension scale and the values.
py=${NCMP_PYTHON3:-python3}
if "$py" -c "import h5py, numpy" 2>/dev/null; then
  expect 0 "h5py reads the demo file" -- "$py" - "$tmp/demo/activations-cnnf.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["complete"] == 1
    ids = [s.decode() if isinstance(s, bytes) else s for s in f["stimulus_id"][()]]
    assert ids[0] == "image0001" and ids[-1] == "image0640" and len(ids) == 640, ids[:3]
    x = f["activations/block5"][()]
    assert x.shape == (2, 640, 128, 1, 1) and x.dtype == np.float32, x.shape
    assert np.isfinite(x).all() and (x[0] >= 0).all()  # t = 0 is a plain ReLU network
    assert list(f["iteration"][()]) == [0, 1]
    assert f["activations/block5"].dims[1][0].name == "/stimulus_id"
print("ok")
PY
else
  skip "python3 with h5py not found: the h5py cross-check did not run"
fi

cli_summary "cli"
