"""Files that survive crashes, and where rnnstrategy keeps its caches.

Every output and cache entry is written with :func:`atomic_write_bytes` (temporary file,
fsync, rename), so a reader sees the old file or the new one, never a part; a full disk there is a
:class:`DiskFullError` naming the file. The cache root is ``$RNNSTRATEGY_CACHE``, else the user's
cache directory; :func:`check_cache_root` and :func:`check_writable_dir` refuse an unusable one (and
:func:`check_path_length` a path the system cannot hold) before any work.
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from pathlib import Path

import platformdirs

from rnnstrategy.errors import ConfigError, RnnStrategyError

__all__ = ["CACHE_ENV", "DISK_FULL", "DiskFullError", "atomic_write_bytes", "atomic_write_text", "cache_root",
           "check_cache_root", "check_path_length", "check_writable_dir", "file_sha256", "short_path"]

CACHE_ENV = "RNNSTRATEGY_CACHE"

DISK_FULL = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})
"""The errnos of a write that found no room: a full disk, a file size limit, a quota."""


class DiskFullError(RnnStrategyError, OSError):
    """A file could not be written for lack of space (an :class:`OSError` too, for callers that catch those)."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())  # the message alone, without "[Errno 28]"


def short_path(path: os.PathLike[str] | str, keep: int = 120) -> str:
    """``path`` as text, its middle elided past ``keep`` characters (a 300-character name in one line)."""
    text = str(path)
    return text if len(text) <= keep else f"{text[:keep // 2]}...{text[-(keep // 2):]}"


def check_path_length(path: os.PathLike[str] | str, what: str) -> None:
    """Refuse a path this system cannot hold (a name over its NAME_MAX, the whole over PATH_MAX) before any
    work, rather than an ``ENAMETOOLONG`` half way.

    Raises:
        ConfigError: naming ``what`` (an option, e.g. ``--out``), the path (elided) and the limit.
    """
    text = os.fsdecode(path)
    existing = Path(os.path.abspath(text))
    while not os.path.exists(existing) and existing != existing.parent:  # os.path: False on ENAMETOOLONG
        existing = existing.parent
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer: the usual limits
        name_max, path_max = 255, 4096
    longest = max((part for part in Path(text).parts), key=lambda part: len(os.fsencode(part)), default="")
    if len(os.fsencode(longest)) > name_max:
        raise ConfigError(f"{what} {short_path(text)}: a name of {len(os.fsencode(longest))} bytes is longer than "
                          f"this system allows ({name_max}); choose a shorter name")
    if len(os.fsencode(os.path.abspath(text))) >= path_max:
        raise ConfigError(f"{what} {short_path(text)}: the path is longer than this system allows ({path_max} "
                          "bytes); choose a shorter path")


def check_writable_dir(path: os.PathLike[str] | str, what: str) -> None:
    """Refuse a directory that cannot be made or written before any work: a path too long for the system, a
    path that is a file, one under a file, or one whose nearest existing folder is not writable.

    Raises:
        ConfigError: naming ``what`` and the path.
    """
    check_path_length(path, what)
    reason = _unwritable(Path(path))
    if reason:
        raise ConfigError(f"{what} {short_path(path)}: {reason}; choose a directory you can write to")


def _unwritable(path: Path) -> str | None:
    """Why no directory can be made or written at ``path``, or None."""
    if path.exists() and not path.is_dir():
        return "exists and is not a directory"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{short_path(existing)} is a file, so no directory can be made there"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{short_path(existing)} is not writable"
    return None


def cache_root() -> Path:
    """``$RNNSTRATEGY_CACHE`` if set, else the per-user cache directory of rnnstrategy."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("rnnstrategy"))


def check_cache_root() -> None:
    """Refuse a cache root that cannot hold the cache (``$RNNSTRATEGY_CACHE`` naming a file, a read-only place)
    before any work; the message names the variable when it is set.

    Raises:
        ConfigError: naming the cache root and the fix.
    """
    env = os.environ.get(CACHE_ENV)
    what = f"{CACHE_ENV}={short_path(env)}" if env else f"the user cache directory {short_path(cache_root())}"
    fix = (f"point {CACHE_ENV} at a folder you can write to (or unset it)" if env
           else f"set {CACHE_ENV} to a folder you can write to")
    check_path_length(cache_root(), CACHE_ENV if env else "the user cache directory")
    reason = _unwritable(cache_root())
    if reason:
        raise ConfigError(f"{what}: {reason}; {fix}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    # os.open with 0o666 lets the umask decide the mode, as for any file (mkstemp would force 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in DISK_FULL:
            raise DiskFullError(exc.errno, f"{path}: no room to write it ({exc.strerror}); free some space, or "
                                "write to another disk, and run again") from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``, read in blocks (a kernel, a run's CSV, a data file)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
