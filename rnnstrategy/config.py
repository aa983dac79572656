"""A backtest definition as typed dataclasses, read from a TOML file (``rnnstrategy run``).

One file describes one reproducible research setup; each table maps onto one dataclass and
an unknown table or key is an error, never ignored::

    [data]                       # DataSpec: what is traded
    source = "../../shared/data/SH600519.csv"   # CSV path or symbol ("600519")
    adjust = "qfq"

    [benchmark]                  # BenchmarkSpec: what it is compared with
    source = "../../shared/data/index/sh000300.csv"   # omit for buy-and-hold of the stock

    [forecast]                   # rnnstrategy.forecasting.walkforward.ForecastConfig
    cell = "lstm"
    hidden = [32]

    [backtest]                   # BacktestSpec: strategy, execution, cash, window
    strategy = "forecast_long"
    execution = "next_open"
    cash = 1_000_000

    [backtest.params]            # the strategy's own parameters
    entry = 0.001

Relative paths are looked up beside the TOML file first, then as given (relative to the
current directory, or a symbol), so a file in ``backtests/`` works from anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package
    import tomli as tomllib

__all__ = ["BacktestSpec", "BenchmarkSpec", "DataSpec", "RunConfig", "load_run_config"]


@dataclass(frozen=True)
class DataSpec:
    """The traded security.

    Attributes:
        source: CSV path (any supported format) or symbol such as ``"600519"`` (akshare, cached).
        adjust: price adjustment: ``"qfq"`` (default), ``"hfq"`` or ``""`` raw.
        name: the security's name for titles (default: looked up in ``names``).
        names: a stock list CSV (``ts_code,name``) to look names up in (default:
            ``$RNNSTRATEGY_NAMES``, or a ``basic_stock_data.csv`` beside the data file).
    """

    source: str
    adjust: str = "qfq"
    name: str | None = None
    names: str | None = None


@dataclass(frozen=True)
class BenchmarkSpec:
    """The benchmark: an index or stock (CSV path or symbol), or buy-and-hold when ``source`` is None.

    Attributes:
        source: CSV path or symbol (``"sh000300"``); None compares with buy-and-hold of the
            traded security.
        title: its name in the report (default: the index name, e.g. ``"CSI 300"``).
    """

    source: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class BacktestSpec:
    """How the forecasts are traded.

    Attributes:
        strategy: a strategy in ``strategies/`` (``"forecast_long"``) or a dotted path to a
            ``bt.Strategy`` subclass (``"mypackage.mymodule.MyStrategy"``).
        execution: ``"next_open"`` (orders fill at the next open) or ``"close"`` (cheat-on-close);
            None keeps the strategy's default (``next_open`` for ``forecast_long``).
        cash: starting cash, CNY.
        start, end: first and last forecast date, which is the backtest window (training
            uses earlier bars); None for all bars that can be forecast.
        forecasts: a forecast CSV to reuse instead of training (``forecasts.csv`` of a run).
        params: the strategy's parameters.
    """

    strategy: str = "forecast_long"
    execution: str | None = None
    cash: float = 1_000_000.0
    start: str | None = None
    end: str | None = None
    forecasts: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.cash > 0:
            raise ConfigError(f"cash={self.cash!r}: give the starting cash in CNY, e.g. 1000000")


@dataclass(frozen=True)
class RunConfig:
    """A whole backtest: data, benchmark, forecaster and strategy."""

    data: DataSpec
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    backtest: BacktestSpec = field(default_factory=BacktestSpec)
    benchmark: BenchmarkSpec = field(default_factory=BenchmarkSpec)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base: str | Path | None = None) -> RunConfig:
        """Build from nested mappings (the TOML tables); relative paths are looked up in ``base`` first.

        Raises:
            ConfigError: for an unknown table or key, a value of the wrong type, or no ``[data]``.
        """
        tables = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(tables))
        if unknown:
            raise ConfigError(f"unknown table(s) [{'], ['.join(unknown)}]; valid: [{'], ['.join(tables)}]")
        if "data" not in values or "source" not in values["data"]:
            raise ConfigError("[data] source is missing: name the bars to trade, e.g. source = \"600519\"")
        specs = {"data": DataSpec, "forecast": ForecastConfig, "backtest": BacktestSpec, "benchmark": BenchmarkSpec}
        built = {}
        for name, spec in specs.items():
            table = values.get(name, {})
            if not isinstance(table, Mapping):
                raise ConfigError(f"[{name}] must be a table of settings, got {table!r}")
            _check_types(spec, table, name)
            built[name] = spec(**_resolve_paths(name, table, base))
        return cls(**built)

    def to_dict(self) -> dict[str, Any]:
        """The nested mapping :meth:`from_dict` reads (for the manifest; None where unset)."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in ("data", "benchmark", "forecast", "backtest")}


_PATH_KEYS = {"data": ("source", "names"), "benchmark": ("source",), "backtest": ("forecasts",)}


def _resolve_paths(table_name: str, table: Mapping[str, Any], base: str | Path | None) -> dict[str, Any]:
    values = dict(table)
    if base is None:
        return values
    for key in _PATH_KEYS.get(table_name, ()):
        value = values.get(key)
        if isinstance(value, str) and value and (Path(base) / value).exists():
            values[key] = str((Path(base) / value).resolve())
    return values


def _matches(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a dataclass field's type hint (ints count as floats)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin in (tuple, list):
        args = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, Mapping)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _check_types(spec: type, table: Mapping[str, Any], table_name: str) -> None:
    hints = typing.get_type_hints(spec)
    known = [f.name for f in dataclasses.fields(spec)]
    for key, value in table.items():
        if key not in hints:
            raise ConfigError(f"[{table_name}] has no setting {key!r}; valid: {', '.join(known)}")
        if not _matches(value, hints[key]):
            hint = hints[key]
            plain = typing.get_origin(hint) is None and isinstance(hint, type)
            expected = hint.__name__ if plain else str(hint).replace("typing.", "")
            raise ConfigError(f"[{table_name}] {key} = {value!r} has the wrong type; expected {expected}")


def _manifest_config(path: Path) -> tuple[dict[str, Any], Path]:
    """The configuration recorded in a run's ``manifest.json``, and the directory it ran in."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        return dict(manifest["config"]), Path(manifest.get("cwd") or path.parent)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a run manifest with a 'config' ({exc!r})") from None


def load_run_config(path: str | Path) -> RunConfig:
    """Read a backtest definition from a TOML file (see the module docstring), or the
    configuration a run recorded in its ``manifest.json`` (to reproduce the run; its relative
    paths are looked up in the directory the run was started from).

    Raises:
        ConfigError: naming the file when it is missing, not TOML, or has a bad setting.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; give a TOML backtest definition such as backtests/moutai_lstm.toml")
    if path.suffix == ".json":
        values, base = _manifest_config(path)
    else:
        base = path.resolve().parent
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return RunConfig.from_dict(values, base=base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except TypeError as exc:  # a dataclass rejecting its arguments
        raise ConfigError(f"{path}: {exc}") from None
