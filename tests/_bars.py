"""Helpers for the model-side tests (real bars come from the ``moutai`` fixture).

``synthetic()`` makes a seeded random-walk bar frame, ``with_garbage_after()`` spoils the
rows after a date for look-ahead tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic(n: int = 200, seed: int = 0, symbol: str = "000001") -> pd.DataFrame:
    """A seeded random-walk bar frame on business days from 2020-01-01."""
    rng = np.random.default_rng(seed)
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, n)))
    volume = rng.integers(1, 100, n) * 100.0
    index = pd.bdate_range("2020-01-01", periods=n, name="date")
    bars = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)
    bars.attrs.update(symbol=symbol, adjust="")
    return bars


def with_garbage_after(bars: pd.DataFrame, row: int, seed: int = 1) -> pd.DataFrame:
    """A copy of ``bars`` whose rows after ``row`` hold random junk (incl. NaN and zeros)."""
    rng = np.random.default_rng(seed)
    out = bars.copy()
    junk = rng.uniform(-1000, 1000, (len(bars) - row - 1, bars.shape[1]))
    junk[::3, 0] = np.nan
    junk[1::3, 4] = 0.0
    out.iloc[row + 1 :] = junk
    return out
