"""Filling the download cache for a universe: raw daily bars and back-adjustment factors of every
stock that was a member of an index on any day of a range.

:func:`members_between` picks the symbols from the spells of a membership (for example
:func:`rnnstrategy.universe.membership_sources.load_membership`'s); :func:`fetch_members` fetches
each through an :class:`~rnnstrategy.data.akshare_source.AkshareSource` (retries with backoff,
atomic cache writes) and yields one :class:`MemberFetch` per symbol as it goes, so that a caller
can show progress. A member whose cache entries already cover the range needs no download, so a
second run, or a run started again after an interruption, goes on where the first one stopped; a
member that fails is reported and the others go on, their bars kept. :data:`INDEX_BARS` names the
index's own bars (the benchmark), fetched the same way (an index has no factors).

A later :func:`~rnnstrategy.data.loader.load_bars` of a member with ``adjust=""`` reads from the
cache raw prices with the ``factor`` column (adjusted = raw × factor), as from a qlib directory.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import pandas as pd

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data.akshare_source import AkshareSource, NoBarsError
from rnnstrategy.errors import RnnStrategyError

__all__ = ["INDEX_BARS", "MemberFetch", "SpellLike", "fetch_member", "fetch_members", "members_between"]

log = logging.getLogger(__name__)

Status = Literal["fetched", "cached", "no bars", "failed"]

INDEX_BARS = {"csi300": "sh000300", "csi500": "sh000905"}
"""The index whose bars go with a universe of :func:`~rnnstrategy.universe.membership_sources.load_membership`'s names."""


class SpellLike(Protocol):
    """One stock's run of membership (as :class:`rnnstrategy.universe.membership.Spell`)."""

    symbol: str
    first: pd.Timestamp
    last: pd.Timestamp | None


@dataclass(frozen=True)
class MemberFetch:
    """What fetching one member gave.

    Attributes:
        symbol: tushare spelling, ``600519.SH`` (as given when it is no A-share code).
        status: ``fetched`` (downloaded now), ``cached`` (the cache already held the range),
            ``no bars`` (akshare has none in the range) or ``failed``.
        rows: bars in the range.
        first, last: the first and last bar in the range.
        error: why it failed, or why there are no bars.
    """

    symbol: str
    status: Status
    rows: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    error: str = ""

    def describe(self) -> str:
        """One line: ``600519.SH: 1423 bars 2018-01-02..2023-10-10 (fetched)``, or the error."""
        if self.status in ("failed", "no bars"):
            return f"{self.symbol}: {self.status}: {self.error}"
        span = f" {self.first:%Y-%m-%d}..{self.last:%Y-%m-%d}" if self.rows else ""
        return f"{self.symbol}: {self.rows} bars{span} ({self.status})"


def members_between(spells: Iterable[SpellLike], start: dt.date, end: dt.date | None = None) -> list[str]:
    """The symbols with a spell of membership on any day of ``start..end`` (``end`` None: to this
    day), sorted."""
    first_day = pd.Timestamp(start)
    last_day = pd.Timestamp(end) if end is not None else None
    return sorted({spell.symbol for spell in spells
                   if (spell.last is None or spell.last >= first_day)
                   and (last_day is None or spell.first <= last_day)})


def fetch_member(source: AkshareSource, symbol: str, start: dt.date, end: dt.date | None = None) -> MemberFetch:
    """Raw bars of ``symbol`` in ``start..end`` and its factors (an index: its bars) into ``source``'s cache,
    unless it holds them already; any failure is returned, not raised (Ctrl-C still stops)."""
    try:
        info = symbol_info(symbol)
    except RnnStrategyError as exc:
        return MemberFetch(symbol, "failed", error=str(exc))
    try:
        if info.is_index:
            held = source.holds_bars(info, start, end, "")
            bars = source.bars(info, start, end, "")
        else:
            held = source.holds_raw_bars_with_factor(info, start, end)
            bars = source.raw_bars_with_factor(info, start, end)
    except NoBarsError as exc:
        return MemberFetch(info.ts_code, "no bars", error=str(exc))
    except RnnStrategyError as exc:
        log.info("%s: %s", info.ts_code, exc)
        return MemberFetch(info.ts_code, "failed", error=str(exc))
    in_range = bars.loc[pd.Timestamp(start): pd.Timestamp(end) if end is not None else None]
    if in_range.empty:
        return MemberFetch(info.ts_code, "no bars", error=f"no bars between {start} and {end or 'today'}")
    return MemberFetch(info.ts_code, "cached" if held else "fetched", len(in_range), in_range.index[0],
                       in_range.index[-1])


def fetch_members(source: AkshareSource, symbols: Sequence[str], start: dt.date,
                  end: dt.date | None = None) -> Iterator[MemberFetch]:
    """:func:`fetch_member` of each symbol in turn, yielded as each is done."""
    for symbol in symbols:
        yield fetch_member(source, symbol, start, end)
