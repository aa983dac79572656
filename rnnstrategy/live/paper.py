"""A paper-trading account that fills a session's orders at its open under A-share rules.

An account is a folder with two files (:mod:`rnnstrategy.live.account_files`):

``account.json``
    cash (exact decimals, :mod:`rnnstrategy.live.money`), positions ``{ts_code: shares}``, the shares
    bought in the latest session (T+1), the sequence number of the last journal line applied, the
    currency and the opening cash, the first and the latest session filled (with orders or none),
    plus ``sha256``, the SHA-256 of the rest of the content, verified on every read. Written
    atomically (:func:`rnnstrategy.files.atomic_write_bytes`).
``journal.jsonl``
    append-only, one JSON line per order decided: ``seq, order_id, session, symbol, side,
    requested, shares, price, commission, stamp_duty, transfer_fee, status, reason`` with status
    ``filled``, ``cancelled`` or ``rejected``; and one per corporate action booked (a ``kind``
    of ``dividend``, ``bonus``, ``restructuring`` or ``dividend_tax``: :mod:`rnnstrategy.live.actions`).
    A fill's lines are appended in one fsynced write before ``account.json`` is updated.

The account is a fold over the journal, checked on every read, so it is crash-safe: when the process
dies after the journal and before ``account.json``, :meth:`PaperAccount.open` applies the lines past
the account's ``last_seq``; a write refused by the disk (full, read-only) takes the fill's lines back
out, so the account is as before. It is idempotent: an order id already in the journal is never
booked again, so a repeated :meth:`PaperAccount.fill` of the same orders books nothing and says so.
It is safe between processes: a fill holds the folder's lock (:mod:`rnnstrategy.live.lock`) and reads
the account again under it, so a second process waits and then finds the orders booked.

A fill books only what the data can confirm (:mod:`rnnstrategy.live.fill_checks`): a session that has
closed, that the exchange calendar or the bars show traded, filled in order (an empty fill counts); a
stock without its bar that session is cancelled as suspended only when the bars show the suspension,
else the fill stops and books nothing. Orders may carry the holdings they were decided for
(``decided_for``); then they are refused unless those are the account's.

Before a session's orders fill, the corporate actions of the stocks held are booked on their ex-dates
since the last session filled, read from the bars' ``factor`` column (raw prices and their adjustment
factor, as a qlib data directory gives them) as the broker reads them: dividends credited to the fen,
bonus shares and splits in the share count, dividend tax by holding period when the rule is on
(:mod:`rnnstrategy.live.actions`). So fill every session, orders or none: the holdings that decide the
next orders then include them, as the backtest's do.

The rules are those of :class:`~rnnstrategy.backtrader.broker.AShareBroker`, from the same
code (without importing Backtrader): lots by
:meth:`~rnnstrategy.ashare.symbols.SymbolInfo.valid_order_size` (a sell of the whole holding
may be an odd lot), sells capped at the holding (no short selling), no fill for a suspended
security, no buy at or above limit-up nor sell at or below limit-down
(:mod:`rnnstrategy.ashare.limits`, judged from the session's open against the previous bar's
close, ex the factor's step on an ex-date, with ST status and the unlimited days after a listing),
T+1, a stock's fills of a session at most ``volume_limit`` of its volume, the rest cancelled
(:mod:`rnnstrategy.live.fill_rules`), and fees by trade date
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
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.ashare.fees import Fees
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data.securities import read_securities
from rnnstrategy.errors import ConfigError, DataError, SymbolError
from rnnstrategy.live import money
from rnnstrategy.live.account_files import (
    ACCOUNT_FILE,
    CURRENCY,
    JOURNAL_FIELDS,
    JOURNAL_FILE,
    append_lines,
    apply_line,
    fold,
    load,
    opening_state,
    read_journal,
    truncate,
    write_account,
)
from rnnstrategy.live.actions import (
    TaxLots,
    action_line,
    due_actions,
    is_action,
    sale_tax_line,
)
from rnnstrategy.live.fill_checks import (
    check_decided_for,
    check_orders,
    confirm_session,
    frames_by_code,
    order_session,
    session_open,
)
from rnnstrategy.live.fill_rules import fill_refusal, volume_cap
from rnnstrategy.live.lock import DEFAULT_WAIT, AccountError, account_lock, cannot_write

__all__ = ["ACCOUNT_FILE", "CURRENCY", "JOURNAL_FIELDS", "JOURNAL_FILE", "AccountError", "FillResult", "PaperAccount",
           "apply_line", "frames_by_code", "opening_state"]

logger = logging.getLogger(__name__)

_NO_FEES = Fees(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class FillResult:
    """What one :meth:`PaperAccount.fill` did.

    Attributes:
        session: the session filled.
        booked: the new journal lines of orders (filled, cancelled or rejected), in order.
        already_booked: ids of orders found in the journal already, booked nothing.
        actions: the new journal lines of corporate actions and dividend tax
            (:data:`~rnnstrategy.live.actions.ACTION_FIELDS`), in order.
    """

    session: dt.date
    booked: tuple[dict[str, Any], ...]
    already_booked: tuple[str, ...]
    actions: tuple[dict[str, Any], ...] = ()

    @property
    def filled(self) -> tuple[dict[str, Any], ...]:
        """The booked lines with status ``filled``."""
        return tuple(line for line in self.booked if line["status"] == "filled")

    def summary(self) -> str:
        """One line, e.g. ``2024-03-01: 2 orders booked (1 filled, 1 cancelled), 0 already booked`` (and
        ``; 1 corporate action booked`` when there were any)."""
        if not self.booked and self.already_booked:
            return (f"{self.session}: all {len(self.already_booked)} orders were already booked; "
                    "nothing was booked again")
        counts: dict[str, int] = {}
        for line in self.booked:
            counts[line["status"]] = counts.get(line["status"], 0) + 1
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        actions = f"; {len(self.actions)} corporate action{'s' * (len(self.actions) != 1)} booked" if self.actions else ""
        return (f"{self.session}: {len(self.booked)} orders booked ({detail or 'none'}), "
                f"{len(self.already_booked)} already booked{actions}")


class PaperAccount:
    """A paper-trading account kept in a folder (see the module docstring).

    Use :meth:`open`; read :attr:`cash`, :attr:`positions` and :meth:`journal`; trade with
    :meth:`fill`.
    """

    def __init__(self, folder: Path, state: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        self._folder = folder
        self._state = state
        self._lines = lines
        self._booked = {line["order_id"]: line["seq"] for line in lines}  # order id -> seq of its journal line

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | os.PathLike[str], cash: float | None = None,
             currency: str = CURRENCY, *, wait: float = DEFAULT_WAIT) -> PaperAccount:
        """Create the account in ``folder`` with ``cash``, or open the one there.

        Opening checks the account against its journal, applies any journal line past the account's
        ``last_seq`` (left by a crash between the journal and the account file) and drops a torn,
        unterminated last journal line (one whose write never completed, so never applied); it writes
        that repair under the account's lock when the folder can be written.

        Args:
            folder: the account's folder (created when missing).
            cash: the opening cash (whole fen); required to create, and when given to open an existing
                account it must equal that account's opening cash.
            currency: the account's currency; only ``CNY`` is traded.
            wait: seconds to wait for another process that holds the account's lock.

        Raises:
            ConfigError: no ``cash`` for a new account, a ``cash`` or ``currency`` that
                contradicts the existing account, or a ``cash`` that is negative, not finite or
                not whole fen.
            DataError: an ``account.json`` whose SHA-256 does not match its content, or a
                journal that does not match the account (missing, out of sequence, edited).
            AccountError: a folder that cannot be written (to create the account).
        """
        folder = Path(folder)
        if currency != CURRENCY:
            raise ConfigError(f"currency={currency!r}: A-share paper accounts trade in {CURRENCY}")
        opening = None if cash is None else _opening_cash(cash)
        if not (folder / ACCOUNT_FILE).exists():
            _create(folder, opening, currency, wait)
        loaded = load(folder)
        if opening is not None and opening != loaded.state["opening_cash"]:
            raise ConfigError(f"the paper account in {folder} was opened with {float(loaded.state['opening_cash'])} "
                              f"{loaded.state['currency']}, not {cash}: leave cash out to open it, or use another "
                              "folder")
        account = cls(folder, loaded.state, loaded.lines)
        if loaded.needs_writing:
            try:
                with account_lock(folder, wait):
                    account._reload()
            except AccountError as err:
                logger.warning("%s; read as its journal gives it, the files are left as they are", err)
        return account

    def _reload(self) -> None:
        """Read the account again and write what its files lag (call holding the lock)."""
        loaded = load(self._folder)
        if loaded.needs_writing:
            try:
                if loaded.torn:
                    journal = self._folder / JOURNAL_FILE
                    truncate(journal, journal.stat().st_size - loaded.torn)
                write_account(self._folder, loaded.state)
            except OSError as err:
                raise cannot_write(self._folder, err, "nothing was changed") from None
        self._state, self._lines = loaded.state, loaded.lines
        self._booked = {line["order_id"]: line["seq"] for line in loaded.lines}

    # -- reading -------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """The account's folder."""
        return self._folder

    @property
    def cash(self) -> float:
        """Cash, in the account's currency (:attr:`exact_cash` as a float)."""
        return money.as_number(self._state["cash"])

    @property
    def exact_cash(self) -> Decimal:
        """Cash as the exact decimal the account books."""
        return self._state["cash"]

    @property
    def opening_cash(self) -> float:
        """The cash the account was created with."""
        return money.as_number(self._state["opening_cash"])

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
        """The latest session filled, orders or none (a fill of an earlier session is refused); ``None`` before
        the first."""
        day = self._state["last_session"]
        return dt.date.fromisoformat(day) if day else None

    @property
    def first_session(self) -> dt.date | None:
        """The first session :meth:`fill` was called for, orders or none (the account's first trading day;
        ``None`` before, or for an account rebuilt from its journal: then its first journal session)."""
        day = self._state.get("first_session") or (self._lines[0]["session"] if self._lines else None)
        return dt.date.fromisoformat(day) if day else None

    def journal(self) -> list[dict[str, Any]]:
        """The journal's lines, oldest first (a torn last line left out)."""
        return read_journal(self._folder / JOURNAL_FILE)[0]

    # -- filling -------------------------------------------------------------------------------

    def fill(self, orders: Sequence[Mapping[str, Any]], bars: Mapping[str, pd.DataFrame],
             rules: AShareRules | None = None, *, session: dt.date | None = None,
             decided_for: Mapping[str, Any] | None = None, suspended: Collection[str] = (),
             wait: float = DEFAULT_WAIT, now: dt.datetime | None = None) -> FillResult:
        """Fill one session's ``orders`` at that session's open, in the order given.

        Give sells before buys, as the backtest sends them. First the corporate actions of the stocks held
        on their ex-dates after the last session filled and up to ``session`` are booked, one journal line
        each (:mod:`rnnstrategy.live.actions`; ``rules.corporate_actions``). Then each order not yet in the
        journal gets one journal line, and the account is updated: ``filled`` (maybe cut by the volume
        limit, the rest cancelled), or ``cancelled`` (suspended, at the price limit, rounded to no shares,
        nothing to sell, no volume left) or ``rejected`` (T+1, not enough cash). An order whose id is in the
        journal already is skipped, so repeating a fill books nothing twice. Every check comes before the
        first line is written: a fill that fails books nothing.

        Args:
            orders: dicts with ``id`` (a stable, unique string), ``symbol`` (any spelling),
                ``side`` (``"buy"``/``"sell"``) and ``shares`` (a positive whole number);
                other keys (reference price, expected return, notes) are ignored.
            bars: canonical bar frames by symbol (any spelling), each holding the session's
                bar and the one before it (more are fine; the listing window counts them, and bars
                after the session show a suspension); also of the stocks held, whose ``factor``
                column (raw prices with their adjustment factor) gives their corporate actions.
            rules: the A-share rules, default ``AShareRules()`` (every rule on).
            session: the trading session; default the orders' common ``session`` key.
            decided_for: the holdings the orders were decided from, ``{"cash": ..., "positions": {...}}``
                as ``orders.json`` of ``rnnstrategy signal`` records them: refused unless the account held
                them before ``session``. None: not checked.
            suspended: symbols known to be suspended on ``session`` although their bars end before it.
            wait: seconds to wait for another process's fill of this account.
            now: the present, to tell a session that has closed (default: the clock).

        Raises:
            ConfigError: a malformed or repeated order, no session, a session that has not closed, is no
                trading session, or is before the account's last one, orders decided for other holdings,
                or ``rules`` that allow short selling.
            DataError: bars missing for an ordered stock or the session (not shown suspended); bars with a
                factor missing for a stock held, or ending before the session; a bar frame without
                ``open``/``close`` or with an unsorted index.
            AccountError: the account is busy for over ``wait`` seconds, or its folder cannot be written.
        """
        rules = AShareRules() if rules is None else rules
        if not isinstance(rules, AShareRules):
            raise ConfigError(f"rules={rules!r}: give an AShareRules, e.g. AShareRules(price_limits=False)")
        if not rules.no_short:
            raise ConfigError("rules.no_short=False: a paper account holds no short positions; keep no_short on")
        day = order_session(session, orders)
        checked = check_orders(orders, day)
        frames = frames_by_code(bars)
        declared = _codes(suspended)
        with account_lock(self._folder, wait):
            self._reload()  # another process may have filled since this account was read
            fresh = [order for order in checked if order["id"] not in self._booked]
            already = tuple(order["id"] for order in checked if order["id"] in self._booked)
            for order_id in already:
                logger.info("order %s is already booked (journal line %d): not booked again", order_id,
                            self._booked[order_id])
            lines: list[dict[str, Any]] = []
            if fresh or not checked:
                self._check_in_order(day)
                state = copy.deepcopy(self._state)
                lots = TaxLots.of(self._lines) if rules.dividend_tax else None
                lines = self._book_actions(state, day, frames, rules, declared, lots)
                if decided_for is not None:
                    self._check_decided_for(decided_for, day, lines)
                confirm_session(day, frames, declared, now)
                lines += self._decide_all(fresh, day, frames, rules, declared, state, lots)
                self._commit(lines, day)
        result = FillResult(day, tuple(line for line in lines if not is_action(line)), already,
                            tuple(line for line in lines if is_action(line)))
        logger.info("%s", result.summary())
        return result

    def _check_in_order(self, day: dt.date) -> None:
        """Raise unless ``day`` is not before the account's last session."""
        last = self.last_session
        if last is not None and day < last:
            raise ConfigError(f"session {day} is before the account's last session {last}: sessions are filled in "
                              "order (a fill without orders counts); fill the orders of a later session")

    def _check_decided_for(self, decided_for: Mapping[str, Any], day: dt.date, actions: list[dict[str, Any]]) -> None:
        """Raise unless the orders were decided for the holdings the account has at the close before ``day``: its
        lines before ``day`` and the corporate actions this fill books on earlier sessions (skipped fills)."""
        earlier = [line for line in actions if line["session"] < day.isoformat()]
        before = fold(self._state["opening_cash"],
                      [line for line in self._lines if line["session"] < day.isoformat()] + earlier)
        try:
            check_decided_for(decided_for, before, self._folder, day)
        except ConfigError as err:
            if not earlier:
                raise
            booked = ", ".join(f"{line['symbol']} {line['kind']} on {line['session']}" for line in earlier)
            raise ConfigError(f"{err}. The holdings before {day} include corporate actions of sessions that were not "
                              f"filled ({booked}): fill every session, orders or none, before deciding the next "
                              "orders from the account") from None

    def _book_actions(self, state: dict[str, Any], day: dt.date, frames: Mapping[str, pd.DataFrame],
                      rules: AShareRules, declared: Collection[str], lots: TaxLots | None) -> list[dict[str, Any]]:
        """The journal lines of the corporate actions of the stocks held, on the ex-dates after the last session
        and up to ``day`` (:func:`~rnnstrategy.live.actions.due_actions`), applied to ``state``."""
        lines: list[dict[str, Any]] = []
        if not rules.corporate_actions:
            return lines
        for date, code, action in due_actions(state["positions"], frames, state["last_session"], day, declared):
            if state["positions"].get(code, 0) > 0:
                _append(state, lines, action_line(state["positions"], date, code, action, lots))
        return lines

    def _decide_all(self, orders: list[dict[str, Any]], day: dt.date, frames: Mapping[str, pd.DataFrame],
                    rules: AShareRules, declared: Collection[str], state: dict[str, Any],
                    lots: TaxLots | None) -> list[dict[str, Any]]:
        """The journal lines of ``orders``, each decided on ``state`` as the lines before it leave it (``state`` is
        updated, nothing written); a sale that makes dividend tax due (``lots``: the rule is on) is followed by its
        ``dividend_tax`` line."""
        securities = _securities(rules)
        schedule = rules.fee_schedule()
        used = _filled_in(self._lines, day)  # shares of each stock filled in this session already (volume limit)
        lines: list[dict[str, Any]] = []
        for order in orders:
            code = order["info"].ts_code
            line = _decide(state, order, day, frames, rules, securities, schedule, declared, used.get(code, 0))
            _append(state, lines, line)
            if line["status"] == "filled":
                used[code] = used.get(code, 0) + line["shares"]
            due = lots.follow(line) if lots is not None else 0.0
            if due:
                _append(state, lines, sale_tax_line(line, state["positions"].get(code, 0), due))
        return lines

    def _commit(self, lines: list[dict[str, Any]], day: dt.date) -> None:
        """Append ``lines`` to the journal (one fsynced write), then write the account; a write the disk refuses
        takes the lines back out, so the account is left as it was."""
        state = copy.deepcopy(self._state)
        for line in lines:
            apply_line(state, line)
        state["first_session"] = state.get("first_session") or day.isoformat()
        state["last_session"] = max(state["last_session"] or "", day.isoformat())
        if state == self._state:
            return
        journal, size = self._folder / JOURNAL_FILE, None
        try:
            if lines:
                size = append_lines(self._folder, lines)
            write_account(self._folder, state)
        except OSError as err:
            if size is not None:
                try:
                    truncate(journal, size)
                except OSError:
                    raise cannot_write(self._folder, err, "the journal may hold some of this fill's lines: run the "
                                                          "fill again to book the rest") from None
            raise cannot_write(self._folder, err) from None
        self._state = state
        self._lines = self._lines + lines
        self._booked.update({line["order_id"]: line["seq"] for line in lines})


# -- opening and deciding -------------------------------------------------------------------------


def _opening_cash(cash: Any) -> Decimal:
    """``cash`` as the exact opening cash.

    Raises:
        ConfigError: cash that is no finite amount of 0 or more in whole fen.
    """
    try:
        opening = money.exact(cash)
    except ValueError:
        opening = None
    if opening is None or opening < 0 or not money.is_whole_fen(opening):
        raise ConfigError(f"cash={cash!r}: the opening cash is 0 or a positive amount in {CURRENCY}, in whole fen")
    return money.to_fen(opening)


def _create(folder: Path, opening: Decimal | None, currency: str, wait: float) -> None:
    """Create the account in ``folder`` with ``opening`` cash, under its lock (another process may be first)."""
    if (folder / JOURNAL_FILE).exists():
        raise DataError(f"{folder / JOURNAL_FILE} exists without {ACCOUNT_FILE}: the account's opening "
                        "cash is unknown; restore account.json or move the journal away")
    if opening is None:
        raise ConfigError(f"no paper account in {folder}: give the opening cash to create one, "
                          "e.g. PaperAccount.open(folder, cash=1_000_000)")
    with account_lock(folder, wait):
        if (folder / ACCOUNT_FILE).exists():
            return  # created by another process meanwhile
        try:
            write_account(folder, opening_state(opening, currency))
        except OSError as err:
            raise cannot_write(folder, err) from None
    logger.info("paper account created in %s with %s %s", folder, opening, currency)


def _codes(symbols: Collection[str]) -> frozenset[str]:
    """``symbols`` as tushare codes."""
    if isinstance(symbols, str):
        symbols = [symbols]
    try:
        return frozenset(symbol_info(str(symbol)).ts_code for symbol in symbols)
    except SymbolError as err:
        raise ConfigError(f"suspended: {err}") from None


def _decide(state: Mapping[str, Any], order: dict[str, Any], session: dt.date, frames: Mapping[str, pd.DataFrame],
            rules: AShareRules, securities: Mapping[str, SecurityRules], schedule: Any,
            declared: Collection[str], used: int) -> dict[str, Any]:
    """The journal line of ``order`` (without seq) on ``state``: the broker's rules in the broker's order (``used``:
    shares of the stock filled earlier in the session, for the volume limit)."""
    info, side, shares = order["info"], order["side"], order["shares"]
    line = {"seq": None, "order_id": order["id"], "session": session.isoformat(), "symbol": info.ts_code,
            "side": side, "requested": shares, "shares": shares, "price": None, "commission": 0.0,
            "stamp_duty": 0.0, "transfer_fee": 0.0, "status": "filled", "reason": ""}

    def refuse(status: str, reason: str) -> dict[str, Any]:
        logger.info("%s %s: order %s (%s %s) %s: %s", info.ts_code, session, order["id"], side,
                    line["shares"], status, reason)
        return {**line, "status": status, "reason": reason}

    # placement (AShareBroker.sell and _lot_size): no short selling, then lots
    held = state["positions"].get(info.ts_code, 0)
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

    # the fill (AShareBroker._refusal, then _volume_cap): suspension, price limits, T+1, the volume limit
    frame = frames.get(info.ts_code)
    price = session_open(frame, info.ts_code, session, declared)
    if isinstance(price, str):
        return refuse("cancelled", price)
    line["price"] = price
    reason = fill_refusal(state["bought"], frame, price, side, shares, held, info, rules, securities, session)
    if reason:
        return refuse(*reason)
    cap = volume_cap(frame, session, shares, used, info, rules)
    if cap is not None:
        if not cap[0]:
            return refuse("cancelled", cap[1])
        line["reason"] = f"{line['reason']}; {cap[1]}" if line["reason"] else cap[1]
        line["shares"] = shares = cap[0]
    fees = schedule.fees(shares if side == "buy" else -shares, price, session) if schedule else _NO_FEES
    line.update(commission=fees.commission, stamp_duty=fees.stamp_duty, transfer_fee=fees.transfer_fee)
    if side == "buy":
        cost = money.value(shares, price) + money.exact(fees.total)
        if cost > state["cash"]:
            return refuse("rejected", f"margin: {shares} shares at {price:.4f} cost {cost:.2f} with fees, "
                                      f"the cash is {state['cash']:.2f}")
    return line


def _append(state: dict[str, Any], lines: list[dict[str, Any]], line: dict[str, Any]) -> None:
    """Number ``line`` after the last one applied to ``state``, apply it and add it to ``lines``."""
    line["seq"] = state["last_seq"] + 1
    apply_line(state, line)
    lines.append(line)


def _filled_in(lines: Sequence[Mapping[str, Any]], day: dt.date) -> dict[str, int]:
    """Shares of each stock that the order lines of ``lines`` filled in the session ``day``."""
    filled: dict[str, int] = {}
    for line in lines:
        if line["session"] == day.isoformat() and not is_action(line) and line["status"] == "filled":
            filled[line["symbol"]] = filled.get(line["symbol"], 0) + int(line["shares"])
    return filled


def _securities(rules: AShareRules) -> dict[str, SecurityRules]:
    if not rules.securities_file:
        return rules.securities()
    return rules.securities(read_securities(rules.securities_file))
