"""A backtest of one stock (the single-stock path of :func:`rnnstrategy.api.definition.run`): load its bars
and the benchmark, forecast walk-forward (or reuse forecasts), trade them in Backtrader beside buy-and-hold
of the same stock, then measure and record the run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.forecasts import check_device, run_walk_forward, stock_forecaster
from rnnstrategy.api.preflight import check_measurable, check_run
from rnnstrategy.api.record import Timer, definition_record, manifest, measure, names_file
from rnnstrategy.api.replay import changed_data, refuse_changed
from rnnstrategy.api.results import BacktestRun
from rnnstrategy.api.sources import check_benchmark_covers, load
from rnnstrategy.config import BacktestSpec, RunConfig
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError
from rnnstrategy.report.manifest import data_record
from rnnstrategy.report.titles import run_titles

if TYPE_CHECKING:
    from rnnstrategy.forecasting.walkforward import FoldReport

__all__ = ["run_stock"]


def run_stock(config: RunConfig, strategy: type, *, bars: pd.DataFrame | None, benchmark: pd.DataFrame | None,
              forecasts: pd.DataFrame | None, store: str | Path | None, threads: int | None,
              on_fold: Callable[[FoldReport], None] | None, on_bar: Callable[[int, int], None] | None,
              config_file: str | Path | None, recorded: Mapping[str, Any] | None,
              allow_changed_data: bool) -> BacktestRun:
    """Forecast (or reuse the forecasts of) one stock, trade them with ``strategy`` and measure the run beside
    buy-and-hold and the benchmark (see :func:`rnnstrategy.api.definition.run` for the arguments)."""
    from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
    from rnnstrategy.backtrader.results import run_backtest
    from rnnstrategy.evaluation import forecast_metrics

    spec = config.backtest
    check_run(config, out=None, store=store, reused=forecasts is not None or bool(spec.forecasts))
    timer = Timer()
    with timer.stage("load"):
        reused = forecasts if forecasts is not None else _read_reused(spec)
        bars, benchmark = _load(config, reused, bars, benchmark)
        check_measurable(reused.index if reused is not None else bars.index, spec.start, spec.end)
        changed = changed_data(recorded, {"data": bars, "benchmark": benchmark}) if recorded is not None else []
        refuse_changed(changed, allow_changed_data)
    with timer.stage("forecast"):
        if reused is not None:
            frame = _reused_window(reused, spec)
        else:
            frame = run_walk_forward(bars, config.forecast, spec.start, spec.end, store=store, threads=threads,
                                     on_fold=on_fold)
        check_measurable(frame.index, spec.start, spec.end)
    with timer.stage("backtest"):
        result = run_backtest(bars, frame, strategy, cash=spec.cash, execution=spec.execution,
                              params=spec.params, rules=config.rules, progress=on_bar)
        # beside it: buy-and-hold of the same stock, dates, cash, fees and lots, bought at the first open
        dates = result.equity.index
        held = run_buy_and_hold(bars, dates[0], dates[-1], cash=spec.cash, rules=config.rules)
    with timer.stage("metrics"):
        report, metrics = measure(
            result.equity, result.returns, result.trades, held=held, benchmark=benchmark, forecasts=frame,
            titles=_titles(config, bars, benchmark, frame),
            parameters={"Strategy": spec.strategy, "Execution": spec.execution or strategy.params.execution},
            trials=spec.trials, forecast=forecast_metrics(frame, bars), corporate_actions=result.corporate_actions)
    recorded_now = manifest(definition_record(config, config_file, strategy), data=data_record(bars),
                            benchmark=data_record(benchmark) if benchmark is not None else
                            "buy and hold of the traded stock", forecasts=_forecasts_record(config, frame),
                            timings=timer.seconds, frames=[bars], changed=changed)
    return BacktestRun(config=config, metrics=metrics, trades=result.trades, equity=report.equity, forecasts=frame,
                       manifest=recorded_now, report=report, buy_and_hold=held)


def _load(config: RunConfig, reused: pd.DataFrame | None, bars: pd.DataFrame | None,
          benchmark: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The stock's bars (those given, else its source's from the history the forecasts need) and the benchmark
    (given, else loaded), refusing, before any training, a device this machine lacks and a benchmark that does
    not cover the window."""
    spec = config.backtest
    if reused is None:
        check_device(stock_forecaster(config.forecast).device)  # before any training
    window_start = spec.start if reused is None else max(reused.index[0], pd.Timestamp(spec.start or 0))
    history = config.forecast.history_needed() if reused is None else 1
    if bars is None:
        bars = load(config.data.source, config.data.adjust, window_start, history, strict=config.data.strict)
    if benchmark is None and config.benchmark.source:
        benchmark = load_bars(config.benchmark.source)
    last = bars.index[-1] if spec.end is None else min(bars.index[-1], pd.Timestamp(spec.end))
    if benchmark is not None and reused is None:
        check_benchmark_covers(benchmark, _first_forecast_date(config, bars), last)
    return bars, benchmark


def _read_reused(spec: BacktestSpec) -> pd.DataFrame | None:
    if not spec.forecasts:
        return None
    from rnnstrategy.data.forecast_files import read_forecasts

    return read_forecasts(spec.forecasts)


def _reused_window(forecasts: pd.DataFrame, spec: BacktestSpec) -> pd.DataFrame:
    window = forecasts.loc[spec.start:spec.end]
    if window.empty:
        raise ConfigError(f"{spec.forecasts or 'the forecasts'} have no forecasts between {spec.start} and "
                          f"{spec.end}; widen start/end or compute new forecasts")
    window.attrs = forecasts.attrs
    return window


def _first_forecast_date(config: RunConfig, bars: pd.DataFrame) -> pd.Timestamp | None:
    from rnnstrategy.forecasting.walkforward import first_retrain_row

    row = first_retrain_row(config.forecast, bars.index, config.backtest.start)
    return None if row is None else bars.index[row]


def _titles(config: RunConfig, bars: pd.DataFrame, benchmark: pd.DataFrame | None, forecasts: pd.DataFrame) -> Any:
    """Strategy, benchmark and security names: "GRU forecast on 600519 贵州茅台", "CSI 300"."""
    cell = str((forecasts.attrs.get("config") or {}).get("cell", config.forecast.cell))
    compared = bars if benchmark is None else benchmark  # no benchmark: buy-and-hold of the traded stock
    return run_titles(f"{cell.upper()} forecast on {{security}}", [str(bars.attrs.get("symbol", ""))],
                  names=names_file(config), name=config.data.name, benchmark_name=config.benchmark.title,
                  benchmark=str(compared.attrs.get("symbol", "")) if config.benchmark.source else None)


def _forecasts_record(config: RunConfig, forecasts: pd.DataFrame) -> dict[str, Any]:
    """Where the forecasts traded came from, their dates and folds, and the configuration that made them."""
    folds = forecasts.attrs.get("folds") or []
    return {"source": config.backtest.forecasts or "walk_forward", "rows": len(forecasts),
            "first": f"{forecasts.index[0]:%Y-%m-%d}", "last": f"{forecasts.index[-1]:%Y-%m-%d}",
            "retrains": len(folds), "trained": sum(bool(f.get("trained")) for f in folds),
            "config": forecasts.attrs.get("config")}
