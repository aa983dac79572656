"""Files that survive crashes, and where rnnstrategy keeps its caches.

Every output and cache entry is written with :func:`atomic_write_bytes` (temporary file,
fsync, rename), so a reader sees the old file or the new one, never a part. The cache root
is ``$RNNSTRATEGY_CACHE``, else the user's cache directory.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import platformdirs

__all__ = ["CACHE_ENV", "atomic_write_bytes", "atomic_write_text", "cache_root", "file_sha256"]

CACHE_ENV = "RNNSTRATEGY_CACHE"


def cache_root() -> Path:
    """``$RNNSTRATEGY_CACHE`` if set, else the per-user cache directory of rnnstrategy."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("rnnstrategy"))


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
