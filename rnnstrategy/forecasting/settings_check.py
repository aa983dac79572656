"""A forecaster's settings checked before any data is loaded or model trained.

The checks are the ones a fit makes (the estimator's parameters, the training configuration, the
walk-forward schedule, the network's shape); here they run on the settings alone, so a universe does not
start a worker per stock only for each to fail on ``--lookback 0``. The network is built on PyTorch's
``meta`` device: its shape is checked and no weights are allocated (``--hidden 100000`` costs nothing).
"""

from __future__ import annotations

import math

import torch

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.features import checked_feature_names
from rnnstrategy.forecasting.nets import RecurrentNet
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.training import TrainConfig

__all__ = ["check_settings"]


def check_settings(config: ForecastConfig | PooledConfig) -> None:
    """Refuse settings that a fit would refuse, before any work.

    Raises:
        ConfigError: one line naming the setting and the values it takes.
    """
    features = checked_feature_names(config.features)
    config.warmup  # noqa: B018 - the features' warm-up: an unknown name is refused here
    _check_numbers(config)
    TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, loss=config.loss,
                grad_clip=config.grad_clip, patience=config.patience, val_fraction=config.val_fraction,
                seed=config.seed)
    with torch.device("meta"):  # the shape checks of the network, without its weights
        RecurrentNet(len(features), max(config.horizon, 1), config.cell, config.hidden, config.dropout)
    if isinstance(config, PooledConfig):
        _check_pooled(config)
    else:
        _check_stock(config)


def _check_numbers(config: ForecastConfig | PooledConfig) -> None:
    """Whole numbers that must be at least 1, and rates that must be finite (NaN passes many a comparison)."""
    for name in ("lookback", "horizon", "epochs", "batch_size", "warm_start_epochs"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}={value!r} must be a whole number >= 1")
    for name in ("lr", "dropout", "val_fraction", "grad_clip"):
        value = getattr(config, name)
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"{name}={value!r} must be a finite number")


def _check_stock(config: ForecastConfig) -> None:
    """The walk-forward schedule of one stock, as :class:`~rnnstrategy.forecasting.splitter.WalkForwardSplit`
    checks it, and the estimator's own settings."""
    from rnnstrategy.forecasting.forecaster import RNNForecaster
    from rnnstrategy.forecasting.splitter import WalkForwardSplit

    WalkForwardSplit(lookback=config.lookback, horizon=config.horizon, retrain_every=config.retrain_every,
                     train_window=config.train_window, min_train=config.min_train, warmup=config.warmup)
    RNNForecaster(**config.model_params())._validated_config(None)  # target, scaling: the estimator's checks


def _check_pooled(config: PooledConfig) -> None:
    """The market-day schedule of a pooled model and its normalisations."""
    from rnnstrategy.forecasting.pooled.panel import NORMALISATIONS

    if config.retrain_every_days < 1:
        raise ConfigError(f"retrain_every_days={config.retrain_every_days} must be >= 1")
    if config.train_days is not None and config.train_days < 1:
        raise ConfigError(f"train_days={config.train_days} must be >= 1, or 0 for every market day (expanding)")
    for name in ("label_norm", "feature_norm"):
        if getattr(config, name) not in NORMALISATIONS:
            raise ConfigError(f"{name}={getattr(config, name)!r} is unknown; use one of {', '.join(NORMALISATIONS)}")
