"""The one-call API: from data to every result of a backtest or a forecast, in one function.

The command line, TOML runs (``rnnstrategy run``), the README and the notebook all go
through these functions::

    import rnnstrategy as rs

    run = rs.backtest("SH600519.csv", benchmark="sh000300.csv", forecast=rs.ForecastConfig(cell="lstm"))
    run.metrics["strategy"]["sharpe"], run.trades, run.equity, run.forecasts
    run.write("runs/moutai")      # report.html, PNG plots, metrics.json, CSVs, manifest.json

    fc = rs.forecast("SH600519.csv", start="2019-01-02")          # forecasts and their metrics
    universe = rs.forecast("stocks/", out="runs/universe")       # a folder or list: one file per symbol
    topk = rs.backtest("stocks/", strategy="top_k", k=10, start="2018-01-02", out="runs/topk")  # a universe, traded

Heavy libraries load when a call needs them: PyTorch to train, Backtrader to trade,
quantstats to draw the tearsheet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.config import (
    BacktestSpec,
    BenchmarkSpec,
    DataSpec,
    RunConfig,
    date_text,
)
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError, DataError, RnnStrategyError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.report.console import (
    backtest_summary,
    universe_backtest_summary,
    verdict_lines,
)
from rnnstrategy.runfolder import check_kind, checksums

if TYPE_CHECKING:
    from rnnstrategy.backtrader.results import BacktestResult
    from rnnstrategy.forecasting.walkforward import FoldReport
    from rnnstrategy.report.run import RunReport
    from rnnstrategy.sweeping import SweepSpec

__all__ = ["DEFAULT_STORE", "BacktestRun", "ForecastRun", "SignalRun", "UniverseBacktestRun", "UniverseRun", "backtest", "compare",
           "forecast", "read_positions", "run", "signal", "sweep"]

log = logging.getLogger(__name__)

DEFAULT_STORE = "default"
"""``store=DEFAULT_STORE``: keep fitted folds in ``folds/`` under the cache root, so a repeated
or extended run trains only what is new; a path keeps them there; None keeps nothing."""

Source = str | Path | pd.DataFrame
_SPEC = BacktestSpec()


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ForecastRun:
    """Walk-forward forecasts of one security and their metrics.

    Attributes:
        forecasts: the forecast frame (``pred_open_1..H``, ``fold``, realised ``open_1..H``).
        metrics: what ``metrics.json`` holds: errors beside the naive forecasts, the verdict,
            retrains, data fingerprint, configuration, folds.
        bars: the bars the forecasts were made from.
        config: the forecaster configuration.
    """

    forecasts: pd.DataFrame
    metrics: dict[str, Any]
    bars: pd.DataFrame = field(repr=False)
    config: ForecastConfig

    def write(self, out: str | Path) -> list[Path]:
        """Write ``forecasts.csv`` (with its ``.meta.json``), ``metrics.json`` and, last, a ``manifest.json``
        (kind ``"forecast"``, the files' SHA-256) into ``out``, which must not hold another kind of run."""
        from rnnstrategy.forecasting.frames import meta_path, write_forecasts
        from rnnstrategy.report.run import write_json

        out = Path(out)
        check_kind(out, "forecast")
        out.mkdir(parents=True, exist_ok=True)
        path = write_forecasts(self.forecasts, out / "forecasts.csv")
        paths = [path, meta_path(path), write_json(out / "metrics.json", self.metrics)]
        return paths + [_write_forecast_manifest(out, [p.name for p in paths])]

    def summary(self) -> list[str]:
        """A few lines for a console: the window, retrains and the verdict against the previous close."""
        m = self.metrics
        lines = [f"{m['symbol']}: {len(self.forecasts)} forecasts {m['first_forecast']}..{m['last_forecast']}, "
                 f"{m['retrains']} retrains ({m['trained']} trained) in {m['seconds']:.1f}s"]
        return lines + verdict_lines(m, "")


@dataclass(frozen=True)
class UniverseRun:
    """Forecasts of many securities, written under ``out`` as they finished.

    Attributes:
        summary: one row per source: status (``ok``, ``skipped``, ``failed``), bars,
            forecasts, RMSE ratio against the previous close, hit rate, seconds, message.
        out: the directory holding ``forecasts/<symbol>.csv``, ``summary.csv`` and ``summary.json``.
        seconds: wall-clock time of the run.
    """

    summary: pd.DataFrame
    out: Path
    seconds: float

    @property
    def ok(self) -> bool:
        """No source failed (skipped ones, with too little history, do not count)."""
        return not (self.summary["status"] == "failed").any()

    def forecasts(self, symbol: str) -> pd.DataFrame:
        """The forecast frame of ``symbol`` (as in the summary, e.g. ``600519.SH``)."""
        from rnnstrategy.forecasting.frames import read_forecasts

        return read_forecasts(self.out / "forecasts" / f"{symbol}.csv")

    @property
    def recorded(self) -> dict[str, Any]:
        """``summary.json``: the configuration, the counts and the ``"cross_section"`` (empty if unreadable)."""
        try:
            recorded = json.loads((self.out / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return recorded if isinstance(recorded, dict) else {}

    def summary_lines(self) -> list[str]:
        """A few lines for a console: counts, speed, the cross-section beside the reversal factor,
        the median RMSE ratio (per-symbol models only), what failed and why."""
        table = self.summary
        ok = table[table["status"] == "ok"]
        counts = table["status"].value_counts()
        made = int(ok["forecasts"].sum())
        lines = [f"{len(table)} sources: {counts.get('ok', 0)} ok, {counts.get('skipped', 0)} skipped, "
                 f"{counts.get('failed', 0)} failed; {made:,} forecasts in {self.seconds:.1f}s "
                 f"({made / max(self.seconds, 1e-9):.1f}/s)"]
        recorded = self.recorded
        cs = recorded.get("cross_section") or {}
        if cs.get("n_days"):
            lines.append(f"cross-section over {cs['n_days']} days: mean daily rank IC {cs['rank_ic']:.4f} (ICIR "
                         f"{cs['rank_icir']:.2f}, t {cs['rank_ic_t']:.1f}), top-minus-bottom quintile "
                         f"{1e4 * cs['long_short']:.1f} bp a day; 5-day reversal on the same stock-days: rank IC "
                         f"{_ratio4(cs['baseline_reversal5_rank_ic'])}")
        if len(ok) and not (recorded.get("config") or {}).get("pooled"):  # pooled: relative returns, not prices
            lines.append(f"median h=1 RMSE ratio vs previous close {ok['rmse_ratio'].median():.3f}, "
                         f"median direction hit rate {ok['direction_hit_rate'].median():.3f}")
        lines += [f"  {row.symbol}: {row.status}: {row.message}" for row in table[table["status"] != "ok"].itertuples()]
        return lines


def _ratio4(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@dataclass(frozen=True)
class BacktestRun:
    """A finished backtest: everything the command line writes, as Python objects.

    Attributes:
        config: the run's configuration (what ``manifest.json`` records).
        metrics: what ``metrics.json`` holds: strategy, benchmark and buy-and-hold figures,
            the excess return over buy-and-hold, trade statistics, forecast quality beside
            the naive forecasts.
        trades: one row per fill (date, symbol, side, size, price, value, fees).
        equity: by date: value, cash, position, close, return, benchmark_return, buy_and_hold_return.
        forecasts: the forecast frame the strategy traded on.
        manifest: configuration, strategy class, data fingerprints, package versions, timings.
        report: the :class:`~rnnstrategy.report.run.RunReport` the tearsheet is drawn from.
        buy_and_hold: the Backtrader run of buy-and-hold of the traded stock (its equity and
            its one buy), same dates, cash, fees and lots as the strategy.
    """

    config: RunConfig
    metrics: dict[str, Any]
    trades: pd.DataFrame
    equity: pd.DataFrame
    forecasts: pd.DataFrame
    manifest: dict[str, Any]
    report: RunReport = field(repr=False)
    buy_and_hold: BacktestResult | None = field(default=None, repr=False)

    def write(self, out: str | Path) -> list[Path]:
        """Write every file of a run into ``out``: ``report.html`` (quantstats tearsheet), the PNG
        plots, ``metrics.json``, ``trades.csv``, ``equity.csv``, ``forecasts.csv`` and, last,
        ``manifest.json``; returns their paths."""
        from rnnstrategy.report.plots import use_agg
        from rnnstrategy.report.run import FILES, write_run

        use_agg()
        manifest = self.manifest
        if _is_frame_label(self.config.backtest.forecasts):  # a rerun reads the forecasts written beside it
            config = manifest["config"]
            written = str((Path(out) / FILES["forecasts"]).resolve())
            manifest = {**manifest, "config": {**config, "backtest": {**config["backtest"], "forecasts": written}}}
        return write_run(out, self.report, metrics=self.metrics, manifest=manifest)

    def summary(self) -> list[str]:
        """A few lines for a console: returns, Sharpe ratios and drawdowns beside the benchmark,
        trading, and the forecast verdict (:func:`rnnstrategy.report.console.backtest_summary`)."""
        return backtest_summary(self.metrics)


@dataclass(frozen=True)
class UniverseBacktestRun:
    """A finished backtest of a universe (e.g. ``top_k``): the same files and attributes as a
    :class:`BacktestRun`, with the equal-weight universe in the place of buy-and-hold.

    Attributes:
        config: the run's configuration (what ``manifest.json`` records).
        metrics: what ``metrics.json`` holds: strategy, benchmark and equal-weight universe
            (``buy_and_hold``) figures, the excess return over the equal-weight universe with its HAC
            t-test and verdict, trades (turnover, fills, fees by kind), the universe and its forecasts.
        trades: one row per fill (date, symbol, side, size, price, value, fees).
        equity: by date: value, cash, position (stocks held), close (empty), return,
            benchmark_return, buy_and_hold_return (the equal-weight universe).
        forecasts: the universe forecast run traded on (its ``summary`` and the folder holding
            ``forecasts/<symbol>.csv``).
        manifest: configuration, strategy class, data fingerprints, package versions, timings.
        report: the :class:`~rnnstrategy.report.run.RunReport` the tearsheet is drawn from.
        buy_and_hold: the Backtrader run of the equal-weight basket of the same stocks.
    """

    config: RunConfig
    metrics: dict[str, Any]
    trades: pd.DataFrame
    equity: pd.DataFrame
    forecasts: UniverseRun
    manifest: dict[str, Any]
    report: RunReport = field(repr=False)
    buy_and_hold: BacktestResult | None = field(default=None, repr=False)

    @property
    def forecast_files(self) -> list[str]:
        """The universe's forecast files, relative to a run folder: summaries and ``forecasts/<symbol>.csv``."""
        return ["summary.csv", "summary.json", *(f"forecasts/{symbol}.csv" for symbol in self.report.symbols)]

    def write(self, out: str | Path) -> list[Path]:
        """Write every file of the run into ``out`` (see :meth:`BacktestRun.write`), with the universe's
        forecasts (``summary.csv``, ``summary.json``, ``forecasts/<symbol>.csv``, copied when they were
        computed elsewhere) in place of ``forecasts.csv``; the manifest records their SHA-256 too."""
        import shutil

        from rnnstrategy.report.plots import use_agg
        from rnnstrategy.report.run import write_run

        use_agg()
        out = Path(out)
        here = out.resolve() == self.forecasts.out.resolve()
        if not here or (out / "manifest.json").is_file():  # not the folder it just forecast into: no other kind
            check_kind(out, "backtest")
        for name in self.forecast_files:
            source = self.forecasts.out / name
            if not here and source.is_file():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, out / name)
                meta = source.with_suffix(".meta.json")
                if meta.is_file():
                    shutil.copyfile(meta, (out / name).with_suffix(".meta.json"))
        return write_run(out, self.report, metrics=self.metrics, manifest=self.manifest, checked=self.forecast_files)

    def summary(self) -> list[str]:
        """A few lines for a console: the strategy, the benchmark and the equal-weight universe side by side,
        trading and fees, and whether the strategy beats the equal-weight universe after costs
        (:func:`rnnstrategy.report.console.universe_backtest_summary`)."""
        return universe_backtest_summary(self.metrics)


# ---------------------------------------------------------------- forecasts


def forecast(
    data: Source | Sequence[str | Path],
    config: ForecastConfig | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    out: str | Path | None = None,
    adjust: str = "qfq",
    strict: bool = True,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    executor: str = "auto",
    workers: int | None = None,
    retries: int = 1,
    on_fold: Callable[[FoldReport], None] | None = None,
    on_symbol: Callable[[dict[str, object]], None] | None = None,
) -> ForecastRun | UniverseRun:
    """Walk-forward forecasts of one security, or of a universe.

    Args:
        data: one security (a CSV path, a symbol such as ``"600519"``, or a bar frame), or a
            universe (a folder of CSVs, or a list of paths/symbols).
        config: the forecaster and its schedule (default :class:`ForecastConfig`).
        start, end: first and last forecast dates (training uses the bars before ``start``;
            only the bars a run needs are loaded and validated).
        out: for a universe, the directory each symbol's forecasts and the summary are
            written into as they finish (required); for one security, optional: the files
            :meth:`ForecastRun.write` writes.
        adjust: price adjustment of a symbol download.
        strict: refuse bad rows (default), or drop them with a warning (``False``).
        store: the fold store (:data:`DEFAULT_STORE`, a directory, or None for none).
        threads: PyTorch threads (per worker in a universe); None: every core.
        executor, workers, retries: how a universe runs (``auto``/``inprocess``/``process``/
            ``ray``; see :mod:`rnnstrategy.forecasting.executors`).
        on_fold: called after each fold of one security is fitted or loaded.
        on_symbol: called with each universe summary row as its symbol finishes.

    Returns:
        A :class:`ForecastRun` for one security, a :class:`UniverseRun` for several.
    """
    config = config or ForecastConfig()
    _check_device(config.device)  # before any loading or training
    start, end = date_text("start", start), date_text("end", end)
    if out is not None:  # refused before the work, not after
        check_kind(out, "forecast")
    if _is_universe(data):
        if out is None:
            raise ConfigError("a universe forecast writes each symbol's forecasts as it finishes: "
                              "pass out='runs/universe' (CLI: --out DIR)")
        return _forecast_universe(data, config, start, end, Path(out), adjust=adjust, strict=strict, store=store,
                                  threads=threads, executor=executor, workers=workers, retries=retries,
                                  on_symbol=on_symbol, on_fold=on_fold)
    bars = _load(data, adjust, start, config.history_needed(), strict=strict)
    started = time.perf_counter()
    frame = _walk_forward(bars, config, start, end, store=store, threads=threads, on_fold=on_fold)
    result = ForecastRun(frame, _forecast_metrics(frame, bars, config, time.perf_counter() - started), bars, config)
    if out is not None:
        result.write(out)
    return result


def _check_device(device: str) -> None:
    """Refuse a device this machine lacks (``--device cuda`` without CUDA) before any work."""
    from rnnstrategy.forecasting.forecaster import resolve_device

    resolve_device(device)


def _is_universe(data: object) -> bool:
    if isinstance(data, pd.DataFrame):
        return False
    if isinstance(data, (list, tuple)):
        return len(data) != 1 or Path(data[0]).is_dir()
    return Path(data).is_dir()  # type: ignore[arg-type]


def _forecast_universe(data: Any, config: ForecastConfig, start: str | None, end: str | None, out: Path,
                       **options: Any) -> UniverseRun:
    from rnnstrategy.forecasting.universe import forecast_universe

    sources = data if not isinstance(data, (list, tuple)) or len(data) != 1 else data[0]
    on_symbol = options.pop("on_symbol")
    on_fold = options.pop("on_fold", None)  # pooled runs report their folds
    manifest = options.pop("manifest", True)  # False: the forecast stage of a universe backtest, which writes its own
    evaluate = options.pop("evaluate", True)  # False: a signal, which trades on the forecasts and measures nothing
    started = time.perf_counter()
    summary = forecast_universe(sources, config, start, end, out_dir=out, progress=on_symbol, on_fold=on_fold,
                                evaluate=evaluate, **options)
    figures = _cross_section_figures(out) if evaluate else []
    if manifest:
        _write_forecast_manifest(out, ["summary.csv", "summary.json", *figures])
    return UniverseRun(summary, out, time.perf_counter() - started)


def _cross_section_figures(out: Path) -> list[str]:
    """Draw the cross-section of a universe run (cumulative rank IC, quintile returns) from the files
    the forecast stage wrote; return the names of the files behind them."""
    from rnnstrategy.report.plots import write_cross_section_figures

    daily_path = out / "cross_section_daily.csv"
    if not daily_path.exists():
        return []
    daily = pd.read_csv(daily_path, index_col="date", parse_dates=True)
    metrics = json.loads((out / "summary.json").read_text(encoding="utf-8")).get("cross_section") or {}
    paths = write_cross_section_figures(out, daily, metrics) if len(daily) else []
    return ["cross_section_daily.csv", *(path.name for path in paths)]


def _write_forecast_manifest(out: Path, names: Sequence[str]) -> Path:
    """``out/manifest.json`` of a forecast run: its kind, when, the command line and the files' SHA-256."""
    from rnnstrategy.report.run import write_json

    return write_json(out / "manifest.json", {
        "kind": "forecast", "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv, "files": checksums(out, names)})


def _load(data: Source, adjust: str, start: str | None, history: int, *, strict: bool = True) -> pd.DataFrame:
    """The bars a run reads: ``history`` bars before ``start`` and all after (a frame as given)."""
    if isinstance(data, pd.DataFrame):
        return data
    return load_bars(data, start=start, history=history, adjust=adjust, strict=strict)


def _resolved_store(store: str | Path | None) -> Path | None:
    if store is None:
        return None
    if store == DEFAULT_STORE:
        from rnnstrategy.forecasting.foldstore import default_store_dir

        return default_store_dir()
    return Path(store)


def _walk_forward(bars: pd.DataFrame, config: ForecastConfig, start: str | None, end: str | None, *,
                  store: str | Path | None, threads: int | None,
                  on_fold: Callable[[FoldReport], None] | None) -> pd.DataFrame:
    from rnnstrategy.forecasting.training import torch_threads
    from rnnstrategy.forecasting.walkforward import walk_forward

    with torch_threads(threads or None):
        return walk_forward(bars, config, start, end, store=_resolved_store(store), progress=on_fold)


def _forecast_metrics(forecasts: pd.DataFrame, bars: pd.DataFrame, config: ForecastConfig,
                      seconds: float) -> dict[str, Any]:
    from rnnstrategy.data.fingerprint import DataFingerprint
    from rnnstrategy.evaluation import forecast_metrics

    folds = forecasts.attrs.get("folds") or []
    return {
        **forecast_metrics(forecasts, bars),
        "retrains": len(folds),
        "trained": sum(bool(f["trained"]) for f in folds),
        "seconds": round(seconds, 3),
        "symbol": bars.attrs.get("symbol"),
        "first_forecast": f"{forecasts.index[0]:%Y-%m-%d}",
        "last_forecast": f"{forecasts.index[-1]:%Y-%m-%d}",
        "data": {"source": bars.attrs.get("source"), "rows": len(bars), "first": f"{bars.index[0]:%Y-%m-%d}",
                 "fingerprint": DataFingerprint(bars).upto(len(bars) - 1)},
        "config": config.to_dict(),
        "folds": [{k: v for k, v in f.items() if k != "history"} for f in folds],
    }


# ---------------------------------------------------------------- backtests


def backtest(
    data: Source | Sequence[str | Path] | None,
    benchmark: Source | None = None,
    *,
    forecast: ForecastConfig | None = None,
    strategy: str = _SPEC.strategy,
    params: Mapping[str, Any] | None = None,
    execution: str | None = _SPEC.execution,
    cash: float = _SPEC.cash,
    trials: int = _SPEC.trials,
    rules: AShareRules | None = None,
    start: str | None = _SPEC.start,
    end: str | None = _SPEC.end,
    forecasts: str | Path | pd.DataFrame | None = _SPEC.forecasts,
    adjust: str = "qfq",
    name: str | None = None,
    benchmark_title: str | None = None,
    k: int | None = _SPEC.k,
    max_turnover: float | None = _SPEC.max_turnover,
    exit_rank: int | None = _SPEC.exit_rank,
    entry_threshold: float | None = _SPEC.entry_threshold,
    exit_threshold: float | None = _SPEC.exit_threshold,
    strict: bool = True,
    out: str | Path | None = None,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    executor: str = "auto",
    workers: int | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
    on_bar: Callable[[int, int], None] | None = None,
    on_symbol: Callable[[dict[str, Any]], None] | None = None,
) -> BacktestRun | UniverseBacktestRun:
    """Forecast walk-forward, trade the forecasts under A-share rules, and measure the result.

    A universe (``data`` a folder of CSVs or several paths or symbols, or None with ``forecasts``
    the folder of a universe run) is traded by ``strategy="top_k"`` in one Backtrader run,
    against the benchmark and the equal-weight universe, and gives a :class:`UniverseBacktestRun`::

        rs.backtest("stocks/", "sh000300.csv", strategy="top_k", k=10, start="2018-01-02", out="runs/topk")
        rs.backtest(None, "sh000300.csv", strategy="top_k", forecasts="runs/universe")  # reuse forecasts

    Args:
        data: the traded security: CSV path, symbol (``"600519"``) or canonical bar frame; or a
            universe: a folder of CSVs, or a list of paths or symbols.
        benchmark: an index or stock to compare with (path, symbol or frame); None compares
            with buy-and-hold of the traded stock.
        forecast: the forecaster and its schedule (default :class:`ForecastConfig`).
        strategy: a ready strategy (``"forecast_long"``, ``"overnight_gap"``) or a dotted path
            to a :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy` subclass.
        params: the strategy's own parameters (unknown names are an error).
        execution: ``"next_open"`` or ``"close"`` (cheat-on-close); None: the strategy's own.
        cash: starting cash, CNY.
        trials: configurations tried before choosing this one; > 1 adds the deflated Sharpe
            ratio to the metrics, the tearsheet and the summary.
        rules: the A-share broker rules (default :class:`AShareRules`: every rule on).
        start, end: the backtest window = the first and last forecast dates.
        forecasts: reuse a forecast frame (or its CSV) instead of training; for a universe, the
            folder of a universe run (``summary.csv`` and ``forecasts/<symbol>.csv``).
        k, max_turnover, exit_rank, entry_threshold, exit_threshold: the strategy's parameters of
            those names (``top_k``; the thresholds also ``forecast_long``); None: the strategy's default.
        strict: False drops bars that fail validation (each listed in a warning and the manifest).
        out: write every file of the run there (a universe's forecasts as they finish; required
            for a universe that is forecast, not reused).
        adjust: price adjustment of a symbol download.
        name: the security's name in titles (default: looked up in a tushare stock list).
        benchmark_title: the benchmark's name (default: the index name).
        store: the fold store (:data:`DEFAULT_STORE`, a directory, or None for none).
        threads: PyTorch threads; None: every core.
        executor, workers: how a universe is forecast (see :func:`forecast`).
        on_fold: called after each fold is fitted or loaded (a progress bar); in a universe, after each
            pooled fold (a per-symbol universe reports each symbol through ``on_symbol``).
        on_bar: called with (bars done, bars in total) as the backtest runs.
        on_symbol: called with each universe summary row as its symbol finishes.

    Returns:
        A :class:`BacktestRun` (a :class:`UniverseBacktestRun` for a universe); ``.write(path)`` writes
        the report files.
    """
    if data is None:
        if forecasts is None or isinstance(forecasts, pd.DataFrame) or not Path(forecasts).is_dir():
            raise ConfigError("no data: give the stock (a CSV path or symbol), a universe (a folder or a list), or "
                              "forecasts= the folder of a universe run")
        data = str(forecasts)
    if isinstance(data, (list, tuple)):
        data = tuple(str(source) for source in data)
    reused = forecasts
    if isinstance(forecasts, (str, Path)) and not Path(forecasts).is_dir():
        from rnnstrategy.forecasting.frames import read_forecasts

        reused = read_forecasts(forecasts)  # read once; the configuration records its path
    if isinstance(reused, (str, Path)):  # the folder of a universe run
        reused = None
    if forecast is None and reused is not None and reused.attrs.get("config"):
        forecast = ForecastConfig.from_dict(reused.attrs["config"])  # the configuration that made them
    frames = {}
    if isinstance(data, pd.DataFrame):
        frames["bars"] = data
    if isinstance(benchmark, pd.DataFrame):
        frames["benchmark"] = benchmark
    if reused is not None:
        frames["forecasts"] = reused
    if forecast is None and isinstance(forecasts, (str, Path)) and Path(forecasts).is_dir():
        forecast = _universe_forecast_config(Path(forecasts))  # the configuration that made them
    config = RunConfig(
        data=DataSpec(source=data if isinstance(data, tuple) else _label(data), adjust=adjust, name=name,
                      strict=strict),
        forecast=forecast or ForecastConfig(),
        backtest=BacktestSpec(strategy=strategy, execution=execution, cash=cash, start=date_text("start", start),
                              end=date_text("end", end),
                              trials=trials,
                              forecasts=None if forecasts is None else _label(forecasts), params=dict(params or {}),
                              k=k, max_turnover=max_turnover, exit_rank=exit_rank, entry_threshold=entry_threshold,
                              exit_threshold=exit_threshold),
        benchmark=BenchmarkSpec(source=None if benchmark is None else _label(benchmark), title=benchmark_title),
        rules=rules or AShareRules(),
    )
    if out is not None:
        check_kind(out, "backtest")  # before the work, not after
    result = run(config, store=store, threads=threads, on_fold=on_fold, on_bar=on_bar, out=out, executor=executor,
                 workers=workers, on_symbol=on_symbol, **frames)
    if out is not None:
        result.write(out)
    return result


def _label(source: Source) -> str:
    """How a source is recorded in the configuration: its path or symbol, or a frame's symbol."""
    if isinstance(source, pd.DataFrame):
        return f"<frame {source.attrs.get('symbol', '')}>".replace(" >", ">")
    return str(source)


def _is_frame_label(source: str | None) -> bool:
    return bool(source) and source.startswith("<frame")


class _Timer:
    """Wall-clock seconds per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)


def run(
    config: RunConfig,
    *,
    bars: pd.DataFrame | None = None,
    benchmark: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
    on_bar: Callable[[int, int], None] | None = None,
    config_file: str | Path | None = None,
    recorded: Mapping[str, Any] | None = None,
    allow_changed_data: bool = False,
    out: str | Path | None = None,
    executor: str = "auto",
    workers: int | None = None,
    on_symbol: Callable[[dict[str, Any]], None] | None = None,
) -> BacktestRun | UniverseBacktestRun:
    """Run a :class:`~rnnstrategy.config.RunConfig` (what :func:`backtest`, ``rnnstrategy backtest``
    and ``rnnstrategy run FILE`` all do). ``bars``, ``benchmark`` and ``forecasts`` are
    frames given in place of the configuration's sources; ``config_file`` is recorded in
    the manifest (text and path).

    ``recorded`` is the manifest of the run being replayed: the fingerprints of the data and the
    benchmark it recorded must match the data loaded now, else a :class:`DataError` is raised;
    with ``allow_changed_data`` the run goes on, logs a warning and lists the changes in the new
    manifest's ``"data_changed"``.

    A universe (``config.data.source`` a folder or several sources, or ``backtest.forecasts`` the folder
    of a universe run) is traded by a strategy that ranks stocks (``top_k``) and gives a
    :class:`UniverseBacktestRun`; its forecasts are computed into ``out`` (required then) on
    ``executor`` with ``workers``, ``on_symbol`` called as each symbol finishes, or read from
    ``backtest.forecasts``."""
    from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
    from rnnstrategy.backtrader.results import load_strategy, run_backtest
    from rnnstrategy.evaluation import forecast_metrics
    from rnnstrategy.report.benchmark import benchmark_returns
    from rnnstrategy.report.run import RunReport, run_metrics

    spec = config.backtest
    universe = bars is None and _is_universe_config(config)
    strategy = load_strategy(spec.strategy)  # a typo fails now, not after training
    _check_strategy_fits(strategy, config, universe)
    if universe:
        return _run_universe(config, strategy, benchmark=benchmark, store=store, threads=threads, on_bar=on_bar,
                             on_fold=on_fold, config_file=config_file, out=out, executor=executor, workers=workers,
                             on_symbol=on_symbol, recorded=recorded, allow_changed_data=allow_changed_data)
    timer = _Timer()
    with timer.stage("load"):
        reused = forecasts if forecasts is not None else _read_reused(spec)
        if reused is None:
            _check_device(config.forecast.device)  # before any training
        window_start = spec.start if reused is None else max(reused.index[0], pd.Timestamp(spec.start or 0))
        history = config.forecast.history_needed() if reused is None else 1
        if bars is None:
            bars = _load(config.data.source, config.data.adjust, window_start, history, strict=config.data.strict)
        symbol = str(bars.attrs.get("symbol", ""))
        if benchmark is None and config.benchmark.source:
            benchmark = load_bars(config.benchmark.source)
        last = bars.index[-1] if spec.end is None else min(bars.index[-1], pd.Timestamp(spec.end))
        if benchmark is not None and reused is None:
            _check_benchmark_covers(benchmark, _first_forecast_date(config, bars), last)
        changed = _changed_data(recorded, {"data": bars, "benchmark": benchmark}) if recorded is not None else []
        if changed and not allow_changed_data:
            raise DataError(f"{'; '.join(changed)}: the replay would not reproduce the recorded run; restore the "
                            f"data, or pass allow_changed_data=True (CLI: --allow-changed-data) to re-run on it")
        for change in changed:
            log.warning("%s: re-running on the changed data", change)
    with timer.stage("forecast"):
        if reused is not None:
            frame = _reused_window(reused, spec)
        else:
            frame = _walk_forward(bars, config.forecast, spec.start, spec.end, store=store, threads=threads,
                                  on_fold=on_fold)
    with timer.stage("backtest"):
        result = run_backtest(bars, frame, strategy, cash=spec.cash, execution=spec.execution,
                              params=spec.strategy_params(), rules=config.rules, progress=on_bar)
        # beside it: buy-and-hold of the same stock, dates, cash, fees and lots, bought at the first open
        dates = result.equity.index
        held = run_buy_and_hold(bars, dates[0], dates[-1], cash=spec.cash, rules=config.rules)
        held_returns = held.returns.reindex(dates)
    with timer.stage("metrics"):
        compared = bars if benchmark is None else benchmark  # no benchmark: buy-and-hold of the traded stock
        report = RunReport(
            equity=result.equity.assign(**{
                "return": result.returns,
                "benchmark_return": held_returns if benchmark is None else benchmark_returns(benchmark, dates),
                "buy_and_hold_return": held_returns,
            }),
            trades=result.trades, forecasts=frame,
            titles=_titles(config, symbol, str(compared.attrs.get("symbol", "")), frame),
            parameters={"Strategy": spec.strategy, "Execution": spec.execution or strategy.params.execution},
            trials=spec.trials,
        )
        metrics = run_metrics(report, forecast_metrics(frame, bars))
    manifest = _manifest(config, config_file, strategy, bars, benchmark, frame, timer.seconds)
    if bars.attrs.get("dropped"):
        manifest["dropped"] = {symbol: _jsonable_dropped(bars.attrs["dropped"])}
    if changed:
        manifest["data_changed"] = changed
    return BacktestRun(config=config, metrics=metrics, trades=result.trades, equity=report.equity, forecasts=frame,
                       manifest=manifest, report=report, buy_and_hold=held)


def sweep(
    definition: str | Path | SweepSpec,
    out: str | Path,
    *,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
) -> dict[str, Any]:
    """Run a sweep of forecaster and strategy settings (a TOML file or a
    :class:`~rnnstrategy.sweeping.SweepSpec`) into ``out``: one folder per configuration, the
    compare page, and ``sweep.json`` with the best configuration, its deflated Sharpe ratio
    and the SPA p-value (see :func:`rnnstrategy.sweeping.run_sweep`)."""
    from rnnstrategy.sweeping import SweepSpec, load_sweep, run_sweep

    spec = definition if isinstance(definition, SweepSpec) else load_sweep(definition)
    return run_sweep(spec, out, store=store, threads=threads, on_run=on_run, on_fold=on_fold)


def compare(run_dirs: Sequence[str | Path], out: str | Path, *, trials: int | None = None,
            names: Sequence[str] | None = None) -> dict[str, Any]:
    """Compare finished runs side by side into ``out`` (``compare.html``, ``compare.json``,
    ``compare_equity.png``): headline metrics, forecast verdicts, pairwise Diebold-Mariano tests
    between their forecasts, and Hansen's SPA test of whether the best strategy beats buy-and-hold
    after accounting for ``trials`` strategies (default: the number of runs); returns what
    ``compare.json`` holds (see :func:`rnnstrategy.report.compare.compare_runs`)."""
    from rnnstrategy.report.compare import compare_runs

    return compare_runs(run_dirs, out, trials=trials, names=names)


def _read_reused(spec: BacktestSpec) -> pd.DataFrame | None:
    if not spec.forecasts:
        return None
    from rnnstrategy.forecasting.frames import read_forecasts

    return read_forecasts(spec.forecasts)


def _reused_window(forecasts: pd.DataFrame, spec: BacktestSpec) -> pd.DataFrame:
    window = forecasts.loc[spec.start:spec.end]
    if window.empty:
        raise ConfigError(f"{spec.forecasts or 'the forecasts'} have no forecasts between {spec.start} and "
                          f"{spec.end}; widen start/end or compute new forecasts")
    window.attrs = forecasts.attrs
    return window


def _first_forecast_date(config: RunConfig, bars: pd.DataFrame) -> pd.Timestamp | None:
    from rnnstrategy.forecasting.walkforward import first_retrain_row

    row = first_retrain_row(config.forecast, bars.index, config.backtest.start)
    return None if row is None else bars.index[row]


def _check_benchmark_covers(benchmark: pd.DataFrame, first: pd.Timestamp | None, last: pd.Timestamp) -> None:
    """Fail before training when the benchmark cannot cover the backtest window."""
    if first is not None and (benchmark.index[0] > first or benchmark.index[-1] < last):
        raise ConfigError(
            f"benchmark {benchmark.attrs.get('symbol')} has bars {benchmark.index[0]:%Y-%m-%d}.."
            f"{benchmark.index[-1]:%Y-%m-%d} but the backtest runs {first:%Y-%m-%d}..{last:%Y-%m-%d}; "
            "give a benchmark covering it, or set start/end inside its range"
        )


def _titles(config: RunConfig, symbol: str, bench_symbol: str, forecasts: pd.DataFrame) -> Any:
    """Strategy, benchmark and security names: "GRU forecast on 600519 贵州茅台", "CSI 300"."""
    from rnnstrategy.report.names import (
        Titles,
        benchmark_title,
        find_names_file,
        security_label,
        security_name,
    )

    names = config.data.names or find_names_file(None if config.data.source.startswith("<") else config.data.source)
    security = security_label(symbol, config.data.name or security_name(symbol, names))
    if config.benchmark.title:
        bench_title = config.benchmark.title
    elif config.benchmark.source:
        bench_title = benchmark_title(bench_symbol, names)
    else:
        bench_title = f"Buy and hold {security}"
    cell = str((forecasts.attrs.get("config") or {}).get("cell", config.forecast.cell))
    return Titles.for_run(cell, security, bench_title)


def _changed_data(recorded: Mapping[str, Any], frames: Mapping[str, pd.DataFrame | None]) -> list[str]:
    """How the frames loaded now (``{"data": bars, "benchmark": ...}``) differ from the fingerprints ``recorded``
    under the same names (a run's manifest); empty if not."""
    from rnnstrategy.data.fingerprint import DataFingerprint

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


def _changed_universe(recorded: Mapping[str, Any], config: RunConfig) -> list[str]:
    """How each stock of a recorded universe run differs now, one line per stock. When the run forecast the
    stocks itself, the bars its forecasts were made from (the ``fingerprint`` of each row of the run's
    ``summary.csv``, read again with the same start and history: they hold the bars it traded too); else
    the bars it traded (its manifest's ``data.universe``, read again from the same first day to the file's
    end)."""
    from rnnstrategy.data.fingerprint import DataFingerprint

    def differs(label: str, source: str, fingerprint: str, **how: Any) -> str | None:
        try:
            frame = load_bars(source, adjust=config.data.adjust, strict=config.data.strict, **how)
        except (OSError, ValueError, RnnStrategyError) as exc:
            return f"{label}: {source} cannot be read again ({str(exc).splitlines()[0]})"
        now = DataFingerprint(frame).upto(len(frame) - 1)
        if now == fingerprint:
            return None
        return f"{label} ({source}) changed since the run was recorded (fingerprint {fingerprint}, now {now})"

    forecasts = recorded.get("forecasts") if isinstance(recorded.get("forecasts"), Mapping) else {}
    summary = Path(str(forecasts.get("folder") or "")) / "summary.csv"
    if forecasts.get("source") == "walk_forward" and summary.is_file():
        start = config.backtest.start
        history = config.forecast.history_needed() if start else None
        table = pd.read_csv(summary, dtype={"symbol": str, "fingerprint": str})
        checks = [(str(row.symbol), str(row.source), str(row.fingerprint), {"start": start, "history": history})
                  for row in table[(table["status"] == "ok") & table["fingerprint"].notna()].itertuples()]
    else:
        if forecasts.get("source") == "walk_forward":
            log.warning("%s is gone: the bars the recorded forecasts were made from cannot be checked, only those "
                        "traded", summary)
        data = recorded.get("data")
        entries = (data.get("universe") or []) if isinstance(data, Mapping) else []
        checks = [(str(entry.get("symbol") or entry["source"]), entry["source"], entry["fingerprint"],
                   {"start": entry["first"]}) for entry in entries
                  if isinstance(entry, Mapping) and entry.get("fingerprint") and entry.get("source")]
    return [line for label, source, fingerprint, how in checks if (line := differs(label, source, fingerprint, **how))]


def _manifest(config: RunConfig, config_file: str | Path | None, strategy: type, bars: pd.DataFrame,
              bench_bars: pd.DataFrame | None, forecasts: pd.DataFrame, timings: dict[str, float]) -> dict[str, Any]:
    """What reproduces the run: configuration, strategy class, data fingerprints, versions, command line."""
    from rnnstrategy.report.manifest import data_record, package_versions

    folds = forecasts.attrs.get("folds") or []
    config_file = Path(config_file) if config_file else None
    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "cwd": str(Path.cwd()),
        "config_file": str(config_file) if config_file else None,
        "config_file_text": config_file.read_text(encoding="utf-8") if config_file else None,
        "config": config.to_dict(),
        "strategy": f"{strategy.__module__}.{strategy.__qualname__}",
        "data": data_record(bars),
        "benchmark": data_record(bench_bars) if bench_bars is not None else "buy and hold of the traded stock",
        "forecasts": {"source": config.backtest.forecasts or "walk_forward", "rows": len(forecasts),
                      "first": f"{forecasts.index[0]:%Y-%m-%d}", "last": f"{forecasts.index[-1]:%Y-%m-%d}",
                      "retrains": len(folds), "trained": sum(bool(f.get("trained")) for f in folds),
                      "config": forecasts.attrs.get("config")},
        "packages": package_versions(),
        "timings": dict(timings),
    }



# ---------------------------------------------------------------- universes


def _is_universe_config(config: RunConfig) -> bool:
    """Whether ``config`` trades a universe: several sources or a folder, or the forecasts of a universe run."""
    forecasts = config.backtest.forecasts
    if forecasts and not _is_frame_label(forecasts) and Path(forecasts).is_dir():
        return True
    return not _is_frame_label(str(config.data.source)) and _is_universe(config.data.source)


def _check_strategy_fits(strategy: type, config: RunConfig, universe: bool) -> None:
    """A strategy that ranks a universe refuses one stock, and one that trades one stock refuses a universe."""
    name = config.backtest.strategy
    ranks = bool(getattr(strategy, "ranks_universe", False))
    if ranks and not universe:
        raise ConfigError(f"strategy {name} ranks a universe, but {config.data.source} is one stock: give a folder "
                          "of CSVs or several paths or symbols (e.g. ../shared/data/stocks_tushare_qfq), or "
                          "--forecasts the folder of `rnnstrategy forecast FOLDER`; for one stock use --strategy "
                          "forecast_long")
    if universe and not ranks:
        source = config.data.source if not isinstance(config.data.source, tuple) else \
            f"{len(config.data.source)} sources"
        raise ConfigError(f"strategy {name} trades one stock, but {source} is a universe: trade it with --strategy "
                          "top_k (or a strategy with ranks_universe = True), or give one CSV path or symbol")


def _universe_forecast_config(folder: Path) -> ForecastConfig | None:
    """The forecaster configuration a universe run in ``folder`` recorded in its ``summary.json``."""
    try:
        recorded = json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("config")
    except (OSError, ValueError, AttributeError):
        return None
    return ForecastConfig.from_dict(recorded) if isinstance(recorded, Mapping) else None


def _universe_forecasts(config: RunConfig, *, store: str | Path | None, threads: int | None, out: str | Path | None,
                        executor: str, workers: int | None,
                        on_symbol: Callable[[dict[str, Any]], None] | None,
                        on_fold: Callable[[Any], None] | None = None, evaluate: bool = True) -> UniverseRun:
    """The universe run to trade: read from ``backtest.forecasts``, or forecast now into ``out``."""
    spec = config.backtest
    if spec.forecasts:
        folder = Path(spec.forecasts)
        if not (folder / "summary.csv").is_file():
            raise ConfigError(f"--forecasts {folder}: no summary.csv there; give the --out folder of `rnnstrategy "
                              "forecast FOLDER` (or of an earlier universe backtest)")
        return UniverseRun(pd.read_csv(folder / "summary.csv", dtype={"symbol": str}), folder, 0.0)
    if out is None:
        raise ConfigError("a universe backtest writes each symbol's forecasts as it finishes: pass out='runs/topk' "
                          "(CLI: --out DIR), or forecasts= the folder of a universe run")
    _check_device(config.forecast.device)
    return _forecast_universe(config.data.source, config.forecast, spec.start, spec.end, Path(out),
                              adjust=config.data.adjust, strict=config.data.strict, store=store, threads=threads,
                              executor=executor, workers=workers, retries=1, on_symbol=on_symbol, on_fold=on_fold,
                              manifest=False, evaluate=evaluate)


def _universe_inputs(config: RunConfig, universe: UniverseRun,
                     last_only: bool = False) -> tuple[list[pd.DataFrame], dict[str, pd.DataFrame]]:
    """The bars (from each symbol's first forecast date; with ``last_only``, from its last one in the window,
    all a decision on that day reads) and forecasts of every symbol forecast in ``universe``, within the
    backtest window."""
    from rnnstrategy.forecasting.frames import read_forecasts

    spec = config.backtest
    ok = universe.summary[universe.summary["status"] == "ok"]
    frames, forecasts = [], {}
    for row in ok.itertuples():
        frame = read_forecasts(universe.out / "forecasts" / f"{row.symbol}.csv")
        window = frame.loc[spec.start:spec.end]
        if window.empty:
            log.warning("%s: no forecasts between %s and %s; left out", row.symbol, spec.start, spec.end)
            continue
        window.attrs = frame.attrs
        bars = load_bars(row.source, start=window.index[-1 if last_only else 0], history=1,
                         adjust=config.data.adjust, strict=config.data.strict)
        bars.attrs["symbol"] = str(row.symbol)  # the feed's name: as in the summary and forecasts/
        frames.append(bars)
        forecasts[str(row.symbol)] = window
    if len(frames) < 2:
        raise DataError(f"{universe.out / 'summary.csv'}: {len(frames)} symbol(s) with forecasts between "
                        f"{spec.start} and {spec.end}; a universe needs at least 2 (see the summary's status and "
                        "message)")
    return frames, forecasts


def _universe_titles(config: RunConfig, strategy: type, params: Mapping[str, Any], symbols: int,
                     bench_symbol: str, cell: str) -> Any:
    from rnnstrategy.report.names import Titles, benchmark_title, find_names_file

    security = f"{symbols} A-shares, equal weight"
    if config.benchmark.title:
        bench_title = config.benchmark.title
    elif config.benchmark.source:
        sources = config.data.source
        near = None if isinstance(sources, tuple) or sources.startswith("<") else sources
        bench_title = benchmark_title(bench_symbol, config.data.names or find_names_file(near))
    else:
        bench_title = f"Buy and hold {security}"
    k = params.get("k", dict(strategy.params._getitems()).get("k"))
    name = f"Top {k}" if k is not None and config.backtest.strategy == "top_k" else config.backtest.strategy
    return Titles(strategy=f"{name} of {symbols} by {cell.upper()} forecast", benchmark=bench_title, security=security)


def _run_universe(config: RunConfig, strategy: type, *, benchmark: pd.DataFrame | None, store: str | Path | None,
                  threads: int | None, on_bar: Callable[[int, int], None] | None, config_file: str | Path | None,
                  out: str | Path | None, executor: str, workers: int | None,
                  on_symbol: Callable[[dict[str, Any]], None] | None,
                  on_fold: Callable[[Any], None] | None = None, recorded: Mapping[str, Any] | None = None,
                  allow_changed_data: bool = False) -> UniverseBacktestRun:
    """Forecast (or read) a universe, trade it with ``strategy`` in one Cerebro, and measure it against the
    benchmark and the equal-weight universe (see :func:`run`; ``recorded``: each stock's recorded bars and the
    benchmark must be as they were, before anything is forecast)."""
    from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
    from rnnstrategy.backtrader.results import run_universe_backtest
    from rnnstrategy.report.benchmark import benchmark_returns
    from rnnstrategy.report.manifest import data_record
    from rnnstrategy.report.run import (
        RunReport,
        excess_verdict,
        run_metrics,
        stocks_held,
    )

    timer = _Timer()
    spec = config.backtest
    params = spec.strategy_params()
    with timer.stage("load"):
        if benchmark is None and config.benchmark.source:
            benchmark = load_bars(config.benchmark.source)
        changed: list[str] = []
        if recorded is not None:
            changed = _changed_universe(recorded, config) + _changed_data(recorded, {"benchmark": benchmark})
        if changed and not allow_changed_data:
            more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
            raise DataError(f"{'; '.join(changed[:3])}{more}: the replay would not reproduce the recorded run; "
                            "restore the data, or pass allow_changed_data=True (CLI: --allow-changed-data) to re-run "
                            "on it")
        for change in changed:
            log.warning("%s: re-running on the changed data", change)
    with timer.stage("forecast"):
        universe = _universe_forecasts(config, store=store, threads=threads, out=out, executor=executor,
                                       workers=workers, on_symbol=on_symbol, on_fold=on_fold)
    with timer.stage("load"):
        frames, forecasts = _universe_inputs(config, universe)
        first = min(frame.index[0] for frame in forecasts.values())
        last = max(frame.index[-1] for frame in forecasts.values())
        if benchmark is not None:
            _check_benchmark_covers(benchmark, first, last)
    with timer.stage("backtest"):
        result = run_universe_backtest(frames, forecasts, strategy, cash=spec.cash, execution=spec.execution,
                                       params=params, rules=config.rules, progress=on_bar)
        dates = result.equity.index
        # beside it: the equal-weight basket of the same stocks, bought at their first open and held
        held = run_buy_and_hold([frame.loc[forecasts[str(frame.attrs["symbol"])].index[0]:] for frame in frames],
                                dates[0], dates[-1], cash=spec.cash, rules=config.rules)
        held_returns = held.returns.reindex(dates)
    with timer.stage("metrics"):
        symbols = tuple(forecasts)
        cell = str(getattr(_universe_forecast_config(universe.out) or config.forecast, "cell", config.forecast.cell))
        titles = _universe_titles(config, strategy, params, len(symbols),
                                  "" if benchmark is None else str(benchmark.attrs.get("symbol", "")), cell)
        equity = result.equity.assign(
            position=stocks_held(result.trades, dates), close=float("nan"), **{
                "return": result.returns,
                "benchmark_return": held_returns if benchmark is None else benchmark_returns(benchmark, dates),
                "buy_and_hold_return": held_returns})
        shown = {"Strategy": spec.strategy, "Stocks": len(symbols), **params}
        report = RunReport(equity=equity, trades=result.trades, forecasts=pd.DataFrame(), titles=titles,
                           parameters=shown, trials=spec.trials, symbols=symbols)
        ok = universe.summary[universe.summary["status"] == "ok"]
        metrics = run_metrics(report, {
            "symbols": int(len(ok)),
            "median_rmse_ratio": _median(ok.get("rmse_ratio")),
            "median_direction_hit_rate": _median(ok.get("direction_hit_rate")),
        })
        metrics["trades"] |= {"symbols_traded": int(result.trades["symbol"].nunique()),
                              "invested": float((1 - equity["cash"] / equity["value"]).mean())}
        metrics["excess_over_buy_and_hold"]["verdict"] = excess_verdict(metrics["excess_over_buy_and_hold"],
                                                                       "the equal-weight universe")
        metrics["universe"] = {
            "symbols": len(symbols), "traded": sorted(result.trades["symbol"].unique().tolist()),
            "forecasts": str(universe.out), "left_out": {
                str(row.symbol): f"{row.status}: {row.message}" for row in
                universe.summary[universe.summary["status"] != "ok"].itertuples()}}
        metrics["parameters"] = dict(params)
    manifest = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "cwd": str(Path.cwd()),
        "config_file": str(config_file) if config_file else None,
        "config_file_text": Path(config_file).read_text(encoding="utf-8") if config_file else None,
        "config": config.to_dict(),
        "strategy": f"{strategy.__module__}.{strategy.__qualname__}",
        "data": {"universe": [data_record(frame) for frame in frames]},
        "benchmark": data_record(benchmark) if benchmark is not None else "buy and hold of the equal-weight universe",
        "forecasts": {"source": spec.forecasts or "walk_forward", "folder": str(universe.out),
                      "symbols": list(symbols), "config": (_universe_forecast_config(universe.out) or
                                                            config.forecast).to_dict()},
        "packages": _package_versions(),
        "timings": dict(timer.seconds),
    }
    dropped = {str(f.attrs["symbol"]): _jsonable_dropped(f.attrs["dropped"]) for f in frames if f.attrs.get("dropped")}
    if dropped:
        manifest["dropped"] = dropped
    if changed:
        manifest["data_changed"] = changed
    return UniverseBacktestRun(config=config, metrics=metrics, trades=result.trades, equity=equity,
                               forecasts=universe, manifest=manifest, report=report, buy_and_hold=held)


def _median(column: pd.Series | None) -> float | None:
    if column is None:
        return None
    values = pd.to_numeric(column, errors="coerce").dropna()
    return float(values.median()) if len(values) else None


def _package_versions() -> dict[str, str | None]:
    from rnnstrategy.report.manifest import package_versions

    return package_versions()


def _jsonable_dropped(dropped: Any) -> Any:
    """The bars a lenient load dropped (a :class:`~rnnstrategy.data.frame.BadRows`), as the manifest records
    them: the reason and the dates of each."""
    reasons = getattr(dropped, "reasons", None)
    if not isinstance(reasons, Mapping):
        return str(dropped)
    return {"rows": int(dropped.count), "reasons": {
        str(reason): [f"{pd.Timestamp(d):%Y-%m-%d}" for d in dates] for reason, dates in reasons.items()}}


# ---------------------------------------------------------------- daily signals


@dataclass(frozen=True)
class SignalRun:
    """The orders of the next session, decided at the close of a bar by the backtest's strategy.

    Attributes:
        orders: one dict per order, in the order to send them (sells first): ``id, session`` and the
            fields of :data:`rnnstrategy.backtrader.signal.ORDER_FIELDS`.
        session: the session the orders are for (the trading day after ``decided_on``).
        decided_on: the date of the bar decided on (D).
        symbol: the traded security.
        strategy: the strategy's name.
        cash, positions: the holdings the decision started from.
    """

    orders: list[dict[str, Any]]
    session: dt.date
    decided_on: dt.date
    symbol: str
    strategy: str
    cash: float
    positions: dict[str, int]

    def write(self, out: str | Path) -> list[Path]:
        """``out/orders.csv`` and ``out/orders.json`` (each written atomically); returns their paths."""
        from rnnstrategy.backtrader.signal import ORDER_FIELDS
        from rnnstrategy.files import atomic_write_text

        out = Path(out)
        columns = ["id", "session", *ORDER_FIELDS]
        csv_path, json_path = out / "orders.csv", out / "orders.json"
        atomic_write_text(csv_path, pd.DataFrame(self.orders, columns=columns).to_csv(index=False))
        content = {"session": self.session.isoformat(), "decided_on": self.decided_on.isoformat(),
                   "symbol": self.symbol, "strategy": self.strategy, "cash": self.cash, "positions": self.positions,
                   "orders": self.orders}
        atomic_write_text(json_path, json.dumps(content, indent=2, ensure_ascii=False) + "\n")
        return [csv_path, json_path]

    def summary(self) -> list[str]:
        """Console lines: what was decided on, for which session, and a table of the orders."""
        lines = [f"decided on the bar of {self.decided_on}; orders for the session {self.session}"]
        if not self.orders:
            return [*lines, "no orders"]
        lines.append(f"{'symbol':<10} {'side':<4} {'shares':>8} {'ref. price':>11} {'exp. return':>11} "
                     f"{'threshold':>9}  note")
        for order in self.orders:
            lines.append(f"{order['symbol']:<10} {order['side']:<4} {order['shares']:>8} "
                         f"{order['reference_price']:>11.2f} {_percent4(order['expected_return']):>11} "
                         f"{_percent4(order['threshold']):>9}  {order['note']}".rstrip())
        return lines


def _percent4(value: float | None) -> str:
    return "-" if value is None else f"{value:.3%}"


def read_positions(source: str | Path) -> tuple[dict[str, int], float | None]:
    """Holdings and cash (None when the file has none) from a positions file or a paper account folder.

    Formats: a CSV with columns ``symbol,shares`` (no cash); a JSON object
    ``{"cash": 812345.0, "positions": {"600519.SH": 100}}``; a folder holding a
    :class:`~rnnstrategy.live.paper.PaperAccount` (its ``account.json``: cash and positions).

    Raises:
        ConfigError: a missing file or a folder without an account.
        DataError: a file that is not one of the formats.
    """
    path = Path(source)
    if path.is_dir():
        from rnnstrategy.live.paper import ACCOUNT_FILE, PaperAccount

        if not (path / ACCOUNT_FILE).is_file():
            raise ConfigError(f"positions {path}: a folder, but no paper account ({ACCOUNT_FILE}) in it; give a "
                              "positions CSV (symbol,shares), a JSON {\"cash\": ..., \"positions\": {...}}, or the "
                              "folder of a paper account")
        account = PaperAccount.open(path)
        return account.positions, account.cash
    if not path.is_file():
        raise ConfigError(f"positions {path}: no such file or folder")
    try:
        if path.suffix.lower() == ".json":
            content = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(content, dict) or not isinstance(content.get("positions", {}), dict):
                raise ValueError("expected {\"cash\": ..., \"positions\": {\"600519.SH\": 100}}")
            cash = content.get("cash")
            return ({str(k): _shares(k, v) for k, v in content.get("positions", {}).items()},
                    None if cash is None else float(cash))
        frame = pd.read_csv(path, dtype={"symbol": str})
        if list(frame.columns[:2]) != ["symbol", "shares"]:
            raise ValueError(f"columns {list(frame.columns)}, expected symbol,shares")
        return {row.symbol: _shares(row.symbol, row.shares) for row in frame.itertuples()}, None
    except (ValueError, TypeError) as err:
        raise DataError(f"positions {path}: {err}; write a CSV with columns symbol,shares or a JSON "
                        "{\"cash\": 1000000, \"positions\": {\"600519.SH\": 100}}") from None


def _shares(symbol: object, value: object) -> int:
    shares = float(value)  # type: ignore[arg-type]
    if not shares >= 0 or not shares.is_integer():
        raise ValueError(f"{symbol}: shares={value!r}, give a whole number >= 0")
    return int(shares)


def signal(
    data: Source | Sequence[str | Path] | None = None,
    *,
    config: str | Path | RunConfig | None = None,
    positions: str | Path | Mapping[str, int] | None = None,
    cash: float | None = None,
    strategy: str = _SPEC.strategy,
    params: Mapping[str, Any] | None = None,
    forecast: ForecastConfig | None = None,
    forecasts: str | Path | pd.DataFrame | None = None,
    rules: AShareRules | None = None,
    start: str | None = _SPEC.start,
    end: str | None = None,
    adjust: str = "qfq",
    k: int | None = _SPEC.k,
    max_turnover: float | None = _SPEC.max_turnover,
    exit_rank: int | None = _SPEC.exit_rank,
    entry_threshold: float | None = _SPEC.entry_threshold,
    exit_threshold: float | None = _SPEC.exit_threshold,
    strict: bool = True,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
    out: str | Path | None = None,
    now: dt.datetime | None = None,
    executor: str = "auto",
    workers: int | None = None,
) -> SignalRun:
    """The orders for the next session: the backtest's strategy decides at the close of the last bar.

    The forecasts come through the backtest's path (walk-forward with the fold store from ``start``,
    the same schedule as the backtest), or ``forecasts`` reuses a forecast frame or CSV. D is the last
    bar (on or before ``end``); the strategy runs on D with the holdings (:func:`decide
    <rnnstrategy.backtrader.signal.decide>`), and the orders are for the session after D. Without
    ``end`` the bars must be fresh: ending on the last completed session (``now``: default the
    present); with ``end`` the decision is historical and not checked.

    Args:
        data: the traded stock (CSV path, symbol or canonical bar frame), or a universe (a folder of
            CSVs, or a list of paths or symbols) traded by a strategy that ranks stocks (``top_k``): its
            forecasts come from the universe backtest's path (each symbol walk-forward into ``out``, with the
            fold store) or from ``forecasts`` the folder of a universe run (``data`` None: its sources), each
            stock's feed holds its last bar on or before D, and the orders of every stock are in one list.
        config: a run definition (a :class:`~rnnstrategy.config.RunConfig`, a TOML file as
            ``rnnstrategy run`` reads, or a finished run's ``manifest.json``): its data (unless ``data``
            is given), forecaster, strategy, parameters, start, reused forecasts and rules, and its cash
            when there are no positions; its end is not used (``end`` is). The options it defines cannot
            be given beside it.
        positions: holdings at the close of D: a mapping ``{symbol: shares}``, a CSV ``symbol,shares``,
            a JSON ``{"cash": ..., "positions": {...}}`` or a paper account folder (see
            :func:`read_positions`); None: none.
        cash: cash at the close of D; default the positions' cash, else 1,000,000 CNY when there are
            no positions.
        strategy, params, forecast, rules, start, adjust, k, max_turnover, exit_rank, entry_threshold,
            exit_threshold, strict, store, threads, on_fold: as for :func:`backtest`.
        end: decide on the last bar on or before this date (historical; no stale check).
        executor, workers: how a universe is forecast, as for :func:`backtest` (``"inprocess"`` saves the
            start of a process pool when the folds are stored already).
        out: write ``orders.csv`` and ``orders.json`` there (a universe forecast now: its ``summary.csv`` and
            ``forecasts/<symbol>.csv`` too; required then).
        now: the present, for the stale check.

    Raises:
        ConfigError: no cash with positions, a strategy that cannot trade after the close or does not fit
            the data (``top_k`` for one stock, a one-stock strategy for a universe).
        DataError: stale bars, or forecasts without the row of D (of each stock with a bar on D).
    """
    from rnnstrategy.backtrader.results import load_strategy
    from rnnstrategy.backtrader.signal import decide
    from rnnstrategy.live.sessions import check_fresh

    if config is not None:
        defined = _defined_by(config, {
            "strategy": strategy != _SPEC.strategy, "params": bool(params), "forecast": forecast is not None,
            "forecasts": forecasts is not None, "rules": rules is not None, "start": start != _SPEC.start,
            "adjust": adjust != "qfq", "k": k != _SPEC.k, "max_turnover": max_turnover != _SPEC.max_turnover,
            "exit_rank": exit_rank != _SPEC.exit_rank, "entry_threshold": entry_threshold != _SPEC.entry_threshold,
            "exit_threshold": exit_threshold != _SPEC.exit_threshold, "strict": strict is not True})
        spec = defined.backtest
        data = data if data is not None else defined.data.source
        if positions is None and cash is None:
            cash = spec.cash
        strategy, params, forecast, forecasts, rules = (spec.strategy, spec.params, defined.forecast,
                                                        spec.forecasts, defined.rules)
        start, adjust, strict, k, max_turnover = spec.start, defined.data.adjust, defined.data.strict, spec.k, \
            spec.max_turnover
        exit_rank, entry_threshold, exit_threshold = spec.exit_rank, spec.entry_threshold, spec.exit_threshold
        if spec.execution not in (None, "next_open"):
            raise ConfigError(f"config={str(config)!r} executes at the {spec.execution}: a signal is decided after the "
                              "close for the next session's open; only execution = \"next_open\" can be traded")
    if data is None and isinstance(forecasts, (str, Path)) and Path(forecasts).is_dir():
        data = str(forecasts)  # the folder of a universe run names its sources
    if data is None:
        raise ConfigError("no data: give the stock (a CSV path or symbol), a universe (a folder or a list), or "
                          "forecasts= the folder of a universe run")
    if isinstance(data, (list, tuple)):
        data = tuple(str(source) for source in data)
    universe = _is_universe(data) or (isinstance(forecasts, (str, Path)) and Path(forecasts).is_dir())
    held: dict[str, int] = {}
    if isinstance(positions, Mapping):
        held = {str(name): int(shares) for name, shares in positions.items()}
    elif positions is not None:
        held, account_cash = read_positions(positions)
        cash = account_cash if cash is None else cash
    if cash is None:
        if held:
            raise ConfigError("positions without cash: give cash= (CLI: --cash), or a JSON positions file with "
                              "\"cash\", or a paper account folder")
        cash = _SPEC.cash
    spec = BacktestSpec(strategy=strategy, start=date_text("start", start), end=date_text("end", end),
                        params=dict(params or {}), k=k, max_turnover=max_turnover, exit_rank=exit_rank,
                        entry_threshold=entry_threshold, exit_threshold=exit_threshold)
    strategy_class = load_strategy(strategy)
    source = data if isinstance(data, tuple) else _label(data)
    _check_strategy_fits(strategy_class, RunConfig(data=DataSpec(source=source), backtest=spec), universe)
    if universe:
        return _signal_universe(source, strategy_class, held, float(cash), spec, forecast=forecast,
                                forecasts=forecasts, rules=rules, adjust=adjust, strict=strict, store=store,
                                threads=threads, out=out, now=now, executor=executor, workers=workers,
                                on_fold=on_fold)
    reused = forecasts
    if isinstance(forecasts, (str, Path)):
        from rnnstrategy.forecasting.frames import read_forecasts

        reused = read_forecasts(forecasts)
    if forecast is None and reused is not None and reused.attrs.get("config"):
        forecast = ForecastConfig.from_dict(reused.attrs["config"])
    config = forecast or ForecastConfig()
    if reused is None:
        _check_device(config.device)
    history = config.history_needed() if reused is None else 1
    bars = _load(data, adjust, spec.start if reused is None else None, history, strict=strict)
    if spec.end is not None:
        bars = bars.loc[:spec.end]
    if bars.empty:
        raise DataError(f"no bars of {bars.attrs.get('symbol', _label(data))} on or before {spec.end}")
    day = bars.index[-1]
    if spec.end is None:
        check_fresh(day.date(), now)
    if reused is None:
        frame = _walk_forward(bars, config, spec.start, f"{day:%Y-%m-%d}", store=store, threads=threads,
                              on_fold=on_fold)
    else:
        frame = reused
    if day not in frame.index:
        raise DataError(f"the forecasts have no row for {day:%Y-%m-%d}, the bar to decide on "
                        f"(they cover {frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d}); forecast up to that "
                        "bar, or leave --forecasts out")
    orders = decide(bars, frame, strategy_class, positions=held, cash=float(cash), params=spec.strategy_params(),
                    rules=rules)
    result = _signal_run(orders, day, str(bars.attrs.get("symbol", "")), strategy, float(cash), held)
    if out is not None:
        result.write(out)
    return result


def _defined_by(config: str | Path | RunConfig, given: Mapping[str, bool]) -> RunConfig:
    """The :class:`RunConfig` of ``config`` (read when a path), refusing options ``given`` beside it."""
    from rnnstrategy.config import load_run_config

    defined = config if isinstance(config, RunConfig) else load_run_config(config)
    clash = [name for name, was_given in given.items() if was_given]
    if clash:
        raise ConfigError(f"{', '.join(clash)} given beside config={str(config)!r}, which defines them: edit the "
                          "definition, or leave config out and give every option")
    return defined


def _signal_run(orders: list[dict[str, Any]], day: pd.Timestamp, symbol: str, strategy: str, cash: float,
                held: dict[str, int]) -> SignalRun:
    """The :class:`SignalRun` of ``orders`` decided on ``day``: each gets its id and the next session."""
    from rnnstrategy.live.sessions import next_session

    session = next_session(day.date())
    orders = [{"id": f"{session}/{order['symbol']}/{order['side']}", "session": session.isoformat(), **order}
              for order in orders]
    return SignalRun(orders=orders, session=session, decided_on=day.date(), symbol=symbol, strategy=strategy,
                     cash=cash, positions=held)


def _signal_universe(source: str | tuple[str, ...], strategy: type, held: dict[str, int], cash: float,
                     spec: BacktestSpec, *, forecast: ForecastConfig | None, forecasts: Any,
                     rules: AShareRules | None, adjust: str, strict: bool, store: str | Path | None,
                     threads: int | None, out: str | Path | None, now: dt.datetime | None, executor: str,
                     workers: int | None, on_fold: Callable[[Any], None] | None) -> SignalRun:
    """:func:`signal` for a universe: the forecasts of the universe backtest's path (computed into ``out``, or
    read from ``forecasts``, the folder of a universe run), the bars of each stock as its feed there, and the
    strategy deciding on the newest bar D of them all."""
    from rnnstrategy.backtrader.signal import decide
    from rnnstrategy.live.sessions import check_fresh

    folder = Path(forecasts) if isinstance(forecasts, (str, Path)) else None
    if forecasts is not None and (folder is None or not folder.is_dir()):
        raise ConfigError(f"forecasts={forecasts!r}: for a universe give the folder of a universe run (summary.csv "
                          "and forecasts/<symbol>.csv), or leave it out to forecast the universe")
    if folder is None and out is None:
        raise ConfigError("a universe signal forecasts each symbol into out/forecasts: pass out='signals/today' "
                          "(CLI: --out DIR), or forecasts= the folder of a universe run")
    if forecast is None and folder is not None:
        forecast = _universe_forecast_config(folder)
    config = RunConfig(data=DataSpec(source=source, adjust=adjust, strict=strict),
                       forecast=forecast or ForecastConfig(),
                       backtest=dataclasses.replace(spec, forecasts=None if folder is None else str(folder)),
                       rules=rules or AShareRules())
    universe = _universe_forecasts(config, store=store, threads=threads, out=out, executor=executor, workers=workers,
                                   on_symbol=None, on_fold=on_fold, evaluate=False)
    frames, by_symbol = _universe_inputs(config, universe, last_only=True)
    if spec.end is not None:
        frames = [frame.loc[:spec.end] for frame in frames]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        raise DataError(f"no bars of the universe on or before {spec.end}")
    day = max(frame.index[-1] for frame in frames)
    if spec.end is None:
        check_fresh(day.date(), now)
    missing = [str(frame.attrs["symbol"]) for frame in frames
               if frame.index[-1] == day and day not in by_symbol[str(frame.attrs["symbol"])].index]
    if missing:
        raise DataError(f"the forecasts of {', '.join(missing)} have no row for {day:%Y-%m-%d}, the bar to decide "
                        f"on; forecast up to that bar (see {universe.out / 'summary.csv'}), or leave --forecasts out")
    orders = decide(frames, by_symbol, strategy, positions=held, cash=cash, params=spec.strategy_params(),
                    rules=config.rules)
    symbols = ",".join(str(frame.attrs["symbol"]) for frame in frames)
    result = _signal_run(orders, day, symbols, spec.strategy, cash, held)
    if out is not None:
        result.write(out)
    return result
