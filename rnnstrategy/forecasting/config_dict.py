"""A forecaster configuration from a mapping: a TOML ``[forecast]`` table or a recorded configuration.

The one place that tells the two kinds apart when a configuration is read back (a TOML run, a run's
``manifest.json``, a universe's ``summary.json``, a forecast file's metadata): ``pooled = true``
(the tag :meth:`~rnnstrategy.forecasting.pooled.config.PooledConfig.to_dict` writes) selects
:class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`, anything else
:class:`~rnnstrategy.forecasting.config.ForecastConfig`.

Records written while one class held both kinds' fields are read as they were meant: a pooled
record's ``train_window`` and ``retrain_every`` counted market days (``train_days``,
``retrain_every_days`` now), a pooled record without ``market`` had none (the default is ``"auto"`` now),
and the other kind's unused fields are left out. A TOML table gets no
such reading: a setting of the other kind is an error that names the right one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.pooled.config import PooledConfig

__all__ = ["POOLED_RENAMED", "forecast_config_class", "forecast_config_from_dict", "forecast_table"]

POOLED_RENAMED: dict[str, str] = {"train_window": "train_days", "retrain_every": "retrain_every_days"}
"""Per-stock settings counted in bars of one stock, and the pooled settings in market days that take their place."""


def _names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def forecast_config_class(values: Mapping[str, Any]) -> type[ForecastConfig] | type[PooledConfig]:
    """:class:`PooledConfig` when ``values`` say ``pooled = true``, else :class:`ForecastConfig`.

    Raises:
        ConfigError: for a ``pooled`` that is not a bool.
    """
    pooled = values.get("pooled", False)
    if not isinstance(pooled, bool):
        raise ConfigError(f"pooled = {pooled!r}: give true (one model across a universe) or false (one per stock)")
    return PooledConfig if pooled else ForecastConfig


def forecast_table(values: Mapping[str, Any], *, recorded: bool = False) -> tuple[type, dict[str, Any]]:
    """The class ``values`` describe and its keyword arguments (``pooled`` taken out).

    Args:
        values: the settings, with ``pooled = true`` for a pooled model.
        recorded: ``values`` were written by a run (read records of older versions as they were meant;
            see the module docstring), rather than by hand.

    Raises:
        ConfigError: for a ``pooled`` that is not a bool, or a setting the class does not have (one line
            naming the valid ones, and the other kind's setting when that is what was given).
    """
    cls = forecast_config_class(values)
    pooled = cls is PooledConfig
    other = ForecastConfig if pooled else PooledConfig
    table = {key: value for key, value in values.items() if key != "pooled"}
    if recorded:
        table = _as_meant(table, cls, other)
    unknown = [key for key in table if key not in _names(cls)]
    if unknown:
        hints = "; ".join(_hint(key, pooled) for key in unknown)
        raise ConfigError(f"{hints}; valid: {', '.join(['pooled', *_names(cls)])}")
    return cls, table


def forecast_config_from_dict(values: Mapping[str, Any], *, recorded: bool = False) -> ForecastConfig | PooledConfig:
    """The :class:`ForecastConfig` or :class:`PooledConfig` of ``values`` (see :func:`forecast_table`)."""
    cls, table = forecast_table(values, recorded=recorded)
    return cls(**table)


def _as_meant(table: dict[str, Any], cls: type, other: type) -> dict[str, Any]:
    """A record of an older version in this version's fields: a pooled record's schedule renamed, the other
    kind's fields (recorded beside the own ones, unused) left out."""
    if cls is PooledConfig:
        table = {POOLED_RENAMED.get(key, key): value for key, value in table.items()}
        table.setdefault("market", None)  # a record without it had no market features (now "auto" by default)
    unused = set(_names(other)) - set(_names(cls))
    return {key: value for key, value in table.items() if key not in unused}


def _hint(key: str, pooled: bool) -> str:
    """Why ``key`` is not a setting of the kind given, and what is."""
    if pooled and key in POOLED_RENAMED:
        return f"pooled models take {POOLED_RENAMED[key]} (market days), not {key}"
    if pooled and key in _names(ForecastConfig):
        return f"{key} is a setting of per-stock models; pooled models have none"
    if not pooled and key in _names(PooledConfig):
        return f"{key} is a setting of pooled models: add pooled = true"
    return f"no forecast setting {key!r}"
