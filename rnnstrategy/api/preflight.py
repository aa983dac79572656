"""What every verb checks before any data is loaded or model trained: the sources named, the window, the
output folder, the cache and the forecaster's settings. Each refusal is one line naming the input and the fix.

:func:`check_run` is the whole check of a :class:`~rnnstrategy.config.RunConfig` (``backtest`` and ``run``);
``forecast`` and ``signal`` call the parts they need.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.api.sources import is_frame_label, is_universe_config
from rnnstrategy.config import RunConfig
from rnnstrategy.errors import ConfigError
from rnnstrategy.files import CACHE_ENV, check_cache_root, check_path_length, check_writable_dir, short_path
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE
from rnnstrategy.forecasting.pooled.config import PooledConfig

__all__ = ["RUN_CSVS", "check_cache", "check_compute", "check_forecaster", "check_measurable", "check_output",
           "check_run", "check_sources", "check_universe_size", "check_window", "source_paths"]

RUN_CSVS = frozenset({"trades.csv", "equity.csv", "forecasts.csv", "summary.csv", "cross_section_daily.csv",
                      "orders.csv", "coverage.csv", "corporate_actions.csv", "years.csv",
                      "positions.csv", "industries.csv"})
"""The CSV files a run writes at the top of its folder; any other CSV there is someone's input."""


def source_paths(data: Any) -> list[str]:
    """The sources ``data`` names as text (a path, a symbol, several), frames left out."""
    if data is None or isinstance(data, pd.DataFrame):
        return []
    if isinstance(data, (list, tuple)):
        return [text for item in data for text in source_paths(item)]
    return [os.fspath(data)] if isinstance(data, (str, os.PathLike)) else []


def check_sources(data: Any, what: str = "DATA") -> None:
    """Refuse an empty source (``""`` would read the current folder as a universe), an empty list, and a path
    longer than the system allows.

    Raises:
        ConfigError: naming the source and what to give instead.
    """
    if isinstance(data, (list, tuple)) and not data:
        raise ConfigError(f"{what} is an empty list: give a CSV path, a symbol such as 600519, or a folder of CSVs")
    for source in source_paths(data):
        if not source.strip():
            raise ConfigError(f"{what} {source!r} is empty: give a CSV path, a symbol such as 600519, or a folder "
                              "of CSVs (write . for the current folder)")
        check_path_length(source, what)


def check_window(start: str | None, end: str | None, *, days_needed: int = 1) -> None:
    """Refuse a window that ends before it starts, or (``days_needed`` 2: a backtest, whose returns are measured
    from one close to the next) one of a single day.

    Raises:
        ConfigError: naming both dates.
    """
    if start is None or end is None:
        return
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    if first > last:
        raise ConfigError(f"start={start} is after end={end}: give a start on or before the end (CLI: --start, "
                          "--end)")
    if days_needed > 1 and first == last:
        raise ConfigError(f"start = end = {start}: one day has no return to measure (no Sharpe ratio, no yearly "
                          "figure); give an end at least one trading day after the start")


def check_measurable(dates: pd.DatetimeIndex, start: str | None, end: str | None) -> None:
    """Refuse a backtest window that holds a single trading day of ``dates`` (the bars or forecasts it trades): it
    has no return to measure. (No day at all is refused where the data is read, with the dates it covers.)

    Raises:
        ConfigError: naming the window and its one day.
    """
    window = dates[(dates >= pd.Timestamp(start or dates.min())) & (dates <= pd.Timestamp(end or dates.max()))]
    if len(window) == 1:
        raise ConfigError(f"the window {start or 'first bar'}..{end or 'last bar'} holds one trading day "
                          f"({window[0]:%Y-%m-%d}): it has no return to measure; give a window of at least two "
                          "trading days (CLI: --start, --end)")


def check_output(out: str | os.PathLike[str], sources: Iterable[str] = (), option: str = "--out") -> None:
    """Refuse an output folder that cannot be written (too long a path, a file, read-only) or that holds input
    CSVs (a DATA folder, a folder of bar files): a run writes its CSVs beside them, and a universe run of that
    folder then reads them as bars.

    Raises:
        ConfigError: naming the folder and the fix.
    """
    check_writable_dir(out, option)
    folder = Path(out)
    if not folder.is_dir():
        return
    here = folder.resolve()
    for source in sources:
        path = Path(source)
        if path.exists() and here in (path.resolve(), path.resolve().parent):
            raise ConfigError(f"{option} {short_path(folder)} is where DATA {short_path(source)} is: a run would "
                              "write its CSV files among the bars; choose another folder, e.g. runs/NAME")
    inputs = sorted(path.name for path in folder.iterdir() if path.suffix.lower() == ".csv" and
                    path.name not in RUN_CSVS)
    if inputs:
        more = f" and {len(inputs) - 1} other CSV file(s)" if len(inputs) > 1 else ""
        raise ConfigError(f"{option} {short_path(folder)} holds {inputs[0]}{more}, not a run's: a run would write "
                          "its CSV files among them and a universe run of that folder would read them as bars; "
                          "choose an empty folder or a run's own")


def check_cache(store: str | os.PathLike[str] | None, sources: Iterable[str] = ()) -> None:
    """Refuse a cache the run would use and cannot: ``$RNNSTRATEGY_CACHE`` set to a file or a read-only place
    (whenever it is set), the default fold store's cache, a ``store`` folder, or the cache of bars downloaded for
    a symbol.

    Raises:
        ConfigError: naming the folder (or the variable) and the fix.
    """
    symbols = [source for source in sources if not os.path.exists(source) and not is_frame_label(source)]
    if os.environ.get(CACHE_ENV) or store == DEFAULT_STORE or symbols:
        check_cache_root()
    if store is not None and store != DEFAULT_STORE:
        check_writable_dir(store, "--store")


def check_compute(*, workers: int | None = None, retries: int = 0, threads: int | None = None) -> None:
    """Refuse workers below 1, negative retries, and threads below 1 or beyond 4 per core of this machine (a
    thread pool that large fails to allocate, or slows every thread down).

    Raises:
        ConfigError: naming the setting (CLI: ``--workers``, ``--retries``, ``--threads``).
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers={workers!r} must be >= 1, or None for one per CPU (CLI: --workers N)")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"retries={retries!r} must be >= 0 (0: no second attempt; CLI: --retries N)")
    cores = os.cpu_count() or 1
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or not 1 <= threads <= 4 * cores):
        raise ConfigError(f"threads={threads!r}: give 1 to {4 * cores} (this machine has {cores} cores), or None "
                          "for every core (CLI: --threads N, 0 for every core)")


def check_universe_size(source: Any) -> None:
    """Refuse a universe of fewer than two stocks before any is forecast (a strategy that ranks stocks needs
    two): a folder with one bar file, a list of one.

    Raises:
        ConfigError: naming the universe and what it holds.
    """
    from rnnstrategy.universe.sources import resolve_sources

    if isinstance(source, pd.DataFrame) or any(is_frame_label(path) for path in source_paths(source)):
        return
    found = resolve_sources(source)
    if len(found) < 2:
        held = f"only {short_path(found[0])}" if found else "no bars"
        raise ConfigError(f"the universe {short_path(str(source))} holds {held}: a strategy that ranks stocks needs "
                          "at least 2; give a folder of several bar files, or trade one stock with forecast_long")


def check_forecaster(config: ForecastConfig | PooledConfig) -> None:
    """The forecaster's settings and device, as a fit would check them (see
    :func:`~rnnstrategy.forecasting.settings_check.check_settings`)."""
    from rnnstrategy.forecasting.forecaster import resolve_device
    from rnnstrategy.forecasting.settings_check import check_settings

    check_settings(config)
    resolve_device(config.device)  # --device cuda without CUDA


def check_run(config: RunConfig, *, out: str | os.PathLike[str] | None, store: str | os.PathLike[str] | None,
              reused: bool) -> None:
    """Everything about a backtest that can be checked before its data is loaded: its strategy's parameters and
    execution, its sources, window, output folder, cache and (unless it reuses forecasts) forecaster."""
    from rnnstrategy.backtrader.registry import load_strategy

    spec = config.backtest
    strategy = load_strategy(spec.strategy)
    given = strategy.check_params(spec.params)
    if isinstance(config.forecast, PooledConfig) and not reused:  # a pooled model's forecasts are scores
        strategy.check_score_params(given)
    strategy.check_execution(spec.execution)
    sources = source_paths(config.data.source)
    check_sources(config.data.source)
    for name, value in (("--benchmark", config.benchmark.source), ("--forecasts", spec.forecasts)):
        if value is not None:
            check_sources(value, name)
    check_window(spec.start, spec.end, days_needed=2)
    if is_universe_config(config) and not spec.forecasts:
        check_universe_size(config.data.source)
    if out is not None:  # the folder of a universe run given as DATA names its sources: it holds no bars
        check_output(out, [source for source in sources if source != spec.forecasts])
    check_cache(None if reused else store, [*sources, *source_paths(config.benchmark.source)])  # no folds: no store
    if not reused:
        check_forecaster(config.forecast)
