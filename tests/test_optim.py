"""StackedAdam: each model clipped and updated as torch.optim.Adam and clip_grad_norm_ would,
on the compiled step and on the PyTorch one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnstrategy.forecasting.batched import native
from rnnstrategy.forecasting.batched.optim import StackedAdam

SHAPES = [(12, 5), (12, 4), (12,), (3,)]  # per model: e.g. w_ih, w_hh, b_ih and a head bias


def stacked_params(n_models: int, seed: int) -> list[nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [nn.Parameter(torch.randn(n_models, *shape, generator=g)) for shape in SHAPES]


def gradients(n_models: int, step: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1000 * seed + step)
    return [torch.randn(n_models, *shape, generator=g) * (0.5 + step) for shape in SHAPES]


def run_stacked(params: list[nn.Parameter], grads_per_step: list[list[torch.Tensor]], active_per_step: list[list[bool]],
                max_norm: float | None) -> StackedAdam:
    optimizer = StackedAdam(params, lr=0.01)
    for grads, active in zip(grads_per_step, active_per_step, strict=True):
        for p, grad in zip(params, grads, strict=True):
            p.grad = grad.clone()
        optimizer.step(active, max_norm=max_norm)
    return optimizer


@pytest.fixture(params=["compiled", "pytorch"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "pytorch":
        monkeypatch.setenv(native.NATIVE_ENV, "0")
    elif native.adam_kernel_for(torch.zeros(1)) is None:
        pytest.skip("no C++ compiler here: the compiled optimizer step cannot be built")
    return request.param


@pytest.mark.parametrize("max_norm", [None, 1.0])
def test_each_model_steps_as_torch_adam_alone(path: str, max_norm: float | None) -> None:
    n_models, steps = 3, 6
    params = stacked_params(n_models, seed=0)
    start = [p.detach().clone() for p in params]
    grads = [gradients(n_models, t, seed=0) for t in range(steps)]
    active = [[True, t % 2 == 0, t != 3] for t in range(steps)]  # models sit out some steps
    optimizer = run_stacked(params, grads, active, max_norm)
    assert (optimizer._kernel is not None) == (path == "compiled")

    for k in range(n_models):
        alone = [nn.Parameter(s[k].clone()) for s in start]
        reference = torch.optim.Adam(alone, lr=0.01)
        for t in range(steps):
            if not active[t][k]:
                continue
            for p, grad in zip(alone, grads[t], strict=True):
                p.grad = grad[k].clone()
            if max_norm is not None:
                nn.utils.clip_grad_norm_(alone, max_norm)
            reference.step()
        for p, q in zip(params, alone, strict=True):
            torch.testing.assert_close(p[k].detach(), q.detach(), rtol=1e-5, atol=1e-6)


def test_a_model_does_not_depend_on_its_companions(path: str) -> None:
    """Bit for bit: the model in slot 1 of three equals the same model trained alone."""
    steps = 5
    together = stacked_params(3, seed=1)
    alone = [nn.Parameter(p[1:2].detach().clone()) for p in together]
    grads = [gradients(3, t, seed=1) for t in range(steps)]
    run_stacked(together, grads, [[True, True, t % 2 == 1] for t in range(steps)], max_norm=0.5)
    run_stacked(alone, [[g[1:2] for g in step] for step in grads], [[True]] * steps, max_norm=0.5)
    assert all(torch.equal(p[1], q[0]) for p, q in zip(together, alone, strict=True))


def test_compiled_and_pytorch_steps_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    if native.adam_kernel_for(torch.zeros(1)) is None:
        pytest.skip("no C++ compiler here: the compiled optimizer step cannot be built")
    grads = [gradients(4, t, seed=2) for t in range(8)]
    active = [[True, True, t < 4, t % 3 != 0] for t in range(8)]
    compiled = stacked_params(4, seed=2)
    run_stacked(compiled, grads, active, max_norm=2.0)
    monkeypatch.setenv(native.NATIVE_ENV, "0")
    pytorch = stacked_params(4, seed=2)
    run_stacked(pytorch, grads, active, max_norm=2.0)
    for p, q in zip(compiled, pytorch, strict=True):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-5, atol=1e-6)
