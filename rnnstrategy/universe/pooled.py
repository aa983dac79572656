"""A pooled universe forecast: every source is loaded here and one model per retrain learns from
them all (:func:`~rnnstrategy.forecasting.pooled.walkforward.pooled_walk_forward`); the summary,
forecast files and cross-section are those of :func:`~rnnstrategy.universe.forecast.forecast_universe`.

With an index as it stood (:class:`~rnnstrategy.universe.as_of.AsOfUniverse`) every source is still
loaded and scored, but only the stocks that were members on some day of the run's range are written
(and summarised); the others are learnt from (by default; with ``members_only_training`` only member
days are) and named in ``summary.json["universe"]["learnt_from_only"]``. Scoring every source keeps each
day's forecasts independent of which stocks join the index later.

With ``executor="ray"`` the folds run as Ray tasks (:mod:`rnnstrategy.universe.pooled_folds`), with the same
forecasts, and ``summary.json`` records ``"executor": "ray"``; any other executor trains the folds here, one
after another, and records ``"pooled"``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from rnnstrategy.data.adjust import adjusted_bars
from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.data.securities import Security
from rnnstrategy.errors import ConfigError, DataError, RnnStrategyError
from rnnstrategy.evaluation.metrics import forecast_metrics
from rnnstrategy.forecasting.foldstore import recorded_warnings
from rnnstrategy.forecasting.pooled.config import MARKET_AUTO, PooledConfig
from rnnstrategy.forecasting.pooled.walkforward import PooledFold, pooled_walk_forward
from rnnstrategy.forecasting.training import torch_threads
from rnnstrategy.universe.as_of import AsOfUniverse, index_benchmark
from rnnstrategy.universe.cross_section import write_cross_section
from rnnstrategy.universe.outputs import write_summary, write_symbol_forecasts
from rnnstrategy.universe.pooled_folds import fold_runner
from rnnstrategy.universe.sources import load_run_bars
from rnnstrategy.universe.summary import NOTED_LOGGERS, DateLike, date_text, day, finish, stem, summary_row

__all__ = ["forecast_pooled", "with_market"]


def forecast_pooled(
    paths: list[str], config: PooledConfig, start: DateLike, end: DateLike, out: Path, store: str | None,
    threads: int | None, strict: bool, adjust: str, names_file: str | None, metadata: dict[str, Security],
    progress: Callable[[dict[str, object]], None] | None, on_fold: Callable[[PooledFold], None] | None,
    evaluate: bool, as_of: AsOfUniverse | None = None, *, executor: str = "auto", workers: int | None = None,
    retries: int = 1,
) -> pd.DataFrame:
    """:func:`~rnnstrategy.universe.forecast.forecast_universe` with one pooled model per retrain
    (a :class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`); ``executor="ray"`` runs the folds as Ray
    tasks (``workers`` at a time, ``retries`` extra attempts for a fold whose task crashed)."""
    if start is None:
        raise ConfigError("a pooled run needs a start date (the first retrain): pass --start, e.g. 2018-01-02")
    started = time.perf_counter()
    runner = fold_runner(executor, workers, retries, threads, config.device)
    executor = "pooled" if runner is None else runner.executor  # what summary.json records
    start_text, end_text = date_text(start), date_text(end)
    rows, bars, index_of = _load_sources(paths, config, start_text, adjust, strict, metadata)
    if not bars:
        write_summary(out, rows, config, start, end, executor, time.perf_counter() - started, names_file)
        raise DataError(f"none of the {len(paths)} sources could be loaded; see {out / 'summary.csv'}")
    forecast = list(index_of) if as_of is None else as_of.forecast_sources(list(index_of), start_text, end_text)
    market = None
    if config.market:
        market = load_run_bars(config.market, config, start_text, adjust=adjust, strict=strict)
    with torch_threads(threads), recorded_warnings(*NOTED_LOGGERS) as notes:
        frames = pooled_walk_forward(bars, config, start_text, end_text, market=market, store=store,
                                     progress=on_fold, train_days=as_of.training_days(bars) if as_of else None,
                                     run_folds=runner)
        notes += runner.notes if runner is not None else []  # the warnings recorded in the fold tasks
    universe = None if as_of is None else {**as_of.record(),
                                           "learnt_from_only": _learnt_from_only(forecast, frames, rows, index_of)}
    written: dict[str, str] = {}
    for symbol, k in index_of.items():
        if k not in rows:
            continue
        row = rows[k]
        forecasts = frames.get(symbol)
        if forecasts is None:
            row.update(status="skipped", message=f"no forecast: fewer than lookback={config.lookback} bars "
                       f"before {day(bars[symbol].index[-1])} in the range")
        else:
            metrics = forecast_metrics(forecasts, bars[symbol]) if evaluate else {}
            folds = forecasts.attrs["folds"]
            row.update(forecasts=len(forecasts), first_forecast=day(forecasts.index[0]),
                       last_forecast=day(forecasts.index[-1]), folds=len(folds),
                       trained=sum(not f["stored"] for f in folds), rmse=metrics.get("rmse"),
                       baseline_rmse=metrics.get("baseline_prev_close_rmse"), rmse_ratio=metrics.get("rmse_ratio"),
                       direction_hit_rate=metrics.get("direction_hit_rate"),
                       notes=" | ".join(notes) or None)
            write_symbol_forecasts(out, row, forecasts, written)
        if progress:
            progress(row)
    closes = {symbol: bars[symbol]["close"] for symbol in frames}
    ranked = frames if as_of is None else as_of.on_member_days(frames)  # measured among each day's members
    opens = ({symbol: adjusted_bars(bars[symbol])["open"] for symbol in frames} if config.label_sessions > 1
             else None)  # the h-session return the label spans, of adjusted opens as the label's
    cross_section = (write_cross_section(out, ranked, closes, opens=opens, sessions=config.label_sessions)
                     if evaluate else None)
    return write_summary(out, rows, config, start, end, executor, time.perf_counter() - started, names_file,
                         cross_section, universe)


def with_market(config: PooledConfig, sources: object, as_of: AsOfUniverse | None) -> PooledConfig:
    """``config`` with ``market="auto"`` resolved for DATA ``sources``: the own bars of the universe's index
    (``csi300`` -> ``sh000300``; without a universe, of the index whose membership the directory holds) where
    ``sources`` is a qlib directory that holds them (``<directory>::sh000300``, see
    :func:`~rnnstrategy.universe.as_of.index_benchmark`), else None: no market features."""
    if config.market != MARKET_AUTO:
        return config
    return dataclasses.replace(config, market=index_benchmark(sources, None if as_of is None else as_of.name))


def _learnt_from_only(forecast: list[str], frames: dict[str, pd.DataFrame], rows: dict[int, dict[str, object]],
                      index_of: dict[str, int]) -> list[str]:
    """Drop (in place) the forecasts and summary rows of the stocks not in ``forecast``; return them, sorted."""
    others = sorted(set(index_of) - set(forecast))
    for symbol in others:
        frames.pop(symbol, None)
        del rows[index_of[symbol]]
    return others


def _load_sources(
    paths: list[str], config: PooledConfig, start: str, adjust: str, strict: bool, metadata: dict[str, Security],
) -> tuple[dict[int, dict[str, object]], dict[str, pd.DataFrame], dict[str, int]]:
    """Every source's bars over the run's range: ``(summary rows by source position, bars by symbol,
    source position by symbol)``; a source that cannot be loaded, or repeats a symbol, fails its row."""
    rows: dict[int, dict[str, object]] = {}
    bars: dict[str, pd.DataFrame] = {}
    index_of: dict[str, int] = {}
    for k, source in enumerate(paths):
        loaded = time.perf_counter()
        row: dict[str, object] = {"symbol": stem(source), "source": source}
        try:
            frame = load_run_bars(source, config, start, adjust=adjust, strict=strict)
        except RnnStrategyError as exc:
            rows[k] = summary_row(finish(row, loaded, "failed", str(exc)), 1, metadata)
            continue
        symbol = str(frame.attrs.get("symbol") or row["symbol"])
        row.update(symbol=symbol, bars=len(frame), first_bar=day(frame.index[0]), last_bar=day(frame.index[-1]),
                   fingerprint=DataFingerprint(frame).upto(len(frame) - 1))
        if symbol in index_of:
            rows[k] = summary_row(finish(row, loaded, "failed", f"{source} is the symbol {symbol} again "
                                         f"({paths[index_of[symbol]]}); keep one of them"), 1, metadata)
            continue
        bars[symbol], index_of[symbol] = frame, k
        rows[k] = summary_row(finish(row, loaded, "ok", ""), 1, metadata)
    return rows, bars, index_of
