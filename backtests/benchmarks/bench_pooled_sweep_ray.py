"""Benchmark: a sweep of ten pooled forecaster configurations on a local Ray cluster with two workers.

    python backtests/benchmarks/bench_pooled_sweep_ray.py                 # the bundled qlib sample (33 stocks)
    python backtests/benchmarks/bench_pooled_sweep_ray.py ../shared/data/qlib_csi300
        [--universe csi300] [--start 2018-01-02] [--end DATE] [--workers 2] [--k 30]
        [--seeds 0 1 2 3 4] [--cells gru lstm] [--set epochs=2 ...] [--local] [--out DIR] [--json FILE]

Ten configurations by default: the pooled defaults (``PooledConfig()``) with seeds 0..4 and cells GRU and LSTM,
each trading ``top_k`` (``k`` 5 on the sample, 30 on a directory) over the universe as it stood (CSI 300's
members of each day). The sweep runs through :func:`rnnstrategy.sweep` with ``executor="ray"``: every
configuration trains its pooled forecaster as one Ray task (one CPU, one thread) on a local cluster of
``--workers`` CPUs started by the sweep (so its start, a few seconds, is in the time; ``RAY_ADDRESS`` must
not be set), then judges them as any sweep does. ``--local`` also times the same sweep here, one
configuration after another with every core, and checks that both give the same ``sweep.json`` figures.

Nothing is stored (every fold is trained) unless ``--store DIR`` is given (``DIR/ray`` and ``DIR/local``: a rerun
then resumes). Printed: seconds of each sweep,
and per configuration the folds trained, the daily rank IC of its forecasts and its Sharpe ratio.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.api.sweep_definition import SweepSpec

SAMPLE_WINDOW = ("2022-01-04", None)  # the sample holds 2020-2023: two yearly folds of the pooled defaults


def _settings(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs (values as Python literals, else strings) as PooledConfig overrides."""
    values: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            values[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            values[key] = raw
    return values


def _spec(args: argparse.Namespace) -> SweepSpec:
    """The sweep: one strategy over the universe, the forecasters of every (seed, cell)."""
    sample = args.data is None
    source = str(datasets.path(datasets.UNIVERSE) if sample else args.data.resolve())
    start, end = SAMPLE_WINDOW if sample and args.start is None else (args.start or "2018-01-02", args.end)
    runs = [{"forecast": {"seed": seed, "cell": cell}} for seed, cell in itertools.product(args.seeds, args.cells)]
    backtest = {"strategy": "top_k", "start": start, "params": {"k": args.k or (5 if sample else 30)}}
    return SweepSpec.from_dict({
        "data": {"source": source, "universe": args.universe},
        "forecast": {"pooled": True, "device": "cpu", **_settings(args.set)},
        "backtest": backtest | ({"end": end} if end else {}),
        "sweep": {"list": runs},
    })


def _timed(spec: SweepSpec, out: Path, store: str | None, **options: Any) -> tuple[dict[str, Any], float]:
    """The sweep into ``out`` (with its own fold store under ``store``, if any) and its seconds."""
    started = time.perf_counter()
    summary = rs.sweep(spec, out, store=None if store is None else str(Path(store) / out.name), **options)
    return summary, time.perf_counter() - started


def _figures(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: row.get(key) for key in ("name", "trained", "rank_ic", "sharpe", "total_return")}
            for row in summary["configurations"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="?", default=None,
                        help="a qlib directory, e.g. ../shared/data/qlib_csi300 (default: the bundled sample)")
    parser.add_argument("--universe", default="csi300", help="the index whose members as they stood are traded")
    parser.add_argument("--start", default=None, help="first forecast date (sample: 2022-01-04; else 2018-01-02)")
    parser.add_argument("--end", default=None, help="last forecast date (default: the data's last day)")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster (default 2)")
    parser.add_argument("--k", type=int, default=None, help="top_k's k (default: 5 on the sample, 30 otherwise)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="PooledConfig settings for every configuration, e.g. epochs=2 train_days=500")
    parser.add_argument("--local", action="store_true", help="also time the same sweep here and compare")
    parser.add_argument("--store", default=None, help="a fold store (default: none, every fold is trained)")
    parser.add_argument("--out", type=Path, default=None, help="keep the sweeps' folders here (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    if os.environ.get("RAY_ADDRESS"):
        sys.exit("RAY_ADDRESS is set: this benchmark starts its own local cluster; unset it")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = _spec(args)
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_pooled_sweep_ray-"))
    try:
        ray_summary, ray_seconds = _timed(spec, root / "ray", args.store, executor="ray", workers=args.workers)
        result: dict[str, Any] = {"data": str(args.data or "bundled sample"), "configurations": ray_summary["trials"],
                                  "workers": args.workers, "cpus": os.cpu_count(), "ray_seconds": round(ray_seconds, 1),
                                  "figures": _figures(ray_summary)}
        print(f"{ray_summary['trials']} pooled configurations on a local Ray cluster of {args.workers} workers: "
              f"{ray_seconds:.1f} s (Ray's start included)", flush=True)
        if args.local:
            local_summary, local_seconds = _timed(spec, root / "local", args.store)
            same = _figures(local_summary) == result["figures"]
            result |= {"local_seconds": round(local_seconds, 1), "same_figures": same}
            print(f"the same sweep here, one configuration after another: {local_seconds:.1f} s "
                  f"({local_seconds / ray_seconds:.2f}x the Ray sweep's); same figures: {same}", flush=True)
        for row in result["figures"]:
            print(f"  {row['name']}: trained {row['trained']} folds, rank IC {row['rank_ic']}, Sharpe {row['sharpe']}")
        if args.json:
            args.json.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
