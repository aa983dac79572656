"""Replaying a finished run (``rnnstrategy run manifest.json``): is the data still the data it recorded?

:func:`changed_data` compares the bars loaded now with the fingerprints a manifest recorded;
:func:`changed_universe` reads each stock of a recorded universe run again; :func:`refuse_changed`
refuses a replay on changed data, or lets it go on with a warning when allowed; :func:`replayed_definition`
is what a replay's manifest records of its definition (once: not the manifest it replayed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.config import RunConfig
from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import DataError, RnnStrategyError
from rnnstrategy.files import file_sha256

__all__ = ["changed_data", "changed_universe", "refuse_changed", "replayed_definition"]

log = logging.getLogger(__name__)


def changed_data(recorded: Mapping[str, Any], frames: Mapping[str, pd.DataFrame | None]) -> list[str]:
    """How the frames loaded now (``{"data": bars, "benchmark": ...}``) differ from the fingerprints ``recorded``
    under the same names (a run's manifest); empty if not."""
    changed = []
    for name, frame in frames.items():
        entry = recorded.get(name)
        if not isinstance(entry, Mapping) or not entry.get("fingerprint"):
            continue  # nothing recorded (a run without a benchmark)
        now = DataFingerprint(frame).upto(len(frame) - 1) if frame is not None else None
        if now != entry["fingerprint"]:
            source = (frame.attrs.get("source") if frame is not None else None) or entry.get("source") or ""
            changed.append(f"the {name} {source} changed since the run was recorded "
                           f"(fingerprint {entry['fingerprint']}, now {now})".replace("  ", " "))
    return changed


def changed_universe(recorded: Mapping[str, Any], config: RunConfig) -> list[str]:
    """How each stock of a recorded universe run differs now, one line per stock. When the run forecast the
    stocks itself, the bars its forecasts were made from (the ``fingerprint`` of each row of the run's
    ``summary.csv``, read again with the same start and history: they hold the bars it traded too); else
    the bars it traded (its manifest's ``data.universe``, read again from the same first day to the file's
    end)."""

    def differs(label: str, source: str, fingerprint: str, **how: Any) -> str | None:
        try:
            frame = load_bars(source, adjust=config.data.adjust, strict=config.data.strict, **how)
        except (OSError, ValueError, RnnStrategyError) as exc:
            return f"{label}: {source} cannot be read again ({str(exc).splitlines()[0]})"
        now = DataFingerprint(frame).upto(len(frame) - 1)
        if now == fingerprint:
            return None
        return f"{label} ({source}) changed since the run was recorded (fingerprint {fingerprint}, now {now})"

    return [line for label, source, fingerprint, how in _universe_checks(recorded, config)
            if (line := differs(label, source, fingerprint, **how))]


def _universe_checks(recorded: Mapping[str, Any], config: RunConfig) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, source, recorded fingerprint, how to load it again) of each stock :func:`changed_universe` reads."""
    forecasts = recorded.get("forecasts") if isinstance(recorded.get("forecasts"), Mapping) else {}
    summary = Path(str(forecasts.get("folder") or "")) / "summary.csv"
    if forecasts.get("source") == "walk_forward" and summary.is_file():
        start = config.backtest.start
        history = config.forecast.history_needed() if start else None
        table = pd.read_csv(summary, dtype={"symbol": str, "fingerprint": str})
        return [(str(row.symbol), str(row.source), str(row.fingerprint), {"start": start, "history": history})
                for row in table[(table["status"] == "ok") & table["fingerprint"].notna()].itertuples()]
    if forecasts.get("source") == "walk_forward":
        log.warning("%s is gone: the bars the recorded forecasts were made from cannot be checked, only those "
                    "traded", summary)
    data = recorded.get("data")
    entries = (data.get("universe") or []) if isinstance(data, Mapping) else []
    return [(str(entry.get("symbol") or entry["source"]), entry["source"], entry["fingerprint"],
             {"start": entry["first"]}) for entry in entries
            if isinstance(entry, Mapping) and entry.get("fingerprint") and entry.get("source")]


def refuse_changed(changed: Sequence[str], allow: bool) -> None:
    """Refuse a replay whose data ``changed`` (the first three changes named), unless ``allow``: then warn
    about each and let it go on.

    Raises:
        DataError: naming the changes and the fix.
    """
    if changed and not allow:
        more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
        raise DataError(f"{'; '.join(changed[:3])}{more}: the replay would not reproduce the recorded run; "
                        "restore the data, or pass allow_changed_data=True (CLI: --allow-changed-data) to re-run "
                        "on it")
    for change in changed:
        log.warning("%s: re-running on the changed data", change)


def replayed_definition(manifest_file: str | Path, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest of a replay of ``manifest_file`` (whose content is ``recorded``) records of its
    definition: the file the recorded run was defined by, path and text, as that run recorded them (a TOML
    file, or none for a run made in Python), and under ``replay_of`` which manifest was replayed (path,
    creation time, SHA-256). The configuration itself is the manifest's ``config``.

    The text of the manifest replayed is not copied: each replay nested every earlier manifest in its own
    (10, 17, 26, ... 191 kB over 7 replays). A manifest nested so by an older version is unpacked to the
    definition it started from."""
    path = Path(manifest_file)
    file, text = recorded.get("config_file"), recorded.get("config_file_text")
    while isinstance(file, str) and file.endswith(".json") and isinstance(text, str):
        try:
            inner = json.loads(text)
        except ValueError:
            break
        if not isinstance(inner, Mapping):
            break
        file, text = inner.get("config_file"), inner.get("config_file_text")
    replayed = {"manifest": str(path), "created": recorded.get("created"),
                "sha256": file_sha256(path) if path.is_file() else None}
    return {"config_file": file, "config_file_text": text, "replay_of": replayed}
