"""A pooled ensemble's members train as one stacked computation and equal K separate trainings, bit for bit.

Each member keeps its own seed's initial weights, mini-batch order, dropout masks, gradient clipping,
Adam state and early stopping; the tiny configuration below makes the members stop after different
epochs, clip their gradients and draw dropout masks, so the checks cover each of these.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import synthetic

from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.batched import TrainJob, train_many
from rnnstrategy.forecasting.batched.windows import RowWindows
from rnnstrategy.forecasting.nets import RecurrentNet
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.fit import fit_fold, score_fold
from rnnstrategy.forecasting.pooled.panel import Panel, build_panel, retrain_days
from rnnstrategy.forecasting.pooled.walkforward import pooled_walk_forward
from rnnstrategy.forecasting.training import TrainConfig

ENSEMBLE = PooledConfig(hidden=(4,), lookback=5, epochs=8, batch_size=64, patience=1, val_fraction=0.2, train_days=120,
                        retrain_every_days=30, dropout=0.2, grad_clip=0.05, lr=1e-2, ensemble=3, device="cpu")
"""Three tiny GRUs (4 units, 5-bar windows) with dropout, tight clipping and patience 1: on the universe
below the members stop after 4, 3 and 4 of 8 epochs."""
START = "2020-07-01"
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def panel() -> Panel:
    bars = {f"S{k}": synthetic(260, seed=k, symbol=f"S{k}") for k in range(8)}
    return build_panel(bars, ENSEMBLE.features, ENSEMBLE.lookback)


def _folds(panel: Panel) -> list[int]:
    return [p for p, _ in retrain_days(panel.calendar, START, None, ENSEMBLE.retrain_every_days)[:2]]


def _member(model: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    return {name[3:]: value for name, value in model.items() if name.startswith(f"m{k}.")}


def _assert_same_bits(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        assert torch.equal(got[name], value), name


@pytest.mark.parametrize("native", ["1", "0"], ids=["native", "torch"])
def test_stacked_members_equal_separate_trainings(panel: Panel, native: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold fold and a warm-started one: each member of the stacked ensemble has, bit for bit, the weights
    of the one-member model with its seed, and the ensemble's scores are those of the separate members."""
    monkeypatch.setenv("RNNSTRATEGY_NATIVE", native)
    config = replace(ENSEMBLE, warm_start=True, warm_start_epochs=3)
    first, second = _folds(panel)
    alone = [replace(config, ensemble=1, seed=config.seed + k) for k in range(config.ensemble)]
    together, counts = fit_fold(panel, config, CPU, first, None)
    separate = [fit_fold(panel, c, CPU, first, None) for c in alone]
    epochs = [n for _, (_, _, n) in separate]
    assert len(set(epochs)) > 1 and max(epochs) < config.epochs  # members stopped early, after different epochs
    assert counts == (*separate[0][1][:2], sum(epochs))
    for k, (model, _) in enumerate(separate):
        _assert_same_bits(_member(together, k), _member(model, 0))
    # warm start: each member goes on from its own weights of the previous fold
    together, _ = fit_fold(panel, config, CPU, second, together)
    separate = [fit_fold(panel, c, CPU, second, model) for c, (model, _) in zip(alone, separate, strict=True)]
    for k, (model, _) in enumerate(separate):
        _assert_same_bits(_member(together, k), _member(model, 0))
    # the ensemble's forecasts are its members' mean: those of a model made of the separate trainings
    assembled = {**together, **{f"m{k}.{n}": v for k, (m, _) in enumerate(separate) for n, v in _member(m, 0).items()}}
    rows = np.flatnonzero(panel.window_ok & (panel.day >= second))
    scores = score_fold(panel, config, CPU, together, rows)
    np.testing.assert_array_equal(scores, score_fold(panel, config, CPU, assembled, rows))
    assert np.isfinite(scores).all() and scores.std() > 0


def test_an_ensemble_walks_forward_with_its_first_member_as_the_single_model(panel: Panel) -> None:
    """Member 0 of a two-member ensemble is the single model with its seed in every fold of a walk-forward;
    member 1 is another model, trained for its own epochs, so the ensemble forecasts otherwise."""
    config = replace(ENSEMBLE, retrain_every_days=45, dropout=0.0)
    bars = {f"S{k}": synthetic(260, seed=k, symbol=f"S{k}") for k in range(8)}
    single, pair = replace(config, ensemble=1), replace(config, ensemble=2)
    one = pooled_walk_forward(bars, single, START, "2020-09-30")
    two = pooled_walk_forward(bars, pair, START, "2020-09-30")
    epochs = [(a["epochs"], b["epochs"]) for a, b in zip(one["S0"].attrs["folds"], two["S0"].attrs["folds"], strict=True)]
    assert len(epochs) == 2 and all(b > a for a, b in epochs)  # both members' epochs
    folds = [p for p, _ in retrain_days(panel.calendar, START, "2020-09-30", 45)]
    assert len(folds) == 2
    for p in folds:
        alone, _ = fit_fold(panel, single, CPU, p, None)
        both, _ = fit_fold(panel, pair, CPU, p, None)
        _assert_same_bits(_member(both, 0), _member(alone, 0))
        assert not torch.equal(both["m0.head.weight"], both["m1.head.weight"])
    assert not np.array_equal(one["S0"]["pred_open_2"], two["S0"]["pred_open_2"])


def _net(seed: int) -> RecurrentNet:
    torch.manual_seed(seed)
    return RecurrentNet(3, 1, "lstm", (5,), 0.0)


def test_windows_read_from_a_shared_table_equal_copied_windows() -> None:
    """Jobs on RowWindows of one table (held once for all slots) train as jobs on the same windows copied."""
    g = torch.Generator().manual_seed(0)
    rows, lookback = torch.randn(300, 3, generator=g), 6
    ends = torch.randperm(295, generator=g)[:200] + 5  # any rows with a full window, in any order
    y = torch.randn(200, 1, generator=g)
    config = TrainConfig(epochs=3, batch_size=32, lr=1e-2, patience=1, val_fraction=0.2)
    table = RowWindows(rows, ends, lookback)
    shared = [TrainJob(_net(k), table, y, replace(config, seed=k), n_val=37) for k in range(2)]
    copied = [TrainJob(_net(k), table[torch.arange(200)], y, replace(config, seed=k), n_val=37) for k in range(2)]
    assert table.shape == copied[0].x.shape == (200, 6, 3)
    assert train_many(shared) == train_many(copied)
    for a, b in zip(shared, copied, strict=True):
        _assert_same_bits(a.module.state_dict(), b.module.state_dict())
    with pytest.raises(DataError, match=r"200 samples with n_val=200 and purge=0 leave none"):
        train_many([TrainJob(_net(0), table, y, config, n_val=200)])
