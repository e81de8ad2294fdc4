#!/usr/bin/python3
"""Independent PyTorch (float64, autograd) reference for neurocmp's training.

Writes the fixtures the C training engine is tested against
(tests/fixtures/train/, docs/training.md):

    grad_<case>.h5   one batch through T cycles: the CNN-F objective (loss,
                     cross-entropy per iteration, reconstruction error) and
                     its gradient w.r.t. every parameter and the input, by
                     PyTorch autograd
    sgd_cnnf-fmnist.h5
                     two SGD steps (batch 16, T = 1, lr 0.05, momentum 0.9,
                     weight decay 5e-4, mse 0.1, clip 0.5, constant lr) from
                     tests/fixtures/model/cnnf-fmnist.weights.h5 on the first
                     32 Fashion-MNIST training images in file order, each
                     pixel dithered by +0..3 grey levels (written as IDX
                     files beside it): the parameters after each step
    fmnist32-{images-idx3,labels-idx1}-ubyte
                     those 32 (dithered) images and labels

Usage (the Debian python with torch):

    /usr/bin/python3 tests/gen_train_fixtures.py [OUT_DIR]
    --reference-repo DIR    also run the two SGD steps with the reference
                            repository's own model (github.com/yjhuangcd/CNNF,
                            cnnf/model_mnist.py) and torch.optim.SGD +
                            clip_grad_norm_ over its parameters, and check that
                            it ends where this script does (run, not copied)

The network is the one of tests/gen_model_fixtures.py (written from
docs/cnnf-semantics.md, bit-identical to the reference model code),
made trainable here: every parameter is a leaf tensor; a linear layer's
top-down product uses a separate leaf W^T sharing W's storage, as the
reference's layers.Linear does (its `linear_t.weight.data = W.data.t()`), so
torch.optim.SGD updates W twice, exactly as in the reference.  The objective
is the reference's train_adv (train.py) without the attack: CE of every
iteration / (T + 1) plus mse_parameter * the reconstruction MSEs / (K T);
with an adversarial half, (clean_parameter CE(clean) + CE(adv)) / (2 (T + 1))
and MSE(recon of the adversarial half, target of the clean half).
"""

import argparse
import gzip
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_model_fixtures as gm  # noqa: E402

DT = torch.float64
GENERATOR = "tests/gen_train_fixtures.py"
FMNIST_TRAIN = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
FMNIST_TRAIN_LABELS = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"


# ---------------------------------------------------------------------------
# A trainable network
# ---------------------------------------------------------------------------

class Trainable:
    """gm.Net with leaf parameters (reference order) and tied linear transposes."""

    def __init__(self, net, weights32):
        self.net = net
        self.params = []          # (name, tensor) in the reference's parameter order
        w = {}
        for L in net.layers:
            for key, _shape, _init in L.params():
                t = weights32[key].to(DT).reshape(_shape).clone().requires_grad_(True)
                w[key] = t
                self.params.append((key, t))
                if isinstance(L, gm.Linear) and key == L.wkey and net.u < net.index[L.name]:
                    # the reference's linear_t: a separate Parameter sharing W's storage
                    wt = torch.nn.Parameter(torch.empty(0, dtype=DT))
                    wt.data = t.data.t()
                    L.Wt = wt
                    self.params.append((key + "^T", wt))
        net.bind(w)
        for L in net.layers:
            if isinstance(L, gm.Linear):
                L.backward = (lambda g, L=L: g @ L.Wt.t()) if hasattr(L, "Wt") else L.backward

    def named(self):
        return self.params


def taps(net):
    """Reconstruction pairs (docs/training.md §1): the update layer, then every
    observed feature map above it in layer order; an AdaReLU's reconstruction
    is taken after its top-down rule, anything else's before it."""
    flat_from = next(i for i, L in enumerate(net.layers) if isinstance(L, gm.Flatten))
    out = [(net.u, "update")]
    for i in sorted(net.index[l] for l in net.observe.values()):
        if net.u < i < flat_from:
            out.append((i, "after" if net.layers[i].kind == "adarelu" else "before"))
    return out


def feedback_with_taps(net, g, tap_list):
    """gm.Net.feedback, also returning the top-down signal at each tap."""
    want = {i: when for i, when in tap_list if i != net.u}
    got = {}

    def tap(i, when, signal):
        if want.get(i) == when:
            got[i] = signal
    return net.feedback(g, tap), got


def objective(net, x, y, T, mse_parameter, clean_parameter=1.0, n_clean=0):
    """The CNN-F objective of train.py train_adv (docs/training.md §1)."""
    net.reset()
    tl = taps(net)
    h = x
    targets = {}
    for i, L in enumerate(net.layers):
        h = L.forward(h)
        if i == net.u:
            h0 = h
        if i in [k for k, _ in tl]:
            targets[i] = h
    logits = h
    n = x.shape[0]
    nc = n_clean or n

    def ce(z):
        if not n_clean:
            return F.cross_entropy(z, y) / (T + 1)
        zc, za = torch.split(z, nc)
        return (clean_parameter * F.cross_entropy(zc, y) + F.cross_entropy(za, y)) / (2 * (T + 1))

    ces = [F.cross_entropy(logits[:nc], y).item()]
    loss = ce(logits)
    ff_prev = h0
    mse_total = 0.0
    for _t in range(T):
        r, rec = feedback_with_taps(net, logits, tl)
        pairs = [(r, h0)] + [(rec[i], targets[i]) for i, _ in tl[1:]]
        terms = 0
        for recon, target in pairs:
            if n_clean:
                recon = recon[nc:]
                target = target[:nc]
            terms = terms + F.mse_loss(recon, target)
        mse_total += float(terms) / (len(pairs) * T)
        loss = loss + terms * mse_parameter / (len(pairs) * T)
        ff = ff_prev + gm.STEP * (r - ff_prev)
        logits, _ = net.forward_from(ff, net.u + 1)
        ff_prev = ff
        ces.append(F.cross_entropy(logits[:nc], y).item())
        loss = loss + ce(logits)
    return loss, ces, mse_total


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def read_idx(path, n):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic == 2051:
        return np.frombuffer(raw[16:16 + n * 784], dtype=np.uint8).reshape(n, 1, 28, 28).copy()
    assert magic == 2049
    return np.frombuffer(raw[8:8 + n], dtype=np.uint8).copy()


def write_idx(path, arr):
    with open(path, "wb") as f:
        if arr.ndim == 4:
            f.write((2051).to_bytes(4, "big"))
            for d in (arr.shape[0], 28, 28):
                f.write(int(d).to_bytes(4, "big"))
        else:
            f.write((2049).to_bytes(4, "big"))
            f.write(int(arr.shape[0]).to_bytes(4, "big"))
        f.write(arr.astype(np.uint8).tobytes())


def scale_minus1to1(px):
    """neurocmp's (and the reference's) 2p/255 - 1, computed in float64, rounded to float32 once."""
    return torch.from_numpy((2.0 * px.astype(np.float64) / 255.0 - 1.0).astype(np.float32))


def load_weights(path):
    with h5py.File(path, "r") as f:
        return {k: torch.from_numpy(np.array(f[k])) for k in f.keys() if isinstance(f[k], h5py.Dataset)}


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

def write_grad_case(path, net, weights32, x32, y, T, mse_parameter, clean_parameter, n_clean, description):
    tr = Trainable(net, weights32)
    x = x32.to(DT).clone().requires_grad_(True)
    loss, ces, mse = objective(net, x, torch.from_numpy(y.astype(np.int64)), T, mse_parameter, clean_parameter,
                               n_clean)
    loss.backward()
    with h5py.File(path, "w") as f:
        f.create_dataset("input", data=x32.numpy().astype(np.float32))
        f.create_dataset("labels", data=y.astype(np.int32))
        f.create_dataset("input_grad", data=x.grad.numpy())
        g = f.create_group("grad")
        gt = f.create_group("grad_topdown")
        for name, p in tr.named():
            if name.endswith("^T"):
                # stored in W's layout [O, In] (the C engine's), from linear_t's [In, O]
                gt.create_dataset(name[:-2], data=(p.grad.t() if p.grad is not None else torch.zeros_like(p).t())
                                  .contiguous().numpy())
            else:
                g.create_dataset(name, data=p.grad.reshape(-1).numpy())
        f.attrs["loss"] = float(loss)
        f.attrs["ce"] = np.array(ces, dtype=np.float64)
        f.attrs["mse"] = float(mse)
        f.attrs["cycles"] = int(T)
        f.attrs["mse_parameter"] = float(mse_parameter)
        f.attrs["clean_parameter"] = float(clean_parameter)
        f.attrs["n_clean"] = int(n_clean)
        f.attrs["arch"] = net.arch
        f.attrs["width"] = float(net.width)
        f.attrs["input_size"] = int(net.input_size)
        f.attrs["num_classes"] = int(net.num_classes)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["generator"] = GENERATOR
        f.attrs["description"] = description
    print(f"{path}: loss {float(loss):.6f}, CE per iteration {np.round(ces, 4).tolist()}")


SGD = dict(lr=0.05, momentum=0.9, weight_decay=5e-4, clip=0.5, mse=0.1, T=1, batch=16, steps=2)


def sgd_steps(model_params, run_loss, batches):
    """torch.optim.SGD + clip_grad_norm_ as the reference train_adv loop; returns the
    parameter values after each step."""
    opt = torch.optim.SGD(model_params, SGD["lr"], momentum=SGD["momentum"], weight_decay=SGD["weight_decay"])
    after = []
    for xb, yb in batches:
        opt.zero_grad()
        loss = run_loss(xb, yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model_params, SGD["clip"])
        opt.step()
        after.append(float(loss))
    return after


def write_attack_case(path, weights32, x32, y, T, eps):
    """FGSM (advertorch's GradientSignAttack: x + eps sign(grad of the summed CE), clipped to [-1, 1])
    against the feed-forward pass (iteration 0) and against iteration T through every cycle."""
    net = gm.build_cnnf_fmnist()
    net.bind({k: v.to(DT).reshape(s) for L in net.layers for k, s, _ in L.params() for v in [weights32[k]]})
    yt = torch.from_numpy(y.astype(np.int64))
    out = {}
    for which, t_att in (("first", 0), ("all", T)):
        x = x32.to(DT).clone().requires_grad_(True)
        net.reset()
        h = x
        for i, L in enumerate(net.layers):
            h = L.forward(h)
            if i == net.u:
                upd = h
        logits = h
        for _ in range(t_att):
            r = net.feedback(logits)
            upd = upd + gm.STEP * (r - upd)
            logits, _ = net.forward_from(upd, net.u + 1)
        F.cross_entropy(logits, yt, reduction="sum").backward()
        out[which] = (x.grad.detach(), torch.clamp(x32.to(DT) + eps * x.grad.sign(), -1, 1))
    with h5py.File(path, "w") as f:
        f.create_dataset("input", data=x32.numpy())
        f.create_dataset("labels", data=y.astype(np.int32))
        for which, (g, xa) in out.items():
            f.create_dataset(f"grad_{which}", data=g.numpy())
            f.create_dataset(f"fgsm_{which}", data=xa.numpy())
        f.attrs["cycles"] = int(T)
        f.attrs["eps"] = float(eps)
        f.attrs["generator"] = GENERATOR
        f.attrs["description"] = "FGSM on cnnf-fmnist through the feed-forward pass and through T cycles, float64"
    print(f"{path}: FGSM eps {eps}, T = {T}")


def write_sgd_case(out_dir, weights_path, reference_repo):
    n = SGD["batch"] * SGD["steps"]
    px = read_idx(FMNIST_TRAIN, n)
    labels = read_idx(FMNIST_TRAIN_LABELS, n)
    # Dither of 0..3 grey levels: in the constant background, 2x2 pooling windows
    # otherwise hold mathematically equal values (thousands of exact argmax ties
    # per step), which only last-bit rounding decides, and the BLAS kernel's
    # rounding then decides the gradient's routing (12 % of the update).
    px = np.minimum(px.astype(np.int16) + np.random.default_rng(11).integers(0, 4, size=px.shape), 255)
    px = px.astype(np.uint8)
    write_idx(out_dir / "fmnist32-images-idx3-ubyte", px)
    write_idx(out_dir / "fmnist32-labels-idx1-ubyte", labels)
    x32 = scale_minus1to1(px)
    weights32 = load_weights(weights_path)
    net = gm.build_cnnf_fmnist()
    tr = Trainable(net, weights32)
    params = [p for _, p in tr.named()]
    B = SGD["batch"]
    batches = [(x32[k * B:(k + 1) * B].to(DT), torch.from_numpy(labels[k * B:(k + 1) * B].astype(np.int64)))
               for k in range(SGD["steps"])]
    snapshots = []

    def run_loss(xb, yb):
        loss, _, _ = objective(net, xb, yb, SGD["T"], SGD["mse"])
        return loss

    opt = torch.optim.SGD(params, SGD["lr"], momentum=SGD["momentum"], weight_decay=SGD["weight_decay"])
    losses = []
    for xb, yb in batches:
        opt.zero_grad()
        loss = run_loss(xb, yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, SGD["clip"])
        opt.step()
        losses.append(float(loss))
        snapshots.append({name: p.detach().clone() for name, p in tr.named() if not name.endswith("^T")})
    init = {k: v.to(DT) for k, v in weights32.items()}
    path = out_dir / "sgd_cnnf-fmnist.h5"
    with h5py.File(path, "w") as f:
        for s, snap in enumerate(snapshots, start=1):
            g = f.create_group(f"step{s}")
            for k, v in snap.items():
                g.create_dataset(k, data=v.reshape(init[k].shape).numpy())
        g = f.create_group("initial")
        for k, v in init.items():
            g.create_dataset(k, data=v.numpy())
        f.attrs["losses"] = np.array(losses)
        for k, v in SGD.items():
            f.attrs[k] = v
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["generator"] = GENERATOR
        f.attrs["description"] = ("two SGD steps of the CNN-F objective (clean), cnnf-fmnist, first 32 Fashion-MNIST "
                                  "training images in file order dithered by +0..3 grey levels, float64")
    print(f"{path}: losses {losses}")
    if reference_repo:
        check_reference_sgd(reference_repo, weights32, batches, snapshots[-1])


def check_reference_sgd(repo, weights32, batches, mine):
    """The same two steps with the reference's own model and optimiser (run, not copied)."""
    import types
    sys.path.insert(0, str(Path(repo).resolve()))
    for mod in ("tensorboardX", "matplotlib", "matplotlib.pyplot"):   # imported, unused by the model code
        if mod not in sys.modules:
            try:
                __import__(mod)
            except ImportError:
                sys.modules[mod] = types.SimpleNamespace(SummaryWriter=None, pyplot=None)
    from cnnf.model_mnist import CNNF
    T = SGD["T"]
    model = CNNF(10, ind=2, cycles=T, res_param=gm.STEP).to(DT)
    sd = {k: v.to(DT).reshape(model.state_dict()[k].shape) for k, v in weights32.items()}
    model.load_state_dict(sd, strict=False)
    for m in model.modules():      # re-tie the transposes to the loaded weights, as the reference's backward does
        if hasattr(m, "linear_t"):
            m.linear_t.weight.data = m.linear.weight.data.t()
    opt = torch.optim.SGD(model.parameters(), SGD["lr"], momentum=SGD["momentum"], weight_decay=SGD["weight_decay"])
    model.train()
    for xb, yb in batches:
        # train.py train_adv, clean terms only (the objective neurocmp trains without --adversarial)
        opt.zero_grad()
        model.reset()
        logits, orig_feature, block1, block2 = model(xb, first=True, inter=True)
        ff_prev = orig_feature
        loss = F.cross_entropy(logits, yb) / (T + 1)
        for _ in range(T):
            recon, block1_recon, block2_recon = model(logits, step="backward", inter_recon=True)
            loss = loss + (F.mse_loss(recon, orig_feature) + F.mse_loss(block1_recon, block1) +
                           F.mse_loss(block2_recon, block2)) * SGD["mse"] / (3 * T)
            ff_current = ff_prev + 0.1 * (recon - ff_prev)
            logits = model(ff_current, first=False)
            ff_prev = ff_current
            loss = loss + F.cross_entropy(logits, yb) / (T + 1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), SGD["clip"])
        opt.step()
    ref = model.state_dict()
    worst = 0.0
    for k, v in mine.items():
        d = float((ref[k].reshape(-1) - v.reshape(-1)).abs().max())
        upd = float((v.reshape(-1) - weights32[k].to(DT).reshape(-1)).abs().max())
        worst = max(worst, d / upd)
    print(f"reference repository ({repo}): max |mine - reference| / max update = {worst:.2e}")
    assert worst <= 1e-9, worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=str(Path(__file__).resolve().parent / "fixtures" / "train"))
    ap.add_argument("--reference-repo", default=None)
    ap.add_argument("--if-stale", action="store_true",
                    help="do nothing if OUT holds fixtures made by this very generator (OUT/.generated)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    import hashlib
    stamp = hashlib.sha256()
    for src in (here / "gen_train_fixtures.py", here / "gen_model_fixtures.py",
                here / "fixtures" / "model" / "cnnf-fmnist.weights.h5",
                here / "fixtures" / "model" / "vgg16-cnnf-w0125.weights.h5"):
        stamp.update(src.read_bytes())
    stamp = stamp.hexdigest()
    if args.if_stale and (out / ".generated").exists() and (out / ".generated").read_text() == stamp:
        print(f"{out}: fixtures up to date")
        return
    (out / ".generated").unlink(missing_ok=True)
    torch.set_num_threads(1)
    model_dir = Path(__file__).resolve().parent / "fixtures" / "model"

    # cnnf-fmnist: 8 dithered training images (no routing choice near a tie), T = 2
    w_fm = load_weights(model_dir / "cnnf-fmnist.weights.h5")
    px = read_idx(FMNIST_TRAIN, 8)
    y8 = read_idx(FMNIST_TRAIN_LABELS, 8)
    rng = np.random.default_rng(7)
    x8 = 2.0 * px.astype(np.float64) / 255.0 - 1.0 + rng.uniform(-1 / 255, 1 / 255, size=px.shape)
    x8 = torch.from_numpy(np.clip(x8, -1, 1).astype(np.float32))
    write_grad_case(out / "grad_cnnf-fmnist.h5", gm.build_cnnf_fmnist(), w_fm, x8, y8, 2, 0.1, 1.0, 0,
                    "cnnf-fmnist, 8 dithered training images, T = 2, mse 0.1")
    # adversarial layout: 4 clean + 4 perturbed copies, clean_parameter 0.1, T = 1
    xa = torch.cat([x8[:4], torch.clamp(x8[:4] + 0.2 * torch.from_numpy(
        rng.choice([-1.0, 1.0], size=(4, 1, 28, 28)).astype(np.float32)), -1, 1)])
    write_grad_case(out / "grad_cnnf-fmnist-adversarial.h5", gm.build_cnnf_fmnist(), w_fm, xa, y8[:4], 1, 0.1, 0.1,
                    4, "cnnf-fmnist, 4 clean + 4 perturbed (sign noise 0.2), T = 1, mse 0.1, clean_parameter 0.1")
    # vgg16-cnnf at width 1/8, 32x32: avgpool, dropout, five conv stages, T = 2
    w_vgg = load_weights(model_dir / "vgg16-cnnf-w0125.weights.h5")
    xv = gm.imagenet_noise(3, 32, 21)
    yv = np.array([1, 7, 3], dtype=np.int32)
    write_grad_case(out / "grad_vgg16-cnnf-w0125.h5", gm.build_vgg16(0.125, 10, 32, cnnf=True), w_vgg, xv, yv, 2, 0.1,
                    1.0, 0, "vgg16-cnnf width 1/8, 10 classes, 3 ImageNet-normalised noise images, T = 2, mse 0.1")
    write_attack_case(out / "attack_cnnf-fmnist.h5", w_fm, x8, y8, 3, 0.1)
    write_sgd_case(out, model_dir / "cnnf-fmnist.weights.h5", args.reference_repo)
    (out / ".generated").write_text(stamp)


if __name__ == "__main__":
    main()
