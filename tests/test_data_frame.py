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


# --- the range a run reads: history rows before start, then everything from start ---

PRO_HEADER = "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n"
DAYS = pd.bdate_range("2020-03-02", periods=12)  # 2020-03-02 .. 2020-03-17


def pro_file(tmp_path, cells=None, name="600519.SH.csv"):
    """A tushare pro_bar file (newest first) of 12 good days; ``cells`` overrides
    ``{day_number: {"open": "..."}}``."""
    cells = cells or {}
    rows = []
    for k, day in enumerate(DAYS):
        row = {"open": "10.0", "high": "10.5", "low": "9.5", "close": "10.2", **cells.get(k, {})}
        rows.append(f"600519.SH,{day:%Y%m%d},{row['open']},{row['high']},{row['low']},{row['close']},"
                    f"10.0,0.2,2.0,1000,1010.5")
    return write(tmp_path, list(reversed(rows)), header=PRO_HEADER, name=name)


def test_history_reads_only_the_rows_a_run_needs(tmp_path, caplog):
    caplog.set_level("INFO", logger="rnnstrategy.data.loader")
    path = pro_file(tmp_path, {0: {"open": "12.0"}})  # the oldest row: open above high
    with pytest.raises(DataError, match=r"open/close outside \[low, high\] on 2020-03-02"):
        load_bars(path)
    bars = load_bars(path, start=DAYS[8], history=3)
    assert list(bars.index) == list(DAYS[5:])
    assert bars.attrs["read_from"] == DAYS[5] and bars.attrs["rows_not_read"] == 5
    assert "dropped" not in bars.attrs
    assert ("600519.SH.csv: read 7 row(s) from 2020-03-09 (history=3 before start=2020-03-12); "
            "5 older row(s) not read") in caplog.text
    assert list(load_bars(path, start=DAYS[8]).index) == list(DAYS[8:])  # no history: from start


def test_cells_before_the_range_are_not_parsed(tmp_path):
    path = pro_file(tmp_path, {1: {"close": "1O.2"}})
    with pytest.raises(DataError, match=r"non-numeric close '1O.2' on 20200303 \(data row 11, 1 such"):
        load_bars(path)
    assert load_bars(path, start=DAYS[8], history=3).index[0] == DAYS[5]


def test_a_bad_row_inside_the_range_raises_or_is_dropped_and_reported(tmp_path, caplog):
    path = pro_file(tmp_path, {6: {"open": "12.0"}})
    with pytest.raises(DataError, match=r"open/close outside \[low, high\] on 2020-03-10\. .*strict=False"):
        load_bars(path, start=DAYS[8], history=3)
    bars = load_bars(path, start=DAYS[8], history=3, strict=False)
    assert list(bars.index) == [DAYS[5], *DAYS[7:]]  # rows are counted before validation
    assert bars.attrs["rows_not_read"] == 5 and bars.attrs["read_from"] == DAYS[5]
    assert str(bars.attrs["dropped"]).endswith("dropped 1 bad row(s) (open/close outside [low, high]: 2020-03-10)")
    assert "dropped 1 bad row(s)" in caplog.text


def test_errors_in_the_range_number_rows_as_in_the_file(tmp_path):
    path = pro_file(tmp_path, {9: {"high": "10.5x"}})  # newest first: day 9 is data row 3
    with pytest.raises(DataError, match=r"non-numeric high '10.5x' on 20200313 \(data row 3, 1 such value"):
        load_bars(path, start=DAYS[8], history=3)


def test_history_edges(tmp_path):
    path = pro_file(tmp_path)
    everything = load_bars(path, start=DAYS[8], history=100)  # fewer rows before start than asked
    assert len(everything) == 12 and everything.attrs["rows_not_read"] == 0
    assert everything.attrs["read_from"] == DAYS[0]
    assert load_bars(path, start=DAYS[8], history=0).index[0] == DAYS[8]
    assert len(load_bars(path, history=3)) == 12  # without start there is nothing to count back from
    bounded = load_bars(path, start=DAYS[8], end=DAYS[9], history=2)
    assert list(bounded.index) == list(DAYS[6:10])
    for history in (-1, 2.5, True):
        with pytest.raises(DataError, match=r"history=.*: give the number of bars to read before start"):
            load_bars(path, start=DAYS[8], history=history)
