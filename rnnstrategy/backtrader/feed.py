"""Backtrader data feeds from canonical bar frames."""

from __future__ import annotations

import backtrader as bt
import pandas as pd

from rnnstrategy.data.frame import validate_bars

__all__ = ["to_feed"]


def to_feed(bars: pd.DataFrame, name: str | None = None, **params: object) -> bt.feeds.PandasData:
    """A ``bt.feeds.PandasData`` over ``bars`` (a canonical bar frame).

    Args:
        bars: canonical bars; validated again here, so a hand-made frame with
            bad rows fails with a clear error instead of a silent backtest.
        name: feed name (default ``bars.attrs["symbol"]``); the broker rules
            look the board up from it.
        **params: further ``PandasData`` parameters (``fromdate``, ``todate``,
            ``timeframe`` ...).
    """
    symbol = name or bars.attrs.get("symbol") or "bars"
    bars = validate_bars(bars, symbol)
    frame = bars[["open", "high", "low", "close", "volume"]]
    feed = bt.feeds.PandasData(dataname=frame, datetime=None, openinterest=None, **params)
    feed._name = symbol
    return feed
