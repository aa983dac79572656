"""Benchmark returns as a plain series on the strategy's dates (never a ticker string).

A benchmark is any bar frame: an index such as CSI 300 (from akshare or a CSV), or the
traded stock itself for buy-and-hold. :func:`benchmark_returns` turns its closes into daily
returns on the strategy's dates: close-to-close, the first day 0 (both the strategy and the
benchmark start at the first close), a day the benchmark has no bar for carries its last
close (so the move lands on its next bar).
"""

from __future__ import annotations

import pandas as pd

from rnnstrategy.errors import DataError

__all__ = ["benchmark_returns"]


def benchmark_returns(bars: pd.DataFrame, dates: pd.DatetimeIndex, name: str | None = None) -> pd.Series:
    """Daily close-to-close returns of ``bars`` on ``dates``, 0 on the first date.

    Args:
        bars: canonical bar frame of the benchmark (an index, or the traded stock).
        dates: the strategy's dates (ascending, tz-naive).
        name: the series name (default ``bars.attrs["symbol"]``).

    Raises:
        DataError: when the benchmark does not cover ``dates``.
    """
    label = name or str(bars.attrs.get("symbol", "benchmark"))
    if len(dates) == 0:
        return pd.Series([], index=pd.DatetimeIndex([], name="date"), name=label, dtype=float)
    first, last = dates[0], dates[-1]
    if bars.index[0] > first or bars.index[-1] < last:
        raise DataError(
            f"benchmark {bars.attrs.get('symbol', '')} has bars {bars.index[0]:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d} "
            f"but the backtest runs {first:%Y-%m-%d}..{last:%Y-%m-%d}; give a benchmark covering the backtest"
        )
    closes = bars["close"].reindex(bars.index.union(dates)).ffill().reindex(dates)
    returns = closes.pct_change().fillna(0.0)
    returns.iloc[0] = 0.0
    returns.index = pd.DatetimeIndex(dates, name="date")
    return returns.rename(label).astype(float)
