"""Walk-forward forecasting per symbol: retrain on schedule, forecast out of sample, never look ahead.

:func:`walk_forward` runs the folds of a :class:`~rnnstrategy.forecasting.splitter.WalkForwardSplit`
over one bar frame. At each retrain row τ a fresh :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster`
learns from samples whose targets are all observed by τ (warm-started from the previous
fold's weights when ``warm_start``), then forecasts rows τ … τ+retrain_every-1, each from
bars up to that row only. With a ``store`` every fold is persisted, so repeated, extended
and interrupted runs train only what is new (see :mod:`rnnstrategy.forecasting.foldstore`).

Folds are trained by :func:`rnnstrategy.forecasting.batched.fitting.fit_many`: cold folds all at once
(several times faster than one after another on a CPU), warm-started ones chained per
security; :func:`walk_forward_many` also batches across securities. With several PyTorch
threads the folds are split into groups, one worker thread each
(:mod:`rnnstrategy.forecasting.fold_workers`), so every core trains. A fold's weights do
not depend on which folds train beside it, bit for bit, so forecasts up to a date never
change when later bars are added or removed. ``RNNForecaster.fit`` is the plain
one-model path; the batched one agrees with it within float rounding.

:class:`~rnnstrategy.forecasting.stream.WalkForwardStream` does the same bar by bar, as bars
arrive: same retrain rows, same :class:`FoldTrainer` step, so the same forecasts.
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

from rnnstrategy.data.fingerprint import DataFingerprint, stable_hash
from rnnstrategy.data.frame import BAR_COLUMNS
from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.batched.fitting import FitRequest, fit_many
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.fold_workers import fit_on_workers
from rnnstrategy.forecasting.foldstore import FoldStore
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.splitter import RowLike, WalkForwardSplit

__all__ = [
    "FittedFold",
    "FoldReport",
    "FoldTrainer",
    "ForecastConfig",
    "PlannedFold",
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
    frames, trained together) and :class:`~rnnstrategy.forecasting.stream.WalkForwardStream`
    (one fold at a time, bar by bar): the first fit is cold, later ones warm-start from the
    previous fold when ``config.warm_start``; with a ``store`` a fold whose key (configuration,
    first retrain date, retrain date, bars up to it) is on disk is loaded instead of trained,
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

        fit_on_workers(requests, max_models=max_models, on_fitted=fitted)  # one group per core
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
