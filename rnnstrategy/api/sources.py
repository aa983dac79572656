"""What a run reads, and whether it fits: one stock or a universe, how a source is recorded, the bars
loaded, a strategy that fits the data and a benchmark that covers the window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnstrategy.config import RunConfig
from rnnstrategy.data.frame import check_prices_move
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError

__all__ = ["Source", "check_benchmark_covers", "check_strategy_fits", "is_frame_label", "is_universe",
           "is_universe_config", "label", "load"]

Source = str | Path | pd.DataFrame
"""One security: a CSV path, a symbol (``"600519"``) or a canonical bar frame."""


def label(source: Source) -> str:
    """How a source is recorded in the configuration: its path or symbol, or a frame's symbol."""
    if isinstance(source, pd.DataFrame):
        return f"<frame {source.attrs.get('symbol', '')}>".replace(" >", ">")
    return str(source)


def is_frame_label(source: str | None) -> bool:
    """Whether ``source`` is the :func:`label` of a frame (given in Python, not a path or symbol)."""
    return bool(source) and source.startswith("<frame")


def is_universe(data: object) -> bool:
    """Whether ``data`` is a universe: a folder, or several sources (one folder in a list counts too)."""
    if isinstance(data, pd.DataFrame):
        return False
    if isinstance(data, (list, tuple)):
        return len(data) != 1 or Path(data[0]).is_dir()
    return Path(data).is_dir()  # type: ignore[arg-type]


def is_universe_config(config: RunConfig) -> bool:
    """Whether ``config`` trades a universe: several sources or a folder, or the forecasts of a universe run."""
    forecasts = config.backtest.forecasts
    if forecasts and not is_frame_label(forecasts) and Path(forecasts).is_dir():
        return True
    return not is_frame_label(str(config.data.source)) and is_universe(config.data.source)


def load(data: Source, adjust: str, start: str | None, history: int, *, strict: bool = True) -> pd.DataFrame:
    """The bars a run reads: ``history`` bars before ``start`` and all after (a frame as given); bars whose
    prices never move are refused (:func:`~rnnstrategy.data.frame.check_prices_move`)."""
    bars = data if isinstance(data, pd.DataFrame) else load_bars(data, start=start, history=history, adjust=adjust,
                                                                strict=strict)
    return check_prices_move(bars, label(data))


def check_strategy_fits(strategy: type, config: RunConfig, universe: bool) -> None:
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


def check_benchmark_covers(benchmark: pd.DataFrame, first: pd.Timestamp | None, last: pd.Timestamp) -> None:
    """Fail before training when the benchmark cannot cover the backtest window."""
    if first is not None and (benchmark.index[0] > first or benchmark.index[-1] < last):
        raise ConfigError(
            f"benchmark {benchmark.attrs.get('symbol')} has bars {benchmark.index[0]:%Y-%m-%d}.."
            f"{benchmark.index[-1]:%Y-%m-%d} but the backtest runs {first:%Y-%m-%d}..{last:%Y-%m-%d}; "
            "give a benchmark covering it, or set start/end inside its range"
        )
