"""Exceptions raised for bad input. Each message names the input and the fix."""

from __future__ import annotations

__all__ = ["RnnStrategyError", "DataError", "SymbolError", "FetchError", "ConfigError"]


class RnnStrategyError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(RnnStrategyError, ValueError):
    """Bars that are missing, malformed or inconsistent."""


class SymbolError(RnnStrategyError, ValueError):
    """A security code that cannot be understood."""


class FetchError(RnnStrategyError, RuntimeError):
    """Market data could not be downloaded and is not in the cache."""


class ConfigError(RnnStrategyError, ValueError):
    """An invalid configuration value."""
