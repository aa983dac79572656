"""``run()``: a run definition, traded. A :class:`~rnnstrategy.config.RunConfig` (built by ``backtest()``,
read from a TOML file or from a finished run's ``manifest.json`` by ``rnnstrategy run``) goes to the
single-stock path (:mod:`rnnstrategy.api.stock_backtest`) or the universe path
(:mod:`rnnstrategy.api.universe_backtest`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.replay import replayed_definition
from rnnstrategy.api.sources import check_strategy_fits, is_universe_config
from rnnstrategy.api.stock_backtest import run_stock
from rnnstrategy.api.universe_backtest import run_universe
from rnnstrategy.config import RunConfig
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE
from rnnstrategy.universe.as_of import index_benchmark, universe_as_of

if TYPE_CHECKING:
    from rnnstrategy.api.results import BacktestRun, UniverseBacktestRun
    from rnnstrategy.forecasting.walkforward import FoldReport

__all__ = ["run"]


def run(
    config: RunConfig,
    *,
    bars: pd.DataFrame | None = None,
    benchmark: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
    on_bar: Callable[[int, int], None] | None = None,
    config_file: str | Path | None = None,
    recorded: Mapping[str, Any] | None = None,
    allow_changed_data: bool = False,
    out: str | Path | None = None,
    executor: str = "auto",
    workers: int | None = None,
    on_symbol: Callable[[dict[str, Any]], None] | None = None,
) -> BacktestRun | UniverseBacktestRun:
    """Run a :class:`~rnnstrategy.config.RunConfig` (what :func:`~rnnstrategy.api.backtests.backtest`,
    ``rnnstrategy backtest`` and ``rnnstrategy run FILE`` all do). ``bars``, ``benchmark`` and ``forecasts`` are
    frames given in place of the configuration's sources; ``config_file`` is recorded in
    the manifest (text and path).

    ``recorded`` is the manifest of the run being replayed: the fingerprints of the data and the
    benchmark it recorded must match the data loaded now, else a :class:`DataError` is raised;
    with ``allow_changed_data`` the run goes on, logs a warning and lists the changes in the new
    manifest's ``"data_changed"`` (see :mod:`rnnstrategy.api.replay`). With ``config_file`` that manifest's
    path, the new manifest records the recorded run's definition and which manifest was replayed
    (:func:`~rnnstrategy.api.replay.replayed_definition`), not the manifest's text.

    A universe (``config.data.source`` a folder or several sources, or ``backtest.forecasts`` the folder
    of a universe run) is traded by a strategy that ranks stocks (``top_k``) and gives a
    :class:`UniverseBacktestRun`; its forecasts are computed into ``out`` (required then) on
    ``executor`` with ``workers``, ``on_symbol`` called as each symbol finishes, or read from
    ``backtest.forecasts``; with ``data.universe`` it is ranked and traded among each day's index members
    (:mod:`rnnstrategy.universe.as_of`). On a qlib data directory without a benchmark, the benchmark is the
    index's own bars there (:func:`~rnnstrategy.universe.as_of.index_benchmark`)."""
    from rnnstrategy.backtrader.registry import load_strategy

    universe = bars is None and is_universe_config(config)
    if not universe and config.data.universe is not None:
        universe_as_of(config.data.source, config.data.universe)  # refuses one stock
    if config.backtest.keep_leavers and config.data.universe in (None, "all"):
        raise ConfigError("keep_leavers keeps a holding that leaves an index: give the index as the universe "
                          "(--universe csi300, or a CSV of spells), or drop it")
    if benchmark is None and bars is None and recorded is None and config.benchmark.source is None:
        default = index_benchmark(config.data.source, config.data.universe)  # a qlib directory's index
        if default is not None:
            config = dataclasses.replace(config, benchmark=dataclasses.replace(config.benchmark, source=default))
    strategy = load_strategy(config.backtest.strategy)  # a typo fails now, not after training
    check_strategy_fits(strategy, config, universe)
    strategy.check_params(config.backtest.params)  # so does a bad parameter
    replay = recorded is not None and config_file is not None and Path(config_file).suffix == ".json"
    defined_by = None if replay else config_file  # a replay records the definition, not the manifest: below
    if universe:
        result = run_universe(config, strategy, benchmark=benchmark, store=store, threads=threads, on_bar=on_bar,
                              on_fold=on_fold, config_file=defined_by, out=out, executor=executor,
                              workers=workers, on_symbol=on_symbol, recorded=recorded,
                              allow_changed_data=allow_changed_data)
    else:
        result = run_stock(config, strategy, bars=bars, benchmark=benchmark, forecasts=forecasts, store=store,
                           threads=threads, on_fold=on_fold, on_bar=on_bar, config_file=defined_by,
                           recorded=recorded, allow_changed_data=allow_changed_data)
    if replay:
        result.manifest.update(replayed_definition(config_file, recorded))
    return result
