"""The XSHG trading calendar of daily signals, checked against literal, known sessions."""

import datetime as dt

import pandas as pd
import pytest

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.live.sessions import (
    calendar_range,
    calendar_says,
    check_fresh,
    has_closed,
    is_session,
    last_completed_session,
    missing_sessions,
    next_session,
    previous_session,
    sessions_between,
)

D = dt.date


@pytest.mark.parametrize(("day", "expected"), [
    (D(2023, 9, 28), D(2023, 10, 9)),   # Mid-Autumn and National Day: 2023-09-29 .. 10-06 closed
    (D(2023, 10, 1), D(2023, 10, 9)),   # from inside the holiday
    (D(2024, 2, 8), D(2024, 2, 19)),    # Spring Festival: 2024-02-09 .. 02-16 closed
    (D(2024, 3, 1), D(2024, 3, 4)),     # a Friday: the Monday
    (D(2024, 3, 2), D(2024, 3, 4)),     # a Saturday
    (D(2024, 3, 4), D(2024, 3, 5)),     # an ordinary Monday
])
def test_next_session_skips_weekends_and_holidays(day, expected):
    assert next_session(day) == expected


def test_previous_session_and_is_session():
    assert previous_session(D(2023, 10, 9)) == D(2023, 9, 28)
    assert previous_session(D(2024, 3, 4)) == D(2024, 3, 1)
    assert is_session(D(2024, 3, 1)) and not is_session(D(2024, 3, 2)) and not is_session(D(2024, 2, 12))


def test_last_completed_session_turns_at_the_close():
    assert last_completed_session(dt.datetime(2024, 3, 1, 14, 59)) == D(2024, 2, 29)
    assert last_completed_session(dt.datetime(2024, 3, 1, 15, 0)) == D(2024, 3, 1)
    assert last_completed_session(dt.datetime(2024, 3, 1, 15, 1)) == D(2024, 3, 1)
    assert last_completed_session(dt.datetime(2024, 3, 3, 9, 0)) == D(2024, 3, 1)   # Sunday
    assert last_completed_session(dt.datetime(2024, 2, 19, 9, 30)) == D(2024, 2, 8)  # after Spring Festival
    # an aware datetime is converted: 07:01 UTC is 15:01 in Shanghai
    utc = dt.datetime(2024, 3, 1, 7, 1, tzinfo=dt.timezone.utc)
    assert last_completed_session(utc) == D(2024, 3, 1)
    assert last_completed_session(utc - dt.timedelta(minutes=2)) == D(2024, 2, 29)
    assert last_completed_session() <= dt.date.today()


def test_check_fresh_names_the_stale_bar_and_the_session():
    check_fresh(D(2024, 3, 1), now=dt.datetime(2024, 3, 1, 15, 1))
    check_fresh(D(2024, 2, 29), now=dt.datetime(2024, 3, 1, 14, 59))  # Friday's session is not over yet
    check_fresh(D(2024, 3, 1), now=dt.datetime(2024, 3, 4, 9, 0))     # the weekend adds nothing
    with pytest.raises(DataError, match=r"^stale data: the bars end on 2024-02-29 but the last completed session "
                                        r"is 2024-03-01 \(1 session missing\); update the data"):
        check_fresh(D(2024, 2, 29), now=dt.datetime(2024, 3, 1, 15, 1))
    with pytest.raises(DataError, match="end on 2024-02-08 but the last completed session is 2024-02-20 "
                                        r"\(2 sessions missing\)"):
        check_fresh(pd.Timestamp("2024-02-08"), now=dt.datetime(2024, 2, 21, 8, 0))


def test_missing_sessions_are_the_suspended_days():
    bars = pd.DatetimeIndex(["2024-02-26", "2024-02-27", "2024-03-01", "2024-03-04"], name="date")
    assert missing_sessions(bars, D(2024, 2, 26), D(2024, 3, 4)) == [D(2024, 2, 28), D(2024, 2, 29)]
    assert missing_sessions(bars, D(2024, 3, 1), D(2024, 3, 4)) == []
    assert sessions_between(D(2024, 2, 8), D(2024, 2, 19)) == [D(2024, 2, 8), D(2024, 2, 19)]
    with pytest.raises(ConfigError, match="first=2024-03-04 is after last=2024-03-01"):
        missing_sessions(bars, D(2024, 3, 4), D(2024, 3, 1))


def test_dates_outside_the_calendar_name_its_range():
    first, last = calendar_range()
    assert first == D(1990, 12, 3) and last.year >= 2025
    with pytest.raises(ConfigError, match=rf"day=1989-01-02 is outside the XSHG calendar \({first}\.\.{last}\)"):
        next_session(D(1989, 1, 2))
    with pytest.raises(ConfigError, match=rf"beyond the XSHG calendar \({first}\.\.{last}\)"):
        next_session(last)
    with pytest.raises(ConfigError, match="outside the XSHG calendar"):
        last_completed_session(dt.datetime(last.year + 5, 1, 5, 16, 0))
    with pytest.raises(ConfigError, match="give a date"):
        next_session("tomorrow")


def test_what_the_calendar_says_and_when_a_session_has_closed():
    assert calendar_says(D(2024, 3, 1)) is True and calendar_says(D(2024, 3, 2)) is False  # a Friday, a Saturday
    assert calendar_says(D(2020, 5, 1)) is False  # Labour Day
    assert calendar_says(D(2099, 1, 5)) is None  # beyond the calendar: not known either way
    friday = D(2024, 3, 1)
    assert not has_closed(friday, dt.datetime(2024, 3, 1, 14, 59))
    assert has_closed(friday, dt.datetime(2024, 3, 1, 15, 0))
    assert not has_closed(friday, dt.datetime(2024, 3, 1, 6, 59, tzinfo=dt.timezone.utc))  # 14:59 in Shanghai
    assert has_closed(friday, dt.datetime(2024, 3, 1, 7, 0, tzinfo=dt.timezone.utc))
    assert not has_closed(D(2099, 1, 5))  # any date can be asked
