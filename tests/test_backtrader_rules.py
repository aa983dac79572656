"""use_ashare_rules: switching rules off, keeping broker settings, the sizer and the trade log."""

import datetime as dt

import backtrader as bt
import pytest
from helpers import missing_data

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.backtrader.broker import AShareBroker
from rnnstrategy.backtrader.commission import AShareCommission
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.backtrader.sizer import LotSizer
from rnnstrategy.backtrader.trades import TRADE_COLUMNS, TradeLog
from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError

D = dt.date

RULES = ("lots", "no_short", "t_plus_one", "price_limits", "skip_suspended")
FEES = ("commission", "stamp_duty", "transfer_fee")

# Each scenario makes one rule bite on real bars: feeds (ts_code, start, end), plan, cheat-on-close.
LIMIT = {"size": 100, "price": 18.0, "exectype": bt.Order.Limit, "data": "300124.SZ"}
SCENARIOS = {
    "lots": ([("688981.SH", "2023-03-01", "2023-03-17")], {D(2023, 3, 10): [("buy", {"size": 150})]}, False),
    "no_short": ([("600519.SH", "2023-03-01", "2023-03-17")], {D(2023, 3, 13): [("sell", {"size": 100})]}, False),
    "t_plus_one": (
        [("600519.SH", "2023-03-01", "2023-03-17")],
        {D(2023, 3, 13): [("buy", {"size": 100, "coc": False})], D(2023, 3, 14): [("sell", {"size": 100})]},
        True,
    ),
    "price_limits": ([("300316.SZ", "2015-04-01", "2015-04-30")], {D(2015, 4, 10): [("buy", {"size": 1000})]}, False),
    "skip_suspended": (
        [("600519.SH", "2019-03-01", "2019-04-12"), ("300124.SZ", "2019-03-01", "2019-04-12")],
        {D(2019, 3, 20): [("buy", LIMIT)]},
        False,
    ),
}


class Plan(bt.Strategy):
    params = (("plan", None),)

    def __init__(self):
        self.events = []

    def notify_order(self, order):
        self.events.append((order.ref, order.getstatusname(), order.executed.size, order.executed.price,
                            order.executed.comm))

    def next(self):
        for method, kwargs in self.p.plan.get(self.data.datetime.date(0), []):
            getattr(self, method)(**kwargs)


@pytest.fixture(scope="module")
def feeds(data_dir):
    def make(specs):
        out = []
        for ts_code, start, end in specs:
            path = data_dir / "stocks_tushare_qfq" / f"{ts_code}.csv"
            if not path.is_file():
                missing_data(f"needs stocks_tushare_qfq/{path.name} of the shared data sets; not at {path}")
            out.append(to_feed(load_bars(path, start=start, end=end)))
        return out

    return make


def run(feeds, plan, coc=False, rules=None, sizer=None, cash=1_000_000.0, analyzers=()):
    cerebro = bt.Cerebro(stdstats=False)
    for feed in feeds:
        cerebro.adddata(feed)
    cerebro.broker.setcash(cash)
    cerebro.broker.set_coc(coc)
    if rules is not None:
        use_ashare_rules(cerebro, **rules)
    if sizer is not None:
        cerebro.addsizer(LotSizer, **sizer)
    for analyzer in analyzers:
        cerebro.addanalyzer(analyzer, _name=analyzer.__name__.lower())
    cerebro.addstrategy(Plan, plan=plan)
    strategy = cerebro.run()[0]
    return strategy, strategy.events, cerebro.broker.getvalue()


def normalized(events):
    refs = {ref: i for i, ref in enumerate(dict.fromkeys(ref for ref, *_ in events))}
    return [(refs[ref], *rest) for ref, *rest in events]


@pytest.mark.parametrize("rule", RULES)
def test_switching_a_rule_off_restores_plain_backtrader(feeds, rule):
    specs, plan, coc = SCENARIOS[rule]
    no_fees = {fee: False for fee in FEES}
    _, plain, plain_value = run(feeds(specs), plan, coc)
    _, ruled, _ = run(feeds(specs), plan, coc, rules=no_fees)
    assert normalized(ruled) != normalized(plain)  # the rule bites here ...
    _, off, off_value = run(feeds(specs), plan, coc, rules={**no_fees, rule: False})
    assert normalized(off) == normalized(plain)  # ... and only it: off, the run is Backtrader's
    assert off_value == plain_value


@pytest.mark.parametrize("rule", RULES)
def test_everything_off_is_plain_backtrader(feeds, rule):
    specs, plan, coc = SCENARIOS[rule]
    everything_off = {name: False for name in RULES + FEES}
    _, plain, plain_value = run(feeds(specs), plan, coc)
    _, off, off_value = run(feeds(specs), plan, coc, rules=everything_off)
    assert normalized(off) == normalized(plain) and off_value == plain_value


@pytest.mark.parametrize(
    "switched_off, sell_comm",
    [
        # sell 100 at the 2023-03-16 open 1740.00 = 174,000 CNY:
        # commission 43.50 + stamp duty 174.00 + transfer fee 1.74
        ((), 219.24),
        (("commission",), 175.74),
        (("stamp_duty",), 45.24),
        (("transfer_fee",), 217.50),
        (FEES, 0.0),
    ],
)
def test_each_fee_can_be_switched_off(feeds, switched_off, sell_comm):
    specs = [("600519.SH", "2023-03-01", "2023-03-17")]
    plan = {D(2023, 3, 13): [("buy", {"size": 100})], D(2023, 3, 15): [("sell", {"size": 100})]}
    _, events, _ = run(feeds(specs), plan, rules={fee: False for fee in switched_off})
    completed = [comm for _, status, _, _, comm in events if status == "Completed"]
    assert completed[1] == pytest.approx(sell_comm)


def test_use_ashare_rules_keeps_the_broker_settings():
    cerebro = bt.Cerebro()
    cerebro.broker.setcash(123_456.0)
    cerebro.broker.set_coc(True)
    named = bt.CommInfoBase(commission=0.001, percabs=True)
    cerebro.broker.addcommissioninfo(named, name="600519.SH")
    broker = use_ashare_rules(cerebro, price_limits=False)
    assert cerebro.broker is broker and isinstance(broker, AShareBroker)
    assert broker.getcash() == 123_456.0 and broker.p.coc and not broker.p.price_limits and broker.p.lots
    assert broker.comminfo["600519.SH"] is named
    assert isinstance(broker.comminfo[None], AShareCommission)
    scheme = use_ashare_rules(cerebro, commission=False, transfer_fee=False).comminfo[None]
    assert scheme.p.commission == 0.0 and scheme.p.min_commission == 0.0 and scheme.p.transfer_fee == ()
    assert cerebro.broker.getcash() == 123_456.0


def test_use_ashare_rules_applies_an_ashare_rules_with_keyword_overrides():
    cerebro = bt.Cerebro()
    rules = AShareRules(price_limits=False, commission_rate=0.0003, min_commission=1.0, st=("600666",),
                        listing_dates={"688981": "2020-07-16"})
    broker = use_ashare_rules(cerebro, rules, t_plus_one=False, securities={"SH600666": SecurityRules(st=False)})
    assert (broker.p.price_limits, broker.p.t_plus_one, broker.p.lots, broker.p.skip_suspended) == (
        False, False, True, True)
    scheme = broker.comminfo[None]
    assert (scheme.p.commission, scheme.p.min_commission, scheme.p.date) == (0.0003, 1.0, None)
    assert broker.p.securities == {  # the explicit mapping wins over the rules' st
        "600666.SH": SecurityRules(st=False),
        "688981.SH": SecurityRules(listing_date=D(2020, 7, 16)),
    }
    off = bt.Cerebro()
    plain_scheme = off.broker.comminfo[None]
    assert use_ashare_rules(off, AShareRules.off()).comminfo[None] is plain_scheme  # no fees: Backtrader's scheme


def test_use_ashare_rules_names_bad_arguments():
    with pytest.raises(ConfigError, match=r"unknown keyword\(s\) 'price_limit'; valid: securities and the "
                                          r"AShareRules fields commission, stamp_duty, .*, price_limits, "):
        use_ashare_rules(bt.Cerebro(), price_limit=False)
    with pytest.raises(ConfigError, match=r"rules=\{'price_limits': False\}: give an AShareRules"):
        use_ashare_rules(bt.Cerebro(), {"price_limits": False})
    with pytest.raises(ConfigError, match=r"commission_rate=0.03: give a fraction of value"):
        use_ashare_rules(bt.Cerebro(), commission_rate=0.03)


def test_use_ashare_rules_needs_a_backtesting_broker():
    class LiveBroker(bt.BrokerBase):
        pass

    cerebro = bt.Cerebro()
    cerebro.setbroker(LiveBroker())
    with pytest.raises(ConfigError, match=r"needs Backtrader's backtesting broker, found LiveBroker"):
        use_ashare_rules(cerebro)


# -- the sizer -------------------------------------------------------------------------------------------


def test_lot_sizer_buys_the_target_fraction_in_whole_lots(feeds):
    plan = {D(2023, 3, 16): [("buy", {})]}
    strategy, events, _ = run(feeds([("600519.SH", "2023-03-01", "2023-03-17")]), plan, rules={},
                              sizer={"target": 0.95})
    # 0.95 * 1,000,000 / close 1751.99 = 542.2 shares -> 500 (100-share lots), filled at the 03-17 open 1770
    assert [(size, price) for _, status, size, price, _ in events if status == "Completed"] == [(500, 1770.0)]


def test_lot_sizer_leaves_room_for_the_fees(feeds):
    # 688981.SH close on 2023-03-16: 49.31. Cash 2027 * 49.31 + 10 = 99,961.37 buys 2027 shares before fees,
    # but their fees are 24.99 + 1.00 > 10; 2026 shares cost 99,902.06 + 24.98 + 1.00 = 99,928.04.
    plan = {D(2023, 3, 16): [("buy", {})]}
    specs = [("688981.SH", "2023-03-01", "2023-03-17")]
    cash = 2027 * 49.31 + 10
    strategy, _, _ = run(feeds(specs), plan, coc=True, rules={}, sizer={"target": 1.0}, cash=cash)
    assert strategy.position.size == 2026
    assert strategy.broker.getcash() == pytest.approx(cash - 99_928.04)


def test_lot_sizer_checks_its_target():
    with pytest.raises(ConfigError, match=r"target=1.5: give the fraction of portfolio value to hold"):
        LotSizer(target=1.5)


def test_lot_sizer_sells_everything(feeds):
    plan = {D(2023, 3, 9): [("buy", {"size": 300})], D(2023, 3, 14): [("sell", {})]}
    strategy, _, _ = run(feeds([("688981.SH", "2023-03-01", "2023-03-17")]), plan, rules={}, sizer={})
    assert strategy.position.size == 0


# -- the trade log ---------------------------------------------------------------------------------------


def test_trade_log_breaks_down_the_fees_of_each_fill(feeds):
    plan = {D(2023, 3, 13): [("buy", {"size": 100})], D(2023, 3, 15): [("sell", {"size": 100})]}
    strategy, events, _ = run(feeds([("600519.SH", "2023-03-01", "2023-03-17")]), plan, rules={},
                              analyzers=[TradeLog])
    frame = strategy.analyzers.tradelog.frame()
    assert tuple(frame.columns) == TRADE_COLUMNS
    assert frame.to_dict("records") == [
        # 100 * 1763.78 = 176,378.00: commission 44.09, transfer 1.76
        {"date": D(2023, 3, 14), "symbol": "600519.SH", "side": "buy", "size": 100, "price": 1763.78, "value": 176378.0,
         "commission": 44.09, "stamp_duty": 0.0, "transfer_fee": 1.76},
        # 100 * 1740.00 = 174,000.00: commission 43.50, stamp duty 174.00, transfer 1.74
        {"date": D(2023, 3, 16), "symbol": "600519.SH", "side": "sell", "size": 100, "price": 1740.0, "value": 174000.0,
         "commission": 43.5, "stamp_duty": 174.0, "transfer_fee": 1.74},
    ]
    charged = [comm for _, status, _, _, comm in events if status == "Completed"]
    fees = frame[["commission", "stamp_duty", "transfer_fee"]].sum(axis=1).tolist()
    assert fees == pytest.approx(charged)


def test_trade_log_without_the_ashare_scheme_reports_the_commission(feeds):
    plan = {D(2023, 3, 13): [("buy", {"size": 100})]}
    strategy, _, _ = run(feeds([("600519.SH", "2023-03-01", "2023-03-17")]), plan, analyzers=[TradeLog])
    assert strategy.analyzers.tradelog.get_analysis() == [
        {"date": D(2023, 3, 14), "symbol": "600519.SH", "side": "buy", "size": 100, "price": 1763.78, "value": 176378.0,
         "commission": 0.0, "stamp_duty": 0.0, "transfer_fee": 0.0}
    ]
