import datetime as dt

import numpy as np
import pandas as pd
import pytest

from rnnstrategy.ashare.symbols import Board, Exchange, parse_symbol, symbol_info
from rnnstrategy.errors import SymbolError


@pytest.mark.parametrize(
    "text, code, exchange",
    [
        ("600519", "600519", None),
        ("600519.SH", "600519", Exchange.SH),
        ("SH600519", "600519", Exchange.SH),
        ("sh000300", "000300", Exchange.SH),
        ("300750.sz", "300750", Exchange.SZ),
        ("bj.830799", "830799", Exchange.BJ),
    ],
)
def test_parse_symbol_spellings(text, code, exchange):
    assert parse_symbol(text) == (code, exchange)


@pytest.mark.parametrize(
    "symbol, ts_code, board",
    [
        ("600519", "600519.SH", Board.MAIN),
        ("000001", "000001.SZ", Board.MAIN),
        ("002594", "002594.SZ", Board.MAIN),
        ("300750", "300750.SZ", Board.CHINEXT),
        ("301269", "301269.SZ", Board.CHINEXT),
        ("688981", "688981.SH", Board.STAR),
        ("830799", "830799.BJ", Board.BSE),
        ("sh000300", "000300.SH", Board.INDEX),
        ("000001.SH", "000001.SH", Board.INDEX),
        ("399006", "399006.SZ", Board.INDEX),
    ],
)
def test_boards(symbol, ts_code, board):
    info = symbol_info(symbol)
    assert (info.ts_code, info.board) == (ts_code, board)


def test_bare_000001_is_the_bank_not_the_index():
    assert symbol_info("000001").board is Board.MAIN
    assert symbol_info("sh000001").is_index


def test_price_limits_by_board_and_date():
    day = dt.date(2021, 1, 4)
    assert symbol_info("600519").price_limit(day) == 0.10
    assert symbol_info("600519", name="*ST茅台").price_limit(day) == 0.05
    assert symbol_info("300750").price_limit(dt.date(2020, 8, 21)) == 0.10
    assert symbol_info("300750").price_limit(dt.date(2020, 8, 24)) == 0.20
    assert symbol_info("688981").price_limit(day) == 0.20
    assert symbol_info("830799").price_limit(day) == 0.30
    assert symbol_info("600519").price_limit(dt.date(1995, 1, 3)) is None
    assert symbol_info("sh000300").price_limit(day) is None


def test_order_sizes():
    assert symbol_info("600519").valid_order_size(250) == 200
    assert symbol_info("600519").valid_order_size(99) == 0
    star = symbol_info("688981")
    assert (star.valid_order_size(150), star.valid_order_size(250), star.valid_order_size(200.7)) == (0, 250, 200)
    bse = symbol_info("830799")
    assert (bse.valid_order_size(99), bse.valid_order_size(101)) == (0, 101)


def test_st_flag_from_name():
    assert symbol_info("600654", name="*ST中安").st
    assert symbol_info("000564", name="ST大集").st
    assert not symbol_info("600519", name="贵州茅台").st


@pytest.mark.parametrize(
    "text, match",
    [
        ("60051", "is not an A-share code"),
        ("AAPL", "is not an A-share code"),
        ("600519.SZ", r"trades on SH, not SZ; write '600519.SH'"),
        ("700000", "belongs to no A-share stock board"),
    ],
)
def test_bad_symbols(text, match):
    with pytest.raises(SymbolError, match=match):
        symbol_info(text)


def test_st_names_in_every_spelling():
    from rnnstrategy.ashare.symbols import is_st_name

    assert [is_st_name(n) for n in ("ST 中珠", "*ST 奥瑞", "S*ST 前锋", "SST 华新", " st康美", "贵州茅台")] == [
        True, True, True, True, True, False]
    assert symbol_info("600666", name="S*ST 奥瑞").st


@pytest.mark.parametrize(
    "symbol, name",
    [("600519", ""), ("600519", "*ST茅台"), ("300750", ""), ("300750", "ST宁德"), ("688981", ""), ("830799", ""),
     ("sh000300", "")],
)
def test_vectorised_price_limits_equal_price_limit_day_by_day(symbol, name):
    """price_limits (one array call, as bar validation uses it) gives price_limit's answer on every day around
    each date where a limit changes: the start of limits (1996-12-16) and ChiNext's 20 % (2020-08-24)."""
    info = symbol_info(symbol, name=name)
    days = pd.DatetimeIndex([day for first in ("1996-12-01", "2020-08-10") for day in pd.date_range(first, periods=30)])
    at_noon = days + pd.Timedelta(hours=12)  # a time of day counts as its date
    expected = np.array([np.nan if (limit := info.price_limit(day.date())) is None else limit for day in days])
    for given in (days.to_numpy(), at_noon.to_numpy(), [day.date() for day in days]):
        np.testing.assert_array_equal(info.price_limits(given), expected)
    assert {limit for _, limit in info.price_limit_steps()} == set(expected[~np.isnan(expected)])
