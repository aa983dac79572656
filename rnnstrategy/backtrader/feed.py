"""Backtrader data feeds from canonical bar frames.

A frame with a ``factor`` column (raw prices and their back-adjustment factor, as a qlib data directory
gives them) becomes a :class:`FactorFeed`, whose extra ``factor`` line lets the
:class:`~rnnstrategy.backtrader.broker.AShareBroker` book corporate actions on the ex-dates and judge price
limits from the ex-reference price.
"""

from __future__ import annotations

import math

import backtrader as bt
import pandas as pd

from rnnstrategy.data.adjust import adjusted_bars
from rnnstrategy.data.frame import validate_bars
from rnnstrategy.errors import DataError

__all__ = ["FactorFeed", "has_factor", "to_feed"]


class FactorFeed(bt.feeds.PandasData):
    """``PandasData`` with a ``factor`` line (the back-adjustment factor of the raw prices)."""

    lines = ("factor",)
    params = (("factor", -1),)  # -1: the column named "factor"


def has_factor(data: object) -> bool:
    """Whether a Backtrader feed carries a ``factor`` line."""
    return isinstance(data, FactorFeed)


def to_feed(bars: pd.DataFrame, name: str | None = None, **params: object) -> bt.feeds.PandasData:
    """A ``bt.feeds.PandasData`` over ``bars`` (a canonical bar frame); a :class:`FactorFeed` when ``bars``
    has a ``factor`` column.

    Args:
        bars: canonical bars; validated again here, so a hand-made frame with
            bad rows fails with a clear error instead of a silent backtest.
        name: feed name (default ``bars.attrs["symbol"]``); the broker rules
            look the board up from it.
        **params: further ``PandasData`` parameters (``fromdate``, ``todate``,
            ``timeframe`` ...).

    Raises:
        DataError: for a bad bar, or a ``factor`` that is not a positive number.
    """
    symbol = name or bars.attrs.get("symbol") or "bars"
    columns = ["open", "high", "low", "close", "volume"]
    if "factor" in bars.columns:
        _check_factor(bars["factor"], symbol)
        # moves are judged on the adjusted prices, as the loader judges them: an ex-date is no fall
        validate_bars(adjusted_bars(bars), symbol)
    else:
        bars = validate_bars(bars, symbol)
    if "factor" in bars.columns:
        feed = FactorFeed(dataname=bars[[*columns, "factor"]], datetime=None, openinterest=None, **params)
    else:
        feed = bt.feeds.PandasData(dataname=bars[columns], datetime=None, openinterest=None, **params)
    feed._name = symbol
    return feed


def _check_factor(factor: pd.Series, symbol: str) -> None:
    values = factor.to_numpy(dtype="float64")
    bad = [date for date, value in zip(factor.index, values, strict=True) if not (math.isfinite(value) and value > 0)]
    if bad:
        raise DataError(f"{symbol}: factor is not a positive number on {bad[0]:%Y-%m-%d}"
                        f"{f' and {len(bad) - 1} more day(s)' if len(bad) > 1 else ''}; fix the adjustment factor "
                        "or drop the column to trade without corporate actions")
