"""A stand-in for akshare that answers in akshare's own formats, offline, for the universe fetch tests.

``stock_zh_a_hist(adjust="")`` answers as akshare 1.19 does (``akshare/stock_feature/stock_hist_em.py``):
the twelve columns ``日期 股票代码 开盘 收盘 最高 最低 成交量 成交额 振幅 涨跌幅 涨跌额 换手率``, ``日期`` as
``datetime.date`` objects, ``成交量`` in lots (int64), the rows of ``start_date..end_date``; an empty frame
when there are none. ``stock_zh_a_daily(adjust="hfq-factor")`` answers as ``akshare/stock/stock_zh_a_sina.py``
does: columns ``date`` (datetime64) and ``hfq_factor`` (text), one row per ex-date, newest first, ending
with sina's ``1900-01-01`` row of factor 1. ``index_zh_a_hist`` serves the bundled real akshare output
``index/sh000300.csv`` (``日期`` as text, as ``akshare/index/index_zh_em.py`` leaves it).

The numbers are real: raw prices and volumes of 600519.SH, 000001.SZ and 600036.SH on 2022-06-24..2022-07-22
and their back-adjustment factors (each stock goes ex once in that window: 2022-06-30, 2022-07-22 and
2022-07-15), read from ../shared/data/qlib_csi300 (raw = adjusted / factor, volume / 100 in lots). That
directory holds no traded value, so ``成交额`` is volume × the mean of the four prices, and ``换手率`` a
placeholder; ``振幅 涨跌幅 涨跌额`` follow from the prices.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pandas as pd

from rnnstrategy import datasets

ROWS = {
    "600519": """\
2022-06-24,1970.00,2020.00,1965.00,2009.01,39635
2022-06-27,2019.94,2049.94,2000.30,2010.55,40115
2022-06-28,2019.74,2041.00,2001.00,2036.00,25246
2022-06-29,2028.00,2042.00,2011.01,2030.00,30360
2022-06-30,2000.00,2077.00,1999.99,2045.00,38982
2022-07-01,2055.00,2067.77,2015.21,2029.05,21596
2022-07-04,2020.01,2024.29,2001.01,2018.00,25076
2022-07-05,2025.28,2054.45,2010.00,2033.01,26329
2022-07-06,2032.00,2039.00,1986.00,2002.00,32752
2022-07-07,2005.00,2009.35,1985.01,1990.00,20932
2022-07-08,2005.00,2014.89,1996.16,1999.00,15644
2022-07-11,1990.20,1994.77,1950.50,1963.60,23949
2022-07-12,1965.00,1972.80,1930.06,1948.41,23447
2022-07-13,1945.00,1972.00,1940.67,1958.89,19854
2022-07-14,1960.00,1976.80,1941.00,1953.00,20527
2022-07-15,1945.11,1999.68,1944.51,1949.50,33416
2022-07-18,1952.36,1959.00,1922.00,1951.66,24221
2022-07-19,1945.00,1951.65,1926.00,1943.10,21956
2022-07-20,1958.75,1970.00,1945.00,1950.10,18705
2022-07-21,1943.10,1955.90,1934.51,1939.00,14061
2022-07-22,1949.22,1962.00,1935.00,1947.00,25114
""",
    "000001": """\
2022-06-24,14.20,14.25,14.11,14.23,866041
2022-06-27,14.24,14.56,14.22,14.49,1497278
2022-06-28,14.47,14.67,14.41,14.63,1125110
2022-06-29,14.65,14.90,14.55,14.64,1266547
2022-06-30,14.63,15.02,14.55,14.98,1548745
2022-07-01,15.00,15.07,14.84,14.92,779243
2022-07-04,14.95,14.98,14.75,14.94,834968
2022-07-05,14.99,15.27,14.82,14.91,1115172
2022-07-06,14.83,14.93,14.46,14.53,1043335
2022-07-07,14.54,14.65,14.38,14.42,730161
2022-07-08,14.50,14.65,14.37,14.54,639698
2022-07-11,14.50,14.57,14.36,14.46,611692
2022-07-12,14.41,14.73,14.38,14.42,742882
2022-07-13,14.42,14.47,13.89,13.97,2175996
2022-07-14,13.70,13.71,13.29,13.37,2632121
2022-07-15,13.48,13.56,13.22,13.24,1598637
2022-07-18,13.25,13.44,13.21,13.39,1153506
2022-07-19,13.34,13.43,13.28,13.42,755597
2022-07-20,13.43,13.47,13.35,13.39,801459
2022-07-21,13.32,13.34,12.99,13.01,1970388
2022-07-22,12.84,12.93,12.62,12.81,1376510
""",
    "600036": """\
2022-06-24,40.27,40.59,39.66,40.20,639950
2022-06-27,40.33,41.36,40.15,41.25,893408
2022-06-28,41.10,41.42,40.90,41.28,499164
2022-06-29,41.27,41.71,40.99,41.01,622804
2022-06-30,41.04,42.70,40.96,42.20,832628
2022-07-01,42.38,42.38,41.21,41.38,695748
2022-07-04,41.28,41.37,40.80,41.05,486918
2022-07-05,41.46,41.67,40.76,40.98,534538
2022-07-06,40.96,41.09,39.60,39.80,885266
2022-07-07,39.80,40.17,39.55,39.75,508129
2022-07-08,40.20,40.22,39.63,39.81,480361
2022-07-11,39.58,39.69,39.20,39.44,403755
2022-07-12,39.36,39.80,39.03,39.30,580630
2022-07-13,39.07,39.25,37.69,37.90,1410831
2022-07-14,37.17,37.19,35.50,36.48,2325234
2022-07-15,35.10,35.96,34.86,34.87,1382452
2022-07-18,35.15,35.84,35.01,35.63,903080
2022-07-19,35.50,35.85,35.20,35.71,537814
2022-07-20,35.94,36.12,35.71,35.85,469689
2022-07-21,35.54,35.83,35.37,35.46,466241
2022-07-22,35.55,36.05,35.25,35.59,510333
""",
}
"""date,open,high,low,close,lots of each stock (the first row only gives the previous close)."""

FACTORS = {
    "sh600519": [("2023-06-30", "6.8898"), ("2022-12-27", "6.7856"), ("2022-06-30", "6.700286"),
                 ("2021-06-25", "6.628762")],
    "sz000001": [("2023-06-14", "104.8769"), ("2022-07-22", "102.382019"), ("2021-05-14", "100.572052")],
    "sh600036": [("2023-07-13", "4.926"), ("2022-07-15", "4.667848"), ("2021-07-13", "4.473354")],
}
"""sina's ex-dates and factors (newest first) from 2021 on; the 1900-01-01 row is added when served."""

SYMBOLS = ("600519.SH", "000001.SZ", "600036.SH")
INDEX_CSV = Path(datasets.path("moutai")).parent / "index" / "sh000300.csv"
"""Real akshare index_zh_a_hist output of CSI 300, bundled with the package."""


def hist_frame(code: str) -> pd.DataFrame:
    """The whole ``stock_zh_a_hist(code, adjust="")`` answer for the window, in akshare's columns and types."""
    rows = pd.read_csv(io.StringIO(ROWS[code]), header=None, names=["date", "open", "high", "low", "close", "lots"])
    previous = rows["close"].shift()
    frame = pd.DataFrame({
        "日期": pd.to_datetime(rows["date"]).dt.date,
        "股票代码": code,
        "开盘": rows["open"], "收盘": rows["close"], "最高": rows["high"], "最低": rows["low"],
        "成交量": rows["lots"].astype("int64"),
        "成交额": (rows["lots"] * 100 * rows[["open", "high", "low", "close"]].mean(axis=1)).round(1),
        "振幅": ((rows["high"] - rows["low"]) / previous * 100).round(2),
        "涨跌幅": ((rows["close"] / previous - 1) * 100).round(2),
        "涨跌额": (rows["close"] - previous).round(2),
        "换手率": 0.5,
    })
    return frame.iloc[1:].reset_index(drop=True)


def factor_frame(symbol: str) -> pd.DataFrame:
    """The ``stock_zh_a_daily(symbol, adjust="hfq-factor")`` answer, in akshare's columns and types."""
    events = [*FACTORS[symbol], ("1900-01-01", "1.0")]
    return pd.DataFrame({"date": pd.to_datetime([day for day, _ in events]), "hfq_factor": [f for _, f in events]})


class FakeAkshare:
    """``stock_zh_a_hist`` and ``stock_zh_a_daily`` over :data:`ROWS` and :data:`FACTORS`, recording calls.

    Args:
        fail: calls that raise ``ConnectionError``, by akshare symbol (``600519`` for stock_zh_a_hist,
            ``sh600519`` for stock_zh_a_daily): how many times (a large number: always).
        interrupt: an akshare symbol whose call raises KeyboardInterrupt (Ctrl-C), once.
        hang: an akshare symbol whose call waits until the process is interrupted.
        empty: stock_zh_a_hist symbols that have no bars.
        factors: replacement answers of stock_zh_a_daily, by symbol.
    """

    def __init__(self, fail: dict[str, int] | None = None, interrupt: str | None = None, hang: str | None = None,
                 empty: tuple[str, ...] = (), factors: dict[str, pd.DataFrame] | None = None) -> None:
        self.fail = dict(fail or {})
        self.interrupt = interrupt
        self.hang = hang
        self.empty = empty
        self.factors = factors or {}
        self.calls: list[tuple[str, ...]] = []

    def _enter(self, name: str, symbol: str, *details: str) -> None:
        self.calls.append((name, symbol, *details))
        if symbol == self.interrupt:
            self.interrupt = None
            raise KeyboardInterrupt
        if symbol == self.hang:
            threading.Event().wait()
        if self.fail.get(symbol, 0) > 0:
            self.fail[symbol] -= 1
            raise ConnectionError(f"HTTPSConnectionPool(host='push2his.eastmoney.com'): Max retries exceeded ({symbol})")

    def stock_zh_a_hist(self, symbol, period, start_date, end_date, adjust):
        self._enter("stock_zh_a_hist", symbol, start_date, end_date, adjust)
        if symbol in self.empty or symbol not in ROWS:
            return pd.DataFrame()
        frame = hist_frame(symbol)
        days = pd.to_datetime(frame["日期"]).dt.strftime("%Y%m%d")
        return frame[(days >= start_date) & (days <= end_date)].reset_index(drop=True)

    def index_zh_a_hist(self, symbol, period, start_date, end_date):
        self._enter("index_zh_a_hist", symbol, start_date, end_date)
        frame = pd.read_csv(INDEX_CSV, dtype={"日期": str}) if symbol == "000300" else pd.DataFrame()
        days = frame["日期"].str.replace("-", "") if len(frame) else pd.Series(dtype=str)
        return frame[(days >= start_date) & (days <= end_date)].reset_index(drop=True) if len(frame) else frame

    def stock_zh_a_daily(self, symbol, start_date="19900101", end_date="21000118", adjust=""):
        self._enter("stock_zh_a_daily", symbol, adjust)
        assert adjust == "hfq-factor", adjust
        return self.factors[symbol] if symbol in self.factors else factor_frame(symbol)


def spells_csv(path, spells: str | None = None):
    """A membership CSV of spells (symbol,first,last): the three stocks and two that are no members
    in 2022-06-27..2022-07-22 (one left before, one joined after)."""
    path.write_text(spells or (
        "symbol,first,last\n"
        "600519.SH,2010-01-04,\n"
        "000001.SZ,2015-06-15,2022-07-15\n"
        "600036.SH,2022-07-22,\n"
        "600000.SH,2010-01-04,2022-06-24\n"
        "601318.SH,2022-07-25,\n"), encoding="utf-8")
    return path
