"""Pooled walk-forward: one recurrent network per retrain, learned across a whole universe.

At each retrain day (every ``retrain_every`` market days from ``start``) one network
(``cell``, ``hidden``, ... as for per-symbol models; ``ensemble`` of them with consecutive
seeds, averaged) learns from the samples of every symbol whose labels are known by then
(:func:`rnnstrategy.forecasting.panel.training_rows`): windows of ``lookback`` feature rows,
labelled with the ``next_open`` return log(open(t+2)/open(t+1)) normalised across each day's
symbols (``label_norm``). Features are scaled with statistics of the training rows only. The
network then forecasts every symbol on each market day until the next retrain.

The output is the per-symbol forecast frame of any walk-forward run (``pred_open_1..H``,
``fold``, realised ``open_1..H``), so the indicator, the strategies and the metrics need no
change. A pooled model predicts a relative return, not a price: it writes
``pred_open_1 = close(t)`` and ``pred_open_h = close(t) * exp(s * sigma)`` for h >= 2, where
``s`` is the predicted normalised label and ``sigma`` the mean daily cross-sectional spread of
the raw label over the training days, so ``pred_open_2 / pred_open_1 - 1`` is the expected
return relative to the day's other stocks, in return units. A common daily offset leaves
every rank measure unchanged; price-level metrics (RMSE against the previous close) of a
pooled run are not meaningful.

Samples are never copied per fold: the panel holds each row's features once, a fold's
samples are row numbers, and mini-batches gather their windows (:class:`PanelWindows`).
With a fold store, each fold's model (weights, feature scaler, label spread) is kept under a key
of the configuration, the symbols and the bars up to its retrain day, and its forecasts under the
bars up to its last forecast day: a rerun or an interrupted run trains only what is missing, and a
run one day later (a daily signal) reads the model and forecasts the new day without retraining.
"""

from __future__ import annotations

import dataclasses
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
from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.foldstore import FoldStore
from rnnstrategy.forecasting.forecaster import resolve_device
from rnnstrategy.forecasting.nets import RecurrentNet
from rnnstrategy.forecasting.panel import (
    Panel,
    build_panel,
    normalise_by_day,
    retrain_days,
    training_rows,
    validation_split,
)
from rnnstrategy.forecasting.training import TrainConfig, seeded, train

__all__ = ["PanelWindows", "PooledFold", "pooled_walk_forward"]

log = logging.getLogger(__name__)


class PanelWindows:
    """Windows of panel rows, gathered on demand: ``x[idx]`` is ``(len(idx), lookback, F)``.

    Stands in for the ``x`` tensor of :func:`rnnstrategy.forecasting.training.train`: ``len``,
    a slice (another :class:`PanelWindows`) and an index tensor (the gathered windows).
    """

    def __init__(self, features: torch.Tensor, ends: torch.Tensor, lookback: int) -> None:
        self.features, self.ends, self.lookback = features, ends, lookback
        self._steps = torch.arange(-lookback + 1, 1, device=features.device)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, key: slice | torch.Tensor) -> PanelWindows | torch.Tensor:
        if isinstance(key, slice):
            return PanelWindows(self.features, self.ends[key], self.lookback)
        rows = self.ends[key.to(self.ends.device)]
        return self.features[rows[:, None] + self._steps]


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
    config: ForecastConfig,
    start: object,
    end: object | None = None,
    *,
    market: pd.DataFrame | None = None,
    store: str | Path | None = None,
    progress: Callable[[PooledFold], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Out-of-sample forecast frames of every symbol from one pooled model per retrain.

    Args:
        bars: canonical bar frames by symbol; each should hold the history its first fold
            needs (``config.history_needed()`` bars before ``start``).
        config: a :class:`ForecastConfig` (``pooled`` need not be set: this is the pooled run).
        start, end: first and last forecast dates; the first retrain is the first market day
            on or after ``start``.
        market: the bars of an index (``config.market`` loaded), or None.
        store: fold store root; None keeps nothing.
        progress: called with each fold's :class:`PooledFold`.

    Returns:
        Forecast frames by symbol (symbols without a forecast are left out), each with
        ``attrs["folds"]`` (the run's folds) and ``attrs["config"]``.
    """
    device = resolve_device(config.device)
    panel = build_panel(bars, config.features, config.lookback, feature_norm=config.feature_norm, market=market)
    folds = retrain_days(panel.calendar, start, end, config.retrain_every)
    keys = _FoldKeys(panel, bars, market, config)
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
            previous, counts = _fit(panel, config, device, p, previous)
            report = PooledFold(k, len(folds), date, *counts, time.perf_counter() - started, False)
            if fold_store:
                fold_store.save_state(date, model_key, previous, {"fold": str(k)})
        stored = fold_store.load_forecasts(date, scores_key, "scores", days) if model is not None else None
        if stored is not None:
            values = stored["score"].to_numpy()
        else:
            values = _score(panel, config, device, previous, rows)
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


def _fit(
    panel: Panel, config: ForecastConfig, device: torch.device, p: int,
    previous: Mapping[str, torch.Tensor] | None,
) -> tuple[dict[str, torch.Tensor], tuple[int, int, int]]:
    """Train the fold retrained at day ``p`` (each ensemble member from its own weights of the previous
    fold when warm-starting) on the samples whose labels are known by then; return the fold's model
    (every member's weights, ``"m<k>."`` before each name, with the feature scaler and the label's
    spread; see :func:`_score`) and (training samples, validation samples, epochs run)."""
    train_rows = training_rows(panel, p, config.train_window)
    if len(train_rows) < max(config.batch_size, 2 * config.lookback):
        raise DataError(f"only {len(train_rows)} training samples by {panel.calendar[p].date()}: start later, "
                        "add symbols or history")
    fit_rows, val_rows = validation_split(panel, train_rows, config.val_fraction if config.patience else 0.0)
    ordered = np.concatenate([fit_rows, val_rows])
    labels = normalise_by_day(panel.label[ordered], panel.day[ordered], len(panel.calendar), config.label_norm)
    mean, std = _scaler(panel, fit_rows)
    features = _scaled(panel, mean, std, device)
    x = PanelWindows(features, torch.as_tensor(ordered, device=device), panel.lookback)
    y = torch.as_tensor(labels, dtype=torch.float32)[:, None]  # batches move to the device in train()
    warm = config.warm_start and previous is not None
    train_config = TrainConfig(epochs=config.warm_start_epochs if warm else config.epochs,
                               batch_size=config.batch_size, lr=config.lr, loss=config.loss,
                               grad_clip=config.grad_clip, patience=config.patience,
                               val_fraction=config.val_fraction, seed=config.seed)
    epochs = 0
    model = {"scaler.mean": torch.from_numpy(mean), "scaler.std": torch.from_numpy(std),
             "label.sigma": torch.tensor([_daily_spread(panel, fit_rows)], dtype=torch.float64)}
    for member in range(config.ensemble):
        seed = config.seed + member
        module = _member(features.shape[1], config, seed, device)
        prefix = f"m{member}."
        if warm:
            module.load_state_dict({name[len(prefix):]: value for name, value in previous.items()
                                    if name.startswith(prefix)})
        history = train(module, x, y, dataclasses.replace(train_config, seed=seed), device=device,
                        n_val=len(val_rows))
        epochs += len(history)
        model |= {prefix + name: value.detach().cpu().clone() for name, value in module.state_dict().items()}
    return model, (len(fit_rows), len(val_rows), epochs)


def _member(inputs: int, config: ForecastConfig, seed: int, device: torch.device) -> RecurrentNet:
    with seeded(seed, device):  # the initial weights depend on the seed only
        return RecurrentNet(inputs, 1, config.cell, config.hidden, config.dropout).to(device)


def _score(panel: Panel, config: ForecastConfig, device: torch.device, model: Mapping[str, torch.Tensor],
           rows: np.ndarray) -> np.ndarray:
    """The fold's forecasts of ``rows``: the ensemble's mean normalised label times the label's spread,
    in the raw label's unit, from ``model`` as :func:`_fit` returns it (trained now or read back)."""
    features = _scaled(panel, model["scaler.mean"].numpy(), model["scaler.std"].numpy(), device)
    total = np.zeros(len(rows))
    for member in range(config.ensemble):
        prefix = f"m{member}."
        module = _member(features.shape[1], config, config.seed + member, device)
        module.load_state_dict({name[len(prefix):]: value for name, value in model.items() if name.startswith(prefix)})
        total += _predict(module, features, rows, panel.day[rows], panel.lookback, device)
    return total / config.ensemble * float(model["label.sigma"][0])


def _daily_spread(panel: Panel, rows: np.ndarray) -> float:
    """Mean over days of the cross-sectional standard deviation of the raw label."""
    frame = pd.DataFrame({"day": panel.day[rows], "label": panel.label[rows]})
    spread = frame.groupby("day")["label"].std().dropna()
    return float(spread.mean()) if len(spread) else 0.0


def _scaler(panel: Panel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and spread of the feature rows in the windows of the training ``rows`` (spread 1 where 0)."""
    lookback = panel.lookback
    window_rows = np.unique((rows[:, None] + np.arange(-lookback + 1, 1)).ravel())
    sample = panel.features[window_rows].astype(np.float64)
    mean, std = sample.mean(axis=0), sample.std(axis=0)
    std[~(std > 0)] = 1.0
    return mean, std


def _scaled(panel: Panel, mean: np.ndarray, std: np.ndarray, device: torch.device) -> torch.Tensor:
    """The feature rows standardised with ``mean`` and ``std``; undefined values become 0 (the mean)."""
    scaled = (panel.features - mean) / std
    scaled[~np.isfinite(scaled)] = 0.0
    return torch.as_tensor(scaled, dtype=torch.float32, device=device)


@torch.no_grad()
def _predict(module: RecurrentNet, features: torch.Tensor, rows: np.ndarray, days: np.ndarray, lookback: int,
             device: torch.device) -> np.ndarray:
    """The module's output for each of ``rows``, one forward pass per market day.

    A matrix product's blocking, and so the last bits of a row's result, can change with how many rows
    share the pass; a pass per day holds exactly that day's rows (in symbol order), so a forecast's
    arithmetic depends on no later row, on every processor (the timing contract, bit for bit).
    """
    module.eval()
    out = np.zeros(len(rows))
    order = np.argsort(days, kind="stable")
    bounds = np.flatnonzero(np.diff(days[order])) + 1
    windows = PanelWindows(features, torch.as_tensor(rows, device=device), lookback)
    for piece in np.split(order, bounds) if len(rows) else []:
        out[piece] = module(windows[torch.as_tensor(piece)])[:, 0].cpu().numpy()  # (rows of the day,)
    return out


def _frames(panel: Panel, config: ForecastConfig, scores: np.ndarray, fold_of: np.ndarray,
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


class _FoldKeys:
    """Store keys: the configuration, the symbols, and every bar up to a fold's last forecast day."""

    def __init__(self, panel: Panel, bars: Mapping[str, pd.DataFrame], market: pd.DataFrame | None,
                 config: ForecastConfig) -> None:
        self.panel = panel
        self.config = {**config.fingerprint(), "symbols": list(panel.symbols), "pooled_model": True}
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
            digest.update(hashes[: int(np.searchsorted(own, q, side="right"))].tobytes())
        if self._market is not None:
            digest.update(self._market[: int(self._market_dates.searchsorted(last, side="right"))].tobytes())
        return digest.hexdigest()[:16]
