"""Buy-and-hold under the same broker as a strategy: the baseline a single-stock backtest shows.

Usage::

    held = run_buy_and_hold(bars, "2019-01-02", "2020-04-24", cash=1_000_000)
    held.returns         # daily, on the bar dates; the first day against the starting cash
    held.trades          # the one buy per stock, with its fees

It runs through the same machinery as :func:`~rnnstrategy.backtrader.results.run_backtest`: the
same feed, :func:`~rnnstrategy.backtrader.rules.use_ashare_rules` (lots, fees, price limits,
suspensions, the volume limit, corporate actions) and analyzers, so its
:class:`~rnnstrategy.backtrader.results.BacktestResult` compares with the strategy's day by day: same
dates, same starting cash. On raw prices with a ``factor`` column the broker books the same dividends,
bonus shares and splits as for the strategy; dividends stay in cash (not reinvested, as rqalpha's
default), and ``held.corporate_actions`` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import backtrader as bt
import pandas as pd

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.results import (
    BacktestResult,
    add_result_analyzers,
    collect_results,
)
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.backtrader.sizer import LotSizer
from rnnstrategy.errors import ConfigError

__all__ = ["ORDER_DONE", "BuyAndHold", "run_at_opens", "run_buy_and_hold"]

ORDER_DONE = (bt.Order.Completed, bt.Order.Canceled, bt.Order.Margin, bt.Order.Rejected, bt.Order.Expired)
"""The states after which an order is no longer in flight."""


class BuyAndHold(bt.Strategy):
    """Buy every feed once, at the open, and hold to the end.

    Buy: at the open of the first bar (the Cerebro needs ``cheat_on_open=True``), each feed
    gets an equal share of ``target`` times the starting cash and buys as many valid lots as
    that share pays for at this open, the broker's fees included. A buy the broker refuses (limit-up,
    suspension) is sent again at the next open of that feed; one the volume limit cuts buys the rest
    of its share at the next opens, until no more lot fits in it.

    Sell: never; the position is valued at each close until the last bar.

    Params:
        target: fraction of the starting cash to invest, in (0, 1] (default 1: all of it).
    """

    params = (("target", 1.0),)

    def __init__(self) -> None:
        if not 0 < self.p.target <= 1:
            raise ConfigError(f"target={self.p.target!r}: give the fraction of the starting cash to invest, in (0, 1]")
        self._sizer = LotSizer(target=1.0)
        self._pending: set[str] = set()
        self._bought: set[str] = set()
        self._spent: dict[str, float] = {}  # feed name -> cost of its fills so far, fees included
        self._budget = 0.0

    def start(self) -> None:
        self._sizer.set(self, self.broker)
        self._budget = self.p.target * float(self.broker.getcash()) / len(self.datas)  # equal weights

    def prenext_open(self) -> None:
        self.next_open()  # a basket's feeds start on different dates: buy each on its first bar

    def nextstart_open(self) -> None:
        self.next_open()

    def next_open(self) -> None:
        today = max((data.datetime[0] for data in self.datas if len(data)), default=None)
        for data in self.datas:
            name = data._name
            if name in self._bought or name in self._pending or not len(data) or data.datetime[0] != today:
                continue  # held, in flight, not started yet, or suspended today
            budget = min(self._budget - self._spent.get(name, 0.0), float(self.broker.getcash()))
            shares = self._sizer.shares_for(data, budget, price=data.open[0])
            if shares > 0 and self.buy(data, size=shares) is not None:
                self._pending.add(name)
            elif name in self._spent:  # bought in part (volume limit): the rest of its share buys no lot
                self._bought.add(name)

    def notify_order(self, order: bt.Order) -> None:
        if order.status in ORDER_DONE:
            name = order.data._name
            self._pending.discard(name)
            if order.executed.size:
                self._spent[name] = self._spent.get(name, 0.0) + order.executed.value + order.executed.comm
            if order.status == bt.Order.Completed:
                self._bought.add(name)


def run_buy_and_hold(
    bars: pd.DataFrame | Sequence[pd.DataFrame],
    start: Any = None,
    end: Any = None,
    *,
    cash: float = 1_000_000.0,
    rules: AShareRules | None = None,
    target: float = 1.0,
) -> BacktestResult:
    """Buy-and-hold of ``bars`` from the open of ``start`` to the close of ``end``.

    Args:
        bars: canonical bars of the stock, or of each stock of an equal-weight basket.
        start, end: the first and last dates (inclusive; None: the first/last bar), e.g. the
            first and last dates of a strategy's equity.
        cash: starting cash, CNY.
        rules: the A-share broker rules; default ``AShareRules()`` (every rule on).
        target: fraction of ``cash`` to invest (see :class:`BuyAndHold`).

    Raises:
        ConfigError: for a ``target`` outside (0, 1], or when a stock has no bar between ``start`` and ``end``.
    """
    frames = [bars] if isinstance(bars, pd.DataFrame) else list(bars)
    windows = []
    for frame in frames:
        window = frame.loc[start:end]
        if window.empty:
            raise ConfigError(f"buy-and-hold of {frame.attrs.get('symbol', 'the bars')} from {start} to {end}: "
                              f"no bar in that window (bars {frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d}); "
                              "give dates inside the bars")
        windows.append(window)
    return run_at_opens(windows, BuyAndHold, cash=cash, rules=rules, target=target)


def run_at_opens(windows: Sequence[pd.DataFrame], strategy: type[bt.Strategy], *, cash: float,
                 rules: AShareRules | None, **params: Any) -> BacktestResult:
    """Run a baseline ``strategy`` that trades at the opens (``cheat_on_open``) over the bar ``windows``, under
    the strategy's broker rules and analyzers (buy-and-hold, the members basket)."""
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.broker.setcash(cash)
    for window in windows:
        feed = to_feed(window)
        cerebro.adddata(feed, name=feed._name)
    use_ashare_rules(cerebro, rules)
    cerebro.addstrategy(strategy, **params)
    add_result_analyzers(cerebro)
    return collect_results(cerebro.run()[0])
