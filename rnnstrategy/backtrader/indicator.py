"""``RNNForecast``: walk-forward forecasts of the next opens as a Backtrader indicator.

Lines, at the close of bar t:

``next_open``
    ô(t+1), the predicted open of the next bar.
``expected_return``
    the return the strategy can expect when it trades at this close, by ``execution``:
    ``"next_open"`` (a market order fills at the next open) ô(t+2) / ô(t+1) − 1, which
    needs ``horizon >= 2``; ``"close"`` (cheat-on-close) ô(t+1) / close(t) − 1. Of a pooled
    model's forecasts it is a cross-sectional score (the day's ranked label, over the model's
    ``label_sessions`` sessions from the next open), to rank stocks by, not a return.

The forecasts come from one of two sources:

* precomputed: ``forecasts`` is a forecast frame (:func:`rnnstrategy.forecasting.walkforward.walk_forward`)
  or the path of one written by :func:`rnnstrategy.data.forecast_files.write_forecasts`; each bar
  takes the row of its date (NaN when there is none);
* computed from the feed's own bars with ``config`` (default
  :class:`~rnnstrategy.forecasting.walkforward.ForecastConfig`), first forecast at ``start``, folds
  kept in ``store`` when given (so a parameter sweep trains each fold once).

Modes give identical lines. In batch mode (``runonce``) the indicator runs
:func:`~rnnstrategy.forecasting.walkforward.walk_forward` on the feed's whole array, which is
legitimate because each forecast reads bars up to its own date only (the timing contract).
Bar by bar (``runonce=False``, also with ``preload=False``, live-like) it never reads a bar
after the current one: a :class:`~rnnstrategy.forecasting.stream.WalkForwardStream` receives each
bar as it closes, retrains on the same rows as the batch walk-forward and forecasts the bar
from bars up to it, so the numbers are the same. A bar without a retrain costs one feature
row and one forward pass of the fold's network, not a pass over the history; a retrain logs
its start and end at INFO and calls ``progress``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from rnnstrategy.data.forecast_files import forecast_horizon, holds_scores, read_forecasts
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.splitter import first_sample_end
from rnnstrategy.forecasting.stream import WalkForwardStream
from rnnstrategy.forecasting.walkforward import ForecastConfig, bars_frame, first_retrain_row, walk_forward

__all__ = ["EXECUTIONS", "RUN_PARAMS", "RNNForecast", "check_execution", "feed_bars"]

log = logging.getLogger(__name__)

EXECUTIONS = ("next_open", "close")
"""How a strategy's order fills: at the next bar's open (default) or at this bar's close."""

RUN_PARAMS = (
    ("config", None),
    ("forecasts", None),
    ("store", None),
    ("start", None),
    ("execution", "next_open"),
)
"""The Backtrader params a run sets from its own settings, with their defaults: params of
:class:`RNNForecast` and of every :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy`,
which hands them on to its indicators."""


def check_execution(execution: str, horizon: int) -> None:
    """Raise :class:`ConfigError` unless ``execution`` is known and ``horizon`` supports it."""
    if execution not in EXECUTIONS:
        raise ConfigError(f"execution={execution!r} is unknown; use 'next_open' (fill at the next open) "
                          "or 'close' (cheat-on-close)")
    if execution == "next_open" and horizon < 2:
        raise ConfigError(
            f"execution='next_open' trades on ô(t+2) / ô(t+1) and needs horizon>=2, got horizon={horizon}: "
            "use horizon>=2 or execution='close'"
        )


def feed_bars(data: Any, size: int | None = None) -> pd.DataFrame:
    """The first ``size`` bars of a preloaded feed (default all) as a canonical bar frame."""
    size = data.buflen() if size is None else size
    dates = [bt.num2date(x).date() for x in data.datetime.array[:size]]
    values = np.column_stack([np.asarray(line.array[:size], dtype="float64")
                              for line in (data.open, data.high, data.low, data.close, data.volume)])
    return bars_frame(dates, values, _symbol(data))


def _symbol(data: Any) -> str:
    return getattr(data, "_name", "") or "bars"


class RNNForecast(bt.Indicator):
    """Predicted next open and the expected return of trading on it (see the module docstring).

    Params:
        config: :class:`~rnnstrategy.forecasting.walkforward.ForecastConfig` of the forecaster and its
            walk-forward schedule (default ``ForecastConfig()``); ignored with ``forecasts``.
        forecasts: precomputed forecast frame, or the path of a CSV from
            :func:`~rnnstrategy.data.forecast_files.write_forecasts`; None computes them from the feed.
        store: fold-store directory: folds trained once are reused by later runs and by
            every run of a ``cerebro.optstrategy`` sweep (also across processes).
        start: first forecast date (or row); earlier bars only train.
        execution: ``"next_open"`` (default) or ``"close"``; decides ``expected_return``.
        progress: called with the :class:`~rnnstrategy.forecasting.walkforward.FoldReport` of each
            fold once trained or loaded (batch: every fold of the run; bar by bar: each retrain
            as it happens); ignored with ``forecasts``.

    Usage: ``RNNForecast(data, config=ForecastConfig(), store="folds", start="2015-01-01")``.
    """

    lines = ("next_open", "expected_return")
    params = (*RUN_PARAMS, ("progress", None))
    plotinfo = (("subplot", False), ("plotname", "RNN forecast"))  # on the price panel; plotmaster set in __init__
    plotlines = (("next_open", {"ls": "--", "_name": "predicted open"}), ("expected_return", {"_plotskip": True}))

    def __init__(self) -> None:
        self.plotinfo.plotmaster = self.data
        self.config = self.p.config or ForecastConfig()
        if not isinstance(self.config, ForecastConfig):
            raise ConfigError(f"config={self.config!r}: pass a rnnstrategy.forecasting.walkforward.ForecastConfig")
        self._frame = self._load_forecasts()
        if self._frame is not None:
            self.horizon = forecast_horizon(self._frame, "forecasts")
            self._preds = self._frame[self._columns()].to_numpy("float64")
        else:
            self.horizon = self.config.horizon
            # no forecast can exist before this many bars, whatever the start
            warmup = self.config.warmup
            self.addminperiod(first_sample_end(self.config.lookback, warmup) + self.config.horizon
                              + self.config.min_train)
        check_execution(self.p.execution, self.horizon)
        self._stream: WalkForwardStream | None = None
        self._batch: np.ndarray | None = None  # (buflen, H) forecasts of the once mode
        self._seen = 0  # bars consumed bar by bar

    @property
    def scores(self) -> bool:
        """Whether ``expected_return`` is a cross-sectional score, to rank by, not a return: the forecasts are a
        pooled model's (:func:`~rnnstrategy.data.forecast_files.holds_scores`). Computed ones are returns."""
        return self._frame is not None and holds_scores(self._frame)

    def _load_forecasts(self) -> pd.DataFrame | None:
        forecasts = self.p.forecasts
        if forecasts is None:
            return None
        if isinstance(forecasts, (str, Path)):
            forecasts = read_forecasts(forecasts)
        if not isinstance(forecasts, pd.DataFrame):
            raise ConfigError(f"forecasts={type(forecasts).__name__}: pass a forecast frame, the path of a "
                              "forecast CSV, or None to compute forecasts from the feed")
        symbol, name = forecasts.attrs.get("symbol"), getattr(self.data, "_name", "")
        if symbol and name and symbol != name:
            raise ConfigError(f"the forecasts are for {symbol} but the feed is {name}: pass each feed its own "
                              "forecasts (a mapping of feed name to forecasts in the strategy)")
        return forecasts

    # -- bar by bar (runonce=False, or preload=False) ------------------------------------------------

    def prenext(self) -> None:
        self._step()

    def next(self) -> None:
        self._step()

    def _step(self) -> None:
        n = len(self.data)
        if n == self._seen:
            return  # another feed moved on; this one has no new bar (e.g. suspended)
        self._seen = n
        data = self.data
        if self._frame is not None:
            pred = self._lookup(pd.Timestamp(data.datetime.date(0)))
        else:
            if self._stream is None:
                self._stream = WalkForwardStream(self.config, self.p.start, symbol=_symbol(data), store=self.p.store,
                                                 progress=self.p.progress)
            pred = self._stream.update(data.datetime.date(0), data.open[0], data.high[0], data.low[0],
                                       data.close[0], data.volume[0])
        self.lines.next_open[0], self.lines.expected_return[0] = self._values(pred, data.close[0])

    def _columns(self) -> list[str]:
        return [f"pred_open_{h}" for h in range(1, self.horizon + 1)]

    def _lookup(self, date: pd.Timestamp) -> np.ndarray | None:
        index = self._frame.index
        i = index.searchsorted(date)
        if i < len(index) and index[i] == date:
            return self._preds[i]
        return None

    def _values(self, pred: np.ndarray | None, close: float) -> tuple[float, float]:
        if pred is None:
            return math.nan, math.nan
        if self.p.execution == "next_open":
            return float(pred[0]), float(pred[1] / pred[0] - 1.0)
        return float(pred[0]), float(pred[0] / close - 1.0)

    # -- batch (runonce) ------------------------------------------------------------------------------

    def preonce(self, start: int, end: int) -> None:
        self.once(start, end)

    def once(self, start: int, end: int) -> None:
        if self._batch is None:
            self._batch = self._batch_forecasts()
        next_open, expected = self.lines.next_open.array, self.lines.expected_return.array
        close = self.data.close.array
        for i in range(start, min(end, len(self._batch))):  # preonce may reach past a short feed
            row = self._batch[i]
            next_open[i], expected[i] = self._values(None if np.isnan(row[0]) else row, close[i])

    def _batch_forecasts(self) -> np.ndarray:
        """Forecasts ``(buflen, H)`` for every bar of the feed, NaN where there is none."""
        bars = feed_bars(self.data)
        columns = self._columns()
        if self._frame is not None:
            return self._frame[columns].reindex(bars.index).to_numpy("float64")
        if first_retrain_row(self.config, bars.index, self.p.start) is None:
            log.warning("%s: %d bars are too few for a forecast (min_train=%d, start=%s); the lines stay NaN",
                        _symbol(self.data), len(bars), self.config.min_train, self.p.start)
            return np.full((len(bars), self.horizon), np.nan)
        frame = walk_forward(bars, self.config, self.p.start, store=self.p.store, progress=self.p.progress)
        return frame[columns].reindex(bars.index).to_numpy("float64")
