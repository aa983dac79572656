"""A backtest definition as typed dataclasses, read from a TOML file (``rnnstrategy run``).

One file describes one reproducible research setup; each table maps onto one dataclass and
an unknown table or key is an error, never ignored::

    [data]                       # DataSpec: what is traded
    source = "../../shared/data/SH600519.csv"   # CSV path or symbol ("600519")
    adjust = "qfq"

    [benchmark]                  # BenchmarkSpec: what it is compared with
    source = "../../shared/data/index/sh000300.csv"   # omit for buy-and-hold of the stock

    [forecast]                   # rnnstrategy.forecasting.config.ForecastConfig; with pooled = true,
    cell = "lstm"                # rnnstrategy.forecasting.pooled.config.PooledConfig
    hidden = [32]

    [backtest]                   # BacktestSpec: strategy, execution, cash, window
    strategy = "forecast_long"
    execution = "next_open"
    cash = 1_000_000

    [backtest.params]            # the strategy's own parameters
    entry_threshold = 0.001

    [rules]                      # rnnstrategy.ashare.rules.AShareRules: the broker rules
    price_limits = true
    st = ["600666.SH"]

The command-line options of ``rnnstrategy backtest`` are derived from the same dataclass fields
(:mod:`rnnstrategy.cli.options`), so every setting has one name, type, default and help.

Relative paths are looked up beside the TOML file first, then as given (relative to the
current directory, or a symbol), so a file in ``backtests/`` works from anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.errors import ConfigError
from rnnstrategy.files import check_path_length
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.config_dict import forecast_table
from rnnstrategy.forecasting.pooled.config import PooledConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package
    import tomli as tomllib

__all__ = ["BacktestSpec", "BenchmarkSpec", "DataSpec", "RunConfig", "date_text", "load_run_config", "merge_params",
           "setting"]


def setting(default: object = dataclasses.MISSING, help: str = "", **metadata: object) -> Any:
    """A dataclass field with its command-line help (and flag, when not ``--<name>``) in its metadata."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **metadata})
    return field(default=default, metadata={"help": help, **metadata})


@dataclass(frozen=True)
class DataSpec:
    """The traded security."""

    source: str | tuple[str, ...] = setting(
        help="CSV path or 6-digit symbol (akshare, cached) of the traded stock; a folder of CSVs or several paths "
             "or symbols for a universe (traded with --strategy top_k)", positional="DATA", nargs="*")
    adjust: Literal["", "qfq", "hfq"] = setting("qfq", "price adjustment of a symbol download "
                                                        "('' raw, qfq forward, hfq backward)")
    name: str | None = setting(None, "the stock's name in titles (default: looked up in --names)")
    names: str | None = setting(None, "stock list with ts_code and name columns (tushare stock_basic); default: "
                                      "$RNNSTRATEGY_NAMES, else a basic_stock_data.csv in DATA's folder or one below")
    strict: bool = setting(True, "fail on a bar that fails validation (default); --lenient drops such bars "
                                 "instead, each listed in a warning and in manifest.json", flag="--strict",
                           negative="--lenient")
    universe: str | None = setting(None, "trade the universe DATA holds as it stood: an index's members of each day "
                                         "(csi300: from DATA/instruments/csi300.txt, else the index-constitution "
                                         "package), a CSV of spells (symbol,first,last), or all (every stock of DATA); "
                                         "default: every stock of DATA, with no membership", metavar="NAME|all|FILE")
    members_only_training: bool = setting(False, "with --universe NAME, a pooled model learns only from the rows of "
                                                 "a stock's member days (default: from every stock with bars)")

    def __post_init__(self) -> None:
        if isinstance(self.source, list):  # a TOML list of paths or symbols: a universe
            object.__setattr__(self, "source", tuple(self.source))
        if isinstance(self.source, tuple) and len(self.source) == 1:
            object.__setattr__(self, "source", self.source[0])
        if self.members_only_training and self.universe in (None, "all"):
            raise ConfigError("members_only_training needs an index as the universe (--universe csi300, or a CSV of "
                              "spells): without membership every stock is a member")


@dataclass(frozen=True)
class BenchmarkSpec:
    """The benchmark: an index or stock (CSV path or symbol); buy-and-hold of the traded stock
    is always reported too, and is the benchmark when ``source`` is None."""

    source: str | None = setting(None, "benchmark bars: CSV path or symbol, e.g. sh000300; default: buy-and-hold "
                                       "of the traded stock", flag="--benchmark", metavar="DATA")
    title: str | None = setting(None, "benchmark name in the report (default: the index name)",
                                flag="--benchmark-title")


@dataclass(frozen=True)
class BacktestSpec:
    """How the forecasts are traded: general run settings only.

    ``start`` and ``end`` are the first and last forecast dates, which is the backtest window
    (training uses earlier bars); ``params`` are the strategy's own parameters (``{"k": 10}``), which
    the strategy names, explains and checks (:meth:`~rnnstrategy.backtrader.strategy.ForecastStrategy.check_params`).
    """

    strategy: str = setting("forecast_long", "a strategy of rnnstrategy.strategies (forecast_long, overnight_gap, "
                                              "top_k) or a dotted path to your own ForecastStrategy subclass, e.g. "
                                              "mypackage.mymodule.MyStrategy")
    execution: Literal["next_open", "close"] | None = setting(
        None, "orders fill at the next open, or at this close (cheat-on-close); default: the strategy's own")
    cash: float = setting(1_000_000.0, "starting cash, CNY")
    start: str | None = setting(None, "first forecast and trading date, YYYY-MM-DD (training uses earlier bars)")
    end: str | None = setting(None, "last forecast and trading date, YYYY-MM-DD")
    forecasts: str | None = setting(None, "reuse these forecasts (forecasts.csv of an earlier run) instead of "
                                          "training; the forecaster settings are then ignored", metavar="CSV")
    params: dict[str, Any] = setting({}, "a strategy parameter, KEY=VALUE (repeat for several), e.g. "
                                         "entry_threshold=0.002", flag="--param")
    trials: int = setting(1, "configurations tried before choosing this one; > 1 deflates the Sharpe ratio")
    keep_leavers: bool = setting(False, "with --universe, a held stock that leaves the index is kept until the "
                                        "strategy's own exit rule (default: sold at the next open)")

    def __post_init__(self) -> None:
        if not self.cash > 0 or self.cash == float("inf"):
            raise ConfigError(f"cash={self.cash!r}: give the starting cash in CNY, e.g. 1000000")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise ConfigError(f"trials={self.trials!r}: give the number of configurations tried, a whole number "
                              ">= 1 (1: this one only)")
        dates = {}
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                try:
                    dates[name] = dt.date.fromisoformat(str(value)[:10])
                except ValueError:
                    raise ConfigError(f"{name}={value!r}: give a date as YYYY-MM-DD, e.g. 2019-01-02") from None
        if len(dates) == 2 and dates["start"] > dates["end"]:
            raise ConfigError(f"start={self.start} is after end={self.end}: give a start on or before the end")


def merge_params(params: Mapping[str, Any] | None, keywords: Mapping[str, Any]) -> dict[str, Any]:
    """A strategy's parameters given as a mapping and as keywords (``params={"k": 10}`` and ``k=10``; on the
    command line ``--param k=10`` and ``--k 10``), for the strategy to check; a keyword given None is left out
    (the strategy's default).

    Raises:
        ConfigError: for a parameter given both ways with two values.
    """
    merged = dict(params or {})
    for name, value in keywords.items():
        if value is None:
            continue
        if name in merged and merged[name] != value:
            raise ConfigError(f"{name} is given twice, {merged[name]!r} and {value!r}: keep one")
        merged[name] = value
    return merged


@dataclass(frozen=True)
class RunConfig:
    """A whole backtest: data, benchmark, forecaster, strategy and A-share rules (one TOML
    table each: ``[data] [benchmark] [forecast] [backtest] [rules]``)."""

    data: DataSpec
    forecast: ForecastConfig | PooledConfig = field(default_factory=ForecastConfig)
    backtest: BacktestSpec = field(default_factory=BacktestSpec)
    benchmark: BenchmarkSpec = field(default_factory=BenchmarkSpec)
    rules: AShareRules = field(default_factory=AShareRules)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base: str | Path | None = None, *,
                  recorded: bool = False) -> RunConfig:
        """Build from nested mappings (the TOML tables); relative paths are looked up in ``base`` first.
        ``[forecast]`` is a :class:`ForecastConfig`, or with ``pooled = true`` a :class:`PooledConfig`;
        ``recorded``: the tables a run recorded (its manifest), whose forecaster of an older version is read
        as it was meant (:func:`~rnnstrategy.forecasting.config_dict.forecast_table`).

        Raises:
            ConfigError: for an unknown table or key, a value of the wrong type, or no ``[data]``.
        """
        tables = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(tables))
        if unknown:
            raise ConfigError(f"unknown table(s) [{'], ['.join(unknown)}]; valid: [{'], ['.join(tables)}]")
        if "data" not in values or "source" not in values["data"]:
            raise ConfigError("[data] source is missing: name the bars to trade, e.g. source = \"600519\"")
        built = {}
        for name, spec in TABLES.items():
            table = values.get(name, {})
            if not isinstance(table, Mapping):
                raise ConfigError(f"[{name}] must be a table of settings, got {table!r}")
            if name == "forecast":
                spec, table = _forecast_table(table, recorded)
            _check_types(spec, table, name)
            try:
                built[name] = spec(**_resolve_paths(name, table, base))
            except TypeError as exc:  # a dataclass rejecting its arguments
                raise ConfigError(f"[{name}]: {exc}") from None
        return cls(**built)

    def to_dict(self) -> dict[str, Any]:
        """The nested mapping :meth:`from_dict` reads (for the manifest; None where unset)."""
        return {name: self.forecast.to_dict() if name == "forecast" else dataclasses.asdict(getattr(self, name))
                for name in TABLES}


TABLES: dict[str, type] = {"data": DataSpec, "benchmark": BenchmarkSpec, "forecast": ForecastConfig,
                           "backtest": BacktestSpec, "rules": AShareRules}
"""The tables of a run definition and the dataclass each maps onto (``[forecast]`` with ``pooled = true``:
:class:`PooledConfig`)."""

_PATH_KEYS = {"data": ("source", "names", "universe"), "benchmark": ("source",), "backtest": ("forecasts",),
              "forecast": ("market",), "rules": ("securities_file",)}


def _forecast_table(table: Mapping[str, Any], recorded: bool) -> tuple[type, dict[str, Any]]:
    try:
        return forecast_table(table, recorded=recorded)
    except ConfigError as exc:
        raise ConfigError(f"[forecast] {exc}") from None


def _resolve_paths(table_name: str, table: Mapping[str, Any], base: str | Path | None) -> dict[str, Any]:
    values = dict(table)
    if base is None:
        return values
    for key in _PATH_KEYS.get(table_name, ()):
        value = values.get(key)
        if isinstance(value, (list, tuple)):  # a universe: several paths or symbols
            values[key] = [_resolve_path(v, base) if isinstance(v, str) else v for v in value]
        elif isinstance(value, str):
            values[key] = _resolve_path(value, base)
    return values


def _resolve_path(value: str, base: str | Path) -> str:
    return str((Path(base) / value).resolve()) if value and (Path(base) / value).exists() else value


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
            where = "; a strategy's own parameter goes in [backtest.params]" if table_name == "backtest" else ""
            raise ConfigError(f"[{table_name}] has no setting {key!r}; valid: {', '.join(known)}{where}")
        if not _matches(value, hints[key]):
            hint = hints[key]
            plain = typing.get_origin(hint) is None and isinstance(hint, type)
            expected = hint.__name__ if plain else str(hint).replace("typing.", "")
            raise ConfigError(f"[{table_name}] {key} = {value!r} has the wrong type; expected {expected}")


def _manifest_config(path: Path) -> tuple[dict[str, Any], Path]:
    """The configuration recorded in a run's ``manifest.json``, and the directory it ran in."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(manifest, dict) and "paper" in manifest and "config" not in manifest:
            raise ConfigError(f"{path} is the report of a paper account, not a run to replay: redraw it with "
                              "`rnnstrategy report DIR`, or write it again with `rnnstrategy paper report`")
        if isinstance(manifest, dict) and manifest.get("kind") == "forecast" and "config" not in manifest:
            raise ConfigError(f"{path} is the manifest of a forecast run, not of a backtest: `rnnstrategy run` "
                              "replays backtests; repeat the forecast with the command it records under 'command'")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
            what = "a JSON object" if isinstance(manifest, dict) else f"a JSON {type(manifest).__name__}"
            raise TypeError(f"{what} without a 'config' object")
        config, cwd = dict(manifest["config"]), Path(manifest.get("cwd") or path.parent)
    except ConfigError:  # a ValueError too: it says what the file is already
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a run manifest with a 'config' ({exc}): give the manifest.json of a "
                          "finished backtest, or a TOML definition") from None
    return _strategy_settings_into_params(config), cwd


def _strategy_settings_into_params(config: dict[str, Any]) -> dict[str, Any]:
    """A manifest written before the strategies owned their parameters records them as settings of
    ``[backtest]`` (``"k": 10``, ``"exit_rank": null``, ...): they are the strategy's ``params`` now, so the
    ones that were set move there (the strategy checks them) and the unset ones go."""
    backtest = config.get("backtest")
    if not isinstance(backtest, Mapping):
        return config
    known = {spec_field.name for spec_field in dataclasses.fields(BacktestSpec)}
    moved = {key: value for key, value in backtest.items() if key not in known and value is not None}
    kept = {key: value for key, value in backtest.items() if key in known}
    if len(kept) == len(backtest):
        return config
    return {**config, "backtest": {**kept, "params": {**(kept.get("params") or {}), **moved}}}


def date_text(name: str, value: object) -> str | None:
    """``start``/``end`` given to the API as YYYY-MM-DD; one that is no date fails in one line before any work."""
    import pandas as pd  # not at import: the command line starts without pandas

    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise ConfigError(f"{name}={value!r} is not a date; write it like 2020-04-24 (CLI: --{name} 2020-04-24)")
    return f"{stamp:%Y-%m-%d}"


def load_run_config(path: str | Path) -> RunConfig:
    """Read a backtest definition from a TOML file (see the module docstring), or the
    configuration a run recorded in its ``manifest.json`` (to reproduce the run; its relative
    paths are looked up in the directory the run was started from).

    Raises:
        ConfigError: naming the file when it is missing, not TOML, or has a bad setting.
    """
    path = Path(path)
    check_path_length(path, "the run definition")
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
        return RunConfig.from_dict(values, base=base, recorded=path.suffix == ".json")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
