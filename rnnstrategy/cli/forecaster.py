"""The forecaster's options: one per field of :class:`~rnnstrategy.forecasting.config.ForecastConfig` and of
:class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`, with ``--pooled`` choosing the class.

A field both classes have is one option whose help shows both defaults (``--lookback``: "default: 40;
pooled: 20"). A per-stock field (``--train-window``, ``--retrain-every``, ``--min-train``, ``--target``,
``--feature-scaling``) is refused beside ``--pooled``, naming the pooled option that takes its place, and a
pooled one (``--train-days``, ``--retrain-every-days``, ``--label-norm``, ...) without it. No option has an
argparse default: a setting not given takes the chosen class's default.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from rnnstrategy.cli.options import argument_keywords, flag_of
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.config_dict import POOLED_RENAMED
from rnnstrategy.forecasting.pooled.config import PooledConfig

__all__ = ["FORECASTER_OPTIONS", "add_forecaster_settings", "forecaster_from_args"]

FORECASTER_OPTIONS = "forecaster and walk-forward schedule (ForecastConfig; with --pooled, PooledConfig)"
"""The title of the group of :func:`add_forecaster_settings` in a command's help."""

_DEST = "forecast."


def _fields(cls: type) -> dict[str, tuple[dataclasses.Field, typing.Any]]:
    hints = typing.get_type_hints(cls)
    return {field.name: (field, hints[field.name]) for field in dataclasses.fields(cls)}


def _text(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _help(name: str, stock: dataclasses.Field | None, pooled: dataclasses.Field | None) -> str:
    """A field's help with its default in each class that has it."""
    field = stock or pooled
    default = "" if field.default is None else f"default: {_text(field.default)}"
    if stock is None:
        notes = ["with --pooled", default]
    elif pooled is None:
        instead = f"pooled: --{POOLED_RENAMED[name].replace('_', '-')}" if name in POOLED_RENAMED else ""
        notes = ["per-stock models", default, instead]
    elif stock.default != pooled.default:
        notes = [default, f"pooled: {_text(pooled.default)}"]
    else:
        notes = [default]
    return f"{field.metadata.get('help', '')} ({'; '.join(filter(None, notes))})"


def add_forecaster_settings(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--pooled`` and one option per field of :class:`ForecastConfig` and :class:`PooledConfig` (a field of
    both once), read back by :func:`forecaster_from_args`."""
    group.add_argument("--pooled", action="store_true",
                       help="one model across all symbols of a universe per retrain (PooledConfig); default: one "
                            "model per stock (ForecastConfig)")
    stock, pooled = _fields(ForecastConfig), _fields(PooledConfig)
    both = {**stock, **pooled}
    # the settings of both kinds first, then the per-stock ones, then the pooled ones
    for name in sorted(both, key=lambda name: (name not in pooled) + 2 * (name not in stock)):
        field, hint = both[name]
        help_text = _help(name, stock.get(name, (None,))[0], pooled.get(name, (None,))[0])
        group.add_argument(flag_of(field), dest=_DEST + name, default=argparse.SUPPRESS,
                           help=help_text.replace("%", "%%"), **argument_keywords(flag_of(field), hint))


def forecaster_from_args(args: argparse.Namespace) -> ForecastConfig | PooledConfig:
    """The :class:`PooledConfig` (``--pooled``) or :class:`ForecastConfig` of the options given.

    Raises:
        ConfigError: for an option of the other kind of model, or a value the class refuses.
    """
    cls = PooledConfig if args.pooled else ForecastConfig
    given = {dest[len(_DEST):]: value for dest, value in vars(args).items() if dest.startswith(_DEST)}
    own = _fields(cls)
    for name in given:
        if name not in own:
            raise ConfigError(_refusal(name, args.pooled))
    try:
        return cls(**given)
    except TypeError as exc:
        raise ConfigError(f"{cls.__name__}: {exc}") from None


def _refusal(name: str, pooled: bool) -> str:
    """Why the option of ``name`` does not fit the kind of model chosen, and what does."""
    option = "--" + name.replace("_", "-")
    if not pooled:
        return f"{option} is a setting of pooled models: add --pooled (one model across a universe)"
    if name in POOLED_RENAMED:
        return (f"{option} is a per-stock setting; pooled models count market days: give "
                f"--{POOLED_RENAMED[name].replace('_', '-')} instead")
    return f"{option} is a setting of per-stock models; pooled models (--pooled) have none"
