"""A-share trading fees as dated tables and exact decimal arithmetic (no Backtrader).

Three fees, each rounded half up to the fen (0.01 CNY):

* broker commission on both sides: ``commission_rate`` of the traded value, at
  least ``min_commission`` per order (defaults 0.025 % and 5 CNY);
* stamp duty by trade date, :data:`STAMP_DUTY_SCHEDULE`: on sells only since
  2008-09-19 (0.1 %, then 0.05 % from 2023-08-28), on both sides before;
* transfer fee by trade date on both sides, :data:`TRANSFER_FEE_SCHEDULE`:
  0.002 % before 2022-04-29, 0.001 % from then, for both exchanges. (Before
  2015-08-01 Shanghai charged by share count and Shenzhen charged none; that
  older regime is not modelled.)

Example::

    fees = FeeSchedule().fees(-100, 1800.0, datetime.date(2023, 9, 1))
    fees.commission, fees.stamp_duty, fees.transfer_fee  # 45.0, 90.0, 1.8
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rnnstrategy.errors import ConfigError

__all__ = [
    "MAX_COMMISSION",
    "STAMP_DUTY_SCHEDULE",
    "TRANSFER_FEE_SCHEDULE",
    "FeeSchedule",
    "FeeStep",
    "Fees",
    "check_commission",
    "check_schedule",
    "rate_on",
]

#: Regulatory cap on broker commission (0.3 % of value); a larger rate is a unit mistake.
MAX_COMMISSION = 0.003


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


def check_commission(name: str, rate: float, min_commission: float) -> None:
    """Raise :class:`ConfigError` for a commission rate outside ``[0, MAX_COMMISSION]`` or a negative minimum.

    ``name`` is the caller's spelling of the rate (``commission_rate``, ``commission``).
    """
    if not 0 <= rate <= MAX_COMMISSION:
        raise ConfigError(
            f"{name}={rate!r}: give a fraction of value, at most the regulatory cap "
            f"{MAX_COMMISSION} (0.3 %); 0.025 % is {name}=0.00025"
        )
    if not min_commission >= 0:
        raise ConfigError(f"min_commission={min_commission!r}: use 0 or a positive amount in CNY")


def check_schedule(name: str, schedule: Sequence[FeeStep]) -> None:
    """Raise :class:`ConfigError` unless ``schedule`` is :class:`FeeStep` s with fractional rates
    and increasing, distinct dates."""
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


@dataclass(frozen=True)
class FeeSchedule:
    """The fees an account pays: commission terms and the dated stamp duty and transfer fee tables.

    Attributes:
        commission_rate: broker commission as a fraction of value (0.00025 = 0.025 %).
        min_commission: smallest commission of an order, CNY.
        stamp_duty: the stamp duty table; ``()`` charges none.
        transfer_fee: the transfer fee table; ``()`` charges none.
        round_to_fen: round each fee half up to 0.01 CNY, as on a statement.
    """

    commission_rate: float = 0.00025
    min_commission: float = 5.0
    stamp_duty: tuple[FeeStep, ...] = STAMP_DUTY_SCHEDULE
    transfer_fee: tuple[FeeStep, ...] = TRANSFER_FEE_SCHEDULE
    round_to_fen: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "stamp_duty", tuple(self.stamp_duty))
        object.__setattr__(self, "transfer_fee", tuple(self.transfer_fee))
        check_commission("commission_rate", self.commission_rate, self.min_commission)
        check_schedule("stamp_duty", self.stamp_duty)
        check_schedule("transfer_fee", self.transfer_fee)

    def fees(self, size: float, price: float, date: dt.date) -> Fees:
        """The fee breakdown of a fill of ``size`` shares (negative: sell) at ``price`` on ``date``."""
        if isinstance(date, dt.datetime):
            date = date.date()
        if not size:
            return Fees(0.0, 0.0, 0.0)
        value = _dec(abs(size)) * _dec(price)  # exact decimal arithmetic, like the clearing house

        def charge(rate: float) -> float:
            amount = value * _dec(rate)
            return float(amount.quantize(_FEN, rounding=ROUND_HALF_UP) if self.round_to_fen else amount)

        is_sell = size < 0
        commission = max(charge(self.commission_rate), float(self.min_commission))
        stamp = charge(rate_on(self.stamp_duty, date, is_sell))
        transfer = charge(rate_on(self.transfer_fee, date, is_sell))
        return Fees(commission, stamp, transfer)
