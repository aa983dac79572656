"""Training and scoring of one pooled fold: the network learns from panel rows, then scores them.

:func:`fit_fold` trains the fold retrained at a market day (``ensemble`` networks with consecutive
seeds, each warm-started from its own weights of the previous fold when asked) on the rows whose
labels are known by then (:func:`~rnnstrategy.forecasting.pooled.panel.training_rows`), labelled with
the return over the next ``label_sessions`` sessions from the next open (the panel's label) normalised
across each day's symbols (``label_norm``); features are scaled with statistics of the training rows
only. :func:`score_fold` turns the fold's model, trained now or read back from the fold store, into
forecasts of the rows it covers, one forward pass per market day.

The ensemble's members train as one stacked computation
(:func:`~rnnstrategy.forecasting.batched.training.train_many`), each with its own initial weights,
mini-batch order, dropout, gradient clipping, Adam state and early stopping (a member that stops
waits while the others go on); on CPU each member's weights equal, bit for bit, those of the same
member trained alone (``ensemble=1`` with its seed), so an ensemble's forecasts are those of K
separate trainings.

Samples are never copied per fold: the panel holds each row's features once, a fold's samples are
row numbers, and mini-batches gather their windows
(:class:`~rnnstrategy.forecasting.batched.windows.RowWindows`), one table for every member.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.batched.training import TrainJob, train_many
from rnnstrategy.forecasting.batched.windows import RowWindows
from rnnstrategy.forecasting.nets import RecurrentNet
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.panel import (
    Panel,
    normalise_by_day,
    training_rows,
    validation_split,
)
from rnnstrategy.forecasting.training import TrainConfig, seeded, torch_threads

__all__ = ["TRAINING", "fit_fold", "score_fold"]

TRAINING = "stacked"
"""How :func:`fit_fold` trains, part of every pooled fold's store key: the members side by side in one stacked
computation, whose last bits differ from those of the one-network loop that trained the folds stored before."""

_SCALE_CHUNK = 1 << 16
"""Feature rows standardised at a time (elementwise, so the chunks change no bit of the result)."""


def fit_fold(
    panel: Panel, config: PooledConfig, device: torch.device, p: int,
    previous: Mapping[str, torch.Tensor] | None, exclude: np.ndarray | None = None,
) -> tuple[dict[str, torch.Tensor], tuple[int, int, int]]:
    """Train the fold retrained at day ``p`` (each ensemble member from its own weights of the previous
    fold when warm-starting) on the samples whose labels are known by then (less the rows ``exclude``
    marks, e.g. the days a stock was no index member); return the fold's model
    (every member's weights, ``"m<k>."`` before each name, with the feature scaler and the label's
    spread; see :func:`score_fold`) and (training samples, validation samples, epochs run)."""
    train_rows = training_rows(panel, p, config.train_days, exclude=exclude)
    if len(train_rows) < max(config.batch_size, 2 * config.lookback):
        raise DataError(f"only {len(train_rows)} training samples by {panel.calendar[p].date()}: start later, "
                        "add symbols or history")
    fit_rows, val_rows = validation_split(panel, train_rows, config.val_fraction if config.patience else 0.0)
    ordered = np.concatenate([fit_rows, val_rows])
    labels = normalise_by_day(panel.label[ordered], panel.day[ordered], len(panel.calendar), config.label_norm)
    mean, std = _scaler(panel, fit_rows)
    features = _scaled(panel, mean, std, device)
    x = RowWindows(features, torch.as_tensor(ordered, device=device), panel.lookback)
    y = torch.as_tensor(labels, dtype=torch.float32)[:, None]  # moves to the device with the training
    warm = config.warm_start and previous is not None
    train_config = TrainConfig(epochs=config.warm_start_epochs if warm else config.epochs,
                               batch_size=config.batch_size, lr=config.lr, loss=config.loss,
                               grad_clip=config.grad_clip, patience=config.patience,
                               val_fraction=config.val_fraction, seed=config.seed)
    model = {"scaler.mean": torch.from_numpy(mean), "scaler.std": torch.from_numpy(std),
             "label.sigma": torch.tensor([_daily_spread(panel, fit_rows)], dtype=torch.float64)}
    members = [_member(features.shape[1], config, config.seed + k, device) for k in range(config.ensemble)]
    if warm:
        for k, module in enumerate(members):
            module.load_state_dict(_member_state(previous, k))
    jobs = [TrainJob(module, x, y, dataclasses.replace(train_config, seed=config.seed + k), n_val=len(val_rows))
            for k, module in enumerate(members)]
    histories = train_many(jobs, device=device, max_models=len(jobs))  # side by side, each its own model
    for k, module in enumerate(members):
        model |= {f"m{k}.{name}": value.detach().cpu().clone() for name, value in module.state_dict().items()}
    return model, (len(fit_rows), len(val_rows), sum(len(history) for history in histories))


def _member_state(model: Mapping[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Member ``k``'s network weights in ``model`` (their names without the ``"m<k>."`` prefix)."""
    prefix = f"m{k}."
    return {name[len(prefix):]: value for name, value in model.items() if name.startswith(prefix)}


def _member(inputs: int, config: PooledConfig, seed: int, device: torch.device) -> RecurrentNet:
    with seeded(seed, device):  # the initial weights depend on the seed only
        return RecurrentNet(inputs, 1, config.cell, config.hidden, config.dropout).to(device)


def score_fold(panel: Panel, config: PooledConfig, device: torch.device, model: Mapping[str, torch.Tensor],
           rows: np.ndarray) -> np.ndarray:
    """The fold's forecasts of ``rows``: the ensemble's mean normalised label times the label's spread,
    in the raw label's unit, from ``model`` as :func:`fit_fold` returns it (trained now or read back)."""
    features = _scaled(panel, model["scaler.mean"].numpy(), model["scaler.std"].numpy(), device)
    total = np.zeros(len(rows))
    # one CPU thread: a day's pass is small, and OpenMP threads spin-waiting between passes took a loaded
    # machine's cores (a fold's scores in 0.7 s on one thread, 1 to 43 s on two); the scores are the same
    with torch_threads(1 if device.type == "cpu" else None):
        for member in range(config.ensemble):
            module = _member(features.shape[1], config, config.seed + member, device)
            module.load_state_dict(_member_state(model, member))
            total += _predict(module, features, rows, panel.day[rows], panel.lookback, device)
    return total / config.ensemble * float(model["label.sigma"][0])


def _daily_spread(panel: Panel, rows: np.ndarray) -> float:
    """Mean over days of the cross-sectional standard deviation of the raw label."""
    frame = pd.DataFrame({"day": panel.day[rows], "label": panel.label[rows]})
    spread = frame.groupby("day")["label"].std().dropna()
    return float(spread.mean()) if len(spread) else 0.0


def _scaler(panel: Panel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and spread of the feature rows in the windows of the training ``rows`` (spread 1 where 0)."""
    in_window = np.zeros(len(panel), dtype=bool)  # one flag per row, never one index per (sample, step)
    for step in range(panel.lookback):
        in_window[rows - step] = True
    sample = panel.features[in_window].astype(np.float64)  # the rows in order, each once
    mean, std = sample.mean(axis=0), sample.std(axis=0)
    std[~(std > 0)] = 1.0
    return mean, std


def _scaled(panel: Panel, mean: np.ndarray, std: np.ndarray, device: torch.device) -> torch.Tensor:
    """The feature rows standardised with ``mean`` and ``std``; undefined values become 0 (the mean)."""
    scaled = np.empty(panel.features.shape, dtype=np.float32)
    for first in range(0, len(scaled), _SCALE_CHUNK):  # float64 temporaries of a chunk, not of the whole panel
        piece = (panel.features[first:first + _SCALE_CHUNK] - mean) / std
        piece[~np.isfinite(piece)] = 0.0
        scaled[first:first + _SCALE_CHUNK] = piece
    return torch.as_tensor(scaled, device=device)


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
    windows = RowWindows(features, torch.as_tensor(rows, device=device), lookback)
    for piece in np.split(order, bounds) if len(rows) else []:
        out[piece] = module(windows[torch.as_tensor(piece)])[:, 0].cpu().numpy()  # (rows of the day,)
    return out

