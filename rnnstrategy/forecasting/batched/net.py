"""``StackedNet``: M :class:`~rnnstrategy.forecasting.nets.RecurrentNet` of one architecture as one module.

Each parameter of the M networks is stacked along a new leading model dimension, so
one forward pass runs all of them with batched matrix products. Weights copy to and
from ``RecurrentNet`` exactly (same gate order and bias layout), which lets a stacked
training end in M ordinary networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.batched.layers import Workspace, recurrent_layer
from rnnstrategy.forecasting.nets import CELLS, RecurrentNet

__all__ = ["NetSpec", "StackedNet"]

_CELL_OF_MODE = {"RNN_TANH": "rnn", "GRU": "gru", "LSTM": "lstm"}


@dataclass(frozen=True)
class NetSpec:
    """The architecture of a :class:`RecurrentNet`: networks with equal specs can be stacked."""

    cell: str
    n_features: int
    hidden: tuple[int, ...]
    horizon: int
    dropout: float

    @classmethod
    def of(cls, net: RecurrentNet) -> NetSpec:
        """Read the architecture of a built network."""
        modes = {layer.mode for layer in net.layers}
        if len(modes) != 1 or next(iter(modes)) not in _CELL_OF_MODE:
            raise ConfigError(f"layers of modes {sorted(modes)} cannot be stacked; use a RecurrentNet with one cell type")
        layers = list(net.layers)
        if any(layer.num_layers != 1 or layer.bidirectional or not layer.bias or layer.proj_size for layer in layers):
            raise ConfigError("only one-layer, one-direction, biased, unprojected recurrent modules can be stacked")
        return cls(
            cell=_CELL_OF_MODE[next(iter(modes))],
            n_features=layers[0].input_size,
            hidden=tuple(layer.hidden_size for layer in layers),
            horizon=net.head.out_features,
            dropout=float(net.dropout.p),
        )

    def build(self) -> RecurrentNet:
        """A fresh RecurrentNet of this architecture."""
        return RecurrentNet(self.n_features, self.horizon, self.cell, self.hidden, self.dropout)


class StackedNet(nn.Module):
    """M recurrent networks of one :class:`NetSpec`, evaluated together.

    Parameters are named like the ``RecurrentNet`` state dict with dots replaced by
    underscores and a leading model dimension: ``layers_0_weight_ih_l0`` is
    ``(M, G * H, inputs)``, ``head_weight`` is ``(M, horizon, H_last)``.

    The module draws no random numbers: dropout masks are passed to :meth:`forward`,
    so whoever trains it decides which generator each model's masks come from.
    """

    def __init__(self, spec: NetSpec, n_models: int) -> None:
        super().__init__()
        if spec.cell not in CELLS:
            raise ConfigError(f"cell={spec.cell!r} is unknown; use one of {sorted(CELLS)}")
        if n_models < 1:
            raise ConfigError(f"n_models={n_models} must be >= 1")
        self.spec, self.n_models = spec, n_models
        #: RecurrentNet state-dict keys, in the order of ``parameters()``
        template = {k: v.shape for k, v in spec.build().state_dict().items()}
        for key, shape in template.items():
            self.register_parameter(_name(key), nn.Parameter(torch.zeros(n_models, *shape)))
        self.keys = list(template)

    @classmethod
    def from_nets(cls, nets: Sequence[RecurrentNet]) -> StackedNet:
        """Stack the weights of networks that share one architecture (copied, on their device)."""
        if not nets:
            raise ConfigError("nets is empty; pass at least one RecurrentNet")
        spec = NetSpec.of(nets[0])
        for k, net in enumerate(nets):
            if NetSpec.of(net) != spec:
                raise ConfigError(f"nets[{k}] is {NetSpec.of(net)}, not {spec} like nets[0]; group nets by NetSpec")
        stacked = cls(spec, len(nets)).to(next(nets[0].parameters()).device)
        with torch.no_grad():
            states = [net.state_dict() for net in nets]
            for key in stacked.keys:
                getattr(stacked, _name(key)).copy_(torch.stack([state[key] for state in states]))
        return stacked

    def state_of(self, model: int) -> dict[str, Tensor]:
        """The ``RecurrentNet`` state dict of one model (copies)."""
        return {key: getattr(self, _name(key))[model].detach().clone() for key in self.keys}

    def copy_to(self, nets: Sequence[RecurrentNet]) -> None:
        """Load each model's weights into the matching network."""
        if len(nets) != self.n_models:
            raise ConfigError(f"got {len(nets)} nets for {self.n_models} stacked models")
        for model, net in enumerate(nets):
            net.load_state_dict(self.state_of(model))

    def layer_params(self, k: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``W_ih, W_hh, b_ih, b_hh`` of recurrent layer ``k``, stacked."""
        return tuple(getattr(self, f"layers_{k}_{name}_l0") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(
        self,
        x: Tensor,
        masks: Sequence[Tensor] | None = None,
        models: Tensor | None = None,
        workspace: Workspace | None = None,
        rows: Tensor | None = None,
    ) -> Tensor:
        """Map windows ``(L, M, B, features)`` to outputs ``(M, B, horizon)``.

        Args:
            x: input windows, time step first; cheapest as a transposed view of
                model-major ``(M, L, B, features)`` memory.
            masks: one dropout mask per layer, ``(L, M, B, H_k)`` already divided by the
                keep probability, or None for no dropout (evaluation).
            models: run only these models (an index tensor of length M), e.g. to
                validate the few whose epoch just ended.
            workspace: reuse big buffers across calls (see
                :class:`~rnnstrategy.forecasting.batched.layers.Workspace`).
            rows: per model, how many leading samples are real, the rest padding
                whose outputs must be weighted zero (the compiled layers skip them).
        """
        n_layers = len(self.spec.hidden)
        pick = (lambda p: p) if models is None else (lambda p: p.index_select(0, models))
        for k in range(n_layers):
            last = k == n_layers - 1  # the head reads its last step only
            x = recurrent_layer(
                self.spec.cell, x, *(pick(p) for p in self.layer_params(k)),
                sequence=not last, workspace=workspace, prefix=f"{k}.", rows=rows,
            )  # (L, M, B, H_k), the last layer (M, B, H_last)
            if masks is not None:
                x = x * (masks[k][-1] if last else masks[k])
        head_w, head_b = pick(self.head_weight), pick(self.head_bias)
        # Products and sums instead of a batched matrix product: with one model and one
        # output torch would take a matrix-vector path that rounds unlike the batched one,
        # and then a model's weights would depend on how many models share the run.
        return (x.unsqueeze(2) * head_w.unsqueeze(1)).sum(-1) + head_b.unsqueeze(1)  # (M, B, horizon)


def _name(key: str) -> str:
    return key.replace(".", "_")

