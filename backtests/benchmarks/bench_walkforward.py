"""Benchmark: walk-forward over the whole SH600519 history, default and reference configurations.

    python backtests/benchmarks/bench_walkforward.py [--data ../shared/data/SH600519.csv] [--only default|reference]
                                          [--threads 1] [--max-models N]

For each configuration: wall-clock seconds, retrains, samples x epochs trained, and the
achieved training throughput in GFLOP/s next to a float32 matrix-multiply peak measured
in the same run (same threads). Training FLOPs are estimated analytically: a recurrent
layer costs 2 * gates * (inputs + hidden) * hidden FLOPs per sample and time step
forward (gates: RNN 1, GRU 3, LSTM 4), the head 2 * hidden * H; a training step costs
about 3x its forward pass (forward + backward), a validation pass 1x. Nothing is stored:
every fold trains.

``walk_forward`` trains cold folds together (:mod:`rnnstrategy.forecasting.batched`);
``--max-models 1`` trains them one after another through the same code, for comparison.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rnnstrategy.data import load_bars
from rnnstrategy.forecasting.walkforward import ForecastConfig, walk_forward

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
CONFIGS = {
    "default": ForecastConfig(device="cpu"),
    "reference": ForecastConfig(cell="lstm", hidden=(64,), lookback=60, horizon=1, retrain_every=20,
                                train_window=750, epochs=10, patience=0, warm_start=False, device="cpu"),
}


def matmul_peak_gflops(n: int = 1024, seconds: float = 2.0) -> float:
    """Best float32 GEMM rate of this process, in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        for _ in range(5):
            torch.mm(a, b)
        best = max(best, 5 * 2 * n**3 / (time.perf_counter() - started) / 1e9)
    return best


def forward_flops_per_sample(config: ForecastConfig) -> float:
    inputs, flops = len(config.features), 0.0
    for hidden in config.hidden:
        flops += 2 * GATES[config.cell] * (inputs + hidden) * hidden * config.lookback
        inputs = hidden
    return flops + 2 * inputs * config.horizon


def training_flops(config: ForecastConfig, folds: list[dict]) -> tuple[float, int]:
    """Estimated FLOPs of all trained folds, and the sample-epochs they processed."""
    per_sample = forward_flops_per_sample(config)
    total, sample_epochs = 0.0, 0
    for fold in folds:
        if not fold["trained"]:
            continue
        val = int(fold["samples"] * config.val_fraction) if config.patience > 0 else 0
        train = fold["samples"] - val
        total += fold["epochs"] * per_sample * (3 * train + val)
        sample_epochs += fold["epochs"] * fold["samples"]
    return total, sample_epochs


def main() -> None:
    default_data = Path(__file__).resolve().parents[3] / "shared" / "data" / "SH600519.csv"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--only", choices=sorted(CONFIGS), default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default, all cores)")
    parser.add_argument("--max-models", type=int, default=None, help="folds trained side by side (default: sized from memory)")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    bars = load_bars(args.data)
    peak = matmul_peak_gflops()
    print(f"{bars.attrs['symbol']}: {len(bars)} bars {bars.index[0]:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 matmul peak {peak:.1f} GFLOP/s")
    for name, config in CONFIGS.items():
        if args.only and name != args.only:
            continue
        started = time.perf_counter()
        forecasts = walk_forward(bars, config, max_models=args.max_models)
        seconds = time.perf_counter() - started
        flops, sample_epochs = training_flops(config, forecasts.attrs["folds"])
        gflops = flops / seconds / 1e9
        print(f"{name:9} {config.cell} {config.hidden} lookback {config.lookback} H {config.horizon}: "
              f"{seconds:7.1f} s, {len(forecasts.attrs['folds'])} retrains, {len(forecasts)} forecasts, "
              f"{sample_epochs:,} sample-epochs, {gflops:.2f} GFLOP/s = {100 * gflops / peak:.1f} % of peak")


if __name__ == "__main__":
    main()
