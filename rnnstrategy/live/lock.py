"""One writer at a time: the inter-process lock of a paper account's folder.

Every change of an account (creating it, booking a fill, repairing what an interrupted fill left)
happens while holding an exclusive lock on ``account.lock`` in its folder (``filelock``: ``flock`` on
POSIX, ``LockFileEx`` on Windows, a lock file where the file system has neither). The lock belongs to
the open file, so the system releases it when its holder dies: a killed ``paper fill`` never leaves
the account locked.

A second ``paper fill`` waits for the first (up to ``wait`` seconds), then reads the account again,
so it sees the orders the first one booked as "already booked": a cron job that overlaps a manual
run ends with exit 0 and books nothing twice. Only a holder that keeps the lock longer than ``wait``
(a fill takes well under a second) makes the waiting one fail, with :class:`AccountError`.

Example::

    with account_lock(Path("paper/moutai")):
        ...  # read the account, book, write
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rnnstrategy.errors import RnnStrategyError

__all__ = ["DEFAULT_WAIT", "LOCK_FILE", "AccountError", "account_lock", "cannot_write"]

logger = logging.getLogger(__name__)

LOCK_FILE = "account.lock"
DEFAULT_WAIT = 30.0
"""Seconds a fill waits for another process's fill of the same account before it gives up."""


class AccountError(RnnStrategyError):
    """A paper account that cannot be changed now: locked by another process for too long, or a folder
    that cannot be written (read-only, full disk). Nothing was booked."""


def cannot_write(folder: Path, err: OSError, done: str = "nothing was booked") -> AccountError:
    """The one-line error for an account folder that refused a write with ``err``."""
    reason = err.strerror or str(err) or type(err).__name__
    what = Path(err.filename).name if err.filename else "in its folder"
    return AccountError(f"paper account {folder}: cannot write {what} ({reason}): make the folder writable or "
                        f"free disk space, then run the fill again; {done}")


@contextmanager
def account_lock(folder: str | os.PathLike[str], wait: float = DEFAULT_WAIT) -> Iterator[None]:
    """Hold the exclusive lock of the account in ``folder`` (created when missing) for the ``with`` block.

    Raises:
        AccountError: another process held the lock for more than ``wait`` seconds, or the folder cannot
            be created or written.
    """
    folder = Path(folder)
    if not wait >= 0:
        raise AccountError(f"wait={wait!r}: give the seconds to wait for another fill, 0 or more")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / LOCK_FILE), timeout=wait)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            logger.warning("paper account %s is in use by another process: waiting up to %g s for it", folder, wait)
            lock.acquire()
    except Timeout:
        raise AccountError(f"paper account {folder} is busy: another process has held {LOCK_FILE} for over "
                           f"{wait:g} s (a fill takes under a second); let it finish, then run this fill again "
                           "(it books nothing twice)") from None
    except OSError as err:
        raise cannot_write(folder, err) from None
    try:
        yield
    finally:
        lock.release()
