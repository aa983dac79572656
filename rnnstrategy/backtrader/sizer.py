"""A sizer that buys a target fraction of the portfolio in valid A-share lots."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from rnnstrategy.ashare.symbols import SymbolInfo, symbol_info
from rnnstrategy.backtrader.broker import AShareBroker
from rnnstrategy.backtrader.commission import order_fees
from rnnstrategy.errors import ConfigError

__all__ = ["LotSizer"]


class LotSizer(bt.Sizer):
    """Buy up to ``target`` of the portfolio value, rounded down to a valid lot.

    A buy is sized so the position is worth at most ``target`` times the
    portfolio value at the current close, and the order, fees included, costs
    no more than the cash; the size is rounded down to the board's lots
    (100 shares; STAR at least 200, then 1-share steps). A sell is sized to the
    whole long position (0 when flat, so nothing is sent).

    Params:
        target: fraction of portfolio value to hold, in (0, 1]. Leave room for
            an open above the close when orders fill at the next open.

    Usage: ``cerebro.addsizer(LotSizer, target=0.95)``.
    """

    params = (("target", 0.95),)

    def __init__(self) -> None:
        if not 0 < self.p.target <= 1:
            raise ConfigError(f"target={self.p.target!r}: give the fraction of portfolio value to hold, in (0, 1]")

    def _getsizing(self, comminfo: bt.CommInfoBase, cash: float, data: Any, isbuy: bool) -> int:
        position = self.broker.getposition(data).size
        if not isbuy:
            return max(int(position), 0)
        wanted = self.p.target * self.broker.getvalue() - position * data.close[0]
        return self.shares_for(data, min(wanted, cash), comminfo)

    def shares_for(self, data: Any, budget: float, comminfo: bt.CommInfoBase | None = None,
                   price: float | None = None) -> int:
        """The most shares of ``data`` in valid lots whose cost at ``price`` (default the current
        close), fees included, stays within ``budget`` CNY (0 when not even the smallest order fits)."""
        price = data.close[0] if price is None else price
        if not price > 0 or budget <= 0:
            return 0
        comminfo = comminfo or self.broker.getcommissioninfo(data)
        info = self._security(data)
        shares = info.valid_order_size(budget / price)
        date = data.datetime.date(0)
        while shares and shares * price + order_fees(comminfo, shares, price, date) > budget:
            shares = info.valid_order_size(shares - info.order_step)
        return shares

    def _security(self, data: Any) -> SymbolInfo:
        if isinstance(self.broker, AShareBroker):
            return self.broker.security(data)
        return symbol_info(data._name)
