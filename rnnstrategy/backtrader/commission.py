"""A-share trading fees as a Backtrader commission scheme.

The fee arithmetic (commission with its minimum, stamp duty and transfer fee by
trade date, rounded to the fen) lives in :mod:`rnnstrategy.ashare.fees`;
:class:`AShareCommission` wraps a :class:`~rnnstrategy.ashare.fees.FeeSchedule` for Backtrader.

Example::

    fees = AShareCommission().fees(-100, 1800.0, datetime.date(2023, 9, 1))
    fees.commission, fees.stamp_duty, fees.transfer_fee  # 45.0, 90.0, 1.8

The rates depend on the trade date, which Backtrader's hook ``_getcommission(size,
price, pseudoexec)`` does not receive. A scheme therefore charges through that hook
only once dated: ``scheme.on(date)`` is a new, immutable scheme with the same params
and ``date`` set. The :class:`~rnnstrategy.backtrader.broker.AShareBroker` hands
Backtrader's execution such a view, dated by the trade date of the fill (the date of
the fill bar, which under cheat-on-close is the bar of the order); the installed scheme
is never changed. Outside Backtrader's execution, ask :meth:`AShareCommission.fees` or
:func:`order_fees` with the date.
"""

from __future__ import annotations

import datetime as dt

import backtrader as bt

from rnnstrategy.ashare.fees import Fees, FeeSchedule, check_commission
from rnnstrategy.errors import ConfigError

__all__ = ["AShareCommission", "order_fees"]

_DEFAULT = FeeSchedule()


class AShareCommission(bt.CommInfoBase):
    """A-share commission, stamp duty and transfer fee (see the module docstring).

    Params:
        commission: broker commission as a fraction of value (0.00025 = 0.025 %).
        min_commission: smallest commission of an order, CNY.
        stamp_duty: the stamp duty table; ``()`` charges none.
        transfer_fee: the transfer fee table; ``()`` charges none.
        round_to_fen: round each fee half up to 0.01 CNY, as on a statement.
        date: the trade date whose rates ``getcommission`` charges; ``None`` (the
            default) until the broker dates a fill with :meth:`on`.

    A negative size is a sell. Install it with
    :func:`rnnstrategy.backtrader.rules.use_ashare_rules`, or on an
    :class:`~rnnstrategy.backtrader.broker.AShareBroker` with
    ``broker.addcommissioninfo(AShareCommission())``.
    """

    params = (
        ("commission", _DEFAULT.commission_rate),
        ("min_commission", _DEFAULT.min_commission),
        ("stamp_duty", _DEFAULT.stamp_duty),
        ("transfer_fee", _DEFAULT.transfer_fee),
        ("round_to_fen", _DEFAULT.round_to_fen),
        ("date", None),
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),
    )

    def __init__(self) -> None:
        super().__init__()
        if not self.p.percabs or self.p.commtype != self.COMM_PERC or not self.p.stocklike:
            raise ConfigError(
                "AShareCommission is a stock scheme with a fractional commission: "
                "leave stocklike, commtype and percabs at their defaults"
            )
        check_commission("commission", self.p.commission, self.p.min_commission)
        #: The fees of the params, computed by :mod:`rnnstrategy.ashare.fees`.
        self.schedule = FeeSchedule(
            commission_rate=self.p.commission,
            min_commission=self.p.min_commission,
            stamp_duty=self.p.stamp_duty,
            transfer_fee=self.p.transfer_fee,
            round_to_fen=self.p.round_to_fen,
        )

    @classmethod
    def from_schedule(cls, schedule: FeeSchedule) -> AShareCommission:
        """The scheme charging ``schedule``."""
        return cls(
            commission=schedule.commission_rate,
            min_commission=schedule.min_commission,
            stamp_duty=schedule.stamp_duty,
            transfer_fee=schedule.transfer_fee,
            round_to_fen=schedule.round_to_fen,
        )

    def on(self, date: dt.date) -> AShareCommission:
        """A new scheme with these params that charges the rates of ``date`` through ``getcommission``."""
        if isinstance(date, dt.datetime):
            date = date.date()
        return type(self)(**{**self.p._getkwargs(), "date": date})

    def fees(self, size: float, price: float, date: dt.date) -> Fees:
        """The fee breakdown of a fill of ``size`` shares (negative: sell) at ``price`` on ``date``."""
        return self.schedule.fees(size, price, date)

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        if self.p.date is None:
            raise ConfigError(
                "AShareCommission needs the trade date to choose its rates: install it on an "
                "AShareBroker (use_ashare_rules(cerebro) does), which dates every fill; elsewhere "
                "ask scheme.fees(size, price, date) or date the scheme with scheme.on(date)"
            )
        return self.fees(size, price, self.p.date).total


def order_fees(comminfo: bt.CommInfoBase, size: float, price: float, date: dt.date) -> float:
    """All fees of an order of ``size`` shares (negative: sell) at ``price`` on ``date``.

    An :class:`AShareCommission` is asked for the rates of ``date``; any other scheme
    charges what its ``getcommission`` says.
    """
    if isinstance(comminfo, AShareCommission):
        return comminfo.fees(size, price, date).total
    return comminfo.getcommission(size, price)
