"""Benchmark: a pooled ensemble of K members against one member, the same run otherwise.

    python backtests/benchmarks/bench_ensemble.py ../shared/data/stocks_liquid300 [--symbols 100]
        [--from 2013-01-01] [--start 2018-01-02] [--end 2020-12-31] [--ensemble 1 3] [--device cpu|cuda]
        [--threads N] [--json FILE]

Loads the first ``--symbols`` CSV files of the folder (bars from ``--from`` on) and runs
:func:`rnnstrategy.forecasting.pooled.walkforward.pooled_walk_forward` with the default pooled
configuration (``PooledConfig()``) once per ``--ensemble`` size, back to back in one process (the
machine may be shared: compare the figures of one run only). The members of an ensemble train as one
stacked computation (:mod:`rnnstrategy.forecasting.pooled.fit`). Printed per size: wall seconds, this
process's CPU seconds, epochs run (all members), the mean daily rank IC; then each size's time as a
multiple of the first size's. Nothing is stored: every fold is trained.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from rnnstrategy.data import load_bars
from rnnstrategy.evaluation import cross_section_metrics
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.walkforward import pooled_walk_forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--symbols", type=int, default=100, help="the first N files (default 100)")
    parser.add_argument("--from", dest="first", default="2013-01-01", help="first bar loaded")
    parser.add_argument("--start", default="2018-01-02", help="first forecast date")
    parser.add_argument("--end", default="2020-12-31", help="last forecast date")
    parser.add_argument("--ensemble", type=int, nargs="+", default=[1, 3], help="ensemble sizes, run in this order")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    files = sorted(p for p in args.folder.glob("*.csv") if not p.name.startswith("basic_"))[: args.symbols]
    bars = {}
    for path in files:
        frame = load_bars(path, start=args.first, end=args.end)
        bars[frame.attrs.get("symbol") or path.stem] = frame
    closes = {symbol: frame["close"] for symbol, frame in bars.items()}
    print(f"{len(bars)} symbols, bars {args.first}..{args.end}, forecasts from {args.start}; device {args.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)

    results = []
    for size in args.ensemble:
        config = PooledConfig(device=args.device, ensemble=size)
        wall, cpu = time.perf_counter(), time.process_time()
        frames = pooled_walk_forward(bars, config, args.start, args.end)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        folds = next(iter(frames.values())).attrs["folds"]
        rank_ic = cross_section_metrics(frames, closes)["rank_ic"]
        row = {"ensemble": size, "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "folds": len(folds),
               "epochs": sum(f["epochs"] for f in folds), "samples": sum(f["samples"] for f in folds),
               "rank_ic": rank_ic}
        results.append(row)
        print(f"ensemble {size}: {wall:.1f} s ({cpu:.1f} s CPU), {len(folds)} folds, {row['epochs']} epochs, "
              f"rank IC {rank_ic:.4f}", flush=True)
    base = results[0]
    for row in results[1:]:
        row["ratio"] = round(row["seconds"] / base["seconds"], 2)
        print(f"ensemble {row['ensemble']} / ensemble {base['ensemble']}: {row['ratio']:.2f}x wall, "
              f"{row['cpu_seconds'] / base['cpu_seconds']:.2f}x CPU")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
