"""Security metadata from a tushare stock list: names, industries, listing dates, ST status."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from helpers import missing_data

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.data import (
    Security,
    find_securities_file,
    is_securities_file,
    read_securities,
)
from rnnstrategy.data.securities import is_st_name
from rnnstrategy.errors import DataError
from rnnstrategy.report.names import find_names_file, read_names, security_name

# The header of stocks_tushare_qfq/basic_stock_data.csv; rows as tushare writes them (a blank
# area and industry occur in the real file, 182 times).
STOCK_LIST = """ts_code,symbol,name,area,industry,list_date
000001.SZ,000001,平安银行,深圳,银行,19910403
600519.SH,600519,贵州茅台,贵州,白酒,20010827
600666.SH,600666,*ST瑞德,重庆,化学制药,19930616
600518.SH,600518,ST康美,广东,中成药,20010319
000033.SZ,000033,S*ST新都,深圳,房地产,19940111
600087.SH,600087,SST长油,江苏,水运,19970613
688981.SH,688981,中芯国际,,,20200716
"""


def write(folder: Path, text: str = STOCK_LIST, name: str = "basic_stock_data.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_securities_keyed_by_ts_code(tmp_path: Path) -> None:
    securities = read_securities(write(tmp_path))
    assert list(securities) == ["000001.SZ", "600519.SH", "600666.SH", "600518.SH", "000033.SZ", "600087.SH",
                                "688981.SH"]
    assert securities["600519.SH"] == Security("600519.SH", "贵州茅台", "白酒", dt.date(2001, 8, 27), st=False)
    assert securities["688981.SH"] == Security("688981.SH", "中芯国际", "", dt.date(2020, 7, 16), st=False)


def test_st_is_read_from_the_name_prefix(tmp_path: Path) -> None:
    st = {code: s.st for code, s in read_securities(write(tmp_path)).items()}
    assert st == {"000001.SZ": False, "600519.SH": False, "600666.SH": True, "600518.SH": True,
                  "000033.SZ": True, "600087.SH": True, "688981.SH": False}
    assert [is_st_name(n) for n in ("ST康美", "*ST瑞德", "S*ST新都", "SST长油", " *st 海润", "平安银行", "S佳通")] == [
        True, True, True, True, True, False, False]


def test_optional_columns_and_other_spellings(tmp_path: Path) -> None:
    only_names = read_securities(write(tmp_path, "ts_code,name\n600519.SH,贵州茅台\n"))
    assert only_names == {"600519.SH": Security("600519.SH", "贵州茅台")}
    by_symbol = read_securities(write(tmp_path, "symbol,name,list_date\n600519,贵州茅台,2001-08-27\n000001,平安银行,\n",
                                      name="list.csv"))
    assert by_symbol["600519.SH"].list_date == dt.date(2001, 8, 27)
    assert by_symbol["000001.SZ"].list_date is None


def test_rows_of_no_a_share_code_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rnnstrategy.data.securities")
    securities = read_securities(write(tmp_path, "ts_code,name\n600519.SH,贵州茅台\nAAPL,Apple\n"))
    assert list(securities) == ["600519.SH"]
    assert "skipped 1 row(s) whose code is no A-share security: 'AAPL'" in caplog.text


def test_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.csv: no such file; give a tushare stock list CSV with ts_code and "
                                        r"name columns .*basic_stock_data.csv .*RNNSTRATEGY_NAMES"):
        read_securities(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"list.csv: a stock list needs ts_code and name columns, found ts_code, "
                                        r"industry; give a tushare stock list"):
        read_securities(write(tmp_path, "ts_code,industry\n600519.SH,白酒\n", name="list.csv"))
    with pytest.raises(DataError, match=r"list_date '20011327' of 600519.SH is not a date; write it as YYYYMMDD"):
        read_securities(write(tmp_path, "ts_code,name,list_date\n600519.SH,贵州茅台,20011327\n"))
    with pytest.raises(DataError, match=r"empty.csv: the file is empty"):
        read_securities(write(tmp_path, "", name="empty.csv"))


def test_a_stock_list_is_told_from_bars_by_its_header(tmp_path: Path) -> None:
    assert is_securities_file(write(tmp_path))
    assert is_securities_file(write(tmp_path, "ts_code,name\n", name="header_only.csv"))
    bars = "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n"
    assert not is_securities_file(write(tmp_path, bars + "600519.SH,20230317,1770,1775.89,1736,1742,1,1,1,1,1\n",
                                        name="600519.SH.csv"))
    assert not is_securities_file(write(tmp_path, "ts_code,name,close\n600519.SH,贵州茅台,1742\n", name="odd.csv"))
    assert not is_securities_file(tmp_path / "missing.csv")
    assert not is_securities_file(tmp_path)


def test_find_securities_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RNNSTRATEGY_NAMES", raising=False)
    bars = write(tmp_path, "x", name="SH600519.csv")
    assert find_securities_file(bars) is None and find_securities_file(None) is None
    (tmp_path / "stocks").mkdir()
    below = write(tmp_path / "stocks")
    assert find_securities_file(bars) == below.resolve() and find_securities_file(tmp_path) == below.resolve()
    beside = write(tmp_path)
    assert find_securities_file(bars) == beside.resolve()
    assert find_names_file(bars) == beside.resolve()  # the report's names come from the same place
    monkeypatch.setenv("RNNSTRATEGY_NAMES", str(below))
    assert find_securities_file(bars) == below and find_securities_file(None) == below


def test_names_and_rules_read_the_same_list(tmp_path: Path) -> None:
    path = write(tmp_path)
    assert read_names(path)["600666.SH"] == "*ST瑞德"
    assert security_name("600519", path) == "贵州茅台"
    rules = AShareRules(securities_file=str(path)).securities(read_securities(path))
    assert rules["600666.SH"].st is True and rules["600519.SH"].st is False
    assert rules["688981.SH"].listing_date == dt.date(2020, 7, 16)


def test_the_real_stock_list(data_dir: Path) -> None:
    path = data_dir / "stocks_tushare_qfq" / "basic_stock_data.csv"
    if not path.is_file():
        missing_data(f"needs the tushare stock list of the shared data sets; not at {path} (see SOURCES.md)")
    securities = read_securities(path)
    assert len(securities) == 5122
    assert securities["600519.SH"] == Security("600519.SH", "贵州茅台", "白酒", dt.date(2001, 8, 27), st=False)
    assert securities["600518.SH"].st and securities["600518.SH"].name == "ST康美"
    assert sum(s.st for s in securities.values()) == 133
    assert sum(s.industry == "" for s in securities.values()) == 182
    assert is_securities_file(path)
    assert not any(is_securities_file(p) for p in path.parent.glob("*.csv") if p != path)
