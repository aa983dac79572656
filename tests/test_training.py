"""The training loop: learning, determinism, early stopping and its configuration."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.nets import RecurrentNet
from rnnstrategy.forecasting.training import TrainConfig, train


def toy_data(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """y = (last value of feature 0, mean of feature 1 over the window): learnable."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, 2, generator=g)
    y = torch.stack([x[:, -1, 0], x[:, :, 1].mean(1)], dim=1)
    return x, y


def fresh_net(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return RecurrentNet(n_features=2, horizon=2, cell="gru", hidden=(8,), dropout=dropout)


def test_loss_falls() -> None:
    x, y = toy_data()
    history = train(fresh_net(), x, y, TrainConfig(epochs=20, batch_size=32, lr=1e-2, patience=0))
    assert [h["epoch"] for h in history] == list(range(1, 21))
    assert history[-1]["train_loss"] < 0.2 * history[0]["train_loss"]
    assert all(math.isnan(h["val_loss"]) for h in history)  # patience=0: no validation split


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    x, y = toy_data()
    config = TrainConfig(epochs=3, batch_size=16, seed=7)
    a, b, c = fresh_net(dropout=0.3), fresh_net(dropout=0.3), fresh_net(dropout=0.3)
    ha, hb = train(a, x, y, config), train(b, x, y, config)
    train(c, x, y, TrainConfig(epochs=3, batch_size=16, seed=8))
    assert ha == hb
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not torch.equal(a.head.weight, c.head.weight)


def test_caller_random_state_and_determinism_flag_are_restored() -> None:
    x, y = toy_data(64)
    net = fresh_net(dropout=0.5)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    was = torch.are_deterministic_algorithms_enabled()
    train(net, x, y, TrainConfig(epochs=2))
    assert torch.equal(torch.rand(3), expected)
    assert torch.are_deterministic_algorithms_enabled() == was


def test_early_stopping_keeps_the_best_weights() -> None:
    x, y = toy_data(200)
    y[-40:] = 5.0 - y[-40:]  # the validation part contradicts the training part
    net = fresh_net()
    config = TrainConfig(epochs=50, batch_size=32, lr=1e-2, patience=2, val_fraction=0.2)
    history = train(net, x, y, config, purge=3)
    val_losses = [h["val_loss"] for h in history]
    best = min(val_losses)
    assert len(history) < 50 and len(history) == val_losses.index(best) + 1 + 2  # stopped 2 epochs after the best
    net.eval()
    with torch.no_grad():
        assert nn.functional.mse_loss(net(x[-40:]), y[-40:]).item() == pytest.approx(best, rel=1e-5)


def test_too_few_samples() -> None:
    x, y = toy_data(4)
    with pytest.raises(DataError, match=r"4 samples leave none to train on after holding out 2 for validation"):
        train(fresh_net(), x, y, TrainConfig(val_fraction=0.5), purge=2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "mae"}, r"loss='mae' is unknown; use one of \['huber', 'mse'\]"),
        ({"epochs": 0}, r"epochs=0 must be >= 1"),
        ({"lr": 0.0}, r"lr=0.0 must be > 0"),
        ({"grad_clip": 0.0}, r"grad_clip=0.0 must be > 0, or None"),
        ({"patience": -1}, r"patience=-1 must be >= 0"),
        ({"val_fraction": 0.0}, r"val_fraction=0.0 must be in \(0, 1\) .* or set patience=0"),
    ],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        TrainConfig().lr = 1.0  # type: ignore[misc]
    assert TrainConfig(patience=0, val_fraction=0.0).val_fraction == 0.0  # no validation needed
