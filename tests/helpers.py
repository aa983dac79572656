"""What the tests share besides fixtures: the tiny forecaster, synthetic bars, missing data.

``TINY`` is the one small forecaster configuration the model tests start from; ``WARM`` is the
same with warm starts. A test that needs another setting derives it with
``dataclasses.replace(TINY, ...)`` and says why. ``tiny_args()`` writes a configuration as
the command-line options of ``rnnstrategy forecast`` and ``backtest``.

``synthetic()`` makes a seeded random-walk bar frame, ``with_garbage_after()`` spoils the
rows after a date for look-ahead tests. ``missing_data()`` skips a test whose real data is
absent, or fails it where ``RNNSTRATEGY_REQUIRE_DATA=1`` (CI) says the data must be there.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from typing import NoReturn

import numpy as np
import pandas as pd
import pytest

from rnnstrategy.forecasting.config import ForecastConfig

REQUIRE_DATA_ENV = "RNNSTRATEGY_REQUIRE_DATA"

TINY = ForecastConfig(hidden=(8,), lookback=10, horizon=2, epochs=3, patience=0, retrain_every=25, min_train=100,
                      batch_size=32, device="cpu")
"""Cold, fast, on the CPU: a GRU of 8 units on 10-bar windows, 3 epochs in batches of 32 without
early stopping, retrained every 25 bars once 100 samples exist."""
WARM = replace(TINY, warm_start=True, warm_start_epochs=2)
"""TINY whose retrains start from the previous fold's weights and train 2 epochs."""


def tiny_args(config: ForecastConfig = TINY) -> list[str]:
    """``config`` as command-line options: one for every field that differs from the defaults."""
    defaults = ForecastConfig()
    args: list[str] = []
    for field in fields(config):
        value = getattr(config, field.name)
        if value == getattr(defaults, field.name):
            continue
        flag = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, tuple):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, "0" if value is None else str(value)]  # train_window 0: expanding
    return args


def missing_data(reason: str) -> NoReturn:
    """Skip the test for lack of real data, with ``reason``; fail it with the same reason where
    ``RNNSTRATEGY_REQUIRE_DATA=1`` (``.ci/run`` sets it), so CI cannot pass by skipping."""
    required = os.environ.get(REQUIRE_DATA_ENV, "")
    if required not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRE_DATA_ENV}={required}: the data is required here)", pytrace=False)
    pytest.skip(reason)


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


def perfect_foresight(bars: pd.DataFrame) -> pd.DataFrame:
    """A forecast frame that knows the future: ``pred_open_1..2`` are the realised next two opens
    (for strategy and broker tests that must trade without training)."""
    opens = bars["open"]
    forecasts = pd.DataFrame({"pred_open_1": opens.shift(-1), "pred_open_2": opens.shift(-2)}).dropna()
    forecasts["fold"] = 0
    forecasts.index.name = "date"
    forecasts.attrs["symbol"] = bars.attrs["symbol"]
    return forecasts
