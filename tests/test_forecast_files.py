"""Forecast frames on disk: exact round trip, metadata, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnstrategy.data.forecast_files import (
    forecast_horizon,
    meta_path,
    read_forecasts,
    write_forecasts,
)
from rnnstrategy.errors import DataError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    index = pd.DatetimeIndex(pd.bdate_range("2020-01-01", periods=6).to_numpy(), name="date")
    values = 1000 * np.exp(rng.normal(0, 0.02, (6, 2)))  # full-precision floats
    out = pd.DataFrame(values, index=index, columns=["pred_open_1", "pred_open_2"])
    out["fold"] = [0, 0, 0, 1, 1, 1]
    out["open_1"] = [*values[1:, 0].round(2), np.nan]
    out["open_2"] = [*values[2:, 0].round(2), np.nan, np.nan]
    out.attrs = {"symbol": "600519.SH", "config": {"horizon": 2, "hidden": [8]}}
    return out


def test_round_trip_is_exact(frame, tmp_path):
    path = write_forecasts(frame, tmp_path / "forecasts.csv")
    assert meta_path(path) == tmp_path / "forecasts.meta.json"
    back = read_forecasts(path)
    pd.testing.assert_frame_equal(back, frame, check_index_type=False)
    assert back.index.equals(frame.index)
    assert back.attrs == frame.attrs
    assert path.read_text().splitlines()[0] == "date,pred_open_1,pred_open_2,fold,open_1,open_2"
    assert path.read_text().splitlines()[1].startswith("2020-01-01,")
    assert not list(tmp_path.glob("*.tmp"))


def test_reads_without_metadata(frame, tmp_path):
    path = write_forecasts(frame, tmp_path / "f.csv")
    meta_path(path).unlink()
    back = read_forecasts(path)
    assert back.attrs == {} and back["pred_open_1"].tolist() == frame["pred_open_1"].tolist()


def test_horizon_from_columns(frame):
    assert forecast_horizon(frame) == 2
    assert forecast_horizon(frame[["pred_open_1"]]) == 1
    with pytest.raises(DataError, match=r"needs columns pred_open_1 … pred_open_H"):
        forecast_horizon(frame[["pred_open_2", "fold"]])


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv does not exist; write one with write_forecasts"):
        read_forecasts(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("day,pred_open_1\n2020-01-01,1.0\n", r"not a forecast CSV with a 'date' column"),
        ("date,open_1\n2020-01-01,1.0\n", r"needs columns pred_open_1"),
        ("date,pred_open_1\n2020-01-02,1.0\n2020-01-01,1.0\n", r"ascending and unique"),
        ("date,pred_open_1\n2020-01-01,1.0\n2020-01-02,\n", r"2020-01-02 is empty or not finite"),
        ("date,pred_open_1\n2020-01-01,abc\n", r"column 'pred_open_1' is not numeric"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_forecasts(path)
