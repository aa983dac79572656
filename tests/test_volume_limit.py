"""The volume limit: a day's fills of one stock take at most a share of the fill bar's volume, rounded down
to the board's lot; the rest of the order is cancelled and reported; a bar without volume fills nothing."""

import datetime as dt
import subprocess
import sys

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.volume import volume_room
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.results import add_result_analyzers, collect_results
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.errors import ConfigError

D = dt.date


def bars(volumes, symbol="600519.SH", price=10.0):
    """Flat bars at ``price`` from 2024-03-04, one per volume."""
    index = pd.bdate_range("2024-03-04", periods=len(volumes), name="date")
    frame = pd.DataFrame({"open": price, "high": price, "low": price, "close": price,
                          "volume": np.asarray(volumes, dtype=float)}, index=index)
    frame.attrs.update(symbol=symbol, adjust="")
    return frame


class Plan(bt.Strategy):
    """Sends the orders of ``plan`` ({bar number: [(method, kwargs)]}) and records order outcomes."""

    params = (("plan", None),)

    def __init__(self):
        self.outcomes = []  # (status, executed size, refusal reason or None)

    def notify_order(self, order):
        if order.status in (order.Canceled, order.Completed, order.Rejected, order.Margin):
            self.outcomes.append((order.getstatusname(), order.executed.size, order.info.get("ashare_refusal")))

    def next(self):
        for method, kwargs in self.p.plan.get(len(self), []):
            getattr(self, method)(**kwargs)


def run(frame, plan, coc=False, **rules):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(10_000_000.0)
    cerebro.broker.set_coc(coc)
    feed = to_feed(frame)
    cerebro.adddata(feed, name=feed._name)
    broker = use_ashare_rules(cerebro, **rules)
    cerebro.addstrategy(Plan, plan=plan)
    add_result_analyzers(cerebro)
    strategy = cerebro.run()[0]
    return strategy, collect_results(strategy), broker


def test_the_room_of_a_day():
    assert volume_room(10_000, 0.25) == 2500
    assert volume_room(10_000, 0.25, used=2400) == 100
    assert volume_room(0, 0.25) == 0
    assert volume_room(10_000, None) == volume_room(10_000, 0.0) == float("inf")


def test_a_big_order_fills_a_quarter_of_the_volume_in_lots_and_the_rest_is_cancelled():
    strategy, result, broker = run(bars([1e6, 9_999, 1e6]), {1: [("buy", {"size": 5000})]})
    # 25 % of 9,999 shares = 2,499, rounded down to 100-share lots
    assert result.trades[["date", "side", "size"]].values.tolist() == [[D(2024, 3, 5), "buy", 2400]]
    status, size, reason = strategy.outcomes[0]
    assert (status, size) == ("Canceled", 2400)
    assert reason.startswith("volume limit: 2400 shares filled, 25% of the day's 9999 shares")
    assert broker.refusals == [{"date": D(2024, 3, 5), "symbol": "600519.SH", "side": "buy", "shares": 2600,
                                "status": "Canceled", "reason": reason}]
    assert result.equity["position"].tolist() == [0, 2400, 2400]  # nothing more fills the next day


def test_a_bar_without_volume_fills_nothing():
    strategy, result, broker = run(bars([1e6, 0.0, 1e6]), {1: [("buy", {"size": 100})]})
    assert result.trades.empty
    assert strategy.outcomes == [("Canceled", 0, "volume limit: no volume on 2024-03-05, nothing can fill")]
    assert [r["shares"] for r in broker.refusals] == [100]


def test_fills_of_one_day_share_the_room():
    strategy, result, _ = run(bars([1e6, 10_000, 1e6]), {1: [("buy", {"size": 2000}), ("buy", {"size": 2000})]})
    assert result.trades["size"].tolist() == [2000, 500]
    assert [outcome[:2] for outcome in strategy.outcomes] == [("Completed", 2000), ("Canceled", 500)]


def test_a_capped_sell_keeps_lots_and_a_star_order_its_one_share_steps():
    # sell 1,000 of a 1,000-share holding on a 2,200-share day: 500 shares (lots), the rest stays held
    _, sold, _ = run(bars([1e6, 1e6, 2_200, 1e6]), {1: [("buy", {"size": 1000})], 2: [("sell", {"size": 1000})]})
    assert sold.trades[["side", "size"]].values.tolist() == [["buy", 1000], ["sell", 500]]
    assert sold.equity["position"].tolist() == [0, 1000, 500, 500]
    # STAR: at least 200 shares, then 1-share steps: 25 % of 1,001 = 250
    _, star, _ = run(bars([1e6, 1_001, 1e6], symbol="688981.SH"), {1: [("buy", {"size": 1000})]})
    assert star.trades["size"].tolist() == [250]
    _, too_thin, _ = run(bars([1e6, 700, 1e6], symbol="688981.SH"), {1: [("buy", {"size": 1000})]})
    assert too_thin.trades.empty  # 175 is below the 200-share minimum


def test_a_cheat_on_close_fill_takes_the_volume_of_the_bar_it_fills_on():
    _, result, _ = run(bars([1e6, 1_000, 1e6]), {2: [("buy", {"size": 1000})]}, coc=True)
    assert result.trades[["date", "size"]].values.tolist() == [[D(2024, 3, 5), 200]]


def test_without_the_limit_the_whole_order_fills():
    for rules in ({"volume_limit": None}, {"volume_limit": 0.0}, {"rules": AShareRules.off()}):
        _, result, _ = run(bars([1e6, 100, 1e6]), {1: [("buy", {"size": 5000})]}, **rules)
        assert result.trades["size"].tolist() == [5000], rules
    _, half, _ = run(bars([1e6, 10_000, 1e6]), {1: [("buy", {"size": 9000})]}, volume_limit=0.5)
    assert half.trades["size"].tolist() == [5000]


def test_a_volume_limit_outside_zero_to_one_is_refused():
    with pytest.raises(ConfigError, match=r"volume_limit=1.5: give the share of a day's volume .* in \[0, 1\]"):
        AShareRules(volume_limit=1.5)
    with pytest.raises(ConfigError, match=r"volume_limit=-0.1"):
        run(bars([1e6, 1e6]), {}, volume_limit=-0.1)


def test_cli_volume_limit_of_two_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rnnstrategy.cli", "backtest", "--example", "--volume-limit", "2",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [("rnnstrategy: error: volume_limit=2.0: give the share of a day's volume one stock's fills may "
                      "take, a fraction in [0, 1] (0.25 = 25 %; 0 or none: no limit)")]
    assert not (tmp_path / "run").exists()
