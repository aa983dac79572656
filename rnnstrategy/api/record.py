"""Measuring and recording a finished run: the one step every kind of run shares.

A single-stock backtest, a universe backtest and a paper account's report each end the same way:
the equity gets its return columns (the strategy's, the benchmark's and buy-and-hold's beside it),
:func:`measure` makes the :class:`~rnnstrategy.report.measures.RunReport` and the metrics (with, for a
run of several stocks, the verdict beside the baseline and the share invested), :func:`manifest`
records what reproduces it, and the titles come from :func:`rnnstrategy.report.titles.run_titles` (the
names from :func:`names_file`). Writing the files is
:func:`rnnstrategy.report.folder.write_run`, called by each result's ``write``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.config import RunConfig
from rnnstrategy.report.folder_checks import checksums

if TYPE_CHECKING:
    from rnnstrategy.backtrader.results import BacktestResult
    from rnnstrategy.report.measures import RunReport
    from rnnstrategy.report.titles import Titles

__all__ = ["Timer", "created", "definition_record", "dropped_rows", "manifest", "measure", "names_file",
           "write_forecast_manifest"]


class Timer:
    """Wall-clock seconds per stage (the manifest's ``timings``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)


def measure(equity: pd.DataFrame, returns: pd.Series, trades: pd.DataFrame, *, held: BacktestResult,
            benchmark: pd.DataFrame | None, titles: Titles, parameters: Mapping[str, object],
            forecasts: pd.DataFrame | None = None, forecast: Mapping[str, object] | None = None, trials: int = 1,
            symbols: tuple[str, ...] = (), baseline: str | None = None,
            corporate_actions: pd.DataFrame | None = None) -> tuple[RunReport, dict[str, Any]]:
    """The report and the metrics of a finished run.

    Args:
        equity: what the run held by date (value, cash, position, close).
        returns: the strategy's daily returns.
        trades: its fills.
        held: the Backtrader run of buy-and-hold beside it (same days, cash, fees and lots).
        benchmark: the benchmark's bars; None: buy-and-hold is the benchmark.
        titles, parameters, trials, symbols: as :class:`~rnnstrategy.report.measures.RunReport` takes them.
        forecasts: the forecast frame traded on (one stock); None: none (a universe's are written per symbol).
        forecast: the forecast metrics (``metrics["forecast"]``).
        baseline: what buy-and-hold is called in the verdict on the excess return (``"the equal-weight
            universe"``); given, the metrics add that verdict (and one on the excess over the benchmark), the stocks
            traded, the share of the value invested and ``"universe"`` (its size and the stocks traded); None: a
            one-stock backtest's metrics.
        corporate_actions: the dividends, bonus shares and splits the broker booked (``corporate_actions.csv``).
    """
    from rnnstrategy.report.benchmark import benchmark_returns
    from rnnstrategy.report.measures import RunReport, excess_verdict, run_metrics

    dates = equity.index
    held_returns = held.returns.reindex(dates)
    equity = equity.assign(**{
        "return": returns,
        "benchmark_return": held_returns if benchmark is None else benchmark_returns(benchmark, dates),
        "buy_and_hold_return": held_returns,
    })
    report = RunReport(equity=equity, trades=trades, forecasts=pd.DataFrame() if forecasts is None else forecasts,
                       titles=titles, parameters=parameters, trials=trials, symbols=symbols,
                       corporate_actions=corporate_actions)
    metrics = run_metrics(report, forecast)
    if baseline is not None:
        metrics["trades"] |= {"symbols_traded": int(trades["symbol"].nunique()),
                              "invested": float((1 - equity["cash"] / equity["value"]).mean())}
        metrics["excess_over_buy_and_hold"]["verdict"] = excess_verdict(metrics["excess_over_buy_and_hold"], baseline)
        metrics["excess_over_benchmark"]["verdict"] = excess_verdict(
            metrics["excess_over_benchmark"], baseline if benchmark is None else titles.benchmark)
        metrics["universe"] = {"symbols": len(symbols), "traded": sorted(trades["symbol"].unique().tolist())}
    return report, metrics


def names_file(config: RunConfig) -> str | Path | None:
    """The stock list a run's titles take names from: the configured one, else one found beside the data."""
    from rnnstrategy.report.names import find_names_file

    source = config.data.source
    near = None if isinstance(source, tuple) or source.startswith("<") else source
    return config.data.names or find_names_file(near)


def created() -> str:
    """When a run was recorded: now, in UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def definition_record(config: RunConfig, config_file: str | Path | None, strategy: type) -> dict[str, Any]:
    """What a backtest's manifest records of its definition: the file it came from (path and text), the
    configuration and the strategy class."""
    config_file = Path(config_file) if config_file else None
    return {
        "config_file": str(config_file) if config_file else None,
        "config_file_text": config_file.read_text(encoding="utf-8") if config_file else None,
        "config": config.to_dict(),
        "strategy": f"{strategy.__module__}.{strategy.__qualname__}",
    }


def manifest(source: Mapping[str, Any], *, data: Any, benchmark: Any, forecasts: Mapping[str, Any] | None = None,
             timings: Mapping[str, float] | None = None, frames: Iterable[pd.DataFrame] = (),
             changed: Sequence[str] = ()) -> dict[str, Any]:
    """What reproduces a run (``manifest.json``, less what :func:`~rnnstrategy.report.folder.write_run` adds):
    when and how it ran, its ``source`` (a backtest's :func:`definition_record`, a paper account), the
    ``data`` and ``benchmark`` records, the ``forecasts``, package versions, ``timings``, the rows a lenient
    load dropped from ``frames`` and what ``changed`` since a replayed run."""
    from rnnstrategy.report.manifest import package_versions

    record: dict[str, Any] = {"created": created(), "command": sys.argv, "cwd": str(Path.cwd()), **source,
                              "data": data, "benchmark": benchmark}
    if forecasts is not None:
        record["forecasts"] = forecasts
    record["packages"] = package_versions()
    if timings is not None:
        record["timings"] = dict(timings)
    if dropped := dropped_rows(frames):
        record["dropped"] = dropped
    if changed:
        record["data_changed"] = list(changed)
    return record


def dropped_rows(frames: Iterable[pd.DataFrame]) -> dict[str, Any]:
    """The bars a lenient load dropped (each frame's :class:`~rnnstrategy.data.frame.BadRows`), by symbol, as the
    manifest records them: the reason and the dates of each."""
    dropped = {}
    for frame in frames:
        rows = frame.attrs.get("dropped")
        if not rows:
            continue
        reasons = getattr(rows, "reasons", None)
        dropped[str(frame.attrs.get("symbol", ""))] = str(rows) if not isinstance(reasons, Mapping) else {
            "rows": int(rows.count), "reasons": {
                str(reason): [f"{pd.Timestamp(d):%Y-%m-%d}" for d in dates] for reason, dates in reasons.items()}}
    return dropped


def write_forecast_manifest(out: Path, names: Sequence[str]) -> Path:
    """``out/manifest.json`` of a forecast run: its kind, when, the command line and the files' SHA-256."""
    from rnnstrategy.report.folder import write_json

    return write_json(out / "manifest.json", {
        "kind": "forecast", "created": created(), "command": sys.argv, "files": checksums(out, names)})
