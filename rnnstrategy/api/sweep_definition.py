"""A sweep definition: a grid (or list) of forecaster and strategy settings over one or more stocks, or universes.

A sweep definition is a run definition (the tables of ``rnnstrategy run``, see
:mod:`rnnstrategy.config`) plus a ``[sweep]`` table::

    [sweep]
    sources = ["SH600519.csv", "SZ000001.csv"]   # optional; default: the [data] source

    [sweep.forecast]             # forecaster field -> values (a grid)
    cell = ["gru", "lstm"]

    [sweep.params]               # strategy parameter -> values (a grid)
    entry_threshold = [0.001, 0.002]

or, instead of the two grids, explicit combinations, each of which may name its own strategy (the
``[backtest.params]`` apply to every one, so give a strategy's own parameters in its entry)::

    [[sweep.list]]
    forecast = {cell = "gru"}
    params = {entry_threshold = 0.001}

A universe is a ``[data]`` source like any other (a folder of CSVs, a qlib directory with ``universe =
"csi300"``, a list of sources), traded by strategies that rank it (``top_k`` and its ``k``, ``max_turnover``,
...); each forecaster configuration is trained once and its strategy variants trade its forecasts (see
:mod:`rnnstrategy.api.sweep_forecasts`); ``backtests/csi300_portfolio_sweep.toml`` is an example.

:func:`load_sweep` reads it into a :class:`SweepSpec`; :func:`expand` lists every configuration with its
folder name. :func:`rnnstrategy.api.sweeps.sweep` runs them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnstrategy.config import BacktestSpec, RunConfig, tomllib
from rnnstrategy.errors import ConfigError, SymbolError
from rnnstrategy.forecasting.config_dict import forecast_config_class

__all__ = ["SweepSpec", "expand", "load_sweep"]

SWEEP_KEYS = ("forecast", "params", "sources", "list")
"""The settings of a ``[sweep]`` table."""
LIST_KEYS = ("forecast", "params", "source", "strategy")
"""The settings of one ``[[sweep.list]]`` entry."""
MAX_NAME = 80
"""Folder names longer than this are cut and end in a short hash of the whole name."""


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: the run tables every configuration starts from, and what varies.

    Attributes:
        tables: the run definition's tables (``data``, ``forecast``, ``backtest``, ...), as read.
        forecast: forecaster field (of ForecastConfig, or PooledConfig with pooled = true) -> the values to try.
        params: strategy parameter -> the values to try (a grid).
        sources: the stocks (CSV paths or symbols); empty: the ``[data]`` source.
        runs: explicit combinations (``{"forecast": {...}, "params": {...}, "source": ...}``),
            used instead of the grids.
        base: where relative paths are looked up first (the TOML file's folder).
    """

    tables: Mapping[str, Any]
    forecast: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    params: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    runs: tuple[Mapping[str, Any], ...] = ()
    base: Path | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base: str | Path | None = None) -> SweepSpec:
        """Build from the TOML tables of a sweep definition (run tables plus ``[sweep]``).

        Raises:
            ConfigError: for an unknown key, an empty list of values, grids and a list together,
                or a run table that :meth:`RunConfig.from_dict` refuses.
        """
        values = dict(values)
        sweep = values.pop("sweep", None)
        if not isinstance(sweep, Mapping):
            raise ConfigError("no [sweep] table: add [sweep.forecast] and/or [sweep.params] with lists of values "
                              "to try, e.g. cell = [\"gru\", \"lstm\"]")
        _check_keys("[sweep]", sweep, SWEEP_KEYS)
        base_forecast = values.get("forecast", {})
        forecaster = forecast_config_class(base_forecast if isinstance(base_forecast, Mapping) else {})
        forecast = _grid("[sweep.forecast]", sweep.get("forecast", {}),
                         [f.name for f in dataclasses.fields(forecaster)])
        params = _grid("[sweep.params]", sweep.get("params", {}), None)
        sources = sweep.get("sources", [])
        if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
            raise ConfigError(f"[sweep] sources = {sources!r}: give a list of CSV paths or symbols, e.g. "
                              "sources = [\"600519\", \"000001\"]")
        runs = sweep.get("list", [])
        if not isinstance(runs, list) or not all(isinstance(r, Mapping) for r in runs):
            raise ConfigError("[[sweep.list]] entries must be tables, e.g. forecast = {cell = \"gru\"}, "
                              "params = {entry_threshold = 0.002}")
        for entry in runs:
            _check_keys("[[sweep.list]]", entry, LIST_KEYS)
            for table in ("forecast", "params"):
                if not isinstance(entry.get(table, {}), Mapping):
                    raise ConfigError(f"[[sweep.list]] {table} = {entry[table]!r} must be a table, e.g. {{cell = \"gru\"}}")
            if not isinstance(entry.get("strategy", "top_k"), str) or not entry.get("strategy", "top_k"):
                raise ConfigError(f"[[sweep.list]] strategy = {entry['strategy']!r}: give a strategy's name, e.g. "
                                  "strategy = \"top_k\"")
        if runs and (forecast or params):
            raise ConfigError("[[sweep.list]] gives explicit combinations instead of a grid: remove "
                              "[sweep.forecast] and [sweep.params], or the list")
        spec = cls(tables=values, forecast=forecast, params=params, sources=tuple(sources),
                   runs=tuple(dict(r) for r in runs), base=None if base is None else Path(base))
        RunConfig.from_dict(_with_source(values, sources[0]) if sources else values, base=base)  # the base is valid
        return spec


def _check_keys(where: str, table: Mapping[str, Any], valid: Sequence[str]) -> None:
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ConfigError(f"{where} has no setting(s) {', '.join(unknown)}; valid: {', '.join(valid)}")


def _grid(where: str, table: Any, valid: Sequence[str] | None) -> dict[str, tuple[Any, ...]]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of setting = [values], got {table!r}")
    if valid is not None:
        _check_keys(where, table, valid)
    grid = {}
    for key, options in table.items():
        if not isinstance(options, list) or not options:
            raise ConfigError(f"{where} {key} = {options!r}: give a non-empty list of values to try, "
                              f"e.g. {key} = [{options!r}]")
        grid[key] = tuple(options)
    return grid


def load_sweep(path: str | Path) -> SweepSpec:
    """Read a sweep definition from a TOML file (see the module docstring).

    Raises:
        ConfigError: naming the file when it is missing, not TOML, or has a bad setting.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; give a TOML sweep definition such as backtests/moutai_sweep.toml")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return SweepSpec.from_dict(values, base=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _with_source(tables: Mapping[str, Any], source: str) -> dict[str, Any]:
    return {**tables, "data": {**tables.get("data", {}), "source": source}}


def _combinations(spec: SweepSpec) -> list[tuple[dict[str, Any], dict[str, Any], str | None, str]]:
    """(forecast settings, strategy parameters, source or None, strategy) of every configuration."""
    strategy = spec.tables.get("backtest", {}).get("strategy", BacktestSpec.strategy)
    if spec.runs:
        return [(dict(r.get("forecast", {})), dict(r.get("params", {})), r.get("source"), r.get("strategy", strategy))
                for r in spec.runs]
    forecasts = [dict(zip(spec.forecast, combo)) for combo in itertools.product(*spec.forecast.values())]
    params = [dict(zip(spec.params, combo)) for combo in itertools.product(*spec.params.values())]
    return [(f, p, None, strategy) for f in forecasts for p in params]


def expand(spec: SweepSpec) -> list[tuple[str, RunConfig]]:
    """Every configuration of the sweep with its folder name, sources outermost, then the
    forecaster settings, then the strategy parameters (so a forecaster's variants are adjacent).

    Names hold the stock (or the universe's folder) and the settings that vary, e.g.
    ``600519.SH-cell=lstm-hidden=16-entry_threshold=0.002``, with the strategy's name when the
    ``[[sweep.list]]`` entries name several (``qlib_csi300-top_k-k=30``); a long one is cut and ends
    in a short hash.

    Raises:
        ConfigError: for a setting :meth:`RunConfig.from_dict` refuses (unknown key, wrong type).
    """
    combos = _combinations(spec)
    default_source = spec.tables.get("data", {}).get("source")
    sources = list(spec.sources) or [default_source]
    varied = _varied_keys(combos)
    strategies_vary = len({combo[3] for combo in combos}) > 1
    configs: list[tuple[str, RunConfig]] = []
    for source in sources:
        for forecast, params, own_source, strategy in combos:
            source_here = own_source or source
            tables = _with_source(spec.tables, source_here)
            tables["forecast"] = {**spec.tables.get("forecast", {}), **forecast}
            backtest = dict(spec.tables.get("backtest", {}))
            backtest["params"] = {**backtest.get("params", {}), **params}
            tables["backtest"] = {**backtest, "strategy": strategy}
            where = f"{_source_label(source_here)} {strategy} {forecast} {params}"
            try:
                config = RunConfig.from_dict(tables, base=spec.base)
            except ConfigError as exc:
                raise ConfigError(f"sweep configuration {where}: {exc}") from None
            parts = [*(f"{k}={_value_text(forecast[k])}" for k in varied[0] if k in forecast),
                     *([strategy] if strategies_vary else []),
                     *(f"{k}={_value_text(params[k])}" for k in varied[1] if k in params)]
            configs.append((_name(_source_label(source_here), parts), config))
    names = [name for name, _ in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"the sweep repeats configuration(s) {', '.join(duplicates)}; list each one once")
    return configs


def _varied_keys(combos: Sequence[tuple[dict, dict, Any, str]]) -> tuple[list[str], list[str]]:
    """The forecast and parameter keys whose values differ between configurations (in first-seen order)."""
    varied: tuple[list[str], list[str]] = ([], [])
    for part in (0, 1):
        keys = dict.fromkeys(k for combo in combos for k in combo[part])
        for key in keys:
            if len({json.dumps(combo[part].get(key), sort_keys=True) for combo in combos}) > 1:
                varied[part].append(key)
    return varied


def _source_label(source: str | Sequence[str]) -> str:
    """``600519.SH`` for ``SH600519.csv`` or ``600519``; ``3_sources`` for a universe given as a list; else the file
    or folder name without suffix (``qlib_csi300``)."""
    if isinstance(source, (list, tuple)):
        return _source_label(source[0]) if len(source) == 1 else f"{len(source)}_sources"
    stem = Path(source).stem
    try:
        from rnnstrategy.ashare.symbols import symbol_info

        return symbol_info(stem).ts_code
    except SymbolError:
        return stem


def _value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "_".join(_value_text(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _name(label: str, parts: Sequence[str]) -> str:
    name = "-".join([label, *parts])
    name = re.sub(r"[^A-Za-z0-9._=+-]", "_", name)
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        name = f"{name[:MAX_NAME - 9]}-{digest}"
    return name
