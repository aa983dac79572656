"""The panel of a pooled model and its walk-forward splitter, against literal arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.pooled.panel import (
    build_panel,
    normalise_by_day,
    retrain_days,
    training_rows,
    validation_split,
)


def _bars(dates: list[str], opens: list[float]) -> pd.DataFrame:
    """Bars whose close, high and low equal the open (features are then simple to state)."""
    o = np.array(opens, dtype=float)
    index = pd.DatetimeIndex(pd.to_datetime(dates), name="date")
    return pd.DataFrame({"open": o, "high": o, "low": o, "close": o, "volume": 100.0}, index=index)


DAYS = ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07", "2021-01-08", "2021-01-11"]


@pytest.fixture
def panel():
    # A trades every day; B is suspended on the 6th and 7th (no rows), C lists on the 7th.
    bars = {
        "A": _bars(DAYS, [10, 11, 12, 13, 14, 15]),
        "B": _bars([DAYS[0], DAYS[1], DAYS[4], DAYS[5]], [20, 22, 24, 26]),
        "C": _bars(DAYS[3:], [5, 6, 7]),
    }
    return build_panel(bars, ["ret"], lookback=2)


def test_rows_days_and_offsets(panel):
    assert panel.symbols == ("A", "B", "C")
    assert list(panel.calendar.strftime("%m-%d")) == ["01-04", "01-05", "01-06", "01-07", "01-08", "01-11"]
    assert panel.offsets.tolist() == [0, 6, 10, 13]
    assert panel.day.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 4, 5, 3, 4, 5]
    assert panel.symbol_of(np.array([0, 5, 6, 9, 10, 12])).tolist() == [0, 0, 1, 1, 2, 2]


def test_labels_use_the_symbols_own_next_two_bars(panel):
    # label of row r: log(open(r+2) / open(r+1)) over the symbol's own rows, known on the day of row r+2
    expected = [np.log(12 / 11), np.log(13 / 12), np.log(14 / 13), np.log(15 / 14), np.nan, np.nan,
                np.log(24 / 22), np.log(26 / 24), np.nan, np.nan,
                np.log(7 / 6), np.nan, np.nan]
    np.testing.assert_allclose(panel.label, expected)
    never = np.iinfo(np.int32).max
    # B's row 0 (Jan 4) needs the opens of Jan 5 and Jan 8 (its next bars): known on day 4
    assert panel.label_day.tolist() == [2, 3, 4, 5, never, never, 4, 5, never, never, 5, never, never]


def test_windows_need_lookback_defined_rows(panel):
    # "ret" needs one prior row; lookback 2 -> the first full window ends at a symbol's third row
    assert panel.window_ok.tolist() == [False, False, True, True, True, True,
                                        False, False, True, True,
                                        False, False, True]
    # B's return over its suspension is close-to-close over its own rows: log(24/22)
    np.testing.assert_allclose(panel.features[8, 0], np.log(24 / 22), rtol=1e-6)


def test_training_rows_only_with_known_labels(panel):
    # retrain at the close of day 4 (Jan 8): labels known by then (label_day <= 4), full windows
    assert training_rows(panel, 4, None).tolist() == [2]
    # by day 5 A's row 3 is known too; B's full windows (rows 8, 9) have no label (no two later bars)
    assert training_rows(panel, 5, None).tolist() == [2, 3]
    # a window of 1 market day keeps the samples whose day is the latest one a label can be known for
    assert training_rows(panel, 5, 1).tolist() == [3]


def test_validation_split_purges_overlapping_labels():
    bars = {s: _bars(list(pd.bdate_range("2021-01-04", periods=12).strftime("%Y-%m-%d")),
                     list(np.linspace(10 + k, 20 + k, 12))) for k, s in enumerate("AB")}
    panel = build_panel(bars, ["ret"], lookback=1)
    rows = training_rows(panel, 11, None)
    assert panel.day[rows].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]
    train, val = validation_split(panel, rows, 0.25)
    # validation: the latest days holding ~25 % of the rows (days 8 and 9); training labels must be
    # known by the first validation day, so the samples of days 6 and 7 (labels on days 8, 9) go
    assert sorted(set(panel.day[val].tolist())) == [8, 9]
    assert sorted(set(panel.day[train].tolist())) == [1, 2, 3, 4, 5, 6]
    assert (panel.label_day[train] <= 8).all()
    assert validation_split(panel, rows, 0.0)[1].size == 0


def test_retrain_days_follow_the_market_calendar():
    calendar = pd.DatetimeIndex(pd.to_datetime(DAYS))
    assert retrain_days(calendar, "2021-01-05", None, 2) == [(1, 2), (3, 4), (5, 5)]
    assert retrain_days(calendar, "2021-01-09", "2021-01-11", 10) == [(5, 5)]  # a weekend start
    with pytest.raises(DataError, match="no market day"):
        retrain_days(calendar, "2021-02-01", None, 2)
    with pytest.raises(ConfigError, match="retrain_every"):
        retrain_days(calendar, "2021-01-05", None, 0)


def test_normalise_by_day_rank_and_zscore():
    values = np.array([3.0, 1.0, 2.0, np.nan, 5.0, 7.0])
    day = np.array([0, 0, 0, 1, 1, 1])
    rank = normalise_by_day(values, day, 2, "rank")
    # day 0: ranks 3,1,2 of 3 -> ((r - 0.5)/3 - 0.5) * sqrt(12); day 1: NaN stays, ranks 1,2 of 2
    s12 = np.sqrt(12)
    np.testing.assert_allclose(rank, [(2.5 / 3 - 0.5) * s12, (0.5 / 3 - 0.5) * s12, 0.0, np.nan,
                                      (0.25 - 0.5) * s12, (0.75 - 0.5) * s12])
    z = normalise_by_day(values, day, 2, "zscore")
    np.testing.assert_allclose(z, [1.0, -1.0, 0.0, np.nan, -np.sqrt(0.5), np.sqrt(0.5)])
    np.testing.assert_array_equal(normalise_by_day(values, day, 2, "none"), values)


def test_market_features_join_each_row_on_its_date():
    index = _bars(DAYS, [100, 101, 103, 102, 104, 104])
    panel = build_panel({"B": _bars([DAYS[0], DAYS[2], DAYS[5]], [20, 21, 22])}, ["ret"], lookback=1, market=index)
    assert panel.feature_names == ("ret", "mkt_ret")
    # B's rows fall on days 0, 2, 5: the index's own return on those dates
    np.testing.assert_allclose(panel.features[1:, 1], [np.log(103 / 101), np.log(104 / 104)], rtol=1e-6)
