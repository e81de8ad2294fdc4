#!/usr/bin/env bash
# Rebuilds the seed inputs of tests/fuzz/corpus/<harness>/seed-* from the
# project's own files, Pillow/NumPy and the neurocmp command line.  Findings
# (crash-*, named after what they found) are committed next to them and
# never regenerated.  Usage: tests/fuzz/make_seeds.sh BUILD_DIR/neurocmp
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ncmp=$(realpath "${1:?usage: make_seeds.sh PATH/TO/neurocmp}")
py=${NCMP_PYTHON3:-/usr/bin/python3}
corpus=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for h in spec npy idx csv json netcdf activations weights details image zip; do
  mkdir -p "$corpus/$h"
  rm -f "$corpus/$h"/seed-*
done

# spec: the shipped architectures
for f in "$root"/model/archs/*.spec; do cp "$f" "$corpus/spec/seed-$(basename "$f" .spec)"; done

# npy, idx, csv, json, image, zip: small files written by NumPy and Pillow
"$py" - "$corpus" "$work" <<'PY'
import io, json, os, struct, sys, zipfile
import numpy as np
from PIL import Image
corpus, work = sys.argv[1], sys.argv[2]
def put(h, name, data):
    with open(os.path.join(corpus, h, 'seed-' + name), 'wb') as f:
        f.write(data)
def npy(a, **kw):
    b = io.BytesIO(); np.lib.format.write_array(b, a, **kw); return b.getvalue()
rng = np.random.default_rng(0)
put('npy', 'f8-2d', npy(rng.standard_normal((3, 4))))
put('npy', 'f4-3d', npy(rng.standard_normal((2, 3, 2)).astype('<f4')))
put('npy', 'f8-v2', npy(rng.standard_normal((2, 2)), version=(2, 0)))
put('npy', 'f4-be', npy(rng.standard_normal((2, 3)).astype('>f4')))
# IDX: [2-byte labels length][labels][images]
imgs = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
images = struct.pack('>IIII', 0x803, 3, 4, 4) + imgs.tobytes()
labels = struct.pack('>II', 0x801, 3) + bytes([1, 7, 2])
put('idx', 'images-only', b'\0\0' + images)
put('idx', 'with-labels', struct.pack('<H', len(labels)) + labels + images)
# CSV stimulus sets naming the harness's a.png and b.jpg
put('csv', 'two', b'stimulus_id,filename,object_name\ns1,a.png,car\ns2,b.jpg,"face, big"\n')
put('csv', 'image-file-name', b'image_id,filename\nx,a.png\n')
put('csv', 'ids-only', b'stimulus_id\nn1\nn2\n')
# JSON: splits for 12 stimuli s0..s11 and other values
ids = ['s%d' % i for i in range(12)]
sp = {'n_samples': 12, 'n_splits': 2, 'description': 'seed', 'seed': 1, 'sample_ids': ids,
      'train': [list(range(0, 9)), list(range(3, 12))], 'test': [[9, 10, 11], [0, 1, 2]]}
put('json', 'splits', json.dumps(sp).encode())
put('json', 'splits-min', b'{"train": [[0,1,2,3]], "test": [[4,5]]}')
put('json', 'values', '{"a": [1, -2.5e-3, true, false, null], "b": {"c": "\\u00e9\\n\\"x"}}'.encode())
# images of every kind the decoder handles
def png(img, **kw):
    b = io.BytesIO(); img.save(b, 'PNG', **kw); return b.getvalue()
def jpg(img, **kw):
    b = io.BytesIO(); img.save(b, 'JPEG', **kw); return b.getvalue()
rgb = Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8), 'RGB')
put('image', 'rgb.png', png(rgb))
put('image', 'grey.png', png(rgb.convert('L')))
put('image', 'palette.png', png(rgb.convert('P')))
put('image', 'rgba.png', png(rgb.convert('RGBA')))
put('image', 'grey-alpha.png', png(rgb.convert('LA')))
put('image', 'grey1bit.png', png(rgb.convert('1')))
put('image', 'grey16.png', png(Image.fromarray(rng.integers(0, 65535, (4, 3), dtype=np.uint16))))
put('image', 'rgb.jpg', jpg(rgb))
put('image', 'grey.jpg', jpg(rgb.convert('L')))
put('image', 'progressive.jpg', jpg(rgb, progressive=True))
put('image', 'cmyk.jpg', jpg(rgb.convert('CMYK')))
z = io.BytesIO()
with zipfile.ZipFile(z, 'w') as f:
    f.writestr('im1.png', png(rgb))
    f.writestr('dir/im2.jpg', jpg(rgb.convert('L')))
    f.writestr('notes.txt', b'not an image')
put('zip', 'two-images', z.getvalue())
z = io.BytesIO()
with zipfile.ZipFile(z, 'w', compression=zipfile.ZIP_DEFLATED) as f:
    f.writestr('a.png', png(rgb.convert('L')))
put('zip', 'deflated', z.getvalue())
# a tiny Fashion-MNIST-like training set for the weights seed
tr = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
open(os.path.join(work, 'train-images-idx3-ubyte'), 'wb').write(struct.pack('>IIII', 0x803, 20, 28, 28) + tr.tobytes())
open(os.path.join(work, 'train-labels-idx1-ubyte'), 'wb').write(struct.pack('>II', 0x801, 20) + bytes(i % 10 for i in range(20)))
for i in range(20):
    Image.fromarray(tr[i]).save(os.path.join(work, 'stim%d.png' % i))
PY

# netcdf: the BrainIO fixtures
for f in assembly_bins assembly_old averaged_no_repetition one_repetition; do
  cp "$root/tests/fixtures/neural/$f.nc" "$corpus/netcdf/seed-$f"
done

# weights, activations, details: written by neurocmp for cnnf-fmnist at width 1/16
"$ncmp" train -q --arch cnnf-fmnist --width 0.0625 --images "$work/train-images-idx3-ubyte" \
  --labels "$work/train-labels-idx1-ubyte" --batch 4 --max-steps 1 --out "$work/w.h5" >/dev/null
cp "$work/w.h5" "$corpus/weights/seed-checkpoint"
mkdir -p "$work/stim" && mv "$work"/stim*.png "$work/stim/"
"$ncmp" export -q --weights "$work/w.h5" --stimuli "$work/stim" -T 1 --layers block1,logits \
  --reduce avgpool --out "$work/acts.h5"
cp "$work/acts.h5" "$corpus/activations/seed-export"
"$ncmp" export -q --weights "$work/w.h5" --stimuli "$work/stim" -T 0 --layers fc2 --compress 4 \
  --out "$work/acts2.h5"
cp "$work/acts2.h5" "$corpus/activations/seed-export-fc2"
# details: `score --details` on recordings simulated from those activations
"$ncmp" simulate-neural -q --activations "$work/acts.h5" --bins block1@0 --neuroids 3 --repetitions 2 --objects 2 --units 8 \
  --out "$work/sim.nc" >/dev/null
"$ncmp" score -q --activations "$work/acts.h5" --layer block1 --iteration 0 --neural "$work/sim.nc" --components 2 \
  --details "$work/details.h5" --out "$work/score.json" >/dev/null
cp "$work/details.h5" "$corpus/details/seed-score"
echo "seeds written to $corpus"
