"""Pooled walk-forward: one recurrent network per retrain, learned across a whole universe.

At each retrain day (every ``retrain_every_days`` market days from ``start``) one network
(``cell``, ``hidden``, ... as for per-symbol models; ``ensemble`` of them with consecutive
seeds, averaged) learns from the samples of every symbol whose labels are known by then
(:func:`rnnstrategy.forecasting.pooled.panel.training_rows`): windows of ``lookback`` feature rows,
labelled with the ``next_open`` return log(open(t+2)/open(t+1)) normalised across each day's
symbols (``label_norm``). Features are scaled with statistics of the training rows only. The
network then forecasts every symbol on each market day until the next retrain (the training and
scoring of a fold are in :mod:`rnnstrategy.forecasting.pooled.fit`).

The output is the per-symbol forecast frame of any walk-forward run (``pred_open_1..H``,
``fold``, realised ``open_1..H``), so the indicator, the strategies and the metrics need no
change. A pooled model predicts a relative return, not a price: it writes
``pred_open_1 = close(t)`` and ``pred_open_h = close(t) * exp(s * sigma)`` for h >= 2, where
``s`` is the predicted normalised label and ``sigma`` the mean daily cross-sectional spread of
the raw label over the training days, so ``pred_open_2 / pred_open_1 - 1`` is the expected
return relative to the day's other stocks, in return units. A common daily offset leaves
every rank measure unchanged; price-level metrics (RMSE against the previous close) of a
pooled run are not meaningful.

With a fold store, each fold's model (weights, feature scaler, label spread) is kept under a key
of the configuration, the symbols and the bars up to its retrain day, and its forecasts under the
bars up to its last forecast day: a rerun or an interrupted run trains only what is missing, and a
run one day later (a daily signal) reads the model and forecasts the new day without retraining.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.forecasting.foldstore import FoldStore
from rnnstrategy.forecasting.forecaster import resolve_device
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.fit import fit_fold, score_fold
from rnnstrategy.forecasting.pooled.panel import Panel, build_panel, retrain_days

__all__ = ["PooledFold", "pooled_walk_forward"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PooledFold:
    """What one pooled retrain did (kept in the frames' ``attrs["folds"]``)."""

    fold: int
    folds: int
    retrain_date: pd.Timestamp
    samples: int
    validation: int
    epochs: int
    seconds: float
    stored: bool

    @property
    def trained(self) -> bool:
        return not self.stored

    def as_dict(self) -> dict[str, object]:
        return {"fold": self.fold, "retrain_date": str(self.retrain_date.date()), "samples": self.samples,
                "validation": self.validation, "epochs": self.epochs, "seconds": round(self.seconds, 3),
                "stored": self.stored}


def pooled_walk_forward(
    bars: Mapping[str, pd.DataFrame],
    config: PooledConfig,
    start: object,
    end: object | None = None,
    *,
    market: pd.DataFrame | None = None,
    store: str | Path | None = None,
    progress: Callable[[PooledFold], None] | None = None,
    train_days: Mapping[str, pd.DatetimeIndex] | None = None,
) -> dict[str, pd.DataFrame]:
    """Out-of-sample forecast frames of every symbol from one pooled model per retrain.

    Args:
        bars: canonical bar frames by symbol; each should hold the history its first fold
            needs (``config.history_needed()`` bars before ``start``).
        config: the model and its schedule (:class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`).
        start, end: first and last forecast dates; the first retrain is the first market day
            on or after ``start``.
        market: the bars of an index (``config.market`` loaded), or None.
        store: fold store root; None keeps nothing.
        progress: called with each fold's :class:`PooledFold`.
        train_days: the days on which each symbol's rows may be training samples (an index's member
            days: a model that learns from members only); a symbol not in it gives none. None: every
            row. Every symbol is still scored, so the forecasts of a day do not depend on which
            symbols are learnt from after it.

    Returns:
        Forecast frames by symbol (symbols without a forecast are left out), each with
        ``attrs["folds"]`` (the run's folds) and ``attrs["config"]``.
    """
    device = resolve_device(config.device)
    panel = build_panel(bars, config.features, config.lookback, feature_norm=config.feature_norm, market=market)
    folds = retrain_days(panel.calendar, start, end, config.retrain_every_days)
    exclude = None if train_days is None else _excluded_rows(panel, train_days)
    keys = _FoldKeys(panel, bars, market, config, exclude)
    fold_store = FoldStore(store, "_pooled", keys.config) if store else None
    scores = np.full(len(panel), np.nan)
    fold_of = np.full(len(panel), -1, dtype=np.int64)
    reports: list[PooledFold] = []
    previous: dict[str, torch.Tensor] | None = None
    for k, (p, q) in enumerate(folds):
        started = time.perf_counter()
        rows = np.flatnonzero(panel.window_ok & (panel.day >= p) & (panel.day <= q))
        date = panel.calendar[p]
        days = panel.calendar[panel.day[rows]]
        # the fold's model is keyed by the bars up to its retrain day, so a later day reuses it (a daily run
        # trains once per retrain); its scores by the bars up to the fold's last day
        model_key, scores_key = keys.model(k, p), keys.of(k, p, q)
        model = fold_store.load_state(date, model_key) if fold_store else None
        if model is not None:
            previous, report = model.state, PooledFold(k, len(folds), date, 0, 0, 0, 0.0, True)
        else:
            previous, counts = fit_fold(panel, config, device, p, previous, exclude)
            report = PooledFold(k, len(folds), date, *counts, time.perf_counter() - started, False)
            if fold_store:
                fold_store.save_state(date, model_key, previous, {"fold": str(k)})
        stored = fold_store.load_forecasts(date, scores_key, "scores", days) if model is not None else None
        if stored is not None:
            values = stored["score"].to_numpy()
        else:
            values = score_fold(panel, config, device, previous, rows)
            if fold_store:
                fold_store.save_forecasts(date, scores_key, "scores", pd.DataFrame({"score": values}, index=days))
        scores[rows], fold_of[rows] = values, k
        reports.append(report)
        log.info("pooled fold %d/%d %s: %s", k + 1, len(folds), date.date(),
                 "from the store" if report.stored else
                 f"{report.samples:,} samples, {report.epochs} epochs, {report.seconds:.1f} s")
        if progress:
            progress(report)
    return _frames(panel, config, scores, fold_of, [r.as_dict() for r in reports])


def _frames(panel: Panel, config: PooledConfig, scores: np.ndarray, fold_of: np.ndarray,
            folds: list[dict[str, object]]) -> dict[str, pd.DataFrame]:
    """Per-symbol forecast frames from the rows' scores (relative log-returns)."""
    frames: dict[str, pd.DataFrame] = {}
    for i, symbol in enumerate(panel.symbols):
        own = panel.rows_of(i)
        score, fold = scores[own], fold_of[own]
        forecast = fold >= 0
        if not forecast.any():
            continue
        close, opens = panel.close[own], panel.open[own]
        dates = panel.calendar[panel.day[own]]
        columns: dict[str, np.ndarray] = {"pred_open_1": close}
        for h in range(2, config.horizon + 1):
            columns[f"pred_open_{h}"] = close * np.exp(score)
        columns["fold"] = fold
        for h in range(1, config.horizon + 1):
            columns[f"open_{h}"] = np.concatenate([opens[h:], np.full(min(h, len(opens)), np.nan)])
        frame = pd.DataFrame(columns, index=pd.DatetimeIndex(dates, name="date"))[forecast]
        frame.attrs = {"symbol": symbol, "folds": folds, "config": config.to_dict()}
        frames[symbol] = frame
    return frames


def _excluded_rows(panel: Panel, train_days: Mapping[str, pd.DatetimeIndex]) -> np.ndarray:
    """``(N,)`` True on the rows that are no training sample: their day is not among their symbol's ``train_days``."""
    exclude = np.ones(len(panel), dtype=bool)
    for i, symbol in enumerate(panel.symbols):
        days = train_days.get(symbol)
        if days is not None and len(days):
            own = panel.rows_of(i)
            exclude[own] = ~panel.calendar[panel.day[own]].isin(pd.DatetimeIndex(days))
    return exclude


class _FoldKeys:
    """Store keys: the configuration, the symbols, and every bar up to a fold's last forecast day (and, for a
    model that learns from some rows only, which rows up to that day it may learn from)."""

    def __init__(self, panel: Panel, bars: Mapping[str, pd.DataFrame], market: pd.DataFrame | None,
                 config: PooledConfig, exclude: np.ndarray | None = None) -> None:
        self.panel = panel
        self.config = {**config.fingerprint(), "symbols": list(panel.symbols), "pooled_model": True,
                       **({"train_days": True} if exclude is not None else {})}
        self._exclude = exclude
        self._rows = [DataFingerprint(bars[s]).rows for s in panel.symbols]
        self._market = None if market is None else DataFingerprint(market).rows
        self._market_dates = None if market is None else market.index
        self._first: int | None = None

    def of(self, k: int, p: int, q: int) -> str:
        """Key of the forecasts of fold ``k`` (retrain day ``p``) up to day ``q``: the bars up to ``q``."""
        return self._key(f"{k}:{p}:{q}", p, q)

    def model(self, k: int, p: int) -> str:
        """Key of the model of fold ``k``, trained at the close of day ``p``: the bars up to ``p``."""
        return self._key(f"model:{k}:{p}", p, p)

    def _key(self, label: str, p: int, q: int) -> str:
        """Warm-started folds chain to the first retrain, so it is part of every key."""
        if self._first is None:
            self._first = p
        digest = hashlib.sha256(f"{label}:{self._first if self.config['config']['warm_start'] else ''}".encode())
        last = self.panel.calendar[q]
        for i, hashes in enumerate(self._rows):
            own = self.panel.day[self.panel.rows_of(i)]
            upto = int(np.searchsorted(own, q, side="right"))
            digest.update(hashes[:upto].tobytes())
            if self._exclude is not None:
                first = int(self.panel.offsets[i])
                digest.update(np.packbits(self._exclude[first:first + upto]).tobytes())
        if self._market is not None:
            digest.update(self._market[: int(self._market_dates.searchsorted(last, side="right"))].tobytes())
        return digest.hexdigest()[:16]
