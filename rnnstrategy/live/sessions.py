"""Trading sessions of the Shanghai Stock Exchange, for daily signals and paper trading.

The calendar is exchange_calendars' ``XSHG`` (imported here only), which Shenzhen shares:
weekends and the exchanges' published holidays (Spring Festival, National Day, ...) are
closed. Sessions close at 15:00 Asia/Shanghai.

Example::

    next_session(datetime.date(2023, 9, 28))      # 2023-10-09, after National Day
    last_completed_session()                      # the latest session whose close has passed
    check_fresh(bars.index[-1].date())            # DataError when the bars are stale

The calendar covers 1990-12-03 to the end of the last year whose holidays exchange_calendars
knows (:func:`calendar_range`); a date outside it is a :class:`~rnnstrategy.errors.ConfigError`
that names the range (upgrade exchange_calendars for later years).
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from collections.abc import Iterable
from typing import Any

import exchange_calendars
import pandas as pd

from rnnstrategy.errors import ConfigError, DataError

__all__ = [
    "CLOSE",
    "TIMEZONE",
    "calendar_range",
    "calendar_says",
    "check_fresh",
    "has_closed",
    "is_session",
    "last_completed_session",
    "missing_sessions",
    "next_session",
    "previous_session",
    "sessions_between",
]

TIMEZONE = "Asia/Shanghai"
"""The exchange's time zone; a naive ``datetime`` given to this module is read in it."""

CLOSE = dt.time(15, 0)
"""When a session closes, Asia/Shanghai time."""

_FIRST = "1990-12-03"  # the first session of the Shanghai Stock Exchange


@functools.lru_cache(maxsize=1)
def _calendar() -> Any:
    with warnings.catch_warnings():  # pandas deprecations inside exchange_calendars, not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return exchange_calendars.get_calendar("XSHG", start=_FIRST)


def calendar_range() -> tuple[dt.date, dt.date]:
    """The first and last sessions the calendar knows."""
    cal = _calendar()
    return cal.first_session.date(), cal.last_session.date()


def _day(value: Any, name: str) -> pd.Timestamp:
    """``value`` (a date, datetime, Timestamp or ISO string) as a midnight Timestamp, checked against the range."""
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r}: give a date, e.g. datetime.date(2024, 3, 1) or '2024-03-01'") from None
    if day.tzinfo is not None:
        day = day.tz_convert(TIMEZONE).tz_localize(None)
    day = day.normalize()
    first, last = calendar_range()
    if not first <= day.date() <= last:
        raise ConfigError(
            f"{name}={day.date()} is outside the XSHG calendar ({first}..{last}) of exchange_calendars "
            f"{exchange_calendars.__version__}: use a date in that range, or upgrade exchange_calendars "
            "for later holidays"
        )
    return day


def is_session(day: dt.date) -> bool:
    """Whether ``day`` is a trading session.

    Raises:
        ConfigError: when ``day`` is outside :func:`calendar_range`.
    """
    return bool(_calendar().is_session(_day(day, "day")))


def calendar_says(day: dt.date) -> bool | None:
    """Whether ``day`` is a session of the calendar; ``None`` outside :func:`calendar_range` (not known)."""
    first, last = calendar_range()
    return bool(_calendar().is_session(pd.Timestamp(day))) if first <= day <= last else None


def has_closed(day: dt.date, now: dt.datetime | None = None) -> bool:
    """Whether the close of ``day`` (15:00 Asia/Shanghai) is at or before ``now`` (default: the present; a
    naive datetime is Shanghai time). Needs no calendar, so any date can be asked."""
    close = pd.Timestamp(dt.datetime.combine(day, CLOSE)).tz_localize(TIMEZONE)
    return bool(close <= _now(now))


def next_session(day: dt.date) -> dt.date:
    """The first session strictly after ``day`` (which may be a holiday or a weekend).

    ``next_session(datetime.date(2024, 2, 8)) == datetime.date(2024, 2, 19)`` (Spring Festival).

    Raises:
        ConfigError: when ``day`` or its next session is outside :func:`calendar_range`.
    """
    ts = _day(day, "day")
    first, last = calendar_range()
    if ts.date() >= last:
        raise ConfigError(
            f"the session after {ts.date()} is beyond the XSHG calendar ({first}..{last}) of exchange_calendars "
            f"{exchange_calendars.__version__}: upgrade exchange_calendars for later holidays"
        )
    return _calendar().date_to_session(ts + pd.Timedelta(days=1), direction="next").date()


def previous_session(day: dt.date) -> dt.date:
    """The last session strictly before ``day``.

    Raises:
        ConfigError: when ``day`` or its previous session is outside :func:`calendar_range`.
    """
    ts = _day(day, "day")
    first, last = calendar_range()
    if ts.date() <= first:
        raise ConfigError(f"no session before {ts.date()} in the XSHG calendar ({first}..{last})")
    return _calendar().date_to_session(ts - pd.Timedelta(days=1), direction="previous").date()


def _now(now: dt.datetime | None) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz=TIMEZONE)
    if not isinstance(now, dt.datetime):
        raise ConfigError(f"now={now!r}: give a datetime, e.g. datetime.datetime(2024, 3, 1, 15, 1)")
    stamp = pd.Timestamp(now)
    return stamp.tz_localize(TIMEZONE) if stamp.tzinfo is None else stamp.tz_convert(TIMEZONE)


def last_completed_session(now: dt.datetime | None = None) -> dt.date:
    """The latest session whose close (15:00 Asia/Shanghai) is at or before ``now``.

    Args:
        now: the moment to judge from; a naive datetime is Shanghai time, an aware one is
            converted. Default: the current time.

    At 2024-03-01 14:59 Shanghai time (a Friday) this is 2024-02-29; at 15:00 and after, 2024-03-01.

    Raises:
        ConfigError: when ``now`` is outside :func:`calendar_range`.
    """
    stamp = _now(now)
    cal = _calendar()
    session = cal.date_to_session(_day(stamp.tz_localize(None), "now"), direction="previous")
    if cal.session_close(session) > stamp:
        session = pd.Timestamp(previous_session(session.date()))
    return session.date()


def check_fresh(last_bar: dt.date, now: dt.datetime | None = None) -> None:
    """Raise :class:`~rnnstrategy.errors.DataError` when bars ending on ``last_bar`` miss a completed session.

    Args:
        last_bar: the date of the data's last bar.
        now: as for :func:`last_completed_session`.

    Raises:
        DataError: "stale data: the bars end on X but the last completed session is Y; ...".
        ConfigError: for a date outside :func:`calendar_range`.
    """
    last = _day(last_bar, "last_bar").date()
    expected = last_completed_session(now)
    if last < expected:
        missing = len(sessions_between(next_session(last), expected))
        raise DataError(
            f"stale data: the bars end on {last} but the last completed session is {expected} "
            f"({missing} session{'s' if missing != 1 else ''} missing); update the data "
            "(e.g. `rnnstrategy data` or a fresh CSV) before making orders for the next session"
        )


def sessions_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """The sessions from ``first`` to ``last``, both included.

    Raises:
        ConfigError: when a date is outside :func:`calendar_range` or ``first`` is after ``last``.
    """
    start, end = _day(first, "first"), _day(last, "last")
    if start > end:
        raise ConfigError(f"first={start.date()} is after last={end.date()}: give first <= last")
    return [ts.date() for ts in _calendar().sessions_in_range(start, end)]


def missing_sessions(dates: Iterable[Any], first: dt.date, last: dt.date) -> list[dt.date]:
    """The sessions from ``first`` to ``last`` (both included) with no date in ``dates``.

    ``dates`` are the bar dates of one security (a ``DatetimeIndex``, dates or timestamps);
    the sessions returned are its suspended days (or gaps in the data).

    Raises:
        ConfigError: when ``first`` or ``last`` is outside :func:`calendar_range`, or ``first > last``.
    """
    have = {pd.Timestamp(value).date() for value in dates}
    return [day for day in sessions_between(first, last) if day not in have]
