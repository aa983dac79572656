"""Persistent walk-forward folds: fitted states and their forecasts on disk.

A fold is stored under a key that fingerprints everything its model depends
on: the forecaster configuration, the first retrain date of the run (warm
starts chain folds together), the fold's retrain date, the bars up to that
date and the fold format (:data:`~rnnstrategy.forecasting.config.FOLD_FORMAT`,
which changes only when stored folds change meaning, not with each release).
So a repeated run reuses every fold, a run on extended data trains only the new
folds, and a run killed mid-way resumes after its last completed fold with
identical results. Where the store lives by default is
:mod:`rnnstrategy.forecasting.foldroot`.

Layout under the store root::

    <symbol>/<config hash>/fold-<retrain date>-<key>.safetensors   state + metadata
    <symbol>/<config hash>/pred-<retrain date>-<key>-<data>.safetensors   its forecasts

States and forecasts are saved with safetensors (tensors and string metadata
only, exact float round trip): nothing read from disk is ever unpickled. Every file is
written atomically and carries, in its metadata, a SHA-256 of its tensors and other metadata
(see :func:`payload_digest`), checked on every load. A file that cannot be read, fails its
checksum (bytes changed since it was written) or has none (written before checksums were
recorded: unverified) is logged as a warning, deleted and recomputed, so a damaged store
gives the forecasts of a clean run. :func:`recorded_warnings` collects those warnings, so a
worker process can hand them back to the process that reports the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from rnnstrategy.data.fingerprint import stable_hash
from rnnstrategy.files import atomic_write_bytes

__all__ = ["DIGEST_KEY", "FoldStore", "StoredFold", "payload_digest", "recorded_warnings"]

log = logging.getLogger(__name__)

DIGEST_KEY = "sha256"
"""The metadata entry holding a file's :func:`payload_digest`."""


@dataclass(frozen=True)
class StoredFold:
    """A fitted state read back from the store, with what was recorded beside it."""

    state: dict[str, torch.Tensor]
    meta: dict[str, str]


class FoldStore:
    """Fold states and forecasts of one (symbol, configuration) under ``root``."""

    def __init__(self, root: str | Path, symbol: str, config: dict[str, object]) -> None:
        self.directory = Path(root).expanduser() / (symbol or "bars") / stable_hash(config, 12)
        self.config = config

    def _state_path(self, retrain_date: pd.Timestamp, key: str) -> Path:
        return self.directory / f"fold-{retrain_date:%Y%m%d}-{key}.safetensors"

    def _pred_path(self, retrain_date: pd.Timestamp, key: str, data: str) -> Path:
        return self.directory / f"pred-{retrain_date:%Y%m%d}-{key}-{data}.safetensors"

    def load_state(self, retrain_date: pd.Timestamp, key: str) -> StoredFold | None:
        """The stored state of a fold, or None when absent or unreadable."""
        return _read(self._state_path(retrain_date, key))

    def save_state(self, retrain_date: pd.Timestamp, key: str, state: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
        self._write_config()
        _write(self._state_path(retrain_date, key), state, meta)

    def load_forecasts(self, retrain_date: pd.Timestamp, key: str, data: str, index: pd.DatetimeIndex) -> pd.DataFrame | None:
        """Stored forecasts of a fold for exactly these bars and forecast dates, or None."""
        stored = _read(self._pred_path(retrain_date, key, data))
        if stored is None:
            return None
        dates = stored.state["dates"].numpy()
        if not np.array_equal(dates, index.to_numpy("datetime64[ns]").astype(np.int64)):
            log.warning("stored forecasts of the fold %s have other dates; they will be recomputed", retrain_date.date())
            return None
        return pd.DataFrame(stored.state["values"].numpy(), index=index.rename("date"), columns=json.loads(stored.meta["columns"]))

    def save_forecasts(self, retrain_date: pd.Timestamp, key: str, data: str, forecasts: pd.DataFrame) -> None:
        tensors = {
            "dates": torch.from_numpy(forecasts.index.to_numpy("datetime64[ns]").astype(np.int64)),
            "values": torch.from_numpy(forecasts.to_numpy(np.float64).copy()),
        }
        _write(self._pred_path(retrain_date, key, data), tensors, {"columns": json.dumps(list(forecasts.columns))})

    def _write_config(self) -> None:
        path = self.directory / "config.json"
        if not path.exists():
            atomic_write_bytes(path, json.dumps(self.config, indent=1, sort_keys=True, default=str).encode("utf-8"))


def payload_digest(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> str:
    """SHA-256 (hex) of the metadata (but its own entry) and of every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    digest.update(json.dumps({k: v for k, v in meta.items() if k != DIGEST_KEY}, sort_keys=True).encode("utf-8"))
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@contextmanager
def recorded_warnings(*loggers: str) -> Iterator[list[str]]:
    """The messages of warnings (and worse) logged by these loggers (default: this module's)
    while the block runs, in order; they are logged as usual too."""
    notes: list[str] = []

    class _Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notes.append(record.getMessage())

    recorder = _Recorder(logging.WARNING)
    targets = [logging.getLogger(name) for name in (loggers or (__name__,))]
    for target in targets:
        target.addHandler(recorder)
    try:
        yield notes
    finally:
        for target in targets:
            target.removeHandler(recorder)


def _write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    contiguous = {name: t.contiguous() for name, t in tensors.items()}
    meta = {**meta, DIGEST_KEY: payload_digest(contiguous, meta)}
    atomic_write_bytes(path, safetensors_bytes(contiguous, metadata=meta))


def _read(path: Path) -> StoredFold | None:
    """Tensors and metadata of a safetensors file; None (and the file removed) when it is
    unreadable, fails its checksum or has none."""
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            stored = StoredFold({name: handle.get_tensor(name) for name in handle.keys()}, dict(handle.metadata() or {}))
    except Exception as exc:  # safetensors raises several types for a damaged file
        _discard(path, f"is unreadable ({exc})")
        return None
    recorded = stored.meta.get(DIGEST_KEY)
    if recorded is None:  # an upgrade, not damage: one warning per store folder, the files at INFO
        if path.parent not in _UNVERIFIED_FOLDERS:
            _UNVERIFIED_FOLDERS.add(path.parent)
            log.warning("fold store %s was written by an older version without checksums: its folds are "
                        "unverified and will be recomputed once", path.parent)
        _discard(path, "has no checksum (written by an older version, unverified)", level=logging.INFO)
        return None
    if recorded != payload_digest(stored.state, stored.meta):
        _discard(path, "fails its SHA-256 checksum (changed since it was written)")
        return None
    return stored


_UNVERIFIED_FOLDERS: set[Path] = set()  # store folders already reported as written without checksums


def _discard(path: Path, problem: str, level: int = logging.WARNING) -> None:
    log.log(level, "fold file %s %s; deleted, it will be recomputed", path, problem)
    path.unlink(missing_ok=True)
