"""Corporate actions and dividend tax in a paper account, booked from the bars' adjustment factor as the broker
books them (:mod:`rnnstrategy.backtrader.actions`).

A fill of session S first books, for every stock the account holds, each ex-date t after the account's last
session and up to S: a bar of the stock's frame whose ``factor`` differs from the bar's before it
(:func:`~rnnstrategy.ashare.corporate_actions.read_factor_step` reads the step). The holding at the close
before t receives the cash dividend and cash in lieu, and bonus shares or a split change its share count
(:func:`~rnnstrategy.ashare.corporate_actions.entitlement`, the broker's arithmetic, to the fen); then the
session's orders fill. The account keeps no cost basis, so nothing else changes. With dividend tax on
(:attr:`~rnnstrategy.ashare.rules.AShareRules.dividend_tax`) the account's lots by purchase date are the fold
of its journal (:class:`TaxLots`): the tax withheld on the ex-date is the action line's ``tax``, and a sale
that makes tax due is followed by a ``dividend_tax`` line.

Each is one journal line of :data:`ACTION_FIELDS` (``kind`` tells it from an order's line), with the id
``<date>/<ts_code>/<kind>`` (a sale's tax: ``<order id>/dividend_tax``), so it is booked once: a rerun of
the session, or a later session, finds it booked.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import pandas as pd

from rnnstrategy.ashare.corporate_actions import (
    FACTOR_TOLERANCE,
    CorporateAction,
    entitlement,
    read_factor_step,
)
from rnnstrategy.ashare.dividend_tax import HoldingLots
from rnnstrategy.errors import DataError
from rnnstrategy.live import money

__all__ = ["ACTION_FIELDS", "ACTION_KINDS", "BOOKED", "TaxLots", "action_line", "action_problem",
           "apply_action", "due_actions", "is_action", "sale_tax_line"]

logger = logging.getLogger(__name__)

ACTION_FIELDS = ("seq", "order_id", "session", "symbol", "kind", "shares_before", "shares_after", "cash_per_share",
                 "share_ratio", "cash", "tax", "status", "reason")
"""The keys of a corporate action's journal line: ``session`` the ex-date (of a ``dividend_tax`` line the sale's
session), ``cash`` the dividend and cash in lieu credited before ``tax`` (CNY, to the fen), ``tax`` the dividend
tax withheld or due, ``shares_before``/``shares_after`` the holding (a ``dividend_tax`` line: after the sale, both),
``status`` always ``booked``; the columns of ``corporate_actions.csv`` besides."""

ACTION_KINDS = ("dividend", "bonus", "restructuring", "dividend_tax")
BOOKED = "booked"

Due = tuple[pd.Timestamp, str, CorporateAction]
"""An ex-date to book: (date, ts_code, the action)."""


def is_action(line: Mapping[str, Any]) -> bool:
    """Whether a journal line books a corporate action or dividend tax (else it is an order's line)."""
    return "kind" in line


def apply_action(state: dict[str, Any], line: Mapping[str, Any]) -> None:
    """Update the account ``state`` by an action line (in place): cash by ``cash`` less ``tax``, the holding to
    ``shares_after``.

    Raises:
        DataError: a line booked on another holding than the account's (the journal was edited).
    """
    symbol, positions = line["symbol"], state["positions"]
    if positions.get(symbol, 0) != line["shares_before"]:
        raise DataError(f"journal line {line['seq']} books a {line['kind']} of {symbol} on {line['shares_before']} "
                        f"shares, but the lines before it leave {positions.get(symbol, 0)}: the journal was edited; "
                        "restore the journal from a backup")
    state["cash"] = money.exact(state["cash"]) + money.exact(line["cash"]) - money.exact(line["tax"])
    if line["shares_after"]:
        positions[symbol] = int(line["shares_after"])
    else:
        positions.pop(symbol, None)


def action_problem(line: Mapping[str, Any]) -> str | None:
    """What makes ``line`` no action line :func:`apply_action` can take (its fields, kinds, amounts), else None."""
    missing = [key for key in ACTION_FIELDS if key not in line]
    if missing:
        return f"no {', '.join(missing)}"
    if line["kind"] not in ACTION_KINDS or line["status"] != BOOKED:
        return f"kind {line['kind']!r} / status {line['status']!r} unknown"
    for key in ("shares_before", "shares_after"):
        if not isinstance(line[key], int) or isinstance(line[key], bool) or line[key] < 0:
            return f"{key}={line[key]!r} is not a whole number of shares"
    for key in ("cash_per_share", "cash", "tax"):
        if not _amount(line[key]):
            return f"{key}={line[key]!r} is not an amount of 0 or more"
    if not (_amount(line["share_ratio"]) and line["share_ratio"] > 0):
        return f"share_ratio={line['share_ratio']!r} is not a ratio above 0"
    return None


def _amount(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def due_actions(positions: Mapping[str, int], frames: Mapping[str, pd.DataFrame], after: str | None, day: dt.date,
                suspended: Collection[str] = ()) -> list[Due]:
    """The ex-dates of the stocks held in ``positions`` after the session ``after`` (ISO date; None: none held
    yet) and up to ``day``, by date then stock.

    A stock whose frame has no ``factor`` column (forward-adjusted or raw prices without their factor) has
    none: its prices carry no corporate action the account could book.

    Raises:
        DataError: a held stock without bars while the others carry a factor, or whose bars with a factor end
            before ``day`` (unless said to be suspended): its actions up to ``day`` cannot be known.
    """
    if after is None:
        return []
    stamp, since = pd.Timestamp(day), pd.Timestamp(after)
    raw = any("factor" in frame.columns for frame in frames.values())
    due: list[Due] = []
    for code in sorted(code for code, shares in positions.items() if shares):
        frame = frames.get(code)
        if frame is None:
            if raw:
                raise DataError(f"{code} is held but no bars of it were given, while the data carries adjustment "
                                f"factors: its dividends and splits up to {day} cannot be booked; give its bars "
                                "too (CLI: --data), then fill again; nothing was booked")
            continue
        if "factor" not in frame.columns:
            continue
        if len(frame) and frame.index[-1] < stamp and code not in suspended:
            raise DataError(f"{code} is held but its bars end on {frame.index[-1]:%Y-%m-%d}, before the session {day}: "
                            "its dividends and splits up to the session cannot be checked; fetch its bars through "
                            f"{day} and fill again, or if {code} is suspended say so (CLI: --suspended {code}); "
                            "nothing was booked")
        due += _steps(frame, code, since, stamp)
    return sorted(due, key=lambda item: (item[0], item[1]))


def _steps(frame: pd.DataFrame, code: str, since: pd.Timestamp, stamp: pd.Timestamp) -> list[Due]:
    """The factor steps of ``frame`` on bars after ``since`` and up to ``stamp``."""
    first = max(int(frame.index.searchsorted(since, side="right")), 1)
    last = int(frame.index.searchsorted(stamp, side="right"))
    close = frame["close"].to_numpy(dtype="float64")
    factor = frame["factor"].to_numpy(dtype="float64")
    steps = []
    for i in range(first, last):
        if abs(factor[i] / factor[i - 1] - 1.0) <= FACTOR_TOLERANCE:
            continue
        try:
            action = read_factor_step(close[i - 1], factor[i - 1], factor[i])
        except DataError as err:
            raise DataError(f"{code} {frame.index[i]:%Y-%m-%d}: {err}") from None
        if action is not None:
            steps.append((frame.index[i], code, action))
    return steps


def action_line(positions: Mapping[str, int], date: pd.Timestamp, code: str, action: CorporateAction,
                lots: TaxLots | None) -> dict[str, Any]:
    """The journal line (without ``seq``) of ``action`` on the holding of ``code`` in ``positions``, as the
    broker books it; with ``lots`` (dividend tax on) the tax withheld now, and the lots follow the action."""
    held = int(positions.get(code, 0))
    got = entitlement(held, action)
    withheld = lots.ex_date(code, date.date(), action, got.shares_after) if lots is not None else 0.0
    line = {"seq": None, "order_id": f"{date:%Y-%m-%d}/{code}/{action.kind}", "session": f"{date:%Y-%m-%d}",
            "symbol": code, "kind": action.kind, "shares_before": held, "shares_after": int(got.shares_after),
            "cash_per_share": float(action.cash_per_share), "share_ratio": float(action.share_ratio),
            "cash": got.cash, "tax": withheld, "status": BOOKED, "reason": ""}
    level = logging.WARNING if action.kind == "restructuring" else logging.INFO
    logger.log(level, "%s %s: %s booked on %d shares: %.4f CNY a share, %.4f shares a share -> %d shares, "
               "%.2f CNY credited, %.2f tax withheld", code, line["session"], action.kind, held,
               action.cash_per_share, action.share_ratio, line["shares_after"], got.cash, withheld)
    return line


def sale_tax_line(sell: Mapping[str, Any], held_after: int, due: float) -> dict[str, Any]:
    """The ``dividend_tax`` line (without ``seq``) that follows the filled ``sell`` line whose sale made ``due``
    CNY of dividend tax due."""
    logger.info("%s %s: dividend tax of %.2f CNY due on the sale of %d shares (holding period)", sell["symbol"],
                sell["session"], due, sell["shares"])
    return {"seq": None, "order_id": f"{sell['order_id']}/dividend_tax", "session": sell["session"],
            "symbol": sell["symbol"], "kind": "dividend_tax", "shares_before": held_after, "shares_after": held_after,
            "cash_per_share": 0.0, "share_ratio": 1.0, "cash": 0.0, "tax": due, "status": BOOKED,
            "reason": f"dividend tax due on the sale of order {sell['order_id']} (holding period)"}


class TaxLots:
    """The lots by purchase date of every stock the account holds, folded from its journal, and the dividend
    tax they owe (:class:`~rnnstrategy.ashare.dividend_tax.HoldingLots`, as the broker keeps them)."""

    def __init__(self) -> None:
        self._lots: dict[str, HoldingLots] = {}

    @classmethod
    def of(cls, journal: Iterable[Mapping[str, Any]]) -> TaxLots:
        """The lots that the lines of ``journal`` leave."""
        lots = cls()
        for line in journal:
            lots.follow(line)
        return lots

    def follow(self, line: Mapping[str, Any]) -> float:
        """Take one journal line into the lots; returns the tax a filled sell makes due (CNY, 0 for any other)."""
        code = line["symbol"]
        if is_action(line):
            if line["kind"] != "dividend_tax":
                action = CorporateAction(line["kind"], float(line["cash_per_share"]), float(line["share_ratio"]), 0.0)
                self.ex_date(code, dt.date.fromisoformat(line["session"]), action, line["shares_after"])
            return 0.0
        if line["status"] != "filled":
            return 0.0
        lots = self._lots.setdefault(code, HoldingLots())
        day = dt.date.fromisoformat(line["session"])
        if line["side"] == "buy":
            lots.buy(day, int(line["shares"]))
            return 0.0
        return lots.sell(day, int(line["shares"]))

    def ex_date(self, code: str, date: dt.date, action: CorporateAction, shares_after: float) -> float:
        """Book ``action`` on the lots of ``code``; returns the tax withheld now (CNY, to the fen)."""
        lots = self._lots.setdefault(code, HoldingLots())
        withheld = lots.dividend(date, action.cash_per_share) if action.cash_per_share else 0.0
        if action.share_ratio != 1.0:
            lots.split(action.share_ratio, shares_after)
        return withheld
