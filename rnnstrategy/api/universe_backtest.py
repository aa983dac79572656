"""A backtest of a universe (the universe path of :func:`rnnstrategy.api.definition.run`): forecast (or read)
every stock, trade them together with a strategy that ranks them (``top_k``) in one Cerebro, beside the
equal-weight basket of the same stocks, then measure and record the run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.api.forecasts import universe_forecast_config
from rnnstrategy.api.record import Timer, definition_record, manifest, measure, names_file
from rnnstrategy.api.replay import changed_data, changed_universe, refuse_changed
from rnnstrategy.api.results import UniverseBacktestRun, UniverseForecastRun
from rnnstrategy.api.sources import check_benchmark_covers
from rnnstrategy.api.universe_inputs import universe_forecasts, universe_inputs
from rnnstrategy.config import RunConfig
from rnnstrategy.data.loader import load_bars
from rnnstrategy.report.manifest import data_record
from rnnstrategy.report.titles import run_titles

__all__ = ["run_universe"]

BASELINE = "the equal-weight universe"
"""What buy-and-hold is in a universe run: the equal-weight basket of its stocks."""


def run_universe(config: RunConfig, strategy: type, *, benchmark: pd.DataFrame | None, store: str | Path | None,
                 threads: int | None, on_bar: Callable[[int, int], None] | None, config_file: str | Path | None,
                 out: str | Path | None, executor: str, workers: int | None,
                 on_symbol: Callable[[dict[str, Any]], None] | None,
                 on_fold: Callable[[Any], None] | None = None, recorded: Mapping[str, Any] | None = None,
                 allow_changed_data: bool = False) -> UniverseBacktestRun:
    """Forecast (or read) a universe, trade it with ``strategy`` in one Cerebro, and measure it against the
    benchmark and the equal-weight universe (see :func:`~rnnstrategy.api.definition.run`; ``recorded``: each
    stock's recorded bars and the benchmark must be as they were, before anything is forecast)."""
    from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
    from rnnstrategy.backtrader.results import run_universe_backtest
    from rnnstrategy.report.measures import stocks_held

    timer = Timer()
    spec = config.backtest
    params = spec.params
    with timer.stage("load"):
        if benchmark is None and config.benchmark.source:
            benchmark = load_bars(config.benchmark.source)
        changed: list[str] = []
        if recorded is not None:
            changed = changed_universe(recorded, config) + changed_data(recorded, {"benchmark": benchmark})
        refuse_changed(changed, allow_changed_data)
    with timer.stage("forecast"):
        universe = universe_forecasts(config, store=store, threads=threads, out=out, executor=executor,
                                      workers=workers, on_symbol=on_symbol, on_fold=on_fold)
    with timer.stage("load"):
        frames, forecasts = universe_inputs(config, universe)
        first = min(frame.index[0] for frame in forecasts.values())
        last = max(frame.index[-1] for frame in forecasts.values())
        if benchmark is not None:
            check_benchmark_covers(benchmark, first, last)
    with timer.stage("backtest"):
        result = run_universe_backtest(frames, forecasts, strategy, cash=spec.cash, execution=spec.execution,
                                       params=params, rules=config.rules, progress=on_bar)
        dates = result.equity.index
        # beside it: the equal-weight basket of the same stocks, bought at their first open and held
        held = run_buy_and_hold([frame.loc[forecasts[str(frame.attrs["symbol"])].index[0]:] for frame in frames],
                                dates[0], dates[-1], cash=spec.cash, rules=config.rules)
    with timer.stage("metrics"):
        symbols = tuple(forecasts)
        equity = result.equity.assign(position=stocks_held(result.trades, dates), close=float("nan"))
        report, metrics = measure(
            equity, result.returns, result.trades, held=held, benchmark=benchmark, symbols=symbols,
            titles=_titles(config, strategy, params, symbols, benchmark, universe), trials=spec.trials,
            parameters={"Strategy": spec.strategy, "Stocks": len(symbols), **params}, baseline=BASELINE,
            forecast=_forecast_figures(universe))
        metrics["universe"] |= {"forecasts": str(universe.out), "left_out": {
            str(row.symbol): f"{row.status}: {row.message}" for row in
            universe.summary[universe.summary["status"] != "ok"].itertuples()}}
        metrics["parameters"] = dict(params)
    recorded_now = manifest(
        definition_record(config, config_file, strategy), data={"universe": [data_record(f) for f in frames]},
        benchmark=data_record(benchmark) if benchmark is not None else f"buy and hold of {BASELINE}",
        forecasts={"source": spec.forecasts or "walk_forward", "folder": str(universe.out), "symbols": list(symbols),
                   "config": (universe_forecast_config(universe.out) or config.forecast).to_dict()},
        timings=timer.seconds, frames=frames, changed=changed)
    return UniverseBacktestRun(config=config, metrics=metrics, trades=result.trades, equity=report.equity,
                               forecasts=universe, manifest=recorded_now, report=report, buy_and_hold=held)


def _forecast_figures(universe: UniverseForecastRun) -> dict[str, Any]:
    """The forecast quality a universe run's metrics hold: the symbols forecast and their median errors."""
    ok = universe.summary[universe.summary["status"] == "ok"]
    return {
        "symbols": int(len(ok)),
        "median_rmse_ratio": _median(ok.get("rmse_ratio")),
        "median_direction_hit_rate": _median(ok.get("direction_hit_rate")),
    }


def _median(column: pd.Series | None) -> float | None:
    if column is None:
        return None
    values = pd.to_numeric(column, errors="coerce").dropna()
    return float(values.median()) if len(values) else None


def _titles(config: RunConfig, strategy: type, params: Mapping[str, Any], symbols: tuple[str, ...],
            benchmark: pd.DataFrame | None, universe: UniverseForecastRun) -> Any:
    """"Top 5 of 40 by GRU forecast" against the benchmark (or buy-and-hold), on "40 A-shares, equal weight"."""
    cell = str(getattr(universe_forecast_config(universe.out) or config.forecast, "cell", config.forecast.cell))
    k = params.get("k", dict(strategy.params._getitems()).get("k"))
    name = f"Top {k}" if k is not None and config.backtest.strategy == "top_k" else config.backtest.strategy
    return run_titles(f"{name} of {len(symbols)} by {cell.upper()} forecast", symbols, names=names_file(config),
                  benchmark_name=config.benchmark.title,
                  benchmark=("" if benchmark is None else str(benchmark.attrs.get("symbol", "")))
                  if config.benchmark.source else None)
