"""Daily price limits of A-shares: the arithmetic, ST status and listing days.

The broker rules (:mod:`rnnstrategy.backtrader.broker`) use this module; it does not
import Backtrader, so the arithmetic can be checked on its own.

The exchanges set the limit prices of a day from the previous close,
``prev_close * (1 ± limit)`` rounded half up to the fen (0.01 CNY). A buy at
or above the limit-up price, or a sell at or below the limit-down price, is
refused. The limit fraction depends on the board and the date
(:meth:`rnnstrategy.ashare.symbols.SymbolInfo.price_limit`).

Adjusted prices. Forward-adjusted (qfq) bars are not on the fen grid: the
adjusted limit-up close of 300124 on 2019-04-04 is 18.8493 after a close of
17.1375, while ``limit_prices(17.1375, 0.10)`` gives 18.85. What survives the
adjustment is the ratio to the previous close of the same series, so the tests
here compare without rounding, allowing half a fen:

* at limit-up when ``price > prev_close * (1 + limit) - 0.005``;
* at limit-down when ``price <= prev_close * (1 - limit) + 0.005``.

On raw fen prices these are exactly "at or beyond the rounded limit price".
On qfq prices, which are at most the raw ones, half a fen of adjusted price is
at least the real rounding slack, so no real limit day is missed; a price one
fen inside the limit of a heavily adjusted old bar may be judged at the limit.
For back-adjusted (hfq) prices, above the raw ones, the slack is too small and
a limit day can be missed: use raw or qfq bars.

ST status and listing dates are not in the bars; :class:`SecurityRules` holds
them per security.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rnnstrategy.ashare.symbols import Board, SymbolInfo
from rnnstrategy.errors import ConfigError

__all__ = [
    "limit_refusal",
    "CHINEXT_REGISTRATION_FROM",
    "MAIN_REGISTRATION_FROM",
    "SecurityRules",
    "at_limit_down",
    "at_limit_up",
    "daily_limit",
    "default_unlimited_days",
    "limit_prices",
]

CHINEXT_REGISTRATION_FROM = dt.date(2020, 8, 24)
MAIN_REGISTRATION_FROM = dt.date(2023, 4, 10)

_FEN = Decimal("0.01")
_HALF_FEN = Decimal("0.005")


def _dec(value: float) -> Decimal:
    # repr gives the shortest decimal that round-trips, i.e. the CSV's digits
    return Decimal(repr(float(value)))


def _check(prev_close: float, limit: float) -> None:
    if not prev_close > 0:
        raise ConfigError(f"prev_close={prev_close!r}: a previous close must be a positive price")
    if not 0 < limit < 1:
        raise ConfigError(f"limit={limit!r}: a price limit is a fraction in (0, 1), e.g. 0.10 for 10 %")


def limit_prices(prev_close: float, limit: float) -> tuple[float, float]:
    """The (limit-down, limit-up) prices after ``prev_close``, as the exchanges set them.

    ``prev_close * (1 - limit)`` and ``prev_close * (1 + limit)``, each rounded
    half up to the fen: ``limit_prices(10.05, 0.10) == (9.05, 11.06)``.
    """
    _check(prev_close, limit)
    prev, frac = _dec(prev_close), _dec(limit)
    down = (prev * (1 - frac)).quantize(_FEN, rounding=ROUND_HALF_UP)
    up = (prev * (1 + frac)).quantize(_FEN, rounding=ROUND_HALF_UP)
    return float(down), float(up)


def at_limit_up(price: float, prev_close: float, limit: float) -> bool:
    """Whether ``price`` is at or above the limit-up price (see the module notes)."""
    _check(prev_close, limit)
    return _dec(price) > _dec(prev_close) * (1 + _dec(limit)) - _HALF_FEN


def at_limit_down(price: float, prev_close: float, limit: float) -> bool:
    """Whether ``price`` is at or below the limit-down price (see the module notes)."""
    _check(prev_close, limit)
    return _dec(price) <= _dec(prev_close) * (1 - _dec(limit)) + _HALF_FEN


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


def daily_limit(info: SymbolInfo, rules: SecurityRules, date: dt.date) -> float | None:
    """The price-limit fraction of ``info`` on ``date`` (``None``: no limit).

    ``rules.st`` decides ST status when set, else ``info.st``. The listing
    window is not applied here: it depends on the bars since the listing,
    which the broker counts.
    """
    st = info.st if rules.st is None else rules.is_st(date)
    return info.with_st(st).price_limit(date)


def limit_refusal(buy: bool, price: float, prev_close: float, date: dt.date, info: SymbolInfo,
                  rules: SecurityRules, bars_since_listing: int | None) -> str | None:
    """Why the daily price limit refuses a fill at ``price`` on ``date``, else ``None``.

    One rule for the Backtrader broker and the paper account: a buy does not fill at or above
    limit-up, a sell not at or below limit-down, judged against the previous close of the same
    series; no limit applies on the unlimited days after a listing. ``bars_since_listing`` is
    the number of bars from the listing date to the fill bar, both included, counted by the
    caller in its own bars (None: unknown, e.g. bars that start after the listing, which are
    treated as past the unlimited days).
    """
    limit = daily_limit(info, rules, date)
    if limit is None:
        return None
    days = rules.unlimited_days(info.board)
    listing = rules.listing_date
    if days and listing is not None and date >= listing and bars_since_listing is not None \
            and bars_since_listing <= days:
        return None
    if buy and at_limit_up(price, prev_close, limit):
        return f"buy at {price:.4f} is at limit-up ({limit:.0%} above the previous close {prev_close:.4f})"
    if not buy and at_limit_down(price, prev_close, limit):
        return f"sell at {price:.4f} is at limit-down ({limit:.0%} below the previous close {prev_close:.4f})"
    return None
