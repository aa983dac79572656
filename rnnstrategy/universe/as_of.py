"""A universe as it stood: which stocks a run forecasts, learns from, ranks and trades on each day.

``--universe`` (``DataSpec.universe``) names it beside DATA (a qlib data directory, a folder of CSVs or
several sources):

- an index, ``csi300``: its membership from DATA's ``instruments/csi300.txt`` when DATA is a qlib directory
  holding one, else from the ``index-constitution`` package (``csi300``, ``csi500``);
- a CSV of spells (``symbol,first,last`` or ``symbol,opt-in,opt-out``; see
  :mod:`~rnnstrategy.universe.membership_sources`);
- ``all``: every stock of DATA, without membership (what DATA alone means).

With an index (an :class:`AsOfUniverse`):

- **forecast**: every stock of DATA that was a member on some day of the run's range;
- **learn**: a pooled model learns from every stock of DATA with bars (default), or with
  ``members_only_training`` only from the rows of a stock's member days (every stock is still scored, so
  nothing learnt or scored before a day depends on membership after it); a per-stock model learns from its
  own bars;
- **rank and trade**: on each decision day D the strategy ranks only the members of D (the membership of
  D, known at the close of D: :meth:`AsOfUniverse.by_day`); a held stock that is no member on D is sold at
  the next open, or kept until the strategy's own exit rule (``keep_leavers``; see
  :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy`);
- **report**: how many members (and what share) had no bar to trade on each day
  (:meth:`AsOfUniverse.coverage`: ``coverage.csv`` and ``metrics.json["universe"]["coverage"]``).

No step looks past D: the members of a day are the spells covering it, which
:meth:`~rnnstrategy.universe.membership.IndexMembership.truncated` leaves as they were.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data.qlib_dir import QLIB_SEPARATOR, qlib_source
from rnnstrategy.data.qlib_files import is_qlib_dir, symbols_in
from rnnstrategy.errors import ConfigError, SymbolError
from rnnstrategy.universe.membership import IndexMembership, ts_code
from rnnstrategy.universe.membership_coverage import coverage, coverage_average
from rnnstrategy.universe.membership_sources import load_membership
from rnnstrategy.universe.summary import stem

__all__ = ["ALL", "INDEX_BARS", "AsOfUniverse", "index_benchmark", "universe_as_of", "with_symbol"]

ALL = "all"
"""``--universe all``: every stock of DATA, no membership."""

INDEX_BARS = {"csi300": "sh000300", "csi500": "sh000905", "csi1000": "sh000852"}
"""The index whose own bars benchmark a universe of its members, by the universe's name."""


@dataclass(frozen=True)
class AsOfUniverse:
    """An index's members as they stood, and whether a pooled model learns from members only.

    Attributes:
        name: the universe's name (``csi300``, or a spells file's stem).
        membership: the spells of membership.
        members_only_training: a pooled model learns only from the rows of a stock's member days.
    """

    name: str
    membership: IndexMembership
    members_only_training: bool = False

    def members_between(self, start: object = None, end: object = None) -> frozenset[str]:
        """The stocks (tushare spellings) that were members on some day of ``start .. end`` (None: open)."""
        first = None if start is None else pd.Timestamp(start)
        last = None if end is None else pd.Timestamp(end)
        return frozenset(spell.symbol for spell in self.membership.spells
                         if (last is None or spell.first <= last)
                         and (first is None or spell.last is None or spell.last >= first))

    def forecast_sources(self, sources: Sequence[str], start: object = None, end: object = None) -> list[str]:
        """The sources (in their order) whose stock was a member on some day of ``start .. end``.

        Raises:
            ConfigError: none was.
        """
        wanted = self.members_between(start, end)
        chosen = [source for source in sources if ts_code(stem(source)) in wanted]
        if not chosen:
            window = f"{start or 'the start'}..{end or 'the end'}"
            raise ConfigError(f"none of the {len(sources)} stocks of DATA was a member of {self.name} in {window} "
                              f"(membership from {self.membership.source}); check the dates, or the universe")
        return chosen

    def member_mask(self, symbol: str, days: pd.DatetimeIndex) -> np.ndarray:
        """Whether ``symbol`` (any spelling) was a member on each of ``days``."""
        return self.membership.matrix(days, [symbol]).iloc[:, 0].to_numpy()

    def on_member_days(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """Each frame's rows of its stock's member days (frames without one left out): a cross-section of
        forecasts measured among each day's members."""
        kept = {}
        for symbol, frame in frames.items():
            rows = frame.loc[self.member_mask(symbol, pd.DatetimeIndex(frame.index))]
            if len(rows):
                rows.attrs = frame.attrs
                kept[symbol] = rows
        return kept

    def training_days(self, bars: Mapping[str, pd.DataFrame]) -> dict[str, pd.DatetimeIndex] | None:
        """The days each stock's rows may train a pooled model on: its member days with
        ``members_only_training``, else None (every row)."""
        if not self.members_only_training:
            return None
        return {symbol: frame.index[self.member_mask(symbol, pd.DatetimeIndex(frame.index))]
                for symbol, frame in bars.items()}

    def by_day(self, days: Sequence | pd.DatetimeIndex, names: Sequence[str]) -> dict[dt.date, frozenset[str]]:
        """The members among ``names`` (feed names, any spelling) on each of ``days``, keyed by date: what a
        strategy may rank on each decision day."""
        matrix = self.membership.matrix(pd.DatetimeIndex(days), list(names))
        labels = np.array(matrix.columns, dtype=object)
        return {day.date(): frozenset(labels[row]) for day, row in zip(matrix.index, matrix.to_numpy(), strict=True)}

    def coverage(self, frames: Sequence[pd.DataFrame], days: pd.DatetimeIndex) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Members with and without a bar on each of ``days`` (``frames``: the bars the run traded, each named by
        ``attrs["symbol"]``), and its averages for ``metrics.json`` (``members``, ``without_bars``,
        ``without_share``, ``days``, ``ever_without``; see
        :func:`~rnnstrategy.universe.membership_coverage.coverage_average`)."""
        available = {str(frame.attrs["symbol"]): frame.index for frame in frames}
        daily = coverage(self.membership, available, days)
        average = coverage_average(daily)
        figures = {name: (int(value) if name in ("days", "ever_without") else round(float(value), 6))
                   for name, value in average.items()}
        return daily, figures

    def record(self) -> dict[str, Any]:
        """What ``metrics.json`` and ``summary.json`` say of the universe."""
        return {"name": self.name, "membership": self.membership.source, "members_ever": len(self.membership.symbols),
                "training": "members only" if self.members_only_training else "every stock with bars"}


def universe_as_of(data: Any, universe: str | None, *, members_only_training: bool = False) -> AsOfUniverse | None:
    """The universe ``universe`` names beside ``data`` (see the module docstring); None for no universe or
    ``all`` (every stock of ``data``).

    Raises:
        ConfigError: ``data`` is one stock, or ``members_only_training`` without an index.
        DataError: no membership source has ``universe`` (one line naming the sources tried).
    """
    if universe is None or universe == ALL:
        if members_only_training:
            raise ConfigError("members_only_training needs an index as the universe (--universe csi300, or a CSV "
                              "of spells): without membership every stock is a member")
        return None
    if not universe.strip():
        raise ConfigError("--universe '' is empty: give an index (csi300), a CSV of spells, or all")
    sources = [data] if isinstance(data, (str, os.PathLike)) else list(data or [])
    if len(sources) == 1 and not Path(sources[0]).is_dir():
        raise ConfigError(f"--universe {universe} ranks the stocks of a universe, but {sources[0]} is one stock: "
                          "give a qlib data directory or a folder of CSVs as DATA (or leave --universe out)")
    directory = str(sources[0]) if len(sources) == 1 and is_qlib_dir(sources[0]) else None
    membership = load_membership(universe, directory=directory)
    name = Path(universe).stem if Path(universe).suffix else universe.lower()
    return AsOfUniverse(name, membership, members_only_training)


def index_benchmark(data: Any, universe: str | None) -> str | None:
    """The benchmark a run on a qlib data directory (or a stock of one) defaults to: the own bars of the index
    ``universe`` names (``csi300`` -> ``sh000300``, see :data:`INDEX_BARS`) when the directory holds them;
    without one, of the index whose membership the directory holds (``instruments/csi300.txt``), else of its
    only index. None for other data, or when no single index fits."""
    if not isinstance(data, (str, os.PathLike)):
        return None
    directory = str(data).rsplit(QLIB_SEPARATOR, 1)[0] if QLIB_SEPARATOR in str(data) else str(data)
    if not is_qlib_dir(directory):
        return None
    indexes = [name for name in symbols_in(directory) if _is_index(name)]
    if universe is not None and universe != ALL:
        named = [INDEX_BARS.get(universe.lower())]
    else:
        held = sorted(path.stem.lower() for path in (Path(directory) / "instruments").glob("*.txt"))
        named = [INDEX_BARS[name] for name in held if name in INDEX_BARS] or indexes
    found = [name for name in named if name in indexes]
    return qlib_source(directory, found[0]) if len(found) == 1 else None


def with_symbol(data: Any, symbol: str | None) -> Any:
    """DATA with ``--symbol``: the stock ``symbol`` of the qlib data directory ``data``
    (``<directory>::<symbol>``); ``data`` as it is without a symbol.

    Raises:
        ConfigError: a symbol beside data that is no single qlib directory.
    """
    if symbol is None:
        return data
    sources = [data] if isinstance(data, (str, os.PathLike)) else list(data or [])
    if len(sources) != 1 or not is_qlib_dir(sources[0]):
        given = " ".join(str(s) for s in sources) or "no DATA"
        raise ConfigError(f"--symbol {symbol} names a stock of a qlib data directory, but DATA is {given}: give one "
                          "directory holding calendars/ and features/ (or drop --symbol)")
    return qlib_source(sources[0], symbol)


def _is_index(name: str) -> bool:
    try:
        return symbol_info(name).is_index
    except SymbolError:
        return False
