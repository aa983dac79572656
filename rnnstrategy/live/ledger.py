"""A paper account's history as a backtest's records: its fills (``trades.csv``) and its daily equity.

The journal of a :class:`~rnnstrategy.live.paper.PaperAccount` says what was filled, at which
session's open, at what price and fees, and which corporate actions were booked on the holdings;
the bars say what the holdings were worth at each close. :func:`journal_trades` turns the filled
lines into rows of :data:`~rnnstrategy.data.records.TRADE_COLUMNS`, :func:`journal_actions` the
action lines into rows of :data:`~rnnstrategy.data.records.CORPORATE_ACTION_COLUMNS`;
:func:`account_equity` replays them over the bars' dates into ``value, cash, position, close`` by
date, as the backtest's equity curve records them: actions on their ex-date before the fills, fills
at the open of their session, the holdings valued at its close, a stock without a bar that day
(suspended) at its last close.

Example::

    account = PaperAccount.open("paper/moutai")
    equity = account_equity(account.journal(), account.opening_cash, {"600519.SH": bars})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnnstrategy.data.records import CORPORATE_ACTION_COLUMNS, TRADE_COLUMNS
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.live import money
from rnnstrategy.live.account_files import apply_line, opening_state
from rnnstrategy.live.actions import is_action
from rnnstrategy.live.fill_checks import frames_by_code

__all__ = ["account_equity", "journal_actions", "journal_trades", "price_mismatches"]

logger = logging.getLogger(__name__)

PRICE_TOLERANCE = 1e-6
"""How far (CNY) a journal fill's price may lie from the session's open in the bars before it is reported."""


def journal_trades(journal: Sequence[Mapping[str, Any]], names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The filled lines of ``journal`` as ``trades.csv`` rows, in journal order.

    Args:
        journal: the account's journal lines (:meth:`PaperAccount.journal
            <rnnstrategy.live.paper.PaperAccount.journal>`); cancelled and rejected lines are left out.
        names: the symbol to show for a tushare code (default the code, e.g. ``600519.SH``).
    """
    names = names or {}
    rows = [{"date": line["session"], "symbol": names.get(line["symbol"], line["symbol"]), "side": line["side"],
             "size": int(line["shares"]), "price": float(line["price"]),
             "value": money.as_number(money.value(line["shares"], line["price"])),
             "commission": float(line["commission"]),
             "stamp_duty": float(line["stamp_duty"]), "transfer_fee": float(line["transfer_fee"])}
            for line in journal if line["status"] == "filled" and not is_action(line)]
    return pd.DataFrame(rows, columns=list(TRADE_COLUMNS))


def journal_actions(journal: Sequence[Mapping[str, Any]], names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The corporate actions and dividend tax of ``journal`` as ``corporate_actions.csv`` rows, in journal order
    (``date`` the ex-date, or the sale's session for ``dividend_tax``; see
    :data:`~rnnstrategy.live.actions.ACTION_FIELDS`).

    Args:
        journal: the account's journal lines; order lines are left out.
        names: the symbol to show for a tushare code (default the code).
    """
    names = names or {}
    rows = [{"date": line["session"], "symbol": names.get(line["symbol"], line["symbol"]), "kind": line["kind"],
             "cash_per_share": float(line["cash_per_share"]), "share_ratio": float(line["share_ratio"]),
             "shares_before": int(line["shares_before"]), "shares_after": int(line["shares_after"]),
             "cash": float(line["cash"]), "tax": float(line["tax"])}
            for line in journal if is_action(line)]
    return pd.DataFrame(rows, columns=list(CORPORATE_ACTION_COLUMNS))


def account_equity(journal: Sequence[Mapping[str, Any]], opening_cash: float, bars: Mapping[str, pd.DataFrame],
                   start: Any = None, end: Any = None, first_session: Any = None) -> tuple[pd.DataFrame, float]:
    """The account's daily ``value, cash, position, close`` from ``start`` to ``end``, and its value before.

    The dates are those of the bars (the union of every stock's). The account starts with
    ``opening_cash`` before the first of them, takes each filled line at its session, and is valued at
    every close: cash plus each holding at the stock's close (its last close on a day without a bar).
    ``position`` is the shares of the one stock when ``bars`` holds one, else the number of stocks
    held; ``close`` is that one stock's close (NaN for several).

    Args:
        journal: the account's journal lines.
        opening_cash: the account's opening cash.
        bars: canonical bar frames by symbol (any spelling): every stock the journal filled, over its
            sessions, and those of the report.
        start, end: the report's first and last dates (inclusive). Default start: the last date
            before ``first_session`` (the close the account's first orders were decided on); default
            end: the last date of the bars.
        first_session: the account's first session (:attr:`PaperAccount.first_session
            <rnnstrategy.live.paper.PaperAccount.first_session>`); default the journal's first.

    Returns:
        The equity frame, and the account's value at the close before ``start`` (``opening_cash``
        when nothing was filled before it), against which the first day's return is measured.

    Raises:
        ConfigError: an empty journal with no ``start``, or a ``start`` after ``end``.
        DataError: bars ending before ``end``, a fill of a stock without bars, or on a session the
            stock has no bar for.
    """
    frames = _frames(bars)
    closes = pd.concat({code: frame["close"] for code, frame in frames.items()}, axis=1).sort_index()
    dates = closes.index
    first, last = _window(dates, journal, start, end, first_session)
    fills = [line for line in journal if line["status"] == "filled" and pd.Timestamp(line["session"]) <= last]
    for line in fills:
        frame = frames.get(line["symbol"])
        if frame is None:
            raise DataError(f"the journal filled {line['symbol']} on {line['session']} but no bars of it were given: "
                            "give the bars of every stock the account traded")
        if pd.Timestamp(line["session"]) not in frame.index:
            raise DataError(f"the journal filled {line['symbol']} on {line['session']} but its bars have no bar that "
                            f"day (they cover {frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d}): give bars "
                            "covering the account's sessions")
    held_closes = closes.ffill()
    state = opening_state(opening_cash)
    upto = [line for line in journal if pd.Timestamp(line["session"]) <= last]
    applied, before, rows = 0, float(opening_cash), []
    one = next(iter(frames)) if len(frames) == 1 else None
    for position, date in enumerate(dates):
        if date > last:
            break
        while applied < len(upto) and pd.Timestamp(upto[applied]["session"]) <= date:  # as the account books them
            apply_line(state, upto[applied])
            applied += 1
        cash, shares = money.as_number(state["cash"]), state["positions"]
        marks = held_closes.iloc[position]
        value = cash + sum(n * float(marks[code]) for code, n in shares.items())
        if date < first:
            before = value
            continue
        held = shares.get(one, 0) if one is not None else len(shares)
        close = float(closes[one].iloc[position]) if one is not None else np.nan
        rows.append((date, value, cash, float(held), close))
    equity = pd.DataFrame(rows, columns=["date", "value", "cash", "position", "close"]).set_index("date")
    stale = [code for code in state["positions"] if frames[code].index[-1] < last]
    for code in stale:
        logger.warning("%s is held on %s but its bars end on %s: valued at that last close", code,
                       f"{last:%Y-%m-%d}", f"{frames[code].index[-1]:%Y-%m-%d}")
    return equity, before


def price_mismatches(journal: Sequence[Mapping[str, Any]], bars: Mapping[str, pd.DataFrame]) -> list[str]:
    """The filled lines whose price is not the session's open in ``bars``, one sentence each.

    A fill booked from other prices than the report's (for instance forward-adjusted bars re-based
    after a dividend since the fill) makes the equity jump where the two disagree.
    """
    frames = _frames(bars)
    found = []
    for line in journal:
        frame = frames.get(line["symbol"])
        day = pd.Timestamp(line["session"])
        if line["status"] != "filled" or frame is None or day not in frame.index:
            continue
        opened = float(frame.at[day, "open"])
        if abs(opened - float(line["price"])) > PRICE_TOLERANCE:
            found.append(f"{line['symbol']} {line['side']} on {line['session']} was filled at {line['price']} but "
                         f"the bars open at {opened}")
    return found


def _window(dates: pd.DatetimeIndex, journal: Sequence[Mapping[str, Any]], start: Any, end: Any,
            first_session: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The report's first and last dates among ``dates``."""
    last = dates[-1] if end is None else pd.Timestamp(end)
    if last > dates[-1]:
        raise DataError(f"the bars end on {dates[-1]:%Y-%m-%d}, before the report's end {last:%Y-%m-%d}: give bars up "
                        "to that day, or an earlier end")
    if start is not None:
        first = pd.Timestamp(start)
    elif first_session is not None or journal:
        opening = pd.Timestamp(first_session if first_session is not None else journal[0]["session"])
        earlier = dates[dates < opening]
        first = earlier[-1] if len(earlier) else opening
    else:
        raise ConfigError("the account has filled no session yet: nothing to report; fill a session's orders "
                          "first, or give the report's start date")
    inside = dates[(dates >= first) & (dates <= last)]
    if inside.empty:
        raise ConfigError(f"no bar between {first:%Y-%m-%d} and {last:%Y-%m-%d} (the bars cover "
                          f"{dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}): give a start on or before the end, inside "
                          "the bars")
    late = [line for line in journal if line["status"] == "filled" and pd.Timestamp(line["session"]) > inside[-1]]
    if late:
        logger.warning("%d fill(s) after %s, the report's end, are left out of it", len(late),
                       f"{inside[-1]:%Y-%m-%d}")
    return inside[0], inside[-1]


def _frames(bars: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    frames = frames_by_code(bars)
    if not frames:
        raise ConfigError("no bars: give the bars of the stocks the account traded")
    return frames
