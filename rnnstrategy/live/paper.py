"""A paper-trading account that fills a session's orders at its open under A-share rules.

An account is a folder with two files:

``account.json``
    cash, positions ``{ts_code: shares}``, the shares bought in the latest session (T+1),
    the sequence number of the last journal line applied, the currency and the opening cash,
    the first session filled (with orders or none: where the account's record starts),
    plus ``sha256``, the SHA-256 of the rest of the content, verified on every read. Written
    atomically (:func:`rnnstrategy.files.atomic_write_bytes`).
``journal.jsonl``
    append-only, one JSON line per order decided: ``seq, order_id, session, symbol, side,
    requested, shares, price, commission, stamp_duty, transfer_fee, status, reason`` with status
    ``filled``, ``cancelled`` or ``rejected``. Each line is flushed and fsynced before
    ``account.json`` is updated.

The account is a fold over the journal, so it is crash-safe: when the process dies after a
journal line and before ``account.json``, :meth:`PaperAccount.open` applies the lines past the
account's ``last_seq``. It is idempotent: an order id already in the journal is never booked
again, so a repeated :meth:`PaperAccount.fill` of the same orders books nothing and says so.

The rules are those of :class:`~rnnstrategy.backtrader.broker.AShareBroker`, from the same
code (without importing Backtrader): lots by
:meth:`~rnnstrategy.ashare.symbols.SymbolInfo.valid_order_size` (a sell of the whole holding
may be an odd lot), sells capped at the holding (no short selling), no fill for a suspended
security, no buy at or above limit-up nor sell at or below limit-down
(:mod:`rnnstrategy.ashare.limits`, judged from the session's open against the previous bar's
close, with ST status and the unlimited days after a listing), T+1, and fees by trade date
from :meth:`~rnnstrategy.ashare.rules.AShareRules.fee_schedule`. A buy whose price and fees
exceed the cash is rejected, as Backtrader rejects it with ``Margin``.

Example::

    account = PaperAccount.open("paper/moutai", cash=1_000_000)
    orders = [{"id": "2024-03-01/600519.SH/buy", "symbol": "600519.SH", "side": "buy", "shares": 100}]
    result = account.fill(orders, {"600519.SH": bars}, session=datetime.date(2024, 3, 1))
    account.cash, account.positions, result.booked
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.ashare.fees import Fees
from rnnstrategy.ashare.limits import limit_refusal
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.ashare.symbols import SymbolInfo, symbol_info
from rnnstrategy.data.securities import read_securities
from rnnstrategy.errors import ConfigError, DataError, SymbolError
from rnnstrategy.files import atomic_write_bytes

__all__ = ["ACCOUNT_FILE", "CURRENCY", "JOURNAL_FILE", "JOURNAL_FIELDS", "FillResult", "PaperAccount", "apply_line",
           "frames_by_code", "opening_state"]

logger = logging.getLogger(__name__)

ACCOUNT_FILE = "account.json"
JOURNAL_FILE = "journal.jsonl"
CURRENCY = "CNY"
FORMAT = 1

JOURNAL_FIELDS = ("seq", "order_id", "session", "symbol", "side", "requested", "shares", "price",
                  "commission", "stamp_duty", "transfer_fee", "status", "reason")
"""The keys of a journal line. ``requested`` is the order's size, ``shares`` what was decided
(after the cap at the holding and the lots); ``price`` is the session's open (``None`` without a bar)."""

_NO_RULES = SecurityRules()
_NO_FEES = Fees(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class FillResult:
    """What one :meth:`PaperAccount.fill` did.

    Attributes:
        session: the session filled.
        booked: the new journal lines (filled, cancelled or rejected), in order.
        already_booked: ids of orders found in the journal already, booked nothing.
    """

    session: dt.date
    booked: tuple[dict[str, Any], ...]
    already_booked: tuple[str, ...]

    @property
    def filled(self) -> tuple[dict[str, Any], ...]:
        """The booked lines with status ``filled``."""
        return tuple(line for line in self.booked if line["status"] == "filled")

    def summary(self) -> str:
        """One line, e.g. ``2024-03-01: 2 orders booked (1 filled, 1 cancelled), 0 already booked``."""
        if not self.booked and self.already_booked:
            return (f"{self.session}: all {len(self.already_booked)} orders were already booked; "
                    "nothing was booked again")
        counts: dict[str, int] = {}
        for line in self.booked:
            counts[line["status"]] = counts.get(line["status"], 0) + 1
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return (f"{self.session}: {len(self.booked)} orders booked ({detail or 'none'}), "
                f"{len(self.already_booked)} already booked")


class PaperAccount:
    """A paper-trading account kept in a folder (see the module docstring).

    Use :meth:`open`; read :attr:`cash`, :attr:`positions` and :meth:`journal`; trade with
    :meth:`fill`.
    """

    def __init__(self, folder: Path, state: dict[str, Any], booked: dict[str, int]) -> None:
        self._folder = folder
        self._state = state
        self._booked = booked  # order id -> seq of its journal line

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | os.PathLike[str], cash: float | None = None,
             currency: str = CURRENCY) -> PaperAccount:
        """Create the account in ``folder`` with ``cash``, or open the one there.

        Opening applies any journal line past the account's ``last_seq`` (left by a crash
        between the journal and the account file) and drops a torn, unterminated last
        journal line (one whose write never completed, so never applied).

        Args:
            folder: the account's folder (created when missing).
            cash: the opening cash; required to create, and when given to open an existing
                account it must equal that account's opening cash.
            currency: the account's currency; only ``CNY`` is traded.

        Raises:
            ConfigError: no ``cash`` for a new account, a ``cash`` or ``currency`` that
                contradicts the existing account, or a negative ``cash``.
            DataError: an ``account.json`` whose SHA-256 does not match its content, or a
                journal that does not match the account (missing, out of sequence).
        """
        folder = Path(folder)
        path = folder / ACCOUNT_FILE
        if currency != CURRENCY:
            raise ConfigError(f"currency={currency!r}: A-share paper accounts trade in {CURRENCY}")
        if not path.exists():
            if (folder / JOURNAL_FILE).exists():
                raise DataError(f"{folder / JOURNAL_FILE} exists without {ACCOUNT_FILE}: the account's opening "
                                "cash is unknown; restore account.json or move the journal away")
            if cash is None:
                raise ConfigError(f"no paper account in {folder}: give the opening cash to create one, "
                                  "e.g. PaperAccount.open(folder, cash=1_000_000)")
            if not float(cash) >= 0:
                raise ConfigError(f"cash={cash!r}: the opening cash is 0 or a positive amount in {CURRENCY}")
            account = cls(folder, opening_state(float(cash), currency), {})
            account._write()
            logger.info("paper account created in %s with %s %s", folder, float(cash), currency)
            return account
        state = _read_account(path)
        if cash is not None and float(cash) != state["opening_cash"]:
            raise ConfigError(f"the paper account in {folder} was opened with {state['opening_cash']} "
                              f"{state['currency']}, not {cash}: leave cash out to open it, or use another folder")
        lines = _read_journal(folder / JOURNAL_FILE)
        if state["last_seq"] > len(lines):
            raise DataError(f"{path} has applied journal line {state['last_seq']} but {folder / JOURNAL_FILE} "
                            f"has {len(lines)} lines: the journal was truncated or replaced; restore it")
        account = cls(folder, state, {line["order_id"]: line["seq"] for line in lines})
        pending = lines[state["last_seq"]:]
        if pending:
            logger.warning("%s: applying %d journal line(s) past seq %d that the account had not recorded "
                           "(an interrupted fill)", folder, len(pending), state["last_seq"])
            for line in pending:
                apply_line(account._state, line)
            account._write()
        return account

    # -- reading -------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """The account's folder."""
        return self._folder

    @property
    def cash(self) -> float:
        """Cash, in the account's currency."""
        return float(self._state["cash"])

    @property
    def opening_cash(self) -> float:
        """The cash the account was created with."""
        return float(self._state["opening_cash"])

    @property
    def currency(self) -> str:
        return str(self._state["currency"])

    @property
    def positions(self) -> dict[str, int]:
        """Shares held by tushare code (a copy)."""
        return dict(self._state["positions"])

    @property
    def last_seq(self) -> int:
        """The sequence number of the last journal line applied (0: none)."""
        return int(self._state["last_seq"])

    @property
    def last_session(self) -> dt.date | None:
        """The latest session with a journal line, ``None`` before the first."""
        day = self._state["last_session"]
        return dt.date.fromisoformat(day) if day else None

    @property
    def first_session(self) -> dt.date | None:
        """The first session :meth:`fill` was called for, orders or none (the account's first trading day;
        ``None`` before, or for an account rebuilt from its journal: then its first journal session)."""
        day = self._state.get("first_session") or (self.journal()[0]["session"] if self.last_seq else None)
        return dt.date.fromisoformat(day) if day else None

    def journal(self) -> list[dict[str, Any]]:
        """The journal's lines, oldest first."""
        return _read_journal(self._folder / JOURNAL_FILE)

    # -- filling -------------------------------------------------------------------------------

    def fill(self, orders: Sequence[Mapping[str, Any]], bars: Mapping[str, pd.DataFrame],
             rules: AShareRules | None = None, *, session: dt.date | None = None) -> FillResult:
        """Fill one session's ``orders`` at that session's open, in the order given.

        Give sells before buys, as the backtest sends them. Each order not yet in the
        journal gets one journal line, then the account is updated: ``filled``, or
        ``cancelled`` (suspended, at the price limit, rounded to no shares, nothing to sell)
        or ``rejected`` (T+1, not enough cash). An order whose id is in the journal already
        is skipped, so repeating a fill books nothing twice.

        Args:
            orders: dicts with ``id`` (a stable, unique string), ``symbol`` (any spelling),
                ``side`` (``"buy"``/``"sell"``) and ``shares`` (a positive whole number);
                other keys (reference price, expected return, notes) are ignored.
            bars: canonical bar frames by symbol (any spelling), each holding the session's
                bar and the one before it (more are fine; the listing window counts them).
            rules: the A-share rules, default ``AShareRules()`` (every rule on).
            session: the trading session; default the orders' common ``session`` key.

        Raises:
            ConfigError: a malformed order, no session, a session before the account's last
                one, or ``rules`` that allow short selling.
            DataError: a bar frame without ``open``/``close`` or with an unsorted index.
        """
        rules = AShareRules() if rules is None else rules
        if not isinstance(rules, AShareRules):
            raise ConfigError(f"rules={rules!r}: give an AShareRules, e.g. AShareRules(price_limits=False)")
        if not rules.no_short:
            raise ConfigError("rules.no_short=False: a paper account holds no short positions; keep no_short on")
        checked = [_check_order(order, i) for i, order in enumerate(orders)]
        day = _session(session, orders)
        fresh = [order for order in checked if order["id"] not in self._booked]
        last = self.last_session
        if fresh and last is not None and day < last:
            raise ConfigError(f"session {day} is before the account's last session {last}: "
                              "sessions are filled in order; fill the orders of a later session")
        if not self._state.get("first_session"):  # the account's first day, even without orders
            self._state = {**self._state, "first_session": day.isoformat()}
            self._write()
        frames = frames_by_code(bars)
        securities = _securities(rules)
        schedule = rules.fee_schedule()
        booked: list[dict[str, Any]] = []
        already: list[str] = []
        for order in checked:
            seq = self._booked.get(order["id"])
            if seq is not None:
                logger.info("order %s is already booked (journal line %d): not booked again", order["id"], seq)
                already.append(order["id"])
                continue
            line = self._decide(order, day, frames, rules, securities, schedule)
            self._book(line)
            booked.append(line)
        result = FillResult(day, tuple(booked), tuple(already))
        logger.info("%s", result.summary())
        return result

    def _decide(self, order: dict[str, Any], session: dt.date, frames: Mapping[str, pd.DataFrame],
                rules: AShareRules, securities: Mapping[str, SecurityRules], schedule: Any) -> dict[str, Any]:
        """The journal line of ``order`` (without seq): the broker's rules in the broker's order."""
        info, side, shares = order["info"], order["side"], order["shares"]
        line = {"seq": None, "order_id": order["id"], "session": session.isoformat(), "symbol": info.ts_code,
                "side": side, "requested": shares, "shares": shares, "price": None, "commission": 0.0,
                "stamp_duty": 0.0, "transfer_fee": 0.0, "status": "filled", "reason": ""}

        def refuse(status: str, reason: str) -> dict[str, Any]:
            logger.info("%s %s: order %s (%s %s) %s: %s", info.ts_code, session, order["id"], side,
                        line["shares"], status, reason)
            return {**line, "status": status, "reason": reason}

        # placement (AShareBroker.sell and _lot_size): no short selling, then lots
        held = self._state["positions"].get(info.ts_code, 0)
        if side == "sell":
            if held <= 0:
                return refuse("cancelled", "not sent: no long position (A-shares cannot be sold short)")
            if shares > held:
                line["reason"] = f"capped at the position of {held} shares"
                line["shares"] = shares = held
        if rules.lots and not (side == "sell" and shares == held):  # the whole holding may be an odd lot
            valid = info.valid_order_size(shares)
            if not valid:
                why = "an index cannot be traded" if info.is_index else (
                    f"below the {info.min_order}-share minimum of the {info.board.value} board")
                return refuse("cancelled", f"not sent: {why}")
            if valid != shares:
                line["reason"] = f"rounded down from {shares} to {valid} shares (lots)"
                line["shares"] = shares = valid

        # the fill (AShareBroker._refusal): suspension, price limits, T+1
        frame = frames.get(info.ts_code)
        stamp = pd.Timestamp(session)
        if frame is None or stamp not in frame.index:
            return refuse("cancelled", f"suspended: no bar on {session}")
        position = frame.index.get_loc(stamp)
        price = float(frame["open"].iloc[position])
        line["price"] = price
        if rules.price_limits:
            reason = _limit_refusal(frame, position, price, side, info, securities.get(info.ts_code, _NO_RULES),
                                    session)
            if reason:
                return refuse("cancelled", reason)
        if rules.t_plus_one and side == "sell":
            bought = self._state["bought"]
            today = bought["shares"].get(info.ts_code, 0) if bought["session"] == session.isoformat() else 0
            if shares > held - today:
                return refuse("rejected", f"sell of {shares} shares needs some of the {today} bought on {session}: "
                                          f"only {held - today} are sellable (T+1)")

        fees = schedule.fees(shares if side == "buy" else -shares, price, session) if schedule else _NO_FEES
        line.update(commission=fees.commission, stamp_duty=fees.stamp_duty, transfer_fee=fees.transfer_fee)
        if side == "buy":
            cost = shares * price + fees.total
            if cost > self._state["cash"]:
                return refuse("rejected", f"margin: {shares} shares at {price:.4f} cost {cost:.2f} with fees, "
                                          f"the cash is {self._state['cash']:.2f}")
        return line

    def _book(self, line: dict[str, Any]) -> None:
        """Append ``line`` to the journal (fsynced), then apply it and write the account."""
        line["seq"] = self.last_seq + 1
        path = self._folder / JOURNAL_FILE
        new = not path.exists()
        text = json.dumps({key: line[key] for key in JOURNAL_FIELDS}, ensure_ascii=False) + "\n"
        with path.open("ab") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if new:
            _fsync_dir(self._folder)
        self._booked[line["order_id"]] = line["seq"]
        state = copy.deepcopy(self._state)
        apply_line(state, line)
        self._state = state
        self._write()

    def _write(self) -> None:
        content = {key: value for key, value in self._state.items() if key != "sha256"}
        content["sha256"] = _digest(content)
        atomic_write_bytes(self._folder / ACCOUNT_FILE,
                           (json.dumps(content, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


# -- the account state ------------------------------------------------------------------------


def opening_state(cash: float, currency: str = CURRENCY) -> dict[str, Any]:
    """The state of a new account with ``cash`` (the content of ``account.json`` but its checksum)."""
    return {"format": FORMAT, "currency": currency, "opening_cash": cash, "cash": cash, "positions": {},
            "bought": {"session": None, "shares": {}}, "last_seq": 0, "last_session": None, "first_session": None}


def apply_line(state: dict[str, Any], line: Mapping[str, Any]) -> None:
    """Update ``state`` by one journal line (in place): the account is this fold over its journal.

    Raises:
        DataError: a line out of sequence.
    """
    if line["seq"] != state["last_seq"] + 1:
        raise DataError(f"journal line {line['seq']} follows line {state['last_seq']}: the journal is out of "
                        "sequence; restore it from a backup")
    state["last_seq"] = line["seq"]
    if state["last_session"] is None or line["session"] > state["last_session"]:
        state["last_session"] = line["session"]
    if line["status"] != "filled":
        return
    symbol, shares, price = line["symbol"], int(line["shares"]), float(line["price"])
    fees = line["commission"] + line["stamp_duty"] + line["transfer_fee"]
    positions = state["positions"]
    if line["side"] == "buy":
        state["cash"] -= shares * price
        state["cash"] -= fees
        positions[symbol] = positions.get(symbol, 0) + shares
        bought = state["bought"]
        if bought["session"] != line["session"]:
            bought.update(session=line["session"], shares={})
        bought["shares"][symbol] = bought["shares"].get(symbol, 0) + shares
    else:
        state["cash"] += shares * price
        state["cash"] -= fees
        left = positions.get(symbol, 0) - shares
        if left:
            positions[symbol] = left
        else:
            positions.pop(symbol, None)


def _digest(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _read_account(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path} cannot be read as JSON ({err}): restore it from a backup") from None
    recorded = content.pop("sha256", None) if isinstance(content, dict) else None
    if recorded is None or recorded != _digest(content):
        raise DataError(f"{path}: its SHA-256 does not match its content (edited by hand or damaged); "
                        "restore it from a backup, or rebuild the account by replaying journal.jsonl "
                        "into a new one")
    if content.get("format") != FORMAT:
        raise DataError(f"{path}: account format {content.get('format')!r}, this version reads {FORMAT}")
    return content


def _read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's lines; a torn last line (no newline: its write never finished) is cut off."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        logger.warning("%s: dropping a torn last line (%d bytes) whose write did not complete", path, len(data) - end)
        with path.open("r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    lines = []
    for number, raw in enumerate(data[:end].splitlines(), start=1):
        try:
            line = json.loads(raw)
        except ValueError:
            raise DataError(f"{path}, line {number}: not JSON; restore the journal from a backup") from None
        if line.get("seq") != number:
            raise DataError(f"{path}, line {number}: seq {line.get('seq')!r}, expected {number}; "
                            "restore the journal from a backup")
        lines.append(line)
    return lines


def _fsync_dir(folder: Path) -> None:
    """Make a new file's name durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- orders, bars and rules ---------------------------------------------------------------------


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
    if isinstance(shares, bool) or not isinstance(shares, (int, float)) or shares <= 0 or shares != int(shares):
        raise ConfigError(f"order {order_id}: shares={shares!r}; give a positive whole number of shares")
    try:
        info = symbol_info(order["symbol"])
    except SymbolError as err:
        raise ConfigError(f"order {order_id}: {err}") from None
    return {"id": order_id, "info": info, "side": side, "shares": int(shares), "session": order.get("session")}


def _session(session: dt.date | None, orders: Sequence[Mapping[str, Any]]) -> dt.date:
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


def _securities(rules: AShareRules) -> dict[str, SecurityRules]:
    if not rules.securities_file:
        return rules.securities()
    return rules.securities(read_securities(rules.securities_file))


def _limit_refusal(frame: pd.DataFrame, position: int, price: float, side: str, info: SymbolInfo,
                   rules: SecurityRules, session: dt.date) -> str | None:
    """Why the price limits refuse this fill (:func:`~rnnstrategy.ashare.limits.limit_refusal`, as the broker
    asks it), else ``None``."""
    if position < 1:
        return None  # no previous close to judge from
    return limit_refusal(side == "buy", price, float(frame["close"].iloc[position - 1]), session, info, rules,
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
