"""A-share symbols: parsing codes and the board rules that depend on them.

Accepted spellings of a security code: ``600519``, ``600519.SH``, ``SH600519``,
``sh600519`` (likewise ``SZ``/``BJ``). A bare six-digit code is a stock, except
``399xxx`` (Shenzhen indexes); an index listed in Shanghai needs its exchange,
``sh000300`` or ``000300.SH``, because ``000300`` alone would be a Shenzhen
stock code.

Board rules follow the exchanges' published regimes:

============  ==========================  ===================================
board         daily price limit           order size
============  ==========================  ===================================
main          10 % (ST: 5 %)              multiples of 100 shares
chinext       10 %, 20 % from 2020-08-24  multiples of 100 shares
star          20 %                        at least 200, then 1-share steps
bse           30 %                        at least 100, then 1-share steps
============  ==========================  ===================================

Price limits did not exist before 1996-12-16; indexes have neither limits
nor lots. ST status changes over time and is not part of the price data, so
it is an explicit flag (``SymbolInfo.st``), which :func:`symbol_info` can set
from a security name carrying the ``ST``/``*ST`` prefix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from rnnstrategy.errors import SymbolError

__all__ = ["Board", "Exchange", "SymbolInfo", "is_st_name", "parse_symbol", "symbol_info"]

_CODE = re.compile(
    r"^(?:(?P<pre>sh|sz|bj)\.?)?(?P<code>\d{6})(?:\.(?P<suf>sh|sz|bj|ss|xshg|xshe))?$",
    re.IGNORECASE,
)
_SUFFIX_TO_EXCHANGE = {"sh": "SH", "ss": "SH", "xshg": "SH", "sz": "SZ", "xshe": "SZ", "bj": "BJ"}

PRICE_LIMITS_START = dt.date(1996, 12, 16)
CHINEXT_20PCT_FROM = dt.date(2020, 8, 24)


class Exchange(str, Enum):
    """Where a security is listed."""

    SH = "SH"
    SZ = "SZ"
    BJ = "BJ"


class Board(str, Enum):
    """The board a stock trades on; ``INDEX`` for indexes."""

    MAIN = "main"
    CHINEXT = "chinext"
    STAR = "star"
    BSE = "bse"
    INDEX = "index"


@dataclass(frozen=True)
class SymbolInfo:
    """Board and trading-rule metadata of one security.

    Attributes:
        code: the six-digit code, e.g. ``"600519"``.
        exchange: listing exchange.
        board: trading board (``Board.INDEX`` for an index).
        st: whether the stock is under special treatment (5 % limit on the
            main board). Set it yourself when you know it; it is not in bars.
        name: the security name when known.
    """

    code: str
    exchange: Exchange
    board: Board
    st: bool = False
    name: str = ""

    @property
    def is_index(self) -> bool:
        return self.board is Board.INDEX

    @property
    def ts_code(self) -> str:
        """The tushare spelling, e.g. ``600519.SH``."""
        return f"{self.code}.{self.exchange.value}"

    @property
    def min_order(self) -> int:
        """Smallest buy order in shares (0 for an index, which cannot be traded)."""
        if self.is_index:
            return 0
        return 200 if self.board is Board.STAR else 100

    @property
    def order_step(self) -> int:
        """Shares between valid order sizes above :attr:`min_order`."""
        if self.is_index:
            return 0
        return 1 if self.board in (Board.STAR, Board.BSE) else 100

    def valid_order_size(self, shares: float) -> int:
        """Round ``shares`` down to a valid buy size; 0 when below the minimum."""
        if self.is_index or shares < self.min_order:
            return 0
        extra = int(shares) - self.min_order
        return self.min_order + extra - extra % self.order_step

    def price_limit(self, date: dt.date) -> float | None:
        """Daily price limit as a fraction of the previous close on ``date``.

        ``None`` means no limit (indexes, and every stock before 1996-12-16).
        The first days after a listing have no limit either; that depends on
        the listing date, which the broker rules handle, not this table.
        """
        if isinstance(date, dt.datetime):
            date = date.date()
        if self.is_index or date < PRICE_LIMITS_START:
            return None
        if self.board is Board.BSE:
            return 0.30
        if self.board is Board.STAR:
            return 0.20
        if self.board is Board.CHINEXT:
            return 0.20 if date >= CHINEXT_20PCT_FROM else (0.05 if self.st else 0.10)
        return 0.05 if self.st else 0.10

    def price_limit_steps(self) -> tuple[tuple[dt.date, float], ...]:
        """:meth:`price_limit` as a table: ``(first day, limit)`` steps, ascending; each limit holds from its
        day until the next step's. No limit before the first step (none at all for an index)."""
        if self.is_index:
            return ()
        if self.board is Board.BSE:
            return ((PRICE_LIMITS_START, 0.30),)
        if self.board is Board.STAR:
            return ((PRICE_LIMITS_START, 0.20),)
        steps = ((PRICE_LIMITS_START, 0.05 if self.st else 0.10),)
        return (*steps, (CHINEXT_20PCT_FROM, 0.20)) if self.board is Board.CHINEXT else steps

    def price_limits(self, days: np.ndarray | Sequence[dt.date]) -> np.ndarray:
        """:meth:`price_limit` of many days at once: a float64 array, NaN where there is no limit.

        ``days``: ``datetime64`` values (a ``DatetimeIndex``'s ``.to_numpy()``) or dates; a time of
        day counts as its date. A missing day (NaT) has no limit.
        """
        days = np.asarray(days, dtype="datetime64[D]")
        limits = np.full(days.shape, np.nan)
        for first, limit in self.price_limit_steps():
            limits[days >= np.datetime64(first, "D")] = limit
        return limits

    def with_st(self, st: bool = True) -> SymbolInfo:
        """A copy with the ST flag set (or cleared)."""
        return replace(self, st=st)


def parse_symbol(text: str) -> tuple[str, Exchange | None]:
    """Split a code spelling into (six digits, exchange or None when not given).

    Raises:
        SymbolError: when ``text`` is not a recognisable A-share code.
    """
    match = _CODE.match(str(text).strip())
    if not match:
        raise SymbolError(
            f"{text!r} is not an A-share code: use six digits such as '600519', "
            "optionally with an exchange ('600519.SH', 'sh000300')"
        )
    tag = match.group("pre") or match.group("suf")
    exchange = Exchange(_SUFFIX_TO_EXCHANGE[tag.lower()]) if tag else None
    return match.group("code"), exchange


def _stock_exchange(code: str) -> Exchange | None:
    if code.startswith(("60", "68", "90")):
        return Exchange.SH
    if code.startswith(("00", "30", "20")):
        return Exchange.SZ
    if code.startswith(("8", "4", "92")):
        return Exchange.BJ
    return None


def _stock_board(code: str, exchange: Exchange) -> Board:
    if exchange is Exchange.BJ:
        return Board.BSE
    if code.startswith(("688", "689")):
        return Board.STAR
    if code.startswith(("300", "301", "302")):
        return Board.CHINEXT
    return Board.MAIN


_ST_NAME = re.compile(r"^(?:\*|S\*?)?ST")  # ST, *ST, S*ST, SST


def is_st_name(name: str) -> bool:
    """True for a name under special treatment: an ``ST``, ``*ST``, ``S*ST`` or ``SST`` prefix."""
    return bool(_ST_NAME.match(name.strip().upper()))


def symbol_info(symbol: str, name: str = "", st: bool | None = None) -> SymbolInfo:
    """Board and rule metadata for ``symbol``.

    Args:
        symbol: a code in any accepted spelling (see the module docstring).
        name: the security name, if known; an ``ST``/``*ST`` prefix sets ``st``.
        st: force the ST flag regardless of ``name``.

    Raises:
        SymbolError: for an unrecognisable code or one that names no market.
    """
    code, exchange = parse_symbol(symbol)
    if st is None:
        st = is_st_name(name)
    stock_exchange = _stock_exchange(code)
    is_index = (exchange is Exchange.SH and code.startswith("000")) or code.startswith("399")
    if is_index:
        return SymbolInfo(code, exchange or Exchange.SZ, Board.INDEX, st=False, name=name)
    if stock_exchange is None:
        raise SymbolError(f"{symbol!r}: code {code} belongs to no A-share stock board")
    if exchange is not None and exchange is not stock_exchange:
        raise SymbolError(
            f"{symbol!r}: code {code} trades on {stock_exchange.value}, not {exchange.value}; "
            f"write '{code}.{stock_exchange.value}'"
        )
    return SymbolInfo(code, stock_exchange, _stock_board(code, stock_exchange), st=st, name=name)
