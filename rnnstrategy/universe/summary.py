"""The summary table of a universe forecast: its columns and how each source's row is made.

``status`` is ``ok``, ``skipped`` (too little history for one retrain in the requested range:
reported, not an error) or ``failed`` (the message says why, e.g. a bad file). ``notes`` lists
the warnings about damaged fold-store entries or cached kernels that were deleted and recomputed
while the symbol ran (the warnings of :data:`NOTED_LOGGERS`).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data.qlib_dir import QLIB_SEPARATOR, source_symbol
from rnnstrategy.data.securities import Security
from rnnstrategy.errors import SymbolError

__all__ = ["NOTED_LOGGERS", "SUMMARY_COLUMNS", "DateLike", "date_text", "day", "finish", "stem", "summary_row"]

SUMMARY_COLUMNS = (
    "symbol", "name", "industry", "source", "status", "bars", "first_bar", "last_bar", "forecasts",
    "first_forecast", "last_forecast", "folds", "trained", "rmse", "baseline_rmse", "rmse_ratio",
    "direction_hit_rate", "seconds", "attempts", "fingerprint", "message", "notes",
)
"""Columns of the summary table, in order. Metrics are for h = 1, against the previous close;
``bars``, ``first_bar`` and ``fingerprint`` describe the bars loaded (the run's range);
``name`` and ``industry`` are empty without a stock list; ``notes``: the warnings about damaged
stored entries recomputed for the symbol, joined by `` | ``."""

NOTED_LOGGERS = ("rnnstrategy.forecasting.foldstore", "rnnstrategy.forecasting.batched.native")
"""Whose warnings (damaged stored entries, recomputed) become a symbol's ``notes``."""

DateLike = str | pd.Timestamp | None


def summary_row(row: dict[str, object], attempts: int, metadata: dict[str, Security]) -> dict[str, object]:
    """``row`` with its attempts, the symbol's name and industry from the stock list, in :data:`SUMMARY_COLUMNS`."""
    row["attempts"] = attempts
    security = _security_of(str(row["symbol"]), metadata)
    if security is not None:
        row.update(name=security.name, industry=security.industry)
    return {column: row.get(column) for column in SUMMARY_COLUMNS}


def _security_of(symbol: str, metadata: dict[str, Security]) -> Security | None:
    if not metadata:
        return None
    try:
        return metadata.get(symbol_info(symbol).ts_code)
    except SymbolError:
        return None


def finish(row: dict[str, object], started: float, status: str, message: str) -> dict[str, object]:
    """``row`` with its status, message and the seconds since ``started`` (a ``time.perf_counter()``)."""
    row.update(status=status, message=message, seconds=round(time.perf_counter() - started, 3))
    return row


def stem(source: str) -> str:
    """The symbol a source stands for before its bars are read: a CSV's stem, the symbol of a
    ``<directory>::<symbol>`` source (``600519.SH``), or the symbol itself."""
    if QLIB_SEPARATOR in source:
        return source_symbol(source)
    return Path(source).stem if source.lower().endswith(".csv") else source


def day(when: pd.Timestamp) -> str:
    """``YYYY-MM-DD``."""
    return f"{when:%Y-%m-%d}"


def date_text(value: DateLike) -> str | None:
    """A date as ``YYYY-MM-DD``, None as None."""
    return None if value is None else day(pd.Timestamp(value))
