"""``signal()``: the orders for the next session, decided at the close of the last bar by the backtest's
strategy, for one stock or a universe (the options a run definition gives are reconciled in
:mod:`rnnstrategy.api.signal_options`; holdings are read by :mod:`rnnstrategy.api.positions`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.forecasts import check_device, reused_forecasts, run_walk_forward, stock_forecaster
from rnnstrategy.api.positions import holdings
from rnnstrategy.api.preflight import (
    check_cache,
    check_compute,
    check_forecaster,
    check_output,
    check_sources,
    check_universe_size,
    check_window,
    source_paths,
)
from rnnstrategy.api.results import SignalRun
from rnnstrategy.api.signal_options import SignalOptions, defined_options
from rnnstrategy.api.sources import Source, check_strategy_fits, is_universe, label, load
from rnnstrategy.api.universe_inputs import run_universe_as_of, universe_forecasts, universe_inputs
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.config import BacktestSpec, DataSpec, RunConfig, date_text, merge_params
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.universe.as_of import universe_as_of

if TYPE_CHECKING:
    from rnnstrategy.forecasting.walkforward import FoldReport

__all__ = ["signal"]

_SPEC = BacktestSpec()


def signal(
    data: Source | Sequence[str | Path] | None = None,
    *,
    config: str | Path | RunConfig | None = None,
    positions: str | Path | Mapping[str, int] | None = None,
    cash: float | None = None,
    strategy: str = _SPEC.strategy,
    params: Mapping[str, Any] | None = None,
    forecast: ForecastConfig | PooledConfig | None = None,
    forecasts: str | Path | pd.DataFrame | None = None,
    rules: AShareRules | None = None,
    start: str | None = _SPEC.start,
    end: str | None = None,
    adjust: str = "qfq",
    strict: bool = True,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
    out: str | Path | None = None,
    now: dt.datetime | None = None,
    executor: str = "auto",
    workers: int | None = None,
    universe: str | None = None,
    members_only_training: bool = False,
    keep_leavers: bool = False,
    **strategy_params: Any,
) -> SignalRun:
    """The orders for the next session: the backtest's strategy decides at the close of the last bar.

    The forecasts come through the backtest's path (walk-forward with the fold store from ``start``,
    the same schedule as the backtest), or ``forecasts`` reuses a forecast frame or CSV. D is the last
    bar (on or before ``end``); the strategy runs on D with the holdings (:func:`decide
    <rnnstrategy.backtrader.signal.decide>`), and the orders are for the session after D. Without
    ``end`` the bars must be fresh: ending on the last completed session (``now``: default the
    present); with ``end`` the decision is historical and not checked.

    Args:
        data: the traded stock (CSV path, symbol or canonical bar frame), or a universe (a folder of
            CSVs, or a list of paths or symbols) traded by a strategy that ranks stocks (``top_k``): its
            forecasts come from the universe backtest's path (each symbol walk-forward into ``out``, with the
            fold store) or from ``forecasts`` the folder of a universe run (``data`` None: its sources), each
            stock's feed holds its last bar on or before D, and the orders of every stock are in one list.
        config: a run definition (a :class:`~rnnstrategy.config.RunConfig`, a TOML file as
            ``rnnstrategy run`` reads, or a finished run's ``manifest.json``): its data (unless ``data``
            is given), forecaster, strategy, parameters, start, reused forecasts and rules, and its cash
            when there are no positions; its end is not used (``end`` is). The options it defines cannot
            be given beside it.
        positions: holdings at the close of D: a mapping ``{symbol: shares}``, a CSV ``symbol,shares``,
            a JSON ``{"cash": ..., "positions": {...}}`` or a paper account folder (see
            :func:`~rnnstrategy.api.positions.read_positions`); None: none.
        cash: cash at the close of D; default the positions' cash, else 1,000,000 CNY when there are
            no positions.
        strategy, params, forecast, rules, start, adjust, strict, store, threads, on_fold: as for
            :func:`~rnnstrategy.api.backtests.backtest`.
        end: decide on the last bar on or before this date (historical; no stale check).
        executor, workers: how a universe is forecast, as for :func:`~rnnstrategy.api.backtests.backtest`
            (``"inprocess"`` saves the start of a process pool when the folds are stored already).
        out: write ``orders.csv`` and ``orders.json`` there (a universe forecast now: its ``summary.csv`` and
            ``forecasts/<symbol>.csv`` too; required then).
        now: the present, for the stale check.
        universe, members_only_training, keep_leavers: a universe as it stood, as for
            :func:`~rnnstrategy.api.backtests.backtest`: the strategy ranks the index members of D.
        strategy_params: the strategy's parameters as keywords (``k=10``), as for
            :func:`~rnnstrategy.api.backtests.backtest`.

    Raises:
        ConfigError: no cash with positions, a strategy that cannot trade after the close or does not fit
            the data (``top_k`` for one stock, a one-stock strategy for a universe).
        DataError: stale bars, or forecasts without the row of D (of each stock with a bar on D).
    """
    from rnnstrategy.backtrader.registry import load_strategy

    options = SignalOptions(data=data, cash=cash, strategy=strategy, params=merge_params(params, strategy_params),
                            forecast=forecast, forecasts=forecasts, rules=rules, start=start, adjust=adjust,
                            strict=strict, universe=universe, members_only_training=members_only_training,
                            keep_leavers=keep_leavers)
    if config is not None:
        options = defined_options(config, options, has_positions=positions is not None)
    data, forecasts = options.data, options.forecasts
    check_sources(data)
    check_sources(forecasts, "forecasts")  # before a path is read: "" or a name too long for the system
    if data is None and isinstance(forecasts, (str, Path)) and Path(forecasts).is_dir():
        data = str(forecasts)  # the folder of a universe run names its sources
    if data is None:
        raise ConfigError("no data: give the stock (a CSV path or symbol), a universe (a folder or a list), or "
                          "forecasts= the folder of a universe run")
    if isinstance(data, (list, tuple)):
        data = tuple(str(source) for source in data)
    universe = is_universe(data) or (isinstance(forecasts, (str, Path)) and Path(forecasts).is_dir())
    held, cash = holdings(positions, options.cash, _SPEC.cash)
    spec = BacktestSpec(strategy=options.strategy, start=date_text("start", options.start), end=date_text("end", end),
                        params=dict(options.params), keep_leavers=options.keep_leavers)
    strategy_class = load_strategy(options.strategy)
    source = data if isinstance(data, tuple) else label(data)
    check_strategy_fits(strategy_class, RunConfig(data=DataSpec(source=source), backtest=spec), universe)
    universe_as_of(source, options.universe, members_only_training=options.members_only_training)  # before work
    given = strategy_class.check_params(spec.params)  # a bad parameter fails now, not after forecasting
    if isinstance(options.forecast, PooledConfig) and options.forecasts is None:  # a pooled model's: scores
        strategy_class.check_score_params(given)
    _check_before_work(source, spec, options, out=out, store=store, workers=workers, threads=threads,
                       universe=universe)
    compute = {"store": store, "threads": threads, "on_fold": on_fold}
    if universe:
        result = _signal_universe(source, strategy_class, held, cash, spec, options, out=out, now=now,
                                  executor=executor, workers=workers, **compute)
    else:
        result = _signal_stock(data, strategy_class, held, cash, spec, options, now=now, **compute)
    if out is not None:
        result.write(out)
    return result


def _check_before_work(source: str | tuple[str, ...], spec: BacktestSpec, options: SignalOptions, *,
                       out: str | Path | None, store: str | Path | None, workers: int | None, threads: int | None,
                       universe: bool) -> None:
    """What a signal checks before any data is loaded or model trained: the window, the forecaster (unless
    forecasts are reused), the output folder, the cache and the workers."""
    reused_folder = source_paths(options.forecasts)  # the folder of a universe run names its sources: no bars
    sources = [path for path in source_paths(source) if path not in reused_folder]
    check_window(spec.start, spec.end)
    if options.forecasts is None:
        check_forecaster(options.forecast or ForecastConfig())
        if universe:
            check_universe_size(source)
    if out is not None:
        check_output(out, sources)
    check_cache(store if options.forecasts is None else None, sources)
    check_compute(workers=workers, threads=threads)


def _signal_stock(data: Source, strategy: type, held: dict[str, int], cash: float, spec: BacktestSpec,
                  options: SignalOptions, *, store: str | Path | None, threads: int | None,
                  on_fold: Callable[[Any], None] | None, now: dt.datetime | None) -> SignalRun:
    """:func:`signal` for one stock: its forecasts (reused, or walk-forward up to D) and its bars up to D."""
    from rnnstrategy.backtrader.signal import decide
    from rnnstrategy.live.decision_day import check_decision_day
    from rnnstrategy.live.sessions import check_fresh

    reused, forecast = reused_forecasts(options.forecasts, options.forecast)
    config = forecast or ForecastConfig()
    if reused is None:
        check_device(stock_forecaster(config).device)
    history = config.history_needed() if reused is None else 1
    bars = load(data, options.adjust, spec.start if reused is None else None, history, strict=options.strict)
    if spec.end is not None:
        bars = bars.loc[:spec.end]
    if bars.empty:
        raise DataError(f"no bars of {bars.attrs.get('symbol', label(data))} on or before {spec.end}")
    day = bars.index[-1]
    check_decision_day(day.date(), str(bars.attrs.get("source") or label(data)), now)
    if spec.end is None:
        check_fresh(day.date(), now)
    if reused is None:
        frame = run_walk_forward(bars, config, spec.start, f"{day:%Y-%m-%d}", store=store, threads=threads,
                                 on_fold=on_fold)
    else:
        frame = reused
    if day not in frame.index:
        raise DataError(f"the forecasts have no row for {day:%Y-%m-%d}, the bar to decide on "
                        f"(they cover {frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d}); forecast up to that "
                        "bar, or leave --forecasts out")
    orders = decide(bars, frame, strategy, positions=held, cash=cash, params=spec.params,
                    rules=options.rules)
    return _signal_run(orders, day, str(bars.attrs.get("symbol", "")), spec.strategy, cash, held)


def _signal_universe(source: str | tuple[str, ...], strategy: type, held: dict[str, int], cash: float,
                     spec: BacktestSpec, options: SignalOptions, *, store: str | Path | None, threads: int | None,
                     on_fold: Callable[[Any], None] | None, out: str | Path | None, now: dt.datetime | None,
                     executor: str, workers: int | None) -> SignalRun:
    """:func:`signal` for a universe: the forecasts of the universe backtest's path (computed into ``out``, or
    read from ``forecasts``, the folder of a universe run), the bars of each stock as its feed there, and the
    strategy deciding on the newest bar D of them all."""
    from rnnstrategy.backtrader.signal import decide
    from rnnstrategy.live.decision_day import check_decision_day
    from rnnstrategy.live.sessions import check_fresh

    config = _universe_config(source, spec, options, out)
    universe = universe_forecasts(config, store=store, threads=threads, out=out, executor=executor, workers=workers,
                                  on_symbol=None, on_fold=on_fold, evaluate=False)
    frames, by_symbol = universe_inputs(config, universe, last_only=True)
    if spec.end is not None:
        frames = [frame.loc[:spec.end] for frame in frames]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        raise DataError(f"no bars of the universe on or before {spec.end}")
    day = max(frame.index[-1] for frame in frames)
    newest = next(frame for frame in frames if frame.index[-1] == day)
    check_decision_day(day.date(), str(newest.attrs.get("source") or newest.attrs.get("symbol")), now)
    if spec.end is None:
        check_fresh(day.date(), now)
    missing = [str(frame.attrs["symbol"]) for frame in frames
               if frame.index[-1] == day and day not in by_symbol[str(frame.attrs["symbol"])].index]
    if missing:
        raise DataError(f"the forecasts of {', '.join(missing)} have no row for {day:%Y-%m-%d}, the bar to decide "
                        f"on; forecast up to that bar (see {universe.out / 'summary.csv'}), or leave --forecasts out")
    as_of = run_universe_as_of(config)
    members = None if as_of is None else as_of.by_day([day], [str(frame.attrs["symbol"]) for frame in frames])
    orders = decide(frames, by_symbol, strategy, positions=held, cash=cash, params=spec.params,
                    rules=config.rules, members=members, keep_leavers=spec.keep_leavers)
    symbols = ",".join(str(frame.attrs["symbol"]) for frame in frames)
    return _signal_run(orders, day, symbols, spec.strategy, cash, held)


def _universe_config(source: str | tuple[str, ...], spec: BacktestSpec, options: SignalOptions,
                     out: str | Path | None) -> RunConfig:
    """The run definition of a universe signal: its forecasts are the folder of a universe run, or made into
    ``out``."""
    forecasts = options.forecasts
    folder = Path(forecasts) if isinstance(forecasts, (str, Path)) else None
    if forecasts is not None and (folder is None or not folder.is_dir()):
        raise ConfigError(f"forecasts={forecasts!r}: for a universe give the folder of a universe run (summary.csv "
                          "and forecasts/<symbol>.csv), or leave it out to forecast the universe")
    if folder is None and out is None:
        raise ConfigError("a universe signal forecasts each symbol into out/forecasts: pass out='signals/today' "
                          "(CLI: --out DIR), or forecasts= the folder of a universe run")
    forecast = options.forecast if folder is None else reused_forecasts(folder, options.forecast)[1]
    return RunConfig(data=DataSpec(source=source, adjust=options.adjust, strict=options.strict,
                                   universe=options.universe, members_only_training=options.members_only_training),
                     forecast=forecast or ForecastConfig(),
                     backtest=dataclasses.replace(spec, forecasts=None if folder is None else str(folder)),
                     rules=options.rules or AShareRules())


def _signal_run(orders: list[dict[str, Any]], day: pd.Timestamp, symbol: str, strategy: str, cash: float,
                held: dict[str, int]) -> SignalRun:
    """The :class:`SignalRun` of ``orders`` decided on ``day``: each gets its id and the next session."""
    from rnnstrategy.live.sessions import next_session

    session = next_session(day.date())
    orders = [{"id": f"{session}/{order['symbol']}/{order['side']}", "session": session.isoformat(), **order}
              for order in orders]
    return SignalRun(orders=orders, session=session, decided_on=day.date(), symbol=symbol, strategy=strategy,
                     cash=cash, positions=held)
