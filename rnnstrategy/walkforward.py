"""Walk-forward forecasting: retrain on schedule, forecast out of sample, never look ahead.

:func:`walk_forward` runs the folds of a :class:`~rnnstrategy.splitter.WalkForwardSplit`
over one bar frame. At each retrain row τ a fresh :class:`~rnnstrategy.forecaster.RNNForecaster`
learns from samples whose targets are all observed by τ (warm-started from the previous
fold's weights when ``warm_start``), then forecasts rows τ … τ+retrain_every-1, each from
bars up to that row only. With a ``store`` every fold is persisted, so repeated, extended
and interrupted runs train only what is new (see :mod:`rnnstrategy.foldstore`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rnnstrategy import __version__
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecaster import RNNForecaster
from rnnstrategy.foldstore import DataFingerprint, FoldStore, stable_hash
from rnnstrategy.splitter import RowLike, WalkForwardSplit

__all__ = ["ForecastConfig", "FoldReport", "walk_forward"]

log = logging.getLogger(__name__)

_MODEL = RNNForecaster().get_params()  # the estimator's defaults are the single source


@dataclass(frozen=True)
class ForecastConfig:
    """Everything that decides a walk-forward forecast (a config file maps onto it).

    Model fields are the :class:`~rnnstrategy.forecaster.RNNForecaster` parameters. The
    schedule: retrain every ``retrain_every`` bars (20, about a trading month), first once
    ``min_train`` samples exist (250, about a year); ``train_window`` samples per fold
    (None or 0: all, expanding). Warm start (default on): each retrain starts from the
    previous fold's weights and trains ``warm_start_epochs`` (10) instead of ``epochs``;
    consecutive folds share all but ``retrain_every`` of their samples, so the previous
    optimum is a close start, and early stopping still guards each fold. Cold folds
    (``warm_start=False``) are independent, which costs about 3x the training time.
    ``device`` is not part of a fold's fingerprint: a stored fold is reused on any device.
    """

    cell: str = _MODEL["cell"]
    hidden: tuple[int, ...] = tuple(_MODEL["hidden"])
    dropout: float = _MODEL["dropout"]
    lookback: int = _MODEL["lookback"]
    horizon: int = _MODEL["horizon"]
    features: tuple[str, ...] = tuple(_MODEL["features"])
    target: str = _MODEL["target"]
    train_window: int | None = _MODEL["train_window"]
    epochs: int = _MODEL["epochs"]
    batch_size: int = _MODEL["batch_size"]
    lr: float = _MODEL["lr"]
    loss: str = _MODEL["loss"]
    grad_clip: float | None = _MODEL["grad_clip"]
    patience: int = _MODEL["patience"]
    val_fraction: float = _MODEL["val_fraction"]
    seed: int = _MODEL["seed"]
    device: str = _MODEL["device"]
    retrain_every: int = 20
    min_train: int = 250
    warm_start: bool = True
    warm_start_epochs: int = 10

    def __post_init__(self) -> None:
        # Normalise sequences so equal configs hash equally; 0 means an expanding window.
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "features", tuple(self.features))
        if self.train_window == 0:
            object.__setattr__(self, "train_window", None)
        if self.warm_start_epochs < 1:
            raise ConfigError(f"warm_start_epochs={self.warm_start_epochs} must be >= 1")

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> ForecastConfig:
        """Build from a mapping (e.g. a TOML table); unknown keys are an error, not ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown forecast setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def model_params(self) -> dict[str, object]:
        """The :class:`RNNForecaster` keyword arguments."""
        return {name: getattr(self, name) for name in _MODEL}

    def forecaster(self) -> RNNForecaster:
        return RNNForecaster(**self.model_params())

    def fingerprint(self) -> dict[str, object]:
        """What a stored fold depends on (everything but the device)."""
        values = self.to_dict()
        values.pop("device")
        return {"config": values, "version": __version__}


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

    def as_dict(self) -> dict[str, object]:
        values = dataclasses.asdict(self)
        values["retrain_date"] = f"{self.retrain_date:%Y-%m-%d}"
        return values


def walk_forward(
    bars: pd.DataFrame,
    config: ForecastConfig | None = None,
    start: RowLike | None = None,
    end: RowLike | None = None,
    *,
    store: str | Path | None = None,
    progress: Callable[[FoldReport], None] | None = None,
) -> pd.DataFrame:
    """Out-of-sample forecasts of the next H opens for every bar in ``start..end``.

    Args:
        bars: canonical bar frame of one security.
        config: forecaster and schedule settings (default :class:`ForecastConfig`).
        start, end: first and last forecast dates (or row positions). Training uses any
            earlier bars; the first retrain happens at ``start`` or once ``min_train``
            samples exist, whichever is later.
        store: directory for fold states and forecasts (see :mod:`rnnstrategy.foldstore`);
            None keeps nothing on disk.
        progress: called after each fold with a :class:`FoldReport`.

    Returns:
        The forecast frame: indexed by forecast date t (``date``), columns
        ``pred_open_1..pred_open_H``, ``fold`` and the realised ``open_1..open_H``
        (NaN where not yet known). ``attrs["folds"]`` lists each fold's report
        (retrain date, samples, epochs, seconds, loss history) for plots.
    """
    config = config or ForecastConfig()
    model = config.forecaster()
    splitter = WalkForwardSplit(
        lookback=config.lookback,
        horizon=config.horizon,
        retrain_every=config.retrain_every,
        train_window=config.train_window,
        min_train=config.min_train,
        warmup=model.warmup,
        start=start,
        end=end,
    )
    folds = list(splitter.split(bars))
    symbol = str(bars.attrs.get("symbol") or "bars")
    fingerprint = DataFingerprint(bars)
    anchor = bars.index[folds[0][1][0]]
    fold_store = FoldStore(store, symbol, config.fingerprint()) if store is not None else None
    log.info("walk-forward %s: %d folds from %s", symbol, len(folds), anchor.date())

    previous: RNNForecaster | None = None
    pieces, reports = [], []
    for k, (train_ends, rows) in enumerate(folds):
        started = time.perf_counter()
        retrain_date = bars.index[rows[0]]
        key = stable_hash({**config.fingerprint(), "anchor": anchor, "retrain": retrain_date,
                           "data": fingerprint.upto(int(rows[0]))})
        stored = fold_store.load_state(retrain_date, key) if fold_store else None
        if stored is not None:
            fitted = RNNForecaster.from_state(stored.state, config.model_params())
        else:
            warm = config.warm_start and previous is not None
            fitted = config.forecaster().fit(
                bars, until=int(rows[0]), init_from=previous if warm else None,
                epochs=config.warm_start_epochs if warm else None,
            )
            if fold_store:
                fold_store.save_state(retrain_date, key, fitted.get_state(), {"retrain_date": f"{retrain_date:%Y-%m-%d}", "symbol": symbol})
        data_key = fingerprint.upto(int(rows[-1]))
        forecasts = fold_store.load_forecasts(retrain_date, key, data_key, bars.index[rows]) if fold_store else None
        if forecasts is None:
            forecasts = fitted.predict(bars, rows)
            if fold_store:
                fold_store.save_forecasts(retrain_date, key, data_key, forecasts)
        pieces.append(forecasts.assign(fold=k))
        report = FoldReport(
            fold=k, folds=len(folds), retrain_date=retrain_date, forecasts=len(rows), trained=stored is None,
            seconds=time.perf_counter() - started, samples=len(train_ends), epochs=len(fitted.history_),
            history={c: fitted.history_[c].tolist() for c in ("train_loss", "val_loss")},
        )
        reports.append(report.as_dict())
        if progress:
            progress(report)
        previous = fitted

    frame = pd.concat(pieces)
    frame.index.name = "date"
    opens = bars["open"]
    for h in range(1, config.horizon + 1):
        frame[f"open_{h}"] = opens.shift(-h).reindex(frame.index).to_numpy()
    frame.attrs = {"symbol": symbol, "folds": reports, "config": config.to_dict()}
    return frame
