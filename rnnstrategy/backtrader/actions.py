"""Corporate actions and dividend tax booked on the positions of an :class:`~rnnstrategy.backtrader.broker.AShareBroker`.

On a feed with a ``factor`` line (:class:`~rnnstrategy.backtrader.feed.FactorFeed`), each bar whose factor
differs from the previous bar's is an ex-date; :func:`rnnstrategy.ashare.corporate_actions.read_factor_step`
says what the step was. :class:`ActionBook` books it on the position held at the close before: cash
dividend and cash in lieu into the broker's cash, the new share count for bonus shares and splits, the
position's cost per share lowered by the dividend and divided by the share ratio (as rqalpha does), so
cash + shares x price is continuous at the ex-reference price. With dividend tax on it keeps each
stock's lots (:class:`~rnnstrategy.ashare.dividend_tax.HoldingLots`) and says what a sale owes.
Every booking is a row of :data:`~rnnstrategy.data.records.CORPORATE_ACTION_COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd

from rnnstrategy.ashare.corporate_actions import (
    CorporateAction,
    entitlement,
    read_factor_step,
)
from rnnstrategy.ashare.dividend_tax import HoldingLots
from rnnstrategy.backtrader.feed import has_factor
from rnnstrategy.data.records import CORPORATE_ACTION_COLUMNS

__all__ = ["ActionBook"]

logger = logging.getLogger(__name__)


class ActionBook:
    """The corporate actions and dividend tax a broker has booked (see the module docstring).

    Args:
        tax: keep lots and charge dividend tax by holding period.
    """

    def __init__(self, tax: bool) -> None:
        self.tax = tax
        self.rows: list[dict[str, Any]] = []
        self._lots: dict[Any, HoldingLots] = {}
        self._seen: dict[Any, float] = {}  # feed -> datetime of the bar whose action is booked

    def frame(self) -> pd.DataFrame:
        """What was booked, one row each (:data:`~rnnstrategy.data.records.CORPORATE_ACTION_COLUMNS`)."""
        return pd.DataFrame(self.rows, columns=list(CORPORATE_ACTION_COLUMNS))

    def book(self, broker: Any, data: Any) -> bool:
        """Book the action of ``data``'s current bar, an ex-date, on the broker's position; once per bar.
        Returns whether the account changed."""
        if not has_factor(data) or len(data) < 2 or self._seen.get(data) == data.datetime[0]:
            return False
        self._seen[data] = data.datetime[0]
        position = broker.getposition(data)
        if not position.size:
            return False
        action = read_factor_step(data.close[-1], data.factor[-1], data.factor[0])
        if action is None:
            return False
        date = data.datetime.date(0)
        size = float(position.size)
        sign = 1.0 if size > 0 else -1.0  # a short position pays the dividend
        got = entitlement(abs(size), action)
        withheld = 0.0
        if self.tax and sign > 0:
            lots = self._lots_of(data, size)
            withheld = lots.dividend(date, action.cash_per_share) if action.cash_per_share else 0.0
            if action.share_ratio != 1.0:
                lots.split(action.share_ratio, got.shares_after)
        broker.cash += sign * got.cash - withheld
        position.size = _shares(sign * got.shares_after)  # whole shares stay an int, as Backtrader keeps them
        position.price = (position.price - action.cash_per_share) / action.share_ratio
        _scale_open_trades(broker, data, got.shares_after / abs(size), action)
        self.rows.append({"date": date, "symbol": data._name, "kind": action.kind,
                          "cash_per_share": action.cash_per_share, "share_ratio": action.share_ratio,
                          "shares_before": size, "shares_after": sign * got.shares_after,
                          "cash": sign * got.cash, "tax": withheld})
        level = logging.WARNING if action.kind == "restructuring" else logging.INFO
        logger.log(level, "%s %s: %s booked on %s shares: %.4f CNY a share, %.4f shares a share -> %s shares, "
                   "%.2f CNY credited, %.2f tax withheld", data._name, date, action.kind, _shares(size),
                   action.cash_per_share, action.share_ratio, _shares(sign * got.shares_after), sign * got.cash,
                   withheld)
        return True

    def fill(self, data: Any, date: dt.date, filled: float, held_before: float) -> float:
        """Record a fill of ``filled`` shares (negative: sold) in the lots; returns the dividend tax a sale
        makes due (CNY), booked as a ``dividend_tax`` row; 0 without dividend tax."""
        if not self.tax or not filled:
            return 0.0
        lots = self._lots_of(data, held_before)
        if filled > 0:
            lots.buy(date, filled)
            return 0.0
        due = lots.sell(date, -filled)
        if due:
            self.rows.append({"date": date, "symbol": data._name, "kind": "dividend_tax", "cash_per_share": 0.0,
                              "share_ratio": 1.0, "shares_before": held_before + filled,
                              "shares_after": held_before + filled,
                              "cash": 0.0, "tax": due})
            logger.info("%s %s: dividend tax of %.2f CNY due on the sale of %s shares (holding period)",
                        data._name, date, due, _shares(-filled))
        return due

    def _lots_of(self, data: Any, held: float) -> HoldingLots:
        """The lots of ``data``; a holding met for the first time (an opening position) is of unknown age."""
        if data not in self._lots:
            self._lots[data] = HoldingLots()
            self._lots[data].buy(None, max(held, 0.0))
        return self._lots[data]


def _scale_open_trades(broker: Any, data: Any, scale: float, action: CorporateAction) -> None:
    """Keep Backtrader's open trades of ``data`` (``notify_trade``, trade analyzers) in step with the position:
    a bonus changes the shares a trade must close."""
    for strategy in getattr(getattr(broker, "cerebro", None), "runningstrats", ()):
        for trades in getattr(strategy, "_trades", {}).get(data, {}).values():
            if trades and trades[-1].isopen and trades[-1].size:
                trade = trades[-1]
                trade.size *= scale
                trade.price = (trade.price - action.cash_per_share) / action.share_ratio
                trade.value = trade.size * trade.price


def _shares(size: float) -> float | int:
    return int(size) if float(size).is_integer() else size
