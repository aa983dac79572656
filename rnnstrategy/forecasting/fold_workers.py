"""Fold groups on worker threads, so that every core works on one walk-forward.

:func:`~rnnstrategy.forecasting.batched.fitting.fit_many` trains the folds of a walk-forward as one
stacked computation in the calling thread. On a CPU with several PyTorch threads only the compiled
recurrent kernel splits its models across them, and every kernel call ends by waiting for its slowest
chunk; the rest of each training step (window gathers, the head, the loss, the optimizer's step) runs
through PyTorch's OpenMP pool, whose threads spin-wait between operations and take the core a kernel
chunk needs. On this project's 2-core machine the second thread added half a core when idle (the
reference walk-forward in 4.2 s against 6.2 s on one thread), and on the machine shared with other
work two threads took 3.4 times as long as one (medians 31 s against 9 s, 18 s of CPU time against 8).

:func:`fit_on_workers` deals the requests into groups of about equal cost (samples x epochs) and trains
each group in a thread of its own with one PyTorch thread, as a ``fit_many`` of its own, so the workers
never wait for each other and no thread spins. The estimator's preparation (seeded initial weights,
scalers) and the end of each fit (callbacks, fold store) stay in the calling thread. A fold's weights
depend neither on the folds trained beside it, nor on its slot, nor on the thread count, bit for bit on
a CPU (see :mod:`rnnstrategy.forecasting.batched.training`), so the forecasts equal ``fit_many``'s.
In ``backtests/benchmarks/bench_darts.py`` each of the two workers of the reference walk-forward spent
3.9 s on a CPU and at most 0.01 s blocked (the GIL): with a free core each it takes about 4.2 s.

The path is taken when there are at least two requests, all on the CPU, and ``workers`` (default:
PyTorch's thread count, what ``--threads`` sets) is 2 or more; otherwise ``fit_many`` runs as before.
An interrupt (Ctrl-C, SIGTERM's exception) in the calling thread stops every worker after its current
kernel call and is raised once none runs (:func:`rnnstrategy.forecasting.batched.settle.settle`, as for the
kernel's own threads).
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections.abc import Callable, Sequence

import torch

from rnnstrategy.forecasting.batched.fitting import (
    FitRequest,
    PreparedFit,
    finish_fit,
    fit_many,
    prepare_fit,
)
from rnnstrategy.forecasting.batched.settle import settle
from rnnstrategy.forecasting.batched.training import MEMORY_BUDGET, train_many
from rnnstrategy.forecasting.forecaster import RNNForecaster, resolve_device

__all__ = ["deal", "fit_on_workers", "worker_count"]

log = logging.getLogger(__name__)

Message = tuple[str, int, object]
"""What a worker tells the calling thread: ("fitted", request position, history), ("failed", -1,
exception) or ("ended", -1, None)."""


def worker_count(requests: Sequence[FitRequest], workers: int | None = None,
                 max_models: int | None = None) -> int:
    """How many worker threads :func:`fit_on_workers` uses for ``requests`` (1: plain ``fit_many``).

    ``workers`` defaults to PyTorch's thread count; never more than the requests or ``max_models``,
    and 1 when any request trains off the CPU (a GPU runs one stacked computation best).
    """
    wanted = torch.get_num_threads() if workers is None else workers
    wanted = min(wanted, len(requests), max_models or len(requests))
    if wanted < 2 or any(resolve_device(r.model.device).type != "cpu" for r in requests):
        return 1
    return wanted


def deal(costs: Sequence[float], groups: int) -> list[list[int]]:
    """Positions of ``costs`` dealt into ``groups`` groups of about equal total cost.

    Largest first, each to the group with the least so far (ties: the lower group); every group
    lists its positions in ascending order. Deterministic, so a run's grouping never varies.
    """
    totals = [0.0] * groups
    dealt: list[list[int]] = [[] for _ in range(groups)]
    for k in sorted(range(len(costs)), key=lambda k: (-costs[k], k)):
        g = min(range(groups), key=lambda g: (totals[g], g))
        totals[g] += costs[k]
        dealt[g].append(k)
    return [sorted(group) for group in dealt if group]


def fit_on_workers(
    requests: Sequence[FitRequest],
    *,
    max_models: int | None = None,
    on_fitted: Callable[[int, RNNForecaster], None] | None = None,
    workers: int | None = None,
) -> list[RNNForecaster]:
    """:func:`~rnnstrategy.forecasting.batched.fitting.fit_many`, with the requests split across worker threads.

    Same arguments, result and callbacks as ``fit_many`` (``on_fitted`` is called in the calling
    thread, as each fold ends); ``max_models`` caps the networks trained side by side over all
    workers together, and so does the activation memory budget. ``workers``: see :func:`worker_count`.
    """
    count = worker_count(requests, workers, max_models)
    if count == 1:
        return fit_many(requests, max_models=max_models, on_fitted=on_fitted)
    if len({id(r.model) for r in requests}) != len(requests):
        raise ValueError("fit_on_workers got the same forecaster object twice; pass a fresh one per request")
    prepared = [prepare_fit(r.model, r.bars, r.until, r.init_from, r.epochs) for r in requests]
    costs = [len(p.job.x) * p.job.config.epochs for p in prepared]
    groups = deal(costs, count)
    before = torch.get_num_threads()  # the workers set it process-wide; it is restored below
    threads = max(1, before // len(groups))
    slots = max(1, max_models // len(groups)) if max_models else None
    log.info("training %d folds on %d worker threads (%s folds each)", len(requests), len(groups),
             "/".join(str(len(g)) for g in groups))
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    pool = [_Worker(f"rnnstrategy-folds-{g}", _group_work(prepared, group, threads, slots, len(groups), messages),
                    messages) for g, group in enumerate(groups)]
    try:
        _collect(pool, messages, prepared, on_fitted)
    finally:
        torch.set_num_threads(before)
    return [r.model for r in requests]


def _group_work(prepared: Sequence[PreparedFit], group: list[int], threads: int, slots: int | None, shares: int,
                messages: queue.SimpleQueue[Message]) -> Callable[[], None]:
    """What one worker runs: its group's jobs through ``train_many`` on ``threads`` PyTorch threads."""
    def work() -> None:
        torch.set_num_threads(threads)  # this thread's own OpenMP setting, and the kernel's chunk count
        train_many([prepared[k].job for k in group], device="cpu", max_models=slots,
                   memory_budget=MEMORY_BUDGET // shares,
                   on_done=lambda j, history: messages.put(("fitted", group[j], history)))

    return work


def _collect(pool: list[_Worker], messages: queue.SimpleQueue[Message], prepared: Sequence[PreparedFit],
             on_fitted: Callable[[int, RNNForecaster], None] | None) -> None:
    """Start the workers and finish each fold as it ends; on any error or interrupt stop them, then raise."""
    running = len(pool)
    try:
        for worker in pool:
            worker.start()
        while running:
            kind, k, payload = messages.get()
            if kind == "fitted":
                fitted = finish_fit(prepared[k], payload)
                if on_fitted:
                    on_fitted(k, fitted)
            elif kind == "failed":
                raise payload
            else:
                running -= 1
    except BaseException:
        for worker in pool:
            worker.stop()
        raise
    finally:
        _join(pool)


def _join(pool: list[_Worker]) -> None:
    """Wait until no worker runs; an interrupt meanwhile stops them all and is raised once they have ended
    (a worker ends after its current kernel call: the tensors it writes into must outlive it)."""
    def join_all() -> None:
        for worker in pool:
            if worker.ident is not None:  # started
                worker.join()

    def stop_all() -> None:
        for worker in pool:
            worker.stop()

    settle(join_all, stop_all)


class _Stopped(BaseException):
    """Raised inside a worker thread to end its training early (not an error)."""


class _Worker(threading.Thread):
    """Runs ``work`` and reports its end (or its error) on ``messages``; :meth:`stop` ends it early."""

    def __init__(self, name: str, work: Callable[[], None], messages: queue.SimpleQueue[Message]) -> None:
        super().__init__(name=name, daemon=True)
        self._work, self._messages = work, messages
        self._lock = threading.Lock()
        self._busy = False  # inside work, where a stop is raised
        self._stopping = False

    def run(self) -> None:
        try:
            with self._lock:
                if self._stopping:  # stopped before it began
                    return
                self._busy = True
            try:
                self._work()
                self._messages.put(("ended", -1, None))
            finally:
                with self._lock:
                    self._busy = False
        except BaseException as exc:  # noqa: BLE001 - reported to the calling thread, which raises it
            if not (self._stopping or isinstance(exc, _Stopped)):
                self._messages.put(("failed", -1, exc))

    def stop(self) -> None:
        """End the worker: at once if it has not begun, else by raising :class:`_Stopped` in it at its next
        Python instruction (after a running kernel call). From the calling thread only; once is enough."""
        if self._stopping:
            return
        with self._lock:
            self._stopping = True
            if self._busy:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.ident), ctypes.py_object(_Stopped))
