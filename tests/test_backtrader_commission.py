import datetime as dt

import backtrader as bt
import pandas as pd
import pytest

from rnnstrategy.ashare.fees import STAMP_DUTY_SCHEDULE, Fees, FeeStep, rate_on
from rnnstrategy.backtrader.commission import AShareCommission
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError


class Plan(bt.Strategy):
    """Places the orders of ``plan`` ({date: [(method, kwargs)]}) and records completed fills."""

    params = (("plan", None),)

    def __init__(self):
        self.fills = []

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills.append(
                (bt.num2date(order.executed.dt).date(), order.executed.size, order.executed.price, order.executed.comm)
            )

    def next(self):
        for method, kwargs in self.p.plan.get(self.data.datetime.date(0), []):
            getattr(self, method)(**kwargs)


def run(feed, plan, coc=False, **rules):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(feed)
    cerebro.broker.setcash(1_000_000.0)
    cerebro.broker.set_coc(coc)
    use_ashare_rules(cerebro, **rules)
    cerebro.addstrategy(Plan, plan=plan)
    return cerebro.run()[0]


# -- the scheme on its own ---------------------------------------------------------------------


def test_fees_of_a_buy_and_a_sell_before_and_after_2023_08_28():
    fees = AShareCommission().fees
    # 100 shares at 1742.00 = 174,200.00 CNY; commission 0.025 % = 43.55;
    # transfer fee 0.001 % (from 2022-04-29) = 1.742 -> 1.74.
    assert fees(100, 1742.0, dt.date(2023, 8, 25)) == Fees(43.55, 0.0, 1.74)  # no stamp duty on buys
    assert fees(100, 1742.0, dt.date(2023, 8, 28)) == Fees(43.55, 0.0, 1.74)
    # Sells pay stamp duty: 0.1 % = 174.20 up to Friday 2023-08-25, 0.05 % = 87.10 from Monday 2023-08-28.
    assert fees(-100, 1742.0, dt.date(2023, 8, 25)) == Fees(43.55, 174.20, 1.74)
    assert fees(-100, 1742.0, dt.date(2023, 8, 28)) == Fees(43.55, 87.10, 1.74)
    assert fees(-100, 1742.0, dt.date(2023, 8, 28)).total == pytest.approx(132.39)


def test_minimum_commission_and_transfer_fee_dates():
    fees = AShareCommission().fees
    # 100 * 10.00 = 1,000 CNY: commission 0.25 -> minimum 5.00; transfer 0.002 % = 0.02 before 2022-04-29.
    assert fees(100, 10.0, dt.date(2022, 4, 28)) == Fees(5.0, 0.0, 0.02)
    assert fees(100, 10.0, dt.date(2022, 4, 29)) == Fees(5.0, 0.0, 0.01)
    assert fees(0, 10.0, dt.date(2022, 4, 29)) == Fees(0.0, 0.0, 0.0)  # no fill, no minimum
    assert AShareCommission(commission=0.0003, min_commission=0.0).fees(100, 10.0, dt.date(2023, 1, 3)).commission == 0.3


def test_stamp_duty_was_charged_on_both_sides_before_2008_09_19():
    fees = AShareCommission().fees
    # 1,000 shares at 10.00 = 10,000 CNY
    assert fees(1000, 10.0, dt.date(2008, 4, 23)).stamp_duty == 30.0  # 0.3 % from 2007-05-30
    assert fees(1000, 10.0, dt.date(2008, 4, 24)).stamp_duty == 10.0  # 0.1 % both sides
    assert fees(1000, 10.0, dt.date(2008, 9, 18)).stamp_duty == 10.0
    assert fees(1000, 10.0, dt.date(2008, 9, 19)).stamp_duty == 0.0  # sells only from here
    assert fees(-1000, 10.0, dt.date(2008, 9, 19)).stamp_duty == 10.0
    assert rate_on(STAMP_DUTY_SCHEDULE, dt.date(2006, 6, 1), is_sell=False) == 0.001  # 2005-01-24 .. 2007-05-29


def test_schedules_are_overridable_tables():
    flat = (FeeStep(dt.date(2000, 1, 1), 0.002, both_sides=False),)
    scheme = AShareCommission(stamp_duty=flat, transfer_fee=())
    assert scheme.fees(-1000, 10.0, dt.date(2023, 9, 1)) == Fees(5.0, 20.0, 0.0)
    assert scheme.fees(-1000, 10.0, dt.date(1999, 12, 31)).stamp_duty == 0.0  # before the first step
    assert AShareCommission().p.stamp_duty is STAMP_DUTY_SCHEDULE  # params are not mutated


def test_bad_parameters_are_named():
    with pytest.raises(ConfigError, match=r"commission=0.025: .* 0.025 % is commission=0.00025"):
        AShareCommission(commission=0.025)
    with pytest.raises(ConfigError, match=r"stamp_duty: steps must have increasing, distinct 'since' dates"):
        AShareCommission(stamp_duty=(FeeStep(dt.date(2020, 1, 1), 0.001), FeeStep(dt.date(2019, 1, 1), 0.001)))
    with pytest.raises(ConfigError, match=r"min_commission=-5: use 0 or a positive amount"):
        AShareCommission(min_commission=-5)
    with pytest.raises(ConfigError, match=r"needs the trade date .* AShareBroker"):
        AShareCommission().getcommission(100, 10.0)


# -- charged by the broker on real and synthetic bars -------------------------------------------


@pytest.mark.shared_data
def test_broker_charges_fees_of_real_fills_before_2023_08_28(data_dir):
    bars = load_bars(data_dir / "stocks_tushare_qfq" / "600519.SH.csv", start="2023-03-01")
    plan = {dt.date(2023, 3, 13): [("buy", {"size": 100})], dt.date(2023, 3, 15): [("sell", {"size": 100})]}
    fills = run(to_feed(bars), plan).fills
    # buy fills at the 2023-03-14 open 1763.78: 176,378.00 CNY -> commission 44.0945 -> 44.09,
    # transfer 1.76378 -> 1.76, no stamp duty: 45.85.
    # sell fills at the 2023-03-16 open 1740.00: 174,000.00 CNY -> commission 43.50,
    # stamp duty 0.1 % 174.00, transfer 1.74: 219.24.
    assert fills == [
        (dt.date(2023, 3, 14), 100, 1763.78, pytest.approx(45.85)),
        (dt.date(2023, 3, 16), -100, 1740.0, pytest.approx(219.24)),
    ]


def synthetic_bars(days, price):
    """Made-up flat bars (the real files end in March 2023): only the dates matter here."""
    index = pd.DatetimeIndex(pd.to_datetime(days), name="date")
    frame = pd.DataFrame(
        {"open": price, "high": price, "low": price, "close": price, "volume": 1e6}, index=index, dtype="float64"
    )
    frame.attrs.update(symbol="600519.SH", adjust="")
    return frame


def test_broker_dates_stamp_duty_by_the_fill_bar_around_2023_08_28():
    bars = synthetic_bars(["2023-08-23", "2023-08-24", "2023-08-25", "2023-08-28", "2023-08-29"], 1800.0)
    # Buy 100 at 1800.00 = 180,000 CNY: commission 45.00 + transfer 1.80 = 46.80.
    # Sell 100 at 1800.00: commission 45.00 + transfer 1.80 + stamp duty 180.00 (0.1 %) or 90.00 (0.05 %).
    next_open = run(
        to_feed(bars),
        {dt.date(2023, 8, 23): [("buy", {"size": 100})], dt.date(2023, 8, 25): [("sell", {"size": 100})]},
    ).fills
    assert next_open == [
        (dt.date(2023, 8, 24), 100, 1800.0, pytest.approx(46.80)),
        (dt.date(2023, 8, 28), -100, 1800.0, pytest.approx(136.80)),  # filled Monday: 0.05 %
    ]
    # Cheat-on-close: the Friday sell fills at Friday's close, although Backtrader executes it while
    # processing Monday's bar; the fee follows the trade date, Friday: 0.1 %.
    at_close = run(
        to_feed(bars),
        {dt.date(2023, 8, 24): [("buy", {"size": 100})], dt.date(2023, 8, 25): [("sell", {"size": 100})]},
        coc=True,
    ).fills
    assert at_close == [
        (dt.date(2023, 8, 24), 100, 1800.0, pytest.approx(46.80)),
        (dt.date(2023, 8, 25), -100, 1800.0, pytest.approx(226.80)),
    ]


def test_the_scheme_holds_no_trade_date_and_is_dated_per_fill():
    bars = synthetic_bars(["2023-08-23", "2023-08-24", "2023-08-25", "2023-08-28", "2023-08-29"], 1800.0)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(to_feed(bars))
    cerebro.broker.setcash(1_000_000.0)
    broker = use_ashare_rules(cerebro)
    scheme = broker.comminfo[None]
    plan = {
        dt.date(2023, 8, 23): [("buy", {"size": 200})],
        dt.date(2023, 8, 24): [("sell", {"size": 100})],  # fills Friday 08-25: stamp duty 0.1 % = 180.00
        dt.date(2023, 8, 25): [("sell", {"size": 100})],  # fills Monday 08-28: 0.05 % = 90.00
    }
    cerebro.addstrategy(Plan, plan=plan)
    fills = cerebro.run()[0].fills
    # buy 200 at 1800.00 = 360,000: commission 90.00 + transfer 3.60; each sell 180,000: 45.00 + 1.80 + stamp
    assert fills == [
        (dt.date(2023, 8, 24), 200, 1800.0, pytest.approx(93.60)),
        (dt.date(2023, 8, 25), -100, 1800.0, pytest.approx(226.80)),
        (dt.date(2023, 8, 28), -100, 1800.0, pytest.approx(136.80)),
    ]
    # nothing was written into the installed scheme: it is still undated, with no trade_date attribute
    assert broker.comminfo[None] is scheme and scheme.p.date is None and not hasattr(scheme, "trade_date")
    with pytest.raises(ConfigError, match=r"needs the trade date .* scheme.on\(date\)"):
        scheme.getcommission(-100, 1800.0)


def test_a_dated_scheme_is_a_new_scheme_with_the_same_params():
    scheme = AShareCommission(commission=0.0003)
    friday, monday = scheme.on(dt.date(2023, 8, 25)), scheme.on(dt.datetime(2023, 8, 28, 15))
    assert friday is not scheme and scheme.p.date is None
    assert (friday.p.date, monday.p.date) == (dt.date(2023, 8, 25), dt.date(2023, 8, 28))
    assert friday.p.commission == monday.p.commission == 0.0003 and friday.p.stamp_duty is STAMP_DUTY_SCHEDULE
    # sell 100 at 1800.00: commission 0.03 % = 54.00, transfer 1.80, stamp 180.00 or 90.00
    assert friday.getcommission(-100, 1800.0) == pytest.approx(235.80)
    assert monday.getcommission(-100, 1800.0) == pytest.approx(145.80)
    assert monday.fees(-100, 1800.0, dt.date(2023, 8, 25)) == friday.fees(-100, 1800.0, dt.date(2023, 8, 25))


def test_the_scheme_outside_an_ashare_broker_names_the_fix():
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(to_feed(synthetic_bars(["2023-08-23", "2023-08-24", "2023-08-25"], 1800.0)))
    cerebro.broker.addcommissioninfo(AShareCommission())  # on Backtrader's own broker: no fill date
    cerebro.addstrategy(Plan, plan={dt.date(2023, 8, 23): [("buy", {"size": 100})]})
    with pytest.raises(ConfigError, match=r"install it on an AShareBroker \(use_ashare_rules\(cerebro\) does\)"):
        cerebro.run()
