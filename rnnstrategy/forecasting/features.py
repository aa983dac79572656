"""Model inputs and targets computed from the canonical bar frame.

Features at row t use bars at or before t only (a feature may look back ``warmup``
rows, never forward), so a forecast made at the close of t cannot see the future.
Targets look forward by construction; the label-horizon guard in
:func:`rnnstrategy.forecasting.splitter.train_sample_ends` decides which of them may be trained on.

Row conventions: the sample ending at row s is the window of feature rows
``s - lookback + 1 .. s`` and its targets are about the opens of rows ``s + 1 .. s + H``.

Prices: bars with a ``factor`` column (raw prices and their back-adjustment factor, as a qlib
data directory gives them) are read through :func:`~rnnstrategy.data.adjust.adjusted_bars`, so
features and targets never see the price gap of an ex-date, and an adjusted price at t depends on
corporate actions up to t only. :func:`predicted_opens` turns predictions back into raw prices at
the factor of the forecast date t (the opens expected if no corporate action comes first), the
prices the broker trades at; bars without a factor are used as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from rnnstrategy.data.adjust import FACTOR_COLUMN, adjusted_bars, has_factor
from rnnstrategy.errors import ConfigError, DataError

__all__ = [
    "FEATURES",
    "TARGETS",
    "Feature",
    "Target",
    "checked_feature_names",
    "feature_warmup",
    "make_features",
    "make_targets",
    "predicted_opens",
    "sliding_windows",
    "targets_to_prices",
]


@dataclass(frozen=True)
class Feature:
    """One input column: how to compute it and how many prior bars it needs."""

    compute: Callable[[pd.DataFrame], pd.Series]
    warmup: int
    doc: str


FEATURES: dict[str, Feature] = {
    "gap": Feature(lambda b: np.log(b["open"] / b["close"].shift(1)), 1, "overnight gap log(open_t / close_t-1)"),
    "ret": Feature(lambda b: np.log(b["close"] / b["close"].shift(1)), 1, "daily return log(close_t / close_t-1)"),
    "high": Feature(lambda b: np.log(b["high"] / b["close"]), 0, "upper shadow log(high_t / close_t)"),
    "low": Feature(lambda b: np.log(b["low"] / b["close"]), 0, "lower shadow log(low_t / close_t)"),
    "range": Feature(lambda b: np.log(b["high"] / b["low"]), 0, "day range log(high_t / low_t)"),
    # log1p keeps a zero-volume bar finite (volume is in shares, so +1 is negligible).
    "volume": Feature(lambda b: np.log1p(b["volume"]).diff(), 1, "volume change log((1+v_t) / (1+v_t-1))"),
    "open": Feature(lambda b: b["open"], 0, "open price level (course-notes protocol)"),
}
"""Available features by name. Ratios are scale-free, so they mean the same across stocks,
price levels and adjustment bases; ``open`` is a price level, only for the course protocol."""

def _log_open_over_close(bars: pd.DataFrame, horizon: int) -> np.ndarray:
    return np.column_stack([np.log(bars["open"].shift(-h) / bars["close"]) for h in range(1, horizon + 1)])


def _open_level(bars: pd.DataFrame, horizon: int) -> np.ndarray:
    return np.column_stack([bars["open"].shift(-h) for h in range(1, horizon + 1)])


@dataclass(frozen=True)
class Target:
    """One target: how to compute it, turn it back into prices, and scale it."""

    make: Callable[[pd.DataFrame, int], np.ndarray]
    to_price: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (values, close at t) -> prices
    scaler: type[StandardScaler] | type[MinMaxScaler]


TARGETS: dict[str, Target] = {
    # Log-ratio of each future open to the last close: stationary, and the scaler
    # (fitted on training rows) brings the ~1 % moves to unit size so training works.
    "logret": Target(_log_open_over_close, lambda v, close: close[:, None] * np.exp(v), StandardScaler),
    # Raw open levels scaled to [0, 1] on the training rows, as in the course notes.
    "level": Target(_open_level, lambda v, close: v, MinMaxScaler),
}
"""Targets by name: how to compute them, turn them back into prices, and scale them."""


def feature_warmup(names: Sequence[str]) -> int:
    """Prior rows the features need before their first finite value (0 or 1)."""
    return max(_feature(name).warmup for name in names)


def checked_feature_names(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple, checked to be a non-empty sequence that lists each name once."""
    if isinstance(names, str) or not names:
        raise ConfigError(f"features={names!r} must be a non-empty sequence of names, e.g. ('open',)")
    if len(set(names)) != len(names):
        raise ConfigError(f"features={names!r} repeat a name; list each feature once")
    return tuple(names)


def make_features(bars: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Compute the named features, one float64 column each, on the bars' index.

    Row t depends on bars ``t - warmup .. t`` only; the first ``warmup`` rows are NaN. Bars with a
    ``factor`` column are adjusted first (see the module docstring).
    """
    features = [_feature(name) for name in names]  # validates names first
    _require_columns(bars, ("open", "high", "low", "close", "volume"))
    bars = adjusted_bars(bars)
    return pd.DataFrame(
        {name: f.compute(bars).astype("float64") for name, f in zip(names, features, strict=True)},
        index=bars.index,
    )


def make_targets(bars: pd.DataFrame, horizon: int, target: str) -> np.ndarray:
    """Raw (unscaled) targets, shape ``(n_rows, horizon)``; column h-1 is about open(t+h).

    ``logret``: log(open(t+h) / close(t)); ``level``: open(t+h), of the adjusted prices when the
    bars have a ``factor`` column. Rows whose future opens are beyond the last bar are NaN.
    """
    spec = _target(target)
    _require_columns(bars, ("open", "close"))
    return spec.make(adjusted_bars(bars), horizon)


def targets_to_prices(values: np.ndarray, close: np.ndarray, target: str) -> np.ndarray:
    """Invert :func:`make_targets`: raw target values ``(m, H)`` -> predicted opens.

    ``close`` holds close(t) of the m forecast rows (used by ``logret``).
    """
    return _target(target).to_price(values, np.asarray(close, dtype="float64"))


def predicted_opens(values: np.ndarray, bars: pd.DataFrame, rows: np.ndarray, target: str) -> np.ndarray:
    """Predicted opens ``(m, H)`` from raw target values ``(m, H)`` forecast at the bars' ``rows``.

    Without a ``factor`` column: :func:`targets_to_prices` at the rows' closes. With one: the
    adjusted prices the targets stand for, divided by the factor of row t (raw prices at the
    forecast date's factor).
    """
    close = bars["close"].to_numpy()[rows]
    if not has_factor(bars):
        return targets_to_prices(values, close, target)
    factor = bars[FACTOR_COLUMN].to_numpy()[rows]
    return targets_to_prices(values, close * factor, target) / factor[:, None]


def sliding_windows(x: torch.Tensor, lookback: int) -> torch.Tensor:
    """All windows of ``lookback`` consecutive rows of ``x`` as a view, no copy.

    ``x`` is ``(n_rows, features)``; the result is ``(n_rows - lookback + 1, lookback,
    features)`` and its element k is the sample ending at row ``k + lookback - 1``.
    """
    return x.unfold(0, lookback, 1).transpose(1, 2)  # (n - L + 1, features, L) -> (n - L + 1, L, features)


def _feature(name: str) -> Feature:
    if name not in FEATURES:
        raise ConfigError(f"feature {name!r} is unknown; use some of {sorted(FEATURES)}")
    return FEATURES[name]


def _target(name: str) -> Target:
    if name not in TARGETS:
        raise ConfigError(f"target={name!r} is unknown; use one of {sorted(TARGETS)}")
    return TARGETS[name]


def _require_columns(bars: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in bars.columns]
    if missing:
        symbol = bars.attrs.get("symbol", "the bars")
        raise DataError(
            f"{symbol} lacks columns {missing} (has {list(bars.columns)}); "
            "load bars with rnnstrategy.data.load_bars to get the canonical frame"
        )
