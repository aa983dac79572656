"""Tomorrow's orders from the backtest's own decision code.

:func:`decide` runs the strategy of a backtest for one bar, the close of day D, in a Cerebro
whose feeds hold only each stock's last bar on or before D, whose broker starts with the
account's cash and holdings, under the same A-share rules; the orders the strategy sends there
are the orders of the next session. Nothing fills (there is no next bar), so the strategy's
decision is all that runs: the same ``next``, sizer, thresholds and broker placement rules
(lots, no short selling) as in the backtest, which makes the orders of every day of a backtest
when it is given that day's holdings (the test of record replays a backtest this way through a
:class:`~rnnstrategy.live.paper.PaperAccount`).

Example::

    orders = decide(bars, forecasts, ForecastLong, positions={"600519.SH": 100}, cash=812_345.0)
    # [{"symbol": "600519.SH", "side": "sell", "shares": 100, "reference_price": 1794.0, ...}]
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import backtrader as bt
import pandas as pd

from rnnstrategy.ashare.limits import (
    at_limit_down,
    at_limit_up,
    daily_limit,
)
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.ashare.symbols import SymbolInfo, symbol_info
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.backtrader.strategy import ForecastStrategy, Members
from rnnstrategy.errors import ConfigError, DataError

__all__ = ["ORDER_FIELDS", "decide"]

ORDER_FIELDS = ("symbol", "side", "shares", "reference_price", "expected_return", "threshold", "note")
"""The keys of each order :func:`decide` returns: ``reference_price`` is the close of D, ``expected_return``
the strategy's ``expected_return`` line on D, ``threshold`` the expected return the order had to beat (a
buy: ``entry_threshold`` or the round-trip cost; a sell: ``exit_threshold``; None when the strategy has
no such setting), ``note`` e.g. "at limit-up at the close of 2024-03-01"."""


def decide(
    bars: pd.DataFrame | Sequence[pd.DataFrame],
    forecasts: pd.DataFrame | Mapping[str, pd.DataFrame],
    strategy: type[ForecastStrategy],
    *,
    positions: Mapping[str, int] | None = None,
    cash: float,
    params: Mapping[str, Any] | None = None,
    rules: AShareRules | None = None,
    execution: str | None = None,
    members: Members | None = None,
    keep_leavers: bool = False,
) -> list[dict[str, Any]]:
    """The orders ``strategy`` sends at the close of D, the last bar of ``bars``, given the holdings then.

    Args:
        bars: canonical bars of each stock (``attrs["symbol"]`` names it), up to D; at least the last
            two bars of each (the one before D gives the previous close for the limit notes, ex the
            factor's step on an ex-date of raw bars with a ``factor`` column). A stock
            whose last bar is before D is suspended on D: its feed holds that bar, as the backtest's
            stale feed does, and the strategy does not trade it.
        forecasts: the forecast frame (one stock) or frames by symbol; the row of each stock's last bar
            is read.
        strategy: the :class:`ForecastStrategy` subclass of the backtest.
        positions: shares held at the close of D by symbol (any spelling); None: none.
        cash: cash at the close of D, CNY.
        params: the strategy's own parameters, as for the backtest.
        rules: the A-share rules (default ``AShareRules()``).
        execution: ``"next_open"`` (the default and the only one a decision after the close can serve).
        members, keep_leavers: a universe as it stood, as for the backtest (the index members of D rank;
            a holding that left is sold, or kept with ``keep_leavers``).

    Returns:
        One dict per order, in the order the strategy sent them (sells first for ``top_k``), with
        :data:`ORDER_FIELDS`.

    Raises:
        ConfigError: a cheat-on-close or at-the-open strategy, holdings without bars, bad parameters.
        DataError: no bars.
    """
    frames = [bars] if isinstance(bars, pd.DataFrame) else list(bars)
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        raise DataError("decide: no bars; give each stock's bars up to the day to decide on")
    if (execution or strategy.params.execution) != "next_open":
        raise ConfigError(f"execution={execution or strategy.params.execution!r}: a signal is decided after the close "
                          "for the next session's open; only execution='next_open' can be traded that way")
    if strategy.next_open is not bt.Strategy.next_open:
        raise ConfigError(f"{strategy.__name__} decides at the open (next_open); a signal decides at the close")
    day = max(frame.index[-1] for frame in frames)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(float(cash))
    previous: dict[str, float | None] = {}
    for frame in frames:
        feed_frame = frame.iloc[-1:]
        feed_frame.attrs = frame.attrs
        feed = to_feed(feed_frame)
        previous[feed._name] = _reference_close(frame) if len(frame) > 1 else None
        cerebro.adddata(feed, name=feed._name)
    closes = {str(frame.attrs.get("symbol")): float(frame["close"].iloc[-1]) for frame in frames}
    broker = use_ashare_rules(cerebro, rules)
    held = _held(positions or {}, closes)
    broker.p.positions = held
    cerebro.addstrategy(_on_day(strategy, day), **strategy.cerebro_params(forecasts, execution, params,
                                                                          members=members, keep_leavers=keep_leavers))
    ran = cerebro.run()[0]
    limits = (rules or AShareRules()).price_limits
    return [_order_row(ran, order, day, previous[order.data._name] if limits else None) for order in broker.orders]


def _reference_close(frame: pd.DataFrame) -> float:
    """The close D's price limits are judged from: the bar before's, ex the factor's step on raw prices with a
    ``factor`` column (the ex-reference price of an ex-date), as the broker judges them."""
    previous = float(frame["close"].iloc[-2])
    if "factor" in frame.columns:
        previous *= float(frame["factor"].iloc[-2]) / float(frame["factor"].iloc[-1])
    return previous


def _held(positions: Mapping[str, int], closes: Mapping[str, float]) -> dict[str, tuple[int, float]]:
    """``positions`` as ``{ts_code: (shares, close of D)}``; a holding without bars is an error."""
    codes = {symbol_info(name).ts_code: close for name, close in closes.items()}
    held = {}
    for name, shares in positions.items():
        code = symbol_info(name).ts_code
        if shares and code not in codes:
            raise ConfigError(f"positions: {shares} shares of {code} but no bars of it; give its bars, or its "
                              "forecasts too, so the strategy can decide on the holding")
        if shares:
            held[code] = (int(shares), codes[code])
    return held


def _on_day(strategy: type[ForecastStrategy], day: pd.Timestamp) -> type[ForecastStrategy]:
    """``strategy`` deciding on ``day`` only (a suspended stock's earlier bar moves the clock first),
    recording the entry threshold each buy was judged against."""
    date = day.date()

    class OnDay(strategy):  # type: ignore[valid-type, misc]
        def prenext(self) -> None:
            if self.datetime.date(0) == date:
                super().prenext()

        def next(self) -> None:
            if self.datetime.date(0) == date:
                super().next()

    if callable(getattr(strategy, "entry_threshold", None)):
        def entry_threshold(self: Any, data: Any, *args: Any) -> float:
            value = strategy.entry_threshold(self, data, *args)
            self.__dict__.setdefault("judged", {})[data] = value
            return value

        OnDay.entry_threshold = entry_threshold  # type: ignore[attr-defined]
    OnDay.__name__ = OnDay.__qualname__ = strategy.__name__
    return OnDay


def _order_row(ran: ForecastStrategy, order: bt.Order, day: pd.Timestamp, previous: float | None) -> dict[str, Any]:
    data = order.data
    buy = order.isbuy()
    # by identity: after the run, == between feeds builds a Backtrader line operation instead of comparing
    signal = next(signal for feed, signal in zip(ran.datas, ran.signals, strict=True) if feed is data)
    expected = float(signal.expected_return[0])
    close = float(data.close[0])
    if buy:
        threshold = getattr(ran, "judged", {}).get(data)
        if threshold is None and getattr(ran.p, "entry_threshold", None) is not None:
            threshold = ran.p.entry_threshold
    else:
        threshold = getattr(ran.p, "exit_threshold", None)
    return {
        "symbol": data._name,
        "side": "buy" if buy else "sell",
        "shares": int(abs(order.size)),
        "reference_price": close,
        "expected_return": None if math.isnan(expected) else expected,
        "threshold": None if threshold is None or math.isinf(threshold) else float(threshold),
        "note": _limit_note(ran.broker.security(data), ran.broker.security_rules(data), buy, close, previous,
                            day.date()),
    }


def _limit_note(info: SymbolInfo, security: SecurityRules, buy: bool, close: float, previous: float | None,
                day: dt.date) -> str:
    """"at limit-up at the close of D" for a buy (limit-down for a sell) when the close sits at the limit."""
    if previous is None or not previous > 0:
        return ""
    limit = daily_limit(info, security, day)
    if limit is None:
        return ""
    if buy and at_limit_up(close, previous, limit):
        return f"at limit-up at the close of {day}: the buy may not fill at the open"
    if not buy and at_limit_down(close, previous, limit):
        return f"at limit-down at the close of {day}: the sell may not fill at the open"
    return ""
