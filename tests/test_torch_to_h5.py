#!/usr/bin/python3
"""Test of scripts/torch_to_h5.py: PyTorch files of every supported form are
converted, the result is loaded by the C library (tests/weights_roundtrip.c:
ncmp_net_load_weights, then ncmp_net_save_weights of what it holds) and every
tensor is compared bit for bit with the PyTorch tensors; then the error paths.

usage: test_torch_to_h5.py CONVERTER ROUNDTRIP_HELPER NEUROCMP_CLI FIXTURES_DIR
Exit 0 pass, 1 fail, 77 skip (this python lacks torch, torchvision or h5py).
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn as nn
    import torchvision  # noqa: F401 (the test builds torchvision models)
except ImportError as e:
    print(f"SKIP: {sys.executable} lacks a module this test needs ({e})")
    sys.exit(77)

CONVERTER, HELPER, CLI, FIXTURES = sys.argv[1:5]
PY = sys.executable
failures = []
checks = 0


def check(cond, what, detail=""):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}" + (f"\n    {detail}" if detail else ""), file=sys.stderr)


def run(*args):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def convert(*args):
    return run(PY, CONVERTER, *args)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(bits(a), bits(b))


def small_vgg16(width=0.125, classes=10, seed=0):
    """torchvision's VGG-16 class and layer builder at a reduced width (so the
    keys are torchvision's own), classifier sized as neurocmp's vgg16 spec:
    C*49 -> 4096*width -> 4096*width -> classes.  Every parameter random,
    biases included (torchvision initialises them to 0)."""
    from torchvision.models.vgg import VGG, cfgs, make_layers
    cfg = [v if v == "M" else max(1, int(v * width + 0.5)) for v in cfgs["D"]]
    m = VGG(make_layers(cfg), num_classes=classes)
    c, hid = cfg[-2], max(1, int(4096 * width + 0.5))
    m.classifier = nn.Sequential(nn.Linear(c * 49, hid), nn.ReLU(True), nn.Dropout(),
                                 nn.Linear(hid, hid), nn.ReLU(True), nn.Dropout(), nn.Linear(hid, classes))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
        # values that must survive exactly: signed zero, subnormal, extremes
        w = m.features[0].weight.view(-1)
        w[0], w[1], w[2], w[3] = -0.0, 1e-40, 3.4e38, -1.17549435e-38
    return m.eval()


def roundtrip(h5, arch, width, size, classes):
    """Load h5 with the C library; return {key: array} of what it holds."""
    out = h5 + ".c.h5"
    rc, text = run(HELPER, arch, str(width), str(size), str(classes), h5, out)
    check(rc == 0, f"C library loads {os.path.basename(h5)} as {arch}", text)
    if rc:
        return {}
    with h5py.File(out, "r") as f:
        got = {k: f[k][()] for k in f}
    os.unlink(out)
    return got


def compare_file(h5, want, arch_attr, what, source=None):
    """Every tensor of the converted file equals want[key].float() exactly
    (PyTorch shape, float32), and the attributes are there."""
    with h5py.File(h5, "r") as f:
        check(set(f.keys()) == set(want), f"{what}: keys", f"{sorted(set(f.keys()) ^ set(want))}")
        for k, t in want.items():
            if k not in f:
                continue
            d = f[k]
            ok = d.dtype == np.float32 and d.shape == tuple(t.shape) and same_bits(d[()], t.float().numpy())
            check(ok, f"{what}: tensor {k} exact", f"{d.dtype} {d.shape} vs {tuple(t.shape)}")
        a = f.attrs
        check(a.get("arch") == arch_attr, f"{what}: arch attribute", f"{a.get('arch')!r} != {arch_attr!r}")
        check(a.get("converter") == "scripts/torch_to_h5.py", f"{what}: converter attribute")
        check(a.get("torch_version") == str(torch.__version__), f"{what}: torch_version attribute")
        if source:
            with open(source, "rb") as s:
                sha = hashlib.sha256(s.read()).hexdigest()
            check(a.get("source_file") == os.path.basename(source), f"{what}: source_file attribute")
            check(a.get("source_sha256") == sha, f"{what}: source_sha256 attribute")


def compare_c(h5, want, arch, width, size, classes, what, ignore=()):
    got = roundtrip(h5, arch, width, size, classes)
    if not got:
        return
    used = {k: t for k, t in want.items() if k not in ignore}
    check(set(got) == set(used), f"{what}: C holds every tensor", f"{sorted(set(got) ^ set(used))}")
    n = 0
    for k, t in used.items():
        if k in got:
            # the C library keeps biases flat ([C]); values must be bit-identical
            ok = got[k].size == t.numel() and same_bits(got[k].reshape(-1), t.float().reshape(-1).numpy())
            check(ok, f"{what}: C value of {k} exact")
            n += t.numel()
    print(f"  {what}: {len(got)} tensors, {n} values identical in the C library")


def main():
    tmp = tempfile.mkdtemp(prefix="torch_to_h5.", dir=os.environ.get("NCMP_TEST_TMPDIR"))
    t_start = time.time()
    try:
        body(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{checks - len(failures)}/{checks} checks passed in {time.time() - t_start:.1f}s")
    return 1 if failures else 0


def body(tmp):
    P = lambda name: os.path.join(tmp, name)  # noqa: E731
    m = small_vgg16()
    sd = m.state_dict()

    # 1. plain state_dict with torchvision keys, width 1/8
    torch.save(sd, P("vgg.pth"))
    rc, out = convert(P("vgg.pth"), P("vgg.h5"))
    check(rc == 0, "convert state_dict", out)
    check("arch 'vgg16' (guessed)" in out and "vgg16 --width 0.125 --classes 10" in out, "summary and hint", out)
    compare_file(P("vgg.h5"), sd, "vgg16", "state_dict", P("vgg.pth"))
    compare_c(P("vgg.h5"), sd, "vgg16", 0.125, 32, 10, "state_dict as vgg16")
    rc, out = run(CLI, "arch", "vgg16", "--width", "0.125", "--input-size", "32", "--classes", "10",
                  "--weights", P("vgg.h5"))
    check(rc == 0 and "fits" in out, "neurocmp arch accepts the converted file", out)
    check(not [f for f in os.listdir(tmp) if f.endswith(".partial")], "no temporary file left")

    # 2. checkpoint dict, DataParallel 'module.' prefix, float64 values, --arch
    g = torch.Generator().manual_seed(7)
    sd64 = {"module." + k: v.double() + torch.randn(v.shape, generator=g, dtype=torch.float64) * 1e-9
            for k, v in sd.items()}
    ckpt = {"epoch": 3, "arch": "vgg16", "best_acc1": torch.tensor(0.5), "state_dict": sd64,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}
    torch.save(ckpt, P("ckpt.pth.tar"))
    rc, out = convert(P("ckpt.pth.tar"), P("ckpt.h5"), "--arch", "vgg16-cnnf")
    check(rc == 0, "convert checkpoint['state_dict'] with module. prefix", out)
    check("float64" in out and "'module.' prefix stripped" in out, "notes on float64 and prefix", out)
    plain64 = {k[len("module."):]: v for k, v in sd64.items()}
    compare_file(P("ckpt.h5"), plain64, "vgg16-cnnf", "checkpoint", P("ckpt.pth.tar"))
    with h5py.File(P("ckpt.h5"), "r") as f:
        check(f.attrs.get("checkpoint_arch") == "vgg16" and f.attrs.get("prefix_stripped") == "module.",
              "checkpoint attributes")
    compare_c(P("ckpt.h5"), plain64, "vgg16-cnnf", 0.125, 32, 10, "checkpoint as vgg16-cnnf")

    # 3. checkpoint['model'] in float16, checkpoint['model_state_dict'] in bfloat16
    for key, dt in (("model", torch.float16), ("model_state_dict", torch.bfloat16)):
        low = {k: v.to(dt) for k, v in sd.items()}
        low["features.0.weight"].view(-1)[2] = 1.5      # 3.4e38 does not fit in float16/bfloat16
        torch.save({"step": 1, key: low}, P(f"{key}.pt"))
        rc, out = convert(P(f"{key}.pt"), P(f"{key}.h5"))
        check(rc == 0 and str(dt).replace("torch.", "") in out, f"convert checkpoint['{key}'] {dt}", out)
        compare_file(P(f"{key}.h5"), low, "vgg16", f"checkpoint['{key}']")
        compare_c(P(f"{key}.h5"), low, "vgg16", 0.125, 32, 10, f"{dt} as vgg16")

    # 4. whole pickled nn.Module, and one wrapped in nn.DataParallel
    torch.save(m, P("module.pt"))
    rc, out = convert(P("module.pt"), P("module.h5"))
    check(rc == 0 and "weights_only=False" in out, "convert pickled nn.Module (with a trust note)", out)
    compare_file(P("module.h5"), sd, "vgg16", "nn.Module")
    torch.save(nn.DataParallel(m), P("dp.pt"))
    rc, out = convert(P("dp.pt"), P("dp.h5"))
    check(rc == 0, "convert pickled DataParallel", out)
    compare_file(P("dp.h5"), sd, "vgg16", "DataParallel")

    # 5. CNN-F reference keys with aliases and an integer buffer: the committed fixture's weights
    with h5py.File(os.path.join(FIXTURES, "model", "cnnf-fmnist.weights.h5"), "r") as f:
        base = {k: torch.from_numpy(f[k][()]) for k in f}
    ref = {}
    for k, v in base.items():
        if k.endswith("_bias.bias"):
            v = v.reshape(1, -1, 1, 1) if k.startswith("ins") else v.reshape(1, -1)
        ref[k] = v
        if k.endswith(".conv.weight"):
            ref[k.replace(".conv.", ".conv_t.")] = v                 # tied copy
        if k.endswith(".linear.weight"):
            ref[k.replace(".linear.", ".linear_t.")] = v.t().contiguous()
            ref[k.replace(".linear.", ".")] = v                      # alias
    ref["bn.num_batches_tracked"] = torch.tensor(12)
    torch.save(ref, P("cnnf.pth"))
    rc, out = convert(P("cnnf.pth"), P("cnnf.h5"))
    check(rc == 0 and "skipping 'bn.num_batches_tracked'" in out, "convert CNN-F reference keys", out)
    floats = {k: v for k, v in ref.items() if v.is_floating_point()}
    compare_file(P("cnnf.h5"), floats, "cnnf-fmnist", "cnnf state_dict")
    with h5py.File(P("cnnf.h5"), "r") as f:
        check(f["ins1_bias.bias"].shape == (1, 16, 1, 1), "CNN-F bias keeps PyTorch shape [1,16,1,1]")
        check(f.attrs.get("skipped") == "bn.num_batches_tracked", "skipped attribute")
    aliases = [k for k in floats if "_t." in k or re.fullmatch(r"fc\d\.weight", k)]
    compare_c(P("cnnf.h5"), floats, "cnnf-fmnist", 0, 0, 0, "cnnf-fmnist", ignore=aliases)

    # an overflow to Inf in the conversion to float32 is reported (the C library refuses Inf)
    torch.save({"w": torch.tensor([1.0, 1e300], dtype=torch.float64)}, P("inf.pth"))
    rc, out = convert(P("inf.pth"), P("inf.h5"))
    check(rc == 0 and "'w' holds NaN or Inf" in out, "warning on Inf after conversion", out)

    # 6. a prefix that is not stripped automatically: the C library names the
    #    tensor; --prefix-strip fixes it
    torch.save({"backbone." + k: v for k, v in sd.items()}, P("bb.pth"))
    rc, out = convert(P("bb.pth"), P("bb.h5"))
    check(rc == 0 and "arch 'unknown'" in out, "unknown keys convert with arch 'unknown'", out)
    rc, out = run(HELPER, "vgg16", "0.125", "32", "10", P("bb.h5"), P("bb.c.h5"))
    check(rc == 1 and "has tensor 'backbone." in out and "does not use" in out, "C names the unknown tensor", out)
    rc, out = convert(P("bb.pth"), P("bb2.h5"), "--prefix-strip", "backbone.")
    check(rc == 0, "--prefix-strip", out)
    compare_file(P("bb2.h5"), sd, "vgg16", "--prefix-strip")

    # 7. error paths: exit 1, message naming the problem, nothing left behind
    def expect_error(what, args, needle, code=1):
        rc, out = convert(*args)
        check(rc == code and needle in out, what, f"exit {rc}, output: {out.strip()}")

    with open(P("vgg.h5"), "rb") as f:
        before = f.read()
    expect_error("refuse to overwrite", [P("vgg.pth"), P("vgg.h5")], "exists; use --force")
    with open(P("vgg.h5"), "rb") as f:
        check(f.read() == before, "existing output unchanged without --force")
    rc, out = convert(P("ckpt.pth.tar"), P("vgg.h5"), "--force")
    check(rc == 0, "--force overwrites", out)
    compare_file(P("vgg.h5"), plain64, "vgg16", "overwritten")
    expect_error("missing input", [P("none.pth"), P("x.h5")], "none.pth' does not exist")
    with open(P("text.pth"), "w") as f:
        f.write("not a torch file\n")
    expect_error("not a torch file", [P("text.pth"), P("x.h5")], "is not a PyTorch file")
    open(P("empty.pth"), "w").close()
    expect_error("empty file", [P("empty.pth"), P("x.h5")], "is empty")
    expect_error("HDF5 input", [P("cnnf.h5"), P("x.h5")], "is an HDF5 file")
    torch.save({}, P("nodict.pth"))
    expect_error("empty dict", [P("nodict.pth"), P("x.h5")], "found no tensors")
    torch.save({"epoch": 3, "optimizer": {}}, P("noweights.pth"))
    expect_error("checkpoint without weights", [P("noweights.pth"), P("x.h5")], "'state_dict'")
    torch.save({"a.num_batches_tracked": torch.tensor(1), "b": torch.arange(3)}, P("ints.pth"))
    expect_error("only integer tensors", [P("ints.pth"), P("x.h5")], "no floating-point tensors")
    torch.save({"a.weight": torch.ones(2), "module.a.weight": torch.ones(2)}, P("clash.pth"))
    expect_error("keys collide after stripping", [P("clash.pth"), P("x.h5"), "--prefix-strip", "module."],
                 "makes two keys 'a.weight'")
    expect_error("output directory missing", [P("vgg.pth"), P("nodir/x.h5")], "does not exist")
    expect_error("unwritable output", [P("vgg.pth"), "/proc/self/x.h5"], "cannot write '/proc/self/x.h5'")
    expect_error("output is a directory", [P("vgg.pth"), tmp, "--force"], "is a directory")
    expect_error("unknown option", [P("vgg.pth"), P("x.h5"), "--bogus"], "unrecognized arguments", code=2)
    expect_error("no arguments", [], "usage:", code=2)
    rc, out = convert("--help")
    check(rc == 0 and "weights_only" in out and "--prefix-strip" in out, "--help", out)
    check(not os.path.exists(P("x.h5")), "no output written by failed runs")
    check(not [f for f in os.listdir(tmp) if f.endswith(".partial")], "no temporary file left after errors")


if __name__ == "__main__":
    sys.exit(main())
