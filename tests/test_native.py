"""The compiled recurrent loops (rnnstrategy.forecasting.batched.native) against the PyTorch path.

The compiled path sums in another order and uses a polynomial exp, so it agrees with
the PyTorch path (run here in float64 as the reference) within float32 rounding; each
model's results must not depend on its companions or on the thread count, bit for bit.
"""

from __future__ import annotations

import logging

import pytest
import torch

from rnnstrategy.forecasting.batched import native
from rnnstrategy.forecasting.batched.layers import Workspace, recurrent_layer

GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


@pytest.fixture(autouse=True)
def native_path_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.NATIVE_ENV, raising=False)


@pytest.fixture
def compiled(native_path_on: None) -> None:
    """For the tests of the compiled loops themselves: skipped where no compiler can build them."""
    if native.kernel_for("gru", 8, torch.zeros(1)) is None:
        pytest.skip("no C++ compiler here: the compiled recurrent kernel cannot be built")


@pytest.fixture(params=["CXX names a missing file", "none on PATH"])
def no_compiler(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A machine without a C++ compiler, on any machine: CXX points nowhere, or is unset and
    PATH holds only an empty folder."""
    monkeypatch.setenv("RNNSTRATEGY_CACHE", str(tmp_path / "cache"))
    if request.param == "CXX names a missing file":
        monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    else:
        monkeypatch.delenv("CXX", raising=False)
        (tmp_path / "bin").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "bin"))


def layer_inputs(cell: str, n_models: int, steps: int, batch: int, n_in: int, hidden: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    gates = GATE_BLOCKS[cell] * hidden
    params = [0.4 * torch.randn(n_models, gates, n_in, generator=g),
              0.4 * torch.randn(n_models, gates, hidden, generator=g),
              0.1 * torch.randn(n_models, gates, generator=g), 0.1 * torch.randn(n_models, gates, generator=g)]
    x = torch.randn(steps, n_models, batch, n_in, generator=g)
    return x, params


def run_layer(cell: str, x: torch.Tensor, params: list[torch.Tensor], sequence: bool, dtype: torch.dtype):
    """Outputs and gradients (inputs, then every parameter) for a fixed random loss weighting."""
    x = x.detach().to(dtype).requires_grad_()
    params = [p.detach().to(dtype).requires_grad_() for p in params]
    out = recurrent_layer(cell, x, *params, sequence=sequence, workspace=Workspace())
    per_model = list(out.shape)
    per_model[-3] = 1  # the model axis: every model gets the same weighting
    weight = torch.linspace(-1.0, 1.0, out[..., :1, :, :].numel(), dtype=dtype).view(per_model)
    (out * weight).sum().backward()
    return [out.detach(), x.grad, *(p.grad for p in params)]


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize("cell", sorted(GATE_BLOCKS))
@pytest.mark.parametrize(("hidden", "batch"), [(6, 5), (16, 7), (32, 64)])
@pytest.mark.parametrize("sequence", [True, False])
def test_compiled_layer_is_as_accurate_as_the_pytorch_path(monkeypatch: pytest.MonkeyPatch, cell: str, hidden: int,
                                                           batch: int, sequence: bool) -> None:
    """Against float64, the compiled float32 errors stay within a few times PyTorch's own float32 errors."""
    x, params = layer_inputs(cell, n_models=3, steps=9, batch=batch, n_in=4, hidden=hidden)
    compiled = run_layer(cell, x, params, sequence, torch.float32)
    reference = run_layer(cell, x, params, sequence, torch.float64)  # float64 runs the PyTorch path
    monkeypatch.setenv(native.NATIVE_ENV, "0")
    plain = run_layer(cell, x, params, sequence, torch.float32)
    names = ["output", "d x", "d w_ih", "d w_hh", "d b_ih", "d b_hh"]
    for name, a, p, r in zip(names, compiled, plain, reference, strict=True):
        error, plain_error = (a.double() - r).abs().max().item(), (p.double() - r).abs().max().item()
        assert error <= 4 * plain_error + 1e-6 * r.abs().max().item(), name


@pytest.mark.usefixtures("compiled")
def test_the_pytorch_path_runs_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    x, params = layer_inputs("gru", n_models=2, steps=5, batch=3, n_in=4, hidden=8)
    compiled = run_layer("gru", x, params, True, torch.float32)
    monkeypatch.setenv(native.NATIVE_ENV, "0")
    assert native.kernel_for("gru", 8, x) is None
    plain = run_layer("gru", x, params, True, torch.float32)
    assert any(not torch.equal(a, b) for a, b in zip(compiled, plain, strict=True))  # another order of sums
    for a, b in zip(compiled, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize("cell", sorted(GATE_BLOCKS))
def test_a_model_does_not_depend_on_its_companions_or_threads(cell: str) -> None:
    x, params = layer_inputs(cell, n_models=5, steps=8, batch=11, n_in=3, hidden=32, seed=3)
    together = run_layer(cell, x, params, True, torch.float32)
    alone = run_layer(cell, x[:, 2:3], [p[2:3] for p in params], True, torch.float32)
    assert torch.equal(together[0][:, 2:3], alone[0])
    assert torch.equal(together[1][:, 2:3], alone[1])
    for a, b in zip(together[2:], alone[2:], strict=True):
        assert torch.equal(a[2:3], b)
    before = torch.get_num_threads()
    torch.set_num_threads(1 if before > 1 else 2)
    try:
        other_threads = run_layer(cell, x, params, True, torch.float32)
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(together, other_threads, strict=True))


def test_a_failed_build_is_an_oserror_naming_the_compiler(no_compiler: None, tmp_path) -> None:
    with pytest.raises(OSError):
        native._build("gru", 24)
    assert not list(tmp_path.rglob("*.so"))


def test_no_compiler_falls_back_with_one_warning(no_compiler: None, caplog: pytest.LogCaptureFixture) -> None:
    native._kernel.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="rnnstrategy.forecasting.batched.native"):
            assert native.kernel_for("lstm", 24, torch.zeros(1)) is None
            assert native.kernel_for("lstm", 24, torch.zeros(1)) is None
        assert len(caplog.records) == 1 and "PyTorch path" in caplog.records[0].getMessage()
    finally:
        native._kernel.cache_clear()


@pytest.mark.usefixtures("compiled")
def test_builds_are_cached_per_cell_and_size(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("RNNSTRATEGY_CACHE", str(tmp_path))
    first = native._build("rnn", 12)
    stamp = first.stat().st_mtime_ns
    assert native._build("rnn", 12) == first and first.stat().st_mtime_ns == stamp
    assert native._build("rnn", 13) != first
    assert first.parent == tmp_path / "kernels"


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize("cell", sorted(GATE_BLOCKS))
def test_padding_rows_are_skipped_without_changing_the_real_ones(cell: str) -> None:
    """Rows past each model's count are padding (weighted zero): skipped, hidden states zero,
    and the real rows' outputs and every gradient equal to computing them all."""
    x, params = layer_inputs(cell, n_models=3, steps=6, batch=9, n_in=3, hidden=16, seed=5)
    rows = torch.tensor([9, 4, 0])
    real = (torch.arange(9)[None, :] < rows[:, None]).float()  # (M, B)

    def run(with_rows: bool) -> list[torch.Tensor]:
        xs = x.clone().requires_grad_()
        ps = [p.clone().requires_grad_() for p in params]
        out = recurrent_layer(cell, xs, *ps, sequence=True, workspace=Workspace(), rows=rows if with_rows else None)
        (out * real[None, :, :, None]).sum().backward()
        return [out.detach(), xs.grad, *(p.grad for p in ps)]

    skipped, computed = run(True), run(False)
    mask = real.bool()
    assert torch.equal(skipped[0][:, mask], computed[0][:, mask])
    assert not skipped[0][:, ~mask].any()  # padding comes out as zeros
    for a, b in zip(skipped[1:], computed[1:], strict=True):
        assert torch.equal(a, b)
