"""The A-share order rules on real bars (tushare pro_bar qfq files in the shared data folder)."""

import datetime as dt
import logging

import backtrader as bt
import pytest
from helpers import missing_data

from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.backtrader.broker import AShareBroker
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError

D = dt.date


class Plan(bt.Strategy):
    """Places the orders of ``plan`` ({date: [(method, kwargs)]}) and records what happens."""

    params = (("plan", None),)

    def __init__(self):
        self.sent = []  # (date, method, order or None)
        self.events = []  # (bar date, status, executed date, size, price)
        self.positions_seen = []

    def notify_order(self, order):
        if order.status in (order.Submitted, order.Accepted):
            return
        self.events.append(
            (
                self.data.datetime.date(0),
                order.getstatusname(),
                bt.num2date(order.executed.dt).date() if order.executed.dt else None,
                order.executed.size,
                order.executed.price,
            )
        )

    def next(self):
        today = self.data.datetime.date(0)
        for method, kwargs in self.p.plan.get(today, []):
            self.sent.append((today, method, getattr(self, method)(**kwargs)))

    def fills(self):
        return [(day, size, round(price, 6)) for _, status, day, size, price in self.events if status == "Completed"]

    def statuses(self):
        return [status for _, status, *_ in self.events]


@pytest.fixture(scope="module")
def stock(data_dir):
    folder = data_dir / "stocks_tushare_qfq"

    def load(ts_code, start, end):
        path = folder / f"{ts_code}.csv"
        if not path.is_file():
            missing_data(f"needs stocks_tushare_qfq/{path.name} of the shared data sets; not at {path}")
        return load_bars(path, start=start, end=end)

    return load


def run(bars_list, plan, coc=False, cash=1_000_000.0, **rules):
    cerebro = bt.Cerebro(stdstats=False)
    for bars in bars_list:
        cerebro.adddata(to_feed(bars))
    cerebro.broker.setcash(cash)
    cerebro.broker.set_coc(coc)
    if rules.pop("plain", False):
        pass  # Backtrader's own broker, for comparison
    else:
        use_ashare_rules(cerebro, **rules)
    cerebro.addstrategy(Plan, plan=plan)
    return cerebro.run()[0]


# -- lots ------------------------------------------------------------------------------------------


def test_star_order_below_200_shares_is_not_sent_and_250_fills(stock, caplog):
    bars = stock("688981.SH", "2023-03-01", "2023-03-17")
    plan = {D(2023, 3, 10): [("buy", {"size": 150})], D(2023, 3, 13): [("buy", {"size": 250})]}
    with caplog.at_level(logging.INFO, logger="rnnstrategy.backtrader.broker"):
        strategy = run([bars], plan)
    assert strategy.sent[0][2] is None  # not sent: no order object, like Backtrader for size 0
    assert "688981.SH 2023-03-10: buy of 150 shares not sent: below the 200-share minimum of the star board" in (
        caplog.text
    )
    # 250 shares fill at the 2023-03-14 open, 43.65 (STAR: 200 minimum, then 1-share steps)
    assert strategy.fills() == [(D(2023, 3, 14), 250, 43.65)]


def test_main_board_orders_round_down_to_100_share_lots(stock):
    bars = stock("600519.SH", "2023-03-01", "2023-03-17")
    plan = {D(2023, 3, 13): [("buy", {"size": 250})], D(2023, 3, 14): [("sell", {"size": 150})]}
    strategy = run([bars], plan)
    # 250 -> 200 at the 2023-03-14 open 1763.78; sell 150 -> 100 at the 2023-03-15 open 1778.37
    assert strategy.fills() == [(D(2023, 3, 14), 200, 1763.78), (D(2023, 3, 15), -100, 1778.37)]


def test_star_sells_keep_the_odd_remainder_for_a_whole_position_sell(stock, caplog):
    bars = stock("688981.SH", "2023-03-01", "2023-03-17")
    plan = {
        D(2023, 3, 9): [("buy", {"size": 250})],  # fills 250 at the 03-10 open
        D(2023, 3, 10): [("sell", {"size": 100})],  # below 200 and not the whole position: not sent
        D(2023, 3, 13): [("sell", {"size": 220})],  # >= 200, 1-share steps: sells 220, 30 left
        D(2023, 3, 14): [("sell", {"size": 1000})],  # capped at the 30 held; a whole-position odd lot
    }
    with caplog.at_level(logging.INFO, logger="rnnstrategy.backtrader.broker"):
        strategy = run([bars], plan)
    assert [size for _, size, _ in strategy.fills()] == [250, -220, -30]
    assert strategy.sent[1][2] is None
    assert "sell of 100 shares not sent: below the 200-share minimum" in caplog.text
    assert "sell of 1000 capped at the position of 30 shares" in caplog.text


def test_no_short_selling(stock, caplog):
    bars = stock("600519.SH", "2023-03-01", "2023-03-17")
    with caplog.at_level(logging.INFO, logger="rnnstrategy.backtrader.broker"):
        strategy = run([bars], {D(2023, 3, 13): [("sell", {"size": 100})]})
    assert strategy.sent[0][2] is None and strategy.fills() == []
    assert "sell of 100 not sent: no long position (A-shares cannot be sold short)" in caplog.text


# -- price limits ----------------------------------------------------------------------------------


def test_chinext_20pct_limit_up_close_blocks_a_buy_at_the_close(stock, caplog):
    # 300124.SZ closed at +20.0 % on 2020-11-02 (42.4764 -> 50.973, qfq)
    bars = stock("300124.SZ", "2020-10-20", "2020-11-10")
    plan = {D(2020, 11, 2): [("buy", {"size": 100})]}
    with caplog.at_level(logging.INFO, logger="rnnstrategy.backtrader.broker"):
        strategy = run([bars], plan, coc=True)
    assert strategy.fills() == []
    assert strategy.statuses() == ["Canceled"]
    assert "buy at 50.9730 is at limit-up (20% above the previous close 42.4764)" in caplog.text
    # the same day's open, +12.1 %, is inside the 20 % band: a buy placed on 10-30 fills there
    opened = run([bars], {D(2020, 10, 30): [("buy", {"size": 100})]})
    assert opened.fills() == [(D(2020, 11, 2), 100, 47.6074)]


def test_chinext_10pct_limit_up_before_the_2020_reform_blocks_a_buy(stock):
    # 300316.SZ opened (and stayed) at +10 % on Monday 2015-04-13: 11.6955 -> 12.8641 (qfq);
    # 11.6955 * 1.1 = 12.86505, so the open is at the limit (a 20 % limit would be 14.0346).
    bars = stock("300316.SZ", "2015-04-01", "2015-04-30")
    plan = {D(2015, 4, 10): [("buy", {"size": 1000})]}
    strategy = run([bars], plan)
    assert strategy.fills() == [] and strategy.statuses() == ["Canceled"]
    # Backtrader alone fills it at the limit-up open
    assert run([bars], plan, price_limits=False).fills() == [(D(2015, 4, 13), 1000, 12.8641)]


def test_sell_on_a_limit_down_open_is_blocked(stock):
    # 600519.SH opened at limit-down on 2018-10-29: 575.1086 -> 517.5978 (-10.0 %, qfq)
    bars = stock("600519.SH", "2018-10-15", "2018-11-05")
    plan = {
        D(2018, 10, 24): [("buy", {"size": 100})],  # fills at the 10-25 open 584.4408
        D(2018, 10, 26): [("sell", {"size": 100})],  # would fill at the 10-29 open: blocked, cancelled
        D(2018, 10, 29): [("sell", {"size": 100})],  # fills at the 10-30 open 480.7497 (-7.1 %)
    }
    strategy = run([bars], plan)
    assert strategy.statuses() == ["Completed", "Canceled", "Completed"]
    assert strategy.fills() == [(D(2018, 10, 25), 100, 584.4408), (D(2018, 10, 30), -100, 480.7497)]


def test_st_flag_halves_the_main_board_limit(stock):
    # 600666.SH (*ST) opened at its 5 % limit-up on 2023-02-28: 2.39 -> 2.51 (raw prices by then)
    bars = stock("600666.SH", "2023-02-20", "2023-03-10")
    plan = {D(2023, 2, 27): [("buy", {"size": 1000})]}
    st = run([bars], plan, securities={"600666": SecurityRules(st=True)})
    assert st.fills() == [] and st.statuses() == ["Canceled"]
    # not flagged, the 10 % limit (2.63) applies and 2.51 fills
    assert run([bars], plan).fills() == [(D(2023, 2, 28), 1000, 2.51)]


def test_no_limit_in_the_first_days_after_a_listing(stock):
    # 688122.SH listed 2019-07-22 (STAR: 5 unlimited days); day 2 opened -23.6 %: 53.6488 -> 40.9756.
    bars = stock("688122.SH", "2019-07-22", "2019-08-09")
    plan = {  # buy at the day-1 close; the sell placed the same day fills at the day-2 open
        D(2019, 7, 22): [("buy", {"size": 200, "coc": True}), ("sell", {"size": 200, "coc": False})]
    }
    # no_short=False: the sell is placed before the cheat-on-close buy has filled
    listed = run([bars], plan, coc=True, no_short=False,
                 securities={"688122.SH": SecurityRules(listing_date=D(2019, 7, 22))})
    assert listed.fills() == [(D(2019, 7, 22), 200, 53.6488), (D(2019, 7, 23), -200, 40.9756)]
    # without the listing date, day 2 is judged against the 20 % limit-down and the sell is cancelled
    unlisted = run([bars], plan, coc=True, no_short=False)
    assert unlisted.fills() == [(D(2019, 7, 22), 200, 53.6488)]
    assert unlisted.statuses() == ["Completed", "Canceled"]


def test_main_board_listing_window_is_one_day_before_2023(stock):
    # 603986.SH listed 2016-08-18; day 2 opened at +10 %: 5.979 -> 6.577. Only day 1 was unlimited.
    bars = stock("603986.SH", "2016-08-18", "2016-09-09")
    strategy = run([bars], {D(2016, 8, 18): [("buy", {"size": 100})]},
                   securities={"603986.SH": SecurityRules(listing_date=D(2016, 8, 18))})
    assert strategy.fills() == [] and strategy.statuses() == ["Canceled"]


# -- T+1 ---------------------------------------------------------------------------------------------


def test_same_day_buy_then_sell_under_cheat_on_close_is_refused(stock, caplog):
    bars = stock("600519.SH", "2023-03-01", "2023-03-17")
    plan = {
        D(2023, 3, 13): [("buy", {"size": 100, "coc": False})],  # fills at the 03-14 open 1763.78
        D(2023, 3, 14): [("sell", {"size": 100})],  # cheat-on-close: same day, 03-14 close -> refused
        D(2023, 3, 15): [("sell", {"size": 100})],  # next day's close 1750.92 -> fills
    }
    with caplog.at_level(logging.INFO, logger="rnnstrategy.backtrader.broker"):
        strategy = run([bars], plan, coc=True)
    assert strategy.statuses() == ["Completed", "Rejected", "Completed"]
    assert strategy.fills() == [(D(2023, 3, 14), 100, 1763.78), (D(2023, 3, 15), -100, 1750.92)]
    assert "sell of 100 shares needs some of the 100 bought on 2023-03-14: only 0 are sellable (T+1)" in (
        caplog.text
    )
    # with the rule off, the same-day sell fills at the 03-14 close 1766.00
    loose = run([bars], plan, coc=True, t_plus_one=False)
    assert loose.fills()[:2] == [(D(2023, 3, 14), 100, 1763.78), (D(2023, 3, 14), -100, 1766.0)]


def test_buy_and_sell_in_one_bar_under_cheat_on_close(stock):
    bars = stock("600519.SH", "2023-03-01", "2023-03-17")
    plan = {D(2023, 3, 14): [("buy", {"size": 200}), ("sell", {"size": 200})]}
    # no_short=False, else the sell is not even sent (no position when it is placed)
    strategy = run([bars], plan, coc=True, no_short=False)
    assert strategy.statuses() == ["Completed", "Rejected"]
    assert strategy.fills() == [(D(2023, 3, 14), 200, 1766.0)]


# -- suspensions -------------------------------------------------------------------------------------


def test_suspended_days_produce_no_fills(stock):
    # 300124.SZ has no bars 2019-03-21 .. 2019-04-03 (suspended); 600519.SH trades on.
    halted = stock("300124.SZ", "2019-03-01", "2019-04-12")
    other = stock("600519.SH", "2019-03-01", "2019-04-12")
    plan = {
        D(2019, 3, 20): [("buy", {"data": "300124.SZ", "size": 100, "price": 18.0, "exectype": bt.Order.Limit})],
        D(2019, 3, 25): [("buy", {"data": "300124.SZ", "size": 100, "coc": True})],
    }
    # Backtrader alone fills both on the stale 2019-03-20 bar: the limit order at its open 17.5491 while
    # processing 03-21, the cheat-on-close order at its close 17.1375 while processing 03-26.
    plain = run([other, halted], plan, coc=True, plain=True)
    assert plain.fills() == [(D(2019, 3, 20), 100, 17.5491), (D(2019, 3, 20), 100, 17.1375)]
    strategy = run([other, halted], plan, coc=True)
    assert strategy.fills() == [] and strategy.statuses() == ["Canceled", "Canceled"]


def test_an_order_made_before_a_suspension_expires_instead_of_filling_after_it(stock):
    # a market order sent at the close of 2019-03-20, the last bar of 300124.SZ before its suspension
    halted = stock("300124.SZ", "2019-03-01", "2019-04-12")
    other = stock("600519.SH", "2019-03-01", "2019-04-12")
    plan = {D(2019, 3, 20): [("buy", {"data": "300124.SZ", "size": 100})]}
    plain = run([other, halted], plan, plain=True)  # Backtrader alone fills it at the first open after
    assert [(day, size) for day, size, _ in plain.fills()] == [(D(2019, 4, 4), 100)]
    strategy = run([other, halted], plan)  # an A-share day order: it expires on 03-21, the first day without a bar
    assert strategy.fills() == [] and strategy.statuses() == ["Canceled"]


# -- configuration -----------------------------------------------------------------------------------


def test_feed_without_a_symbol_name_is_a_clear_error(stock):
    bars = stock("600519.SH", "2023-03-01", "2023-03-17")
    bars.attrs["symbol"] = "moutai"
    with pytest.raises(ConfigError, match=r"feed name 'moutai' is not an A-share code"):
        run([bars], {D(2023, 3, 13): [("buy", {"size": 100})]})


def test_securities_must_map_names_to_security_rules():
    with pytest.raises(ConfigError, match=r"securities\['600519'\]=True: give a SecurityRules"):
        AShareBroker(securities={"600519": True})
    with pytest.raises(ConfigError, match=r"securities: 'moutai' is not an A-share code"):
        AShareBroker(securities={"moutai": SecurityRules()})


def test_price_limits_refuse_to_run_without_earlier_bars(stock):
    cerebro = bt.Cerebro(stdstats=False, exactbars=1)
    cerebro.adddata(to_feed(stock("600519.SH", "2023-03-01", "2023-03-17")))
    use_ashare_rules(cerebro)
    cerebro.addstrategy(bt.Strategy)
    with pytest.raises(ConfigError, match=r"Cerebro runs with exactbars=1, which drops them: use exactbars=False"):
        cerebro.run()


def test_bracket_exits_are_sent_before_their_entry_fills(stock):
    # the stop and limit children of a bracket sell a position that exists only once the parent fills;
    # no_short and lots judge them against the parent's size
    bars = stock("600519.SH", "2023-03-01", "2023-03-17")
    bracket = {"size": 100, "exectype": bt.Order.Market, "limitprice": 1780.0, "stopprice": 1700.0}
    strategy = run([bars], {D(2023, 3, 8): [("buy_bracket", bracket)]})
    assert all(order is not None for order in strategy.sent[0][2])
    # entry at the 03-09 open 1768.00; the 1780 take-profit fills on 03-10 (high 1781), the stop is cancelled
    assert strategy.fills() == [(D(2023, 3, 9), 100, 1768.0), (D(2023, 3, 10), -100, 1780.0)]
    assert strategy.statuses() == ["Completed", "Completed", "Canceled"]
