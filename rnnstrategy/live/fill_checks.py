"""What a paper fill checks before it books anything: the orders, the session, the holdings they were
decided for, and the bars that show each ordered stock's open (or its suspension).

A fill books nothing unless the session is confirmed: it has closed (15:00 Shanghai time), it is no
weekend, and the exchange calendar (:mod:`rnnstrategy.live.sessions`) or the data's own bars show that
it was traded. A stock without a bar that day is booked "cancelled (suspended)" only when the data
shows the suspension: its bars go on after the session, its row that day has zero volume, or the
caller says so (``suspended``). A bar that is merely missing (data not updated yet, a stock left out
of the data) stops the fill with an error that names the stock and the fix, so a rerun with fresh
data books it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.errors import ConfigError, DataError, SymbolError
from rnnstrategy.live import money

__all__ = ["check_decided_for", "check_orders", "confirm_session", "frames_by_code", "order_session", "session_open"]

logger = logging.getLogger(__name__)

_NOTHING = "nothing was booked"


def check_orders(orders: Sequence[Mapping[str, Any]], day: dt.date) -> list[dict[str, Any]]:
    """Each order checked (:func:`_check_order`), none repeating an id, none for another session than ``day``.

    Raises:
        ConfigError: a malformed order, a repeated id, an order whose ``session`` is not ``day``.
    """
    checked, seen = [], {}
    for i, order in enumerate(orders):
        item = _check_order(order, i)
        if item["id"] in seen:
            raise ConfigError(f"orders[{i}] repeats the id {item['id']!r} of orders[{seen[item['id']]}]: each order "
                              "needs its own id; make the orders again with `rnnstrategy signal`")
        own = item["session"]
        if own is not None and str(own) != day.isoformat():
            raise ConfigError(f"order {item['id']} is for the session {own}, not {day}: fill one session's orders "
                              "at a time")
        seen[item["id"]] = i
        checked.append(item)
    return checked


def _check_order(order: Mapping[str, Any], i: int) -> dict[str, Any]:
    if not isinstance(order, Mapping):
        raise ConfigError(f"orders[{i}]={order!r}: give a dict with id, symbol, side and shares")
    missing = [key for key in ("id", "symbol", "side", "shares") if key not in order]
    if missing:
        raise ConfigError(f"orders[{i}] has no {', '.join(missing)}: each order needs id, symbol, side and shares, "
                          "e.g. {'id': '2024-03-01/600519.SH/buy', 'symbol': '600519.SH', 'side': 'buy', "
                          "'shares': 100}")
    order_id = order["id"]
    if not isinstance(order_id, str) or not order_id:
        raise ConfigError(f"orders[{i}]: id={order_id!r}; give a stable, non-empty string")
    side = order["side"]
    if side not in ("buy", "sell"):
        raise ConfigError(f"order {order_id}: side={side!r}; use 'buy' or 'sell'")
    shares = order["shares"]
    if isinstance(shares, bool) or not isinstance(shares, (int, float)) or not math.isfinite(shares) \
            or shares <= 0 or shares != int(shares):
        raise ConfigError(f"order {order_id}: shares={shares!r}; give a positive whole number of shares")
    try:
        info = symbol_info(order["symbol"])
    except SymbolError as err:
        raise ConfigError(f"order {order_id}: {err}") from None
    return {"id": order_id, "info": info, "side": side, "shares": int(shares), "session": order.get("session")}


def order_session(session: Any, orders: Sequence[Mapping[str, Any]]) -> dt.date:
    """``session`` as a date, default the orders' common ``session`` key.

    Raises:
        ConfigError: no session, or one that is no date.
    """
    if session is None:
        days = {order.get("session") for order in orders if isinstance(order, Mapping)}
        if len(days) != 1 or None in days:
            raise ConfigError(f"no session: pass fill(..., session=date) or give every order the same 'session' "
                              f"(found {sorted(map(str, days))})")
        session = days.pop()
    if isinstance(session, str):
        try:
            session = dt.date.fromisoformat(session)
        except ValueError:
            raise ConfigError(f"session={session!r}: give a date, e.g. '2024-03-01'") from None
    if isinstance(session, dt.datetime):
        session = session.date()
    if not isinstance(session, dt.date):
        raise ConfigError(f"session={session!r}: give a datetime.date")
    return session


def frames_by_code(bars: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``bars`` keyed by tushare code, each checked to be a canonical bar frame (open, close, ascending dates).

    Raises:
        ConfigError: a name that is no A-share symbol.
        DataError: a frame without open/close or with an unsorted or repeated index.
    """
    frames = {}
    for name, frame in bars.items():
        try:
            code = symbol_info(name).ts_code
        except SymbolError as err:
            raise ConfigError(f"bars: {err}") from None
        if not {"open", "close"} <= set(frame.columns):
            raise DataError(f"bars of {name}: columns {list(frame.columns)} lack open and close; "
                            "give a canonical bar frame")
        if not isinstance(frame.index, pd.DatetimeIndex) or not frame.index.is_monotonic_increasing \
                or not frame.index.is_unique:
            raise DataError(f"bars of {name}: the index must be ascending, unique dates (a canonical bar frame)")
        frames[code] = frame
    return frames


def confirm_session(day: dt.date, frames: Mapping[str, pd.DataFrame], suspended: Collection[str] = (),
                    now: dt.datetime | None = None) -> None:
    """Raise unless ``day`` is a session that has happened and the data reaches (see the module docstring).

    Raises:
        ConfigError: a session that has not closed yet, a weekend, a holiday or a day beyond the calendar
            on which the data has no bar either.
        DataError: bars that all end before ``day``.
    """
    from rnnstrategy.live.sessions import calendar_range, calendar_says, has_closed

    if not has_closed(day, now):
        raise ConfigError(f"session {day} has not closed yet (it closes at 15:00 Shanghai time that day): fill a "
                          f"session after its close, with its bar in the data; check the orders' session; {_NOTHING}")
    if day.weekday() >= 5:
        raise ConfigError(f"session {day} is a {day:%A}: the exchanges do not trade on weekends; the orders name a "
                          f"wrong session, make them again with `rnnstrategy signal`; {_NOTHING}")
    known = calendar_says(day)
    stamp = pd.Timestamp(day)
    traded = sorted(code for code, frame in frames.items() if stamp in frame.index)
    if not known and not traded:
        first, last = calendar_range()
        why = ("an exchange holiday in the XSHG calendar" if known is False
               else f"beyond the XSHG calendar ({first}..{last})")
        raise ConfigError(f"session {day} is not a known trading session ({why}) and the data has no bar on it: "
                          f"check the orders' session (or update exchange_calendars); {_NOTHING}")
    if known is False:
        logger.warning("%s is not a session of the XSHG calendar, but the data has bars of %s on it: filled as "
                       "a session", day, ", ".join(traded))
    reaching = [frame.index[-1] for code, frame in frames.items() if code not in suspended and len(frame)]
    if reaching and max(reaching) < stamp:
        raise DataError(f"the data ends on {max(reaching):%Y-%m-%d}, before the session {day}: fetch bars through "
                        f"{day} (e.g. `rnnstrategy data fetch`), then fill again; {_NOTHING}")


def session_open(frame: pd.DataFrame | None, code: str, day: dt.date, suspended: Collection[str]) -> float | str:
    """The open of ``code`` on ``day``, or why the data shows it suspended that day (a reason text).

    Raises:
        DataError: no bars of ``code``, or bars that end before ``day`` without a word that it is suspended;
            an open that is no price.
        ConfigError: ``code`` said to be suspended on a day its bars show it trading.
    """
    if frame is None:
        raise DataError(f"no bars of {code} were given (CLI: --data): give its bars through {day}, then fill "
                        f"again; {_NOTHING}")
    stamp = pd.Timestamp(day)
    if stamp in frame.index:
        if code in suspended:
            raise ConfigError(f"{code} is said to be suspended on {day} (CLI: --suspended) but the data has its bar "
                              "that day: leave it out of suspended")
        if "volume" in frame.columns and frame.at[stamp, "volume"] == 0:
            return f"suspended: zero volume on {day}"
        price = float(frame.at[stamp, "open"])
        if not (math.isfinite(price) and price > 0):
            raise DataError(f"the bar of {code} on {day} opens at {price}: not a price; fix the data, then fill "
                            f"again; {_NOTHING}")
        return price
    if code in suspended:
        return f"suspended: no bar on {day} (said to be suspended)"
    if len(frame) and frame.index[-1] > stamp:
        return f"suspended: no bar on {day}"
    ends = f"its bars end on {frame.index[-1]:%Y-%m-%d}" if len(frame) else "its bars are empty"
    raise DataError(f"{code} has no bar on {day} ({ends}): the data is not updated to that session; fetch it and "
                    f"fill again ({_NOTHING}), or, if {code} was suspended that day, say so with "
                    f"suspended=['{code}'] (CLI: --suspended {code})")


def check_decided_for(decided_for: Mapping[str, Any], state: Mapping[str, Any], folder: Path, day: dt.date) -> None:
    """Raise unless the orders were decided for this account: ``decided_for`` (``cash`` and ``positions``, as
    ``orders.json`` of ``rnnstrategy signal`` records them) is what ``state`` (the account before ``day``'s
    lines) holds, cash to the fen.

    Raises:
        ConfigError: no holdings recorded, or holdings that are not the account's.
    """
    try:
        cash = money.to_fen(decided_for["cash"])
        positions = {}
        for name, shares in dict(decided_for["positions"]).items():
            if isinstance(shares, bool) or not float(shares) >= 0 or float(shares) != int(shares):
                raise ValueError(f"shares={shares!r}")
            if int(shares):
                positions[symbol_info(str(name)).ts_code] = int(shares)
    except (KeyError, TypeError, ValueError, SymbolError, OverflowError) as err:
        raise ConfigError(f"the orders do not record the holdings they were decided for ({err}; orders.json of "
                          "`rnnstrategy signal` has cash and positions): make them with signal, or pass "
                          f"force_account=True (CLI: --force-account) to book them anyway; {_NOTHING}") from None
    held_cash, held = money.to_fen(state["cash"]), dict(state["positions"])
    if cash != held_cash or positions != held:
        raise ConfigError(f"the orders were decided for cash {cash:,.2f} CNY and positions {_listed(positions)}, but "
                          f"before {day} the account in {folder} holds cash {held_cash:,.2f} CNY and positions "
                          f"{_listed(held)}: they are another account's orders (or older than its last fill); make "
                          f"them with `rnnstrategy signal --positions {folder}`, or pass force_account=True (CLI: "
                          f"--force-account) to book them anyway; {_NOTHING}")


def _listed(positions: Mapping[str, int]) -> str:
    return ", ".join(f"{code} {shares}" for code, shares in sorted(positions.items())) or "none"
