"""A-share trading fees as a Backtrader commission scheme.

Three fees, each rounded half up to the fen (0.01 CNY):

* broker commission on both sides: ``commission`` of the traded value, at
  least ``min_commission`` per order (defaults 0.025 % and 5 CNY);
* stamp duty by trade date, :data:`STAMP_DUTY_SCHEDULE`: on sells only since
  2008-09-19 (0.1 %, then 0.05 % from 2023-08-28), on both sides before;
* transfer fee by trade date on both sides, :data:`TRANSFER_FEE_SCHEDULE`:
  0.002 % before 2022-04-29, 0.001 % from then, for both exchanges. (Before
  2015-08-01 Shanghai charged by share count and Shenzhen charged none; that
  older regime is not modelled.)

Example::

    fees = AShareCommission().fees(-100, 1800.0, datetime.date(2023, 9, 1))
    fees.commission, fees.stamp_duty, fees.transfer_fee  # 45.0, 90.0, 1.8

:class:`AShareCommission` overrides the one hook ``_getcommission``. The fee
rates depend on the trade date, which the hook does not receive: the
:class:`~rnnstrategy.backtrader.broker.AShareBroker` stores it in
:attr:`AShareCommission.trade_date` before every fill (the date of the fill
bar, which under cheat-on-close is the bar of the order) and at the start of
each bar.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import backtrader as bt

from rnnstrategy.errors import ConfigError

__all__ = [
    "AShareCommission",
    "FeeStep",
    "Fees",
    "MAX_COMMISSION",
    "STAMP_DUTY_SCHEDULE",
    "TRANSFER_FEE_SCHEDULE",
    "order_fees",
    "rate_on",
]


@dataclass(frozen=True)
class FeeStep:
    """A fee rate in force from ``since`` (inclusive) until the next step.

    Attributes:
        since: first trade date of the rate.
        rate: fraction of the traded value (0.001 is 0.1 %).
        both_sides: ``True`` when buyer and seller pay, ``False`` for sells only.
    """

    since: dt.date
    rate: float
    both_sides: bool = True


#: Regulatory cap on broker commission (0.3 % of value); a larger rate is a unit mistake.
MAX_COMMISSION = 0.003

# Securities transaction stamp duty (证券交易印花税). Dates from the Ministry of
# Finance announcements; the 1990-91 regime (Shenzhen 0.6 %, Shanghai none
# before October 1991) is folded into the first step.
STAMP_DUTY_SCHEDULE: tuple[FeeStep, ...] = (
    FeeStep(dt.date.min, 0.003),
    FeeStep(dt.date(1997, 5, 12), 0.005),
    FeeStep(dt.date(1998, 6, 12), 0.004),
    FeeStep(dt.date(2001, 11, 16), 0.002),
    FeeStep(dt.date(2005, 1, 24), 0.001),
    FeeStep(dt.date(2007, 5, 30), 0.003),
    FeeStep(dt.date(2008, 4, 24), 0.001),
    FeeStep(dt.date(2008, 9, 19), 0.001, both_sides=False),
    FeeStep(dt.date(2023, 8, 28), 0.0005, both_sides=False),
)

# Transfer fee (过户费), one rate for both exchanges as the design states.
TRANSFER_FEE_SCHEDULE: tuple[FeeStep, ...] = (
    FeeStep(dt.date.min, 0.00002),
    FeeStep(dt.date(2022, 4, 29), 0.00001),
)


def _check_schedule(name: str, schedule: Sequence[FeeStep]) -> None:
    for step in schedule:
        if not isinstance(step, FeeStep):
            raise ConfigError(f"{name}: {step!r} is not a FeeStep; build the table from FeeStep(since, rate)")
        if not 0 <= step.rate < 1:
            raise ConfigError(f"{name}: rate {step.rate!r} from {step.since} must be a fraction in [0, 1)")
    dates = [step.since for step in schedule]
    if dates != sorted(set(dates)):
        raise ConfigError(f"{name}: steps must have increasing, distinct 'since' dates, got {dates}")


def rate_on(schedule: Sequence[FeeStep], date: dt.date, is_sell: bool) -> float:
    """The rate of ``schedule`` for a buy or sell on ``date`` (0 before the first step)."""
    i = bisect.bisect_right([step.since for step in schedule], date) - 1
    if i < 0:
        return 0.0
    step = schedule[i]
    return step.rate if (is_sell or step.both_sides) else 0.0


_FEN = Decimal("0.01")


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


@dataclass(frozen=True)
class Fees:
    """The fees of one fill, in CNY."""

    commission: float
    stamp_duty: float
    transfer_fee: float

    @property
    def total(self) -> float:
        return self.commission + self.stamp_duty + self.transfer_fee


class AShareCommission(bt.CommInfoBase):
    """A-share commission, stamp duty and transfer fee (see the module docstring).

    Params:
        commission: broker commission as a fraction of value (0.00025 = 0.025 %).
        min_commission: smallest commission of an order, CNY.
        stamp_duty: the stamp duty table; ``()`` charges none.
        transfer_fee: the transfer fee table; ``()`` charges none.
        round_to_fen: round each fee half up to 0.01 CNY, as on a statement.

    A negative size is a sell. Install it with
    :func:`rnnstrategy.backtrader.rules.use_ashare_rules`, or on an
    :class:`~rnnstrategy.backtrader.broker.AShareBroker` with
    ``broker.addcommissioninfo(AShareCommission())``.
    """

    params = (
        ("commission", 0.00025),
        ("min_commission", 5.0),
        ("stamp_duty", STAMP_DUTY_SCHEDULE),
        ("transfer_fee", TRANSFER_FEE_SCHEDULE),
        ("round_to_fen", True),
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
        if not 0 <= self.p.commission <= MAX_COMMISSION:
            raise ConfigError(
                f"commission={self.p.commission!r}: give a fraction of value, at most the regulatory cap "
                f"{MAX_COMMISSION} (0.3 %); 0.025 % is commission=0.00025"
            )
        if self.p.min_commission < 0:
            raise ConfigError(f"min_commission={self.p.min_commission!r}: use 0 or a positive amount in CNY")
        _check_schedule("stamp_duty", self.p.stamp_duty)
        _check_schedule("transfer_fee", self.p.transfer_fee)
        #: Trade date used by ``_getcommission``; the broker sets it.
        self.trade_date: dt.date | None = None

    def fees(self, size: float, price: float, date: dt.date) -> Fees:
        """The fee breakdown of a fill of ``size`` shares (negative: sell) at ``price`` on ``date``."""
        if isinstance(date, dt.datetime):
            date = date.date()
        if not size:
            return Fees(0.0, 0.0, 0.0)
        value = _dec(abs(size)) * _dec(price)  # exact decimal arithmetic, like the clearing house

        def charge(rate: float) -> float:
            amount = value * _dec(rate)
            return float(amount.quantize(_FEN, rounding=ROUND_HALF_UP) if self.p.round_to_fen else amount)

        is_sell = size < 0
        commission = max(charge(self.p.commission), float(self.p.min_commission))
        stamp = charge(rate_on(self.p.stamp_duty, date, is_sell))
        transfer = charge(rate_on(self.p.transfer_fee, date, is_sell))
        return Fees(commission, stamp, transfer)

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        if self.trade_date is None:
            raise ConfigError(
                "AShareCommission needs the trade date to choose its rates: install it on an "
                "AShareBroker (use_ashare_rules(cerebro) does), which dates every fill"
            )
        return self.fees(size, price, self.trade_date).total


def order_fees(comminfo: bt.CommInfoBase, size: float, price: float, date: dt.date) -> float:
    """All fees of an order of ``size`` shares (negative: sell) at ``price`` on ``date``.

    An :class:`AShareCommission` is asked for the rates of ``date``; any other scheme
    charges what its ``getcommission`` says.
    """
    if isinstance(comminfo, AShareCommission):
        return comminfo.fees(size, price, date).total
    return comminfo.getcommission(size, price)
