"""Forecast files: a forecast frame on disk, a CSV beside a small JSON of its metadata.

The record format that the forecast stage writes and the later stages (Backtrader indicator,
evaluation, report) read, so it lives with the data and imports no PyTorch.
:func:`write_forecasts` writes the forecast frame of :func:`rnnstrategy.forecasting.walkforward.walk_forward`
as ``<name>.csv`` (``date`` as YYYY-MM-DD, then ``pred_open_1..H``, ``fold``, ``open_1..H``;
floats in full precision, so a round trip is exact) and its ``attrs`` (symbol, configuration,
fold reports) as ``<name>.meta.json``. Both files are written atomically. :func:`read_forecasts`
reads them back and checks the frame, so a Backtrader run or a parameter sweep can reuse
forecasts instead of retraining.
"""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from rnnstrategy.errors import DataError
from rnnstrategy.files import atomic_write_bytes

__all__ = ["forecast_horizon", "holds_scores", "meta_path", "read_forecasts", "write_forecasts"]

log = logging.getLogger(__name__)

_PRED = re.compile(r"pred_open_(\d+)$")


def meta_path(path: str | Path) -> Path:
    """The metadata file beside a forecast CSV: ``forecasts.csv`` -> ``forecasts.meta.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.meta.json")


def forecast_horizon(frame: pd.DataFrame, source: str = "the forecast frame") -> int:
    """H of a forecast frame: its columns must include ``pred_open_1 … pred_open_H``.

    Raises:
        DataError: naming ``source`` when a ``pred_open_h`` column is missing.
    """
    steps = sorted(int(m.group(1)) for c in frame.columns if (m := _PRED.match(str(c))))
    if not steps or steps != list(range(1, len(steps) + 1)):
        raise DataError(
            f"{source}: needs columns pred_open_1 … pred_open_H, has {list(frame.columns)}; "
            "write it with rnnstrategy.data.forecast_files.write_forecasts(walk_forward(...), path)"
        )
    return len(steps)


def holds_scores(frame: pd.DataFrame) -> bool:
    """Whether a forecast frame's predictions make a cross-sectional score, not returns: a pooled model wrote it
    (its ``attrs["config"]`` has ``"pooled": True``, kept by :func:`write_forecasts` and :func:`read_forecasts`).
    A frame without that tag (per-stock forecasts, or one made by hand) holds returns."""
    config = frame.attrs.get("config")
    return isinstance(config, dict) and config.get("pooled") is True


def write_forecasts(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a forecast frame to ``path`` (CSV) and its attrs to :func:`meta_path`; returns ``path``."""
    path = Path(path)
    forecast_horizon(frame, str(path))
    text = frame.to_csv(index_label="date", date_format="%Y-%m-%d")
    atomic_write_bytes(path, text.encode("utf-8"))
    meta = json.dumps(frame.attrs, indent=1, sort_keys=True, ensure_ascii=False, default=str)
    atomic_write_bytes(meta_path(path), meta.encode("utf-8"))
    log.info("wrote %d forecasts to %s", len(frame), path)
    return path


def read_forecasts(path: str | Path) -> pd.DataFrame:
    """Read a forecast frame written by :func:`write_forecasts` (or ``rnnstrategy forecast``).

    Returns the frame indexed by ``date`` (tz-naive, ascending, unique) with float64
    ``pred_open_*`` and ``open_*`` columns, ``fold`` as int, and ``attrs`` from the
    metadata file when there is one.

    Raises:
        DataError: naming the file, the problem and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"forecast file {path} does not exist; write one with write_forecasts or `rnnstrategy forecast`")
    try:
        frame = pd.read_csv(io.StringIO(path.read_text(encoding="utf-8")), index_col="date", parse_dates=["date"])
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a forecast CSV with a 'date' column ({exc}); "
                        "write it with rnnstrategy.data.forecast_files.write_forecasts") from None
    horizon = forecast_horizon(frame, str(path))
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{path}: the 'date' column holds values that are not dates; use YYYY-MM-DD")
    if not (frame.index.is_monotonic_increasing and frame.index.is_unique):
        raise DataError(f"{path}: dates must be ascending and unique; rewrite the file with write_forecasts")
    numeric = [c for c in frame.columns if _PRED.match(str(c)) or str(c).startswith("open_")]
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataError(f"{path}: column {column!r} is not numeric; fix or rewrite the file")
        frame[column] = frame[column].astype("float64")
    preds = frame[[f"pred_open_{h}" for h in range(1, horizon + 1)]].to_numpy()
    if not np.isfinite(preds).all():
        row = int(np.argwhere(~np.isfinite(preds))[0][0])
        raise DataError(f"{path}: a predicted open on {frame.index[row].date()} is empty or not finite; "
                        "recompute the forecasts")
    if "fold" in frame.columns:
        frame["fold"] = frame["fold"].astype("int64")
    meta = meta_path(path)
    if meta.is_file():
        frame.attrs = json.loads(meta.read_text(encoding="utf-8"))
    return frame
