"""The recurrent layers' time-step loops as compiled code, built on first use.

On a CPU the per-step work of :mod:`rnnstrategy.forecasting.batched.layers` is a few small matrix
products and a dozen elementwise operations on small tensors, which PyTorch runs one
operation at a time. ``recurrent_kernel.cpp`` fuses a whole step of one model (the
recurrent product and the gate maths, in registers) and runs every model on its own.
It is compiled here with the machine's C++ compiler, once per cell and hidden size,
for this processor (``-march=native``), and cached under ``kernels/`` in
:func:`~rnnstrategy.files.cache_root`; the cache key includes the source, the
compiler and the processor's features, so a cache shared by different machines holds
one build per kind of machine. Beside each build, ``<name>.so.sha256`` records its
SHA-256 (written atomically, just before the build is renamed into place). A cached build
is loaded only when its bytes still match (a cut-short library can crash the process that
loads it); else it is deleted and rebuilt with a warning, as is a build without a record
(an older cache) and one that fails to load (rebuilt once). No compiler, a failed build
(or rebuild), float64 or a GPU: the layers run their PyTorch path instead (the same
maths; results agree within float rounding). ``RNNSTRATEGY_NATIVE=0`` turns the compiled path off. ``adam_kernel.cpp``, the
optimizer's step (:mod:`rnnstrategy.forecasting.batched.optim`), is built and cached the same way.

Each model is computed in a fixed order on its own, so its results do not depend on its
companions, its slot or the thread count; they differ from the PyTorch path's in the
last bits (a different order of sums, a polynomial ``exp`` and, with AVX-512, a
refined reciprocal estimate instead of a division). The threads (:func:`kernel_threads`) share
each call's rows (:func:`deal_rows`): a model's rows may be split between two threads, its weight
gradient then summed after its rows in the same order, so no bit changes with the split.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import functools
import hashlib
import itertools
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import torch
from torch import Tensor

from rnnstrategy.files import atomic_write_text, cache_root, file_sha256
from rnnstrategy.forecasting.batched.settle import settle

__all__ = ["NATIVE_ENV", "AdamKernel", "RecurrentKernel", "adam_kernel_for", "deal_rows", "kernel_for",
           "kernel_threads"]

log = logging.getLogger(__name__)

NATIVE_ENV = "RNNSTRATEGY_NATIVE"
_SOURCE = Path(__file__).with_name("recurrent_kernel.cpp")
_ADAM_SOURCE = Path(__file__).with_name("adam_kernel.cpp")
_CELL_CODES = {"rnn": 0, "gru": 1, "lstm": 2}
_FLAGS = ("-O3", "-std=c++17", "-shared", "-fPIC")
_lock = threading.Lock()


class RecurrentKernel:
    """The compiled loops for one cell and hidden size (see ``recurrent_kernel.cpp``).

    Each call's work is dealt to the threads (:func:`kernel_threads`) in units of one model's
    rows, about equal shares of the real rows each (:func:`deal_rows`): the models of a
    stacked run keep every core busy even when they do not divide evenly among the threads.
    """

    def __init__(self, library: ctypes.CDLL, cell: str, hidden: int) -> None:
        self.cell, self.hidden = cell, hidden
        pointer, integer, stride = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
        inputs = [pointer, stride, stride, integer]  # x and its model, step and row strides
        units = [integer, pointer]  # how many, and their (model, first, end) triples
        self._forward = library.recurrent_forward
        self._forward.argtypes = units + [integer] * 4 + inputs + [pointer] * 6 + [integer, pointer]
        self._forward.restype = None
        self._backward = library.recurrent_backward
        self._backward.argtypes = units + [integer] * 4 + inputs + [pointer] * 5 + [integer] + [pointer] * 3
        self._backward.restype = None
        self._weight_grad = library.recurrent_weight_grad
        self._weight_grad.argtypes = units + [integer] * 4 + inputs + [pointer] * 4
        self._weight_grad.restype = None
        #: column parts of a model's weight gradient that can be computed apart
        self.parts = int(library.weight_grad_parts())

    def forward(self, x: Tensor, xh: Tensor, wx: Tensor, wh: Tensor, bias: Tensor, act: Tensor, cs: Tensor | None,
                saving: bool, rows: Tensor | None) -> None:
        """Run the recurrence: h(t) into ``xh``, the activations into ``act`` (LSTM: cell states into ``cs``).

        ``x``: the inputs ``(M, L, B, I)``, any strides but contiguous columns.
        ``rows``: per model, how many leading batch rows are real (int32), or None for all;
        padding rows are skipped and their hidden states set to zero.
        """
        n_models, steps_plus_one, batch, row = xh.shape
        args = (steps_plus_one - 1, batch, row, *_inputs(x), xh.data_ptr(), wx.data_ptr(), wh.data_ptr(),
                bias.data_ptr(), act.data_ptr(), _address(cs), int(saving), _address(rows))
        shares = deal_rows(_real_rows(n_models, batch, rows), batch, _thread_count())
        _in_parallel([functools.partial(self._forward, *_units(units), *args) for units in shares])

    def backward(self, x: Tensor, xh: Tensor, act: Tensor, cs: Tensor | None, wb: Tensor, d_hs: Tensor,
                 sequence: bool, d_a: Tensor | None, dwt: Tensor, rows: Tensor | None,
                 scratch: Callable[[int], Tensor]) -> None:
        """Back through the recurrence: the packed weights' gradient (transposed, x, h and
        bias columns) into ``dwt``, and every step's pre-activation gradients into ``d_a`` if given.

        ``scratch(k)``: a float32 tensor of ``k`` models' ``d_a`` blocks ``(k, L, B, G)``, asked for
        when ``d_a`` is None and the rows of k models are split across threads (their weight
        gradients are summed once all their rows are done).
        """
        n_models, steps, batch, _ = act.shape
        shares = deal_rows(_real_rows(n_models, batch, rows), batch, _thread_count())
        split = sorted({m for units in shares for m, first, end in units if (first, end) != (0, batch)})
        blocks: list[int | None] = [None] * n_models
        if d_a is not None:
            blocks = [d_a[m].data_ptr() for m in range(n_models)]
        elif split:
            buffer = scratch(len(split))
            for k, m in enumerate(split):
                blocks[m] = buffer[k].data_ptr()
        d_a_of = (ctypes.c_void_p * n_models)(*blocks)
        head = (steps, batch, xh.shape[-1], *_inputs(x))
        args = (xh.data_ptr(), act.data_ptr(), _address(cs), wb.data_ptr(), d_hs.data_ptr(), int(sequence), d_a_of,
                dwt.data_ptr(), _address(rows))
        _in_parallel([functools.partial(self._backward, *_units(units), *head, *args) for units in shares])
        if split:  # the split models' weight gradients, their column parts dealt to the threads
            tail = (xh.data_ptr(), d_a_of, dwt.data_ptr(), _address(rows))
            _in_parallel([functools.partial(self._weight_grad, *_units(units), *head, *tail)
                          for units in _deal_parts(split, self.parts, len(shares))])


class AdamKernel:
    """The compiled optimizer step (see ``adam_kernel.cpp``)."""

    def __init__(self, library: ctypes.CDLL) -> None:
        pointer, integer, real = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
        self._step = library.adam_step
        self._step.argtypes = [integer, integer] + [pointer] * 5 + [ctypes.c_int64] + [pointer] * 3 + [real] * 4
        self._step.restype = None

    def step(self, params: list[Tensor], grads: list[Tensor], exp_avg: Tensor, exp_avg_sq: Tensor,
             active: list[bool], step_size: list[float], correction2_sqrt: list[float],
             betas: tuple[float, float], eps: float, max_norm: float | None) -> None:
        """Clip and update in place the models where ``active`` is True.

        ``params`` and ``grads``: contiguous float32 tensors ``(M, ...)``; ``exp_avg`` and
        ``exp_avg_sq``: ``(M, width)``, each model's parts one after the other in its row.
        """
        sizes = (ctypes.c_int64 * len(params))(*(p[0].numel() for p in params))
        param_ptrs = (ctypes.c_void_p * len(params))(*(p.data_ptr() for p in params))
        grad_ptrs = (ctypes.c_void_p * len(grads))(*(g.data_ptr() for g in grads))
        floats = ctypes.c_float * len(active)
        self._step(len(active), len(params), sizes, param_ptrs, grad_ptrs, exp_avg.data_ptr(), exp_avg_sq.data_ptr(),
                   exp_avg.shape[1], (ctypes.c_uint8 * len(active))(*active), floats(*step_size),
                   floats(*correction2_sqrt), betas[0], betas[1], eps, max_norm or 0.0)


def _inputs(x: Tensor) -> tuple[int, int, int, int, int]:
    """The kernel's view of inputs ``(M, L, B, I)``: width, address and strides (in floats)."""
    if x.stride(-1) != 1:
        raise ValueError(f"the kernel reads rows of contiguous inputs; got strides {x.stride()}")
    return x.shape[-1], x.data_ptr(), x.stride(0), x.stride(1), x.stride(2)


def _address(tensor: Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def _real_rows(n_models: int, batch: int, rows: Tensor | None) -> list[int]:
    return [batch] * n_models if rows is None else [min(int(r), batch) for r in rows.tolist()]


def _units(units: Sequence[tuple[int, int, int]]) -> tuple[int, ctypes.Array]:
    """A unit list as the kernel takes it: how many, and their triples."""
    flat = [v for unit in units for v in unit]
    return len(units), (ctypes.c_int * len(flat))(*flat)


MIN_SHARE = 64
"""Fewest real rows worth a thread of their own: below, handing work to another thread costs more than it saves."""

ROW_BLOCK = 16
"""A model's rows are split between threads at multiples of this many rows (the kernel's row blocks)."""


def deal_rows(real: Sequence[int], batch: int, threads: int) -> list[list[tuple[int, int, int]]]:
    """Each thread's units ``(model, first row, end row)``: consecutive shares of about equal real rows.

    ``real``: each model's real rows (the first ones of its ``batch``; the rest is padding, cheap).
    A share ends at a model's edge where one is near (within an eighth of a share), else inside a
    model at a multiple of :data:`ROW_BLOCK` rows; a model's padding goes with its last real row.
    Fewer threads are used where there are fewer than :data:`MIN_SHARE` real rows each; empty shares
    are dropped.
    """
    total = sum(real)
    threads = max(1, min(threads, total // MIN_SHARE))
    edges = [0, *itertools.accumulate(real)]
    cuts = [_cut(round(total * k / threads), edges, total / threads) for k in range(1, threads)]
    shares: list[list[tuple[int, int, int]]] = [[] for _ in range(threads)]
    for m, n in enumerate(real):
        start = edges[m]
        bounds = [0, *(c - start for c in cuts if start < c < start + n), batch]
        for first, end in itertools.pairwise(bounds):
            if end > first:
                shares[bisect.bisect_right(cuts, start + first)].append((m, first, end))
    return [units for units in shares if units]


def _cut(target: int, edges: Sequence[int], share: float) -> int:
    """Where a share should end: the model edge nearest ``target`` if near, else a row block inside its model."""
    edge = min(edges, key=lambda e: abs(e - target))
    if abs(edge - target) <= share / 8:
        return edge
    m = bisect.bisect_right(edges, target) - 1  # edges[m] < target < edges[m + 1]
    inside = ROW_BLOCK * round((target - edges[m]) / ROW_BLOCK)
    return edges[m] + min(max(inside, 0), edges[m + 1] - edges[m])


def _deal_parts(models: Sequence[int], parts: int, threads: int) -> list[list[tuple[int, int, int]]]:
    """Each thread's units ``(model, first part, end part)``: the models' parts in order, cut into equal counts."""
    pieces = [(m, q) for m in models for q in range(parts)]
    bounds = [len(pieces) * k // threads for k in range(threads + 1)]
    dealt = []
    for lo, hi in itertools.pairwise(bounds):
        units: list[tuple[int, int, int]] = []
        for m, q in pieces[lo:hi]:
            if units and units[-1][0] == m:
                units[-1] = (m, units[-1][1], q + 1)
            else:
                units.append((m, q, q + 1))
        if units:
            dealt.append(units)
    return dealt


_local = threading.local()


def _thread_count() -> int:
    return getattr(_local, "threads", None) or torch.get_num_threads()


@contextlib.contextmanager
def kernel_threads(threads: int | None) -> Iterator[None]:
    """Run the compiled loops called from this thread on ``threads`` threads (None: PyTorch's
    intra-op thread count, the default), whatever PyTorch's own count meanwhile."""
    before = getattr(_local, "threads", None)
    _local.threads = threads
    try:
        yield
    finally:
        _local.threads = before


def kernel_for(cell: str, hidden: int, like: Tensor) -> RecurrentKernel | None:
    """The compiled kernel for tensors like ``like``, or None where the PyTorch path must run."""
    return _kernel(cell, hidden) if _compiled_path(like) else None


def adam_kernel_for(like: Tensor) -> AdamKernel | None:
    """The compiled optimizer step for parameters like ``like``, or None where PyTorch's must run."""
    return _adam_kernel() if _compiled_path(like) else None


def _compiled_path(like: Tensor) -> bool:
    """Float32 on a CPU, unless ``RNNSTRATEGY_NATIVE=0``."""
    return like.device.type == "cpu" and like.dtype == torch.float32 and os.environ.get(NATIVE_ENV, "1") != "0"


@functools.cache
def _kernel(cell: str, hidden: int) -> RecurrentKernel | None:
    library = _load(lambda: _build(cell, hidden), "recurrent kernel", log.warning)
    return None if library is None else RecurrentKernel(library, cell, hidden)


@functools.cache
def _adam_kernel() -> AdamKernel | None:
    # the recurrent kernel's warning already tells of a missing compiler: no second one;
    # no errno from sqrt (its argument is never negative), so that its loop vectorises
    library = _load(lambda: _compile(_ADAM_SOURCE, "adam", ("-fno-math-errno",)), "optimizer step", log.info)
    return None if library is None else AdamKernel(library)


def _load(build: Callable[[], Path], what: str, report: Callable[..., None]) -> ctypes.CDLL | None:
    """The library ``build()`` gives (verified against its checksum there); one that fails
    to load is deleted and rebuilt once; None (PyTorch path) when that fails too."""
    with _lock:
        for attempt in (1, 2):
            path = None
            try:
                path = build()
                return ctypes.CDLL(str(path))
            except (OSError, subprocess.SubprocessError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if path is None or attempt == 2:
                    report("compiled %s unavailable (%s); using the PyTorch path (slower on a CPU)", what, reason)
                    return None
                log.warning("compiled %s %s cannot be loaded (%s); deleted, it will be rebuilt", what, path, reason)
                _discard(path)
        return None


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _verified(path: Path) -> bool:
    """Whether the cached build at ``path`` exists and matches the checksum recorded when it was built
    (a mismatch or a missing record is logged, and the build deleted)."""
    if not path.exists():
        return False
    try:
        recorded = _digest_path(path).read_text().strip()
    except OSError:
        recorded = None
    if recorded == file_sha256(path):
        return True
    problem = "has no recorded checksum" if recorded is None else "fails its SHA-256 checksum (damaged)"
    log.warning("cached kernel %s %s; deleted, it will be rebuilt", path, problem)
    _discard(path)
    return False


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)
    _digest_path(path).unlink(missing_ok=True)


def _build(cell: str, hidden: int) -> Path:
    """The recurrent kernel for (cell, hidden), compiled unless the cache has it."""
    return _compile(_SOURCE, f"recurrent_{cell}{hidden}", (f"-DCELL={_CELL_CODES[cell]}", f"-DHIDDEN={hidden}"))


def _compile(source: Path, name: str, options: tuple[str, ...]) -> Path:
    """The shared library of ``source`` built with these compiler ``options`` (e.g. macros),
    compiled unless the cache has it.

    Tuned for this processor (``-march=native``) where the compiler can; else portable.
    """
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if not compiler:
        raise OSError("no C++ compiler found (set CXX, or install g++ or clang++)")
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout
    failures = []
    for tuning in (("-march=native",), ()):
        flags = (*_FLAGS, *tuning, *options)
        key = hashlib.sha256("\0".join([source.read_text(), " ".join(flags), version, _processor()]).encode())
        path = cache_root() / "kernels" / f"{name}_{key.hexdigest()[:16]}.so"
        if _verified(path):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # same filesystem: the rename below is atomic
            built = Path(tmp) / path.name
            result = subprocess.run([compiler, *flags, str(source), "-o", str(built)], capture_output=True, check=False,
                                    text=True, timeout=600)
            if result.returncode == 0:
                # the record first: a reader never sees the new build without it (and rebuilds needlessly)
                atomic_write_text(_digest_path(path), file_sha256(built) + "\n")
                os.replace(built, path)
                log.info("compiled %s into %s", source.name, path)
                return path
        failures.append(f"{compiler} {' '.join(tuning)} failed: {result.stderr.strip() or result.stdout.strip()}")
    raise OSError(failures[0])


def _processor() -> str:
    """What ``-march=native`` depends on: the processor's model and features."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    wanted = ("model name", "flags", "Features", "CPU part")
    return "\n".join(sorted({line for line in info.splitlines() if line.split(":")[0].strip() in wanted}))


def _in_parallel(tasks: Sequence[Callable[[], None]]) -> None:
    """Run the tasks, each on a thread of its own (one alone: in this thread).

    ctypes releases the GIL during the calls, so the tasks run in parallel. They write through
    raw addresses into tensors their caller owns, so this returns, or raises (Ctrl-C: after the running
    tasks, the others cancelled), only once none runs (:func:`~rnnstrategy.forecasting.batched.settle.settle`).
    """
    if len(tasks) <= 1:
        for task in tasks:
            task()
        return
    futures = [_pool(len(tasks)).submit(task) for task in tasks]
    settle(lambda: wait(futures), lambda: [future.cancel() for future in futures])
    for future in futures:
        future.result()


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rnnstrategy-kernel")
