"""``rnnstrategy backtest``: forecast (or reuse forecasts), trade them under A-share rules, report.

The pipeline (:func:`execute`) is shared with ``rnnstrategy run``, which reads the same
settings from a TOML file (:mod:`rnnstrategy.config`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from rnnstrategy.cli.forecast import (
    add_forecaster_options,
    config_from_args,
    run_walk_forward,
)
from rnnstrategy.cli.report import use_agg
from rnnstrategy.config import BacktestSpec, BenchmarkSpec, DataSpec, RunConfig
from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.walkforward import first_retrain_row

__all__ = ["add_backtest_options", "execute", "register", "run_config_from_args"]

_SPEC = BacktestSpec()


def add_backtest_options(parser: argparse.ArgumentParser) -> None:
    """The strategy, broker and benchmark options of ``backtest``."""
    group = parser.add_argument_group("backtest")
    group.add_argument("--strategy", default=_SPEC.strategy,
                       help="a strategy in strategies/ (forecast_long, overnight_gap) or a dotted path to your own "
                            "ForecastStrategy subclass, e.g. mypackage.mymodule.MyStrategy")
    group.add_argument("--execution", choices=["next_open", "close"], default=None,
                       help="orders fill at the next open, or at this close (cheat-on-close); "
                            "default: the strategy's own (next_open for forecast_long)")
    group.add_argument("--cash", type=float, default=_SPEC.cash, help="starting cash, CNY")
    group.add_argument("--forecasts", metavar="CSV", default=None,
                       help="reuse these forecasts (forecasts.csv of an earlier run or of `rnnstrategy forecast`) "
                            "instead of training; the forecaster options are then ignored")
    report = parser.add_argument_group("report")
    report.add_argument("--benchmark", metavar="DATA", default=None,
                        help="benchmark bars: CSV path or symbol, e.g. ../shared/data/index/sh000300.csv or sh000300; "
                             "default: buy-and-hold of the traded stock")
    report.add_argument("--benchmark-title", default=None,
                        help="benchmark name in the report (default: the index name)")
    report.add_argument("--name", default=None, help="the stock's name in titles (default: looked up in --names)")
    report.add_argument("--names", metavar="CSV", default=None,
                        help="stock list with ts_code and name columns (tushare stock_basic); default: "
                             "$RNNSTRATEGY_NAMES, else a basic_stock_data.csv in DATA's folder or one below it")


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` the ``backtest`` options describe."""
    return RunConfig(
        data=DataSpec(source=args.data, adjust=args.adjust, name=args.name, names=args.names),
        forecast=config_from_args(args),
        backtest=BacktestSpec(strategy=args.strategy, execution=args.execution, cash=args.cash, start=args.start,
                              end=args.end, forecasts=args.forecasts),
        benchmark=BenchmarkSpec(source=args.benchmark, title=args.benchmark_title),
    )


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "backtest",
        help="forecast, backtest under A-share rules and write a quantstats report",
        description="Retrain the forecaster walk-forward on DATA (or reuse --forecasts), trade the forecasts with "
                    "a Backtrader strategy under A-share broker rules, and write DIR/report.html (quantstats "
                    "tearsheet vs the benchmark), PNG diagnostics, metrics.json, trades.csv, equity.csv, "
                    "forecasts.csv and manifest.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("data", metavar="DATA", help="CSV path or 6-digit symbol (akshare, cached) of the traded stock")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument("--adjust", default="qfq", choices=["", "qfq", "hfq"],
                        help="price adjustment of a symbol download")
    add_backtest_options(parser)
    add_forecaster_options(parser)
    parser.set_defaults(func=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    return execute(run_config_from_args(args), args.out, args)


class _Timer:
    """Wall-clock seconds per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)


def _first_forecast_date(config: RunConfig, bars: pd.DataFrame) -> pd.Timestamp | None:
    row = first_retrain_row(config.forecast, bars.index, config.backtest.start)
    return None if row is None else bars.index[row]


def _check_benchmark_covers(benchmark: pd.DataFrame, first: pd.Timestamp | None, last: pd.Timestamp) -> None:
    """Fail before training when the benchmark cannot cover the backtest window."""
    if first is not None and (benchmark.index[0] > first or benchmark.index[-1] < last):
        raise ConfigError(
            f"benchmark {benchmark.attrs.get('symbol')} has bars {benchmark.index[0]:%Y-%m-%d}.."
            f"{benchmark.index[-1]:%Y-%m-%d} but the backtest runs {first:%Y-%m-%d}..{last:%Y-%m-%d}; "
            "give a benchmark covering it, or set --start/--end inside its range"
        )


def _forecasts(config: RunConfig, bars: pd.DataFrame, options: argparse.Namespace) -> pd.DataFrame:
    from rnnstrategy.forecasting.frames import read_forecasts

    if config.backtest.forecasts:
        forecasts = read_forecasts(config.backtest.forecasts)
        window = forecasts.loc[config.backtest.start:config.backtest.end]
        if window.empty:
            raise ConfigError(f"{config.backtest.forecasts} has no forecasts between {config.backtest.start} and "
                              f"{config.backtest.end}; widen --start/--end or compute new forecasts")
        window.attrs = forecasts.attrs
        return window
    walk = argparse.Namespace(**{**vars(options), "start": config.backtest.start, "end": config.backtest.end})
    return run_walk_forward(walk, bars, config.forecast)


def _bar_progress(symbol: str, quiet: bool) -> tuple[Any, Any]:
    bar = tqdm(desc=f"backtest {symbol}", unit="bar", disable=quiet or None, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, update


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _summary(metrics: dict[str, Any]) -> list[str]:
    s, b, t, f = metrics["strategy"], metrics["benchmark"], metrics["trades"], metrics["forecast"]
    period = metrics["period"]
    lines = [
        f"{s['title']} {period['start']}..{period['end']} ({period['days']} days)",
        f"  total return {_percent(s['total_return'])} vs {b['title']} {_percent(b['total_return'])}; "
        f"CAGR {_percent(s['cagr'])} vs {_percent(b['cagr'])}; max drawdown {_percent(s['max_drawdown'])} "
        f"vs {_percent(b['max_drawdown'])}",
        f"  Sharpe {_ratio(s['sharpe'])} vs {_ratio(b['sharpe'])}; {t['count']} fills, turnover "
        f"{t['turnover']:.1f}x, fees {t['total_fees']:,.0f} CNY, exposure {t['exposure']:.0%}",
    ]
    if "rmse" in f:
        lines.append(f"  next-day open RMSE {f['rmse']:.2f} vs previous close {f['baseline_prev_close_rmse']:.2f}: "
                     f"the model {f['verdict']}")
    return lines


def _titles(config: RunConfig, symbol: str, bench_symbol: str, forecasts: pd.DataFrame) -> Any:
    """Strategy, benchmark and security names: "GRU forecast on 600519 贵州茅台", "CSI 300"."""
    from rnnstrategy.report import (
        Titles,
        benchmark_title,
        find_names_file,
        security_label,
        security_name,
    )

    names = config.data.names or find_names_file(config.data.source)
    security = security_label(symbol, config.data.name or security_name(symbol, names))
    if config.benchmark.title:
        bench_title = config.benchmark.title
    elif config.benchmark.source:
        bench_title = benchmark_title(bench_symbol, names)
    else:
        bench_title = f"Buy and hold {security}"
    cell = str((forecasts.attrs.get("config") or {}).get("cell", config.forecast.cell))
    return Titles.for_run(cell, security, bench_title)


def _manifest(config: RunConfig, config_file: Path | None, strategy: type, bars: pd.DataFrame,
              bench_bars: pd.DataFrame | None, forecasts: pd.DataFrame, timings: dict[str, float]) -> dict[str, Any]:
    """What reproduces the run: configuration, strategy class, data fingerprints, versions, command line."""
    from rnnstrategy.report import data_record, package_versions

    folds = forecasts.attrs.get("folds") or []
    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "cwd": str(Path.cwd()),
        "config_file": str(config_file) if config_file else None,
        "config_file_text": config_file.read_text(encoding="utf-8") if config_file else None,
        "config": config.to_dict(),
        "strategy": f"{strategy.__module__}.{strategy.__qualname__}",
        "data": data_record(bars),
        "benchmark": data_record(bench_bars) if bench_bars is not None else "buy and hold of the traded stock",
        "forecasts": {"source": config.backtest.forecasts or "walk_forward", "rows": len(forecasts),
                      "first": f"{forecasts.index[0]:%Y-%m-%d}", "last": f"{forecasts.index[-1]:%Y-%m-%d}",
                      "retrains": len(folds), "trained": sum(bool(f.get("trained")) for f in folds),
                      "config": forecasts.attrs.get("config")},
        "packages": package_versions(),
        "timings": dict(timings),
    }


def execute(config: RunConfig, out: Path, options: argparse.Namespace, *, config_file: Path | None = None) -> int:
    """Load, forecast, backtest and report one :class:`RunConfig` into ``out``; returns the exit code.

    ``options`` carries the run's non-research settings: ``threads``, ``store``,
    ``no_store`` and ``quiet``.
    """
    use_agg()
    from rnnstrategy.backtrader.results import load_strategy, run_backtest
    from rnnstrategy.evaluation import forecast_metrics
    from rnnstrategy.report import (
        FILES,
        RunReport,
        benchmark_returns,
        run_metrics,
        write_run,
    )

    timer = _Timer()
    spec = config.backtest
    with timer.stage("load"):
        strategy = load_strategy(spec.strategy)  # a typo fails now, not after training
        bars = load_bars(config.data.source, adjust=config.data.adjust)
        symbol = str(bars.attrs["symbol"])
        bench_bars = load_bars(config.benchmark.source) if config.benchmark.source else None
        last = bars.index[-1] if spec.end is None else min(bars.index[-1], pd.Timestamp(spec.end))
        if bench_bars is not None and not spec.forecasts:
            _check_benchmark_covers(bench_bars, _first_forecast_date(config, bars), last)
    with timer.stage("forecast"):
        forecasts = _forecasts(config, bars, options)
    bar, progress = _bar_progress(symbol, options.quiet)
    with timer.stage("backtest"), bar:
        result = run_backtest(bars, forecasts, strategy, cash=spec.cash, execution=spec.execution,
                              params=spec.params, progress=progress)
    with timer.stage("report"):
        compared = bars if bench_bars is None else bench_bars  # buy-and-hold: the traded stock itself
        benchmark = benchmark_returns(compared, result.equity.index)
        report = RunReport(
            equity=result.equity.assign(**{"return": result.returns, "benchmark_return": benchmark}),
            trades=result.trades, forecasts=forecasts,
            titles=_titles(config, symbol, str(compared.attrs["symbol"]), forecasts),
            parameters={"Strategy": spec.strategy, "Execution": spec.execution or strategy.params.execution},
        )
        metrics = run_metrics(report, forecast_metrics(forecasts, bars))
        manifest = _manifest(config, config_file, strategy, bars, bench_bars, forecasts, timer.seconds)
        written = write_run(out, report, metrics=metrics, manifest=manifest)
    if not options.quiet:
        for line in _summary(metrics):
            print(line)
        timings = ", ".join(f"{k} {v:.1f}s" for k, v in timer.seconds.items())
        print(f"wrote {len(written)} files to {out} ({FILES['tearsheet']}, metrics.json, ...); {timings}")
    return 0
