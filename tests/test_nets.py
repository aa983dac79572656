"""RecurrentNet: shapes, layer sizes, dropout and configuration errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.nets import CELLS, RecurrentNet


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("hidden", [(8,), (6, 4)])
def test_output_shape_for_every_cell_and_depth(cell: str, hidden: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = RecurrentNet(n_features=5, horizon=3, cell=cell, hidden=hidden)
    assert net(torch.randn(7, 10, 5)).shape == (7, 3)
    assert all(isinstance(layer, CELLS[cell]) for layer in net.layers)


def test_layers_are_chained_by_size() -> None:
    net = RecurrentNet(n_features=1, horizon=1, cell="rnn", hidden=(80, 100))
    assert [(m.input_size, m.hidden_size) for m in net.layers] == [(1, 80), (80, 100)]
    assert (net.head.in_features, net.head.out_features) == (100, 1)


def test_parameter_count_of_a_one_layer_gru() -> None:
    # GRU: 3 gates x (W_ih 8x5 + W_hh 8x8 + two biases of 8) = 360; head 8x2 + 2 = 18
    net = RecurrentNet(n_features=5, horizon=2, cell="gru", hidden=8)
    assert sum(p.numel() for p in net.parameters()) == 378


def test_dropout_acts_in_training_only() -> None:
    torch.manual_seed(0)
    net = RecurrentNet(n_features=3, horizon=2, cell="lstm", hidden=(8, 8), dropout=0.5)
    x = torch.randn(4, 6, 3)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))
    assert isinstance(net.dropout, nn.Dropout) and net.dropout.p == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "transformer"}, r"cell='transformer' is unknown; use one of \['gru', 'lstm', 'rnn'\]"),
        ({"hidden": ()}, r"hidden=\(\) must be one or more positive ints"),
        ({"hidden": (8, 0)}, r"hidden=\(8, 0\) must be one or more positive ints"),
        ({"dropout": 1.0}, r"dropout=1.0 must be in \[0, 1\)"),
        ({"horizon": 0}, r"horizon=0 must be >= 1"),
    ],
)
def test_bad_configuration_is_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RecurrentNet(**{"n_features": 5, "horizon": 2, **kwargs})
