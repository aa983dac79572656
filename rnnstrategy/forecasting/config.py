"""The forecaster's settings: one frozen dataclass, the single definition of every field.

:class:`ForecastConfig` holds everything that decides a walk-forward forecast: the model
(the :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster` parameters, whose defaults
are read from here) and the walk-forward schedule. Each field carries its help text in its
metadata, and the command line (``--cell``, ``--train-window`` ...) and the ``[forecast]``
table of a TOML run are derived from these fields, so a new setting is one new field.

This module imports no torch, so a configuration can be built, hashed and written without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from rnnstrategy.errors import ConfigError

__all__ = ["DEFAULT_FEATURES", "FOLD_FORMAT", "MODEL_FIELDS", "POOLED_FIELDS", "SCHEDULE_FIELDS", "ForecastConfig"]

DEFAULT_FEATURES: tuple[str, ...] = ("gap", "ret", "high", "low", "volume")
"""One day's shape in five scale-free numbers: the overnight gap, the close-to-close
return, where the close sits in the day's range, and the change in activity."""

FOLD_FORMAT = 2
"""The version of what a stored fold means, part of every fold key (:meth:`ForecastConfig.fingerprint`).
It changes only when stored folds change meaning (a new release alone reuses them); 2: pooled scores
are one forward pass per market day, whose last bits differ from the chunked passes stored before."""


def _setting(default: object, help: str, *, pooled: object = None, **metadata: object) -> object:
    """A dataclass field with its command-line help in the metadata.

    ``pooled``: the field's default for pooled models, when it differs. The default is then
    marked (:class:`_ModeDefault`), so :meth:`ForecastConfig.__post_init__` tells a value left
    at its default, which takes the mode's, from the same value given on purpose, which stays.
    """
    if pooled is None:
        return field(default=default, metadata={"help": help, **metadata})
    marked = type(f"Default{type(default).__name__.title()}", (_ModeDefault, type(default)), {})(default)
    marked.pooled = pooled
    return field(default=marked, metadata={"help": f"{help} (pooled default: {_text(pooled)})", "pooled": pooled,
                                           **metadata})


class _ModeDefault:
    """Mixin of a default that differs by mode: an int (or float, tuple) that knows its pooled value."""

    pooled: object

    def plain(self) -> object:
        return type(self).__mro__[2](self)


def _text(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


@dataclass(frozen=True)
class ForecastConfig:
    """Everything that decides a walk-forward forecast (a config file maps onto it).

    The model fields are the :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster`
    parameters (:data:`MODEL_FIELDS`). Defaults target daily A-share bars on a CPU: a
    one-layer GRU of 32 units, 40-bar windows of five scale-free features, horizon 2 (the
    default strategy trades on ô(t+2)/ô(t+1)), log-return targets standardised on the
    training window, Adam 1e-3, batches of 64, up to 30 epochs with early stopping.

    The schedule: retrain every ``retrain_every`` bars (20, about a trading month), first once
    ``min_train`` samples exist (250, about a year); each fold trains on the latest
    ``train_window`` samples (1000, about four years; None or 0: all, an expanding window).
    The bounded window keeps a fold's cost flat however long the history: over the 121
    stocks of the sample universe (forecasts 2018-01-02..2023-03-17) it forecast as well as
    the expanding window (mean RMSE 0.9959x vs 0.9939x the previous close, a difference
    well within the spread across stocks; direction hit rate 53.7 % vs 53.0 %) at a
    quarter of the training time. Warm start (off by default): each retrain starts from the
    previous fold's weights and trains ``warm_start_epochs`` (10) instead of ``epochs``, about
    half the training time. It is off because long chains drift: over the whole SH600519
    history (107 folds, expanding window) warm-started forecasts had 1.13x the RMSE of the previous close,
    cold ones 0.994x. A warm fold's early-stopping window is made of samples the previous
    model already trained on, so early stopping stops guarding against overfitting.
    ``device`` is not part of a fold's fingerprint: a stored fold is reused on any device.

    Pooled models (``pooled=True``; universes only): at each retrain one network learns from
    the samples of every symbol whose labels are known by then (see
    :mod:`rnnstrategy.forecasting.pooled`). The label is the return the ``next_open``
    execution earns, log(open(t+2)/open(t+1)), normalised across the symbols of each day
    (``label_norm``); features may be normalised across symbols too (``feature_norm``), and an
    index's own features added (``market``). ``train_window`` and ``retrain_every`` then count
    market days, and the fields left at their per-symbol defaults take the pooled defaults
    shown in their help (a value given explicitly is kept).
    """

    cell: Literal["rnn", "lstm", "gru"] = _setting("gru", "recurrent cell")
    hidden: tuple[int, ...] = _setting((32,), "units per layer, comma-separated (80,100 = two layers)")
    dropout: float = _setting(0.0, "dropout after each recurrent layer")
    lookback: int = _setting(40, "bars per input window", pooled=20)
    horizon: int = _setting(2, "opens forecast ahead (H); the default strategy needs 2")
    features: tuple[str, ...] = _setting(DEFAULT_FEATURES, "input features, comma-separated "
                                         "(gap, ret, high, low, range, volume, open)")
    target: Literal["logret", "level"] = _setting("logret", "log(open/close) returns, standardised, or MinMax "
                                                   "price levels (course-notes protocol)")
    train_window: int | None = _setting(1000, "training samples per fold, the latest ones (pooled: samples of "
                                         "this many market days); 0 = all (expanding)", pooled=1250)
    epochs: int = _setting(30, "epochs of a cold (first) fit", pooled=6)
    batch_size: int = _setting(64, "mini-batch size", pooled=1024)
    lr: float = _setting(1e-3, "Adam learning rate")
    loss: Literal["mse", "huber"] = _setting("mse", "training loss")
    grad_clip: float | None = _setting(1.0, "largest gradient norm; none turns clipping off")
    patience: int = _setting(5, "early-stopping patience in epochs; 0 turns it off", pooled=2)
    val_fraction: float = _setting(0.2, "latest share of the training samples held out for early stopping")
    seed: int = _setting(0, "random seed (same seed, same forecasts)")
    device: str = _setting("auto", "auto (CUDA when present), cpu, cuda, cuda:1, ...")
    feature_scaling: Literal["standard", "minmax"] = _setting("standard", "feature scaler fitted on each "
                                                               "training window")
    retrain_every: int = _setting(20, "bars (pooled: market days) between retrains", group="schedule", pooled=250)
    min_train: int = _setting(250, "samples needed before the first retrain", group="schedule")
    warm_start: bool = _setting(False, "start each retrain from the previous fold's weights (faster; drifts "
                                "over long runs)", group="schedule")
    warm_start_epochs: int = _setting(10, "epochs of a warm-started fit", group="schedule")
    pooled: bool = _setting(False, "one model across all symbols of a universe per retrain", group="pooled")
    label_norm: Literal["rank", "zscore", "none"] = _setting("rank", "pooled: the label normalised across each "
                                                             "day's symbols", group="pooled")
    feature_norm: Literal["rank", "zscore", "none"] = _setting("none", "pooled: features normalised across "
                                                               "each day's symbols", group="pooled")
    market: str | None = _setting(None, "pooled: an index's bars (CSV path or symbol) whose own features join "
                                  "every stock's", group="pooled")
    ensemble: int = _setting(1, "pooled: models trained with seeds seed..seed+K-1 and averaged", group="pooled")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # a default left as it is takes its mode's value
            value = getattr(self, f.name)
            if isinstance(value, _ModeDefault):
                object.__setattr__(self, f.name, value.pooled if self.pooled else value.plain())
        # Normalise sequences so equal configs hash equally; 0 means an expanding window.
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "features", tuple(self.features))
        if self.train_window == 0:
            object.__setattr__(self, "train_window", None)
        if self.warm_start_epochs < 1:
            raise ConfigError(f"warm_start_epochs={self.warm_start_epochs} must be >= 1")
        if self.ensemble < 1:
            raise ConfigError(f"ensemble={self.ensemble} must be >= 1 (1: a single model)")
        if self.pooled and self.horizon < 2:
            raise ConfigError(f"horizon={self.horizon}: pooled models learn open(t+2)/open(t+1) and need "
                              "horizon >= 2")

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
        """The :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster` keyword arguments:
        ``RNNForecaster(**config.model_params())`` is the forecaster of this configuration."""
        return {name: getattr(self, name) for name in MODEL_FIELDS}

    @property
    def warmup(self) -> int:
        """Bars the features need before their first value (the forecaster's ``warmup``)."""
        from rnnstrategy.forecasting.features import checked_feature_names, feature_warmup

        return feature_warmup(checked_feature_names(self.features))

    def history_needed(self) -> int:
        """Bars before the first forecast date that a run reads: the training window's samples,
        their input windows and the features' warm-up (all bars when the window is expanding)."""
        samples = self.train_window if self.train_window is not None else 10**9
        return samples + self.horizon + self.lookback + self.warmup

    def fingerprint(self) -> dict[str, object]:
        """What a stored fold depends on (everything but the device), and :data:`FOLD_FORMAT`."""
        values = self.to_dict()
        values.pop("device")
        if not self.pooled:  # per-symbol folds stored before pooled models existed stay valid
            for name in POOLED_FIELDS:
                values.pop(name)
        return {"config": values, "fold_format": FOLD_FORMAT}


SCHEDULE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ForecastConfig)
                                         if f.metadata.get("group") == "schedule")
"""The walk-forward schedule's fields."""
POOLED_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ForecastConfig)
                                       if f.metadata.get("group") == "pooled")
"""The fields of pooled models (``pooled`` itself included)."""
MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ForecastConfig)
                                      if f.name not in SCHEDULE_FIELDS + POOLED_FIELDS)
"""The fields that are :class:`RNNForecaster` parameters, in signature order."""
