"""Benchmark: pooled walk-forward over a universe, seconds and cross-sectional quality.

    python backtests/benchmarks/bench_pooled.py ../shared/data/stocks_liquid300 [--from 2012-01-01] [--start 2018-01-02]
        [--device cpu|cuda] [--symbols N] [--market ../shared/data/index/sh000300.csv]
        [--variant "name: key=value key=value" ...] [--json FILE]

Loads every CSV of the folder (bars from ``--from`` on), runs
:func:`rnnstrategy.forecasting.pooled.walkforward.pooled_walk_forward` with the default pooled
configuration (``PooledConfig()``), or with each ``--variant``'s overrides (PooledConfig fields),
and prints per run: seconds (loading excluded), seconds per fold, and the cross-sectional
figures of :func:`rnnstrategy.evaluation.cross_section_metrics` (mean daily rank IC, ICIR,
t, quintile spread) beside the 5-day reversal baseline on the same stock-days. Nothing is
stored: every fold is trained.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import time
from pathlib import Path

import torch
from _bars import load_folder

from rnnstrategy.data import load_bars
from rnnstrategy.evaluation import cross_section_metrics
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.walkforward import pooled_walk_forward


def _variant(text: str) -> tuple[str, dict[str, object]]:
    name, _, settings = text.partition(":")
    values: dict[str, object] = {}
    for item in settings.split():
        key, _, raw = item.partition("=")
        try:
            values[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            values[key] = raw
    return name.strip(), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--from", dest="first", default="2012-01-01", help="first bar loaded")
    parser.add_argument("--start", default="2018-01-02", help="first forecast date")
    parser.add_argument("--end", default=None, help="last forecast date")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--symbols", type=int, default=None, help="only the first N files")
    parser.add_argument("--market", default=None, help="index CSV for market features (variants may set market=...)")
    parser.add_argument("--variant", action="append", default=[], help='"name: key=value ..." (repeatable)')
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    bars = load_folder(args.folder, args.symbols, args.first, skip_bad=True)  # a bad file: reported, left out
    closes = {symbol: frame["close"] for symbol, frame in bars.items()}
    print(f"{len(bars)} symbols loaded in {time.perf_counter() - started:.1f} s; device {args.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))

    variants = [_variant(v) for v in args.variant] or [("default", {})]
    results = []
    for name, overrides in variants:
        market_path = overrides.pop("market", args.market)
        market = load_bars(market_path, start=args.first) if market_path else None
        config = PooledConfig(device=args.device, market=market_path, **overrides)
        t0 = time.perf_counter()
        frames = pooled_walk_forward(bars, config, args.start, args.end, market=market)
        seconds = time.perf_counter() - t0
        folds = next(iter(frames.values())).attrs["folds"]
        cs = cross_section_metrics(frames, closes)
        row = {"variant": name, "overrides": {**overrides, "market": market_path}, "seconds": round(seconds, 1),
               "folds": len(folds), "symbols": len(frames),
               **{k: cs.get(k) for k in ("rank_ic", "rank_icir", "rank_ic_t", "ic", "icir", "n_days", "long_short",
                                           "baseline_reversal5_rank_ic", "by_year")}}
        results.append(row)
        print(f"{name}: {seconds:.1f} s ({seconds / max(len(folds), 1):.1f} s/fold, {len(folds)} folds), rank IC "
              f"{cs['rank_ic']:.4f} ICIR {cs['rank_icir']:.3f} t {cs['rank_ic_t']:.2f}, IC {cs['ic']:.4f}, "
              f"long-short {1e4 * (cs['long_short'] or 0):.1f} bp/day; reversal-5 rank IC "
              f"{cs['baseline_reversal5_rank_ic']:.4f}; by year "
              + " ".join(f"{y}:{v['rank_ic']:.3f}" for y, v in cs["by_year"].items()), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
