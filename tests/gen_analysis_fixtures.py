#!/usr/bin/python3
"""Regenerate tests/fixtures/analysis/: scikit-learn 1.2 split indices, PLSRegression
predictions, and an end-to-end predictivity case (activations HDF5 + BrainIO netCDF +
the expected scores of the docs/scoring.md protocol computed with scikit-learn and SciPy).

Run with Debian's python3 (numpy 1.24, scikit-learn 1.2, scipy, h5py, xarray):
    /usr/bin/python3 tests/gen_analysis_fixtures.py
"""
import json
import os
import warnings

import h5py
import numpy as np
import sklearn
import xarray as xr
from scipy.stats import pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "analysis")


def write_splits(f, kind, seed, n_splits, train_size, n, labels):
    if kind == "stratified":
        splitter = StratifiedShuffleSplit(n_splits=n_splits, train_size=train_size, random_state=seed)
        it = splitter.split(np.zeros(n), np.array(labels))
    else:
        splitter = ShuffleSplit(n_splits=n_splits, train_size=train_size, random_state=seed)
        it = splitter.split(np.zeros(n))
    f.write("S\t%s\t%d\t%d\t%r\t%d\t%s\n" % (kind, seed, n_splits, train_size, n, " ".join(labels) if labels else "-"))
    for train, test in it:
        f.write("T\t%s\t%s\n" % (" ".join(map(str, train)), " ".join(map(str, test))))


def splits_fixture(rng):
    with open(os.path.join(OUT, "splits.txt"), "w") as f:
        f.write("# sklearn %s numpy %s: S kind seed n_splits train_size n labels; then T train test per split\n"
                % (sklearn.__version__, np.__version__))
        # Balanced objects (MajajHong-like: 64 objects x 50 images would be 3200; smaller here).
        balanced = ["obj%02d" % (i % 8) for i in range(80)]
        for seed in (1, 0, 42, 12345):
            write_splits(f, "stratified", seed, 10, 0.9, len(balanced), balanced)
        # Unbalanced classes: remainders tie, so _approximate_mode draws from the stream.
        counts = [2, 3, 5, 7, 13, 4, 4, 4, 9, 2]
        unbalanced = [lab for c, k in zip(["car", "Car", "apple", "b10", "b2", "dog", "face", "zebra", "éclair", "_x"],
                                           counts) for lab in [c] * k]
        order = rng.permutation(len(unbalanced))
        unbalanced = [unbalanced[i] for i in order]
        for seed in (1, 7, 2024):
            write_splits(f, "stratified", seed, 10, 0.8, len(unbalanced), unbalanced)
            write_splits(f, "stratified", seed, 5, 0.5, len(unbalanced), unbalanced)
        three = ["a", "b", "c"] * 11
        write_splits(f, "stratified", 1, 10, 0.7, len(three), three)
        big = ["o%02d" % (i // 50) for i in rng.permutation(1600)]
        write_splits(f, "stratified", 1, 10, 0.9, len(big), big)
        for n in (10, 17, 100, 1000):
            write_splits(f, "shuffle", 1, 10, 0.9, n, None)
        write_splits(f, "shuffle", 99, 3, 0.5, 21, None)


def pls_case(name, Xtr, Ytr, Xte, n_components=25, cases=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pls = PLSRegression(n_components=n_components, scale=False).fit(Xtr, Ytr)
        pred = pls.predict(Xte)
    pred = pred.reshape(len(Xte), -1)
    np.save(os.path.join(OUT, "pls_%s_Xtrain.npy" % name), Xtr)
    np.save(os.path.join(OUT, "pls_%s_Ytrain.npy" % name), Ytr.reshape(len(Ytr), -1))
    np.save(os.path.join(OUT, "pls_%s_Xtest.npy" % name), Xte)
    np.save(os.path.join(OUT, "pls_%s_pred.npy" % name), pred)
    cases.append({"name": name, "n_components": n_components, "n_components_fitted": len(pls.n_iter_)})


def pls_fixture(rng):
    cases = []
    # Random: more stimuli than features.
    X = rng.normal(size=(80, 40))
    Y = X @ rng.normal(size=(40, 5)) + rng.normal(size=(80, 5))
    pls_case("random", X[:60], Y[:60], X[60:], cases=cases)
    # More features than stimuli (the usual case for CNN layers).
    X = rng.normal(size=(50, 300))
    Y = X[:, :20] @ rng.normal(size=(20, 6)) + 0.5 * rng.normal(size=(50, 6))
    pls_case("wide", X[:40], Y[:40], X[40:], cases=cases)
    # Constant and all-zero feature columns, and a ReLU-like non-negative layer.
    X = np.maximum(rng.normal(size=(60, 50)), 0)
    X[:, 5:15] = 3.0
    X[:, 20] = 0.0
    Y = X[:, 30:] @ rng.normal(size=(20, 4)) + rng.normal(size=(60, 4))
    pls_case("constant_columns", X[:50], Y[:50], X[50:], cases=cases)
    # Fewer than 25 informative features: Y depends on 3 of 60.
    X = rng.normal(size=(70, 60))
    Y = X[:, :3] @ rng.normal(size=(3, 3)) + 0.1 * rng.normal(size=(70, 3))
    pls_case("few_informative", X[:55], Y[:55], X[55:], cases=cases)
    # Structured: low rank (8) plus small noise, correlated features.
    Z = rng.normal(size=(60, 8))
    X = Z @ rng.normal(size=(8, 45)) + 1e-2 * rng.normal(size=(60, 45))
    Y = Z @ rng.normal(size=(8, 7)) + 0.3 * rng.normal(size=(60, 7))
    pls_case("low_rank", X[:48], Y[:48], X[48:], cases=cases)
    # One target (the power method stops after one iteration), one constant target among others.
    X = rng.normal(size=(45, 30))
    pls_case("one_target", X[:35], (X[:35, :4].sum(axis=1) + rng.normal(size=35)), X[35:], cases=cases)
    Y = X @ rng.normal(size=(30, 3))
    Y[:, 1] = 2.5
    pls_case("constant_target", X[:35], Y[:35], X[35:], n_components=10, cases=cases)
    # Every target constant: no component can be fitted, predictions are the mean.
    pls_case("all_constant_targets", X[:35], np.full((35, 2), 1.5), X[35:], n_components=5, cases=cases)
    with open(os.path.join(OUT, "pls_cases.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f, indent=1)


def brainio_write(da, path):
    da = da.reset_index([d for d in da.dims if d in da.indexes], drop=False) if any(
        d in da.indexes for d in da.dims) else da
    if os.path.exists(path):
        os.remove(path)
    da.to_netcdf(path)


def protocol(X, Y, labels, n_components=25):
    """docs/scoring.md with scikit-learn and SciPy (what Brain-Score computes)."""
    medians = []
    splitter = StratifiedShuffleSplit(n_splits=10, train_size=0.9, random_state=1)
    for train, test in splitter.split(np.zeros(len(X)), labels):
        pred = PLSRegression(n_components=n_components, scale=False).fit(X[train], Y[train]).predict(X[test])
        r = [pearsonr(pred[:, j], Y[test, j])[0] for j in range(Y.shape[1])]
        medians.append(np.median(r))
    medians = np.array(medians)
    return float(medians.mean()), float(medians.std() / np.sqrt(len(medians))), [float(m) for m in medians]


def end_to_end_fixture(rng):
    n_obj, per_obj, n_reps = 12, 10, 3
    n_stim = n_obj * per_obj
    ids = ["img%04d" % i for i in range(n_stim)]
    objects = ["object%02d" % (i % n_obj) for i in range(n_stim)]
    extra = ["zz_extra%d" % i for i in range(5)]  # in the activations only
    act_ids = ids + extra
    perm = rng.permutation(len(act_ids))  # activations in another order than sorted
    act_ids = [act_ids[i] for i in perm]
    T, shape = 3, (8, 3, 3)
    feats = rng.normal(size=(T, len(act_ids)) + shape).astype(np.float32)
    # Neural responses driven by iteration 1 of layer "conv".
    pos = {s: k for k, s in enumerate(act_ids)}
    F1 = feats[1, [pos[s] for s in ids]].reshape(n_stim, -1).astype(np.float64)
    n_v4, n_it = 12, 4
    weights = rng.normal(size=(F1.shape[1], n_v4 + n_it)) / np.sqrt(F1.shape[1])
    signal = F1 @ weights
    bins = [(0, 70), (70, 120), (120, 170), (170, 250)]
    pres_stim, pres_rep, pres_obj = [], [], []
    order = rng.permutation(n_stim)  # file order unsorted
    for s in order:
        for r in range(n_reps):
            pres_stim.append(ids[s])
            pres_rep.append(r)
            pres_obj.append(objects[s])
    P = len(pres_stim)
    idx = np.array([ids.index(s) for s in pres_stim])
    data = np.empty((P, n_v4 + n_it, len(bins)))
    for b in range(len(bins)):
        gain = 0.2 if b in (0, 3) else 1.0
        data[:, :, b] = gain * signal[idx] + 0.7 * rng.normal(size=(P, n_v4 + n_it)) + 2.0
    data[rng.random(size=data.shape) < 0.03] = np.nan
    regions = ["V4"] * n_v4 + ["IT"] * n_it
    da = xr.DataArray(data, dims=["presentation", "neuroid", "time_bin"], coords={
        "stimulus_id": ("presentation", pres_stim),
        "object_name": ("presentation", pres_obj),
        "repetition": ("presentation", np.array(pres_rep, dtype=np.int64)),
        "neuroid_id": ("neuroid", ["n%03d" % k for k in range(n_v4 + n_it)]),
        "region": ("neuroid", regions),
        "time_bin_start": ("time_bin", np.array([b[0] for b in bins], dtype=np.int64)),
        "time_bin_end": ("time_bin", np.array([b[1] for b in bins], dtype=np.int64)),
    }, name="synthetic.Score2026")
    brainio_write(da, os.path.join(OUT, "e2e_neural.nc"))

    def write_acts(path, values, complete=1):
        with h5py.File(path, "w") as f:
            f.create_dataset("stimulus_id", data=np.array(act_ids, dtype=object), dtype=h5py.string_dtype("utf-8"))
            f.create_dataset("iteration", data=np.arange(T, dtype=np.int32))
            f.create_dataset("activations/conv", data=values, compression="gzip", chunks=(1, 1) + shape)
            f.create_dataset("activations/fc", data=values.reshape(T, len(act_ids), -1)[:, :, :30].copy(),
                             compression="gzip")
            f.attrs["complete"] = np.int64(complete)

    # (The tests derive NaN-feature and incomplete variants from copies of this file.)
    write_acts(os.path.join(OUT, "e2e_activations.h5"), feats)

    # Expected: region V4, bins inside 70..170 ms averaged (NaN-aware), repetitions averaged, sorted ids.
    sel = data[:, :n_v4, 1:3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        win = np.nanmean(sel, axis=2)
        Y = np.stack([np.nanmean(win[np.array(pres_stim) == s], axis=0) for s in ids])
    labels = np.array(objects)
    expected = {"layer": "conv", "region": "V4", "n_stimuli": n_stim, "n_neuroids": n_v4, "iterations": []}
    for t in range(T):
        X = feats[t, [pos[s] for s in ids]].reshape(n_stim, -1).astype(np.float64)
        raw, err, med = protocol(X, Y, labels)
        expected["iterations"].append({"iteration": t, "raw": raw, "error": err, "split_medians": med})
    Xfc = feats[1, [pos[s] for s in ids]].reshape(n_stim, -1)[:, :30].astype(np.float64)
    raw, err, med = protocol(Xfc, Y, labels)
    expected["fc_iteration1"] = {"raw": raw, "error": err, "split_medians": med}
    with open(os.path.join(OUT, "e2e_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20261123)
    splits_fixture(rng)
    pls_fixture(rng)
    end_to_end_fixture(rng)
    linear_fixture()



# ---- Ridge (RidgeCV, efficient LOO per target), OLS (LinearRegression), RSA and CKA ----
# Run alone with: /usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests"); import gen_analysis_fixtures as g; g.linear_fixture()'
RIDGE_ALPHAS = np.logspace(-3, 3, 7)


def linear_case(name, kind, Xtr, Ytr, Xte, cases):
    from sklearn.linear_model import LinearRegression, RidgeCV
    if kind == "ridge":
        model = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True, fit_intercept=True).fit(Xtr, Ytr)
        alphas = [float(a) for a in np.atleast_1d(model.alpha_)]
    else:
        model = LinearRegression(fit_intercept=True).fit(Xtr, Ytr)
        alphas = []
    pred = model.predict(Xte).reshape(len(Xte), -1)
    if kind == "ols" and Xtr.shape[1] >= Xtr.shape[0]:
        # p >= n: the centred X has rank n - 1 at most, but scipy's lstsq (rcond = eps) keeps the
        # round-off singular value of the null direction (~1e-15 relative), so LinearRegression's
        # predictions depend on rounding noise.  neurocmp returns the minimum-norm solution with
        # that direction dropped: np.linalg.pinv of the centred X.
        xm, ymean = Xtr.mean(axis=0), Ytr.mean(axis=0)
        minnorm = ((Xte - xm) @ np.linalg.pinv(Xtr - xm) @ (Ytr - ymean) + ymean).reshape(len(Xte), -1)
        cases.append({"name": name, "kind": kind, "alphas": [], "sklearn_vs_minnorm":
                      float(np.abs(pred - minnorm).max() / np.abs(minnorm).max())})
        pred = minnorm
    else:
        cases.append({"name": name, "kind": kind, "alphas": alphas})
    for part, arr in (("Xtrain", Xtr), ("Ytrain", Ytr.reshape(len(Ytr), -1)), ("Xtest", Xte), ("pred", pred)):
        np.save(os.path.join(OUT, "lin_%s_%s.npy" % (name, part)), arr)


def e2e_inputs():
    """X per iteration of layer conv and Y (V4, 70..170 ms, repetitions averaged, sorted ids) of the e2e files."""
    da = xr.open_dataarray(os.path.join(OUT, "e2e_neural.nc"))
    stim = np.array(da["stimulus_id"].values).astype(str)
    obj = np.array(da["object_name"].values).astype(str)
    reg = np.array(da["region"].values).astype(str)
    b0, b1 = da["time_bin_start"].values, da["time_bin_end"].values
    data = da.values[:, reg == "V4"][:, :, (b0 >= 70) & (b1 <= 170)]
    ids = sorted(set(stim))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        win = np.nanmean(data, axis=2)
        Y = np.stack([np.nanmean(win[stim == s], axis=0) for s in ids])
    labels = np.array([obj[stim == s][0] for s in ids])
    with h5py.File(os.path.join(OUT, "e2e_activations.h5"), "r") as f:
        act_ids = [s.decode() if isinstance(s, bytes) else s for s in f["stimulus_id"][()]]
        pos = {s: k for k, s in enumerate(act_ids)}
        rows = [pos[s] for s in ids]
        conv = f["activations/conv"][()]
    X = [conv[t, rows].reshape(len(ids), -1).astype(np.float64) for t in range(conv.shape[0])]
    return X, Y, labels


def linear_protocol(X, Y, labels, metric):
    from scipy.stats import spearmanr
    from sklearn.linear_model import LinearRegression, RidgeCV
    values = []
    splitter = StratifiedShuffleSplit(n_splits=10, train_size=0.9, random_state=1)
    for train, test in splitter.split(np.zeros(len(X)), labels):
        if metric in ("ridge", "ols"):
            model = (RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True) if metric == "ridge"
                     else LinearRegression())
            pred = model.fit(X[train], Y[train]).predict(X[test])
            values.append(np.median([pearsonr(pred[:, j], Y[test, j])[0] for j in range(Y.shape[1])]))
        elif metric == "rsa":
            iu = np.triu_indices(len(test), k=1)
            rdm_x = 1 - np.corrcoef(X[test])
            rdm_y = 1 - np.corrcoef(Y[test])
            values.append(spearmanr(rdm_x[iu], rdm_y[iu]).correlation)
        else:  # linear CKA (Kornblith et al. 2019) of the column-centred test features and responses
            Xc = X[test] - X[test].mean(axis=0)
            Yc = Y[test] - Y[test].mean(axis=0)
            values.append(np.linalg.norm(Yc.T @ Xc) ** 2
                          / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)))
    values = np.array(values)
    return {"raw": float(values.mean()), "error": float(values.std() / np.sqrt(len(values))),
            "splits": [float(v) for v in values]}


def linear_fixture():
    rng = np.random.RandomState(7007)
    cases = []
    # Targets with very different noise levels, so the chosen alphas differ per target.
    noise = np.array([0.05, 0.3, 1.0, 3.0, 10.0, 30.0])
    X = rng.normal(size=(95, 30)) + 5.0
    Y = X @ rng.normal(size=(30, 6)) * 0.3 + rng.normal(size=(95, 6)) * noise + 2.0
    linear_case("ridge_tall", "ridge", X[:80], Y[:80], X[80:], cases)
    X = rng.normal(size=(52, 150))
    Y = X[:, :10] @ rng.normal(size=(10, 6)) + rng.normal(size=(52, 6)) * noise
    linear_case("ridge_wide", "ridge", X[:40], Y[:40], X[40:], cases)
    X = rng.normal(size=(85, 25))
    Y = X @ rng.normal(size=(25, 4)) + rng.normal(size=(85, 4)) - 1.0
    linear_case("ols_tall", "ols", X[:70], Y[:70], X[70:], cases)
    X = rng.normal(size=(42, 80))
    Y = X[:, :5] @ rng.normal(size=(5, 3)) + 0.5 * rng.normal(size=(42, 3))
    linear_case("ols_wide", "ols", X[:30], Y[:30], X[30:], cases)
    Xs, Y, labels = e2e_inputs()
    e2e = {metric: [linear_protocol(X, Y, labels, metric) for X in Xs] for metric in ("ridge", "ols", "rsa", "cka")}
    with open(os.path.join(OUT, "linear_cases.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "alphas": list(RIDGE_ALPHAS),
                   "cases": cases, "e2e_conv": e2e}, f, indent=1)


if __name__ == "__main__":
    main()
