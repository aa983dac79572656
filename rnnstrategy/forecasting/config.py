"""The per-stock forecaster's settings, and the settings it shares with pooled models.

:class:`ForecastSettings` holds what both kinds of model mean the same way (the network, the
optimiser, the seed, warm starts); :class:`ForecastConfig` adds what decides a per-stock
walk-forward forecast: the :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster` parameters
(whose defaults are read from here) and the schedule in bars of the stock. Pooled models have
their own class, :class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`, with their own
defaults and a schedule in market days, so no value changes meaning with a flag. Each field
carries its help text in its metadata, and the command line (``--cell``, ``--train-window`` ...)
and the ``[forecast]`` table of a TOML run are derived from these fields, so a new setting is
one new field.

This module imports no torch, so a configuration can be built, hashed and written without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from rnnstrategy.errors import ConfigError

__all__ = ["DEFAULT_FEATURES", "FOLD_FORMAT", "MODEL_FIELDS", "SCHEDULE_FIELDS", "ForecastConfig", "ForecastSettings",
           "forecast_setting"]

DEFAULT_FEATURES: tuple[str, ...] = ("gap", "ret", "high", "low", "volume")
"""One day's shape in five scale-free numbers: the overnight gap, the close-to-close
return, where the close sits in the day's range, and the change in activity."""

FOLD_FORMAT = 2
"""The version of what a stored fold means, part of every fold key (:meth:`ForecastSettings.fingerprint`).
It changes only when stored folds change meaning (a new release alone reuses them); 2: pooled scores
are one forward pass per market day, whose last bits differ from the chunked passes stored before."""

Settings = TypeVar("Settings", bound="ForecastSettings")


def forecast_setting(default: object, help: str, **metadata: object) -> Any:
    """A dataclass field with its command-line help in the metadata (``group="schedule"``: a schedule field)."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass(frozen=True)
class ForecastSettings:
    """The settings per-stock and pooled models share, with one meaning and one default in both.

    Not used alone: a run takes a :class:`ForecastConfig` (one model per stock) or a
    :class:`~rnnstrategy.forecasting.pooled.config.PooledConfig` (one model per retrain across a
    universe). ``device`` is not part of a fold's fingerprint: a stored fold is reused on any device.
    """

    cell: Literal["rnn", "lstm", "gru"] = forecast_setting("gru", "recurrent cell")
    hidden: tuple[int, ...] = forecast_setting((32,), "units per layer, comma-separated (80,100 = two layers)")
    dropout: float = forecast_setting(0.0, "dropout after each recurrent layer")
    horizon: int = forecast_setting(2, "opens forecast ahead (H); the default strategy needs 2")
    features: tuple[str, ...] = forecast_setting(DEFAULT_FEATURES, "input features, comma-separated "
                                                 "(gap, ret, high, low, range, volume, open)")
    lr: float = forecast_setting(1e-3, "Adam learning rate")
    loss: Literal["mse", "huber"] = forecast_setting("mse", "training loss")
    grad_clip: float | None = forecast_setting(1.0, "largest gradient norm; none turns clipping off")
    val_fraction: float = forecast_setting(0.2, "latest share of the training samples held out for early stopping")
    seed: int = forecast_setting(0, "random seed (same seed, same forecasts)")
    device: str = forecast_setting("auto", "auto (CUDA when present), cpu, cuda, cuda:1, ...")
    warm_start: bool = forecast_setting(False, "start each retrain from the previous fold's weights (faster; drifts "
                                        "over long runs)", group="schedule")
    warm_start_epochs: int = forecast_setting(10, "epochs of a warm-started fit", group="schedule")

    def __post_init__(self) -> None:
        # Normalise sequences so equal configs hash equally.
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "features", tuple(self.features))
        if self.warm_start_epochs < 1:
            raise ConfigError(f"warm_start_epochs={self.warm_start_epochs} must be >= 1")

    @classmethod
    def from_dict(cls: type[Settings], values: Mapping[str, object]) -> Settings:
        """Build from a mapping of this class's fields; unknown keys are an error, not ignored. (A TOML table
        or a recorded configuration of either kind:
        :func:`~rnnstrategy.forecasting.config_dict.forecast_config_from_dict`.)"""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown forecast setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @property
    def warmup(self) -> int:
        """Bars the features need before their first value (the forecaster's ``warmup``)."""
        from rnnstrategy.forecasting.features import checked_feature_names, feature_warmup

        return feature_warmup(checked_feature_names(self.features))

    def fingerprint(self) -> dict[str, object]:
        """What a stored fold depends on (everything but the device), and :data:`FOLD_FORMAT`."""
        values = self.to_dict()
        values.pop("device")
        return {"config": values, "fold_format": FOLD_FORMAT}


@dataclass(frozen=True)
class ForecastConfig(ForecastSettings):
    """Everything that decides a per-stock walk-forward forecast (a config file maps onto it).

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

    One model across every stock of a universe is a
    :class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`.
    """

    lookback: int = forecast_setting(40, "bars per input window")
    target: Literal["logret", "level"] = forecast_setting("logret", "log(open/close) returns, standardised, or "
                                                           "MinMax price levels (course-notes protocol)")
    train_window: int | None = forecast_setting(1000, "training samples per fold, the latest ones; 0 = all "
                                                "(expanding)")
    epochs: int = forecast_setting(30, "epochs of a cold (first) fit")
    batch_size: int = forecast_setting(64, "mini-batch size")
    patience: int = forecast_setting(5, "early-stopping patience in epochs; 0 turns it off")
    feature_scaling: Literal["standard", "minmax"] = forecast_setting("standard", "feature scaler fitted on each "
                                                                       "training window")
    retrain_every: int = forecast_setting(20, "bars between retrains", group="schedule")
    min_train: int = forecast_setting(250, "samples needed before the first retrain", group="schedule")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.train_window == 0:  # 0 means an expanding window
            object.__setattr__(self, "train_window", None)

    def model_params(self) -> dict[str, object]:
        """The :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster` keyword arguments:
        ``RNNForecaster(**config.model_params())`` is the forecaster of this configuration."""
        return {name: getattr(self, name) for name in MODEL_FIELDS}

    def history_needed(self) -> int:
        """Bars before the first forecast date that a run reads: the training window's samples,
        their input windows and the features' warm-up (all bars when the window is expanding)."""
        samples = self.train_window if self.train_window is not None else 10**9
        return samples + self.horizon + self.lookback + self.warmup


SCHEDULE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ForecastConfig)
                                         if f.metadata.get("group") == "schedule")
"""The per-stock walk-forward schedule's fields."""
MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ForecastConfig)
                                      if f.name not in SCHEDULE_FIELDS)
"""The fields that are :class:`RNNForecaster` parameters."""
