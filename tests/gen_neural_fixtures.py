#!/usr/bin/python3
"""Regenerate tests/fixtures/neural/: BrainIO assemblies written by xarray, .npy
files, NumPy MT19937 permutations and scikit-learn ShuffleSplit halves, and
split-half ceilings computed independently with NumPy (docs/scoring.md).

Run with Debian's python3 (numpy 1.24, xarray, netCDF4, scikit-learn 1.2):
    /usr/bin/python3 tests/gen_neural_fixtures.py
"""
import json
import os
import sys
import warnings

import numpy as np
import xarray as xr
from sklearn.model_selection import ShuffleSplit

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "neural")
ROOT = os.path.dirname(HERE)


def brainio_write(da, path):
    """Write as BrainIO does: MultiIndex coordinates reset to plain coordinates."""
    da = da.reset_index([d for d in da.dims if d in da.indexes], drop=False) if any(
        d in da.indexes for d in da.dims) else da
    if os.path.exists(path):
        os.remove(path)
    da.to_netcdf(path)


def make_assembly(rng, n_stim=12, reps=(4, 3, 5), n_neuroids=7, bins=((0, 20), (20, 70), (70, 120), (120, 170), (170, 220))):
    """Responses with a per-stimulus signal, unequal repetition counts and NaN trials."""
    stim_ids = [f"img{idx:03d}" for idx in rng.permutation(n_stim)]  # not sorted in file order
    objects = ["car", "dog", "face"]
    pres_stim, pres_rep, pres_obj = [], [], []
    for s, sid in enumerate(stim_ids):
        for r in range(reps[s % len(reps)]):
            pres_stim.append(sid)
            pres_rep.append(r)
            pres_obj.append(objects[s % 3])
    P, N, T = len(pres_stim), n_neuroids, len(bins)
    signal = rng.normal(size=(n_stim, N, T))
    idx = np.array([stim_ids.index(s) for s in pres_stim])
    data = 2.0 * signal[idx] + rng.normal(size=(P, N, T)) + 5.0
    data[rng.random(size=data.shape) < 0.1] = np.nan
    regions = ["V4", "IT", "V4", "IT", "V4", "IT", "V4"][:N]
    da = xr.DataArray(
        data, dims=["presentation", "neuroid", "time_bin"],
        coords={
            "stimulus_id": ("presentation", pres_stim),
            "object_name": ("presentation", pres_obj),
            "repetition": ("presentation", np.array(pres_rep, dtype=np.int64)),
            "contrast": ("presentation", np.linspace(0.25, 1.0, P)),
            "neuroid_id": ("neuroid", [f"Chabo_L_{k}" for k in range(N)]),
            "region": ("neuroid", regions),
            "animal": ("neuroid", ["Chabo"] * 4 + ["Tito"] * (N - 4)),
            "electrode": ("neuroid", np.arange(N, dtype=np.int64) * 3),
            "time_bin_start": ("time_bin", np.array([b[0] for b in bins], dtype=np.int64)),
            "time_bin_end": ("time_bin", np.array([b[1] for b in bins], dtype=np.int64)),
        }, name="dicarlo.Test2024")
    da = da.set_index(presentation=["stimulus_id", "object_name", "repetition", "contrast"],
                      neuroid=["neuroid_id", "region", "animal", "electrode"],
                      time_bin=["time_bin_start", "time_bin_end"])
    return da


def write_expected(da, path):
    """Canonical (presentation, neuroid, time_bin) content as tab-separated text for the C test."""
    da = da.reset_index([d for d in da.dims if d in da.indexes]) if any(d in da.indexes for d in da.dims) else da
    da = da.transpose(*[d for d in ("presentation", "neuroid", "time_bin") if d in da.dims])
    with open(path, "w") as f:
        f.write("dims\t%d\t%d\t%d\n" % (da.sizes["presentation"], da.sizes["neuroid"], da.sizes.get("time_bin", 0)))
        for name, c in da.coords.items():
            dim = c.dims[0]
            if c.dtype.kind in "OUS":
                f.write("\t".join([dim, name, "s"] + [str(v) for v in c.values]) + "\n")
            else:
                f.write("\t".join([dim, name, "i" if c.dtype.kind in "iu" else "f"] + ["%.17g" % v for v in c.values]) + "\n")
        f.write("data\t" + "\t".join("nan" if np.isnan(v) else "%.17g" % v for v in da.values.ravel()) + "\n")


def ceiling_numpy(data, stim, rep, splits):
    """data: (P, N) one time bin; stim: (P,) ids; rep: (P,) repetition values;
    splits: list of (train, test) index arrays into the sorted unique repetitions.
    Returns per-split medians (NumPy; independent of the C implementation)."""
    ureps = np.unique(rep)
    ustim = np.unique(stim)
    sidx = np.searchsorted(ustim, stim)
    medians = []
    for train, test in splits:
        halves = []
        for h in (train, test):
            mask = np.isin(rep, ureps[h])
            sums = np.zeros((len(ustim), data.shape[1]))
            cnts = np.zeros((len(ustim), data.shape[1]))
            x = data[mask]
            ok = ~np.isnan(x)
            np.add.at(sums, sidx[mask], np.where(ok, x, 0))
            np.add.at(cnts, sidx[mask], ok)
            with np.errstate(invalid="ignore", divide="ignore"):
                halves.append(sums / cnts)
        a, b = halves
        rs = []
        for n in range(data.shape[1]):
            ok = np.isfinite(a[:, n]) & np.isfinite(b[:, n])
            if ok.sum() < 2 or np.std(a[ok, n]) == 0 or np.std(b[ok, n]) == 0:
                rs.append(np.nan)
                continue
            r = np.corrcoef(a[ok, n], b[ok, n])[0, 1]
            rs.append(2 * r / (1 + r))
        medians.append(np.nanmedian(rs) if np.any(np.isfinite(rs)) else np.nan)
    return np.array(medians)


def sklearn_halves(n_reps, seed=1, n_splits=10):
    ss = ShuffleSplit(n_splits=n_splits, train_size=0.5, random_state=seed)
    return list(ss.split(np.zeros(n_reps)))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20241123)

    # -- NumPy MT19937 permutations and scikit-learn ShuffleSplit halves ------------
    with open(os.path.join(OUT, "mt19937.txt"), "w") as f:
        f.write("# kind seed n values...  (numpy %s, scikit-learn ShuffleSplit)\n" % np.__version__)
        for seed in (0, 1, 42, 4294967295):
            rs = np.random.RandomState(seed)
            f.write("u32\t%d\t3\t%s\n" % (seed, "\t".join(str(v) for v in rs.randint(0, 2**32, size=3, dtype=np.uint64))))
            rs = np.random.RandomState(seed)
            f.write("uniform\t%d\t5\t%s\n" % (seed, "\t".join("%.17g" % v for v in rs.random_sample(5))))
            for n in (1, 2, 3, 5, 10, 17, 100, 1000):
                rs = np.random.RandomState(seed)
                f.write("perm\t%d\t%d\t%s\n" % (seed, n, "\t".join(str(v) for v in rs.permutation(n))))
        for n in (2, 3, 4, 5, 7, 10, 20, 33):
            for k, (tr, te) in enumerate(sklearn_halves(n)):
                f.write("split\t%d\t%d\t%s\t|\t%s\n" % (n, k, "\t".join(map(str, tr)), "\t".join(map(str, te))))

    # -- BrainIO assemblies written by xarray ------------------------------------------
    da = make_assembly(rng)
    brainio_write(da, os.path.join(OUT, "assembly_bins.nc"))
    write_expected(da, os.path.join(OUT, "assembly_bins.expected.txt"))
    # Same content, older image_id name, data variable stored as (time_bin, neuroid, presentation), float32.
    old = da.reset_index(["presentation", "neuroid", "time_bin"]).rename(stimulus_id="image_id")
    old = old.transpose("time_bin", "neuroid", "presentation").astype(np.float32)
    old.name = None
    brainio_write(old, os.path.join(OUT, "assembly_old.nc"))
    write_expected(old, os.path.join(OUT, "assembly_old.expected.txt"))

    # Ceilings of the fixture: per bin, and over 70-170 ms (bins 2 and 3), per region.
    flat = da.reset_index(["presentation", "neuroid", "time_bin"])
    stim = flat.stimulus_id.values.astype(str)
    rep = flat.repetition.values
    vals = flat.values
    n_reps = len(np.unique(rep))
    halves = sklearn_halves(n_reps)
    expect = {"halves": [[list(map(int, tr)), list(map(int, te))] for tr, te in halves]}
    for region in ("all", "V4", "IT"):
        sel = np.ones(vals.shape[1], bool) if region == "all" else flat.region.values.astype(str) == region
        per_bin = []
        for t in range(vals.shape[2]):
            med = ceiling_numpy(vals[:, sel, t], stim, rep, halves)
            per_bin.append([float(np.nanmean(med)), float(np.std(med) / np.sqrt(len(med)))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            window = np.nanmean(vals[:, sel][:, :, 2:4], axis=2)  # bins inside 70-170 ms
        med = ceiling_numpy(window, stim, rep, halves)
        expect[region] = {"per_bin": per_bin,
                          "window": [float(np.mean(med)), float(np.std(med) / np.sqrt(len(med)))],
                          "window_split_medians": [float(m) for m in med]}
    with open(os.path.join(OUT, "ceiling_expected.json"), "w") as f:
        json.dump(expect, f, indent=1)
    with open(os.path.join(OUT, "ceiling_expected.txt"), "w") as f:  # the same, for the C test
        for region in ("all", "V4", "IT"):
            for t, (c, e) in enumerate(expect[region]["per_bin"]):
                f.write("%s\tbin\t%d\t%.17g\t%.17g\n" % (region, t, c, e))
            f.write("%s\twindow\t-1\t%.17g\t%.17g\n" % (region, *expect[region]["window"]))

    # -- Bad inputs ------------------------------------------------------------------------
    flat_one = flat.isel(time_bin=slice(2, 3))
    bad = flat_one.rename(presentation="stimulus", neuroid="cell")
    brainio_write(bad, os.path.join(OUT, "bad_dims.nc"))
    brainio_write(flat.drop_vars("stimulus_id"), os.path.join(OUT, "bad_no_stimulus_id.nc"))
    dup = flat.assign_coords(neuroid_id=("neuroid", ["n0", "n1", "n2", "n1", "n4", "n5", "n6"]))
    brainio_write(dup, os.path.join(OUT, "bad_duplicate_neuroid.nc"))
    alln = flat.copy()
    alln.values[:, 4, :] = np.nan
    brainio_write(alln, os.path.join(OUT, "bad_all_nan_neuroid.nc"))
    avg = flat.drop_vars(["repetition", "contrast"])
    avg = avg.isel(presentation=np.unique(stim, return_index=True)[1])
    brainio_write(avg, os.path.join(OUT, "averaged_no_repetition.nc"))
    one = flat.isel(presentation=np.where(rep == 0)[0])
    brainio_write(one, os.path.join(OUT, "one_repetition.nc"))
    ds = xr.Dataset({"a": flat, "b": flat * 2})
    if os.path.exists(os.path.join(OUT, "bad_two_variables.nc")):
        os.remove(os.path.join(OUT, "bad_two_variables.nc"))
    ds.to_netcdf(os.path.join(OUT, "bad_two_variables.nc"))

    # -- NumPy arrays ----------------------------------------------------------------------
    arr = rng.normal(size=(3, 4, 5)) + 10
    arr[0, 1, 4] = np.nan
    arr[:, 2, 3:] = np.nan  # stimulus 2 only shown 3 times: repeats 3, 4 dropped
    np.save(os.path.join(OUT, "small_f8_v1.npy"), arr)
    with open(os.path.join(OUT, "small_f4be_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, arr.astype(">f4"), version=(2, 0))
    with open(os.path.join(OUT, "small_f8_v3.npy"), "wb") as f:
        np.lib.format.write_array(f, arr, version=(3, 0))
    np.save(os.path.join(OUT, "bad_fortran.npy"), np.asfortranarray(arr))
    # spike counts: integers of every width and both byte orders read as their values; complex is refused
    counts = (np.arange(60).reshape(3, 4, 5) * 37 % 23 - 5)
    np.save(os.path.join(OUT, "counts_i4.npy"), counts.astype("<i4"))
    np.save(os.path.join(OUT, "counts_i2be.npy"), counts.astype(">i2"))
    np.save(os.path.join(OUT, "counts_u1.npy"), (counts + 5).astype(np.uint8))
    np.save(os.path.join(OUT, "counts_i8.npy"), counts.astype("<i8"))
    np.save(os.path.join(OUT, "bad_complex.npy"), np.zeros((2, 3, 4), dtype=np.complex64))
    with open(os.path.join(OUT, "small_f8_v1.npy"), "rb") as f:
        blob = f.read()
    with open(os.path.join(OUT, "bad_truncated.npy"), "wb") as f:
        f.write(blob[:len(blob) - 40])
    with open(os.path.join(OUT, "small_ids.txt"), "w") as f:
        f.write("a\nb\nc\nd\n")
    with open(os.path.join(OUT, "small_ids.csv"), "w") as f:
        f.write('filename,stimulus_id,note\nx.png,a,"one, two"\ny.png,b,x\nz.png,c,x\nw.png,d,"say ""hi"""\n')
    np.savetxt(os.path.join(OUT, "small_f8.expected.txt"), arr.reshape(-1), fmt="%.17g")

    # -- A small activations file (docs/formats.md, Activations) for the simulator: iterations independent of each other ---
    import h5py
    with h5py.File(os.path.join(OUT, "activations_small.h5"), "w") as f:
        n_stim = 150
        f.create_dataset("stimulus_id", data=np.array(["stim%03d" % i for i in range(n_stim)], dtype=object),
                         dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("iteration", data=np.arange(3, dtype=np.int32))
        f.create_dataset("activations/block1", data=rng.normal(size=(3, n_stim, 4, 3, 3)).astype(np.float32), compression="gzip")
        f.create_dataset("activations/block2", data=np.maximum(rng.normal(size=(3, n_stim, 16)), 0).astype(np.float32), compression="gzip")
        f.attrs["complete"] = np.int64(1)

    # -- Bundled V4 data (Cowley et al. 2023): ceiling with the same halves, and with others -
    v4 = np.load(os.path.join(ROOT, "datasets", "cowley2023-v4-210325", "responses_raw_210325.npy"))
    N, S, R = v4.shape
    pres = [(s, r) for s in range(S) for r in range(R) if np.any(np.isfinite(v4[:, s, r]))]
    data = np.stack([v4[:, s, r] for s, r in pres])
    stim = np.array(["image%04d" % (s + 1) for s, _ in pres])
    rep = np.array([r for _, r in pres])
    n_reps = len(np.unique(rep))
    same = ceiling_numpy(data, stim, rep, sklearn_halves(n_reps))
    other = ceiling_numpy(data, stim, rep, sklearn_halves(n_reps, seed=2024))
    v4x = {"n_neuroids": N, "n_stimuli": int(len(np.unique(stim))), "n_repetitions": n_reps,
           "n_presentations": len(pres),
           "ceiling_same_halves": float(same.mean()), "error_same_halves": float(same.std() / np.sqrt(len(same))),
           "split_medians_same_halves": [float(m) for m in same],
           "ceiling_other_halves_seed2024": float(other.mean())}
    with open(os.path.join(OUT, "v4_ceiling_expected.json"), "w") as f:
        json.dump(v4x, f, indent=1)
    with open(os.path.join(OUT, "v4_ceiling_expected.txt"), "w") as f:
        f.write("%d %d %d %d %.17g %.17g %.17g\n" % (N, v4x["n_stimuli"], n_reps, len(pres), same.mean(),
                                                  v4x["error_same_halves"], other.mean()))
    print("V4 ceiling (NumPy, sklearn halves seed 1): %.6f; seed 2024: %.6f" % (same.mean(), other.mean()))


if __name__ == "__main__":
    sys.exit(main())
