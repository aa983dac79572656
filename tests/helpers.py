"""What the tests share besides fixtures: the tiny forecaster, synthetic bars, missing data.

``TINY`` is the one small forecaster configuration the model tests start from; ``WARM`` is the
same with warm starts. A test that needs another setting derives it with
``dataclasses.replace(TINY, ...)`` and says why. ``tiny_args()`` writes a configuration as
the command-line options of ``rnnstrategy forecast`` and ``backtest``.

``synthetic()`` makes a seeded random-walk bar frame, ``with_garbage_after()`` spoils the
rows after a date for look-ahead tests. ``missing_data()`` skips a test whose real data is
absent, or fails it where ``RNNSTRATEGY_REQUIRE_DATA=1`` (CI) says the data must be there.
``Lines`` is the Backtrader strategy that records the RNNForecast lines without trading.

The fault tests and the fault harness beside them (``tests/fault_cases.py``) share the rest:
``flip_two_payload_bytes()`` and ``strip_checksum()`` damage a stored fold file, ``digest()`` and
``digests()`` checksum files, ``descendants()`` and ``alive()`` watch a run's processes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, NoReturn

import backtrader as bt
import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from rnnstrategy.backtrader.indicator import RNNForecast
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.foldstore import DIGEST_KEY
from rnnstrategy.forecasting.pooled.config import PooledConfig

REQUIRE_DATA_ENV = "RNNSTRATEGY_REQUIRE_DATA"

TINY = ForecastConfig(hidden=(8,), lookback=10, horizon=2, epochs=3, patience=0, retrain_every=25, min_train=100,
                      batch_size=32, device="cpu")
"""Cold, fast, on the CPU: a GRU of 8 units on 10-bar windows, 3 epochs in batches of 32 without
early stopping, retrained every 25 bars once 100 samples exist."""
WARM = replace(TINY, warm_start=True, warm_start_epochs=2)
"""TINY whose retrains start from the previous fold's weights and train 2 epochs."""


def tiny_args(config: ForecastConfig | PooledConfig = TINY) -> list[str]:
    """``config`` as command-line options: one for every field that differs from its class's defaults (and
    ``--pooled`` for a :class:`PooledConfig`)."""
    defaults = type(config)()
    args: list[str] = ["--pooled"] if isinstance(config, PooledConfig) else []
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


class Lines(bt.Strategy):
    """Records the RNNForecast lines of its feed at every bar (no trading): (feed name, date,
    next_open, expected_return) tuples in ``seen``."""

    params = (("indicator", None),)

    def __init__(self) -> None:
        self.forecast = RNNForecast(self.data, **self.p.indicator)
        self.seen: list[tuple] = []

    def prenext(self) -> None:
        self.next()

    def next(self) -> None:
        self.seen.append((self.data._name, self.data.datetime.date(0), self.forecast.next_open[0],
                          self.forecast.expected_return[0]))


# ---------------------------------------------------------------- faults: damaged files, processes

def flip_two_payload_bytes(path: Path) -> None:
    """Invert two bytes in the middle of the tensors' data (the safetensors header still parses)."""
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    middle = start + (len(data) - start) // 2
    data[middle] ^= 0xFF
    data[middle + 1] ^= 0xFF
    path.write_bytes(bytes(data))


def strip_checksum(path: Path) -> None:
    """Write a stored fold file again without its checksum, as an older version wrote it."""
    with safe_open(str(path), framework="pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - a safe_open handle, not a dict
        meta = {k: v for k, v in (handle.metadata() or {}).items() if k != DIGEST_KEY}
    save_file(tensors, str(path), metadata=meta)


def digest(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file directly in ``folder``, by name."""
    return {p.name: digest(p) for p in sorted(folder.iterdir()) if p.is_file()}


def descendants(pid: int) -> list[Any]:
    """The ``psutil.Process`` of every descendant of ``pid`` (none once it has ended)."""
    import psutil  # optional: the process tests skip without it

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(process: Any) -> bool:
    """Whether a ``psutil.Process`` still runs."""
    import psutil

    try:  # a dead worker re-parented to a PID 1 that does not reap stays a zombie: it is dead all the same
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
