#!/usr/bin/env python3
"""Synthetic activations file (docs/formats.md, Activations) for the scoring benchmark (bench/bench_score.sh).

/stimulus_id (n, UTF-8), /iteration = [0 .. T-1], /activations/<layer> [T, n, F] float32, root
attribute complete = 1.  Features are low rank plus noise: X_t = Z_t W + noise, Z [n, 64], W [64, F],
so the recordings simulated from them (neurocmp simulate-neural) are partly predictable; with
--iterations T > 1 the latent Z_t turns from Z_0 towards an independent Z' (angle t * 90 / T
degrees), so each iteration carries different information.  Written in blocks of stimuli, so
memory stays O(64 F) whatever F is.

    gen_score_data.py OUT.h5 --stimuli 3200 --features 25088 --layer block5 [--iterations 1] [--seed 0]
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
ap.add_argument("--iterations", type=int, default=1)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
n, F, r = a.stimuli, a.features, a.rank
Z = rng.standard_normal((n, r), dtype=np.float32)
W = rng.standard_normal((r, F), dtype=np.float32) / np.float32(np.sqrt(r))
Z2 = rng.standard_normal((n, r), dtype=np.float32)
T = a.iterations
rows = max(1, min(n, (64 << 20) // (4 * F)))  # ~64 MB per block
with h5py.File(a.out, "w") as f:
    f.create_dataset("stimulus_id", data=np.array(["stim%05d" % i for i in range(n)], dtype=object),
                     dtype=h5py.string_dtype("utf-8"))
    f.create_dataset("iteration", data=np.arange(T, dtype=np.int32))
    d = f.create_dataset("activations/" + a.layer, shape=(T, n, F), dtype=np.float32,
                         chunks=(1, min(n, max(1, (1 << 20) // (4 * F)) or 1), F))
    for t in range(T):
        angle = np.float32(0.5 * np.pi * t / T)
        Zt = np.cos(angle) * Z + np.sin(angle) * Z2
        for i0 in range(0, n, rows):
            i1 = min(n, i0 + rows)
            block = Zt[i0:i1] @ W
            block += rng.standard_normal(block.shape, dtype=np.float32)
            d[t, i0:i1] = block
    f.attrs["complete"] = np.int64(1)
print("wrote %s: %d stimuli x %d features (%s)" % (a.out, n, F, a.layer))
