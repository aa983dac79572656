"""The canonical bar frame and its validation.

A canonical bar frame is a :class:`pandas.DataFrame` indexed by a tz-naive,
ascending, unique :class:`~pandas.DatetimeIndex` named ``date`` with float64
columns ``open high low close volume`` (volume in shares) and ``amount``
(CNY) when the source knows it, plus ``attrs["symbol"]`` and
``attrs["adjust"]`` ('' raw, 'qfq' forward-adjusted, 'hfq' back-adjusted).
Suspended days are absent rows. ``amount`` may be NaN on a day the source
did not record it; prices and volume never are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnstrategy.errors import DataError

__all__ = ["PRICE_COLUMNS", "BAR_COLUMNS", "ADJUSTS", "BadRows", "validate_bars", "describe_range"]

log = logging.getLogger(__name__)

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_COLUMNS = (*PRICE_COLUMNS, "volume")
ADJUSTS = ("", "qfq", "hfq")
_SHOWN = 5  # offending dates listed in an error message


@dataclass(frozen=True)
class BadRows:
    """Rows dropped by ``strict=False`` validation, with the reason for each check."""

    source: str
    reasons: dict[str, list[pd.Timestamp]]

    @property
    def count(self) -> int:
        return len({d for dates in self.reasons.values() for d in dates})

    def __str__(self) -> str:
        parts = [f"{reason}: {_dates(dates)}" for reason, dates in self.reasons.items()]
        return f"{self.source}: dropped {self.count} bad row(s) ({'; '.join(parts)})"


def _dates(dates: list[pd.Timestamp]) -> str:
    shown = ", ".join(d.strftime("%Y-%m-%d") for d in dates[:_SHOWN])
    more = f" and {len(dates) - _SHOWN} more" if len(dates) > _SHOWN else ""
    return shown + more


def describe_range(bars: pd.DataFrame) -> str:
    """``'2010-04-26..2020-04-24'``, or ``'no rows'``; for error messages."""
    if bars.empty:
        return "no rows"
    return f"{bars.index[0]:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d}"


def _row_problems(bars: pd.DataFrame) -> dict[str, pd.Series]:
    """Boolean masks of rows that break a value rule, keyed by the rule."""
    prices = bars[list(PRICE_COLUMNS)]
    ohlc_known = prices.notna().all(axis=1)
    low, high = bars["low"], bars["high"]
    return {
        "NaN price": prices.isna().any(axis=1),
        "NaN volume": bars["volume"].isna(),
        "non-positive price": (prices <= 0).any(axis=1),
        "negative volume": bars["volume"] < 0,
        "high < low": ohlc_known & (high < low),
        "open/close outside [low, high]": ohlc_known
        & (high >= low)
        & ((bars["open"] > high) | (bars["open"] < low) | (bars["close"] > high) | (bars["close"] < low)),
    }


def validate_bars(
    bars: pd.DataFrame,
    source: str,
    *,
    strict: bool = True,
    min_rows: int = 1,
) -> pd.DataFrame:
    """Check ``bars`` against the canonical contract and return it.

    Args:
        bars: a frame already shaped like the canonical one (index ``date``).
        source: the file or symbol the bars came from, named in errors.
        strict: with ``True`` (default) any bad row raises :class:`DataError`;
            with ``False`` bad rows are dropped, logged as a warning and listed
            in ``attrs["dropped"]`` (a :class:`BadRows`), so nothing disappears
            unreported.
        min_rows: fewer rows than this (after dropping) raise.

    Raises:
        DataError: naming ``source``, the rule broken, the offending dates and the fix.
    """
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; a bar frame needs {', '.join(BAR_COLUMNS)}")
    if not isinstance(bars.index, pd.DatetimeIndex) or bars.index.tz is not None:
        raise DataError(f"{source}: the index must be a tz-naive DatetimeIndex of trading dates")
    if bars.empty:
        raise DataError(f"{source}: no bars (empty input); check the file or the start/end range")
    duplicated = bars.index[bars.index.duplicated()]
    if len(duplicated):
        raise DataError(
            f"{source}: duplicate date(s) {_dates(list(duplicated))}; keep one row per trading day"
        )
    if not bars.index.is_monotonic_increasing:
        bars = bars.sort_index()

    problems = {reason: mask for reason, mask in _row_problems(bars).items() if mask.any()}
    if problems:
        reasons = {reason: list(bars.index[mask]) for reason, mask in problems.items()}
        if strict:
            detail = "; ".join(f"{reason} on {_dates(dates)}" for reason, dates in reasons.items())
            raise DataError(
                f"{source}: bad bar(s): {detail}. Fix the file, load a range that avoids these dates "
                "(start=/end=), or pass strict=False to drop and report them"
            )
        dropped = BadRows(source, reasons)
        log.warning("%s", dropped)
        bad = np.logical_or.reduce([mask.to_numpy() for mask in problems.values()])
        bars = bars.loc[~bad].copy()
        bars.attrs["dropped"] = dropped
    if len(bars) < min_rows:
        raise DataError(
            f"{source}: {len(bars)} bar(s) ({describe_range(bars)}) but at least {min_rows} are needed; "
            "use a longer history or an earlier start"
        )
    return bars
