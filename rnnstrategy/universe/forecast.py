"""Walk-forward forecasts for a universe of securities, one forecast frame per symbol.

:func:`forecast_universe` runs :func:`rnnstrategy.forecasting.walkforward.walk_forward` for every
source (CSV paths, A-share symbols, or a folder of CSVs) with one configuration, on an
executor from :mod:`rnnstrategy.universe.executors` (in this process, a local process pool, or
Ray), and writes under ``out_dir``::

    forecasts/<symbol>.csv   the forecast frame of each symbol that could be forecast
    summary.csv, summary.json   one row per source: name and industry (from a stock list),
                                bars, forecasts, RMSE ratio against the previous close,
                                direction hit rate, seconds, status, notes; and, once the run is
                                complete, the cross-section of the forecasts under "cross_section"
    cross_section_daily.csv     the daily IC and rank IC behind it
                                (see :func:`~rnnstrategy.universe.cross_section.write_cross_section`)

Each symbol loads only the bars its forecasts use: with a ``start``, the
``history_needed()`` bars of its configuration before it, then
everything after it (see :func:`~rnnstrategy.universe.sources.load_run_bars`), so bad rows
long before the run neither fail it nor are dropped from it; ``strict`` applies inside that
range. A tushare stock list among the sources (a folder's ``basic_stock_data.csv``, or any
CSV with its header, see :func:`~rnnstrategy.data.securities.is_securities_file`) is metadata:
it names the symbols in the summary and is not forecast.

``status`` is ``ok``, ``skipped`` (too little history for one retrain in the requested
range: reported, not an error) or ``failed`` (the message says why, e.g. a bad file; see
:mod:`rnnstrategy.universe.summary`). A symbol whose computation raised unexpectedly, or
whose worker died, is retried first.
With a fold store (the default) every trained fold is kept on disk, so a run that
crashed or was stopped resumes without retraining what it finished. All executors give
identical forecasts for the same inputs (whatever the thread count). ``notes`` lists the
warnings about damaged fold-store entries or cached kernels that were deleted and recomputed
while the symbol ran; a worker's notes are logged again here, in the parent process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from rnnstrategy.data.securities import Security
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE, resolve_store
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.walkforward import PooledFold
from rnnstrategy.universe.as_of import AsOfUniverse
from rnnstrategy.universe.cross_section import cross_section_inputs, write_cross_section
from rnnstrategy.universe.executors import Outcome, choose_executor, run_tasks
from rnnstrategy.universe.outputs import write_summary, write_symbol_forecasts
from rnnstrategy.universe.per_symbol import SymbolTask, forecast_symbol
from rnnstrategy.universe.pooled import forecast_pooled, with_market
from rnnstrategy.universe.sources import split_sources, stock_list
from rnnstrategy.universe.summary import DateLike, date_text, stem, summary_row

__all__ = ["forecast_universe"]

log = logging.getLogger(__name__)


def forecast_universe(
    sources: str | Path | Sequence[str | Path],
    config: ForecastConfig | PooledConfig | None = None,
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
    as_of: AsOfUniverse | None = None,
) -> pd.DataFrame:
    """Walk-forward forecasts for every source; write them and a summary under ``out_dir``.

    Args:
        sources: CSV paths or A-share symbols, or a folder (its ``*.csv`` files). A stock
            list among them is read as metadata, not forecast.
        config: forecaster and schedule (default :class:`ForecastConfig`; a
            :class:`~rnnstrategy.forecasting.pooled.config.PooledConfig` for a pooled run).
        start, end: first and last forecast dates, the same for every symbol (dates, not
            row positions: rows differ between symbols).
        out_dir: output folder (``forecasts/``, ``summary.csv``, ``summary.json``).
        executor: ``"auto"`` (in-process for one source, a process pool for several),
            ``"inprocess"``, ``"process"`` or ``"ray"``; see :mod:`rnnstrategy.universe.executors`.
        store: fold store directory; :data:`~rnnstrategy.forecasting.foldroot.DEFAULT_STORE` is
            ``folds/`` in the cache;
            None keeps nothing (a crash then loses the finished folds). Workers write it,
            so on a multi-node Ray cluster it must be on a shared filesystem; forecasts
            travel back to this process, which writes ``out_dir``.
        workers: parallel workers (default: one per CPU).
        retries: extra attempts for a symbol whose computation crashed.
        threads: PyTorch threads per symbol; None uses every core without
            oversubscription (see :mod:`rnnstrategy.universe.executors`).
        strict: passed to :func:`~rnnstrategy.data.load_bars`; ``False`` drops bad rows
            of the range read (with a warning) instead of failing the symbol.
        adjust: price adjustment recorded for CSVs, or downloaded for symbols.
        securities: a tushare stock list naming each symbol in the summary (name,
            industry). Default: a stock list among ``sources``, else
            :func:`~rnnstrategy.data.securities.find_securities_file` beside the first
            source (or ``$RNNSTRATEGY_NAMES``); a default one that cannot be read is
            logged and left out, a given one raises.
        progress: called with each symbol's summary row as it finishes.
        on_fold: with a :class:`PooledConfig`, called as each pooled fold is trained or loaded.
        evaluate: measure the forecasts (each symbol's RMSE beside the naive forecast with its
            bootstrap interval, the cross-section); False leaves those columns and
            ``cross_section_daily.csv`` out, for a run that only trades on the forecasts (a daily
            signal), where they cost more than the forecasts themselves.
        as_of: an index's members as they stood (:mod:`~rnnstrategy.universe.as_of`): only the stocks that
            were members on some day of ``start .. end`` are forecast (a pooled model learns from every
            source, or from their member days only), and the cross-section is measured among each day's
            members; ``summary.json`` records it under ``"universe"``.

    With a :class:`PooledConfig` the symbols are loaded here and one model per retrain learns from
    them all (:func:`~rnnstrategy.forecasting.pooled.walkforward.pooled_walk_forward`); ``config.market`` is
    loaded as the index (``"auto"``: the universe's index where the qlib directory ``sources`` holds its bars,
    see :func:`~rnnstrategy.universe.pooled.with_market`). ``executor="ray"`` runs its folds as Ray tasks (``workers``, ``retries`` as for
    symbols; see :mod:`rnnstrategy.universe.pooled_folds`); any other executor trains them here.

    Returns:
        The summary, one row per source in input order, columns
        :data:`~rnnstrategy.universe.summary.SUMMARY_COLUMNS`.

    Raises:
        ConfigError: row positions as ``start``/``end``, or no bar sources.
        DataError: a ``securities`` file that cannot be read.
    """
    config = config or ForecastConfig()
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, int):
            raise ConfigError(f"{name}={value} is a row position; give a date such as '2020-01-02' (rows differ by symbol)")
    if as_of is not None and as_of.members_only_training and not isinstance(config, PooledConfig):
        raise ConfigError("members_only_training applies to a pooled model (--pooled), which learns across stocks; "
                          "a per-stock model learns from its own bars only: add --pooled, or drop it")
    paths, lists = split_sources(sources)
    names_file, metadata = stock_list(securities, lists, paths)
    out = Path(out_dir)
    resolved = resolve_store(store)
    store_dir = str(resolved) if resolved is not None else None
    if isinstance(config, PooledConfig):
        config = with_market(config, sources, as_of)
        return forecast_pooled(paths, config, start, end, out, store_dir, threads, strict, adjust, names_file,
                               metadata, progress, on_fold, evaluate, as_of, executor=executor, workers=workers,
                               retries=retries)
    if as_of is not None:
        paths = as_of.forecast_sources(paths, start, end)
    universe = None if as_of is None else as_of.record()
    tasks = [SymbolTask(source, config, date_text(start), date_text(end), store_dir, strict, adjust, evaluate)
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
        row = _outcome_row(outcome, tasks[index], metadata)
        if outcome.ok and outcome.value[1] is not None:
            write_symbol_forecasts(out, row, outcome.value[1], written)
        rows[index] = row
        if row["notes"] and name != "inprocess":  # logged in a worker: repeat here
            log.warning("%s: %s", row["symbol"], row["notes"])
        log.info("%s: %s in %.1f s%s", row["symbol"], row["status"], row["seconds"] or 0.0,
                 f" ({row['message']})" if row["status"] != "ok" else "")
        if progress:
            progress(row)
        write_summary(out, rows, config, start, end, name, time.perf_counter() - started, names_file,
                      universe=universe)
    cross_section = None
    if evaluate:
        forecasts, closes = cross_section_inputs(out, rows, tasks)
        cross_section = write_cross_section(out, forecasts if as_of is None else as_of.on_member_days(forecasts),
                                            closes)
    return write_summary(out, rows, config, start, end, name, time.perf_counter() - started, names_file,
                         cross_section, universe)


def _outcome_row(outcome: Outcome[tuple[dict[str, object], pd.DataFrame | None]], task: SymbolTask,
                 metadata: dict[str, Security]) -> dict[str, object]:
    """The summary row of a finished task (a failed one gets its error as the message)."""
    if outcome.ok:
        row = dict(outcome.value[0])
    else:
        row = {"symbol": stem(task.source), "source": task.source, "status": "failed", "message": outcome.error}
    return summary_row(row, outcome.attempts, metadata)


def _size_hint(source: str) -> int:
    """Bytes of a CSV source (about proportional to its bars and so to its training work); 0 for a symbol."""
    try:
        return Path(source).stat().st_size
    except OSError:
        return 0
