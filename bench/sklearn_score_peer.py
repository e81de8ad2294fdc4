#!/usr/bin/env python3
"""scikit-learn peer of `neurocmp score --metric pls` (bench/bench_score.sh).

Reads the same activations file and BrainIO netCDF (with h5py: netCDF-4 is HDF5), averages the
repetitions per stimulus (the simulated data has one time bin, inside 70:170), sorts the stimuli by
stimulus_id, takes the splits neurocmp used (--splits-to JSON) and runs PLSRegression(25,
scale=False) fit/predict, Pearson r per neuroid and the median over neuroids for the first
--n-splits splits only (each takes minutes), timing every split.  With --details (neurocmp's
--details HDF5) the split medians are compared with neurocmp's.

    sklearn_score_peer.py ACTS.h5 LAYER NEURAL.nc SPLITS.json [--n-splits 1] [--details D.h5]
"""
import argparse
import json
import resource
import time

import h5py
import numpy as np
import sklearn
from sklearn.cross_decomposition import PLSRegression

ap = argparse.ArgumentParser()
ap.add_argument("acts")
ap.add_argument("layer")
ap.add_argument("neural")
ap.add_argument("splits")
ap.add_argument("--n-splits", type=int, default=1)
ap.add_argument("--details")
a = ap.parse_args()

t0 = time.perf_counter()
with h5py.File(a.neural, "r") as f:
    var = [k for k in f if f[k].ndim == 3][0]
    data = f[var][()][:, :, 0]
    pres = [s.decode() if isinstance(s, bytes) else s for s in f["stimulus_id"][()]]
ids = sorted(set(pres))
pos = {s: i for i, s in enumerate(ids)}
idx = np.array([pos[s] for s in pres])
Y = np.zeros((len(ids), data.shape[1]))
cnt = np.zeros((len(ids), data.shape[1]))
ok = ~np.isnan(data)
np.add.at(Y, idx, np.where(ok, data, 0))
np.add.at(cnt, idx, ok)
Y /= cnt
with h5py.File(a.acts, "r") as f:
    act_ids = [s.decode() if isinstance(s, bytes) else s for s in f["stimulus_id"][()]]
    apos = {s: i for i, s in enumerate(act_ids)}
    rows = np.array([apos[s] for s in ids])
    X = f["activations/" + a.layer][0].reshape(len(act_ids), -1)[rows].astype(np.float64)
sp = json.load(open(a.splits))
assert sp["sample_ids"] == ids
load = time.perf_counter() - t0
print("sklearn %s, numpy %s; X %d x %d float64 (%.2f GB), Y %d neuroids; load %.1f s"
      % (sklearn.__version__, np.__version__, X.shape[0], X.shape[1], X.nbytes / 1e9, Y.shape[1], load), flush=True)

medians, times = [], []
for s in range(a.n_splits):
    train, test = np.array(sp["train"][s]), np.array(sp["test"][s])
    t = time.perf_counter()
    pred = PLSRegression(n_components=25, scale=False).fit(X[train], Y[train]).predict(X[test])
    times.append(time.perf_counter() - t)
    Yt = Y[test]
    pc, yc = pred - pred.mean(0), Yt - Yt.mean(0)
    r = (pc * yc).sum(0) / np.sqrt((pc ** 2).sum(0) * (yc ** 2).sum(0))
    medians.append(float(np.nanmedian(r)))
    print("split %d: %.1f s, median r %.6f" % (s, times[-1], medians[-1]), flush=True)
per = float(np.mean(times))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("sklearn per split %.1f s; 10 splits EXTRAPOLATED %.1f s; peak RSS %.0f MB" % (per, 10 * per, rss))
if a.details:
    with h5py.File(a.details, "r") as f:
        ref = f["iteration_0/split_median"][()][: a.n_splits]
    print("split medians: largest |sklearn - neurocmp| = %.2e" % np.max(np.abs(np.array(medians) - ref)))
print("RESULT sklearn_per_split_s=%.3f sklearn_10_extrapolated_s=%.3f sklearn_peak_rss_mb=%.0f"
      % (per, 10 * per, rss))
