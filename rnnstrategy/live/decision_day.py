"""Whether the bar a daily signal decides on is a completed session of the exchange.

The bar loader already refuses weekend bars and bars dated after today without a calendar
(:mod:`rnnstrategy.data.frame`). A signal's orders depend on one bar, the last, so that bar is
held to the exchange calendar too (:mod:`rnnstrategy.live.sessions`): it must be a session, and
its close must have passed. A weekday holiday is refused only here, where the calendar covers the
date: bars of other runs (tests' business-day series among them) may hold holidays harmlessly.
"""

from __future__ import annotations

import datetime as dt

from rnnstrategy.errors import DataError
from rnnstrategy.live.sessions import calendar_range, is_session, last_completed_session

__all__ = ["check_decision_day"]


def check_decision_day(day: dt.date, source: str, now: dt.datetime | None = None) -> None:
    """Refuse deciding on the bar of ``day`` unless it is a completed session.

    Args:
        day: the date of the bar decided on.
        source: the file or symbol the bar came from, named in the error.
        now: the present (default: now), for whether the session's close has passed.

    Raises:
        DataError: ``day`` is not a session of the XSHG calendar (checked where the calendar covers
            it), or is after the last completed session (a bar of a session still trading, or in
            the future).
    """
    first, last = calendar_range()
    if first <= day <= last and not is_session(day):
        raise DataError(f"{source}: the bar of {day} ({day:%A}) is not a trading session of the exchange: a "
                        "mis-dated or damaged row; fix or remove it (or decide on an earlier bar with --end)")
    completed = last_completed_session(now)
    if day > completed:
        raise DataError(f"{source}: the bar of {day} is after the last completed session ({completed}): a session "
                        "still trading or not yet held cannot be decided on; use bars up to the last close (--end "
                        f"{completed})")
