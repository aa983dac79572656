"""Every real CSV in the shared data folder loads into a valid canonical frame."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from rnnstrategy.data import AkshareSource, BarCache, is_securities_file, load_bars
from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.config import ForecastConfig

# Early-1990s rows of three files whose open or close lies outside [low, high]
# (checked by hand in the raw files); strict loading refuses them.
KNOWN_BAD_ROWS = {
    "000001.SZ.csv": ["1992-08-03"],
    "000004.SZ.csv": ["1991-10-09", "1992-02-25", "1993-08-09"],
    "600690.SH.csv": ["1994-04-04"],
}
# a one-day spike of +106 % and back (close 16.04, 33.01, 18.00) after price limits began on
# 1996-12-16: a mis-adjusted bar of the qfq source (000627.SZ of stocks_liquid300 has the same)
KNOWN_IMPLAUSIBLE = {"000651.SZ.csv": ["1996-12-27"]}


def _all_bar_files(data_dir):
    stocks = sorted(p for p in (data_dir / "stocks_tushare_qfq").glob("*.csv") if not is_securities_file(p))
    return [data_dir / "SH600519.csv", *sorted((data_dir / "index").glob("*.csv")), *stocks]


def _assert_canonical(bars: pd.DataFrame) -> None:
    assert isinstance(bars.index, pd.DatetimeIndex) and bars.index.tz is None
    assert bars.index.name == "date"
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert list(bars.columns[:5]) == ["open", "high", "low", "close", "volume"]
    assert set(bars.columns) <= {"open", "high", "low", "close", "volume", "amount"}
    assert all(dtype == np.float64 for dtype in bars.dtypes)
    prices = bars[["open", "high", "low", "close"]]
    assert prices.notna().all().all() and (prices > 0).all().all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert bars.attrs["adjust"] in ("", "qfq", "hfq") and bars.attrs["symbol"]


@pytest.mark.shared_data
def test_all_133_files_load(data_dir):
    files = _all_bar_files(data_dir)
    assert len(files) == 133
    for path in files:
        if path.name in KNOWN_BAD_ROWS or path.name in KNOWN_IMPLAUSIBLE:
            with pytest.raises(DataError, match="open/close outside|implausible move"):
                load_bars(path)
            bars = load_bars(path, strict=False)
            dropped = {reason: [f"{d:%Y-%m-%d}" for d in dates] for reason, dates in bars.attrs["dropped"].reasons.items()}
            expected = {"open/close outside [low, high]": KNOWN_BAD_ROWS.get(path.name),
                        "implausible move against the previous close": KNOWN_IMPLAUSIBLE.get(path.name)}
            assert dropped == {reason: dates for reason, dates in expected.items() if dates}
        else:
            bars = load_bars(path)
        _assert_canonical(bars)


def test_tushare_k_units_and_symbol(moutai):
    # First row of SH600519.csv: 74,2010-04-26,88.702,87.381,89.072,87.362,107036.13,600519
    first = moutai.iloc[0]
    assert moutai.index[0] == pd.Timestamp("2010-04-26")
    assert (first.open, first.high, first.low, first.close) == (88.702, 89.072, 87.362, 87.381)
    assert first.volume == 10_703_613.0  # 107036.13 lots of 100 shares
    assert len(moutai) == 2426 and moutai.index[-1] == pd.Timestamp("2020-04-24")
    assert moutai.attrs["symbol"] == "600519.SH" and moutai.attrs["adjust"] == "qfq"
    assert "amount" not in moutai.columns


@pytest.mark.shared_data
def test_tushare_pro_is_sorted_and_converted(data_dir):
    bars = load_bars(data_dir / "stocks_tushare_qfq" / "600519.SH.csv")
    # Newest row in the file: 600519.SH,20230317,1770.0,1775.89,1736.0,1742.0,...,27022.91,4744249.369
    last = bars.iloc[-1]
    assert bars.index[-1] == pd.Timestamp("2023-03-17") and bars.index[0] == pd.Timestamp("2001-08-27")
    assert last.volume == 2_702_291.0  # lots -> shares
    assert last.amount == pytest.approx(4_744_249_369.0)  # thousand CNY -> CNY
    assert bars.attrs["symbol"] == "600519.SH"


def test_akshare_index_csv(data_dir):
    bars = load_bars(data_dir / "index" / "sh000300.csv", start="2005-01-04", end="2005-01-05")
    # 2005-01-04,994.77,982.79,994.77,980.66,7412868,4431977400.0,...
    assert list(bars.index) == [pd.Timestamp("2005-01-04"), pd.Timestamp("2005-01-05")]
    assert bars.iloc[0].tolist() == [994.77, 994.77, 980.66, 982.79, 741_286_800.0, 4_431_977_400.0]
    assert bars.attrs["symbol"] == "000300.SH" and bars.attrs["adjust"] == ""


@pytest.mark.shared_data
def test_nan_amount_is_kept_not_dropped(data_dir):
    bars = load_bars(data_dir / "stocks_tushare_qfq" / "600654.SH.csv", start="1993-12-22", end="1993-12-24")
    assert len(bars) == 3
    assert bars["amount"].isna().tolist() == [False, True, False]


def test_start_end_bound_the_rows(moutai, data_dir):
    bars = load_bars(data_dir / "SH600519.csv", start="2019-05-06", end="2020-04-24")
    assert bars.index[0] == pd.Timestamp("2019-05-06") and len(bars) == 240
    pd.testing.assert_frame_equal(bars, moutai.loc["2019-05-06":])


@pytest.mark.shared_data
def test_bad_range_of_real_file_avoided_with_start(data_dir):
    bars = load_bars(data_dir / "stocks_tushare_qfq" / "000004.SZ.csv", start="1994-01-01")
    assert bars.index[0] >= pd.Timestamp("1994-01-01")


@pytest.mark.shared_data
def test_bad_rows_older_than_a_runs_range_are_not_read(data_dir):
    history = ForecastConfig().history_needed()  # 1043 bars: the default train_window, horizon, lookback, warm-up
    for name, bad_days in KNOWN_BAD_ROWS.items():
        path = data_dir / "stocks_tushare_qfq" / name
        bars = load_bars(path, start="2018-01-02", history=history)  # strict, and no row dropped
        _assert_canonical(bars)
        assert "dropped" not in bars.attrs
        assert (bars.index < pd.Timestamp("2018-01-02")).sum() == history
        assert bars.attrs["read_from"] == bars.index[0] > pd.Timestamp(bad_days[-1])
        rows_in_file = len(path.read_text().splitlines()) - 1
        assert bars.attrs["rows_not_read"] + len(bars) == rows_in_file


@pytest.mark.shared_data
def test_a_range_reaching_back_to_bad_rows_still_refuses_them(data_dir):
    path = data_dir / "stocks_tushare_qfq" / "000004.SZ.csv"
    with pytest.raises(DataError, match=r"open/close outside \[low, high\] on 1993-08-09\. Fix the file"):
        load_bars(path, start="1994-01-03", history=200)  # reads from 1993-03; the 1991-1992 rows stay unread
    bars = load_bars(path, start="1994-01-03", history=200, strict=False)
    assert [f"{d:%Y-%m-%d}" for d in bars.attrs["dropped"].reasons["open/close outside [low, high]"]] == ["1993-08-09"]


class IndexStandIn:
    """akshare's ``index_zh_a_hist`` over the real akshare CSV of the CSI 300."""

    def __init__(self, csv_path):
        self.frame = pd.read_csv(csv_path, dtype={"日期": str})
        self.calls = []

    def index_zh_a_hist(self, symbol, period, start_date, end_date):
        self.calls.append((start_date, end_date))
        dates = self.frame["日期"].str.replace("-", "")
        return self.frame[(dates >= start_date) & (dates <= end_date)].reset_index(drop=True)


def test_a_symbols_range_is_cut_like_a_files(data_dir, tmp_path):
    path = data_dir / "index" / "sh000300.csv"
    api = IndexStandIn(path)
    akshare = AkshareSource(cache=BarCache(tmp_path), backoff=0, api=api, today=dt.date(2023, 10, 10))
    bars = load_bars("sh000300", start="2020-01-02", history=5, akshare=akshare)
    expected = load_bars(path, start="2020-01-02", history=5)
    pd.testing.assert_frame_equal(bars, expected, check_freq=False)
    assert bars.index[0] == pd.Timestamp("2019-12-25") and bars.attrs["rows_not_read"] == expected.attrs["rows_not_read"]
    assert api.calls[0][0] <= "20050104"  # history counts bars, not days: all of it is fetched, then cut
