"""On-disk cache of downloaded bars.

One entry per (kind, code, adjust): ``<key>.csv`` holds the canonical frame,
``<key>.json`` the range that was requested from the source, the row count
and the SHA-256 of the CSV. Files are written atomically (temporary file,
fsync, rename), the CSV before its metadata, so an interrupted write leaves
either the old entry or one whose checksum fails; a failing entry is
reported, deleted and fetched again, never used.

The default directory is ``bars/`` under the cache root: the
``RNNSTRATEGY_CACHE`` environment variable, else the user's cache directory
(``platformdirs.user_cache_dir("rnnstrategy")``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from rnnstrategy.files import atomic_write_bytes, cache_root

__all__ = ["BarCache", "CacheEntry", "default_cache_dir"]

log = logging.getLogger(__name__)

_FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """Where downloaded bars are cached: ``bars/`` under :func:`cache_root`."""
    return cache_root() / "bars"


@dataclass(frozen=True)
class CacheEntry:
    """Metadata of one cached series: the requested range it answers for."""

    start: dt.date
    end: dt.date
    rows: int
    sha256: str
    fetched_at: str
    adjust: str

    def covers(self, start: dt.date, end: dt.date) -> bool:
        return self.start <= start and end <= self.end


class BarCache:
    """Cached canonical frames keyed by a string such as ``stock_600519.SH_qfq``."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.directory / f"{key}.csv", self.directory / f"{key}.json"

    def entry(self, key: str) -> CacheEntry | None:
        """The metadata of ``key``, or None when absent or unreadable."""
        _, meta_path = self._paths(key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.pop("format", None) != _FORMAT_VERSION:
                raise ValueError("unknown cache format")
            meta["start"] = dt.date.fromisoformat(meta["start"])
            meta["end"] = dt.date.fromisoformat(meta["end"])
            return CacheEntry(**meta)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("cache metadata %s is corrupt (%s); it will be refetched", meta_path, exc)
            self.discard(key)
            return None

    def read(self, key: str) -> tuple[pd.DataFrame, CacheEntry] | None:
        """The cached frame and its metadata, or None if absent or corrupt."""
        entry = self.entry(key)
        if entry is None:
            return None
        data_path, _ = self._paths(key)
        try:
            data = data_path.read_bytes()
        except OSError as exc:
            log.warning("cache file %s unreadable (%s); it will be refetched", data_path, exc)
            self.discard(key)
            return None
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            log.warning("cache file %s fails its checksum; it will be refetched", data_path)
            self.discard(key)
            return None
        bars = pd.read_csv(io.BytesIO(data), index_col="date", parse_dates=["date"])
        bars = bars.astype("float64")
        if len(bars) != entry.rows:
            log.warning("cache file %s has %d rows, expected %d; it will be refetched", data_path, len(bars), entry.rows)
            self.discard(key)
            return None
        return bars, entry

    def write(self, key: str, bars: pd.DataFrame, start: dt.date, end: dt.date, adjust: str) -> CacheEntry:
        """Store ``bars`` as the answer for the requested range ``start..end``."""
        data = bars.to_csv(index_label="date", date_format="%Y-%m-%d").encode("utf-8")
        entry = CacheEntry(
            start=start,
            end=end,
            rows=len(bars),
            sha256=hashlib.sha256(data).hexdigest(),
            fetched_at=dt.datetime.now().isoformat(timespec="seconds"),
            adjust=adjust,
        )
        data_path, meta_path = self._paths(key)
        atomic_write_bytes(data_path, data)
        meta = {"format": _FORMAT_VERSION, **asdict(entry), "start": start.isoformat(), "end": end.isoformat()}
        atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
        return entry

    def discard(self, key: str) -> None:
        """Remove ``key`` (both files), if present."""
        for path in self._paths(key):
            path.unlink(missing_ok=True)
