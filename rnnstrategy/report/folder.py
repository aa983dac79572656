"""A finished run as a folder of files: tables, metrics, manifest, tearsheet and plots, and back.

Layout of a run directory (every file written atomically)::

    report.html                 quantstats tearsheet, strategy vs benchmark, buy-and-hold beside (offline)
    forecast_vs_actual.png      predicted vs realised next-day opens, previous-close baseline
    training_loss.png           loss per epoch of every walk-forward fold
    equity_vs_benchmark.png     portfolio value vs benchmark and buy-and-hold, trades marked
    metrics.json                performance (strategy, benchmark, buy-and-hold), trades, forecast quality
    years.csv                   the excess return by calendar year (metrics.json's by_year; rnnstrategy.report.years)
    trades.csv                  date,symbol,side,size,price,value,commission,stamp_duty,transfer_fee
    corporate_actions.csv       date,symbol,kind,cash_per_share,share_ratio,shares_before,shares_after,cash,tax:
                                dividends, bonus shares, splits and dividend tax booked (only when any were)
    equity.csv                  date,value,cash,position,close,return,benchmark_return,buy_and_hold_return
    positions.csv               date,symbol,shares,value,weight: the stocks held at each close (a universe run;
                                rnnstrategy.report.holdings)
    industries.csv              industry,mean_weight,max_weight,mean_stocks,days_held: the holdings' industry mix
                                (positions.csv and industries.csv: a universe run only)
    forecasts.csv               the forecast frame (rnnstrategy.data.forecast_files)
    forecasts.meta.json         its attrs: symbol, configuration, fold reports with loss history
    manifest.json               kind ("backtest"), configuration, data fingerprints, versions, command line,
                                the SHA-256 of the files above but the tearsheet and plots (redrawn by `report`)

A universe run (``RunReport.symbols``: several stocks traded together, e.g. by ``top_k``) has no
``forecasts.csv`` nor forecast and loss plots: its forecasts are ``forecasts/<symbol>.csv`` with
``summary.csv`` and ``summary.json`` beside them (as ``rnnstrategy forecast FOLDER`` writes them),
whose SHA-256 the manifest records too; ``equity.csv``'s ``position`` is the number of stocks held
and ``close`` is empty, and ``buy_and_hold_return`` is the equal-weight universe's.

:func:`write_run` writes them all; :func:`read_run` reads a directory back into a
:class:`RunReport` and :func:`render` redraws the tearsheet and plots from it.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rnnstrategy.ashare.calendar import PERIODS_PER_YEAR
from rnnstrategy.data.forecast_files import meta_path, read_forecasts, write_forecasts
from rnnstrategy.data.records import EQUITY_COLUMNS
from rnnstrategy.errors import DataError
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.report.folder_checks import check_kind, checksums, verify_checksums
from rnnstrategy.report.holdings import INDUSTRIES_FILE, POSITIONS_FILE
from rnnstrategy.report.measures import RunReport, exposure
from rnnstrategy.report.plots import (
    equity_figure,
    forecast_figure,
    loss_figure,
    save_png,
)
from rnnstrategy.report.titles import Titles
from rnnstrategy.report.years import YEARS_FILE, year_rows, years_csv_bytes, years_html

__all__ = ["CHECKED", "CORPORATE_ACTIONS", "FILES", "read_run", "render", "write_json", "write_run"]

log = logging.getLogger(__name__)


#: File names of a run directory.
FILES = {
    "tearsheet": "report.html",
    "forecast_plot": "forecast_vs_actual.png",
    "loss_plot": "training_loss.png",
    "equity_plot": "equity_vs_benchmark.png",
    "metrics": "metrics.json",
    "years": YEARS_FILE,
    "trades": "trades.csv",
    "equity": "equity.csv",
    "forecasts": "forecasts.csv",
    "manifest": "manifest.json",
}

#: The bookings of a run on raw prices with an adjustment factor; written only when any were booked.
CORPORATE_ACTIONS = "corporate_actions.csv"

CHECKED = (FILES["trades"], CORPORATE_ACTIONS, *(FILES[name] for name in ("equity", "forecasts", "metrics", "years")),
           POSITIONS_FILE, INDUSTRIES_FILE)
"""Files whose SHA-256 the manifest records (with ``forecasts.meta.json``); ``report`` verifies them. The
tearsheet and the PNG plots are left out: ``rnnstrategy report`` redraws them."""


def _jsonable(value: object) -> object:
    """``value`` with NaN/inf as None, numpy scalars as Python numbers, timestamps as ISO dates."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
        return [_jsonable(v) for v in (sorted(value) if isinstance(value, set) else list(value))]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | Path, payload: Mapping[str, object]) -> Path:
    """Write ``payload`` as readable UTF-8 JSON (NaN and ±inf as null, so strict parsers read it), atomically."""
    path = Path(path)
    text = json.dumps(_jsonable(payload), indent=1, ensure_ascii=False, allow_nan=False)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def _csv_bytes(frame: pd.DataFrame, index: bool = True) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=index, index_label="date" if index else None, date_format="%Y-%m-%d")
    return buffer.getvalue().encode("utf-8")


def render(out: str | Path, report: RunReport, verdict: str | None = None) -> list[Path]:
    """Write the tearsheet and the three PNG plots of ``report`` into ``out``; returns their paths.
    ``verdict`` (the forecast metrics' h = 1 verdict) is shown in the forecast plot."""
    from rnnstrategy.report.tearsheet import write_tearsheet  # quantstats takes seconds to import

    out = Path(out)
    titles = report.titles
    log.info("drawing the tearsheet and plots of %s into %s", titles.strategy, out)
    held = None if report.benchmark_is_buy_and_hold else report.buy_and_hold  # drawn once, as the benchmark
    rows = year_rows(report.returns, report.benchmark, report.buy_and_hold, values=report.equity["value"],
                     trades=report.trades, periods_per_year=report.periods_per_year)
    by_year = years_html(rows, {"strategy": titles.strategy, "benchmark": titles.benchmark,
                                "buy_and_hold": titles.buy_and_hold})
    paths = [write_tearsheet(out / FILES["tearsheet"], report.returns, report.benchmark, titles,
                             parameters=report.parameters, periods_per_year=report.periods_per_year,
                             buy_and_hold=report.buy_and_hold, trials=report.trials,
                             exposure=exposure(report.equity), by_year=by_year)]
    if report.symbols:  # a universe: no one security's forecasts to draw
        (out / FILES["forecast_plot"]).unlink(missing_ok=True)
    else:
        paths.append(save_png(forecast_figure(report.forecasts, report.equity["close"], titles.security,
                                              verdict=verdict), out / FILES["forecast_plot"]))
    if report.folds:
        paths.append(save_png(loss_figure(report.folds, titles.security), out / FILES["loss_plot"]))
    else:  # forecasts read without their fold reports: no loss plot, and none left from an earlier run
        (out / FILES["loss_plot"]).unlink(missing_ok=True)
    paths.append(save_png(equity_figure(report.equity["value"], report.benchmark, report.trades, titles.strategy,
                                        titles.benchmark, buy_and_hold=held), out / FILES["equity_plot"]))
    return paths


def write_run(out: str | Path, report: RunReport, *, metrics: Mapping[str, object],
              manifest: Mapping[str, object], checked: Sequence[str] = ()) -> list[Path]:
    """Write every file of a run directory (see the module docstring); returns their paths.

    Args:
        out: the run directory (created when missing).
        report: the run.
        metrics: the content of ``metrics.json`` (see :func:`rnnstrategy.report.measures.run_metrics`).
        manifest: configuration, fingerprints, versions and command line; the report's
            titles, parameters and periods per year are added under ``"report"`` so
            :func:`read_run` can redraw it, and the seconds spent drawing under
            ``"timings"``. It is written last: a directory with a manifest is complete.
        checked: more files already in ``out`` whose SHA-256 the manifest records (a universe's
            ``summary.csv``, ``summary.json`` and ``forecasts/<symbol>.csv``).
    """
    out = Path(out)
    if not checked:  # a universe run checks its folder itself: it may hold the forecasts it just made
        check_kind(out, "backtest")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / FILES["trades"], _csv_bytes(report.trades, index=False))
    atomic_write_bytes(out / FILES["equity"], _csv_bytes(report.equity[list(EQUITY_COLUMNS)]))
    paths = [out / FILES[name] for name in ("trades", "equity")]
    actions = report.corporate_actions
    if actions is not None and not actions.empty:
        atomic_write_bytes(out / CORPORATE_ACTIONS, _csv_bytes(actions, index=False))
        paths.append(out / CORPORATE_ACTIONS)
    else:  # none booked: none left from an earlier run either
        (out / CORPORATE_ACTIONS).unlink(missing_ok=True)
    if not report.symbols:  # a universe's forecasts are forecasts/<symbol>.csv, written by the forecast stage
        write_forecasts(report.forecasts, out / FILES["forecasts"])
        paths += [out / FILES["forecasts"], meta_path(out / FILES["forecasts"])]
    paths.append(write_json(out / FILES["metrics"], metrics))
    if metrics.get("by_year") is not None:
        atomic_write_bytes(out / FILES["years"], years_csv_bytes(metrics["by_year"]))
        paths.append(out / FILES["years"])
    else:  # metrics without the table: none left from an earlier run either
        (out / FILES["years"]).unlink(missing_ok=True)
    started = time.perf_counter()
    paths += render(out, report, verdict=(metrics.get("forecast") or {}).get("verdict"))
    timings = {**dict(manifest.get("timings") or {}), "report": round(time.perf_counter() - started, 3)}
    recorded = checksums(out, CHECKED + (meta_path(Path(FILES["forecasts"])).name,) + tuple(checked))
    paths.append(write_json(out / FILES["manifest"], {**manifest, "kind": "backtest", "files": recorded,
                                                      "timings": timings, "report": {
        "titles": report.titles.to_dict(), "parameters": dict(report.parameters),
        "periods_per_year": report.periods_per_year, "trials": report.trials,
        **({"symbols": list(report.symbols)} if report.symbols else {})}}))
    return paths


def _read_csv(path: Path, index: bool = True) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: missing; is {path.parent} the output directory of a finished backtest?")
    if index:
        return pd.read_csv(path, index_col="date", parse_dates=["date"])
    return pd.read_csv(path)


def read_run(out: str | Path) -> RunReport:
    """A :class:`RunReport` from the files of a finished run directory.

    Raises:
        DataError: when a file is missing, does not have the expected content, or differs from the
            checksum the manifest records (a damaged folder, or one mixing two runs).
    """
    out = Path(out)
    manifest_path = out / FILES["manifest"]
    if not manifest_path.is_file():
        raise DataError(f"{out}: no {FILES['manifest']}; give the output directory of a finished backtest")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        kind = manifest.get("kind", "backtest")
    except (ValueError, AttributeError) as exc:
        raise DataError(f"{manifest_path}: not a manifest of this version of rnnstrategy ({exc})") from None
    if kind != "backtest":
        raise DataError(f"{out} holds a {kind} run, not a backtest: give the output directory of "
                        f"`rnnstrategy backtest` or `rnnstrategy run`")
    try:
        saved = manifest["report"]
        titles = Titles(**saved["titles"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{manifest_path}: not a manifest of this version of rnnstrategy ({exc!r})") from None
    verify_checksums(out, manifest)
    trades = _read_csv(out / FILES["trades"], index=False)
    if "symbol" not in trades.columns:  # written before trades named their feed: one security
        trades.insert(1, "symbol", titles.security)
    equity = _read_csv(out / FILES["equity"])
    actions_path = out / CORPORATE_ACTIONS
    actions = _read_csv(actions_path, index=False) if actions_path.is_file() else None
    symbols = tuple(saved.get("symbols") or ())
    if "buy_and_hold_return" not in equity.columns:  # written before buy-and-hold was recorded
        log.info("%s has no buy_and_hold_return (an older run): the report shows no buy-and-hold", out)
        equity["buy_and_hold_return"] = np.nan
    return RunReport(
        equity=equity,
        trades=trades,
        forecasts=pd.DataFrame() if symbols else read_forecasts(out / FILES["forecasts"]),
        titles=titles,
        parameters=saved.get("parameters", {}),
        periods_per_year=int(saved.get("periods_per_year", PERIODS_PER_YEAR)),
        trials=int(saved.get("trials", 1)),
        symbols=symbols,
        corporate_actions=actions,
    )
