"""Dividend tax of an individual A-share investor by holding period, as a dated table (no Backtrader).

The effective rates on a cash dividend (the income tax of 20 % on all, half or none of it):

==============  ===================  ====================  ==============  ==========================
from ex-date    held up to a month   up to a year          over a year     rule
==============  ===================  ====================  ==============  ==========================
(before)        20 %                 20 %                  20 %            individual income tax
2005-06-13      10 %                 10 %                  10 %            财税〔2005〕102号
2013-01-01      20 %                 10 %                  5 %             财税〔2012〕85号
2015-09-08      20 %                 10 %                  0               财税〔2015〕101号
==============  ===================  ====================  ==============  ==========================

How it is collected (since 2013): on the payment the company withholds only the over-a-year rate; the
rest depends on how long the shares were held and is taken from the account when they are sold, by the
holding period from the purchase to the sale, the shares sold first-in first-out. Shares never sold owe
nothing more. A holding period "up to a month" means a sale on or before the same day of the next
month (bought 2024-01-05, sold by 2024-02-05); "up to a year" the same day twelve months on.
Bonus shares keep the purchase dates of the shares they were issued on, and are not taxed here (a
bonus paid from retained earnings is taxed on its par value in reality). Holdings whose purchase date is
unknown (an account's opening positions) count as held over a year.

:class:`HoldingLots` keeps one stock's lots and says what is withheld on an ex-date and what is due on a
sale.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["DIVIDEND_TAX_SCHEDULE", "DividendTaxStep", "HoldingLots", "add_months", "tax_step"]


@dataclass(frozen=True)
class DividendTaxStep:
    """The effective dividend tax rates on ex-dates from ``since`` (inclusive) until the next step."""

    since: dt.date
    within_month: float
    within_year: float
    beyond_year: float


DIVIDEND_TAX_SCHEDULE: tuple[DividendTaxStep, ...] = (
    DividendTaxStep(dt.date.min, 0.20, 0.20, 0.20),
    DividendTaxStep(dt.date(2005, 6, 13), 0.10, 0.10, 0.10),
    DividendTaxStep(dt.date(2013, 1, 1), 0.20, 0.10, 0.05),
    DividendTaxStep(dt.date(2015, 9, 8), 0.20, 0.10, 0.0),
)


def tax_step(date: dt.date, schedule: Sequence[DividendTaxStep] = DIVIDEND_TAX_SCHEDULE) -> DividendTaxStep:
    """The step of ``schedule`` in force on the ex-date ``date``."""
    i = bisect.bisect_right([step.since for step in schedule], date) - 1
    return schedule[max(i, 0)]


def add_months(date: dt.date, months: int) -> dt.date:
    """``date`` moved by ``months`` calendar months, the day clamped to the month's end (01-31 + 1 = 02-28)."""
    month = date.month - 1 + months
    year, month = date.year + month // 12, month % 12 + 1
    return date.replace(year=year, month=month, day=min(date.day, calendar.monthrange(year, month)[1]))


@dataclass
class _Lot:
    bought: dt.date | None  # None: unknown, counted as held over a year
    shares: float
    owed_within_month: float = 0.0  # tax per share still due on a sale up to a month after ``bought``
    owed_within_year: float = 0.0  # ... up to a year after it


class HoldingLots:
    """One stock's holding as lots by purchase date, with the dividend tax each still owes (FIFO).

    Example::

        lots = HoldingLots()
        lots.buy(dt.date(2022, 6, 1), 100)
        lots.dividend(dt.date(2022, 6, 30), 21.675)    # 0.0 withheld now (since 2015-09-08)
        lots.sell(dt.date(2022, 7, 1), 100)            # 433.5: 20 % of 2,167.50, sold within a month
    """

    def __init__(self, schedule: Sequence[DividendTaxStep] = DIVIDEND_TAX_SCHEDULE) -> None:
        self.schedule = tuple(schedule)
        self._lots: list[_Lot] = []

    @property
    def shares(self) -> float:
        """Shares held in all lots."""
        return sum(lot.shares for lot in self._lots)

    def buy(self, date: dt.date | None, shares: float) -> None:
        """Add ``shares`` bought on ``date`` (None: a holding of unknown age)."""
        if shares > 0:
            self._lots.append(_Lot(date, float(shares)))

    def dividend(self, date: dt.date, cash_per_share: float) -> float:
        """Book a cash dividend on the ex-date ``date``; returns the tax withheld now, CNY, to the fen."""
        step = tax_step(date, self.schedule)
        for lot in self._lots:
            lot.owed_within_month += cash_per_share * (step.within_month - step.beyond_year)
            lot.owed_within_year += cash_per_share * (step.within_year - step.beyond_year)
        return _fen(self.shares * cash_per_share * step.beyond_year)

    def sell(self, date: dt.date, shares: float) -> float:
        """Take ``shares`` from the oldest lots; returns the dividend tax the sale makes due, CNY, to the fen."""
        due, left = 0.0, float(shares)
        while left > 1e-9 and self._lots:
            lot = self._lots[0]
            taken = min(lot.shares, left)
            due += taken * self._owed(lot, date)
            lot.shares -= taken
            left -= taken
            if lot.shares <= 1e-9:
                self._lots.pop(0)
        return _fen(due)

    def split(self, share_ratio: float, shares_after: float) -> None:
        """Scale every lot by ``share_ratio`` (bonus shares, splits), then take the shares the holding lost to
        rounding (``shares_after`` is the holding's new count) from the newest lots."""
        for lot in self._lots:
            lot.shares *= share_ratio
            lot.owed_within_month /= share_ratio
            lot.owed_within_year /= share_ratio
        extra = self.shares - shares_after
        while extra > 1e-9 and self._lots:
            lot = self._lots[-1]
            taken = min(lot.shares, extra)
            lot.shares -= taken
            extra -= taken
            if lot.shares <= 1e-9:
                self._lots.pop()

    @staticmethod
    def _owed(lot: _Lot, sold: dt.date) -> float:
        if lot.bought is None:
            return 0.0
        if sold <= add_months(lot.bought, 1):
            return lot.owed_within_month
        if sold <= add_months(lot.bought, 12):
            return lot.owed_within_year
        return 0.0


def _fen(amount: float) -> float:
    return float(Decimal(repr(float(amount))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
