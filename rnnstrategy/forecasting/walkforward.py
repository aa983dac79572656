"""Walk-forward forecasting per symbol: retrain on schedule, forecast out of sample, never look ahead.

:func:`walk_forward` runs the folds of a :class:`~rnnstrategy.forecasting.splitter.WalkForwardSplit`
over one bar frame. At each retrain row τ a fresh :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster`
learns from samples whose targets are all observed by τ (warm-started from the previous
fold's weights when ``warm_start``), then forecasts rows τ … τ+retrain_every-1, each from
bars up to that row only. With a ``store`` every fold is persisted, so repeated, extended
and interrupted runs train only what is new (see :mod:`rnnstrategy.forecasting.foldstore`).

Folds are trained by :func:`rnnstrategy.forecasting.batched.fitting.fit_many`: cold folds all at once
(several times faster than one after another on a CPU), warm-started ones chained per
security; :func:`walk_forward_many` also batches across securities. A fold's weights do
not depend on which folds train beside it, bit for bit, so forecasts up to a date never
change when later bars are added or removed. ``RNNForecaster.fit`` is the plain
one-model path; the batched one agrees with it within float rounding.

:class:`WalkForwardStream` does the same bar by bar, as bars arrive: same retrain rows,
same :class:`FoldTrainer` step, so the same forecasts.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from rnnstrategy.data.fingerprint import DataFingerprint, stable_hash
from rnnstrategy.data.frame import BAR_COLUMNS
from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.batched.fitting import FitRequest, fit_many
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.features import targets_to_prices
from rnnstrategy.forecasting.foldstore import FoldStore
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.splitter import (
    RowLike,
    WalkForwardSplit,
    train_sample_ends,
)
from rnnstrategy.forecasting.training import torch_threads

__all__ = [
    "FittedFold",
    "FoldReport",
    "FoldTrainer",
    "ForecastConfig",
    "PlannedFold",
    "WalkForwardStream",
    "bars_frame",
    "first_retrain_row",
    "walk_forward",
    "walk_forward_many",
]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class FoldReport:
    """Progress of one fold, passed to the ``progress`` callback."""

    fold: int
    folds: int
    retrain_date: pd.Timestamp
    forecasts: int
    trained: bool
    seconds: float
    samples: int
    epochs: int
    history: dict[str, list[float]] = field(repr=False)
    symbol: str = ""

    def as_dict(self) -> dict[str, object]:
        values = dataclasses.asdict(self)
        values["retrain_date"] = f"{self.retrain_date:%Y-%m-%d}"
        return values


@dataclass(frozen=True)
class FittedFold:
    """The model of one retrain, fitted now or read back from the fold store."""

    model: RNNForecaster
    retrain_date: pd.Timestamp
    key: str
    trained: bool


@dataclass(frozen=True)
class PlannedFold:
    """One retrain to make: its row, date and fold-store key."""

    tau: int
    retrain_date: pd.Timestamp
    key: str


class FoldTrainer:
    """Fits the folds of one walk-forward run, in retrain order, each exactly once.

    The fold-level steps shared by :func:`walk_forward_many` (all folds of complete
    frames, trained together) and :class:`WalkForwardStream` (one fold at a time, bar by
    bar): the first fit is cold, later ones warm-start from the previous fold when
    ``config.warm_start``; with a ``store`` a fold whose key (configuration, first
    retrain date, retrain date, bars up to it) is on disk is loaded instead of trained,
    and a trained one is saved. Training goes through
    :func:`~rnnstrategy.forecasting.batched.fitting.fit_many`, whose result for a fold does not
    depend on the folds trained beside it, so both paths give the same forecasts.
    """

    def __init__(self, config: ForecastConfig, symbol: str, store: str | Path | None = None) -> None:
        self.config = config
        self.symbol = symbol
        self.store = FoldStore(store, symbol, config.fingerprint()) if store is not None else None
        self.anchor: pd.Timestamp | None = None  # the first retrain date: warm starts chain from it
        self.previous: RNNForecaster | None = None

    def plan(self, bars: pd.DataFrame, tau: int, fingerprint: DataFingerprint | None = None) -> PlannedFold:
        """The retrain at the close of row ``tau`` (bars after ``tau`` are not read).

        Plan folds in retrain order; ``fingerprint`` may be passed when the caller
        already has one of these bars.
        """
        retrain_date = bars.index[tau]
        if self.anchor is None:
            self.anchor = retrain_date
        fingerprint = fingerprint or DataFingerprint(bars.iloc[: tau + 1])
        key = stable_hash({**self.config.fingerprint(), "anchor": self.anchor, "retrain": retrain_date,
                           "data": fingerprint.upto(tau)})
        return PlannedFold(tau, retrain_date, key)

    def load(self, fold: PlannedFold) -> FittedFold | None:
        """The fold from the store, or None when it is not there (or there is no store)."""
        stored = self.store.load_state(fold.retrain_date, fold.key) if self.store else None
        if stored is None:
            return None
        model = RNNForecaster.from_state(stored.state, self.config.model_params())
        self.previous = model
        return FittedFold(model, fold.retrain_date, fold.key, trained=False)

    def request(self, bars: pd.DataFrame, fold: PlannedFold) -> FitRequest:
        """What to train for this fold (warm: from the previous fold, which must be fitted)."""
        config = self.config
        warm = config.warm_start and self.previous is not None
        model = RNNForecaster(**config.model_params())
        return FitRequest(model, bars, fold.tau, init_from=self.previous if warm else None,
                          epochs=config.warm_start_epochs if warm else None)

    def keep(self, fold: PlannedFold, model: RNNForecaster) -> FittedFold:
        """Record a freshly trained fold (in the store, and as the next warm start)."""
        if self.store:
            meta = {"retrain_date": f"{fold.retrain_date:%Y-%m-%d}", "symbol": self.symbol}
            self.store.save_state(fold.retrain_date, fold.key, model.get_state(), meta)
        self.previous = model
        return FittedFold(model, fold.retrain_date, fold.key, trained=True)

    def fit(self, bars: pd.DataFrame, tau: int, fingerprint: DataFingerprint | None = None) -> FittedFold:
        """Plan, then load or train, the retrain at row ``tau`` alone."""
        fold = self.plan(bars, tau, fingerprint)
        loaded = self.load(fold)
        if loaded is not None:
            return loaded
        (model,) = fit_many([self.request(bars, fold)])
        return self.keep(fold, model)


def _splitter(config: ForecastConfig, start: RowLike | None, end: RowLike | None) -> WalkForwardSplit:
    return WalkForwardSplit(
        lookback=config.lookback,
        horizon=config.horizon,
        retrain_every=config.retrain_every,
        train_window=config.train_window,
        min_train=config.min_train,
        warmup=config.warmup,
        start=start,
        end=end,
    )


def first_retrain_row(config: ForecastConfig, index: pd.DatetimeIndex, start: RowLike | None = None) -> int | None:
    """Row of the first retrain :func:`walk_forward` makes over bars with this index (``end=None``).

    ``None`` when no fold fits yet: too few bars for ``min_train`` samples, or no bar on or
    after ``start``. Later retrains follow every ``retrain_every`` rows, whatever the length.
    """
    if len(index) == 0:
        return None
    if isinstance(start, (int, np.integer)):
        if start >= len(index):
            return None
    elif start is not None and index[-1] < pd.Timestamp(start):
        return None
    try:
        return int(_splitter(config, start, None).retrain_rows(index)[0])
    except DataError:  # "no fold fits": not enough bars yet
        return None


def walk_forward(
    bars: pd.DataFrame,
    config: ForecastConfig | None = None,
    start: RowLike | None = None,
    end: RowLike | None = None,
    *,
    store: str | Path | None = None,
    progress: Callable[[FoldReport], None] | None = None,
    max_models: int | None = None,
) -> pd.DataFrame:
    """Out-of-sample forecasts of the next H opens for every bar in ``start..end``.

    Args:
        bars: canonical bar frame of one security.
        config: forecaster and schedule settings (default :class:`ForecastConfig`).
        start, end: first and last forecast dates (or row positions). Training uses any
            earlier bars; the first retrain happens at ``start`` or once ``min_train``
            samples exist, whichever is later.
        store: directory for fold states and forecasts (see :mod:`rnnstrategy.forecasting.foldstore`);
            None keeps nothing on disk.
        progress: called after each fold is fitted (or loaded) with a
            :class:`FoldReport`; cold folds train together, so they end in any order.
        max_models: most folds trained side by side (default: sized from memory).

    Returns:
        The forecast frame: indexed by forecast date t (``date``), columns
        ``pred_open_1..pred_open_H``, ``fold`` and the realised ``open_1..open_H``
        (NaN where not yet known). ``attrs["folds"]`` lists each fold's report
        (retrain date, samples, epochs, seconds, loss history) for plots.
    """
    (frame,) = walk_forward_many([bars], config, start, end, store=store, progress=progress, max_models=max_models)
    return frame


def walk_forward_many(
    frames: Sequence[pd.DataFrame],
    config: ForecastConfig | None = None,
    start: RowLike | None = None,
    end: RowLike | None = None,
    *,
    store: str | Path | None = None,
    progress: Callable[[FoldReport], None] | None = None,
    max_models: int | None = None,
) -> list[pd.DataFrame]:
    """:func:`walk_forward` of several securities, their folds trained together.

    Cold folds (the default) of every frame train in one batched computation
    (:func:`~rnnstrategy.forecasting.batched.fitting.fit_many`); warm-started folds form a chain
    per security, so the k-th folds of all securities train together, then the next.
    Each frame's forecasts are exactly those :func:`walk_forward` gives it alone.
    ``start`` and ``end`` apply to every frame (dates are safer than row positions).
    """
    config = config or ForecastConfig()
    runs = [_Run(bars, config, start, end, store) for bars in frames]
    started = last = time.perf_counter()

    def report(run: _Run, k: int, fold: FittedFold) -> None:
        nonlocal last
        run.fitted[k] = fold
        now = time.perf_counter()
        fitted = fold.model
        done = FoldReport(
            fold=k, folds=len(run.folds), retrain_date=fold.retrain_date, forecasts=len(run.folds[k][1]),
            trained=fold.trained, seconds=now - last, samples=len(run.folds[k][0]),
            epochs=len(fitted.history_), history={c: fitted.history_[c].tolist() for c in ("train_loss", "val_loss")},
            symbol=run.symbol,
        )
        last = now  # a fold's seconds: since the previous one ended, so they add up to the run
        run.reports[k] = done.as_dict()
        if progress:
            progress(done)

    while True:
        requests, owners = [], []
        for run in runs:
            for k in run.waiting():
                loaded = run.trainer.load(run.plans[k])
                if loaded is not None:
                    report(run, k, loaded)
                    continue
                requests.append(run.trainer.request(run.bars, run.plans[k]))
                owners.append((run, k))
                if config.warm_start:
                    break  # the next fold starts from this one
        if not requests:
            break

        def fitted(j: int, model: RNNForecaster, owners: list[tuple[_Run, int]] = owners) -> None:
            run, k = owners[j]
            report(run, k, run.trainer.keep(run.plans[k], model))

        fit_many(requests, max_models=max_models, on_fitted=fitted)
    log.info("walk-forward of %d frame(s): %.1f s", len(runs), time.perf_counter() - started)
    return [run.forecasts() for run in runs]


class _Run:
    """One frame's walk-forward: its folds, their plans and what has been fitted."""

    def __init__(self, bars: pd.DataFrame, config: ForecastConfig, start: RowLike | None, end: RowLike | None,
                 store: str | Path | None) -> None:
        self.bars, self.config = bars, config
        self.folds = list(_splitter(config, start, end).split(bars))
        self.symbol = str(bars.attrs.get("symbol") or "bars")
        self.fingerprint = DataFingerprint(bars)
        self.trainer = FoldTrainer(config, self.symbol, store)
        self.plans = [self.trainer.plan(bars, int(rows[0]), self.fingerprint) for _, rows in self.folds]
        self.fitted: list[FittedFold | None] = [None] * len(self.folds)
        self.reports: list[dict[str, object] | None] = [None] * len(self.folds)
        log.info("walk-forward %s: %d folds from %s", self.symbol, len(self.folds),
                 bars.index[self.folds[0][1][0]].date())

    def waiting(self) -> list[int]:
        """Folds not fitted yet, oldest first."""
        return [k for k, fold in enumerate(self.fitted) if fold is None]

    def forecasts(self) -> pd.DataFrame:
        """The forecast frame once every fold is fitted."""
        pieces = []
        for k, (fold, (_, rows)) in enumerate(zip(self.fitted, self.folds, strict=True)):
            forecasts = _fold_forecasts(self.trainer.store, fold, self.bars, rows, self.fingerprint)
            pieces.append(forecasts.assign(fold=k))
        frame = pd.concat(pieces)
        frame.index.name = "date"
        opens = self.bars["open"]
        for h in range(1, self.config.horizon + 1):
            frame[f"open_{h}"] = opens.shift(-h).reindex(frame.index).to_numpy()
        frame.attrs = {"symbol": self.symbol, "folds": self.reports, "config": self.config.to_dict()}
        return frame


def _fold_forecasts(store: FoldStore | None, fold: FittedFold, bars: pd.DataFrame, rows: np.ndarray,
                    fingerprint: DataFingerprint) -> pd.DataFrame:
    """A fold's forecasts of ``rows``: from the store when there for exactly these bars, else predicted."""
    data_key = fingerprint.upto(int(rows[-1]))
    forecasts = store.load_forecasts(fold.retrain_date, fold.key, data_key, bars.index[rows]) if store else None
    if forecasts is None:
        forecasts = fold.model.predict(bars, rows)
        if store:
            store.save_forecasts(fold.retrain_date, fold.key, data_key, forecasts)
    return forecasts


def bars_frame(dates: Sequence[object], values: np.ndarray, symbol: str) -> pd.DataFrame:
    """A bar frame (index ``date``, float64 ``open high low close volume``) from raw arrays.

    ``values`` is ``(n, 5)`` in that column order, e.g. what a Backtrader feed holds.
    """
    index = pd.DatetimeIndex(pd.to_datetime(list(dates)), name="date")
    frame = pd.DataFrame(np.asarray(values, dtype="float64").reshape(len(index), 5), index=index,
                         columns=list(BAR_COLUMNS))
    frame.attrs["symbol"] = symbol
    return frame


class WalkForwardStream:
    """:func:`walk_forward` bar by bar, for data that arrives one bar at a time (live-like).

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
               volume: float) -> np.ndarray | None:
        """Add the bar closed at ``date``; its forecast ``[ô(t+1) … ô(t+H)]``, or None before the first retrain."""
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
