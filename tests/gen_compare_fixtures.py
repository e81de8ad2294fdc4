#!/usr/bin/python3
"""Regenerate tests/fixtures/compare/cases.json: an independent NumPy/SciPy
reference for analysis/compare.h (paired bootstrap, sign-flip permutation
test and sign test between two models' cross-validated predictions).

Written from the definitions in the header comment of analysis/compare.h,
not from the C: Pearson r by the two-pass formula on whole columns,
np.nanmedian / np.nanmean, numpy.random.RandomState draws, np.percentile and
scipy.stats.binomtest.

Run with Debian's python3 (numpy 1.24, scipy):
    /usr/bin/python3 tests/gen_compare_fixtures.py
"""
import json
import os
import warnings

import numpy as np
import scipy
from scipy.stats import binomtest

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "compare")


def pearson_columns(x, y):
    """r per column of x[m, q] against y[m, q]; NaN where either column is constant."""
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    constant = (x.max(axis=0) == x.min(axis=0)) | (y.max(axis=0) == y.min(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=0) / np.sqrt((xc * xc).sum(axis=0) * (yc * yc).sum(axis=0))
    return np.where(constant, np.nan, np.clip(r, -1, 1))


def score(r):
    """r[n_splits, q] -> mean over splits of the median over neuroids, NaN skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        return np.nanmean(np.nanmedian(r, axis=1))


def split_r(offset, observed, predicted, rows_of_split):
    return np.array([pearson_columns(predicted[rows_of_split(s)], observed[rows_of_split(s)])
                     for s in range(len(offset) - 1)])


def reference(offset, observed, pa, pb, n_bootstrap, n_permutations, confidence, seed):
    S = len(offset) - 1
    whole = lambda s: np.arange(offset[s], offset[s + 1])
    ra, rb = split_r(offset, observed, pa, whole), split_r(offset, observed, pb, whole)
    score_a, score_b = score(ra), score(rb)
    difference = score_a - score_b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_a, per_b = np.nanmean(ra, axis=0), np.nanmean(rb, axis=0)
    per_d = per_a - per_b
    defined = ~np.isnan(per_d)
    ties = defined & (np.abs(per_d) <= 1e-15)
    a_better = int(np.sum(defined & ~ties & (per_d > 0)))
    b_better = int(np.sum(defined & ~ties & (per_d < 0)))
    n = a_better + b_better
    p_sign = binomtest(a_better, n, 0.5, alternative="two-sided").pvalue if n else 1.0

    rs = np.random.RandomState(seed)
    boot_a, boot_b = np.empty(n_bootstrap), np.empty(n_bootstrap)
    for rep in range(n_bootstrap):
        draws = [offset[s] + rs.randint(0, offset[s + 1] - offset[s], size=offset[s + 1] - offset[s])
                 for s in range(S)]
        boot_a[rep] = score(split_r(offset, observed, pa, lambda s: draws[s]))
        boot_b[rep] = score(split_r(offset, observed, pb, lambda s: draws[s]))
    boot_d = boot_a - boot_b
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    ci = lambda x: np.percentile(x[~np.isnan(x)], q) if np.any(~np.isnan(x)) else np.array([np.nan, np.nan])

    threshold = abs(difference) - 1e-12 * max(1.0, abs(difference))
    extreme = undefined = 0
    perm_d = np.empty(n_permutations)
    for rep in range(n_permutations):
        flip = np.zeros(len(observed), dtype=bool)
        for s in range(S):
            flip[offset[s]:offset[s + 1]] = rs.randint(0, 2, size=offset[s + 1] - offset[s]) == 1
        qa = np.where(flip[:, None], pb, pa)
        qb = np.where(flip[:, None], pa, pb)
        d = score(split_r(offset, observed, qa, whole)) - score(split_r(offset, observed, qb, whole))
        perm_d[rep] = d
        if np.isnan(d):
            undefined += 1
            extreme += 1
        elif abs(d) >= threshold:
            extreme += 1
    # Distance of the closest permuted |diff*| to the threshold: the C's sums differ from
    # these by rounding only, so a margin far above 1e-12 means the counts must agree.
    margin = float(np.nanmin(np.abs(np.abs(perm_d) - threshold))) if n_permutations else None
    return dict(score_a=score_a, score_b=score_b, difference=difference,
                per_neuroid_a=per_a, per_neuroid_b=per_b, per_neuroid_difference=per_d,
                n_a_better=a_better, n_b_better=b_better, n_ties=int(ties.sum()),
                n_undefined_neuroids=int((~defined).sum()), p_sign=p_sign,
                bootstrap_a=boot_a, bootstrap_b=boot_b, bootstrap_difference=boot_d,
                n_bootstrap_undefined=int(np.isnan(boot_d).sum()),
                ci_a=ci(boot_a), ci_b=ci(boot_b), ci_difference=ci(boot_d),
                n_extreme=extreme, n_permutation_undefined=undefined,
                p_permutation=(1 + extreme) / (1 + n_permutations), permutation_margin=margin)


def plain(x):
    """JSON-ready: arrays to lists, NaN to null (the C reads null as NaN)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [plain(v) for v in np.asarray(x).tolist()] if isinstance(x, np.ndarray) else [plain(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if np.isnan(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def make_case(name, rng, sizes, q, n_stimuli, noise_a, noise_b, options, edit=None):
    signal = rng.standard_normal((n_stimuli, q))
    responses = signal + 0.7 * rng.standard_normal((n_stimuli, q))
    test = np.concatenate([rng.permutation(n_stimuli)[:m] for m in sizes])
    offset = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    observed = responses[test]
    pa = signal[test] + noise_a * rng.standard_normal((len(test), q)) + 0.1
    pb = signal[test] + noise_b * rng.standard_normal((len(test), q)) - 0.2
    if edit:
        edit(offset, observed, pa, pb)
    exp = reference(offset, observed, pa, pb, **options)
    return dict(name=name, n_splits=len(sizes), n_neuroids=q, test_offset=offset, test=test,
                observed=observed.ravel(), predicted_a=pa.ravel(), predicted_b=pb.ravel(),
                options=options, expected=exp)


def constant_columns(offset, observed, pa, pb):
    # Exactly representable constants, so "constant" is unambiguous in any summation order.
    pb[offset[1]:offset[2], 2] = 0.5
    pa[offset[0]:offset[1], 4] = 0.25
    pa[offset[2]:offset[3], 4] = -1.0
    observed[:, 6] = 1.0  # a neuroid with constant responses: NaN everywhere, left out of the sign test


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20240611)
    cases = [
        make_case("basic", rng, [20, 20, 20], 7, 60, 1.0, 1.0,
                  dict(n_bootstrap=200, n_permutations=200, confidence=0.95, seed=3)),
        make_case("constant_columns", rng, [20, 17, 23], 7, 60, 0.8, 1.1,
                  dict(n_bootstrap=150, n_permutations=150, confidence=0.9, seed=0), constant_columns),
        make_case("planted", rng, [25, 25, 25, 25], 9, 100, 0.5, 2.0,
                  dict(n_bootstrap=100, n_permutations=100, confidence=0.99, seed=12345)),
    ]
    # RandomState.randint(0, high, size) streams for ncmp_mt19937_randint; high=1 draws nothing.
    rs = np.random.RandomState(5)
    randint = [dict(high=h, values=rs.randint(0, h, size=k)) for h, k in
               [(7, 20), (2, 33), (1, 3), (100, 5), (2**31 + 5, 4), (20, 40), (2**32, 3)]]
    doc = dict(generator="tests/gen_compare_fixtures.py", numpy=np.__version__, scipy=scipy.__version__,
               randint_seed=5, randint=randint, cases=cases)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(plain(doc), f, allow_nan=False)
        f.write("\n")
    for c in cases:
        e = c["expected"]
        print("%-17s A %.4f B %.4f diff %+.4f CI [%+.4f, %+.4f] p_perm %.4f p_sign %.4f margin %s" % (
            c["name"], e["score_a"], e["score_b"], e["difference"], e["ci_difference"][0],
            e["ci_difference"][1], e["p_permutation"], e["p_sign"], e["permutation_margin"]))


if __name__ == "__main__":
    main()
