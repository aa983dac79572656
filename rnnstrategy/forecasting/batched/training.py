"""Train many independent networks at once, each as :func:`rnnstrategy.forecasting.training.train` would.

:func:`train_many` takes a list of :class:`TrainJob` (a network, its samples, its
:class:`~rnnstrategy.forecasting.training.TrainConfig`), groups the jobs that can share one stacked
computation (same architecture, lookback, batch size, learning rate, loss and clipping)
and trains each group in a :class:`~rnnstrategy.forecasting.batched.net.StackedNet` of a few dozen
slots. Each model keeps everything that makes its training its own:

- its own mini-batch order (a ``torch.Generator`` seeded with its ``seed``, one
  ``randperm`` per epoch, as the reference loop) and its own dropout masks;
- its own loss: the summed loss is the sum over models of each model's mean loss, so
  gradients never mix; padding samples (a short last batch) weigh zero;
- its own gradient-norm clipping and Adam state (:mod:`rnnstrategy.forecasting.batched.optim`);
- its own epochs, validation split, early stopping and best weights.

Models advance through their own epochs independently: when one finishes (all epochs,
or patience exhausted) its best weights go back into its network and the next job takes
its slot, so slots rarely idle even when the jobs have very different sample counts.
The results equal one-by-one training within float rounding (the order of floating-point
operations differs), which the tests check. On CPU a job's result does not depend, bit
for bit, on its slot or on the jobs that share its run: mini-batches are padded to
:data:`LANE` samples, weight blocks to whole cache lines, and every per-model quantity
is computed by operations that treat each model's numbers alike (see the notes at
:data:`LANE`, :data:`VALIDATION_CHUNK`, ``layers._padding``, ``StackedNet.forward`` and
``optim``). Walk-forward relies on this: a fold trained with its later folds must equal
the same fold trained alone, or forecasts up to a date would change with later bars.

Memory stays bounded: each slot holds its job's feature rows once (a sliding-window
view is stored as its rows, not as windows), windows are gathered per mini-batch, and
the number of slots is capped by a memory budget. Jobs whose windows are
:class:`~rnnstrategy.forecasting.batched.windows.RowWindows` of one table, with one target tensor
(an ensemble's members: other seeds, the same samples), are trained as one group that
reads the table and the targets in place, one copy for all its slots.

Threads: on a CPU the compiled recurrent loops, most of a step's work, run on the caller's PyTorch
thread count, each call's rows dealt in equal shares (:func:`~rnnstrategy.forecasting.batched.native.deal_rows`:
three members on two threads give each thread one and a half, where whole models gave one thread two),
and PyTorch's own operations of a step (window gathers, the head, the loss, the optimizer) run on one
thread: they are small, and OpenMP's threads spin-wait between them, taking the cores that the
compiled loops need: on the 2-core machine shared with other work (load average 4 to 6), the pooled
steps of a fold took 3.4 to 3.8 times as long with PyTorch on two threads as on one. Neither changes a
bit of any result. Without the compiled loops (no compiler, ``RNNSTRATEGY_NATIVE=0``) the recurrent maths
are PyTorch's own, and PyTorch keeps the caller's threads.

The code is device-agnostic (``device="cuda"`` runs the stacked computation on a GPU).
On CPU even dropout masks equal the reference's; on CUDA torch's own dropout uses a
fused kernel whose random stream cannot be reproduced per model, so with dropout the
masks differ from one-by-one training there (same distribution, other draws).
"""

from __future__ import annotations

import functools
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.batched.layers import Workspace
from rnnstrategy.forecasting.batched.native import kernel_for, kernel_threads
from rnnstrategy.forecasting.batched.net import NetSpec, StackedNet
from rnnstrategy.forecasting.batched.optim import StackedAdam
from rnnstrategy.forecasting.batched.windows import RowWindows
from rnnstrategy.forecasting.nets import CELLS, RecurrentNet
from rnnstrategy.forecasting.training import (
    LOSSES,
    TrainConfig,
    split_sizes,
    torch_threads,
)

__all__ = ["TrainJob", "group_key", "job_split", "train_many"]

log = logging.getLogger(__name__)

MAX_ROWS = 2048
"""Default cap on models x batch size per stacked step (32 models of batch 64): beyond it
the per-step tensors of small networks outgrow a CPU core's cache and throughput stops
rising, while below ~1,000 rows the fixed cost per operation starts to dominate."""

MEMORY_BUDGET = 512 * 2**20
"""Default bytes for the activations kept for the backward pass of one stacked step."""

LANE = 32
"""Each slot's mini-batch is padded to a multiple of this many samples. Then every
per-model block of a stacked tensor fills whole SIMD vectors (two AVX-512 registers of
float32 per step of torch's vectorised loops), so each float is computed by the same
instructions whichever slot holds the model and however many models share the run: a
model's weights do not depend on its companions, bit for bit, on CPU."""

VALIDATION_CHUNK = 256
"""Validation windows per model per pass. A constant, so a model's validation loss is
summed in the same pieces whichever models are validated with it (bit for bit)."""

_FLOATS_PER_UNIT = {"rnn": 5, "gru": 14, "lstm": 15}  # floats kept per (step, sample, unit) in forward + backward


@dataclass(frozen=True)
class TrainJob:
    """One network to train, with what :func:`rnnstrategy.forecasting.training.train` takes.

    Args:
        module: the network (trained in place).
        x: windows ``(n_samples, lookback, features)``, oldest first; a sliding-window
            view (:func:`rnnstrategy.forecasting.features.sliding_windows`) is used without copying
            the windows, and so are :class:`~rnnstrategy.forecasting.batched.windows.RowWindows`.
        y: scaled targets ``(n_samples, horizon)``.
        config: the training configuration.
        purge: samples dropped between the training and validation parts.
        n_val: validation samples, the last ones (as ``train``'s ``n_val``); None:
            ``config.val_fraction`` of them. Ignored without early stopping.
    """

    module: RecurrentNet
    x: Tensor | RowWindows
    y: Tensor
    config: TrainConfig
    purge: int = 0
    n_val: int | None = None


def job_split(job: TrainJob) -> tuple[int, int]:
    """The job's training and validation sample counts, as ``train`` splits its samples."""
    if job.n_val is None or not job.config.patience:
        return split_sizes(len(job.x), job.config, job.purge)
    n_train = len(job.x) - job.n_val - job.purge
    if n_train < 1 or job.n_val < 1:
        raise DataError(f"{len(job.x)} samples with n_val={job.n_val} and purge={job.purge} leave none to train "
                        "or validate on; use more samples or a smaller n_val")
    return n_train, job.n_val


def group_key(job: TrainJob) -> tuple[object, ...]:
    """What jobs must share to be trained in one stacked computation."""
    c = job.config
    return NetSpec.of(job.module), job.x.shape[1], c.batch_size, c.lr, c.loss, c.grad_clip, _shared_table(job)


def _shared_table(job: TrainJob) -> tuple[int, int, int] | None:
    """Which row table and targets the job reads in place (jobs that share them share one copy), or None."""
    x = job.x
    return (id(x.rows), id(x.ends), id(job.y)) if isinstance(x, RowWindows) else None


def train_many(
    jobs: Sequence[TrainJob],
    *,
    device: torch.device | str = "cpu",
    max_models: int | None = None,
    memory_budget: int = MEMORY_BUDGET,
    on_done: Callable[[int, list[dict[str, float]]], None] | None = None,
) -> list[list[dict[str, float]]]:
    """Train every job's network in place, batching compatible jobs; return their histories.

    Equivalent to ``[train(j.module, j.x, j.y, j.config, purge=j.purge, n_val=j.n_val) for j in jobs]``
    (within float rounding), but many models run as one batched computation.

    Args:
        jobs: the networks and their data; jobs are grouped by :func:`group_key`.
        device: where the stacked computation runs (``"cuda"`` for a GPU); the networks
            get their trained weights back on their own device.
        max_models: most models trained side by side (default: as many as fit
            ``memory_budget``, at most :data:`MAX_ROWS` // batch size).
        memory_budget: bytes of activations one stacked step may keep.
        on_done: called with a job's position and history as soon as it is trained
            (its network holds the trained weights), e.g. to save it before the rest end.

    Returns:
        One history per job, in order, like :func:`rnnstrategy.forecasting.training.train`'s.
    """
    if max_models is not None and max_models < 1:
        raise ConfigError(f"max_models={max_models} must be >= 1, or None to size it from memory_budget")
    device = torch.device(device)
    groups: dict[tuple[object, ...], list[int]] = {}
    for k, job in enumerate(jobs):
        _check_job(k, job)
        groups.setdefault(group_key(job), []).append(k)
    histories: list[list[dict[str, float]]] = [[] for _ in jobs]
    # on a CPU the compiled loops get the threads, PyTorch's own small operations one (see the module's notes);
    # without them (no compiler, RNNSTRATEGY_NATIVE=0) the recurrent maths are PyTorch's and keep every thread
    threads = torch.get_num_threads()
    with kernel_threads(threads), torch_threads(1 if _compiled_loops(jobs, device) else None):
        for members in groups.values():
            _train_group(jobs, members, max_models, memory_budget, device, histories, on_done)
    return histories


def _compiled_loops(jobs: Sequence[TrainJob], device: torch.device) -> bool:
    """Whether the recurrent layers of ``jobs`` run as the compiled loops (float32 on a CPU, with a compiler)."""
    probe = torch.empty(0, device=device)
    specs = {NetSpec.of(job.module) for job in jobs}
    return bool(specs) and all(kernel_for(spec.cell, size, probe) is not None for spec in specs for size in spec.hidden)


def _train_group(jobs: Sequence[TrainJob], members: list[int], max_models: int | None, memory_budget: int,
                 device: torch.device, histories: list[list[dict[str, float]]],
                 on_done: Callable[[int, list[dict[str, float]]], None] | None) -> None:
    """Train the compatible jobs at positions ``members`` in one stacked run, filling in their histories."""
    first = jobs[members[0]]
    slots = max_models or _slots_for(NetSpec.of(first.module), first.x.shape[1], first.config.batch_size, memory_budget)
    slots = min(slots, len(members))
    log.debug("training %d models of %s, %d side by side", len(members), NetSpec.of(first.module), slots)
    # Largest jobs first: the long-running ones start early and the tail stays short.
    order = sorted(members, key=lambda k: -len(jobs[k].x))

    def done(k: int, history: list[dict[str, float]]) -> None:
        histories[order[k]] = history
        if on_done:
            on_done(order[k], history)

    _StackedRun([jobs[k] for k in order], slots, device, done).run()


def _check_job(k: int, job: TrainJob) -> None:
    if len(job.x.shape) != 3 or job.y.dim() != 2 or len(job.x) != len(job.y):
        raise DataError(
            f"jobs[{k}]: x must be (n_samples, lookback, features) and y (n_samples, horizon) with the "
            f"same n_samples, got {tuple(job.x.shape)} and {tuple(job.y.shape)}"
        )
    spec = NetSpec.of(job.module)
    if job.x.shape[2] != spec.n_features or job.y.shape[1] != spec.horizon:
        raise DataError(
            f"jobs[{k}]: the network takes {spec.n_features} features and predicts {spec.horizon} steps, "
            f"but x has {job.x.shape[2]} features and y {job.y.shape[1]} columns; build it for the data"
        )
    job_split(job)  # raises on too few samples


def _slots_for(spec: NetSpec, lookback: int, batch_size: int, budget: int) -> int:
    per_model = 4 * lookback * batch_size * _FLOATS_PER_UNIT[spec.cell] * sum(spec.hidden)
    return max(1, min(MAX_ROWS // batch_size, budget // per_model))


@functools.cache
def _outputs_time_major(cell: str) -> bool:
    """Whether torch's batch-first recurrent modules return time-major memory (they do on
    CPU today); dropout fills its mask in memory order, so the masks must be drawn alike."""
    with torch.no_grad():
        out, _ = CELLS[cell](1, 1, batch_first=True)(torch.zeros(2, 3, 1))
    return out.stride(1) > out.stride(0)


def _rows_of(x: Tensor) -> tuple[Tensor, int]:
    """The feature rows behind the windows ``x`` and the row step from one window to the next.

    A sliding-window view (window k = rows k .. k+L-1) is its rows, read in place;
    other windows are flattened (window k = rows kL .. kL+L-1).
    """
    n, lookback, n_features = x.shape
    if x.stride(0) == x.stride(1):  # window k + 1 starts one row after window k
        return x.as_strided((n + lookback - 1, n_features), (x.stride(1), x.stride(2))), 1
    return x.reshape(n * lookback, n_features), lookback


@dataclass
class _Slot:
    """Progress of the job that occupies one slot of the stacked network."""

    job: int
    n_train: int
    n_val: int
    val_start: int
    epochs: int
    patience: int
    shuffle: torch.Generator
    dropout: torch.Generator | None
    epoch: int = 0
    batches: deque[Tensor] = field(default_factory=deque)
    best_loss: float = math.inf
    has_best: bool = False
    stale: int = 0
    done: bool = False
    history: list[dict[str, float]] = field(default_factory=list)


class _StackedRun:
    """Continuous batching of one group of compatible jobs through a few stacked slots."""

    def __init__(self, jobs: Sequence[TrainJob], n_slots: int, device: torch.device,
                 on_done: Callable[[int, list[dict[str, float]]], None]) -> None:
        first = jobs[0]
        self.jobs, self.device, self.on_done = jobs, device, on_done
        self.spec = NetSpec.of(first.module)
        self.config = first.config  # batch size, lr, loss and clipping are shared by the group
        self.lookback = first.x.shape[1]
        self.batch = -(-first.config.batch_size // LANE) * LANE  # rows per slot and step, padding weighs 0
        self.loss_fn = LOSSES[first.config.loss](reduction="none")
        self.net = StackedNet(self.spec, n_slots).to(device)
        self.params = list(self.net.parameters())
        self.optimizer = StackedAdam(self.params, lr=first.config.lr)
        self.workspace, self.val_workspace = Workspace(), Workspace()  # training and validation shapes differ
        self.best = [torch.zeros_like(p) for p in self.params]
        #: with one shared table (see _shared_table): each window's first row; else each slot holds its job's rows
        self.table_starts: Tensor | None = None
        if isinstance(first.x, RowWindows):
            self.rows = first.x.rows.to(device).contiguous()[None]  # (1, N, features): read in place
            self.targets = first.y.to(device).contiguous()[None]
            self.table_starts = first.x.starts.to(device)
        else:
            self.max_rows = max(len(_rows_of(job.x)[0]) for job in jobs)
            self.max_samples = max(len(job.y) for job in jobs)
            self.rows = torch.zeros(n_slots, self.max_rows, self.spec.n_features, device=device)
            self.targets = torch.zeros(n_slots, self.max_samples, self.spec.horizon, device=device)
        self.row_steps = torch.ones(n_slots, dtype=torch.long, device=device)
        self.epoch_loss = torch.zeros(n_slots, dtype=torch.float64, device=device)
        self.slots: list[_Slot | None] = [None] * n_slots
        self.queue = deque(range(len(jobs)))

    @property
    def n_slots(self) -> int:
        return len(self.slots)

    def run(self) -> None:
        """Train every job, reporting each to ``on_done`` as it ends."""
        while True:
            for s in range(self.n_slots):
                if self.slots[s] is None and self.queue:
                    self._load(s, self.queue.popleft())
            busy = [s for s, slot in enumerate(self.slots) if slot is not None]
            if not busy:
                return
            if not self.queue and len(busy) <= self.n_slots // 2:
                self._keep(busy)  # the tail: stop computing for empty slots
                continue
            self._train_step([self._next_batch(s) for s in range(self.n_slots)])
            ended = [s for s in busy if not self.slots[s].batches]
            if ended:
                self._end_epochs(ended)

    def _load(self, s: int, k: int) -> None:
        """Put job k into slot s: its weights, a fresh optimizer state, its rows and targets."""
        job = self.jobs[k]
        n_train, n_val = job_split(job)
        with torch.no_grad():
            state = job.module.state_dict()
            for key, p in zip(self.net.keys, self.params, strict=True):
                p[s] = state[key]
            if self.table_starts is None:
                rows, step = _rows_of(job.x)
                self.rows[s, : len(rows)] = rows
                self.targets[s, : len(job.y)] = job.y
                self.row_steps[s] = step
        self.epoch_loss[s] = 0.0
        self.optimizer.reset([s])
        seed = job.config.seed
        dropout = torch.Generator(self.device).manual_seed(seed) if self.spec.dropout > 0 else None
        self.slots[s] = _Slot(
            job=k, n_train=n_train, n_val=n_val, val_start=len(job.x) - n_val, epochs=job.config.epochs,
            patience=job.config.patience, shuffle=torch.Generator().manual_seed(seed), dropout=dropout,
        )

    def _keep(self, keep: list[int]) -> None:
        """Shrink the stacked state to the slots ``keep``."""
        index = torch.tensor(keep, device=self.device)
        with torch.no_grad():
            for p in self.params:
                p.data = p.data.index_select(0, index)
        self.optimizer.select(keep)
        self.best = [b.index_select(0, index) for b in self.best]
        if self.table_starts is None:
            self.rows, self.targets = self.rows.index_select(0, index), self.targets.index_select(0, index)
        self.row_steps, self.epoch_loss = self.row_steps[index], self.epoch_loss[index]
        self.slots = [self.slots[s] for s in keep]
        self.net.n_models = len(keep)

    def _next_batch(self, s: int) -> Tensor | None:
        """Slot s's next mini-batch of sample positions, starting a new epoch when due."""
        slot = self.slots[s]
        if slot is None:
            return None
        if not slot.batches:
            slot.epoch += 1
            slot.batches.extend(torch.randperm(slot.n_train, generator=slot.shuffle).split(self.config.batch_size))
        return slot.batches.popleft()

    def _windows(self, samples: Tensor, slots: Tensor | None, workspace: Workspace) -> tuple[Tensor, Tensor]:
        """Windows ``(L, M, B, features)`` and targets ``(M, B, horizon)`` of sample positions ``(M, B)``.

        A window is ``L`` consecutive feature rows, gathered as one block, then laid out time step
        by time step (model-major ``(M, L, B, features)`` memory, what the compiled layers read
        fastest) in buffers of ``workspace``, reused from step to step: fresh megabytes would cost a
        page fault per 4 KiB.
        """
        slots = torch.arange(self.n_slots, device=self.device) if slots is None else slots
        n_models, batch = samples.shape
        if self.table_starts is not None:  # one table for every slot
            starts, flat = self.table_starts[samples], samples  # (M, B) first row, flat target
        else:
            starts = samples * self.row_steps[slots, None] + (slots * self.max_rows)[:, None]
            flat = samples + (slots * self.max_samples)[:, None]
        lookback, features = self.lookback, self.spec.n_features
        table = self.rows.view(-1, features)
        blocks = table.as_strided((len(table) - lookback + 1, lookback * features), (features, 1))  # (windows, L F)
        gathered = workspace.empty("windows", (n_models * batch, lookback * features), table)
        torch.index_select(blocks, 0, starts.view(-1), out=gathered)
        x = workspace.empty("steps", (n_models, lookback, batch, features), table)
        x.copy_(gathered.view(n_models, batch, lookback, features).transpose(1, 2))
        y = self.targets.view(-1, self.spec.horizon).index_select(0, flat.view(-1))
        return x.transpose(0, 1), y.view(n_models, batch, -1)

    def _train_step(self, batches: list[Tensor | None]) -> None:
        """One Adam step of every slot that has a batch; idle slots are left untouched."""
        size = self.batch
        counts_list = [0 if b is None else len(b) for b in batches]
        samples = torch.zeros(self.n_slots, size, dtype=torch.long)
        for s, batch in enumerate(batches):
            if batch is not None:
                samples[s, : len(batch)] = batch
        samples, counts = samples.to(self.device), torch.tensor(counts_list, device=self.device)
        weights = (torch.arange(size, device=self.device) < counts[:, None]).float()  # padding weighs 0
        x, y = self._windows(samples, None, self.workspace)
        masks = self._dropout_masks(counts_list) if self.spec.dropout > 0 else None
        out = self.net(x, masks, workspace=self.workspace, rows=counts)  # (M, B, horizon)
        per_model = (self.loss_fn(out, y).sum(-1) * weights).sum(-1) / (counts.clamp(min=1) * self.spec.horizon)
        for p in self.params:
            p.grad = None
        per_model.sum().backward()  # the models' losses are independent: the sum keeps gradients apart
        self.optimizer.step([c > 0 for c in counts_list], max_norm=self.config.grad_clip)
        self.epoch_loss += per_model.detach().double() * counts

    def _dropout_masks(self, counts: list[int]) -> list[Tensor]:
        """Per-layer masks ``(L, M, B, H_k)``; each slot's drawn from its own generator exactly
        as ``nn.Dropout`` draws them for one network: ``bernoulli_`` over a tensor laid out
        like the recurrent module's output, layer by layer."""
        keep = 1.0 - self.spec.dropout
        time_major = _outputs_time_major(self.spec.cell)
        masks = [
            torch.zeros(self.lookback, self.n_slots, self.batch, h, device=self.device)
            for h in self.spec.hidden
        ]
        for s, count in enumerate(counts):
            if count:
                for mask, h in zip(masks, self.spec.hidden, strict=True):
                    if time_major:
                        drawn = torch.empty(self.lookback, count, h, device=self.device)
                    else:
                        drawn = torch.empty(count, self.lookback, h, device=self.device).transpose(0, 1)
                    mask[:, s, :count] = drawn.bernoulli_(keep, generator=self.slots[s].dropout).div_(keep)
        return masks

    def _end_epochs(self, ended: list[int]) -> None:
        """Record the epoch of these slots, validate, early-stop, and finish the jobs that are done."""
        index = torch.tensor(ended, device=self.device)
        n_train = torch.tensor([self.slots[s].n_train for s in ended], dtype=torch.float64, device=self.device)
        train_losses = (self.epoch_loss[index] / n_train).tolist()
        self.epoch_loss[index] = 0.0
        validated = [s for s in ended if self.slots[s].n_val]
        val_losses = self._validate(validated) if validated else {}
        improved = []
        for s, train_loss in zip(ended, train_losses, strict=True):
            slot = self.slots[s]
            val_loss = val_losses.get(s, math.nan)
            slot.history.append({"epoch": slot.epoch, "train_loss": train_loss, "val_loss": val_loss})
            done = slot.epoch >= slot.epochs
            if slot.n_val:
                if val_loss < slot.best_loss:
                    slot.best_loss, slot.stale, slot.has_best = val_loss, 0, True
                    improved.append(s)
                else:
                    slot.stale += 1
                    done = done or slot.stale >= slot.patience
            slot.done = done
        if improved:
            index = torch.tensor(improved, device=self.device)
            with torch.no_grad():
                for best, p in zip(self.best, self.params, strict=True):
                    best[index] = p[index]
        for s in ended:
            if self.slots[s].done:
                self._finish(s)

    @torch.no_grad()
    def _validate(self, slots: list[int]) -> dict[int, float]:
        """Mean validation loss of each of these slots' models, on its latest samples."""
        index = torch.tensor(slots, device=self.device)
        n_val = torch.tensor([self.slots[s].n_val for s in slots], device=self.device)
        start = torch.tensor([self.slots[s].val_start for s in slots], device=self.device)
        longest, chunk = int(n_val.max()), VALIDATION_CHUNK
        total = torch.zeros(len(slots), dtype=torch.float64, device=self.device)
        for first in range(0, longest, chunk):
            offsets = torch.arange(first, first + chunk, device=self.device)[None, :]
            valid = offsets < n_val[:, None]
            samples = start[:, None] + torch.minimum(offsets, n_val[:, None] - 1)
            x, y = self._windows(samples, index, self.val_workspace)
            out = self.net(x, models=index, workspace=self.val_workspace, rows=valid.sum(1))
            total += (self.loss_fn(out, y).sum(-1) * valid).sum(-1).double()
        means = (total / (n_val * self.spec.horizon)).tolist()
        return dict(zip(slots, means, strict=True))

    def _finish(self, s: int) -> None:
        """Give slot s's job its best (or last) weights and history; free the slot."""
        slot = self.slots[s]
        source = self.best if slot.has_best else self.params
        weights = {key: t[s].detach().clone() for key, t in zip(self.net.keys, source, strict=True)}
        self.jobs[slot.job].module.load_state_dict(weights)
        self.slots[s] = None
        self.on_done(slot.job, slot.history)
