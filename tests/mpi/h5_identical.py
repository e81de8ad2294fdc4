#!/usr/bin/env python3
"""Are two HDF5 files bit-identical in content? (tests/mpi/test_export.sh)

usage: h5_identical.py A.h5 B.h5 [--ignore-attr NAME ...]

Compares, through every link of both files: the same names; the same kind of
object; for datasets the dtype, shape, chunk shape, filters and every value
bit for bit (a NaN anywhere is a mismatch: it would hide an unwritten or
garbled value); for every object its attributes by name, values bit for bit,
object references (dimension scales) compared by the path they point to.
Attributes named with --ignore-attr (provenance that legitimately differs,
e.g. created_utc) are skipped wherever they occur, present or not.
Prints each difference; exit 0 when identical, 1 otherwise.
"""
import argparse
import sys

import h5py
import numpy as np


def norm(f, value):
    """An attribute value as something == can compare: references become paths, numbers stay bitwise, a NaN
    never equals anything."""
    if isinstance(value, h5py.Reference):
        return ("ref", f[value].name if value else None)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O" or value.dtype.names:
            return ("list", value.shape, [norm(f, v) for v in value.ravel().tolist()])
        return ("nan", object()) if has_nan(value) else ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return ("list", [norm(f, v) for v in value])
    if isinstance(value, np.void):
        return ("record", [norm(f, v) for v in value.tolist()])
    if isinstance(value, (bytes, str, int)):
        return value
    if isinstance(value, (float, np.floating)):
        v = np.asarray(value)
        return ("nan", object()) if has_nan(v) else ("scalar", v.dtype.str, v.tobytes())
    return repr(value)


def has_nan(a):
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def compare_attrs(fa, fb, oa, ob, path, ignore, out):
    names = (set(oa.attrs) | set(ob.attrs)) - ignore
    for name in sorted(names):
        if name not in oa.attrs or name not in ob.attrs:
            out.append(f"{path}@{name}: only in {'first' if name in oa.attrs else 'second'}")
            continue
        va, vb = norm(fa, oa.attrs[name]), norm(fb, ob.attrs[name])
        if va != vb:
            out.append(f"{path}@{name}: {str(oa.attrs[name])[:80]!r} != {str(ob.attrs[name])[:80]!r}")


def compare_datasets(a, b, path, out):
    for what in ("dtype", "shape", "chunks", "compression", "compression_opts", "shuffle"):
        if getattr(a, what) != getattr(b, what):
            out.append(f"{path}: {what} {getattr(a, what)} != {getattr(b, what)}")
            return
    if a.dtype.kind == "O" or h5py.check_string_dtype(a.dtype):
        if a.asstr()[()].tolist() != b.asstr()[()].tolist():
            out.append(f"{path}: strings differ")
        return
    # Chunk by chunk along the first axes: bounded memory for large activations.
    step = a.shape[0] if len(a.shape) < 2 else 1
    rows = a.shape[0] if a.shape else 1
    nan = mismatched = 0
    for i in range(0, rows, max(step, 1)):
        va = a[()] if not a.shape else a[i : i + step]
        vb = b[()] if not b.shape else b[i : i + step]
        va, vb = np.asarray(va), np.asarray(vb)
        nan += int(np.isnan(va).sum() + np.isnan(vb).sum()) if va.dtype.kind in "fc" else 0
        if va.tobytes() != vb.tobytes():
            mismatched += int((va.view(np.uint8).reshape(va.shape + (-1,)) != vb.view(np.uint8).reshape(vb.shape + (-1,))).any(axis=-1).sum())
    if nan:
        out.append(f"{path}: {nan} NaN values")
    if mismatched:
        out.append(f"{path}: {mismatched} of {a.size} values differ in their bits")


def walk(fa, fb, ga, gb, path, ignore, out):
    compare_attrs(fa, fb, ga, gb, path, ignore, out)
    names = set(ga) | set(gb)
    for name in sorted(names):
        p = f"{path.rstrip('/')}/{name}"
        if name not in ga or name not in gb:
            out.append(f"{p}: only in {'first' if name in ga else 'second'}")
            continue
        a, b = ga[name], gb[name]
        if type(a) is not type(b):
            out.append(f"{p}: {type(a).__name__} != {type(b).__name__}")
        elif isinstance(a, h5py.Group):
            walk(fa, fb, a, b, p, ignore, out)
        else:
            compare_datasets(a, b, p, out)
            compare_attrs(fa, fb, a, b, p, ignore, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--ignore-attr", action="append", default=[])
    args = ap.parse_args()
    out = []
    with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
        walk(fa, fb, fa, fb, "/", set(args.ignore_attr), out)
    for line in out[:40]:
        print(f"{args.a} vs {args.b}: {line}")
    if len(out) > 40:
        print(f"... and {len(out) - 40} more differences")
    if not out:
        print(f"{args.a} and {args.b} are identical (ignoring {', '.join(sorted(args.ignore_attr)) or 'nothing'})")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
