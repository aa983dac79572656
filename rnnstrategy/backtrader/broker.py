"""A Backtrader broker that trades by A-share rules.

:class:`AShareBroker` is a ``bt.brokers.BackBroker`` with these rules, each a
param that can be switched off (all off: plain ``BackBroker`` behaviour):

``lots``
    Orders are rounded down to a valid size when they are placed: 100-share
    lots; STAR (688xxx) at least 200 shares, then 1-share steps; BSE at least
    100, then 1-share steps. An order that rounds to nothing is not sent
    (``buy``/``sell`` return ``None``, as Backtrader does for a zero size) and
    this is logged. A sell of the whole position may be an odd lot, since
    A-share rules require an odd remainder to be sold in one order; a partial
    sell is rounded down like a buy, which keeps the odd remainder for the
    final sell.
``no_short``
    A sell is capped at the long position; with no position it is not sent.
    The exit orders of a bracket are judged against the size of their entry
    order, whose position does not exist yet when they are placed.
``t_plus_one``
    Shares bought on a day cannot be sold that day. A sell that needs them
    (possible with cheat-on-close, or a close fill after an open fill) is
    rejected when it would fill: status ``Rejected``, logged.
``price_limits``
    A buy does not fill at or above the limit-up price, a sell not at or below
    the limit-down price. Both are judged from the fill price, the fill bar's
    date and the previous bar's close in the same (possibly adjusted) series,
    never from later bars; see :mod:`rnnstrategy.ashare.limits` for the arithmetic,
    ST status and the unlimited days after a listing. A feed's first bar has
    no previous close and is not limited.
``skip_suspended``
    A suspended security has no bar for the day: nothing fills on the stale
    bar Backtrader still shows for it. The market's day is the newest bar of
    all feeds; an order created on a stale bar under cheat-on-close does not
    fill either, and an order made before a day the security is suspended
    expires that day (Backtrader alone would keep it and fill it at the first
    open after the suspension).

``volume_limit``
    The fills of one stock on a day take at most this share of the fill bar's
    volume (0.25: 25 %, as rqalpha), rounded down to the board's lot; the rest
    of the order is cancelled, and a bar without volume fills nothing. ``None``
    or 0: no limit.
``corporate_actions``
    On a feed with a ``factor`` line (raw prices and their back-adjustment
    factor, :class:`~rnnstrategy.backtrader.feed.FactorFeed`), the actions of an
    ex-date (cash dividends, bonus shares and splits, read from the factor's
    step) are booked on the positions held at the close before, before any fill
    at the ex-date's open: see :mod:`rnnstrategy.backtrader.actions`. What was
    booked is :meth:`AShareBroker.corporate_actions_frame`. Price limits on such
    a feed are judged from the ex-reference price (the previous raw close over
    the factor's step), as the exchanges do.
``dividend_tax``
    (default off) an individual's dividend tax by holding period, withheld on
    the ex-date and on each sale (FIFO lots): see
    :mod:`rnnstrategy.ashare.dividend_tax`.

An order refused by ``price_limits``, ``skip_suspended`` or ``volume_limit`` is cancelled
(status ``Canceled``, logged, listed in :attr:`AShareBroker.refusals`): A-share orders are day
orders, and an unfilled one expires at the close, so the strategy decides again on the next bar.
``Canceled`` rather than ``Expired`` lets the usual ``notify_order`` pattern
(Canceled/Margin/Rejected) release the strategy's pending order.

Fees: an :class:`~rnnstrategy.backtrader.commission.AShareCommission` is charged at the
rates of each fill's trade date (the fill bar's date; under cheat-on-close the bar of
the order): while Backtrader executes a fill, :meth:`AShareBroker.getcommissioninfo`
returns the installed scheme dated by that day, ``scheme.on(date)``.

The board of a feed is read from its name (``cerebro.adddata(feed,
name="600519.SH")``) with :func:`rnnstrategy.ashare.symbols.symbol_info`; ``securities``
maps feed names to :class:`~rnnstrategy.ashare.security.SecurityRules` for ST status
and listing dates. The rules assume daily bars.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import backtrader as bt
import pandas as pd

from rnnstrategy.ashare.limits import limit_refusal
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.ashare.symbols import SymbolInfo, symbol_info
from rnnstrategy.ashare.volume import check_volume_limit, volume_room
from rnnstrategy.backtrader.actions import ActionBook
from rnnstrategy.backtrader.commission import AShareCommission
from rnnstrategy.backtrader.feed import has_factor
from rnnstrategy.errors import ConfigError, SymbolError

__all__ = ["AShareBroker", "securities_by_code"]

logger = logging.getLogger(__name__)

_NO_RULES = SecurityRules()


class AShareBroker(bt.brokers.BackBroker):
    """``BackBroker`` with A-share lots, no shorting, T+1, price limits, suspensions, a volume limit,
    corporate actions and dividend tax.

    Params (besides those of ``BackBroker``):
        lots, no_short, t_plus_one, price_limits, skip_suspended, corporate_actions: switch each
            rule (see the module docstring); all default to ``True``.
        volume_limit: share of a bar's volume a day's fills of one stock may take (default 0.25);
            None or 0: no limit.
        dividend_tax: charge dividend tax by holding period (default ``False``).
        securities: mapping of feed name to
            :class:`~rnnstrategy.ashare.security.SecurityRules` (ST, listing date).
        positions: holdings to start with, feed name -> shares or (shares, price); None starts
            flat. Set in :meth:`start`, after ``BackBroker`` resets its positions (a signal run
            starts from an account's holdings; see :func:`rnnstrategy.backtrader.signal.decide`).
    """

    params = (
        ("lots", True),
        ("no_short", True),
        ("t_plus_one", True),
        ("price_limits", True),
        ("skip_suspended", True),
        ("volume_limit", 0.25),
        ("corporate_actions", True),
        ("dividend_tax", False),
        ("securities", None),
        ("positions", None),
    )

    def __init__(self) -> None:
        super().__init__()
        check_volume_limit("volume_limit", self.p.volume_limit)
        self._rules = securities_by_code(self.p.securities)

    def init(self) -> None:
        super().init()
        self._reset_state()

    def start(self) -> None:
        super().start()
        cerebro = getattr(self, "cerebro", None)
        exactbars = cerebro.p.exactbars if cerebro is not None else False
        if self.p.price_limits and exactbars >= 1:
            raise ConfigError(
                f"price_limits need earlier bars (previous close, listing days) but Cerebro runs with "
                f"exactbars={exactbars!r}, which drops them: use exactbars=False (the default) or -1"
            )
        if self.p.positions:
            self._start_positions(self.p.positions, getattr(cerebro, "datas", ()))

    def _start_positions(self, positions: Mapping[str, Any], datas: Any) -> None:
        """Set ``BackBroker``'s position of each named feed (its ``positions`` mapping, by feed)."""
        feeds = {self.security(data).ts_code: data for data in datas}
        for name, held in positions.items():
            size, price = held if isinstance(held, tuple) else (held, 0.0)
            try:
                code = symbol_info(name).ts_code
            except SymbolError as err:
                raise ConfigError(f"positions: {err}") from None
            if code not in feeds:
                raise ConfigError(f"positions: {name} holds {size} shares but has no feed; add its bars "
                                  f"(feeds: {', '.join(sorted(feeds)) or 'none'})")
            if size:
                self.positions[feeds[code]] = bt.Position(size=size, price=price)

    def _reset_state(self) -> None:
        self._symbols: dict[str, SymbolInfo] = {}
        self._bought: dict[Any, tuple[dt.date, float]] = {}  # data -> (date, shares bought that day)
        self._market_dt: float | None = None  # newest bar of all feeds, this broker cycle
        self._prev_market_dt: float | None = None
        self._warned: set[str] = set()
        self._fill_date: dt.date | None = None  # trade date of the fill being executed
        self._volume_used: dict[Any, tuple[dt.date, float]] = {}  # data -> (date, shares filled that day)
        self._actions = ActionBook(tax=self.p.dividend_tax)
        #: Orders a rule refused or cut: dicts of date, symbol, side, shares (not filled), status, reason.
        self.refusals: list[dict[str, Any]] = []

    def corporate_actions_frame(self) -> pd.DataFrame:
        """The corporate actions and dividend tax booked so far, one row each
        (:data:`~rnnstrategy.data.records.CORPORATE_ACTION_COLUMNS`)."""
        return self._actions.frame()

    # -- metadata ---------------------------------------------------------------------------

    def security(self, data: Any) -> SymbolInfo:
        """Board metadata of a feed, from its name.

        Raises:
            ConfigError: when the feed name is not an A-share code.
        """
        name = getattr(data, "_name", "") or ""
        if name not in self._symbols:
            try:
                self._symbols[name] = symbol_info(name)
            except SymbolError as err:
                raise ConfigError(
                    f"feed name {name!r} is not an A-share code, so its board rules are unknown: "
                    f"add the feed with cerebro.adddata(feed, name='600519.SH') ({err})"
                ) from None
        return self._symbols[name]

    def security_rules(self, data: Any) -> SecurityRules:
        """The :class:`SecurityRules` of a feed (defaults when none were given)."""
        return self._rules.get(self.security(data).ts_code, _NO_RULES)

    # -- order sizes (lots, no_short) -----------------------------------------------------------

    def buy(self, owner: Any, data: Any, size: float, *args: Any, **kwargs: Any) -> bt.Order | None:
        if self.p.lots:
            size = self._lot_size(data, size, side="buy")
            if not size:
                return None
        return super().buy(owner, data, size, *args, **kwargs)

    def sell(self, owner: Any, data: Any, size: float, *args: Any, **kwargs: Any) -> bt.Order | None:
        parent = kwargs.get("parent")
        # a bracket child exits the position its parent opens, which does not exist yet
        position = abs(parent.size) if parent is not None else self.getposition(data).size
        if self.p.no_short:
            if position <= 0:
                logger.info("%s %s: sell of %s not sent: no long position (A-shares cannot be sold short)",
                            data._name, _bar_date(data), _shares(size))
                return None
            if size > position:
                logger.info("%s %s: sell of %s capped at the position of %s shares",
                            data._name, _bar_date(data), _shares(size), _shares(position))
                size = position
        if self.p.lots:
            size = self._lot_size(data, size, side="sell", position=position)
            if not size:
                return None
        return super().sell(owner, data, size, *args, **kwargs)

    def _lot_size(self, data: Any, size: float, side: str, position: float | None = None) -> float:
        info = self.security(data)
        if side == "sell" and size == position:
            return size  # the whole holding, odd lot allowed
        valid = info.valid_order_size(size)
        if not valid:
            why = "an index cannot be traded" if info.is_index else (
                f"below the {info.min_order}-share minimum of the {info.board.value} board")
            logger.info("%s %s: %s of %s shares not sent: %s", data._name, _bar_date(data), side, _shares(size), why)
        elif valid != size:
            logger.debug("%s %s: %s of %s shares rounded down to %s",
                         data._name, _bar_date(data), side, _shares(size), valid)
        return valid

    # -- fills -----------------------------------------------------------------------------------

    def next(self) -> None:
        self._prev_market_dt = self._market_dt
        self._market_dt = self._newest_bar_dt()
        super().next()  # fills at an ex-date's open book its actions first (_execute)
        if self.p.corporate_actions:
            booked = [self._actions.book(self, data) for data in getattr(getattr(self, "cerebro", None), "datas", ())]
            if any(booked):
                self._get_value()

    def _book_actions(self, data: Any, dtcoc: float | None) -> None:
        """Before a fill on ``data``'s current bar, the actions of that bar if it is an ex-date: the holder at
        the close before receives them, not the buyer at this open. A cheat-on-close fill is on the bar
        before, so it comes first."""
        if self.p.corporate_actions and dtcoc is None:
            self._actions.book(self, data)

    def _try_exec(self, order: bt.Order) -> None:
        if self.p.skip_suspended and self._suspended_since_created(order):
            market = bt.num2date(self._market_dt).date()
            self._refuse(order, "cancel", f"suspended: no bar on {market}; A-share orders are day orders",
                         fill_date=market)
            return
        super()._try_exec(order)

    def _suspended_since_created(self, order: bt.Order) -> bool:
        """Whether the order's security has no bar on the market's day, which is after the order was made:
        Backtrader would hold the order until the security trades again and fill it then; an A-share
        order expires at the day's close instead."""
        data = order.data
        return (self._market_dt is not None and len(data) > 0 and data.datetime[0] < self._market_dt
                and order.created.dt < self._market_dt)

    def _newest_bar_dt(self) -> float | None:
        cerebro = getattr(self, "cerebro", None)
        dts = [d.datetime[0] for d in getattr(cerebro, "datas", ()) if len(d)]
        return max(dts) if dts else None

    def _execute(self, order: bt.Order, ago: int | None = None, price: float | None = None,
                 cash: float | None = None, position: Any = None, dtcoc: float | None = None) -> Any:
        data = order.data
        if ago is not None and price is None:
            return None  # nothing to execute (as BackBroker)
        fill_dt = self._fill_dt(order, ago, dtcoc)
        fill_date = data.num2date(fill_dt).date()
        if ago is not None:
            self._book_actions(data, dtcoc)
            refusal = self._refusal(order, ago, price, fill_dt, fill_date, coc=dtcoc is not None)
            if refusal is not None:
                self._refuse(order, *refusal, fill_date=fill_date)
                return None

        room = None if ago is None else self._volume_cap(order, fill_dt, fill_date)
        if room == 0:
            self._refuse(order, "cancel", self._volume_reason(order, fill_dt, fill_date, 0), fill_date=fill_date)
            return None
        executed_before = order.executed.size
        with self._fees_dated(fill_date), self._filling_at_most(room):
            result = super()._execute(order, ago=ago, price=price, cash=cash, position=position, dtcoc=dtcoc)
        filled = order.executed.size - executed_before
        if ago is not None and filled:
            self._after_fill(order, filled, fill_date)
            if room is not None and order.alive():  # the volume limit cut it: a day order, the rest expires
                self._refuse(order, "cancel", self._volume_reason(order, fill_dt, fill_date, abs(filled)),
                             fill_date=fill_date)
        return result

    def _after_fill(self, order: bt.Order, filled: float, fill_date: dt.date) -> None:
        """Count a fill of ``filled`` shares (negative: sold) for T+1, the volume limit and dividend tax."""
        data = order.data
        if filled > 0:
            day, shares = self._bought.get(data, (fill_date, 0.0))
            self._bought[data] = (fill_date, filled + (shares if day == fill_date else 0.0))
        day, used = self._volume_used.get(data, (fill_date, 0.0))
        self._volume_used[data] = (fill_date, abs(filled) + (used if day == fill_date else 0.0))
        held_before = self.getposition(data).size - filled
        self.cash -= self._actions.fill(data, fill_date, filled, held_before)

    # -- volume limit ------------------------------------------------------------------------------

    def _volume_cap(self, order: bt.Order, fill_dt: float, fill_date: dt.date) -> float | None:
        """Shares this fill may take when the volume limit cuts the order (0: none), else None."""
        if not self.p.volume_limit:
            return None
        room = volume_room(self._fill_bar_volume(order.data, fill_dt), self.p.volume_limit,
                           self._volume_used_on(order.data, fill_date))
        if room >= abs(order.executed.remsize):
            return None
        return float(self.security(order.data).valid_order_size(room) if self.p.lots else int(room))

    def _fill_bar_volume(self, data: Any, fill_dt: float) -> float:
        k = _bar_offset(data, fill_dt)
        return float(data.volume[0 if k is None else k])

    def _volume_used_on(self, data: Any, date: dt.date) -> float:
        day, used = self._volume_used.get(data, (date, 0.0))
        return used if day == date else 0.0

    def _volume_reason(self, order: bt.Order, fill_dt: float, fill_date: dt.date, filled: float) -> str:
        volume = self._fill_bar_volume(order.data, fill_dt)
        if volume <= 0:
            return f"volume limit: no volume on {fill_date}, nothing can fill"
        return (f"volume limit: {_shares(filled)} shares filled, {self.p.volume_limit:.0%} of the day's "
                f"{_shares(volume)} shares less earlier fills, rounded down to lots; "
                "the rest expires (A-share orders are day orders)")

    @contextlib.contextmanager
    def _filling_at_most(self, shares: float | None) -> Iterator[None]:
        """Within the block (one ``BackBroker._execute``), a fill takes at most ``shares`` (None: no cap), through
        Backtrader's ``filler`` hook, on top of any filler installed."""
        if shares is None:
            yield
            return
        outer = self.p.filler

        def capped(order: bt.Order, price: float, ago: int) -> float:
            size = abs(order.executed.remsize) if outer is None else outer(order, price, ago)
            return min(size, shares)

        self.p.filler = capped
        try:
            yield
        finally:
            self.p.filler = outer

    def getcommissioninfo(self, data: Any) -> bt.CommInfoBase:
        """The commission scheme of ``data``.

        While a fill executes, an :class:`~rnnstrategy.backtrader.commission.AShareCommission`
        comes as ``scheme.on(trade_date)``: a new scheme dated by the fill, so Backtrader's
        execution charges that day's rates. The installed scheme is never changed.
        """
        comminfo = super().getcommissioninfo(data)
        if self._fill_date is not None and isinstance(comminfo, AShareCommission):
            return comminfo.on(self._fill_date)
        return comminfo

    @contextlib.contextmanager
    def _fees_dated(self, date: dt.date) -> Iterator[None]:
        """Within the block (one ``BackBroker._execute``), schemes are dated by ``date``."""
        outer, self._fill_date = self._fill_date, date
        try:
            yield
        finally:
            self._fill_date = outer

    def _fill_dt(self, order: bt.Order, ago: int | None, dtcoc: float | None) -> float:
        if dtcoc is not None:
            return dtcoc
        if ago is not None:
            return order.data.datetime[ago]
        # pseudo-execution (cash check at submission): the bar the order will fill on
        coc = self.p.coc and order.exectype == bt.Order.Market and order.info.get("coc", True)
        return order.created.dt if coc else order.data.datetime[0]

    def _refusal(self, order: bt.Order, ago: int, price: float, fill_dt: float, fill_date: dt.date,
                 coc: bool) -> tuple[str, str] | None:
        """(status, reason) when a rule refuses this fill, else ``None``."""
        data = order.data
        if self.p.skip_suspended and self._is_stale(data, ago, fill_dt, coc):
            market = bt.num2date(self._market_dt).date()
            return "cancel", f"suspended: no bar on {market}, the last one is from {fill_date}"
        if self.p.price_limits:
            reason = self._limit_refusal(order, price, fill_dt, fill_date)
            if reason:
                return "cancel", reason
        if self.p.t_plus_one and order.issell():
            reason = self._t1_refusal(order, fill_date)
            if reason:
                return "reject", reason
        return None

    def _is_stale(self, data: Any, ago: int, fill_dt: float, coc: bool) -> bool:
        if coc:  # filled on the bar of the order, which the strategy saw last cycle
            return self._prev_market_dt is not None and fill_dt < self._prev_market_dt
        return ago == 0 and self._market_dt is not None and fill_dt < self._market_dt

    def _limit_refusal(self, order: bt.Order, price: float, fill_dt: float, fill_date: dt.date) -> str | None:
        data = order.data
        k = _bar_offset(data, fill_dt)
        if k is None or len(data) < 2 - k:
            return None  # no previous close to judge from
        info = self.security(data)
        rules = self.security_rules(data)
        previous = data.close[k - 1]
        if has_factor(data):  # raw prices: the exchange's reference is the previous close, ex the action
            previous *= data.factor[k - 1] / data.factor[k]
        return limit_refusal(order.isbuy(), price, previous, fill_date, info, rules,
                             self._bars_since_listing(data, k, info, rules))

    def _bars_since_listing(self, data: Any, k: int, info: SymbolInfo, rules: SecurityRules) -> int | None:
        """Bars from the listing date to the fill bar (``k`` bars ago), both included, counted up to
        one past the unlimited days; None without a listing date or when the feed starts after it."""
        days = rules.unlimited_days(info.board)
        listing = rules.listing_date
        if not days or listing is None:
            return None
        first = data.datetime.date(1 - min(len(data), data.buflen()))
        if first > listing:
            if data._name not in self._warned:
                self._warned.add(data._name)
                logger.warning("%s: the feed starts on %s, after the listing on %s; "
                               "its first bars are treated as past the unlimited days", data._name, first, listing)
            return None
        count, i = 0, k
        while i > -len(data) and data.datetime.date(i) >= listing and count <= days:  # first >= listing
            count += 1
            i -= 1
        return count

    def _t1_refusal(self, order: bt.Order, fill_date: dt.date) -> str | None:
        data = order.data
        position = self.getposition(data).size
        if position <= 0:
            return None
        day, bought = self._bought.get(data, (fill_date, 0.0))
        today = bought if day == fill_date else 0.0
        selling = min(abs(order.executed.remsize), position)
        if selling <= position - today:
            return None
        return (f"sell of {_shares(selling)} shares needs some of the {_shares(today)} bought on "
                f"{fill_date}: only {_shares(position - today)} are sellable (T+1)")

    def _refuse(self, order: bt.Order, status: str, reason: str, fill_date: dt.date) -> None:
        verb = "rejected" if status == "reject" else "cancelled"
        side = "buy" if order.isbuy() else "sell"
        logger.info("%s %s: order %s (%s %s) %s: %s", order.data._name, fill_date, order.ref, side,
                    _shares(abs(order.executed.remsize)), verb, reason)
        order.addinfo(ashare_refusal=reason)
        self.refusals.append({"date": fill_date, "symbol": order.data._name, "side": side,
                              "shares": abs(order.executed.remsize), "status": "Rejected" if status == "reject"
                              else "Canceled", "reason": reason})
        if status == "reject":
            order.reject(self)
        else:
            order.cancel()
        self.notify(order)
        self._ococheck(order)
        self._bracketize(order, cancel=True)


def securities_by_code(securities: Mapping[str, SecurityRules] | None) -> dict[str, SecurityRules]:
    """``securities`` keyed by tushare code, so '600519', 'SH600519' and '600519.SH' all match.

    Raises:
        ConfigError: for a value that is not a :class:`SecurityRules` or a name that is not an A-share code.
    """
    example = "{'688981.SH': SecurityRules(listing_date=datetime.date(2020, 7, 16))}"
    if securities is None:
        return {}
    if not isinstance(securities, Mapping):
        raise ConfigError(f"securities={securities!r}: give a mapping of feed name to SecurityRules, e.g. {example}")
    rules: dict[str, SecurityRules] = {}
    for name, value in securities.items():
        if not isinstance(value, SecurityRules):
            raise ConfigError(f"securities[{name!r}]={value!r}: give a SecurityRules, e.g. {example}")
        try:
            rules[symbol_info(name).ts_code] = value
        except SymbolError as err:
            raise ConfigError(f"securities: {err}") from None
    return rules


def _bar_offset(data: Any, dtnum: float) -> int | None:
    """Offset (0 or -1) of the feed's bar stamped ``dtnum``, ``None`` when absent."""
    for k in (0, -1):
        if len(data) > -k and data.datetime[k] == dtnum:
            return k
    return None


def _bar_date(data: Any) -> dt.date | str:
    return data.datetime.date(0) if len(data) else "(no bar)"


def _shares(size: float) -> float | int:
    return int(size) if float(size).is_integer() else size
