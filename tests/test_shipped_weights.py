#!/usr/bin/python3
"""The trained weights shipped in model/weights/ (docs/training.md §6):

- `neurocmp eval --weights NAME` (architecture and options read from the
  file) on the 10,000 Fashion-MNIST test images: cnnf-fmnist (trained through
  two cycles) reaches >= 90 % at every iteration 0..5; cnnf-fmnist-1cycle
  (one cycle, as the reference script) >= 90 % at the iterations it was
  trained for (0, 1); the feed-forward twin cnn-fmnist >= 91 %; the small
  VGG-16 CNN-F (width 1/4, 32x32 grey, 4 epochs) >= 86 % at iterations 0..5,
  its twin >= 89 %;
- the independent PyTorch CNN-F of tests/gen_model_fixtures.py (bit-identical
  to the reference model code, docs/cnnf-semantics.md §6), float32, gives
  the same accuracies on the first 1000 test images (within 0.3 %, three
  images: float32 routing can flip on a handful; NCMP_SHIPPED_TORCH_IMAGES
  changes the count, 10000 takes about an hour on two cores);
- every file records its recipe, its `weights_digest` matches its tensors,
  and it holds no optimiser state (finished runs drop it);
- the robustness rows of docs/training.md §6 behind its conclusions (FGSM
  and PGD, eps 0.1, cnn-fmnist against cnnf-fmnist) are what eval gives.

usage: test_shipped_weights.py NEUROCMP_CLI [REPO_ROOT]
Exit 0 pass, 1 fail, 77 skip (no torch/h5py/PIL or no Fashion-MNIST).
"""

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:
    print(f"SKIP: {sys.executable} lacks a module this test needs ({e})")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.abspath(sys.argv[1])
ROOT = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(HERE)
FM = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(f"{FM}/t10k-images-idx3-ubyte.gz"):
    print("SKIP: Fashion-MNIST is not installed (dataset-fashion-mnist)")
    sys.exit(77)
sys.path.insert(0, HERE)
import gen_model_fixtures as gm  # noqa: E402

torch.set_num_threads(2)
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if int.from_bytes(raw[:4], "big") == 2051:
        return np.frombuffer(raw[16:], dtype=np.uint8).reshape(-1, 28, 28)
    return np.frombuffer(raw[8:], dtype=np.uint8)


images, labels = idx(f"{FM}/t10k-images-idx3-ubyte.gz"), idx(f"{FM}/t10k-labels-idx1-ubyte.gz")


def inputs(size):
    """neurocmp's preprocessing (docs/preprocessing.md): 28x28 -> PIL bilinear resize, then scaling."""
    if size == 28:   # minus1to1, as the reference's Normalize(0.5, 0.5)
        return torch.from_numpy((2.0 * images.astype(np.float64) / 255.0 - 1.0).astype(np.float32))[:, None]
    px = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images])
    mean, std = np.mean(gm.IMAGENET_MEAN), np.mean(gm.IMAGENET_STD)   # grey: the means of the three
    return torch.from_numpy(((px.astype(np.float64) / 255.0 - mean) / std).astype(np.float32))[:, None]


def build(name, f):
    if f.attrs["arch"] == "cnnf-fmnist":
        return gm.build_cnnf_fmnist(10)
    net = gm.build_vgg16(float(f.attrs["width"]), int(f.attrs["num_classes"]), int(f.attrs["input_size"]), cnnf=True)
    first = net.layers[0]
    first.cin = int(f.attrs["input_channels"])   # grey input
    return net


def accuracy_by_iteration(net, weights, x, y, T, batch=250):
    net.bind({k: weights[k].reshape(s) for k, s, _ in net.param_specs()})
    correct = np.zeros(T + 1)
    with torch.no_grad():
        for b in range(0, len(x), batch):
            outs = net.run(x[b:b + batch], T)["logits"]       # [T+1, n, classes]
            correct += (outs.argmax(dim=2).numpy() == y[b:b + batch]).sum(axis=1)
    return correct / len(x)


def neurocmp_eval(name, T, limit=0):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "eval.json")
        r = subprocess.run([CLI, "eval", "--weights", name, "--data", "fashion-mnist", "--cycles", str(T),
                            "--max-images", str(limit), "--out", out, "-q"], capture_output=True, text=True, cwd=ROOT)
        check(r.returncode == 0, f"{name}: neurocmp eval --weights {name} runs {r.stderr.strip()}")
        if r.returncode:
            return None
        with open(out) as fj:
            return np.array(json.load(fj)["accuracy"])


N_TORCH = int(os.environ.get("NCMP_SHIPPED_TORCH_IMAGES", "1000"))
SHIPPED = [
    # name, cycles evaluated, iterations that must reach the minimum, minimum
    ("cnnf-fmnist", 5, 5, 0.90),          # trained through two cycles: >= 90 % at every iteration 0..5
    ("cnnf-fmnist-1cycle", 5, 1, 0.90),   # the reference's one cycle: >= 90 % where trained (0, 1); later ones drop
    ("cnn-fmnist", 0, 0, 0.91),           # the feed-forward twin
    ("vgg16-cnnf-fmnist32", 5, 5, 0.86),  # 4 epochs: 87.8 % at t0 to 86.6 % at t5 (docs/training.md §6)
    ("vgg16-cnn-fmnist32", 0, 0, 0.89),   # 89.3 %
]
for name, T, checked, minimum in SHIPPED:
    path = os.path.join(ROOT, "model", "weights", f"{name}.h5")
    if not os.path.exists(path):
        check(False, f"{path} is shipped")
        continue
    with h5py.File(path, "r") as f:
        weights = {k: torch.from_numpy(np.array(f[k])).to(torch.float32) for k in f if isinstance(f[k], h5py.Dataset)}
        check(int(f.attrs["training_complete"]) == 1, f"{name}: training complete")
        settings = dict(f["training"].attrs)
        check(settings.get("seed") == "1" and "lr" in settings and "cycles" in settings, f"{name}: recipe recorded")
        # weights_digest: SHA-256 over (key NUL, float32 bytes) in layer order (model/train/params.h)
        net = build(name, f)
        h = hashlib.sha256(b"neurocmp-weights-1 float32\n")
        for k, _, _ in net.param_specs():
            h.update(k.encode() + b"\0" + np.ascontiguousarray(np.array(f[k], dtype="<f4")).tobytes())
        check(h.hexdigest() == f.attrs["weights_digest"], f"{name}: weights_digest matches the tensors")
        size = int(f.attrs["input_size"])
        check("momentum" not in f["training"], f"{name}: no optimiser state ({os.path.getsize(path) / 1e6:.1f} MB)")
    acc = neurocmp_eval(name, T)
    if acc is None:
        continue
    shown = " ".join(f"t{t} {a:.4f}" for t, a in enumerate(acc[:T + 1]))
    worst = acc[:checked + 1].min()
    check(worst >= minimum, f"{name}: {shown} (iterations 0..{checked} >= {minimum})")
    # the same network in PyTorch, on the first N_TORCH images
    x = inputs(size)[:N_TORCH]
    torch_acc = accuracy_by_iteration(net, weights, x, labels[:N_TORCH], T)
    mine = neurocmp_eval(name, T, N_TORCH) if N_TORCH < len(labels) else acc
    if mine is not None:
        gap = np.abs(mine[:T + 1] - torch_acc).max()
        check(gap <= 0.003 + 1e-12, f"{name}: PyTorch on {N_TORCH} images within 0.3 % of neurocmp (max gap {gap:.4f})")

# The robustness rows of docs/training.md §6 that carry its conclusions (first 1000 test images, attacked
# through the feed-forward pass): the numbers printed there, to their rounding (eval is deterministic).
ROBUST = [
    # name, T, attack, eps, eps_iter, steps, accuracy (%) at t0..T as in the docs
    ("cnn-fmnist", 0, "fgsm", 0.1, 0.1, 1, [31.4]),
    ("cnnf-fmnist", 5, "fgsm", 0.1, 0.1, 1, [41.3, 41.4, 41.3, 41.3, 41.4, 41.2]),
    ("cnn-fmnist", 0, "pgd", 0.1, 0.0355, 7, [5.5]),
    ("cnnf-fmnist", 5, "pgd", 0.1, 0.0355, 7, [13.6, 14.6, 15.4, 15.6, 15.7, 15.8]),
]
for name, T, attack, eps, eps_iter, steps, documented in ROBUST:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "eval.json")
        r = subprocess.run([CLI, "eval", "--weights", name, "--data", "fashion-mnist", "--cycles", str(T),
                            "--max-images", "1000", "--attack", attack, "--eps", str(eps), "--eps-iter", str(eps_iter),
                            "--pgd-steps", str(steps), "--out", out, "-q"], capture_output=True, text=True, cwd=ROOT)
        if r.returncode:
            check(False, f"{name} {attack}: neurocmp eval runs {r.stderr.strip()}")
            continue
        with open(out) as fj:
            got = 100 * np.array(json.load(fj)["adversarial_accuracy"])
    shown = " ".join(f"{g:.1f}" for g in got)
    # To the documented rounding plus 0.5 points (5 of 1000 images): the attack's sign(gradient) and the
    # routing of a few images follow the BLAS kernel's last bits (Haswell vs AVX-512 kernels of OpenBLAS on
    # one machine: 41.3 41.4 41.3 41.3 41.4 41.2 vs 41.2 41.2 41.0 41.2 41.7 41.1); eval is deterministic
    # for any thread count and batch on one machine.
    check(np.all(np.abs(got - np.array(documented)) <= 0.5 + 1e-9),
          f"{name} {attack} eps {eps} through the feed-forward pass: {shown} (docs/training.md §6, ±0.5)")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
