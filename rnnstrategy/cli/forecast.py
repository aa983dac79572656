"""``rnnstrategy forecast``: walk-forward forecasts of one security or a universe, with metrics.

One source (a CSV or a symbol) writes ``DIR/forecasts.csv`` and ``DIR/metrics.json``;
several, or a folder of CSVs, write ``DIR/forecasts/<symbol>.csv`` with ``DIR/summary.csv``
and ``DIR/summary.json``. The work is :func:`rnnstrategy.api.forecast`; this module parses
and prints.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rnnstrategy.cli.forecaster import FORECASTER_OPTIONS, add_forecaster_settings, forecaster_from_args
from rnnstrategy.cli.options import HelpFormatter, check_output_dir, output_dir
from rnnstrategy.cli.os_errors import one_line_os_errors
from rnnstrategy.cli.progress import progress
from rnnstrategy.cli.universe_options import (
    add_symbol_option,
    add_universe_choice,
    example_universe,
    universe_example_note,
    with_symbol,
)
from rnnstrategy.errors import ConfigError

__all__ = ["add_compute_options", "add_forecaster_options", "add_universe_options", "compute_options", "fold_progress",
           "register", "symbol_progress"]

EXECUTORS = ("inprocess", "process", "ray")  # rnnstrategy.universe.executors.EXECUTORS, without importing torch


def add_forecaster_options(parser: argparse.ArgumentParser) -> None:
    """The forecaster's options (:mod:`rnnstrategy.cli.forecaster`), plus the compute options."""
    add_forecaster_settings(parser.add_argument_group(FORECASTER_OPTIONS))
    add_compute_options(parser)


def add_compute_options(parser: argparse.ArgumentParser) -> None:
    """Where and how to compute: threads and the fold store (not part of a research definition)."""
    compute = parser.add_argument_group("compute (not part of the research definition)")
    compute.add_argument("--threads", type=int, default=0,
                         help="torch threads (per worker in a universe run); 0 = every core, none oversubscribed")
    compute.add_argument("--store", type=Path, default=None, help="fold store directory (default: folds/ in the cache)")
    compute.add_argument("--no-store", action="store_true", help="keep no folds on disk (always retrain)")


def compute_options(args: argparse.Namespace) -> dict[str, Any]:
    """``store`` and ``threads`` of :func:`rnnstrategy.api.forecast` / :func:`~rnnstrategy.api.run`."""
    from rnnstrategy.api import DEFAULT_STORE

    cores = os.cpu_count() or 1
    if (args.threads or 0) < 0:
        raise ConfigError(f"--threads {args.threads}: give a number of threads (1 or more), or 0 for every core")
    if (args.threads or 0) > 4 * cores:  # a pool far beyond the cores fails to allocate, or crawls
        raise ConfigError(f"--threads {args.threads}: more than 4 per core of this machine's {cores}; give 1 to "
                          f"{4 * cores}, or 0 for every core")
    if args.store is not None and args.no_store:
        raise ConfigError(f"--store {args.store} and --no-store: give one (--no-store keeps no folds anywhere)")
    store = None if args.no_store else (args.store or DEFAULT_STORE)
    return {"store": store, "threads": args.threads or None}


def fold_progress(bar: tqdm) -> Any:
    """An ``on_fold`` callback that advances ``bar``."""

    def progress(report: Any) -> None:
        bar.total = report.folds
        bar.set_postfix(date=f"{report.retrain_date:%Y-%m-%d}", trained=report.trained, refresh=False)
        bar.update()

    return progress


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "forecast",
        help="walk-forward forecasts of the next opens, with metrics against naive baselines",
        description="Retrain a recurrent forecaster walk-forward and write DIR/forecasts.csv and DIR/metrics.json. "
                    "With several sources, or a folder of CSVs: DIR/forecasts/<symbol>.csv, DIR/summary.csv and "
                    "DIR/summary.json (a tushare stock list in the folder is read as metadata); the exit code is 1 "
                    "when a symbol failed (skipped ones do not count).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("data", metavar="DATA", nargs="*",
                        help="CSV path or 6-digit symbol (akshare, cached); several, or a folder of CSVs, for a universe")
    parser.add_argument("--example", action="store_true",
                        help="forecast the bundled sample: Moutai (600519.SH) 2010-2020, no DATA needed "
                             "(rnnstrategy.datasets); with --universe csi300, the bundled qlib directory of 33 CSI "
                             "300 members 2020-2023")
    add_symbol_option(parser)
    add_universe_choice(parser)
    parser.add_argument("--out", type=output_dir, required=True, metavar="DIR", help="output directory")
    parser.add_argument("--adjust", default="qfq", choices=["", "qfq", "hfq"], help="price adjustment of a symbol download")
    parser.add_argument("--start", help="first forecast date, YYYY-MM-DD (training uses earlier bars)")
    parser.add_argument("--end", help="last forecast date, YYYY-MM-DD")
    parser.add_argument("--lenient", action="store_true",
                        help="drop rows that fail validation (with a warning) instead of failing")
    add_forecaster_options(parser)
    add_universe_options(parser)
    parser.set_defaults(func=_forecast)


def _data(args: argparse.Namespace) -> str | list[str]:
    """DATA as :func:`~rnnstrategy.api.forecast` takes it (one source, or a list), or the bundled sample."""
    if args.example:
        if args.data:
            raise ConfigError(f"give DATA ({' '.join(args.data)}) or --example, not both")
        from rnnstrategy import datasets

        sample = example_universe(args.universe)
        if not args.quiet:
            print(universe_example_note() if sample else f"using the bundled sample: {datasets.describe('moutai')}")
        return sample or str(datasets.path("moutai"))
    if not args.data:
        raise ConfigError("no data: give DATA (a CSV path or a symbol such as 600519; a folder of CSVs or several "
                          "for a universe), or --example for the bundled Moutai sample")
    return with_symbol(args.data[0] if len(args.data) == 1 else args.data, args)


def add_universe_options(parser: argparse.ArgumentParser, retries: bool = True) -> None:
    """How a universe is forecast: executor, workers and (with ``retries``) retries; not part of the research
    definition."""
    universe = parser.add_argument_group("universe runs (several sources or a folder)")
    universe.add_argument("--executor", choices=["auto", *EXECUTORS], default="auto",
                          help="auto: a local process pool; ray: the cluster RAY_ADDRESS names, else a local one "
                               "(a pooled run: its folds as Ray tasks; with any other, here)")
    universe.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    if retries:
        universe.add_argument("--retries", type=int, default=1, help="extra attempts for a symbol whose worker crashed")


def symbol_progress(bar: tqdm) -> Any:
    """An ``on_symbol`` callback that advances ``bar`` as each symbol of a universe finishes."""

    def on_symbol(row: dict[str, object]) -> None:
        if getattr(bar, "unit", None) == "fold":  # a pooled run counted its folds on this bar: count symbols from 0
            bar.n, bar.total = 0, None
        bar.unit = "symbol"
        bar.set_postfix(symbol=row["symbol"], status=row["status"], refresh=False)
        bar.update()

    return on_symbol


@one_line_os_errors
def _forecast(args: argparse.Namespace) -> int:
    from rnnstrategy.api import UniverseForecastRun, forecast

    check_output_dir(args.out)  # a file or a read-only place fails now, not after the training
    config = forecaster_from_args(args)
    data = _data(args)
    compute = compute_options(args)
    with progress(desc="forecast", unit="fold", quiet=args.quiet) as bar:
        on_symbol = symbol_progress(bar)
        result = forecast(data, config, start=args.start, end=args.end, out=args.out, adjust=args.adjust,
                          strict=not args.lenient, executor=args.executor, workers=args.workers,
                          retries=args.retries, on_fold=fold_progress(bar), on_symbol=on_symbol,
                          universe=args.universe, members_only_training=args.members_only_training, **compute)
    if isinstance(result, UniverseForecastRun):
        if not args.quiet:
            print("\n".join(result.summary_lines()))
            print(f"wrote {args.out / 'forecasts'}/, {args.out / 'summary.csv'} and {args.out / 'summary.json'}")
        return 0 if result.ok else 1
    if not args.quiet:
        print("\n".join(result.summary()))
        print(f"wrote {args.out / 'forecasts.csv'} and {args.out / 'metrics.json'}")
    return 0
