"""The rules a paper fill applies at the session's open, as :class:`~rnnstrategy.backtrader.broker.AShareBroker`
applies them to a fill (without importing Backtrader): price limits, T+1 and the volume limit.

Price limits are judged from the session's open against the previous bar's close, with ST status and the
unlimited days after a listing (:mod:`rnnstrategy.ashare.limits`); on bars with a ``factor`` column (raw
prices) the previous close is taken ex the factor's step, the exchange's ex-reference price on an ex-date.
The volume limit (:mod:`rnnstrategy.ashare.volume`) lets one stock's fills of a session take at most
:attr:`~rnnstrategy.ashare.rules.AShareRules.volume_limit` of the session's volume, rounded down to lots;
the rest of the order is cancelled.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from rnnstrategy.ashare.limits import limit_refusal
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.ashare.symbols import SymbolInfo
from rnnstrategy.ashare.volume import volume_room

__all__ = ["fill_refusal", "reference_close", "volume_cap"]

logger = logging.getLogger(__name__)

_NO_RULES = SecurityRules()


def fill_refusal(bought: Mapping[str, Any], frame: pd.DataFrame, price: float, side: str, shares: int, held: int,
                 info: SymbolInfo, rules: AShareRules, securities: Mapping[str, SecurityRules],
                 session: dt.date) -> tuple[str, str] | None:
    """(status, reason) when the price limits or T+1 refuse this fill, else ``None`` (``bought``: the account's
    shares bought in its latest session, ``{"session": ..., "shares": {...}}``)."""
    if rules.price_limits:
        position = frame.index.get_loc(pd.Timestamp(session))
        reason = _limit_refusal(frame, position, price, side, info, securities.get(info.ts_code, _NO_RULES), session)
        if reason:
            return "cancelled", reason
    if rules.t_plus_one and side == "sell":
        today = bought["shares"].get(info.ts_code, 0) if bought["session"] == session.isoformat() else 0
        if shares > held - today:
            return "rejected", (f"sell of {shares} shares needs some of the {today} bought on {session}: "
                                f"only {held - today} are sellable (T+1)")
    return None


def reference_close(frame: pd.DataFrame, position: int) -> float:
    """The close that the price limits of the bar at ``position`` are judged from: the bar before's close, on raw
    prices with a ``factor`` ex the factor's step (the ex-reference price), as the broker judges it."""
    previous = float(frame["close"].iloc[position - 1])
    if "factor" in frame.columns:
        previous *= float(frame["factor"].iloc[position - 1]) / float(frame["factor"].iloc[position])
    return previous


def volume_cap(frame: pd.DataFrame, session: dt.date, shares: int, used: int, info: SymbolInfo,
               rules: AShareRules) -> tuple[int, str] | None:
    """The shares a fill of ``shares`` may take when the volume limit cuts it, and why, after ``used`` shares of
    the stock filled earlier in the session; None when it does not cut it (no limit, or room enough).

    The room is rounded down to the board's lot, as the broker rounds it; 0 shares: nothing fills.
    """
    if not rules.volume_limit:
        return None
    if "volume" not in frame.columns:
        logger.warning("%s: the bars have no volume column; the volume limit of %.0f%% cannot be applied on %s",
                       info.ts_code, 100 * rules.volume_limit, session)
        return None
    volume = float(frame.at[pd.Timestamp(session), "volume"])
    room = volume_room(volume, rules.volume_limit, used)
    if room >= shares:
        return None
    capped = int(info.valid_order_size(room) if rules.lots else int(room))
    if volume <= 0:
        return 0, f"volume limit: no volume on {session}, nothing can fill"
    rest = f"the other {shares - capped} shares are cancelled" if capped else "the order is cancelled"
    return capped, (f"volume limit: {capped} of {shares} shares filled, {rules.volume_limit:.0%} of the day's "
                    f"{volume:.0f} shares less {used} filled earlier, rounded down to lots; {rest} "
                    "(A-share orders are day orders)")


def _limit_refusal(frame: pd.DataFrame, position: int, price: float, side: str, info: SymbolInfo,
                   rules: SecurityRules, session: dt.date) -> str | None:
    """Why the price limits refuse this fill (:func:`~rnnstrategy.ashare.limits.limit_refusal`, as the broker
    asks it), else ``None``."""
    if position < 1:
        return None  # no previous close to judge from
    return limit_refusal(side == "buy", price, reference_close(frame, position), session, info, rules,
                         _bars_since_listing(frame, position, info, rules))


def _bars_since_listing(frame: pd.DataFrame, position: int, info: SymbolInfo, rules: SecurityRules) -> int | None:
    """Bars from the listing date to the fill bar, both included, in the frame's bars (None without a
    listing date, or when the bars start after it)."""
    listing = rules.listing_date
    if not rules.unlimited_days(info.board) or listing is None:
        return None
    first = frame.index[0].date()
    if first > listing:
        logger.warning("%s: the bars start on %s, after the listing on %s; they are treated as past the "
                       "unlimited days", info.ts_code, first, listing)
        return None
    return int((frame.index[:position + 1] >= pd.Timestamp(listing)).sum())
