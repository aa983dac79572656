"""``WalkForwardStream``: the per-symbol walk-forward bar by bar, for bars that arrive one at a time.

Beside it, the one-row arithmetic a bar without a retrain costs: ``_RowFeatures`` (one bar's
feature row, as :func:`~rnnstrategy.forecasting.features.make_features` computes whole columns)
and ``_FoldForecast`` (one forward pass of the fold's network, its scalers applied as
scikit-learn's arithmetic).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from rnnstrategy.data.frame import BAR_COLUMNS
from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.features import targets_to_prices
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.splitter import RowLike, train_sample_ends
from rnnstrategy.forecasting.training import torch_threads
from rnnstrategy.forecasting.walkforward import FoldReport, FoldTrainer, bars_frame, first_retrain_row

__all__ = ["WalkForwardStream"]

log = logging.getLogger(__name__)


class WalkForwardStream:
    """:func:`~rnnstrategy.forecasting.walkforward.walk_forward` bar by bar, for data that arrives one bar
    at a time (live-like).

    :meth:`update` appends the bar closed at ``date`` and returns its forecast of the next
    H opens, or None before the first retrain. It retrains on the rows :func:`walk_forward`
    retrains on (those rows do not depend on the number of bars when ``end`` is None), with
    the same :class:`FoldTrainer`, and forecasts each bar from bars up to it, so by the
    timing contract the forecasts are identical to ``walk_forward(all_bars, config, start)``.
    Each fold is trained once; with a ``store`` a fold already on disk is loaded. A retrain
    logs a line at INFO when it starts and when it ends, and calls ``progress`` (if given)
    with its :class:`FoldReport` (a stream has no end: ``folds`` counts the folds so far,
    ``forecasts`` is ``retrain_every``).

    A bar without a retrain costs one feature row and one forward pass: the bars and their
    features are kept in growing numpy arrays, the new row's features are computed with the
    float operations :func:`~rnnstrategy.forecasting.features.make_features` applies to whole
    columns, and the fold's scalers are applied as the arithmetic scikit-learn does, so the
    forecast is bit for bit :meth:`RNNForecaster.predict` of the bars up to the row.

    Example::

        stream = WalkForwardStream(config, start="2019-09-02", symbol="600519.SH")
        for date, bar in bars.iterrows():
            pred = stream.update(date, *bar[["open", "high", "low", "close", "volume"]])
    """

    def __init__(self, config: ForecastConfig | None = None, start: RowLike | None = None, *,
                 symbol: str = "bars", store: str | Path | None = None,
                 progress: Callable[[FoldReport], None] | None = None) -> None:
        self.config = config or ForecastConfig()
        if start is not None and not isinstance(start, (int, np.integer)):
            start = pd.Timestamp(start)
        self.start = start
        self.symbol = symbol
        self.progress = progress
        self.trainer = FoldTrainer(self.config, symbol, store)
        self.model: RNNForecaster | None = None
        self.fold = -1  # folds so far - 1: the fold of the latest forecast
        self._first: int | None = None
        self._warmup = self.config.warmup
        self._tail = self.config.lookback + self._warmup  # rows one forecast reads
        self._dates: list[pd.Timestamp] = []
        self._values = np.empty((256, len(BAR_COLUMNS)))  # (capacity, 5) bars, rows < len(self) in use
        self._features = _RowFeatures.of(self.config.features)  # None: no row formula, predict from frames
        self._feats = np.empty((256, len(self.config.features)))  # (capacity, features) unscaled
        self._forecast: _FoldForecast | None = None

    def __len__(self) -> int:
        return len(self._dates)

    def bars(self, first: int = 0) -> pd.DataFrame:
        """The bars received so far, from row ``first``, as a bar frame."""
        return bars_frame(self._dates[first:], self._values[first : len(self)], self.symbol)

    def update(self, date: object, open: float, high: float, low: float, close: float,
               volume: float, factor: float | None = None) -> np.ndarray | None:
        """Add the bar closed at ``date``; its forecast ``[ô(t+1) … ô(t+H)]``, or None before the first retrain.

        ``factor``: the bar's adjustment factor when its prices are raw (a frame's ``factor`` column; give
        it for every bar or for none): the stream learns from the adjusted bar (prices × factor, volume ÷
        factor) and forecasts in raw prices at this factor, as
        :func:`~rnnstrategy.forecasting.features.predicted_opens` does for a frame.
        """
        if factor is None:
            return self._update(date, open, high, low, close, volume)
        factor = float(factor)  # float64 arithmetic, as on a frame's columns
        pred = self._update(date, open * factor, high * factor, low * factor, close * factor, volume / factor)
        return None if pred is None else pred / factor

    def _update(self, date: object, open: float, high: float, low: float, close: float,
                volume: float) -> np.ndarray | None:
        date = pd.Timestamp(date)
        if self._dates and date <= self._dates[-1]:
            raise DataError(f"{self.symbol}: bar {date.date()} is not after the previous bar "
                            f"{self._dates[-1].date()}; feed bars in ascending date order, one per day")
        row = len(self._dates)
        if row == len(self._values):
            self._values = _grown(self._values)
            self._feats = _grown(self._feats)
        self._values[row] = (open, high, low, close, volume)
        self._dates.append(date)
        if self._features is not None:
            self._feats[row] = self._features.row(self._values, row)
        if self._is_retrain_row(row):
            self._retrain(row)
        if self.model is None:
            return None
        if self._forecast is not None:
            window = self._feats[row - self.config.lookback + 1 : row + 1]  # (lookback, features)
            if np.isfinite(window).all():
                return self._forecast.predict(window, self._values[row, _CLOSE])
        # no row formula for a feature, or a non-finite one (predict raises its error naming the bar)
        tail = self.bars(max(0, row - self._tail + 1))
        return self.model.predict(tail, [len(tail) - 1]).to_numpy()[0]

    def _retrain(self, row: int) -> None:
        """Fit (or load) the fold retrained at ``row``, logging its start and end."""
        config, date = self.config, self._dates[row].date()
        samples = len(train_sample_ends(row, config.lookback, config.horizon, self._warmup, config.train_window))
        log.info("walk-forward stream %s: retrain %d at %s on %d samples", self.symbol, self.fold + 1, date, samples)
        started = time.perf_counter()
        fitted = self.trainer.fit(self.bars(), row)
        seconds = time.perf_counter() - started
        self.model, self.fold = fitted.model, self.fold + 1
        self._forecast = _FoldForecast(self.model) if self._features is not None else None
        model = self.model
        log.info("walk-forward stream %s: retrain %d at %s %s on %d samples in %.2f s", self.symbol, self.fold,
                 date, "trained" if fitted.trained else "loaded from the store", len(model.train_ends_), seconds)
        if self.progress:
            self.progress(FoldReport(
                fold=self.fold, folds=self.fold + 1, retrain_date=fitted.retrain_date,
                forecasts=config.retrain_every, trained=fitted.trained, seconds=seconds,
                samples=len(model.train_ends_), epochs=len(model.history_),
                history={c: model.history_[c].tolist() for c in ("train_loss", "val_loss")}, symbol=self.symbol,
            ))

    def _is_retrain_row(self, row: int) -> bool:
        if self._first is None:
            self._first = first_retrain_row(self.config, pd.DatetimeIndex(self._dates), self.start)
            if self._first is None:
                return False
            log.info("walk-forward stream %s: first retrain at %s", self.symbol, self._dates[row].date())
        return row >= self._first and (row - self._first) % self.config.retrain_every == 0


_OPEN, _HIGH, _LOW, _CLOSE, _VOLUME = (BAR_COLUMNS.index(c) for c in ("open", "high", "low", "close", "volume"))
_PREVIOUS, _CURRENT = 0, 1  # rows of the (2, 5) pair of bars a feature row is computed from

_LOG_RATIOS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    # name: (bar, column) of the numerator and of the denominator; the feature is log(numerator / denominator)
    "gap": ((_CURRENT, _OPEN), (_PREVIOUS, _CLOSE)),
    "ret": ((_CURRENT, _CLOSE), (_PREVIOUS, _CLOSE)),
    "high": ((_CURRENT, _HIGH), (_CURRENT, _CLOSE)),
    "low": ((_CURRENT, _LOW), (_CURRENT, _CLOSE)),
    "range": ((_CURRENT, _HIGH), (_CURRENT, _LOW)),
}
"""The log-ratio features of :data:`~rnnstrategy.forecasting.features.FEATURES`, for one row."""


class _RowFeatures:
    """One bar's feature row, computed with the float operations ``make_features`` applies to whole columns.

    ``make_features`` divides whole columns (``b["open"] / b["close"].shift(1)``) and takes
    the ``log`` of the contiguous quotient, or the ``diff`` of ``log1p(volume)``; here the
    same divisions, ``log``/``log1p`` calls on contiguous float64 arrays and subtractions
    give the same bits for the one new row (the tests compare them with ``make_features``).
    The first bar's look-back features are NaN, as the shifted columns are.
    """

    def __init__(self, names: Sequence[str]) -> None:
        ratios = [(k, *_LOG_RATIOS[name]) for k, name in enumerate(names) if name in _LOG_RATIOS]
        self.ratio_columns = [k for k, _, _ in ratios]
        self.numerators = tuple(np.array(index) for index in zip(*(num for _, num, _ in ratios), strict=True))
        self.denominators = tuple(np.array(index) for index in zip(*(den for _, _, den in ratios), strict=True))
        self.volume = [k for k, name in enumerate(names) if name == "volume"]
        self.open = [k for k, name in enumerate(names) if name == "open"]
        self.width = len(names)

    @classmethod
    def of(cls, names: Sequence[str]) -> _RowFeatures | None:
        """The row formulas of ``names``, or None when one has none (a feature new to FEATURES)."""
        if any(name not in _LOG_RATIOS and name not in ("volume", "open") for name in names):
            return None
        return cls(names)

    def row(self, values: np.ndarray, t: int) -> np.ndarray:
        """Features of row ``t`` of the bars ``values`` ``(rows, 5)``, from rows ``t - 1`` and ``t``."""
        pair = values[t - 1 : t + 1] if t > 0 else np.vstack([np.full(values.shape[1], np.nan), values[t]])
        out = np.empty(self.width)
        if self.ratio_columns:  # fancy indexing: fresh contiguous arrays, like the column quotients
            out[self.ratio_columns] = np.log(pair[self.numerators] / pair[self.denominators])
        if self.volume:
            logs = np.log1p(np.ascontiguousarray(pair[:, _VOLUME]))
            out[self.volume] = logs[_CURRENT] - logs[_PREVIOUS]
        if self.open:
            out[self.open] = pair[_CURRENT, _OPEN]
        return out


class _FoldForecast:
    """:meth:`RNNForecaster.predict` of one row, from that row's window of unscaled features.

    The same steps in the same float operations (scale, cast to float32, a fresh contiguous
    ``(1, lookback, features)`` tensor, one forward pass on one CPU thread, unscale, prices),
    without building frames or validating arrays on every bar.
    """

    def __init__(self, model: RNNForecaster) -> None:
        self.model = model
        self.scale_features = _scaling(model.feature_scaler_)
        self.unscale_targets = _unscaling(model.target_scaler_)
        self.threads = 1 if model.device_.type == "cpu" else None
        model.module_.eval()

    def predict(self, window: np.ndarray, close: float) -> np.ndarray:
        """``[ô(t+1) … ô(t+H)]`` from the features ``(lookback, features)`` of rows up to t and close(t)."""
        model = self.model
        x = torch.from_numpy(np.ascontiguousarray(self.scale_features(window), dtype=np.float32))
        x = x.unsqueeze(0).clone(memory_format=torch.contiguous_format)  # (1, lookback, features), fresh
        with torch.inference_mode(), torch_threads(self.threads):  # no autograd bookkeeping at all: the same math
            scaled = model.module_(x.to(model.device_)).cpu().double().numpy()  # (1, horizon)
        raw = self.unscale_targets(scaled)
        return targets_to_prices(raw, np.array([close]), model.target)[0]


def _scaling(scaler: object) -> Callable[[np.ndarray], np.ndarray]:
    """``scaler.transform`` as the plain arithmetic scikit-learn does (same ops, same order)."""
    if type(scaler) is StandardScaler:
        def transform(x: np.ndarray) -> np.ndarray:
            x = np.array(x, dtype=np.float64)
            if scaler.with_mean:
                x -= scaler.mean_
            if scaler.with_std:
                x /= scaler.scale_
            return x
        return transform
    if type(scaler) is MinMaxScaler and not scaler.clip:
        def transform(x: np.ndarray) -> np.ndarray:
            x = np.array(x, dtype=np.float64)
            x *= scaler.scale_
            x += scaler.min_
            return x
        return transform
    return scaler.transform  # type: ignore[attr-defined]


def _unscaling(scaler: object) -> Callable[[np.ndarray], np.ndarray]:
    """``scaler.inverse_transform`` as the plain arithmetic scikit-learn does (same ops, same order)."""
    if type(scaler) is StandardScaler:
        def inverse(x: np.ndarray) -> np.ndarray:
            x = np.array(x, dtype=np.float64)
            if scaler.with_std:
                x *= scaler.scale_
            if scaler.with_mean:
                x += scaler.mean_
            return x
        return inverse
    if type(scaler) is MinMaxScaler:
        def inverse(x: np.ndarray) -> np.ndarray:
            x = np.array(x, dtype=np.float64)
            x -= scaler.min_
            x /= scaler.scale_
            return x
        return inverse
    return scaler.inverse_transform  # type: ignore[attr-defined]


def _grown(array: np.ndarray) -> np.ndarray:
    """``array`` with twice the rows; the new rows are uninitialised."""
    grown = np.empty((2 * len(array), *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
