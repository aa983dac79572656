"""The compiled recurrent loops deal each call's rows to the threads, splitting models where that
balances the shares (three members on two threads: one and a half each), and no bit of any result
depends on the split; stacked training runs PyTorch's own operations on one thread and gives the
compiled loops the caller's thread count."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from test_native import layer_inputs

from rnnstrategy.forecasting.batched import TrainJob, native, train_many
from rnnstrategy.forecasting.batched.layers import Workspace, recurrent_layer
from rnnstrategy.forecasting.batched.windows import RowWindows
from rnnstrategy.forecasting.nets import RecurrentNet
from rnnstrategy.forecasting.training import TrainConfig, torch_threads


@pytest.fixture(autouse=True)
def compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.NATIVE_ENV, raising=False)
    if native.kernel_for("gru", 8, torch.zeros(1)) is None:
        pytest.skip("no C++ compiler here: the compiled recurrent kernel cannot be built")


def test_rows_are_dealt_in_equal_shares() -> None:
    deal = native.deal_rows
    # three members on two threads: the middle one split at its half
    assert deal([1024] * 3, 1024, 2) == [[(0, 0, 1024), (1, 0, 512)], [(1, 512, 1024), (2, 0, 1024)]]
    assert deal([1024], 1024, 2) == [[(0, 0, 512)], [(0, 512, 1024)]]
    assert deal([1024] * 2, 1024, 2) == [[(0, 0, 1024)], [(1, 0, 1024)]]  # whole models where they divide evenly
    assert deal([64] * 7, 64, 3) == [[(0, 0, 64), (1, 0, 64), (2, 0, 16)], [(2, 16, 64), (3, 0, 64), (4, 0, 48)],
                                     [(4, 48, 64), (5, 0, 64), (6, 0, 64)]]
    # a model's padding goes with its last real row; an idle model (no real rows) costs nothing
    assert deal([1024, 0, 500], 1024, 2) == [[(0, 0, 768)], [(0, 768, 1024), (1, 0, 1024), (2, 0, 1024)]]
    # a share ends at a model's edge when one is near (5 rows from the half, within an eighth of a share)
    assert deal([150, 10, 150], 150, 2) == [[(0, 0, 150)], [(1, 0, 150), (2, 0, 150)]]
    # too little work for several threads: one
    assert deal([11] * 5, 11, 2) == [[(m, 0, 11) for m in range(5)]]
    assert deal([1024] * 3, 1024, 1) == [[(0, 0, 1024), (1, 0, 1024), (2, 0, 1024)]]


def _layer(cell: str, x: torch.Tensor, params: list[torch.Tensor], rows: torch.Tensor, sequence: bool,
           input_grad: bool) -> list[torch.Tensor]:
    x = x.detach().clone().requires_grad_(input_grad)
    params = [p.detach().clone().requires_grad_() for p in params]
    out = recurrent_layer(cell, x, *params, sequence=sequence, workspace=Workspace(), rows=rows)
    (out * torch.linspace(-1.0, 1.0, out.numel()).view(out.shape)).sum().backward()
    return [out.detach(), *([x.grad] if input_grad else []), *(p.grad for p in params)]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("hidden", [6, 16, 32], ids=["loops", "strips16", "strips32"])
def test_split_models_compute_every_bit_as_whole_ones(cell: str, hidden: int) -> None:
    """Outputs, input and weight gradients, with padding rows, are the same on 1 to 4 threads
    (one thread computes each model whole; more split models by rows, their weight gradients by columns)."""
    x, params = layer_inputs(cell, n_models=3, steps=5, batch=130, n_in=3, hidden=hidden, seed=hidden)
    rows = torch.tensor([130, 123, 97])
    first, second = native.deal_rows(rows.tolist(), 130, 2)
    assert {m for m, _, _ in first} & {m for m, _, _ in second}  # a model split between two threads
    for sequence, input_grad in ((True, True), (False, False)):
        with native.kernel_threads(1):
            whole = _layer(cell, x, params, rows, sequence, input_grad)
        for threads in (2, 3, 4):
            with native.kernel_threads(threads):
                split = _layer(cell, x, params, rows, sequence, input_grad)
            assert all(torch.equal(a, b) for a, b in zip(whole, split, strict=True)), (threads, sequence)


def _members(threads: int) -> tuple[list[dict[str, torch.Tensor]], list[list[dict[str, float]]]]:
    g = torch.Generator().manual_seed(0)
    table = RowWindows(torch.randn(900, 4, generator=g), torch.randperm(880, generator=g)[:600] + 12, 12)
    y = torch.randn(600, 1, generator=g)
    config = TrainConfig(epochs=3, batch_size=160, lr=1e-2, patience=1, val_fraction=0.2, grad_clip=0.5)
    jobs = []
    for k in range(3):
        torch.manual_seed(k)
        jobs.append(TrainJob(RecurrentNet(4, 1, "gru", (16,), 0.1), table, y, replace(config, seed=k), n_val=120))
    with torch_threads(threads):
        histories = train_many(jobs, max_models=3)
        assert torch.get_num_threads() == threads  # restored after PyTorch's own operations ran on one
    return [j.module.state_dict() for j in jobs], histories


def test_stacked_members_do_not_depend_on_the_thread_count() -> None:
    """An ensemble of three (160-sample batches: 480 rows a step, split on 2 and 3 threads) trains to the
    same weights and histories, bit for bit, on 1, 2 and 3 threads."""
    weights, histories = _members(1)
    for threads in (2, 3):
        other_weights, other_histories = _members(threads)
        assert other_histories == histories
        for a, b in zip(weights, other_weights, strict=True):
            assert all(torch.equal(a[name], b[name]) for name in a)


def test_stacked_training_runs_pytorch_operations_on_one_thread() -> None:
    """Inside a stacked run PyTorch has one thread (its operations are small, and OpenMP's spin-waiting
    threads would take the cores), and the compiled loops the caller's count."""
    seen = []
    x = torch.randn(200, 5, 2)
    torch.manual_seed(0)
    job = TrainJob(RecurrentNet(2, 1, "gru", (8,), 0.0), x, torch.randn(200, 1), TrainConfig(epochs=1, batch_size=64))
    with torch_threads(2):
        train_many([job], on_done=lambda k, history: seen.append((torch.get_num_threads(), native._thread_count())))
        assert torch.get_num_threads() == 2 and native._thread_count() == 2
    assert seen == [(1, 2)]
