"""Benchmark: one training step of M stacked networks against the machine's arithmetic peak.

    python backtests/benchmarks/bench_stacked_step.py [--members 1 3] [--threads 1 2] [--batch 1024]
        [--lookback 20] [--features 5] [--hidden 32] [--cell gru] [--repeats 5] [--json FILE]

Times the step the pooled trainer repeats (:class:`~rnnstrategy.forecasting.batched.net.StackedNet`
forward over ``(lookback, M, batch, features)`` random windows, then backward from the sum of the
outputs: the compiled recurrent loops where they are built, PyTorch's otherwise) for each number of
members M and each count of kernel threads (``kernel_threads``; PyTorch's own operations on one thread,
as the trainer runs them). Each figure is the median of ``--repeats`` timings of 40 steps after 5 warm-up
steps. Beside each: the step's arithmetic rate (FLOPs counted as ``bench_walkforward`` counts them: the
matrix products of a cell with g gates, 2gH(I+H) per row and time step forward, a training step 3x the
forward; the kernel's padded gate blocks are not counted) and the best rate of PyTorch's float32 product
of two 1024 x 1024 matrices on as many threads (``bench_walkforward.matmul_peak_gflops``: the machine's
practical peak for dense arithmetic, which a recurrence of 32-unit steps cannot reach).

What it answers: how much the ``--ensemble K`` training step can cost compared with one member's. The
members' arithmetic is K times one member's, so the step's ratio is K times one member's rate divided by the
rate the K members reach together, a rate the matrix product's bounds.

Measured on the project's 2-core machine (AMD EPYC with AVX-512, torch 2.13 CPU, nothing else running but
a virtual machine's neighbours: the matrix product's own rate varied from 155 to 200 GFLOP/s), the pooled
defaults (GRU-32, lookback 20, 5 features, batch 1024: 436 MFLOP per member and step), three runs of
``python backtests/benchmarks/bench_stacked_step.py``, ranges:

    threads  members  ms/step    x 1 member  GFLOP/s  matmul GFLOP/s
          1        1  7.6-9.1    1.00        48-57     78-95
          1        3  22.0-24.3  2.68-2.89   54-60
          2        1  5.9-7.6    1.00        57-74    155-200
          2        3  14.7-17.2  2.19-2.51   76-89

Three members' step costs 2.2-2.5x one member's on two threads: their arithmetic is three times one
member's, a lone member's rows already run on both cores (1.1-1.3x faster than on one), and three members
reach 1.2-1.4x a lone member's rate, under half the matrix product's. In a whole pooled run
(``bench_ensemble.py``, 100 stocks) the training steps are about 77 % of one member's time and the rest
(validation, scoring, window gathers) grows with the members too: for ``--ensemble 3`` to take 1.6x one
member's time, its step would have to cost 1.5-1.8x one member's, i.e. three members running at 1.7-2.0x a
lone member's rate on the same two cores, while that member gets no faster.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from bench_walkforward import GATES, matmul_peak_gflops

from rnnstrategy.forecasting.batched import native
from rnnstrategy.forecasting.batched.layers import Workspace
from rnnstrategy.forecasting.batched.net import NetSpec, StackedNet

STEPS_TIMED, WARM_UP = 40, 5


def step_flops(cell: str, features: int, hidden: int, lookback: int, batch: int) -> float:
    """Floating-point operations of one member's training step (see the module docstring)."""
    return float(3 * 2 * GATES[cell] * hidden * (features + hidden) * lookback * batch)


def time_steps(spec: NetSpec, members: int, lookback: int, batch: int, threads: int, repeats: int) -> float:
    """Median seconds of one forward and backward step of ``members`` stacked networks."""
    torch.manual_seed(0)
    net, workspace = StackedNet(spec, members), Workspace()
    x = torch.randn(members, lookback, batch, spec.n_features).transpose(0, 1)  # model-major memory, as trained
    rows = torch.full((members,), batch)

    def step() -> None:
        out = net(x, None, workspace=workspace, rows=rows)
        for p in net.parameters():
            p.grad = None
        out.sum().backward()

    timings = []
    with native.kernel_threads(threads):
        for _ in range(WARM_UP):
            step()
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(STEPS_TIMED):
                step()
            timings.append((time.perf_counter() - start) / STEPS_TIMED)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 3], help="stacked networks (first: the base)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="kernel thread counts")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--lookback", type=int, default=20)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--cell", choices=sorted(GATES), default="gru")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    spec = NetSpec(args.cell, args.features, (args.hidden,), 1, 0.0)
    flops = step_flops(args.cell, args.features, args.hidden, args.lookback, args.batch)
    compiled = native.kernel_for(args.cell, args.hidden, torch.zeros(1)) is not None
    print(f"{args.cell.upper()}-{args.hidden}, lookback {args.lookback}, {args.features} features, batch "
          f"{args.batch}: {flops / 1e6:.0f} MFLOP per member and step; "
          f"{'compiled loops' if compiled else 'PyTorch loops (no compiled kernel)'}; torch {torch.__version__}")
    print(f"{'threads':>7} {'members':>8} {'ms/step':>8} {'x base':>7} {'GFLOP/s':>8} {'matmul GFLOP/s':>15}")
    torch.set_num_threads(1)  # the trainer's own operations run on one thread (training._compiled_loops)
    steps = {(threads, members): time_steps(spec, members, args.lookback, args.batch, threads, args.repeats)
             for threads in args.threads for members in args.members}
    # the matrix products last: OpenMP threads left spinning after one would take a core from the steps
    peaks = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        peaks[threads] = matmul_peak_gflops()
    rows = []
    for (threads, members), seconds in steps.items():
        base, peak = steps[threads, args.members[0]], peaks[threads]
        rate = members * flops / seconds / 1e9
        rows.append({"threads": threads, "members": members, "ms_per_step": round(seconds * 1e3, 2),
                     "ratio": round(seconds / base, 2), "gflops": round(rate, 1), "matmul_gflops": round(peak)})
        print(f"{threads:>7} {members:>8} {seconds * 1e3:>8.2f} {seconds / base:>7.2f} {rate:>8.1f} {peak:>15.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
