#!/usr/bin/python3
"""PyTorch CPU peer of `neurocmp train` (run with Debian's /usr/bin/python3).

Times the CNN-F training step of the reference training script
(yjhuangcd/CNNF train.py, train_adv, without the attack: CE at every
iteration / (T + 1), the reconstruction MSEs, backward, clip_grad_norm_,
SGD with momentum and weight decay) on the cnnf-fmnist network, batch B,
T cycles, float32, on random [-1, 1] images, and prints images/s and the
peak RSS.

The network is written here from docs/cnnf-semantics.md with the op choices
the reference makes (conv2d and conv_transpose2d sharing one weight,
max_pool2d with indices and max_unpool2d for AdaPool, a separate transposed
linear weight sharing W's storage, autograd through everything), so its
speed is the reference's: with --reference-repo DIR the reference's own
cnnf/model_mnist.py is timed instead (its code is run, not copied), which
measured the same within a few percent here.

    /usr/bin/python3 bench/torch_train_peer.py [--threads 2] [--batch 256] [--cycles 1] [--steps 8]
"""

import argparse
import resource
import sys
import time
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

STEP = 0.1


def insnorm(x):
    return x / torch.sqrt(torch.mean(x ** 2, dim=(2, 3), keepdim=True) + 1e-8)


class AdaReLU:
    def __init__(self):
        self.h = self.mask = None

    def forward(self, x):
        if self.h is not None:
            x = x + STEP * (self.h - x)
            self.mask = (x * self.h > 0).float()
        else:
            self.mask = (x > 0).float()
        return x * self.mask

    def backward(self, g):
        self.h = g
        return g * self.mask


class AdaPool:
    def __init__(self):
        self.h = self.pos = self.neg = None

    def forward(self, x):
        self.size = x.shape
        mx, self.imax = F.max_pool2d(x, 2, return_indices=True)
        if self.h is None:
            return mx
        mn, self.imin = F.max_pool2d(-x, 2, return_indices=True)
        self.pos, self.neg = (self.h > 0).float(), (self.h < 0).float()
        return self.pos * mx - self.neg * mn

    def backward(self, g):
        self.h = g
        if self.pos is None:
            return F.max_unpool2d(g, self.imax, 2, output_size=self.size[2:])
        return (F.max_unpool2d(g * self.pos, self.imax, 2, output_size=self.size[2:]) +
                F.max_unpool2d(g * self.neg, self.imin, 2, output_size=self.size[2:]))


class CNNF(nn.Module):
    """cnnf-fmnist (update layer relu2), docs/cnnf-semantics.md."""

    def __init__(self):
        super().__init__()
        ch = [1, 16, 32, 32, 64]
        self.convs = nn.ParameterList([nn.Parameter(torch.randn(ch[i + 1], ch[i], 3, 3) * (2 / (9 * ch[i + 1])) ** 0.5)
                                       for i in range(4)])
        self.cbias = nn.ParameterList([nn.Parameter(torch.zeros(1, ch[i + 1], 1, 1)) for i in range(4)])
        fc = [3136, 1000, 128, 10]
        self.fcs = nn.ParameterList([nn.Parameter((torch.rand(fc[i + 1], fc[i]) * 2 - 1) / fc[i] ** 0.5)
                                     for i in range(3)])
        # the reference's linear_t: separate parameters sharing the storage of W (layers.Linear)
        self.fcts = nn.ParameterList([nn.Parameter(torch.empty(0)) for _ in range(3)])
        for w, wt in zip(self.fcs, self.fcts):
            wt.data = w.data.t()
        self.fbias = nn.ParameterList([nn.Parameter(torch.zeros(1, fc[i + 1])) for i in range(3)])

    def reset(self):
        self.relu = [AdaReLU() for _ in range(6)]
        self.pool = [AdaPool(), AdaPool()]

    def forward(self, x, first=True):
        if first:
            for i in range(2):
                x = self.relu[i].forward(insnorm(F.conv2d(x, self.convs[i], padding=1)) + self.cbias[i])
            h0 = x
        x = self.relu[2].forward(insnorm(F.conv2d(x, self.convs[2], padding=1)) + self.cbias[2])
        b1 = x
        x = self.pool[0].forward(x)
        x = self.relu[3].forward(insnorm(F.conv2d(x, self.convs[3], padding=1)) + self.cbias[3])
        b2 = x
        x = self.pool[1].forward(x).reshape(x.shape[0], -1)
        x = self.relu[4].forward(x @ self.fcs[0].t() + self.fbias[0])
        x = self.relu[5].forward(x @ self.fcs[1].t() + self.fbias[1])
        x = x @ self.fcs[2].t() + self.fbias[2]
        return (x, h0, b1, b2) if first else x

    def feedback(self, g):
        g = self.relu[5].backward(g @ self.fcts[2].t())
        g = self.relu[4].backward(g @ self.fcts[1].t())
        g = insnorm((g @ self.fcts[0].t()).reshape(-1, 64, 7, 7))
        g = self.relu[3].backward(self.pool[1].backward(g))
        r2 = g
        g = insnorm(F.conv_transpose2d(g, self.convs[3], padding=1))
        g = self.relu[2].backward(self.pool[0].backward(g))
        r1 = g
        return F.conv_transpose2d(g, self.convs[2], padding=1), r1, r2


def reference_model(repo):
    sys.path.insert(0, repo)
    for mod in ("tensorboardX", "matplotlib", "matplotlib.pyplot"):
        if mod not in sys.modules:
            try:
                __import__(mod)
            except ImportError:
                sys.modules[mod] = types.SimpleNamespace(SummaryWriter=None, pyplot=None)
    from cnnf.model_mnist import CNNF as Ref
    return Ref


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--cycles", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reference-repo", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, T = a.batch, a.cycles
    x = torch.rand(B, 1, 28, 28) * 2 - 1
    y = torch.randint(0, 10, (B,))
    if a.reference_repo:
        model = reference_model(a.reference_repo)(10, ind=2, cycles=T, res_param=STEP)

        def run_loss():
            model.reset()
            logits, h0, b1, b2 = model(x, first=True, inter=True)
            ff, loss = h0, F.cross_entropy(logits, y) / (T + 1)
            for _ in range(T):
                r, r1, r2 = model(logits, step="backward", inter_recon=True)
                loss = loss + (F.mse_loss(r, h0) + F.mse_loss(r1, b1) + F.mse_loss(r2, b2)) * 0.1 / (3 * T)
                ff = ff + STEP * (r - ff)
                logits = model(ff, first=False)
                loss = loss + F.cross_entropy(logits, y) / (T + 1)
            return loss
        name = f"reference code ({a.reference_repo})"
    else:
        model = CNNF()

        def run_loss():
            model.reset()
            logits, h0, b1, b2 = model(x, first=True)
            ff, loss = h0, F.cross_entropy(logits, y) / (T + 1)
            for _ in range(T):
                r, r1, r2 = model.feedback(logits)
                loss = loss + (F.mse_loss(r, h0) + F.mse_loss(r1, b1) + F.mse_loss(r2, b2)) * 0.1 / (3 * T)
                ff = ff + STEP * (r - ff)
                logits = model(ff, first=False)
                loss = loss + F.cross_entropy(logits, y) / (T + 1)
            return loss
        name = "reference-equivalent ops"
    model.train()
    opt = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad()
        loss = run_loss()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        return float(loss)

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {torch.__version__}, {name}, {torch.get_num_threads()} threads, batch {B}, T = {T}: "
          f"{a.steps * B / dt:.1f} images/s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
