#!/usr/bin/python3
"""Convert PyTorch weights to a neurocmp weights file (docs/formats.md, Weights).

usage: torch_to_h5.py IN.pt|IN.pth OUT.h5 [--arch NAME] [--prefix-strip P] [--force]

IN may hold
  - a state_dict (a dict of tensor name -> tensor), as torch.save(model.state_dict())
  - a checkpoint dict holding one under 'state_dict', 'model' or
    'model_state_dict' (other entries such as 'epoch' or 'optimizer' are ignored)
  - a whole pickled nn.Module (torch.save(model)), also wrapped in
    nn.DataParallel.

OUT gets one float32 dataset per floating-point tensor, named by its key and
with PyTorch's shape, and the root attributes
  arch            --arch, or guessed from the keys: torchvision VGG-16 keys ->
                  "vgg16", CNN-F reference keys (conv1.conv.weight, ...) ->
                  "cnnf-fmnist", otherwise "unknown"
  source_file, source_sha256, source_format, torch_version, converter,
  converted_at, skipped (the keys left out, if any).

float16, bfloat16 and float64 tensors are converted to float32 (rounding to
nearest).  Non-floating tensors (BatchNorm's num_batches_tracked, integer
buffers) are skipped with a note.  A 'module.' prefix common to every key
(nn.DataParallel) is removed automatically; --prefix-strip removes another.
The output is written to a temporary file next to OUT and renamed into place,
so OUT is either the complete old or the complete new file.

The file is first read with torch.load(weights_only=True), which cannot run
code.  A file that needs full unpickling (a pickled nn.Module, a checkpoint
holding other objects) is then loaded with weights_only=False, with a note:
convert only files you trust.

Check the result with, e.g.:  neurocmp arch vgg16 --weights OUT.h5

Exit status: 0 success, 1 error (message on stderr), 2 usage error.
Needs python3-torch and python3-h5py (Debian/Ubuntu: apt install python3-torch
python3-h5py).
"""

import argparse
import datetime
import hashlib
import os
import sys
import tempfile

CONVERTER = "scripts/torch_to_h5.py"
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")
DP_PREFIX = "module."

VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
VGG16_KEYS = frozenset([f"features.{i}.{p}" for i in VGG16_CONV_INDICES for p in ("weight", "bias")]
                       + [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")])
CNNF_FMNIST_KEYS = frozenset([f"conv{i}.conv.weight" for i in range(1, 5)]
                             + [f"ins{i}_bias.bias" for i in range(1, 5)]
                             + [f"fc{i}.linear.weight" for i in range(1, 4)]
                             + [f"fc{i}_bias.bias" for i in range(1, 4)])
# tied copies / aliases that the reference state_dict also holds (docs/formats.md, Weights)
CNNF_FMNIST_ALIASES = frozenset([f"conv{i}.conv_t.weight" for i in range(1, 5)]
                                + [f"fc{i}.linear_t.weight" for i in range(1, 4)]
                                + [f"fc{i}.weight" for i in range(1, 4)])


class ConvertError(Exception):
    pass


def note(msg):
    print(f"torch_to_h5: {msg}", file=sys.stderr)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_header(path):
    """Reject, before importing torch, files that cannot be PyTorch files."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ConvertError(f"cannot read input '{path}': {e.strerror or e}")
    if not head:
        raise ConvertError(f"'{path}' is empty, not a PyTorch file")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        raise ConvertError(f"'{path}' is an HDF5 file, not a PyTorch file (already converted?)")


def load_torch_file(torch, path):
    """torch.load, safely where possible.  Returns (object, needed_full_unpickling)."""
    first = None
    try:
        return torch.load(path, map_location="cpu", weights_only=True), False
    except TypeError:            # a torch without weights_only (< 1.13)
        pass
    except Exception as safe_error:  # noqa: BLE001 - anything torch/pickle raises
        first = safe_error
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConvertError(f"'{path}' is not a PyTorch file torch.load can read ({type(e).__name__}: {why})")
    if first is not None:
        why = str(first)
        why = why[why.find("WeightsUnpickler error:"):] if "WeightsUnpickler error:" in why else type(first).__name__
        note(f"'{os.path.basename(path)}' holds more than tensors and plain containers (a pickled nn.Module, or "
             f"other Python objects; torch.load(weights_only=True) says: {why.strip().splitlines()[0]}), so it was "
             "loaded with full unpickling (weights_only=False); convert only files you trust")
    return obj, first is not None


def find_state_dict(torch, obj):
    """Return (state_dict, description of where it was found)."""
    nn = torch.nn

    def is_state_dict(d):
        return isinstance(d, dict) and d and any(torch.is_tensor(v) for v in d.values())

    if isinstance(obj, nn.Module):
        return obj.state_dict(), f"nn.Module ({type(obj).__name__})"
    if isinstance(obj, dict):
        # a checkpoint first: it may hold tensors of its own (e.g. 'best_acc1')
        for k in CHECKPOINT_KEYS:
            if k in obj:
                v = obj[k]
                if isinstance(v, nn.Module):
                    return v.state_dict(), f"checkpoint['{k}'] (nn.Module {type(v).__name__})"
                if is_state_dict(v):
                    return v, f"checkpoint['{k}']"
        if is_state_dict(obj):
            return obj, "state_dict"
        keys = ", ".join(repr(k) for k in list(obj)[:8]) + (", ..." if len(obj) > 8 else "")
        raise ConvertError("found no tensors: the file holds a dict " + (f"with keys {keys}" if obj else "that is empty")
                           + ", neither a state_dict nor a checkpoint with one under "
                           + ", ".join(f"'{k}'" for k in CHECKPOINT_KEYS))
    if torch.is_tensor(obj):
        raise ConvertError("found no state_dict: the file holds a single tensor (no parameter names)")
    raise ConvertError(f"found no tensors: the file holds a {type(obj).__name__}, not a state_dict, "
                       "checkpoint dict or nn.Module")


def strip_prefix(sd, prefix, required):
    if not prefix:
        return sd
    keys = list(sd)
    if required:
        hit = [k for k in keys if k.startswith(prefix)]
        if not hit:
            raise ConvertError(f"--prefix-strip '{prefix}': no key starts with it (first key: '{keys[0]}')")
    out = {}
    for k, v in sd.items():
        nk = k[len(prefix):] if k.startswith(prefix) else k
        if not nk:
            raise ConvertError(f"stripping '{prefix}' leaves an empty name for key '{k}'")
        if nk in out:
            raise ConvertError(f"stripping '{prefix}' makes two keys '{nk}'")
        out[nk] = v
    return out


def guess_arch(keys):
    ks = set(keys)
    if ks == VGG16_KEYS:
        return "vgg16"
    if CNNF_FMNIST_KEYS <= ks and ks <= CNNF_FMNIST_KEYS | CNNF_FMNIST_ALIASES:
        return "cnnf-fmnist"
    return "unknown"


def select_tensors(torch, sd):
    """{key: float32 numpy array} of the floating-point tensors, and the skipped keys."""
    out, skipped, converted = {}, [], {}
    for k, v in sd.items():
        k = str(k)
        if not torch.is_tensor(v):
            skipped.append(k)
            note(f"skipping '{k}': a {type(v).__name__}, not a tensor")
            continue
        if v.is_quantized or v.is_complex() or not v.is_floating_point():
            skipped.append(k)
            note(f"skipping '{k}': {str(v.dtype).replace('torch.', '')} tensor (not floating point)")
            continue
        if "/" in k:
            raise ConvertError(f"key '{k}' contains '/', which cannot name an HDF5 dataset")
        if v.layout != torch.strided:
            v = v.to_dense()
        if v.dtype != torch.float32:
            converted.setdefault(str(v.dtype).replace("torch.", ""), []).append(k)
        t = v.detach().to(device="cpu", dtype=torch.float32).contiguous()
        if not bool(torch.isfinite(t).all()):
            note(f"warning: '{k}' holds NaN or Inf (after conversion to float32); neurocmp will refuse it")
        out[k] = t.numpy()
    for dt, ks in converted.items():
        note(f"converted {len(ks)} {dt} tensor{'s' if len(ks) > 1 else ''} to float32 (e.g. '{ks[0]}')")
    return out, skipped


def write_h5(h5py, path, tensors, attrs, force, compress):
    out_dir = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConvertError(f"output '{path}' is a directory")
    if os.path.lexists(path) and not force:
        raise ConvertError(f"output '{path}' exists; use --force to overwrite it")
    if not os.path.isdir(out_dir):
        raise ConvertError(f"cannot write '{path}': directory '{out_dir}' does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix="." + os.path.basename(path) + ".", suffix=".partial")
        os.close(fd)
    except OSError as e:
        raise ConvertError(f"cannot write '{path}': {e.strerror or e}")
    try:
        kw = dict(compression="gzip", compression_opts=4, shuffle=True) if compress else {}
        with h5py.File(tmp, "w") as f:
            for k, a in tensors.items():
                f.create_dataset(k, data=a, dtype="<f4", **(kw if a.size else {}))
            for k, v in attrs.items():
                f.attrs[k] = v
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if not force and os.path.lexists(path):
            raise ConvertError(f"output '{path}' appeared while converting; use --force to overwrite it")
        os.replace(tmp, path)
    except OSError as e:
        _unlink_quietly(tmp)
        raise ConvertError(f"cannot write '{path}': {e.strerror or e}")
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def _unlink_quietly(p):
    try:
        os.unlink(p)
    except OSError:
        pass


def convert(args):
    src = args.input
    if not os.path.exists(src):
        raise ConvertError(f"input '{src}' does not exist")
    if os.path.isdir(src):
        raise ConvertError(f"input '{src}' is a directory, not a PyTorch file")
    if not os.access(src, os.R_OK):
        raise ConvertError(f"cannot read input '{src}': permission denied")
    # fail early (before a possibly long load) on an output we cannot write
    if os.path.isdir(args.output):
        raise ConvertError(f"output '{args.output}' is a directory")
    if os.path.lexists(args.output) and not args.force:
        raise ConvertError(f"output '{args.output}' exists; use --force to overwrite it")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise ConvertError(f"cannot write '{args.output}': directory '{out_dir}' does not exist")
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ConvertError(f"cannot write '{args.output}': directory '{out_dir}' is not writable")
    check_header(src)
    try:
        import h5py
        import torch
    except ImportError as e:
        raise ConvertError(f"needs python3-torch and python3-h5py ({e}); on Debian/Ubuntu: "
                           "apt install python3-torch python3-h5py, and run it with that python "
                           "(/usr/bin/python3)")

    obj, _ = load_torch_file(torch, src)
    sd, where = find_state_dict(torch, obj)
    sd = dict(sd)
    keys = [str(k) for k in sd]
    stripped = []
    while keys and all(k.startswith(DP_PREFIX) for k in keys):
        sd = strip_prefix(sd, DP_PREFIX, False)
        keys = list(sd)
        stripped.append(DP_PREFIX)
    for p in args.prefix_strip or []:
        if p in stripped:
            continue
        sd = strip_prefix(sd, p, True)
        stripped.append(p)
    tensors, skipped = select_tensors(torch, sd)
    if not tensors:
        raise ConvertError(f"found no floating-point tensors in '{src}' ({where}"
                           + (f"; skipped {len(skipped)} other entries" if skipped else "; it is empty") + ")")
    arch = args.arch or guess_arch(tensors)
    attrs = {
        "arch": arch,
        "source_file": os.path.basename(src),
        "source_sha256": sha256_of(src),
        "source_format": where,
        "torch_version": str(torch.__version__),
        "converter": CONVERTER,
        "converted_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if stripped:
        attrs["prefix_stripped"] = ",".join(stripped)
    if skipped:
        attrs["skipped"] = ",".join(skipped)
    if isinstance(obj, dict) and isinstance(obj.get("arch"), str) and where.startswith("checkpoint"):
        attrs["checkpoint_arch"] = obj["arch"]
    write_h5(h5py, args.output, tensors, attrs, args.force, args.compress)

    n_params = sum(a.size for a in tensors.values())
    if not args.quiet:
        print(f"{args.output}: {len(tensors)} tensors, {n_params} parameters, arch '{arch}'"
              + ("" if args.arch else " (guessed)") + f", from {where}"
              + (f", '{stripped[0]}' prefix stripped" if stripped else "")
              + (f", {len(skipped)} skipped" if skipped else ""))
        hint = usage_hint(arch, tensors)
        if hint:
            print(f"check it with: neurocmp arch {hint} --weights {args.output}")
    return 0


def usage_hint(arch, tensors):
    """neurocmp arch options that fit these tensors, where they can be read off the shapes."""
    try:
        if arch in ("vgg16", "vgg16-cnnf"):
            w = tensors["features.0.weight"].shape[0] / 64
            classes = tensors["classifier.6.weight"].shape[0]
            opts = f"{arch}" + (f" --width {w:g}" if w != 1 else "") + (f" --classes {classes}" if classes != 1000 else "")
            return opts
        if arch == "cnnf-fmnist":
            w = tensors["conv1.conv.weight"].shape[0] / 16
            classes = tensors["fc3.linear.weight"].shape[0]
            return arch + (f" --width {w:g}" if w != 1 else "") + (f" --classes {classes}" if classes != 10 else "")
    except KeyError:
        return None
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="torch_to_h5.py",
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n", 4)[4],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", metavar="IN.pt", help="PyTorch file (.pt, .pth, .pth.tar, ...)")
    ap.add_argument("output", metavar="OUT.h5", help="neurocmp weights file to write")
    ap.add_argument("--arch", metavar="NAME", help="value of the 'arch' attribute (default: guessed from the keys)")
    ap.add_argument("--prefix-strip", metavar="PREFIX", action="append",
                    help="remove PREFIX from the keys that start with it (repeatable; a 'module.' prefix "
                         "common to all keys is always removed)")
    ap.add_argument("--force", action="store_true", help="overwrite OUT.h5 if it exists")
    ap.add_argument("--compress", action="store_true", help="gzip-compress the datasets (smaller, slower)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    if args.arch is not None and not args.arch.strip():
        ap.error("--arch needs a non-empty name")
    try:
        return convert(args)
    except ConvertError as e:
        print(f"torch_to_h5: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("torch_to_h5: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
