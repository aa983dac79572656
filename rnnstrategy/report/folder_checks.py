"""What a run folder holds, and whether its files still belong together.

Every command that writes a folder records its ``kind`` there: ``backtest`` in the
``manifest.json`` written last by :func:`rnnstrategy.report.folder.write_run`, ``forecast`` in
the ``manifest.json`` of ``rnnstrategy forecast``. :func:`check_kind` refuses to write one
kind of run into a folder that holds another (the same kind may overwrite: a rerun).

The manifest of a run also records the SHA-256 of the files it wrote (:func:`checksums`);
:func:`verify_checksums` refuses a folder whose files were changed since, or mixed with
another run's. Files that ``rnnstrategy report`` redraws (``report.html``, the PNG plots)
are not recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.files import file_sha256

__all__ = ["MANIFEST", "check_kind", "checksums", "folder_kind", "verify_checksums"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def checksums(folder: Path, names: Iterable[str]) -> dict[str, str]:
    """``{name: SHA-256}`` of the files ``names`` in ``folder`` that exist."""
    return {name: file_sha256(folder / name) for name in names if (folder / name).is_file()}


def folder_kind(folder: str | Path) -> str | None:
    """The kind of run ``folder`` holds (``"backtest"``, ``"forecast"``), or None when it holds none."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            recorded = {}
        if isinstance(recorded, Mapping):
            if recorded.get("kind"):
                return str(recorded["kind"])
            if "report" in recorded or "config" in recorded:  # written before runs recorded their kind
                return "backtest"
    if (folder / "trades.csv").is_file() or (folder / "equity.csv").is_file():
        return "backtest"  # an unfinished backtest, or one without a manifest
    if any((folder / name).exists() for name in ("forecasts.csv", "summary.json", "summary.csv", "forecasts")):
        return "forecast"  # written before forecasts recorded their kind
    return None


def check_kind(folder: str | Path, kind: str, option: str = "--out") -> None:
    """Refuse to write a ``kind`` run into ``folder`` when it holds another kind of run.

    Raises:
        ConfigError: naming the folder, what it holds and the fix.
    """
    held = folder_kind(folder)
    if held is not None and held != kind:
        raise ConfigError(f"{folder} holds a {held} run; writing a {kind} there would mix or overwrite its files: "
                          f"choose another {option}, or remove {folder}")


def verify_checksums(folder: str | Path, recorded: Mapping[str, object]) -> None:
    """Check the files of ``folder`` against the checksums its manifest ``recorded``
    (``recorded["files"]``); a manifest without them (an older run) is read with a warning.

    Raises:
        DataError: naming the first file that is missing or differs.
    """
    folder = Path(folder)
    files = recorded.get("files")
    if not isinstance(files, Mapping):
        log.warning("%s: the manifest records no checksums (a run written before they were recorded): "
                    "its files cannot be checked to belong together", folder)
        return
    for name, expected in files.items():
        path = folder / str(name)
        if not path.is_file():
            raise DataError(f"{path}: missing, but {folder / MANIFEST} records it; the run folder is incomplete: "
                            f"rerun the backtest into a fresh --out")
        if file_sha256(path) != expected:
            raise DataError(f"{path}: changed since the run wrote it (its SHA-256 differs from the one "
                            f"{folder / MANIFEST} records): the file was edited, cut short or comes from another "
                            f"run; rerun the backtest into a fresh --out")
