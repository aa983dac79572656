"""The strategy registry: the ready strategies by name, and any strategy class by dotted path.

Usage::

    strategy_names()                          # ["forecast_long", "overnight_gap", "top_k"]
    load_strategy("top_k")                    # rnnstrategy.strategies.top_k.TopK
    load_strategy("mypackage.mymodule.MyStrategy")
    ready_parameters()["k"]                   # [("top_k", Param("k", 5, int, "positions to hold at most"))]

The ready strategies are the modules of the ``strategies`` package (installed as
``rnnstrategy.strategies``), one strategy class each.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any

import backtrader as bt

from rnnstrategy.backtrader.strategy import ForecastStrategy, Param
from rnnstrategy.errors import ConfigError

__all__ = ["STRATEGY_PACKAGE", "load_strategy", "ready_parameters", "strategy_names"]

STRATEGY_PACKAGE = "rnnstrategy.strategies"


def strategy_names() -> list[str]:
    """The ready strategies: module names in the ``strategies`` package."""
    package = importlib.import_module(STRATEGY_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def _import(module: str) -> Any:
    """Import ``module``, with the current directory on the path (the user's own strategies)."""
    added = os.getcwd() not in sys.path
    if added:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(module)
    finally:
        if added:
            sys.path.remove(os.getcwd())


def _strategy_of(module: Any) -> Any:
    """The one strategy class of a module: the single name of its ``__all__``, else the single
    :class:`ForecastStrategy` subclass it defines."""
    exported = getattr(module, "__all__", None)
    if exported and len(exported) == 1:
        return getattr(module, exported[0])
    defined = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, bt.Strategy)
               and v.__module__ == module.__name__]
    if len(defined) != 1:
        found = ", ".join(v.__name__ for v in defined) or "none"
        raise ConfigError(f"module {module.__name__} must define exactly one strategy class, found {found}; "
                          f"name the class: {module.__name__}.ClassName")
    return defined[0]


def load_strategy(name: str) -> type[ForecastStrategy]:
    """The strategy class ``name`` stands for.

    Args:
        name: a module of the ``strategies`` package (``"forecast_long"``), or a dotted path
            to a class (``"mypackage.mymodule.MyStrategy"`` or ``"mypackage.mymodule:MyStrategy"``)
            or to a module defining one strategy; the current directory is searched too.

    Raises:
        ConfigError: when nothing importable has that name, or it is not a
            :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy` subclass.
    """
    name = name.strip()
    available = ", ".join(strategy_names())
    if "." not in name and ":" not in name:
        try:
            found = _strategy_of(importlib.import_module(f"{STRATEGY_PACKAGE}.{name}"))
        except ModuleNotFoundError:
            raise ConfigError(f"strategy {name!r} is not one of the ready strategies ({available}); "
                              "or give a dotted path such as mypackage.mymodule.MyStrategy") from None
    else:
        module_name, _, attr = name.replace(":", ".").rpartition(".")
        try:
            found = getattr(_import(module_name), attr) if module_name else None
        except (ModuleNotFoundError, AttributeError):
            found = None
        if found is None or not isinstance(found, type):
            try:
                found = _strategy_of(_import(name.replace(":", ".")))
            except ModuleNotFoundError:
                raise ConfigError(f"strategy {name!r}: no such module or class (searched the Python path and "
                                  f"{os.getcwd()}); ready strategies: {available}") from None
    if not (isinstance(found, type) and issubclass(found, ForecastStrategy)):
        raise ConfigError(f"strategy {name!r} is {found!r}, not a subclass of rnnstrategy.backtrader.strategy.ForecastStrategy "
                          "(which gives it the RNNForecast signals)")
    return found


def ready_parameters() -> dict[str, list[tuple[str, Param]]]:
    """The parameters the ready strategies declare themselves (not those every strategy has, such as
    ``target``), by name, each with the strategies that take it, in their order of declaration."""
    common = ForecastStrategy.parameters()
    found: dict[str, list[tuple[str, Param]]] = {}
    for name in strategy_names():
        for key, param in load_strategy(name).parameters().items():
            if key not in common:
                found.setdefault(key, []).append((name, param))
    return found
