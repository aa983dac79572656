"""What a signal decides with: the options of :func:`~rnnstrategy.api.signals.signal`, or those of a run
definition (a :class:`~rnnstrategy.config.RunConfig`, a TOML file, a finished run's ``manifest.json``)
reconciled with the options given beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.config import BacktestSpec, RunConfig
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.pooled.config import PooledConfig

__all__ = ["SignalOptions", "defined_options"]

_SPEC = BacktestSpec()


@dataclass(frozen=True, eq=False)
class SignalOptions:
    """The options of a signal that a run definition can define (see :func:`~rnnstrategy.api.signals.signal`)."""

    data: Any = None
    cash: float | None = None
    strategy: str = _SPEC.strategy
    params: dict[str, Any] = field(default_factory=dict)
    forecast: ForecastConfig | PooledConfig | None = None
    forecasts: str | Path | pd.DataFrame | None = None
    rules: AShareRules | None = None
    start: str | None = _SPEC.start
    adjust: str = "qfq"
    strict: bool = True
    universe: str | None = None
    members_only_training: bool = False
    keep_leavers: bool = False

    def given(self) -> list[str]:
        """The options given, that is, not at their defaults (``data`` and ``cash`` aside), in signature order."""
        given = {"strategy": self.strategy != _SPEC.strategy, "params": bool(self.params),
                 "forecast": self.forecast is not None, "forecasts": self.forecasts is not None,
                 "rules": self.rules is not None, "start": self.start != _SPEC.start, "adjust": self.adjust != "qfq",
                 "strict": self.strict is not True, "universe": self.universe is not None,
                 "members_only_training": self.members_only_training, "keep_leavers": self.keep_leavers}
        return [name for name, was_given in given.items() if was_given]


def defined_options(config: str | Path | RunConfig, options: SignalOptions, has_positions: bool) -> SignalOptions:
    """The options ``config`` defines: its data (unless ``options`` give data), forecaster, strategy, parameters,
    start, reused forecasts and rules, and its cash when there are neither positions nor cash given.

    Raises:
        ConfigError: an option given beside the definition that defines it, or a definition that does not
            execute at the next open (a signal is decided after the close for the next session's open).
    """
    from rnnstrategy.config import load_run_config

    defined = config if isinstance(config, RunConfig) else load_run_config(config)
    clash = options.given()
    if clash:
        raise ConfigError(f"{', '.join(clash)} given beside config={str(config)!r}, which defines them: edit the "
                          "definition, or leave config out and give every option")
    spec = defined.backtest
    if spec.execution not in (None, "next_open"):
        raise ConfigError(f"config={str(config)!r} executes at the {spec.execution}: a signal is decided after the "
                          "close for the next session's open; only execution = \"next_open\" can be traded")
    cash = spec.cash if not has_positions and options.cash is None else options.cash
    return SignalOptions(
        data=options.data if options.data is not None else defined.data.source, cash=cash, strategy=spec.strategy,
        params=spec.params, forecast=defined.forecast, forecasts=spec.forecasts, rules=defined.rules,
        start=spec.start, adjust=defined.data.adjust, strict=defined.data.strict, universe=defined.data.universe,
        members_only_training=defined.data.members_only_training, keep_leavers=spec.keep_leavers)
