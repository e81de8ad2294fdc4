#!/usr/bin/python3
"""Independent PyTorch (float64) reference for the neurocmp CNN-F engine.

Writes the model fixtures the C engine is tested against (docs/cnnf-semantics.md, docs/formats.md):

    <case>.weights.h5   weights file (docs/formats.md) (float32, PyTorch state_dict keys)
    <case>.ref.h5       /input (float32, exactly what the network sees) and
                        /outputs/<layer> float64 [T+1, N, ...] per iteration

Usage (always with the Debian python that has torch):

    /usr/bin/python3 tests/gen_model_fixtures.py [OUT_DIR]
        committed small cases: cnnf-fmnist, vgg16-w0125, vgg16-cnnf-w0125
        (OUT_DIR defaults to tests/fixtures/model/ next to this script)
    /usr/bin/python3 tests/gen_model_fixtures.py --full-vgg16 DIR
        full-size (not committed) cases vgg16 and vgg16-cnnf at 224x224
    --reference-repo DIR
        optional: path to a checkout of github.com/yjhuangcd/CNNF; the
        cnnf-fmnist iterates are then compared with the reference's own
        model code (cnnf/model_mnist.py) on the same weights.

The network code below is written from docs/cnnf-semantics.md and the semantics
documented in docs/cnnf-semantics.md (which records where the reference code
is more specific than the specification it follows).  It does not import or copy the reference;
the reference is only *run* (optionally) for the cross-check.

Every run executes self-checks (assertions): adjoint identities of every
top-down operator, agreement of the hand-written pooling with PyTorch's,
PyTorch's first-index tie rule, and agreement of the plain `vgg16` network
with torchvision's VGG-16 at width 1 to 1e-12 in float64.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F

DT = torch.float64          # every reference computation runs in float64
STEP = 0.1                  # res_param: step of the update and of AdaReLU
INSNORM_EPS = 1e-8          # inside the square root, as in docs/cnnf-semantics.md
GENERATOR = "tests/gen_model_fixtures.py"
FMNIST_TEST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------
# Layers.  Each layer has
#   forward(x)   -- feed-forward; CNN-F layers choose "first pass" or "later
#                   pass" behaviour from their own state (h is None or not)
#   backward(g)  -- top-down (feedback) operator; stores h where required
#   reset()      -- forget all state (done at the start of every image batch)
# Parameters are looked up by state_dict key in a dict of float64 tensors.
# ---------------------------------------------------------------------------

class Layer:
    kind = "?"
    stage_start = False      # does this layer begin a new top-down stage?

    def __init__(self, name):
        self.name = name

    def params(self):
        """[(key, shape, init)] of the parameters this layer reads."""
        return []

    def bind(self, weights):
        pass

    def reset(self):
        pass

    def backward(self, g):
        raise NotImplementedError(f"{self.kind} ({self.name}) has no top-down rule")


class Conv(Layer):
    """3x3 convolution.  Top-down: transposed convolution with the same W
    (the exact adjoint; for stride > 1 output_padding = 1 as in the reference,
    which is exact for stride 2, pad 1, even input)."""
    kind = "conv"
    stage_start = True

    def __init__(self, name, cin, cout, wkey, bkey=None, k=3, stride=1, pad=1):
        super().__init__(name)
        self.cin, self.cout, self.k, self.stride, self.pad = cin, cout, k, stride, pad
        self.wkey, self.bkey = wkey, bkey

    def params(self):
        p = [(self.wkey, (self.cout, self.cin, self.k, self.k), "he_fan_out")]
        if self.bkey:
            p.append((self.bkey, (self.cout,), "bias"))
        return p

    def bind(self, w):
        self.W = w[self.wkey]
        self.b = w[self.bkey] if self.bkey else None

    def forward(self, x):
        return F.conv2d(x, self.W, self.b, stride=self.stride, padding=self.pad)

    def backward(self, g):
        assert self.b is None, "a conv with a built-in bias has no CNN-F top-down rule"
        op = 1 if self.stride > 1 else 0
        return F.conv_transpose2d(g, self.W, None, stride=self.stride,
                                  padding=self.pad, output_padding=op)


class Linear(Layer):
    """y = W x (+ b only in plain vgg16).  Top-down: W^T g."""
    kind = "linear"
    stage_start = True

    def __init__(self, name, fin, fout, wkey, bkey=None, init="uniform_fan_in"):
        super().__init__(name)
        self.fin, self.fout, self.wkey, self.bkey, self.init = fin, fout, wkey, bkey, init

    def params(self):
        p = [(self.wkey, (self.fout, self.fin), self.init)]
        if self.bkey:
            p.append((self.bkey, (self.fout,), "bias"))
        return p

    def bind(self, w):
        self.W = w[self.wkey]
        self.b = w[self.bkey] if self.bkey else None

    def forward(self, x):
        y = x @ self.W.t()
        return y + self.b if self.b is not None else y

    def backward(self, g):
        assert self.b is None
        return g @ self.W


def insnorm(x):
    """x / sqrt(mean_HW(x^2) + 1e-8) per sample and channel (no centring)."""
    return x / torch.sqrt((x * x).mean(dim=(2, 3), keepdim=True) + INSNORM_EPS)


class InsNorm(Layer):
    """Top-down: insnorm is applied to g when g *enters* the conv stage, i.e.
    before the pool/relu transposes (handled by Net.feedback, not here)."""
    kind = "insnorm"

    def forward(self, x):
        return insnorm(x)


class Bias(Layer):
    """x + b (b broadcast over N and, for maps, H, W).  Top-down: identity."""
    kind = "bias"

    def __init__(self, name, key, shape):
        super().__init__(name)
        self.key, self.shape = key, tuple(shape)

    def params(self):
        return [(self.key, self.shape, "bias")]

    def bind(self, w):
        self.b = w[self.key]

    def forward(self, x):
        c = self.b.numel()
        return x + (self.b.reshape(1, c, 1, 1) if x.dim() == 4 else self.b.reshape(1, c))

    def backward(self, g):
        return g


class ReLU(Layer):
    """Plain ReLU (vgg16 only, feed-forward only)."""
    kind = "relu"

    def forward(self, x):
        return torch.clamp_min(x, 0.0)


class AdaReLU(Layer):
    """AdaReLU with residual update (the reference's resReLU).
    state: mask (from the latest forward), h (g of the latest backward).
      forward, h is None : mask = [x > 0];                      out = x*mask
      forward, h set     : x' = x + STEP*(h - x); mask=[x'*h>0]; out = x'*mask
      backward(g)        : h = g;                                return g*mask
    """
    kind = "adarelu"

    def reset(self):
        self.h = None
        self.mask = None

    def forward(self, x):
        if self.h is not None:
            x = x + STEP * (self.h - x)
            self.mask = (x * self.h) > 0
        else:
            self.mask = x > 0
        return x * self.mask.to(x.dtype)

    def backward(self, g):
        self.h = g
        return g * self.mask.to(g.dtype)


def _windows(x):
    """Non-overlapping 2x2 windows: [N,C,Ho,Wo,4] in row-major window order
    (0,0),(0,1),(1,0),(1,1); an odd last row/column is dropped (floor)."""
    n, c, hh, ww = x.shape
    ho, wo = hh // 2, ww // 2
    v = x[:, :, :2 * ho, :2 * wo].reshape(n, c, ho, 2, wo, 2)
    return v.permute(0, 1, 2, 4, 3, 5).reshape(n, c, ho, wo, 4)


def _pool(x, which):
    """max (or min) over each 2x2 window and the flat plane index (h*W + w)
    of the FIRST maximum (minimum) in window order (torch.argmax/argmin return
    the first extremal index)."""
    v = _windows(x)
    k = v.argmax(dim=-1) if which == "max" else v.argmin(dim=-1)
    val = torch.gather(v, -1, k.unsqueeze(-1)).squeeze(-1)
    n, c, ho, wo = val.shape
    ww = x.shape[3]
    rows = 2 * torch.arange(ho).reshape(1, 1, ho, 1) + k // 2
    cols = 2 * torch.arange(wo).reshape(1, 1, 1, wo) + k % 2
    return val, rows * ww + cols


def _unpool(g, idx, size):
    """Scatter g [N,C,Ho,Wo] to flat plane positions idx in a zero map of
    spatial size `size` (the adjoint of gathering at idx)."""
    n, c = g.shape[:2]
    out = torch.zeros(n, c, size[0] * size[1], dtype=g.dtype)
    out.scatter_add_(2, idx.reshape(n, c, -1), g.reshape(n, c, -1))
    return out.reshape(n, c, size[0], size[1])


class MaxPool(Layer):
    """Plain 2x2/2 max-pool (vgg16 only, feed-forward only)."""
    kind = "maxpool"

    def forward(self, x):
        return _pool(x, "max")[0]


class AdaPool(Layer):
    """AdaPool 2x2/2 (the reference's layers.MaxPool2d).
    state: argmax, argmin, pos=[h>0], neg=[h<0] (from the latest forward),
           h (g of the latest backward), input size.
      forward, h is None : out = maxpool(x); store argmax; pos = neg = None
      forward, h set     : pos=[h>0], neg=[h<0] with the STORED h;
                           out = pos*max(x) + neg*min(x); store argmax, argmin
                           (h == 0 gives 0)
      backward(g), pos None (first feedback after reset):
                           out = unpool(g -> argmax)
      backward(g), later : out = unpool(g*pos -> argmax) + unpool(g*neg -> argmin)
                           (pos/neg are the masks of the latest forward, i.e.
                            built from the h of the PREVIOUS feedback)
      then h = g.
    """
    kind = "adapool"

    def reset(self):
        self.h = self.pos = self.neg = self.imax = self.imin = None

    def forward(self, x):
        self.size = x.shape[2:]
        mx, self.imax = _pool(x, "max")
        if self.h is None:
            return mx
        mn, self.imin = _pool(x, "min")
        self.pos = (self.h > 0).to(x.dtype)
        self.neg = (self.h < 0).to(x.dtype)
        return self.pos * mx + self.neg * mn

    def backward(self, g):
        if self.pos is None:
            out = _unpool(g, self.imax, self.size)
        else:
            out = (_unpool(g * self.pos, self.imax, self.size)
                   + _unpool(g * self.neg, self.imin, self.size))
        self.h = g
        return out


def _adaptive_bounds(n_in, n_out):
    # PyTorch / torchvision adaptive pooling windows: [floor(i*n/m), ceil((i+1)*n/m))
    return [((i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)) for i in range(n_out)]


class AdaptiveAvgPool(Layer):
    """Adaptive average pooling to out x out (torchvision VGG: 7x7; identity
    when the map is already 7x7).  Stateless.  Top-down: the exact adjoint,
    g[i,j]/area(i,j) added to every input position of window (i,j)."""
    kind = "avgpool"
    stage_start = True

    def __init__(self, name, out=7):
        super().__init__(name)
        self.out = out

    def forward(self, x):
        self.size = x.shape[2:]
        rb, cb = _adaptive_bounds(x.shape[2], self.out), _adaptive_bounds(x.shape[3], self.out)
        y = torch.empty(x.shape[0], x.shape[1], self.out, self.out, dtype=x.dtype)
        for i, (r0, r1) in enumerate(rb):
            for j, (c0, c1) in enumerate(cb):
                y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(dim=(2, 3))
        return y

    def backward(self, g):
        hh, ww = self.size
        rb, cb = _adaptive_bounds(hh, self.out), _adaptive_bounds(ww, self.out)
        out = torch.zeros(g.shape[0], g.shape[1], hh, ww, dtype=g.dtype)
        for i, (r0, r1) in enumerate(rb):
            for j, (c0, c1) in enumerate(cb):
                area = (r1 - r0) * (c1 - c0)
                out[:, :, r0:r1, c0:c1] += (g[:, :, i, j] / area)[:, :, None, None]
        return out


class Flatten(Layer):
    """[N,C,H,W] -> [N, C*H*W] in C order.  Top-down: reshape back."""
    kind = "flatten"
    stage_start = True

    def forward(self, x):
        self.shape = x.shape[1:]
        return x.reshape(x.shape[0], -1)

    def backward(self, g):
        return g.reshape(g.shape[0], *self.shape)


class Dropout(Layer):
    """Inactive at inference: identity both ways."""
    kind = "dropout"

    def forward(self, x):
        return x

    def backward(self, g):
        return g


# ---------------------------------------------------------------------------
# Sequential network with CNN-F iterative inference
# ---------------------------------------------------------------------------

class Net:
    """A sequential list of layers.

    `observe` maps an observable name to the layer whose output it is.
    `update` is the name of the layer whose output is the update layer
    (or "input" for pixel-level reconstruction).

    Top-down stages: a stage begins at a conv, linear, flatten or avgpool and
    holds the layers up to the next stage start.  Feedback runs the stages
    above the update layer from the top down; inside a stage, the insnorm
    (if any) is applied to g first, then the other layers' backward() in
    reverse order (pool^T, relu^T, bias^T = id, conv^T).
    """

    def __init__(self, arch, layers, observe, update, num_classes, width, input_size, in_ch):
        self.arch, self.layers, self.observe = arch, layers, observe
        self.num_classes, self.width, self.input_size, self.in_ch = num_classes, width, input_size, in_ch
        self.index = {L.name: i for i, L in enumerate(layers)}
        assert len(self.index) == len(layers), "duplicate layer names"
        self.set_update(update)

    def set_update(self, update):
        self.update = update
        self.u = -1 if update == "input" else self.index[self.observe.get(update, update)]
        # the update layer must close a stage (so no stage is cut in two)
        nxt = self.u + 1
        assert nxt < len(self.layers) and self.layers[nxt].stage_start, \
            f"update layer {update!r} is not at a stage boundary"

    def param_specs(self):
        out = []
        for L in self.layers:
            out += L.params()
        return out

    def bind(self, weights):
        keys = {k for k, _, _ in self.param_specs()}
        missing = keys - set(weights)
        assert not missing, f"missing weights {sorted(missing)}"
        for k, shape, _ in self.param_specs():
            assert tuple(weights[k].shape) == tuple(shape), (k, weights[k].shape, shape)
        for L in self.layers:
            L.bind(weights)

    def reset(self):
        for L in self.layers:
            L.reset()

    def _record(self, i, x, rec):
        for obs, lname in self.observe.items():
            if self.index[lname] == i:
                rec[obs] = x.clone()

    def forward_from(self, x, start):
        """Run layers start.. on x; return (output, {observable: tensor})."""
        rec = {}
        for i in range(start, len(self.layers)):
            x = self.layers[i].forward(x)
            self._record(i, x, rec)
        return x, rec

    def feedback(self, g, tap=None):
        """Top-down pass from the logits to the update layer.  tap(i, when, g),
        if given, sees the signal before and after layer i's rule (training's
        reconstruction targets, tests/gen_train_fixtures.py)."""
        stages, cur = [], []
        for i in range(self.u + 1, len(self.layers)):
            if self.layers[i].stage_start and cur:
                stages.append(cur)
                cur = []
            cur.append(self.layers[i])
        stages.append(cur)
        for st in reversed(stages):
            kinds = [L.kind for L in st]
            if "insnorm" in kinds:
                assert kinds[0] == "conv" and kinds[1] == "insnorm", kinds
                g = insnorm(g)
            for L in reversed(st):
                if L.kind != "insnorm":
                    if tap:
                        tap(self.index[L.name], "before", g)
                    g = L.backward(g)
                    if tap:
                        tap(self.index[L.name], "after", g)
        return g

    def run(self, x, T):
        """CNN-F iterative inference.  Returns {observable: [T+1, N, ...]}."""
        self.reset()
        rec0 = {}
        h = x
        for i, L in enumerate(self.layers):      # iteration 0: plain forward
            h = L.forward(h)
            self._record(i, h, rec0)
            if i == self.u:
                upd = h
        if self.u == -1:
            upd = x
        logits = h
        recs = [rec0]
        for t in range(1, T + 1):
            r = self.feedback(logits)
            upd = upd + STEP * (r - upd)
            logits, rec = self.forward_from(upd, self.u + 1)
            for obs, lname in self.observe.items():      # not recomputed:
                j = self.index[lname]
                if j == self.u:
                    rec[obs] = upd.clone()               # the update layer is h_t
                elif j < self.u:
                    rec[obs] = rec0[obs]                 # below it: unchanged
            recs.append(rec)
        return {k: torch.stack([r[k] for r in recs]) for k in self.observe}


# ---------------------------------------------------------------------------
# Architectures
# ---------------------------------------------------------------------------

def build_cnnf_fmnist(num_classes=10):
    L = []
    chans = [(1, 16), (16, 32), (32, 32), (32, 64)]
    for s, (ci, co) in enumerate(chans, start=1):
        L += [Conv(f"conv{s}", ci, co, f"conv{s}.conv.weight"),
              InsNorm(f"ins{s}"),
              Bias(f"ins{s}_bias", f"ins{s}_bias.bias", (1, co, 1, 1)),
              AdaReLU(f"relu{s}")]
        if s >= 3:
            L.append(AdaPool(f"maxpool{s}"))
    L.append(Flatten("flatten"))
    fcs = [(3136, 1000), (1000, 128), (128, num_classes)]
    for s, (fi, fo) in enumerate(fcs, start=1):
        L += [Linear(f"fc{s}", fi, fo, f"fc{s}.linear.weight"),
              Bias(f"fc{s}_bias", f"fc{s}_bias.bias", (1, fo))]
        if s < 3:
            L.append(AdaReLU(f"relu{s + 4}"))
    observe = {"block1": "relu3", "block2": "relu4", "fc1": "relu5",
               "fc2": "relu6", "logits": "fc3_bias"}
    return Net("cnnf-fmnist", L, observe, "relu2", num_classes, 1.0, 28, 1)


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def scaled(c, w):
    """Width multiplier: max(1, round-half-up(c*w))."""
    return max(1, int(math.floor(c * w + 0.5)))


def build_vgg16(width=1.0, num_classes=1000, input_size=224, cnnf=False, update="block1"):
    """torchvision VGG-16 layout and keys (features.N, classifier.N).
    cnnf=False: conv+bias, ReLU, max-pool (torchvision semantics).
    cnnf=True : conv (no bias) -> insnorm -> bias (features.N.bias) -> adarelu,
                adapool; linear -> bias (classifier.N.bias) -> adarelu."""
    L, observe = [], {}
    idx, cin, blk, k = 0, 3, 1, 1
    for v in VGG16_CFG:
        if v == "M":
            L.append(AdaPool(f"pool{blk}") if cnnf else MaxPool(f"pool{blk}"))
            observe[f"block{blk}"] = f"pool{blk}"
            idx += 1
            blk, k = blk + 1, 1
            continue
        co = scaled(v, width)
        nm = f"{blk}_{k}"
        if cnnf:
            L += [Conv(f"conv{nm}", cin, co, f"features.{idx}.weight"),
                  InsNorm(f"ins{nm}"),
                  Bias(f"bias{nm}", f"features.{idx}.bias", (co,)),
                  AdaReLU(f"relu{nm}")]
        else:
            L += [Conv(f"conv{nm}", cin, co, f"features.{idx}.weight", f"features.{idx}.bias"),
                  ReLU(f"relu{nm}")]
        idx += 2
        cin, k = co, k + 1
    hid = scaled(4096, width)
    L += [AdaptiveAvgPool("avgpool", 7), Flatten("flatten")]
    lin_init = "uniform_fan_in" if cnnf else "normal_0.01"
    fcs = [(cin * 49, hid, 0, "fc6"), (hid, hid, 3, "fc7"), (hid, num_classes, 6, "fc8")]
    for fi, fo, ci, nm in fcs:
        if cnnf:
            L += [Linear(nm, fi, fo, f"classifier.{ci}.weight", init=lin_init),
                  Bias(f"bias_{nm}", f"classifier.{ci}.bias", (fo,))]
        else:
            L.append(Linear(nm, fi, fo, f"classifier.{ci}.weight", f"classifier.{ci}.bias", init=lin_init))
        if nm != "fc8":
            num = nm[2:]
            L += [AdaReLU(f"relu{num}") if cnnf else ReLU(f"relu{num}"), Dropout(f"drop{num}")]
            observe[nm] = f"relu{num}"
    observe["logits"] = L[-1].name
    arch = "vgg16-cnnf" if cnnf else "vgg16"
    return Net(arch, L, observe, update if cnnf else "input", num_classes, width, input_size, 3)


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------

def quantize(w, step):
    return torch.round(w / step) * step


def make_weights(net, seed, coarse):
    """Draw every parameter in state_dict order with a seeded generator.
      he_fan_out     : N(0, 2/(k*k*out))   (reference layers.Conv2d, torchvision VGG)
      uniform_fan_in : U(-1/sqrt(in), 1/sqrt(in))  (nn.Linear default, reference Linear)
      normal_0.01    : N(0, 0.01^2)         (torchvision VGG linear)
      bias           : N(0, 0.1^2), never exactly 0
    coarse=True rounds every value to a power-of-two grid q so that the
    float32 files compress well (all such values are exactly representable in
    float16 and float32): conv q = 2^(floor(log2 std) - 1), linear
    q = 2^floor(log2 std), bias q = 2^-10.  (A conv grid as coarse as the
    linear one made exact/near ties in the t=0 pooling windows of cnnf-fmnist
    likely, and the float32 iterates then diverge from float64 at t >= 1.)
    Returns {key: float32 tensor}."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape, init in net.param_specs():
        if init == "he_fan_out":
            std = math.sqrt(2.0 / (shape[0] * shape[2] * shape[3]))
            w = torch.randn(shape, generator=g, dtype=DT) * std
        elif init == "uniform_fan_in":
            bound = 1.0 / math.sqrt(shape[1])
            std = bound / math.sqrt(3.0)
            w = (torch.rand(shape, generator=g, dtype=DT) * 2 - 1) * bound
        elif init == "normal_0.01":
            std = 0.01
            w = torch.randn(shape, generator=g, dtype=DT) * std
        elif init == "bias":
            std = 0.1
            w = torch.randn(shape, generator=g, dtype=DT) * std
        else:
            raise ValueError(init)
        if coarse:
            if init == "bias":
                q = 2.0 ** -10
            elif init == "he_fan_out":
                q = 2.0 ** (math.floor(math.log2(std)) - 1)     # std/q in [2, 4)
            else:
                q = 2.0 ** math.floor(math.log2(std))           # std/q in [1, 2)
            w = quantize(w, q)
            if init == "bias":
                w[w == 0] = q
        elif init == "bias":
            w[w == 0] = 1e-3
        out[key] = w.to(torch.float32)
    return out


def to64(weights):
    return {k: v.to(DT) for k, v in weights.items()}


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def fmnist_inputs(n, seed):
    """First n Fashion-MNIST test images, scaled as the reference does
    (ToTensor + Normalize(0.5, 0.5): 2p/255 - 1), plus a seeded dither
    uniform in +-1/255, reflected at +-1 so the result stays in [-1, 1]."""
    with gzip.open(FMNIST_TEST, "rb") as f:
        raw = f.read()
    magic, cnt, rows, cols = np.frombuffer(raw[:16], dtype=">i4")
    assert magic == 2051 and rows == 28 and cols == 28
    px = np.frombuffer(raw[16:16 + n * 784], dtype=np.uint8).reshape(n, 1, 28, 28)
    rng = np.random.default_rng(seed)
    x = 2.0 * px.astype(np.float64) / 255.0 - 1.0
    x = x + rng.uniform(-1.0 / 255, 1.0 / 255, size=x.shape)
    x = np.where(x < -1, -2 - x, x)
    x = np.where(x > 1, 2 - x, x)
    return torch.from_numpy(x.astype(np.float32))


def imagenet_noise(n, size, seed):
    """Seeded uniform [0,1] RGB noise, normalised with ImageNet mean/std."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, 3, size, size))
    m = np.array(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    s = np.array(IMAGENET_STD).reshape(1, 3, 1, 1)
    return torch.from_numpy(((x - m) / s).astype(np.float32))


# ---------------------------------------------------------------------------
# HDF5 output
# ---------------------------------------------------------------------------

def _dset(f, name, arr, compress):
    kw = dict(compression="gzip", compression_opts=9, shuffle=True) if compress else {}
    f.create_dataset(name, data=arr, **kw)


def write_weights(path, net, weights, seed, compress, extra=None):
    with h5py.File(path, "w") as f:
        for key, _, _ in net.param_specs():
            _dset(f, key, weights[key].numpy().astype(np.float32), compress)
        f.attrs["arch"] = net.arch
        f.attrs["width"] = float(net.width)
        f.attrs["input_size"] = int(net.input_size)
        f.attrs["num_classes"] = int(net.num_classes)
        f.attrs["seed"] = int(seed)
        f.attrs["generator"] = GENERATOR
        for k, v in (extra or {}).items():
            f.attrs[k] = v


LAYER_MEANING = {
    "cnnf-fmnist": {"block1": "relu3 output (AdaReLU after conv3/ins3/ins3_bias), before maxpool3",
                    "block2": "relu4 output (AdaReLU after conv4/ins4/ins4_bias), before maxpool4",
                    "fc1": "relu5 output (after fc1, fc1_bias)",
                    "fc2": "relu6 output (after fc2, fc2_bias)",
                    "logits": "fc3_bias output (raw logits, no softmax)"},
    "vgg16": {**{f"block{i}": f"pool{i} output" for i in range(1, 6)},
              "fc6": "ReLU output after classifier.0 (before dropout)",
              "fc7": "ReLU output after classifier.3 (before dropout)",
              "logits": "classifier.6 output"},
}
LAYER_MEANING["vgg16-cnnf"] = dict(LAYER_MEANING["vgg16"],
                                   block1="pool1 (AdaPool) output at t=0; at t>=1 the update-layer "
                                          "state h_t = h_{t-1} + 0.1 (conv2_1^T(...) - h_{t-1})",
                                   fc6="AdaReLU output after classifier.0 and its bias",
                                   fc7="AdaReLU output after classifier.3 and its bias",
                                   logits="classifier.6 output plus classifier.6.bias")


def write_ref(path, net, x32, outs, T, seed, description, compress):
    with h5py.File(path, "w") as f:
        _dset(f, "input", x32.numpy().astype(np.float32), compress)
        g = f.create_group("outputs")
        for name in net.observe:
            _dset(g, name, outs[name].numpy().astype(np.float64), compress)
        f.attrs["arch"] = net.arch
        f.attrs["width"] = float(net.width)
        f.attrs["input_size"] = int(net.input_size)
        f.attrs["num_classes"] = int(net.num_classes)
        f.attrs["iterations"] = int(T)
        f.attrs["update_layer"] = net.update if net.arch != "vgg16" else "none"
        f.attrs["step"] = STEP
        f.attrs["seed"] = int(seed)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["generator"] = GENERATOR
        f.attrs["description"] = description
        f.attrs["layers"] = json.dumps({k: LAYER_MEANING[net.arch][k] for k in net.observe})


# ---------------------------------------------------------------------------
# Self-checks
# ---------------------------------------------------------------------------

def _inner(a, b):
    return float((a * b).sum())


def _adj(fwd, bwd, xshape, gshape, what, gen):
    x = torch.randn(xshape, generator=gen, dtype=DT)
    gg = torch.randn(gshape, generator=gen, dtype=DT)
    a, b = _inner(fwd(x), gg), _inner(x, bwd(gg))
    assert abs(a - b) <= 1e-12 * max(1.0, abs(a)), f"adjoint check {what}: {a} vs {b}"


def self_checks():
    gen = torch.Generator().manual_seed(12345)
    # conv / conv^T (stride 1, and stride 2 with output_padding 1 on even input)
    for stride, hw in ((1, 9), (2, 10)):
        c = Conv("c", 3, 5, "w", stride=stride)
        c.bind({"w": torch.randn(5, 3, 3, 3, generator=gen, dtype=DT)})
        yshape = c.forward(torch.zeros(2, 3, hw, hw, dtype=DT)).shape
        _adj(c.forward, c.backward, (2, 3, hw, hw), yshape, f"conv stride {stride}", gen)
    # linear / linear^T
    lin = Linear("l", 7, 4, "w")
    lin.bind({"w": torch.randn(4, 7, generator=gen, dtype=DT)})
    _adj(lin.forward, lin.backward, (3, 7), (3, 4), "linear", gen)
    # adaptive avgpool: vs torch, adjoint, vs autograd
    for hw in (1, 2, 3, 5, 7, 13, 14, 15):
        ap = AdaptiveAvgPool("a", 7)
        x = torch.randn(2, 3, hw, hw, generator=gen, dtype=DT)
        assert torch.allclose(ap.forward(x), F.adaptive_avg_pool2d(x, 7), rtol=0, atol=1e-14)
        _adj(ap.forward, ap.backward, (2, 3, hw, hw), (2, 3, 7, 7), f"avgpool {hw}", gen)
        xr = x.clone().requires_grad_(True)
        gg = torch.randn(2, 3, 7, 7, generator=gen, dtype=DT)
        (F.adaptive_avg_pool2d(xr, 7) * gg).sum().backward()
        assert torch.allclose(xr.grad, ap.backward(gg), rtol=0, atol=1e-13)
    # pooling: hand-written windows agree with torch.max_pool2d (values and
    # indices) on tie-free input, odd sizes included; ties -> first index
    for hw in (8, 9):
        x = torch.randn(2, 3, hw, hw, generator=gen, dtype=DT)
        v, i = _pool(x, "max")
        tv, ti = F.max_pool2d(x, 2, return_indices=True)
        assert torch.equal(v, tv) and torch.equal(i, ti)
        v, i = _pool(x, "min")
        tv, ti = F.max_pool2d(-x, 2, return_indices=True)
        assert torch.equal(v, -tv) and torch.equal(i, ti)
    tie = torch.tensor([[[[0.0, 1.0, 2.0, 2.0], [1.0, 0.0, 2.0, 2.0]]]], dtype=DT)
    _, i = _pool(tie, "max")
    _, ti = F.max_pool2d(tie, 2, return_indices=True)
    assert i.flatten().tolist() == [1, 2] and torch.equal(i, ti), "max tie rule"
    _, i = _pool(tie, "min")
    assert i.flatten().tolist() == [0, 2], "min tie rule"   # first minimum
    # AdaPool in both modes: backward is the adjoint of forward with the
    # routing (indices, masks) frozen
    ap = AdaPool("p")
    ap.reset()
    x0 = torch.randn(2, 3, 8, 8, generator=gen, dtype=DT)
    ap.forward(x0)
    imax = ap.imax
    _adj(lambda z: torch.gather(z.reshape(2, 3, -1), 2, imax.reshape(2, 3, -1)).reshape(2, 3, 4, 4),
         ap.backward, (2, 3, 8, 8), (2, 3, 4, 4), "adapool first", gen)
    ap.forward(x0)                                        # later mode (h set)
    pos, neg, imin, imax = ap.pos, ap.neg, ap.imin, ap.imax

    def later(z):
        gat = lambda ind: torch.gather(z.reshape(2, 3, -1), 2, ind.reshape(2, 3, -1)).reshape(2, 3, 4, 4)
        return pos * gat(imax) + neg * gat(imin)
    assert torch.equal(later(x0), ap.forward(x0))
    _adj(later, ap.backward, (2, 3, 8, 8), (2, 3, 4, 4), "adapool later", gen)
    # flatten
    fl = Flatten("f")
    fl.forward(torch.zeros(2, 3, 4, 5, dtype=DT))
    _adj(lambda z: z.reshape(2, -1), fl.backward, (2, 3, 4, 5), (2, 60), "flatten", gen)
    print("self-checks: adjoints, pooling, tie rule OK")


def check_vs_torchvision(size, seed, n=2, tv_model=None, weights=None):
    """Plain vgg16 at width 1 must equal torchvision's forward (float64)."""
    import torchvision
    if tv_model is None:
        torch.manual_seed(seed)
        tv_model = torchvision.models.vgg16(weights=None)
        g = torch.Generator().manual_seed(seed + 1)
        for k, p in tv_model.state_dict().items():
            if k.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    tv_model = tv_model.double().eval()
    net = build_vgg16(1.0, 1000, size)
    net.bind(weights if weights is not None else
             {k: v.to(DT) for k, v in tv_model.state_dict().items()})
    x = imagenet_noise(n, size, seed + 2).to(DT)
    with torch.no_grad():
        ref = tv_model(x)
        mine = net.run(x, 0)["logits"][0]
    err = float((mine - ref).abs().max() / ref.abs().max())
    assert err <= 1e-12, f"vgg16 vs torchvision: {err}"
    print(f"self-check: vgg16 width 1, {size}x{size}: max normalised error vs torchvision = {err:.2e}")
    return err


# ---------------------------------------------------------------------------
# Optional comparison with the reference repository's own model code
# ---------------------------------------------------------------------------

def compare_with_reference(repo, weights32, x32, outs, T):
    import types
    sys.path.insert(0, str(Path(repo).resolve()))
    if "tensorboardX" not in sys.modules:
        try:
            import tensorboardX  # noqa: F401
        except ImportError:      # imported but unused by cnnf/model_mnist.py
            sys.modules["tensorboardX"] = types.SimpleNamespace(SummaryWriter=None)
    from cnnf.model_mnist import CNNF
    result = {}
    for dtype in (torch.float64, torch.float32):
        m = CNNF(10, ind=2, cycles=T, res_param=STEP).to(dtype).eval()
        sd = {k: v.to(dtype) for k, v in weights32.items()}
        missing, unexpected = m.load_state_dict(sd, strict=False)
        assert not unexpected, unexpected
        # only the tied copies / aliases may be missing
        assert all(k.endswith("conv_t.weight") or k.endswith("linear_t.weight")
                   or (k.startswith("fc") and k.count(".") == 1) for k in missing), missing
        cap, rec = {}, [False]
        names = {"relu3": "block1", "relu4": "block2", "relu5": "fc1", "relu6": "fc2"}
        for mod, obs in names.items():
            getattr(m, mod).register_forward_hook(
                lambda _m, _i, o, obs=obs: cap.__setitem__(obs, o.detach().clone()) if rec[0] else None)
        iters = []
        x = x32.to(dtype)
        with torch.no_grad():     # the loop of CNNF.run_cycles, without .cuda()
            m.reset()
            rec[0] = True
            out, orig, _, _ = m(x, first=True, inter=True)
            rec[0] = False
            iters.append(dict(cap, logits=out.clone()))
            prev = orig
            for _ in range(T):
                r = m(out, step="backward")
                cur = prev + STEP * (r - prev)
                rec[0] = True
                out = m(cur, first=False)
                rec[0] = False
                iters.append(dict(cap, logits=out.clone()))
                prev = cur
        errs = {}
        for name in outs:
            ref = torch.stack([it[name] for it in iters]).to(DT)
            errs[name] = [float((outs[name][t] - ref[t]).abs().max() / ref[t].abs().max())
                          for t in range(T + 1)]
        result[str(dtype).replace("torch.", "")] = errs
    print("comparison with the reference code (max|mine-ref|/max|ref| per iteration):")
    for dt, errs in result.items():
        print(f"  reference run in {dt}:")
        for name, e in errs.items():
            print(f"    {name:7s} " + " ".join(f"{v:.1e}" for v in e))
    worst = max(max(e) for e in result["float64"].values())
    assert worst <= 1e-9, f"float64 disagreement with the reference code: {worst}"
    return result


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

INIT_NOTE = ("conv: N(0, 2/(k*k*out)) (He normal, fan_out); linear: U(-1/sqrt(in), 1/sqrt(in)) "
             "(cnnf nets) or N(0, 0.01^2) (plain vgg16); biases N(0, 0.1^2), never 0; coarse runs "
             "round to a power-of-two grid (conv 2^(floor(log2 std)-1), linear 2^floor(log2 std), "
             "bias 2^-10)")


def run_case(out_dir, case, net, weights32, x32, T, seed, description, compress=True):
    net.bind(to64(weights32))
    t0 = time.time()
    with torch.no_grad():
        outs = net.run(x32.to(DT), T)
    write_weights(out_dir / f"{case}.weights.h5", net, weights32, seed, compress,
                  {"init": INIT_NOTE, "coarse_grid": int(compress)})
    write_ref(out_dir / f"{case}.ref.h5", net, x32, outs, T, seed, description, compress)
    print(f"{case}: T={T}, N={x32.shape[0]}, run {time.time() - t0:.1f}s; "
          + ", ".join(f"{k}{list(v.shape)}" for k, v in outs.items()))
    return outs


def float32_fragility(net, weights32, x32, outs, T):
    """Informative: the same network run in float32 vs the float64 result,
    max|f32-f64|/max|f64| per layer and iteration (large values at t >= 1
    mean some routing choice is within rounding of a tie; docs/cnnf-semantics.md)."""
    net.bind(weights32)
    with torch.no_grad():
        o32 = net.run(x32, T)
    net.bind(to64(weights32))
    errs = {k: [float((o32[k][t].to(DT) - outs[k][t]).abs().max() / outs[k][t].abs().max())
                for t in range(T + 1)] for k in outs}
    print("  float32 run of the same net vs float64 (per iteration):")
    for k, e in errs.items():
        print(f"    {k:7s} " + " ".join(f"{v:.1e}" for v in e))
    return errs


def committed_cases(out_dir, reference_repo):
    # cnnf-fmnist
    seed = 1
    net = build_cnnf_fmnist(10)
    w = make_weights(net, seed, coarse=True)
    x = fmnist_inputs(4, seed)
    T = 5
    outs = run_case(out_dir, "cnnf-fmnist", net, w, x, T, seed,
                    "CNN-F Fashion-MNIST reference net (docs/spec-files.md), random coarse-grid weights, "
                    "first 4 t10k images scaled to [-1,1] with +-1/255 dither, update layer relu2 "
                    "(ind=2), T=5 cycles, float64")
    errs = float32_fragility(net, w, x, outs, T)
    worst = max(max(e) for e in errs.values())
    assert worst < 1e-5, f"cnnf-fmnist fixture is tie-fragile in float32 ({worst:.1e})"
    if reference_repo:
        compare_with_reference(reference_repo, w, x, outs, T)
    # vgg16 at width 1/8, 32x32, 10 classes, plain feed-forward
    seed = 2
    net = build_vgg16(0.125, 10, 32)
    run_case(out_dir, "vgg16-w0125", net, make_weights(net, seed, coarse=True),
             imagenet_noise(3, 32, seed), 0, seed,
             "torchvision VGG-16 structure at width 1/8, 32x32 input (adaptive avgpool 1x1->7x7), "
             "10 classes, random coarse-grid weights, ImageNet-normalised uniform noise inputs, "
             "feed-forward only, float64")
    # vgg16-cnnf at width 1/8, T=2
    seed = 3
    net = build_vgg16(0.125, 10, 32, cnnf=True, update="block1")
    w, x = make_weights(net, seed, coarse=True), imagenet_noise(3, 32, seed)
    outs = run_case(out_dir, "vgg16-cnnf-w0125", net, w, x, 2, seed,
             "VGG-16 as a CNN-F at width 1/8, 32x32 input, 10 classes, update layer block1 "
             "(pool1 output), T=2, random coarse-grid weights, ImageNet-normalised uniform noise, float64")
    float32_fragility(net, w, x, outs, 2)


def full_cases(out_dir):
    import torchvision
    # vgg16: truly torchvision (seeded init; biases redrawn non-zero)
    seed = 11
    torch.manual_seed(seed)
    tv = torchvision.models.vgg16(weights=None).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for k, p in tv.state_dict().items():
            if k.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    w32 = {k: v.clone() for k, v in tv.state_dict().items()}
    x = imagenet_noise(2, 224, seed)
    tv = tv.double()
    cap = {}
    hooks = {4: "block1", 9: "block2", 16: "block3", 23: "block4", 30: "block5"}
    for i, nm in hooks.items():
        tv.features[i].register_forward_hook(lambda _m, _i, o, nm=nm: cap.__setitem__(nm, o.clone()))
    tv.classifier[1].register_forward_hook(lambda _m, _i, o: cap.__setitem__("fc6", o.clone()))
    tv.classifier[4].register_forward_hook(lambda _m, _i, o: cap.__setitem__("fc7", o.clone()))
    t0 = time.time()
    with torch.no_grad():
        cap["logits"] = tv(x.to(DT))
    net = build_vgg16(1.0, 1000, 224)
    net.bind(to64(w32))
    with torch.no_grad():
        mine = net.run(x.to(DT), 0)
    worst = 0.0
    for k in net.observe:          # self-check at full size on these weights
        err = float((mine[k][0] - cap[k]).abs().max() / cap[k].abs().max())
        assert err <= 1e-12, (k, err)
        worst = max(worst, err)
    print(f"self-check: vgg16 width 1, 224x224 vs torchvision, all observables: "
          f"max normalised error {worst:.2e}")
    outs = {k: cap[k].unsqueeze(0) for k in net.observe}
    write_weights(out_dir / "vgg16.weights.h5", net, w32, seed, False,
                  {"init": "torchvision.models.vgg16(weights=None) after torch.manual_seed(seed); "
                           "biases redrawn N(0,0.1^2)"})
    write_ref(out_dir / "vgg16.ref.h5", net, x, outs, 0, seed,
              "torchvision VGG-16 (outputs computed by torchvision in float64), 224x224, "
              "ImageNet-normalised uniform noise, N=2", False)
    print(f"vgg16 full: {time.time() - t0:.1f}s")
    # vgg16-cnnf at full size with this script's layers
    seed = 12
    net = build_vgg16(1.0, 1000, 224, cnnf=True, update="block1")
    t0 = time.time()
    run_case(out_dir, "vgg16-cnnf", net, make_weights(net, seed, coarse=False),
             imagenet_noise(1, 224, seed), 2, seed,
             "VGG-16 as a CNN-F, full width, 224x224, update layer block1, T=2, N=1, float64", False)
    print(f"vgg16-cnnf full: {time.time() - t0:.1f}s")


def main():
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?", default=str(here / "fixtures" / "model"))
    ap.add_argument("--full-vgg16", metavar="DIR", help="write the full-size cases to DIR instead")
    ap.add_argument("--reference-repo", metavar="DIR", help="checkout of yjhuangcd/CNNF to compare with")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    self_checks()
    if a.full_vgg16:
        out = Path(a.full_vgg16)
        out.mkdir(parents=True, exist_ok=True)
        full_cases(out)
    else:
        check_vs_torchvision(32, 100)
        out = Path(a.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        committed_cases(out, a.reference_repo)
        total = 0
        for p in sorted(out.glob("*.h5")):
            total += p.stat().st_size
            print(f"  {p.name:32s} {p.stat().st_size / 1e6:7.3f} MB")
        print(f"  total {total / 1e6:.3f} MB")
    print(f"done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
