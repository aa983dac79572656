"""Where the fold store lives: the ``store`` argument of runs, resolved to a directory.

Imports no torch, so the API and the command line can name the default store (and resolve it)
without loading the forecast stage; the store itself is :mod:`rnnstrategy.forecasting.foldstore`.
"""

from __future__ import annotations

from pathlib import Path

from rnnstrategy.files import cache_root

__all__ = ["DEFAULT_STORE", "default_store_dir", "resolve_store"]

DEFAULT_STORE = "default"
"""``store=DEFAULT_STORE``: keep fitted folds in ``folds/`` under the cache root, so a repeated
or extended run trains only what is new; a path keeps them there; None keeps nothing."""


def default_store_dir() -> Path:
    """``folds/`` under the cache root (``$RNNSTRATEGY_CACHE`` or the user cache dir)."""
    return cache_root() / "folds"


def resolve_store(store: str | Path | None) -> Path | None:
    """The directory a ``store`` argument names: :func:`default_store_dir` for :data:`DEFAULT_STORE`,
    the path itself for a path, None (keep nothing) for None."""
    if store is None:
        return None
    if store == DEFAULT_STORE:
        return default_store_dir()
    return Path(store)
