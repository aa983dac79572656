"""Pooled walk-forward: one recurrent network per retrain, learned across a whole universe.

At each retrain day (every ``retrain_every_days`` market days from ``start``) one network
(``cell``, ``hidden``, ... as for per-symbol models; ``ensemble`` of them with consecutive
seeds, averaged) learns from the samples of every symbol whose labels are known by then
(:func:`rnnstrategy.forecasting.pooled.panel.training_rows`): windows of ``lookback`` feature rows,
labelled with the return from the next open over ``label_sessions`` (L) sessions,
log(open(t+1+L)/open(t+1)) (L = 1: the ``next_open`` return log(open(t+2)/open(t+1))), normalised
across each day's symbols (``label_norm``); a label is known L + 1 sessions after its day.
Features are scaled with statistics of the training rows only. The network then forecasts every
symbol on each market day until the next retrain (the training and scoring of a fold are in
:mod:`rnnstrategy.forecasting.pooled.fit`).

The output is the per-symbol forecast frame of any walk-forward run (``pred_open_1..H``,
``fold``, realised ``open_1..H``), so the indicator, the strategies and the metrics need no
change. A pooled model predicts a relative return, not a price: it writes
``pred_open_1 = close(t)`` and ``pred_open_h = close(t) * exp(s * sigma)`` for h >= 2, where
``s`` is the predicted normalised label and ``sigma`` the mean daily cross-sectional spread of
the raw label over the training days, so ``pred_open_2 / pred_open_1 - 1`` is a score: the
predicted return relative to the day's other stocks over the label's L sessions (one day for
L = 1), in that return's units; it ranks the stocks and is no one-day return. A common daily
offset leaves every rank measure unchanged; price-level metrics (RMSE against the previous
close) of a pooled run are not meaningful, and the realised ``open_h`` columns stay the next
opens whatever the label.

With a fold store, each fold's model (weights, feature scaler, label spread) is kept under a key
of the configuration, the symbols and the bars up to its retrain day, and its forecasts under the
bars up to its last forecast day: a rerun or an interrupted run trains only what is missing, and a
run one day later (a daily signal) reads the model and forecasts the new day without retraining.

Folds are independent given the panel (each learns only from labels known by its retrain day), unless
warm-started (each then starts from the previous fold's weights): a fold is a :class:`FoldJob`, what
every fold reads is one :class:`FoldPlan`, and a runner turns jobs into :class:`FoldScores` in any
order (:func:`local_folds`, one after another here, is the default; a universe run may hand them to
Ray, see :mod:`rnnstrategy.universe.pooled_folds`). The forecasts are assembled in fold order, so
they do not depend on the runner. A fold's ensemble members train inside its job, as one stacked
computation (:func:`~rnnstrategy.forecasting.pooled.fit.fit_fold`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.forecasting.foldstore import FoldStore
from rnnstrategy.forecasting.forecaster import resolve_device
from rnnstrategy.forecasting.pooled.config import MARKET_AUTO, PooledConfig
from rnnstrategy.forecasting.pooled.fit import TRAINING, fit_fold, score_fold
from rnnstrategy.forecasting.pooled.panel import Panel, build_panel, retrain_days

__all__ = ["FoldJob", "FoldPlan", "FoldRunner", "FoldScores", "PooledFold", "fold_rows", "local_folds",
           "pooled_walk_forward", "run_fold"]

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


@dataclass(frozen=True)
class FoldPlan:
    """What every fold of a run reads: the panel, the model, the rows it may not learn from, and the fold store
    (its root and the configuration its entries are filed under). One value, shared by every job."""

    panel: Panel
    config: PooledConfig
    exclude: np.ndarray | None
    store: str | None
    store_config: dict[str, object]
    folds: int


@dataclass(frozen=True)
class FoldJob:
    """One retrain: fold ``fold`` retrained at calendar day ``p`` forecasts the days ``p .. q``; its model and its
    scores are stored under ``model_key`` and ``scores_key``."""

    fold: int
    p: int
    q: int
    model_key: str
    scores_key: str


@dataclass(frozen=True)
class FoldScores:
    """What one fold gives back: the scores of its rows (:func:`fold_rows`, in order) and its report."""

    fold: int
    scores: np.ndarray
    report: PooledFold


FoldRunner = Callable[[Sequence[FoldJob], FoldPlan], Iterable[FoldScores]]
"""Runs the jobs of a plan, yielding each fold's scores as it finishes (in any order)."""


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
    run_folds: FoldRunner | None = None,
) -> dict[str, pd.DataFrame]:
    """Out-of-sample forecast frames of every symbol from one pooled model per retrain.

    Args:
        bars: canonical bar frames by symbol; each should hold the history its first fold
            needs (``config.history_needed()`` bars before ``start``).
        config: the model and its schedule (:class:`~rnnstrategy.forecasting.pooled.config.PooledConfig`).
        start, end: first and last forecast dates; the first retrain is the first market day
            on or after ``start``.
        market: the bars of an index (``config.market`` loaded), or None. A ``config.market`` still
            ``"auto"`` (:data:`~rnnstrategy.forecasting.pooled.config.MARKET_AUTO`) is recorded as the source of
            ``market`` (None without it); a universe run resolves it first
            (:func:`rnnstrategy.universe.pooled.with_market`).
        store: fold store root; None keeps nothing.
        progress: called with each fold's :class:`PooledFold`.
        train_days: the days on which each symbol's rows may be training samples (an index's member
            days: a model that learns from members only); a symbol not in it gives none. None: every
            row. Every symbol is still scored, so the forecasts of a day do not depend on which
            symbols are learnt from after it.
        run_folds: runs the folds (:data:`FoldRunner`); None: :func:`local_folds`, here, one after another.

    Returns:
        Forecast frames by symbol (symbols without a forecast are left out), each with
        ``attrs["folds"]`` (the run's folds) and ``attrs["config"]``.
    """
    resolve_device(config.device)  # a device this machine lacks fails before any work
    config = _market_named(config, market)
    panel = build_panel(bars, config.features, config.lookback, feature_norm=config.feature_norm, market=market,
                        label_sessions=config.label_sessions)
    folds = retrain_days(panel.calendar, start, end, config.retrain_every_days)
    exclude = None if train_days is None else _excluded_rows(panel, train_days)
    keys = _FoldKeys(panel, bars, market, config, exclude)
    # a fold's model is keyed by the bars up to its retrain day, so a later day reuses it (a daily run trains once
    # per retrain); its scores by the bars up to the fold's last day
    jobs = [FoldJob(k, p, q, keys.model(k, p), keys.of(k, p, q)) for k, (p, q) in enumerate(folds)]
    plan = FoldPlan(panel, config, exclude, str(store) if store else None, keys.config, len(jobs))
    scores = np.full(len(panel), np.nan)
    fold_of = np.full(len(panel), -1, dtype=np.int64)
    reports: dict[int, PooledFold] = {}
    finished = iter((run_folds or local_folds)(jobs, plan))
    try:
        for done in finished:
            job, report = jobs[done.fold], done.report
            rows = fold_rows(panel, job.p, job.q)
            scores[rows], fold_of[rows] = done.scores, job.fold
            reports[job.fold] = report
            log.info("pooled fold %d/%d %s: %s", job.fold + 1, len(jobs), report.retrain_date.date(),
                     "from the store" if report.stored else
                     f"{report.samples:,} samples, {report.epochs} epochs, {report.seconds:.1f} s")
            if progress:
                progress(report)
    finally:  # a runner's tasks end with this call, however it ends
        getattr(finished, "close", lambda: None)()
    if len(reports) != len(jobs):
        raise RuntimeError(f"the fold runner gave {len(reports)} of {len(jobs)} folds")
    return _frames(panel, config, scores, fold_of, [reports[k].as_dict() for k in sorted(reports)])


def fold_rows(panel: Panel, p: int, q: int) -> np.ndarray:
    """The rows a fold retrained at day ``p`` forecasts: those of the days ``p .. q`` that end a full window."""
    return np.flatnonzero(panel.window_ok & (panel.day >= p) & (panel.day <= q))


def local_folds(jobs: Sequence[FoldJob], plan: FoldPlan) -> Iterator[FoldScores]:
    """Run the jobs here, in order, each (when warm-starting) from the model of the one before (the default
    :data:`FoldRunner`; a chain of warm-started folds runs so on any executor)."""
    device = resolve_device(plan.config.device)
    previous: dict[str, torch.Tensor] | None = None
    for job in jobs:
        done, previous = run_fold(job, plan, device, previous)
        yield done


def run_fold(job: FoldJob, plan: FoldPlan, device: torch.device, previous: Mapping[str, torch.Tensor] | None,
             ) -> tuple[FoldScores, dict[str, torch.Tensor]]:
    """Train (or read from the store) the model of ``job`` and score its rows; return the scores and the model
    (what the next fold starts from when warm-starting; ``previous`` is the one before, None for the first)."""
    started = time.perf_counter()
    panel, config = plan.panel, plan.config
    fold_store = FoldStore(plan.store, "_pooled", plan.store_config) if plan.store else None
    rows = fold_rows(panel, job.p, job.q)
    date = panel.calendar[job.p]
    days = panel.calendar[panel.day[rows]]
    model = fold_store.load_state(date, job.model_key) if fold_store else None
    if model is not None:
        state, report = model.state, PooledFold(job.fold, plan.folds, date, 0, 0, 0, 0.0, True)
    else:
        state, counts = fit_fold(panel, config, device, job.p, previous, plan.exclude)
        report = PooledFold(job.fold, plan.folds, date, *counts, time.perf_counter() - started, False)
        if fold_store:
            fold_store.save_state(date, job.model_key, state, {"fold": str(job.fold)})
    stored = fold_store.load_forecasts(date, job.scores_key, "scores", days) if model is not None else None
    if stored is not None:
        values = stored["score"].to_numpy()
    else:
        values = score_fold(panel, config, device, state, rows)
        if fold_store:
            fold_store.save_forecasts(date, job.scores_key, "scores", pd.DataFrame({"score": values}, index=days))
    return FoldScores(job.fold, values, report), state


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


def _market_named(config: PooledConfig, market: pd.DataFrame | None) -> PooledConfig:
    """``config`` whose ``market`` names what the run learns from, for its records: ``"auto"`` unresolved
    is None without ``market`` (the fold keys of a run without one stay those of ``market=None``), else the
    given bars' source (or symbol); the fold keys hash those bars in any case."""
    if config.market != MARKET_AUTO:
        return config
    named = None if market is None else str(market.attrs.get("source") or market.attrs.get("symbol") or "given")
    return replace(config, market=named)


class _FoldKeys:
    """Store keys: the configuration, the symbols, and every bar up to a fold's last forecast day (and, for a
    model that learns from some rows only, which rows up to that day it may learn from)."""

    def __init__(self, panel: Panel, bars: Mapping[str, pd.DataFrame], market: pd.DataFrame | None,
                 config: PooledConfig, exclude: np.ndarray | None = None) -> None:
        self.panel = panel
        self.config = {**config.fingerprint(), "symbols": list(panel.symbols), "pooled_model": True,
                       "training": TRAINING, **({"train_days": True} if exclude is not None else {})}
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
