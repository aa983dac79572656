"""The operating system's refusals as one line: a full disk, a name too long, a folder without permission.

A command wrapped by :func:`one_line_os_errors` turns an :class:`OSError` that escapes it into a
:class:`~rnnstrategy.errors.RnnStrategyError`, which the command line prints as one line with exit code 2 (the
original error follows with ``-v``). The checks before any work refuse most such inputs by name (``--out``, DATA);
this is for what only shows once a file is written, such as a disk that fills during a run.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import TypeVar

from rnnstrategy.errors import RnnStrategyError
from rnnstrategy.files import DISK_FULL, short_path

__all__ = ["SystemRefusal", "describe", "one_line_os_errors"]

Command = TypeVar("Command", bound=Callable[..., int])

_FIXES = {
    errno.ENAMETOOLONG: "a name is longer than this system allows; choose a shorter path",
    errno.EACCES: "permission denied; choose a path you can read and write",
    errno.EPERM: "not permitted; choose a path you can read and write",
    errno.EROFS: "the file system is read-only; choose a folder on a writable disk",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.EISDIR: "it is a folder where a file is needed; check the path",
    errno.ENOENT: "no such file or folder; check the path",
}


class SystemRefusal(RnnStrategyError, OSError):
    """An :class:`OSError` of a command, said in one line with what to do."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


def describe(error: OSError) -> str:
    """One line: the file (when the error names one), what the system said and what to do."""
    where = f"{short_path(error.filename)}: " if error.filename is not None else ""
    if error.errno in DISK_FULL:
        fix = ("no room left to write (the disk is full, or a size limit was reached); free some space, or write "
               "to another disk, and run again")
    else:
        fix = _FIXES.get(error.errno, "")
    said = error.strerror or str(error) or type(error).__name__
    return f"{where}{said}" + (f": {fix}" if fix else "")


def one_line_os_errors(command: Command) -> Command:
    """``command`` with an escaping :class:`OSError` raised again as a :class:`SystemRefusal` (one line, exit 2).
    Errors of the package's own (a :class:`~rnnstrategy.files.DiskFullError` among them) pass as they are."""

    @functools.wraps(command)
    def wrapped(*args: object, **kwargs: object) -> int:
        try:
            return command(*args, **kwargs)
        except RnnStrategyError:
            raise
        except OSError as error:
            raise SystemRefusal(error.errno or 0, describe(error)) from error

    return wrapped  # type: ignore[return-value]
