"""``fit_many``: fit many :class:`~rnnstrategy.forecasting.forecaster.RNNForecaster` at once.

Each request is what one ``forecaster.fit(bars, until, init_from, epochs)`` call takes:
the cold folds of one stock, the same fold of many stocks, or any mix. Every forecaster
is prepared exactly as ``fit`` prepares it (samples, scalers fitted on its own training
window, initial weights from its seed), the networks are trained together by
:func:`~rnnstrategy.forecasting.batched.training.train_many`, and each forecaster ends fitted as
``fit`` leaves it, with weights equal within float rounding.

:func:`prepare_fit` and :func:`finish_fit` wrap the two halves of ``RNNForecaster.fit``
around its call to :func:`rnnstrategy.forecasting.training.train` (``_prepare_fit`` / ``_finish_fit``),
so ``fit`` and ``fit_many`` share them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from rnnstrategy.forecasting import forecaster
from rnnstrategy.forecasting.batched.training import TrainJob, train_many
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.splitter import RowLike

__all__ = ["FitRequest", "PreparedFit", "finish_fit", "fit_many", "prepare_fit"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitRequest:
    """The arguments of one ``model.fit(bars, until, init_from, epochs)`` call."""

    model: RNNForecaster
    bars: pd.DataFrame
    until: RowLike | None = None
    init_from: RNNForecaster | Mapping[str, torch.Tensor] | None = None
    epochs: int | None = None


@dataclass(frozen=True)
class PreparedFit:
    """A forecaster ready to train: the estimator's own preparation and its training job."""

    model: RNNForecaster
    job: TrainJob
    fit: forecaster.PreparedFit


def prepare_fit(
    model: RNNForecaster,
    bars: pd.DataFrame,
    until: RowLike | None = None,
    init_from: RNNForecaster | Mapping[str, torch.Tensor] | None = None,
    epochs: int | None = None,
) -> PreparedFit:
    """Everything ``model.fit`` does before training; sets ``device_`` and the scalers."""
    prepared = model._prepare_fit(bars, until, init_from, epochs)
    job = TrainJob(prepared.module, prepared.x, prepared.y, prepared.config, purge=prepared.purge)
    return PreparedFit(model, job, prepared)


def finish_fit(prepared: PreparedFit, history: list[dict[str, float]]) -> RNNForecaster:
    """Everything ``model.fit`` does after training; returns the fitted model."""
    return prepared.model._finish_fit(prepared.fit, history)


def fit_many(
    requests: Sequence[FitRequest],
    *,
    max_models: int | None = None,
    on_fitted: Callable[[int, RNNForecaster], None] | None = None,
) -> list[RNNForecaster]:
    """Fit every request's forecaster, training the networks together; return them, fitted.

    Equivalent to ``[r.model.fit(r.bars, r.until, r.init_from, r.epochs) for r in
    requests]`` within float rounding. Requests are batched by device and by what
    :func:`~rnnstrategy.forecasting.batched.training.group_key` requires to share a computation.
    On CPU each forecaster ends bit for bit as it would when fitted alone by
    ``fit_many([request])``, whatever the other requests: walk-forward relies on this
    (forecasts up to D must not change when later bars, and so later folds, go).
    Pass distinct forecaster objects (each is fitted in place).

    Args:
        requests: what to fit.
        max_models: most networks trained side by side (default: sized from memory).
        on_fitted: called with a request's position and its fitted forecaster as soon
            as that one is done (e.g. to store it while the others train on).
    """
    if len({id(r.model) for r in requests}) != len(requests):
        raise ValueError("fit_many got the same forecaster object twice; pass a fresh one per request (sklearn.clone)")
    prepared = [prepare_fit(r.model, r.bars, r.until, r.init_from, r.epochs) for r in requests]
    by_device: dict[torch.device, list[int]] = {}
    for k, p in enumerate(prepared):
        by_device.setdefault(p.model.device_, []).append(k)
    for device, members in by_device.items():
        def done(j: int, history: list[dict[str, float]], members: list[int] = members) -> None:
            fitted = finish_fit(prepared[members[j]], history)
            if on_fitted:
                on_fitted(members[j], fitted)

        train_many([prepared[k].job for k in members], device=device, max_models=max_models, on_done=done)
    return [r.model for r in requests]
