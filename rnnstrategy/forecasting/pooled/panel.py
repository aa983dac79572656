"""A universe of bar frames on one market calendar, as flat arrays for pooled models.

Each symbol keeps its own rows (a suspended day has no row), stacked one symbol after the
other; ``day`` maps every row to its position on the market calendar (the union of the
symbols' dates). A sample is a row ``r``: its input is the window of the symbol's own
feature rows ``r - lookback + 1 .. r`` and its label the return from the next open over the
next ``h`` sessions (``label_sessions``), ``log(open(r+1+h) / open(r+1))`` over the symbol's own
rows (a suspended day is no session), known at the open of row ``r + 1 + h`` (``label_day``);
``h = 1`` is the return the ``next_open`` execution earns, ``log(open(r+2) / open(r+1))``. Bars with a ``factor`` column (raw prices and their adjustment
factor) give features and labels of their adjusted prices
(:func:`~rnnstrategy.data.adjust.adjusted_bars`), so an ex-date is no fall; ``open`` and ``close``
stay raw, the prices forecasts are written in.

The timing contract for panels (DESIGN.md), in this module's terms:

- features of a row use the symbol's rows at or before it; a cross-sectional step
  (:func:`normalise_by_day`) uses the rows of that calendar day only, so nothing a row sees
  depends on any bar after its day;
- a model retrained at the close of calendar day ``p`` learns from the samples whose
  ``label_day <= p`` (:func:`training_rows`), and forecasts the days ``p .. next retrain - 1``
  (:func:`retrain_days`); daily label ranks use only the labels known by then, and its
  validation split purges the training samples whose label is known only after the first
  validation day (:func:`validation_split`), for every ``h``.

Nothing here imports torch: the arrays are numpy, so the schedule is tested on literal arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnstrategy.data.adjust import adjusted_bars
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.features import feature_warmup, make_features

__all__ = ["NORMALISATIONS", "Panel", "build_panel", "normalise_by_day", "retrain_days", "training_rows",
           "validation_split"]

NORMALISATIONS = ("rank", "zscore", "none")
"""Cross-sectional normalisations: ``rank`` maps each day's values to evenly spaced ranks with
unit variance, ((rank - 0.5) / n - 0.5) * sqrt(12); ``zscore`` subtracts the day's mean and
divides by its standard deviation (clipped at +-5); ``none`` leaves the values as they are."""

_CLIP = 5.0
_NEVER = np.iinfo(np.int32).max  # label_day of a row whose label is not known in the data
_CHUNK = 1 << 20  # rows of market features gathered at a time (a float64 chunk of 8 MB per column)


@dataclass(frozen=True)
class Panel:
    """The bars of many symbols as flat row arrays (see the module docstring).

    Attributes:
        symbols: the symbols, in row order.
        calendar: the market calendar, the sorted union of the symbols' dates.
        offsets: ``(S + 1,)`` first row of each symbol; symbol ``i`` owns rows
            ``offsets[i] .. offsets[i + 1] - 1``.
        day: ``(N,)`` calendar position of each row.
        features: ``(N, F)`` float32 model inputs (per-symbol features, cross-sectionally
            normalised if asked, then market features); NaN where not defined yet.
        window_ok: ``(N,)`` the row ends a window of ``lookback`` defined feature rows.
        label: ``(N,)`` float64 raw label ``log(open(r+1+h) / open(r+1))``, of adjusted opens where the
            bars carry a factor (NaN where the symbol has no ``h + 1`` later bars).
        label_day: ``(N,)`` calendar position of row ``r + 1 + h`` (a large number when absent).
        open, close: ``(N,)`` the bars' opens and closes (raw where the bars carry a factor).
        feature_names: the columns of ``features``.
        lookback: the window length the panel was built for.
        label_sessions: ``h``, the sessions a label spans from the next open.
    """

    symbols: tuple[str, ...]
    calendar: pd.DatetimeIndex
    offsets: np.ndarray
    day: np.ndarray
    features: np.ndarray
    window_ok: np.ndarray
    label: np.ndarray
    label_day: np.ndarray
    open: np.ndarray
    close: np.ndarray
    feature_names: tuple[str, ...]
    lookback: int
    label_sessions: int = 1

    def __len__(self) -> int:
        return len(self.day)

    def symbol_of(self, rows: np.ndarray) -> np.ndarray:
        """The symbol position of each row."""
        return np.searchsorted(self.offsets, rows, side="right") - 1

    def rows_of(self, i: int) -> slice:
        """The rows of symbol ``i``."""
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))


def build_panel(
    bars: Mapping[str, pd.DataFrame],
    features: Sequence[str],
    lookback: int,
    *,
    feature_norm: str = "none",
    market: pd.DataFrame | None = None,
    label_sessions: int = 1,
) -> Panel:
    """Stack the symbols' bars into a :class:`Panel`.

    Args:
        bars: canonical bar frames by symbol (ascending dates, ``open high low close volume``).
        features: feature names (see :data:`rnnstrategy.forecasting.features.FEATURES`).
        lookback: input window length.
        feature_norm: cross-sectional normalisation of the features, one of :data:`NORMALISATIONS`.
        market: an index's bars; its own features (``mkt_<name>``) join each row's features
            on the row's date, forward-filled over a day the index lacks.
        label_sessions: ``h``, the sessions each label spans from the next open (1: the ``next_open`` day).
    """
    if feature_norm not in NORMALISATIONS:
        raise ConfigError(f"feature_norm={feature_norm!r} is unknown; use one of {', '.join(NORMALISATIONS)}")
    if not bars:
        raise DataError("no symbols to build a panel from")
    symbols = tuple(bars)
    calendar = pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in bars.values()))), name="date")
    warmup = feature_warmup(features)
    h = _checked_sessions(label_sessions)
    sizes = np.array([len(bars[s]) for s in symbols], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n_rows, n_stock = int(offsets[-1]), len(features)
    names = tuple(features)
    own = None
    if market is not None:
        own = make_features(market, features).reindex(calendar).ffill().to_numpy(np.float64)
        names += tuple(f"mkt_{name}" for name in features)
    # Every array is preallocated at its final size and filled symbol by symbol: no list of
    # per-symbol pieces beside their concatenation, no float64 copy of the whole feature table
    # (unless a cross-sectional normalisation needs one). Assigning float64 into the float32
    # table rounds exactly as ``.astype(np.float32)`` does.
    table = np.empty((n_rows, len(names)), dtype=np.float32)
    normalised = feature_norm != "none"
    # a normalisation sees each stock column across all symbols; column-major, so a column is contiguous
    raw = np.empty((n_rows, n_stock), dtype=np.float64, order="F") if normalised else None
    finite_row = np.ones(n_rows, dtype=bool)  # every column finite, tested on the float64 values
    day = np.empty(n_rows, dtype=np.int32)
    opens = np.empty(n_rows, dtype=np.float64)
    closes = np.empty(n_rows, dtype=np.float64)
    label = np.full(n_rows, np.nan)
    label_day = np.full(n_rows, _NEVER, dtype=np.int32)
    for s, lo, hi in zip(symbols, offsets[:-1], offsets[1:], strict=True):
        frame = bars[s]
        day[lo:hi] = calendar.get_indexer(frame.index)
        values = make_features(frame, features).to_numpy(np.float64)
        if normalised:
            raw[lo:hi] = values
        else:
            table[lo:hi, :n_stock] = values
            finite_row[lo:hi] = np.isfinite(values).all(axis=1)
        opens[lo:hi] = frame["open"].to_numpy(np.float64)
        closes[lo:hi] = frame["close"].to_numpy(np.float64)
        if hi - lo > h + 1:  # row r's label: the (adjusted) opens of its rows r + 1 and r + 1 + h
            signal = adjusted_bars(frame)["open"].to_numpy(np.float64)
            label[lo:hi - h - 1] = np.log(signal[h + 1:] / signal[1:-h])
            label_day[lo:hi - h - 1] = day[lo + h + 1:hi]
    if normalised:
        for j in range(n_stock):  # column by column: normalise_by_day treats columns independently
            column = normalise_by_day(raw[:, j], day, len(calendar), feature_norm)
            table[:, j] = column
            finite_row &= np.isfinite(column)
        del raw
    if own is not None:
        finite_row &= np.isfinite(own).all(axis=1)[day]
        for lo in range(0, n_rows, _CHUNK):
            table[lo:lo + _CHUNK, n_stock:] = own[day[lo:lo + _CHUNK]]
    return Panel(symbols, calendar, offsets, day, table, _usable_windows(finite_row, offsets, warmup, lookback),
                 label, label_day, opens, closes, names, lookback, h)


def _usable_windows(finite_row: np.ndarray, offsets: np.ndarray, warmup: int, lookback: int) -> np.ndarray:
    """Per row, whether the window ending there is usable: its ``lookback`` rows, all of its own symbol,
    are past the features' warm-up and all defined (``finite_row``)."""
    window_ok = np.zeros(len(finite_row), dtype=bool)
    for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
        bad = np.concatenate([[0], np.cumsum(~finite_row[lo:hi])])
        ends = np.arange(hi - lo)
        full = ends >= warmup + lookback - 1
        window_ok[lo:hi] = full & (bad[ends + 1] - bad[np.maximum(ends + 1 - lookback, 0)] == 0)
    return window_ok


def _checked_sessions(label_sessions: int) -> int:
    if isinstance(label_sessions, bool) or not isinstance(label_sessions, int | np.integer) or label_sessions < 1:
        raise ConfigError(f"label_sessions={label_sessions!r} must be a whole number >= 1")
    return int(label_sessions)


def normalise_by_day(values: np.ndarray, day: np.ndarray, n_days: int, how: str) -> np.ndarray:
    """Normalise each column across the rows of each calendar day (NaN stays NaN).

    Only the rows of one day enter its statistics, so a row's value depends on no later bar.
    ``how`` is one of :data:`NORMALISATIONS`.
    """
    if how == "none":
        return values.astype(np.float64, copy=True)
    if how not in NORMALISATIONS:
        raise ConfigError(f"normalisation {how!r} is unknown; use one of {', '.join(NORMALISATIONS)}")
    values = np.asarray(values, dtype=np.float64)
    flat = values.ndim == 1
    columns = values[:, None] if flat else values
    out = np.full(columns.shape, np.nan)
    for j in range(columns.shape[1]):
        x = columns[:, j]
        ok = np.isfinite(x)
        d, v = day[ok], x[ok]
        if how == "zscore":
            count = np.bincount(d, minlength=n_days)
            mean = np.bincount(d, weights=v, minlength=n_days) / np.maximum(count, 1)
            var = np.bincount(d, weights=(v - mean[d]) ** 2, minlength=n_days) / np.maximum(count - 1, 1)
            std = np.sqrt(var)[d]
            z = np.where(std > 0, (v - mean[d]) / np.where(std > 0, std, 1.0), 0.0)
            out[ok, j] = np.clip(z, -_CLIP, _CLIP)
        else:
            ranks = pd.Series(v).groupby(d).rank(method="average").to_numpy()
            count = np.bincount(d, minlength=n_days)[d]
            out[ok, j] = ((ranks - 0.5) / count - 0.5) * np.sqrt(12.0)
    return out[:, 0] if flat else out


def retrain_days(calendar: pd.DatetimeIndex, start: object, end: object | None, every: int) -> list[tuple[int, int]]:
    """The folds on the calendar: ``(retrain position, last forecast position)`` pairs.

    The first retrain is the first market day on or after ``start``; then every ``every``
    market days; each fold forecasts from its retrain day until the day before the next
    (the last one until ``end`` or the calendar's end). Depends on the calendar up to each
    retrain only.
    """
    if every < 1:
        raise ConfigError(f"retrain_every_days={every} must be >= 1")
    first = int(calendar.searchsorted(pd.Timestamp(start), side="left"))
    last = len(calendar) - 1 if end is None else int(calendar.searchsorted(pd.Timestamp(end), side="right")) - 1
    if first > last:
        raise DataError(f"no market day in {pd.Timestamp(start).date()}..{calendar[-1].date() if end is None else end}")
    starts = list(range(first, last + 1, every))
    return [(p, min(p + every - 1, last)) for p in starts]


def training_rows(panel: Panel, retrain: int, window_days: int | None, *, exclude: np.ndarray | None = None) -> np.ndarray:
    """Rows a model retrained at the close of calendar day ``retrain`` learns from.

    A row qualifies when its window is usable, its label is known by then
    (``label_day <= retrain``) and, with ``window_days``, its own day is among the latest
    ``window_days`` market days whose labels can be known
    (``day > retrain - 1 - label_sessions - window_days``).
    Returned sorted by day, then symbol (chronological order for the validation split).
    """
    ok = panel.window_ok & np.isfinite(panel.label) & (panel.label_day <= retrain)
    if window_days is not None:
        ok &= panel.day > retrain - 1 - panel.label_sessions - window_days
    if exclude is not None:
        ok &= ~exclude
    rows = np.flatnonzero(ok)
    return rows[np.argsort(panel.day[rows], kind="stable")]


def validation_split(panel: Panel, rows: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split day-sorted training rows into (train, validation): the validation part is the latest
    days holding about ``fraction`` of the rows; training rows whose label is known only after
    the first validation day begins are purged, so no training label overlaps a validation one."""
    if fraction <= 0 or len(rows) < 2:
        return rows, rows[:0]
    days = panel.day[rows]
    cut_day = days[min(len(rows) - 1, int(round(len(rows) * (1 - fraction))))]
    val = rows[days >= cut_day]
    train = rows[(days < cut_day) & (panel.label_day[rows] <= cut_day)]
    return train, val
