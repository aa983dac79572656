"""Benchmark: training throughput, one model at a time vs many models batched.

    python backtests/benchmarks/bench_training.py [--data ../shared/data/SH600519.csv] [--only default|lstm32|reference]
                                       [--folds 12] [--max-models N] [--threads 1] [--skip-one]
                                       [--skip-torch-ops]

For the default model (GRU (32,), lookback 40, 5 features, H 2; 30 epochs, early
stopping), the same with an LSTM cell, and the reference configuration (LSTM (64,),
lookback 60, H 1, train window 750, 10 epochs, no early stopping), the walk-forward
folds of one stock (``--folds``
of them, evenly spaced over its history) are trained from scratch, each model
independent of the others:

- one at a time: ``RNNForecaster.fit`` per fold (the reference loop in
  :mod:`rnnstrategy.forecasting.training`);
- batched: :func:`rnnstrategy.forecasting.batched.fitting.fit_many` over all folds at once, with the
  compiled time-step loops (:mod:`rnnstrategy.forecasting.batched.native`) when they build here;
- batched, torch ops: the same with the loops in PyTorch operations
  (``RNNSTRATEGY_NATIVE=0``, what runs where no C++ compiler is found).

Reported: seconds (wall and this process's CPU time: the machine may be shared),
achieved GFLOP/s and the fraction of the float32 matrix-multiply peak measured in the
same run with the same threads. FLOPs and the peak come from ``bench_walkforward``
(analytic count: matrix products only, training step = 3x forward), so the figures
compare with it. The largest weight difference between the two ways is printed too.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_walkforward import CONFIGS, matmul_peak_gflops, training_flops

from rnnstrategy.data import load_bars
from rnnstrategy.forecasting.batched import native
from rnnstrategy.forecasting.batched.fitting import FitRequest, fit_many
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.splitter import WalkForwardSplit

# bench_walkforward's two configurations, and the default model with an LSTM cell (the
# goal of at least 50 % of peak is stated for one-layer GRU and LSTM models of 32 units)
CONFIGS = {**CONFIGS, "lstm32": dataclasses.replace(CONFIGS["default"], cell="lstm")}


def fold_rows(bars, config: ForecastConfig, folds: int) -> list[int]:
    """``folds`` retrain rows spread evenly over the walk-forward schedule of ``bars``."""
    rows = WalkForwardSplit(
        lookback=config.lookback, horizon=config.horizon, retrain_every=config.retrain_every,
        train_window=config.train_window, min_train=config.min_train, warmup=config.warmup,
    ).retrain_rows(bars)
    pick = np.unique(np.linspace(0, len(rows) - 1, min(folds, len(rows))).round().astype(int))
    return [int(rows[k]) for k in pick]


def timed(run: Callable[..., list[RNNForecaster]], *args: object) -> tuple[list[RNNForecaster], float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    models = run(*args)
    return models, time.perf_counter() - wall, time.process_time() - cpu


def batched(config: ForecastConfig, bars, rows: list[int], max_models: int | None) -> list[RNNForecaster]:
    return fit_many([FitRequest(RNNForecaster(**config.model_params()), bars, r) for r in rows], max_models=max_models)


def batched_torch_ops(config: ForecastConfig, bars, rows: list[int], max_models: int | None) -> list[RNNForecaster]:
    os.environ[native.NATIVE_ENV] = "0"
    try:
        return batched(config, bars, rows, max_models)
    finally:
        del os.environ[native.NATIVE_ENV]


def one_at_a_time(config: ForecastConfig, bars, rows: list[int]) -> list[RNNForecaster]:
    return [RNNForecaster(**config.model_params()).fit(bars, until=r) for r in rows]


def max_weight_diff(models: list[RNNForecaster], others: list[RNNForecaster]) -> float:
    return max((a - b).abs().max().item() for m, n in zip(models, others, strict=True)
               for a, b in zip(m.module_.state_dict().values(), n.module_.state_dict().values(), strict=True))


def report(label: str, config: ForecastConfig, models: list[RNNForecaster], wall: float, cpu: float,
           peak: float) -> None:
    folds = [{"trained": True, "samples": len(m.train_ends_), "epochs": len(m.history_)} for m in models]
    flops, sample_epochs = training_flops(config, folds)
    gflops = flops / cpu / 1e9
    print(f"  {label:18} {wall:7.1f} s wall {cpu:7.1f} s CPU  {sample_epochs:>10,} sample-epochs  "
          f"{gflops:6.2f} GFLOP/s (CPU time) = {100 * gflops / peak:5.1f} % of peak")


def main() -> None:
    default_data = Path(__file__).resolve().parents[3] / "shared" / "data" / "SH600519.csv"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--only", choices=sorted(CONFIGS), default=None)
    parser.add_argument("--folds", type=int, default=12, help="folds to train (evenly spaced retrains)")
    parser.add_argument("--max-models", type=int, default=None, help="models side by side (default: sized from memory)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for small models)")
    parser.add_argument("--skip-one", action="store_true", help="skip the one-at-a-time run")
    parser.add_argument("--skip-torch-ops", action="store_true", help="skip the batched run without compiled loops")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    bars = load_bars(args.data)
    peak = matmul_peak_gflops()
    print(f"{bars.attrs['symbol']}: {len(bars)} bars; torch {torch.__version__}, {torch.get_num_threads()} "
          f"thread(s), float32 matmul peak {peak:.1f} GFLOP/s")
    for name, config in CONFIGS.items():
        if args.only and name != args.only:
            continue
        rows = fold_rows(bars, config, args.folds)
        print(f"{name}: {config.cell} {config.hidden} lookback {config.lookback} H {config.horizon}, "
              f"{len(rows)} cold folds, retrains {bars.index[rows[0]]:%Y-%m-%d}..{bars.index[rows[-1]]:%Y-%m-%d}")
        compiled = native.kernel_for(config.cell, config.hidden[0], torch.zeros(1)) is not None
        together, wall, cpu = timed(batched, config, bars, rows, args.max_models)
        report("batched" if compiled else "batched (no compiler: torch ops)", config, together, wall, cpu, peak)
        if compiled and not args.skip_torch_ops:
            plain, wall_ops, cpu_ops = timed(batched_torch_ops, config, bars, rows, args.max_models)
            report("batched, torch ops", config, plain, wall_ops, cpu_ops, peak)
            print(f"  compiled loops: {cpu_ops / cpu:.1f}x faster (CPU time); "
                  f"largest weight difference {max_weight_diff(plain, together):.2e}")
        if args.skip_one:
            continue
        single, wall_one, cpu_one = timed(one_at_a_time, config, bars, rows)
        report("one at a time", config, single, wall_one, cpu_one, peak)
        print(f"  speed-up {cpu_one / cpu:.1f}x (CPU time); "
              f"largest weight difference {max_weight_diff(single, together):.2e}")


if __name__ == "__main__":
    main()
