"""What a universe is made of: its bar sources, the stock list that names them, and the bars of
each source that a run reads.

A folder is a universe of its ``*.csv`` files; a qlib data directory (see
:func:`~rnnstrategy.data.qlib_files.is_qlib_dir`) is a universe of its stocks, one source
``<directory>::<symbol>`` each (:func:`~rnnstrategy.data.qlib_dir.qlib_stock_sources`; its indexes
are benchmarks, not members), which :func:`load_run_bars` reads like any other source.

A tushare stock list among the sources (a folder's ``basic_stock_data.csv``, or any CSV with its
header, see :func:`~rnnstrategy.data.securities.is_securities_file`) is metadata: it names the
symbols in the summary and is not forecast.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rnnstrategy.data import load_bars
from rnnstrategy.data.qlib_dir import qlib_stock_sources
from rnnstrategy.data.qlib_files import is_qlib_dir
from rnnstrategy.data.securities import (
    Security,
    find_securities_file,
    is_securities_file,
    read_securities,
)
from rnnstrategy.errors import ConfigError, RnnStrategyError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.pooled.config import PooledConfig

__all__ = ["load_run_bars", "resolve_sources", "securities_among", "split_sources", "stock_list"]

log = logging.getLogger(__name__)


def resolve_sources(sources: str | Path | Sequence[str | Path]) -> list[str]:
    """The list of bar sources: a folder becomes its ``*.csv`` files (sorted), a qlib data directory one
    ``<directory>::<symbol>`` source per stock (sorted, indexes left out); duplicates go.

    A stock list (see :func:`~rnnstrategy.data.securities.is_securities_file`) is metadata,
    not a source, and is left out wherever it is (:func:`securities_among` finds it).
    """
    bars, _ = split_sources(sources)
    return bars


def securities_among(sources: str | Path | Sequence[str | Path]) -> list[str]:
    """The stock lists among ``sources`` (or in the folder ``sources``), sorted as given."""
    _, lists = split_sources(sources)
    return lists


def split_sources(sources: str | Path | Sequence[str | Path]) -> tuple[list[str], list[str]]:
    """``(bar sources, stock lists)`` of ``sources``."""
    if isinstance(sources, (str, Path)) and is_qlib_dir(sources):
        bars = qlib_stock_sources(sources)
        if not bars:
            raise ConfigError(f"{sources} is a qlib data directory without stocks under features/ (only indexes, "
                              "or nothing); give a directory with the bars of stocks")
        return bars, []
    if isinstance(sources, (str, Path)) and Path(sources).is_dir():
        folder = Path(sources)
        files = sorted(str(p) for p in folder.glob("*.csv"))
        bars = [f for f in files if not is_securities_file(f)]
        if not bars:
            only = f" (only the stock list {', '.join(files)})" if files else ""
            raise ConfigError(f"{folder} holds no *.csv files of bars{only}; pass a folder of bar CSVs, "
                              "or a list of paths or symbols")
        lists = [f for f in files if f not in bars]
    else:
        given = [str(sources)] if isinstance(sources, (str, Path)) else list(dict.fromkeys(str(s) for s in sources))
        if not given:
            raise ConfigError("sources is empty; pass CSV paths, symbols, or a folder of CSVs")
        lists = [s for s in given if s.lower().endswith(".csv") and is_securities_file(s)]
        bars = [s for s in given if s not in lists]
        if not bars:
            found = f" (only the stock list {', '.join(lists)})" if lists else ""
            raise ConfigError(f"sources holds no bars{found}; pass CSV paths, symbols, or a folder of CSVs")
    for path in lists:
        log.info("%s is a stock list (ts_code, name): read as metadata, not forecast", path)
    return bars, lists


def stock_list(securities: str | Path | None, lists: list[str], paths: list[str]) -> tuple[str | None, dict[str, Security]]:
    """The stock list to name symbols from and its securities (see ``securities`` in
    :func:`~rnnstrategy.universe.forecast.forecast_universe`)."""
    if securities is not None:
        return str(securities), read_securities(securities)
    found = lists[0] if lists else find_securities_file(Path(paths[0]) if paths[0].lower().endswith(".csv") else None)
    if found is None:
        return None, {}
    if len(lists) > 1:
        log.info("several stock lists among the sources (%s); names from %s", ", ".join(lists), found)
    try:
        return str(found), read_securities(found)
    except RnnStrategyError as exc:
        log.warning("no names in the summary: %s", exc)
        return None, {}


def load_run_bars(source: str, config: ForecastConfig | PooledConfig, start: str | None, *, adjust: str,
                  strict: bool) -> pd.DataFrame:
    """The bars of ``source`` that a run from ``start`` reads: the ``config.history_needed()`` bars
    before ``start``, then all after it (realised opens after the run's end included); the whole
    history without a ``start``. ``strict`` is :func:`~rnnstrategy.data.load_bars`'s, inside that range.
    A ``<directory>::<symbol>`` source is read from its qlib directory (raw prices and their ``factor``;
    ``adjust`` does not apply)."""
    history = config.history_needed() if start is not None else None
    return load_bars(source, start=start, adjust=adjust, history=history, strict=strict)
