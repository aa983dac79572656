"""The recurrent network: one plain ``nn.Module`` for every cell type.

The user-facing estimator (:class:`rnnstrategy.forecasting.forecaster.RNNForecaster`) sizes and
builds this module inside ``fit``; nothing here knows about bars, scalers or dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import torch
from torch import nn

from rnnstrategy.errors import ConfigError

__all__ = ["CELLS", "RecurrentNet"]

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
"""Recurrent cell classes by name; ``rnn`` is the Elman (SimpleRNN) cell with tanh."""


class RecurrentNet(nn.Module):
    """Stacked recurrent layers and a linear head reading the last time step.

    Each layer is its own recurrent module because the layer sizes may differ
    (``hidden=(80, 100)`` as in the course notes). Dropout follows every recurrent
    layer, as in the course notes' Keras model (``SimpleRNN, Dropout, SimpleRNN,
    Dropout, Dense``); with ``dropout=0`` it is the identity.

    Args:
        n_features: inputs per time step.
        horizon: outputs, one per forecast step h = 1..H.
        cell: a key of :data:`CELLS`.
        hidden: units of each recurrent layer, first to last (an int: one layer).
        dropout: drop probability after each recurrent layer, in [0, 1).
    """

    def __init__(
        self,
        n_features: int,
        horizon: int,
        cell: str = "gru",
        hidden: Sequence[int] | int = (32,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"cell={cell!r} is unknown; use one of {sorted(CELLS)}")
        if isinstance(hidden, Integral):  # a bare int means one layer
            hidden = (hidden,)
        if not hidden or any(not isinstance(h, Integral) or h < 1 for h in hidden):
            raise ConfigError(f"hidden={hidden!r} must be one or more positive ints, e.g. (32,)")
        hidden = tuple(int(h) for h in hidden)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout={dropout!r} must be in [0, 1)")
        if n_features < 1 or horizon < 1:
            raise ConfigError(f"n_features={n_features} and horizon={horizon} must be >= 1")
        sizes = (n_features, *hidden)
        self.layers = nn.ModuleList(
            CELLS[cell](n_in, n_out, batch_first=True) for n_in, n_out in zip(sizes[:-1], hidden, strict=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden[-1], horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map windows ``(batch, lookback, features)`` to outputs ``(batch, horizon)``."""
        for layer in self.layers:  # x: (batch, lookback, features)
            x, _ = layer(x)  # (batch, lookback, hidden_i); LSTM's (h, c) state is discarded too
            x = self.dropout(x)
        return self.head(x[:, -1])  # (batch, hidden[-1]) -> (batch, horizon)
