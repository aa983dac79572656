"""``rnnstrategy backtest``: forecast (or reuse forecasts), trade them under A-share rules, report.

Every option is derived from a field of the run's dataclasses (:class:`~rnnstrategy.config.DataSpec`,
:class:`~rnnstrategy.config.BacktestSpec`, :class:`~rnnstrategy.config.BenchmarkSpec`,
:class:`~rnnstrategy.forecasting.config.ForecastConfig` or, with ``--pooled``,
:class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`, :class:`~rnnstrategy.ashare.rules.AShareRules`),
or from a parameter of a ready strategy (``--k 10``, the same as ``--param k=10``); the work is
:func:`rnnstrategy.api.run`, shared with ``rnnstrategy run`` and Python.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from rnnstrategy import datasets
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.cli.forecast import (
    add_forecaster_options,
    add_universe_options,
    compute_options,
    fold_progress,
    symbol_progress,
)
from rnnstrategy.cli.forecaster import forecaster_from_args
from rnnstrategy.cli.options import (
    STRATEGY_OPTIONS,
    HelpFormatter,
    add_options,
    add_strategy_options,
    build,
    check_output_dir,
    output_dir,
    strategy_params,
    values_from_args,
)
from rnnstrategy.cli.os_errors import one_line_os_errors
from rnnstrategy.cli.progress import progress
from rnnstrategy.cli.universe_options import (
    add_symbol_option,
    example_universe,
    universe_example_note,
    with_symbol,
)
from rnnstrategy.config import BacktestSpec, BenchmarkSpec, DataSpec, RunConfig
from rnnstrategy.errors import ConfigError

__all__ = ["execute", "register", "run_config_from_args"]


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` the ``backtest`` options describe (``--example``: the bundled sample)."""
    data = build(DataSpec, args, **_example_source(args))
    data = dataclasses.replace(data, source=with_symbol(data.source, args))
    benchmark = build(BenchmarkSpec, args)
    if getattr(args, "example", False) and benchmark.source is None and data.universe is None:
        benchmark = dataclasses.replace(benchmark, source=str(datasets.path("csi300")))  # a sample's: its index
    params = strategy_params(args, values_from_args(BacktestSpec, args)["params"])
    return RunConfig(data=data, forecast=forecaster_from_args(args), backtest=build(BacktestSpec, args, params=params),
                     benchmark=benchmark, rules=build(AShareRules, args))


def _example_source(args: argparse.Namespace) -> dict[str, str]:
    """``source`` (and name) of the bundled Moutai sample under ``--example``; nothing when DATA is given."""
    values = values_from_args(DataSpec, args)
    given = values["source"]
    if getattr(args, "example", False):
        if given is not None:
            raise ConfigError(f"give DATA ({given}) or --example, not both")
        sample = example_universe(values["universe"])  # --universe: the bundled qlib directory
        if sample is not None:
            return {"source": sample}
        return {"source": str(datasets.path("moutai")), "name": values["name"] or datasets.MOUTAI_NAME}
    if given is None:
        reused = values_from_args(BacktestSpec, args)["forecasts"]
        if reused and os.path.isdir(reused):  # the folder of a universe run names its sources
            return {"source": reused}
        raise ConfigError("no data: give DATA (a CSV path or a symbol such as 600519; a folder of CSVs or several "
                          "for a universe), --forecasts the folder of a universe run, or --example for the bundled "
                          "Moutai sample")
    return {}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "backtest",
        help="forecast, backtest under A-share rules and write a quantstats report",
        description="Retrain the forecaster walk-forward on DATA (or reuse --forecasts), trade the forecasts with "
                    "a Backtrader strategy under A-share broker rules, and write DIR/report.html (quantstats "
                    "tearsheet vs the benchmark), PNG diagnostics, metrics.json, trades.csv, equity.csv, "
                    "forecasts.csv and manifest.json. A universe (DATA a folder of CSVs, or several paths or "
                    "symbols; or --forecasts the folder of `rnnstrategy forecast FOLDER`) is traded with --strategy "
                    "top_k in one run against the benchmark and the equal-weight universe; its forecasts are "
                    "DIR/forecasts/<symbol>.csv with DIR/summary.csv and DIR/summary.json.",
        formatter_class=HelpFormatter,
    )
    add_options(parser, DataSpec)
    parser.add_argument("--example", action="store_true",
                        help="trade the bundled sample: Moutai (600519.SH) 2010-2020 against CSI 300, no DATA "
                             "needed (rnnstrategy.datasets); with --universe csi300, the bundled qlib directory of "
                             "33 CSI 300 members 2020-2023 against its index")
    add_symbol_option(parser)
    parser.add_argument("--out", type=output_dir, required=True, metavar="DIR", help="output directory")
    add_options(parser.add_argument_group("backtest (BacktestSpec)"), BacktestSpec)
    ready = parser.add_argument_group(STRATEGY_OPTIONS)
    parser.defer(lambda _: add_strategy_options(ready))  # they import Backtrader: not while the CLI is built
    add_options(parser.add_argument_group("benchmark (BenchmarkSpec)"), BenchmarkSpec)
    add_options(parser.add_argument_group("A-share broker rules (AShareRules)"), AShareRules)
    add_forecaster_options(parser)
    add_universe_options(parser)
    parser.set_defaults(func=_backtest)


@one_line_os_errors
def _backtest(args: argparse.Namespace) -> int:
    check_output_dir(args.out)
    config = run_config_from_args(args)
    if args.example and not args.quiet:
        print(universe_example_note() if config.data.universe else
              f"using the bundled sample: {datasets.describe('moutai')}, against the {datasets.describe('csi300')}")
    return execute(config, args.out, args)


@one_line_os_errors
def execute(config: RunConfig, out: Path, args: argparse.Namespace, *, config_file: Path | None = None,
            recorded: dict | None = None) -> int:
    """Run ``config`` with the compute options and progress bars of ``args``, write ``out``, print a summary.
    ``recorded``: the manifest of a run being replayed (its data fingerprints are checked)."""
    from rnnstrategy.api import run
    from rnnstrategy.api.preflight import check_compute, check_run
    from rnnstrategy.report.folder_checks import check_kind

    check_output_dir(out)  # a file or a read-only place fails now, not after the training
    compute = compute_options(args)
    # the sources, window, output folder, cache and forecaster, before any data is loaded or model trained
    check_run(config, out=out, store=compute["store"], reused=bool(config.backtest.forecasts))
    check_compute(workers=getattr(args, "workers", None), threads=compute["threads"])
    check_kind(out, "backtest")
    allow_changed = getattr(args, "allow_changed_data", False)
    with progress(desc="folds", unit="fold", quiet=args.quiet) as folds, \
            progress(desc="backtest", unit="bar", quiet=args.quiet, leave=False) as bars:

        def on_bar(done: int, total: int) -> None:
            if not bars.n:  # the forecast stage is over: its bar (and heartbeat) stops
                folds.close()
            bars.total = total
            bars.update(done - bars.n)

        universe = {"out": out, "executor": getattr(args, "executor", "auto"), "workers": getattr(args, "workers", None),
                    "on_symbol": symbol_progress(folds)}
        result = run(config, on_fold=fold_progress(folds), on_bar=on_bar, config_file=config_file,
                     recorded=recorded, allow_changed_data=allow_changed, **universe, **compute)
    for change in result.manifest.get("data_changed", []):
        print(f"note: {change}; re-ran on the data as it is now (--allow-changed-data)")
    written = result.write(out)
    if not args.quiet:
        print("\n".join(result.summary()))
        timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.manifest["timings"].items())
        print(f"wrote {len(written)} files to {out} (report.html, metrics.json, ...); {timings}")
    return 0
