#!/usr/bin/env python3
"""Compare every number of two result files (JSON, CSV/TSV or HDF5) written by neurocmp.

    numbers_close.py [--tol 1e-10] A B

Numbers must agree within tol * max(1, |a|, |b|): absolute for scores and
correlations (|x| <= 1), relative for larger values (predictions, ceilings
in other units).  A NaN on either side is a mismatch.  Everything else
(strings, nulls, keys, shapes) must be equal, except what differs from run
to run by design: the "provenance" object of JSON files, "seconds" (a
cell's wall time) and HDF5 attributes (provenance, creation time).
Prints how many numbers were compared and the largest normalised
difference; exit status 1 on any mismatch (the first ones are listed).
"""
import csv
import json
import math
import sys

SKIP_KEYS = {"provenance", "seconds"}


class Comparison:
    def __init__(self, tol):
        self.tol = tol
        self.count = 0
        self.worst = 0.0
        self.worst_at = ""
        self.mismatches = []

    def fail(self, where, what):
        self.mismatches.append("%s: %s" % (where, what))

    def number(self, where, a, b):
        self.count += 1
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            self.fail(where, "NaN (%r vs %r)" % (a, b))
            return
        if math.isinf(a) or math.isinf(b):
            if a != b:
                self.fail(where, "%r vs %r" % (a, b))
            return
        d = abs(a - b) / max(1.0, abs(a), abs(b))
        if d > self.worst:
            self.worst, self.worst_at = d, where
        if d > self.tol:
            self.fail(where, "%.17g vs %.17g (normalised difference %.3g)" % (a, b, d))

    def value(self, where, a, b):
        if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str):
            if a != b:
                self.fail(where, "%r vs %r" % (a, b))
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
            self.number(where, a, b)
        elif isinstance(a, dict) and isinstance(b, dict):
            if sorted(a) != sorted(b):
                self.fail(where, "keys %s vs %s" % (sorted(a), sorted(b)))
                return
            for k in a:
                if k not in SKIP_KEYS:
                    self.value("%s/%s" % (where, k), a[k], b[k])
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self.fail(where, "lengths %d vs %d" % (len(a), len(b)))
                return
            for i, (x, y) in enumerate(zip(a, b)):
                self.value("%s[%d]" % (where, i), x, y)
        else:
            self.fail(where, "%r vs %r" % (a, b))


def as_number(text):
    try:
        return float(text)
    except ValueError:
        return None


def compare_table(c, path_a, path_b, sep):
    with open(path_a, newline="") as fa, open(path_b, newline="") as fb:
        ra, rb = list(csv.reader(fa, delimiter=sep)), list(csv.reader(fb, delimiter=sep))
    if len(ra) != len(rb) or not ra or ra[0] != rb[0]:
        c.fail("table", "%d vs %d rows or different headers" % (len(ra), len(rb)))
        return
    header = ra[0]
    for i, (x, y) in enumerate(zip(ra[1:], rb[1:]), start=2):
        if len(x) != len(y):
            c.fail("line %d" % i, "%d vs %d fields" % (len(x), len(y)))
            continue
        for name, u, v in zip(header, x, y):
            if name in SKIP_KEYS:
                continue
            where = "line %d, %s" % (i, name)
            nu, nv = as_number(u), as_number(v)
            if nu is not None and nv is not None:
                c.number(where, nu, nv)
            elif u != v:
                c.fail(where, "%r vs %r" % (u, v))


def compare_h5(c, path_a, path_b):
    import h5py
    import numpy as np

    with h5py.File(path_a, "r") as fa, h5py.File(path_b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if sorted(names_a) != sorted(names_b):
            c.fail("/", "objects differ: %s" % sorted(set(names_a) ^ set(names_b)))
            return
        for name in sorted(names_a):
            da, db = fa[name], fb[name]
            if not isinstance(da, h5py.Dataset):
                continue
            a, b = da[()], db[()]
            if np.shape(a) != np.shape(b):
                c.fail(name, "shapes %s vs %s" % (np.shape(a), np.shape(b)))
            elif np.issubdtype(np.asarray(a).dtype, np.number):
                fa_, fb_ = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
                c.count += fa_.size
                bad = np.isnan(fa_) | np.isnan(fb_)
                d = np.abs(fa_ - fb_) / np.maximum(1.0, np.maximum(np.abs(fa_), np.abs(fb_)))
                d[bad] = np.inf
                if d.size and d.max() > c.worst:
                    c.worst, c.worst_at = float(d.max()), name
                for k in np.flatnonzero(d > c.tol)[:5]:
                    c.fail("%s[%d]" % (name, k), "%.17g vs %.17g" % (fa_[k], fb_[k]))
            elif not np.array_equal(a, b):
                c.fail(name, "values differ")


def main(argv):
    tol = 1e-10
    if len(argv) >= 2 and argv[0] == "--tol":
        tol = float(argv[1])
        argv = argv[2:]
    if len(argv) != 2:
        sys.exit(__doc__)
    a, b = argv
    c = Comparison(tol)
    if a.endswith(".json"):
        c.value("", json.load(open(a)), json.load(open(b)))
    elif a.endswith(".csv") or a.endswith(".tsv"):
        compare_table(c, a, b, "\t" if a.endswith(".tsv") else ",")
    elif a.endswith(".h5"):
        compare_h5(c, a, b)
    else:
        sys.exit("numbers_close.py: unknown file type: %s" % a)
    if c.count == 0:
        c.fail("", "no numbers compared")
    print("%s: %d numbers, largest normalised difference %.3g%s" % (b, c.count, c.worst,
                                                                      " at " + c.worst_at if c.worst_at else ""))
    for m in c.mismatches[:10]:
        print("  MISMATCH " + m)
    if len(c.mismatches) > 10:
        print("  ... %d mismatches in all" % len(c.mismatches))
    return 1 if c.mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
