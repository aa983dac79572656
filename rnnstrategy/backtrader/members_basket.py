"""The equal-weight basket of an index's members as they stood: what a universe run with ``--universe``
shows beside its strategy (in the place of buy-and-hold).

Usage::

    basket = run_members_basket(frames, members, "2021-01-04", "2023-12-29", cash=1_000_000)
    basket.returns       # daily, on the bar dates; the first day against the starting cash
    basket.trades        # every buy and sell, with its fees

It trades under the broker of the strategy (:func:`~rnnstrategy.backtrader.rules.use_ashare_rules`: lots,
fees, price limits, suspensions, the volume limit, corporate actions) on the same bars and dates, so its
:class:`~rnnstrategy.backtrader.results.BacktestResult` compares with the strategy's day by day, after the
same costs. ``members`` is the strategy's own (:data:`~rnnstrategy.backtrader.strategy.Members`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import backtrader as bt
import pandas as pd

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.backtrader.buy_and_hold import ORDER_DONE, run_at_opens
from rnnstrategy.backtrader.results import BacktestResult
from rnnstrategy.backtrader.sizer import LotSizer
from rnnstrategy.backtrader.strategy import Members
from rnnstrategy.errors import ConfigError

__all__ = ["MembersBasket", "run_members_basket"]

class MembersBasket(bt.Strategy):
    """Hold the index's members of each day in equal weight, set again whenever the members change.

    Buy: at the open of the first bar (the Cerebro needs ``cheat_on_open=True``), each member of that day
    with a bar gets an equal share of ``target`` times the cash, in valid lots.

    Rebalance: at the open after a close whose members differ from those the basket was last set to (the
    membership of day D, known at its close, is traded at the next open, as the strategy trades it): every
    holding that is no member is sold, then every member with a bar is brought to its equal share of
    ``target`` times the value (each member of the day counts, with a bar or not), sells before buys. A
    member within ``band`` of its share is left as it is (no trades of a lot or two); one without a bar
    waits. While orders went out, the basket is checked again at the next open, so a refused or cut order
    is tried again until the basket is set.

    Params:
        members: the feeds that are index members on each day (:data:`~rnnstrategy.backtrader.strategy.Members`).
        target: fraction of the value to hold, in (0, 1] (default 0.99: room for fees and an open above the close).
        band: a member is traded only when its position is off its share by more than this fraction of it.
    """

    params = (("members", None), ("target", 0.99), ("band", 0.25))

    def __init__(self) -> None:
        if self.p.members is None:
            raise ConfigError("MembersBasket needs members: the feeds that are index members on each day")
        if not 0 < self.p.target <= 1:
            raise ConfigError(f"target={self.p.target!r}: give the fraction of the value to hold, in (0, 1]")
        self._sizer = LotSizer(target=1.0)
        self._pending: set[str] = set()
        self._known: frozenset[str] | None = None  # the members at the last close
        self._set_to: frozenset[str] | None = None  # the members the basket was last set to
        self._unsettled = True

    def start(self) -> None:
        self._sizer.set(self, self.broker)

    def prenext(self) -> None:
        self.next()  # a basket's feeds start on different dates

    def nextstart(self) -> None:
        self.next()

    def prenext_open(self) -> None:
        self.next_open()

    def nextstart_open(self) -> None:
        self.next_open()

    def next(self) -> None:
        self._known = self._members(self._today())

    def next_open(self) -> None:
        today = self._today()
        wanted = self._known if self._known is not None else self._members(today)  # the first bar: its own
        if wanted != self._set_to:
            self._set_to, self._unsettled = wanted, True
        if self._unsettled and not self._pending:
            self._unsettled = self._rebalance(wanted, today)

    def notify_order(self, order: bt.Order) -> None:
        if order.status in ORDER_DONE:
            self._pending.discard(order.data._name)

    def _today(self) -> float:
        return max(data.datetime[0] for data in self.datas if len(data))

    def _members(self, today: float) -> frozenset[str]:
        return frozenset(self.p.members.get(bt.num2date(today).date(), frozenset()))

    def _rebalance(self, wanted: frozenset[str], today: float) -> bool:
        """Send the orders that set the basket to ``wanted`` at today's opens; whether any went out (or a
        holding that left the index has no bar today to sell it on)."""
        live = [data for data in self.datas if len(data) and data.datetime[0] == today]
        names = {data._name for data in live}
        waiting = any(self.getposition(data).size > 0 and data._name not in wanted and data._name not in names
                      for data in self.datas)
        cash = float(self.broker.getcash())
        share = self.p.target * float(self.broker.getvalue()) / max(len(wanted), 1)
        buys: list[tuple[Any, float]] = []
        sent = False
        for data in live:  # sells first: they fill first and free their cash
            price, held = data.open[0], self.getposition(data).size
            if data._name not in wanted:
                shares = held
            else:
                off = share - held * price
                if abs(off) <= self.p.band * share:
                    continue
                if off > 0:
                    buys.append((data, off))
                    continue
                shares = min(held, self._sizer.shares_for(data, -off, price=price))
            if shares > 0 and self.sell(data, size=shares) is not None:
                self._pending.add(data._name)
                cash += shares * price
                sent = True
        for data, off in buys:
            shares = self._sizer.shares_for(data, min(off, cash), price=data.open[0])
            if shares > 0 and self.buy(data, size=shares) is not None:
                self._pending.add(data._name)
                cash -= shares * data.open[0]
                sent = True
        return sent or waiting


def run_members_basket(bars: Sequence[pd.DataFrame], members: Members, start: Any = None, end: Any = None, *,
                       cash: float = 1_000_000.0, rules: AShareRules | None = None) -> BacktestResult:
    """The equal-weight basket of the day's members (:class:`MembersBasket`) from the open of ``start`` to the
    close of ``end``.

    Args:
        bars: canonical bars of every stock that may be a member (``attrs["symbol"]`` names its feed, as in
            ``members``); a stock without a bar in the window is left out.
        members: the feeds that are index members on each day.
        start, end: the first and last dates (inclusive; None: the first/last bar).
        cash: starting cash, CNY.
        rules: the A-share broker rules; default ``AShareRules()`` (every rule on).

    Raises:
        ConfigError: no stock has a bar between ``start`` and ``end``.
    """
    windows = [window for window in (frame.loc[start:end] for frame in bars) if not window.empty]
    if not windows:
        raise ConfigError(f"the members basket from {start} to {end}: no stock has a bar in that window")
    return run_at_opens(windows, MembersBasket, cash=cash, rules=rules, members=members)
