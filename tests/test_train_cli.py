#!/usr/bin/python3
"""Test of `neurocmp train` and `neurocmp eval` from the outside
(docs/training.md):

- two SGD steps (batch 16, T = 1, --precision double, --no-shuffle, constant
  lr) equal the reference PyTorch steps of tests/gen_train_fixtures.py to
  1e-9 relative to the update size, for every parameter;
- float32 training is bit-identical with 1 and 2 threads;
- --max-steps + --resume, SIGINT + --resume and kill -9 + --resume end
  with the same weights as an uninterrupted run;
- the checkpoint: weights loadable by neurocmp and (reshaped) by PyTorch,
  history, settings, no leftovers;
- ImageFolder data; eval (table, JSON, attacks, thread independence);
- bad input: another architecture's or a corrupt or mis-shaped --init,
  labels out of range or of another length, an empty class folder, a
  diverging run (NaN), changed settings on --resume, an existing output.

usage: test_train_cli.py NEUROCMP_CLI TRAIN_FIXTURES_DIR
(TRAIN_FIXTURES_DIR: what tests/gen_train_fixtures.py wrote.)
Exit 0 pass, 1 fail, 77 skip (this python lacks h5py, numpy or PIL).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
try:
    import h5py
    import numpy as np
    from PIL import Image
except ImportError as e:
    print(f"SKIP: {sys.executable} lacks a module this test needs ({e})")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.abspath(sys.argv[1])
REF = os.path.abspath(sys.argv[2])
MODEL_FIXTURES = os.path.join(HERE, "fixtures", "model")
IMAGES = os.path.join(REF, "fmnist32-images-idx3-ubyte")
LABELS = os.path.join(REF, "fmnist32-labels-idx1-ubyte")
for need in (IMAGES, LABELS, os.path.join(REF, "sgd_cnnf-fmnist.h5")):
    if not os.path.exists(need):
        print(f"FAIL: {need} is missing (run tests/gen_train_fixtures.py {REF})")
        sys.exit(1)

failures = []
checks = 0


def check(cond, what, detail=""):
    global checks
    checks += 1
    if not cond:
        failures.append(f"{what} {detail}")
        print(f"  FAIL: {what} {detail}")


def run(args, **kw):
    return subprocess.run([CLI] + args, capture_output=True, text=True, **kw)


def digest(out):
    for line in out.splitlines():
        if line.startswith("weights digest "):
            return line.split()[-1]
    return None


tmp = tempfile.mkdtemp(prefix="ncmp-train-")
SMALL = ["--arch", "cnnf-fmnist", "--images", IMAGES, "--labels", LABELS]
INIT = os.path.join(MODEL_FIXTURES, "cnnf-fmnist.weights.h5")

# ---- 1. two SGD steps against PyTorch ---------------------------------------------------
print("two SGD steps against the PyTorch reference (float64)")
ref = h5py.File(os.path.join(REF, "sgd_cnnf-fmnist.h5"), "r")
for steps in (1, 2):
    out = os.path.join(tmp, f"sgd{steps}.h5")
    r = run(["train", *SMALL, "--init", INIT, "--cycles", "1", "--batch", "16", "--max-steps", str(steps),
             "--precision", "double", "--no-shuffle", "--schedule", "constant", "--lr", "0.05", "--momentum", "0.9",
             "--weight-decay", "5e-4", "--mse-parameter", "0.1", "--grad-clip", "0.5", "--out", out, "-q"])
    check(r.returncode == 0, f"train --max-steps {steps} runs", r.stderr)
    if r.returncode:
        continue
    worst, where = 0.0, ""
    with h5py.File(out, "r") as f:
        check(f.attrs["precision"] == "float64", "double training stores float64")
        for k in ref[f"step{steps}"]:
            mine = np.array(f[k], dtype=np.float64).reshape(-1)
            want = np.array(ref[f"step{steps}"][k]).reshape(-1)
            init = np.array(ref["initial"][k]).reshape(-1)
            check(f[k].dtype == np.float64, f"{k} is float64")
            e = np.abs(mine - want).max() / np.abs(want - init).max()
            if not e <= worst:
                worst, where = e, k
    print(f"  step {steps}: max |neurocmp - PyTorch| / max update = {worst:.2e} ({where})")
    check(worst <= 1e-9, f"step {steps} equals PyTorch to 1e-9 of the update", f"({worst:.2e} at {where})")

# ---- 2. thread count ----------------------------------------------------------------------
print("float32 training with 1 and 2 threads")
digests = []
for t in (1, 2):
    out = os.path.join(tmp, f"threads{t}.h5")
    r = run(["train", *SMALL, "--cycles", "2", "--batch", "16", "--max-steps", "3", "--threads", str(t), "--out", out,
             "-q"])
    check(r.returncode == 0, f"train --threads {t}", r.stderr)
    digests.append(digest(r.stdout))
check(digests[0] is not None and digests[0] == digests[1], "weights do not depend on the thread count", str(digests))
with h5py.File(os.path.join(tmp, "threads1.h5"), "r") as a, h5py.File(os.path.join(tmp, "threads2.h5"), "r") as b:
    same = all(np.array_equal(np.array(a[k]), np.array(b[k])) for k in a if isinstance(a[k], h5py.Dataset))
    check(same, "every tensor is bit-identical across thread counts")

# ---- 3. resume ----------------------------------------------------------------------------
print("resume: --max-steps, SIGINT and kill -9")
RES = [*SMALL, "--cycles", "1", "--batch", "8", "--epochs", "3", "--seed", "5"]
full = os.path.join(tmp, "full.h5")
r = run(["train", *RES, "--out", full, "-q"])
check(r.returncode == 0, "uninterrupted run", r.stderr)
want = digest(r.stdout)
part = os.path.join(tmp, "part.h5")
r = run(["train", *RES, "--max-steps", "5", "--out", part, "-q"])
check(r.returncode == 0 and "continue with --resume" in r.stdout, "--max-steps 5 stops mid-epoch", r.stdout + r.stderr)
r = run(["train", *RES, "--out", part, "-q"])
check(r.returncode != 0 and "--resume" in r.stderr, "an unfinished checkpoint is not replaced silently", r.stderr)
r = run(["train", *RES, "--resume", "--lr", "0.1", "--out", part, "-q"])
check(r.returncode == 2 and "--lr was 0.05, now 0.1" in r.stderr, "a changed setting names itself", r.stderr)
r = run(["train", *RES, "--resume", "--threads", "1", "--out", part, "-q"])
check(r.returncode == 0 and digest(r.stdout) == want, "--resume ends where an uninterrupted run does",
      f"{digest(r.stdout)} vs {want}")
r = run(["train", *RES, "--resume", "--out", part])
check(r.returncode == 0 and "nothing to do" in r.stderr, "resuming a finished run does nothing", r.stderr)
with h5py.File(full, "r") as a, h5py.File(part, "r") as b:
    check(np.allclose(np.array(a["training/history/loss"]), np.array(b["training/history/loss"]), rtol=0, atol=0),
          "the resumed history equals the uninterrupted one")

# SIGINT: the current step is saved, then --resume continues
RESL = [*SMALL, "--cycles", "1", "--batch", "8", "--epochs", "40", "--seed", "5"]
full40 = os.path.join(tmp, "full40.h5")
r = run(["train", *RESL, "--out", full40, "-q"])
want40 = digest(r.stdout)
for how in ("SIGINT", "SIGKILL"):
    out = os.path.join(tmp, f"{how}.h5")
    p = subprocess.Popen([CLI, "train", *RESL, "--out", out, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    t0 = time.time()
    while not os.path.exists(out) and time.time() - t0 < 60:   # after the first epoch's checkpoint
        time.sleep(0.02)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGKILL)
    so, se = p.communicate()
    if how == "SIGINT":
        check(p.returncode == 3 and "--resume" in se, "SIGINT exits 3 and says how to continue", se)
    check(not os.path.exists(out + ".partial") or how == "SIGKILL", f"{how}: no partial file left", "")
    with h5py.File(out, "r") as f:
        check(f.attrs["training_complete"] == 0 and f.attrs["complete"] == 0,
              f"{how}: the checkpoint says unfinished (complete = 0 too)")
        check("momentum" in f["training"] and "conv1.conv.weight" in f["training/momentum"],
              f"{how}: the unfinished checkpoint keeps the momentum buffers")
        stopped = int(f.attrs["training_step"])
    r = run(["train", *RESL, "--resume", "--out", out, "-q"])
    check(r.returncode == 0 and digest(r.stdout) == want40, f"{how} at step {stopped} + --resume = uninterrupted",
          f"{digest(r.stdout)} vs {want40} {r.stderr}")

# ---- 4. the checkpoint ------------------------------------------------------------------
print("checkpoint contents")
with h5py.File(full, "r") as f:
    check(f.attrs["complete"] == 1 and f.attrs["training_complete"] == 1, "complete flags")
    check(f.attrs["arch"] == "cnnf-fmnist" and f.attrs["precision"] == "float32", "arch and precision")
    check("momentum" not in f["training"] and "momentum_topdown" not in f["training"],
          "a finished file drops the optimiser state", str(list(f["training"])))
    check(tuple(f["ins1_bias.bias"].shape) == (1, 16, 1, 1) and tuple(f["fc1_bias.bias"].shape) == (1, 1000),
          "biases in the reference's shapes", str(f["ins1_bias.bias"].shape))
    h = f["training/history"]
    check(h["loss"].shape == (3,) and h["train_accuracy"].shape == (3, 2), "history: 3 epochs x 2 iterations",
          str(h["train_accuracy"].shape))
    check(np.all(np.diff(np.array(h["step"])) == 4), "history steps (4 per epoch)")
    check(f["training"].attrs["lr"] == "0.05" and f["training"].attrs["cycles"] == "1",
          "settings recorded")
    check("command_line" in f.attrs and "weights_digest" in f.attrs, "provenance and digest")
r = run(["arch", "cnnf-fmnist", "--weights", full])
check(r.returncode == 0, "a checkpoint loads as weights", r.stderr)
try:
    import torch
    sys.path.insert(0, HERE)
    import gen_model_fixtures as gm
    net = gm.build_cnnf_fmnist()
    with h5py.File(full, "r") as f:
        w = {k: torch.from_numpy(np.array(f[k])).double() for k in f if isinstance(f[k], h5py.Dataset)}
    net.bind({k: w[k].reshape(s) for L in net.layers for k, s, _ in L.params()})
    check(True, "the PyTorch reference network takes the checkpoint's tensors")
except ImportError:
    pass
check(not [n for n in os.listdir(tmp) if n.endswith(".partial")], "no .partial files left")

# ---- 5. ImageFolder data ----------------------------------------------------------------
print("ImageFolder data")
with open(IMAGES, "rb") as fi, open(LABELS, "rb") as fl:
    px = np.frombuffer(fi.read()[16:], dtype=np.uint8).reshape(-1, 28, 28)
    lab = np.frombuffer(fl.read()[8:], dtype=np.uint8)
folder = os.path.join(tmp, "folder")
names = {0: "a-tshirt", 1: "b-trouser", 2: "c-pullover"}
for k in range(len(px)):
    if lab[k] in names:
        d = os.path.join(folder, names[lab[k]])
        os.makedirs(d, exist_ok=True)
        Image.fromarray(px[k]).save(os.path.join(d, f"img{k:03d}.png"))
r = run(["train", "--arch", "cnnf-fmnist", "--classes", "3", "--data", folder, "--batch", "4", "--max-steps", "2",
         "--out", os.path.join(tmp, "folder.h5")])
check(r.returncode == 0 and "3 classes" in r.stderr, "train on one folder per class", r.stderr)
os.makedirs(os.path.join(folder, "d-empty"))
r = run(["train", "--arch", "cnnf-fmnist", "--classes", "4", "--data", folder, "--out", os.path.join(tmp, "e.h5")])
check(r.returncode == 1 and "d-empty" in r.stderr and not os.path.exists(os.path.join(tmp, "e.h5")),
      "an empty class folder is an error naming it", r.stderr)

# ---- 6. eval ------------------------------------------------------------------------------
print("eval")
ev = os.path.join(tmp, "eval.json")
outs = []
for t in (1, 2):
    r = run(["eval", "--arch", "cnnf-fmnist", "--weights", full, "--images", IMAGES, "--labels", LABELS, "--cycles",
             "2", "--attack", "pgd", "--eps", "0.1", "--eps-iter", "0.03", "--pgd-steps", "3", "--attack-through",
             "all", "--threads", str(t), "--out", ev])
    check(r.returncode == 0 and "average" in r.stdout, "eval prints a table", r.stderr)
    outs.append(r.stdout)
check(outs[0] == outs[1], "eval does not depend on the thread count")
r = run(["eval", "--weights", full, "--images", IMAGES, "--labels", LABELS, "--cycles", "2", "--attack", "pgd",
         "--eps", "0.1", "--eps-iter", "0.03", "--pgd-steps", "3", "--attack-through", "all"])
check(r.returncode == 0 and r.stdout == outs[0], "without --arch, eval takes the architecture from the weights file",
      r.stderr)
r = run(["eval", "--images", IMAGES, "--labels", LABELS])
check(r.returncode == 2 and "--arch" in r.stderr, "eval without --arch or --weights names --arch", r.stderr)
import json  # noqa: E402
with open(ev) as fj:
    j = json.load(fj)
check(len(j["accuracy"]) == 3 and len(j["adversarial_accuracy"]) == 3 and j["n_images"] == 32, "JSON layout")
check(j["attack"]["through"] == "all" and "weights_sha256" in j["provenance"], "JSON attack and provenance")
r = run(["eval", "--arch", "vgg16", "--cycles", "2", "--data", "fashion-mnist"])
check(r.returncode == 2 and "feed-forward" in r.stderr, "cycles on a feed-forward arch", r.stderr)

# ---- 7. bad input -------------------------------------------------------------------------
print("bad input")


def bad(args, code, needle, what):
    out = os.path.join(tmp, "bad.h5")
    if os.path.exists(out):
        os.remove(out)
    r = run(["train", *args, "--out", out])
    check(r.returncode == code and needle in r.stderr, what, f"(exit {r.returncode}: {r.stderr.strip()[-300:]})")
    check(not os.path.exists(out) and not os.path.exists(out + ".partial"), f"{what}: nothing written")


bad([*SMALL, "--init", os.path.join(MODEL_FIXTURES, "vgg16-w0125.weights.h5")], 1, "another architecture",
    "weights of another architecture")
bad([*SMALL, "--width", "0.5", "--init", INIT], 1, "has shape", "weights of another width")
corrupt = os.path.join(tmp, "corrupt.h5")
with open(INIT, "rb") as fsrc, open(corrupt, "wb") as fdst:
    fdst.write(fsrc.read()[:3000])
bad([*SMALL, "--init", corrupt], 1, "corrupt.h5", "a truncated --init")
wrong = os.path.join(tmp, "labels12")
with open(LABELS, "rb") as f:
    data = bytearray(f.read())
data[8 + 5] = 12
with open(wrong, "wb") as f:
    f.write(data)
bad(["--arch", "cnnf-fmnist", "--images", IMAGES, "--labels", wrong], 1, "label 12 of image 5",
    "a label outside the classes")
short = os.path.join(tmp, "labels31")
with open(short, "wb") as f:
    f.write(bytes([0, 0, 8, 1, 0, 0, 0, 31]) + bytes(data[8:8 + 31]))
bad(["--arch", "cnnf-fmnist", "--images", IMAGES, "--labels", short], 1, "31 labels, but the images are 32",
    "labels of another length")
bad(["--arch", "cnnf-fmnist", "--images", IMAGES, "--labels", IMAGES], 1, "IDX images file",
    "images given as labels")
bad([*SMALL, "--lr", "1e30", "--batch", "8", "--grad-clip", "0"], 1, "diverged at step", "a diverging run (NaN)")
bad([*SMALL, "--batch", "64"], 2, "fewer than one batch", "a batch larger than the data")
bad(["--arch", "cnnf-fmnist", "--data", "fashion-mnist", "--images", IMAGES], 2, "--data", "two data sources")
r = run(["train", *SMALL, "--batch", "8", "--max-steps", "1", "--out", full])
check(r.returncode == 1 and "exists" in r.stderr, "a finished output is not replaced without --force", r.stderr)

shutil.rmtree(tmp)
print(f"{checks} checks, {len(failures)} failed")
sys.exit(1 if failures else 0)
