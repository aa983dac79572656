"""akshare's back-adjustment factors, and raw bars carrying the factor in force on each day.

``akshare.stock_zh_a_daily(symbol="sh600519", adjust="hfq-factor")`` reads sina's ``hfq.js`` and
answers one row per corporate action: ``date`` (the ex-date, a Timestamp) and ``hfq_factor`` (text
such as ``"8.8906"``), newest first, ending with a ``1900-01-01`` row of factor 1 (before the first
action). A factor holds from its ex-date until the next one, and the back-adjusted (hfq) price is
raw × factor: akshare's own ``adjust="hfq"`` computes it so. :func:`factor_events` turns that answer
into a small frame; :func:`with_factor` puts the factor beside raw bars as the ``factor`` column of
:mod:`rnnstrategy.data.adjust`, as a qlib data directory gives it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnstrategy.data.adjust import FACTOR_ADJUST_ATTR, FACTOR_COLUMN
from rnnstrategy.errors import DataError

__all__ = ["FACTOR_SOURCE_COLUMNS", "factor_events", "with_factor"]

FACTOR_SOURCE_COLUMNS = ("date", "hfq_factor")
"""The columns of ``stock_zh_a_daily(adjust="hfq-factor")``."""


def factor_events(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """The answer of ``stock_zh_a_daily(adjust="hfq-factor")`` as a frame indexed by ex-date
    (``date``, ascending, unique) with one float64 column ``factor``.

    Raises:
        DataError: a missing column, an unreadable date, a factor that is not a positive
            number, or one ex-date with two factors (naming ``name``, the row and the fix).
    """
    missing = [column for column in FACTOR_SOURCE_COLUMNS if column not in raw.columns]
    if missing:
        raise DataError(f"{name}: the factor table has no column(s) {', '.join(missing)} (columns: "
                        f"{', '.join(map(str, raw.columns))}); expected akshare's date,hfq_factor")
    dates = pd.to_datetime(raw["date"], errors="coerce")
    values = pd.to_numeric(raw["hfq_factor"], errors="coerce").astype("float64")
    bad = (dates.isna() | ~(values > 0) | np.isinf(values)).to_numpy()
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name}: unreadable factor row date={raw['date'].iloc[at]!r} "
                        f"hfq_factor={raw['hfq_factor'].iloc[at]!r} ({int(bad.sum())} such row(s)); "
                        "the download is damaged: fetch it again")
    events = pd.DataFrame({FACTOR_COLUMN: values.to_numpy()},
                          index=pd.DatetimeIndex(dates, name="date").normalize())
    events = events.sort_index(kind="stable")
    events = events[~events.reset_index().duplicated().to_numpy()]  # a row repeated whole is one row
    if events.index.has_duplicates:
        day = events.index[events.index.duplicated()][0]
        raise DataError(f"{name}: two different factors on {day:%Y-%m-%d}; the download is damaged: fetch it again")
    return events


def with_factor(bars: pd.DataFrame, events: pd.DataFrame, name: str) -> pd.DataFrame:
    """Raw ``bars`` with the ``factor`` in force on each day (that of the last ex-date on or before
    it) and ``attrs["factor_adjust"]`` 'hfq' (adjusted = raw × factor).

    Raises:
        DataError: the factor table begins after the first bar, so some bars have no factor.
    """
    position = events.index.searchsorted(bars.index, side="right") - 1
    if len(position) and position[0] < 0:
        raise DataError(f"{name}: the factor table begins on {events.index[0]:%Y-%m-%d}, after the first bar "
                        f"on {bars.index[0]:%Y-%m-%d}, so the factor before it is unknown; fetch the factors again")
    attrs = dict(bars.attrs)
    out = bars.copy()
    out[FACTOR_COLUMN] = events[FACTOR_COLUMN].to_numpy()[position]
    out.attrs = {**attrs, FACTOR_ADJUST_ATTR: "hfq"}
    return out
