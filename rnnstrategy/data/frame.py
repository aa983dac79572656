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

Impossible dates. A bar dated after today (in Shanghai) is a session that has not been held, a
bar before :data:`FIRST_SESSION` predates the exchanges, and a bar on a Saturday or Sunday from
:data:`WEEKEND_RULE_FROM` on is a mis-dated row: all are bad rows. The rules need no exchange calendar (weekday holidays are left to the callers that
have one, such as a daily signal deciding on its last bar): before China's five-day working week
the Shenzhen records hold a few weekend sessions (000002.SZ on 1992-10-04 and 1993-01-03), which
are kept.

Prices that never move. :func:`check_prices_move` refuses bars whose opens and closes never
differ (a placeholder or damaged file): there is nothing to forecast or trade.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnstrategy.errors import DataError

__all__ = ["ADJUSTS", "BAR_COLUMNS", "FIRST_SESSION", "GAP_DAYS", "PLAUSIBLE_LIMIT_MULTIPLE", "PRICE_COLUMNS",
           "UNLIMITED_BOUND", "WEEKEND_RULE_FROM", "BadRows", "check_prices_move", "describe_range", "validate_bars"]

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
#: weekend bars are refused from China's five-day working week on (earlier Shenzhen records hold a few)
WEEKEND_RULE_FROM = pd.Timestamp("1995-05-01")
#: the first session of an A-share exchange (Shenzhen's trial trading); an earlier bar is mis-dated
FIRST_SESSION = pd.Timestamp("1990-12-01")
_EXCHANGE_TIMEZONE = "Asia/Shanghai"
#: relative span of the opens and closes below which prices "never move" (float noise of adjusted prices)
_NO_MOVE = 1e-6


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


def _move_bounds(days: np.ndarray, symbol: str) -> np.ndarray:
    """Largest plausible |log(price / previous close)| of each row (``days``: datetime64 of the rows)."""
    from rnnstrategy.ashare.symbols import symbol_info
    from rnnstrategy.errors import SymbolError

    try:
        info = symbol_info(symbol).with_st(False) if symbol else None
    except (SymbolError, ValueError):
        info = None
    unlimited = np.log1p(UNLIMITED_BOUND)
    bounds = np.full(len(days), unlimited)
    if info is None or info.is_index:
        return bounds
    limits = info.price_limits(days)  # a few dated steps: one bound per distinct limit
    for limit in {limit for _, limit in info.price_limit_steps()}:
        bounds[limits == limit] = np.log1p(PLAUSIBLE_LIMIT_MULTIPLE * limit)
    return bounds


def _implausible_moves(prices: list[np.ndarray], days: np.ndarray, index: pd.DatetimeIndex, symbol: str,
                       usable: np.ndarray) -> np.ndarray:
    """Rows whose prices move implausibly far from the previous close (see the module docstring).
    ``prices``: the float64 open, high, low and close; ``days``: the rows' datetime64[D]. Only ``usable``
    rows (those no other rule refuses) are judged or compared with."""
    n = len(days)
    flagged = np.zeros(n, dtype=bool)
    if n < 2:
        return flagged
    close = prices[3]
    gap = np.zeros(n, dtype=bool)
    gap[1:] = np.diff(days.astype(np.int64)) > GAP_DAYS
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = [np.log(column) for column in prices]
        quick = _largest([np.abs(log[1:] - logs[3][:-1]) for log in logs])
        span = _largest(logs) - _smallest(logs)
    bounds = _move_bounds(days, symbol)
    # a day's range cannot exceed a move from limit-down to limit-up, whatever the previous close
    flagged[1:] |= usable[1:] & (span[1:] > 2 * bounds[1:])  # the first bar may be a listing day
    # fast path: nothing moves beyond the bound against the row before (NaN compares False)
    beyond = np.zeros(n, dtype=bool)  # row i moves beyond its bound against row i - 1
    beyond[1:] = quick > bounds[1:]
    if not (beyond[1:] & ~gap[1:] & usable[1:] & usable[:-1]).any():
        return flagged
    log_prices = np.column_stack(logs)

    def jumps(i: int, ref: int) -> bool:
        return bool(np.abs(log_prices[i] - logs[3][ref]).max() > bounds[i])

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
                     "of the source", symbol, close[i] / close[ref], f"{index[i]:%Y-%m-%d}")
            ref = i
            continue
        flagged[i] = True  # a spike: the next bar returns to the old level (or there is none)
    return flagged


def _largest(columns: list[np.ndarray]) -> np.ndarray:
    """Row-wise maximum of equal-length columns, NaN where any is NaN (as ``ndarray.max(axis=1)``, faster)."""
    return functools.reduce(np.maximum, columns)


def _smallest(columns: list[np.ndarray]) -> np.ndarray:
    """Row-wise minimum of equal-length columns, NaN where any is NaN."""
    return functools.reduce(np.minimum, columns)


def _any(masks: list[np.ndarray]) -> np.ndarray:
    """Row-wise or of equal-length boolean masks."""
    return functools.reduce(np.logical_or, masks)


def _impossible_dates(days: np.ndarray) -> dict[str, np.ndarray]:
    """Rows dated before the exchanges opened, after today in Shanghai (no such session yet) or on a weekend
    (see the module docstring); ``days``: the rows' datetime64[D]."""
    today = pd.Timestamp.now(tz=_EXCHANGE_TIMEZONE).tz_localize(None).normalize()
    weekday = (days.view(np.int64) + 3) % 7  # Monday 0: 1970-01-01 was a Thursday
    return {  # compared as days: a datetime64[ns] bound would convert every row
        f"dated before the exchanges opened ({FIRST_SESSION:%Y-%m-%d})": days < _day(FIRST_SESSION),
        f"dated after today ({today:%Y-%m-%d} in Shanghai)": days > _day(today),
        "weekend date (no session)": (weekday >= 5) & (days >= _day(WEEKEND_RULE_FROM)),
    }


def _day(midnight: pd.Timestamp) -> np.datetime64:
    return np.datetime64(midnight.date(), "D")


def _row_problems(bars: pd.DataFrame, symbol: str = "") -> dict[str, np.ndarray]:
    """Boolean masks of rows that break a value rule, keyed by the rule (numpy on whole columns throughout:
    pandas copies a frame's attrs at every step, which costs more than the checks)."""
    prices = [bars[column].to_numpy(dtype="float64") for column in PRICE_COLUMNS]
    volume = bars["volume"].to_numpy(dtype="float64")
    open_, high, low, close = prices
    nan = _any([np.isnan(column) for column in prices])
    problems = {
        "NaN price": nan,
        "NaN volume": np.isnan(volume),
        "infinite price": _any([np.isinf(column) for column in prices]),
        "infinite volume": np.isinf(volume),
        "non-positive price": _any([column <= 0 for column in prices]),
        "negative volume": volume < 0,
        "high < low": ~nan & (high < low),
        "open/close outside [low, high]": ~nan
        & (high >= low)
        & ((open_ > high) | (open_ < low) | (close > high) | (close < low)),
    }
    days = bars.index.to_numpy().astype("datetime64[D]")
    problems |= _impossible_dates(days)
    usable = ~_any(list(problems.values()))
    moves = _implausible_moves(prices, days, bars.index, symbol, usable)
    problems["implausible move against the previous close"] = moves
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
        bad = _any(list(problems.values()))
        bars = bars.loc[~bad].copy()
        bars.attrs["dropped"] = dropped
    if len(bars) < min_rows:
        raise DataError(
            f"{source}: {len(bars)} bar(s) ({describe_range(bars)}) but at least {min_rows} are needed; "
            "use a longer history or an earlier start"
        )
    return bars


def check_prices_move(bars: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return ``bars`` when their prices move; refuse bars whose opens and closes never differ.

    A series whose every open and close is the same price (within float noise of adjusted prices)
    is a placeholder or a damaged file: the next open is always the previous close, so there is
    nothing to forecast, and a strategy trading on a model's noise there would only pay fees.

    Raises:
        DataError: "prices never move: ...", naming ``source``, the price and the dates.
    """
    if len(bars) < 2:
        return bars
    prices = bars[["open", "close"]].to_numpy(dtype="float64")
    low, high = np.nanmin(prices), np.nanmax(prices)
    if low > 0 and high / low - 1 < _NO_MOVE:
        raise DataError(
            f"{source}: prices never move (every open and close is {low:g} on the {len(bars)} bars "
            f"{describe_range(bars)}): nothing to forecast; check the file, or give the bars of a traded security"
        )
    return bars
