"""WalkForwardSplit and the label-horizon guard, against literal arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.splitter import (
    WalkForwardSplit,
    row_position,
    train_sample_ends,
)


def folds(splitter: WalkForwardSplit, data) -> list[tuple[list[int], list[int]]]:
    return [(train.tolist(), test.tolist()) for train, test in splitter.split(data)]


SMALL = {"lookback": 3, "horizon": 2, "retrain_every": 3, "min_train": 2}


def test_train_sample_ends_guard_and_history() -> None:
    # retrain at the close of row 8: windows start at row >= 0 (s >= 2), labels s + 2 <= 8
    assert train_sample_ends(8, lookback=3, horizon=2).tolist() == [2, 3, 4, 5, 6]
    assert train_sample_ends(8, lookback=3, horizon=2, warmup=1).tolist() == [3, 4, 5, 6]
    assert train_sample_ends(8, lookback=3, horizon=2, train_window=2).tolist() == [5, 6]
    assert train_sample_ends(3, lookback=3, horizon=2).tolist() == []


def test_expanding_window() -> None:
    assert folds(WalkForwardSplit(**SMALL), 12) == [
        ([2, 3], [5, 6, 7]),
        ([2, 3, 4, 5, 6], [8, 9, 10]),
        ([2, 3, 4, 5, 6, 7, 8, 9], [11]),
    ]


def test_sliding_window() -> None:
    assert folds(WalkForwardSplit(**SMALL, train_window=3), 12) == [
        ([2, 3], [5, 6, 7]),
        ([4, 5, 6], [8, 9, 10]),
        ([7, 8, 9], [11]),
    ]


def test_warmup_shifts_the_first_sample() -> None:
    assert folds(WalkForwardSplit(**SMALL, warmup=1), 12) == [
        ([3, 4], [6, 7, 8]),
        ([3, 4, 5, 6, 7], [9, 10, 11]),
    ]


def test_start_and_end_bound_the_forecast_rows() -> None:
    assert folds(WalkForwardSplit(**SMALL, start=7, end=10), 12) == [
        ([2, 3, 4, 5], [7, 8, 9]),
        ([2, 3, 4, 5, 6, 7, 8], [10]),
    ]
    # a start before the first possible retrain is moved to it
    assert folds(WalkForwardSplit(**SMALL, start=0, end=7), 12) == [([2, 3], [5, 6, 7])]


def test_dates_resolve_to_bars() -> None:
    index = pd.bdate_range("2024-01-01", periods=12, name="date")  # Mon 01-01 .. Tue 01-16
    splitter = WalkForwardSplit(**SMALL, start="2024-01-06", end="2024-01-14")  # a Saturday, a Sunday
    # start -> the next bar (Mon 01-08, row 5); end -> the previous bar (Fri 01-12, row 9)
    assert folds(splitter, index) == [([2, 3], [5, 6, 7]), ([2, 3, 4, 5, 6], [8, 9])]
    assert splitter.retrain_rows(pd.DataFrame(index=index)).tolist() == [5, 8]
    assert splitter.get_n_splits(index) == 2


def test_every_fold_respects_the_timing_contract() -> None:
    n, lookback, horizon, warmup = 200, 10, 3, 1
    splitter = WalkForwardSplit(lookback, horizon, retrain_every=7, train_window=50, min_train=20, warmup=warmup)
    forecast_rows = []
    for train, test in splitter.split(n):
        tau = test[0]
        assert train.max() + horizon == tau  # newest label is the retrain bar's open
        assert train.min() - lookback + 1 >= warmup
        assert len(train) <= 50
        forecast_rows.extend(test.tolist())
    first = warmup + lookback - 1 + horizon + 20 - 1
    assert forecast_rows == list(range(first, n))  # every row once, in order


def test_too_few_rows() -> None:
    match = r"no fold fits in 5 rows: the first retrain is at row 5 .* the last forecast row is 4"
    with pytest.raises(DataError, match=match):
        list(WalkForwardSplit(**SMALL).split(5))


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match=r"train_window=2 is smaller than min_train=5"):
        WalkForwardSplit(3, 2, train_window=2, min_train=5)
    with pytest.raises(ConfigError, match=r"retrain_every=0 must be >= 1"):
        WalkForwardSplit(3, 2, retrain_every=0)
    with pytest.raises(ConfigError, match=r"start='2024-01-06' is a date; pass the bars"):
        list(WalkForwardSplit(**SMALL, start="2024-01-06").split(12))
    with pytest.raises(ConfigError, match=r"end=12 is outside the rows 0..11"):
        list(WalkForwardSplit(**SMALL, end=12).split(12))


def test_row_position() -> None:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-05"], name="date")
    assert row_position("2024-01-04", index, name="until", side="at_or_before") == 1
    assert row_position("2024-01-04", index, name="start", side="at_or_after") == 2
    assert row_position(np.int64(2), index, name="until", side="at_or_before") == 2
    match = r"until=2024-01-01 has no bar at or before it; the bars run 2024-01-02..2024-01-05"
    with pytest.raises(ConfigError, match=match):
        row_position("2024-01-01", index, name="until", side="at_or_before")
