"""What a universe backtest and a universe signal trade: the universe's forecasts (read from the folder of a
universe run, or made now) and each stock's bars and forecasts within the window."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.api.forecasts import check_device, forecast_universe
from rnnstrategy.api.results import UniverseForecastRun
from rnnstrategy.config import RunConfig
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.universe.as_of import AsOfUniverse, universe_as_of

__all__ = ["run_universe_as_of", "universe_forecasts", "universe_inputs"]

log = logging.getLogger(__name__)


def universe_forecasts(config: RunConfig, *, store: str | Path | None, threads: int | None, out: str | Path | None,
                       executor: str, workers: int | None,
                       on_symbol: Callable[[dict[str, Any]], None] | None,
                       on_fold: Callable[[Any], None] | None = None, evaluate: bool = True) -> UniverseForecastRun:
    """The universe run to trade: read from ``backtest.forecasts``, or forecast now into ``out``."""
    spec = config.backtest
    if spec.forecasts:
        folder = Path(spec.forecasts)
        if not (folder / "summary.csv").is_file():
            raise ConfigError(f"--forecasts {folder}: no summary.csv there; give the --out folder of `rnnstrategy "
                              "forecast FOLDER` (or of an earlier universe backtest)")
        return UniverseForecastRun(pd.read_csv(folder / "summary.csv", dtype={"symbol": str}), folder, 0.0)
    if out is None:
        raise ConfigError("a universe backtest writes each symbol's forecasts as it finishes: pass out='runs/topk' "
                          "(CLI: --out DIR), or forecasts= the folder of a universe run")
    check_device(config.forecast.device)
    return forecast_universe(config.data.source, config.forecast, spec.start, spec.end, Path(out),
                             adjust=config.data.adjust, strict=config.data.strict, store=store, threads=threads,
                             executor=executor, workers=workers, retries=1, on_symbol=on_symbol, on_fold=on_fold,
                             manifest=False, evaluate=evaluate, as_of=run_universe_as_of(config))


def run_universe_as_of(config: RunConfig) -> AsOfUniverse | None:
    """The universe as it stood that ``config`` trades (``data.universe`` beside ``data.source``); None without one."""
    return universe_as_of(config.data.source, config.data.universe,
                          members_only_training=config.data.members_only_training)


def universe_inputs(config: RunConfig, universe: UniverseForecastRun,
                    last_only: bool = False) -> tuple[list[pd.DataFrame], dict[str, pd.DataFrame]]:
    """The bars (from each symbol's first forecast date; with ``last_only``, from its last one in the window,
    all a decision on that day reads) and forecasts of every symbol forecast in ``universe``, within the
    backtest window."""
    from rnnstrategy.data.forecast_files import read_forecasts

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
