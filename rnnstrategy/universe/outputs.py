"""What a universe forecast writes under its folder: ``forecasts/<symbol>.csv`` and the summary
files, ``summary.csv`` and ``summary.json`` (see :mod:`rnnstrategy.universe.forecast`)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from rnnstrategy.data.forecast_files import write_forecasts
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.universe.summary import SUMMARY_COLUMNS, DateLike, date_text

__all__ = ["forecast_file_name", "write_summary", "write_symbol_forecasts"]


def forecast_file_name(symbol: object) -> str:
    """The file name of a symbol's forecasts under ``forecasts/``."""
    return re.sub(r"[^\w.-]", "_", str(symbol)) + ".csv"


def write_symbol_forecasts(out: Path, row: dict[str, object], forecasts: pd.DataFrame, written: dict[str, str]) -> None:
    """Write the forecasts of ``row``'s symbol under ``out/forecasts``; a symbol already written from
    another source (``written``: file name -> source) fails its row instead."""
    name = forecast_file_name(row["symbol"])
    if name in written:
        row.update(status="failed", message=f"{row['source']} is {row['symbol']} again, already forecast from "
                                             f"{written[name]}; pass each security once")
        return
    written[name] = str(row["source"])
    write_forecasts(forecasts, out / "forecasts" / name)


def write_summary(
    out: Path, rows: dict[int, dict[str, object]], config: ForecastConfig | PooledConfig, start: DateLike,
    end: DateLike, executor: str, seconds: float, securities: str | None, cross_section: dict[str, object] | None = None,
    universe: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Write ``summary.csv`` and ``summary.json`` (strict JSON: NaN as null) from the rows so far,
    with the ``cross_section`` metrics of a complete run and the ``universe`` as it stood (its index and
    membership, see :meth:`~rnnstrategy.universe.as_of.AsOfUniverse.record`); return the table."""
    table = pd.DataFrame([rows[k] for k in sorted(rows)], columns=list(SUMMARY_COLUMNS))
    counts = table["status"].value_counts()
    payload = {
        "config": config.to_dict(), "start": date_text(start), "end": date_text(end),
        "history": config.history_needed() if start is not None else None, "securities": securities,
        "executor": executor,
        "seconds": round(seconds, 3), "counts": {s: int(counts.get(s, 0)) for s in ("ok", "skipped", "failed")},
        "symbols": [{k: _json_value(v) for k, v in rows[i].items()} for i in sorted(rows)],
    }
    if cross_section is not None:
        payload["cross_section"] = cross_section
    if universe is not None:
        payload["universe"] = universe
    text = json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False)
    atomic_write_bytes(out / "summary.csv", table.to_csv(index=False).encode("utf-8"))
    atomic_write_bytes(out / "summary.json", text.encode("utf-8"))
    return table


def _json_value(value: object) -> object:
    """JSON-ready: NaN, infinities and missing become null, numpy scalars plain numbers."""
    value = value.item() if hasattr(value, "item") else value
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value
