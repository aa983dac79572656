"""Corporate actions on raw prices: read from the adjustment factor, booked by the broker on the ex-date
(cash dividends, bonus shares, restructurings), dividend tax by holding period, buy-and-hold beside."""

import datetime as dt

import backtrader as bt
import numpy as np
import pandas as pd
import pytest
from helpers import missing_data

from rnnstrategy.ashare.corporate_actions import (
    ACTION_COLUMNS,
    corporate_actions,
    entitlement,
    read_factor_step,
)
from rnnstrategy.ashare.dividend_tax import HoldingLots, add_months, tax_step
from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
from rnnstrategy.backtrader.feed import FactorFeed, to_feed
from rnnstrategy.backtrader.results import add_result_analyzers, collect_results
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.data.records import CORPORATE_ACTION_COLUMNS
from rnnstrategy.errors import DataError

D = dt.date
MOUTAI_DIVIDEND = 21.675  # CNY a share, ex-date 2022-06-30 (2021 final dividend: 216.75 CNY per 10 shares)


def raw_bars(closes, factors, start="2022-06-20", symbol="600519.SH", volume=1e6):
    """Flat bars (open = high = low = close) at the raw ``closes`` with their ``factors``."""
    closes = np.asarray(closes, dtype=float)
    index = pd.bdate_range(start, periods=len(closes), name="date")
    bars = pd.DataFrame({"open": closes, "high": closes, "low": closes, "close": closes, "volume": volume,
                         "factor": np.asarray(factors, dtype=float)}, index=index)
    bars.attrs.update(symbol=symbol, adjust="")
    return bars


def dividend_bars(dividend=MOUTAI_DIVIDEND, close=1800.0, n=8, ex=4):
    """``close`` until the ex-date (row ``ex``), the ex-reference price ``close - dividend`` from it on."""
    closes = np.where(np.arange(n) < ex, close, close - dividend)
    factors = np.where(np.arange(n) < ex, 1.0, close / (close - dividend))
    return raw_bars(closes, factors)


class Plan(bt.Strategy):
    """Sends the orders of ``plan`` ({bar number: [(method, kwargs)]}) at that bar's close."""

    params = (("plan", None),)

    def next(self):
        for method, kwargs in self.p.plan.get(len(self), []):
            getattr(self, method)(**kwargs)


def run(bars, plan, coc=False, cash=2_000_000.0, **rules):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(cash)
    cerebro.broker.set_coc(coc)
    feed = to_feed(bars)
    cerebro.adddata(feed, name=feed._name)
    broker = use_ashare_rules(cerebro, **rules)
    cerebro.addstrategy(Plan, plan=plan)
    add_result_analyzers(cerebro)
    return collect_results(cerebro.run()[0]), broker


# -- reading the factor ---------------------------------------------------------------------------


def test_a_factor_step_reads_as_a_cash_dividend_bonus_shares_or_a_restructuring():
    cash = read_factor_step(1800.0, 1.0, 1800.0 / (1800.0 - MOUTAI_DIVIDEND))
    assert (cash.kind, cash.share_ratio) == ("dividend", 1.0)
    assert cash.cash_per_share == pytest.approx(MOUTAI_DIVIDEND, abs=1e-9)
    assert cash.reference_price == pytest.approx(1800.0 - MOUTAI_DIVIDEND)
    # 10-for-10 bonus at 50.00: the factor doubles, the reference price halves
    bonus = read_factor_step(50.0, 3.0, 6.0)
    assert (bonus.kind, bonus.share_ratio, bonus.cash_per_share, bonus.reference_price) == ("bonus", 2.0, 0.0, 25.0)
    # 600519 on 2011-07-01: 1 bonus share and 2.30 CNY per share held ... per 10 shares: 10送1派23
    ten_for_one = read_factor_step(212.63, 1.0, 1.1 * 212.63 / (212.63 - 2.30))
    assert (ten_for_one.kind, ten_for_one.share_ratio) == ("bonus", pytest.approx(1.1))
    assert ten_for_one.cash_per_share == pytest.approx(2.30, abs=1e-9)
    # a cash dividend of 9 % of the price stays cash (601088, 1.81 CNY at 19.98 on 2021-07-12) ...
    assert read_factor_step(19.98, 1.0, 19.98 / (19.98 - 1.81)).kind == "dividend"
    # ... while a pure 10-for-1 whose reference price rounds up to the fen (10.05 / 1.1 = 9.136 -> 9.14) is bonus
    rounded = read_factor_step(10.05, 1.0, 10.05 / 9.14)
    assert (rounded.kind, rounded.share_ratio, rounded.cash_per_share) == ("bonus", pytest.approx(1.1), 0.0)
    falling = read_factor_step(8.0, 2.0, 1.6)  # sz000156 on 2012-10-19: a falling factor
    assert (falling.kind, falling.cash_per_share, falling.share_ratio, falling.reference_price) == (
        "restructuring", 0.0, pytest.approx(0.8), pytest.approx(10.0))
    assert read_factor_step(10.0, 1.2345678, 1.2345678 * (1 + 5e-7)) is None  # float32 noise
    with pytest.raises(DataError, match=r"factor nan is not a positive number; fix the bars' close or factor"):
        read_factor_step(10.0, 1.0, float("nan"))


def test_an_entitlement_keeps_the_value_at_the_reference_price():
    bonus = read_factor_step(13.0, 1.0, 1.3)  # 10送3 at 13.00: reference 10.00
    got = entitlement(155, bonus)  # 201.5 shares: 201 and half a share in cash
    assert (got.shares_after, got.dividend, got.cash_in_lieu, got.cash) == (201, 0.0, 5.0, 5.0)
    assert got.shares_after * bonus.reference_price + got.cash == pytest.approx(155 * 13.0)
    dividend = read_factor_step(1800.0, 1.0, 1800.0 / (1800.0 - MOUTAI_DIVIDEND))
    assert entitlement(300, dividend).cash == 6502.5  # 300 x 21.675, to the fen


def test_the_table_of_actions_of_a_frame():
    bars = raw_bars([20.0, 20.0, 19.5, 19.5, 9.75, 9.75], [1.0, 1.0, 20 / 19.5, 20 / 19.5, 40 / 19.5, 40 / 19.5])
    table = corporate_actions(bars)
    assert list(table.columns) == list(ACTION_COLUMNS)
    assert table["date"].dt.strftime("%Y-%m-%d").tolist() == ["2022-06-22", "2022-06-24"]
    assert table["kind"].tolist() == ["dividend", "bonus"]
    assert table["cash_per_share"].tolist() == pytest.approx([0.5, 0.0])
    assert table["share_ratio"].tolist() == pytest.approx([1.0, 2.0])
    assert set(table["symbol"]) == {"600519.SH"}
    with pytest.raises(DataError, match=r"600519.SH: no 'factor' column"):
        corporate_actions(bars.drop(columns="factor"))


# -- the broker on the ex-date --------------------------------------------------------------------


def test_a_holder_before_the_ex_date_gets_the_dividend_and_the_value_is_continuous():
    bars = dividend_bars()
    result, broker = run(bars, {1: [("buy", {"size": 300})]})  # filled at the open of bar 2
    assert isinstance(broker.cerebro.datas[0], FactorFeed)
    booked = result.corporate_actions
    assert list(booked.columns) == list(CORPORATE_ACTION_COLUMNS)
    assert len(booked) == 1
    row = booked.iloc[0]
    assert (row["date"], row["kind"], row["shares_before"], row["shares_after"], row["tax"]) == (
        D(2022, 6, 24), "dividend", 300, 300, 0.0)
    assert row["cash"] == pytest.approx(300 * MOUTAI_DIVIDEND, rel=1e-12)  # 6,502.50 CNY before tax
    cash, value = result.equity["cash"], result.equity["value"]
    assert cash.diff().loc["2022-06-24"] == pytest.approx(6502.5)
    # cash + shares x raw close is continuous: the ex-date opens at the reference price, which here is its close
    assert value.loc["2022-06-24"] == pytest.approx(value.loc["2022-06-23"], abs=0.01)
    assert broker.getposition(broker.cerebro.datas[0]).price == pytest.approx(1800.0 - MOUTAI_DIVIDEND)


def test_who_gets_the_dividend_around_the_ex_date_open():
    bars = dividend_bars()
    # a buy at the ex-date's open comes after the record date: no dividend
    late, _ = run(bars, {4: [("buy", {"size": 100})]})
    assert late.trades["date"].tolist() == [D(2022, 6, 24)] and late.corporate_actions.empty
    # a sell at the ex-date's open still held the shares at the close before: the dividend is paid
    sold, _ = run(bars, {1: [("buy", {"size": 100})], 4: [("sell", {"size": 100})]})
    assert sold.trades["date"].tolist() == [D(2022, 6, 21), D(2022, 6, 24)]
    assert sold.corporate_actions["cash"].tolist() == [2167.5]
    # a buy at the close before the ex-date (cheat-on-close) is on the register: paid
    on_close, _ = run(bars, {4: [("buy", {"size": 100})]}, coc=True)
    assert on_close.trades["date"].tolist() == [D(2022, 6, 23)]
    assert on_close.corporate_actions["cash"].tolist() == [2167.5]


def test_a_ten_for_ten_bonus_doubles_the_shares_and_a_sell_at_half_the_price_is_no_limit_down():
    closes = [50.0, 50.0, 50.0, 25.0, 25.0, 25.0]
    bars = raw_bars(closes, [1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    # bought at the open of 06-21; a sell of 1,000 sent at the close before the ex-date fills at its open
    result, broker = run(bars, {1: [("buy", {"size": 1000})], 3: [("sell", {"size": 1000})]})
    row = result.corporate_actions.iloc[0]
    assert (row["date"], row["kind"], row["share_ratio"], row["shares_before"], row["shares_after"], row["cash"]) == (
        D(2022, 6, 23), "bonus", 2.0, 1000, 2000, 0.0)
    assert result.equity["position"].tolist() == [0, 1000, 1000, 1000, 1000, 1000]  # 2,000 less the 1,000 sold
    value = result.equity["value"]
    assert value.iloc[3] == pytest.approx(value.iloc[2] - result.trades["commission"].iloc[1]
                                          - result.trades["stamp_duty"].iloc[1] - result.trades["transfer_fee"].iloc[1])
    # the sell at 25.00 fills: the limit is judged from the reference price 25.00, not from the 50.00 close
    assert result.trades[["side", "size", "price"]].values.tolist() == [["buy", 1000, 50.0], ["sell", 1000, 25.0]]
    assert not broker.refusals
    assert broker.getposition(broker.cerebro.datas[0]).price == pytest.approx(25.0)  # cost per share halves


def test_a_falling_factor_is_booked_as_a_share_change_that_keeps_the_value(caplog):
    bars = raw_bars([8.0, 8.0, 8.0, 10.0, 10.0], [2.0, 2.0, 2.0, 1.6, 1.6])
    with caplog.at_level("WARNING", logger="rnnstrategy.backtrader.actions"):
        result, _ = run(bars, {1: [("buy", {"size": 1000})]})
    row = result.corporate_actions.iloc[0]
    assert (row["kind"], row["shares_before"], row["shares_after"], row["cash"]) == ("restructuring", 1000, 800, 0.0)
    assert result.equity["value"].iloc[3] == pytest.approx(result.equity["value"].iloc[2])
    assert "restructuring booked on 1000 shares" in caplog.text


def test_without_a_factor_or_with_the_rule_off_nothing_is_booked():
    bars = dividend_bars()
    plain, _ = run(bars.drop(columns="factor"), {1: [("buy", {"size": 100})]})
    off, _ = run(bars, {1: [("buy", {"size": 100})]}, corporate_actions=False)
    for result in (plain, off):
        assert result.corporate_actions.empty
        assert result.equity["cash"].diff().loc["2022-06-24"] == 0.0


def test_a_bad_factor_is_refused_by_the_feed():
    bars = dividend_bars()
    bars.iloc[3, bars.columns.get_loc("factor")] = 0.0
    with pytest.raises(DataError, match=r"600519.SH: factor is not a positive number on 2022-06-23"):
        to_feed(bars)


# -- dividend tax by holding period ---------------------------------------------------------------


def test_holding_periods_and_the_dated_rates():
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2023, 11, 5), 12) == D(2024, 11, 5)
    assert (tax_step(D(2015, 9, 7)).beyond_year, tax_step(D(2015, 9, 8)).beyond_year) == (0.05, 0.0)
    assert tax_step(D(2012, 6, 1)).within_month == 0.10


@pytest.mark.parametrize(("sold", "tax"), [
    (D(2022, 7, 1), 433.5),    # held up to a month: 20 % of 2,167.50
    (D(2022, 7, 2), 216.75),   # a day past the month: 10 %
    (D(2023, 6, 1), 216.75),   # a year to the day: still 10 %
    (D(2023, 6, 2), 0.0),      # over a year: none
])
def test_the_tax_a_sale_makes_due_follows_the_holding_period(sold, tax):
    lots = HoldingLots()
    lots.buy(D(2022, 6, 1), 100)
    assert lots.dividend(D(2022, 6, 30), MOUTAI_DIVIDEND) == 0.0  # since 2015-09-08 nothing withheld on payment
    assert lots.sell(sold, 100) == tax


def test_sales_take_the_oldest_lots_first_and_bonus_shares_keep_their_dates():
    lots = HoldingLots()
    lots.buy(None, 100)                # an opening position: counted as held over a year
    lots.buy(D(2022, 6, 20), 100)
    lots.dividend(D(2022, 6, 30), 1.0)
    lots.split(2.0, 400)               # 10-for-10: each lot doubles, the tax owed per share halves
    assert lots.sell(D(2022, 7, 5), 200) == 0.0      # the 200 shares of the opening lot
    assert lots.sell(D(2022, 7, 5), 200) == 20.0     # 20 % of the 100 CNY the second lot received
    assert lots.shares == 0
    before = HoldingLots()
    before.buy(D(2014, 1, 6), 100)
    assert before.dividend(D(2014, 6, 30), 1.0) == 5.0  # 2013-2015: 5 % withheld on payment ...
    assert before.sell(D(2014, 7, 1), 100) == 5.0       # ... and 5 % more on a sale within the year


def test_the_broker_charges_the_tax_on_the_sale_within_a_month():
    bars = dividend_bars()
    result, _ = run(bars, {1: [("buy", {"size": 100})], 6: [("sell", {"size": 100})]}, dividend_tax=True)
    booked = result.corporate_actions
    assert booked["kind"].tolist() == ["dividend", "dividend_tax"]
    assert booked["tax"].tolist() == [0.0, 433.5]
    assert booked["date"].tolist() == [D(2022, 6, 24), D(2022, 6, 28)]
    untaxed, _ = run(bars, {1: [("buy", {"size": 100})], 6: [("sell", {"size": 100})]})
    assert untaxed.equity["cash"].iloc[-1] - result.equity["cash"].iloc[-1] == pytest.approx(433.5)


# -- buy-and-hold ---------------------------------------------------------------------------------


def test_buy_and_hold_books_the_same_dividends():
    bars = dividend_bars()
    held = run_buy_and_hold(bars, cash=1_000_000.0)
    shares = held.trades["size"].iloc[0]
    assert shares == 500  # 1,000,000 at 1,800.00 with fees: 5 lots
    assert held.corporate_actions["cash"].tolist() == [pytest.approx(shares * MOUTAI_DIVIDEND)]
    value = held.equity["value"]
    assert value.loc["2022-06-24"] == pytest.approx(value.loc["2022-06-23"], abs=0.01)


def test_a_backtest_of_raw_bars_with_a_factor_reports_what_it_booked():
    """The API path: the frame's factor reaches the feed; the run's report carries the bookings
    (``corporate_actions.csv``), and buy-and-hold beside it books the same dividend."""
    import rnnstrategy as rs

    bars = dividend_bars(n=30, ex=20)
    forecasts = pd.DataFrame({"pred_open_1": 100.0, "pred_open_2": 102.0, "fold": 0}, index=bars.index[:-2])
    forecasts.attrs["symbol"] = "600519.SH"  # always +2 % expected: bought at the first open and held
    run = rs.backtest(bars, forecasts=forecasts, store=None)
    booked = run.report.corporate_actions
    assert booked[["date", "kind", "shares_after"]].values.tolist() == [[D(2022, 7, 18), "dividend", 500]]
    assert booked["cash"].tolist() == [pytest.approx(500 * MOUTAI_DIVIDEND)]
    assert run.buy_and_hold.corporate_actions["cash"].tolist() == booked["cash"].tolist()


# -- real data: 600519 across its 2022-06-30 ex-date on qlib_csi300 -------------------------------


def qlib_bars(folder, symbol):
    """Raw prices, volume and factor of ``symbol`` from a qlib data directory, read with numpy: the first
    float32 of each ``features/<symbol>/<field>.day.bin`` is its calendar index. Zero-volume rows (suspended)
    are dropped."""
    calendar = pd.to_datetime((folder / "calendars" / "day.txt").read_text().split())
    fields = {}
    for name in ("open", "high", "low", "close", "volume", "factor"):
        values = np.fromfile(folder / "features" / symbol / f"{name}.day.bin", dtype="<f4")
        start = int(values[0])
        fields[name] = pd.Series(values[1:].astype("float64"), index=calendar[start:start + len(values) - 1])
    frame = pd.DataFrame(fields).rename_axis("date")
    for name in ("open", "high", "low", "close"):
        frame[name] = frame[name] / frame["factor"]  # raw = adjusted / factor
    frame = frame[frame["volume"] > 0]
    frame.attrs.update(symbol="600519.SH", adjust="")
    return frame


@pytest.mark.shared_data
def test_moutai_across_its_2022_ex_date_on_qlib_csi300(data_dir):
    folder = data_dir / "qlib_csi300"
    if not (folder / "features" / "sh600519" / "factor.day.bin").is_file():
        missing_data(f"needs qlib_csi300/features/sh600519 of the shared data sets; not at {folder}")
    bars = qlib_bars(folder, "sh600519")
    assert bars.loc["2020-04-24", "close"] == pytest.approx(1250.56, abs=0.01)  # as traded
    table = corporate_actions(bars.loc["2011-01-01":"2022-12-31"])
    ten_for_one = table[table["date"] == "2011-07-01"].iloc[0]  # 10送1派23
    assert (ten_for_one["kind"], ten_for_one["share_ratio"]) == ("bonus", pytest.approx(1.1))
    assert ten_for_one["cash_per_share"] == pytest.approx(2.30, abs=0.01)
    window = bars.loc["2022-06-01":"2022-07-15"]
    result, _ = run(window, {3: [("buy", {"size": 300})]}, cash=1_000_000.0)
    bought = result.trades.iloc[0]
    assert bought["price"] == pytest.approx(window["open"].iloc[3], rel=1e-12)  # a raw open
    row = result.corporate_actions.iloc[0]
    assert (row["date"], row["kind"], row["shares_after"]) == (D(2022, 6, 30), "dividend", 300)
    assert row["cash"] / 300 == pytest.approx(MOUTAI_DIVIDEND, rel=1e-3)
    # the value moves across the ex-date by the day's price move only, not by the dividend
    equity, close = result.equity, window["close"]
    move = 300 * (close.loc["2022-06-30"] - close.loc["2022-06-29"] * (1 - MOUTAI_DIVIDEND / close.loc["2022-06-29"]))
    change = equity.loc["2022-06-30", "value"] - equity.loc["2022-06-29", "value"]
    assert change == pytest.approx(move, abs=300 * 0.02)
