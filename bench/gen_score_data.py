#!/usr/bin/env python3
"""Synthetic activations file (SPEC §5) for the scoring benchmark (bench/bench_score.sh).

/stimulus_id (n, UTF-8), /iteration = [0], /activations/<layer> [1, n, F] float32, root attribute
complete = 1.  Features are low rank plus noise: X = Z W + noise, Z [n, 64], W [64, F], so the
recordings simulated from them (neurocmp simulate-neural) are partly predictable.  Written in
blocks of stimuli, so memory stays O(64 F) whatever F is.

    gen_score_data.py OUT.h5 --stimuli 3200 --features 25088 --layer block5 [--seed 0]
"""
import argparse

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--stimuli", type=int, default=3200)
ap.add_argument("--features", type=int, default=25088)
ap.add_argument("--layer", default="block5")
ap.add_argument("--rank", type=int, default=64)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
n, F, r = a.stimuli, a.features, a.rank
Z = rng.standard_normal((n, r), dtype=np.float32)
W = rng.standard_normal((r, F), dtype=np.float32) / np.float32(np.sqrt(r))
rows = max(1, min(n, (64 << 20) // (4 * F)))  # ~64 MB per block
with h5py.File(a.out, "w") as f:
    f.create_dataset("stimulus_id", data=np.array(["stim%05d" % i for i in range(n)], dtype=object),
                     dtype=h5py.string_dtype("utf-8"))
    f.create_dataset("iteration", data=np.array([0], dtype=np.int32))
    d = f.create_dataset("activations/" + a.layer, shape=(1, n, F), dtype=np.float32,
                         chunks=(1, min(n, max(1, (1 << 20) // (4 * F)) or 1), F))
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        block = Z[i0:i1] @ W
        block += rng.standard_normal(block.shape, dtype=np.float32)
        d[0, i0:i1] = block
    f.attrs["complete"] = np.int64(1)
print("wrote %s: %d stimuli x %d features (%s)" % (a.out, n, F, a.layer))
