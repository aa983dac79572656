"""The walk-forward schedule: which samples each retrain learns from, which rows it forecasts.

Rules (the timing contract in DESIGN.md):

- A model retrained at the close of row τ learns from the samples ending at rows s with
  ``s - lookback + 1 >= warmup`` (a full window of defined features) and ``s + horizon <= τ``
  (the label-horizon guard: every target is an open already seen by τ), optionally only
  the last ``train_window`` of them.
- It forecasts rows τ, τ+1, …, τ+retrain_every-1: the forecast for row t comes from the
  latest model retrained at or before t.

:func:`train_sample_ends` states the first rule once; the estimator's ``fit`` and the
splitter both use it, so the schedule and the training agree by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from rnnstrategy.errors import ConfigError, DataError

__all__ = ["WalkForwardSplit", "first_sample_end", "row_position", "train_sample_ends"]

RowLike = int | str | pd.Timestamp


def first_sample_end(lookback: int, warmup: int = 0) -> int:
    """The first row that can end a sample: its window must start at or after ``warmup``."""
    return warmup + lookback - 1


def train_sample_ends(
    until: int, lookback: int, horizon: int, warmup: int = 0, train_window: int | None = None
) -> np.ndarray:
    """End rows of the samples a model retrained at the close of row ``until`` may learn from.

    Returns ascending int64 positions ``s`` with ``s - lookback + 1 >= warmup`` and
    ``s + horizon <= until``, the last ``train_window`` of them when given (sliding
    window; ``None`` = expanding). Empty when no sample qualifies yet.
    """
    first, last = first_sample_end(lookback, warmup), until - horizon
    if train_window is not None:
        first = max(first, last - train_window + 1)
    return np.arange(first, last + 1, dtype=np.int64)


def row_position(
    value: RowLike, index: pd.Index | int, *, name: str, side: Literal["at_or_before", "at_or_after"]
) -> int:
    """Turn a row position or a date into a row position.

    ``index`` is the bars' DatetimeIndex (or just the number of rows, then ``value`` must
    be an int). A date that is not a bar resolves to the nearest bar on ``side`` of it,
    e.g. ``until`` on a holiday means the last bar before it. Errors name ``name``.
    """
    n_rows = index if isinstance(index, int) else len(index)
    if isinstance(value, (int, np.integer)):
        if not 0 <= value < n_rows:
            raise ConfigError(f"{name}={value} is outside the rows 0..{n_rows - 1}; pass a row inside the bars")
        return int(value)
    if not isinstance(index, pd.DatetimeIndex):
        raise ConfigError(f"{name}={value!r} is a date; pass the bars (with their dates) instead of a row count")
    when = pd.Timestamp(value)
    if side == "at_or_before":
        pos = int(index.searchsorted(when, side="right")) - 1
    else:
        pos = int(index.searchsorted(when, side="left"))
    if not 0 <= pos < n_rows:
        raise ConfigError(
            f"{name}={when.date()} has no bar {side.replace('_', ' ')} it; the bars run "
            f"{index[0].date()}..{index[-1].date()}"
        )
    return pos


@dataclass(frozen=True)
class WalkForwardSplit:
    """Walk-forward folds over the rows of one bar frame, like sklearn's ``TimeSeriesSplit``.

    ``split`` yields, per retrain, ``(train_ends, forecast_rows)``: the end rows of the
    training samples and the rows the retrained model forecasts; the retrain row τ is
    ``forecast_rows[0]``. The first retrain happens at the first row that has
    ``min_train`` training samples (and is not before ``start``); then every
    ``retrain_every`` rows until ``end`` (default: the last row, which forecasts opens
    not yet seen).

    Args:
        lookback: rows per input window.
        horizon: forecast steps H; samples need their H future opens observed.
        retrain_every: rows between retrains (20 is about a month of trading days).
        train_window: train on only the most recent N samples (``None``: all, expanding).
        min_train: samples needed before the first retrain (250 is about a year).
        warmup: rows the features need before their first value (see
            :func:`rnnstrategy.forecasting.features.feature_warmup`).
        start: first row to forecast, a row position or a date (the first bar on or after it).
        end: last row to forecast, a row position or a date (the last bar on or before it).
    """

    lookback: int
    horizon: int
    retrain_every: int = 20
    train_window: int | None = None
    min_train: int = 250
    warmup: int = 0
    start: RowLike | None = None
    end: RowLike | None = None

    def __post_init__(self) -> None:
        for name in ("lookback", "horizon", "retrain_every", "min_train"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if self.warmup < 0:
            raise ConfigError(f"warmup={self.warmup} must be >= 0")
        if self.train_window is not None and self.train_window < self.min_train:
            raise ConfigError(
                f"train_window={self.train_window} is smaller than min_train={self.min_train}; "
                "no retrain could ever start: raise train_window or lower min_train"
            )

    def split(self, data: pd.DataFrame | pd.Index | int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_ends, forecast_rows)`` int64 arrays, one pair per retrain.

        ``data`` is the bar frame, its index, or the number of rows (then ``start`` and
        ``end`` must be row positions).
        """
        last = self._last_row(data)
        for tau in self.retrain_rows(data):
            train = train_sample_ends(tau, self.lookback, self.horizon, self.warmup, self.train_window)
            yield train, np.arange(tau, min(tau + self.retrain_every, last + 1), dtype=np.int64)

    def get_n_splits(self, data: pd.DataFrame | pd.Index | int) -> int:
        """Number of retrains (folds)."""
        return len(self.retrain_rows(data))

    def retrain_rows(self, data: pd.DataFrame | pd.Index | int) -> np.ndarray:
        """The rows τ at whose close the model is retrained."""
        first = first_sample_end(self.lookback, self.warmup) + self.horizon + self.min_train - 1
        if self.start is not None:
            first = max(first, row_position(self.start, _index_of(data), name="start", side="at_or_after"))
        last = self._last_row(data)
        if first > last:
            raise DataError(
                f"no fold fits in {_n_rows(data)} rows: the first retrain is at row {first} "
                f"(min_train={self.min_train} samples with lookback={self.lookback}, "
                f"horizon={self.horizon}, warmup={self.warmup}; start={self.start!r}) but the last "
                f"forecast row is {last} (end={self.end!r}); use more bars, a later end or an "
                "earlier start, a smaller min_train or lookback"
            )
        return np.arange(first, last + 1, self.retrain_every, dtype=np.int64)

    def _last_row(self, data: pd.DataFrame | pd.Index | int) -> int:
        if self.end is None:
            return _n_rows(data) - 1
        return row_position(self.end, _index_of(data), name="end", side="at_or_before")


def _n_rows(data: pd.DataFrame | pd.Index | int) -> int:
    return int(data) if isinstance(data, (int, np.integer)) else len(data)


def _index_of(data: pd.DataFrame | pd.Index | int) -> pd.Index | int:
    if isinstance(data, (int, np.integer)):
        return int(data)
    return data.index if isinstance(data, pd.DataFrame) else data
