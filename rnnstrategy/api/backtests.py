"""``backtest()``: forecast walk-forward, trade the forecasts under A-share rules, and measure the result.

The options become a :class:`~rnnstrategy.config.RunConfig` (what ``manifest.json`` records), which
:func:`rnnstrategy.api.definition.run` trades."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.definition import run
from rnnstrategy.api.forecasts import reused_forecasts
from rnnstrategy.api.preflight import check_compute, check_run, check_sources
from rnnstrategy.api.sources import Source, label
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.config import BacktestSpec, BenchmarkSpec, DataSpec, RunConfig, date_text, merge_params
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.report.folder_checks import check_kind

if TYPE_CHECKING:
    from rnnstrategy.api.results import BacktestRun, UniverseBacktestRun
    from rnnstrategy.forecasting.walkforward import FoldReport

__all__ = ["backtest"]

_SPEC = BacktestSpec()


def backtest(
    data: Source | Sequence[str | Path] | None,
    benchmark: Source | None = None,
    *,
    forecast: ForecastConfig | PooledConfig | None = None,
    strategy: str = _SPEC.strategy,
    params: Mapping[str, Any] | None = None,
    execution: str | None = _SPEC.execution,
    cash: float = _SPEC.cash,
    trials: int = _SPEC.trials,
    rules: AShareRules | None = None,
    start: str | None = _SPEC.start,
    end: str | None = _SPEC.end,
    forecasts: str | Path | pd.DataFrame | None = _SPEC.forecasts,
    adjust: str = "qfq",
    name: str | None = None,
    benchmark_title: str | None = None,
    strict: bool = True,
    out: str | Path | None = None,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    executor: str = "auto",
    workers: int | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
    on_bar: Callable[[int, int], None] | None = None,
    on_symbol: Callable[[dict[str, Any]], None] | None = None,
    universe: str | None = None,
    members_only_training: bool = False,
    keep_leavers: bool = False,
    **strategy_params: Any,
) -> BacktestRun | UniverseBacktestRun:
    """Forecast walk-forward, trade the forecasts under A-share rules, and measure the result.

    A universe (``data`` a folder of CSVs or several paths or symbols, or None with ``forecasts``
    the folder of a universe run) is traded by ``strategy="top_k"`` in one Backtrader run,
    against the benchmark and the equal-weight universe, and gives a :class:`UniverseBacktestRun`::

        rs.backtest("stocks/", "sh000300.csv", strategy="top_k", k=10, start="2018-01-02", out="runs/topk")
        rs.backtest(None, "sh000300.csv", strategy="top_k", forecasts="runs/universe")  # reuse forecasts

    Args:
        data: the traded security: CSV path, symbol (``"600519"``) or canonical bar frame; or a
            universe: a folder of CSVs, or a list of paths or symbols.
        benchmark: an index or stock to compare with (path, symbol or frame); None compares
            with buy-and-hold of the traded stock.
        forecast: the forecaster and its schedule (default :class:`ForecastConfig`; a universe may take a
            :class:`PooledConfig`).
        strategy: a ready strategy (``"forecast_long"``, ``"overnight_gap"``) or a dotted path
            to a :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy` subclass.
        params: the strategy's own parameters (``{"k": 10}``; the strategy checks them before any work:
            an unknown name or a bad value is an error).
        execution: ``"next_open"`` or ``"close"`` (cheat-on-close); None: the strategy's own.
        cash: starting cash, CNY.
        trials: configurations tried before choosing this one; > 1 adds the deflated Sharpe
            ratio to the metrics, the tearsheet and the summary.
        rules: the A-share broker rules (default :class:`AShareRules`: every rule on).
        start, end: the backtest window = the first and last forecast dates.
        forecasts: reuse a forecast frame (or its CSV) instead of training; for a universe, the
            folder of a universe run (``summary.csv`` and ``forecasts/<symbol>.csv``).
        adjust: price adjustment of a symbol download.
        name: the security's name in titles (default: looked up in a tushare stock list).
        benchmark_title: the benchmark's name (default: the index name).
        strict: False drops bars that fail validation (each listed in a warning and the manifest).
        out: write every file of the run there (a universe's forecasts as they finish; required
            for a universe that is forecast, not reused).
        store: the fold store (:data:`~rnnstrategy.forecasting.foldroot.DEFAULT_STORE`, a directory, or None
            for none).
        threads: PyTorch threads; None: every core.
        executor, workers: how a universe is forecast (see :func:`~rnnstrategy.api.forecasts.forecast`).
        on_fold: called after each fold is fitted or loaded (a progress bar); in a universe, after each
            pooled fold (a per-symbol universe reports each symbol through ``on_symbol``).
        on_bar: called with (bars done, bars in total) as the backtest runs.
        on_symbol: called with each universe summary row as its symbol finishes.
        universe, members_only_training, keep_leavers: a universe as it stood (``universe="csi300"``, a CSV of
            spells, or ``"all"``): ranked and traded among each day's index members, beside the equal-weight
            basket of the day's members (see :mod:`rnnstrategy.universe.as_of`).
        strategy_params: the strategy's parameters as keywords (``k=10``), beside or instead of ``params``;
            checked as ``params`` are; None: the strategy's default.

    Returns:
        A :class:`BacktestRun` (a :class:`UniverseBacktestRun` for a universe); ``.write(path)`` writes
        the report files.
    """
    for what, source in (("data", data), ("benchmark", benchmark), ("forecasts", forecasts)):
        check_sources(source, what)  # "" or a name too long for the system: refused before a path is read
    if data is None:
        if forecasts is None or isinstance(forecasts, pd.DataFrame) or not Path(forecasts).is_dir():
            raise ConfigError("no data: give the stock (a CSV path or symbol), a universe (a folder or a list), or "
                              "forecasts= the folder of a universe run")
        data = str(forecasts)
    if isinstance(data, (list, tuple)):
        data = tuple(str(source) for source in data)
    reused, forecast = reused_forecasts(forecasts, forecast)  # a CSV read once; the configuration records its path
    frames = {key: frame for key, frame in (("bars", data), ("benchmark", benchmark), ("forecasts", reused))
              if isinstance(frame, pd.DataFrame)}  # given in place of the sources the configuration records
    config = RunConfig(
        data=DataSpec(source=data if isinstance(data, tuple) else label(data), adjust=adjust, name=name,
                      strict=strict, universe=universe, members_only_training=members_only_training),
        forecast=forecast or ForecastConfig(),
        backtest=BacktestSpec(strategy=strategy, execution=execution, cash=cash, start=date_text("start", start),
                              end=date_text("end", end), trials=trials,
                              forecasts=None if forecasts is None else label(forecasts),
                              params=merge_params(params, strategy_params), keep_leavers=keep_leavers),
        benchmark=BenchmarkSpec(source=None if benchmark is None else label(benchmark), title=benchmark_title),
        rules=rules or AShareRules(),
    )
    check_run(config, out=out, store=store, reused=forecasts is not None)  # before any loading or training
    check_compute(workers=workers, threads=threads)
    if out is not None:
        check_kind(out, "backtest")
    result = run(config, store=store, threads=threads, on_fold=on_fold, on_bar=on_bar, out=out, executor=executor,
                 workers=workers, on_symbol=on_symbol, **frames)
    if out is not None:
        result.write(out)
    return result
