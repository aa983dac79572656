"""Recurrent layers of many independent models, run as one computation.

A layer of M models maps inputs ``(L, M, B, I)`` (time step, model, sample, unit) to
hidden states ``(L, M, B, H)``. Per model it computes what a one-layer
:class:`torch.nn.RNN` (tanh), :class:`torch.nn.GRU` or :class:`torch.nn.LSTM` computes
from a zero state, with the same weight layout (gate order GRU r, z, n; LSTM i, f, g, o;
two biases), so weights copy to and from those modules unchanged. Results agree within
float rounding.

The work is shaped for small networks on a CPU, where the gate math, the Python
overhead per operation and memory traffic cost more than the matrix products:

- each step is one batched matrix product of ``[x(t), h(t-1)]`` with the packed weights
  ``[W_ih, W_hh]`` (:func:`_pack`); the backward pass runs one product per step for
  ``d h(t-1)`` and gets every weight gradient from one large product at the end (as cuDNN
  does); the GRU's pack has zero blocks (its n gate needs the input and recurrent parts
  apart), which costs it a third more multiply-adds than it needs, still cheaper than a
  second product per step;
- ``tanh`` is ``2 sigmoid(2a) - 1``, with the factor 2 folded into the packed weights
  (exact: a power of two): PyTorch's CPU sigmoid is several times faster than its tanh,
  and every gate of a step then takes one ``sigmoid_`` call;
- the forward pass stores, per step, the factors that turn ``d h(t)`` into the gate
  gradients, so the backward pass is four to six operations per step; one autograd
  node per layer instead of dozens per step;
- every buffer can come from a :class:`Workspace` that keeps it from one training step
  to the next: freshly allocated megabytes cost a page fault per 4 KiB on first touch,
  which otherwise dominates the step.

That is the PyTorch path, used on a GPU, in float64, and where no C++ compiler is
found. On a CPU in float32 the time-step loops run compiled instead
(:mod:`rnnstrategy.forecasting.batched.native`): a step of one model is fused (the input and
recurrent products, the gate maths, and in the backward pass the weight gradient), two
to three times faster on small models. The maths are the same; the compiled path takes
the torch-layout weights without packing them and reads the inputs where they are.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnnstrategy.forecasting.batched.native import RecurrentKernel, kernel_for

__all__ = ["Workspace", "recurrent_layer"]


class Workspace:
    """Named buffers reused across calls (one training step after another).

    A buffer handed out stays valid until the same name is asked for again, so a
    workspace serves one forward-and-backward pass at a time; each layer names its
    buffers with its own prefix.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def empty(self, name: str, shape: tuple[int, ...], like: Tensor,
              init: Callable[[Tensor], object] | None = None) -> Tensor:
        """A buffer of this shape, with ``like``'s dtype and device: uninitialised, or
        passed to ``init`` once when it is allocated (for parts no caller overwrites)."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != like.dtype or buf.device != like.device:
            buf = self._buffers[name] = like.new_empty(shape)
            if init is not None:
                init(buf)
        return buf


class _Fresh(Workspace):
    """Fresh buffers on every call (when the caller keeps no workspace)."""

    def empty(self, name: str, shape: tuple[int, ...], like: Tensor,
              init: Callable[[Tensor], object] | None = None) -> Tensor:
        buf = like.new_empty(shape)
        if init is not None:
            init(buf)
        return buf


def recurrent_layer(
    cell: str,
    x: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    *,
    sequence: bool = True,
    workspace: Workspace | None = None,
    prefix: str = "",
    rows: Tensor | None = None,
) -> Tensor:
    """Run M independent recurrent layers over L time steps from a zero state.

    Args:
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        x: inputs ``(L, M, B, I)``, any strides.
        w_ih, w_hh: weights ``(M, G * H, I)`` and ``(M, G * H, H)``, torch layout.
        b_ih, b_hh: biases ``(M, G * H)``.
        sequence: return every step's hidden state; False returns the last one only
            (``(M, B, H)``), all the head of a network reads from its last layer.
        workspace: reuse buffers from here (see :class:`Workspace`); the result then
            lives in the workspace too and is overwritten by the next call.
        prefix: names this layer's buffers in the workspace.
        rows: per model, how many leading samples are real (``(M,)`` integers), the rest
            being padding whose loss weighs zero: the compiled path skips those rows
            (their hidden states come out zero); the PyTorch path computes them.

    Returns:
        Hidden states ``(L, M, B, H)``, or ``(M, B, H)``.
    """
    workspace = workspace or _Fresh()
    hidden = w_hh.shape[-1]
    params = (w_ih, w_hh, b_ih, b_hh)
    grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params))
    kernel = kernel_for(cell, hidden, x)
    if kernel is not None:
        if rows is not None:
            rows = rows.to(device="cpu", dtype=torch.int32).contiguous()
        if grad:
            return _NativeLayer.apply(x, *params, kernel, sequence, workspace, prefix, rows)
        with torch.no_grad():
            return _native_forward(kernel, x, params, workspace, prefix, sequence, False, rows)[0]
    w = _pack(cell, *params)
    if grad:
        return _RecurrentLayer.apply(x, w, cell, hidden, sequence, workspace, prefix)
    with torch.no_grad():
        return _forward(cell, x, w, hidden, workspace, prefix, sequence, saving=False)


def _pack(cell: str, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """Packed weights ``(M, G', I + H + 1 + P)`` acting on ``[x(t), h(t-1), 1, 0 … 0]``.

    Column I + H is the bias; P zero columns (:func:`_padding`) follow it. Rows whose
    activation is a tanh are doubled (tanh(a) = 2 sigmoid(2a) - 1). RNN and LSTM add their two biases. The GRU needs
    ``W_in x + b_in`` and ``W_hn h + b_hn`` apart (n = tanh(W_in x + b_in + r (W_hn h +
    b_hn))), so its pack has four blocks: r, z, and twice each of those two, with zeros
    for the other input. Built with ordinary autograd operations, so the gradients flow
    back to the torch layout.
    """
    w = _pack_unpadded(cell, w_ih, w_hh, b_ih, b_hh)
    pad = _padding(w.shape[1], w.shape[2])
    return torch.cat([w, w.new_zeros(*w.shape[:2], pad)], dim=2) if pad else w


def _padding(gates: int, columns: int) -> int:
    """Zero columns that make a model's ``gates x columns`` weight gradient whole 64-byte lines.

    MKL's batched product rounds a matrix whose output block starts mid-line differently
    from the same matrix at an aligned address; with aligned blocks a model's gradient
    does not depend on its slot or on how many models share the product.
    """
    pad = 0
    while gates * (columns + pad) % 16:
        pad += 1
    return pad


def _pack_unpadded(cell: str, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    hidden, n_in = w_hh.shape[-1], w_ih.shape[-1]
    if cell == "gru":
        zeros_h = w_hh.new_zeros(w_hh.shape[0], hidden, hidden)
        zeros_x = w_ih.new_zeros(w_ih.shape[0], hidden, n_in)
        rz = 2 * hidden
        return torch.cat([
            torch.cat([w_ih[:, :rz], w_hh[:, :rz], (b_ih[:, :rz] + b_hh[:, :rz]).unsqueeze(2)], dim=2),
            2 * torch.cat([w_ih[:, rz:], zeros_h, b_ih[:, rz:].unsqueeze(2)], dim=2),
            2 * torch.cat([zeros_x, w_hh[:, rz:], b_hh[:, rz:].unsqueeze(2)], dim=2),
        ], dim=1)
    w = torch.cat([w_ih, w_hh, (b_ih + b_hh).unsqueeze(2)], dim=2)
    return w * _gate_scale(cell, hidden, w)


def _gate_scale(cell: str, hidden: int, like: Tensor) -> Tensor:
    """RNN and LSTM: ``(G * H, 1)`` factors of the packed rows, 2 where the activation is a tanh."""
    if cell == "rnn":
        return like.new_full((hidden, 1), 2.0)
    scale = like.new_ones(4 * hidden, 1)
    scale[2 * hidden : 3 * hidden] = 2.0  # the LSTM's g gate
    return scale


def _input_rows(x: Tensor, width: int, hidden: int, ws: Workspace, prefix: str) -> Tensor:
    """``[x(t), h(t-1), 1, 0 … 0]`` rows of ``width`` columns for every step, ``(M, L + 1, B, width)``, h(-1) = 0.

    Step t's product reads row block t and writes h(t) into block t + 1; at the end the
    buffer is the right-hand side of the weight gradient. Only the x columns change from
    call to call: h(-1), the ones and the zero padding are written when the workspace
    allocates the buffer (the layers write h(t) into blocks 1 … L only).
    """
    steps, n_models, batch, n_in = x.shape

    def constant_columns(xh: Tensor) -> None:
        xh.zero_()
        xh[..., n_in + hidden] = 1.0

    xh = ws.empty(prefix + "xh", (n_models, steps + 1, batch, width), x, init=constant_columns)
    xh[:, :steps, :, :n_in] = x.transpose(0, 1)
    return xh


class _Buffers:
    """What one forward pass of one layer writes, from the workspace.

    ``xh`` holds ``[x(t), h(t-1), 1]`` for every step, ``(M, L + 1, B, I + H + 1)``: step
    t's product reads ``xh[:, t]`` and writes h(t) into ``xh[:, t + 1]``; at the end it
    is the right-hand side of the weight gradient. With ``saving``, ``act`` keeps every
    step's gate activations and ``deriv`` the factors from d h(t) (LSTM: also d c(t)) to
    the gates' pre-activation gradients; without, one step's worth is reused.
    """

    def __init__(self, cell: str, x: Tensor, w: Tensor, hidden: int, ws: Workspace, prefix: str,
                 saving: bool) -> None:
        steps, n_models, batch, n_in = x.shape
        gates = w.shape[1]
        self.n_in, self.hidden, self.saving = n_in, hidden, saving
        self.xh = _input_rows(x, w.shape[2], hidden, ws, prefix)
        depth = steps if saving else 1
        self.act = ws.empty(prefix + "act", (depth, n_models, batch, gates), x)
        self.deriv = ws.empty(prefix + "deriv", (depth, n_models, batch, gates), x)
        self.c_deriv = ws.empty(prefix + "c_deriv", (depth, n_models, batch, hidden), x) if cell == "lstm" else None
        self.scratch = ws.empty(prefix + "scratch", (5, n_models, batch, hidden), x)
        self.rz_slope = ws.empty(prefix + "rz_slope", (n_models, batch, 2 * hidden), x) if cell == "gru" else None
        self.cells = ws.empty(prefix + "c", (2, n_models, batch, hidden), x) if cell == "lstm" else None
        if self.cells is not None:
            self.cells[1] = 0.0  # c(-1)
        # scalars as 0-dim tensors, for one-pass forms like 2 s - 1 = add(-1, s, alpha=2)
        self.one, self.two, self.neg_one, self.half = (x.new_tensor(v) for v in (1.0, 2.0, -1.0, 0.5))

    def step(self, t: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Step t's activations, derivative factors, h(t-1) and where h(t) goes."""
        k = t if self.saving else 0
        h_slice = slice(self.n_in, self.n_in + self.hidden)
        return self.act[k], self.deriv[k], self.xh[:, t, :, h_slice], self.xh[:, t + 1, :, h_slice]


def _rnn_step(b: _Buffers, t: int, a: Tensor, deriv: Tensor, h_prev: Tensor, h: Tensor) -> None:
    s = torch.sigmoid_(a)
    torch.add(b.neg_one, s, alpha=2.0, out=h)  # h = tanh(u / 2) = 2 s - 1
    if b.saving:  # dh/du = 2 s (1 - s)
        torch.addcmul(s, s, s, value=-1.0, out=deriv).mul_(2.0)


def _gru_step(b: _Buffers, t: int, a: Tensor, deriv: Tensor, h_prev: Tensor, h: Tensor) -> None:
    hidden = b.hidden
    u, n, diff, t1, t2 = b.scratch
    rz = torch.sigmoid_(a[..., : 2 * hidden])
    r, z = rz[..., :hidden], rz[..., hidden:]
    u_h = a[..., 3 * hidden :]  # 2 (W_hn h + b_hn)
    s = torch.sigmoid_(torch.addcmul(a[..., 2 * hidden : 3 * hidden], r, u_h, out=u))
    torch.add(b.neg_one, s, alpha=2.0, out=n)  # n = 2 s - 1
    torch.sub(h_prev, n, out=diff)
    torch.addcmul(n, z, diff, out=h)  # h = (1 - z) n + z h_prev
    if b.saving:
        d_r, d_z, d_ui, d_uh = deriv.split(hidden, dim=-1)
        torch.addcmul(s, s, s, value=-1.0, out=t1)  # s (1 - s)
        torch.add(b.two, z, alpha=-2.0, out=t2)  # 2 (1 - z)
        torch.mul(t1, t2, out=d_ui)  # dh/du_i = (1 - z) dn/du, dn/du = 2 s (1 - s)
        torch.mul(d_ui, r, out=d_uh)  # u = u_i + r u_h
        slope = torch.addcmul(rz, rz, rz, value=-1.0, out=b.rz_slope)  # sigmoid' of r and z
        torch.mul(diff, slope[..., hidden:], out=d_z)  # dh/dz = h_prev - n
        torch.mul(slope[..., :hidden], u_h, out=d_r).mul_(d_ui)  # du/dr = u_h


def _lstm_step(b: _Buffers, t: int, a: Tensor, deriv: Tensor, h_prev: Tensor, h: Tensor) -> None:
    u, tc = b.scratch[:2]
    torch.sigmoid_(a)
    i, f, g, o = a.split(b.hidden, dim=-1)
    c_prev, c = b.cells[(t + 1) % 2], b.cells[t % 2]
    if b.saving:  # sigmoid' = s (1 - s) for i, f, o; g's own below
        d_i, d_f, d_g, d_o = deriv.split(b.hidden, dim=-1)
        torch.addcmul(a, a, a, value=-1.0, out=deriv)
        d_f.mul_(c_prev)  # dc/df = c_prev
    torch.add(b.neg_one, g, alpha=2.0, out=g)  # g = 2 s - 1
    torch.mul(f, c_prev, out=c).addcmul_(i, g)  # c = f c_prev + i g
    torch.sigmoid_(torch.mul(c, 2.0, out=u))
    torch.add(b.neg_one, u, alpha=2.0, out=tc)  # tanh(c)
    torch.mul(o, tc, out=h)
    if b.saving:
        d_i.mul_(g)  # dc/di = g
        torch.addcmul(b.half, g, g, value=-0.5, out=d_g).mul_(i)  # dc/du_g = i (1 - g^2) / 2
        d_o.mul_(tc)  # dh/do = tanh(c)
        torch.addcmul(b.one, tc, tc, value=-1.0, out=b.c_deriv[t]).mul_(o)  # dh/dc = o (1 - tanh^2)


_STEPS = {"rnn": _rnn_step, "gru": _gru_step, "lstm": _lstm_step}


def _forward(
    cell: str, x: Tensor, w: Tensor, hidden: int, ws: Workspace, prefix: str, sequence: bool, saving: bool
) -> Tensor | tuple[Tensor, _Buffers]:
    """The recurrence over all steps; with ``saving``, also the buffers the backward pass needs."""
    b = _Buffers(cell, x, w, hidden, ws, prefix, saving)
    w_t, cell_step = w.transpose(1, 2), _STEPS[cell]  # (M, I+H+1, G')
    steps = x.shape[0]
    for t in range(steps):
        a, deriv, h_prev, h = b.step(t)
        torch.bmm(b.xh[:, t], w_t, out=a)  # (M, B, G') pre-activations of all gates
        cell_step(b, t, a, deriv, h_prev, h)
    h_slice = slice(b.n_in, b.n_in + b.hidden)
    hs = b.xh[:, 1:, :, h_slice].transpose(0, 1) if sequence else b.xh[:, steps, :, h_slice]
    return (hs, b) if saving else hs


# --- backward steps: d h(t) (LSTM: and d c(t)) -> gate gradients d_a(t) and d h(t-1) ---------


def _rnn_back(b: _Buffers, t: int, d_h: Tensor, d_h_prev: Tensor, d_a: Tensor, w_h: Tensor,
              tmp: Tensor, d_c: Tensor | None) -> None:
    torch.mul(d_h, b.deriv[t], out=d_a)
    torch.bmm(d_a, w_h, out=d_h_prev)


def _gru_back(b: _Buffers, t: int, d_h: Tensor, d_h_prev: Tensor, d_a: Tensor, w_h: Tensor,
              tmp: Tensor, d_c: Tensor | None) -> None:
    hidden = b.hidden
    z = b.act[t, ..., hidden : 2 * hidden]
    # all four gates at once: their factors times d h(t), broadcast over the gate blocks
    torch.mul(b.deriv[t].unflatten(-1, (4, hidden)), d_h.unsqueeze(2), out=d_a.unflatten(-1, (4, hidden)))
    torch.baddbmm(torch.mul(d_h, z, out=tmp), d_a, w_h, out=d_h_prev)  # h depends on h_prev directly (z) too


def _lstm_back(b: _Buffers, t: int, d_h: Tensor, d_h_prev: Tensor, d_a: Tensor, w_h: Tensor,
               tmp: Tensor, d_c: Tensor | None) -> None:
    hidden = b.hidden
    f = b.act[t, ..., hidden : 2 * hidden]
    d_c.addcmul_(d_h, b.c_deriv[t])  # d c(t) from step t + 1 and from h(t)
    torch.mul(b.deriv[t, ..., : 3 * hidden].unflatten(-1, (3, hidden)), d_c.unsqueeze(2),
              out=d_a[..., : 3 * hidden].unflatten(-1, (3, hidden)))  # i, f, g through c
    torch.mul(b.deriv[t, ..., 3 * hidden :], d_h, out=d_a[..., 3 * hidden :])  # o through h
    d_c.mul_(f)  # dc/dc_prev = f
    torch.bmm(d_a, w_h, out=d_h_prev)


_BACK_STEPS = {"rnn": _rnn_back, "gru": _gru_back, "lstm": _lstm_back}


class _RecurrentLayer(torch.autograd.Function):
    """One recurrent layer of M models: inputs and packed weights in, hidden states out."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, x: Tensor, w: Tensor, cell: str, hidden: int, sequence: bool, workspace: Workspace,
        prefix: str,
    ) -> Tensor:
        hs, saved = _forward(cell, x, w, hidden, workspace, prefix, sequence, saving=True)
        ctx.cell, ctx.sequence, ctx.workspace, ctx.prefix, ctx.saved = cell, sequence, workspace, prefix, saved
        ctx.save_for_backward(w)
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_hs: Tensor) -> tuple[Tensor | None, ...]:
        (w,) = ctx.saved_tensors
        saved, ws, prefix = ctx.saved, ctx.workspace, ctx.prefix
        xh = saved.xh
        steps, n_models, batch, gates = saved.act.shape
        n_in, hidden = saved.n_in, saved.hidden
        w_h = ws.empty(prefix + "w_h", (n_models, gates, hidden), w)
        w_h.copy_(w[..., n_in : n_in + hidden])  # (M, G', H): d h(t-1) = d_a(t) @ w_h
        d_a = ws.empty(prefix + "d_a", (n_models, steps, batch, gates), w)  # model-major for the products below
        d_h = ws.empty(prefix + "d_h", (3, n_models, batch, hidden), w)
        d_c = ws.empty(prefix + "d_c", (n_models, batch, hidden), w).zero_() if ctx.cell == "lstm" else None
        cell_back = _BACK_STEPS[ctx.cell]
        for t in reversed(range(steps)):
            now, before = d_h[t % 2], d_h[(t + 1) % 2]  # d h(t), complete after the next lines; d h(t-1)
            if t == steps - 1:
                now.copy_(d_hs[t] if ctx.sequence else d_hs)
            elif ctx.sequence:
                now.add_(d_hs[t])
            cell_back(saved, t, now, before, d_a[:, t], w_h, d_h[2], d_c)
        ctx.saved = None
        return (*_gradients(xh, d_a, w, n_in, ctx.needs_input_grad[0]), None, None, None, None, None)


def _gradients(xh: Tensor, d_a: Tensor, w: Tensor, n_in: int, input_grad: bool) -> tuple[Tensor | None, Tensor]:
    """The inputs' (when asked) and the packed weights' gradients from every step's ``d_a`` ``(M, L, B, G')``."""
    n_models, steps, batch, gates = d_a.shape
    flat_d_a = d_a.view(n_models, steps * batch, gates)
    flat_xh = xh[:, :steps].reshape(n_models, steps * batch, -1)
    d_w = torch.bmm(flat_xh.transpose(1, 2), flat_d_a).transpose(1, 2)  # (M, G', I+H+1); faster this way round
    return (_input_grad(d_a, w, n_in) if input_grad else None), d_w


def _input_grad(d_a: Tensor, w: Tensor, n_in: int) -> Tensor:
    """The inputs' gradient ``(L, M, B, I)`` from every step's ``d_a`` ``(M, L, B, G')``."""
    n_models, steps, batch, gates = d_a.shape
    d_x = torch.bmm(d_a.view(n_models, steps * batch, gates), w[..., :n_in])
    return d_x.view(n_models, steps, batch, n_in).transpose(0, 1)


# --- the compiled path (rnnstrategy.forecasting.batched.native): the same layer, each step fused --------


def _native_forward(
    kernel: RecurrentKernel, x: Tensor, params: tuple[Tensor, Tensor, Tensor, Tensor], ws: Workspace, prefix: str,
    sequence: bool, saving: bool, rows: Tensor | None,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor]]:
    """Hidden states, and what the backward pass reads: ``(x, xh, act, cs, wb)``.

    The kernel reads the inputs where they are (``x`` model-major, as the caller's
    windows or the previous layer's states already are); its ``xh`` holds ``[h(t-1), 1]``.
    """
    steps, n_models, batch, _ = x.shape
    hidden = kernel.hidden
    wx, wh, bias, wb = _kernel_weights(kernel.cell, *(p.detach() for p in params))
    x = x.detach().transpose(0, 1)  # (M, L, B, I)
    if x.stride(-1) != 1:
        x = x.contiguous()

    def h0_and_ones(xh: Tensor) -> None:
        xh.zero_()
        xh[..., hidden] = 1.0

    xh = ws.empty(prefix + "n_xh", (n_models, steps + 1, batch, hidden + 1), x, init=h0_and_ones)
    gates = bias.shape[1]
    act = ws.empty(prefix + "n_act", (n_models, steps if saving else 1, batch, gates), x)
    cs = ws.empty(prefix + "n_c", (n_models, steps, batch, hidden), x) if kernel.cell == "lstm" and saving else None
    kernel.forward(x, xh, wx, wh, bias, act, cs, saving, rows)
    hs = xh[:, 1:, :, :hidden].transpose(0, 1) if sequence else xh[:, steps, :, :hidden]
    return hs, (x, xh, act, cs, wb)


def _kernel_weights(cell: str, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> tuple[Tensor, ...]:
    """The kernel's ``wx (M, I, G)``, ``wh (M, H, G)``, ``bias (M, G)`` and ``wb (M, GH, H)``
    from the torch layout: the packed rows of :func:`_pack` (same doubled rows, same sums),
    without the padding columns; the GRU's columns in the kernel's order [u_i, r, z, u_h],
    where the inputs feed the first three blocks and h(t-1) the last three."""
    hidden = w_hh.shape[-1]
    x_rows = _kernel_input_rows(cell, w_ih, hidden)
    if cell == "gru":
        rz = 2 * hidden
        h_rows = torch.cat([w_hh.new_zeros(w_hh.shape[0], hidden, hidden), w_hh[:, :rz], 2 * w_hh[:, rz:]], dim=1)
        bias = torch.cat([2 * b_ih[:, rz:], b_ih[:, :rz] + b_hh[:, :rz], 2 * b_hh[:, rz:]], dim=1)
        wb = h_rows[:, hidden:]  # the rows that read h(t-1): r, z, u_h
    else:
        scale = _gate_scale(cell, hidden, w_hh)
        h_rows, bias = w_hh * scale, (b_ih + b_hh) * scale[:, 0]
        wb = h_rows
    return x_rows.transpose(1, 2).contiguous(), h_rows.transpose(1, 2).contiguous(), bias, wb.contiguous()


def _kernel_input_rows(cell: str, w_ih: Tensor, hidden: int) -> Tensor:
    """``(M, G', I)``: the input weights of the kernel's pre-activations, in its row order."""
    if cell == "gru":
        rz = 2 * hidden
        return torch.cat([2 * w_ih[:, rz:], w_ih[:, :rz], w_ih.new_zeros(w_ih.shape[0], hidden, w_ih.shape[-1])], dim=1)
    return w_ih * _gate_scale(cell, hidden, w_ih)


def _weight_grads(cell: str, dwt: Tensor, n_in: int, hidden: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Gradients of ``w_ih, w_hh, b_ih, b_hh`` from the kernel's ``dwt (M, I + H + 1, G')``
    (columns in the kernel's order): what autograd makes of it through :func:`_pack`."""
    d = dwt.transpose(1, 2)  # (M, G', I + H + 1)
    x_cols, h_cols = slice(0, n_in), slice(n_in, n_in + hidden)
    if cell == "gru":
        n_x, rz, n_h = slice(0, hidden), slice(hidden, 3 * hidden), slice(3 * hidden, 4 * hidden)
        return (
            torch.cat([d[:, rz, x_cols], 2 * d[:, n_x, x_cols]], dim=1),
            torch.cat([d[:, rz, h_cols], 2 * d[:, n_h, h_cols]], dim=1),
            torch.cat([d[:, rz, -1], 2 * d[:, n_x, -1]], dim=1),
            torch.cat([d[:, rz, -1], 2 * d[:, n_h, -1]], dim=1),
        )
    d = d * _gate_scale(cell, hidden, d)
    return d[..., x_cols].contiguous(), d[..., h_cols].contiguous(), d[..., -1].contiguous(), d[..., -1].clone()


class _NativeLayer(torch.autograd.Function):
    """:class:`_RecurrentLayer` with the compiled time-step loops, on the torch-layout weights."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
        kernel: RecurrentKernel, sequence: bool, workspace: Workspace, prefix: str, rows: Tensor | None,
    ) -> Tensor:
        hs, saved = _native_forward(kernel, x, (w_ih, w_hh, b_ih, b_hh), workspace, prefix, sequence, True, rows)
        ctx.kernel, ctx.sequence, ctx.workspace, ctx.prefix, ctx.saved = kernel, sequence, workspace, prefix, saved
        ctx.n_in, ctx.rows = x.shape[-1], rows
        ctx.save_for_backward(w_ih)
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_hs: Tensor) -> tuple[Tensor | None, ...]:
        (w_ih,) = ctx.saved_tensors
        x, xh, act, cs, wb = ctx.saved
        cell, n_in, hidden = ctx.kernel.cell, ctx.n_in, ctx.kernel.hidden
        n_models, gates = act.shape[0], act.shape[-1]
        input_grad = ctx.needs_input_grad[0]
        d_a = ctx.workspace.empty(ctx.prefix + "d_a", act.shape, act) if input_grad else None
        dwt = ctx.workspace.empty(ctx.prefix + "d_wt", (n_models, n_in + hidden + 1, gates), act).zero_()
        d_hs = (d_hs.transpose(0, 1) if ctx.sequence else d_hs).contiguous()  # (M, L, B, H) or (M, B, H)
        ctx.kernel.backward(x, xh, act, cs, wb, d_hs, ctx.sequence, d_a, dwt, ctx.rows,
                            lambda k: ctx.workspace.empty(ctx.prefix + "d_a_split", (k, *act.shape[1:]), act))
        d_x = _input_grad(d_a, _kernel_input_rows(cell, w_ih, hidden), n_in) if input_grad else None
        ctx.saved = ctx.rows = None
        return d_x, *_weight_grads(cell, dwt, n_in, hidden), None, None, None, None, None
