"""Per-model gradient clipping and Adam for parameters stacked along a model dimension.

The M models share tensors but nothing else: each has its own gradient norm, its own
Adam moments and its own step count, and a model that sits out a step (no batch left
in its epoch, or stopped early) is not updated at all, exactly as if it had been
trained alone with :class:`torch.optim.Adam` and ``clip_grad_norm_``. On a CPU the step
runs compiled (``adam_kernel.cpp``, one pass over each model's numbers) where
:mod:`rnnstrategy.forecasting.batched.native` can build it; else as the PyTorch operations below.
The two agree within float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnstrategy.forecasting.batched.native import adam_kernel_for

__all__ = ["StackedAdam"]


class StackedAdam:
    """Adam (as :class:`torch.optim.Adam`, no weight decay, no amsgrad) for each model apart.

    The update runs on one ``(M, width)`` matrix per quantity (the parameters, their
    gradients and both moments, each model's numbers in one row, padded to whole SIMD
    vectors) instead of a dozen small operations per parameter tensor.

    Args:
        params: parameters with a leading model dimension M.
        lr: learning rate.
        betas, eps: Adam's constants (torch's defaults).
    """

    def __init__(
        self,
        params: Sequence[nn.Parameter],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.steps = [0] * self.params[0].shape[0]  # on the host: no device sync per step
        self.sizes = [p[0].numel() for p in self.params]
        self.padding = -sum(self.sizes) % _ROW_MULTIPLE
        self.exp_avg = self._flat(self.params).zero_()
        self.exp_avg_sq = torch.zeros_like(self.exp_avg)
        self._kernel = adam_kernel_for(self.params[0])

    def reset(self, models: list[int]) -> None:
        """Forget the moments and step counts of these models (a fresh optimizer for them)."""
        for k in models:
            self.steps[k] = 0
        self.exp_avg[models] = 0
        self.exp_avg_sq[models] = 0

    def select(self, models: list[int]) -> None:
        """Keep only these models' state, in this order (the parameters are selected by the caller)."""
        self.steps = [self.steps[k] for k in models]
        self.exp_avg, self.exp_avg_sq = self.exp_avg[models], self.exp_avg_sq[models]

    def _flat(self, tensors: Sequence[Tensor]) -> Tensor:
        """``(M, width)``: each model's numbers of all ``tensors`` in one row, zero-padded."""
        parts = [t.detach().flatten(1) for t in tensors]
        if self.padding:
            parts.append(parts[0].new_zeros(len(parts[0]), self.padding))
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def step(self, active: list[bool], max_norm: float | None = None) -> None:
        """One Adam update of the models where ``active`` is True; the others stay as they are.

        With ``max_norm``, each model's gradients are first scaled to a total 2-norm of at
        most ``max_norm``: :func:`torch.nn.utils.clip_grad_norm_`'s rule (scale
        ``min(1, max_norm / (norm + 1e-6))``) applied to each model alone.
        """
        beta1, beta2 = self.betas
        self.steps = [k + bool(a) for k, a in zip(self.steps, active, strict=True)]
        # Bias corrections from Python floats, one model at a time: a vectorised pow over
        # M models rounds differently from a scalar one, which would tie a model's
        # weights to how many models share its run.
        steps = [max(1, k) for k in self.steps]  # models that never stepped: any value, unused
        step_sizes = [-self.lr / (1 - beta1**k) for k in steps]
        corrections2_sqrt = [math.sqrt(1 - beta2**k) for k in steps]
        if self._kernel is not None and all(p.is_contiguous() for p in self.params):
            self._kernel.step([p.detach() for p in self.params], [p.grad.contiguous() for p in self.params],
                              self.exp_avg, self.exp_avg_sq, active, step_sizes, corrections2_sqrt, self.betas,
                              self.eps, max_norm)
            return
        p = self._flat(self.params)
        grad, m, v = self._flat([q.grad for q in self.params]), self.exp_avg, self.exp_avg_sq
        if max_norm is not None:
            # each model's sum runs along its own row: the same whatever the number of models
            norms = grad.pow(2).sum(1, keepdim=True).sqrt_()
            grad.mul_((max_norm / (norms + 1e-6)).clamp_(max=1.0))
        step_size = p.new_tensor(step_sizes)[:, None]
        correction2_sqrt = p.new_tensor(corrections2_sqrt)[:, None]
        new_m = m.lerp(grad, 1 - beta1)
        new_v = (v * beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (new_v.sqrt() / correction2_sqrt).add_(self.eps)
        new_p = p.addcdiv(new_m * step_size, denom)
        if not all(active):
            keep = p.new_tensor(active, dtype=torch.bool)[:, None]
            new_m, new_v, new_p = (torch.where(keep, new, old) for new, old in ((new_m, m), (new_v, v), (new_p, p)))
        self.exp_avg, self.exp_avg_sq = new_m, new_v
        values = new_p.split([*self.sizes, self.padding], dim=1)  # the last one is the padding
        for param, value in zip(self.params, values, strict=False):
            param.copy_(value.view_as(param))


_ROW_MULTIPLE = 16
"""Floats per row multiple: each model's row of the flat matrices is whole AVX-512 vectors."""
