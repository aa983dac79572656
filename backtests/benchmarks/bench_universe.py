"""Benchmark: walk-forward forecasts over a universe of stocks, on each executor.

    python backtests/benchmarks/bench_universe.py [--data ../shared/data/stocks_tushare_qfq] [--symbols 8] [--every 1]
                                       [--executors inprocess,process,ray] [--workers 2]
                                       [--start 2022-07-01] [--preset small|default] [--train-window N]
                                       [--keep DIR]

Runs :func:`rnnstrategy.universe.forecast.forecast_universe` on the CSVs of the folder (every
``--every``-th file in name order, at most ``--symbols`` of them) with every executor
named, without a fold store (every fold trains), and prints wall seconds, forecasts per
second, peak memory (this process, and the largest worker process), the ok / skipped /
failed counts, and whether the forecasts of every executor are byte-identical to the
first one's. Presets: ``small`` is the default model (GRU (32,), lookback 40) with 5
epochs on a 500-sample window; ``default`` is
:class:`~rnnstrategy.forecasting.walkforward.ForecastConfig` unchanged. ``--keep DIR`` keeps each
executor's output (``DIR/<executor>``: forecasts and summary, e.g. for
``universe_topk.py``). ``--train-window N`` bounds the preset's training window to the
latest N samples (0: expanding). The machine may be shared: compare runs made close together.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time
from pathlib import Path

import torch

from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.universe.forecast import forecast_universe
from rnnstrategy.universe.sources import resolve_sources

PRESETS = {
    "small": ForecastConfig(epochs=5, train_window=500, device="cpu"),
    "default": ForecastConfig(device="cpu"),
}


def main() -> None:
    default_data = Path(__file__).resolve().parents[3] / "shared" / "data" / "stocks_tushare_qfq"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data, help="folder of bar CSVs")
    parser.add_argument("--symbols", type=int, default=8, help="how many CSVs of the folder (file name order)")
    parser.add_argument("--every", type=int, default=1, help="take every n-th CSV (a spread-out sample)")
    parser.add_argument("--keep", type=Path, default=None, help="keep each executor's output under this folder")
    parser.add_argument("--executors", default="inprocess,process", help="comma-separated: inprocess, process, ray")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per CPU)")
    parser.add_argument("--start", default="2022-07-01", help="first forecast date")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--train-window", type=int, default=None, help="override the preset's window (0: expanding)")
    args = parser.parse_args()

    files = [s for s in resolve_sources(args.data) if not s.endswith("basic_stock_data.csv")]
    sources = files[:: args.every][: args.symbols]
    config = PRESETS[args.preset]
    if args.train_window is not None:
        config = dataclasses.replace(config, train_window=args.train_window or None)
    print(f"{len(sources)} symbols from {args.data}, preset {args.preset} (train window {config.train_window}), "
          f"forecasts from {args.start}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads available to this process")
    first_out: Path | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for executor in args.executors.split(","):
            out = (args.keep or Path(tmp)) / executor
            started = time.perf_counter()
            summary = forecast_universe(sources, config, start=args.start, out_dir=out, executor=executor,
                                        workers=args.workers, store=None, strict=False)
            seconds = time.perf_counter() - started
            counts = summary["status"].value_counts().to_dict()
            same = ""
            if first_out is None:
                first_out = out
            else:
                files = sorted(p.name for p in (first_out / "forecasts").glob("*.csv"))
                identical = all((out / "forecasts" / f).read_bytes() == (first_out / "forecasts" / f).read_bytes()
                                for f in files)
                same = f", forecasts {'identical to' if identical else 'DIFFERENT from'} the first executor's"
            forecasts = int(summary["forecasts"].fillna(0).sum())
            mib = {who: resource.getrusage(who).ru_maxrss / 1024
                   for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)}
            print(f"{executor:10} {seconds:7.1f} s, {forecasts:,} forecasts, {forecasts / seconds:6.1f} forecasts/s, "
                  f"{60 * len(sources) / seconds:5.1f} symbols/min, peak memory {mib[resource.RUSAGE_SELF]:.0f} MiB "
                  f"here, {mib[resource.RUSAGE_CHILDREN]:.0f} MiB largest worker process, {counts}{same}")
            print("  seconds per symbol: " + ", ".join(f"{r.symbol} {r.seconds:.0f}" for r in summary.itertuples()))


if __name__ == "__main__":
    main()
