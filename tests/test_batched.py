"""Batched training: many models at once must equal training them one by one.

The reference is :func:`rnnstrategy.forecasting.training.train` (and ``RNNForecaster.fit``); the
batched path reorders floating-point operations, so results agree within float
rounding, not bit for bit. Observed differences are ~1e-7 on weights after a dozen
epochs; the tolerances below leave room for growth but would catch any real mismatch
(a wrong gate, a shared Adam state, a missed early stop changes weights by >1e-2).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from helpers import TINY
from sklearn.base import clone
from torch import nn

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.batched import NetSpec, StackedNet, TrainJob, train_many
from rnnstrategy.forecasting.batched.fitting import FitRequest, fit_many
from rnnstrategy.forecasting.batched.layers import Workspace, recurrent_layer
from rnnstrategy.forecasting.batched.training import _rows_of
from rnnstrategy.forecasting.features import sliding_windows
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.nets import CELLS, RecurrentNet
from rnnstrategy.forecasting.training import TrainConfig, train

WEIGHT_TOL = 5e-5
LOSS_TOL = 1e-5


def toy_samples(n: int, seed: int, lookback: int = 6, n_features: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Sliding windows over random rows; targets: last value of feature 0, window mean of feature 1."""
    g = torch.Generator().manual_seed(seed)
    x = sliding_windows(torch.randn(n + lookback - 1, n_features, generator=g), lookback)
    y = torch.stack([x[:, -1, 0], x[:, :, 1].mean(1)], dim=1) + 0.1 * torch.randn(n, 2, generator=g)
    return x, y


def net(seed: int, cell: str, hidden: tuple[int, ...], dropout: float = 0.0) -> RecurrentNet:
    torch.manual_seed(seed)
    return RecurrentNet(n_features=3, horizon=2, cell=cell, hidden=hidden, dropout=dropout)


def max_weight_diff(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_layer_matches_torch_modules_forward_and_backward(cell: str) -> None:
    torch.manual_seed(0)
    n_models, steps, batch, n_in, hidden = 3, 7, 5, 4, 6
    mods = [CELLS[cell](n_in, hidden, batch_first=True).double() for _ in range(n_models)]
    x = torch.randn(n_models, batch, steps, n_in, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(batch, steps, hidden, dtype=torch.float64)
    expected = torch.stack([mod(x[m])[0] for m, mod in enumerate(mods)])  # (M, B, L, H)
    (expected * weight).sum().backward()

    params = [torch.stack([getattr(mod, name) for mod in mods]).detach().requires_grad_()
              for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
    x_steps = x.detach().permute(2, 0, 1, 3).contiguous().requires_grad_()  # (L, M, B, I)
    workspace = Workspace()
    for _ in range(2):  # the second pass reuses the workspace's buffers
        for p in (*params, x_steps):
            p.grad = None
        hs = recurrent_layer(cell, x_steps, *params, workspace=workspace)
        (hs * weight.permute(1, 0, 2).unsqueeze(1)).sum().backward()

    assert torch.allclose(hs, expected.permute(2, 0, 1, 3), atol=1e-12)
    for name, p in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), params, strict=True):
        assert torch.allclose(p.grad, torch.stack([getattr(mod, name).grad for mod in mods]), atol=1e-12), name
    assert torch.allclose(x_steps.grad, x.grad.permute(2, 0, 1, 3), atol=1e-12)
    with torch.no_grad():
        last = recurrent_layer(cell, x_steps, *params, sequence=False)
    assert torch.allclose(last, expected[:, :, -1], atol=1e-12)


def test_stacked_net_round_trips_weights_and_computes_like_the_nets() -> None:
    nets = [net(seed, "lstm", (6, 5)) for seed in range(3)]
    stacked = StackedNet.from_nets(nets)
    assert stacked.spec == NetSpec("lstm", 3, (6, 5), 2, 0.0)
    x = torch.randn(3, 4, 7, 3)  # (M, B, L, features)
    with torch.no_grad():
        out = stacked(x.permute(2, 0, 1, 3))
        expected = torch.stack([n.eval()(x[m]) for m, n in enumerate(nets)])
    assert torch.allclose(out, expected, atol=1e-6)
    copies = [net(99, "lstm", (6, 5)) for _ in range(3)]
    stacked.copy_to(copies)
    assert all(max_weight_diff(a, b) == 0.0 for a, b in zip(nets, copies, strict=True))


def test_stacking_different_architectures_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"nets\[1\] is NetSpec\(cell='gru'.*group nets by NetSpec"):
        StackedNet.from_nets([net(0, "lstm", (4,)), net(0, "gru", (4,))])


@pytest.mark.parametrize(
    ("cell", "hidden", "dropout"),
    [("rnn", (8,), 0.0), ("gru", (8,), 0.0), ("lstm", (8,), 0.0), ("gru", (6, 5), 0.3), ("lstm", (6, 5), 0.3)],
)
def test_train_many_equals_training_one_by_one(cell: str, hidden: tuple[int, ...], dropout: float) -> None:
    # different sample counts, early stopping on or off, different seeds; 3 slots for 5 jobs
    # so slots are refilled and the stacked state shrinks at the tail
    specs = [(150, 0, 2), (97, 1, 3), (230, 2, 0), (60, 3, 1), (120, 4, 2)]
    reference, jobs = [], []
    for k, (n, seed, patience) in enumerate(specs):
        x, y = toy_samples(n, seed=10 + k)
        if k == 1:
            x = x.clone()  # materialised windows, not a sliding view
        if k in (0, 3):
            y[-n // 5 :] = 3.0 - y[-n // 5 :]  # validation contradicts training: stops early
        config = TrainConfig(epochs=12, batch_size=16, lr=1e-2, patience=patience, val_fraction=0.2, seed=seed)
        alone = net(seed, cell, hidden, dropout)
        reference.append((alone, train(alone, x, y, config, purge=1)))
        jobs.append(TrainJob(net(seed, cell, hidden, dropout), x, y, config, purge=1))

    histories = train_many(jobs, max_models=3)

    stopped_early = 0
    for (alone, expected), job, got in zip(reference, jobs, histories, strict=True):
        assert [h["epoch"] for h in got] == [h["epoch"] for h in expected]
        stopped_early += len(expected) < 12
        for e, g in zip(expected, got, strict=True):
            assert g["train_loss"] == pytest.approx(e["train_loss"], abs=LOSS_TOL)
            assert g["val_loss"] == pytest.approx(e["val_loss"], abs=LOSS_TOL, nan_ok=True)
        assert max_weight_diff(alone, job.module) < WEIGHT_TOL
    assert stopped_early >= 1  # the comparison covered early stopping and best-weight restore


def test_jobs_of_different_architectures_are_grouped_apart() -> None:
    x, y = toy_samples(80, seed=1)
    config = TrainConfig(epochs=3, batch_size=16, patience=0)
    cells = ["gru", "lstm", "gru"]
    alone = [net(k, cell, (5,)) for k, cell in enumerate(cells)]
    for module in alone:
        train(module, x, y, config)
    jobs = [TrainJob(net(k, cell, (5,)), x, y, config) for k, cell in enumerate(cells)]
    train_many(jobs)
    assert all(max_weight_diff(a, j.module) < WEIGHT_TOL for a, j in zip(alone, jobs, strict=True))


@pytest.mark.parametrize(
    ("cell", "hidden", "n_features", "horizon", "batch_size", "clip"),
    [("rnn", (7,), 3, 1, 13, None), ("gru", (6, 7), 1, 3, 16, 1.0), ("lstm", (5,), 5, 2, 64, 0.01),
     ("gru", (32,), 5, 2, 64, 1.0)],
)
def test_a_job_does_not_depend_on_its_companions(cell, hidden, n_features, horizon, batch_size, clip) -> None:
    # what walk-forward needs: removing later folds must not change earlier ones, bit for bit,
    # and a fold trained alone (streaming) must equal the same fold trained in a batch;
    # odd sizes on purpose: kernels round by memory alignment and vector tails
    def jobs(seeds: list[int]) -> list[TrainJob]:
        out = []
        for k in seeds:
            g = torch.Generator().manual_seed(k)
            x = sliding_windows(torch.randn(60 + 37 * k + 6, n_features, generator=g), 7)
            y = torch.randn(len(x), horizon, generator=g) * 0.3 + x[:, -1, :1]
            torch.manual_seed(k)
            module = RecurrentNet(n_features=n_features, horizon=horizon, cell=cell, hidden=hidden, dropout=0.2)
            config = TrainConfig(epochs=4, batch_size=batch_size, lr=1e-2, patience=2, seed=k, grad_clip=clip)
            out.append(TrainJob(module, x, y, config, purge=1))
        return out

    alone = jobs([2])
    (history,) = train_many(alone)
    for seeds, max_models in (([0, 1, 2, 3], 4), ([5, 2], 2), ([1, 3, 4, 5, 6, 2, 0, 7, 8, 9, 10], 3), ([2, 0], None)):
        together = jobs(seeds)
        histories = train_many(together, max_models=max_models)
        assert max_weight_diff(alone[0].module, together[seeds.index(2)].module) == 0.0
        assert histories[seeds.index(2)] == history


def test_fit_many_reports_each_fit_as_it_ends(moutai) -> None:
    model = RNNForecaster(**replace(TINY, patience=1).model_params())  # early stopping on: fits end after different epochs
    seen = []
    fitted = fit_many([FitRequest(clone(model), moutai, u) for u in (300, 420, 700)],
                      on_fitted=lambda k, m: seen.append((k, len(m.history_))))
    assert sorted(k for k, _ in seen) == [0, 1, 2]
    assert all(epochs == len(fitted[k].history_) for k, epochs in seen)


def test_sliding_windows_are_read_in_place() -> None:
    rows = torch.randn(20, 3)
    x = sliding_windows(rows, 6)
    found, step = _rows_of(x)
    assert step == 1 and found.shape == (20, 3) and found.data_ptr() == rows.data_ptr()
    found, step = _rows_of(x.clone())
    assert step == 6 and found.shape == (15 * 6, 3)


def test_bad_jobs_are_named() -> None:
    x, y = toy_samples(50, seed=0)
    good = TrainJob(net(0, "gru", (4,)), x, y, TrainConfig())
    with pytest.raises(DataError, match=r"jobs\[1\]: x must be .* got \(50, 6, 3\) and \(49, 2\)"):
        train_many([good, TrainJob(net(0, "gru", (4,)), x, y[:-1], TrainConfig())])
    with pytest.raises(DataError, match=r"4 samples leave none to train on"):
        train_many([TrainJob(net(0, "gru", (4,)), x[:4], y[:4], TrainConfig(val_fraction=0.5), purge=2)])
    with pytest.raises(ConfigError, match=r"max_models=0 must be >= 1"):
        train_many([good], max_models=0)


def test_fit_many_equals_fit(moutai) -> None:
    model = RNNForecaster(**replace(TINY, epochs=4, patience=2).model_params())  # early stops and best weights must match too
    untils = [300, 420, 700]
    expected = [clone(model).fit(moutai, until=u) for u in untils]
    fitted = fit_many([FitRequest(clone(model), moutai, u) for u in untils])
    for e, f, until in zip(expected, fitted, untils, strict=True):
        assert (f.train_ends_ == e.train_ends_).all()
        assert (f.feature_scaler_.mean_ == e.feature_scaler_.mean_).all()
        assert list(f.history_.index) == list(e.history_.index)
        assert max_weight_diff(e.module_, f.module_) < WEIGHT_TOL
        rows = [until, until + 5]
        assert (f.predict(moutai, rows) - e.predict(moutai, rows)).abs().max().max() < 1e-3  # CNY, prices ~300..1200


def test_fit_many_refuses_one_forecaster_twice(moutai) -> None:
    model = RNNForecaster(**TINY.model_params())
    with pytest.raises(ValueError, match="same forecaster object twice"):
        fit_many([FitRequest(model, moutai, 300), FitRequest(model, moutai, 400)])
