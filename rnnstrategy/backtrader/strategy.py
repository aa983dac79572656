"""``ForecastStrategy``: the base of Backtrader strategies that trade on RNN forecasts.

It builds one :class:`~rnnstrategy.backtrader.indicator.RNNForecast` per data feed (each feed gets
its own forecasts), sets the broker's cheat-on-close from ``execution``, and offers what
every such strategy needs: whether a feed has a bar today, orders in flight per feed, the
round-trip cost of a trade from the commission scheme, and buying a target fraction of the
portfolio in valid lots. Subclasses decide in ``next``; ready ones live in ``strategies/``.

A strategy owns its parameters: Backtrader's ``params`` give each its default, ``param_help`` its
one line of help (the command line shows it) and :meth:`ForecastStrategy.check_params` checks
a mapping of them before any work, with the same messages as the run itself.

Example::

    cerebro = bt.Cerebro()
    cerebro.adddata(to_feed(bars))
    use_ashare_rules(cerebro)
    cerebro.addstrategy(ForecastLong, config=ForecastConfig(), store="folds", start="2015-01-01")
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import backtrader as bt
import pandas as pd

from rnnstrategy.backtrader.commission import order_fees
from rnnstrategy.backtrader.indicator import RUN_PARAMS, RNNForecast
from rnnstrategy.backtrader.sizer import LotSizer
from rnnstrategy.errors import ConfigError

__all__ = ["UNIVERSE_PARAMS", "ForecastStrategy", "Members", "Param"]

log = logging.getLogger(__name__)

ForecastSource = pd.DataFrame | str | Path

Members = Mapping[dt.date, frozenset[str] | set[str]]
"""The feeds (by name) that are index members on each day, as known at that day's close."""

UNIVERSE_PARAMS = (("members", None), ("keep_leavers", False))
"""The params a universe run sets from its universe as it stood: ``members`` (:data:`Members`; None: every
feed is a member every day; a day missing from it has none) and ``keep_leavers`` (a holding that leaves the
index stays until the strategy's own exit rule, instead of being sold at the next open)."""

_DONE = (bt.Order.Completed, bt.Order.Canceled, bt.Order.Margin, bt.Order.Rejected, bt.Order.Expired)


class Param(NamedTuple):
    """A parameter a strategy's user sets (from Python, TOML ``[backtest.params]`` or ``--param``)."""

    name: str
    default: Any
    kind: type | None
    """The type a value must have: the default's, or ``param_types``'s for a None default; None: any."""
    help: str

    def checked(self, value: Any, owner: str) -> Any:
        """``value`` as this parameter takes it: text read as its type (``"0.5"``), an int as a float where
        the type is float; None only where the default is None.

        Raises:
            ConfigError: naming the parameter and an example, e.g. "TopK: max_turnover='abc' is not a number;
                give e.g. max_turnover=0.5".
        """
        kind = self.kind
        if isinstance(value, str) and kind is not None and kind is not str:
            value = _from_text(value)
        if kind is None or (value is None and self.default is None):
            return value
        if kind is bool:
            fits = isinstance(value, bool)
        elif kind is int:
            fits = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        elif kind is float:
            fits = isinstance(value, numbers.Real) and not isinstance(value, bool)
        else:
            fits = isinstance(value, kind)
        example = self.default if self.default is not None else _EXAMPLES.get(kind, "...")
        if not fits:
            raise ConfigError(f"{owner}: {self.name}={value!r} is not {_KINDS.get(kind, kind.__name__)}; "
                              f"give e.g. {self.name}={example}")
        if kind is float and not math.isfinite(value):  # nan compares false with every threshold: never trades
            raise ConfigError(f"{owner}: {self.name}={value!r} is not a finite number; give e.g. {self.name}={example}")
        return kind(value) if kind in (int, float) else value


_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
_EXAMPLES = {bool: "true", int: 10, float: 0.002, str: "text"}


def _from_text(text: str) -> Any:
    """A number, a bool or None (``none``) from text as the command line gives it; else the text."""
    word = text.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    if word in ("none", ""):
        return None
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


class ForecastStrategy(bt.Strategy):
    """Base strategy: one :class:`RNNForecast` per feed, order bookkeeping, costs and lot sizing.

    Params:
        config: :class:`~rnnstrategy.forecasting.walkforward.ForecastConfig` for computed forecasts
            (default ``ForecastConfig()``).
        forecasts: precomputed forecasts: a forecast frame or CSV path (one feed), or a
            mapping of feed name to frame or path (several feeds; a feed missing from it
            computes its own). None computes every feed's forecasts.
        store: fold-store directory, so runs and parameter sweeps train each fold once.
        start: first forecast date; the strategy cannot trade before it.
        execution: ``"next_open"`` (default: orders fill at the next open) or ``"close"``
            (cheat-on-close: orders fill at this close). The strategy sets the broker's
            cheat-on-close to match when it starts.
        target: fraction of the portfolio value to hold in total, split equally between
            the feeds, rounded down to valid lots (see :class:`~rnnstrategy.backtrader.sizer.LotSizer`).
        members, keep_leavers: a universe as it stood (see :data:`UNIVERSE_PARAMS`): :meth:`tradable` offers
            only the day's members (and, with ``keep_leavers``, holdings that left the index), and
            :meth:`sell_leavers` sells the holdings that left.

    Attributes:
        signals: the :class:`RNNForecast` of each feed, in the order of ``self.datas``.

    Subclasses that override ``notify_order`` must call ``super().notify_order(order)``.
    """

    ranks_universe = False
    """Whether the strategy ranks several feeds against each other (``top_k``): it then trades a universe
    (``rnnstrategy backtest FOLDER``) and refuses a single stock; the others trade one stock."""

    params = (*RUN_PARAMS, *UNIVERSE_PARAMS, ("target", 0.95))

    run_params: ClassVar[tuple[str, ...]] = tuple(name for name, _ in (*RUN_PARAMS, *UNIVERSE_PARAMS))
    """The params a run sets from its own settings (:data:`~rnnstrategy.backtrader.indicator.RUN_PARAMS` and
    :data:`UNIVERSE_PARAMS`); the others are the strategy's parameters."""

    param_help: ClassVar[Mapping[str, str]] = {
        "target": "fraction of the portfolio value to hold in total, split equally between the feeds, in (0, 1]",
    }
    """One line of help for each parameter the class adds to ``params``; a subclass gives its own
    (:meth:`parameters` merges them over the bases')."""

    param_types: ClassVar[Mapping[str, type]] = {}
    """The type of a parameter whose default (None) does not say it, e.g. ``{"exit_rank": int}``."""

    @classmethod
    def parameters(cls) -> dict[str, Param]:
        """The strategy's parameters (``params`` less :attr:`run_params`), by name, in declaration order."""
        helps: dict[str, str] = {}
        types: dict[str, type] = {}
        for klass in reversed(cls.__mro__):
            helps.update(vars(klass).get("param_help", {}))
            types.update(vars(klass).get("param_types", {}))
        return {name: Param(name, default, types.get(name, None if default is None else type(default)),
                            helps.get(name, ""))
                for name, default in cls.params._getitems() if name not in cls.run_params}

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` checked as the run checks them, so a bad one fails before any work is done.

        Each name must be one of :meth:`parameters`, each value of its type (:meth:`Param.checked`); then
        :meth:`check_values` sees them with the defaults filled in. ``__init__`` calls this too.

        Returns:
            ``params`` as the strategy takes them (text read as numbers, ints as floats where floats are due).

        Raises:
            ConfigError: one line naming the parameter (an unknown one with the valid names).
        """
        known = cls.parameters()
        checked = {}
        for key, value in params.items():
            if key in cls.run_params:
                raise ConfigError(f"strategy parameter {key!r} is set by the backtest itself; "
                                  "use the backtest settings (execution, start, end, forecasts) instead")
            if key not in known:
                raise ConfigError(f"{cls.__name__} has no parameter {key!r}; valid: {', '.join(known)}")
            checked[key] = known[key].checked(value, cls.__name__)
        cls.check_values({name: param.default for name, param in known.items()} | checked)
        return checked

    @classmethod
    def cerebro_params(cls, forecasts: ForecastSource | Mapping[str, ForecastSource] | None, execution: str | None,
                       params: Mapping[str, Any] | None, *, members: Members | None = None,
                       keep_leavers: bool = False) -> dict[str, Any]:
        """The params a run adds the strategy to a Cerebro with: its ``forecasts``, its ``execution`` (None
        keeps the strategy's default), the index ``members`` of each day and ``keep_leavers`` (see
        :data:`UNIVERSE_PARAMS`) and the strategy's own ``params``, checked (:meth:`check_params`)."""
        run = {"forecasts": forecasts} | ({"execution": execution} if execution else {})
        if members is not None:
            run |= {"members": members, "keep_leavers": keep_leavers}
        return run | cls.check_params(params or {})

    @classmethod
    def check_execution(cls, execution: str | None) -> None:
        """Refuse, before any work, an ``execution`` this strategy cannot trade with (None: its own); every one
        by default. A subclass bound to one (buying at the close) overrides this.

        Raises:
            ConfigError: naming the execution and the one the strategy needs.
        """

    @classmethod
    def check_values(cls, values: Mapping[str, Any]) -> None:
        """The strategy's own checks of its parameter ``values`` (every one, defaults filled in); a subclass
        with checks of its own adds them, calling ``super().check_values(values)`` first.

        Raises:
            ConfigError: naming the value and the valid range.
        """
        if not 0 < values["target"] <= 1:
            raise ConfigError(f"target={values['target']!r}: give the fraction of portfolio value to hold "
                              "across all feeds, in (0, 1]")

    @classmethod
    def check_score_params(cls, values: Mapping[str, Any]) -> None:
        """Refuse parameter ``values`` (those given, or every one) that make no sense when the forecasts are
        scores (a pooled model's, see :meth:`forecasts_are_scores`); none by default. A strategy that compares
        forecasts with thresholds in return units overrides this. ``__init__`` calls it on such forecasts, and a
        run before any work when its forecaster is pooled.

        Raises:
            ConfigError: naming the parameter and the fix.
        """

    def __init__(self) -> None:
        own = self.check_params({name: getattr(self.p, name) for name in self.parameters()})
        for name, value in own.items():  # as checked: "0.5" read as 0.5
            setattr(self.p, name, value)
        self.signals = [
            RNNForecast(data, config=self.p.config, forecasts=self._forecasts_for(data), store=self.p.store,
                        start=self.p.start, execution=self.p.execution)
            for data in self.datas
        ]
        if self.forecasts_are_scores():
            self.check_score_params(own)
        self._sizer = LotSizer(target=self.p.target / len(self.datas))
        self._pending: dict[Any, bt.Order] = {}

    def _forecasts_for(self, data: Any) -> ForecastSource | None:
        forecasts = self.p.forecasts
        if forecasts is None or isinstance(forecasts, (pd.DataFrame, str, Path)):
            if forecasts is not None and len(self.datas) > 1:
                raise ConfigError(
                    f"forecasts is one {type(forecasts).__name__} but there are {len(self.datas)} feeds: "
                    "pass a mapping of feed name to forecasts, e.g. {'600519.SH': frame, ...}"
                )
            return forecasts
        if not isinstance(forecasts, Mapping):
            raise ConfigError(f"forecasts={type(forecasts).__name__}: pass a forecast frame, a CSV path, "
                              "or a mapping of feed name to either")
        return forecasts.get(data._name)

    def forecasts_are_scores(self) -> bool:
        """Whether the feeds' ``expected_return`` is a cross-sectional score to rank by, not a return: their
        forecasts are a pooled model's (:attr:`RNNForecast.scores`), as given or read from a forecast file."""
        return any(signal.scores for signal in self.signals)

    def start(self) -> None:
        self.broker.set_coc(self.p.execution == "close")
        self._sizer.set(self, self.broker)

    # -- the cycle -------------------------------------------------------------------------------

    def prenext(self) -> None:
        # feeds start at different dates: trade each as soon as its own forecasts exist
        self.next()

    def tradable(self) -> list[tuple[Any, RNNForecast]]:
        """(feed, forecast) pairs with a bar today and no order in flight, in feed order.

        A feed whose latest bar is older than the newest bar of all feeds is suspended
        today: its forecast is stale and the broker would not fill an order on it.
        """
        today = max((data.datetime[0] for data in self.datas if len(data)), default=None)
        members = self.members_today()
        return [(data, signal) for data, signal in zip(self.datas, self.signals, strict=True)
                if len(data) and data.datetime[0] == today and data not in self._pending
                and (members is None or data._name in members
                     or (self.p.keep_leavers and self.getposition(data).size > 0))]

    def members_today(self) -> frozenset[str] | None:
        """The feeds (by name) that are index members on today's bar, as known at its close; None without
        ``members`` (every feed is)."""
        if self.p.members is None:
            return None
        today = max((data.datetime[0] for data in self.datas if len(data)), default=None)
        return frozenset() if today is None else self.p.members.get(bt.num2date(today).date(), frozenset())

    def sell_leavers(self) -> list[Any]:
        """Sell, at the next open, every holding that is no index member today and has a bar today with no
        order in flight (a suspended one is sold at its next bar if it is still out); nothing with
        ``keep_leavers`` or without ``members``. A strategy that ranks a universe calls this first in ``next``.

        Returns:
            The feeds sold.
        """
        members = self.members_today()
        if members is None or self.p.keep_leavers:
            return []
        today = max(data.datetime[0] for data in self.datas if len(data))
        leaving = [data for data in self.datas if len(data) and data.datetime[0] == today and data._name not in members
                   and data not in self._pending and self.getposition(data).size > 0]
        return [data for data in leaving if self.exit(data) is not None]

    def notify_order(self, order: bt.Order) -> None:
        if order.status in _DONE:
            pending = self._pending.get(order.data)
            if pending is not None and pending.ref == order.ref:  # notifications carry copies
                del self._pending[order.data]
            if order.status != bt.Order.Completed:
                log.info("%s %s: %s order %s %s", order.data._name, order.data.datetime.date(0),
                         "buy" if order.isbuy() else "sell", order.ref, order.getstatusname())

    # -- helpers for subclasses ------------------------------------------------------------------

    def pending(self, data: Any) -> bt.Order | None:
        """The order of ``data`` still in flight, if any."""
        return self._pending.get(data)

    def order_size(self, data: Any) -> int:
        """Shares to buy now: up to this feed's share of ``target``, in valid lots, within the cash."""
        return int(self._sizer.getsizing(data, isbuy=True))

    def shares_worth(self, data: Any, budget: float) -> int:
        """The most shares of ``data`` in valid lots that ``budget`` CNY buys at the current close, fees included."""
        return int(self._sizer.shares_for(data, budget))

    def round_trip_cost(self, data: Any, size: float | None = None) -> float:
        """Estimated cost of buying ``size`` shares (default :meth:`order_size`) at the current close
        and selling them again, as a fraction of their value: commission on both sides (with its
        minimum), stamp duty and transfer fees, at the rates of the current date. ``inf`` when
        no valid lot can be bought.
        """
        size = self.order_size(data) if size is None else size
        price = data.close[0]
        if not size or not price > 0:
            return math.inf
        comminfo, date = self.broker.getcommissioninfo(data), data.datetime.date(0)
        fees = order_fees(comminfo, size, price, date) + order_fees(comminfo, -size, price, date)
        return fees / (size * price)

    def enter(self, data: Any, size: int | None = None, **kwargs: Any) -> bt.Order | None:
        """Buy ``size`` shares (default :meth:`order_size`) with a market order; None when nothing is sent."""
        size = self.order_size(data) if size is None else size
        if size <= 0:
            return None
        order = self.buy(data, size=size, **kwargs)
        if order is not None:
            self._pending[data] = order
        return order

    def enter_overnight(self, data: Any, size: int | None = None) -> bt.Order | None:
        """Buy at this close and sell at the next open; returns the sell, None when nothing is sent.

        Needs ``execution="close"``. The two orders go in together as a parent (the buy,
        filled at this close by cheat-on-close) and a child (the sell, a market order
        without cheat-on-close, so it fills at the next bar's open). Backtrader would hold a
        child until the broker cycle after its parent fills, i.e. to the open after next;
        the child is therefore active from the start: both fill in the next broker cycle,
        the buy first (dated today, so T+1 allows the sell). A refused buy (limit-up,
        margin) cancels the sell with it; a refused sell leaves the position for the
        strategy to sell later.
        """
        if self.p.execution != "close":
            raise ConfigError(f"enter_overnight buys at the close: set execution='close', not {self.p.execution!r}")
        size = self.order_size(data) if size is None else size
        if size <= 0:
            return None
        buy = self.buy(data, size=size, transmit=False)
        if buy is None:
            return None
        sell = self.sell(data, size=buy.size, parent=buy, coc=False, transmit=True)
        if sell is None:  # cannot happen with a sized buy; do not leave the buy untransmitted
            self.broker.cancel(buy)
            return None
        sell.activate()
        self._pending[data] = sell
        return sell

    def exit(self, data: Any, **kwargs: Any) -> bt.Order | None:
        """Sell the whole position of ``data`` with a market order; None when flat."""
        if self.getposition(data).size <= 0:
            return None
        order = self.close(data, **kwargs)
        if order is not None:
            self._pending[data] = order
        return order
