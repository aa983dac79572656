"""``forecast()``: walk-forward forecasts of one security or of a universe, and the forecasting steps the
other verbs share (the device check, the forecaster of one stock, one walk-forward through the fold store,
forecasts reused instead of trained, a universe forecast into a folder)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.preflight import (
    check_cache,
    check_compute,
    check_forecaster,
    check_output,
    check_sources,
    check_window,
    source_paths,
)
from rnnstrategy.api.record import write_forecast_manifest
from rnnstrategy.api.results import ForecastRun, UniverseForecastRun
from rnnstrategy.api.sources import Source, is_universe, load
from rnnstrategy.config import date_text
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.config_dict import forecast_config_from_dict
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE, resolve_store
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.report.folder_checks import check_kind
from rnnstrategy.universe.as_of import universe_as_of

if TYPE_CHECKING:
    from rnnstrategy.forecasting.walkforward import FoldReport

__all__ = ["check_device", "forecast", "forecast_universe", "reused_forecasts", "stock_forecaster",
           "universe_forecast_config", "run_walk_forward"]


def forecast(
    data: Source | Sequence[str | Path],
    config: ForecastConfig | PooledConfig | None = None,
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
    universe: str | None = None,
    members_only_training: bool = False,
) -> ForecastRun | UniverseForecastRun:
    """Walk-forward forecasts of one security, or of a universe.

    Args:
        data: one security (a CSV path, a symbol such as ``"600519"``, or a bar frame), or a
            universe (a folder of CSVs, or a list of paths/symbols).
        config: the forecaster and its schedule (default :class:`ForecastConfig`; for a universe, a
            :class:`PooledConfig` trains one model per retrain across all its stocks).
        start, end: first and last forecast dates (training uses the bars before ``start``;
            only the bars a run needs are loaded and validated).
        out: for a universe, the directory each symbol's forecasts and the summary are
            written into as they finish (required); for one security, optional: the files
            :meth:`ForecastRun.write` writes.
        adjust: price adjustment of a symbol download.
        strict: refuse bad rows (default), or drop them with a warning (``False``).
        store: the fold store (:data:`~rnnstrategy.forecasting.foldroot.DEFAULT_STORE`, a directory, or None
            for none).
        threads: PyTorch threads (per worker in a universe); None: every core.
        executor, workers, retries: how a universe runs (``auto``/``inprocess``/``process``/
            ``ray``; see :mod:`rnnstrategy.universe.executors`).
        on_fold: called after each fold of one security is fitted or loaded.
        on_symbol: called with each universe summary row as its symbol finishes.
        universe: the universe as it stood (``"csi300"``, a CSV of spells, or ``"all"``; see
            :mod:`rnnstrategy.universe.as_of`): only the stocks that were members on some day of
            ``start .. end`` are forecast, and the cross-section is measured among each day's members.
        members_only_training: with an index as ``universe``, a pooled model learns only from member days.

    Returns:
        A :class:`ForecastRun` for one security, a :class:`UniverseForecastRun` for several.
    """
    config = config or ForecastConfig()
    check_sources(data)  # everything before any loading or training
    as_of = universe_as_of(data, universe, members_only_training=members_only_training)
    check_forecaster(config)
    check_compute(workers=workers, retries=retries, threads=threads)
    start, end = date_text("start", start), date_text("end", end)
    check_window(start, end)
    if out is not None:
        check_output(out, source_paths(data))
        check_kind(out, "forecast")
    check_cache(store, source_paths(data))
    if is_universe(data):
        if out is None:
            raise ConfigError("a universe forecast writes each symbol's forecasts as it finishes: "
                              "pass out='runs/universe' (CLI: --out DIR)")
        return forecast_universe(data, config, start, end, Path(out), adjust=adjust, strict=strict, store=store,
                                 threads=threads, executor=executor, workers=workers, retries=retries,
                                 on_symbol=on_symbol, on_fold=on_fold, as_of=as_of)
    config = stock_forecaster(config)
    bars = load(data, adjust, start, config.history_needed(), strict=strict)
    started = time.perf_counter()
    frame = run_walk_forward(bars, config, start, end, store=store, threads=threads, on_fold=on_fold)
    result = ForecastRun(frame, _forecast_metrics(frame, bars, config, time.perf_counter() - started), bars, config)
    if out is not None:
        result.write(out)
    return result


def check_device(device: str) -> None:
    """Refuse a device this machine lacks (``--device cuda`` without CUDA) before any work."""
    from rnnstrategy.forecasting.forecaster import resolve_device

    resolve_device(device)


def stock_forecaster(config: ForecastConfig | PooledConfig) -> ForecastConfig:
    """``config`` as the forecaster of one stock; a pooled one is refused before any work."""
    if isinstance(config, PooledConfig):
        raise ConfigError("a pooled model (PooledConfig, --pooled) learns across a universe: give a folder of CSVs "
                          "or several sources, or forecast one stock with a ForecastConfig")
    return config


def forecast_universe(data: Any, config: ForecastConfig | PooledConfig, start: str | None, end: str | None, out: Path,
                      **options: Any) -> UniverseForecastRun:
    """Forecast every source of ``data`` into ``out`` (``options``: those of
    :func:`rnnstrategy.universe.forecast.forecast_universe`, and ``on_symbol``, ``on_fold``, ``manifest``:
    False for the forecast stage of a universe backtest, which writes its own, ``evaluate``: False for a signal,
    which trades on the forecasts and measures nothing)."""
    from rnnstrategy.universe.forecast import forecast_universe as forecast_each

    sources = data if not isinstance(data, (list, tuple)) or len(data) != 1 else data[0]
    on_symbol = options.pop("on_symbol")
    on_fold = options.pop("on_fold", None)  # pooled runs report their folds
    manifest = options.pop("manifest", True)
    evaluate = options.pop("evaluate", True)
    started = time.perf_counter()
    summary = forecast_each(sources, config, start, end, out_dir=out, progress=on_symbol, on_fold=on_fold,
                            evaluate=evaluate, **options)
    figures = _cross_section_figures(out) if evaluate else []
    if manifest:
        write_forecast_manifest(out, ["summary.csv", "summary.json", *figures])
    return UniverseForecastRun(summary, out, time.perf_counter() - started)


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


def run_walk_forward(bars: pd.DataFrame, config: ForecastConfig, start: str | None, end: str | None, *,
                     store: str | Path | None, threads: int | None,
                     on_fold: Callable[[FoldReport], None] | None) -> pd.DataFrame:
    """:func:`rnnstrategy.forecasting.walkforward.walk_forward` through the fold store ``store`` names, on
    ``threads`` PyTorch threads."""
    from rnnstrategy.forecasting.training import torch_threads
    from rnnstrategy.forecasting.walkforward import walk_forward

    with torch_threads(threads or None):
        return walk_forward(bars, config, start, end, store=resolve_store(store), progress=on_fold)


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


def reused_forecasts(
    forecasts: str | Path | pd.DataFrame | None, forecast: ForecastConfig | PooledConfig | None,
) -> tuple[pd.DataFrame | None, ForecastConfig | PooledConfig | None]:
    """The forecasts a run reuses instead of training, and its forecaster configuration.

    ``forecasts`` is a forecast frame, its CSV (read once here) or the folder of a universe run (whose
    files are read per symbol later: None is returned for it); the configuration is ``forecast`` when given,
    else the one recorded beside the forecasts (the frame's, or the folder's ``summary.json``), else None.
    """
    if isinstance(forecasts, (str, Path)) and Path(forecasts).is_dir():
        return None, forecast if forecast is not None else universe_forecast_config(Path(forecasts))
    reused = forecasts
    if isinstance(forecasts, (str, Path)):
        from rnnstrategy.data.forecast_files import read_forecasts

        reused = read_forecasts(forecasts)
    if forecast is None and reused is not None and reused.attrs.get("config"):
        forecast = forecast_config_from_dict(reused.attrs["config"], recorded=True)  # the one that made them
    return reused, forecast


def universe_forecast_config(folder: Path) -> ForecastConfig | PooledConfig | None:
    """The forecaster configuration a universe run in ``folder`` recorded in its ``summary.json``."""
    try:
        recorded = json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("config")
    except (OSError, ValueError, AttributeError):
        return None
    return forecast_config_from_dict(recorded, recorded=True) if isinstance(recorded, Mapping) else None
