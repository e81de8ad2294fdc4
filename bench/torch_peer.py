#!/usr/bin/python3
"""PyTorch CPU peer of bench/bench_engine (run with Debian's /usr/bin/python3).

Runs, on the SAME weights and inputs that bench_engine wrote to OUT_DIR
(OUT_DIR/<arch>.weights.h5 in the weights layout of docs/formats.md, OUT_DIR/io.h5 with the
inputs and the C logits) and with the same thread count:

  vgg16       torchvision.models.vgg16 with the C engine's seeded weights
  vgg16-cnnf  VGG-16 CNN-F: the layer semantics of tests/gen_model_fixtures.py
              (the float64 PyTorch reference the C engine is tested against),
              run in float32, with its two slow pure-Python layers (AdaPool
              through window reshapes, adaptive average pooling through
              Python loops) replaced by PyTorch's native max_pool2d /
              max_unpool2d / adaptive_avg_pool2d.  The replacement is checked
              against the reference layers on the benchmark input (--check).

It times forward passes (iteration 0) and one CNN-F feedback cycle (feedback
from the logits to the update layer, the update, the re-forward above it),
checks the logits agree with the C engine's (float32 tolerance stated
below), and writes OUT_DIR/torch_results.tsv.

    /usr/bin/python3 bench/torch_peer.py --out DIR --threads 2 [--repeats 3] [--batch 1,8]
    /usr/bin/python3 bench/torch_peer.py --out DIR --memory-only --batch 8
    /usr/bin/python3 bench/torch_peer.py --out DIR --combine
"""

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import gen_model_fixtures as ref  # noqa: E402  (the float64 reference; dtype follows the inputs)

# Agreement with the C engine: max |torch - C| / max |C| over the logits.
# float32 with different summation orders (oneDNN vs im2col + OpenBLAS)
# differs by ~1e-6 relative per layer; 16 layers stay far below 1e-4.
TOL_FORWARD = 1e-4
# After one feedback cycle AdaReLU/AdaPool route on signs of float32 values;
# units whose deciding value is within float32 rounding of zero flip, so
# two correct float32 implementations differ by up to ~1e-3..1e-2 relative
# (measured: PyTorch float32 itself is 2.6e-4..2.9e-4 from float64 on the
# first two samples).  The cycle check therefore compares both float32
# results with a float64 run (first CHECK64_SAMPLES samples): C must be no
# further from float64 than CYCLE_FACTOR x PyTorch float32 (+ 1e-5).
CHECK64_SAMPLES = 2
CYCLE_FACTOR = 2.0


# ---------------------------------------------------------------------------
# Fast versions of the reference's pure-Python layers (same semantics)
# ---------------------------------------------------------------------------

class FastAdaPool(ref.AdaPool):
    """ref.AdaPool with PyTorch's native 2x2/2 max pooling.  max_pool2d and
    the reference both pick the FIRST extreme in row-major window order; the
    minimum is max_pool2d of -x (-0.0 == 0.0, so ties still go to the first)."""

    def forward(self, x):
        self.size = x.shape[2:]
        mx, self.imax = F.max_pool2d(x, 2, 2, return_indices=True)
        if self.h is None:
            return mx
        mn, self.imin = F.max_pool2d(-x, 2, 2, return_indices=True)
        self.pos = (self.h > 0).to(x.dtype)
        self.neg = (self.h < 0).to(x.dtype)
        return self.pos * mx - self.neg * mn

    def backward(self, g):
        size = tuple(self.size)
        if self.pos is None:
            out = F.max_unpool2d(g, self.imax, 2, 2, output_size=size)
        else:
            out = (F.max_unpool2d(g * self.pos, self.imax, 2, 2, output_size=size)
                   + F.max_unpool2d(g * self.neg, self.imin, 2, 2, output_size=size))
        self.h = g
        return out


class FastAvgPool(ref.AdaptiveAvgPool):
    """Adaptive average pooling with PyTorch's kernel; the adjoint is the
    identity when the map is already out x out (VGG-16 at 224), else the
    vector-Jacobian product of the same kernel."""

    def forward(self, x):
        self.size = x.shape[2:]
        return F.adaptive_avg_pool2d(x, self.out)

    def backward(self, g):
        if tuple(self.size) == (self.out, self.out):
            return g
        with torch.enable_grad():
            z = torch.zeros(g.shape[0], g.shape[1], *self.size, dtype=g.dtype, requires_grad=True)
            (gz,) = torch.autograd.grad(F.adaptive_avg_pool2d(z, self.out), z, g)
        return gz


def cnnf_net(weights, input_size, fast=True):
    net = ref.build_vgg16(width=1.0, num_classes=weights["classifier.6.bias"].numel(),
                          input_size=input_size, cnnf=True, update="block1")
    if fast:
        for i, L in enumerate(net.layers):
            if isinstance(L, ref.AdaPool):
                net.layers[i] = FastAdaPool(L.name)
            elif isinstance(L, ref.AdaptiveAvgPool):
                net.layers[i] = FastAvgPool(L.name, L.out)
    net.bind(weights)
    return net


def cnnf_forward(net, x):
    """Iteration 0: the whole forward from a reset state.  Returns (logits, h0)."""
    net.reset()
    upd = None
    for i, L in enumerate(net.layers):
        x = L.forward(x)
        if i == net.u:
            upd = x
    return x, upd


def cnnf_cycle(net, logits, upd):
    """One feedback cycle (as ref.Net.run for t = 1, without recording)."""
    r = net.feedback(logits)
    upd = upd + ref.STEP * (r - upd)
    x = upd
    for i in range(net.u + 1, len(net.layers)):
        x = net.layers[i].forward(x)
    return x, upd


def load_weights(path):
    with h5py.File(path, "r") as f:
        return {k: torch.from_numpy(np.asarray(f[k], dtype=np.float32)) for k in f.keys()
                if isinstance(f[k], h5py.Dataset)}


def vgg16_model(weights):
    import torchvision
    m = torchvision.models.vgg16(weights=None, num_classes=weights["classifier.6.bias"].numel())
    m.load_state_dict(weights, strict=True)
    return m.eval()


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def foreign_cpu():
    """(busy jiffies of the whole machine, CPU seconds of this process)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v) - v[3] - v[4]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return busy / os.sysconf("SC_CLK_TCK"), ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------------------

def run(args):
    out = Path(args.out)
    torch.set_num_threads(args.threads)
    results = {}

    def rec(k, v):
        results[k] = v

    busy0, own0 = foreign_cpu()
    wall0 = time.perf_counter()
    print("== PyTorch peer ==")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}, "
          f"capability {torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, 'cpu') else '?'}")
    rec("torch.version", torch.__version__)
    rec("torch.threads", torch.get_num_threads())
    ok = True
    with h5py.File(out / "io.h5", "r") as io:
        archs = [a for a in ("vgg16", "vgg16-cnnf") if a in io]
        for arch in archs:
            g = io[arch]
            x_all = torch.from_numpy(np.asarray(g["input"], dtype=np.float32))
            c_t0 = np.asarray(g["logits_t0"])
            c_t1 = np.asarray(g["logits_t1"]) if "logits_t1" in g else None
            input_size = int(g.attrs["input_size"])
            weights = load_weights(out / f"{arch}.weights.h5")
            cnnf = arch == "vgg16-cnnf"
            bmax = x_all.shape[0]
            batches = [b for b in args.batch if b <= bmax]
            print(f"\n-- {arch} ({input_size}x{input_size}) --")
            print(f"{'batch':<6} {'fwd ms':>10} {'img/s':>10}" + (
                f" | {'cycle ms (feedback + re-forward)':>34} {'img/s':>8}" if cnnf else ""))
            if not cnnf:
                model = vgg16_model(weights)
            else:
                net = cnnf_net(weights, input_size)
            for b in batches:
                x = x_all[:b].contiguous()
                fw, cy, fb, rf = [], [], [], []
                with torch.no_grad():
                    for r in range(args.repeats + 1):     # the first is a warm-up
                        t0 = time.perf_counter()
                        if cnnf:
                            logits, upd = cnnf_forward(net, x)
                        else:
                            logits = model(x)
                        t1 = time.perf_counter()
                        if cnnf:
                            gfb = net.feedback(logits)
                            t2 = time.perf_counter()
                            upd2 = upd + ref.STEP * (gfb - upd)
                            y = upd2
                            for i in range(net.u + 1, len(net.layers)):
                                y = net.layers[i].forward(y)
                            t3 = time.perf_counter()
                        if r:
                            fw.append(t1 - t0)
                            if cnnf:
                                fb.append(t2 - t1)
                                rf.append(t3 - t2)
                                cy.append(t3 - t1)
                fmed = statistics.median(fw)
                rec(f"{arch}.fwd.b{b}.median_s", fmed)
                rec(f"{arch}.fwd.b{b}.min_s", min(fw))
                line = f"{b:<6} {1e3 * fmed:>10.1f} {b / fmed:>10.2f}"
                if cnnf:
                    cmed = statistics.median(cy)
                    rec(f"{arch}.cycle.b{b}.median_s", cmed)
                    rec(f"{arch}.cycle.b{b}.min_s", min(cy))
                    rec(f"{arch}.cycle.b{b}.feedback_s", statistics.median(fb))
                    rec(f"{arch}.cycle.b{b}.reforward_s", statistics.median(rf))
                    line += (f" | {1e3 * cmed:>10.1f} ({1e3 * statistics.median(fb):.1f} + "
                             f"{1e3 * statistics.median(rf):.1f}) {b / cmed:>8.2f}")
                print(line)
            # agreement with the C engine, at the largest batch
            with torch.no_grad():
                if cnnf:
                    t0, upd = cnnf_forward(net, x_all)
                    t1, _ = cnnf_cycle(net, t0, upd)
                else:
                    t0 = model(x_all)
            e0 = rel_err(t0.numpy(), c_t0)
            rec(f"{arch}.check.t0_rel_err", e0)
            good = e0 <= TOL_FORWARD
            msg = f"check vs C (batch {bmax}): forward logits max|diff|/max|C| = {e0:.2e} (tol {TOL_FORWARD:g})"
            if cnnf:
                e1 = rel_err(t1.numpy(), c_t1)
                rec(f"{arch}.check.t1_rel_err", e1)
                same_top = float(np.mean(np.argmax(t1.numpy(), 1) == np.argmax(c_t1, 1)))
                msg += f"; after one cycle {e1:.2e}, same top-1 {100 * same_top:.0f}%"
                k = min(CHECK64_SAMPLES, bmax)
                net64 = cnnf_net({kk: v.double() for kk, v in weights.items()}, input_size)
                with torch.no_grad():
                    d0, du = cnnf_forward(net64, x_all[:k].double())
                    d1, _ = cnnf_cycle(net64, d0, du)
                ec = max(rel_err(c_t1[i], d1[i].numpy()) for i in range(k))
                et = max(rel_err(t1[i].numpy(), d1[i].numpy()) for i in range(k))
                rec(f"{arch}.check.t1_c_vs_f64", ec)
                rec(f"{arch}.check.t1_torch32_vs_f64", et)
                good = good and ec <= CYCLE_FACTOR * et + 1e-5
                msg += (f"\n  cycle vs float64 (first {k}): C {ec:.2e}, PyTorch float32 {et:.2e} "
                        f"(C must be <= {CYCLE_FACTOR:g}x PyTorch + 1e-5)")
            print(msg + ("  OK" if good else "  MISMATCH"))
            ok = ok and good
            if cnnf and args.check:
                # the fast layers against the reference's own layers, batch 1, float32
                slow = cnnf_net(weights, input_size, fast=False)
                with torch.no_grad():
                    s0, su = cnnf_forward(slow, x_all[:1])
                    s1, _ = cnnf_cycle(slow, s0, su)
                    f0, fu = cnnf_forward(net, x_all[:1])
                    f1, _ = cnnf_cycle(net, f0, fu)
                d0, d1 = rel_err(f0.numpy(), s0.numpy()), rel_err(f1.numpy(), s1.numpy())
                rec(f"{arch}.check.fast_vs_reference_t1", d1)
                print(f"check fast layers vs tests/gen_model_fixtures.py layers (batch 1): "
                      f"t0 {d0:.1e}, t1 {d1:.1e}" + ("  OK" if d1 <= 1e-6 else "  MISMATCH"))
                ok = ok and d1 <= 1e-6
    busy1, own1 = foreign_cpu()
    wall = time.perf_counter() - wall0
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall * os.cpu_count())
    rec("torch.foreign_cpu_share", foreign)
    rec("torch.process_peak_rss_bytes", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(f"\nother processes used {100 * foreign:.0f}% of the machine's CPU time during this run")
    with open(out / "torch_results.tsv", "w") as f:
        for k, v in results.items():
            f.write(f"{k}\t{v}\n")
    return 0 if ok else 1


def memory_only(args):
    """Peak RSS of a fresh process running vgg16-cnnf at the largest batch, T = 1."""
    out = Path(args.out)
    torch.set_num_threads(args.threads)
    b = max(args.batch)
    with h5py.File(out / "io.h5", "r") as io:
        g = io["vgg16-cnnf"]
        input_size = int(g.attrs["input_size"])
        x = torch.from_numpy(np.asarray(g["input"][:b], dtype=np.float32))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    net = cnnf_net(load_weights(out / "vgg16-cnnf.weights.h5"), input_size)
    with torch.no_grad():
        t0, upd = cnnf_forward(net, x)
        cnnf_cycle(net, t0, upd)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"== memory: PyTorch vgg16-cnnf, batch {b}, T = 1 (fresh process) ==")
    print(f"peak RSS {peak / 1e6:.0f} MB ({peak / 1e9:.2f} GB; {rss0 / 1e6:.0f} MB after importing torch)")
    with open(out / "torch_memory.tsv", "w") as f:
        f.write(f"mem.vgg16-cnnf.batch\t{b}\nmem.vgg16-cnnf.peak_rss_bytes\t{peak}\n"
                f"mem.vgg16-cnnf.start_rss_bytes\t{rss0}\n")
    return 0


def read_tsv(path):
    d = {}
    if path.exists():
        for line in path.read_text().splitlines():
            k, _, v = line.partition("\t")
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


def combine(args):
    out = Path(args.out)
    c, t = read_tsv(out / "c_results.tsv"), read_tsv(out / "torch_results.tsv")
    cm, tm = read_tsv(out / "c_memory.tsv"), read_tsv(out / "torch_memory.tsv")
    peak = c.get("sgemm.peak_gflops", float("nan"))
    print(f"\n== neurocmp vs PyTorch: {c.get('machine.cpu', '?')}, {int(c.get('machine.threads', 0))} threads, "
          f"OpenBLAS sgemm peak {peak:.1f} GFLOP/s ==")
    print("time = median of the timed repeats (min in brackets); ratio = PyTorch time / neurocmp time "
          "(> 1: neurocmp faster)")
    hdr = (f"{'measurement':<28} {'batch':>5} {'neurocmp ms':>18} {'img/s':>7} {'GFLOP/s':>8} {'%peak':>6} "
           f"{'PyTorch ms':>18} {'img/s':>7} {'ratio':>6} {'ratio(min)':>10}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for arch, what, label, gmac_key in (("vgg16", "fwd", "vgg16 forward", "vgg16.fwd_gmac"),
                                       ("vgg16-cnnf", "fwd", "vgg16-cnnf forward", "vgg16-cnnf.fwd_gmac"),
                                       ("vgg16-cnnf", "cycle", "vgg16-cnnf feedback cycle", "vgg16-cnnf.cycle_gmac")):
        for b in args.batch:
            kc, km = f"{arch}.{what}.b{b}.median_s", f"{arch}.{what}.b{b}.min_s"
            if kc not in c or kc not in t:
                continue
            gf = 2 * c[gmac_key] * b / c[kc]
            ratio, ratio_min = t[kc] / c[kc], t[km] / c[km]
            rows.append((label, b, ratio))
            print(f"{label:<28} {b:>5} {1e3 * c[kc]:>9.1f} ({1e3 * c[km]:>6.1f}) {b / c[kc]:>7.2f} {gf:>8.1f} "
                  f"{100 * gf / peak:>5.1f}% {1e3 * t[kc]:>9.1f} ({1e3 * t[km]:>6.1f}) {b / t[kc]:>7.2f} "
                  f"{ratio:>6.2f} {ratio_min:>10.2f}")
    for arch in ("vgg16", "vgg16-cnnf"):
        if f"{arch}.check.t0_rel_err" in t:
            s = f"outputs agree ({arch}): forward rel. err {t[f'{arch}.check.t0_rel_err']:.1e}"
            if f"{arch}.check.t1_c_vs_f64" in t:
                s += (f", after one cycle {t[f'{arch}.check.t1_rel_err']:.1e} (vs float64: neurocmp "
                      f"{t[f'{arch}.check.t1_c_vs_f64']:.1e}, PyTorch float32 {t[f'{arch}.check.t1_torch32_vs_f64']:.1e})")
            print(s)
    for key, label in (("vgg16-cnnf.conv_fwd", "conv forward"), ("vgg16-cnnf.conv_td", "conv transpose")):
        bs = [b for b in args.batch if f"{key}.b{b}.pct_peak" in c]
        if bs:
            print(f"vgg16-cnnf {label} layers: " + ", ".join(
                f"batch {b}: {c[f'{key}.b{b}.gflops']:.1f} GFLOP/s = {c[f'{key}.b{b}.pct_peak']:.0f}% of sgemm peak"
                for b in bs))
    if "mem.vgg16-cnnf.peak_rss_bytes" in cm:
        s = (f"peak RSS, vgg16-cnnf batch {int(cm['mem.vgg16-cnnf.batch'])}, T=1, fresh process: neurocmp "
             f"{cm['mem.vgg16-cnnf.peak_rss_bytes'] / 1e9:.2f} GB (engine buffers "
             f"{cm['mem.vgg16-cnnf.engine_bytes'] / 1e9:.2f} GB, weights {cm['mem.vgg16-cnnf.weights_bytes'] / 1e9:.2f} GB)")
        if "mem.vgg16-cnnf.peak_rss_bytes" in tm:
            s += f"; PyTorch {tm['mem.vgg16-cnnf.peak_rss_bytes'] / 1e9:.2f} GB"
        print(s)
    fc, ft = c.get("c.foreign_cpu_share"), t.get("torch.foreign_cpu_share")
    if fc is not None and ft is not None:
        print(f"other processes' share of the machine's CPU time during the runs: neurocmp {100 * fc:.0f}%, "
              f"PyTorch {100 * ft:.0f}%  (numbers are unreliable if this is large)")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bench-out", help="directory bench_engine wrote (weights, io.h5)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", default="1,8")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the check of the fast layers against the reference layers")
    p.add_argument("--memory-only", action="store_true")
    p.add_argument("--combine", action="store_true", help="print the combined table and exit")
    args = p.parse_args()
    args.batch = [int(b) for b in args.batch.split(",")]
    if args.combine:
        return combine(args)
    if args.memory_only:
        return memory_only(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
