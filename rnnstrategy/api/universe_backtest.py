"""A backtest of a universe (the universe path of :func:`rnnstrategy.api.definition.run`): forecast (or read)
every stock, trade them together with a strategy that ranks them (``top_k``) in one Cerebro, beside the
equal-weight basket of the same stocks, then measure and record the run.

A universe as it stood (``data.universe``, see :mod:`rnnstrategy.universe.as_of`) is ranked and traded among
each day's index members, beside the equal-weight basket of the day's members
(:func:`~rnnstrategy.backtrader.members_basket.run_members_basket`), and reports how many members it could not
trade for lack of bars (``coverage.csv``, ``metrics.json["universe"]["coverage"]``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.forecasts import universe_forecast_config
from rnnstrategy.api.preflight import check_measurable, check_run
from rnnstrategy.api.record import Timer, definition_record, manifest, measure, names_file
from rnnstrategy.api.replay import changed_data, changed_universe, refuse_changed
from rnnstrategy.api.results import UniverseBacktestRun, UniverseForecastRun
from rnnstrategy.api.sources import check_benchmark_covers
from rnnstrategy.api.universe_holdings import industry_params, run_holdings
from rnnstrategy.api.universe_inputs import run_universe_as_of, universe_forecasts, universe_inputs
from rnnstrategy.config import RunConfig
from rnnstrategy.data.loader import load_bars
from rnnstrategy.report.manifest import data_record
from rnnstrategy.report.titles import run_titles
from rnnstrategy.universe.as_of import AsOfUniverse

if TYPE_CHECKING:
    from rnnstrategy.backtrader.results import BacktestResult

__all__ = ["run_universe"]

BASELINE = "the equal-weight universe"
"""What buy-and-hold is in a universe run: the equal-weight basket of its stocks."""

MEMBERS_BASELINE = "the equal-weight members basket"
"""What buy-and-hold is in a run of a universe as it stood: the equal-weight basket of the day's members,
set again at each change of the members under the strategy's broker and costs."""


def run_universe(config: RunConfig, strategy: type, *, benchmark: pd.DataFrame | None, store: str | Path | None,
                 threads: int | None, on_bar: Callable[[int, int], None] | None, config_file: str | Path | None,
                 out: str | Path | None, executor: str, workers: int | None,
                 on_symbol: Callable[[dict[str, Any]], None] | None,
                 on_fold: Callable[[Any], None] | None = None, recorded: Mapping[str, Any] | None = None,
                 allow_changed_data: bool = False) -> UniverseBacktestRun:
    """Forecast (or read) a universe, trade it with ``strategy`` in one Cerebro, and measure it against the
    benchmark and the equal-weight universe (see :func:`~rnnstrategy.api.definition.run`; ``recorded``: each
    stock's recorded bars and the benchmark must be as they were, before anything is forecast)."""
    from rnnstrategy.report.measures import stocks_held

    timer = Timer()
    spec = config.backtest
    params = spec.params
    check_run(config, out=out, store=store, reused=bool(spec.forecasts))
    with timer.stage("load"):
        as_of = run_universe_as_of(config)  # a universe that cannot be read fails before any training
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
        check_measurable(pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in forecasts.values())))),
                         spec.start, spec.end)
        first = min(frame.index[0] for frame in forecasts.values())
        last = max(frame.index[-1] for frame in forecasts.values())
        if benchmark is not None:
            check_benchmark_covers(benchmark, first, last)
    with timer.stage("backtest"):
        result, held, covered = _trade(config, strategy, frames, forecasts, as_of, on_bar)
        dates = result.equity.index
    with timer.stage("metrics"):
        symbols = tuple(forecasts)
        equity = result.equity.assign(position=stocks_held(result.trades, dates, result.corporate_actions),
                                      close=float("nan"))
        report, metrics = measure(
            equity, result.returns, result.trades, held=held, benchmark=benchmark, symbols=symbols,
            titles=_titles(config, strategy, params, symbols, benchmark, universe, as_of), trials=spec.trials,
            parameters={"Strategy": spec.strategy, "Stocks": len(symbols), **params},
            baseline=BASELINE if as_of is None else MEMBERS_BASELINE,
            forecast=_forecast_figures(universe), corporate_actions=result.corporate_actions)
        metrics["universe"] |= {"forecasts": str(universe.out), "left_out": {
            str(row.symbol): f"{row.status}: {row.message}" for row in
            universe.summary[universe.summary["status"] != "ok"].itertuples()}}
        if as_of is not None:
            metrics["universe"] |= {"as_of": {**as_of.record(), "keep_leavers": spec.keep_leavers},
                                    "coverage": covered[1]}
        metrics["parameters"] = dict(params)
        positions, industries, metrics["holdings"] = run_holdings(result, frames, forecasts, params,
                                                                  names_file(config))
    recorded_now = manifest(
        definition_record(config, config_file, strategy), data={"universe": [data_record(f) for f in frames]},
        benchmark=data_record(benchmark) if benchmark is not None else
        f"buy and hold of {BASELINE}" if as_of is None else MEMBERS_BASELINE,
        forecasts={"source": spec.forecasts or "walk_forward", "folder": str(universe.out), "symbols": list(symbols),
                   "config": (universe_forecast_config(universe.out) or config.forecast).to_dict()},
        timings=timer.seconds, frames=frames, changed=changed)
    return UniverseBacktestRun(config=config, metrics=metrics, trades=result.trades, equity=report.equity,
                               forecasts=universe, manifest=recorded_now, report=report, buy_and_hold=held,
                               coverage=covered[0], positions=positions, industries=industries)


def _trade(config: RunConfig, strategy: type, frames: list[pd.DataFrame], forecasts: dict[str, pd.DataFrame],
           as_of: AsOfUniverse | None, on_bar: Callable[[int, int], None] | None,
           ) -> tuple[BacktestResult, BacktestResult, tuple[pd.DataFrame | None, dict[str, Any] | None]]:
    """The strategy's run and the baseline beside it: the equal-weight basket of the traded stocks bought at
    their first open and held, or, for a universe as it stood, the strategy ranking each day's members and the
    equal-weight basket of the day's members; with the members' coverage (daily, average) of a universe as
    it stood."""
    from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
    from rnnstrategy.backtrader.members_basket import run_members_basket
    from rnnstrategy.backtrader.results import run_universe_backtest

    spec = config.backtest
    members = None
    if as_of is not None:  # decided at the bar of D with the members of D
        days = pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in frames))))
        members = as_of.by_day(days, [str(frame.attrs["symbol"]) for frame in frames])
    result = run_universe_backtest(frames, forecasts, strategy, cash=spec.cash, execution=spec.execution,
                                   params=industry_params(strategy, spec.params, names_file(config)),
                                   rules=config.rules, progress=on_bar, members=members,
                                   keep_leavers=spec.keep_leavers)
    dates = result.equity.index
    traded = [frame.loc[forecasts[str(frame.attrs["symbol"])].index[0]:] for frame in frames]
    if as_of is None:
        return result, run_buy_and_hold(traded, dates[0], dates[-1], cash=spec.cash, rules=config.rules), (None, None)
    basket = run_members_basket(traded, members, dates[0], dates[-1], cash=spec.cash, rules=config.rules)
    return result, basket, as_of.coverage(traded, dates)


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
            benchmark: pd.DataFrame | None, universe: UniverseForecastRun, as_of: AsOfUniverse | None) -> Any:
    """"Top 5 of 40 by GRU forecast" against the benchmark (or buy-and-hold), on "40 A-shares, equal weight"."""
    cell = str(getattr(universe_forecast_config(universe.out) or config.forecast, "cell", config.forecast.cell))
    k = params.get("k", dict(strategy.params._getitems()).get("k"))
    name = f"Top {k}" if k is not None and config.backtest.strategy == "top_k" else config.backtest.strategy
    titles = run_titles(f"{name} of {len(symbols)} by {cell.upper()} forecast", symbols, names=names_file(config),
                        benchmark_name=config.benchmark.title,
                        benchmark=("" if benchmark is None else str(benchmark.attrs.get("symbol", "")))
                        if config.benchmark.source else None)
    if as_of is None:
        return titles
    basket = f"Equal weight {as_of.name} members as they stood ({len(symbols)} A-shares ever), set at each change"
    return dataclasses.replace(titles, baseline=basket, benchmark=titles.benchmark if config.benchmark.source
                               else basket)
