"""Walk-forward forecasts for a universe of securities, one forecast frame per symbol.

:func:`forecast_universe` runs :func:`rnnstrategy.forecasting.walkforward.walk_forward` for every
source (CSV paths, A-share symbols, or a folder of CSVs) with one configuration, on an
executor from :mod:`rnnstrategy.forecasting.executors` (in this process, a local process pool, or
Ray), and writes under ``out_dir``::

    forecasts/<symbol>.csv   the forecast frame of each symbol that could be forecast
    summary.csv, summary.json   one row per source: name and industry (from a stock list),
                                bars, forecasts, RMSE ratio against the previous close,
                                direction hit rate, seconds, status, notes; and, once the run is
                                complete, the cross-section of the forecasts under "cross_section"
    cross_section_daily.csv     the daily IC and rank IC behind it (see :func:`write_cross_section`)

Each symbol loads only the bars its forecasts use: with a ``start``, the
:meth:`~rnnstrategy.forecasting.config.ForecastConfig.history_needed` bars before it, then
everything after it (see ``history`` in :func:`~rnnstrategy.data.load_bars`), so bad rows
long before the run neither fail it nor are dropped from it; ``strict`` applies inside that
range. A tushare stock list among the sources (a folder's ``basic_stock_data.csv``, or any
CSV with its header, see :func:`~rnnstrategy.data.securities.is_securities_file`) is metadata:
it names the symbols in the summary and is not forecast.

``status`` is ``ok``, ``skipped`` (too little history for one retrain in the requested
range: reported, not an error) or ``failed`` (the message says why, e.g. a bad file). A
symbol whose computation raised unexpectedly, or whose worker died, is retried first.
With a fold store (the default) every trained fold is kept on disk, so a run that
crashed or was stopped resumes without retraining what it finished. All executors give
identical forecasts for the same inputs (whatever the thread count). ``notes`` lists the
warnings about damaged fold-store entries or cached kernels that were deleted and recomputed
while the symbol ran; a worker's notes are logged again here, in the parent process.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data import load_bars
from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.data.securities import (
    Security,
    find_securities_file,
    is_securities_file,
    read_securities,
)
from rnnstrategy.errors import ConfigError, DataError, RnnStrategyError, SymbolError
from rnnstrategy.evaluation import (
    cross_section_daily,
    cross_section_metrics,
    forecast_metrics,
)
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.forecasting.executors import Outcome, choose_executor, run_tasks
from rnnstrategy.forecasting.foldstore import default_store_dir, recorded_warnings
from rnnstrategy.forecasting.frames import read_forecasts, write_forecasts
from rnnstrategy.forecasting.pooled import PooledFold, pooled_walk_forward
from rnnstrategy.forecasting.training import torch_threads
from rnnstrategy.forecasting.walkforward import (
    ForecastConfig,
    first_retrain_row,
    walk_forward,
)

__all__ = ["SUMMARY_COLUMNS", "SymbolTask", "forecast_symbol", "forecast_universe", "resolve_sources",
           "securities_among", "write_cross_section"]

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = (
    "symbol", "name", "industry", "source", "status", "bars", "first_bar", "last_bar", "forecasts",
    "first_forecast", "last_forecast", "folds", "trained", "rmse", "baseline_rmse", "rmse_ratio",
    "direction_hit_rate", "seconds", "attempts", "fingerprint", "message", "notes",
)
"""Columns of the summary table, in order. Metrics are for h = 1, against the previous close;
``bars``, ``first_bar`` and ``fingerprint`` describe the bars loaded (the run's range);
``name`` and ``industry`` are empty without a stock list; ``notes``: the warnings about damaged
stored entries recomputed for the symbol, joined by `` | ``."""

_NOTED_LOGGERS = ("rnnstrategy.forecasting.foldstore", "rnnstrategy.forecasting.batched.native")
"""Whose warnings (damaged stored entries, recomputed) become a symbol's ``notes``."""

DEFAULT_STORE = "default"
"""``store=DEFAULT_STORE``: the fold store under the cache root (see :func:`default_store_dir`)."""

DateLike = str | pd.Timestamp | None


@dataclass(frozen=True)
class SymbolTask:
    """Everything a worker needs to forecast one source (plain, picklable data)."""

    source: str
    config: ForecastConfig
    start: str | None = None
    end: str | None = None
    store: str | None = None
    strict: bool = True
    adjust: str = "qfq"
    evaluate: bool = True


def resolve_sources(sources: str | Path | Sequence[str | Path]) -> list[str]:
    """The list of bar sources: a folder becomes its ``*.csv`` files (sorted); duplicates go.

    A stock list (see :func:`~rnnstrategy.data.securities.is_securities_file`) is metadata,
    not a source, and is left out wherever it is (:func:`securities_among` finds it).
    """
    bars, _ = _split_sources(sources)
    return bars


def securities_among(sources: str | Path | Sequence[str | Path]) -> list[str]:
    """The stock lists among ``sources`` (or in the folder ``sources``), sorted as given."""
    _, lists = _split_sources(sources)
    return lists


def _split_sources(sources: str | Path | Sequence[str | Path]) -> tuple[list[str], list[str]]:
    """``(bar sources, stock lists)`` of ``sources``."""
    if isinstance(sources, (str, Path)) and Path(sources).is_dir():
        folder = Path(sources)
        files = sorted(str(p) for p in folder.glob("*.csv"))
        bars = [f for f in files if not is_securities_file(f)]
        if not bars:
            only = f" (only the stock list {', '.join(files)})" if files else ""
            raise ConfigError(f"{folder} holds no *.csv files of bars{only}; pass a folder of bar CSVs, "
                              "or a list of paths or symbols")
        lists = [f for f in files if f not in bars]
    else:
        given = [str(sources)] if isinstance(sources, (str, Path)) else list(dict.fromkeys(str(s) for s in sources))
        if not given:
            raise ConfigError("sources is empty; pass CSV paths, symbols, or a folder of CSVs")
        lists = [s for s in given if s.lower().endswith(".csv") and is_securities_file(s)]
        bars = [s for s in given if s not in lists]
        if not bars:
            found = f" (only the stock list {', '.join(lists)})" if lists else ""
            raise ConfigError(f"sources holds no bars{found}; pass CSV paths, symbols, or a folder of CSVs")
    for path in lists:
        log.info("%s is a stock list (ts_code, name): read as metadata, not forecast", path)
    return bars, lists


def forecast_symbol(task: SymbolTask) -> tuple[dict[str, object], pd.DataFrame | None]:
    """Walk-forward forecasts of one source: its summary row and forecast frame.

    Expected problems (a bad or unreadable file, too little history) come back in the
    row (status ``failed`` or ``skipped``) with the frame None; anything else raises, so
    the executor retries it.
    """
    started = time.perf_counter()
    row: dict[str, object] = {"symbol": _stem(task.source), "source": task.source}
    # the bars the run reads: history_needed() before start, then all (realised opens after end included)
    history = task.config.history_needed() if task.start is not None else None
    try:
        bars = load_bars(task.source, start=task.start, adjust=task.adjust, history=history, strict=task.strict)
    except RnnStrategyError as exc:
        return _finish(row, started, "failed", str(exc)), None
    row.update(symbol=str(bars.attrs.get("symbol") or row["symbol"]), bars=len(bars),
               first_bar=_day(bars.index[0]), last_bar=_day(bars.index[-1]),
               fingerprint=DataFingerprint(bars).upto(len(bars) - 1))
    reason = _too_short(bars, task)
    if reason:
        return _finish(row, started, "skipped", reason), None
    with recorded_warnings(*_NOTED_LOGGERS) as notes:
        try:
            forecasts = walk_forward(bars, task.config, task.start, task.end, store=task.store)
        except RnnStrategyError as exc:
            forecasts, failure = None, str(exc)
    if notes:
        row["notes"] = " | ".join(notes)
    if forecasts is None:
        return _finish(row, started, "failed", failure), None
    metrics = forecast_metrics(forecasts, bars) if task.evaluate else {}
    folds = forecasts.attrs["folds"]
    row.update(
        forecasts=len(forecasts), first_forecast=_day(forecasts.index[0]), last_forecast=_day(forecasts.index[-1]),
        folds=len(folds), trained=sum(bool(f["trained"]) for f in folds), rmse=metrics.get("rmse"),
        baseline_rmse=metrics.get("baseline_prev_close_rmse"), rmse_ratio=metrics.get("rmse_ratio"),
        direction_hit_rate=metrics.get("direction_hit_rate"),
    )
    return _finish(row, started, "ok", metrics.get("verdict", "")), forecasts


def forecast_universe(
    sources: str | Path | Sequence[str | Path],
    config: ForecastConfig | None = None,
    start: DateLike = None,
    end: DateLike = None,
    *,
    out_dir: str | Path,
    executor: str = "auto",
    store: str | Path | None = DEFAULT_STORE,
    workers: int | None = None,
    retries: int = 1,
    threads: int | None = None,
    strict: bool = True,
    adjust: str = "qfq",
    securities: str | Path | None = None,
    progress: Callable[[dict[str, object]], None] | None = None,
    on_fold: Callable[[PooledFold], None] | None = None,
    evaluate: bool = True,
) -> pd.DataFrame:
    """Walk-forward forecasts for every source; write them and a summary under ``out_dir``.

    Args:
        sources: CSV paths or A-share symbols, or a folder (its ``*.csv`` files). A stock
            list among them is read as metadata, not forecast.
        config: forecaster and schedule (default :class:`ForecastConfig`).
        start, end: first and last forecast dates, the same for every symbol (dates, not
            row positions: rows differ between symbols).
        out_dir: output folder (``forecasts/``, ``summary.csv``, ``summary.json``).
        executor: ``"auto"`` (in-process for one source, a process pool for several),
            ``"inprocess"``, ``"process"`` or ``"ray"``; see :mod:`rnnstrategy.forecasting.executors`.
        store: fold store directory; :data:`DEFAULT_STORE` is ``folds/`` in the cache;
            None keeps nothing (a crash then loses the finished folds). Workers write it,
            so on a multi-node Ray cluster it must be on a shared filesystem; forecasts
            travel back to this process, which writes ``out_dir``.
        workers: parallel workers (default: one per CPU).
        retries: extra attempts for a symbol whose computation crashed.
        threads: PyTorch threads per symbol; None uses every core without
            oversubscription (see :mod:`rnnstrategy.forecasting.executors`).
        strict: passed to :func:`~rnnstrategy.data.load_bars`; ``False`` drops bad rows
            of the range read (with a warning) instead of failing the symbol.
        adjust: price adjustment recorded for CSVs, or downloaded for symbols.
        securities: a tushare stock list naming each symbol in the summary (name,
            industry). Default: a stock list among ``sources``, else
            :func:`~rnnstrategy.data.securities.find_securities_file` beside the first
            source (or ``$RNNSTRATEGY_NAMES``); a default one that cannot be read is
            logged and left out, a given one raises.
        progress: called with each symbol's summary row as it finishes.
        on_fold: with ``config.pooled``, called as each pooled fold is trained or loaded.
        evaluate: measure the forecasts (each symbol's RMSE beside the naive forecast with its
            bootstrap interval, the cross-section); False leaves those columns and
            ``cross_section_daily.csv`` out, for a run that only trades on the forecasts (a daily
            signal), where they cost more than the forecasts themselves.

    With ``config.pooled`` the symbols are loaded here and one model per retrain learns from
    them all (:func:`~rnnstrategy.forecasting.pooled.pooled_walk_forward`); ``executor``,
    ``workers`` and ``retries`` do not apply, and ``config.market`` is loaded as the index.

    Returns:
        The summary, one row per source in input order, columns :data:`SUMMARY_COLUMNS`.

    Raises:
        ConfigError: row positions as ``start``/``end``, or no bar sources.
        DataError: a ``securities`` file that cannot be read.
    """
    config = config or ForecastConfig()
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, int):
            raise ConfigError(f"{name}={value} is a row position; give a date such as '2020-01-02' (rows differ by symbol)")
    paths, lists = _split_sources(sources)
    names_file, metadata = _metadata(securities, lists, paths)
    out = Path(out_dir)
    store_dir = str(default_store_dir() if store == DEFAULT_STORE else store) if store is not None else None
    if config.pooled:
        return _forecast_pooled(paths, config, start, end, out, store_dir, threads, strict, adjust, names_file,
                                metadata, progress, on_fold, evaluate)
    tasks = [SymbolTask(source, config, _date_text(start), _date_text(end), store_dir, strict, adjust, evaluate)
             for source in paths]
    name = choose_executor(executor, len(tasks), workers)
    started = time.perf_counter()
    rows: dict[int, dict[str, object]] = {}
    written: dict[str, str] = {}  # forecast file name -> source, to catch two sources of one symbol
    # longest histories first, so no long one starts last and keeps the run waiting for it alone
    order = sorted(range(len(tasks)), key=lambda k: -_size_hint(paths[k]))
    outcomes = run_tasks(forecast_symbol, [tasks[k] for k in order], name, retries=retries, workers=workers,
                         threads=threads)
    for outcome in outcomes:
        index = order[outcome.index]
        row = _row_of(outcome, tasks[index], metadata)
        if outcome.ok and outcome.value[1] is not None:
            _write_forecasts(out, row, outcome.value[1], written)
        rows[index] = row
        if row["notes"] and name != "inprocess":  # logged in a worker: repeat here
            log.warning("%s: %s", row["symbol"], row["notes"])
        log.info("%s: %s in %.1f s%s", row["symbol"], row["status"], row["seconds"] or 0.0,
                 f" ({row['message']})" if row["status"] != "ok" else "")
        if progress:
            progress(row)
        _write_summary(out, rows, config, start, end, name, time.perf_counter() - started, names_file)
    cross_section = write_cross_section(out, *_cross_section_inputs(out, rows, tasks)) if evaluate else None
    return _write_summary(out, rows, config, start, end, name, time.perf_counter() - started, names_file,
                          cross_section)


def _forecast_pooled(
    paths: list[str], config: ForecastConfig, start: DateLike, end: DateLike, out: Path, store: str | None,
    threads: int | None, strict: bool, adjust: str, names_file: str | None, metadata: dict[str, Security],
    progress: Callable[[dict[str, object]], None] | None, on_fold: Callable[[PooledFold], None] | None,
    evaluate: bool,
) -> pd.DataFrame:
    """:func:`forecast_universe` with one pooled model per retrain (``config.pooled``)."""
    if start is None:
        raise ConfigError("a pooled run needs a start date (the first retrain): pass --start, e.g. 2018-01-02")
    started = time.perf_counter()
    start_text, end_text = _date_text(start), _date_text(end)
    history = config.history_needed()
    rows: dict[int, dict[str, object]] = {}
    bars: dict[str, pd.DataFrame] = {}
    index_of: dict[str, int] = {}
    for k, source in enumerate(paths):
        loaded = time.perf_counter()
        row: dict[str, object] = {"symbol": _stem(source), "source": source}
        try:
            frame = load_bars(source, start=start_text, adjust=adjust, history=history, strict=strict)
        except RnnStrategyError as exc:
            rows[k] = _summary_row(_finish(row, loaded, "failed", str(exc)), 1, metadata)
            continue
        symbol = str(frame.attrs.get("symbol") or row["symbol"])
        row.update(symbol=symbol, bars=len(frame), first_bar=_day(frame.index[0]), last_bar=_day(frame.index[-1]),
                   fingerprint=DataFingerprint(frame).upto(len(frame) - 1))
        if symbol in index_of:
            rows[k] = _summary_row(_finish(row, loaded, "failed", f"{source} is the symbol {symbol} again "
                                          f"({paths[index_of[symbol]]}); keep one of them"), 1, metadata)
            continue
        bars[symbol], index_of[symbol] = frame, k
        rows[k] = _summary_row(_finish(row, loaded, "ok", ""), 1, metadata)
    if not bars:
        _write_summary(out, rows, config, start, end, "pooled", time.perf_counter() - started, names_file)
        raise DataError(f"none of the {len(paths)} sources could be loaded; see {out / 'summary.csv'}")
    market = None
    if config.market:
        market = load_bars(config.market, start=start_text, adjust=adjust, history=history, strict=strict)
    with torch_threads(threads), recorded_warnings(*_NOTED_LOGGERS) as notes:
        frames = pooled_walk_forward(bars, config, start_text, end_text, market=market, store=store,
                                     progress=on_fold)
    written: dict[str, str] = {}
    for symbol, k in index_of.items():
        row = rows[k]
        forecasts = frames.get(symbol)
        if forecasts is None:
            row.update(status="skipped", message=f"no forecast: fewer than lookback={config.lookback} bars "
                       f"before {_day(bars[symbol].index[-1])} in the range")
        else:
            metrics = forecast_metrics(forecasts, bars[symbol]) if evaluate else {}
            folds = forecasts.attrs["folds"]
            row.update(forecasts=len(forecasts), first_forecast=_day(forecasts.index[0]),
                       last_forecast=_day(forecasts.index[-1]), folds=len(folds),
                       trained=sum(not f["stored"] for f in folds), rmse=metrics.get("rmse"),
                       baseline_rmse=metrics.get("baseline_prev_close_rmse"), rmse_ratio=metrics.get("rmse_ratio"),
                       direction_hit_rate=metrics.get("direction_hit_rate"),
                       notes=" | ".join(notes) or None)
            _write_forecasts(out, row, forecasts, written)
        if progress:
            progress(row)
    closes = {symbol: bars[symbol]["close"] for symbol in frames}
    cross_section = write_cross_section(out, frames, closes) if evaluate else None
    return _write_summary(out, rows, config, start, end, "pooled", time.perf_counter() - started, names_file,
                          cross_section)


def _metadata(securities: str | Path | None, lists: list[str], paths: list[str]) -> tuple[str | None, dict[str, Security]]:
    """The stock list to name symbols from and its securities (see ``securities`` in :func:`forecast_universe`)."""
    if securities is not None:
        return str(securities), read_securities(securities)
    found = lists[0] if lists else find_securities_file(Path(paths[0]) if paths[0].lower().endswith(".csv") else None)
    if found is None:
        return None, {}
    if len(lists) > 1:
        log.info("several stock lists among the sources (%s); names from %s", ", ".join(lists), found)
    try:
        return str(found), read_securities(found)
    except RnnStrategyError as exc:
        log.warning("no names in the summary: %s", exc)
        return None, {}


def _row_of(outcome: Outcome[tuple[dict[str, object], pd.DataFrame | None]], task: SymbolTask,
            metadata: dict[str, Security]) -> dict[str, object]:
    """The summary row of a finished task (a failed one gets its error as the message)."""
    if outcome.ok:
        row = dict(outcome.value[0])
    else:
        row = {"symbol": _stem(task.source), "source": task.source, "status": "failed", "message": outcome.error}
    return _summary_row(row, outcome.attempts, metadata)


def _summary_row(row: dict[str, object], attempts: int, metadata: dict[str, Security]) -> dict[str, object]:
    """``row`` with its attempts, the symbol's name and industry from the stock list, in :data:`SUMMARY_COLUMNS`."""
    row["attempts"] = attempts
    security = _security_of(str(row["symbol"]), metadata)
    if security is not None:
        row.update(name=security.name, industry=security.industry)
    return {column: row.get(column) for column in SUMMARY_COLUMNS}


def _security_of(symbol: str, metadata: dict[str, Security]) -> Security | None:
    if not metadata:
        return None
    try:
        return metadata.get(symbol_info(symbol).ts_code)
    except SymbolError:
        return None


def _forecast_name(symbol: object) -> str:
    """The file name of a symbol's forecasts under ``forecasts/``."""
    return re.sub(r"[^\w.-]", "_", str(symbol)) + ".csv"


def _write_forecasts(out: Path, row: dict[str, object], forecasts: pd.DataFrame, written: dict[str, str]) -> None:
    name = _forecast_name(row["symbol"])
    if name in written:
        row.update(status="failed", message=f"{row['source']} is {row['symbol']} again, already forecast from "
                                             f"{written[name]}; pass each security once")
        return
    written[name] = str(row["source"])
    write_forecasts(forecasts, out / "forecasts" / name)


def _write_summary(
    out: Path, rows: dict[int, dict[str, object]], config: ForecastConfig, start: DateLike, end: DateLike,
    executor: str, seconds: float, securities: str | None, cross_section: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Write ``summary.csv`` and ``summary.json`` (strict JSON: NaN as null) from the rows so far,
    with the ``cross_section`` metrics of a complete run; return the table."""
    table = pd.DataFrame([rows[k] for k in sorted(rows)], columns=list(SUMMARY_COLUMNS))
    counts = table["status"].value_counts()
    payload = {
        "config": config.to_dict(), "start": _date_text(start), "end": _date_text(end),
        "history": config.history_needed() if start is not None else None, "securities": securities,
        "executor": executor,
        "seconds": round(seconds, 3), "counts": {s: int(counts.get(s, 0)) for s in ("ok", "skipped", "failed")},
        "symbols": [{k: _json_value(v) for k, v in rows[i].items()} for i in sorted(rows)],
    }
    if cross_section is not None:
        payload["cross_section"] = cross_section
    text = json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False)
    atomic_write_bytes(out / "summary.csv", table.to_csv(index=False).encode("utf-8"))
    atomic_write_bytes(out / "summary.json", text.encode("utf-8"))
    return table


def write_cross_section(out_dir: str | Path, forecasts: Mapping[str, pd.DataFrame],
                        closes: Mapping[str, pd.Series] | None = None, *, min_names: int = 10) -> dict[str, object]:
    """The cross-section of a universe's forecasts; writes its daily series to
    ``cross_section_daily.csv`` in ``out_dir`` and returns the metrics for ``summary.json``.

    Args:
        out_dir: the run's folder.
        forecasts: the forecast frame of each symbol that was forecast, keyed by symbol.
        closes: each symbol's closes (the bars the run loaded), for the 5-day reversal baseline.
        min_names: fewest symbols for a day to count.

    Returns:
        :func:`~rnnstrategy.evaluation.cross_section_metrics` (``n_days`` 0 and None values
        when too few symbols share a day), ready for ``json.dumps(..., allow_nan=False)``.
        The figures (:func:`rnnstrategy.report.plots.write_cross_section_figures`) are drawn
        by the report stage: this stage imports no matplotlib.
    """
    metrics = cross_section_metrics(forecasts, closes, min_names=min_names)
    daily = cross_section_daily(forecasts, closes, min_names=min_names)
    text = daily.to_csv(index_label="date", date_format="%Y-%m-%d")
    atomic_write_bytes(Path(out_dir) / "cross_section_daily.csv", text.encode("utf-8"))
    log.info("cross-section of %d symbols: %d days, rank IC %s", metrics["n_symbols"], metrics["n_days"],
             metrics["rank_ic"])
    return metrics


def _cross_section_inputs(out: Path, rows: dict[int, dict[str, object]], tasks: Sequence[SymbolTask],
                          ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.Series]]:
    """The written forecasts of the ``ok`` symbols, and their closes loaded again as the run loaded them."""
    forecasts: dict[str, pd.DataFrame] = {}
    closes: dict[str, pd.Series] = {}
    for index, row in sorted(rows.items()):
        if row["status"] != "ok":
            continue
        symbol, task = str(row["symbol"]), tasks[index]
        forecasts[symbol] = read_forecasts(out / "forecasts" / _forecast_name(symbol))
        history = task.config.history_needed() if task.start is not None else None
        try:
            bars = load_bars(task.source, start=task.start, adjust=task.adjust, history=history, strict=task.strict)
        except RnnStrategyError as exc:
            log.warning("%s: no closes for the reversal baseline of the cross-section: %s", symbol, exc)
            continue
        closes[symbol] = bars["close"]
    return forecasts, closes


def _too_short(bars: pd.DataFrame, task: SymbolTask) -> str | None:
    """Why no retrain fits in the requested range, or None when one does."""
    config = task.config
    first = first_retrain_row(config, bars.index, task.start)
    if first is not None and (task.end is None or bars.index[first] <= pd.Timestamp(task.end)):
        return None
    where = f"{len(bars)} bars {_day(bars.index[0])}..{_day(bars.index[-1])}"
    window = f"start={task.start}, end={task.end}" if task.start or task.end else "the whole history"
    return (f"too little history: {where} hold no retrain in {window} (min_train={config.min_train} samples "
            f"of lookback={config.lookback}, horizon={config.horizon}); use a longer history or lower min_train")


def _size_hint(source: str) -> int:
    """Bytes of a CSV source (about proportional to its bars and so to its training work); 0 for a symbol."""
    try:
        return Path(source).stat().st_size
    except OSError:
        return 0


def _finish(row: dict[str, object], started: float, status: str, message: str) -> dict[str, object]:
    row.update(status=status, message=message, seconds=round(time.perf_counter() - started, 3))
    return row


def _stem(source: str) -> str:
    return Path(source).stem if source.lower().endswith(".csv") else source


def _day(when: pd.Timestamp) -> str:
    return f"{when:%Y-%m-%d}"


def _date_text(value: DateLike) -> str | None:
    return None if value is None else _day(pd.Timestamp(value))


def _json_value(value: object) -> object:
    """JSON-ready: NaN, infinities and missing become null, numpy scalars plain numbers."""
    value = value.item() if hasattr(value, "item") else value
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value
