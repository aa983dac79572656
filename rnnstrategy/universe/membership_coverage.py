"""How much of an index a run could trade: members with and without a bar, day by day.

Every universe run reports it, because a member without bars (delisted and missing from the
data, or suspended that day) is a stock the index held and the run could not: the
survivorship a backtest on the rest cannot see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rnnstrategy.universe.membership import IndexMembership, ts_code

__all__ = ["COVERAGE_COLUMNS", "coverage", "coverage_average"]

COVERAGE_COLUMNS = ("members", "with_bars", "without_bars", "without_share", "without")
"""The columns of :func:`coverage`'s frame."""


def coverage(membership: IndexMembership, available: Mapping[str, pd.DatetimeIndex],
             days: Sequence | pd.DatetimeIndex) -> pd.DataFrame:
    """Members with and without a bar on each of ``days``.

    Args:
        membership: the index as it stood.
        available: the days with a bar of each symbol (keys in any spelling; a symbol that is
            not a key has no bars). Suspended days are not bars.
        days: the trading days to report, e.g. the run's calendar.

    Returns:
        A frame indexed by ``days`` (named ``date``) with :data:`COVERAGE_COLUMNS`: ``members``
        (count), ``with_bars``, ``without_bars`` (counts), ``without_share`` (``without_bars``
        over ``members``, 0 on a day without members) and ``without`` (the tuple of members
        without a bar, tushare spellings, sorted).
    """
    index = pd.DatetimeIndex(days, name="date").normalize()
    codes = list(membership.symbols)
    members = membership.matrix(index, codes).to_numpy()
    bar_days: dict[str, list[pd.DatetimeIndex]] = {}
    for symbol, dates in available.items():
        code = ts_code(symbol)
        if code is not None:
            bar_days.setdefault(code, []).append(pd.DatetimeIndex(dates).normalize())
    has_bar = np.zeros_like(members)
    for column, code in enumerate(codes):
        for dates in bar_days.get(code, ()):
            has_bar[:, column] |= index.isin(dates)
    missing = members & ~has_bar
    names = np.array(codes, dtype=object)
    count = members.sum(axis=1)
    without = missing.sum(axis=1)
    return pd.DataFrame({
        "members": count,
        "with_bars": count - without,
        "without_bars": without,
        "without_share": np.divide(without, count, out=np.zeros(len(index)), where=count > 0),
        "without": [tuple(names[row]) for row in missing],
    }, index=index)


def coverage_average(daily: pd.DataFrame) -> pd.Series:
    """The means over the days of :func:`coverage`'s counts and share, with the number of
    ``days`` and ``ever_without``: how many distinct members lacked a bar on some member day."""
    means = daily[["members", "with_bars", "without_bars", "without_share"]].mean()
    ever = {symbol for row in daily["without"] for symbol in row}
    return pd.concat([pd.Series({"days": float(len(daily))}), means,
                      pd.Series({"ever_without": float(len(ever))})])
