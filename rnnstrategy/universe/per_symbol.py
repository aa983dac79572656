"""One source of a universe forecast: the task a worker runs (plain, picklable data) and its
work, :func:`forecast_symbol`, which loads the source's bars, forecasts them walk-forward and
measures the forecasts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.errors import RnnStrategyError
from rnnstrategy.evaluation.metrics import forecast_metrics
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.foldstore import recorded_warnings
from rnnstrategy.forecasting.walkforward import first_retrain_row, walk_forward
from rnnstrategy.universe.sources import load_run_bars
from rnnstrategy.universe.summary import NOTED_LOGGERS, day, finish, stem

__all__ = ["SymbolTask", "forecast_symbol"]


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

    def load_bars(self) -> pd.DataFrame:
        """The bars the run reads (see :func:`~rnnstrategy.universe.sources.load_run_bars`)."""
        return load_run_bars(self.source, self.config, self.start, adjust=self.adjust, strict=self.strict)


def forecast_symbol(task: SymbolTask) -> tuple[dict[str, object], pd.DataFrame | None]:
    """Walk-forward forecasts of one source: its summary row and forecast frame.

    Expected problems (a bad or unreadable file, too little history) come back in the
    row (status ``failed`` or ``skipped``) with the frame None; anything else raises, so
    the executor retries it.
    """
    started = time.perf_counter()
    row: dict[str, object] = {"symbol": stem(task.source), "source": task.source}
    try:
        bars = task.load_bars()
    except RnnStrategyError as exc:
        return finish(row, started, "failed", str(exc)), None
    row.update(symbol=str(bars.attrs.get("symbol") or row["symbol"]), bars=len(bars),
               first_bar=day(bars.index[0]), last_bar=day(bars.index[-1]),
               fingerprint=DataFingerprint(bars).upto(len(bars) - 1))
    reason = _too_short(bars, task)
    if reason:
        return finish(row, started, "skipped", reason), None
    with recorded_warnings(*NOTED_LOGGERS) as notes:
        try:
            forecasts = walk_forward(bars, task.config, task.start, task.end, store=task.store)
        except RnnStrategyError as exc:
            forecasts, failure = None, str(exc)
    if notes:
        row["notes"] = " | ".join(notes)
    if forecasts is None:
        return finish(row, started, "failed", failure), None
    metrics = forecast_metrics(forecasts, bars) if task.evaluate else {}
    folds = forecasts.attrs["folds"]
    row.update(
        forecasts=len(forecasts), first_forecast=day(forecasts.index[0]), last_forecast=day(forecasts.index[-1]),
        folds=len(folds), trained=sum(bool(f["trained"]) for f in folds), rmse=metrics.get("rmse"),
        baseline_rmse=metrics.get("baseline_prev_close_rmse"), rmse_ratio=metrics.get("rmse_ratio"),
        direction_hit_rate=metrics.get("direction_hit_rate"),
    )
    return finish(row, started, "ok", metrics.get("verdict", "")), forecasts


def _too_short(bars: pd.DataFrame, task: SymbolTask) -> str | None:
    """Why no retrain fits in the requested range, or None when one does."""
    config = task.config
    first = first_retrain_row(config, bars.index, task.start)
    if first is not None and (task.end is None or bars.index[first] <= pd.Timestamp(task.end)):
        return None
    where = f"{len(bars)} bars {day(bars.index[0])}..{day(bars.index[-1])}"
    window = f"start={task.start}, end={task.end}" if task.start or task.end else "the whole history"
    return (f"too little history: {where} hold no retrain in {window} (min_train={config.min_train} samples "
            f"of lookback={config.lookback}, horizon={config.horizon}); use a longer history or lower min_train")
