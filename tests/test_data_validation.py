"""Bad inputs raise clear errors naming the file, the date and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from rnnstrategy.data import load_bars, validate_bars
from rnnstrategy.errors import DataError

HEADER = ",date,open,close,high,low,volume,code\n"
GOOD_ROWS = [
    "0,2020-04-20,1220.0,1227.0,1231.0,1210.0,30000,600519",
    "1,2020-04-21,1221.0,1210.0,1225.0,1205.0,31000,600519",
    "2,2020-04-22,1211.0,1250.0,1255.0,1208.0,32000,600519",
]


def write(tmp_path, rows, header=HEADER, name="SH600519.csv"):
    path = tmp_path / name
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_good_file_loads(tmp_path):
    bars = load_bars(write(tmp_path, GOOD_ROWS))
    assert len(bars) == 3 and bars["volume"].tolist() == [3_000_000.0, 3_100_000.0, 3_200_000.0]


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"empty.csv: the file is empty"):
        load_bars(path)


def test_header_only(tmp_path):
    with pytest.raises(DataError, match=r"SH600519.csv: no bars \(the file has a header but no rows\)"):
        load_bars(write(tmp_path, []))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope.csv: no such file; give the path of a CSV"):
        load_bars(tmp_path / "nope.csv")


def test_unknown_format(tmp_path):
    with pytest.raises(DataError, match=r"unknown bar format with columns Date, Px; supported: tushare get_k_data"):
        load_bars(write(tmp_path, ["2020-01-02,3"], header="Date,Px\n"))


def test_missing_columns(tmp_path):
    header = "ts_code,trade_date,open,high,low,vol\n"
    with pytest.raises(DataError, match=r"looks like tushare_pro bars but is missing column\(s\) close"):
        load_bars(write(tmp_path, ["600519.SH,20200420,1,2,1,5"], header=header))


def test_non_numeric_value(tmp_path):
    rows = [*GOOD_ROWS[:2], "2,2020-04-22,1211.0,1250.0x,1255.0,1208.0,32000,600519"]
    with pytest.raises(DataError, match=r"non-numeric close '1250.0x' on 2020-04-22 \(data row 3, 1 such value\(s\)\)"):
        load_bars(write(tmp_path, rows))


def test_unreadable_date(tmp_path):
    rows = [*GOOD_ROWS[:2], "2,22/04/2020,1211.0,1250.0,1255.0,1208.0,32000,600519"]
    with pytest.raises(DataError, match=r"unreadable date '22/04/2020' in data row 3; tushare_k dates look like 2020-04-24"):
        load_bars(write(tmp_path, rows))


def test_nan_price(tmp_path):
    rows = [*GOOD_ROWS[:2], "2,2020-04-22,,1250.0,1255.0,1208.0,32000,600519"]
    with pytest.raises(DataError, match=r"bad bar\(s\): NaN price on 2020-04-22\. .*strict=False"):
        load_bars(write(tmp_path, rows))


def test_duplicate_dates(tmp_path):
    rows = [*GOOD_ROWS, "3,2020-04-22,1211.0,1250.0,1255.0,1208.0,32000,600519"]
    with pytest.raises(DataError, match=r"duplicate date\(s\) 2020-04-22; keep one row per trading day"):
        load_bars(write(tmp_path, rows))


def test_high_below_low(tmp_path):
    rows = [*GOOD_ROWS[:2], "2,2020-04-22,1211.0,1250.0,1200.0,1208.0,32000,600519"]
    with pytest.raises(DataError, match=r"high < low on 2020-04-22"):
        load_bars(write(tmp_path, rows))


def test_open_outside_range(tmp_path):
    rows = [*GOOD_ROWS[:2], "2,2020-04-22,1260.0,1250.0,1255.0,1208.0,32000,600519"]
    with pytest.raises(DataError, match=r"open/close outside \[low, high\] on 2020-04-22"):
        load_bars(write(tmp_path, rows))


def test_non_positive_price(tmp_path):
    rows = [*GOOD_ROWS[:2], "2,2020-04-22,0.0,1250.0,1255.0,0.0,32000,600519"]
    with pytest.raises(DataError, match=r"non-positive price on 2020-04-22"):
        load_bars(write(tmp_path, rows))


def test_too_few_rows(tmp_path):
    with pytest.raises(DataError, match=r"3 bar\(s\) \(2020-04-20..2020-04-22\) but at least 61 are needed"):
        load_bars(write(tmp_path, GOOD_ROWS), min_rows=61)


def test_empty_range(tmp_path):
    with pytest.raises(DataError, match=r"no bars between 2021-01-01 and the end"):
        load_bars(write(tmp_path, GOOD_ROWS), start="2021-01-01")


def test_bad_dates_and_adjust(tmp_path):
    path = write(tmp_path, GOOD_ROWS)
    with pytest.raises(DataError, match=r"start='yesterday' is not a date"):
        load_bars(path, start="yesterday")
    with pytest.raises(DataError, match=r"start=2020-04-22 is after end=2020-04-20"):
        load_bars(path, start="2020-04-22", end="2020-04-20")
    with pytest.raises(DataError, match=r"adjust='forward' is not one of"):
        load_bars(path, adjust="forward")


def test_neither_file_nor_symbol():
    with pytest.raises(DataError, match=r"'moutai' is neither an existing CSV file nor an A-share symbol"):
        load_bars("moutai")


def test_lenient_drops_and_reports(tmp_path, caplog):
    rows = [*GOOD_ROWS, "3,2020-04-23,1260.0,1250.0,1255.0,1208.0,32000,600519", "4,2020-04-24,,1,1,1,1,600519"]
    bars = load_bars(write(tmp_path, rows), strict=False)
    assert len(bars) == 3
    dropped = bars.attrs["dropped"]
    assert dropped.count == 2
    assert "dropped 2 bad row(s) (NaN price: 2020-04-24; open/close outside [low, high]: 2020-04-23)" in str(dropped)
    assert "dropped 2 bad row(s)" in caplog.text


def test_unsorted_input_is_sorted(tmp_path):
    bars = load_bars(write(tmp_path, list(reversed(GOOD_ROWS))))
    assert bars.index.is_monotonic_increasing


def test_validate_rejects_tz_aware_index():
    frame = pd.DataFrame(
        {"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]},
        index=pd.DatetimeIndex(["2020-01-02"], tz="Asia/Shanghai", name="date"),
    )
    with pytest.raises(DataError, match="tz-naive DatetimeIndex"):
        validate_bars(frame, "frame")


def test_gbk_encoded_akshare_file(tmp_path):
    text = "日期,开盘,收盘,最高,最低,成交量,成交额\n2020-01-02,4100.0,4150.0,4160.0,4090.0,1000,5000.0\n"
    path = tmp_path / "sh000300.csv"
    path.write_bytes(text.encode("gbk"))
    bars = load_bars(path)
    assert bars.iloc[0].tolist() == [4100.0, 4160.0, 4090.0, 4150.0, 100_000.0, 5000.0]
