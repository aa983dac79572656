"""One security's own rule settings: what the bars do not say about it (ST status, listing date).

:class:`SecurityRules` holds them per security; the brokers and the paper account look them up by
feed name or code. ST status changes the daily price limit (:func:`rnnstrategy.ashare.limits.daily_limit`);
the listing date starts a window of trading days without a price limit, whose default length
(:func:`default_unlimited_days`) depends on the board and the registration reforms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from rnnstrategy.ashare.symbols import Board
from rnnstrategy.errors import ConfigError

__all__ = [
    "CHINEXT_REGISTRATION_FROM",
    "MAIN_REGISTRATION_FROM",
    "SecurityRules",
    "default_unlimited_days",
]

CHINEXT_REGISTRATION_FROM = dt.date(2020, 8, 24)
MAIN_REGISTRATION_FROM = dt.date(2023, 4, 10)


def default_unlimited_days(board: Board, listing_date: dt.date) -> int:
    """Trading days without a price limit after a listing on ``listing_date``.

    STAR: 5. ChiNext: 5 from the registration reform of 2020-08-24, else 1.
    Main board: 5 from the registration reform of 2023-04-10, else 1. BSE: 1.
    Before the reforms the first day had a +44 % / -36 % band instead of a
    limit; it is treated as unlimited.
    """
    if board is Board.STAR:
        return 5
    if board is Board.CHINEXT:
        return 5 if listing_date >= CHINEXT_REGISTRATION_FROM else 1
    if board is Board.MAIN:
        return 5 if listing_date >= MAIN_REGISTRATION_FROM else 1
    if board is Board.BSE:
        return 1
    return 0


@dataclass(frozen=True)
class SecurityRules:
    """What the bars do not say about one security: ST status and listing.

    Attributes:
        st: ``True``/``False`` for the whole backtest, or a function of the
            date for a security that entered or left special treatment; the
            default ``None`` keeps the flag of the symbol (not ST for a bare
            code). ST halves the main-board limit to
            5 % (and the pre-2020-08-24 ChiNext one); STAR, BSE and ChiNext
            after the reform keep their limits.
        listing_date: the first trading day. When given, the first
            ``unlimited_first_days`` bars of the feed from this date trade
            without a price limit. The count uses the feed's own bars, so the
            feed must start on the listing day: a feed that starts later is
            treated as past its unlimited days.
        unlimited_first_days: overrides :func:`default_unlimited_days`.
    """

    st: bool | Callable[[dt.date], bool] | None = None
    listing_date: dt.date | None = None
    unlimited_first_days: int | None = None

    def __post_init__(self) -> None:
        if self.listing_date is not None and not isinstance(self.listing_date, dt.date):
            raise ConfigError(
                f"listing_date={self.listing_date!r}: give a datetime.date, e.g. datetime.date(2020, 7, 16)"
            )
        if self.unlimited_first_days is not None:
            if self.unlimited_first_days < 0:
                raise ConfigError(f"unlimited_first_days={self.unlimited_first_days}: use 0 or more days")
            if self.listing_date is None:
                raise ConfigError(
                    f"unlimited_first_days={self.unlimited_first_days} needs listing_date: "
                    "the days are counted from the listing"
                )

    def is_st(self, date: dt.date) -> bool:
        """Whether the security is under special treatment on ``date``."""
        if callable(self.st):
            return bool(self.st(date))
        return bool(self.st)

    def unlimited_days(self, board: Board) -> int:
        """Number of unlimited trading days from the listing (0 without a listing date)."""
        if self.listing_date is None:
            return 0
        if self.unlimited_first_days is not None:
            return self.unlimited_first_days
        return default_unlimited_days(board, self.listing_date)
