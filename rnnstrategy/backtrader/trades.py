"""Backtrader analyzers that log every fill with its fee breakdown (``trades.csv``) and the corporate
actions the broker booked (``corporate_actions.csv``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import backtrader as bt
import pandas as pd

from rnnstrategy.ashare.fees import Fees
from rnnstrategy.backtrader.commission import AShareCommission
from rnnstrategy.data.records import CORPORATE_ACTION_COLUMNS, TRADE_COLUMNS

__all__ = ["CORPORATE_ACTION_COLUMNS", "TRADE_COLUMNS", "CorporateActionLog", "TradeLog", "fill_fees"]


def fill_fees(comminfo: bt.CommInfoBase | None, size: float, price: float, date: dt.date,
              charged: float) -> Fees:
    """The fee breakdown of one fill.

    With an :class:`~rnnstrategy.backtrader.commission.AShareCommission` the fees are
    recomputed exactly as they were charged; any other scheme's ``charged``
    total is reported as commission.
    """
    if isinstance(comminfo, AShareCommission):
        return comminfo.fees(size, price, date)
    return Fees(commission=charged, stamp_duty=0.0, transfer_fee=0.0)


class TradeLog(bt.Analyzer):
    """One row per fill: ``date, symbol, side, size, price, value, commission, stamp_duty, transfer_fee``.

    ``symbol`` is the feed's name, ``size`` is in shares and positive, ``side`` is ``"buy"`` or ``"sell"``,
    ``value = size * price``, fees in CNY. ``date`` is the trade date (under
    cheat-on-close, the date of the bar whose close filled the order).
    ``get_analysis()`` returns the rows as dicts; :meth:`frame` as a DataFrame
    ready for ``to_csv("trades.csv", index=False)``.

    Usage: ``cerebro.addanalyzer(TradeLog, _name="trades")``, then
    ``strategy.analyzers.trades.frame()``.
    """

    def start(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def notify_order(self, order: bt.Order) -> None:
        if order.status not in (order.Partial, order.Completed):
            return
        for bit in order.executed.iterpending():
            date = order.data.num2date(bit.dt).date()
            fees = fill_fees(order.comminfo, bit.size, bit.price, date, bit.comm)
            size = abs(bit.size)
            self.rows.append(
                {
                    "date": date,
                    "symbol": order.data._name,
                    "side": "buy" if bit.size > 0 else "sell",
                    "size": size,
                    "price": bit.price,
                    "value": size * bit.price,
                    "commission": fees.commission,
                    "stamp_duty": fees.stamp_duty,
                    "transfer_fee": fees.transfer_fee,
                }
            )

    def get_analysis(self) -> list[dict[str, Any]]:
        return self.rows

    def frame(self) -> pd.DataFrame:
        """The fills as a DataFrame with :data:`TRADE_COLUMNS`."""
        return pd.DataFrame(self.rows, columns=list(TRADE_COLUMNS))


class CorporateActionLog(bt.Analyzer):
    """The dividends, bonus shares, splits and dividend tax an
    :class:`~rnnstrategy.backtrader.broker.AShareBroker` booked: one row of
    :data:`~rnnstrategy.data.records.CORPORATE_ACTION_COLUMNS` each, in the order booked (none with
    another broker, or on feeds without a ``factor`` line).

    Usage: ``cerebro.addanalyzer(CorporateActionLog, _name="corporate_actions")``, then
    ``strategy.analyzers.corporate_actions.frame()``.
    """

    def get_analysis(self) -> list[dict[str, Any]]:
        return self.frame().to_dict("records")

    def frame(self) -> pd.DataFrame:
        """What the broker booked as a DataFrame with :data:`CORPORATE_ACTION_COLUMNS`."""
        booked = getattr(self.strategy.broker, "corporate_actions_frame", None)
        return booked() if booked is not None else pd.DataFrame(columns=list(CORPORATE_ACTION_COLUMNS))
