#!/usr/bin/env python3
"""The cost model of docs/scale-out.md: predicted time, memory, disk and bytes
communicated for `export` and `score --layer all` on P ranks.

Two uses:
  mpi_cost_model.py --scaling scaling.tsv --cores C --launch "1:0.4 2:0.5" --activations acts.h5 --stimuli N
      (bench/bench_mpi.sh) calibrates the per-core rates on the 1-rank runs and prints, for every rank
      count measured, the measured and predicted seconds and the strong-scaling efficiency.
  mpi_cost_model.py --story5 [--nodes 64] [--stimuli 50000] [--models 20] [--iterations 5]
      the same formulas on paper for user story 5 (VGG-16 CNN-F at 224 px on a cluster).

The model (symbols as in docs/scale-out.md):
  export  T(P) = L(P) + w_img * ceil(N / P) * max(1, P / C) + ceil(N / (P B)) * rho   (P > 1)
          (ranks share C cores; each lock-step round of B images per rank costs rho in collective writes)
          disk = 4 * N * (T+1) * F bytes, written once in all; bytes between ranks: none but the
          collective-write aggregation (at most the data itself) and one agreement per round.
  score   T(P) = L(P) + (T1 - L(1)) * ceil_share(P) * max(1, P / C) + G * n^2 * 8 * (P - 1 + log2 P) / beta
          where the first term is the Gram products (features split over ranks) and the split fits
          (cells split over ranks), and the last is the rank-ordered sum of the G partial Gram
          matrices into rank 0 and their broadcast back.  Memory per rank: n^2 * 8 (Gram) + one
          feature block; rank 0 holds one piece more (256 MiB at most) while summing.
"""
import argparse
import math
import sys

RHO = 0.02  # s per lock-step round of a parallel export: its collective writes and flush (tests/mpi, 15-25 ms)
BETA_SHM = 2.0e9  # bytes/s, rank to rank through shared memory on one machine (assumed, see docs)
FS_AGGREGATE = 50.0e9  # bytes/s, a cluster's parallel file system for all nodes together (assumed)
BETA_NET = 10.0e9  # bytes/s, rank to rank between nodes (HDR InfiniBand ~ 25 GB/s; assumed, halved)


def read_scaling(path):
    rows = {}
    with open(path) as f:
        next(f)
        for line in f:
            step, ranks, secs, rss = line.split("\t")
            rows[(step, int(ranks))] = (float(secs), int(rss))
    return rows


def gram_count_and_n(path):
    import h5py
    with h5py.File(path, "r") as f:
        n = len(f["stimulus_id"])
        t1 = len(f["iteration"])
        feats = []
        for name, d in f["activations"].items():
            if isinstance(d, h5py.Dataset) and d.ndim >= 3:
                feats.append(int(math.prod(d.shape[2:])))
    return n, t1, feats


def calibrated(args):
    rows = read_scaling(args.scaling)
    launch = {int(k): float(v) for k, v in (x.split(":") for x in args.launch.split())}
    n, t1, feats = gram_count_and_n(args.activations)
    grams = t1 * len(feats)
    C = args.cores
    print("cost model (docs/scale-out.md), calibrated on the 1-rank runs; %d cores" % C)
    print("| step | ranks | measured s | predicted s | efficiency T1/(P*TP) | per core T1/(min(P,C)*TP) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for step in ("export", "score_table"):
        t_one = rows[(step, 1)][0]
        work = t_one - launch[1]
        for (s, p), (secs, rss) in sorted(rows.items()):
            if s != step:
                continue
            share = math.ceil(args.stimuli / p) / args.stimuli if step == "export" else 1.0 / p
            pred = launch[p] + work * share * max(1.0, p / C)
            if step == "export" and p > 1:
                pred += math.ceil(args.stimuli / (p * args.batch)) * RHO
            # Tables give whole Gram matrices to ranks when there are at least as many as ranks: no sum.
            if step == "score_table" and 1 < p and grams < p:
                pred += grams * 4.0 * n * (n + 1) * 2 * math.ceil(math.log2(p)) / BETA_SHM
            print("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.0f |"
                  % (step, p, secs, pred, t_one / (p * secs), t_one / (min(p, C) * secs), rss / 1024))
    print("(Gram matrices: %d of %d x %d; disk of the export: %.1f MB)"
          % (grams, n, n, 4.0 * n * t1 * sum(feats) / 1e6))


def story5(args):
    # VGG-16 CNN-F at 224 px (`neurocmp arch vgg16-cnnf`): 15.47 GMAC forward, 13.53 feedback + 13.53 re-forward per cycle.
    macs = 15.47e9 + args.iterations * 2 * 13.534e9
    # Measured here (study/plan.c): 1.9e10 MAC/s in double on 2 cores, float twice that -> per core, float:
    per_core = 1.9e10
    feats = [64 * 112 * 112, 128 * 56 * 56, 256 * 28 * 28, 512 * 14 * 14, 512 * 7 * 7]
    N, T1, P, cpn = args.stimuli, args.iterations + 1, args.nodes, args.cores_per_node
    cores = P * cpn
    export_s = args.models * N * macs / (per_core * cores)
    disk = args.models * 4.0 * N * T1 * sum(feats)
    gram_flops = args.models * T1 * N * N * sum(feats)  # n^2 F multiply-adds per block and iteration
    gram_s = gram_flops / (1.0e10 * cores)  # 2e10 flop/s on 2 cores (study/plan.c) -> 1e10 per core
    grams = args.models * T1 * len(feats)
    comm_bytes = grams * 4.0 * N * (N + 1) * 2 * math.ceil(math.log2(P))  # through the busiest rank
    comm_s = comm_bytes / BETA_NET
    print("story 5 on paper: %d models x %d iterations, %d stimuli, VGG-16 CNN-F 224 px, %d nodes x %d cores"
          % (args.models, args.iterations, N, P, cpn))
    print("  export: %.3g MAC per image -> %.1f h on %d cores (%.0f days on one 2-core machine)"
          % (macs, export_s / 3600, cores, export_s * cores / 2 / 86400))
    print("  disk:   %.1f TB of float32 activations (every block, every iteration); written once and read once "
          "for the Gram matrices: %.1f h each way at %.0f GB/s (the file system's aggregate)"
          % (disk / 1e12, disk / FS_AGGREGATE / 3600, FS_AGGREGATE / 1e9))
    print("  Gram:   %d matrices of %d x %d = %.1f GB each; %.1f h of products on %d cores"
          % (grams, N, N, N * N * 8 / 1e9, gram_s / 3600, cores))
    print("  sent, features of every Gram split over all %d ranks: %.1f TB through the busiest rank for the "
          "tree sums and broadcasts (%.1f h at %.0f GB/s)"
          % (P, comm_bytes / 1e12, comm_s / 3600, BETA_NET / 1e9))
    team = max(1, P // grams) if grams < P else 1
    print("  sent, whole Gram matrices per rank (%d matrices >= %d ranks, teams of %d): none; products %.1f h"
          % (grams, P, team, gram_s / 3600))
    print("  memory: %.1f GB per rank for one Gram matrix + one feature block (one rank per node)" % (N * N * 8 / 1e9))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scaling")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--launch", default="1:0")
    ap.add_argument("--activations")
    ap.add_argument("--stimuli", type=int, default=50000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--story5", action="store_true")
    ap.add_argument("--nodes", type=int, default=64)
    ap.add_argument("--cores-per-node", type=int, default=64)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    if args.story5:
        story5(args)
    elif args.scaling and args.activations:
        calibrated(args)
    else:
        ap.error("give --scaling and --activations (from bench/bench_mpi.sh), or --story5")


if __name__ == "__main__":
    sys.exit(main())
