"""Run independent tasks here, in a local process pool, or on a Ray cluster, with retries.

:func:`run_tasks` calls ``fn(task)`` for every task and yields an :class:`Outcome` per
task as it finishes (in any order). A task that raises, or whose worker dies, is run
again up to ``retries`` more times; after that its outcome carries the error instead of
a value, and the other tasks carry on.

Executors:

- ``"inprocess"``: one task after another in this process (easiest to debug);
- ``"process"``: a local :class:`~concurrent.futures.ProcessPoolExecutor` (``spawn``
  start method: safe with PyTorch); a worker that dies breaks the pool, which is then
  restarted, and only the tasks that were running are charged an attempt (at most
  ``workers`` tasks are in flight). Workers start fresh interpreters, so a script that
  uses this executor needs the usual ``if __name__ == "__main__":`` guard; each worker ends
  with this process, however it ends (:mod:`rnnstrategy.universe.worker_start`);
- ``"ray"``: tasks on a Ray cluster: the one ``RAY_ADDRESS`` names, else the one this
  process already joined, else a local one started here (and stopped at the end).
  Needs the optional extra ``rnnstrategy[ray]``; every node needs this package installed.

Threads: by default every core works and none is oversubscribed. In process, ``fn``
runs with PyTorch's own thread count (all cores); a process pool starts one worker per
core with one thread each (or ``cpus // workers`` threads when ``workers`` is given); a
Ray task takes one CPU and one thread. ``threads`` sets the count per task instead.
Forecasts have not depended on the thread count (1 and 2 threads give identical bits in
the tests); the fold store keys do not include it.
``fn`` and the tasks must be picklable for ``process`` and ``ray`` (a module-level
function and plain data). Values every task reads (``shared``: a pooled run's panel) are passed
to each call after the task; Ray puts them in its object store once (workers on one node read
its arrays without a copy), the other executors hand them over as they are.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.training import torch_threads
from rnnstrategy.universe.interrupts import sigint_blocked, signals_deferred
from rnnstrategy.universe.worker_start import end_if_stopped, init_worker

__all__ = ["EXECUTORS", "Outcome", "choose_executor", "make_executor", "run_tasks"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("inprocess", "process", "ray")
"""Executor names accepted by :func:`run_tasks` (besides ``"auto"``)."""
ABANDON_GRACE_S = 2.0
"""How long an abandoned process-pool worker may take to end after SIGTERM before it is killed."""


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """How one task ended: its value, or the error of its last attempt."""

    index: int  # the task's position in the sequence given to run_tasks
    value: R | None
    error: str | None  # "ExceptionType: message" when every attempt failed
    attempts: int

    @property
    def ok(self) -> bool:
        return self.error is None


def _call_with_threads(fn: Callable[..., R], task: T, threads: int | None, *shared: Any) -> R:
    """``fn(task, *shared)`` with ``threads`` PyTorch threads (what a worker runs)."""
    try:
        with torch_threads(threads):
            return fn(task, *shared)
    finally:
        end_if_stopped()  # a process-pool worker told to stop ends once its task has unwound


class Executor(Protocol):
    """What :func:`run_tasks` needs from an executor."""

    name: str
    slots: int  # tasks in flight at most

    def submit(self, fn: Callable[..., Any], task: Any, *shared: Any) -> Future: ...

    def share(self, value: Any) -> Any: ...  # what submit passes on for a value every task reads

    def restart(self) -> None: ...

    def close(self) -> None: ...

    def abandon(self) -> None: ...  # stop at once: an interrupt, or a caller that stopped reading


class InProcessExecutor:
    """Runs each task at submission, in this process."""

    name = "inprocess"

    def __init__(self, threads: int | None = None) -> None:
        self.threads, self.slots = threads, 1

    def submit(self, fn: Callable[..., R], task: T, *shared: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(_call_with_threads(fn, task, self.threads, *shared))
        except Exception as exc:  # noqa: BLE001 - reported through the future, as by the other executors
            future.set_exception(exc)
        return future

    def share(self, value: Any) -> Any:
        """The value itself."""
        return value

    def restart(self) -> None:
        """Nothing to restart."""

    def close(self) -> None:
        """Nothing to close."""

    def abandon(self) -> None:
        """Nothing runs once a task has returned."""


class ProcessExecutor:
    """A local process pool; restarted when a worker dies."""

    name = "process"

    def __init__(self, workers: int, threads: int = 1, start_method: str = "spawn") -> None:
        if start_method not in multiprocessing.get_all_start_methods():
            raise ConfigError(
                f"start_method={start_method!r} is not available here; use one of "
                f"{multiprocessing.get_all_start_methods()} ('fork' is unsafe with PyTorch threads)"
            )
        self.slots, self.threads, self.start_method = workers, threads, start_method
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.slots,
            mp_context=multiprocessing.get_context(self.start_method),
            initializer=init_worker,
            initargs=(self.threads, os.getpid()),
        )

    def submit(self, fn: Callable[..., R], task: T, *shared: Any) -> Future:
        with sigint_blocked():  # a worker it starts inherits the mask: Ctrl-C is this process's to handle
            return self._pool.submit(_call_with_threads, fn, task, self.threads, *shared)

    def share(self, value: Any) -> Any:
        """The value itself (pickled with each task)."""
        return value

    def restart(self) -> None:
        """Replace a broken pool with a fresh one."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def abandon(self) -> None:
        """Stop now (Ctrl-C, or the caller stopped reading): cancel what waits and end the workers mid-task.
        SIGTERM first, which a worker turns into an exit that removes the temporary file of a fold-store entry
        it was writing (:func:`~rnnstrategy.universe.worker_start.init_worker`); SIGKILL after
        :data:`ABANDON_GRACE_S` for one that has not ended."""
        workers = list((getattr(self._pool, "_processes", None) or {}).values())  # no public list of them
        manager = getattr(self._pool, "_executor_manager_thread", None)  # shutdown() forgets it
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        deadline = time.monotonic() + ABANDON_GRACE_S
        for process in workers:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        # the pool's manager thread closes its wake-up pipe once it sees the workers gone; an exit meanwhile raced
        # it (Python's exit hook wrote to the pipe as it closed: "OSError: Bad file descriptor" after the interrupt)
        if manager is not None:
            manager.join(timeout=5)


class RayExecutor:
    """Tasks on a Ray cluster (``RAY_ADDRESS``, the one already joined, or a local one)."""

    name = "ray"

    def __init__(self, workers: int | None = None, threads: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "executor='ray' needs Ray: pip install 'rnnstrategy[ray]' (or 'ray[default]'), "
                "or use executor='process'"
            ) from None
        self._ray = ray
        self._started_here = not ray.is_initialized()
        if self._started_here:
            address = os.environ.get("RAY_ADDRESS") or None
            local = {} if address else {"num_cpus": workers, "include_dashboard": False}
            env = {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
            try:
                with signals_deferred():  # Ray's processes never get Ctrl-C; one meanwhile is raised after
                    ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False, **local)
            except BaseException:
                ray.shutdown()  # what it started
                raise
        self.threads = threads
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = min(workers, cpus) if workers else cpus
        # max_retries=0: run_tasks does the retrying, the same way for every executor
        self._remote = ray.remote(num_cpus=threads, max_retries=0)(_call_with_threads)
        self._refs: list[Any] = []

    def submit(self, fn: Callable[..., R], task: T, *shared: Any) -> Future:
        ref = self._remote.remote(fn, task, self.threads, *shared)  # Ray resolves the shared refs given here
        self._refs.append(ref)
        return ref.future()

    def share(self, value: Any) -> Any:
        """A reference to ``value`` in the object store, put there once for every task."""
        return self._ray.put(value)

    def restart(self) -> None:
        """Ray replaces dead workers itself."""

    def close(self) -> None:
        """Cancel the tasks still running (an interrupt, an error in the caller), then leave Ray."""
        if self._refs:
            _, pending = self._ray.wait(self._refs, num_returns=len(self._refs), timeout=0)
            for ref in pending:
                self._ray.cancel(ref, force=True)
            self._refs.clear()
        if self._started_here:
            self._ray.shutdown()

    def abandon(self) -> None:
        """Cancel the running tasks and leave Ray (what :meth:`close` does)."""
        self.close()


def choose_executor(executor: str, n_tasks: int, workers: int | None = None) -> str:
    """The executor ``"auto"`` means: in-process for one task (or one worker), else processes."""
    if executor == "auto":
        return "inprocess" if n_tasks <= 1 or workers == 1 else "process"
    if executor not in EXECUTORS:
        raise ConfigError(f"executor={executor!r} is unknown; use 'auto' or one of {list(EXECUTORS)}")
    return executor


def make_executor(executor: str, n_tasks: int, workers: int | None = None, threads: int | None = None) -> Executor:
    """Build the named executor (``"auto"``: see :func:`choose_executor`; threads: see the module notes)."""
    if workers is not None and workers < 1:
        raise ConfigError(f"workers={workers} must be >= 1, or None for one per CPU")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads={threads} must be >= 1, or None for all cores without oversubscription")
    name = choose_executor(executor, n_tasks, workers)
    if name == "inprocess":
        return InProcessExecutor(threads)
    if name == "process":
        cpus = os.cpu_count() or 1
        if threads is None:
            threads = max(1, cpus // workers) if workers else 1
        return ProcessExecutor(max(1, min(workers or max(1, cpus // threads), n_tasks)), threads)
    return RayExecutor(workers, threads or 1)


def run_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    executor: str | Executor = "auto",
    *,
    retries: int = 1,
    workers: int | None = None,
    threads: int | None = None,
    shared: Sequence[Any] = (),
) -> Iterator[Outcome[R]]:
    """Run ``fn`` on every task; yield an :class:`Outcome` per task as each finishes.

    Args:
        fn: a picklable (module-level) function of one task (and of the ``shared`` values after it).
        tasks: the tasks, picklable.
        executor: ``"auto"``, ``"inprocess"``, ``"process"``, ``"ray"``, or a built
            executor (see :func:`make_executor`; it is closed at the end).
        retries: extra attempts for a task that raised or whose worker died.
        workers: parallel workers (default: one per CPU, or the Ray cluster's CPUs).
        threads: PyTorch threads per task (None: all cores, not oversubscribed; see the module notes).
        shared: values every task reads, passed after the task: ``fn(task, *shared)`` (Ray puts each in its
            object store once).
    """
    if retries < 0:
        raise ConfigError(f"retries={retries} must be >= 0")
    if not tasks:
        return
    pool = make_executor(executor, len(tasks), workers, threads) if isinstance(executor, str) else executor
    log.info("running %d task(s) with the %s executor, %d at a time", len(tasks), pool.name, pool.slots)
    attempts = [0] * len(tasks)
    waiting = list(range(len(tasks)))[::-1]  # popped from the end: first task first
    running: dict[Future, int] = {}

    def settle(index: int, future: Future) -> Outcome[R] | None:
        """The task's outcome, or None when it goes back to the queue for another attempt."""
        error = future.exception()
        if error is None:
            return Outcome(index, future.result(), None, attempts[index])
        if attempts[index] <= retries:
            log.warning("task %d failed (attempt %d of %d), retrying: %s",
                        index, attempts[index], retries + 1, _describe(error))
            waiting.append(index)
            return None
        log.error("task %d failed after %d attempt(s): %s", index, attempts[index], _describe(error))
        return Outcome(index, None, _describe(error), attempts[index])

    finished = False
    try:
        handles = tuple(pool.share(value) for value in shared)
        while waiting or running:
            while waiting and len(running) < pool.slots:
                index = waiting.pop()
                attempts[index] += 1
                running[pool.submit(fn, tasks[index], *handles)] = index
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = any(isinstance(f.exception(), BrokenProcessPool) for f in done)
            if broken:  # a worker died and took the pool down: every task in it fails with it
                done = set(running)
            for future in done:
                outcome = settle(running.pop(future), future)
                if outcome is not None:
                    yield outcome
            if broken:
                log.warning("a worker died; restarting the %s executor", pool.name)
                pool.restart()
        finished = True
    finally:  # interrupted (Ctrl-C), or the caller stopped reading: stop now, not after the running tasks
        pool.close() if finished else pool.abandon()


def _describe(error: BaseException) -> str:
    """``Type: message`` and where it was raised, in one line."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}{where}"
