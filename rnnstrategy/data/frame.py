"""The canonical bar frame and its validation.

A canonical bar frame is a :class:`pandas.DataFrame` indexed by a tz-naive,
ascending, unique :class:`~pandas.DatetimeIndex` named ``date`` with float64
columns ``open high low close volume`` (volume in shares) and ``amount``
(CNY) when the source knows it, plus ``attrs["symbol"]`` and
``attrs["adjust"]`` ('' raw, 'qfq' forward-adjusted, 'hfq' back-adjusted).
Suspended days are absent rows. ``amount`` may be NaN on a day the source
did not record it; prices and volume never are.

Price plausibility. Prices and volume must be finite. A bar whose open, high,
low or close moves against the previous close by more than
:data:`PLAUSIBLE_LIMIT_MULTIPLE` times the largest daily price limit of its
board on that date (non-ST; :meth:`SymbolInfo.price_limit
<rnnstrategy.ashare.symbols.SymbolInfo.price_limit>`), or by more than
:data:`UNLIMITED_BOUND` where there is no limit (indexes, unknown symbols, stocks
before 1996-12-16), is a bad row ("implausible move"), unless it is the first bar
(a listing) or the previous bar is more than :data:`GAP_DAYS` calendar days
earlier (a suspension or a gap in the data, after which the moves of the missing
days add up). Moves are measured as log ratios, so a fall is bounded as tightly
as a rise, and they are ratios, so forward- and back-adjusted prices obey them
too. When one bar jumps and the next one comes back, only the jumping bar is
bad; when the new level lasts, only the bar where it starts is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnstrategy.errors import DataError

__all__ = ["PRICE_COLUMNS", "BAR_COLUMNS", "ADJUSTS", "GAP_DAYS", "PLAUSIBLE_LIMIT_MULTIPLE", "UNLIMITED_BOUND", "BadRows",
           "validate_bars", "describe_range"]

log = logging.getLogger(__name__)

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_COLUMNS = (*PRICE_COLUMNS, "volume")
ADJUSTS = ("", "qfq", "hfq")
_SHOWN = 5  # offending dates listed in an error message

#: a move beyond this multiple of the board's daily limit cannot happen in one trading day
PLAUSIBLE_LIMIT_MULTIPLE = 3.0
#: the bound where no limit applies (indexes, unknown symbols, before 1996-12-16): ×2 or ÷2
UNLIMITED_BOUND = 1.0
#: the longest holiday closure of the exchanges is about 12 calendar days (Spring Festival);
#: a bar more than 30 days after the previous one follows a suspension or missing data, whose
#: moves (and resumption without limits, e.g. after share reform) no daily bound covers
GAP_DAYS = 30


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


def _move_bounds(bars: pd.DataFrame, symbol: str) -> np.ndarray:
    """Largest plausible |log(price / previous close)| of each row."""
    from rnnstrategy.ashare.symbols import symbol_info
    from rnnstrategy.errors import SymbolError

    try:
        info = symbol_info(symbol).with_st(False) if symbol else None
    except (SymbolError, ValueError):
        info = None
    unlimited = np.log1p(UNLIMITED_BOUND)
    if info is None or info.is_index:
        return np.full(len(bars), unlimited)
    limits = [info.price_limit(date) for date in bars.index.date]
    return np.array([unlimited if limit is None else np.log1p(PLAUSIBLE_LIMIT_MULTIPLE * limit) for limit in limits])


def _implausible_moves(bars: pd.DataFrame, symbol: str, usable: np.ndarray) -> pd.Series:
    """Rows whose prices move implausibly far from the previous close (see the module docstring).
    Only ``usable`` rows (those no other rule refuses) are judged or compared with."""
    n = len(bars)
    flagged = np.zeros(n, dtype=bool)
    if n < 2:
        return pd.Series(flagged, index=bars.index)
    prices = bars[list(PRICE_COLUMNS)].to_numpy(dtype="float64")
    close = prices[:, 3]
    days = bars.index.to_numpy().astype("datetime64[D]").astype(np.int64)
    gap = np.zeros(n, dtype=bool)
    gap[1:] = np.diff(days) > GAP_DAYS
    with np.errstate(divide="ignore", invalid="ignore"):
        log_prices = np.log(prices)
        quick = np.abs(log_prices[1:] - np.log(close[:-1])[:, None]).max(axis=1)
    bounds = _move_bounds(bars, symbol)
    with np.errstate(divide="ignore", invalid="ignore"):
        span = log_prices.max(axis=1) - log_prices.min(axis=1)
    # a day's range cannot exceed a move from limit-down to limit-up, whatever the previous close
    flagged[1:] |= usable[1:] & (span[1:] > 2 * bounds[1:])  # the first bar may be a listing day
    # fast path: nothing moves beyond the bound against the row before (NaN compares False)
    beyond = np.zeros(n, dtype=bool)  # row i moves beyond its bound against row i - 1
    beyond[1:] = quick > bounds[1:]
    if not (beyond[1:] & ~gap[1:] & usable[1:] & usable[:-1]).any():
        return pd.Series(flagged, index=bars.index)

    def jumps(i: int, ref: int) -> bool:
        return bool(np.abs(log_prices[i] - np.log(close[ref])).max() > bounds[i])

    ref = -1  # the last accepted row
    for i in range(n):
        if not usable[i]:
            continue  # reported by another rule
        if ref < 0 or gap[i] or (ref == i - 1 and not beyond[i]) or not jumps(i, ref):
            ref = i
            continue
        following = next((j for j in range(i + 1, n) if usable[j]), None)
        if following is not None and (gap[following] or not jumps(following, i)):
            # the new level lasts: a discontinuity of the source (unadjusted history before a
            # stitch, a resumption without limits), not one wrong bar
            log.info("%s: prices move by a factor of %.3g on %s and stay there; kept as a discontinuity "
                     "of the source", symbol, close[i] / close[ref], f"{bars.index[i]:%Y-%m-%d}")
            ref = i
            continue
        flagged[i] = True  # a spike: the next bar returns to the old level (or there is none)
    return pd.Series(flagged, index=bars.index)


def _row_problems(bars: pd.DataFrame, symbol: str = "") -> dict[str, pd.Series]:
    """Boolean masks of rows that break a value rule, keyed by the rule."""
    prices = bars[list(PRICE_COLUMNS)]
    ohlc_known = prices.notna().all(axis=1)
    low, high = bars["low"], bars["high"]
    infinite = np.isinf(prices.to_numpy(dtype="float64")).any(axis=1)
    problems = {
        "NaN price": prices.isna().any(axis=1),
        "NaN volume": bars["volume"].isna(),
        "infinite price": pd.Series(infinite, index=bars.index),
        "infinite volume": pd.Series(np.isinf(bars["volume"].to_numpy(dtype="float64")), index=bars.index),
        "non-positive price": (prices <= 0).any(axis=1),
        "negative volume": bars["volume"] < 0,
        "high < low": ohlc_known & (high < low),
        "open/close outside [low, high]": ohlc_known
        & (high >= low)
        & ((bars["open"] > high) | (bars["open"] < low) | (bars["close"] > high) | (bars["close"] < low)),
    }
    usable = ~np.logical_or.reduce([mask.to_numpy(dtype=bool) for mask in problems.values()])
    problems["implausible move against the previous close"] = _implausible_moves(bars, symbol, usable)
    return problems


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

    symbol = str(bars.attrs.get("symbol") or source)
    problems = {reason: mask for reason, mask in _row_problems(bars, symbol).items() if mask.any()}
    if problems:
        reasons = {reason: list(bars.index[mask]) for reason, mask in problems.items()}
        if strict:
            detail = "; ".join(f"{reason} on {_dates(dates)}" for reason, dates in reasons.items())
            raise DataError(
                f"{source}: bad bar(s): {detail}. Fix the file, load a range that avoids these dates "
                "(--start/--end; start=/end= in Python), or pass --lenient (strict=False in Python) to drop "
                "and report them"
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
