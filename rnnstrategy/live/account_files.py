"""The two files of a paper account and the fold that ties them: ``account.json`` and ``journal.jsonl``.

``journal.jsonl`` holds one JSON line per order decided (:data:`JOURNAL_FIELDS`) and per corporate action
booked (:data:`~rnnstrategy.live.actions.ACTION_FIELDS`, :mod:`rnnstrategy.live.actions`), appended and fsynced
before ``account.json`` is rewritten; the account is the fold of its journal (:func:`apply_line` from
:func:`opening_state`), which :func:`load` checks on every read: a journal or an account edited by hand
(a line changed, repeated or out of order, a checksum that fails, cash that is not what the journal
gives) is refused with the line and the fix. Money is exact (:mod:`rnnstrategy.live.money`): format 2 of
``account.json`` writes cash as exact decimal numbers; format 1 (the previous version's binary floats,
``286134.35000000003``) is read and converted, its cash taken from the fold of its journal.

Nothing here locks: the callers in :mod:`rnnstrategy.live.paper` write only while holding
:func:`~rnnstrategy.live.lock.account_lock`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rnnstrategy.errors import DataError
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.live import money
from rnnstrategy.live.actions import (
    ACTION_FIELDS,
    action_problem,
    apply_action,
    is_action,
)

__all__ = ["ACCOUNT_FILE", "CURRENCY", "FORMAT", "JOURNAL_FIELDS", "JOURNAL_FILE", "STATUSES", "Loaded",
           "append_lines", "apply_line", "fold", "load", "opening_state", "read_journal", "truncate", "write_account"]

logger = logging.getLogger(__name__)

ACCOUNT_FILE = "account.json"
JOURNAL_FILE = "journal.jsonl"
CURRENCY = "CNY"
FORMAT = 2
"""Format of ``account.json``: 2 writes money as exact decimals; 1 (read, converted) wrote binary floats."""

JOURNAL_FIELDS = ("seq", "order_id", "session", "symbol", "side", "requested", "shares", "price",
                  "commission", "stamp_duty", "transfer_fee", "status", "reason")
"""The keys of an order's journal line. ``requested`` is the order's size, ``shares`` what was decided
(after the cap at the holding, the lots and the volume limit); ``price`` is the session's open (``None``
without a bar). A corporate action's line has the keys of :data:`~rnnstrategy.live.actions.ACTION_FIELDS`
instead (``kind`` tells the two apart)."""

STATUSES = ("filled", "cancelled", "rejected")
_FEES = ("commission", "stamp_duty", "transfer_fee")
_RESTORE = "restore the journal from a backup"


def opening_state(cash: Any, currency: str = CURRENCY) -> dict[str, Any]:
    """The state of a new account with ``cash`` (the content of ``account.json`` but its checksum)."""
    cash = money.exact(cash)
    return {"format": FORMAT, "currency": currency, "opening_cash": cash, "cash": cash, "positions": {},
            "bought": {"session": None, "shares": {}}, "last_seq": 0, "last_session": None, "first_session": None}


def apply_line(state: dict[str, Any], line: Mapping[str, Any]) -> None:
    """Update ``state`` by one journal line (in place): the account is this fold over its journal.

    Cash moves by the exact value of the fill (:func:`rnnstrategy.live.money.value`) and its fen fees; a
    corporate action's line by its cash less tax, and sets the holding (:func:`~rnnstrategy.live.actions.apply_action`).

    Raises:
        DataError: a line out of sequence.
    """
    if line["seq"] != state["last_seq"] + 1:
        raise DataError(f"journal line {line['seq']} follows line {state['last_seq']}: the journal is out of "
                        f"sequence; {_RESTORE}")
    state["last_seq"] = line["seq"]
    if state["last_session"] is None or line["session"] > state["last_session"]:
        state["last_session"] = line["session"]
    if is_action(line):
        apply_action(state, line)
        return
    if line["status"] != "filled":
        return
    symbol, shares = line["symbol"], int(line["shares"])
    fees = sum((money.exact(line[key]) for key in _FEES), Decimal(0))
    traded = money.value(shares, line["price"])
    cash = money.exact(state["cash"])
    positions = state["positions"]
    if line["side"] == "buy":
        state["cash"] = cash - traded - fees
        positions[symbol] = positions.get(symbol, 0) + shares
        bought = state["bought"]
        if bought["session"] != line["session"]:
            bought.update(session=line["session"], shares={})
        bought["shares"][symbol] = bought["shares"].get(symbol, 0) + shares
    else:
        state["cash"] = cash + traded - fees
        left = positions.get(symbol, 0) - shares
        if left:
            positions[symbol] = left
        else:
            positions.pop(symbol, None)


def fold(opening_cash: Any, lines: Sequence[Mapping[str, Any]], currency: str = CURRENCY) -> dict[str, Any]:
    """The state that ``lines`` give an account opened with ``opening_cash``."""
    state = opening_state(opening_cash, currency)
    for line in lines:
        apply_line(state, line)
    return state


# -- account.json ---------------------------------------------------------------------------------------


def _digest(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_account(folder: Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` as ``account.json`` (with its SHA-256), atomically."""
    content = {key: value for key, value in state.items() if key != "sha256"}
    content["format"] = FORMAT
    content["sha256"] = _digest(money.loads(money.dumps(content)))  # hashed as it will be read
    text = money.dumps(content, indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write_bytes(folder / ACCOUNT_FILE, text.encode("utf-8"))
    except OSError as err:
        err.filename = err.filename or str(folder / ACCOUNT_FILE)  # a failed write names no file
        raise


def _read_account(path: Path) -> tuple[dict[str, Any], bool]:
    """The content of ``account.json`` with money as Decimal, and whether it was format 1 (converted)."""
    try:
        text = path.read_text(encoding="utf-8")
        content = money.loads(text)
        if isinstance(content, dict) and content.get("format") == 1:  # hashed over its binary floats
            content = json.loads(text)
    except (OSError, ValueError) as err:
        raise DataError(f"{path} cannot be read as JSON ({err}): restore it from a backup") from None
    recorded = content.pop("sha256", None) if isinstance(content, dict) else None
    if recorded is None or recorded != _digest(content):
        raise DataError(f"{path}: its SHA-256 does not match its content (edited by hand or damaged); "
                        "restore it from a backup, or rebuild the account by replaying journal.jsonl "
                        "into a new one")
    if content.get("format") not in (1, FORMAT):
        raise DataError(f"{path}: account format {content.get('format')!r}, this version reads 1 and {FORMAT}; "
                        "use the version of rnnstrategy that wrote it")
    converted = content["format"] == 1
    try:
        for key in ("opening_cash", "cash"):
            content[key] = money.exact(content[key])
            if content[key] < 0:
                raise ValueError(f"{key} {content[key]} is negative")
        if converted:
            content["opening_cash"] = money.to_fen(content["opening_cash"])
        positions = content["positions"]
        if not isinstance(positions, dict) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in positions.values()):
            raise ValueError(f"positions {positions!r} are not whole numbers of shares above 0")
        if not isinstance(content["last_seq"], int) or content["last_seq"] < 0:
            raise ValueError(f"last_seq {content['last_seq']!r} is not a line number")
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"{path}: {err}; restore it from a backup") from None
    content["format"] = FORMAT
    return content, converted


# -- journal.jsonl --------------------------------------------------------------------------------------


def _check_line(line: Any, number: int, path: Path) -> None:
    """Raise DataError unless ``line`` is the journal line ``number`` as :func:`apply_line` needs it."""
    def bad(why: str) -> DataError:
        return DataError(f"{path}, line {number}: {why}; {_RESTORE}")

    if not isinstance(line, dict):
        raise bad("not a JSON object")
    missing = [key for key in (ACTION_FIELDS if is_action(line) else JOURNAL_FIELDS) if key not in line]
    if missing:
        raise bad(f"no {', '.join(missing)}")
    if line["seq"] != number or isinstance(line["seq"], bool):
        raise bad(f"seq {line['seq']!r}, expected {number}")
    try:
        dt.date.fromisoformat(line["session"])
    except (TypeError, ValueError):
        raise bad(f"session {line['session']!r} is not a date") from None
    if not (isinstance(line["order_id"], str) and line["order_id"] and isinstance(line["symbol"], str)):
        raise bad("order_id and symbol must be text")
    if is_action(line):
        problem = action_problem(line)
        if problem:
            raise bad(problem)
        return
    if line["side"] not in ("buy", "sell") or line["status"] not in STATUSES:
        raise bad(f"side {line['side']!r} / status {line['status']!r} unknown")
    for key in ("requested", "shares"):
        if not isinstance(line[key], int) or isinstance(line[key], bool) or line[key] < 0:
            raise bad(f"{key}={line[key]!r} is not a whole number of shares")
    for key in _FEES:
        if not _amount(line[key]):
            raise bad(f"{key}={line[key]!r} is not an amount of 0 or more")
    price = line["price"]
    if (price is not None or line["status"] == "filled") and not (_amount(price) and price > 0):
        raise bad(f"price={price!r} is not a price")


def _amount(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def read_journal(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The journal's lines, checked, and the bytes of a torn last line (no newline: its write never finished),
    which are not read; the file is not changed (:func:`truncate` cuts them, under the lock).

    Raises:
        DataError: a line that is not JSON or not a journal line, out of sequence, repeating an order id,
            or going back in sessions.
    """
    if not path.exists():
        return [], 0
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path} cannot be read ({err.strerror}); restore it from a backup") from None
    end = data.rfind(b"\n") + 1
    lines: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data[:end].splitlines(), start=1):
        try:
            line = json.loads(raw)
        except ValueError:
            raise DataError(f"{path}, line {number}: not JSON; {_RESTORE}") from None
        _check_line(line, number, path)
        if line["order_id"] in seen:
            raise DataError(f"{path}, line {number}: order {line['order_id']} was booked on line "
                            f"{seen[line['order_id']]} already (a line repeated by hand?); {_RESTORE}")
        if lines and line["session"] < lines[-1]["session"]:
            raise DataError(f"{path}, line {number}: session {line['session']} comes after "
                            f"{lines[-1]['session']}; {_RESTORE}")
        seen[line["order_id"]] = number
        lines.append(line)
    return lines, len(data) - end


def append_lines(folder: Path, lines: Sequence[Mapping[str, Any]]) -> int:
    """Append ``lines`` to the journal in one write, fsynced; returns the journal's size before (to
    :func:`truncate` back to when what follows fails)."""
    path = folder / JOURNAL_FILE
    new = not path.exists()
    text = "".join(json.dumps({key: line[key] for key in (ACTION_FIELDS if is_action(line) else JOURNAL_FIELDS)},
                              ensure_ascii=False, allow_nan=False) + "\n" for line in lines)
    with path.open("ab") as handle:
        size = handle.tell()
        try:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as err:
            handle.truncate(size)  # no partial line is left behind by a full disk
            if new:
                path.unlink(missing_ok=True)
            err.filename = err.filename or str(path)
            raise
    if new:
        _fsync_dir(folder)
    return size


def truncate(path: Path, size: int) -> None:
    """Cut ``path`` to ``size`` bytes, durably (an empty journal is removed: none is the same)."""
    if size == 0:
        path.unlink(missing_ok=True)
        return
    with path.open("r+b") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())


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


# -- the two together -----------------------------------------------------------------------------------


@dataclass
class Loaded:
    """What :func:`load` read: the account's state with the journal's pending lines applied, the journal,
    how many lines were pending (past the account's ``last_seq``: an interrupted fill), the bytes of a torn
    last line, and whether ``account.json`` was format 1 (converted here, written as format 2 next time)."""

    state: dict[str, Any]
    lines: list[dict[str, Any]]
    pending: int
    torn: int
    converted: bool

    @property
    def needs_writing(self) -> bool:
        """Whether the files on disk lag this state (pending lines, a torn line, an older format)."""
        return bool(self.pending or self.torn or self.converted)


def load(folder: Path) -> Loaded:
    """Read the account in ``folder`` and check it against its journal (see the module docstring).

    Raises:
        DataError: a damaged or edited file, a journal shorter than the account, an account whose cash or
            positions are not what its journal gives.
    """
    path, journal = folder / ACCOUNT_FILE, folder / JOURNAL_FILE
    state, converted = _read_account(path)
    lines, torn = read_journal(journal)
    applied = state["last_seq"]
    if applied > len(lines):
        raise DataError(f"{path} has applied journal line {applied} but {journal} has {len(lines)} lines: the "
                        f"journal was truncated or replaced; {_RESTORE}")
    folded = fold(state["opening_cash"], lines[:applied], state["currency"])
    tolerance = Decimal("0.005") if converted else Decimal(0)  # format 1 summed binary floats
    if abs(folded["cash"] - state["cash"]) > tolerance or folded["positions"] != state["positions"] or \
            folded["bought"] != state.get("bought", folded["bought"]):
        raise DataError(f"{path} does not match {journal}: its {applied} journal lines give cash "
                        f"{folded['cash']:.2f} and positions {folded['positions'] or 'none'}, the account says "
                        f"cash {state['cash']:.2f} and positions {state['positions'] or 'none'}; one of the two "
                        "was edited or damaged: restore both from a backup")
    state["cash"] = folded["cash"]  # exact, also for an account converted from format 1
    for line in lines[applied:]:
        apply_line(state, line)
    if lines[applied:]:
        logger.warning("%s: %d journal line(s) past seq %d that the account had not recorded (an interrupted "
                       "fill) are applied", folder, len(lines) - applied, applied)
    if torn:
        logger.warning("%s: a torn last line (%d bytes) whose write did not complete is left out", journal, torn)
    return Loaded(state, lines, len(lines) - applied, torn, converted)
