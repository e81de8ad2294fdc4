#!/usr/bin/env python3
"""References for neurocmp's Brain-Score protocols, written from Brain-Score's code
(brain-score/vision, read at c642dbe4):

`temporal --mode span|per-bin [--map ...]`:

- metric_helpers/temporal.py SpanTimeRegression: the (time_bin, presentation) samples stacked into one
  presentation axis (time outer), sorted by stimulus_id (XarrayRegression.fit), one regression fit on them;
  predict per time bin. PerTimeRegression: one fit per bin.
- metrics/regression_correlation: PLSRegression(n_components=25, scale=False); per bin Pearson r per neuroid
  over the test stimuli (scipy.stats.pearsonr), median over neuroids; mean over splits, error =
  std(ddof=0) / sqrt(n_splits).
- model_helpers/brain_transformation/temporal.py time_align ("portion"): weight of a model step in a target
  bin = overlap / step length; a bin not covered up to its end or from its start gets no weight (an error
  there); the aligned response is the weighted average.

`score --metric rsa`: metrics/rdm/metric.py RDMMetric: RDM = 1 - np.corrcoef over the stimulus rows
(stimulus x stimulus), sorted by stimulus_id, compared by scipy.stats.spearmanr of the upper triangles
(k = 1); here on each split's test stimuli, as neurocmp scores RSA, with the responses of every bin averaged
(then the repetitions), the window covering all bins.

The splits are neurocmp's own (--splits-to JSON: indices into the sorted stimulus ids), so only the
protocol is under test. Prints JSON: {"raw", "error"} per iteration and bin (no map), {"map_raw",
"map_error", "weights"} with a map, or {"rsa_split_values": [[per split] per iteration]} for rsa.

usage: brainscore_reference.py ACTIVATIONS.h5 LAYER NEURAL.nc REGION SPLITS.json span|per-bin|rsa [MAP]
"""
import json
import sys

import h5py
import numpy as np
import xarray as xr
from scipy.stats import pearsonr, spearmanr
from sklearn.cross_decomposition import PLSRegression


def load(acts_path, layer, nc_path, region):
    da = xr.open_dataarray(nc_path)
    da = da.isel(neuroid=np.flatnonzero(np.asarray(da["region"].values).astype(str) == region))
    ids = np.asarray(da["stimulus_id"].values).astype(str)
    stimuli = sorted(set(ids))
    # repetitions averaged per stimulus: [stimulus, neuroid, bin]
    resp = np.stack([np.nanmean(da.values[ids == s], axis=0) for s in stimuli])
    bins = list(zip(da["time_bin_start"].values.astype(float), da["time_bin_end"].values.astype(float)))
    with h5py.File(acts_path, "r") as f:
        file_ids = [s.decode() if isinstance(s, bytes) else s for s in f["stimulus_id"][()]]
        rows = [file_ids.index(s) for s in stimuli]
        a = f["activations/" + layer][()]
        feats = a[:, rows].reshape(a.shape[0], len(rows), -1).astype(np.float64)  # [iteration, stimulus, feature]
        iterations = list(f["iteration"][()])
    return feats, resp, bins, iterations


def time_align_weights(steps, bins):
    """Brain-Score's time_align(source_bins=steps, target_bins=bins, mode='portion'), rows normalised."""
    s0 = np.array([s for s, _ in steps])[None, :]
    s1 = np.array([e for _, e in steps])[None, :]
    t0 = np.array([s for s, _ in bins])[:, None]
    t1 = np.array([e for _, e in bins])[:, None]
    o0, o1 = np.maximum(t0, s0), np.minimum(t1, s1)
    belong = np.maximum(o1 - o0, 0) / (s1 - s0)
    uncovered = (o1.max(1) < t1[:, 0]) | (o0.min(1) > t0[:, 0])
    belong[uncovered] = 0
    assert (belong.sum(1) > 0).all(), "a target bin is not covered"
    return belong / belong.sum(1, keepdims=True)


def parse_map(text, iterations):
    if text.startswith("linear:"):
        start, step = (float(v) for v in text[len("linear:"):].split(":"))
        return [(it, start + k * step, start + (k + 1) * step) for k, it in enumerate(iterations)]
    out = []
    for part in text.split(","):
        it, span = part.split("@")
        a, b = span.split(":")
        out.append((int(it), float(a), float(b)))
    return out


def pls():
    return PLSRegression(n_components=25, scale=False)


def score(X_per_bin, resp, splits, span):
    """X_per_bin[b]: [stimulus, feature] features of bin b. Returns raw, error per bin."""
    B = resp.shape[2]
    per_split = []
    for train, test in zip(splits["train"], splits["test"]):
        train, test = np.array(train), np.array(test)
        medians = []
        if span:
            # SpanTime: stack (time_bin, presentation) with time outer, then sort by stimulus (stable)
            order = np.argsort(np.tile(train, B), kind="stable")
            Xs = np.concatenate([X_per_bin[b][train] for b in range(B)])[order]
            Ys = np.concatenate([resp[train, :, b] for b in range(B)])[order]
            model = pls().fit(Xs, Ys)
        for b in range(B):
            if not span:
                model = pls().fit(X_per_bin[b][train], resp[train, :, b])
            pred = model.predict(X_per_bin[b][test])
            r = [pearsonr(pred[:, k], resp[test, k, b])[0] for k in range(resp.shape[1])]
            medians.append(np.median(r))
        per_split.append(medians)
    per_split = np.array(per_split)  # [split, bin]
    return per_split.mean(0).tolist(), (per_split.std(0) / np.sqrt(len(per_split))).tolist()


def rdm(x):
    """RDMMetric's RDM: 1 - Pearson r between the rows (stimuli)."""
    return 1 - np.corrcoef(x)


def rdm_similarity(a, b):
    """RDMSimilarity: Spearman r of the upper triangles, diagonal excluded."""
    iu = np.triu_indices(a.shape[0], k=1)
    return spearmanr(a[iu], b[iu])[0]


def main(argv):
    acts, layer, nc, region, splits_path, mode = argv[1:7]
    map_text = argv[7] if len(argv) > 7 else None
    feats, resp, bins, iterations = load(acts, layer, nc, region)
    splits = json.load(open(splits_path))
    span = mode == "span"
    out = {}
    if mode == "rsa":
        # the window over every bin: bins averaged per trial were already averaged over repetitions in load();
        # both are plain means here (the simulation has no missing trials), so the order does not matter
        neural = resp.mean(axis=2)
        out["rsa_split_values"] = [[float(rdm_similarity(rdm(feats[t][np.array(test)]), rdm(neural[np.array(test)])))
                                    for test in splits["test"]] for t in range(len(iterations))]
    elif map_text:
        steps = parse_map(map_text, iterations)
        W = time_align_weights([(a, b) for _, a, b in steps], bins)
        idx = [iterations.index(it) for it, _, _ in steps]
        X = [sum(W[b, k] * feats[idx[k]] for k in range(len(steps))) for b in range(len(bins))]
        out["map_raw"], out["map_error"] = score(X, resp, splits, span)
        out["weights"] = W.tolist()
    else:
        out["raw"], out["error"] = [], []
        for t in range(len(iterations)):
            raw, err = score([feats[t]] * len(bins), resp, splits, span)
            out["raw"].append(raw)
            out["error"].append(err)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
