"""Index membership as it stood: which stocks were members of an index on each day.

An :class:`IndexMembership` is a set of spells, each a stock's run of membership from its first
member day to its last member day (both inclusive; an open spell is still running). It answers
"who was a member on day D" one day at a time (:meth:`~IndexMembership.members_on`) or for a
whole date index at once (:meth:`~IndexMembership.matrix`), and says what was known by a day
(:meth:`~IndexMembership.truncated`), so that nothing after D can reach a decision made on D.

Symbols are held in the tushare spelling (``600519.SH``) and accepted in any spelling that
:func:`~rnnstrategy.ashare.symbols.parse_symbol` reads. Where membership comes from is in
:mod:`~rnnstrategy.universe.membership_sources`; how much of it a run could trade is in
:mod:`~rnnstrategy.universe.membership_coverage`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.errors import DataError, RnnStrategyError

__all__ = ["IndexMembership", "Spell", "ts_code"]

log = logging.getLogger(__name__)

DayLike = str | dt.date | pd.Timestamp | np.datetime64
_OPEN_END = np.datetime64("2262-04-11", "ns")  # the last day a datetime64[ns] holds: "still a member"


def ts_code(symbol: str) -> str | None:
    """``symbol`` in the tushare spelling (``sh600519`` -> ``600519.SH``); None when it is no A-share code."""
    try:
        return symbol_info(symbol).ts_code
    except RnnStrategyError:
        return None


def _day(day: DayLike) -> pd.Timestamp:
    stamp = pd.Timestamp(day)
    if stamp.tz is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


@dataclass(frozen=True, order=True)
class Spell:
    """One stock's run of membership.

    Attributes:
        symbol: tushare spelling, ``600519.SH``.
        first: the first member day.
        last: the last member day, inclusive; ``None`` while the stock is still a member.
    """

    symbol: str
    first: pd.Timestamp
    last: pd.Timestamp | None = None

    def covers(self, day: DayLike) -> bool:
        """Whether the stock was a member on ``day``."""
        stamp = _day(day)
        return self.first <= stamp and (self.last is None or stamp <= self.last)


def _as_spell(item: Spell | tuple, source: str) -> Spell:
    symbol, first, last = (item.symbol, item.first, item.last) if isinstance(item, Spell) else item
    code = ts_code(symbol)
    if code is None:
        raise DataError(f"{source}: {symbol!r} is not an A-share code; write it as 600519.SH or SH600519")
    first_day = _day(first)
    last_day = None if last is None or pd.isna(last) else _day(last)
    if last_day is not None and last_day < first_day:
        raise DataError(
            f"{source}: {code} has a spell that ends {last_day.date()} before it starts {first_day.date()}; "
            "swap or fix the two dates"
        )
    return Spell(code, first_day, last_day)


def _merged(spells: list[Spell], source: str) -> list[Spell]:
    """Spells of one symbol that overlap or touch (by calendar day) become one spell."""
    merged: list[Spell] = []
    joined: set[str] = set()
    for spell in sorted(spells, key=lambda s: (s.symbol, s.first)):
        previous = merged[-1] if merged and merged[-1].symbol == spell.symbol else None
        if previous is not None and (previous.last is None or spell.first <= previous.last + pd.Timedelta(days=1)):
            ends = [previous.last, spell.last]
            last = None if None in ends else max(ends)
            merged[-1] = Spell(spell.symbol, previous.first, last)
            joined.add(spell.symbol)
        else:
            merged.append(spell)
    if joined:
        log.warning("%s: merged overlapping or touching spells of %s", source, ", ".join(sorted(joined)))
    return merged


class IndexMembership:
    """Spells of index membership, as stood on each day.

    Args:
        spells: :class:`Spell` objects or ``(symbol, first, last)`` tuples; symbols in any
            spelling, ``last`` inclusive or ``None`` (still a member). Spells of one symbol that
            overlap or touch are merged into one (logged).
        name: the index's name, e.g. ``"csi300"``.
        source: where the spells came from, for messages.

    Raises:
        DataError: a symbol that is no A-share code, or a spell that ends before it starts.
    """

    def __init__(self, spells: Iterable[Spell | tuple], name: str = "", source: str = "spells") -> None:
        self.name = name
        self.source = source
        self._spells = tuple(_merged([_as_spell(item, source) for item in spells], source))
        self._codes = np.array([s.symbol for s in self._spells], dtype=object)
        self._first = np.array([s.first.asm8 for s in self._spells], dtype="datetime64[ns]")
        self._last = np.array([_OPEN_END if s.last is None else s.last.asm8 for s in self._spells],
                              dtype="datetime64[ns]")

    def __repr__(self) -> str:
        return (f"IndexMembership({self.name or self.source!r}: {len(self.symbols)} symbols, "
                f"{len(self._spells)} spells)")

    def __len__(self) -> int:
        return len(self._spells)

    @property
    def spells(self) -> tuple[Spell, ...]:
        """Every spell, sorted by symbol and first day."""
        return self._spells

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every stock that was ever a member, sorted."""
        return tuple(sorted(set(self._codes)))

    def members_on(self, day: DayLike) -> frozenset[str]:
        """The members on ``day`` (tushare spellings)."""
        stamp = _day(day).asm8
        return frozenset(self._codes[(self._first <= stamp) & (stamp <= self._last)])

    def is_member(self, symbol: str, day: DayLike) -> bool:
        """Whether ``symbol`` (any spelling) was a member on ``day``; False for a non-A-share code."""
        code = ts_code(symbol)
        return code is not None and any(s.covers(day) for s in self._spells if s.symbol == code)

    def matrix(self, days: Sequence | pd.DatetimeIndex, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """A boolean frame, ``True`` where a symbol was a member on a day.

        Args:
            days: the rows, in any order (the frame keeps it).
            symbols: the columns, labelled as given and matched in any spelling (a label that is
                no A-share code is never a member); default :attr:`symbols`.
        """
        index = pd.DatetimeIndex([_day(d) for d in days]) if not isinstance(days, pd.DatetimeIndex) else days
        labels = list(self.symbols if symbols is None else symbols)
        codes = pd.Index(sorted({c for c in map(ts_code, labels) if c is not None}))
        day_values = index.normalize().values.astype("datetime64[ns]")
        order = np.argsort(day_values, kind="stable")
        sorted_days = day_values[order]
        column = codes.get_indexer(self._codes) if len(self._codes) else np.array([], dtype=int)
        wanted = column >= 0
        start = np.searchsorted(sorted_days, self._first[wanted], side="left")
        stop = np.searchsorted(sorted_days, self._last[wanted], side="right")
        steps = np.zeros((len(sorted_days) + 1, len(codes)), dtype=np.int32)  # +1 on joining, -1 after leaving
        np.add.at(steps, (start, column[wanted]), 1)
        np.add.at(steps, (stop, column[wanted]), -1)
        by_code = np.empty((len(sorted_days), len(codes)), dtype=bool)
        by_code[order] = np.cumsum(steps[:-1], axis=0) > 0
        position = codes.get_indexer([ts_code(label) for label in labels])
        values = np.zeros((len(index), len(labels)), dtype=bool)
        known = position >= 0
        values[:, known] = by_code[:, position[known]]
        return pd.DataFrame(values, index=index, columns=labels)

    def counts(self, days: Sequence | pd.DatetimeIndex) -> pd.Series:
        """The number of members on each of ``days``."""
        return self.matrix(days).sum(axis=1).rename("members")

    def truncated(self, day: DayLike) -> IndexMembership:
        """What was known by the close of ``day``: spells that start later do not exist, and
        spells still running on ``day`` are open, whatever happened to them afterwards."""
        stamp = _day(day)
        known = [Spell(s.symbol, s.first, None if s.last is None or s.last >= stamp else s.last)
                 for s in self._spells if s.first <= stamp]
        return IndexMembership(known, name=self.name, source=f"{self.source} as known on {stamp.date()}")

    @property
    def changes(self) -> pd.DataFrame:
        """Joins and leaves by day: columns ``date``, ``symbol``, ``change``.

        A ``join`` is dated its first member day, a ``leave`` its last member day (the stock is
        out of the index from the next trading day). Open spells have no leave. Sorted by date,
        then leaves before joins, then symbol.
        """
        rows = [(s.first, s.symbol, "join") for s in self._spells]
        rows += [(s.last, s.symbol, "leave") for s in self._spells if s.last is not None]
        frame = pd.DataFrame(rows, columns=["date", "symbol", "change"])
        frame["date"] = pd.to_datetime(frame["date"])
        frame = frame.sort_values(["date", "change", "symbol"], ascending=[True, False, True], kind="stable")
        return frame.reset_index(drop=True)
