"""Daily price limits of A-shares: the limit prices, the at-limit tests and the refusal of a fill.

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

ST status and listing dates are not in the bars;
:class:`~rnnstrategy.ashare.security.SecurityRules` holds them per security.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.ashare.symbols import SymbolInfo
from rnnstrategy.errors import ConfigError

__all__ = [
    "limit_refusal",
    "at_limit_down",
    "at_limit_up",
    "daily_limit",
    "limit_prices",
]

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
